// bench_norm_rope: the fused RMSNorm and RoPE kernels (kernels/norm_rope.h) against the ATen chains
// the engine used before, on the demo model's shapes (D 256; 8 query + 4 kv heads of 32), batch 1
// and 8 of 256 tokens, fp32 and bf16, same run, interleaved rounds. Prints medians and the ratio.
#include <ATen/ATen.h>

#include "bench_util.h"

#include <cstdio>
#include <string>

#include "core/runtime.h"
#include "norm_rope.h"

int main(int argc, char** argv) {
    const auto args = den2moe::bench::parse_bench_args(argc, argv, 51);
    const int threads = args.threads, reps = args.reps;
    const bool markdown = args.markdown;
    den2moe::bench::init_bench_runtime(threads);
    namespace k = den2moe::kernels;
    if (markdown) std::printf("| op | dtype | shape | ATen chain | fused kernel | speed-up |\n|---|---|---|---|---|---|\n");
    for (auto dt : {at::kFloat, at::kBFloat16}) {
        const char* name = dt == at::kFloat ? "fp32" : "bf16";
        for (int64_t B : {1, 8}) {
            const int64_t T = 256, D = 256, Dh = 32, H = 8, Hkv = 4, C = (H + 2 * Hkv) * Dh;
            at::Tensor x = at::randn({B, T, D}).to(dt), w = at::randn({D}).to(dt);
            const auto rn = den2moe::bench::interleaved_medians(
                reps, [&] { k::rms_norm_reference(x, w, 1e-5); }, [&] { k::rms_norm(x, w, 1e-5); });
            at::Tensor pos = at::arange(T, at::kLong).unsqueeze(0).expand({B, T});
            at::Tensor inv = at::pow(10000.0, -at::arange(0, Dh, 2, at::kFloat) / Dh);
            at::Tensor ang = pos.to(at::kFloat).unsqueeze(-1).mul(inv).unsqueeze(2);
            at::Tensor c = ang.cos(), s = ang.sin();
            at::Tensor qkv = at::randn({B, T, C}).to(dt);
            // in place again and again: the same work whatever the values
            const auto rp = den2moe::bench::interleaved_medians(
                reps, [&] { k::rope_reference(qkv, H + Hkv, Dh, c, s, false); },
                [&] { k::rope_(qkv, H + Hkv, Dh, c, s, false); });
            for (int op = 0; op < 2; ++op) {
                const auto& m = op == 0 ? rn : rp;
                const char* on = op == 0 ? "rms_norm" : "rope (q + k heads)";
                if (markdown) {
                    std::printf("| %s | %s | [%lld, 256, %lld] | %.3f ms | %.3f ms | %.1f× |\n", on, name, (long long)B,
                                (long long)(op == 0 ? D : C), m[0] * 1e3, m[1] * 1e3, m[0] / m[1]);
                } else {
                    std::printf("%s %s [%lld,256,%lld]: ATen %.3f ms | kernel %.3f ms | ratio %.2fx\n", on, name,
                                (long long)B, (long long)(op == 0 ? D : C), m[0] * 1e3, m[1] * 1e3, m[0] / m[1]);
                }
            }
        }
    }
    return 0;
}
