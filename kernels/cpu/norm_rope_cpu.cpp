// CPU kernels of norm_rope.h. Rows are split over torch's intra-op threads (a parallel_for per
// call); the row loops are plain float loops the compiler vectorises, built in AVX-512, AVX2 and baseline
// clones picked at load time (clones.h).
#include "norm_rope.h"

#include "bf16_bits.h"
#include "clones.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace den2moe::kernels {

namespace {

using detail::bf16_to_float;
using detail::float_to_bf16;

template <typename T>
inline float load(const T* p, int64_t j) {
    if constexpr (std::is_same_v<T, float>) return p[j];
    else return bf16_to_float(p[j]);
}

template <typename T>
inline void store(T* p, int64_t j, float v) {
    if constexpr (std::is_same_v<T, float>) p[j] = v;
    else p[j] = float_to_bf16(v);
}

void check_cpu_dtype(const at::Tensor& t, const char* what) {
    if (!t.device().is_cpu() || !t.is_contiguous() ||
        (t.scalar_type() != at::kFloat && t.scalar_type() != at::kBFloat16)) {
        throw std::invalid_argument(std::string(what) + ": expected a contiguous CPU float32 or bfloat16 tensor");
    }
}

// One row: out = x / sqrt(mean(x²) + eps) · w; xf: scratch of D floats
template <typename T>
__attribute__((always_inline)) inline void rms_row(const T* xr, T* o, const float* w, float* xf, int64_t D, float eps) {
    for (int64_t j = 0; j < D; ++j) xf[j] = load(xr, j);
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < D; ++j) ss += xf[j] * xf[j];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    for (int64_t j = 0; j < D; ++j) store(o, j, xf[j] * inv * w[j]);
}
D2M_CLONES void rms_row_f32(const float* xr, float* o, const float* w, float* xf, int64_t D, float eps) {
    rms_row(xr, o, w, xf, D, eps);
}
D2M_CLONES void rms_row_bf16(const uint16_t* xr, uint16_t* o, const float* w, float* xf, int64_t D, float eps) {
    rms_row(xr, o, w, xf, D, eps);
}

template <typename T>
void rms_rows(const T* x, T* out, const float* w, int64_t rows, int64_t D, float eps) {
    at::parallel_for(0, rows, 64, [&](int64_t r0, int64_t r1) {
        std::vector<float> buf(static_cast<size_t>(D));
        for (int64_t r = r0; r < r1; ++r) {
            if constexpr (std::is_same_v<T, float>) rms_row_f32(x + r * D, out + r * D, w, buf.data(), D, eps);
            else rms_row_bf16(x + r * D, out + r * D, w, buf.data(), D, eps);
        }
    });
}

// One token's n_rot heads of Dh rotated in place: c, s the token's Dh/2 cosines and sines
template <typename T>
__attribute__((always_inline)) inline void rope_row(T* row, int64_t n_rot, int64_t Dh, const float* c, const float* s,
                                                    bool interleaved) {
    const int64_t half = Dh / 2;
    for (int64_t h = 0; h < n_rot; ++h) {
        T* x = row + h * Dh;
        if (interleaved) {
            for (int64_t j = 0; j < half; ++j) {
                const float x0 = load(x, 2 * j), x1 = load(x, 2 * j + 1);
                store(x, 2 * j, x0 * c[j] - x1 * s[j]);
                store(x, 2 * j + 1, x1 * c[j] + x0 * s[j]);
            }
        } else {
            T* y = x + half;
            for (int64_t j = 0; j < half; ++j) {
                const float x0 = load(x, j), x1 = load(y, j);
                store(x, j, x0 * c[j] - x1 * s[j]);
                store(y, j, x1 * c[j] + x0 * s[j]);
            }
        }
    }
}
D2M_CLONES void rope_row_f32(float* row, int64_t n_rot, int64_t Dh, const float* c, const float* s, bool interleaved) {
    rope_row(row, n_rot, Dh, c, s, interleaved);
}
D2M_CLONES void rope_row_bf16(uint16_t* row, int64_t n_rot, int64_t Dh, const float* c, const float* s,
                              bool interleaved) {
    rope_row(row, n_rot, Dh, c, s, interleaved);
}

