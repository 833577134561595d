#include "cluster_model.h"

#include "dendrogram_layout.h"

#include <QDataStream>
#include <QIODevice>
#include <QMimeData>
#include <QTimer>

#include <algorithm>
#include <cmath>

namespace den2moe::ui {

const char* const ClusterModel::kMimeType = "application/x-den2moe-leaves";

namespace {

constexpr quintptr kClusterRowId = 0;  // internalId of cluster rows; domain rows: cluster + 1

/// A copy with one explicit colour and one manual flag per cluster.
ClusterAssignment normalized(const ClusterAssignment& a) {
    ClusterAssignment b = a;
    const int k = b.clusterCount();
    b.manual.resize(k);
    const int known = b.colors.size();
    b.colors.resize(k);
    for (int c = known; c < k; ++c) {
        b.colors[c] = clusterColor(c);
    }
    return b;
}

QColor freshColor(const ClusterAssignment& a) {
    for (int i = 0;; ++i) {
        const QColor c = clusterColor(i);
        if (!a.colors.contains(c) || i > 4 * a.clusterCount() + 10) {
            return c;
        }
    }
}

}  // namespace

bool ClusterState::isManual() const {
    return std::any_of(assignment.manual.begin(), assignment.manual.end(), [](bool m) { return m; });
}

bool ClusterState::operator==(const ClusterState& o) const {
    const bool cutsEqual = (std::isnan(cutHeight) && std::isnan(o.cutHeight)) || cutHeight == o.cutHeight;
    return cutsEqual && assignment.labelOfLeaf == o.assignment.labelOfLeaf &&
           assignment.clusterNames == o.assignment.clusterNames && assignment.manual == o.assignment.manual &&
           assignment.colors == o.assignment.colors;
}

QVector<int> leavesOf(const ClusterAssignment& a, int cluster) {
    QVector<int> leaves;
    for (int leaf = 0; leaf < a.labelOfLeaf.size(); ++leaf) {
        if (a.labelOfLeaf[leaf] == cluster) {
            leaves << leaf;
        }
    }
    return leaves;
}

ClusterAssignment dropEmptyClusters(const ClusterAssignment& a) {
    const ClusterAssignment in = normalized(a);
    ClusterAssignment out;
    out.labelOfLeaf = in.labelOfLeaf;
    QVector<int> newId(in.clusterCount(), -1);
    for (int c = 0; c < in.clusterCount(); ++c) {
        if (!in.labelOfLeaf.contains(c)) {
            continue;
        }
        newId[c] = out.clusterCount();
        out.clusterNames << in.clusterNames[c];
        out.manual << in.manual[c];
        out.colors << in.colors[c];
    }
    for (int& label : out.labelOfLeaf) {
        label = (label >= 0 && label < newId.size()) ? newId[label] : -1;
    }
    return out;
}

QString nextClusterName(const ClusterAssignment& a) {
    for (int i = a.clusterCount() + 1;; ++i) {
        const QString name = QStringLiteral("C%1").arg(i);
        if (!a.clusterNames.contains(name)) {
            return name;
        }
    }
}

ClusterAssignment moveLeaves(const ClusterAssignment& a, const QVector<int>& leaves, int target) {
    ClusterAssignment b = normalized(a);
    if (target < 0 || target >= b.clusterCount()) {
        return a;
    }
    bool moved = false;
    for (int leaf : sanitizeLeaves(leaves, b.labelOfLeaf.size())) {
        int& label = b.labelOfLeaf[leaf];
        if (label == target) {
            continue;
        }
        if (label >= 0) {
            b.manual[label] = true;
        }
        label = target;
        moved = true;
    }
    if (!moved) {
        return a;
    }
    b.manual[target] = true;
    return dropEmptyClusters(b);
}

ClusterAssignment addCluster(const ClusterAssignment& a, const QVector<int>& leaves, const QString& name) {
    ClusterAssignment b = normalized(a);
    b.clusterNames << (name.isEmpty() ? nextClusterName(b) : name);
    b.manual << true;
    b.colors << freshColor(b);
    return moveLeaves(b, leaves, b.clusterCount() - 1);
}

ClusterAssignment mergeClusters(const ClusterAssignment& a, const QVector<int>& clusters) {
    ClusterAssignment b = normalized(a);
    QVector<int> ids = sanitizeLeaves(clusters, b.clusterCount());
    if (ids.size() < 2) {
        return a;
    }
    const int into = ids.first();
    for (int& label : b.labelOfLeaf) {
        if (ids.contains(label)) {
            label = into;
        }
    }
    b.manual[into] = true;
    return dropEmptyClusters(b);
}

ClusterAssignment renameCluster(const ClusterAssignment& a, int cluster, const QString& name) {
    if (cluster < 0 || cluster >= a.clusterCount() || name.trimmed().isEmpty()) {
        return a;
    }
    ClusterAssignment b = normalized(a);
    b.clusterNames[cluster] = name.trimmed();
    b.manual[cluster] = true;
    return b;
}

// ---------------------------------------------------------------------------------------------------

ClusterModel::ClusterModel(QObject* parent) : QAbstractItemModel(parent) {}

void ClusterModel::setLabels(const QStringList& labels) {
    beginResetModel();
    m_labels = labels;
    rebuildRows();
    endResetModel();
}

void ClusterModel::setDisplayOrder(const QVector<int>& order) {
    beginResetModel();
    m_displayOrder = order;
    rebuildRows();
    endResetModel();
}

void ClusterModel::setState(const ClusterState& state) {
    beginResetModel();
    m_state = state;
    rebuildRows();
    endResetModel();
    Q_EMIT stateChanged();
}

void ClusterModel::rebuildRows() {
    const ClusterAssignment& a = m_state.assignment;
    m_rows = QVector<QVector<int>>(a.clusterCount());
    QVector<int> order = m_displayOrder;
    if (order.size() != a.labelOfLeaf.size()) {
        order.clear();
        for (int i = 0; i < a.labelOfLeaf.size(); ++i) {
            order << i;
        }
    }
    for (int leaf : order) {
        const int c = (leaf >= 0 && leaf < a.labelOfLeaf.size()) ? a.labelOfLeaf[leaf] : -1;
        if (c >= 0 && c < m_rows.size()) {
            m_rows[c] << leaf;
        }
    }
}

QVector<int> ClusterModel::leavesFor(const QModelIndexList& indexes) const {
    QVector<int> leaves;
    for (const QModelIndex& i : indexes) {
        if (!i.isValid()) {
            continue;
        }
        if (i.internalId() == kClusterRowId) {
            leaves += m_rows.value(i.row());
        } else {
            leaves << i.data(LeafRole).toInt();
        }
    }
    return sanitizeLeaves(leaves, m_state.assignment.labelOfLeaf.size());
}

QVector<int> ClusterModel::clustersFor(const QModelIndexList& indexes) const {
    QVector<int> clusters;
    for (const QModelIndex& i : indexes) {
        if (i.isValid()) {
            clusters << i.data(ClusterRole).toInt();
        }
    }
    return sanitizeLeaves(clusters, m_rows.size());
}

QModelIndex ClusterModel::clusterIndex(int cluster) const {
    return (cluster >= 0 && cluster < m_rows.size()) ? createIndex(cluster, 0, kClusterRowId) : QModelIndex();
}

QModelIndex ClusterModel::leafIndex(int leaf) const {
    for (int c = 0; c < m_rows.size(); ++c) {
        const int row = m_rows[c].indexOf(leaf);
        if (row >= 0) {
            return createIndex(row, 0, quintptr(c + 1));
        }
    }
    return {};
}

QModelIndex ClusterModel::index(int row, int column, const QModelIndex& parent) const {
    if (column != 0 || row < 0) {
        return {};
    }
    if (!parent.isValid()) {
        return row < m_rows.size() ? createIndex(row, 0, kClusterRowId) : QModelIndex();
    }
    if (parent.internalId() != kClusterRowId || parent.row() >= m_rows.size() ||
        row >= m_rows[parent.row()].size()) {
        return {};
    }
    return createIndex(row, 0, quintptr(parent.row() + 1));
}

QModelIndex ClusterModel::parent(const QModelIndex& child) const {
    if (!child.isValid() || child.internalId() == kClusterRowId) {
        return {};
    }
    return createIndex(int(child.internalId() - 1), 0, kClusterRowId);
}

int ClusterModel::rowCount(const QModelIndex& parent) const {
    if (!parent.isValid()) {
        return m_rows.size();
    }
    if (parent.internalId() == kClusterRowId && parent.row() < m_rows.size()) {
        return m_rows[parent.row()].size();
    }
    return 0;
}

int ClusterModel::columnCount(const QModelIndex&) const {
    return 1;
}

QVariant ClusterModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid()) {
        return {};
    }
    const ClusterAssignment& a = m_state.assignment;
    if (index.internalId() == kClusterRowId) {
        const int c = index.row();
        const bool manual = c < a.manual.size() && a.manual[c];
        switch (role) {
            case Qt::DisplayRole:
                return QStringLiteral("%1  (%2)%3")
                    .arg(a.nameOf(c))
                    .arg(m_rows.value(c).size())
                    .arg(manual ? QStringLiteral("  · manual") : QString());
            case Qt::EditRole: return a.nameOf(c);
            case Qt::DecorationRole: return c < a.colors.size() ? a.colors[c] : clusterColor(c);
            case Qt::ToolTipRole:
                return manual ? QStringLiteral("%1: edited by hand").arg(a.nameOf(c))
                              : QStringLiteral("%1: from the dendrogram cut").arg(a.nameOf(c));
            case ClusterRole: return c;
            default: return {};
        }
    }
    const int c = int(index.internalId() - 1);
    if (c >= m_rows.size() || index.row() >= m_rows[c].size()) {
        return {};
    }
    const int leaf = m_rows[c][index.row()];
    switch (role) {
        case Qt::DisplayRole:
        case Qt::EditRole: return m_labels.value(leaf, QStringLiteral("#%1").arg(leaf));
        case Qt::ToolTipRole:
            return QStringLiteral("%1 in %2 (drag to another cluster)").arg(m_labels.value(leaf), a.nameOf(c));
        case LeafRole: return leaf;
        case ClusterRole: return c;
        default: return {};
    }
}

