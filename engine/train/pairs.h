// Text pairs for contrastive (embedding) training, the documented format users supply themselves:
// JSON Lines, one object per line:
//   {"query": "...", "positive": "...", "negatives": ["...", ...], "label": 0.8, "domain": "sts"}
// query and positive are required non-empty strings; negatives (hard negatives, default none),
// label (a similarity in [-1, 1] for the cosine-MSE loss, default absent) and domain (default "")
// are optional; unknown keys are refused (a typo must not silently train on nothing). Text is bytes:
// it is passed to the tokenizer as stored. build_pairs() makes such a file from the bundled data's
// TRAIN splits only (MRPC paraphrases, SemEval STS 2012 train pairs, SICK train, Banking77 same-intent
// pairs), so the MTEB-style test sets stay unseen (SICK-R's MTEB set contains SICK train: see below).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace den2moe {

struct TextPair {
    std::string query, positive;
    std::vector<std::string> negatives;
    double label = std::numeric_limits<double>::quiet_NaN();  ///< NaN = no label
    std::string domain;
    bool has_label() const { return label == label; }
};

/// Reads and validates a pairs file; errors name the file and line. At least one pair.
std::vector<TextPair> read_pairs(const std::string& path);
/// One JSON object per line (keys in the documented order; absent optional keys left out).
std::string pairs_to_jsonl(const std::vector<TextPair>& pairs);
/// Written atomically (temporary name, then rename).
void write_pairs(const std::string& path, const std::vector<TextPair>& pairs);

/// The bundled sources build_pairs() knows, with what each yields (for --help and errors).
struct PairSource {
    std::string name, description;
};
const std::vector<PairSource>& pair_sources();

struct PairBuildOptions {
    std::vector<std::string> sources = {"mrpc", "sts12", "banking77"};
    int64_t max_per_source = 0;  ///< 0 = all; else an evenly spread subset of each source's pairs
    int64_t negatives = 1;       ///< banking77: hard negatives per pair (texts of other intents)
    uint64_t seed = 42;          ///< banking77's pairing and negatives
};

/// Pairs from the bundled train splits under `shared_dir` (the folder holding data/), source by source.
///   mrpc       msr-para-train.tsv, Quality 1 (paraphrase) pairs, label 1
///   sts12      SemEval 2012 MSRpar + SMTeuroparl train, score >= 4 of 5, label score / 5
///   sick       SICK_train.txt relatedness >= 4 of 5, label score / 5 (MTEB's SICK-R tests on it too)
///   banking77  train.csv: each query paired with another query of the same intent, label 1,
///              `negatives` queries of other intents as hard negatives
std::vector<TextPair> build_pairs(const std::string& shared_dir, const PairBuildOptions& opt);

}  // namespace den2moe
