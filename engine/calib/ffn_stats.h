// FLAP calibration statistics of every FFN: per layer and per channel, the mean, the (population)
// variance and the mean square of the down_proj input silu(gate(x)) ⊙ up(x), over every calibration
// token. Collected through the forward pass's `ffn_act` hook site, batch by batch, merged in float64
// with Chan's parallel form of Welford's update (exact for any batch split).
//
// FLAP's own streaming rule drops the first sample's deviations and measures deviations from the
// updated mean (F ≈ T·var); we keep the plain per-channel variance the spec recommends
// (shared/docs/DIVE-FLAP.md §1.2, §11). The within-layer ranking is the same.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;
struct CorpusSpec;

/// Streaming per-channel moments in float64.
class ChannelMoments {
public:
    /// x: [..., C] any float dtype; rows where `mask` ([...] bool, optional) is false are skipped.
    void add(const at::Tensor& x, const at::Tensor& mask = {});
    /// Merge another accumulator (Chan et al.).
    void merge(const ChannelMoments& o);
    int64_t count() const { return n_; }
    at::Tensor mean() const { return mean_; }       ///< [C] double
    at::Tensor variance() const;                     ///< [C] double, population (÷ n)
    at::Tensor mean_square() const;                  ///< [C] double: mean of x²
    at::Tensor m2() const { return m2_; }
    /// Mean of |x| per channel ([C] double; Den2MoEE's activation-magnitude neuron score), or
    /// undefined when the accumulator was restored from an entry that did not keep it.
    at::Tensor mean_abs() const;
    bool has_abs() const { return n_ > 0 && abs_sum_.defined(); }
    static ChannelMoments from(int64_t n, const at::Tensor& mean, const at::Tensor& m2,
                               const at::Tensor& mean_abs = {});

private:
    int64_t n_ = 0;
    at::Tensor mean_;     // [C] double
    at::Tensor m2_;       // [C] double: Σ (x − mean)²
    at::Tensor abs_sum_;  // [C] double: Σ |x| (undefined: not kept)
};

/// The statistics of one calibration set: one entry per layer.
struct FfnStats {
    std::vector<ChannelMoments> layers;  ///< per layer: the down_proj input (F channels)
    std::vector<ChannelMoments> inputs;  ///< per layer: the FFN input (post-attention RMSNorm, D channels),
                                         ///< for routers initialised at domain centroids
    /// Per layer [F] double, TokenScore-weighted profiles only: the mean over the samples s of
    /// v_s = τ_sᵀ·|silu(X_s W_gateᵀ) ⊙ (X_s W_upᵀ)| / T_s (calib/token_score.h); empty = uniform weights.
    std::vector<at::Tensor> weighted;
    int64_t n_tokens = 0;
    int64_t n_windows = 0;  ///< windows (uniform) or whole-record samples (tokenscore)
    std::string key;  ///< cache key it was stored under ("" = not cached)
};

/// The order calibration takes `n` records in: 0..n-1 shuffled by Fisher–Yates with our own index draw
/// (i from n down to 2: swap(i − 1, rng() % i)), since std::shuffle's algorithm is implementation-
/// defined. `rng` advances by n − 1 draws (the windows draw their offsets from it afterwards).
std::vector<size_t> shuffled_record_order(size_t n, std::mt19937_64& rng);

/// Calibration windows: records are taken in an order shuffled by `seed`, each tokenised as
/// BOS text EOS and concatenated until n·seq tokens are collected, then cut into n consecutive
/// windows of `seq` tokens. A corpus shorter than n·seq tokens yields windows at random offsets
/// (seeded) into the whole stream. Returns int64 [n, seq]. Throws Error naming the files when the
/// corpus has fewer than `seq` + 1 tokens.
at::Tensor sample_calibration_windows(const Tokenizer& tok, const CorpusSpec& corpus, int64_t n, int64_t seq,
                                      uint64_t seed);

/// One dense forward pass over `windows` (batched) collecting FfnStats on every layer (the
/// down_proj input at site ffn_act and the FFN input at site ffn_inp).
/// Progress stage "statistics" (steps = windows); cancellable between batches.
FfnStats collect_ffn_stats(const LlamaModel& model, const at::Tensor& windows, int64_t batch, RunContext& ctx,
                           const std::string& progress_message = {});

}  // namespace den2moe
