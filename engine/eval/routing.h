// Routing traces: which experts each token of a text goes to, layer by layer, with the routing
// weights — observed at the forward pass's router_probs hook site (no second forward path).
// Plain std types in the result (the GUI's routing demo shows it directly).
#pragma once

#include <string>
#include <vector>

namespace den2moe {

class LlamaModel;
class Tokenizer;

struct RoutedExpert {
    int expert = 0;
    float weight = 0.0f;
};

struct RoutingTrace {
    std::vector<int> ids;                                  ///< tokens (BOS first)
    std::vector<std::string> pieces;                       ///< their text pieces
    int n_layers = 0, n_experts = 0;
    std::vector<int> moe_layers;                           ///< layers that route (MoE blocks)
    /// [moe layer][token] -> selected experts, heaviest first
    std::vector<std::vector<std::vector<RoutedExpert>>> picks;
    /// [moe layer][expert] -> fraction of tokens that selected it
    std::vector<std::vector<double>> load;
};

/// Encode `text` (with BOS), run one forward pass and collect the routing of every MoE layer.
/// Throws Error(Incompatible) when the model has no MoE layer.
RoutingTrace trace_routing(const LlamaModel& model, const Tokenizer& tok, const std::string& text);

}  // namespace den2moe
