// Evaluation metrics of MTEB 1.14 and lm-evaluation-harness, in float64 on plain vectors. Each one is
// the formula of its scipy / sklearn counterpart (shared/docs/MOEE-MTEB.md §B8), including the edge
// cases: Pearson of a constant input is NaN, Spearman ranks ties by their mean rank, average precision
// groups tied scores (sklearn), v-measure zeroes per-cell terms below machine epsilon as sklearn does.
// tests/engine/eval/test_metrics.cpp checks every one against scipy / sklearn at 1e-9.
// Torch-free: the app shows results computed here directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe::metrics {

/// scipy.stats.pearsonr's statistic: NaN when either input is constant (or shorter than 2).
double pearson(const std::vector<double>& x, const std::vector<double>& y);
/// 1-based ranks; tied values get the mean of their positions (scipy.stats.rankdata "average").
std::vector<double> average_ranks(const std::vector<double>& x);
/// scipy.stats.spearmanr's statistic: Pearson of the average ranks.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

/// Paired scores of rows i of a and b (row-major [n, d] float64 each).
/// sklearn's paired cosine similarity 1 - ½·‖â - b̂‖² (a zero row normalises to zero: 0.5 against a
/// non-zero row, 1 against another zero row).
std::vector<double> paired_cosine(const std::vector<double>& a, const std::vector<double>& b, int64_t d);
std::vector<double> paired_manhattan(const std::vector<double>& a, const std::vector<double>& b, int64_t d);  ///< ‖a-b‖₁
std::vector<double> paired_euclidean(const std::vector<double>& a, const std::vector<double>& b, int64_t d);  ///< ‖a-b‖₂
std::vector<double> paired_dot(const std::vector<double>& a, const std::vector<double>& b, int64_t d);
/// torch-style cosine (MTEB's cos_sim: rows normalised by max(‖x‖, 1e-12); a zero row gives 0).
double cos_sim(const double* a, const double* b, int64_t d);

/// sklearn.metrics.average_precision_score for binary labels (1 = relevant): scores sorted
/// descending, tied scores form one threshold, AP = Σ (R_k − R_{k−1})·P_k. 0 when no label is 1.
double average_precision(const std::vector<int>& relevant, const std::vector<double>& score);
/// The expected average precision of a uniformly random ranking of n items, r of them relevant:
/// (H_n + (r − 1)/(n − 1)·(n − H_n)) / n (H_n the harmonic number) — the chance level of AP.
double expected_random_ap(int64_t n_relevant, int64_t n);
/// 1 / (rank of the first relevant item) among the top k by descending score (ties keep input order,
/// a stable sort), 0 if none in the top k (MTEB RerankingEvaluator.mrr_at_k_score).
double mrr_at_k(const std::vector<int>& relevant, const std::vector<double>& score, int k);

/// sklearn.metrics.v_measure_score (beta 1): labels are arbitrary category ids.
double v_measure(const std::vector<int64_t>& labels_true, const std::vector<int64_t>& labels_pred);
/// Category ids of real-valued labels (equal values → the same id), for MoEE (sum)'s clustering
/// labels (c_h + α·c_r)/(1+α), which sklearn treats as categories.
std::vector<int64_t> category_ids(const std::vector<double>& labels);

double accuracy(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred);
/// sklearn f1_score(average="macro"/"weighted") over the labels present in y_true ∪ y_pred; a class
/// with no prediction (or no support) has F1 0.
double f1_macro(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred);
double f1_weighted(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred);

/// MTEB 1.14 PairClassificationEvaluator._compute_metrics of one score family: the best accuracy and
/// best F1 over the n−1 cut points of the scores sorted by similarity (stable), each with its
/// threshold (the midpoint of the neighbouring scores), and AP of score·sign.
struct PairMetrics {
    double accuracy = 0, accuracy_threshold = -1;
    double f1 = 0, f1_threshold = 0, precision = 0, recall = 0;
    double ap = 0;
};
PairMetrics pair_metrics(const std::vector<double>& scores, const std::vector<int>& labels, bool high_more_similar);

/// Sample mean and the standard error of a 0/1 (or any) sample: sqrt(var_{n-1} / n) (lm-eval's
/// mean_stderr).
double mean_of(const std::vector<double>& v);
double stderr_of_mean(const std::vector<double>& v);
/// Population standard deviation (ddof 0), as numpy's np.std (MTEB's v_measure_std).
double population_std(const std::vector<double>& v);

}  // namespace den2moe::metrics
