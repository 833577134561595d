#include "dendrogram_view.h"

#include "plot_style.h"
#include "qcp.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace den2moe::ui {

namespace {

constexpr double kPickPixels = 6.0;  // how close a click must be to a segment or to the cut line
const QColor kAboveCut(0x8c, 0x93, 0x9d);
const QColor kCutColor(0xd6, 0x27, 0x28);
const QColor kSelection(0xe0, 0x1e, 0x5a);

double distanceToSegment(const QPointF& p, const QPointF& a, const QPointF& b) {
    const QPointF ab = b - a;
    const double len2 = QPointF::dotProduct(ab, ab);
    const double t = len2 > 0 ? std::clamp(QPointF::dotProduct(p - a, ab) / len2, 0.0, 1.0) : 0.0;
    const QPointF d = p - (a + t * ab);
    return std::sqrt(QPointF::dotProduct(d, d));
}

}  // namespace

DendrogramView::DendrogramView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);

    m_toolBar = new QWidget(this);
    auto* bar = new QHBoxLayout(m_toolBar);
    bar->setContentsMargins(6, 4, 6, 0);
    m_kSpin = new QSpinBox(m_toolBar);
    m_kSpin->setRange(1, 1);
    m_kSpin->setToolTip(tr("Number of clusters: moves the cut line"));
    m_kLabel = new QLabel(m_toolBar);
    m_kLabel->setTextFormat(Qt::PlainText);
    auto* hint =
        new QLabel(tr("Drag the red line · click a merge to select its domains"), m_toolBar);
    hint->setStyleSheet(QStringLiteral("color: #6b7280;"));
    bar->addWidget(new QLabel(tr("Clusters (K):"), m_toolBar));
    bar->addWidget(m_kSpin);
    bar->addSpacing(8);
    bar->addWidget(m_kLabel);
    bar->addStretch(1);
    bar->addWidget(hint);
    layout->addWidget(m_toolBar);

    m_plot = new QCustomPlot(this);
    m_plot->setObjectName(QStringLiteral("dendrogramPlot"));
    m_plot->setBackground(Qt::white);
    m_plot->setInteractions(QCP::Interactions());
    m_plot->setMouseTracking(true);
    m_plot->setMinimumSize(200, 200);
    layout->addWidget(m_plot, 1);

    QCPAxisRect* rect = m_plot->axisRect();
    rect->setMinimumMargins(QMargins(8, 8, 8, 8));
    for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis, m_plot->xAxis2, m_plot->yAxis2}) {
        plotstyle::styleAxis(axis);
    }
    // Heights run right to left (root on the left), leaves top to bottom like heatmap rows.
    m_plot->xAxis->setRangeReversed(true);
    m_plot->xAxis->setLabel(tr("Merge height (distance)"));
    m_plot->xAxis->ticker()->setTickCount(6);
    m_plot->yAxis->setRangeReversed(true);
    m_plot->yAxis->setVisible(false);
    m_plot->yAxis2->setRangeReversed(true);
    m_plot->yAxis2->setVisible(true);
    m_plot->yAxis2->setBasePen(Qt::NoPen);
    m_plot->yAxis2->setTickPen(Qt::NoPen);
    m_plot->yAxis2->setTickLabelPadding(3);
    connect(m_plot->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), m_plot->yAxis2,
            qOverload<const QCPRange&>(&QCPAxis::setRange));

    m_cutLine = new QCPItemStraightLine(m_plot);
    m_cutLine->setPen(QPen(kCutColor, 1.6, Qt::DashLine));
    m_cutLine->setSelectable(false);
    m_cutLabel = new QCPItemText(m_plot);
    m_cutLabel->setClipToAxisRect(false);
    m_cutLabel->setLayer(QStringLiteral("overlay"));
    m_cutLabel->position->setTypeX(QCPItemPosition::ptPlotCoords);
    m_cutLabel->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    // Inside the plot, at the top of the line: it needs no margin of its own, so the plot's top
    // edge can line up with a heatmap's.
    m_cutLabel->setPositionAlignment(Qt::AlignTop | Qt::AlignHCenter);
    QFont labelFont = plotstyle::titleFont();
    m_cutLabel->setFont(labelFont);
    m_cutLabel->setColor(Qt::white);
    m_cutLabel->setBrush(QBrush(kCutColor));
    m_cutLabel->setPen(Qt::NoPen);
    m_cutLabel->setPadding(QMargins(6, 2, 6, 2));
    m_cutLabel->setSelectable(false);

    connect(m_plot, &QCustomPlot::mousePress, this, &DendrogramView::onPlotMousePress);
    connect(m_plot, &QCustomPlot::mouseMove, this, &DendrogramView::onPlotMouseMove);
    connect(m_plot, &QCustomPlot::mouseRelease, this, &DendrogramView::onPlotMouseRelease);
    connect(m_kSpin, qOverload<int>(&QSpinBox::valueChanged), this,
            &DendrogramView::onSpinBoxChanged);

    rebuildPlot();
}

