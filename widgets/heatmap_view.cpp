#include "heatmap_view.h"

#include "plot_style.h"
#include "qcp.h"

#include <QComboBox>
#include <QEvent>
#include <QFontMetricsF>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPushButton>
#include <QShortcut>
#include <QStandardItemModel>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace den2moe::ui {

namespace {

bool isPermutation(const QVector<int>& order, int n) {
    if (order.size() != n) {
        return false;
    }
    QVector<char> seen(n, 0);
    for (int v : order) {
        if (v < 0 || v >= n || seen[v]) {
            return false;
        }
        seen[v] = 1;
    }
    return true;
}

QVector<int> identity(int n) {
    QVector<int> out(n);
    for (int i = 0; i < n; ++i) {
        out[i] = i;
    }
    return out;
}

QString formatValue(MatrixKind kind, double v) {
    if (std::isnan(v)) {
        return QStringLiteral("n/a");
    }
    if (kind == MatrixKind::Raw) {
        return QString::number(v, 'f', std::abs(v) >= 1000 ? 0 : 2);
    }
    return QString::number(v, 'f', 3);
}

// 1-2-5 ticks covering [lo, hi] for a logarithmic colour scale, where QCPAxisTickerLog would give
// only the powers of ten for a typical perplexity range of 5..200.
QSharedPointer<QCPAxisTickerText> logTicks(double lo, double hi) {
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    QVector<double> pos;
    QVector<QString> text;
    const int e0 = int(std::floor(std::log10(lo)));
    const int e1 = int(std::ceil(std::log10(hi)));
    for (int e = e0; e <= e1; ++e) {
        for (double m : {1.0, 2.0, 5.0}) {
            const double v = m * std::pow(10.0, e);
            if (v >= lo * 0.999 && v <= hi * 1.001) {
                pos << v;
                text << QString::number(v, 'g', 6);
            }
        }
    }
    if (pos.size() < 2) {  // a narrow range: its ends
        pos = {lo, hi};
        text = {QString::number(lo, 'g', 3), QString::number(hi, 'g', 3)};
    }
    ticker->setTicks(pos, text);
    ticker->setSubTickCount(0);
    return ticker;
}

// Contiguous runs [first, last] of display positions for which pred(position) holds.
template <typename Pred>
QVector<QPair<int, int>> runsOf(int n, Pred pred) {
    QVector<QPair<int, int>> runs;
    for (int p = 0; p < n; ++p) {
        if (!pred(p)) {
            continue;
        }
        if (!runs.isEmpty() && runs.last().second == p - 1) {
            runs.last().second = p;
        } else {
            runs.push_back({p, p});
        }
    }
    return runs;
}

constexpr int kMaxCellsWithSeparators = 40;

}  // namespace

QVector<QVector<double>> cellsFor(const MatrixViewData& data, MatrixKind kind,
                                  const QVector<int>& order) {
    QVector<QVector<double>> cells;
    if (!data.has(kind)) {
        return cells;
    }
    const QVector<int> ord = order.isEmpty() ? identity(data.n) : order;
    if (!isPermutation(ord, data.n)) {
        return cells;
    }
    const QVector<double>& m = data.values(kind);
    cells.resize(data.n);
    for (int r = 0; r < data.n; ++r) {
        cells[r].resize(data.n);
        for (int c = 0; c < data.n; ++c) {
            cells[r][c] = m[ord[r] * data.n + ord[c]];
        }
    }
    return cells;
}

QString matrixKindName(MatrixKind kind) {
    switch (kind) {
        case MatrixKind::Raw: return QStringLiteral("Raw PPL");
        case MatrixKind::Normalized: return QStringLiteral("Normalised PPL");
        case MatrixKind::Correlation: return QStringLiteral("Correlation");
    }
    return QString();
}

QString matrixKindScaleTitle(MatrixKind kind) {
    switch (kind) {
        case MatrixKind::Raw: return QStringLiteral("Perplexity");
        case MatrixKind::Normalized: return QStringLiteral("Normalised perplexity");
        case MatrixKind::Correlation: return QStringLiteral("Pearson correlation");
    }
    return QString();
}

