// Perplexity of a token stream. DIVE/FLAP protocol by default: the stream is cut into
// non-overlapping windows of `seq` tokens (the remainder dropped); each window scores its seq-1
// next-token predictions; PPL = exp(total NLL / predictions) — equal to FLAP's
// exp(sum(mean_CE * seq) / (n_windows * seq)) because all windows have the same length.
// With stride < seq, windows slide (Hugging Face's recipe): each scores only tokens not yet scored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/domains.h"

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;

struct PplOptions {
    int64_t seq = 256;         ///< window length in tokens
    int64_t stride = 0;        ///< 0 = non-overlapping (= seq)
    int64_t max_tokens = 0;    ///< 0 = the whole stream; else its first max_tokens tokens
    int64_t batch = 8;         ///< windows per forward pass
};

struct PplResult {
    double nll_sum = 0;        ///< natural-log loss summed over scored tokens
    int64_t n_scored = 0;      ///< predictions scored
    int64_t n_windows = 0;
    int64_t n_tokens = 0;      ///< stream tokens used
    int64_t n_forward = 0;     ///< tokens through the model (Σ window lengths; > n_tokens with overlap)
    double seconds = 0;        ///< wall time of the forward passes and losses
    double steady_seconds = 0; ///< the same after the first batch (warm-up excluded)
    int64_t steady_forward = 0;///< n_forward after the first batch
    double mean_nll() const { return n_scored ? nll_sum / double(n_scored) : 0.0; }
    double ppl() const;
};

/// Window start offsets and how many of each window's predictions are scored (the last ones).
struct PplWindow {
    int64_t begin = 0;
    int64_t len = 0;      ///< tokens in the window
    int64_t n_score = 0;  ///< predictions scored = the window's last n_score targets
};
std::vector<PplWindow> ppl_windows(int64_t n_tokens, const PplOptions& opt);

PplResult perplexity(const LlamaModel& model, const std::vector<int>& stream, const PplOptions& opt,
                     RunContext& ctx);

struct DomainPpl {
    std::string name;
    PplResult result;
};

/// Per-domain perplexity table: records -> BOS text EOS stream -> perplexity().
std::vector<DomainPpl> perplexity_table(const LlamaModel& model, const Tokenizer& tok,
                                        const std::vector<EvalDomain>& domains, const PplOptions& opt,
                                        RunContext& ctx);

}  // namespace den2moe
