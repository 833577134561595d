#include "model/gemm.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // GradMode: not reached through ATen.h in libtorch 2.x

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef D2M_HAVE_DNNL
#include <c10/core/StorageImpl.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <unordered_map>
#endif

#include "core/error.h"
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

#ifdef D2M_HAVE_DNNL
// ---- Weights pre-packed for oneDNN's matmul primitive (linear_out) ----
// dnnl_sgemm packs the weight panel into its kernel's layout on every call; over a 256-row block of the FFN
// that packing is amortised over few rows (bench_gemm --rows 512, quiet Zen 5: the forward's products
// 1.13x faster with W reordered once). Entries are keyed by the weight's data pointer and checked against its
// storage (a weak reference: a freed weight's entry is never matched by a new tensor at the same address),
// sizes and version counter (ATen's in-place ops bump it: an optimiser step or a LoRA merge re-packs).
struct PackedPrim {
    int64_t M = 0, lda = 0, ldc = 0;
    bool acc = false;
    bool usable = true;  // false: oneDNN refused this shape or chose another weights layout
    dnnl::matmul prim;
    dnnl::memory::desc src, dst, scratch;
};

struct PackedEntry {
    c10::weak_intrusive_ptr<c10::StorageImpl> storage{c10::intrusive_ptr<c10::StorageImpl>()};
    const c10::StorageImpl* storage_id = nullptr;
    int64_t N = 0, K = 0, offset = 0;
    at::ScalarType dtype = at::kFloat;  // the weight's (bf16 weights are packed widened to float32)
    uint32_t version = 0;
    size_t bytes = 0;         // the packed copy's size, counted against the budget
    std::mutex mu;            // guards the fields below
    bool ready = false, failed = false;
    dnnl::memory wmem;        // W in the primitive's layout
    dnnl::memory::desc wdesc;
    std::vector<PackedPrim> prims;  // by (M, lda, ldc, acc), most recent last
};

