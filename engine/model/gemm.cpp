#include "model/gemm.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef D2M_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "core/runtime.h"

namespace den2moe::gemm {

namespace {
struct Fp32Choice {
    Fp32Library lib;
    std::string why;
};

Fp32Choice default_fp32_library() {
    if (const char* v = std::getenv("D2M_GEMM"); v && *v) {
        const std::string s(v);
        if (s == "openblas") return {Fp32Library::OpenBlas, "set by D2M_GEMM"};
        if (s == "onednn") {
            if (!onednn_available())
                throw std::invalid_argument(
                    "D2M_GEMM=onednn: this den2moe was built without oneDNN (expected D2M_GEMM=openblas or unset; "
                    "hint: apt install libdnnl-dev and re-run cmake)");
            return {Fp32Library::OneDnn, "set by D2M_GEMM"};
        }
        throw std::invalid_argument("D2M_GEMM='" + s +
                                    "' is not a GEMM library (expected 'openblas' or 'onednn'; unset it for the default)");
    }
    if (onednn_available())
        return {Fp32Library::OneDnn,
                "the default where built in: faster than OpenBLAS 0.3.21 on the engine's shapes, bench_gemm "
                "in docs/benchmarks.md; D2M_GEMM=openblas to compare"};
    return {Fp32Library::OpenBlas, "this build has no oneDNN (libdnnl-dev not found at configure time)"};
}

const Fp32Choice& fp32_default() {
    static const Fp32Choice c = default_fp32_library();  // a throw leaves it unset: retried on the next call
    return c;
}

std::atomic<int>& fp32_slot() {
    static std::atomic<int> l{static_cast<int>(fp32_default().lib)};
    return l;
}
std::atomic<bool> g_fp32_set_by_call{false};

#ifdef D2M_HAVE_DNNL
// A 2-D float32 operand as dnnl_sgemm (row-major) reads it: 'N' with its row stride, or 'T' (a transposed
// view, e.g. the engine's w.t()) with its column stride. false: another layout (expanded, strided).
bool dnnl_layout(const at::Tensor& t, char& trans, int64_t& ld) {
    // a size-1 dimension's stride is arbitrary in ATen (it is never stepped): any ld >= the row length serves
    const int64_t r = t.size(0), c = t.size(1);
    if (t.stride(1) == 1 && (r == 1 || t.stride(0) >= std::max<int64_t>(1, c))) {
        trans = 'N';
        ld = r == 1 ? std::max<int64_t>(1, c) : t.stride(0);
        return true;
    }
    if (t.stride(0) == 1 && (c == 1 || t.stride(1) >= std::max<int64_t>(1, r))) {
        trans = 'T';
        ld = c == 1 ? std::max<int64_t>(1, r) : t.stride(1);
        return true;
    }
    return false;
}
#endif

// Whether a·b (2-D, float32) goes to oneDNN: the library chosen, CPU float32 operands of matching inner
// size, and no autograd to record (ATen's ops carry the gradient; dnnl_sgemm does not).
bool on_dnnl(const at::Tensor& a, const at::Tensor& b) {
#ifdef D2M_HAVE_DNNL
    if (fp32_library() != Fp32Library::OneDnn) return false;
    if (a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat || !a.is_cpu() || !b.is_cpu()) return false;
    if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0)) return false;  // ATen raises the shape error
    return !(at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad()));
#else
    (void)a;
    (void)b;
    return false;
#endif
}

// out [M, N] = beta·out + a·b on dnnl_sgemm (on_dnnl(a, b) holds). out: float32 [M, N]; any layout.
void dnnl_gemm(at::Tensor& out, const at::Tensor& a_in, const at::Tensor& b_in, float beta) {
#ifdef D2M_HAVE_DNNL
    at::Tensor a = a_in, b = b_in;
    char ta = 'N', tb = 'N';
    int64_t lda = 0, ldb = 0;
    if (!dnnl_layout(a, ta, lda)) {
        a = a.contiguous();
        ta = 'N';
        lda = std::max<int64_t>(1, a.size(1));
    }
    if (!dnnl_layout(b, tb, ldb)) {
        b = b.contiguous();
        tb = 'N';
        ldb = std::max<int64_t>(1, b.size(1));
    }
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    if (M == 0 || N == 0) return;
    char tc = 'N';
    int64_t ldc = 0;
    const bool direct = dnnl_layout(out, tc, ldc) && tc == 'N';
    at::Tensor c = out;
    if (!direct) {  // a fresh row-major buffer (never a view of out: contiguous() may return out itself)
        c = at::empty({M, N}, out.options());
        if (beta != 0.f) c.copy_(out);
        ldc = std::max<int64_t>(1, N);
    }
    if (K == 0) {
        if (beta == 0.f) c.zero_();
    } else {
        const dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, 1.f, a.data_ptr<float>(), lda, b.data_ptr<float>(), ldb,
                                            beta, c.data_ptr<float>(), ldc);
        if (st != dnnl_success)
            throw std::runtime_error("dnnl_sgemm failed on a [" + std::to_string(M) + ", " + std::to_string(K) +
                                     "] x [" + std::to_string(K) + ", " + std::to_string(N) + "] float32 product: status " +
                                     std::to_string(static_cast<int>(st)) + " (expected success; hint: D2M_GEMM=openblas)");
    }
    if (!direct) out.copy_(c);
