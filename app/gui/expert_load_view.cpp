#include "expert_load_view.h"

#include "csv_export.h"
#include "moe_adapters.h"
#include "routing_view.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QPainter>
#include <QScrollArea>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace den2moe::ui {

QColor viridisColor(double t) {
    static const int kStops[11][3] = {{68, 1, 84},    {72, 33, 115},  {67, 62, 133},  {56, 88, 140},
                                      {45, 112, 142}, {37, 133, 142}, {30, 155, 138}, {42, 176, 127},
                                      {82, 197, 105}, {134, 213, 73}, {253, 231, 37}};
    if (!std::isfinite(t)) return QColor(0xdd, 0xdd, 0xdd);
    t = std::clamp(t, 0.0, 1.0) * 10.0;
    const int i = std::min(9, int(t));
    const double f = t - i;
    return QColor(int(kStops[i][0] + f * (kStops[i + 1][0] - kStops[i][0])),
                  int(kStops[i][1] + f * (kStops[i + 1][1] - kStops[i][1])),
                  int(kStops[i][2] + f * (kStops[i + 1][2] - kStops[i][2])));
}

ExpertLoadCanvas::ExpertLoadCanvas(QWidget* parent) : QWidget(parent) { setMouseTracking(true); }

void ExpertLoadCanvas::setLoad(const ExpertLoad* load, const bridge::MoeModelInfo* info, int layer) {
    m_load = load;
    m_info = info;
    m_layer = layer;
    updateGeometry();
    update();
}

void ExpertLoadCanvas::setTitle(const QString& title) {
    m_title = title;
    updateGeometry();
    update();
}

double ExpertLoadCanvas::cellValue(const ExpertLoad& el, int layer, size_t d, int e) {
    return expert_share(el, layer, d, e);
}

int ExpertLoadCanvas::paintAll(QPainter& p, int width, bool record) {
    const QFontMetrics fm(font());
    p.setFont(font());
    const int margin = 8;
    int y = margin;
    if (!m_title.isEmpty()) {
        QFont bold = font();
        bold.setBold(true);
        p.setFont(bold);
        const QFontMetrics bfm(bold);
        p.setPen(Qt::black);
        p.drawText(QRect(margin, y, width - 2 * margin, bfm.height()), Qt::AlignLeft | Qt::AlignVCenter,
                   bfm.elidedText(m_title, Qt::ElideMiddle, width - 2 * margin));
        y += bfm.height() + 4;
        p.setFont(font());
    }
    if (!m_load || m_load->domains.empty() || m_load->n_experts <= 0) {
        p.setPen(Qt::gray);
        p.drawText(QRect(margin, y, width - 2 * margin, 24), Qt::AlignLeft | Qt::AlignVCenter,
                   tr("No expert load yet: run the Experts step."));
        return y + 32;
    }
    const ExpertLoad& el = *m_load;
    int labelW = 0;
    for (const auto& d : el.domains) labelW = std::max(labelW, fm.horizontalAdvance(QString::fromStdString(d)));
    labelW += 10;
    const int E = el.n_experts;
    const int scaleW = 60;
    const int cellW = std::max(28, std::min(80, (width - 2 * margin - labelW - scaleW) / E));
    const int cellH = 24;
    p.setPen(Qt::black);
    const QString title = m_layer >= 0 && size_t(m_layer) < el.moe_layers.size()
                              ? tr("Share of each domain's token-slots per expert, layer %1").arg(el.moe_layers[size_t(m_layer)])
                              : tr("Share of each domain's token-slots per expert, mean over layers");
    p.drawText(QRect(margin, y, width - 2 * margin, fm.height()), Qt::AlignLeft, title);
    y += fm.height() + 6;
    // expert header
    for (int e = 0; e < E; ++e) {
        p.drawText(QRect(margin + labelW + e * cellW, y, cellW, fm.height()), Qt::AlignCenter, QStringLiteral("e%1").arg(e));
    }
    y += fm.height() + 2;
    const QRect grid(margin + labelW, y, E * cellW, int(el.domains.size()) * cellH);
    for (size_t d = 0; d < el.domains.size(); ++d) {
        p.setPen(Qt::black);
        p.drawText(QRect(margin, y, labelW - 6, cellH), Qt::AlignRight | Qt::AlignVCenter,
                   QString::fromStdString(el.domains[d]));
        for (int e = 0; e < E; ++e) {
            const double v = cellValue(el, m_layer, d, e);
            const QColor c = viridisColor(v);
            const QRect r(margin + labelW + e * cellW, y, cellW - 1, cellH - 1);
            p.fillRect(r, c);
            p.setPen(c.lightnessF() > 0.55 ? Qt::black : Qt::white);
            p.drawText(r, Qt::AlignCenter, QString::number(v, 'f', 2));
        }
        y += cellH;
    }
    // colour scale 0..1
    const int sx = grid.right() + 16;
    for (int i = 0; i < grid.height(); ++i) {
        p.setPen(viridisColor(1.0 - double(i) / std::max(1, grid.height() - 1)));
        p.drawLine(sx, grid.top() + i, sx + 12, grid.top() + i);
    }
    p.setPen(Qt::black);
    p.drawText(QPoint(sx + 16, grid.top() + fm.ascent()), QStringLiteral("1"));
    p.drawText(QPoint(sx + 16, grid.bottom()), QStringLiteral("0"));
    y += 8;
    // legend of the experts' clusters
    if (m_info) {
        for (int e = 0; e < E; ++e) {
            if (size_t(e) >= m_info->members.size()) break;
            p.drawText(QRect(margin, y, width - 2 * margin, fm.height()), Qt::AlignLeft, expertLabel(*m_info, e));
            y += fm.height();
        }
    }
    if (record) {
        m_grid = grid;
        m_cellW = cellW;
        m_cellH = cellH;
    }
    return y + margin;
}