HeatmapView::HeatmapView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);

    m_toolBar = new QWidget(this);
    auto* bar = new QHBoxLayout(m_toolBar);
    bar->setContentsMargins(6, 4, 6, 0);
    m_kindCombo = new QComboBox(m_toolBar);
    for (MatrixKind k : {MatrixKind::Raw, MatrixKind::Normalized, MatrixKind::Correlation}) {
        m_kindCombo->addItem(matrixKindName(k), QVariant::fromValue(int(k)));
    }
    m_kindCombo->setToolTip(tr("Which matrix the colours show"));
    m_orderCombo = new QComboBox(m_toolBar);
    m_orderCombo->addItem(tr("Dendrogram order"), int(Order::Dendrogram));
    m_orderCombo->addItem(tr("Project order"), int(Order::Project));
    m_orderCombo->setToolTip(
        tr("Order rows and columns by the dendrogram's leaves or as in the project"));
    m_hint = new QLabel(tr("Wheel: zoom · drag: pan · click: select"), m_toolBar);
    m_hint->setStyleSheet(QStringLiteral("color: #6b7280;"));
    m_resetButton = new QPushButton(tr("Reset zoom"), m_toolBar);
    m_resetButton->setToolTip(tr("Show the whole matrix (Ctrl+0 or double-click)"));
    bar->addWidget(new QLabel(tr("Matrix:"), m_toolBar));
    bar->addWidget(m_kindCombo);
    bar->addSpacing(8);
    bar->addWidget(m_orderCombo);
    bar->addStretch(1);
    bar->addWidget(m_hint);
    bar->addWidget(m_resetButton);
    layout->addWidget(m_toolBar);

    m_plot = new QCustomPlot(this);
    m_plot->setObjectName(QStringLiteral("heatmapPlot"));
    m_plot->setBackground(Qt::white);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setMouseTracking(true);
    m_plot->installEventFilter(this);
    m_plot->setMinimumSize(240, 200);
    layout->addWidget(m_plot, 1);

    QCPAxisRect* rect = m_plot->axisRect();
    rect->setupFullAxesBox(false);
    for (QCPAxis* axis : rect->axes()) {
        plotstyle::styleAxis(axis);
    }
    for (QCPAxis* axis : {m_plot->xAxis2, m_plot->yAxis2}) {
        axis->setTicks(false);
        axis->setTickLabels(false);
    }
    m_plot->yAxis->setRangeReversed(true);  // row 0 at the top, like a matrix and the dendrogram
    m_plot->yAxis2->setRangeReversed(true);
    m_plot->xAxis->setTickLabelRotation(-90);
    m_plot->xAxis->setTickLabelPadding(4);
    m_plot->yAxis->setTickLabelPadding(4);
    m_plot->xAxis->setLabelPadding(8);
    m_plot->yAxis->setLabelPadding(8);
    rect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    rect->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    rect->setRangeZoomFactor(0.85);
    rect->setMinimumMargins(QMargins(8, 8, 8, 8));

    m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    m_map->setInterpolate(false);  // crisp cells: the default bilinear smoothing blurs them
    m_map->setAntialiased(false);
    m_map->setTightBoundary(false);

    m_scale = new QCPColorScale(m_plot);
    m_plot->plotLayout()->addElement(0, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setBarWidth(14);
    plotstyle::styleAxis(m_scale->axis());
    m_scale->axis()->setTickLengthOut(4);
    m_scale->axis()->setLabelPadding(10);
    m_map->setColorScale(m_scale);
    auto* group = new QCPMarginGroup(m_plot);
    rect->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    m_plot->plotLayout()->setColumnSpacing(14);
    m_plot->plotLayout()->setColumnStretchFactor(1, 0.01);

    m_hoverRect = new QCPItemRect(m_plot);
    m_hoverRect->setLayer(QStringLiteral("overlay"));
    m_hoverRect->setPen(QPen(Qt::white, 2.0));
    m_hoverRect->setBrush(Qt::NoBrush);
    m_hoverRect->setSelectable(false);
    m_hoverRect->setVisible(false);

    connect(m_plot, &QCustomPlot::mouseMove, this, &HeatmapView::onPlotMouseMove);
    connect(m_plot, &QCustomPlot::mousePress, this, &HeatmapView::onPlotMousePress);
    connect(m_plot, &QCustomPlot::mouseRelease, this, &HeatmapView::onPlotMouseRelease);
    connect(m_plot, &QCustomPlot::afterLayout, this, &HeatmapView::updateLabelStep);
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { resetZoom(); });
    connect(m_plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this](const QCPRange&) { clampRanges(); });
    connect(m_plot->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this](const QCPRange&) { clampRanges(); });
    connect(m_resetButton, &QPushButton::clicked, this, &HeatmapView::resetZoom);
    connect(m_kindCombo, qOverload<int>(&QComboBox::activated), this,
            [this](int index) { setMatrixKind(MatrixKind(m_kindCombo->itemData(index).toInt())); });
    connect(m_orderCombo, qOverload<int>(&QComboBox::activated), this,
            [this](int index) { setOrderMode(Order(m_orderCombo->itemData(index).toInt())); });
    auto* reset = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_0), this);
    reset->setContext(Qt::WidgetWithChildrenShortcut);
    connect(reset, &QShortcut::activated, this, &HeatmapView::resetZoom);

    rebuild();
}

