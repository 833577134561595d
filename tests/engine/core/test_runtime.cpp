// Runtime setup: the BLAS kernel switch (OpenBLAS 0.3.21 falls back to AVX2 "Haswell" kernels on
// AVX-512 CPUs it does not know, or where OPENBLAS_CORETYPE pins it) and the torch thread count on
// worker threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "support/check.h"

#include "core/runtime.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>
#include <thread>

using namespace den2moe;

namespace {

// The CPU's AVX-512 subsets as the kernel reports them (/proc/cpuinfo), independent of the
// compiler builtins the runtime asks.
bool cpu_has_avx512() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        std::set<std::string> flags;
        for (std::string w; words >> w;) flags.insert(w);
        for (const char* f : {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
            if (!flags.count(f)) return false;
        return true;
    }
    return false;
}

// sgemm against a float64 reference: odd and small sizes (OpenBLAS's small-matrix and edge
// kernels), all four transpose cases, and addmm's beta path (torch's linear).
void check_sgemm_against_double() {
    at::manual_seed(7);
    const std::vector<int64_t> sizes = {1, 3, 16, 17, 33, 100, 257};
    int bad = 0;
    for (int64_t m : sizes)
        for (int64_t n : sizes)
            for (int64_t k : {int64_t(1), int64_t(7), int64_t(64), int64_t(129)})
                for (int t = 0; t < 4; ++t) {
                    at::Tensor a = (t & 1) ? at::randn({k, m}).t() : at::randn({m, k});
                    at::Tensor b = (t & 2) ? at::randn({n, k}).t() : at::randn({k, n});
                    at::Tensor c0 = at::randn({m, n});
                    at::Tensor c = at::addmm(c0, a, b, /*beta=*/0.5, /*alpha=*/2.0);
                    at::Tensor ref = 0.5 * c0.to(at::kDouble) + 2.0 * at::mm(a.to(at::kDouble), b.to(at::kDouble));
                    const double err = (c.to(at::kDouble) - ref).abs().max().item<double>();
                    const double tol = 1e-5 * std::sqrt(double(k)) * 8;
                    if (err > tol && bad++ < 5)
                        std::fprintf(stderr, "sgemm %lldx%lldx%lld transpose case %d: max error %g > %g\n",
                                     (long long)m, (long long)n, (long long)k, t, err, tol);
                }
    CHECK_EQ(bad, 0);
    for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{2048, 768, 256}, {256, 384, 256}, {1, 768, 256}}) {
        at::Tensor x = at::randn({m, k}), w = at::randn({n, k});
        at::Tensor c = at::linear(x, w);
        at::Tensor ref = at::linear(x.to(at::kDouble), w.to(at::kDouble));
        CHECK((c.to(at::kDouble) - ref).abs().max().item<double>() < 1e-3);
    }
}

}  // namespace

TEST(blas_kernels_match_the_cpu) {
    const BlasKernels& k = select_blas_kernels();
    std::fprintf(stderr, "BLAS %s: detected %s, active %s (%s)\n", k.library.c_str(), k.detected.c_str(),
                 k.active.c_str(), k.reason.c_str());
    CHECK(!k.reason.empty());
    if (k.library != "OpenBLAS") return;  // another BLAS: nothing was changed, nothing to check
    CHECK(!k.active.empty());
    const bool avx2_fallback = k.detected == "Haswell" || k.detected == "Zen" || k.detected == "Excavator";
    const char* mode_env = std::getenv("D2M_BLAS_CORE");
    const std::string mode = mode_env ? mode_env : "";
    const char* env = std::getenv("OPENBLAS_CORETYPE");
    const std::string forced = env ? env : "";
    // switched only when OpenBLAS fell back by itself, or when asked (auto); never under keep
    const bool expect_switch = avx2_fallback && cpu_has_avx512() && mode != "keep" && (forced.empty() || mode == "auto");
    if (expect_switch) {
        CHECK_EQ(k.active, std::string("SkylakeX"));
        CHECK(k.hint.empty());
    } else {
        CHECK_EQ(k.active, k.detected);
        if (!forced.empty() && avx2_fallback && cpu_has_avx512() && mode.empty()) {  // respected, with a hint
            CHECK(k.reason.find("OPENBLAS_CORETYPE=" + forced + "): the explicit setting is respected") != std::string::npos);
            CHECK(k.hint.find("OPENBLAS_CORETYPE=SkylakeX, or D2M_BLAS_CORE=auto") != std::string::npos);
        }
    }
    // the user's variable is as it was: child processes see what the user set
    const char* after = std::getenv("OPENBLAS_CORETYPE");
    CHECK_EQ(std::string(after ? after : "<unset>"), std::string(env ? env : "<unset>"));
    // Idempotent: the second call changes nothing and returns the same record.
    CHECK(&select_blas_kernels() == &k);
    check_sgemm_against_double();
}

