// bench_forward: perplexity-evaluation throughput of the engine's forward pass on demo-llama-7m
// (forward + log-softmax over [B, seq] windows of random tokens), fp32 and bf16, several batch
// sizes, next to (1) PyTorch eager on the same model, threads and tokens (tests/reference/
// llama_reference.py bench, run as a subprocess in the same run) and (2) the GEMM ceiling measured
// here (torch mm 1024^3). Prints medians, ratios and % of the ceiling; --markdown for docs.
#include <ATen/ATen.h>

#include "bench_util.h"
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "model/gemm.h"
#include "model/loaded_model.h"

using namespace den2moe;
using clk = std::chrono::steady_clock;


static double gemm_ceiling_gflops(at::ScalarType st) {
    const int64_t n = 1024;
    at::Tensor a = at::randn({n, n}).to(st), b = at::randn({n, n}).to(st), c = at::empty({n, n}, st);
    double s = den2moe::bench::median_seconds([&] { den2moe::gemm::mm_out(c, a, b); }, 10);
    return 2.0 * n * n * n / s / 1e9;
}


int main(int argc, char** argv) {
    std::string shared = std::getenv("D2M_SHARED_DIR") ? std::getenv("D2M_SHARED_DIR") : "../shared";
    std::string src = std::getenv("D2M_SOURCE_DIR") ? std::getenv("D2M_SOURCE_DIR") : ".";
    int threads = 2, reps = 5;
    bool markdown = false, no_python = false;
    std::string only_dtype;  // --dtype fp32|bf16: one dtype only
    int64_t only_batch = 0;  // --batch B: one batch size only
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--markdown") markdown = true;
        else if (a == "--no-python") no_python = true;
        else if (a == "--dtype" && i + 1 < argc) only_dtype = argv[++i];
        else if (a == "--batch" && i + 1 < argc) only_batch = std::atoll(argv[++i]);
    }
    den2moe::bench::init_bench_runtime(threads);
    const BlasKernels& blas = select_blas_kernels();
    // PyTorch eager runs with the BLAS core its environment gives it and, when the engine switched
    // cores, once more on the engine's core (the same GEMM kernels on both sides).
    const bool switched = !blas.active.empty() && blas.active != blas.detected;
    const std::string env_core = blas.detected.empty() ? "default" : blas.detected;
    const std::string model_dir = shared + "/models/demo-llama-7m";
    const int64_t seq = 256;
    const std::vector<int64_t> batches = {1, 4, 8, 16};

    // bf16 against PyTorch eager only where libtorch's bf16 GEMMs are fast (AVX-512): elsewhere the
    // eager reference runs its reference kernels, 50x slower than fp32 (the engine widens to float32,
    // model/gemm.h). --dtype bf16 or --no-python runs it anyway.
    if (only_dtype.empty() && !no_python && !cpu_bf16_matmul_is_fast()) {
        only_dtype = "fp32";
        std::fprintf(stderr, "bench_forward: bf16 skipped: PyTorch eager's bf16 GEMMs run on reference kernels on "
                             "this CPU (no AVX-512); --dtype bf16 or --no-python runs it\n");
    }
    const double ceil32 = gemm_ceiling_gflops(at::kFloat);
    const double ceil16 = only_dtype == "fp32" ? 0.0 : gemm_ceiling_gflops(at::kBFloat16);
    std::printf("GEMM ceiling (mm 1024^3 as the engine runs it, bf16 %s, %d threads): fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s\n",
                den2moe::gemm::bf16_mode_name(den2moe::gemm::bf16_mode()), threads, ceil32,
                ceil16);

    struct Row { std::string dtype; int64_t batch; double ours, theirs, theirs_same, gflops, ceiling; };
    std::vector<Row> rows;
    for (const char* dt : {"fp32", "bf16"}) {
        if (!only_dtype.empty() && only_dtype != dt) continue;
        LoadedModel lm = load_model(model_dir, parse_compute_dtype(dt));
        const auto& c = lm.model->config();
        // FLOPs per token: 2 x (matmul params) + attention (QK^T and AV over ~seq/2 keys on average)
        const double mm_params = double(lm.model->n_params() - c.vocab_size * c.n_embd);  // embedding is a lookup
        const double flops_tok = 2.0 * mm_params + 2.0 * 2.0 * c.n_layer * c.q_dim() * (seq / 2.0);
        for (int64_t b : batches) {
            if (only_batch > 0 && b != only_batch) continue;
            at::Tensor ids = at::randint(3, c.vocab_size, {b, seq}, at::kLong);
            double s = den2moe::bench::median_seconds([&] { at::log_softmax(lm.model->forward(ids), -1); }, reps);
            double tps = b * seq / s;
            auto eager = [&](const std::string& core_env) -> double {
                if (no_python) return 0;
                std::string cmd = core_env + "/usr/bin/python3 " + src +
                                  "/tests/reference/llama_reference.py bench --model " + model_dir + " --threads " +
                                  std::to_string(threads) + " --batch " + std::to_string(b) + " --seq " +
                                  std::to_string(seq) + " --dtype " + dt + " --reps " + std::to_string(reps) +
                                  " 2>/dev/null";
                std::string out = den2moe::bench::run_capture(cmd);
                try {
                    return nlohmann::json::parse(out.substr(out.find('{'))).at("tokens_per_s").get<double>();
                } catch (...) {
                    return 0;
                }
            };
            const double theirs = eager("");
            const double theirs_same = switched ? eager("OPENBLAS_CORETYPE=" + blas.active + " ") : theirs;
            double gf = flops_tok * tps / 1e9;
            rows.push_back({dt, b, tps, theirs, theirs_same, gf, std::string(dt) == "fp32" ? ceil32 : ceil16});
            std::printf("%s batch %2lld x %lld: engine %8.0f tok/s | pytorch eager (%s) %8.0f tok/s, ratio %.2fx | "
                        "eager (%s) %8.0f tok/s, ratio %.2fx | %.0f GFLOP/s = %.0f%% of GEMM ceiling\n",
                        dt, (long long)b, (long long)seq, tps, env_core.c_str(), theirs,
                        theirs > 0 ? tps / theirs : 0.0, blas.active.c_str(), theirs_same,
                        theirs_same > 0 ? tps / theirs_same : 0.0, gf, 100.0 * gf / rows.back().ceiling);
            std::fflush(stdout);
        }
    }
    if (markdown) {
        std::printf("\n| dtype | batch x seq | engine tok/s | PyTorch eager tok/s (%s) | ratio | eager tok/s (%s) | "
                    "ratio | achieved GFLOP/s | %% of GEMM ceiling |\n",
                    env_core.c_str(), blas.active.c_str());
        std::printf("|---|---|---|---|---|---|---|---|---|\n");
        for (const auto& r : rows)
            std::printf("| %s | %lld x %lld | %.0f | %.0f | %.2fx | %.0f | %.2fx | %.0f | %.0f%% |\n", r.dtype.c_str(),
                        (long long)r.batch, (long long)seq, r.ours, r.theirs, r.theirs > 0 ? r.ours / r.theirs : 0.0,
                        r.theirs_same, r.theirs_same > 0 ? r.ours / r.theirs_same : 0.0, r.gflops,
                        100.0 * r.gflops / r.ceiling);
    }
    return 0;
}