HeatmapView::~HeatmapView() = default;

void HeatmapView::setData(const MatrixViewData& data) {
    m_data = data;
    if (m_data.labels.size() != m_data.n) {
        // Keep the view usable with missing names: number the domains.
        m_data.labels.clear();
        for (int i = 0; i < m_data.n; ++i) {
            m_data.labels << QString::number(i);
        }
    }
    if (!m_data.has(m_kind)) {
        for (MatrixKind k : {MatrixKind::Raw, MatrixKind::Normalized, MatrixKind::Correlation}) {
            if (m_data.has(k)) {
                m_kind = k;
                break;
            }
        }
    }
    QVector<int> kept;
    for (int leaf : m_selected) {
        if (leaf < m_data.n) {
            kept << leaf;
        }
    }
    m_selected = kept;
    rebuild();
    resetZoom();
}

void HeatmapView::setMatrixKind(MatrixKind kind) {
    if (!m_data.has(kind) && m_data.n > 0) {
        updateToolBar();
        return;
    }
    if (kind == m_kind) {
        return;
    }
    m_kind = kind;
    rebuild();
    Q_EMIT matrixKindChanged(kind);
}

void HeatmapView::setLeafOrder(const QVector<int>& leaves) {
    m_leafOrder = leaves;
    rebuild();
}

void HeatmapView::setOrderMode(Order order) {
    if (order == m_orderMode) {
        return;
    }
    m_orderMode = order;
    rebuild();
    Q_EMIT orderModeChanged(order);
}

QVector<int> HeatmapView::displayOrder() const {
    return m_order;
}

void HeatmapView::setClusterAssignment(const ClusterAssignment& clusters) {
    m_clusters = clusters;
    updateOverlays();
    m_plot->replot();
}

void HeatmapView::setSelectedLeaves(const QVector<int>& leaves) {
    const QVector<int> sel = sanitizeLeaves(leaves, m_data.n);
    if (sel == m_selected) {
        return;
    }
    m_selected = sel;
    updateOverlays();
    m_plot->replot();
    Q_EMIT selectionChanged(m_selected);
}

QString HeatmapView::cellToolTip(int row, int col) const {
    if (row < 0 || col < 0 || row >= m_data.n || col >= m_data.n) {
        return QString();
    }
    QStringList lines;
    lines << QStringLiteral("%1 → %2").arg(m_data.labels[row], m_data.labels[col]);
    if (m_data.has(MatrixKind::Raw)) {
        lines << tr("raw PPL: %1")
                     .arg(formatValue(MatrixKind::Raw, m_data.at(MatrixKind::Raw, row, col)));
    }
    if (m_data.has(MatrixKind::Normalized)) {
        lines << tr("normalised: %1")
                     .arg(formatValue(MatrixKind::Normalized,
                                      m_data.at(MatrixKind::Normalized, row, col)));
    }
    if (m_data.has(MatrixKind::Correlation)) {
        lines << tr("correlation: %1")
                     .arg(formatValue(MatrixKind::Correlation,
                                      m_data.at(MatrixKind::Correlation, row, col)));
    }
    if (m_clusters.labelOfLeaf.size() == m_data.n) {
        auto name = [this](int leaf) {
            const QString s = m_clusters.nameOf(m_clusters.labelOfLeaf[leaf]);
            return s.isEmpty() ? tr("none") : s;
        };
        lines << tr("clusters: %1 / %2").arg(name(row), name(col));
    }
    return lines.join(QLatin1Char('\n'));
}

