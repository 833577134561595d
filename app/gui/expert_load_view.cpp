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

double ExpertLoadCanvas::cellValue(const ExpertLoad& el, int layer, size_t d, int e) {
    if (layer >= 0) return el.at(d, size_t(layer), size_t(e));
    double s = 0;
    for (size_t l = 0; l < el.moe_layers.size(); ++l) s += el.at(d, l, size_t(e));
    return el.moe_layers.empty() ? 0.0 : s / double(el.moe_layers.size());
}

int ExpertLoadCanvas::paintAll(QPainter& p, int width, bool record) {
    const QFontMetrics fm(font());
    p.setFont(font());
    const int margin = 8;
    if (!m_load || m_load->domains.empty() || m_load->n_experts <= 0) {
        p.setPen(Qt::gray);
        p.drawText(QRect(margin, margin, width - 2 * margin, 24), Qt::AlignLeft | Qt::AlignVCenter,
                   tr("No expert load yet: run the Experts step."));
        return 40;
    }
    const ExpertLoad& el = *m_load;
    int labelW = 0;
    for (const auto& d : el.domains) labelW = std::max(labelW, fm.horizontalAdvance(QString::fromStdString(d)));
    labelW += 10;
    const int E = el.n_experts;
    const int scaleW = 60;
    const int cellW = std::max(28, std::min(80, (width - 2 * margin - labelW - scaleW) / E));
    const int cellH = 24;
    int y = margin;
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

ExpertLoadView::ExpertLoadView(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("expertLoadView"));
    m_layer = new QComboBox(this);
    m_layer->setObjectName(QStringLiteral("expertLoadLayer"));
    m_canvas = new ExpertLoadCanvas(this);
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Layer"), this));
    top->addWidget(m_layer);
    top->addStretch(1);
    auto* lay = new QVBoxLayout(this);
    lay->addLayout(top);
    lay->addWidget(m_canvas, 1);
    connect(m_layer, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    refresh();
}

void ExpertLoadView::setLoad(const ExpertLoad& load, const bridge::MoeModelInfo* info) {
    m_load = load;
    m_hasInfo = info != nullptr;
    if (info) m_info = *info;
    m_layer->blockSignals(true);
    m_layer->clear();
    m_layer->addItem(tr("mean"), -1);
    for (size_t l = 0; l < m_load.moe_layers.size(); ++l) m_layer->addItem(QString::number(m_load.moe_layers[l]), int(l));
    m_layer->blockSignals(false);
    refresh();
}

int ExpertLoadView::selectedLayer() const { return m_layer->currentIndex() <= 0 ? -1 : m_layer->currentData().toInt(); }

void ExpertLoadView::refresh() { m_canvas->setLoad(&m_load, m_hasInfo ? &m_info : nullptr, selectedLayer()); }

bool ExpertLoadView::exportImage(const QString& path, int width, QString* error) {
    if (width <= 0) width = std::max(m_canvas->width(), 800);
    return exportPainted(path, width, [this](QPainter& p, int w, bool rec) { return m_canvas->paintAll(p, w, rec); },
                         error);
}

bool ExpertLoadView::exportCsv(const QString& path, QString* error) {
    return writeTextFile(path, expertLoadCsv(m_load), error);
}

}  // namespace den2moe::ui