DendrogramView::~DendrogramView() = default;

void DendrogramView::setDendrogram(const DendrogramData& data) {
    const int previousK = m_hasCut ? k() : 2;
    m_data = data;
    if (!m_data.isValid()) {
        m_data = DendrogramData{};
    }
    if (m_data.labels.size() != m_data.n) {
        m_data.labels.clear();
        for (int i = 0; i < m_data.n; ++i) {
            m_data.labels << QString::number(i);
        }
    }
    m_layout = computeDendrogramLayout(m_data);
    m_maxHeights = maxMergeHeights(m_data);
    m_selected.clear();
    {
        const QSignalBlocker block(m_kSpin);
        m_kSpin->setRange(1, std::max(1, m_data.n));
    }
    rebuildPlot();
    m_hasCut = false;
    if (m_data.n > 0) {
        int actual = 1;
        const double t = cutHeightForK(m_data, std::min(previousK, m_data.n), &actual);
        applyCut(t, true);
    } else {
        m_assignment = ClusterAssignment{};
        updateCutItems();
        m_plot->replot();
    }
}

void DendrogramView::setCutHeight(double height) {
    applyCut(height, false);
}

void DendrogramView::setK(int k) {
    if (m_data.n == 0) {
        return;
    }
    int actual = 1;
    const double t = cutHeightForK(m_data, k, &actual);
    // Stay put when the line already gives k clusters: setK(k()) must not jump the user's line.
    if (m_hasCut && actual == this->k()) {
        return;
    }
    applyCut(t, false);
}

void DendrogramView::setSelectedLeaves(const QVector<int>& leaves) {
    const QVector<int> sel = sanitizeLeaves(leaves, m_data.n);
    if (sel == m_selected) {
        return;
    }
    m_selected = sel;
    recolor();
    m_plot->replot();
}

void DendrogramView::setLeafRange(double lo, double hi) {
    m_plot->yAxis->setRange(lo, hi);
    m_plot->replot();
}

void DendrogramView::setRowAxisMargins(int top, int bottom) {
    QCPAxisRect* rect = m_plot->axisRect();
    if (top < 0 || bottom < 0) {
        rect->setAutoMargins(QCP::msAll);
    } else {
        rect->setAutoMargins(QCP::msLeft | QCP::msRight);
        QMargins m = rect->margins();
        m.setTop(top);
        m.setBottom(bottom);
        rect->setMargins(m);
    }
    m_plot->replot();
}

QMargins DendrogramView::plotMargins() const {
    return m_plot->axisRect()->margins();
}

void DendrogramView::setLeafLabelsVisible(bool visible) {
    m_leafLabelsVisible = visible;
    m_plot->yAxis2->setTickLabels(visible);
    m_plot->replot();
}

void DendrogramView::setToolBarVisible(bool visible) {
    m_toolBar->setVisible(visible);
}

