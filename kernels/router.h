// Router logits of an MoE layer: a skinny product of the tokens [N, D] with the router [E, D] (E a
// handful of experts). BLAS libraries are built for wide outputs: OpenBLAS runs [1024, 256] x
// [256, 8] at ~32 GFLOP/s (133 us on the demo model's shapes, bench/bench_router.cpp), a third of
// the whole MoE block's overhead. This kernel keeps one accumulator per expert for up to eight
// experts at a time and loads each token's chunk once: one pass over x, fp32 accumulation.
#pragma once

#include <ATen/core/Tensor.h>

namespace den2moe::kernels {

/// out[n, e] = sum_d x[n, d] * w[e, d], accumulated in float32. x: [N, D] float32 or bfloat16
/// (widened exactly), contiguous, CPU; w: [E, D] float32, contiguous; out: [N, E] float32,
/// contiguous (written, not read). Rows are split over torch's intra-op threads (serially when
/// called inside a parallel region). Vector code for AVX-512 or AVX2+FMA, picked at run time by
/// what the CPU has; plain loops elsewhere. `isa` ("avx512", "avx2", "scalar") forces a path the CPU
/// has (tests, benchmarks); nullptr takes the best.
void router_logits(const at::Tensor& x, const at::Tensor& w, at::Tensor& out, const char* isa = nullptr);

/// The ATen formula: mm(x.float(), w.t()).
at::Tensor router_logits_reference(const at::Tensor& x, const at::Tensor& w);

/// Which code path router_logits takes on this CPU: "avx512", "avx2" or "scalar".
const char* router_logits_isa();
/// Whether this CPU can run the given path.
bool router_logits_supports(const char* isa);

}  // namespace den2moe::kernels
