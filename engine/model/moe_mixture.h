// The dense mixture of the MoE block's Train mode, out = Σ_e gate_e ⊙ expert_e(x), for frozen
// experts (router training: DIVE's stage 1, Den2MoEE's dense phase): one autograd function whose
// forward and backward run in blocks of rows (each thread its own blocks, single-threaded GEMMs), so
// every intermediate stays in the core's cache; it keeps only the gate/up products for backward and
// returns the gradients of x and of the gates (the experts get none). The reference is the plain ATen
// loop it replaces (dense_mixture_reference); tests/engine/model/test_moe_mixture.cpp compares both.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

namespace den2moe {

class SwiGluFfn;

/// x [N, D] (float32 or bfloat16, CPU), gates [N, E] float32 -> [N, D] in x's dtype. Experts' tensors
/// must not require gradients. Differentiable w.r.t. x and gates.
at::Tensor dense_mixture_train(const at::Tensor& x, const at::Tensor& gates,
                               const std::vector<std::shared_ptr<const SwiGluFfn>>& experts);

/// The same as plain ATen operations autograd follows: Σ_e expert_e.forward_train(x) · gates[:, e].
at::Tensor dense_mixture_reference(const at::Tensor& x, const at::Tensor& gates,
                                   const std::vector<std::shared_ptr<const SwiGluFfn>>& experts);

/// True when dense_mixture_train applies: CPU x in float32/bfloat16 and no expert tensor requires grad.
bool dense_mixture_applies(const at::Tensor& x, const std::vector<std::shared_ptr<const SwiGluFfn>>& experts);

}  // namespace den2moe
