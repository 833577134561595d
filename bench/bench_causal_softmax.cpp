// bench_causal_softmax: the fused attention softmax kernel (kernels/) against the ATen chain the
// engine used before (scale, to(float), masked_fill, softmax, to(dtype)) on the demo model's shapes
// [B, 8 heads, 256, 256], fp32 and bf16, same run. Prints medians and the ratio.
#include <ATen/ATen.h>

#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "causal_softmax.h"
#include "core/runtime.h"

using clk = std::chrono::steady_clock;


int main(int argc, char** argv) {
    const auto args = den2moe::bench::parse_bench_args(argc, argv, 21);
    const int threads = args.threads, reps = args.reps;
    const bool markdown = args.markdown;
    den2moe::bench::init_bench_runtime(threads);
    if (markdown) std::printf("| dtype | shape | ATen chain | fused kernel | speed-up |\n|---|---|---|---|---|\n");
    for (auto dt : {at::kFloat, at::kBFloat16}) {
        for (int64_t B : {1, 8}) {
            const int64_t H = 8, T = 256;
            at::Tensor s0 = at::randn({B, H, T, T}).mul_(4).to(dt);
            at::Tensor s = s0.clone();
            const double t_ref = den2moe::bench::median_seconds([&] { s = den2moe::kernels::causal_softmax_reference(s0, 0.125, 0); }, reps);
            s = s0.clone();  // in place again and again: the same work whatever the values
            const double k = den2moe::bench::median_seconds([&] { den2moe::kernels::causal_softmax_(s, 0.125, 0); }, reps);
            const char* name = dt == at::kFloat ? "fp32" : "bf16";
            if (markdown) {
                std::printf("| %s | [%lld, 8, 256, 256] | %.2f ms | %.2f ms | %.1f× |\n", name, (long long)B, t_ref * 1e3,
                            k * 1e3, t_ref / k);
            } else {
                std::printf("%s [%lld,8,256,256]: ATen %.3f ms | kernel %.3f ms | ratio %.2fx\n", name, (long long)B,
                            t_ref * 1e3, k * 1e3, t_ref / k);
            }
        }
    }
    return 0;
}
