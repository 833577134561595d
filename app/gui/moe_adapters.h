// Pure adapters of the conversion and routing views (no widgets): the conversion plan (expert widths,
// total vs active parameters, FLOPs per token) from the dense config and the clusters, and
// RoutingTrace / ExpertLoad -> chips, heat-strip cells, legend labels, tooltips and CSV text.
#pragma once

#include "engine_bridge.h"

#include <QColor>
#include <QString>
#include <QStringList>
#include <QVector>

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe::ui {

struct ExpertPlanRow {
    int expert = 0;
    QStringList domains;  ///< dive: the cluster's domains; others: empty ("all")
    int64_t width = 0;    ///< FFN channels of this expert, per layer
};

/// What a conversion will produce, computed before running it.
struct ConversionPlan {
    QString recipe;
    int n_experts = 0;  ///< 0 for a dense result (flap)
    int top_k = 0;
    std::vector<ExpertPlanRow> experts;
    int64_t dense_params = 0;
    int64_t total_params = 0;
    int64_t active_params = 0;
    /// Matmul FLOPs per token (2 × weights touched, lm_head included, the embedding lookup and the
    /// attention scores excluded), dense and converted.
    int64_t dense_flops = 0;
    int64_t active_flops = 0;
    QString error;  ///< non-empty when the settings cannot be converted (e.g. E not dividing F)
};

/// Parameters of the dense trunk besides the FFNs (embeddings, attention, norms, lm_head).
int64_t trunkParams(const LlamaConfig& cfg);
/// dive / dive-random: one expert per cluster, width ⌊F·(1−r)⌋ (+ a D-vector down bias with bias
/// compensation); random: E experts of F/E; upcycle: E copies of F; flap: one dense FFN of ⌊F·(1−r)⌋.
/// Routers: E × D per layer. Active = trunk + router + the top-k widest experts.
ConversionPlan planConversion(const LlamaConfig& cfg, const ProjectClusters& clusters, const ConvertSettings& s,
                              bool biasCompensation = true);

/// The colour of expert `e` of `n` (a qualitative palette; stable for a given n).
QColor expertColor(int e, int n);
/// "e3 · gsm8k, mmlu_stem" (the cluster's domains from provenance), or "e3" without members.
QString expertLabel(const bridge::MoeModelInfo& info, int e);

/// One chip of the routing view: a span of tokens that make whole grapheme clusters (core/text.h),
/// drawn as one chip with a stripe per token in that token's top-1 expert colour.
struct RoutingChip {
    QString text;         ///< the span as shown (text::display: a lone byte as <0xNN>, controls escaped)
    int firstToken = 0;   ///< tokens [firstToken, lastToken)
    int lastToken = 0;
    std::vector<int> experts;     ///< top-1 expert of each token at the chosen layer (-1: none)
    std::vector<float> weights;   ///< its routing weight
    std::vector<QColor> colors;   ///< expertColor of each
    int expert = -1;      ///< the first token's (experts[0])
    float weight = 0;
    QColor color;
    int tokenCount() const { return lastToken - firstToken; }
};
/// Token bytes as shown: text::display (ill-formed bytes as <0xNN>, \n, <U+200B>, ...), "▁" as a space.
QString displayPiece(const std::string& piece, text::Repair how = text::Repair::MaximalSubpart);
/// Chips for every span at MoE layer index `layer` (index into trace.moe_layers), in logical order.
std::vector<RoutingChip> routingChips(const RoutingTrace& trace, int layer);
/// [moe layer][token] -> top-1 expert (-1 when a token has no pick).
std::vector<std::vector<int>> routingHeatCells(const RoutingTrace& trace);
/// Top-k experts and weights of `token` at every MoE layer, one line per layer.
QString routingTooltip(const RoutingTrace& trace, int token, const bridge::MoeModelInfo* info = nullptr);
/// token,piece,layer,rank,expert,weight,id,span,span_text,hex rows: piece and span_text are valid
/// UTF-8 (the tokenizer's replacement rule), hex the token's bytes where they are not valid alone.
QString routingCsv(const RoutingTrace& trace);
/// domain,layer,expert,share rows.
QString expertLoadCsv(const ExpertLoad& load);

}  // namespace den2moe::ui
