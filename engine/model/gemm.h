// The forward pass's matrix products, one place that decides how bf16 ones run on the CPU.
//
// libtorch sends CPU bf16 GEMMs to oneDNN only on CPUs with AVX-512; elsewhere they run on its scalar
// reference loops, about 50x slower than fp32 (1.1 vs 57 GFLOP/s on 2 Zen 1 cores, docs/benchmarks.md),
// and oneDNN itself emulates bf16 where the CPU has no AVX512-BF16 / AMX-BF16 (1.5-2.1x slower than
// widening, issue 27). There (core/runtime.h cpu_bf16_support) the products below widen their bf16
// operands to float32 (exact), multiply in float32 and round the product to bf16 once: what oneDNN's bf16
// GEMM computes (float32 accumulation, bf16 result), up to the order of the sums. Everything else (fp32,
// CUDA, CPUs with bf16 instructions) goes straight to ATen.
//
// float32 CPU products (mm, mm_out, addmm_, linear; not the batched matmul of attention) run on one of two
// libraries: OpenBLAS through ATen (Debian's libtorch), or oneDNN's dnnl_sgemm (libdnnl-dev, found at
// configure time). oneDNN is the default where built in: on the engine's shapes (bench/bench_gemm) it ran
// the forward's products faster than OpenBLAS 0.3.21 (SkylakeX/Cooperlake kernels) on an AMD EPYC Zen 4,
// and the 50 M models' ppl in 7 of 9 interleaved loaded runs (docs/benchmarks.md "fp32 GEMM libraries";
// a quiet rerun decides). Products that
// autograd must differentiate stay on ATen.
//
// linear_out, the forward pass's products with a weight, goes further on oneDNN: float32 inference with
// at least kPackedMinRows rows multiplies a copy of the weight reordered once into the layout of oneDNN's
// matmul kernel (dnnl_sgemm packs it again on every call: at the FFN's 256-row blocks that costs 13 %,
// docs/benchmarks.md). The copies are kept per weight, keyed by its storage, offset, sizes and version
// counter: ATen's in-place ops (an optimiser step, a LoRA merge, copy_) bump the version, so a changed
// weight is packed again; a freed weight's copy is never matched again and is released when the next
// weight is packed. Code that writes a weight's bytes behind ATen's back must bump its version
// (TensorImpl::bump_version; dist/comm.cpp's broadcast does). The copies take at most
// $D2M_PACKED_WEIGHTS_MB MiB (default an eighth of physical memory; 0 = off); past it products fall back
// to dnnl_sgemm. Only on CPUs where oneDNN's matmul runs its brgemm kernels (AVX-512 and up): elsewhere
// it runs dnnl_sgemm's own code, and the copy bought nothing (0.95x with DNNL_MAX_CPU_ISA=AVX2). bf16
// weights on the widened path (Bf16Mode::Float32) are packed as float32 once instead of being widened on
// every call.
#pragma once

#include <ATen/core/Tensor.h>

#include "model/gemm_env.h"

#include <string>

namespace den2moe::gemm {

enum class Bf16Mode {
    Native,   ///< ATen's bf16 kernels
    Float32,  ///< widen to float32, multiply, round to bf16
};

/// The mode in use: set_bf16_mode() if called, else $D2M_BF16_GEMM ("native" | "float32"), else
/// Float32 where cpu_bf16_matmul_is_fast() is false (core/runtime.h), Native elsewhere.
Bf16Mode bf16_mode();
void set_bf16_mode(Bf16Mode m);  ///< process-wide (tests, benches)
const char* bf16_mode_name(Bf16Mode m);

enum class Fp32Library {
    OpenBlas,  ///< ATen's products (Debian libtorch: OpenBLAS sgemm)
    OneDnn,    ///< oneDNN's dnnl_sgemm
};

bool onednn_available();  ///< built with oneDNN (DEN2MOE_DNNL and libdnnl-dev found)
/// The library for float32 CPU products: set_fp32_library() if called, else $D2M_GEMM ("openblas" |
/// "onednn"), else OneDnn where available. Throws std::invalid_argument for another $D2M_GEMM value or
/// "onednn" in a build without oneDNN.
Fp32Library fp32_library();
void set_fp32_library(Fp32Library l);  ///< process-wide (tests, benches); throws if OneDnn is unavailable
const char* fp32_library_name(Fp32Library l);
/// One line for --version: which library runs the float32 GEMMs and why.
std::string fp32_library_description();

at::Tensor mm(const at::Tensor& a, const at::Tensor& b);
void mm_out(at::Tensor& out, const at::Tensor& a, const at::Tensor& b);  ///< out may be a view
void addmm_(at::Tensor& out, const at::Tensor& a, const at::Tensor& b);   ///< out += a·b; out may be a view
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b);
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias = {});

/// out [M, N] (=, or += with accumulate) x [M, K] · wᵀ for a weight w [N, K] (out and x may be row views of
/// larger buffers). On the pre-packed copy of w where that applies (above), else mm_out / addmm_.
void linear_out(at::Tensor& out, const at::Tensor& x, const at::Tensor& w, bool accumulate = false);
/// Fewer rows than this take dnnl_sgemm (decoding's one-row steps: nothing to amortise).
constexpr int64_t kPackedMinRows = 16;

struct PackedWeightsStats {
    int64_t budget_mib = 0;  ///< the limit in force (0: off)
    bool supported = false;  ///< oneDNN has its brgemm matmul kernels on this CPU (AVX-512 and up)
    int64_t weights = 0;     ///< live packed copies
    int64_t bytes = 0;       ///< their size
};
PackedWeightsStats packed_weights_stats();
/// Process-wide limit in MiB (tests, benches); 0 turns packing off and drops every copy.
void set_packed_weights_budget_mib(int64_t mib);
/// One line for --version.
std::string packed_weights_description();
}  // namespace den2moe::gemm
