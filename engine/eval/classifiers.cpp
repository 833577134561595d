// Logistic regression on torch::optim::LBFGS and sklearn's MiniBatchKMeans (see eval/classifiers.h).
// The k-means steps follow sklearn/cluster/_kmeans.py (MiniBatchKMeans.fit, _mini_batch_step,
// _mini_batch_convergence, _kmeans_plusplus) and _k_means_minibatch.pyx; comments name the draws.
#include "eval/classifiers.h"

#include <ATen/ATen.h>
#include <torch/optim/lbfgs.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"

namespace den2moe {

// ---------------------------------------------------------------------------------------------
// Logistic regression

void LogisticRegression::fit(const at::Tensor& X_in, const std::vector<int64_t>& y) {
    D2M_CHECK(X_in.dim() == 2 && X_in.size(0) == static_cast<int64_t>(y.size()), InvalidInput,
              "logistic regression: ", X_in.size(0), " rows for ", y.size(), " labels");
    std::set<int64_t> cls(y.begin(), y.end());
    classes_.assign(cls.begin(), cls.end());
    const int64_t K = static_cast<int64_t>(classes_.size());
    D2M_CHECK(K >= 2, InvalidInput, "logistic regression needs at least 2 classes in its training labels, found ", K);
    std::map<int64_t, int64_t> index;
    for (int64_t k = 0; k < K; ++k) index[classes_[k]] = k;
    at::Tensor X = X_in.to(at::kDouble).contiguous();  // [n, d]
    const int64_t n = X.size(0), d = X.size(1);
    std::vector<int64_t> yi(y.size());
    for (size_t i = 0; i < y.size(); ++i) yi[i] = index[y[i]];
    at::Tensor target = at::tensor(yi, at::kLong);  // [n]
    const bool binary = K == 2;
    const int64_t rows = binary ? 1 : K;
    // one parameter: [rows, d + 1], the intercept in the last column (unpenalised); zeros as sklearn
    at::Tensor w = at::zeros({rows, d + 1}, at::kDouble).set_requires_grad(true);
    const double scale = opt_.mean_loss ? 1.0 / double(n) : 1.0;
    const double l2 = 0.5 / opt_.C * scale;
    at::Tensor Xb = at::cat({X, at::ones({n, 1}, at::kDouble)}, 1);  // [n, d + 1]
    at::Tensor yf = target.to(at::kDouble);
    auto objective = [&]() {
        at::Tensor z = at::mm(Xb, w.t());  // [n, rows]
        at::Tensor loss;
        if (binary) {
            at::Tensor zz = z.squeeze(1);
            loss = (at::softplus(zz) - yf * zz).sum();  // HalfBinomialLoss, y in {0, 1}
        } else {
            loss = (at::logsumexp(z, 1) - z.gather(1, target.unsqueeze(1)).squeeze(1)).sum();  // HalfMultinomialLoss
        }
        return loss * scale + l2 * w.narrow(1, 0, d).pow(2).sum();
    };
    // scipy's L-BFGS-B (which sklearn runs) tries 1/‖g‖₂ as the first step and 1 afterwards; libtorch's
    // L-BFGS tries min(1, 1/‖g‖₁)·lr first and lr afterwards. One first iteration with lr chosen so that
    // both first trials agree, then lr = 1 for the rest (the optimizer's state carries over).
    double first_lr = 1.0;
    {
        at::Tensor l0 = objective();
        l0.backward();
        const double g1 = w.grad().abs().sum().item<double>(), g2 = w.grad().norm().item<double>();
        if (g2 > 0) first_lr = (1.0 / g2) / std::min(1.0, 1.0 / g1);
        f0_ = l0.item<double>();
        w.mutable_grad() = at::Tensor();
    }
    // scipy stops on a relative change of f below 2.2e-9 (factr 1e7 · eps); libtorch on an absolute one
    const double tol_change = 2.220446049250313e-9 * std::max(1.0, std::fabs(f0_));
    torch::optim::LBFGS opt({w}, torch::optim::LBFGSOptions(first_lr)
                                     .max_iter(1)
                                     .max_eval(opt_.max_iter * 20)
                                     .tolerance_grad(opt_.tol)
                                     .tolerance_change(tol_change)
                                     .history_size(10)
                                     .line_search_fn("strong_wolfe"));
    auto closure = [&]() {
        opt.zero_grad();
        at::Tensor loss = objective();
        loss.backward();
        return loss;
    };
    opt.step(closure);
    if (opt_.max_iter > 1) {
        auto& o = static_cast<torch::optim::LBFGSOptions&>(opt.param_groups()[0].options());
        o.lr(1.0).max_iter(opt_.max_iter - 1);
        opt.step(closure);
    }
    // iterations done and the final gradient, for the caller's report
    // (one parameter, so one state entry; its key type differs between libtorch 1.13 and 2.x)
    for (const auto& kv : opt.state()) n_iter_ = static_cast<torch::optim::LBFGSParamState&>(*kv.second).n_iter();
    w.mutable_grad() = at::Tensor();
    at::Tensor loss = objective();
    loss.backward();
    converged_ = w.grad().abs().max().item<double>() <= opt_.tol;
    at::Tensor wd = w.detach();
    coef_ = wd.narrow(1, 0, d).clone();
    intercept_ = wd.select(1, d).clone();
}

std::vector<int64_t> LogisticRegression::predict(const at::Tensor& X_in) const {
    D2M_CHECK(coef_.defined(), InvalidInput, "logistic regression: predict before fit");
    at::Tensor X = X_in.to(at::kDouble);
    at::Tensor z = at::addmm(intercept_.unsqueeze(0), X, coef_.t());  // [n, rows]
    std::vector<int64_t> out(static_cast<size_t>(X.size(0)));
    if (coef_.size(0) == 1) {  // sklearn: decision_function > 0 → classes_[1]
        auto p = z.accessor<double, 2>();
        for (int64_t i = 0; i < X.size(0); ++i) out[i] = classes_[p[i][0] > 0 ? 1 : 0];
    } else {
        at::Tensor am = z.argmax(1);  // first maximum, as np.argmax
        auto p = am.accessor<int64_t, 1>();
        for (int64_t i = 0; i < X.size(0); ++i) out[i] = classes_[p[i]];
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// MiniBatchKMeans

namespace {

// Nearest centre of every row of x [m, d]: argmin of ‖c‖² − 2·x·c (sklearn's dense label update; ties to
// the first centre). Returns labels and the per-row squared distance ‖x − c‖².
void assign(const at::Tensor& x, const at::Tensor& centers, std::vector<int64_t>& labels, std::vector<double>* dist) {
    at::Tensor cn = centers.pow(2).sum(1);                         // [k]
    at::Tensor score = at::addmm(cn.unsqueeze(0), x, centers.t(), 1.0, -2.0);  // [m, k]
    at::Tensor lab = score.argmin(1);
    auto pl = lab.accessor<int64_t, 1>();
    labels.resize(static_cast<size_t>(x.size(0)));
    for (int64_t i = 0; i < x.size(0); ++i) labels[i] = pl[i];
    if (dist) {
        at::Tensor diff = x - centers.index_select(0, lab);
        at::Tensor dd = diff.pow(2).sum(1);
        auto pd = dd.accessor<double, 1>();
        dist->resize(static_cast<size_t>(x.size(0)));
        for (int64_t i = 0; i < x.size(0); ++i) (*dist)[i] = pd[i];
    }
}

// sklearn _kmeans_plusplus (greedy, 2 + ⌊ln k⌋ local trials) on x [n, d].
at::Tensor kmeans_plusplus(const at::Tensor& x, int64_t k, NumpyRandomState& rng, bool first_by_choice) {
    const int64_t n = x.size(0), d = x.size(1);
    at::Tensor centers = at::empty({k, d}, at::kDouble);
    const int64_t trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
    at::Tensor xn = x.pow(2).sum(1);  // [n]
    // squared euclidean distances of rows `ids` to all rows: max(‖a‖² − 2 a·x + ‖x‖², 0)
    auto sqdist = [&](const at::Tensor& a) {
        at::Tensor an = a.pow(2).sum(1, true);  // [m, 1]
        return at::addmm(an + xn.unsqueeze(0), a, x.t(), 1.0, -2.0).clamp_min_(0.0);  // [m, n]
    };
    int64_t first;
    if (first_by_choice) {  // choice(n, p = w / Σw): cdf of n equal weights, one random_sample, side right
        std::vector<double> cdf(static_cast<size_t>(n));
        double acc = 0;
        const double p = 1.0 / double(n);
        for (int64_t i = 0; i < n; ++i) cdf[i] = (acc += p);
        const double last = cdf.back();
        for (auto& c : cdf) c /= last;
        const double u = rng.random_sample();
        first = static_cast<int64_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
        first = std::min(first, n - 1);
    } else {
        first = rng.randint(0, n);
    }
    centers[0].copy_(x[first]);
    at::Tensor closest = sqdist(x.narrow(0, first, 1)).squeeze(0);  // [n]
    double pot = closest.sum().item<double>();
    for (int64_t c = 1; c < k; ++c) {
        std::vector<double> cum(static_cast<size_t>(n));
        auto pc = closest.accessor<double, 1>();
        double acc = 0;
        for (int64_t i = 0; i < n; ++i) cum[i] = (acc += pc[i]);  // stable_cumsum (float64)
        std::vector<int64_t> cand(static_cast<size_t>(trials));
        for (int64_t t = 0; t < trials; ++t) {
            const double r = rng.random_sample() * pot;  // uniform(size=trials) * current_pot
            int64_t id = static_cast<int64_t>(std::lower_bound(cum.begin(), cum.end(), r) - cum.begin());
            cand[t] = std::min(id, n - 1);
        }
        at::Tensor dc = at::minimum(sqdist(x.index_select(0, at::tensor(cand, at::kLong))), closest.unsqueeze(0));  // [t, n]
        at::Tensor pots = dc.sum(1);
        const int64_t best = pots.argmin().item<int64_t>();
        pot = pots[best].item<double>();
        closest = dc[best].clone();
        centers[c].copy_(x[cand[best]]);
    }
    return centers;
}

}  // namespace

std::vector<int64_t> minibatch_kmeans(const at::Tensor& X_in, const KMeansOptions& opt, NumpyRandomState& rng,
                                      int64_t* n_steps_out) {
    at::Tensor X = X_in.to(at::kDouble).contiguous();  // [n, d]
    const int64_t n = X.size(0), k = opt.n_clusters;
    D2M_CHECK(k >= 1 && n >= k, InvalidInput, "k-means: ", n, " samples cannot form ", k, " clusters");
    const int64_t batch = std::min(opt.batch_size, n);
    int64_t init_size = 3 * batch;
    if (init_size < k) init_size = 3 * k;
    init_size = std::min(init_size, n);
    // (a) validation set for choosing among inits (drawn even with one init)
    std::vector<int64_t> valid = rng.randint(0, n, init_size);
    (void)valid;  // with n_init = 1 its inertia chooses nothing, but the draws advance the stream
    // (b) k-means++ on a random subset of init_size rows
    at::Tensor Xi = X;
    if (init_size < n) Xi = X.index_select(0, at::tensor(rng.randint(0, n, init_size), at::kLong));
    at::Tensor centers = kmeans_plusplus(Xi, k, rng, opt.first_centre_by_choice);  // [k, d]
    std::vector<double> counts(static_cast<size_t>(k), 0.0);
    int64_t since_reassign = 0;
    bool have_ewa = false;
    double ewa = 0, ewa_min = 0;
    int64_t no_improvement = 0;
    const int64_t n_steps = (opt.max_iter * n) / batch;
    int64_t step = 0;
    std::vector<int64_t> lab;
    std::vector<double> dist;
    for (; step < n_steps; ++step) {
        // (c) one mini-batch: randint(0, n, batch)
        at::Tensor idx = at::tensor(rng.randint(0, n, batch), at::kLong);
        at::Tensor xb = X.index_select(0, idx);  // [batch, d]
        // _random_reassign(): decided before the step
        since_reassign += batch;
        bool any_zero = false;
        for (double c : counts) any_zero = any_zero || c == 0.0;
        const bool reassign = any_zero || since_reassign >= 10 * k;
        if (reassign) since_reassign = 0;
        assign(xb, centers, lab, &dist);
        double inertia = 0;
        for (double v : dist) inertia += v;
        // count-weighted running means of the touched centres
        at::Tensor sums = at::zeros({k, X.size(1)}, at::kDouble);
        sums.index_add_(0, at::tensor(lab, at::kLong), xb);
        std::vector<double> cnt(static_cast<size_t>(k), 0.0);
        for (int64_t l : lab) cnt[l] += 1;
        at::Tensor new_centers = centers.clone();
        for (int64_t c = 0; c < k; ++c) {
            if (cnt[c] == 0) continue;
            at::Tensor nc = centers[c] * counts[c] + sums[c];
            counts[c] += cnt[c];
            new_centers[c].copy_(nc / counts[c]);
        }
        if (reassign && opt.reassignment_ratio > 0) {
            const double mx = *std::max_element(counts.begin(), counts.end());
            std::vector<bool> to(static_cast<size_t>(k));
            int64_t n_to = 0;
            for (int64_t c = 0; c < k; ++c) n_to += (to[c] = counts[c] < opt.reassignment_ratio * mx);
            if (n_to > static_cast<int64_t>(0.5 * batch)) {
                // keep the int(0.5·batch) heaviest... sklearn: argsort(counts)[int(.5 * batch):] are not reassigned
                std::vector<int64_t> ord(static_cast<size_t>(k));
                for (int64_t c = 0; c < k; ++c) ord[c] = c;
                std::stable_sort(ord.begin(), ord.end(), [&](int64_t a, int64_t b) { return counts[a] < counts[b]; });
                for (size_t q = static_cast<size_t>(0.5 * batch); q < ord.size(); ++q) to[ord[q]] = false;
                n_to = 0;
                for (int64_t c = 0; c < k; ++c) n_to += to[c];
            }
            if (n_to > 0) {
                std::vector<int64_t> pick = rng.choice_without_replacement(batch, n_to);
                double min_kept = std::numeric_limits<double>::infinity();
                for (int64_t c = 0; c < k; ++c)
                    if (!to[c]) min_kept = std::min(min_kept, counts[c]);
                size_t q = 0;
                for (int64_t c = 0; c < k; ++c) {
                    if (!to[c]) continue;
                    new_centers[c].copy_(xb[pick[q++]]);
                    counts[c] = min_kept;
                }
            }
        }
        centers = new_centers;
        // (d) early stop on the exponentially weighted batch inertia (the first step is ignored)
        const double bi = inertia / double(batch);
        if (step + 1 == 1) continue;
        if (!have_ewa) {
            ewa = bi;
            have_ewa = true;
        } else {
            const double alpha = std::min(1.0, batch * 2.0 / double(n + 1));
            ewa = ewa * (1 - alpha) + bi * alpha;
        }
        if (step + 1 == 2 || ewa < ewa_min) {
            no_improvement = 0;
            ewa_min = ewa;
        } else {
            ++no_improvement;
        }
        if (no_improvement >= opt.max_no_improvement) {
            ++step;
            break;
        }
    }
    if (n_steps_out) *n_steps_out = step;
    // (e) labels of every row
    assign(X, centers, lab, nullptr);
    return lab;
}

}  // namespace den2moe
