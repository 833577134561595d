// CPU kernels of swiglu.h. No threading of their own: the caller (a row block of the dense mixture)
// already runs on one intra-op thread. The row loops are plain float loops the compiler vectorises;
// this file is built with -O3 -ffast-math so expf maps to glibc's libmvec vector exp (inputs are
// finite products of finite weights).
#include "swiglu.h"

#include "clones.h"

#include "bf16_bits.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace den2moe::kernels {

namespace {

D2M_CLONES void forward_row(const float* g, const float* u, float gate, float* a, int64_t F) {
#pragma omp simd
    for (int64_t j = 0; j < F; ++j) {
        const float s = 1.0f / (1.0f + std::exp(-g[j]));
        a[j] = g[j] * s * u[j] * gate;
    }
}

// a = silu(g) ⊙ u, float32 (ATen's silu is x / (1 + exp(-x)) too)
D2M_CLONES void act_row(const float* g, const float* u, float* a, int64_t F) {
#pragma omp simd
    for (int64_t j = 0; j < F; ++j) a[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
}

// bf16 rows through a float scratch of F: silu(g) ⊙ u in float, rounded to bf16 once (ATen's bf16 silu and
// mul_ round after every operation: this is closer to the exact value)
D2M_CLONES void act_row_bf16(const uint16_t* g, const uint16_t* u, uint16_t* a, float* buf, int64_t F) {
    using detail::bf16_to_float;
    using detail::float_to_bf16;
    float* s = buf;
    for (int64_t j = 0; j < F; ++j) s[j] = bf16_to_float(g[j]);
#pragma omp simd
    for (int64_t j = 0; j < F; ++j) s[j] = s[j] / (1.0f + std::exp(-s[j]));
    for (int64_t j = 0; j < F; ++j) a[j] = float_to_bf16(s[j] * bf16_to_float(u[j]));
}

// returns Σ_j da ⊙ silu(g) ⊙ u; writes dg, du unless dg is null
D2M_CLONES float backward_row(const float* g, const float* u, const float* da, float gate, float* dg, float* du,
                              int64_t F) {
    float dsum = 0.0f;
    if (!dg) {
#pragma omp simd reduction(+ : dsum)
        for (int64_t j = 0; j < F; ++j) {
            const float s = 1.0f / (1.0f + std::exp(-g[j]));
            dsum += da[j] * g[j] * s * u[j];
        }
        return dsum;
    }
#pragma omp simd reduction(+ : dsum)
    for (int64_t j = 0; j < F; ++j) {
        const float s = 1.0f / (1.0f + std::exp(-g[j]));
        const float silu = g[j] * s;
        dsum += da[j] * silu * u[j];
        const float dact = da[j] * gate;
        du[j] = dact * silu;
        dg[j] = dact * u[j] * (s + silu * (1.0f - s));
    }
    return dsum;
}

void check(const at::Tensor& t, const char* what, int64_t rows, int64_t cols) {
    if (!t.device().is_cpu() || t.scalar_type() != at::kFloat || t.dim() != 2 || t.stride(1) != 1 ||
        t.size(0) != rows || t.size(1) != cols) {
        throw std::invalid_argument(std::string("swiglu_gated: ") + what + " must be a float32 CPU [" +
                                    std::to_string(rows) + ", " + std::to_string(cols) + "] with unit column stride");
    }
}

}  // namespace

void swiglu_forward(const at::Tensor& gu, at::Tensor& act) {
    const int64_t n = gu.size(0), F = gu.size(1) / 2;
    const auto st = gu.scalar_type();
    const bool ok = gu.dim() == 2 && act.dim() == 2 && gu.device().is_cpu() && act.device().is_cpu() &&
                    (st == at::kFloat || st == at::kBFloat16) && act.scalar_type() == st && gu.size(1) == 2 * F &&
                    act.size(0) == n && act.size(1) == F && gu.stride(1) == 1 && act.stride(1) == 1;
    if (!ok)
        throw std::invalid_argument("swiglu_forward: expected CPU gu [n, 2F] and act [n, F] of one dtype (float32 or "
                                    "bfloat16) with unit column stride, got gu " + gu.toString() + " " +
                                    c10::str(gu.sizes()) + " and act " + act.toString() + " " + c10::str(act.sizes()));
    if (st == at::kFloat) {
        const float* G = gu.data_ptr<float>();
        float* A = act.data_ptr<float>();
        for (int64_t r = 0; r < n; ++r) {
            const float* row = G + r * gu.stride(0);
            act_row(row, row + F, A + r * act.stride(0), F);
        }
        return;
    }
    std::vector<float> buf(static_cast<size_t>(F));
    const uint16_t* G = reinterpret_cast<const uint16_t*>(gu.data_ptr<at::BFloat16>());
    uint16_t* A = reinterpret_cast<uint16_t*>(act.data_ptr<at::BFloat16>());
    for (int64_t r = 0; r < n; ++r) {
        const uint16_t* row = G + r * gu.stride(0);
        act_row_bf16(row, row + F, A + r * act.stride(0), buf.data(), F);
    }
}

at::Tensor swiglu_forward_reference(const at::Tensor& gu) {
    const int64_t F = gu.size(1) / 2;
    return at::silu(gu.narrow(1, 0, F)).mul_(gu.narrow(1, F, F));
}

void swiglu_gated_forward(const at::Tensor& gu, const at::Tensor& gate, at::Tensor& act) {
    const int64_t n = gu.size(0), F = gu.size(1) / 2;
    check(gu, "gu", n, 2 * F);
    check(act, "act", n, F);
    if (!gate.device().is_cpu() || gate.scalar_type() != at::kFloat || gate.numel() != n)
        throw std::invalid_argument("swiglu_gated: gate must be float32 CPU with one value per row");
    const int64_t gs = gate.dim() == 0 ? 0 : gate.stride(0);
    const float* G = gu.data_ptr<float>();
    const float* gp = gate.data_ptr<float>();
    float* A = act.data_ptr<float>();
    for (int64_t r = 0; r < n; ++r) {
        const float* row = G + r * gu.stride(0);
        forward_row(row, row + F, gp[r * gs], A + r * act.stride(0), F);
    }
}

void swiglu_gated_backward(const at::Tensor& gu, const at::Tensor& da, const at::Tensor& gate, at::Tensor& dgu,
                           at::Tensor& dgate) {
    const int64_t n = gu.size(0), F = gu.size(1) / 2;
    check(gu, "gu", n, 2 * F);
    check(da, "da", n, F);
    if (dgu.defined()) check(dgu, "dgu", n, 2 * F);
    if (!gate.device().is_cpu() || gate.scalar_type() != at::kFloat || gate.dim() != 1 || gate.numel() != n)
        throw std::invalid_argument("swiglu_gated: gate must be a float32 CPU [n]");
    if (dgate.defined() && (!dgate.device().is_cpu() || dgate.scalar_type() != at::kFloat || dgate.dim() != 1 ||
                            dgate.numel() != n))
        throw std::invalid_argument("swiglu_gated: dgate must be a float32 CPU [n]");
    const float* G = gu.data_ptr<float>();
    const float* D = da.data_ptr<float>();
    const float* gp = gate.data_ptr<float>();
    float* O = dgu.defined() ? dgu.data_ptr<float>() : nullptr;
    float* dg = dgate.defined() ? dgate.data_ptr<float>() : nullptr;
    for (int64_t r = 0; r < n; ++r) {
        const float* row = G + r * gu.stride(0);
        float* orow = O ? O + r * dgu.stride(0) : nullptr;
        const float s = backward_row(row, row + F, D + r * da.stride(0), gp[r * gate.stride(0)], orow,
                                     orow ? orow + F : nullptr, F);
        if (dg) dg[r * dgate.stride(0)] += s;
    }
}

at::Tensor swiglu_gated_forward_reference(const at::Tensor& gu, const at::Tensor& gate) {
    const int64_t F = gu.size(1) / 2;
    return at::silu(gu.narrow(1, 0, F)) * gu.narrow(1, F, F) * gate.reshape({-1, 1});
}

std::pair<at::Tensor, at::Tensor> swiglu_gated_backward_reference(const at::Tensor& gu, const at::Tensor& da,
                                                                  const at::Tensor& gate) {
    at::Tensor g = gu.narrow(1, 0, gu.size(1) / 2).detach().clone().requires_grad_(true);
    at::Tensor u = gu.narrow(1, gu.size(1) / 2, gu.size(1) / 2).detach().clone().requires_grad_(true);
    at::Tensor w = gate.detach().clone().reshape({-1, 1}).requires_grad_(true);
    at::Tensor a = at::silu(g) * u * w;
    a.backward(da);
    return {at::cat({g.grad(), u.grad()}, 1), w.grad().reshape({-1})};
}

}  // namespace den2moe::kernels
