// Embedding-training arithmetic (differentiable ATen ops, any dtype in, float32 out):
//   pool_embeddings  final hidden states [B, T, D] -> L2-normalised embeddings [B, D]: the last real
//                    token (left padding: position T-1) or the mean over real tokens
//   infonce_loss     mean over anchors of CE(a·cᵀ/τ, target): each anchor scored against every
//                    candidate (all positives and hard negatives of the batch = in-batch negatives)
//   cosine_mse_loss  mean((cos(a, b) − label)²), the Den2MoEE dense phase's / SBERT's CosineSimilarityLoss
//   distill_loss     how far embeddings moved from the start model's (per text, or their Gram matrix)
// and Den2MoEE's budget-bias update (DEN2MOEE.md §1.3), a no-gradient rule on per-expert counts.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe {

/// h [B, T, D], mask [B, T] (1 = token; left padding) -> float32 [B, D], unit L2 norm.
/// pooling: "last" | "mean".
at::Tensor pool_embeddings(const at::Tensor& h, const at::Tensor& mask, const std::string& pooling);

/// anchors [B, D], candidates [C, D] (unit norm), target [B] int64 (the candidate row of each
/// anchor's positive) -> scalar float32 loss.
at::Tensor infonce_loss(const at::Tensor& anchors, const at::Tensor& candidates, const at::Tensor& target,
                        double tau);

/// a [B, D], b [B, D], label [B] -> scalar float32 loss (a, b need not be normalised).
at::Tensor cosine_mse_loss(const at::Tensor& a, const at::Tensor& b, const at::Tensor& label);

/// The distillation term of training.distill, e and e0 [N, D] unit-norm (e0: the start model's, no
/// gradient): "embedding" = mean_i (1 − e_i·e0_i); "similarity" = mean_ij (e_i·e_j − e0_i·e0_j)².
at::Tensor distill_loss(const at::Tensor& e, const at::Tensor& e0, const std::string& kind);

/// Indices 0..N-1 of texts with token counts `lengths` in at most `max_groups` groups that each run as
/// one batch padded to its longest text: the groups minimise (padded tokens computed + `group_cost`
/// per group); texts sorted by length (ties by index), the cut points by dynamic programming (O(K·N²)).
/// Groups in ascending length; one group (all texts) when cutting does not pay.
std::vector<std::vector<int64_t>> length_groups(const std::vector<int64_t>& lengths, int64_t max_groups,
                                                int64_t group_cost);

/// Den2MoEE's budget-bias update (DEN2MOEE.md §1.3, `update_budget_bias`), in place, no gradient:
///   w_i = 1 + β·budget_score_i, ideal_i = (K_e/K)·w_i/Σw, actual_i = T_i/(K·T_all),
///   budget_bias_i += η·(ideal_i − actual_i)
/// counts [R] = selections of each routed expert (summed over all data-parallel ranks by the caller),
/// T_all = Σ counts (the release's definition) or `tokens` when `t_all_tokens` (the probable intent).
/// budget_bias and budget_score [R] float32.
void update_budget_bias(at::Tensor& budget_bias, const at::Tensor& budget_score, const at::Tensor& counts,
                        double k, double k_e, double beta, double eta, bool t_all_tokens = false, int64_t tokens = 0);

/// Den2MoEE's α ramp (DEN2MOEE.md §1.3): the prior scale used in training step n (1-based): the
/// largest of {0.3, 0.6, 1.0} that is <= (n − 1)/warmup, else `init` (the converted model's α).
/// warmup 30: 0 for n <= 9, 0.3 for n = 10..18, 0.6 for n = 19..30, 1.0 from n = 31. The release
/// counts router forward calls; we count optimizer steps (one forward per step without grad_accum).
double den2moee_alpha(int64_t step, int64_t warmup, double init);

}  // namespace den2moe
