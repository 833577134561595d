// ClusterModel: the cluster assignment being edited, as a two-level item model (clusters → domains)
// for the cluster list, with drag and drop of domains between clusters. The model never edits
// itself: drops and renames come out as *Requested signals that the window turns into undo
// commands (cluster_commands.h), which call setState(). The pure edit functions below compute the
// assignment an edit produces.
#pragma once

#include "view_data.h"

#include <QAbstractItemModel>
#include <QStringList>
#include <QVector>

#include <limits>

namespace den2moe::ui {

/// @brief What the cluster editor holds: the flat clusters and the dendrogram cut they came from
/// (NaN when the assignment was edited by hand or loaded from the project).
struct ClusterState {
    ClusterAssignment assignment;
    double cutHeight = std::numeric_limits<double>::quiet_NaN();

    bool isManual() const;
    bool operator==(const ClusterState& o) const;
    bool operator!=(const ClusterState& o) const { return !(*this == o); }
};

// Pure edits. Each returns a copy with the edited clusters marked manual, explicit colours (so
// clusters keep their colour when others disappear) and empty clusters dropped.
/// Moves `leaves` into cluster `target` (unchanged copy when target is out of range).
ClusterAssignment moveLeaves(const ClusterAssignment& a, const QVector<int>& leaves, int target);
/// A new cluster named `name` (empty = the next free "C<k>") holding `leaves`.
ClusterAssignment addCluster(const ClusterAssignment& a, const QVector<int>& leaves, const QString& name = {});
/// Merges `clusters` into the lowest of them (which keeps its name).
ClusterAssignment mergeClusters(const ClusterAssignment& a, const QVector<int>& clusters);
ClusterAssignment renameCluster(const ClusterAssignment& a, int cluster, const QString& name);
/// Removes clusters without members and renumbers the rest (order kept).
ClusterAssignment dropEmptyClusters(const ClusterAssignment& a);
/// The first "C<k>" not used by a cluster name.
QString nextClusterName(const ClusterAssignment& a);
/// Leaves of a cluster, ascending.
QVector<int> leavesOf(const ClusterAssignment& a, int cluster);

/// @brief Clusters → domains tree over a ClusterState, with drag and drop of domains.
class ClusterModel : public QAbstractItemModel {
    Q_OBJECT

public:
    static constexpr int LeafRole = Qt::UserRole + 1;     ///< domain rows: project index
    static constexpr int ClusterRole = Qt::UserRole + 2;  ///< cluster id (both levels)
    static const char* const kMimeType;

    explicit ClusterModel(QObject* parent = nullptr);

    /// Domain names in project order (resets the model).
    void setLabels(const QStringList& labels);
    const QStringList& labels() const { return m_labels; }
    /// Order of the domains inside each cluster (project indices); empty = project order.
    void setDisplayOrder(const QVector<int>& order);

    void setState(const ClusterState& state);
    const ClusterState& state() const { return m_state; }
    const ClusterAssignment& assignment() const { return m_state.assignment; }

    /// Project indices under these indexes (a cluster row counts as all its domains), sorted unique.
    QVector<int> leavesFor(const QModelIndexList& indexes) const;
    /// Cluster ids of the cluster rows (and of the domains' clusters) in `indexes`, sorted unique.
    QVector<int> clustersFor(const QModelIndexList& indexes) const;
    QModelIndex clusterIndex(int cluster) const;
    QModelIndex leafIndex(int leaf) const;

    // QAbstractItemModel
    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QStringList mimeTypes() const override;
    QMimeData* mimeData(const QModelIndexList& indexes) const override;
    bool canDropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                         const QModelIndex& parent) const override;
    bool dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                      const QModelIndex& parent) override;
    Qt::DropActions supportedDropActions() const override { return Qt::MoveAction; }
    Qt::DropActions supportedDragActions() const override { return Qt::MoveAction; }

Q_SIGNALS:
    /// After setState(): views, the project and the pipeline follow.
    void stateChanged();
    /// A drop of domains onto a cluster (delivered after the drop event returns).
    void moveRequested(const QVector<int>& leaves, int cluster);
    /// An inline rename of a cluster row.
    void renameRequested(int cluster, const QString& name);

private:
    void rebuildRows();

    QStringList m_labels;
    QVector<int> m_displayOrder;
    ClusterState m_state;
    QVector<QVector<int>> m_rows;  // per cluster: its leaves in display order
};

}  // namespace den2moe::ui
