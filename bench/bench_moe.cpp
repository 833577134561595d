// bench_moe: top-1-of-8 experts at 50 % width (DIVE's 8_1_0.5 shape) on demo-llama-7m against the dense
// model, same run: FFN block time alone (one layer's FFN on [B·T, D] activations) and end-to-end
// perplexity tokens/s. The ideal FFN speed-up is 2× (half the FLOPs per token); the target is
// ≥ 85 % of it. Experts here are random halves of the dense FFN with a random router (routing is
// balanced on average); speed does not depend on which channels an expert keeps.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/run_context.h"
#include "core/runtime.h"
#include "eval/perplexity.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"

using namespace den2moe;
using clk = std::chrono::steady_clock;


int main(int argc, char** argv) {
    std::string shared = std::getenv("D2M_SHARED_DIR") ? std::getenv("D2M_SHARED_DIR") : "../shared";
    int threads = 2, reps = 11;
    bool markdown = false;
    bool synthetic = true;  // also a Llama-like FFN size (D 1024, F 2816) with random weights
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--markdown") markdown = true;
        else if (a == "--no-synthetic") synthetic = false;
    }
    den2moe::bench::init_bench_runtime(threads);
    if (markdown) {
        std::printf("| dtype | tokens | dense FFN | MoE FFN (top-1 of 8 × 50 %%) | FFN speed-up (ideal 2×) | experts' GEMMs alone | dense tok/s | MoE tok/s | end-to-end |\n");
        std::printf("|---|---|---|---|---|---|---|---|---|\n");
    }
    for (ComputeDType dt : {ComputeDType::F32, ComputeDType::BF16}) {
        LoadedModel lm = load_model(shared + "/models/demo-llama-7m", dt);
        const LlamaModel& m = *lm.model;
        const int64_t F = m.config().n_ff, D = m.config().n_embd, E = 8;
        std::mt19937_64 rng(1);
        std::vector<std::shared_ptr<const FeedForward>> ffns;
        for (int il = 0; il < (int)m.config().n_layer; ++il) {
            const SwiGluFfn& d = m.dense_ffn(il);
            std::vector<std::shared_ptr<const SwiGluFfn>> ex;
            for (int64_t e = 0; e < E; ++e) {
                std::vector<int64_t> perm(F);
                std::iota(perm.begin(), perm.end(), 0);
                std::shuffle(perm.begin(), perm.end(), rng);
                std::vector<int64_t> idx(perm.begin(), perm.begin() + F / 2);
                std::sort(idx.begin(), idx.end());
                at::Tensor ki = at::tensor(idx, at::kLong);
                ex.push_back(std::make_shared<SwiGluFfn>(d.gate().index_select(0, ki), d.up().index_select(0, ki),
                                                         d.down().index_select(1, ki), at::Tensor(), m.scalar_type()));
            }
            RouterSpec rs;
            rs.weight = at::randn({E, D}) / std::sqrt((double)D);
            rs.top_k = 1;
            ffns.push_back(std::make_shared<MoeFfn>(ex, rs, nullptr, m.scalar_type()));
        }
        auto moe = m.with_ffns(ffns);
        const int64_t B = 8, T = 256;
        at::Tensor x = at::randn({B, T, D}).to(m.scalar_type());
        // the floor: the 8 experts' SwiGLU GEMMs alone on equal slices of the tokens (no routing), run
        // as the MoE block runs them (each expert's slice on one thread, GEMMs single-threaded)
        const auto& mb = dynamic_cast<const MoeFfn&>(moe->ffn(2));
        at::Tensor xf = x.reshape({-1, D});
        const int64_t slice = xf.size(0) / E;
        at::Tensor yf = at::empty_like(xf);
        auto experts_alone = [&] {
            at::parallel_for(0, E, 1, [&](int64_t b, int64_t e) {
                for (int64_t j = b; j < e; ++j)
                    mb.expert(j).forward_rows(xf.narrow(0, j * slice, slice), yf.narrow(0, j * slice, slice));
            });
        };
        const auto med = den2moe::bench::interleaved_medians(
            reps, [&] { m.dense_ffn(2).forward(x, 2, {}); }, [&] { moe->ffn(2).forward(x, 2, {}); }, experts_alone);
        const double t_dense = med[0], t_moe = med[1], t_exp = med[2];
        std::vector<int> stream(B * T * 4);
        for (size_t i = 0; i < stream.size(); ++i) stream[i] = 3 + (int)((i * 2654435761u) % 4000);
        PplOptions po;
        po.seq = T;
        po.batch = B;
        const auto e2e = den2moe::bench::interleaved_medians(
            std::max(3, reps / 3), [&] { perplexity(m, stream, po, null_context()); },
            [&] { perplexity(*moe, stream, po, null_context()); });
        const double e_dense = e2e[0], e_moe = e2e[1];
        const double tps_d = stream.size() / e_dense, tps_m = stream.size() / e_moe;
        const char* name = dt == ComputeDType::F32 ? "fp32" : "bf16";
        if (markdown) {
            std::printf("| %s | %lld | %.2f ms | %.2f ms | %.2f× (%.0f %% of ideal) | %.2f ms (%.2f×) | %.0f | %.0f | %.2f× |\n",
                        name, (long long)(B * T), t_dense * 1e3, t_moe * 1e3, t_dense / t_moe, 50.0 * t_dense / t_moe,
                        t_exp * 1e3, t_dense / t_exp, tps_d, tps_m, tps_m / tps_d);
        } else {
            std::printf("%s %lld tokens: FFN dense %.3f ms, MoE %.3f ms, speed-up %.2fx (%.0f%% of ideal 2x); experts' "
                        "GEMMs alone %.3f ms (%.2fx); end-to-end %.0f vs %.0f tok/s (%.2fx)\n",
                        name, (long long)(B * T), t_dense * 1e3, t_moe * 1e3, t_dense / t_moe, 50.0 * t_dense / t_moe,
                        t_exp * 1e3, t_dense / t_exp, tps_d, tps_m, tps_m / tps_d);
        }
    }
    if (synthetic) {  // a Llama-like FFN size, random weights: the dispatch's cost where GEMMs are larger
        const int64_t D = 1024, F = 2816, E = 8, N = 2048;
        for (at::ScalarType st : {at::kFloat, at::kBFloat16}) {
            at::manual_seed(2);
            at::Tensor g = at::randn({F, D}) * 0.03, u = at::randn({F, D}) * 0.03, dn = at::randn({D, F}) * 0.02;
            SwiGluFfn dense(g, u, dn, at::Tensor(), st);
            std::vector<std::shared_ptr<const SwiGluFfn>> ex;
            for (int64_t e = 0; e < E; ++e) {
                at::Tensor ki = std::get<0>(at::randperm(F).narrow(0, 0, F / 2).sort());
                ex.push_back(std::make_shared<SwiGluFfn>(g.index_select(0, ki), u.index_select(0, ki),
                                                         dn.index_select(1, ki), at::Tensor(), st));
            }
            RouterSpec rs;
            rs.weight = at::randn({E, D}) / std::sqrt((double)D);
            rs.top_k = 1;
            MoeFfn moe(ex, rs, nullptr, st);
            at::Tensor x = at::randn({1, N, D}).to(st);
            const int r = std::max(3, reps / 2);
            const auto tt = den2moe::bench::interleaved_medians(r, [&] { dense.forward(x, 0, {}); },
                                                                [&] { moe.forward(x, 0, {}); });
            const double td = tt[0], tm = tt[1];
            const char* name = st == at::kFloat ? "fp32" : "bf16";
            if (markdown) {
                std::printf("| %s, synthetic D %lld F %lld | %lld | %.2f ms | %.2f ms | %.2f× (%.0f %% of ideal) | | | | |\n", name,
                            (long long)D, (long long)F, (long long)N, td * 1e3, tm * 1e3, td / tm, 50.0 * td / tm);
            } else {
                std::printf("%s synthetic D=%lld F=%lld, %lld tokens: FFN dense %.3f ms, MoE %.3f ms, speed-up %.2fx "
                            "(%.0f%% of ideal 2x)\n", name, (long long)D, (long long)F, (long long)N, td * 1e3, tm * 1e3,
                            td / tm, 50.0 * td / tm);
            }
        }
    }
    return 0;
}
