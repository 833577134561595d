// CPU kernel of causal_softmax_ (see ../causal_softmax.h). Rows (b, h, i) are split over torch's
// intra-op threads; each row is three simple loops over float (max, exp + sum, normalise + store)
// that the compiler vectorises (this file is built with -O3 -ffast-math so expf maps to glibc's
// libmvec vector exp; nothing here depends on infinities or NaN: hidden keys are never read).
#include "causal_softmax.h"

#include "clones.h"

#include "bf16_bits.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace den2moe::kernels {

namespace {

using detail::bf16_to_float;
using detail::float_to_bf16;

// exp((x - mx) * scale) over n floats into e; returns the sum
D2M_CLONES float exp_sum(const float* x, float* e, int64_t n, float mx, float scale) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; ++j) {
        const float v = std::exp((x[j] - mx) * scale);
        e[j] = v;
        s += v;
    }
    return s;
}

D2M_CLONES float max_of(const float* x, int64_t n) {
    float m = x[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 1; j < n; ++j) m = std::max(m, x[j]);
    return m;
}

// One row in place: softmax(scale · row[0, n)) over the visible keys (key_ok: ok[j] for j < n − 1; the
// last, the query's own slot, always visible), zeros in [n, width). xf, e: scratch of n floats.
template <typename T>
void softmax_row(T* row, int64_t n, int64_t width, float scale, const bool* ok, float* xf, float* e) {
    for (int64_t j = 0; j < n; ++j) {
        if constexpr (std::is_same_v<T, float>) xf[j] = row[j];
        else xf[j] = bf16_to_float(row[j]);
    }
    float sum;
    if (!ok) {
        sum = exp_sum(xf, e, n, max_of(xf, n), scale);
    } else {
        float mx = xf[n - 1];  // the query's own slot is always visible
        for (int64_t j = 0; j < n - 1; ++j) {
            if (ok[j]) mx = std::max(mx, xf[j]);
        }
        exp_sum(xf, e, n, mx, scale);
        for (int64_t j = 0; j < n - 1; ++j) {
            if (!ok[j]) e[j] = 0.0f;
        }
        // summed after the zeroing (no cancellation from subtracting the hidden terms)
        sum = 0.0f;
        for (int64_t j = 0; j < n; ++j) sum += e[j];
    }
    const float inv = 1.0f / sum;
    if constexpr (std::is_same_v<T, float>) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) row[j] = e[j] * inv;
        std::fill(row + n, row + width, 0.0f);
    } else {
        for (int64_t j = 0; j < n; ++j) row[j] = float_to_bf16(e[j] * inv);
        std::fill(row + n, row + width, uint16_t{0});
    }
}

template <typename T>
void run(T* data, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t past, float scale, const bool* key_ok) {
    const int64_t rows = B * H * Tq;
    at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
        std::vector<float> buf(static_cast<size_t>(2 * Tk));
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t i = r % Tq, b = r / (H * Tq);
            softmax_row(data + r * Tk, past + i + 1, Tk, scale, key_ok ? key_ok + b * Tk : nullptr, buf.data(),
                        buf.data() + Tk);
        }
    });
}

template <typename T>
void run_block(T* data, int64_t rows, int64_t width, int64_t ld, int64_t q0, float scale, const bool* key_ok) {
    std::vector<float> buf(static_cast<size_t>(2 * width));
    for (int64_t i = 0; i < rows; ++i)
        softmax_row(data + i * ld, q0 + i + 1, width, scale, key_ok, buf.data(), buf.data() + width);
}

}  // namespace

