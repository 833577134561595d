// FLAP-style structured pruning of the FFN channels (DIVE's variant: MLP only, statistics from the
// dense model, bias compensation). Spec: shared/docs/DIVE-FLAP.md §1.3, §1.5, §1.6, §2, §11.
//
// Score of channel j of layer l (W = down_proj [D, F], stats of its input x_j):
//   WIFV = var(x_j) · Σ_i W_ij²       (DIVE's metric; the default)
//   IFV  = var(x_j)
//   WIFN = mean_i |W_ij| · sqrt(E[x_j²])
// Uniform structure (DIVE, FLAP UL-UM): every layer removes exactly ⌊F·r⌋ channels, the lowest
// scores; ties go by a stable ascending sort, so the lower channel index is removed first.
// Adaptive structure (FLAP AL-AM restricted to the MLP): scores standardised per layer (unbiased
// std), ranked over all layers, ⌊L·F·r⌋ channels removed overall; every layer keeps ≥ 1 channel.
// Compression slices gate/up rows and down columns (physically smaller matrices) and, with bias
// compensation, adds b = W[:, P] · μ_P so that the pruned FFN equals the masked dense FFN whose
// removed channels are replaced by their calibration means.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace den2moe {

class LlamaModel;
class SwiGluFfn;
class ChannelMoments;
struct FfnStats;
struct PruneSettings;

enum class PruneMetric { WIFV, IFV, WIFN };
PruneMetric parse_prune_metric(const std::string& s);  ///< "wifv" | "ifv" | "wifn"

/// Channel scores [F] (double) of one dense FFN from its statistics.
at::Tensor channel_scores(const SwiGluFfn& ffn, const ChannelMoments& stats, PruneMetric metric);

/// Kept channel indices (ascending) removing exactly `n_remove` lowest scores (stable tie-break).
std::vector<int64_t> keep_uniform(const at::Tensor& scores, int64_t n_remove);
/// Per layer kept indices for the adaptive structure.
std::vector<std::vector<int64_t>> keep_adaptive(const std::vector<at::Tensor>& scores, double ratio);

/// The pruned FFN: rows `kept` of gate/up, columns `kept` of down, and (when `mean` is defined)
/// the compensation bias W_down[:, removed] · mean[removed] added to any existing down bias.
std::shared_ptr<SwiGluFfn> prune_ffn(const SwiGluFfn& dense, const std::vector<int64_t>& kept,
                                     const at::Tensor& mean, at::ScalarType dtype);

/// Per-layer kept channels of `model` for `stats` and settings (ratio, structure, metric).
std::vector<std::vector<int64_t>> select_channels(const LlamaModel& model, const FfnStats& stats,
                                                  const PruneSettings& settings);
/// A model sharing `model`'s trunk whose FFNs are pruned (DIVE-FLAP).
std::shared_ptr<LlamaModel> prune_model(const LlamaModel& model, const FfnStats& stats,
                                        const PruneSettings& settings);

}  // namespace den2moe
