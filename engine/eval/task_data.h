// Reading the bundled evaluation sets (shared/MANIFEST.md §2) into plain structs, one loader per task
// type. Each applies the task's documented split (eval/task_registry.cpp notes) and `limit` (at most
// that many items, evenly spread: indices ⌊i·N/limit⌋, so a quick run still sees every source file).
// Errors name the task, the file and the line. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/prompts.h"
#include "eval/task_registry.h"

namespace den2moe {

struct McTaskData {
    std::vector<McDoc> docs;
    std::vector<std::vector<McDoc>> shots;  ///< per doc: the k-shot examples (MMLU)
    int64_t skipped = 0;                    ///< unusable items left out (named in the task note)
};

struct StsData {
    std::vector<std::string> sentence1, sentence2;
    std::vector<double> score;  ///< gold, 0–5
};

struct ClassificationData {
    std::vector<std::string> train_text, test_text;
    std::vector<int64_t> train_label, test_label;
    std::vector<std::string> label_names;
};

struct ClusteringData {
    std::vector<std::vector<std::string>> sets;  ///< one list of texts per cluster set
    std::vector<std::vector<int64_t>> labels;
};

struct PairData {
    std::vector<std::string> sentence1, sentence2;
    std::vector<int> label;  ///< 1 = paraphrase
};

struct RerankingData {
    struct Sample {
        std::string query;
        std::vector<std::string> positive, negative;
    };
    std::vector<Sample> samples;
};

/// Indices of at most `limit` of `n` items, evenly spread (all when limit is 0 or ≥ n).
std::vector<size_t> spread_indices(size_t n, int64_t limit);

McTaskData load_mc_task(const TaskInfo& t, const std::string& shared_dir, int64_t k_shot, int64_t limit);
StsData load_sts(const TaskInfo& t, const std::string& shared_dir, int64_t limit);
/// `limit` applies to the test split (the training side is undersampled per label anyway).
ClassificationData load_classification(const TaskInfo& t, const std::string& shared_dir, int64_t limit);
ClusteringData load_clustering(const TaskInfo& t, const std::string& shared_dir, int64_t limit);
PairData load_pairs(const TaskInfo& t, const std::string& shared_dir, int64_t limit);
/// `limit` applies to the queries.
RerankingData load_reranking(const TaskInfo& t, const std::string& shared_dir, int64_t limit);

/// Windows-1252 bytes → UTF-8 (the MR sentences are cp1252; the five bytes it leaves undefined map
/// to U+0081.. as Latin-1).
std::string cp1252_to_utf8(const std::string& s);

}  // namespace den2moe
