// Undo commands for the cluster editor. Every edit of the assignment (move, new cluster, merge,
// rename) and every cut of the dendrogram (line drag or K) is one command on the window's
// QUndoStack. A command keeps the ClusterState before and after, so undo restores exactly what
// was there; consecutive cut moves merge into one command, so a drag is one undo step.
#pragma once

#include "cluster_model.h"

#include <QUndoCommand>

namespace den2moe::ui {

/// @brief Replaces the model's state with `after`; undo puts the previous state back.
class ClusterStateCommand : public QUndoCommand {
public:
    ClusterStateCommand(ClusterModel* model, ClusterState after, const QString& text,
                        QUndoCommand* parent = nullptr);
    void redo() override;
    void undo() override;
    /// False when the edit changes nothing (the window then does not push it).
    bool changesSomething() const { return m_before != m_after; }
    const ClusterState& before() const { return m_before; }
    const ClusterState& after() const { return m_after; }

protected:
    ClusterModel* m_model;
    ClusterState m_before;
    ClusterState m_after;
};

class MoveDomainsCommand : public ClusterStateCommand {
public:
    MoveDomainsCommand(ClusterModel* model, const QVector<int>& leaves, int cluster);
};

class NewClusterCommand : public ClusterStateCommand {
public:
    NewClusterCommand(ClusterModel* model, const QVector<int>& leaves, const QString& name = {});
};

class MergeClustersCommand : public ClusterStateCommand {
public:
    MergeClustersCommand(ClusterModel* model, const QVector<int>& clusters);
};

class RenameClusterCommand : public ClusterStateCommand {
public:
    RenameClusterCommand(ClusterModel* model, int cluster, const QString& name);
};

/// @brief The assignment of a dendrogram cut (drag or K), replacing a manual one. Merges with the
/// command just before it when that is also a cut made less than kMergeMs earlier, so dragging the
/// line is one undo step while two deliberate K changes stay two.
class CutClustersCommand : public ClusterStateCommand {
public:
    static constexpr int kId = 0x64326d01;
    static constexpr qint64 kMergeMs = 1000;
    CutClustersCommand(ClusterModel* model, const ClusterAssignment& cut, double height);
    int id() const override { return kId; }
    bool mergeWith(const QUndoCommand* other) override;

private:
    qint64 m_stamp;  // ms since epoch of the last cut merged into this command
};

}  // namespace den2moe::ui
