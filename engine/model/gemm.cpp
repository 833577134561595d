#include "model/gemm.h"

#include <ATen/ATen.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/runtime.h"

namespace den2moe::gemm {

namespace {
Bf16Mode default_mode() {
    if (const char* v = std::getenv("D2M_BF16_GEMM")) {
        if (std::strcmp(v, "native") == 0) return Bf16Mode::Native;
        if (std::strcmp(v, "float32") == 0) return Bf16Mode::Float32;
    }
    return cpu_bf16_matmul_is_fast() ? Bf16Mode::Native : Bf16Mode::Float32;
}

std::atomic<int>& mode_slot() {
    static std::atomic<int> m{static_cast<int>(default_mode())};
    return m;
}

bool widen(const at::Tensor& a) {
    return a.scalar_type() == at::kBFloat16 && a.is_cpu() && bf16_mode() == Bf16Mode::Float32;
}

at::Tensor f32(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; }
}  // namespace

Bf16Mode bf16_mode() { return static_cast<Bf16Mode>(mode_slot().load(std::memory_order_relaxed)); }
void set_bf16_mode(Bf16Mode m) { mode_slot().store(static_cast<int>(m)); }
const char* bf16_mode_name(Bf16Mode m) { return m == Bf16Mode::Native ? "native" : "float32"; }

at::Tensor mm(const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) return at::mm(a, b);
    return at::mm(f32(a), f32(b)).to(at::kBFloat16);
}

void mm_out(at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) {
        at::mm_out(out, a, b);
        return;
    }
    out.copy_(at::mm(f32(a), f32(b)));
}

void addmm_(at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) {
        out.addmm_(a, b);
        return;
    }
    out.add_(at::mm(f32(a), f32(b)));
}

at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) return at::matmul(a, b);
    return at::matmul(f32(a), f32(b)).to(at::kBFloat16);
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
    if (!widen(x)) return at::linear(x, w, bias);
    return at::linear(f32(x), f32(w), f32(bias)).to(at::kBFloat16);
}

}  // namespace den2moe::gemm