bool HeatmapView::cellAt(const QPoint& plotPos, int* row, int* col) const {
    const int n = m_order.size();
    if (n == 0 || !m_plot->axisRect()->rect().contains(plotPos)) {
        return false;
    }
    const int c = int(std::floor(m_plot->xAxis->pixelToCoord(plotPos.x()) + 0.5));
    const int r = int(std::floor(m_plot->yAxis->pixelToCoord(plotPos.y()) + 0.5));
    if (r < 0 || c < 0 || r >= n || c >= n) {
        return false;
    }
    if (row) {
        *row = m_order[r];
    }
    if (col) {
        *col = m_order[c];
    }
    return true;
}

QPoint HeatmapView::cellCentre(int row, int col) const {
    const int r = m_order.indexOf(row);
    const int c = m_order.indexOf(col);
    if (r < 0 || c < 0) {
        return QPoint(-1, -1);
    }
    return QPoint(qRound(m_plot->xAxis->coordToPixel(c)), qRound(m_plot->yAxis->coordToPixel(r)));
}

QWidget* HeatmapView::plotWidget() const {
    return m_plot;
}

void HeatmapView::resetZoom() {
    const double n = std::max(1, int(m_order.size()));
    m_plot->xAxis->setRange(-0.5, n - 0.5);
    m_plot->yAxis->setRange(-0.5, n - 0.5);
    m_plot->replot();
}

bool HeatmapView::isZoomed() const {
    const double n = std::max(1, int(m_order.size()));
    const QCPRange full(-0.5, n - 0.5);
    auto same = [](const QCPRange& a, const QCPRange& b) {
        return std::abs(a.lower - b.lower) < 1e-9 && std::abs(a.upper - b.upper) < 1e-9;
    };
    return !same(m_plot->xAxis->range(), full) || !same(m_plot->yAxis->range(), full);
}

void HeatmapView::setRowRange(double lo, double hi) {
    m_plot->yAxis->setRange(lo, hi);
    m_plot->replot();
}

QMargins HeatmapView::plotMargins() const {
    return m_plot->axisRect()->margins();
}

void HeatmapView::setToolBarVisible(bool visible) {
    m_toolBar->setVisible(visible);
}

bool HeatmapView::exportTo(const QString& path, int width, int height, QString* error) {
    // QSvgGenerator ignores clipping (BUILD-RECIPE §4 pitfall 9): while zoomed, snap the view to
    // whole cells and hand the colour map only the visible ones, so nothing spills over the labels.
    const bool svg = path.endsWith(QLatin1String(".svg"), Qt::CaseInsensitive);
    const int n = m_order.size();
    if (!svg || n == 0 || !isZoomed()) {
        return plotstyle::exportPlot(m_plot, path, width, height, error);
    }
    const QCPRange xr = m_plot->xAxis->range();
    const QCPRange yr = m_plot->yAxis->range();
    const int c0 = std::clamp(int(std::floor(xr.lower + 0.5)), 0, n - 1);
    const int c1 = std::clamp(int(std::ceil(xr.upper - 0.5)), c0, n - 1);
    const int r0 = std::clamp(int(std::floor(yr.lower + 0.5)), 0, n - 1);
    const int r1 = std::clamp(int(std::ceil(yr.upper - 0.5)), r0, n - 1);
    m_clamping = true;
    m_plot->xAxis->setRange(c0 - 0.5, c1 + 0.5);
    m_plot->yAxis->setRange(r0 - 0.5, r1 + 0.5);
    m_clamping = false;
    fillColorMap(c0, c1, r0, r1);
    updateOverlays();
    const bool ok = plotstyle::exportPlot(m_plot, path, width, height, error);
    fillColorMap(0, n - 1, 0, n - 1);
    m_clamping = true;
    m_plot->xAxis->setRange(xr);
    m_plot->yAxis->setRange(yr);
    m_clamping = false;
    updateOverlays();
    m_plot->replot();
    return ok;
}

bool HeatmapView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_plot && event->type() == QEvent::Leave) {
        setHoverCell(-1, -1, QPoint());
    }
    return QWidget::eventFilter(watched, event);
}

