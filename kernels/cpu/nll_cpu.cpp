// CPU kernel of nll_sum (see ../nll.h): per row a max and an exp-sum loop the compiler vectorises
// (-O3 -ffast-math: expf maps to glibc's libmvec; logits are finite, checked by the caller's result).
#include "nll.h"

#include "clones.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

namespace den2moe::kernels {

namespace {

D2M_CLONES float row_max(const float* x, int64_t n) {
    float m = x[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 1; j < n; ++j) m = std::max(m, x[j]);
    return m;
}

D2M_CLONES float row_exp_sum(const float* x, int64_t n, float mx) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; ++j) s += std::exp(x[j] - mx);
    return s;
}

}  // namespace

double nll_sum(const at::Tensor& logits, const at::Tensor& targets) {
    if (logits.dim() != 2 || !logits.device().is_cpu() || logits.scalar_type() != at::kFloat ||
        logits.stride(1) != 1 || logits.size(1) == 0)
        throw std::invalid_argument("nll_sum: expected float32 CPU logits [n, V] with unit column stride, got " +
                                    logits.toString() + " " + c10::str(logits.sizes()));
    const int64_t n = logits.size(0), V = logits.size(1);
    const at::Tensor t = targets.reshape({-1}).to(at::kLong).contiguous();
    if (t.numel() != n)
        throw std::invalid_argument("nll_sum: " + std::to_string(t.numel()) + " targets for " + std::to_string(n) +
                                    " rows of logits (expected one per row)");
    const int64_t* tp = t.data_ptr<int64_t>();
    for (int64_t r = 0; r < n; ++r)
        if (tp[r] < 0 || tp[r] >= V)
            throw std::invalid_argument("nll_sum: target " + std::to_string(tp[r]) + " of row " + std::to_string(r) +
                                        " is outside the vocabulary [0, " + std::to_string(V) + ")");
    const float* L = logits.data_ptr<float>();
    const int64_t ld = logits.stride(0);
    double total = 0.0;
    std::mutex mu;
    at::parallel_for(0, n, 16, [&](int64_t r0, int64_t r1) {
        double part = 0.0;
        for (int64_t r = r0; r < r1; ++r) {
            const float* row = L + r * ld;
            const float mx = row_max(row, V);
            const double lse = (double)mx + std::log((double)row_exp_sum(row, V, mx));
            part += lse - (double)row[tp[r]];
        }
        std::lock_guard<std::mutex> lock(mu);
        total += part;
    });
    return total;
}

double nll_sum_reference(const at::Tensor& logits, const at::Tensor& targets) {
    const at::Tensor lse = at::logsumexp(logits, -1);
    const at::Tensor picked = logits.gather(-1, targets.reshape({-1, 1}).to(at::kLong)).squeeze(-1);
    return (lse - picked).to(at::kDouble).sum().item<double>();
}

}  // namespace den2moe::kernels
