// CPU kernel of router.h. Per token, experts go in groups of up to eight: one vector accumulator per
// expert, the token's chunk of 16 (AVX-512) or 8 (AVX2) channels loaded once and multiplied into all
// of them, a horizontal sum per expert at the end, the channels past the last full chunk in scalar
// code. The vector paths are compiled for their ISA with target attributes (the rest of the build
// stays x86-64 baseline) and picked at run time.
#include "router.h"

#include "bf16_bits.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define D2M_ROUTER_X86 1
#include <immintrin.h>
#endif

namespace den2moe::kernels {

namespace {

using detail::bf16_to_float;

inline float ld(const float* p, int64_t j) { return p[j]; }
inline float ld(const uint16_t* p, int64_t j) { return bf16_to_float(p[j]); }

// the channels [d0, D) of one token against NE expert rows, added to s[]
template <int NE, typename T>
inline void tail(const T* xr, const float* w, int64_t D, int64_t d0, float* s) {
    for (int64_t d = d0; d < D; ++d) {
        const float xv = ld(xr, d);
        for (int j = 0; j < NE; ++j) s[j] += xv * w[j * D + d];
    }
}

template <int NE, int R, typename T>
void block_scalar(const T* xr, const float* w, float* o, int64_t D, int64_t E) {
    for (int r = 0; r < R; ++r) {
        float s[NE] = {};
        tail<NE>(xr + r * D, w, D, 0, s);
        for (int j = 0; j < NE; ++j) o[r * E + j] = s[j];
    }
}

#ifdef D2M_ROUTER_X86
__attribute__((target("avx512f"))) inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) inline __m512 load16(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <int NE, int R, typename T>
__attribute__((target("avx512f"))) void block_avx512(const T* xr, const float* w, float* o, int64_t D, int64_t E) {
    __m512 acc[R][NE];
    for (int r = 0; r < R; ++r)
        for (int j = 0; j < NE; ++j) acc[r][j] = _mm512_setzero_ps();
    int64_t d = 0;
    for (; d + 16 <= D; d += 16) {
        __m512 xv[R];
        for (int r = 0; r < R; ++r) xv[r] = load16(xr + r * D + d);
        for (int j = 0; j < NE; ++j) {
            const __m512 wv = _mm512_loadu_ps(w + j * D + d);
            for (int r = 0; r < R; ++r) acc[r][j] = _mm512_fmadd_ps(xv[r], wv, acc[r][j]);
        }
    }
    for (int r = 0; r < R; ++r) {
        float s[NE];
        for (int j = 0; j < NE; ++j) s[j] = _mm512_reduce_add_ps(acc[r][j]);
        tail<NE>(xr + r * D, w, D, d, s);
        for (int j = 0; j < NE; ++j) o[r * E + j] = s[j];
    }
}

__attribute__((target("avx2,fma"))) inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma"))) inline __m256 load8(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx2,fma"))) inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

template <int NE, int R, typename T>
__attribute__((target("avx2,fma"))) void block_avx2(const T* xr, const float* w, float* o, int64_t D, int64_t E) {
    __m256 acc[R][NE];
    for (int r = 0; r < R; ++r)
        for (int j = 0; j < NE; ++j) acc[r][j] = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 8 <= D; d += 8) {
        __m256 xv[R];
        for (int r = 0; r < R; ++r) xv[r] = load8(xr + r * D + d);
        for (int j = 0; j < NE; ++j) {
            const __m256 wv = _mm256_loadu_ps(w + j * D + d);
            for (int r = 0; r < R; ++r) acc[r][j] = _mm256_fmadd_ps(xv[r], wv, acc[r][j]);
        }
    }
    for (int r = 0; r < R; ++r) {
        float s[NE];
        for (int j = 0; j < NE; ++j) s[j] = hsum8(acc[r][j]);
        tail<NE>(xr + r * D, w, D, d, s);
        for (int j = 0; j < NE; ++j) o[r * E + j] = s[j];
    }
}
#endif

enum class Isa { Scalar, Avx2, Avx512 };