void HeatmapView::rebuild() {
    const int n = m_data.n;
    m_order = (m_orderMode == Order::Dendrogram && isPermutation(m_leafOrder, n)) ? m_leafOrder
                                                                                  : identity(n);
    m_cells = cellsFor(m_data, m_kind, m_order);
    m_hoverRow = m_hoverCol = -1;
    m_hoverRect->setVisible(false);
    fillColorMap(0, n - 1, 0, n - 1);
    updateColorScale();
    updateTickLabels();
    updateOverlays();
    updateToolBar();
    m_plot->replot();
}

void HeatmapView::fillColorMap(int c0, int c1, int r0, int r1) {
    // Key = display column, value = display row; cell (c, r) is centred on integer coordinates.
    if (m_cells.isEmpty()) {
        m_map->data()->clear();
        return;
    }
    auto* data = new QCPColorMapData(c1 - c0 + 1, r1 - r0 + 1, QCPRange(c0, c1), QCPRange(r0, r1));
    for (int r = r0; r <= r1; ++r) {
        for (int c = c0; c <= c1; ++c) {
            data->setCell(c - c0, r - r0, m_cells[r][c]);
        }
    }
    m_map->setData(data, false);  // takes ownership
}

void HeatmapView::updateColorScale() {
    QCPAxis* axis = m_scale->axis();
    if (m_cells.isEmpty()) {
        axis->setLabel(QString());
        return;
    }
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const auto& row : m_cells) {
        for (double v : row) {
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
    }
    if (!std::isfinite(lo)) {
        lo = 0.0;
        hi = 1.0;
    }
    if (hi <= lo) {
        hi = lo + 1.0;
    }
    QString title = matrixKindScaleTitle(m_kind);
    if (m_kind == MatrixKind::Correlation) {
        // Signed and bounded: a diverging map centred on 0 keeps "uncorrelated" white.
        m_scale->setDataScaleType(QCPAxis::stLinear);
        m_scale->setGradient(plotstyle::diverging());
        m_scale->setDataRange(QCPRange(-1.0, 1.0));
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->ticker()->setTickCount(5);
    } else if (m_kind == MatrixKind::Raw && lo > 0 && hi / lo >= 5.0) {
        // Perplexities span orders of magnitude across domains: a linear map would flatten most.
        m_scale->setDataScaleType(QCPAxis::stLogarithmic);
        m_scale->setGradient(plotstyle::viridis());
        m_scale->setDataRange(QCPRange(lo, hi));
        axis->setTicker(logTicks(lo, hi));
        title += tr(" (log scale)");
    } else {
        m_scale->setDataScaleType(QCPAxis::stLinear);
        m_scale->setGradient(plotstyle::viridis());
        m_scale->setDataRange(QCPRange(lo, hi));
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->ticker()->setTickCount(6);
    }
    axis->setLabel(title);
}

void HeatmapView::updateTickLabels() {
    // Every m_labelStep-th name, so that labels never overlap when cells are shorter than the text;
    // the tooltip still names every cell.
    const int n = m_order.size();
    const int step = std::max(1, m_labelStep);
    QVector<double> pos;
    QVector<QString> text;
    for (int p = 0; p < n; p += step) {
        pos << p;
        text << m_data.labels.value(m_order[p]);
    }
    const bool separators = n <= kMaxCellsWithSeparators && step == 1;
    for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis}) {
        QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
        ticker->setTicks(pos, text);
        // One sub tick between labels = a cell border; the sub grid draws it as a white line.
        ticker->setSubTickCount(separators ? 1 : 0);
        axis->setTicker(ticker);
        axis->grid()->setLayer(QStringLiteral("axes"));  // above the colour map
        axis->grid()->setVisible(true);  // hiding the grid would hide its sub grid too
        axis->grid()->setPen(Qt::NoPen);
        axis->grid()->setSubGridVisible(separators);
        axis->grid()->setSubGridPen(QPen(QColor(255, 255, 255, 200), 1.0));
        axis->grid()->setZeroLinePen(Qt::NoPen);
    }
    m_plot->xAxis->setLabel(m_data.columnTitle);
    m_plot->yAxis->setLabel(m_data.rowTitle);
}