QPoint DendrogramView::nodePosition(int node) const {
    if (node >= 0 && node < m_data.n) {
        const int p = m_layout.positionOfLeaf.value(node);
        return QPoint(qRound(m_plot->xAxis->coordToPixel(0.0)),
                      qRound(m_plot->yAxis->coordToPixel(p)));
    }
    for (const DendrogramSegment& s : m_layout.segments) {
        if (s.node == node) {
            const double y = (DendrogramLayout::positionForCoord(s.icoord[1]) +
                              DendrogramLayout::positionForCoord(s.icoord[2])) /
                             2;
            return QPoint(qRound(m_plot->xAxis->coordToPixel(s.dcoord[1])),
                          qRound(m_plot->yAxis->coordToPixel(y)));
        }
    }
    return QPoint(-1, -1);
}

int DendrogramView::nodeAt(const QPoint& plotPos) const {
    if (!m_plot->axisRect()->rect().adjusted(-4, -4, 4, 4).contains(plotPos)) {
        return -1;
    }
    auto px = [this](double height, double icoord) {
        return QPointF(m_plot->xAxis->coordToPixel(height),
                       m_plot->yAxis->coordToPixel(DendrogramLayout::positionForCoord(icoord)));
    };
    int best = -1;
    double bestDistance = kPickPixels;
    for (const DendrogramSegment& s : m_layout.segments) {
        QPointF pts[4];
        for (int i = 0; i < 4; ++i) {
            pts[i] = px(s.dcoord[i], s.icoord[i]);
        }
        // The crossbar counts double so a click right at a junction picks the merge it belongs to.
        const double d = std::min({distanceToSegment(plotPos, pts[0], pts[1]),
                                   distanceToSegment(plotPos, pts[1], pts[2]) * 0.5,
                                   distanceToSegment(plotPos, pts[2], pts[3])});
        if (d <= bestDistance) {
            bestDistance = d;
            best = s.node;
        }
    }
    return best;
}

int DendrogramView::cutLinePixel() const {
    return qRound(m_plot->xAxis->coordToPixel(m_cut));
}

QWidget* DendrogramView::plotWidget() const {
    return m_plot;
}

bool DendrogramView::exportTo(const QString& path, int width, int height, QString* error) {
    return plotstyle::exportPlot(m_plot, path, width, height, error);
}

double DendrogramView::maxCut() const {
    const double top = m_layout.maxHeight > 0 ? m_layout.maxHeight : 1.0;
    return top * 1.1;
}

double DendrogramView::minCut() const {
    const double top = m_layout.maxHeight > 0 ? m_layout.maxHeight : 1.0;
    return -0.06 * top;
}

