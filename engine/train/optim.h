// The optimizer arithmetic of recovery training, written to match PyTorch 1.13 operation for
// operation (tests/reference/train_oracle.py checks it against torch.optim.AdamW, LambdaLR and
// torch.nn.utils.clip_grad_norm_):
//   AdamW      torch.optim.AdamW's single-tensor path: p *= 1 − lr·wd; m = β1·m + (1−β1)·g;
//              v = β2·v + (1−β2)·g²; p −= lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε); t per tensor
//   schedule   constant, or Hugging Face's cosine with a minimum ratio: linear warm-up over
//              W = ⌈warmup_ratio·S⌉ steps (lr·s/W), then lr·(r + (1−r)·½(1 + cos(π·(s−W)/(S−W))))
//   clipping   clip_grad_norm_: total = ‖(‖g_i‖₂)_i‖₂; every g_i ×= min(1, max_norm/(total + 1e-6))
// Everything in float32 on the tensors' device.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe {

struct AdamWConfig {
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

/// One AdamW update of `p` (float32) with gradient `g` at the tensor's step `t` (1 for the first).
void adamw_update(at::Tensor& p, const at::Tensor& g, at::Tensor& exp_avg, at::Tensor& exp_avg_sq, int64_t t,
                  double lr, const AdamWConfig& c);

struct LrSchedule {
    std::string kind = "constant";  ///< constant | cosine
    double lr = 1e-4;
    double warmup_ratio = 0.0;
    double min_lr_ratio = 0.1;
    int64_t total_steps = 1;
    int64_t warmup_steps() const;
    /// The learning rate of optimizer step `s` (0-based).
    double at(int64_t s) const;
};

/// clip_grad_norm_(grads, max_norm) in place (max_norm <= 0: no scaling); returns the total norm
/// before clipping (float32 arithmetic, as PyTorch computes it).
double clip_grad_norm(const std::vector<at::Tensor>& grads, double max_norm);

}  // namespace den2moe