bool ClusterModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid() || role != Qt::EditRole || index.internalId() != kClusterRowId) {
        return false;
    }
    const QString name = value.toString().trimmed();
    if (name.isEmpty() || name == m_state.assignment.nameOf(index.row())) {
        return false;
    }
    const int cluster = index.row();
    // Deferred: the command resets the model, which must not happen inside the editor's commit.
    QTimer::singleShot(0, this, [this, cluster, name] { Q_EMIT renameRequested(cluster, name); });
    return true;
}

Qt::ItemFlags ClusterModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) {
        return Qt::NoItemFlags;
    }
    if (index.internalId() == kClusterRowId) {
        return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsEditable | Qt::ItemIsDropEnabled;
    }
    return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsDragEnabled | Qt::ItemIsDropEnabled |
           Qt::ItemNeverHasChildren;
}

QVariant ClusterModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (section == 0 && orientation == Qt::Horizontal && role == Qt::DisplayRole) {
        return QStringLiteral("Clusters");
    }
    return {};
}

QStringList ClusterModel::mimeTypes() const {
    return {QString::fromLatin1(kMimeType)};
}

QMimeData* ClusterModel::mimeData(const QModelIndexList& indexes) const {
    const QVector<int> leaves = leavesFor(indexes);
    if (leaves.isEmpty()) {
        return nullptr;
    }
    auto* mime = new QMimeData;
    QByteArray bytes;
    QDataStream out(&bytes, QIODevice::WriteOnly);
    out << leaves;
    mime->setData(QString::fromLatin1(kMimeType), bytes);
    mime->setText(QStringList([&] {
                      QStringList names;
                      for (int l : leaves) {
                          names << m_labels.value(l);
                      }
                      return names;
                  }())
                      .join(QLatin1Char('\n')));
    return mime;
}

bool ClusterModel::canDropMimeData(const QMimeData* data, Qt::DropAction, int, int,
                                   const QModelIndex& parent) const {
    return data && data->hasFormat(QString::fromLatin1(kMimeType)) && parent.isValid();
}

bool ClusterModel::dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                                const QModelIndex& parent) {
    if (!canDropMimeData(data, action, row, column, parent)) {
        return false;
    }
    QVector<int> leaves;
    QDataStream in(data->data(QString::fromLatin1(kMimeType)));
    in >> leaves;
    const int cluster = parent.data(ClusterRole).toInt();
    // Deferred, and false returned: the edit arrives as an undo command, the view removes nothing.
    QTimer::singleShot(0, this, [this, leaves, cluster] { Q_EMIT moveRequested(leaves, cluster); });
    return false;
}

}  // namespace den2moe::ui
