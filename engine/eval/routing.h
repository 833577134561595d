// Routing traces: which experts each token of a text goes to, layer by layer, with the routing
// weights — observed at the forward pass's router_probs hook site (no second forward path).
// Plain std types in the result (the GUI's routing demo shows it directly).
#pragma once

#include "core/text.h"

#include <string>
#include <vector>

#include "data/corpus.h"

namespace den2moe {

class LlamaModel;
class Tokenizer;

struct RoutedExpert {
    int expert = 0;
    float weight = 0.0f;
};

struct RoutingTrace {
    std::vector<int> ids;                                  ///< tokens (BOS first)
    /// The bytes each token adds to the decoded text (decode_piece; "" for BOS/EOS). Bytes, not
    /// text: a token may end inside a UTF-8 character (show with text::display, write with repair).
    std::vector<std::string> pieces;
    std::vector<std::string> vocab;                        ///< vocabulary pieces ("▁two", "<0xE5>", "<s>")
    std::vector<text::TokenSpan> spans;                    ///< tokens grouped by grapheme cluster
    text::Repair repair = text::Repair::MaximalSubpart;    ///< the tokenizer's rule for ill-formed bytes
    int n_layers = 0, n_experts = 0;
    std::vector<int> moe_layers;                           ///< layers that route (MoE blocks)
    /// [moe layer][token] -> selected experts, heaviest first
    std::vector<std::vector<std::vector<RoutedExpert>>> picks;
    /// [moe layer][expert] -> fraction of tokens that selected it
    std::vector<std::vector<double>> load;
};

/// Expert load per domain: the share of each domain's evaluation token-slots (tokens × top-k) that
/// each expert receives, per MoE layer. share[(d * moe_layers + l) * n_experts + e]; rows sum to 1.
struct ExpertLoad {
    std::vector<std::string> domains;
    std::vector<int> moe_layers;
    int n_experts = 0;
    std::vector<double> share;
    double at(size_t d, size_t l, size_t e) const {
        return share[(d * moe_layers.size() + l) * static_cast<size_t>(n_experts) + e];
    }
};

/// One forward pass per batch of `seq`-token windows over each domain's first `max_tokens` evaluation
/// tokens (BOS text EOS records, as perplexity reads them), counting router_probs selections.
/// `corpora[d]` is domain d's text exactly as mining reads it (files, format, template).
ExpertLoad expert_load(const LlamaModel& model, const Tokenizer& tok, const std::vector<std::string>& names,
                       const std::vector<CorpusSpec>& corpora, int64_t max_tokens, int64_t seq, int64_t batch);

/// The spans of `trace` (its `spans`, or grouped from `pieces` when a hand-made trace has none).
std::vector<text::TokenSpan> routing_spans(const RoutingTrace& trace);

/// Encode `text` (with BOS), run one forward pass and collect the routing of every MoE layer.
/// Throws Error(Incompatible) when the model has no MoE layer.
RoutingTrace trace_routing(const LlamaModel& model, const Tokenizer& tok, const std::string& text);

}  // namespace den2moe
