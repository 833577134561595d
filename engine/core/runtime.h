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
};

/// OpenBLAS 0.3.21 (Debian 12) falls back to its AVX2 "Haswell" kernels on AVX-512 CPUs it does not
/// know, and some environments pin OPENBLAS_CORETYPE=Haswell: half the fp32 GEMM throughput these CPUs
/// have (175 vs 327 GFLOP/s for a 1024^3 sgemm on 2 Zen 5 cores, docs/benchmarks.md). The engine picks
/// kernels by what the CPU can do, as it would for its own kernels: when the CPU has AVX-512 (F, CD,
/// BW, DQ, VL) and a DYNAMIC_ARCH OpenBLAS runs an AVX2 core (detected or forced), this switches it to
/// SkylakeX through its exported gotoblas_dynamic_init, before any GEMM has run, and restores
/// $OPENBLAS_CORETYPE for child processes. $D2M_BLAS_CORE=keep leaves OpenBLAS alone.
/// Idempotent; nothing happens when the BLAS is something else.
const BlasKernels& select_blas_kernels();

/// Whether libtorch's CPU bfloat16 matrix products run on fast kernels on this CPU. libtorch sends
/// bf16 GEMMs to oneDNN only on CPUs with AVX-512 (F, BW, VL, DQ); elsewhere they run on its scalar
/// reference loops: 1.1 GFLOP/s against 57 GFLOP/s fp32 on 2 Zen 1 (AVX2) cores, libtorch 1.13
/// (docs/benchmarks.md). Where this is false the engine widens bf16 products to float32
/// (model/gemm.h). Non-x86 CPUs: true (not measured).
bool cpu_bf16_matmul_is_fast();

}  // namespace den2moe
