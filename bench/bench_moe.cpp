// bench_moe: top-1-of-8 experts at 50 % width (DIVE's 8_1_0.5 shape) on demo-llama-7m against the dense
// model, same run: FFN block time alone (one layer's FFN on [B·T, D] activations) and end-to-end
// perplexity tokens/s. The ideal FFN speed-up is 2× (half the FLOPs per token); the target is
// ≥ 85 % of it. Experts here are random halves of the dense FFN with a random router (routing is
// balanced on average); speed does not depend on which channels an expert keeps.
// FFN time is measured two ways: one layer's block alone, called again and again on the same input,
// and inside the forward pass (every layer's FFN timed by a wrapper while perplexity runs: the input
// fresh from the RMSNorm, as in real use).
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
#include "model/gemm.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"

using namespace den2moe;
using clk = std::chrono::steady_clock;

namespace {

// An FFN that times its inner block's forward calls (the bench's in-model FFN clock).
class TimedFfn : public FeedForward {
public:
    TimedFfn(std::shared_ptr<const FeedForward> inner, double* clock, int64_t* calls)
        : inner_(std::move(inner)), clock_(clock), calls_(calls) {}
    at::Tensor forward(const at::Tensor& x, int il, const FfnContext& fc) const override {
        const auto t0 = clk::now();
        at::Tensor y = inner_->forward(x, il, fc);
        *clock_ += std::chrono::duration<double>(clk::now() - t0).count();
        ++*calls_;
        return y;
    }
    void named_tensors(const std::string& p, std::map<std::string, at::Tensor>& out) const override {
        inner_->named_tensors(p, out);
    }
    std::string kind() const override { return inner_->kind(); }
    int64_t n_params() const override { return inner_->n_params(); }

private:
    std::shared_ptr<const FeedForward> inner_;
    double* clock_;
    int64_t* calls_;
};

// The model with every FFN wrapped in a TimedFfn adding to *clock and *calls.
std::shared_ptr<LlamaModel> timed(const LlamaModel& m, double* clock, int64_t* calls) {
    std::vector<std::shared_ptr<const FeedForward>> f;
    for (int il = 0; il < (int)m.config().n_layer; ++il)
        f.push_back(std::make_shared<TimedFfn>(m.ffn_ptr(il), clock, calls));
    return m.with_ffns(f);
}

}  // namespace


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
    std::printf("bf16 GEMMs: %s\n", den2moe::gemm::bf16_mode_name(den2moe::gemm::bf16_mode()));
    den2moe::bench::init_bench_runtime(threads);
    if (markdown) {
        std::printf("| dtype | tokens | dense FFN alone | MoE FFN alone (top-1 of 8 × 50 %%) | speed-up alone (ideal 2×) "
                    "| dense FFN in forward | MoE FFN in forward | speed-up in forward | experts' GEMMs alone | dense tok/s "
                    "| MoE tok/s | end-to-end |\n");
        std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
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
        // end to end, with the FFNs clocked inside the forward pass
        double clock_d = 0, clock_m = 0;
        int64_t calls_d = 0, calls_m = 0;  // FFN calls of one perplexity run
        auto md = timed(m, &clock_d, &calls_d), mm = timed(*moe, &clock_m, &calls_m);
        std::vector<double> ffn_d, ffn_m;
        const auto e2e = den2moe::bench::interleaved_medians(
            std::max(5, reps / 2),
            [&] {
                clock_d = 0;
                calls_d = 0;
                perplexity(*md, stream, po, null_context());
                ffn_d.push_back(clock_d);
            },
            [&] {
                clock_m = 0;
                calls_m = 0;
                perplexity(*mm, stream, po, null_context());
                ffn_m.push_back(clock_m);
            });
        const double e_dense = e2e[0], e_moe = e2e[1];
        auto after_warmup = [](const std::vector<double>& all) {  // all[0] is the warm-up call
            return std::vector<double>(all.size() > 1 ? all.begin() + 1 : all.begin(), all.end());
        };
        // all layers, one perplexity run
        const double f_dense = bench::median(after_warmup(ffn_d)), f_moe = bench::median(after_warmup(ffn_m));
        const double tps_d = stream.size() / e_dense, tps_m = stream.size() / e_moe;
        const char* name = dt == ComputeDType::F32 ? "fp32" : "bf16";
        if (calls_d != calls_m) std::fprintf(stderr, "bench_moe: %lld vs %lld FFN calls\n", (long long)calls_d, (long long)calls_m);
        const double per_layer = 1.0 / (double)calls_d;  // -> one call (one layer, one [B, T] batch)
        if (markdown) {
            std::printf("| %s | %lld | %.2f ms | %.2f ms | %.2f× (%.0f %% of ideal) | %.2f ms | %.2f ms | %.2f× (%.0f %% of ideal) "
                        "| %.2f ms (%.2f×) | %.0f | %.0f | %.2f× |\n",
                        name, (long long)(B * T), t_dense * 1e3, t_moe * 1e3, t_dense / t_moe, 50.0 * t_dense / t_moe,
                        f_dense * per_layer * 1e3, f_moe * per_layer * 1e3, f_dense / f_moe, 50.0 * f_dense / f_moe,
                        t_exp * 1e3, t_dense / t_exp, tps_d, tps_m, tps_m / tps_d);
        } else {
            std::printf("%s %lld tokens: FFN alone dense %.3f ms, MoE %.3f ms, speed-up %.2fx (%.0f%% of ideal 2x); "
                        "FFN in the forward pass dense %.3f ms, MoE %.3f ms per layer, speed-up %.2fx (%.0f%%); experts' "
                        "GEMMs alone %.3f ms (%.2fx); end-to-end %.0f vs %.0f tok/s (%.2fx)\n",
                        name, (long long)(B * T), t_dense * 1e3, t_moe * 1e3, t_dense / t_moe, 50.0 * t_dense / t_moe,
                        f_dense * per_layer * 1e3, f_moe * per_layer * 1e3, f_dense / f_moe, 50.0 * f_dense / f_moe,
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
                std::printf("| %s, synthetic D %lld F %lld | %lld | %.2f ms | %.2f ms | %.2f× (%.0f %% of ideal) | | | | | | | |\n", name,
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