void DendrogramView::rebuildPlot() {
    for (QCPAbstractPlottable* p : m_segmentCurves) {
        m_plot->removePlottable(p);
    }
    m_segmentCurves.clear();
    for (QCPAbstractPlottable* p : m_leafMarks) {
        m_plot->removePlottable(p);
    }
    m_leafMarks.clear();

    const int n = m_data.n;
    for (const DendrogramSegment& s : m_layout.segments) {
        auto* curve = new QCPCurve(m_plot->xAxis, m_plot->yAxis);
        QVector<double> keys(4);
        QVector<double> values(4);
        for (int i = 0; i < 4; ++i) {
            keys[i] = s.dcoord[i];
            values[i] = DendrogramLayout::positionForCoord(s.icoord[i]);
        }
        curve->setData(keys, values);
        curve->setSelectable(QCP::stNone);
        curve->setAntialiased(true);
        m_segmentCurves << curve;
    }

    QVector<double> pos(n);
    QVector<QString> text(n);
    for (int p = 0; p < n; ++p) {
        pos[p] = p;
        text[p] = m_data.labels.value(m_layout.leaves.value(p));
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    ticker->setTicks(pos, text);
    m_plot->yAxis->setTicker(ticker);
    m_plot->yAxis2->setTicker(ticker);
    m_plot->yAxis2->setTickLabels(m_leafLabelsVisible);

    const double lower = std::min(minCut(), 0.0);
    m_plot->xAxis->setRange(lower, maxCut());
    m_plot->yAxis->setRange(-0.5, std::max(1, n) - 0.5);
}

void DendrogramView::applyCut(double height, bool force) {
    if (m_data.n == 0) {
        return;
    }
    if (!force && m_hasCut && height == m_cut) {
        return;
    }
    m_cut = height;
    m_hasCut = true;
    m_assignment = assignmentAtHeight(m_data, height, m_layout.leaves);
    recolor();
    updateCutItems();
    {
        const QSignalBlocker block(m_kSpin);
        m_kSpin->setValue(k());
        m_lastSpinValue = k();
    }
    m_plot->replot(m_draggingCut ? QCustomPlot::rpQueuedReplot : QCustomPlot::rpRefreshHint);
    Q_EMIT cutChanged(m_cut, k());
}

void DendrogramView::recolor() {
    const int n = m_data.n;
    QVector<char> selected(n, 0);
    for (int leaf : m_selected) {
        selected[leaf] = 1;
    }
    // A merge is inside the selection when all of its leaves are; a post-order pass over the rows.
    QVector<char> inside(std::max(0, n - 1), 0);
    auto isInside = [&](int id) {
        return id < n ? selected[id] != 0 : inside[id - n] != 0;
    };
    for (int r = 0; r < n - 1; ++r) {
        inside[r] = isInside(m_data.rows[r].a) && isInside(m_data.rows[r].b);
    }
    auto colorOf = [this](int cluster) {
        return cluster < m_assignment.colors.size() ? m_assignment.colors[cluster]
                                                    : clusterColor(cluster);
    };
    // A leaf under each merge, to look the merge's cluster up.
    QVector<int> someLeaf(std::max(0, n - 1), 0);
    for (int r = 0; r < n - 1; ++r) {
        const int a = m_data.rows[r].a;
        someLeaf[r] = a < n ? a : someLeaf[a - n];
    }
    for (int i = 0; i < m_layout.segments.size(); ++i) {
        const int row = m_layout.segments[i].node - n;
        const bool below = m_maxHeights[row] <= m_cut;
        QColor color =
            below ? colorOf(m_assignment.labelOfLeaf.value(someLeaf[row], -1)) : kAboveCut;
        const bool sel = inside[row] != 0;
        auto* curve = static_cast<QCPCurve*>(m_segmentCurves[i]);
        curve->setPen(QPen(color, sel ? 3.2 : 1.7, Qt::SolidLine, Qt::FlatCap, Qt::MiterJoin));
    }

    for (QCPAbstractPlottable* p : m_leafMarks) {
        m_plot->removePlottable(p);
    }
    m_leafMarks.clear();
    // Leaf markers coloured by cluster: one scatter graph per cluster (QCPGraph has one style per
    // graph).
    const int k = m_assignment.clusterCount();
    QVector<QVector<double>> ys(k);
    QVector<double> selectedYs;
    for (int p = 0; p < m_layout.leaves.size(); ++p) {
        const int leaf = m_layout.leaves[p];
        const int c = m_assignment.labelOfLeaf.value(leaf, -1);
        if (c >= 0 && c < k) {
            ys[c] << p;
        }
        if (selected[leaf]) {
            selectedYs << p;
        }
    }
    auto addMarks = [this](const QVector<double>& y, const QCPScatterStyle& style) {
        if (y.isEmpty()) {
            return;
        }
        auto* g = new QCPGraph(m_plot->xAxis, m_plot->yAxis);
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(style);
        g->setData(QVector<double>(y.size(), 0.0), y, true);
        g->setSelectable(QCP::stNone);
        m_leafMarks << g;
    };
    for (int c = 0; c < k; ++c) {
        const QColor color = colorOf(c);
        addMarks(ys[c], QCPScatterStyle(QCPScatterStyle::ssSquare, color.darker(115), color, 9));
    }
    addMarks(selectedYs,
             QCPScatterStyle(QCPScatterStyle::ssSquare, QPen(kSelection, 2.0), Qt::NoBrush, 14));
}

void DendrogramView::updateCutItems() {
    const bool visible = m_data.n > 0 && m_hasCut;
    m_cutLine->setVisible(visible);
    m_cutLabel->setVisible(visible);
    if (!visible) {
        m_kLabel->clear();
        return;
    }
    m_cutLine->point1->setCoords(m_cut, 0.0);
    m_cutLine->point2->setCoords(m_cut, 1.0);
    m_cutLabel->position->setCoords(m_cut, 0.0);
    m_cutLabel->setText(tr("K = %1").arg(k()));
    m_kLabel->setText(tr("K = %1 clusters · cut at %2").arg(k()).arg(m_cut, 0, 'g', 4));
}

void DendrogramView::onPlotMousePress(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton) {
        return;
    }
    m_pressed = true;
    m_pressPos = event->pos();
    const QRect area = m_plot->axisRect()->rect();
    const bool nearCut = m_hasCut && std::abs(event->pos().x() - cutLinePixel()) <= kPickPixels &&
                         event->pos().y() >= area.top() && event->pos().y() <= area.bottom();
    // The "K = ..." tag is a handle too.
    const QRectF tag(m_cutLabel->topLeft->pixelPosition(),
                     m_cutLabel->bottomRight->pixelPosition());
    m_draggingCut = nearCut || (m_hasCut && tag.normalized().contains(event->pos()));
}

