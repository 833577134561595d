#include "affinity_view.h"

#include "dendrogram_view.h"
#include "heatmap_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>

namespace den2moe::ui {

AffinityView::AffinityView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Matrix:"), this));
    m_kindCombo = new QComboBox(this);
    m_kindCombo->setObjectName(QStringLiteral("matrixKind"));
    for (MatrixKind k : {MatrixKind::Normalized, MatrixKind::Raw, MatrixKind::Correlation}) {
        m_kindCombo->addItem(matrixKindName(k), QVariant::fromValue(k));
    }
    bar->addWidget(m_kindCombo);
    bar->addSpacing(12);
    bar->addWidget(new QLabel(tr("Order:"), this));
    m_orderCombo = new QComboBox(this);
    m_orderCombo->setObjectName(QStringLiteral("order"));
    m_orderCombo->addItem(tr("Dendrogram leaves"));
    m_orderCombo->addItem(tr("Project order"));
    m_orderCombo->setToolTip(tr("In project order the dendrogram is hidden (its leaves would not line up)."));
    bar->addWidget(m_orderCombo);
    m_resetZoom = new QPushButton(tr("Reset zoom"), this);
    m_resetZoom->setToolTip(tr("Show the whole matrix (wheel or drag to zoom)"));
    bar->addWidget(m_resetZoom);
    bar->addSpacing(12);
    bar->addWidget(new QLabel(tr("Clusters K:"), this));
    m_kSpin = new QSpinBox(this);
    m_kSpin->setObjectName(QStringLiteral("kSpin"));
    m_kSpin->setToolTip(tr("Number of clusters: moves the dendrogram's cut line"));
    bar->addWidget(m_kSpin);
    m_manualBadge = new QLabel(tr("<b>manual assignment</b>"), this);
    m_manualBadge->setStyleSheet(QStringLiteral("color: #b26a00"));
    m_manualBadge->setToolTip(tr("Clusters were edited by hand: the heatmap shows the edited clusters, the "
                                 "dendrogram the last cut. Moving the cut replaces the manual assignment."));
    m_manualBadge->hide();
    bar->addWidget(m_manualBadge);
    bar->addStretch(1);
    layout->addLayout(bar);

    m_placeholder = new QLabel(tr("No mining result yet: run the Mining step (Run ▸ Run mining)."), this);
    m_placeholder->setAlignment(Qt::AlignCenter);
    layout->addWidget(m_placeholder, 1);

    m_plots = new QWidget(this);
    m_plots->setObjectName(QStringLiteral("plots"));
    m_plots->setAutoFillBackground(true);
    auto* row = new QHBoxLayout(m_plots);
    row->setContentsMargins(0, 0, 0, 0);
    row->setSpacing(0);
    m_dendrogram = new DendrogramView(m_plots);
    m_heatmap = new HeatmapView(m_plots);
    m_dendrogram->setToolBarVisible(false);
    m_heatmap->setToolBarVisible(false);
    m_dendrogram->setLeafLabelsVisible(false);
    row->addWidget(m_dendrogram, 1);
    row->addWidget(m_heatmap, 3);
    layout->addWidget(m_plots, 1);
    m_plots->hide();

    connect(m_kindCombo, &QComboBox::currentIndexChanged, this, [this] {
        m_heatmap->setMatrixKind(m_kindCombo->currentData().value<MatrixKind>());
    });
    connect(m_orderCombo, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_heatmap->setOrderMode(i == 0 ? HeatmapView::Order::Dendrogram : HeatmapView::Order::Project);
        m_dendrogram->setVisible(i == 0);
        QTimer::singleShot(0, this, &AffinityView::syncAlignment);
    });
    connect(m_resetZoom, &QPushButton::clicked, m_heatmap, &HeatmapView::resetZoom);
    connect(m_kSpin, &QSpinBox::valueChanged, this, [this](int k) {
        if (!m_syncing && m_hasData && k != m_dendrogram->k()) {
            m_dendrogram->setK(k);  // emits cutChanged -> onDendrogramCut
        }
    });
    connect(m_dendrogram, &DendrogramView::cutChanged, this, &AffinityView::onDendrogramCut);
    connect(m_dendrogram, &DendrogramView::leavesSelected, m_heatmap, &HeatmapView::setSelectedLeaves);
    connect(m_heatmap, &HeatmapView::selectionChanged, this, [this](const QVector<int>& leaves) {
        m_dendrogram->setSelectedLeaves(leaves);
        Q_EMIT selectionChanged(leaves);
    });
    connect(m_heatmap, &HeatmapView::rowRangeChanged, m_dendrogram, &DendrogramView::setLeafRange);
    connect(m_heatmap, &HeatmapView::matrixKindChanged, this, [this](MatrixKind k) {
        const int i = m_kindCombo->findData(QVariant::fromValue(k));
        if (i >= 0 && i != m_kindCombo->currentIndex()) {
            m_kindCombo->setCurrentIndex(i);
        }
    });
}

