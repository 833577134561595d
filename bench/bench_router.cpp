// bench_router: the router-logits kernel (kernels/router.h) against ATen's mm, on the demo model's
// router shapes (D 256, 8 experts; also 64 experts), 1024 and 2048 tokens, fp32 and bf16, same run,
// interleaved rounds. ATen's mm runs in the tokens' dtype, as the engine's router did before the kernel.
#include <ATen/ATen.h>

#include "bench_util.h"

#include <cstdio>
#include <string>

#include "router.h"

int main(int argc, char** argv) {
    const auto args = den2moe::bench::parse_bench_args(argc, argv, 101);
    const int threads = args.threads, reps = args.reps;
    const bool markdown = args.markdown;
    den2moe::bench::init_bench_runtime(threads);
    namespace k = den2moe::kernels;
    std::printf("router kernel path: %s\n", k::router_logits_isa());
    if (markdown) std::printf("| dtype | tokens × D → experts | ATen mm | kernel | speed-up |\n|---|---|---|---|---|\n");
    for (auto dt : {at::kFloat, at::kBFloat16}) {
        const char* name = dt == at::kFloat ? "fp32" : "bf16";
        for (int64_t E : {8, 16, 32, 64}) {
            for (int64_t N : {1024, 2048}) {
                const int64_t D = 256;
                at::Tensor x = at::randn({N, D}).to(dt), w = at::randn({E, D}) * 0.1;
                at::Tensor wd = w.to(dt), out = at::empty({N, E});
                const auto m = den2moe::bench::interleaved_medians(
                    reps, [&] { at::mm(x, wd.t()); }, [&] { k::router_logits(x, w, out); });
                if (markdown)
                    std::printf("| %s | %lld × %lld → %lld | %.1f µs | %.1f µs | %.1f× |\n", name, (long long)N,
                                (long long)D, (long long)E, m[0] * 1e6, m[1] * 1e6, m[0] / m[1]);
                else
                    std::printf("%s [%lld, %lld] x [%lld, %lld]^T: ATen mm %.1f us | kernel %.1f us | ratio %.2fx\n", name,
                                (long long)N, (long long)D, (long long)E, (long long)D, m[0] * 1e6, m[1] * 1e6,
                                m[0] / m[1]);
            }
        }
    }
    return 0;
}