void DendrogramView::onPlotMouseMove(QMouseEvent* event) {
    const QPoint pos = event->pos();
    if (m_draggingCut) {
        const double t = std::clamp(m_plot->xAxis->pixelToCoord(pos.x()),
                                    m_plot->xAxis->range().lower, m_plot->xAxis->range().upper);
        applyCut(t, false);
        return;
    }
    if (m_hasCut && std::abs(pos.x() - cutLinePixel()) <= kPickPixels) {
        m_plot->setCursor(Qt::SplitHCursor);
        QToolTip::hideText();
        return;
    }
    const int node = nodeAt(pos);
    if (node >= 0) {
        m_plot->setCursor(Qt::PointingHandCursor);
        const QVector<int> leaves = subtreeLeaves(m_data, node);
        QStringList names;
        for (int leaf : leaves) {
            names << m_data.labels[leaf];
        }
        QToolTip::showText(event->globalPosition().toPoint(),
                           tr("Merge at %1 · %2 domains\n%3")
                               .arg(m_data.rows[node - m_data.n].height, 0, 'g', 4)
                               .arg(leaves.size())
                               .arg(names.join(QStringLiteral(", "))),
                           m_plot);
    } else {
        m_plot->unsetCursor();
        QToolTip::hideText();
    }
}

void DendrogramView::onPlotMouseRelease(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton || !m_pressed) {
        return;
    }
    m_pressed = false;
    if (m_draggingCut) {
        m_draggingCut = false;
        m_plot->replot();
        return;
    }
    if ((event->pos() - m_pressPos).manhattanLength() > 4) {
        return;
    }
    QVector<int> leaves;
    const int node = nodeAt(event->pos());
    if (node >= 0) {
        leaves = subtreeLeaves(m_data, node);
    } else {
        // A click on a leaf marker or a leaf label selects that domain alone.
        const QRect area = m_plot->axisRect()->rect();
        const double x0 = m_plot->xAxis->coordToPixel(0.0);
        const bool onLeafColumn = event->pos().x() >= x0 - 8 && event->pos().y() >= area.top() &&
                                  event->pos().y() <= area.bottom();
        if (onLeafColumn) {
            const int p = int(std::floor(m_plot->yAxis->pixelToCoord(event->pos().y()) + 0.5));
            if (p >= 0 && p < m_layout.leaves.size()) {
                leaves = {m_layout.leaves[p]};
            }
        }
    }
    setSelectedLeaves(leaves);
    Q_EMIT leavesSelected(m_selected);
}

void DendrogramView::onSpinBoxChanged(int value) {
    if (m_data.n == 0) {
        return;
    }
    // Ties can make some K unreachable; step over them in the direction the user went.
    int target = value;
    if (value > m_lastSpinValue) {
        while (target <= m_data.n && !cutIntervalForK(m_data, target).valid) {
            ++target;
        }
        if (target > m_data.n) {
            target = value;
        }
    }
    setK(target);
    const QSignalBlocker block(m_kSpin);
    m_kSpin->setValue(k());
    m_lastSpinValue = k();
}

}  // namespace den2moe::ui