const dnnl::engine& cpu_engine() {
    static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

int64_t parse_budget_mb() {
    if (const char* v = std::getenv("D2M_PACKED_WEIGHTS_MB"); v && *v) {
        char* end = nullptr;
        const long long mb = std::strtoll(v, &end, 10);
        if (*end != '\0' || mb < 0)
            throw std::invalid_argument(std::string("D2M_PACKED_WEIGHTS_MB='") + v +
                                        "' is not a size (expected a whole number of MiB, 0 = no pre-packed weights; "
                                        "unset it for the default, an eighth of physical memory)");
        return mb;
    }
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return 1024;
    return static_cast<int64_t>(static_cast<double>(pages) * static_cast<double>(page) / 8.0 / (1 << 20));
}

struct PackedCache {
    std::mutex mu;
    std::unordered_map<const void*, std::shared_ptr<PackedEntry>> entries;
    size_t bytes = 0;
    std::atomic<int64_t> budget_mb{-1};  // -1: not read yet
    int64_t budget() {
        int64_t b = budget_mb.load(std::memory_order_relaxed);
        if (b < 0) {
            b = parse_budget_mb();
            budget_mb.store(b);
        }
        return b;
    }
    void sweep_expired() {  // mu held
        for (auto it = entries.begin(); it != entries.end();) {
            if (it->second->storage.expired()) {
                bytes -= it->second->bytes;
                it = entries.erase(it);
            } else {
                ++it;
            }
        }
    }
};

PackedCache& packed_cache() {
    static PackedCache* c = new PackedCache();  // never destroyed: weights may outlive static destruction order
    return *c;
}

dnnl::memory::desc plain_desc(int64_t rows, int64_t cols, int64_t ld) {
    return dnnl::memory::desc({rows, cols}, dnnl::memory::data_type::f32, dnnl::memory::dims{ld, 1});
}

// A primitive for x [M, K] (row stride lda) · W -> out [M, N] (row stride ldc), = or += (a sum post-op);
// its weights layout in *wdesc.
PackedPrim make_prim(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldc, bool acc, dnnl::memory::desc* wdesc) {
    PackedPrim p;
    p.M = M;
    p.lda = lda;
    p.ldc = ldc;
    p.acc = acc;
    p.src = plain_desc(M, K, lda);
    p.dst = plain_desc(M, N, ldc);
    const dnnl::memory::desc w_any({K, N}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
    dnnl::primitive_attr attr;
    // a user scratchpad: the library's own is shared by concurrent executions of one primitive, and the
    // row-parallel forward runs the same weight's product on every thread at once
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (acc) {
        dnnl::post_ops po;
        po.append_sum(1.f);
        attr.set_post_ops(po);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p.src, w_any, p.dst), attr, cpu_engine());
    // only oneDNN's brgemm kernels (AVX-512 and up) read a packed layout; elsewhere the matmul primitive runs
    // the same gemm as dnnl_sgemm, 5 % slower on the 50 M forward (DNNL_MAX_CPU_ISA=AVX2): not worth a copy
    if (std::strncmp(pd.impl_info_str(), "brg", 3) != 0)
        throw dnnl::error(dnnl_unimplemented, "no brgemm matmul for this shape on this CPU");
    p.scratch = pd.scratchpad_desc();
    p.prim = dnnl::matmul(pd);
    *wdesc = pd.weights_desc();
    return p;
}

// Whether oneDNN has brgemm matmul kernels on this CPU (AVX-512 and up), asked once with a 256-cube product
bool packing_supported() {
    static const bool ok = [] {
        try {
            dnnl::memory::desc wd;
            make_prim(256, 256, 256, 256, 256, false, &wd);
            return true;
        } catch (const dnnl::error&) {
            return false;
        }
    }();
    return ok;
}

// The entry for w (packed on first use), or null: over the budget, or oneDNN refused.
std::shared_ptr<PackedEntry> packed_entry(const at::Tensor& w, int64_t M) {
    PackedCache& c = packed_cache();
    const int64_t budget = c.budget();
    if (budget == 0 || !packing_supported()) return nullptr;
    const int64_t N = w.size(0), K = w.size(1);
    const uint32_t version = w._version();
    const c10::StorageImpl* sid = w.storage().unsafeGetStorageImpl();
    std::shared_ptr<PackedEntry> e;
    {
        std::lock_guard<std::mutex> lk(c.mu);
        auto it = c.entries.find(w.data_ptr());
        if (it != c.entries.end()) {
            const PackedEntry& f = *it->second;
            if (!f.storage.expired() && f.storage_id == sid && f.N == N && f.K == K &&
                f.offset == w.storage_offset() && f.dtype == w.scalar_type() && f.version == version)
                e = it->second;
            else {  // a stale version, or a freed weight's address reused
                c.bytes -= f.bytes;
                c.entries.erase(it);
            }
        }
        if (!e) {
            const size_t need = static_cast<size_t>(N * K) * sizeof(float);
            c.sweep_expired();  // freed weights' copies go when the next weight is packed
            if (static_cast<int64_t>((c.bytes + need) >> 20) > budget) return nullptr;
            e = std::make_shared<PackedEntry>();
            e->storage = w.storage().getWeakStorageImpl();
            e->storage_id = sid;
            e->N = N;
            e->K = K;
            e->offset = w.storage_offset();
            e->dtype = w.scalar_type();
            e->version = version;
            e->bytes = need;
            c.entries.emplace(w.data_ptr(), e);
            c.bytes += need;
        }
    }
    std::lock_guard<std::mutex> lk(e->mu);
    if (e->failed) return nullptr;
    if (!e->ready) {
        try {
            dnnl::memory::desc wd;
            // the layout comes from this row count on dense operands; the call's own shape (strides, +=) is
            // made by packed_prim, which refuses it where its layout differs (then dnnl_sgemm takes the call)
            e->prims.push_back(make_prim(M, N, K, K, N, false, &wd));
            e->wdesc = wd;
            e->wmem = dnnl::memory(wd, cpu_engine());
            // W [N, K] row-major is Wᵀ [K, N] with strides (1, K)
            const dnnl::memory::desc w_plain({K, N},
                                             w.scalar_type() == at::kBFloat16 ? dnnl::memory::data_type::bf16
                                                                              : dnnl::memory::data_type::f32,
                                             dnnl::memory::dims{1, K});
            dnnl::memory wsrc(w_plain, cpu_engine(), const_cast<void*>(w.data_ptr()));
            dnnl::stream s(cpu_engine());
            dnnl::reorder(wsrc, e->wmem).execute(s, wsrc, e->wmem);
            s.wait();
            e->ready = true;
        } catch (const dnnl::error&) {
            e->failed = true;  // stays in the map, uncounted: this weight takes dnnl_sgemm from now on
            e->prims.clear();
            e->wmem = dnnl::memory();
            std::lock_guard<std::mutex> lc(c.mu);
            c.bytes -= e->bytes;
            e->bytes = 0;
            return nullptr;
        }
    }
    return e;
}

// The primitive for this call's shape (made on first use; null where its weights layout is not the packed one)
bool packed_prim(PackedEntry& e, int64_t M, int64_t lda, int64_t ldc, bool acc, PackedPrim& out) {
    std::lock_guard<std::mutex> lk(e.mu);
    for (auto it = e.prims.rbegin(); it != e.prims.rend(); ++it)
        if (it->M == M && it->lda == lda && it->ldc == ldc && it->acc == acc) {
            out = *it;
            return out.usable;
        }
    PackedPrim p;
    try {
        dnnl::memory::desc wd;
        p = make_prim(M, e.N, e.K, lda, ldc, acc, &wd);
        p.usable = wd == e.wdesc;  // remembered either way: a refused shape is not made again
    } catch (const dnnl::error&) {
        p = PackedPrim{};
        p.M = M;
        p.lda = lda;
        p.ldc = ldc;
        p.acc = acc;
        p.usable = false;
    }
    constexpr size_t kMaxPrims = 96;  // row counts bucketed (packed_linear): a few dozen per weight at most
    if (e.prims.size() >= kMaxPrims) e.prims.erase(e.prims.begin());
    e.prims.push_back(p);
    out = p;
    return out.usable;
}

void run_prim(const PackedPrim& p, const dnnl::memory& w, const void* x, void* y) {
    thread_local std::vector<char> scratch;
    const size_t sb = p.scratch.get_size();
    if (scratch.size() < sb) scratch.resize(sb);
    thread_local dnnl::stream s(cpu_engine());
    dnnl::memory xm(p.src, cpu_engine(), const_cast<void*>(x));
    dnnl::memory ym(p.dst, cpu_engine(), y);
    dnnl::memory sm(p.scratch, cpu_engine(), scratch.data());
    p.prim.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, ym}, {DNNL_ARG_SCRATCHPAD, sm}});
    s.wait();
}

