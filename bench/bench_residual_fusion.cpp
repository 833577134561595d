// bench_residual_fusion: the inference forward with the residual adds inside o_proj's and down_proj's GEMMs
// (run_layers' default: nobody observes) against the same forward with the separate adds (forced by no-op
// observers on the attn_out and ffn_out sites of every layer, which is all the unfused path differs by), in one
// process, call after call alternating, so load that comes and goes hits both alike. Prints the medians, their
// ratio and the median of the per-pair ratios.
//   bench_residual_fusion [--model DIR] [--batch 8] [--seq 256] [--reps 15] [--threads 2]
#include <ATen/ATen.h>

#include "bench_util.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/observers.h"
#include "core/run_context.h"
#include "model/loaded_model.h"

using namespace den2moe;

int main(int argc, char** argv) {
    const char* sh = std::getenv("D2M_SHARED_DIR");
    std::string model = std::string(sh ? sh : "../shared") + "/models/demo-llama-7m";
    int64_t batch = 8, seq = 256;
    int reps = 15, threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc) model = argv[++i];
        else if (a == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
        else if (a == "--seq" && i + 1 < argc) seq = std::atoll(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "bench_residual_fusion: unknown argument %s\nusage: bench_residual_fusion [--model DIR] "
                                 "[--batch N] [--seq N] [--reps N] [--threads N]\n", a.c_str());
            return 2;
        }
    }
    bench::init_bench_runtime(threads);
    LoadedModel lm = load_model(model, ComputeDType::F32);
    at::manual_seed(0);
    const at::Tensor ids = at::randint(3, lm.model->config().vocab_size, {batch, seq}, at::kLong);
    ObserverSet unfuse;  // observing the projections alone keeps the separate adds
    unfuse.add(site::kAttnOut, [](const HookEvent&) {});
    unfuse.add(site::kFfnOut, [](const HookEvent&) {});
    ForwardOptions plain, observed;
    observed.observers = &unfuse;
    auto run = [&](const ForwardOptions& fo) {
        const auto t0 = std::chrono::steady_clock::now();
        lm.model->forward(ids, {}, fo);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    run(plain);
    run(observed);  // warm-up
    std::vector<double> tf, tu, ratio;
    for (int r = 0; r < reps; ++r) {
        const bool fused_first = r % 2 == 0;
        const double a = run(fused_first ? plain : observed), b = run(fused_first ? observed : plain);
        tf.push_back(fused_first ? a : b);
        tu.push_back(fused_first ? b : a);
        ratio.push_back(tu.back() / tf.back());
    }
    const double mf = bench::median(tf), mu = bench::median(tu);
    std::printf("%s fp32 [%lld, %lld], %d threads, %d pairs: separate adds %.2f ms | adds in the GEMMs %.2f ms | "
                "ratio of medians %.3fx | median per-pair ratio %.3fx\n",
                model.c_str(), (long long)batch, (long long)seq, threads, reps, mu * 1e3, mf * 1e3, mu / mf,
                bench::median(ratio));
    return 0;
}