// The rules by hand: every combination of what OpenBLAS picked, OPENBLAS_CORETYPE, D2M_BLAS_CORE and
// the CPU's AVX-512.
TEST(blas_decision_rules) {
    auto d = decide_blas_core("Haswell", "", "", true);  // OpenBLAS fell back by itself: switch
    CHECK(d.switch_to_skylakex);
    CHECK(d.hint.empty());
    d = decide_blas_core("Haswell", "Haswell", "", true);  // pinned by the administrator: respected, hint
    CHECK(!d.switch_to_skylakex);
    CHECK_EQ(d.reason, std::string("OpenBLAS uses Haswell (OPENBLAS_CORETYPE=Haswell): the explicit setting is respected"));
    CHECK(d.hint.find("OPENBLAS_CORETYPE=SkylakeX, or D2M_BLAS_CORE=auto") != std::string::npos);
    d = decide_blas_core("Zen", "Zen", "auto", true);  // asked for: switch
    CHECK(d.switch_to_skylakex);
    d = decide_blas_core("Haswell", "", "keep", true);  // keep: nothing
    CHECK(!d.switch_to_skylakex);
    CHECK(d.hint.empty());
    d = decide_blas_core("Haswell", "", "auto", false);  // no AVX-512: Haswell is right, even under auto
    CHECK(!d.switch_to_skylakex);
    CHECK(d.hint.empty());
    d = decide_blas_core("SkylakeX", "", "", true);  // already on AVX-512 kernels
    CHECK(!d.switch_to_skylakex);
    d = decide_blas_core("Haswell", "", "fast", true);  // an unknown mode: named, default rules apply
    CHECK(d.switch_to_skylakex);
    CHECK(d.hint.find("D2M_BLAS_CORE=fast is not a mode") != std::string::npos);
}

// libtorch's CPU bf16 GEMMs are fast only where the CPU has bf16 instructions (AVX512-BF16 or AMX-BF16,
// with AVX-512); elsewhere the engine widens bf16 products to float32 (model/gemm.h, test_gemm.cpp).
// The oracle is the kernel's view of the CPU: /proc/cpuinfo's flags, not CPUID read again.
TEST(bf16_gemm_speed_check_follows_the_cpu) {
    std::ifstream in("/proc/cpuinfo");
    std::string line, flags;
    while (std::getline(in, line))
        if (line.rfind("flags", 0) == 0) {
            flags = " " + line.substr(line.find(':') + 1) + " ";
            break;
        }
    if (flags.empty()) {
        std::fprintf(stderr, "no /proc/cpuinfo flags: only the reason is checked\n");
    } else {
        auto has = [&](const char* f) { return flags.find(std::string(" ") + f + " ") != std::string::npos; };
        const bool avx512 = has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq") && has("avx512cd");
        const bool expect = avx512 && (has("avx512_bf16") || has("amx_bf16"));
        CHECK_EQ(cpu_bf16_matmul_is_fast(), expect);
    }
    CHECK(!cpu_bf16_support().reason.empty());
    std::fprintf(stderr, "bf16 GEMMs fast here: %s (%s)\n", cpu_bf16_matmul_is_fast() ? "yes" : "no",
                 cpu_bf16_support().reason.c_str());
}

TEST(worker_threads_get_the_thread_count) {
    // 3, not the 2 that OMP_NUM_THREADS gives every new thread in the test environment: the worker
    // (the GUI's engine thread) only sees 3 if torch's per-thread lazy init carries the count over.
    const int n = init_runtime(3);
    CHECK_EQ(n, 3);
    CHECK_EQ(at::get_num_threads(), 3);
    int seen_after = -1;
    std::thread t([&] {
        seen_after = at::get_num_threads();
        check_sgemm_against_double();  // a GEMM on the worker after the switch
    });
    t.join();
    CHECK_EQ(seen_after, 3);
    init_runtime(2);
}

// at::parallel_for is a header template: compiled without -fopenmp (an OpenMP libtorch), our own
// parallel loops would run on one thread, silently. Two busy chunks must run on two threads at once.
TEST(parallel_for_runs_on_several_threads) {
    init_runtime(2);
    std::atomic<int> inside{0}, most{0};
    std::mutex m;
    std::set<std::thread::id> ids;
    at::parallel_for(0, 2, 1, [&](int64_t b, int64_t e) {
        {
            std::lock_guard<std::mutex> lock(m);
            ids.insert(std::this_thread::get_id());
        }
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        // wait (at most 2 s) until the other chunk is running too
        const auto t0 = std::chrono::steady_clock::now();
        while (inside.load() < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)) {
        }
        int s2 = most.load();
        const int n2 = inside.load();
        while (n2 > s2 && !most.compare_exchange_weak(s2, n2)) {
        }
        (void)b;
        (void)e;
    });
    CHECK_EQ(static_cast<int>(ids.size()), 2);
    CHECK_EQ(most.load(), 2);
}

D2M_TEST_MAIN()