// out (=, or += with acc) x · wᵀ on w's packed copy; false (nothing written) where that path does not apply
bool packed_linear(at::Tensor& out, const at::Tensor& x, const at::Tensor& w, bool acc) {
    if (fp32_library() != Fp32Library::OneDnn) return false;
    // w float32, or bf16 on the widened path (its packed copy is float32: widened once, not on every call)
    if (x.scalar_type() != at::kFloat || out.scalar_type() != at::kFloat ||
        (w.scalar_type() != at::kFloat && w.scalar_type() != at::kBFloat16))
        return false;
    if (!x.is_cpu() || !w.is_cpu() || !out.is_cpu() || x.dim() != 2 || w.dim() != 2 || out.dim() != 2) return false;
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    if (M < kPackedMinRows || K == 0 || N == 0 || w.size(1) != K || out.size(0) != M || out.size(1) != N) return false;
    if (!w.is_contiguous() || x.stride(1) != 1 || out.stride(1) != 1 || x.stride(0) < K || out.stride(0) < N) return false;
    if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || out.requires_grad())) return false;
    const int64_t lda = x.stride(0), ldc = out.stride(0);
    // A primitive is made (its kernels generated, ~0.1-0.3 ms) per row count. MoE experts get a different
    // count on most batches, so rows run as a multiple of kRowQuantum plus a tail of fewer: a few dozen
    // shapes per weight in all instead of one per batch. The dense forward's 256-row blocks take one call.
    constexpr int64_t kRowQuantum = 32;
    const int64_t tail = M >= 2 * kRowQuantum ? M % kRowQuantum : 0;
    const int64_t main = M - tail;
    std::shared_ptr<PackedEntry> e = packed_entry(w, main);
    if (!e) return false;
    PackedPrim pm, pt;
    if (!packed_prim(*e, main, lda, ldc, acc, pm)) return false;
    if (tail > 0 && !packed_prim(*e, tail, lda, ldc, acc, pt)) return false;
    run_prim(pm, e->wmem, x.data_ptr(), out.data_ptr());
    if (tail > 0)
        run_prim(pt, e->wmem, x.data_ptr<float>() + main * lda, out.data_ptr<float>() + main * ldc);
    return true;
}
#endif

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
    // ATen's own BLAS: OpenBLAS in Debian's libtorch, MKL in PyPI's wheels (D2M_GEMM=openblas names the ATen path)
    std::string s = l == Fp32Library::OneDnn ? "oneDNN "
                    : at::hasMKL()           ? "MKL through libtorch "
                                             : "OpenBLAS through libtorch ";
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

