// Two expert loads side by side (the app's Expert load tab comparing two runs, e.g. before and after a
// training stage, or DIVE vs Den2MoEE): per domain, the share of its routed token-slots each expert gets
// on each side at a chosen MoE layer of that side (or the mean over its layers), and the difference.
// The sides may differ in experts and MoE layers: the per-expert delta is only defined when both have
// the same number of experts (expert e of one side is then compared with expert e of the other — the
// same slot, not necessarily the same domains); otherwise the comparison says why and gives the shares
// alone. Torch-free: plain numbers from two ExpertLoad results (eval/routing.h).
#pragma once

#include <string>
#include <vector>

#include "eval/routing.h"

namespace den2moe {

/// Share of domain `d`'s token-slots for expert `e` at MoE layer index `layer` (index into
/// moe_layers), or the mean over every MoE layer when `layer` < 0. 0 outside the load's range.
double expert_share(const ExpertLoad& load, int layer, size_t d, int e);

struct ExpertLoadComparison {
    std::vector<std::string> domains;  ///< the domains both sides measured, in side a's order
    std::vector<std::string> only_a, only_b;  ///< domains measured on one side only (not compared)
    int n_experts_a = 0, n_experts_b = 0;
    int layer_a = -1, layer_b = -1;    ///< the MoE layer index of each side (-1 = mean over its layers)
    int model_layer_a = -1, model_layer_b = -1;  ///< that layer's number in the model (-1 for the mean)
    size_t n_moe_layers_a = 0, n_moe_layers_b = 0;
    /// [domain][expert] shares of each side (rows sum to 1 over that side's experts).
    std::vector<std::vector<double>> share_a, share_b;
    bool same_experts = false;  ///< n_experts_a == n_experts_b: delta is defined
    /// [domain][expert] share_b - share_a (empty unless same_experts).
    std::vector<std::vector<double>> delta;
    /// Per domain: total variation distance 0.5 * sum_e |delta| in [0, 1] (NaN unless same_experts).
    std::vector<double> tv;
    /// Per domain: the largest share of one expert on each side (how concentrated the routing is).
    std::vector<double> max_share_a, max_share_b;
    /// Per domain: the normalised entropy of the shares on each side, in [0, 1] (1 = uniform over
    /// that side's experts): comparable across different expert counts.
    std::vector<double> balance_a, balance_b;
    /// What differs between the sides, one sentence each ("a has 4 experts, b has 8: ...").
    std::vector<std::string> notes;
};

/// Compares `a` at `layer_a` with `b` at `layer_b` (MoE layer indices, -1 = mean over that side's
/// layers). Throws Error(InvalidInput) naming the side for a layer outside its range or a load with no
/// domain or no expert.
ExpertLoadComparison compare_expert_load(const ExpertLoad& a, int layer_a, const ExpertLoad& b, int layer_b);

/// domain,expert,share_a,share_b,delta rows (delta empty when the expert counts differ; a side's share
/// empty for an expert it does not have).
std::string expert_load_comparison_csv(const ExpertLoadComparison& c);

}  // namespace den2moe