bool cpu_supports(Isa isa) {
#ifdef D2M_ROUTER_X86
    if (isa == Isa::Avx512) return __builtin_cpu_supports("avx512f");
    if (isa == Isa::Avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return isa == Isa::Scalar;
}

Isa best_isa() {
    static const Isa best = cpu_supports(Isa::Avx512) ? Isa::Avx512 : cpu_supports(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
    return best;
}

// one block: R tokens (rows x + r·D) against NE expert rows, into out + r·E
template <typename T>
using BlockFn = void (*)(const T*, const float*, float*, int64_t, int64_t);

template <typename T, int NE, int R>
BlockFn<T> pick(Isa isa) {
#ifdef D2M_ROUTER_X86
    if (isa == Isa::Avx512) return &block_avx512<NE, R, T>;
    if (isa == Isa::Avx2) return &block_avx2<NE, R, T>;
#endif
    (void)isa;
    return &block_scalar<NE, R, T>;
}

template <typename T, int R>
void pick_all(Isa isa, BlockFn<T>* f) {
    f[0] = pick<T, 1, R>(isa), f[1] = pick<T, 2, R>(isa), f[2] = pick<T, 3, R>(isa), f[3] = pick<T, 4, R>(isa);
    f[4] = pick<T, 5, R>(isa), f[5] = pick<T, 6, R>(isa), f[6] = pick<T, 7, R>(isa), f[7] = pick<T, 8, R>(isa);
}

template <typename T>
void run(const T* x, const float* w, float* out, int64_t N, int64_t D, int64_t E, Isa isa) {
    BlockFn<T> one[8], two[8];  // by the group's expert count; one token or two sharing each weight load
    pick_all<T, 1>(isa, one);
    pick_all<T, 2>(isa, two);
    // blocks of 16 tokens: a group's expert rows stay in L1 across the block (64 experts of 256
    // channels are 64 KB, more than L1; 8 of them are 8 KB)
    constexpr int64_t kRows = 16;
    at::parallel_for(0, N, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t b0 = r0; b0 < r1; b0 += kRows) {
            const int64_t b1 = std::min(r1, b0 + kRows);
            for (int64_t e0 = 0; e0 < E; e0 += 8) {
                const int64_t ne = std::min<int64_t>(8, E - e0);
                int64_t n = b0;
                for (; n + 2 <= b1; n += 2) two[ne - 1](x + n * D, w + e0 * D, out + n * E + e0, D, E);
                if (n < b1) one[ne - 1](x + n * D, w + e0 * D, out + n * E + e0, D, E);
            }
        }
    });
}

Isa parse_isa(const char* isa) {
    if (!isa) return best_isa();
    const std::string s = isa;
    const Isa want = s == "avx512" ? Isa::Avx512 : s == "avx2" ? Isa::Avx2 : s == "scalar" ? Isa::Scalar
                     : throw std::invalid_argument("router_logits: unknown ISA '" + s + "' (avx512, avx2, scalar)");
    if (!cpu_supports(want)) throw std::invalid_argument("router_logits: this CPU has no " + s);
    return want;
}

const char* isa_name(Isa isa) { return isa == Isa::Avx512 ? "avx512" : isa == Isa::Avx2 ? "avx2" : "scalar"; }

}  // namespace

void router_logits(const at::Tensor& x, const at::Tensor& w, at::Tensor& out, const char* isa) {
    const Isa use = parse_isa(isa);
    if (!x.device().is_cpu() || x.dim() != 2 || !x.is_contiguous() ||
        (x.scalar_type() != at::kFloat && x.scalar_type() != at::kBFloat16))
        throw std::invalid_argument("router_logits: x must be a contiguous [N, D] CPU float32 or bfloat16 tensor");
    if (!w.device().is_cpu() || w.dim() != 2 || !w.is_contiguous() || w.scalar_type() != at::kFloat ||
        w.size(1) != x.size(1))
        throw std::invalid_argument("router_logits: w must be a contiguous [E, D] CPU float32 tensor with x's D");
    const int64_t N = x.size(0), D = x.size(1), E = w.size(0);
    if (!out.device().is_cpu() || !out.is_contiguous() || out.scalar_type() != at::kFloat || out.dim() != 2 ||
        out.size(0) != N || out.size(1) != E)
        throw std::invalid_argument("router_logits: out must be a contiguous [N, E] CPU float32 tensor");
    if (N == 0 || E == 0) return;
    const float* wp = w.data_ptr<float>();
    float* op = out.data_ptr<float>();
    if (x.scalar_type() == at::kFloat) {
        run(x.data_ptr<float>(), wp, op, N, D, E, use);
    } else {
        run(reinterpret_cast<const uint16_t*>(x.data_ptr<at::BFloat16>()), wp, op, N, D, E, use);
    }
}

at::Tensor router_logits_reference(const at::Tensor& x, const at::Tensor& w) { return at::mm(x.to(at::kFloat), w.t()); }

const char* router_logits_isa() { return isa_name(best_isa()); }

bool router_logits_supports(const char* isa) {
    const std::string s = isa ? isa : "";
    if (s == "avx512") return cpu_supports(Isa::Avx512);
    if (s == "avx2") return cpu_supports(Isa::Avx2);
    return s == "scalar";
}

}  // namespace den2moe::kernels