void HeatmapView::updateLabelStep() {
    // Only for the on-screen layout: a hidden widget has no meaningful size yet, and an export lays
    // the plot out at its own size for one draw.
    const int n = m_order.size();
    if (n == 0 || !m_plot->isVisible() || m_plot->viewport() != m_plot->rect()) {
        return;
    }
    const double cell =
        std::min(std::abs(m_plot->xAxis->coordToPixel(1) - m_plot->xAxis->coordToPixel(0)),
                 std::abs(m_plot->yAxis->coordToPixel(1) - m_plot->yAxis->coordToPixel(0)));
    const double text = QFontMetricsF(m_plot->yAxis->tickLabelFont()).height() + 1.0;
    auto stepFor = [cell](double height) {
        return cell > 0 ? std::max(1, int(std::ceil(height / cell))) : 1;
    };
    int step = stepFor(text);
    if (step < m_labelStep && stepFor(text * 1.15) >= m_labelStep) {
        step =
            m_labelStep;  // hysteresis: thinning changes the margins, which must not flip it back
    }
    if (step != m_labelStep) {
        m_labelStep = step;
        updateTickLabels();
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    }
}

void HeatmapView::updateOverlays() {
    for (QCPAbstractItem* item : m_overlays) {
        m_plot->removeItem(item);
    }
    m_overlays.clear();
    const int n = m_order.size();
    if (n == 0) {
        return;
    }
    // Items are clipped to the visible range by hand: SVG export ignores clipping (pitfall 9).
    const QCPRange xr = m_plot->xAxis->range();
    const QCPRange yr = m_plot->yAxis->range();
    auto addRect = [&](double x0, double y0, double x1, double y1, const QPen& pen,
                       const QBrush& brush = Qt::NoBrush) {
        x0 = std::max(x0, xr.lower);
        x1 = std::min(x1, xr.upper);
        y0 = std::max(y0, yr.lower);
        y1 = std::min(y1, yr.upper);
        if (x1 <= x0 || y1 <= y0) {
            return;
        }
        auto* rect = new QCPItemRect(m_plot);
        rect->topLeft->setCoords(x0, y0);
        rect->bottomRight->setCoords(x1, y1);
        rect->setPen(pen);
        rect->setBrush(brush);
        rect->setSelectable(false);
        m_overlays << rect;
    };

    // Clusters as blocks on the diagonal, when they are contiguous in the display order.
    if (m_clusters.labelOfLeaf.size() == m_data.n && m_clusters.clusterCount() > 1) {
        QVector<QPair<int, int>> blocks;
        for (int p = 0; p < n; ++p) {
            const int c = m_clusters.labelOfLeaf[m_order[p]];
            if (p > 0 && m_clusters.labelOfLeaf[m_order[p - 1]] == c) {
                blocks.last().second = p;
            } else {
                blocks.push_back({p, p});
            }
        }
        if (blocks.size() == m_clusters.clusterCount()) {
            const QPen pen(QColor(255, 255, 255, 230), 2.0);
            for (const auto& b : blocks) {
                addRect(b.first - 0.5, b.first - 0.5, b.second + 0.5, b.second + 0.5, pen);
            }
        }
    }

    // Selected leaves: every cell outside their rows and columns is veiled, so the selected cross
    // stands out on any colour map, and the selected bands get a thin dark outline.
    if (!m_selected.isEmpty()) {
        QVector<char> selected(m_data.n, 0);
        for (int leaf : m_selected) {
            selected[leaf] = 1;
        }
        const auto in = runsOf(n, [&](int p) { return selected[m_order[p]] != 0; });
        const auto out = runsOf(n, [&](int p) { return selected[m_order[p]] == 0; });
        for (const auto& rows : out) {
            for (const auto& cols : out) {
                addRect(cols.first - 0.5, rows.first - 0.5, cols.second + 0.5, rows.second + 0.5,
                        Qt::NoPen, QColor(255, 255, 255, 165));
            }
        }
        const QPen outline(QColor(0x1f, 0x23, 0x29), 1.5);
        for (const auto& run : in) {
            addRect(-0.5, run.first - 0.5, n - 0.5, run.second + 0.5, outline);
            addRect(run.first - 0.5, -0.5, run.second + 0.5, n - 0.5, outline);
        }
    }
}

