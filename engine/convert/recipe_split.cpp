// Recipes that need no statistics: random (LLaMA-MoE's split: the F channels shuffled, seeded, into E
// equal disjoint experts, no bias) and upcycle (E copies of the dense FFN). Routers: PyTorch's default
// init U(−1/√D, 1/√D), seeded per layer.
#include "convert/recipe.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/run_context.h"
#include "model/llama.h"
#include "model/moe.h"
#include "prune/prune.h"

using nlohmann::json;

namespace den2moe {

BuiltExperts build_split_experts(const RecipeInput& in) {
    const ConvertSettings& s = in.settings;
    const LlamaModel& m = in.dense;
    const int L = static_cast<int>(m.config().n_layer);
    const int64_t F = m.config().n_ff, D = m.config().n_embd;
    const at::ScalarType st = m.scalar_type();
    const int64_t E = s.n_experts;
    BuiltExperts out;
    std::mt19937_64 rng(s.seed);
    for (int il = 0; il < L; ++il) {
        in.ctx.check_cancelled();
        const SwiGluFfn& dense = m.dense_ffn(il);
        std::vector<std::shared_ptr<const SwiGluFfn>> experts;
        if (s.recipe == Recipe::Random) {
            std::vector<int64_t> perm(static_cast<size_t>(F));
            std::iota(perm.begin(), perm.end(), int64_t{0});
            for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[rng() % i]);
            const int64_t w = F / E;
            for (int64_t e = 0; e < E; ++e) {
                std::vector<int64_t> idx(perm.begin() + e * w, perm.begin() + (e + 1) * w);
                std::sort(idx.begin(), idx.end());
                experts.push_back(prune_ffn(dense, idx, at::Tensor(), st));
            }
        } else {
            auto copy = std::make_shared<SwiGluFfn>(dense.gate(), dense.up(), dense.down(), dense.down_bias(), st);
            for (int64_t e = 0; e < E; ++e) experts.push_back(copy);
        }
        RouterSpec rs;
        rs.weight = default_router_init(E, D, s.seed, il);
        rs.top_k = s.top_k;
        out.ffns.push_back(std::make_shared<MoeFfn>(experts, rs, nullptr, st));
        in.ctx.report("experts", il + 1, L);
    }
    out.widths = json::array({s.recipe == Recipe::Random ? F / E : F});
    out.router_init = "random";
    out.router = {{"init", "uniform(-1/sqrt(D), 1/sqrt(D))"}, {"bias", false}, {"gate", "softmax"}, {"softmax", "selected logits"}};
    return out;
}

}  // namespace den2moe