QSize ExpertLoadCanvas::sizeHint() const {
    QImage probe(1, 1, QImage::Format_ARGB32);
    QPainter p(&probe);
    return QSize(700, const_cast<ExpertLoadCanvas*>(this)->paintAll(p, 700, false));
}

bool ExpertLoadCanvas::cellAt(const QPoint& pos, int* domain, int* expert) const {
    if (!m_load || m_cellW <= 0 || !m_grid.contains(pos)) return false;
    *domain = (pos.y() - m_grid.top()) / m_cellH;
    *expert = (pos.x() - m_grid.left()) / m_cellW;
    return *domain < int(m_load->domains.size()) && *expert < m_load->n_experts;
}

void ExpertLoadCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    const int h = paintAll(p, width(), true);
    if (h != minimumHeight()) setMinimumHeight(h);
}

bool ExpertLoadCanvas::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        int d = 0, x = 0;
        if (cellAt(he->pos(), &d, &x)) {
            QString s = QStringLiteral("%1 → %2: %3")
                            .arg(QString::fromStdString(m_load->domains[size_t(d)]))
                            .arg(m_info ? expertLabel(*m_info, x) : QStringLiteral("e%1").arg(x))
                            .arg(cellValue(*m_load, m_layer, size_t(d), x), 0, 'f', 3);
            QToolTip::showText(he->globalPos(), s, this);
        } else {
            QToolTip::hideText();
        }
        return true;
    }
    return QWidget::event(e);
}

// ---- ExpertLoadDeltaCanvas ----

ExpertLoadDeltaCanvas::ExpertLoadDeltaCanvas(QWidget* parent) : QWidget(parent) {}

void ExpertLoadDeltaCanvas::setComparison(const ExpertLoadComparison* c) {
    m_c = c;
    updateGeometry();
    update();
}

QColor ExpertLoadDeltaCanvas::deltaColor(double delta, double scale) {
    if (!std::isfinite(delta)) return QColor(0xdd, 0xdd, 0xdd);
    const double t = std::clamp(delta / std::max(scale, 1e-12), -1.0, 1.0);
    // white at 0, #b2182b (more in b) and #2166ac (less in b) at the ends (ColorBrewer RdBu)
    const QColor end = t >= 0 ? QColor(0xb2, 0x18, 0x2b) : QColor(0x21, 0x66, 0xac);
    const double f = std::abs(t);
    return QColor(int(255 + f * (end.red() - 255)), int(255 + f * (end.green() - 255)), int(255 + f * (end.blue() - 255)));
}

