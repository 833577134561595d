#include "cluster_panel.h"

#include "cluster_model.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QMenu>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

namespace den2moe::ui {

ClusterPanel::ClusterPanel(ClusterModel* model, QWidget* parent) : QWidget(parent), m_model(model) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_bar = new QWidget(this);
    auto* bar = new QHBoxLayout(m_bar);
    bar->setContentsMargins(0, 0, 0, 0);
    auto button = [this, bar](const QString& text, const QString& tip) {
        auto* b = new QToolButton(this);
        b->setText(text);
        b->setToolTip(tip);
        bar->addWidget(b);
        return b;
    };
    m_newButton = button(tr("New cluster"), tr("Move the selected domains into a new cluster"));
    m_mergeButton = button(tr("Merge"), tr("Merge the selected clusters"));
    m_renameButton = button(tr("Rename"), tr("Rename the selected cluster"));
    bar->addStretch(1);
    layout->addWidget(m_bar);

    m_view = new QTreeView(this);
    m_view->setObjectName(QStringLiteral("clusterTree"));
    m_view->setModel(model);
    m_view->header()->hide();
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setDragEnabled(true);
    m_view->setAcceptDrops(true);
    m_view->setDropIndicatorShown(true);
    m_view->setDragDropMode(QAbstractItemView::InternalMove);
    m_view->setDefaultDropAction(Qt::MoveAction);
    m_view->setEditTriggers(QAbstractItemView::EditKeyPressed | QAbstractItemView::SelectedClicked);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    m_view->setToolTip(tr("Drag domains between clusters; right-click for more"));
    layout->addWidget(m_view, 1);

    connect(model, &QAbstractItemModel::modelReset, this, &ClusterPanel::onModelReset);
    connect(model, &QAbstractItemModel::modelAboutToBeReset, this,
            [this] { m_restoreSelection = selectedLeaves(); });
    connect(model, &ClusterModel::moveRequested, this, &ClusterPanel::moveRequested);
    connect(model, &ClusterModel::renameRequested, this, &ClusterPanel::renameRequested);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &ClusterPanel::onSelectionChanged);
    connect(m_view, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QMenu* menu = buildContextMenu(this);
        menu->setAttribute(Qt::WA_DeleteOnClose);
        menu->popup(m_view->viewport()->mapToGlobal(pos));
    });
    connect(m_newButton, &QToolButton::clicked, this, [this] {
        const QVector<int> leaves = selectedLeaves();
        if (!leaves.isEmpty()) {
            Q_EMIT newClusterRequested(leaves);
        }
    });
    connect(m_mergeButton, &QToolButton::clicked, this, [this] {
        const QVector<int> clusters = selectedClusters();
        if (clusters.size() >= 2) {
            Q_EMIT mergeRequested(clusters);
        }
    });
    connect(m_renameButton, &QToolButton::clicked, this, &ClusterPanel::requestRename);
    updateButtons();
}

void ClusterPanel::addExtraAction(QAction* action) {
    m_extra << action;
    auto* b = new QToolButton(this);
    b->setDefaultAction(action);
    static_cast<QHBoxLayout*>(m_bar->layout())->addWidget(b);
}

QVector<int> ClusterPanel::selectedLeaves() const {
    return m_model->leavesFor(m_view->selectionModel()->selectedIndexes());
}

QVector<int> ClusterPanel::selectedClusters() const {
    QModelIndexList clusterRows;
    for (const QModelIndex& i : m_view->selectionModel()->selectedIndexes()) {
        if (!i.parent().isValid()) {
            clusterRows << i;
        }
    }
    return m_model->clustersFor(clusterRows);
}

void ClusterPanel::setSelectedLeaves(const QVector<int>& leaves) {
    if (sanitizeLeaves(leaves, m_model->labels().size()) == selectedLeaves()) {
        return;
    }
    m_settingSelection = true;
    QItemSelection sel;
    for (int leaf : leaves) {
        const QModelIndex i = m_model->leafIndex(leaf);
        if (i.isValid()) {
            sel.select(i, i);
            m_view->expand(i.parent());
        }
    }
    m_view->selectionModel()->select(sel, QItemSelectionModel::ClearAndSelect);
    if (!sel.isEmpty()) {
        m_view->scrollTo(sel.indexes().first());
    }
    m_settingSelection = false;
    updateButtons();
}

void ClusterPanel::onModelReset() {
    m_view->expandAll();
    setSelectedLeaves(m_restoreSelection);
    updateButtons();
}

void ClusterPanel::onSelectionChanged() {
    updateButtons();
    if (!m_settingSelection) {
        Q_EMIT selectionChanged(selectedLeaves());
    }
}

void ClusterPanel::requestRename() {
    const QVector<int> clusters = selectedClusters();
    const QVector<int> any = m_model->clustersFor(m_view->selectionModel()->selectedIndexes());
    const int c = !clusters.isEmpty() ? clusters.first() : (!any.isEmpty() ? any.first() : -1);
    if (c < 0) {
        return;
    }
    bool ok = false;
    const QString name = QInputDialog::getText(this, tr("Rename cluster"), tr("Name:"), QLineEdit::Normal,
                                               m_model->assignment().nameOf(c), &ok);
    if (ok && !name.trimmed().isEmpty()) {
        Q_EMIT renameRequested(c, name.trimmed());
    }
}

QMenu* ClusterPanel::buildContextMenu(QWidget* parent) {
    auto* menu = new QMenu(parent);
    const QVector<int> leaves = selectedLeaves();
    const QVector<int> clusters = selectedClusters();
    const ClusterAssignment& a = m_model->assignment();

    QMenu* moveTo = menu->addMenu(tr("Move to"));
    moveTo->setEnabled(!leaves.isEmpty());
    for (int c = 0; c < a.clusterCount(); ++c) {
        QAction* act = moveTo->addAction(a.nameOf(c));
        act->setData(c);
        connect(act, &QAction::triggered, this, [this, leaves, c] { Q_EMIT moveRequested(leaves, c); });
    }
    QAction* newCluster = menu->addAction(tr("New cluster from selection"));
    newCluster->setEnabled(!leaves.isEmpty());
    connect(newCluster, &QAction::triggered, this, [this, leaves] { Q_EMIT newClusterRequested(leaves); });
    QAction* merge = menu->addAction(tr("Merge clusters"));
    merge->setEnabled(clusters.size() >= 2);
    connect(merge, &QAction::triggered, this, [this, clusters] { Q_EMIT mergeRequested(clusters); });
    QAction* rename = menu->addAction(tr("Rename…"));
    rename->setEnabled(!m_model->clustersFor(m_view->selectionModel()->selectedIndexes()).isEmpty());
    connect(rename, &QAction::triggered, this, &ClusterPanel::requestRename);
    if (!m_extra.isEmpty()) {
        menu->addSeparator();
        for (QAction* act : m_extra) {
            menu->addAction(act);
        }
    }
    return menu;
}

void ClusterPanel::updateButtons() {
    m_newButton->setEnabled(!selectedLeaves().isEmpty());
    m_mergeButton->setEnabled(selectedClusters().size() >= 2);
    m_renameButton->setEnabled(!m_model->clustersFor(m_view->selectionModel()->selectedIndexes()).isEmpty());
}

}  // namespace den2moe::ui
