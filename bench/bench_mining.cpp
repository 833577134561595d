// bench_mining: the full 18-domain domain-affinity mining of the demo project (issue 3's setting:
// 128 calibration windows × 256 tokens per domain, 32 × 256 evaluation tokens per domain, ratio 0.5,
// bf16) from a cold statistics cache, then the cached rerun. Reference measured in the same run:
// perplexity throughput of the dense model (the forward benchmark's workload, batch 8 × 256), so the
// stages' tokens/s read as a fraction of what the plain forward pass does. Prints the breakdown;
// --markdown for docs/benchmarks.md. Options: --project P --threads N --domains a,b --samples N
// --eval-windows N --reps R (reference repetitions).
#include <ATen/ATen.h>

#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/run_context.h"
#include "core/runtime.h"
#include "eval/perplexity.h"
#include "mining/mining.h"
#include "pipeline/mining.h"
#include "model/loaded_model.h"
#include "project/project.h"

using namespace den2moe;
using clk = std::chrono::steady_clock;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    std::string src = std::getenv("D2M_SOURCE_DIR") ? std::getenv("D2M_SOURCE_DIR") : ".";
    std::string project = src + "/projects/demo.den2moe.json";
    int threads = 2, reps = 5;
    bool markdown = false;
    std::string domains;
    int64_t samples = -1, eval_windows = -1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() { return std::string(i + 1 < argc ? argv[++i] : ""); };
        if (a == "--project") project = next();
        else if (a == "--threads") threads = std::stoi(next());
        else if (a == "--reps") reps = std::stoi(next());
        else if (a == "--domains") domains = next();
        else if (a == "--samples") samples = std::stoll(next());
        else if (a == "--eval-windows") eval_windows = std::stoll(next());
        else if (a == "--markdown") markdown = true;
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 1;
        }
    }
    den2moe::bench::init_bench_runtime(threads);
    Project p = load_project(project);
    if (samples > 0) p.calib.n_samples = samples;
    if (eval_windows > 0) p.eval.n_windows = eval_windows;
    const std::string cache = (fs::temp_directory_path() / ("d2m_bench_mining_" + std::to_string(::getpid()))).string();
    p.cache_dir = cache;
    MiningOptions mo;
    std::stringstream ss(domains);
    for (std::string d; std::getline(ss, d, ',');) mo.only_domains.push_back(d);

    // reference: dense perplexity throughput on the same model, dtype, batch and window length
    LoadedModel lm = load_model(resolve_project_path(p, p.model), parse_compute_dtype(p.dtype));
    std::vector<int> stream(static_cast<size_t>(p.eval.batch * p.eval.seq_len * 4));
    for (size_t i = 0; i < stream.size(); ++i) stream[i] = 3 + static_cast<int>((i * 2654435761u) % 4000);
    PplOptions po;
    po.seq = p.eval.seq_len;
    po.batch = p.eval.batch;
    perplexity(*lm.model, stream, po, null_context());  // warm-up
    std::vector<double> ts;
    for (int r = 0; r < reps; ++r) {
        auto t0 = clk::now();
        perplexity(*lm.model, stream, po, null_context());
        ts.push_back(std::chrono::duration<double>(clk::now() - t0).count());
    }
    std::sort(ts.begin(), ts.end());
    const double ref_tps = static_cast<double>(stream.size()) / ts[ts.size() / 2];

    auto t0 = clk::now();
    MiningResult cold = run_mining(p, mo, null_context());
    const double cold_s = std::chrono::duration<double>(clk::now() - t0).count();
    t0 = clk::now();
    MiningResult warm = run_mining(p, mo, null_context());
    const double warm_s = std::chrono::duration<double>(clk::now() - t0).count();
    fs::remove_all(cache);

    const auto& t = cold.timings;
    const double stats_tps = t.stats_tokens / std::max(1e-9, t.statistics_s);
    const double eval_tps = t.eval_tokens / std::max(1e-9, t.evaluation_s);
    const char* fmt = markdown ? "| %s | %s |\n" : "%-34s %s\n";
    auto row = [&](const std::string& k, const std::string& v) { std::printf(fmt, k.c_str(), v.c_str()); };
    auto f = [](const char* f, double v) {
        char b[64];
        std::snprintf(b, sizeof b, f, v);
        return std::string(b);
    };
    if (markdown) std::printf("| stage | result |\n|---|---|\n");
    row("domains", std::to_string(cold.n) + " (" + std::to_string(p.calib.n_samples) + " × " +
                       std::to_string(p.calib.seq_len) + " calibration, " + std::to_string(p.eval.n_windows) + " × " +
                       std::to_string(p.eval.seq_len) + " evaluation tokens each, ratio " + f("%.2f", p.prune.ratio) +
                       ", " + cold.dtype + ", " + std::to_string(threads) + " threads)");
    row("reference: dense perplexity", f("%.0f tok/s (median of reps, batch ", ref_tps) + std::to_string(p.eval.batch) +
                                           " × " + std::to_string(p.eval.seq_len) + ")");
    row("load", f("%.2f s", t.load_s));
    row("statistics (cold cache)", f("%.1f s", t.statistics_s) + f(", %.0f tok/s", stats_tps) +
                                       f(" = %.2f × reference", stats_tps / ref_tps));
    row("pruning (" + std::to_string(cold.n) + " models)", f("%.2f s", t.pruning_s));
    row("evaluation (N×N + dense row)", f("%.1f s", t.evaluation_s) + f(", %.0f tok/s", eval_tps) +
                                            f(" = %.2f × reference", eval_tps / ref_tps));
    row("clustering", f("%.3f s", t.clustering_s));
    row("**total, cold cache**", f("**%.1f s**", cold_s));
    row("**total, cached rerun**", f("**%.1f s**", warm_s) + " (statistics computed: " +
                                       std::to_string(warm.stats_cache_misses) + ")");
    return 0;
}