int ExpertLoadDeltaCanvas::paintAll(QPainter& p, int width, bool) {
    const int margin = 8;
    p.setFont(font());
    const QFontMetrics fm(font());
    if (!m_c) return 0;
    const ExpertLoadComparison& c = *m_c;
    int y = margin;
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(Qt::black);
    auto layerName = [](int l) { return l < 0 ? tr("mean over layers") : tr("layer %1").arg(l); };
    p.drawText(QRect(margin, y, width - 2 * margin, fm.height()), Qt::AlignLeft,
               (c.same_experts ? tr("Change b − a: share of each domain's token-slots per expert (a: %1, b: %2)")
                               : tr("a and b per domain (a: %1, b: %2)"))
                   .arg(layerName(c.model_layer_a), layerName(c.model_layer_b)));
    p.setFont(font());
    y += fm.height() + 6;
    int labelW = fm.horizontalAdvance(tr("domain"));
    for (const auto& d : c.domains) labelW = std::max(labelW, fm.horizontalAdvance(QString::fromStdString(d)));
    labelW += 10;
    const int E = c.same_experts ? c.n_experts_a : 0;
    const int statW = 84;
    const int nStats = 5;  // TV, max share a / b, balance a / b
    const int cellW = E > 0 ? std::max(36, std::min(80, (width - 2 * margin - labelW - nStats * statW - 94) / E)) : 0;
    const int cellH = 24;
    double scale = 0.05;
    for (const auto& row : c.delta)
        for (double v : row) scale = std::max(scale, std::abs(v));
    const int digits = scale < 0.1 ? 3 : 2;  // small changes (a short stage) still read as numbers
    // header
    for (int e = 0; e < E; ++e)
        p.drawText(QRect(margin + labelW + e * cellW, y, cellW, fm.height()), Qt::AlignCenter, QStringLiteral("e%1").arg(e));
    const int statX = margin + labelW + E * cellW + (E > 0 ? 84 : 0);
    const QStringList statHead = {tr("TV distance"), tr("max share a"), tr("max share b"), tr("balance a"), tr("balance b")};
    for (int i = 0; i < nStats; ++i)
        p.drawText(QRect(statX + i * statW, y, statW, fm.height()), Qt::AlignCenter, statHead[i]);
    y += fm.height() + 2;
    const int gridTop = y;
    for (size_t d = 0; d < c.domains.size(); ++d) {
        p.setPen(Qt::black);
        p.drawText(QRect(margin, y, labelW - 6, cellH), Qt::AlignRight | Qt::AlignVCenter, QString::fromStdString(c.domains[d]));
        for (int e = 0; e < E; ++e) {
            const double v = c.delta[d][size_t(e)];
            const QColor col = deltaColor(v, scale);
            const QRect r(margin + labelW + e * cellW, y, cellW - 1, cellH - 1);
            p.fillRect(r, col);
            p.setPen(col.lightnessF() > 0.55 ? Qt::black : Qt::white);
            p.drawText(r, Qt::AlignCenter, QString::asprintf(digits == 3 ? "%+.3f" : "%+.2f", v));
        }
        p.setPen(Qt::black);
        const double stats[5] = {c.tv[d], c.max_share_a[d], c.max_share_b[d], c.balance_a[d], c.balance_b[d]};
        for (int i = 0; i < nStats; ++i) {
            const QString t = std::isfinite(stats[i]) ? QString::number(stats[i], 'f', 3) : QStringLiteral("—");
            p.drawText(QRect(statX + i * statW, y, statW, cellH), Qt::AlignCenter, t);
        }
        y += cellH;
    }
    if (E > 0) {  // the diverging scale
        const int sx = margin + labelW + E * cellW + 14;
        const int h = std::max(1, y - gridTop);
        for (int i = 0; i < h; ++i) {
            p.setPen(deltaColor(scale * (1.0 - 2.0 * i / std::max(1, h - 1)), scale));
            p.drawLine(sx, gridTop + i, sx + 12, gridTop + i);
        }
        p.setPen(Qt::black);
        p.drawText(QPoint(sx + 15, gridTop + fm.ascent()), QString::asprintf(digits == 3 ? "%+.3f" : "%+.2f", scale));
        p.drawText(QPoint(sx + 15, y), QString::asprintf(digits == 3 ? "%+.3f" : "%+.2f", -scale));
    }
    y += 6;
    p.setPen(QColor(0x55, 0x55, 0x55));
    const QString legend = E > 0 ? tr("Red: b sends more of the domain's slots to that expert slot, blue: fewer. TV distance = "
                                      "½ Σ|b − a| per domain (0 same, 1 disjoint); max share: the busiest expert's share; balance = "
                                      "entropy of the shares / ln(experts) (1 = uniform).")
                                 : tr("The runs have different experts: no per-expert change. Max share: the busiest "
                                      "expert's share; balance = entropy of the shares / ln(experts) (1 = uniform), "
                                      "comparable across expert counts.");
    const QRect lr = fm.boundingRect(QRect(margin, y, width - 2 * margin, 1000), Qt::TextWordWrap, legend);
    p.drawText(QRect(margin, y, width - 2 * margin, lr.height()), Qt::TextWordWrap, legend);
    y += lr.height();
    return y + margin;
}

