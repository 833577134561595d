// Pure adapters of the conversion and routing views. The routing functions apply the engine's text
// policy (core/text.h): chips are grapheme spans with a stripe per token, tooltips and CSV carry each
// token's bytes as the tokenizer's repaired text plus hex, so the app, its CSV and its images group
// tokens exactly as `den2moe route` does.
#include "moe_adapters.h"

#include <QObject>

#include <algorithm>
#include <cmath>

namespace den2moe::ui {

QColor expertColor(int e, int n) {
    static const QColor kPalette[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0x2c, 0xa0, 0x2c),
                                      QColor(0xd6, 0x27, 0x28), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
                                      QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f), QColor(0xbc, 0xbd, 0x22),
                                      QColor(0x17, 0xbe, 0xcf)};
    if (e < 0) return QColor(0xdd, 0xdd, 0xdd);
    if (n <= 10) return kPalette[e % 10];
    return QColor::fromHsv((e * 360 / std::max(n, 1)) % 360, 170, 220);
}

QString expertLabel(const bridge::MoeModelInfo& info, int e) {
    QString s = QStringLiteral("e%1").arg(e);
    if (e >= 0 && static_cast<size_t>(e) < info.members.size() && !info.members[size_t(e)].empty()) {
        QStringList names;
        for (const auto& d : info.members[size_t(e)]) names << QString::fromStdString(d);
        s += QStringLiteral(" · ") + names.join(QStringLiteral(", "));
    }
    return s;
}

QString displayPiece(const std::string& piece, text::Repair how) {
    QString s = QString::fromStdString(text::display(piece, how));
    s.replace(QChar(0x2581), QLatin1Char(' '));
    return s;
}

std::vector<RoutingChip> routingChips(const RoutingTrace& t, int layer) {
    std::vector<RoutingChip> chips;
    const bool haveLayer = layer >= 0 && static_cast<size_t>(layer) < t.picks.size();
    for (const auto& span : routing_spans(t)) {
        RoutingChip c;
        c.firstToken = static_cast<int>(span.first);
        c.lastToken = static_cast<int>(span.last);
        c.text = displayPiece(span.bytes, t.repair);
        if (c.text.isEmpty()) {  // BOS, EOS, a prefix space stripped after BOS: the vocabulary piece
            c.text = span.first < t.vocab.size() ? displayPiece(t.vocab[span.first], t.repair)
                     : span.first == 0          ? QStringLiteral("<s>")
                                                : QStringLiteral("\u2205");
        }
        for (size_t i = span.first; i < span.last; ++i) {
            int e = -1;
            float w = 0;
            if (haveLayer && i < t.picks[size_t(layer)].size() && !t.picks[size_t(layer)][i].empty()) {
                e = t.picks[size_t(layer)][i].front().expert;
                w = t.picks[size_t(layer)][i].front().weight;
            }
            c.experts.push_back(e);
            c.weights.push_back(w);
            c.colors.push_back(expertColor(e, t.n_experts));
        }
        c.expert = c.experts.front();
        c.weight = c.weights.front();
        c.color = c.colors.front();
        chips.push_back(std::move(c));
    }
    return chips;
}

std::vector<std::vector<int>> routingHeatCells(const RoutingTrace& t) {
    std::vector<std::vector<int>> cells(t.picks.size());
    for (size_t l = 0; l < t.picks.size(); ++l) {
        for (const auto& picks : t.picks[l]) cells[l].push_back(picks.empty() ? -1 : picks.front().expert);
    }
    return cells;
}

QString routingTooltip(const RoutingTrace& t, int token, const bridge::MoeModelInfo* info) {
    if (token < 0 || static_cast<size_t>(token) >= t.pieces.size()) return {};
    QStringList lines;
    lines << QStringLiteral("<b>'%1'</b> (id %2)")
                 .arg(displayPiece(t.pieces[size_t(token)], t.repair).toHtmlEscaped())
                 .arg(token < static_cast<int>(t.ids.size()) ? t.ids[size_t(token)] : -1);
    for (const auto& span : routing_spans(t)) {
        if (static_cast<size_t>(token) < span.first || static_cast<size_t>(token) >= span.last) continue;
        if (span.last - span.first > 1) {
            lines << QStringLiteral("token %1 of %2 of '%3'")
                         .arg(token - int(span.first) + 1)
                         .arg(int(span.last - span.first))
                         .arg(displayPiece(span.bytes, t.repair).toHtmlEscaped());
        }
    }
    for (size_t l = 0; l < t.picks.size(); ++l) {
        if (static_cast<size_t>(token) >= t.picks[l].size()) continue;
        QStringList experts;
        for (const auto& re : t.picks[l][size_t(token)]) {
            const QString name = info ? expertLabel(*info, re.expert) : QStringLiteral("e%1").arg(re.expert);
            experts << QStringLiteral("%1 %2").arg(name.toHtmlEscaped()).arg(re.weight, 0, 'f', 2);
        }
        lines << QStringLiteral("L%1: %2").arg(l < t.moe_layers.size() ? t.moe_layers[l] : int(l)).arg(experts.join(QStringLiteral("; ")));
    }
    return lines.join(QStringLiteral("<br>"));
}

