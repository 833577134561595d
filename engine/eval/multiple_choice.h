// Zero-shot multiple choice by log-likelihood, with lm-evaluation-harness 0.4 semantics: each choice's
// score is the summed log-probability of its continuation tokens given the context (tokens as lm-eval's
// _encode_pair makes them: context alone, then the continuation = encode(context + continuation) past
// the context's tokens); acc = argmax of the sums, acc_norm = argmax of sum / len(choice) in characters
// (Python's len of the choice text; bytes for ASCII). The context of an item is run once and its KV
// cache shared by all of its choices; items are batched by context length (left padding), through the
// engine's forward pass (LlamaModel::hidden_states + lm_head). On several ranks (McOptions::comm) the
// batches are shared, batch k on rank k mod W, and the log-likelihoods all-gathered: every rank
// returns all of them, bit for bit what one process computes (a batch is computed the same wherever
// it runs; same threads per process). Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/prompts.h"

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;
namespace dist {
class Communicator;
}

struct McOptions {
    bool bos = true;          ///< BOS before each context (lm-eval 0.4 adds none for Llama unless add_bos_token)
    int64_t batch = 32;       ///< items per forward pass (fewer for long contexts: a token budget applies)
    int64_t max_length = 0;   ///< context + continuation tokens kept (context truncated on the left); 0 = no limit
    /// Several ranks computing one task together (every rank calls with the same items and options):
    /// batch k on rank k mod W, results all-gathered. nullptr or one rank: this process does all.
    dist::Communicator* comm = nullptr;
};

/// loglik[item][choice]: summed natural-log probability of the continuation. Reports progress as
/// `stage` (items done / total). Throws Cancelled between batches.
std::vector<std::vector<double>> mc_loglikelihoods(const LlamaModel& model, const Tokenizer& tok,
                                                   const std::vector<McPrompt>& items, const McOptions& opt,
                                                   RunContext& ctx, const std::string& stage = "multiple choice");

/// Per-item correctness under acc and acc_norm (argmax ties go to the first choice, as np.argmax).
struct McOutcome {
    std::vector<double> acc, acc_norm;  ///< 0/1 per item
    std::vector<int> pred, pred_norm;   ///< the chosen option per item (argmax of the sums / per-character means)
};
McOutcome score_mc(const std::vector<McPrompt>& items, const std::vector<std::vector<double>>& loglik);

/// Python's len() of a UTF-8 string: code points (continuation bytes not counted).
int64_t utf8_length(const std::string& s);

}  // namespace den2moe
