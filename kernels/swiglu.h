// SwiGLU rows: the dense FFN's silu(g) ⊙ u in one pass (engine/model/llama.cpp, float32 and bf16), and
// gated rows for the dense mixture of router training (engine/model/moe_mixture.cpp), float32:
// forward a = silu(g) ⊙ u ⊙ gate and its backward (dgu = [dg, du], dgate) in one pass per row, where
// ATen needs a dozen element-wise passes. gu [n, 2F] holds g in columns [0, F) and u in [F, 2F).
#pragma once

#include <ATen/core/Tensor.h>

namespace den2moe::kernels {

/// The dense FFN's activation, one pass: act [n, F] = silu(g) ⊙ u, gu [n, 2F] = [g, u]. float32 or bfloat16
/// CPU tensors of one dtype, unit column stride (rows may be strided); act is written. Serial (the caller's
/// row block already runs on one thread). bf16: computed in float32, rounded once (ATen rounds every op).
void swiglu_forward(const at::Tensor& gu, at::Tensor& act);
/// at::silu(g).mul_(u): the reference swiglu_forward is tested against.
at::Tensor swiglu_forward_reference(const at::Tensor& gu);

/// act [n, F] = silu(g) ⊙ u ⊙ gate (gate [n] broadcast over the row). gu [n, 2F], act, gate: float32
/// CPU tensors with unit column stride (rows may be strided); act is written.
void swiglu_gated_forward(const at::Tensor& gu, const at::Tensor& gate, at::Tensor& act);

/// Given da = dL/d(act) [n, F]: dgate[r] += Σ_j da ⊙ silu(g) ⊙ u (unless dgate is undefined) and, unless
/// dgu is undefined, with dact = gate ⊙ da: dgu[:, :F] = dact ⊙ u ⊙ σ(g)(1 + g(1 − σ(g))),
/// dgu[:, F:] = dact ⊙ silu(g). Float32 CPU tensors, unit column stride.
void swiglu_gated_backward(const at::Tensor& gu, const at::Tensor& da, const at::Tensor& gate, at::Tensor& dgu,
                           at::Tensor& dgate);

/// The same as ATen operations (the reference the kernel is tested against): returns {act} or {dgu, dgate}.
at::Tensor swiglu_gated_forward_reference(const at::Tensor& gu, const at::Tensor& gate);
std::pair<at::Tensor, at::Tensor> swiglu_gated_backward_reference(const at::Tensor& gu, const at::Tensor& da,
                                                                  const at::Tensor& gate);

}  // namespace den2moe::kernels
