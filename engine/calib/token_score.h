// TokenScore (shared/docs/DEN2MOEE.md §2.2) and the τ-weighted neuron profiles (§2.3) of Den2MoEE's
// embedding calibration. Per sample (one record, BOS text EOS, no padding): SCS from the last layer's
// attention of the final token (hook site last_attn) summed per span and min–max normalised across
// spans (0 for one span or equal sums); RSS by re-encoding the sample with windows of `ngram` tokens
// (stride `stride`, inside the top ⌊#spans/2⌋ spans) replaced by `mask_id`, with the same model;
// τ_t = ½(SCS[span(t)] + RSS_t); v_s = τ_sᵀ·|ffn_act_s| / T per layer.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "calib/ffn_stats.h"

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;
struct CorpusSpec;

struct TokenScoreSettings {
    int64_t span = 64;        ///< SCS span length
    int64_t ngram = 8;        ///< RSS masked window length
    int64_t stride = 4;       ///< RSS window stride
    int64_t mask_id = 0;      ///< id written over a masked window
    int64_t max_windows = 0;  ///< cap on masked re-encodings per sample, highest-SCS spans first (0 = all)
    int64_t batch = 8;        ///< masked sequences per forward pass
    /// The cache-key text of these settings ("tokenscore(span=64,ngram=8,stride=4,mask=0,cap=0)").
    std::string key() const;
};

/// SCS per span: attn [T] (any float) -> [⌈T/span⌉] double, the per-span sums min–max normalised
/// across spans; all 0 when there is one span or every span sums the same.
at::Tensor span_contribution(const at::Tensor& attn, int64_t span);

/// One masked window [start, end) and the span it belongs to.
struct MaskWindow {
    int64_t start, end, span;
};
/// The RSS windows of a T-token sample with per-span SCS `scs`: the top max(1, ⌊#spans/2⌋) spans by
/// SCS (ties: the earlier span), in that order; in each, starts s0, s0+stride, … < its end, each
/// window clipped to its span's end; at most `max_windows` (0 = all) in this order.
std::vector<MaskWindow> rss_windows(const at::Tensor& scs, int64_t T, const TokenScoreSettings& s);

struct TokenScore {
    at::Tensor span_scs;  ///< [#spans] double
    at::Tensor scs;       ///< [T] double: the SCS of each token's span
    at::Tensor rss;       ///< [T] double: mean rss_g over the windows covering the token (0 if none)
    at::Tensor tau;       ///< [T] double: ½(scs + rss)
    int64_t windows = 0;  ///< masked re-encodings run
};

/// TokenScore of one sample given its final-token attention `attn` [T] and last-layer hidden states
/// `phi` [T, D] (after the final norm): runs one re-encoding per window (batched). ids: int64 [T].
TokenScore token_score(const LlamaModel& model, const at::Tensor& ids, const at::Tensor& attn, const at::Tensor& phi,
                       const TokenScoreSettings& s);

/// One forward per sample collecting the last layer's final-token attention, the final hidden states
/// and every layer's ffn_act / ffn_inp, then token_score() and v_s per layer. Returns the FfnStats of
/// the samples: `weighted` = mean v_s per layer, `layers` / `inputs` the unweighted moments (the
/// router's logit centering reads inputs), n_windows = samples. Progress stage "statistics" (steps =
/// samples); cancellable between samples. `samples`: int64 [T_s] each, T_s >= 1.
FfnStats collect_tokenscore_stats(const LlamaModel& model, const std::vector<at::Tensor>& samples,
                                  const TokenScoreSettings& s, RunContext& ctx, int64_t* re_encodings = nullptr,
                                  const std::string& progress_message = {});

/// Calibration samples for TokenScore: records in the order shuffled by `seed` (the windows'
/// Fisher–Yates), each tokenised as BOS text EOS; a longer one keeps its first max_len − 1 tokens and
/// its EOS (the pooled token); records of fewer than 2 tokens are skipped. Up to n samples; throws
/// Error naming the files when there are none.
std::vector<at::Tensor> sample_calibration_sequences(const Tokenizer& tok, const CorpusSpec& corpus, int64_t n,
                                                     int64_t max_len, uint64_t seed);

}  // namespace den2moe