template <typename T>
void rope_rows(T* data, int64_t rows, int64_t C, int64_t n_rot, int64_t Dh, const float* cs, const float* sn,
               bool interleaved) {
    const int64_t half = Dh / 2;
    at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            if constexpr (std::is_same_v<T, float>) rope_row_f32(data + r * C, n_rot, Dh, cs + r * half, sn + r * half, interleaved);
            else rope_row_bf16(data + r * C, n_rot, Dh, cs + r * half, sn + r * half, interleaved);
        }
    });
}

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
    check_cpu_dtype(x, "rms_norm");
    const int64_t D = x.size(-1);
    if (w.numel() != D) throw std::invalid_argument("rms_norm: weight must have the last dimension's size");
    at::Tensor wf = w.to(at::kFloat).contiguous();
    at::Tensor out = at::empty_like(x);
    const int64_t rows = x.numel() / D;
    if (x.scalar_type() == at::kFloat) {
        rms_rows(x.data_ptr<float>(), out.data_ptr<float>(), wf.data_ptr<float>(), rows, D, static_cast<float>(eps));
    } else {
        rms_rows(reinterpret_cast<const uint16_t*>(x.data_ptr()), reinterpret_cast<uint16_t*>(out.data_ptr()),
                 wf.data_ptr<float>(), rows, D, static_cast<float>(eps));
    }
    return out;
}

at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& w, double eps) {
    at::Tensor xf = x.to(at::kFloat);
    at::Tensor r = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true).add_(eps));
    return (xf * r).mul_(w.to(at::kFloat)).to(x.scalar_type());
}

void rope_(at::Tensor& qkv, int64_t n_rot, int64_t head_dim, const at::Tensor& cos, const at::Tensor& sin,
           bool interleaved) {
    check_cpu_dtype(qkv, "rope_");
    if (qkv.dim() != 3 || head_dim % 2 != 0 || n_rot * head_dim > qkv.size(2)) {
        throw std::invalid_argument("rope_: qkv must be [B, T, C] with n_rot * head_dim <= C, head_dim even");
    }
    const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2), half = head_dim / 2;
    for (const at::Tensor* a : {&cos, &sin}) {
        if (a->scalar_type() != at::kFloat || !a->is_contiguous() || a->numel() != B * T * half) {
            throw std::invalid_argument("rope_: cos/sin must be contiguous float32 [B, T, 1, head_dim/2]");
        }
    }
    if (qkv.scalar_type() == at::kFloat) {
        rope_rows(qkv.data_ptr<float>(), B * T, C, n_rot, head_dim, cos.data_ptr<float>(), sin.data_ptr<float>(),
                  interleaved);
    } else {
        rope_rows(reinterpret_cast<uint16_t*>(qkv.data_ptr()), B * T, C, n_rot, head_dim, cos.data_ptr<float>(),
                  sin.data_ptr<float>(), interleaved);
    }
}

at::Tensor rope_reference(const at::Tensor& qkv, int64_t n_rot, int64_t head_dim, const at::Tensor& cos,
                          const at::Tensor& sin, bool interleaved) {
    const int64_t B = qkv.size(0), T = qkv.size(1), half = head_dim / 2;
    at::Tensor out = qkv.clone();
    at::Tensor x = qkv.narrow(-1, 0, n_rot * head_dim).view({B, T, n_rot, head_dim}).to(at::kFloat);
    at::Tensor rot;
    if (!interleaved) {
        at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
        rot = at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
    } else {
        at::Tensor xp = x.unflatten(-1, {half, 2});
        at::Tensor x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
        rot = at::stack({x0 * cos - x1 * sin, x0 * sin + x1 * cos}, -1).flatten(-2);
    }
    out.narrow(-1, 0, n_rot * head_dim).copy_(rot.reshape({B, T, n_rot * head_dim}));
    return out;
}

}  // namespace den2moe::kernels
