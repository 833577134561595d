// The den2moee recipe (shared/docs/DEN2MOEE.md): no pruning. Every enabled domain profiles the
// neurons (mean |activation| per domain); per layer an equal-size spherical k-means splits the F
// neurons into K clusters (convert/den2moee.h); the ⌊K·shared_ratio⌋ broadest become one always-on
// shared MLP, the rest routed experts, plus null experts (zero output) in the routing pool. Router:
// N(0, (1e-2/√D)²) gate + prototype prior α·P (P = mean up_proj rows of each expert), logit-centering
// selection bias, gates renormalised over the selected routed experts × n_routed. Token weights:
// uniform over LM windows (default) or TokenScore over whole records (settings token_weights, ts_*).
#include "convert/recipe.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "calib/domain_stats.h"
#include "calib/ffn_stats.h"
#include "calib/token_score.h"
#include "convert/den2moee.h"
#include "core/error.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/moe.h"
#include "prune/prune.h"

using nlohmann::json;

namespace den2moe {

BuiltExperts build_den2moee(const RecipeInput& in) {
    const ConvertSettings& s = in.settings;
    const LlamaModel& m = in.dense;
    const int L = static_cast<int>(m.config().n_layer);
    const int64_t F = m.config().n_ff, D = m.config().n_embd;
    const at::ScalarType st = m.scalar_type();
    BuiltExperts out;
    // domains are the given labels (no mining clusters): every enabled domain profiles the neurons
    std::vector<const ProjectDomain*> doms;
    for (const auto& d : in.project.domains) {
        if (d.enabled) doms.push_back(&d);
    }
    const int64_t K = s.n_experts;
    const bool tokenscore = s.token_weights == "tokenscore";
    TokenScoreSettings tss;
    tss.span = s.ts_span;
    tss.ngram = s.ts_ngram;
    tss.stride = s.ts_stride;
    tss.mask_id = s.ts_mask_id;
    tss.max_windows = s.ts_max_windows;
    DomainStatsRun dsr = domain_statistics(in.project, doms, m, in.tok, in.model_hash, true, in.ctx, /*need_abs=*/true,
                                           tokenscore ? &tss : nullptr);
    out.stats_hits = dsr.hits;
    out.stats_misses = dsr.misses;
    std::vector<const FfnStats*> parts;
    for (const auto& st_d : dsr.stats) parts.push_back(&st_d);
    FfnStats pooled = merge_stats(parts);
    D2M_CHECK(pooled.inputs.size() == static_cast<size_t>(L), Incompatible,
              "convert: the cached statistics have no FFN-input moments (written by an older version)",
              Hint{"delete the project's .den2moe-cache folder; statistics are recomputed once"});
    const double sigma = 1e-2 / std::sqrt(static_cast<double>(D));  // DEN2MOEE.md §2.5, tgt_logit_std
    json layers = json::array();
    int64_t shared_width = 0;
    for (int il = 0; il < L; ++il) {
        in.ctx.check_cancelled();
        std::vector<at::Tensor> cols;
        // uniform: the mean |act| over the domain's tokens; tokenscore: the mean of v_s = τ_sᵀ|A_s|/T_s
        for (const auto& st_d : dsr.stats) cols.push_back(tokenscore ? st_d.weighted[il] : st_d.layers[il].mean_abs());
        at::Tensor S = at::stack(cols, 1);  // [F, domains]
        NeuronPartition part = den2moee_partition(S, K, s.shared_ratio, s.seed + static_cast<uint64_t>(il));
        const SwiGluFfn& dense_ffn = m.dense_ffn(il);
        std::vector<std::shared_ptr<const SwiGluFfn>> experts;
        std::vector<at::Tensor> prior_rows;
        for (int64_t j : part.routed) {
            const auto& idx = part.clusters[static_cast<size_t>(j)];
            experts.push_back(prune_ffn(dense_ffn, idx, at::Tensor(), st));
            prior_rows.push_back(dense_ffn.up().index_select(0, at::tensor(idx, at::kLong)).to(at::kFloat).mean(0));
        }
        std::vector<int64_t> sidx;
        for (int64_t j : part.shared) {
            const auto& idx = part.clusters[static_cast<size_t>(j)];
            sidx.insert(sidx.end(), idx.begin(), idx.end());
        }
        std::shared_ptr<const SwiGluFfn> shared;
        if (!sidx.empty()) shared = prune_ffn(dense_ffn, sidx, at::Tensor(), st);
        if (il == 0) shared_width = shared ? shared->width() : 0;
        const int64_t R = static_cast<int64_t>(part.routed.size());
        at::Generator gen = at::detail::createCPUGenerator(s.seed * 1000003ull + static_cast<uint64_t>(il));
        RouterSpec rs;
        rs.gate = RouterSpec::Gate::Den2MoEE;
        rs.weight = at::empty({R, D}, at::kFloat).normal_(0.0, sigma, gen);
        rs.prior = at::stack(prior_rows);
        rs.prior_scale = s.prior_scale;
        if (s.null_experts > 0) rs.null_weight = at::zeros({s.null_experts, D}, at::kFloat);
        // logit centering: −E[x·Wᵀ] over every calibration FFN input = −W·E[x] (exact for a linear map)
        rs.select_bias = -at::mv(rs.weight.to(at::kDouble), pooled.inputs[il].mean()).to(at::kFloat);
        rs.routed_scale = static_cast<double>(R);
        rs.norm_topk = true;
        rs.dense = s.router_dense;
        rs.top_k = s.top_k;
        out.ffns.push_back(std::make_shared<MoeFfn>(experts, rs, shared, st));
        layers.push_back({{"shared_clusters", part.shared},
                          {"routed_clusters", part.routed},
                          {"coverage_score", part.coverage_score},
                          {"budget_score", part.budget_score},
                          {"kmeans_iterations", part.iterations}});
        in.ctx.report("experts", il + 1, L);
    }
    const int64_t R = static_cast<int64_t>(K - std::floor(static_cast<double>(K) * s.shared_ratio + 1e-9));
    out.widths = json::array({F / K});
    out.router_init = "den2moee prior";
    out.router = {{"init", "normal(0, (1e-2/sqrt(D))^2) + prototype prior (mean up_proj rows)"},
                  {"gate", "den2moee"},
                  {"softmax", "routed + null logits, no temperature"},
                  {"prior_scale", s.prior_scale},
                  {"routed_scale", R},
                  {"norm_topk", true},
                  {"selection_bias", "logit centering -W.E[x] (added to probabilities, selection only)"},
                  {"mode", s.router_dense ? "dense" : "sparse"}};
    out.extra_config = {{"num_null_experts", s.null_experts},
                        {"shared_expert_width", shared_width},
                        {"den2moee", {{"clusters", K},
                                      {"shared_ratio", s.shared_ratio},
                                      {"token_weights", tokenscore ? "tokenscore" : "uniform"},
                                      {"token_score",
                                       tokenscore
                                           ? json{{"method", "tau = (SCS + RSS) / 2 per token, v_s = tau^T |A_s| / T "
                                                             "(DEN2MOEE.md 2.2-2.3); one sample per record, BOS text EOS"},
                                                  {"span", s.ts_span},
                                                  {"ngram", s.ts_ngram},
                                                  {"stride", s.ts_stride},
                                                  {"mask_id", s.ts_mask_id},
                                                  {"max_windows", s.ts_max_windows},
                                                  {"rss_model", "the dense model being converted"}}
                                           : json("uniform (tau = 1): LM calibration windows have no pooled token")},
                                      {"layers", layers}}}};
    // the experts are neuron clusters, not domain clusters: no expert -> domains map
    out.clusters = ProjectClusters{};
    return out;
}

}  // namespace den2moe
