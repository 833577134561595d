// Perplexity's loss in one pass over the logits: Σ_r logsumexp(logits[r]) − logits[r, target[r]], where
// ATen needs logsumexp (max, subtract, exp, sum, log: several passes and temporaries), gather, a
// subtraction, a cast and a sum. Used by eval/perplexity.cpp on each row chunk of the vocabulary projection.
#pragma once

#include <ATen/core/Tensor.h>

namespace den2moe::kernels {

/// logits [n, V] float32 CPU with unit column stride (rows may be strided), targets [n] or [n, 1] int64 in
/// [0, V): the summed negative log-likelihood, in double (each row's exp-sum in float32, as ATen's).
/// Rows are split over torch's intra-op threads.
double nll_sum(const at::Tensor& logits, const at::Tensor& targets);

/// The same with ATen ops (the reference the kernel is tested against).
double nll_sum_reference(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace den2moe::kernels
