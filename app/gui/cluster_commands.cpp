#include "cluster_commands.h"

#include <QDateTime>
#include <QObject>

namespace den2moe::ui {

namespace {

ClusterState manualState(const ClusterAssignment& a) {
    ClusterState s;
    s.assignment = a;  // cutHeight NaN: edited by hand
    return s;
}

QString namesOf(const ClusterModel* model, const QVector<int>& leaves) {
    QStringList names;
    for (int leaf : leaves) {
        names << model->labels().value(leaf, QStringLiteral("#%1").arg(leaf));
    }
    if (names.size() > 3) {
        return QObject::tr("%1 domains").arg(names.size());
    }
    return names.join(QStringLiteral(", "));
}

}  // namespace

ClusterStateCommand::ClusterStateCommand(ClusterModel* model, ClusterState after, const QString& text,
                                         QUndoCommand* parent)
    : QUndoCommand(text, parent), m_model(model), m_before(model->state()), m_after(std::move(after)) {}

void ClusterStateCommand::redo() {
    m_model->setState(m_after);
}

void ClusterStateCommand::undo() {
    m_model->setState(m_before);
}

MoveDomainsCommand::MoveDomainsCommand(ClusterModel* model, const QVector<int>& leaves, int cluster)
    : ClusterStateCommand(model, manualState(moveLeaves(model->assignment(), leaves, cluster)),
                          QObject::tr("Move %1 to %2")
                              .arg(namesOf(model, leaves), model->assignment().nameOf(cluster))) {}

NewClusterCommand::NewClusterCommand(ClusterModel* model, const QVector<int>& leaves, const QString& name)
    : ClusterStateCommand(model, manualState(addCluster(model->assignment(), leaves, name)),
                          QObject::tr("New cluster with %1").arg(namesOf(model, leaves))) {}

MergeClustersCommand::MergeClustersCommand(ClusterModel* model, const QVector<int>& clusters)
    : ClusterStateCommand(model, manualState(mergeClusters(model->assignment(), clusters)),
                          QObject::tr("Merge %1 clusters").arg(clusters.size())) {}

RenameClusterCommand::RenameClusterCommand(ClusterModel* model, int cluster, const QString& name)
    : ClusterStateCommand(model, manualState(renameCluster(model->assignment(), cluster, name)),
                          QObject::tr("Rename %1 to %2").arg(model->assignment().nameOf(cluster), name)) {}

CutClustersCommand::CutClustersCommand(ClusterModel* model, const ClusterAssignment& cut, double height)
    : ClusterStateCommand(model, ClusterState{cut, height},
                          QObject::tr("Cut the dendrogram into %1 clusters").arg(cut.clusterCount())),
      m_stamp(QDateTime::currentMSecsSinceEpoch()) {}

bool CutClustersCommand::mergeWith(const QUndoCommand* other) {
    const auto* cut = static_cast<const CutClustersCommand*>(other);
    if (cut->m_stamp - m_stamp > kMergeMs) {
        return false;
    }
    m_stamp = cut->m_stamp;
    m_after = cut->m_after;
    setText(cut->text());
    if (m_after == m_before) {
        setObsolete(true);
    }
    return true;
}

}  // namespace den2moe::ui
