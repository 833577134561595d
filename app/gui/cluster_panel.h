// ClusterPanel: the cluster list (clusters → domains) over a ClusterModel, with drag and drop, a
// context menu (move to…, new cluster, merge, rename) and buttons for the same. Edits come out as
// *Requested signals; the window turns them into undo commands. Its selection is linked with the
// views through selectionChanged / setSelectedLeaves (which never echoes back).
#pragma once

#include <QVector>
#include <QWidget>

class QAction;
class QMenu;
class QTreeView;
class QToolButton;

namespace den2moe::ui {

class ClusterModel;

/// @brief Cluster list with drag and drop and an edit menu.
class ClusterPanel : public QWidget {
    Q_OBJECT

public:
    explicit ClusterPanel(ClusterModel* model, QWidget* parent = nullptr);

    QTreeView* view() const { return m_view; }
    /// Selects these domains (project indices) without emitting selectionChanged.
    void setSelectedLeaves(const QVector<int>& leaves);
    QVector<int> selectedLeaves() const;
    QVector<int> selectedClusters() const;
    /// Extra actions shown in the bar and the menu (e.g. "Rerun conversion").
    void addExtraAction(QAction* action);
    /// The context menu for the current selection (for tests).
    QMenu* buildContextMenu(QWidget* parent);

Q_SIGNALS:
    void selectionChanged(const QVector<int>& leaves);
    void moveRequested(const QVector<int>& leaves, int cluster);
    void newClusterRequested(const QVector<int>& leaves);
    void mergeRequested(const QVector<int>& clusters);
    void renameRequested(int cluster, const QString& name);

private:
    void onModelReset();
    void onSelectionChanged();
    void requestRename();
    void updateButtons();

    ClusterModel* m_model;
    QTreeView* m_view = nullptr;
    QToolButton* m_newButton = nullptr;
    QToolButton* m_mergeButton = nullptr;
    QToolButton* m_renameButton = nullptr;
    QList<QAction*> m_extra;
    QWidget* m_bar = nullptr;
    QVector<int> m_restoreSelection;
    bool m_settingSelection = false;
};

}  // namespace den2moe::ui
