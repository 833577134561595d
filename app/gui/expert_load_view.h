// ExpertLoadView: per MoE layer (selector, or the mean over layers) a domain × expert heatmap of the
// share of each domain's evaluation token-slots that each expert receives (eval/routing.h
// expert_load). Viridis colours, the share printed in each cell, hover tooltip. Export: PNG/SVG/PDF
// by suffix, CSV of all layers.
// Comparison of two runs (before/after a training stage, DIVE vs Den2MoEE): a second load with its own
// layer selector, shown under the first, and under both the engine's comparison
// (eval/expert_load_compare.h): per domain and expert the change b − a on a diverging scale, the total
// variation distance per domain and each side's balance (normalised entropy); the models may differ in
// experts and MoE layers, then the note says so and only what is defined is shown.
#pragma once

#include "engine_bridge.h"

#include "eval/expert_load_compare.h"

#include <memory>

#include <QWidget>

class QComboBox;
class QLabel;
class QPainter;

namespace den2moe::ui {

/// Colour of a share in [0, 1] on viridis.
QColor viridisColor(double t);

class ExpertLoadCanvas : public QWidget {
    Q_OBJECT
public:
    explicit ExpertLoadCanvas(QWidget* parent = nullptr);
    void setLoad(const ExpertLoad* load, const bridge::MoeModelInfo* info, int layer);
    /// A bold title painted above the grid (empty: none).
    void setTitle(const QString& title);
    /// layer -1 = mean over layers.
    static double cellValue(const ExpertLoad& load, int layer, size_t domain, int expert);
    int paintAll(QPainter& p, int width, bool record);
    QSize sizeHint() const override;
    /// (domain, expert) under a point; false outside.
    bool cellAt(const QPoint& pos, int* domain, int* expert) const;

protected:
    void paintEvent(QPaintEvent* event) override;
    bool event(QEvent* event) override;

private:
    const ExpertLoad* m_load = nullptr;
    const bridge::MoeModelInfo* m_info = nullptr;
    int m_layer = -1;
    QString m_title;
    QRect m_grid;
    int m_cellW = 0, m_cellH = 0;
};

/// The change between two expert loads: the engine's ExpertLoadComparison painted as a domain × expert
/// grid of b − a (blue: b routes less there, red: more), with the total variation distance and each
/// side's balance per domain; without a per-expert delta (different expert counts) only the latter.
class ExpertLoadDeltaCanvas : public QWidget {
    Q_OBJECT
public:
    explicit ExpertLoadDeltaCanvas(QWidget* parent = nullptr);
    void setComparison(const ExpertLoadComparison* c);
    int paintAll(QPainter& p, int width, bool record);
    QSize sizeHint() const override;
    /// Colour of a delta on the diverging scale [-scale, scale].
    static QColor deltaColor(double delta, double scale);

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    const ExpertLoadComparison* m_c = nullptr;
};

class ExpertLoadView : public QWidget {
    Q_OBJECT
public:
    explicit ExpertLoadView(QWidget* parent = nullptr);
    /// `info` may be null (experts named e0, e1, ...).
    void setLoad(const ExpertLoad& load, const bridge::MoeModelInfo* info = nullptr);
    const ExpertLoad& load() const { return m_load; }
    QComboBox* layerCombo() const { return m_layer; }
    ExpertLoadCanvas* canvas() const { return m_canvas; }
    /// -1 = mean over layers, else the MoE layer index.
    int selectedLayer() const;

    /// The second run of a comparison (its own layer selector); clearCompareLoad() ends it.
    void setCompareLoad(const ExpertLoad& load, const bridge::MoeModelInfo* info = nullptr);
    void clearCompareLoad();
    bool isComparing() const { return m_comparing; }
    const ExpertLoad& compareLoad() const { return m_compareLoad; }
    QComboBox* compareLayerCombo() const { return m_compareLayer; }
    int selectedCompareLayer() const;
    ExpertLoadCanvas* compareCanvas() const { return m_compareCanvas; }
    ExpertLoadDeltaCanvas* deltaCanvas() const { return m_deltaCanvas; }
    /// The engine's comparison at the two selected layers (null without a comparison or when the
    /// engine refused it: then comparisonError() says why).
    const ExpertLoadComparison* comparison() const { return m_comparison.get(); }
    QString comparisonError() const { return m_comparisonError; }
    /// The note shown above the canvases (what differs between the two runs; empty when nothing).
    QString comparisonNote() const;
    bool exportImage(const QString& path, int width = 0, QString* error = nullptr);
    /// The first load's CSV; with a comparison, the comparison's (expert_load_comparison_csv).
    bool exportCsv(const QString& path, QString* error = nullptr);

private:
    void refresh();
    ExpertLoad m_load;
    bridge::MoeModelInfo m_info;
    bool m_hasInfo = false;
    QComboBox* m_layer = nullptr;
    ExpertLoadCanvas* m_canvas = nullptr;
    ExpertLoad m_compareLoad;
    bridge::MoeModelInfo m_compareInfo;
    bool m_hasCompareInfo = false;
    bool m_comparing = false;
    QLabel* m_compareLayerLabel = nullptr;
    QComboBox* m_compareLayer = nullptr;
    QLabel* m_note = nullptr;
    ExpertLoadCanvas* m_compareCanvas = nullptr;
    ExpertLoadDeltaCanvas* m_deltaCanvas = nullptr;
    std::unique_ptr<ExpertLoadComparison> m_comparison;
    QString m_comparisonError;
};

}  // namespace den2moe::ui
