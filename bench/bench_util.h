// Shared timing helper of the benchmarks: one warm-up call, then the median wall time of `reps` calls.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace den2moe::bench {

template <typename F>
double median_seconds(F&& f, int reps) {
    f();  // warm-up
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

}  // namespace den2moe::bench