static QString csvField(QString s) {
    if (s.contains(QLatin1Char(',')) || s.contains(QLatin1Char('"')) || s.contains(QLatin1Char('\n'))) {
        s.replace(QLatin1Char('"'), QStringLiteral("\"\""));
        return QLatin1Char('"') + s + QLatin1Char('"');
    }
    return s;
}

QString routingCsv(const RoutingTrace& t) {
    const auto spans = routing_spans(t);
    std::vector<size_t> spanOf(t.pieces.size(), 0);
    for (size_t s = 0; s < spans.size(); ++s) {
        for (size_t i = spans[s].first; i < spans[s].last && i < spanOf.size(); ++i) spanOf[i] = s;
    }
    QString out = QStringLiteral("token,piece,layer,rank,expert,weight,id,span,span_text,hex\n");
    for (size_t l = 0; l < t.picks.size(); ++l) {
        for (size_t i = 0; i < t.picks[l].size(); ++i) {
            const std::string bytes = i < t.pieces.size() ? t.pieces[i] : std::string();
            const QString piece = csvField(QString::fromStdString(text::repair(bytes, t.repair)));
            const size_t s = i < spanOf.size() ? spanOf[i] : 0;
            const QString spanText = s < spans.size() ? csvField(QString::fromStdString(spans[s].text)) : QString();
            const QString hex = text::is_valid_utf8(bytes) ? QString() : QString::fromStdString(text::hex(bytes));
            for (size_t r = 0; r < t.picks[l][i].size(); ++r) {
                out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8,%9,%10\n")
                           .arg(i)
                           .arg(piece)
                           .arg(l < t.moe_layers.size() ? t.moe_layers[l] : int(l))
                           .arg(r)
                           .arg(t.picks[l][i][r].expert)
                           .arg(double(t.picks[l][i][r].weight), 0, 'g', 6)
                           .arg(i < t.ids.size() ? t.ids[i] : -1)
                           .arg(s)
                           .arg(spanText)
                           .arg(hex);
            }
        }
    }
    return out;
}

QString routingComparisonNote(const bridge::MoeModelInfo& a, const bridge::MoeModelInfo& b, const RoutingTrace* ta,
                              const RoutingTrace* tb) {
    QStringList parts;
    if (ta && tb && ta->moe_layers.size() != tb->moe_layers.size()) {
        parts << QObject::tr("%1 vs %2 MoE layers").arg(ta->moe_layers.size()).arg(tb->moe_layers.size());
    } else if ((!ta || !tb) && a.n_layers != b.n_layers) {
        parts << QObject::tr("%1 vs %2 layers").arg(a.n_layers).arg(b.n_layers);
    }
    if (a.n_experts != b.n_experts) parts << QObject::tr("%1 vs %2 experts").arg(a.n_experts).arg(b.n_experts);
    if (a.top_k != b.top_k) parts << QObject::tr("top-%1 vs top-%2").arg(a.top_k).arg(b.top_k);
    if (parts.isEmpty()) return {};
    return QObject::tr("The two models differ: %1. Each has its own layer selector; expert numbers and colours "
                       "are each model's own.")
        .arg(parts.join(QStringLiteral(", ")));
}

QString expertLoadCsv(const ExpertLoad& el) {
    QString out = QStringLiteral("domain,layer,expert,share\n");
    for (size_t d = 0; d < el.domains.size(); ++d) {
        for (size_t l = 0; l < el.moe_layers.size(); ++l) {
            for (int e = 0; e < el.n_experts; ++e) {
                out += QStringLiteral("%1,%2,%3,%4\n")
                           .arg(csvField(QString::fromStdString(el.domains[d])))
                           .arg(el.moe_layers[l])
                           .arg(e)
                           .arg(el.at(d, l, size_t(e)), 0, 'g', 6);
            }
        }
    }
    return out;
}

}  // namespace den2moe::ui
