// AdamW, the LR schedules and gradient clipping: see train/optim.h.
#include "train/optim.h"

#include <ATen/ATen.h>

#include <cmath>

namespace den2moe {

void adamw_update(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, int64_t t, double lr,
                  const AdamWConfig& c) {
    // torch/optim/adamw.py _single_tensor_adamw (1.13), non-capturable, no amsgrad, op for op
    p.mul_(1.0 - lr * c.weight_decay);
    m.mul_(c.beta1).add_(g, 1.0 - c.beta1);
    v.mul_(c.beta2).addcmul_(g, g, 1.0 - c.beta2);
    const double bias_correction1 = 1.0 - std::pow(c.beta1, static_cast<double>(t));
    const double bias_correction2 = 1.0 - std::pow(c.beta2, static_cast<double>(t));
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    at::Tensor denom = (v.sqrt() / bias_correction2_sqrt).add_(c.eps);
    p.addcdiv_(m, denom, -step_size);
}

int64_t LrSchedule::warmup_steps() const {
    if (kind != "cosine") return 0;
    return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

double LrSchedule::at(int64_t s) const {
    if (kind != "cosine") return lr;
    // transformers.optimization._get_cosine_schedule_with_warmup_lr_lambda with min_lr_rate (num_cycles 0.5)
    const int64_t W = warmup_steps();
    if (s < W) return lr * static_cast<double>(s) / static_cast<double>(std::max<int64_t>(1, W));
    const double progress =
        static_cast<double>(s - W) / static_cast<double>(std::max<int64_t>(1, total_steps - W));
    double factor = 0.5 * (1.0 + std::cos(M_PI * 2.0 * 0.5 * progress));
    factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio;
    return lr * std::max(0.0, factor);
}

double clip_grad_norm(const std::vector<at::Tensor>& grads, double max_norm) {
    if (grads.empty()) return 0.0;
    // torch.nn.utils.clip_grad_norm_ (1.13): per-tensor 2-norms, the norm of their stack
    std::vector<at::Tensor> norms;
    for (const auto& g : grads) norms.push_back(at::norm(g, 2));
    at::Tensor total = at::norm(at::stack(norms), 2);
    const double total_d = total.item<double>();
    if (max_norm > 0) {
        at::Tensor coef = (total + 1e-6).reciprocal() * max_norm;  // max_norm / (total + 1e-6), as Tensor.__rdiv__
        at::Tensor clamped = at::clamp(coef, c10::nullopt, 1.0);
        for (const auto& g : grads) const_cast<at::Tensor&>(g).mul_(clamped);
    }
    return total_d;
}

}  // namespace den2moe
