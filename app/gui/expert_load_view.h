// ExpertLoadView: per MoE layer (selector, or the mean over layers) a domain × expert heatmap of the
// share of each domain's evaluation token-slots that each expert receives (eval/routing.h
// expert_load). Viridis colours, the share printed in each cell, hover tooltip. Export: PNG/SVG/PDF
// by suffix, CSV of all layers.
#pragma once

#include "engine_bridge.h"

#include <QWidget>

class QComboBox;
class QPainter;

namespace den2moe::ui {

/// Colour of a share in [0, 1] on viridis.
QColor viridisColor(double t);

class ExpertLoadCanvas : public QWidget {
    Q_OBJECT
public:
    explicit ExpertLoadCanvas(QWidget* parent = nullptr);
    void setLoad(const ExpertLoad* load, const bridge::MoeModelInfo* info, int layer);
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
    QRect m_grid;
    int m_cellW = 0, m_cellH = 0;
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
    bool exportImage(const QString& path, int width = 0, QString* error = nullptr);
    bool exportCsv(const QString& path, QString* error = nullptr);

private:
    void refresh();
    ExpertLoad m_load;
    bridge::MoeModelInfo m_info;
    bool m_hasInfo = false;
    QComboBox* m_layer = nullptr;
    ExpertLoadCanvas* m_canvas = nullptr;
};

}  // namespace den2moe::ui
