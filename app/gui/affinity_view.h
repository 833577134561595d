// AffinityView: the dendrogram and the heatmap side by side, leaf position p of the tree on the
// same pixel row as heatmap row p, under one bar (matrix kind, order, reset zoom, K). The dendrogram
// cut and the heatmap selection come out as signals; the cluster assignment shown (from a cut or
// edited by hand) comes in through setClusterState().
#pragma once

#include "cluster_model.h"
#include "view_data.h"

#include <QImage>
#include <QWidget>

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace den2moe::ui {

class DendrogramView;
class HeatmapView;

/// @brief Dendrogram + heatmap, aligned and linked, with a shared bar.
class AffinityView : public QWidget {
    Q_OBJECT

public:
    explicit AffinityView(QWidget* parent = nullptr);

    /// New data; the cut goes to `k` clusters (the dendrogram emits nothing for it).
    void setData(const MatrixViewData& matrix, const DendrogramData& tree, int k);
    void clear();
    bool hasData() const { return m_hasData; }

    /// The clusters shown in the heatmap; a state with a cut height also moves the cut line there
    /// (without emitting cutChanged).
    void setClusterState(const ClusterState& state);

    void setSelectedLeaves(const QVector<int>& leaves);
    QVector<int> selectedLeaves() const;

    HeatmapView* heatmap() const { return m_heatmap; }
    DendrogramView* dendrogram() const { return m_dendrogram; }
    /// Puts the dendrogram's plot rows on the heatmap's (call after a resize or a new data set).
    void syncAlignment();
    /// The two plots as one image (no bar), at the widget's current size.
    QImage renderPlots();
    /// The dendrogram alone with its leaf labels (PNG/SVG/PDF by suffix).
    bool exportDendrogram(const QString& path, int width, int height, QString* error);

Q_SIGNALS:
    /// The user moved the cut (line drag or K): the assignment of that cut.
    void cutChanged(double height, const den2moe::ui::ClusterAssignment& assignment);
    /// Selection changed in the heatmap or by a click on the dendrogram.
    void selectionChanged(const QVector<int>& leaves);

protected:
    void resizeEvent(QResizeEvent* event) override;
    void showEvent(QShowEvent* event) override;

private:
    void onDendrogramCut(double height, int k);
    void updateBar();

    HeatmapView* m_heatmap = nullptr;
    DendrogramView* m_dendrogram = nullptr;
    QWidget* m_plots = nullptr;
    QComboBox* m_kindCombo = nullptr;
    QComboBox* m_orderCombo = nullptr;
    QPushButton* m_resetZoom = nullptr;
    QSpinBox* m_kSpin = nullptr;
    QLabel* m_manualBadge = nullptr;
    QLabel* m_placeholder = nullptr;
    bool m_hasData = false;
    bool m_syncing = false;  // programmatic cut/K changes do not come back out as cutChanged
};

}  // namespace den2moe::ui