at::Tensor& causal_softmax_(at::Tensor& s, double scale, int64_t past, const at::Tensor& key_ok) {
    if (s.dim() != 4 || !s.is_contiguous() || !s.device().is_cpu()) {
        throw std::invalid_argument("causal_softmax_: expected contiguous CPU scores [B, H, T, Tk]");
    }
    const int64_t B = s.size(0), H = s.size(1), Tq = s.size(2), Tk = s.size(3);
    if (Tk != past + Tq) throw std::invalid_argument("causal_softmax_: Tk must equal past + T");
    at::Tensor ko;
    if (key_ok.defined()) {
        if (key_ok.dim() != 2 || key_ok.size(0) != B || key_ok.size(1) != Tk) {
            throw std::invalid_argument("causal_softmax_: key_ok must be [B, Tk]");
        }
        ko = key_ok.to(at::kBool).contiguous();
    }
    const bool* kp = ko.defined() ? ko.data_ptr<bool>() : nullptr;
    if (s.scalar_type() == at::kFloat) {
        run<float>(s.data_ptr<float>(), B, H, Tq, Tk, past, static_cast<float>(scale), kp);
    } else if (s.scalar_type() == at::kBFloat16) {
        run<uint16_t>(reinterpret_cast<uint16_t*>(s.data_ptr<at::BFloat16>()), B, H, Tq, Tk, past,
                      static_cast<float>(scale), kp);
    } else {
        throw std::invalid_argument("causal_softmax_: scores must be float32 or bfloat16");
    }
    return s;
}

at::Tensor& causal_softmax_block_(at::Tensor& s, double scale, int64_t q0, const at::Tensor& key_ok) {
    if (s.dim() != 2 || !s.device().is_cpu() || s.stride(1) != 1 || (s.size(0) > 1 && s.stride(0) < s.size(1))) {
        throw std::invalid_argument("causal_softmax_block_: expected CPU scores [n, w] with unit column stride");
    }
    const int64_t n = s.size(0), w = s.size(1);
    if (n == 0) return s;
    if (q0 < 0 || q0 + n > w) {
        throw std::invalid_argument("causal_softmax_block_: query slots [" + std::to_string(q0) + ", " +
                                    std::to_string(q0 + n) + ") must lie within the " + std::to_string(w) +
                                    " key columns");
    }
    at::Tensor ko;
    if (key_ok.defined()) {
        if (key_ok.dim() != 1 || key_ok.size(0) < q0 + n) {
            throw std::invalid_argument("causal_softmax_block_: key_ok must be [Tk] with Tk >= q0 + n");
        }
        ko = key_ok.to(at::kBool).contiguous();
    }
    const bool* kp = ko.defined() ? ko.data_ptr<bool>() : nullptr;
    const int64_t ld = n > 1 ? s.stride(0) : w;
    if (s.scalar_type() == at::kFloat) {
        run_block<float>(s.data_ptr<float>(), n, w, ld, q0, static_cast<float>(scale), kp);
    } else if (s.scalar_type() == at::kBFloat16) {
        run_block<uint16_t>(reinterpret_cast<uint16_t*>(s.data_ptr<at::BFloat16>()), n, w, ld, q0,
                            static_cast<float>(scale), kp);
    } else {
        throw std::invalid_argument("causal_softmax_block_: scores must be float32 or bfloat16");
    }
    return s;
}

at::Tensor causal_softmax_reference(const at::Tensor& s, double scale, int64_t past, const at::Tensor& key_ok) {
    const int64_t Tq = s.size(2), Tk = s.size(3);
    at::Tensor q = at::arange(past, past + Tq, at::kLong).unsqueeze(1);
    at::Tensor k = at::arange(Tk, at::kLong).unsqueeze(0);
    at::Tensor allowed = k.le(q).unsqueeze(0);  // [1, T, Tk]
    if (key_ok.defined()) allowed = allowed.logical_and(key_ok.unsqueeze(1)).logical_or(k.eq(q).unsqueeze(0));
    at::Tensor x = s.to(at::kFloat).mul(scale).masked_fill(allowed.logical_not().unsqueeze(1),
                                                          -std::numeric_limits<float>::infinity());
    return at::softmax(x, -1).to(s.scalar_type());
}

}  // namespace den2moe::kernels
