// Fused RMSNorm and rotary embedding (RoPE) for the forward pass. Each replaces a chain of 6-10 small
// ATen ops per call (to(float), pow, mean, rsqrt, mul, ... / narrow, mul, sub, cat, to(dtype)),
// each with its own allocation and fork/join, by one pass over the rows on the intra-op threads.
// Arithmetic in float32 as the references; the results round once to the tensor's dtype.
#pragma once

#include <ATen/core/Tensor.h>

namespace den2moe::kernels {

/// x / sqrt(mean(x², last dim) + eps) * w. x: [..., D] float32 or bfloat16, contiguous, CPU;
/// w: [D] (any floating dtype). Returns a new tensor of x's dtype and shape.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps);
at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& w, double eps);

/// Rotates, in place, the first `n_rot` heads (of `head_dim` channels each, from channel 0) of every
/// [B, T, C] row of `qkv` by the angles cos/sin [B, T, 1, head_dim / 2] (float32, contiguous):
/// pairs (j, j + head_dim/2) when `interleaved` is false (Hugging Face's rotate-half), pairs
/// (2j, 2j + 1) when true (llama2.c's run.c). qkv: float32 or bfloat16, contiguous, CPU.
void rope_(at::Tensor& qkv, int64_t n_rot, int64_t head_dim, const at::Tensor& cos, const at::Tensor& sin,
           bool interleaved);
/// The same with ATen ops on a copy (what the engine computed before), returned.
at::Tensor rope_reference(const at::Tensor& qkv, int64_t n_rot, int64_t head_dim, const at::Tensor& cos,
                          const at::Tensor& sin, bool interleaved);

}  // namespace den2moe::kernels
