// Shared timing helper of the benchmarks: one warm-up call, then the median wall time of `reps` calls.
#pragma once

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/runtime.h"

namespace den2moe::bench {

/// The median of v (the upper one of an even count); 0 for an empty v.
inline double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <typename F>
double median_seconds(F&& f, int reps) {
    f();  // warm-up
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return median(std::move(t));
}

}  // namespace den2moe::bench

namespace den2moe::bench {

/// Medians of several functions measured in interleaved rounds (f0, f1, ..., f0, f1, ...): on a
/// shared machine, load that comes and goes hits every candidate alike, so their ratio is steadier
/// than that of medians taken one after the other.
template <typename... F>
std::vector<double> interleaved_medians(int reps, F&&... fs) {
    std::vector<std::vector<double>> t(sizeof...(F));
    auto time_one = [](auto& f) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    (fs(), ...);  // warm-up
    for (int r = 0; r < reps; ++r) {
        size_t i = 0;
        ((t[i++].push_back(time_one(fs))), ...);
    }
    std::vector<double> med;
    for (auto& v : t) med.push_back(median(std::move(v)));
    return med;
}

}  // namespace den2moe::bench

namespace den2moe::bench {

/// The options every kernel bench takes: --threads N (default 2), --reps N, --markdown.
struct BenchArgs {
    int threads = 2;
    int reps = 0;
    bool markdown = false;
};
inline BenchArgs parse_bench_args(int argc, char** argv, int default_reps) {
    BenchArgs b;
    b.reps = default_reps;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) b.threads = std::atoi(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) b.reps = std::atoi(argv[++i]);
        else if (a == "--markdown") b.markdown = true;
    }
    return b;
}

/// The standard output of a shell command (a reference implementation run in the same benchmark).
inline std::string run_capture(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
}

/// init_runtime(threads), then one line saying which BLAS kernels the numbers below come from.
inline int init_bench_runtime(int threads) {
    const int n = init_runtime(threads);
    const BlasKernels& b = select_blas_kernels();
    std::printf("BLAS: %s %s (%s)\n", b.library.c_str(), b.active.c_str(), b.reason.c_str());
    return n;
}

}  // namespace den2moe::bench