#else
    (void)out;
    (void)a_in;
    (void)b_in;
    (void)beta;
    throw std::logic_error("dnnl_gemm called in a build without oneDNN");
#endif
}

// The float32 products, on the library chosen.
at::Tensor fmm(const at::Tensor& a, const at::Tensor& b) {
    if (!on_dnnl(a, b)) return at::mm(a, b);
    at::Tensor out = at::empty({a.size(0), b.size(1)}, a.options());
    dnnl_gemm(out, a, b, 0.f);
    return out;
}

at::Tensor flinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
    if (fp32_library() != Fp32Library::OneDnn || x.dim() < 1 || w.dim() != 2 || x.size(-1) != w.size(1) ||
        x.size(-1) == 0)
        return at::linear(x, w, bias);
    const at::Tensor x2 = x.reshape({-1, x.size(-1)});  // a view for the engine's contiguous activations
    if (!on_dnnl(x2, w.t()) ||
        (bias.defined() && (bias.scalar_type() != at::kFloat || bias.dim() != 1 || bias.size(0) != w.size(0) ||
                            (at::GradMode::is_enabled() && bias.requires_grad()))))
        return at::linear(x, w, bias);
    // a fresh buffer: bias.expand({1, N}).contiguous() would be bias itself, and beta = 1 would add into it
    at::Tensor out = at::empty({x2.size(0), w.size(0)}, x.options());
    if (bias.defined()) out.copy_(bias.expand({x2.size(0), w.size(0)}));
    dnnl_gemm(out, x2, w.t(), bias.defined() ? 1.f : 0.f);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = w.size(0);
    return out.view(shape);
}

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

bool onednn_available() {
#ifdef D2M_HAVE_DNNL
    return true;
#else
    return false;
#endif
}

Fp32Library fp32_library() { return static_cast<Fp32Library>(fp32_slot().load(std::memory_order_relaxed)); }

void set_fp32_library(Fp32Library l) {
    if (l == Fp32Library::OneDnn && !onednn_available())
        throw std::invalid_argument("set_fp32_library(onednn): this den2moe was built without oneDNN (expected openblas)");
    fp32_slot().store(static_cast<int>(l));
    g_fp32_set_by_call = true;
}

const char* fp32_library_name(Fp32Library l) { return l == Fp32Library::OneDnn ? "onednn" : "openblas"; }

std::string fp32_library_description() {
    const Fp32Library l = fp32_library();
    std::string s = l == Fp32Library::OneDnn ? "oneDNN " : "OpenBLAS through libtorch ";
#ifdef D2M_HAVE_DNNL
    if (l == Fp32Library::OneDnn) {
        const dnnl_version_t* v = dnnl_version();
        s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
            " dnnl_sgemm ";
    }
#endif
    return s + "(" + (g_fp32_set_by_call ? std::string("set by the program") : fp32_default().why) + ")";
}

Bf16Mode bf16_mode() { return static_cast<Bf16Mode>(mode_slot().load(std::memory_order_relaxed)); }
void set_bf16_mode(Bf16Mode m) { mode_slot().store(static_cast<int>(m)); }
const char* bf16_mode_name(Bf16Mode m) { return m == Bf16Mode::Native ? "native" : "float32"; }

at::Tensor mm(const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) return fmm(a, b);
    return fmm(f32(a), f32(b)).to(at::kBFloat16);
}

namespace {
bool out_fits(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
    return out.scalar_type() == at::kFloat && out.dim() == 2 && out.size(0) == a.size(0) && out.size(1) == b.size(1) &&
           !(at::GradMode::is_enabled() && out.requires_grad());
}
}  // namespace

void mm_out(at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) {
        if (on_dnnl(a, b) && out_fits(out, a, b))
            dnnl_gemm(out, a, b, 0.f);
        else
            at::mm_out(out, a, b);
        return;
    }
    out.copy_(fmm(f32(a), f32(b)));
}

void addmm_(at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) {
        if (on_dnnl(a, b) && out_fits(out, a, b))
            dnnl_gemm(out, a, b, 1.f);
        else
            out.addmm_(a, b);
        return;
    }
    out.add_(fmm(f32(a), f32(b)));
}

at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) {
    if (!widen(a)) return at::matmul(a, b);
    return at::matmul(f32(a), f32(b)).to(at::kBFloat16);
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
    if (!widen(x)) return flinear(x, w, bias);
    return flinear(f32(x), f32(w), f32(bias)).to(at::kBFloat16);
}

}  // namespace den2moe::gemm