void HeatmapView::updateToolBar() {
    for (int i = 0; i < m_kindCombo->count(); ++i) {
        const MatrixKind k = MatrixKind(m_kindCombo->itemData(i).toInt());
        auto* model = qobject_cast<QStandardItemModel*>(m_kindCombo->model());
        if (model) {
            model->item(i)->setEnabled(m_data.has(k) || m_data.n == 0);
        }
        if (k == m_kind) {
            m_kindCombo->setCurrentIndex(i);
        }
    }
    m_orderCombo->setCurrentIndex(m_orderMode == Order::Dendrogram ? 0 : 1);
    auto* orderModel = qobject_cast<QStandardItemModel*>(m_orderCombo->model());
    if (orderModel) {
        orderModel->item(0)->setEnabled(isPermutation(m_leafOrder, m_data.n));
    }
    m_resetButton->setEnabled(isZoomed());
}

void HeatmapView::clampRanges() {
    if (m_clamping) {
        return;
    }
    // Keep the view on the matrix: at most the whole matrix, at least one cell.
    const double n = std::max(1, int(m_order.size()));
    auto clamp = [n](QCPRange r) {
        double size = std::clamp(r.size(), 1.0, n);
        double lo = std::clamp(r.center() - size / 2, -0.5, n - 0.5 - size);
        return QCPRange(lo, lo + size);
    };
    m_clamping = true;
    m_plot->xAxis->setRange(clamp(m_plot->xAxis->range()));
    m_plot->yAxis->setRange(clamp(m_plot->yAxis->range()));
    m_clamping = false;
    updateOverlays();
    m_resetButton->setEnabled(isZoomed());
    const QCPRange yr = m_plot->yAxis->range();
    Q_EMIT rowRangeChanged(yr.lower, yr.upper);
}

void HeatmapView::onPlotMouseMove(QMouseEvent* event) {
    int row = -1;
    int col = -1;
    if (!(event->buttons() & Qt::LeftButton) && cellAt(event->pos(), &row, &col)) {
        setHoverCell(m_order.indexOf(row), m_order.indexOf(col), event->globalPosition().toPoint());
    } else {
        setHoverCell(-1, -1, QPoint());
    }
}

void HeatmapView::setHoverCell(int displayRow, int displayCol, const QPoint& globalPos) {
    if (displayRow == m_hoverRow && displayCol == m_hoverCol) {
        return;
    }
    m_hoverRow = displayRow;
    m_hoverCol = displayCol;
    if (displayRow < 0) {
        m_hoverRect->setVisible(false);
        QToolTip::hideText();
        Q_EMIT cellHovered(-1, -1);
    } else {
        m_hoverRect->topLeft->setCoords(displayCol - 0.5, displayRow - 0.5);
        m_hoverRect->bottomRight->setCoords(displayCol + 0.5, displayRow + 0.5);
        m_hoverRect->setVisible(true);
        const int row = m_order[displayRow];
        const int col = m_order[displayCol];
        QToolTip::showText(globalPos, cellToolTip(row, col), m_plot);
        Q_EMIT cellHovered(row, col);
    }
    m_plot->layer(QStringLiteral("overlay"))->replot();
}

void HeatmapView::onPlotMousePress(QMouseEvent* event) {
    m_pressed = event->button() == Qt::LeftButton;
    m_pressPos = event->pos();
}

void HeatmapView::onPlotMouseRelease(QMouseEvent* event) {
    if (!m_pressed || event->button() != Qt::LeftButton) {
        return;
    }
    m_pressed = false;
    if ((event->pos() - m_pressPos).manhattanLength() > 4) {
        return;  // a pan, not a click
    }
    int row = -1;
    int col = -1;
    if (!cellAt(event->pos(), &row, &col)) {
        setSelectedLeaves({});
        return;
    }
    Q_EMIT cellClicked(row, col);
    if (event->modifiers() & Qt::ControlModifier) {
        // Ctrl toggles the clicked pair in and out of the selection.
        QVector<int> sel = m_selected;
        for (int leaf : {row, col}) {
            if (sel.contains(leaf)) {
                sel.removeAll(leaf);
            } else {
                sel << leaf;
            }
            if (row == col) {
                break;
            }
        }
        setSelectedLeaves(sel);
    } else {
        setSelectedLeaves({row, col});
    }
}

}  // namespace den2moe::ui
