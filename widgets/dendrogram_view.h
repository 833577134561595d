// DendrogramView: a scipy-identical dendrogram drawn sideways (root left, leaves right) so leaf
// position p sits at the same y as heatmap row p. A cut line the user drags (or a K spin box) sets
// the flat clusters, recoloured live; clicking a merge selects its subtree; export to PNG/SVG/PDF.
// Composes a private QCustomPlot: no QCP type appears in this API.
#pragma once

#include "dendrogram_layout.h"
#include "view_data.h"

#include <QMargins>
#include <QPoint>
#include <QVector>
#include <QWidget>

class QCPAbstractPlottable;
class QCPItemStraightLine;
class QCPItemText;
class QCustomPlot;
class QLabel;
class QMouseEvent;
class QSpinBox;

namespace den2moe::ui {

/// @brief Sideways dendrogram with a draggable cut (K), live cluster colours and subtree selection.
class DendrogramView : public QWidget {
    Q_OBJECT

public:
    explicit DendrogramView(QWidget* parent = nullptr);
    ~DendrogramView() override;

    /// Lays the tree out and cuts it into the same number of clusters as before (or 2 for a new
    /// tree).
    void setDendrogram(const DendrogramData& data);
    const DendrogramData& dendrogram() const { return m_data; }
    const DendrogramLayout& layout() const { return m_layout; }
    /// Project index at each leaf position, top to bottom: give it to HeatmapView::setLeafOrder.
    QVector<int> leafOrder() const { return m_layout.leaves; }

    /// Moves the cut; emits cutChanged when the height changes.
    void setCutHeight(double height);
    double cutHeight() const { return m_cut; }
    /// Moves the cut to the middle of the heights giving k clusters (fcluster 'maxclust' when ties
    /// make k unreachable: the largest count below k).
    void setK(int k);
    int k() const { return m_assignment.clusterCount(); }
    /// Flat clusters at the current cut, numbered top to bottom, named C1..Ck.
    const ClusterAssignment& clusterAssignment() const { return m_assignment; }

    /// Highlights these leaves (project indices) and the merges entirely inside them. Does not emit
    /// leavesSelected, which reports user clicks only, so views linked both ways do not loop.
    void setSelectedLeaves(const QVector<int>& leaves);
    QVector<int> selectedLeaves() const { return m_selected; }

    /// Leaf axis range in leaf positions (-0.5 .. n-0.5 = all); connect
    /// HeatmapView::rowRangeChanged.
    void setLeafRange(double lo, double hi);
    /// Fixed top/bottom margins of the plot area (pixels, -1 = automatic), to line up with a
    /// heatmap's.
    void setRowAxisMargins(int top, int bottom);
    QMargins plotMargins() const;
    void setLeafLabelsVisible(bool visible);
    void setToolBarVisible(bool visible);

    /// plotWidget() coordinates of a leaf (node < n) or of a merge's crossbar midpoint (n + linkage
    /// row).
    QPoint nodePosition(int node) const;
    /// Merge under a plotWidget() point (nearest segment within a few pixels), or -1.
    int nodeAt(const QPoint& plotPos) const;
    /// x of the cut line in plotWidget() coordinates.
    int cutLinePixel() const;
    QWidget* plotWidget() const;

    bool exportTo(const QString& path, int width = 0, int height = 0, QString* error = nullptr);

Q_SIGNALS:
    void cutChanged(double height, int k);
    void leavesSelected(const QVector<int>& leaves);

private:
    void rebuildPlot();
    void applyCut(double height, bool force);
    void recolor();
    void updateCutItems();
    void onPlotMousePress(QMouseEvent* event);
    void onPlotMouseMove(QMouseEvent* event);
    void onPlotMouseRelease(QMouseEvent* event);
    void onSpinBoxChanged(int value);
    double maxCut() const;
    double minCut() const;

    DendrogramData m_data;
    DendrogramLayout m_layout;
    QVector<double> m_maxHeights;  // per merge row
    ClusterAssignment m_assignment;
    QVector<int> m_selected;
    double m_cut = 0.0;
    bool m_hasCut = false;
    bool m_draggingCut = false;
    bool m_pressed = false;
    QPoint m_pressPos;
    int m_lastSpinValue = 0;
    bool m_leafLabelsVisible = true;

    QCustomPlot* m_plot = nullptr;
    QVector<QCPAbstractPlottable*> m_segmentCurves;  // one per layout segment
    QVector<QCPAbstractPlottable*> m_leafMarks;  // one scatter graph per cluster + the selection
    QCPItemStraightLine* m_cutLine = nullptr;
    QCPItemText* m_cutLabel = nullptr;
    QWidget* m_toolBar = nullptr;
    QSpinBox* m_kSpin = nullptr;
    QLabel* m_kLabel = nullptr;
};

}  // namespace den2moe::ui
