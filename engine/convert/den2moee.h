// Den2MoEE's neuron partition (shared/docs/DEN2MOEE.md §2.3–2.5): per FFN layer, every neuron's
// domain profile (mean |silu(gate)·up| per calibration domain, each domain column z-scored across
// neurons), an equal-size spherical k-means over the L2-normalised profiles (k-means++ seeding on the
// cosine distance, greedy balanced assignment, capacity F/K), and the coverage ranking that makes the
// broadest clusters shared experts. No pruning: the experts partition the dense FFN exactly.
//
// The raw scores S come from the recipe: uniform token weights over language-model windows (τ = 1:
// the domain's mean activation magnitude, the default) or the reference's TokenScore over whole
// records for embedding models (calib/token_score.h; conversion setting token_weights).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace den2moe {

/// S [F, Dn] (neuron × domain scores) -> Ŝ: each column minus its mean over neurons, divided by its
/// population std + 1e-9.
at::Tensor den2moee_zscore(const at::Tensor& S);

struct KMeansResult {
    std::vector<int64_t> label;  ///< per row, in [0, K)
    at::Tensor centres;          ///< [K, Dn] unit rows (double)
    int iterations = 0;
    double last_shift = 0;       ///< max centre movement of the last iteration
};

/// Equal-size spherical k-means of the rows of X [F, Dn] (normalised inside) into K clusters of
/// exactly F/K rows (F % K == 0). Distance max(0, 1 − cos); seeding k-means++ on that distance with
/// a seeded 64-bit Mersenne twister; assignment: all (row, cluster) pairs by ascending distance (ties:
/// lower row, then lower cluster), each row to the nearest cluster with room; update: re-normalised
/// means; stop when no centre moves more than `tol` or after `max_iter` iterations.
KMeansResult balanced_spherical_kmeans(const at::Tensor& X, int64_t K, uint64_t seed, int max_iter = 100,
                                       double tol = 1e-6);

struct NeuronPartition {
    std::vector<std::vector<int64_t>> clusters;  ///< K neuron lists, ascending
    std::vector<int64_t> shared;                 ///< cluster ids of the shared experts (coverage rank order)
    std::vector<int64_t> routed;                 ///< cluster ids of the routed experts (ascending)
    at::Tensor mean_profile;                     ///< [K, Dn] mean z-scored profile m_j
    at::Tensor coverage;                         ///< [K, Dn] 0/1: m_jd above the median over clusters
    std::vector<double> coverage_score;          ///< Σ_d coverage_jd
    std::vector<double> budget_score;            ///< per routed expert: coverage fraction, normalised to Σ = 1
    int iterations = 0;
};

/// The whole per-layer partition from the raw scores S [F, Dn]. n_shared = ⌊K·shared_ratio⌋ clusters
/// with the highest (coverage score, ‖m_j‖) become shared.
NeuronPartition den2moee_partition(const at::Tensor& S, int64_t K, double shared_ratio, uint64_t seed);

}  // namespace den2moe
