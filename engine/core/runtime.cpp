#include "core/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__unix__)
#include <dlfcn.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace den2moe {

namespace {
bool cpu_has_avx512() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

bool is_avx2_core(const std::string& core) { return core == "Haswell" || core == "Zen" || core == "Excavator"; }

BlasKernels do_select_blas_kernels() {
    BlasKernels k;
#if defined(__unix__)
    using corename_fn = char* (*)();
    using void_fn = void (*)();
    // OpenBLAS is loaded (as a dependency of libtorch) into the global namespace.
    auto corename = reinterpret_cast<corename_fn>(dlsym(RTLD_DEFAULT, "gotoblas_corename"));
    auto dyn_init = reinterpret_cast<void_fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
    auto dyn_quit = reinterpret_cast<void_fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
    if (!corename || !dyn_init || !dyn_quit) {
        k.reason = "BLAS is not a DYNAMIC_ARCH OpenBLAS: left as it is";
        return k;
    }
    k.library = "OpenBLAS";
    k.detected = k.active = corename() ? corename() : "";
    const char* env_core = std::getenv("OPENBLAS_CORETYPE");
    const std::string forced = env_core ? env_core : "";
    const char* env_mode = std::getenv("D2M_BLAS_CORE");
    const BlasDecision d = decide_blas_core(k.detected, forced, env_mode ? env_mode : "", cpu_has_avx512());
    k.reason = d.reason;
    k.hint = d.hint;
    if (!d.switch_to_skylakex) return k;
    // gotoblas_dynamic_init() reads OPENBLAS_CORETYPE and is a no-op while a core is set. The
    // variable is restored afterwards: child processes (the Python oracles) see what the user set.
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    dyn_quit();
    dyn_init();
    if (forced.empty()) unsetenv("OPENBLAS_CORETYPE");
    else setenv("OPENBLAS_CORETYPE", forced.c_str(), 1);
    const char* now = corename();
    k.active = now ? now : "";
    if (k.active == "SkylakeX") {
        k.reason = "CPU has AVX-512 but OpenBLAS was on " + k.detected +
                   (forced.empty() ? " (its fallback for CPUs it does not know)"
                                   : " (OPENBLAS_CORETYPE=" + forced + ")") +
                   (forced.empty() ? ": switched to SkylakeX; D2M_BLAS_CORE=keep leaves it"
                                   : ": switched to SkylakeX (D2M_BLAS_CORE=auto)");
    } else {
        k.reason = "switch to SkylakeX failed, OpenBLAS reports " + k.active;
    }
#else
    k.reason = "not a Unix build: BLAS left as it is";
#endif
    return k;
}
}  // namespace

BlasDecision decide_blas_core(const std::string& detected, const std::string& forced, const std::string& mode,
                              bool cpu_avx512) {
    BlasDecision d;
    const std::string origin = forced.empty() ? " (its own choice)" : " (OPENBLAS_CORETYPE=" + forced + ")";
    if (mode == "keep") {
        d.reason = "D2M_BLAS_CORE=keep: OpenBLAS core " + detected + origin + " left as it is";
        return d;
    }
    if (!mode.empty() && mode != "auto") {
        d.hint = "D2M_BLAS_CORE=" + mode + " is not a mode (keep or auto); ignored";
    }
    if (!is_avx2_core(detected)) {
        d.reason = "OpenBLAS uses " + detected + origin + ": left as it is";
        return d;
    }
    if (!cpu_avx512) {
        d.reason = "CPU has no AVX-512: " + detected + origin + " is the right core";
        return d;
    }
    if (!forced.empty() && mode != "auto") {
        d.reason = "OpenBLAS uses " + detected + origin + ": the explicit setting is respected";
        d.hint = "this CPU has AVX-512: OpenBLAS's SkylakeX kernels are about twice as fast for float32 GEMMs "
                 "(OPENBLAS_CORETYPE=SkylakeX, or D2M_BLAS_CORE=auto to let den2moe switch); keep " + forced +
                 " if another core computes wrong results on this machine";
        return d;
    }
    d.switch_to_skylakex = true;
    d.reason = "switching " + detected + origin + " to SkylakeX";
    return d;
}

std::string libtorch_description() {
    const std::string blas = at::hasMKL() ? "MKL"
                             : !select_blas_kernels().library.empty() ? select_blas_kernels().library
                                                                      : "not MKL, not a DYNAMIC_ARCH OpenBLAS";
    return std::string(TORCH_VERSION) + " (BLAS: " + blas + ")";
}

const BlasKernels& select_blas_kernels() {
    static std::once_flag once;
    static BlasKernels result;
    std::call_once(once, [] { result = do_select_blas_kernels(); });
    return result;
}

void tune_allocator() {
    if (std::getenv("D2M_NO_MALLOPT")) return;
#if defined(__GLIBC__)
    // Fixed thresholds also switch off glibc's dynamic threshold adjustment.
    mallopt(M_MMAP_THRESHOLD, 1 << 30);       // blocks up to 1 GiB come from the heap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);       // and freed memory is not returned at once
    mallopt(M_TOP_PAD, 64 << 20);
#endif
}

const Bf16Support& cpu_bf16_support() {
    static const Bf16Support s = [] {
        Bf16Support r;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
        unsigned a = 0, b = 0, c = 0, d = 0;
        bool avx512_bf16 = false, amx_bf16 = false;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
            amx_bf16 = (d >> 22) & 1u;  // CPUID.(7,0):EDX[22] AMX-BF16
            const unsigned max_sub = a;
            if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) avx512_bf16 = (a >> 5) & 1u;  // (7,1):EAX[5]
        }
        const bool avx512 = cpu_has_avx512();
        if (avx512 && (avx512_bf16 || amx_bf16)) {
            r.fast = true;
            r.reason = std::string("the CPU has ") + (amx_bf16 ? "AMX-BF16" : "AVX512-BF16") +
                       ": libtorch's bf16 GEMMs (oneDNN) run on bf16 instructions";
        } else if (avx512) {
            r.reason = "AVX-512 without AVX512-BF16 or AMX: oneDNN would emulate bf16 products, 1.5-2.1x slower than "
                       "widening them to float32 (measured on a 2-core Xeon, issue 27)";
        } else {
            r.reason = "no AVX-512: libtorch's CPU bf16 GEMMs would run on scalar loops (~50x slower than float32)";
        }
#else
        r.fast = true;
        r.reason = "not an x86 CPU: libtorch's bf16 kernels are used as they are (not measured)";
#endif
        return r;
    }();
    return s;
}

bool cpu_bf16_matmul_is_fast() { return cpu_bf16_support().fast; }

int init_runtime(int threads) {
    tune_allocator();
    select_blas_kernels();
    int n = threads;
    if (n <= 0) {
        if (const char* e = std::getenv("D2M_THREADS")) n = std::atoi(e);
    }
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(n);
    return n;
}

}  // namespace den2moe
