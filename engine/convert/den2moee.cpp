#include "convert/den2moee.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"

namespace den2moe {

namespace {

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

at::Tensor normalise_rows(const at::Tensor& X) {
    return X / X.norm(2, {1}, true).clamp_min(1e-12);
}

}  // namespace

at::Tensor den2moee_zscore(const at::Tensor& S_in) {
    at::Tensor S = S_in.to(at::kDouble);
    at::Tensor mean = S.mean(0, true);
    at::Tensor sd = (S - mean).square().mean(0, true).sqrt();
    return (S - mean) / (sd + 1e-9);
}

KMeansResult balanced_spherical_kmeans(const at::Tensor& X_in, int64_t K, uint64_t seed, int max_iter, double tol) {
    D2M_CHECK(X_in.dim() == 2, InvalidInput, "balanced k-means: expected a [F, D] matrix, found ", X_in.sizes());
    const int64_t F = X_in.size(0);
    D2M_CHECK(K >= 1 && F >= K && F % K == 0, InvalidInput, "balanced k-means: ", F, " rows cannot be split into ", K,
              " equal clusters", Hint{"the number of experts must divide the FFN width"});
    at::Tensor X = normalise_rows(X_in.to(at::kDouble)).contiguous();
    const int64_t cap = F / K;
    std::mt19937_64 rng(seed);

    // k-means++ seeding on the cosine distance (probability ∝ d²)
    std::vector<int64_t> seeds;
    seeds.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(F)));
    at::Tensor dmin = (1.0 - at::mv(X, X[seeds[0]])).clamp_min(0.0);
    for (int64_t j = 1; j < K; ++j) {
        at::Tensor w = dmin.square();
        const double total = w.sum().item<double>();
        int64_t pick = 0;
        if (total <= 0) {  // all remaining rows coincide with a centre: take the first unused row
            while (std::find(seeds.begin(), seeds.end(), pick) != seeds.end()) ++pick;
        } else {
            const double r = uniform01(rng) * total;
            const double* wp = w.data_ptr<double>();
            double acc = 0;
            pick = F - 1;
            for (int64_t i = 0; i < F; ++i) {
                acc += wp[i];
                if (acc > r) {
                    pick = i;
                    break;
                }
            }
        }
        seeds.push_back(pick);
        dmin = at::minimum(dmin, (1.0 - at::mv(X, X[pick])).clamp_min(0.0));
    }
    at::Tensor C = X.index_select(0, at::tensor(seeds, at::kLong)).clone();

    KMeansResult res;
    res.label.assign(static_cast<size_t>(F), -1);
    std::vector<int64_t> order(static_cast<size_t>(F * K));
    for (int it = 1; it <= max_iter; ++it) {
        at::Tensor dist = (1.0 - at::mm(X, C.t())).clamp_min(0.0).contiguous();  // [F, K]
        const double* dp = dist.data_ptr<double>();
        std::iota(order.begin(), order.end(), int64_t{0});
        // pair p = row·K + cluster: ascending distance, ties by row then cluster (= by p)
        std::stable_sort(order.begin(), order.end(), [dp](int64_t a, int64_t b) { return dp[a] < dp[b]; });
        std::vector<int64_t> fill(static_cast<size_t>(K), 0);
        std::vector<int64_t> label(static_cast<size_t>(F), -1);
        int64_t left = F;
        for (int64_t p : order) {
            const int64_t i = p / K, j = p % K;
            if (label[i] >= 0 || fill[j] >= cap) continue;
            label[i] = j;
            ++fill[j];
            if (--left == 0) break;
        }
        res.label = label;
        at::Tensor lab = at::tensor(label, at::kLong);
        at::Tensor sums = at::zeros({K, X.size(1)}, at::kDouble).index_add_(0, lab, X);
        at::Tensor Cn = normalise_rows(sums);
        res.last_shift = (Cn - C).norm(2, {1}).max().item<double>();
        C = Cn;
        res.iterations = it;
        if (res.last_shift <= tol) break;
    }
    res.centres = C;
    return res;
}

NeuronPartition den2moee_partition(const at::Tensor& S, int64_t K, double shared_ratio, uint64_t seed) {
    D2M_CHECK(S.dim() == 2 && S.size(1) >= 2, InvalidInput,
              "Den2MoEE: neuron profiles need at least 2 domains, found ", S.dim() == 2 ? S.size(1) : 0,
              Hint{"enable more domains in the project"});
    D2M_CHECK(shared_ratio >= 0 && shared_ratio < 1, InvalidInput, "Den2MoEE: shared ratio must be in [0, 1), found ",
              shared_ratio);
    const int64_t n_shared = static_cast<int64_t>(std::floor(static_cast<double>(K) * shared_ratio + 1e-9));
    D2M_CHECK(K - n_shared >= 1, InvalidInput, "Den2MoEE: no routed expert left (K = ", K, ", shared ", n_shared, ")");
    at::Tensor Z = den2moee_zscore(S);
    KMeansResult km = balanced_spherical_kmeans(Z, K, seed);
    NeuronPartition part;
    part.iterations = km.iterations;
    part.clusters.assign(static_cast<size_t>(K), {});
    for (size_t i = 0; i < km.label.size(); ++i) part.clusters[static_cast<size_t>(km.label[i])].push_back(static_cast<int64_t>(i));
    const int64_t Dn = Z.size(1);
    std::vector<at::Tensor> means;
    for (const auto& c : part.clusters) means.push_back(Z.index_select(0, at::tensor(c, at::kLong)).mean(0));
    part.mean_profile = at::stack(means);  // [K, Dn]
    // coverage: above the 50th percentile (linear interpolation, numpy's default) over the clusters
    at::Tensor sorted = std::get<0>(part.mean_profile.sort(0));
    const double pos = 0.5 * static_cast<double>(K - 1);
    const int64_t lo = static_cast<int64_t>(std::floor(pos)), hi = std::min<int64_t>(lo + 1, K - 1);
    at::Tensor thr = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
    part.coverage = (part.mean_profile > thr.unsqueeze(0)).to(at::kDouble);
    at::Tensor score = part.coverage.sum(1), norm = part.mean_profile.norm(2, {1});
    std::vector<int64_t> rank(static_cast<size_t>(K));
    std::iota(rank.begin(), rank.end(), int64_t{0});
    std::vector<double> sc(static_cast<size_t>(K)), nm(static_cast<size_t>(K));
    for (int64_t j = 0; j < K; ++j) {
        sc[j] = score[j].item<double>();
        nm[j] = norm[j].item<double>();
    }
    part.coverage_score = sc;
    std::stable_sort(rank.begin(), rank.end(), [&](int64_t a, int64_t b) {
        return sc[a] != sc[b] ? sc[a] > sc[b] : nm[a] > nm[b];
    });
    part.shared.assign(rank.begin(), rank.begin() + n_shared);
    for (int64_t j = 0; j < K; ++j) {
        if (std::find(part.shared.begin(), part.shared.end(), j) == part.shared.end()) part.routed.push_back(j);
    }
    double tot = 0;
    for (int64_t j : part.routed) tot += sc[j] / static_cast<double>(Dn);
    for (int64_t j : part.routed) {
        part.budget_score.push_back(tot > 0 ? (sc[j] / static_cast<double>(Dn)) / tot
                                            : 1.0 / static_cast<double>(part.routed.size()));
    }
    return part;
}

}  // namespace den2moe