void linear_out(at::Tensor& out, const at::Tensor& x, const at::Tensor& w, bool accumulate) {
#ifdef D2M_HAVE_DNNL
    if (!widen(x)) {
        if (packed_linear(out, x, w, accumulate)) return;
    } else if (w.scalar_type() == at::kBFloat16 && out.scalar_type() == at::kBFloat16 && x.dim() == 2 && w.dim() == 2 &&
               out.dim() == 2 && x.size(0) >= kPackedMinRows) {
        // the widened bf16 product (float32 operands, rounded once) on the weight's float32 packed copy
        at::Tensor x32 = x.to(at::kFloat), p = at::empty({x.size(0), w.size(0)}, x32.options());
        if (packed_linear(p, x32, w, false)) {
            if (accumulate)
                out.add_(p);
            else
                out.copy_(p);
            return;
        }
    }
#endif
    if (accumulate)
        gemm::addmm_(out, x, w.t());
    else
        gemm::mm_out(out, x, w.t());
}

void check_environment() {
    try {
        fp32_library();
        packed_weights_description();
    } catch (const std::invalid_argument& e) {
        throw Error(ErrorKind::InvalidInput, e.what());
    }
}

PackedWeightsStats packed_weights_stats() {
    PackedWeightsStats st;
#ifdef D2M_HAVE_DNNL
    PackedCache& c = packed_cache();
    st.budget_mib = c.budget();
    st.supported = packing_supported();
    std::lock_guard<std::mutex> lk(c.mu);
    for (const auto& [k, e] : c.entries)
        if (!e->storage.expired() && e->bytes > 0) {
            ++st.weights;
            st.bytes += static_cast<int64_t>(e->bytes);
        }
#endif
    return st;
}

void set_packed_weights_budget_mib(int64_t mib) {
#ifdef D2M_HAVE_DNNL
    PackedCache& c = packed_cache();
    std::lock_guard<std::mutex> lk(c.mu);
    c.budget_mb.store(std::max<int64_t>(0, mib));
    if (mib <= 0) {
        c.entries.clear();
        c.bytes = 0;
    }
#else
    (void)mib;
#endif
}

std::string packed_weights_description() {
#ifdef D2M_HAVE_DNNL
    const int64_t b = packed_cache().budget();
    if (b == 0) return "off (D2M_PACKED_WEIGHTS_MB=0)";
    if (!packing_supported())
        return "off (oneDNN has no brgemm matmul kernels on this CPU: they need AVX-512; dnnl_sgemm runs the products)";
    return "float32 inference weights reordered once for oneDNN's matmul, up to " + std::to_string(b) +
           " MiB (D2M_PACKED_WEIGHTS_MB; 0 = off)";
#else
    return "off (this build has no oneDNN)";
#endif
}

}  // namespace den2moe::gemm