void AffinityView::setData(const MatrixViewData& matrix, const DendrogramData& tree, int k) {
    m_syncing = true;
    m_hasData = matrix.n > 0;
    if (tree.isValid()) {
        m_dendrogram->setDendrogram(tree);
        m_dendrogram->setK(std::max(1, k));
    }
    // Order, kind and clusters go in while the heatmap is empty (cheap), so that the matrix itself
    // is laid out and drawn once: showing a result must not stall the event loop.
    m_heatmap->setData(MatrixViewData{});
    m_heatmap->setMatrixKind(m_kindCombo->currentData().value<MatrixKind>());
    m_heatmap->setLeafOrder(tree.isValid() ? m_dendrogram->leafOrder() : QVector<int>{});
    m_heatmap->setClusterAssignment(tree.isValid() ? m_dendrogram->clusterAssignment() : ClusterAssignment{});
    m_heatmap->setData(matrix);
    m_kSpin->setRange(1, std::max(1, matrix.n));
    m_kSpin->setValue(m_dendrogram->k());
    m_syncing = false;
    m_placeholder->setVisible(!m_hasData);
    m_plots->setVisible(m_hasData);
    updateBar();
    QTimer::singleShot(0, this, &AffinityView::syncAlignment);
}

void AffinityView::clear() {
    setData(MatrixViewData{}, DendrogramData{}, 1);
}

void AffinityView::setClusterState(const ClusterState& state) {
    const ClusterAssignment& shown = m_heatmap->clusterAssignment();
    if (shown.labelOfLeaf != state.assignment.labelOfLeaf || shown.clusterNames != state.assignment.clusterNames ||
        shown.manual != state.assignment.manual || shown.colors != state.assignment.colors) {
        m_heatmap->setClusterAssignment(state.assignment);
    }
    m_manualBadge->setVisible(state.isManual());
    if (!std::isnan(state.cutHeight) && m_hasData && state.cutHeight != m_dendrogram->cutHeight()) {
        m_syncing = true;
        m_dendrogram->setCutHeight(state.cutHeight);
        m_kSpin->setValue(m_dendrogram->k());
        m_syncing = false;
    }
}

void AffinityView::setSelectedLeaves(const QVector<int>& leaves) {
    m_heatmap->setSelectedLeaves(leaves);  // emits selectionChanged only on a change
    m_dendrogram->setSelectedLeaves(m_heatmap->selectedLeaves());
}

QVector<int> AffinityView::selectedLeaves() const {
    return m_heatmap->selectedLeaves();
}

void AffinityView::onDendrogramCut(double height, int k) {
    if (m_syncing) {
        return;
    }
    m_syncing = true;
    m_kSpin->setValue(k);
    m_syncing = false;
    Q_EMIT cutChanged(height, m_dendrogram->clusterAssignment());
}

void AffinityView::syncAlignment() {
    if (!m_hasData) {
        return;
    }
    const QMargins m = m_heatmap->plotMargins();
    m_dendrogram->setRowAxisMargins(m.top(), m.bottom());
}

QImage AffinityView::renderPlots() {
    syncAlignment();
    return m_plots->grab().toImage();
}

bool AffinityView::exportDendrogram(const QString& path, int width, int height, QString* error) {
    m_dendrogram->setLeafLabelsVisible(true);
    m_dendrogram->setRowAxisMargins(-1, -1);
    const bool ok = m_dendrogram->exportTo(path, width, height, error);
    m_dendrogram->setLeafLabelsVisible(false);
    syncAlignment();
    return ok;
}

void AffinityView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    QTimer::singleShot(0, this, &AffinityView::syncAlignment);
}

void AffinityView::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    QTimer::singleShot(0, this, &AffinityView::syncAlignment);
}

void AffinityView::updateBar() {
    m_kindCombo->setEnabled(m_hasData);
    m_orderCombo->setEnabled(m_hasData);
    m_resetZoom->setEnabled(m_hasData);
    m_kSpin->setEnabled(m_hasData);
}

}  // namespace den2moe::ui
