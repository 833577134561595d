// The two learners of MTEB's evaluators, with sklearn's semantics:
//   - logistic_regression: sklearn LogisticRegression(max_iter=100) with lbfgs — L2 (C = 1) on the
//     weights, unpenalised intercept, multinomial softmax for > 2 classes, one logistic vector for 2;
//     minimised in float64 by libtorch's own L-BFGS (torch::optim::LBFGS: history 10, strong Wolfe line
//     search, stop at max |gradient| ≤ tol or max_iter iterations), starting from zero as sklearn does;
//   - MiniBatchKMeans: a port of sklearn's (k-means++ on an init_size subset, batch 500, count-weighted
//     centre updates, low-count reassignment, EWA-inertia early stop, n_init = 1) drawing every random
//     number from NumpyRandomState in sklearn's order, so a fit follows sklearn's on the same data.
// No library implements sklearn's MiniBatchKMeans protocol, hence the port; mlpack is not in Debian 12.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "eval/numpy_rng.h"

namespace den2moe {

struct LogRegOptions {
    double C = 1.0;
    int64_t max_iter = 100;
    double tol = 1e-4;
    /// sklearn ≥ 1.4 (MTEB 1.14's environment had 1.5) minimises the mean loss + ‖W‖²/(2·C·n); sklearn
    /// ≤ 1.3 the summed loss + ‖W‖²/(2·C). Same optimum; the gradient tolerance applies to either scale.
    bool mean_loss = true;
};

class LogisticRegression {
public:
    explicit LogisticRegression(LogRegOptions opt = {}) : opt_(opt) {}
    /// X [n, d] (any float dtype), labels any integers (classes = their sorted distinct values, ≥ 2).
    void fit(const at::Tensor& X, const std::vector<int64_t>& y);
    std::vector<int64_t> predict(const at::Tensor& X) const;
    int64_t n_iter() const { return n_iter_; }
    bool converged() const { return converged_; }
    const std::vector<int64_t>& classes() const { return classes_; }
    const at::Tensor& coef() const { return coef_; }         ///< [K, d] (K = 1 for two classes)
    const at::Tensor& intercept() const { return intercept_; }  ///< [K]

private:
    LogRegOptions opt_;
    std::vector<int64_t> classes_;
    at::Tensor coef_, intercept_;
    int64_t n_iter_ = 0;
    bool converged_ = false;
    double f0_ = 0;  ///< objective at the start (zero weights)
};

struct KMeansOptions {
    int64_t n_clusters = 8;
    int64_t batch_size = 500;
    int64_t max_iter = 100;
    int64_t max_no_improvement = 10;
    double reassignment_ratio = 0.01;
    /// sklearn ≥ 1.3 draws the first k-means++ centre with choice(n, p = weights) (one random_sample);
    /// 1.2 with randint(n).
    bool first_centre_by_choice = true;
};

/// MiniBatchKMeans(n_clusters, batch_size=500, n_init=1 k-means++) fit on X [n, d] (float64) with
/// `rng` (continues its stream: MoEE (sum) fits RW after HS on one stream). Returns labels_ [n].
std::vector<int64_t> minibatch_kmeans(const at::Tensor& X, const KMeansOptions& opt, NumpyRandomState& rng,
                                      int64_t* n_steps = nullptr);

}  // namespace den2moe