QSize ExpertLoadDeltaCanvas::sizeHint() const {
    QImage probe(1, 1, QImage::Format_ARGB32);
    QPainter p(&probe);
    return QSize(700, const_cast<ExpertLoadDeltaCanvas*>(this)->paintAll(p, 700, false));
}

void ExpertLoadDeltaCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    const int h = paintAll(p, width(), true);
    if (h != minimumHeight()) setMinimumHeight(h);
}

// ---- ExpertLoadView ----

ExpertLoadView::ExpertLoadView(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("expertLoadView"));
    m_layer = new QComboBox(this);
    m_layer->setObjectName(QStringLiteral("expertLoadLayer"));
    m_compareLayer = new QComboBox(this);
    m_compareLayer->setObjectName(QStringLiteral("expertLoadCompareLayer"));
    m_compareLayerLabel = new QLabel(tr("Compared layer"), this);
    m_note = new QLabel(this);
    m_note->setObjectName(QStringLiteral("expertLoadCompareNote"));
    m_note->setWordWrap(true);
    m_note->setStyleSheet(QStringLiteral("color: #8a5a00"));
    auto* content = new QWidget(this);
    auto* contentLay = new QVBoxLayout(content);
    contentLay->setContentsMargins(0, 0, 0, 0);
    m_canvas = new ExpertLoadCanvas(content);
    m_compareCanvas = new ExpertLoadCanvas(content);
    m_compareCanvas->setObjectName(QStringLiteral("expertLoadCompareCanvas"));
    m_deltaCanvas = new ExpertLoadDeltaCanvas(content);
    m_deltaCanvas->setObjectName(QStringLiteral("expertLoadDeltaCanvas"));
    contentLay->addWidget(m_canvas);
    contentLay->addWidget(m_compareCanvas);
    contentLay->addWidget(m_deltaCanvas);
    contentLay->addStretch(1);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(content);
    scroll->setWidgetResizable(true);
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Layer"), this));
    top->addWidget(m_layer);
    top->addWidget(m_compareLayerLabel);
    top->addWidget(m_compareLayer);
    top->addStretch(1);
    auto* lay = new QVBoxLayout(this);
    lay->addLayout(top);
    lay->addWidget(m_note);
    lay->addWidget(scroll, 1);
    connect(m_layer, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(m_compareLayer, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    refresh();
}

namespace {
void fillLayerCombo(QComboBox* c, const ExpertLoad& load) {
    c->blockSignals(true);
    c->clear();
    c->addItem(QObject::tr("mean"), -1);
    for (size_t l = 0; l < load.moe_layers.size(); ++l) c->addItem(QString::number(load.moe_layers[l]), int(l));
    c->blockSignals(false);
}
}  // namespace

void ExpertLoadView::setLoad(const ExpertLoad& load, const bridge::MoeModelInfo* info) {
    m_load = load;
    m_hasInfo = info != nullptr;
    if (info) m_info = *info;
    fillLayerCombo(m_layer, m_load);
    refresh();
}

void ExpertLoadView::setCompareLoad(const ExpertLoad& load, const bridge::MoeModelInfo* info) {
    m_compareLoad = load;
    m_hasCompareInfo = info != nullptr;
    if (info) m_compareInfo = *info;
    m_comparing = true;
    fillLayerCombo(m_compareLayer, m_compareLoad);
    refresh();
}

void ExpertLoadView::clearCompareLoad() {
    m_comparing = false;
    m_compareLoad = ExpertLoad{};
    m_hasCompareInfo = false;
    fillLayerCombo(m_compareLayer, m_compareLoad);
    refresh();
}

int ExpertLoadView::selectedLayer() const { return m_layer->currentIndex() <= 0 ? -1 : m_layer->currentData().toInt(); }

int ExpertLoadView::selectedCompareLayer() const {
    return m_compareLayer->currentIndex() <= 0 ? -1 : m_compareLayer->currentData().toInt();
}

QString ExpertLoadView::comparisonNote() const {
    if (!m_comparing) return {};
    if (!m_comparison) return tr("No comparison: %1").arg(m_comparisonError);
    QStringList notes;
    for (const auto& n : m_comparison->notes) notes << QString::fromStdString(n);
    return notes.join(QStringLiteral("; "));
}

void ExpertLoadView::refresh() {
    m_canvas->setLoad(&m_load, m_hasInfo ? &m_info : nullptr, selectedLayer());
    m_comparison.reset();
    m_comparisonError.clear();
    if (m_comparing) {
        try {
            m_comparison = std::make_unique<ExpertLoadComparison>(
                compare_expert_load(m_load, selectedLayer(), m_compareLoad, selectedCompareLayer()));
        } catch (const std::exception& e) {
            m_comparisonError = QString::fromUtf8(e.what());
        }
    }
    m_canvas->setTitle(m_comparing ? QStringLiteral("a: ") + (m_hasInfo ? routingModelTitle(m_info) : tr("first run"))
                                   : QString());
    m_compareCanvas->setTitle(m_comparing ? QStringLiteral("b: ") +
                                                (m_hasCompareInfo ? routingModelTitle(m_compareInfo) : tr("second run"))
                                          : QString());
    m_compareCanvas->setLoad(m_comparing ? &m_compareLoad : nullptr, m_hasCompareInfo ? &m_compareInfo : nullptr,
                             selectedCompareLayer());
    m_deltaCanvas->setComparison(m_comparison.get());
    m_compareCanvas->setVisible(m_comparing);
    m_deltaCanvas->setVisible(m_comparison != nullptr);
    m_compareLayer->setVisible(m_comparing);
    m_compareLayerLabel->setVisible(m_comparing);
    const QString note = comparisonNote();
    m_note->setText(note);
    m_note->setVisible(!note.isEmpty());
}

bool ExpertLoadView::exportImage(const QString& path, int width, QString* error) {
    if (width <= 0) width = std::max(m_canvas->width(), 800);
    return exportPainted(path, width,
                         [this](QPainter& p, int w, bool rec) {
                             int h = 0;
                             const QString note = comparisonNote();
                             if (!note.isEmpty()) {
                                 const QFontMetrics fm(p.font());
                                 const QRect r = fm.boundingRect(QRect(8, 8, w - 16, 1000), Qt::TextWordWrap, note);
                                 p.setPen(QColor(0x8a, 0x5a, 0x00));
                                 p.drawText(QRect(8, 8, w - 16, r.height()), Qt::TextWordWrap, note);
                                 h = r.height() + 8;
                             }
                             p.save();
                             p.translate(0, h);
                             h += m_canvas->paintAll(p, w, rec);
                             p.restore();
                             if (m_comparing) {
                                 for (QWidget* c : {static_cast<QWidget*>(m_compareCanvas), static_cast<QWidget*>(m_deltaCanvas)}) {
                                     if (c == m_deltaCanvas && !m_comparison) continue;
                                     p.save();
                                     p.setPen(QPen(Qt::gray, 1));
                                     p.drawLine(8, h, w - 8, h);
                                     p.translate(0, h + 4);
                                     h += 4 + (c == m_deltaCanvas ? m_deltaCanvas->paintAll(p, w, rec)
                                                                  : m_compareCanvas->paintAll(p, w, rec));
                                     p.restore();
                                 }
                             }
                             return h;
                         },
                         error);
}

bool ExpertLoadView::exportCsv(const QString& path, QString* error) {
    if (m_comparing) {
        if (!m_comparison) {
            if (error) *error = tr("no comparison to export: %1").arg(m_comparisonError);
            return false;
        }
        return writeTextFile(path, QString::fromStdString(expert_load_comparison_csv(*m_comparison)), error);
    }
    return writeTextFile(path, expertLoadCsv(m_load), error);
}

}  // namespace den2moe::ui
