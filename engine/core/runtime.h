// Process-wide runtime setup for engine work: torch's intra-op threads, the BLAS kernels and the
// allocator. Call init_runtime() once at start-up from every front end (CLI, GUI, benchmarks).
#pragma once

#include <string>

namespace den2moe {

/// Threads for torch's intra-op pool: `threads` > 0, else $D2M_THREADS, else the machine's cores
/// (libtorch's own default here is 1). Worker threads pick the count up on their first torch op
/// (torch's per-thread lazy init; tests/engine/core/test_runtime.cpp checks it). Also runs
/// select_blas_kernels() and tune_allocator(). Returns the number of threads set.
int init_runtime(int threads = 0);

/// Keep large tensor buffers in the malloc heap instead of mmap'ing and unmapping them on every
/// forward pass: glibc maps blocks above its mmap threshold (at most 32 MiB) freshly each time, and
/// every first touch of a fresh page faults. On the demo model a [8, 256, 4096] logits buffer is
/// 32 MiB: without this, ~20% of evaluation time went to page faults (perf, docs/benchmarks.md).
void tune_allocator();

/// What select_blas_kernels() found and did.
struct BlasKernels {
    std::string library;   ///< "OpenBLAS" or "" when the BLAS is not a DYNAMIC_ARCH OpenBLAS
    std::string detected;  ///< the core OpenBLAS picked by itself, e.g. "Haswell"
    std::string active;    ///< the core in use now, e.g. "SkylakeX"
    std::string reason;    ///< one line: why it was (or was not) changed
    std::string hint;      ///< "" or one line for the user: a faster core this machine could use
};

/// What to do with OpenBLAS's core, decided from what it picked (`detected`), $OPENBLAS_CORETYPE
/// (`forced`, "" when unset), $D2M_BLAS_CORE (`mode`: "" = default, "keep", "auto") and whether the
/// CPU has AVX-512. Switch to SkylakeX only when OpenBLAS fell back to an AVX2 core by itself on an
/// AVX-512 CPU, or when `mode` is "auto". An explicit OPENBLAS_CORETYPE is respected (an administrator
/// pins a core because another one computes wrong results or crashes there): then `hint` names the
/// faster option. "keep" leaves OpenBLAS alone. Pure: select_blas_kernels() acts on it.
struct BlasDecision {
    bool switch_to_skylakex = false;
    std::string reason;
    std::string hint;
};
BlasDecision decide_blas_core(const std::string& detected, const std::string& forced, const std::string& mode,
                              bool cpu_avx512);

/// OpenBLAS 0.3.21 (Debian 12) falls back to its AVX2 "Haswell" kernels on AVX-512 CPUs it does not
/// know, and some environments pin OPENBLAS_CORETYPE=Haswell: half the fp32 GEMM throughput these CPUs
/// have (175 vs 327 GFLOP/s for a 1024^3 sgemm on 2 Zen 5 cores, docs/benchmarks.md). The engine picks
/// kernels by what the CPU can do, as it would for its own kernels: when the CPU has AVX-512 (F, CD,
/// BW, DQ, VL) and a DYNAMIC_ARCH OpenBLAS fell back to an AVX2 core by itself, this switches it to
/// SkylakeX through its exported gotoblas_dynamic_init, before any GEMM has run (decide_blas_core()
/// has the rules: an explicit $OPENBLAS_CORETYPE is respected unless $D2M_BLAS_CORE=auto, and
/// $D2M_BLAS_CORE=keep leaves OpenBLAS alone). $OPENBLAS_CORETYPE is restored for child processes.
/// The switch is backed by an sgemm sweep against float64 (tests/engine/core/test_runtime.cpp).
/// Idempotent; nothing happens when the BLAS is something else.
const BlasKernels& select_blas_kernels();

/// The libtorch this build runs on and the BLAS behind its products, for --version and the benches, e.g.
/// "1.13.0 (BLAS: OpenBLAS)" (Debian's) or "2.11.0 (BLAS: MKL)" (PyPI's wheel, docs/benchmarks.md).
std::string libtorch_description();

/// Whether libtorch's CPU bfloat16 matrix products are fast on this CPU, and why. They are where the CPU
/// has bf16 instructions (AVX512-BF16 or AMX-BF16, with AVX-512 F/BW/VL/DQ for oneDNN's kernels). With
/// AVX-512 alone oneDNN emulates bf16 and ran 1.5-2.1x slower than widening to float32 on a 2-core Xeon
/// (issue 27); without AVX-512 libtorch falls back to scalar loops, 1.1 against 57 GFLOP/s fp32 on 2 Zen 1
/// cores (docs/benchmarks.md). Where `fast` is false the engine widens bf16 products to float32 (model/gemm.h).
struct Bf16Support {
    bool fast = false;
    std::string reason;  ///< one line for --version
};
const Bf16Support& cpu_bf16_support();
bool cpu_bf16_matmul_is_fast();  ///< cpu_bf16_support().fast

}  // namespace den2moe
