// MTEB 1.14's evaluators on embeddings (MOEE-MTEB.md Part B): STS, Classification (logReg, n
// experiments of undersampled training sets), Clustering (MiniBatchKMeans, v-measure), PairClassification
// (max AP over five score families) and Reranking (MAP, MRR@10), each calling the encoder with MTEB's
// lists in MTEB's order (that order fixes MoEE's z-scoring chunks). MoEE (sum) follows §A7 per type; the
// outcome says which combination was computed. Scores are fractions, as MTEB stores them.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "eval/embeddings.h"
#include "eval/task_data.h"

namespace den2moe {

class RunContext;

/// One encode call: a name for progress / saved matrices, and the raw texts (before the prompt
/// pipeline, which the callee applies).
using EncodeFn = std::function<EmbeddingSet(const std::string& name, const std::vector<std::string>& texts)>;

struct MtebParams {
    std::string kind = "hs";  ///< hs | rw | moee-concat | moee-sum
    double alpha = 1.0;
    int64_t seed = 42;
    int64_t n_experiments = 10;
    int64_t samples_per_label = 8;
    /// MiniBatchKMeans' first k-means++ centre: sklearn ≥ 1.3 (MTEB 1.14's environment) or 1.2's randint.
    bool kmeans_first_by_choice = true;
    /// LogisticRegression's objective scale: sklearn ≥ 1.4 (MTEB 1.14's environment) the mean loss,
    /// ≤ 1.3 the summed loss (LogRegOptions::mean_loss).
    bool logreg_mean_loss = true;
};

struct MtebOutcome {
    nlohmann::json scores;      ///< the subset entry's metric keys (main_score / hf_subset / languages added later)
    double main_score = 0;
    double chance = 0;          ///< the main score of a random embedding, where the data fix it (NaN otherwise)
    int64_t n_items = 0;        ///< pairs / test texts / clustered texts / queries evaluated
    std::string combination;    ///< MoEE (sum): what was combined, and how (MOEE-MTEB.md §A7)
};

MtebOutcome run_sts(const StsData& d, const EncodeFn& encode, const MtebParams& p);
MtebOutcome run_classification(const ClassificationData& d, const EncodeFn& encode, const MtebParams& p, RunContext& ctx);
MtebOutcome run_clustering(const ClusteringData& d, const EncodeFn& encode, const MtebParams& p, RunContext& ctx);
MtebOutcome run_pair_classification(const PairData& d, const EncodeFn& encode, const MtebParams& p);
MtebOutcome run_reranking(const RerankingData& d, const EncodeFn& encode, const MtebParams& p);

/// MTEB's undersampling for experiment e = 0..: the index walk after e + 1 RandomState(seed) shuffles
/// of idxs (shuffled in place, a fresh RandomState each time), keeping `per_label` of each label in walk
/// order. `idxs` carries the state between experiments (start with 0..n-1).
std::vector<int64_t> undersample(std::vector<int64_t>& idxs, const std::vector<int64_t>& labels, int64_t per_label,
                                 uint32_t seed);

/// Row-major float64 copy of a [n, d] tensor.
std::vector<double> to_vector(const at::Tensor& x);

}  // namespace den2moe
