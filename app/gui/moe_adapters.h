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

/// One token of the routing view.
struct RoutingChip {
    QString text;     ///< the piece as shown (▁ -> space, control characters escaped)
    int expert = -1;  ///< top-1 expert at the chosen layer
    float weight = 0;
    QColor color;
};
QString displayPiece(const std::string& piece);
/// Chips for every token at MoE layer index `layer` (index into trace.moe_layers).
std::vector<RoutingChip> routingChips(const RoutingTrace& trace, int layer);
/// [moe layer][token] -> top-1 expert (-1 when a token has no pick).
std::vector<std::vector<int>> routingHeatCells(const RoutingTrace& trace);
/// Top-k experts and weights of `token` at every MoE layer, one line per layer.
QString routingTooltip(const RoutingTrace& trace, int token, const bridge::MoeModelInfo* info = nullptr);
/// token,piece,layer,rank,expert,weight rows.
QString routingCsv(const RoutingTrace& trace);
/// domain,layer,expert,share rows.
QString expertLoadCsv(const ExpertLoad& load);

}  // namespace den2moe::ui
