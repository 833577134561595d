// Pure adapters of the routing and expert-load views (no widgets): RoutingTrace / ExpertLoad -> chips,
// heat-strip cells, legend labels, tooltips and CSV text. (The conversion plan is the engine's:
// convert/plan.h.)
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
/// What differs between two routed models, for the comparison views: MoE layer counts (from the traces
/// when given, they list the routing layers), expert counts and top-k. Empty when nothing differs.
QString routingComparisonNote(const bridge::MoeModelInfo& a, const bridge::MoeModelInfo& b,
                              const RoutingTrace* traceA = nullptr, const RoutingTrace* traceB = nullptr);
/// domain,layer,expert,share rows.
QString expertLoadCsv(const ExpertLoad& load);

}  // namespace den2moe::ui
