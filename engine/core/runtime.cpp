#include "core/runtime.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace den2moe {

void tune_allocator() {
    if (std::getenv("D2M_NO_MALLOPT")) return;
#if defined(__GLIBC__)
    // Fixed thresholds also switch off glibc's dynamic threshold adjustment.
    mallopt(M_MMAP_THRESHOLD, 1 << 30);       // blocks up to 1 GiB come from the heap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);       // and freed memory is not returned at once
    mallopt(M_TOP_PAD, 64 << 20);
#endif
}

int init_runtime(int threads) {
    tune_allocator();
    int n = threads;
    if (n <= 0) {
        if (const char* e = std::getenv("D2M_THREADS")) n = std::atoi(e);
    }
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(n);
    return n;
}

}  // namespace den2moe
