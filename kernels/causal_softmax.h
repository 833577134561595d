// Fused attention softmax: probs = softmax(scale · scores) over the visible keys of each query,
// written in place, 0 on hidden keys. Visible: key slot j ≤ past + i (causal) and, when a key mask
// is given, key_ok[b, j] — the query's own slot is always visible. One pass over the [B, H, T, Tk]
// scores instead of ATen's scale / to(float) / masked_fill / softmax / to(dtype) chain, and the
// hidden upper triangle is never exponentiated.
#pragma once

#include <ATen/core/Tensor.h>

namespace den2moe::kernels {

/// scores: [B, H, T, Tk] float32 or bfloat16, contiguous; key_ok: [B, Tk] bool or undefined.
/// In place; returns scores. Requires Tk == past + T.
at::Tensor& causal_softmax_(at::Tensor& scores, double scale, int64_t past, const at::Tensor& key_ok = {});

/// One block of one head's scores, serially (for callers that split heads over threads themselves):
/// scores [n, w] (unit column stride, rows may be strided), row i the query at key slot q0 + i,
/// visible keys j <= q0 + i (and key_ok[j] when given; the query's own slot always); softmax in place,
/// 0 in the hidden columns up to w. key_ok: [Tk] bool with Tk >= q0 + n, or undefined. Requires
/// q0 + n <= w. A query block [t0, t1) of a causal head needs only its first past + t1 key columns.
at::Tensor& causal_softmax_block_(at::Tensor& scores, double scale, int64_t q0, const at::Tensor& key_ok = {});

/// The same computed with ATen ops (the reference the kernel is tested and benchmarked against).
at::Tensor causal_softmax_reference(const at::Tensor& scores, double scale, int64_t past,
                                    const at::Tensor& key_ok = {});

}  // namespace den2moe::kernels
