// HeatmapView: the domain × domain matrix (raw PPL, normalised or correlation) as a crisp
// QCustomPlot colour map with a labelled colour scale. Rows and columns follow the dendrogram's
// leaf order or the project order; hover shows the pair, the three values and both clusters;
// wheel/drag zoom with a visible reset; linked selection by leaf (project index); export to
// PNG/SVG/PDF. Composes a private QCustomPlot: no QCP type appears in this API.
#pragma once

#include "view_data.h"

#include <QMargins>
#include <QPoint>
#include <QVector>
#include <QWidget>

class QComboBox;
class QCPAbstractItem;
class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCustomPlot;
class QLabel;
class QMouseEvent;
class QPushButton;

namespace den2moe::ui {

/// Display-ordered cells: cells[r][c] = matrix[order[r]][order[c]] of `kind` (an empty order means
/// project order). Empty when the matrix of that kind is missing or the order is not a permutation.
QVector<QVector<double>> cellsFor(const MatrixViewData& data, MatrixKind kind,
                                  const QVector<int>& order);

/// Display name of a matrix kind ("Raw PPL", ...), and the colour-scale title.
QString matrixKindName(MatrixKind kind);
QString matrixKindScaleTitle(MatrixKind kind);

/// @brief Domain × domain matrix view: colour map + scale, ordering, tooltip, zoom, selection, export.
class HeatmapView : public QWidget {
    Q_OBJECT

public:
    enum class Order { Dendrogram, Project };
    Q_ENUM(Order)

    explicit HeatmapView(QWidget* parent = nullptr);
    ~HeatmapView() override;

    void setData(const MatrixViewData& data);
    const MatrixViewData& data() const { return m_data; }

    /// Falls back to the first available kind when `kind` is missing from the data.
    void setMatrixKind(MatrixKind kind);
    MatrixKind matrixKind() const { return m_kind; }

    /// The dendrogram leaf order (project indices, top to bottom), used while orderMode() is
    /// Dendrogram.
    void setLeafOrder(const QVector<int>& leaves);
    void setOrderMode(Order order);
    Order orderMode() const { return m_orderMode; }
    /// The project index shown at each display row/column.
    QVector<int> displayOrder() const;

    /// Clusters for the tooltips and the block outlines on the diagonal.
    void setClusterAssignment(const ClusterAssignment& clusters);
    const ClusterAssignment& clusterAssignment() const { return m_clusters; }

    /// Linked selection (project indices). Emits selectionChanged only when the set changes, so two
    /// views connected both ways do not loop.
    void setSelectedLeaves(const QVector<int>& leaves);
    QVector<int> selectedLeaves() const { return m_selected; }

    /// Tooltip for a cell, by project indices.
    QString cellToolTip(int row, int col) const;
    /// Cell (project indices) under a point of plotWidget(); false outside the matrix.
    bool cellAt(const QPoint& plotPos, int* row, int* col) const;
    /// Centre of a cell (project indices) in plotWidget() coordinates.
    QPoint cellCentre(int row, int col) const;
    /// The widget that receives mouse input (for tests and event filters).
    QWidget* plotWidget() const;

    void resetZoom();
    bool isZoomed() const;
    /// Vertical range in row units (-0.5 .. n-0.5 = all rows), to keep a dendrogram aligned.
    void setRowRange(double lo, double hi);
    /// The axis rect's margins inside plotWidget() (left, top, right, bottom), after the last
    /// replot.
    QMargins plotMargins() const;
    /// Show or hide the built-in bar (matrix kind, order, reset zoom); the app may provide its own.
    void setToolBarVisible(bool visible);

    /// Writes the plot with its colour scale and labels; the suffix picks .png, .svg or .pdf.
    /// width/height 0 = the on-screen size. On failure returns false and sets `error`.
    bool exportTo(const QString& path, int width = 0, int height = 0, QString* error = nullptr);

Q_SIGNALS:
    void selectionChanged(const QVector<int>& leaves);
    void cellHovered(int row,
                     int col);  ///< project indices; -1, -1 when the pointer leaves the matrix
    void cellClicked(int row, int col);
    void rowRangeChanged(double lo, double hi);
    void matrixKindChanged(den2moe::ui::MatrixKind kind);
    void orderModeChanged(den2moe::ui::HeatmapView::Order order);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();
    void fillColorMap(int c0, int c1, int r0, int r1);
    void updateColorScale();
    void updateTickLabels();
    void updateLabelStep();
    void updateOverlays();
    void updateToolBar();
    void clampRanges();
    void onPlotMouseMove(QMouseEvent* event);
    void onPlotMousePress(QMouseEvent* event);
    void onPlotMouseRelease(QMouseEvent* event);
    void setHoverCell(int displayRow, int displayCol, const QPoint& globalPos);

    MatrixViewData m_data;
    MatrixKind m_kind = MatrixKind::Raw;
    Order m_orderMode = Order::Dendrogram;
    QVector<int> m_leafOrder;
    QVector<int> m_order;  // effective display order
    QVector<QVector<double>> m_cells;
    ClusterAssignment m_clusters;
    QVector<int> m_selected;
    int m_labelStep = 1;  // label every m_labelStep-th row/column (cells smaller than the text)
    int m_hoverRow = -1;
    int m_hoverCol = -1;
    QPoint m_pressPos;
    bool m_pressed = false;
    bool m_clamping = false;

    QCustomPlot* m_plot = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPItemRect* m_hoverRect = nullptr;
    QVector<QCPAbstractItem*> m_overlays;  // selection bands and cluster blocks
    QWidget* m_toolBar = nullptr;
    QComboBox* m_kindCombo = nullptr;
    QComboBox* m_orderCombo = nullptr;
    QPushButton* m_resetButton = nullptr;
    QLabel* m_hint = nullptr;
};

}  // namespace den2moe::ui
