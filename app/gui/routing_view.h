// RoutingView: type a text, see which expert each token goes to. Typing is debounced (QTimer, 250 ms
// by default); each settled text is traced on a dedicated one-thread pool (never the GUI thread,
// never the JobRunner's conversion slot). At most one trace runs at a time; a text that changes while
// one runs is traced once it returns (coalesced), and a result whose sequence number is not the
// latest request's is dropped, so the last text always wins.
// Shows: tokens as chips coloured by their top-1 expert at the selected layer (the tokens of one
// grapheme cluster, e.g. the byte pieces of 北, share one chip with a stripe per token; a lone byte
// shows as <0xNN>; chips stay in logical order, right-to-left text shaped inside its chip), a legend naming each
// expert by its cluster's domains, a layer × token heat strip (top-1 expert), and a tooltip with the
// top-k experts and weights at every layer. Export: PNG/SVG/PDF (by suffix) and CSV.
// Comparison: an optional second model ("Compare with…"); every settled text is then traced by both
// (each side keeps its own sequence number, so each shows only its newest result) and the second
// model's chips, heat strip and legend are shown under the first, each titled by routingModelTitle().
// Each side has its own layer selector (the two runs may differ in MoE layers and experts: a note
// above the canvases says how, routingComparisonNote(); a side never shows a layer it does not have).
#pragma once

#include "engine_bridge.h"

#include <QRect>
#include <QString>
#include <QVector>
#include <QWidget>

#include <memory>

class QComboBox;
class QPushButton;
class QLabel;
class QLineEdit;
class QPainter;
class QThreadPool;
class QTimer;

namespace den2moe::ui {

/// The painted part of the routing view (chips, heat strip, legend); paints the same into a widget
/// or an export device.
class RoutingCanvas : public QWidget {
    Q_OBJECT
public:
    explicit RoutingCanvas(QWidget* parent = nullptr);
    void setTrace(std::shared_ptr<const RoutingTrace> trace, const bridge::MoeModelInfo* info, int layer);
    /// A bold title painted above the chips (empty: none).
    void setTitle(const QString& title);
    QString title() const { return m_title; }
    std::shared_ptr<const RoutingTrace> trace() const { return m_trace; }
    /// Paints at `width`; returns the height used. Records the hit boxes when `record`.
    int paintAll(QPainter& p, int width, bool record);
    int heightForWidth(int width) const override;
    bool hasHeightForWidth() const override { return true; }
    QSize sizeHint() const override;
    /// Token under a point (chip or heat-strip cell), -1 if none.
    int tokenAt(const QPoint& pos) const;
    /// The hit box of `token`: its chip, or its column of a multi-token chip.
    QRect chipRect(int token) const;
    QString toolTipFor(int token) const;

protected:
    void paintEvent(QPaintEvent* event) override;
    bool event(QEvent* event) override;

private:
    std::shared_ptr<const RoutingTrace> m_trace;
    const bridge::MoeModelInfo* m_info = nullptr;
    int m_layer = 0;
    QString m_title;
    QVector<QRect> m_chipRects;
    QVector<QVector<QRect>> m_cellRects;  // [layer][token]
};

class RoutingView : public QWidget {
    Q_OBJECT
public:
    explicit RoutingView(QWidget* parent = nullptr);
    ~RoutingView() override;

    void setModel(bridge::MoeModelPtr model);
    bridge::MoeModelPtr model() const { return m_sides[0].model; }

    /// The second model of a side-by-side comparison (null: none; clears it). Traces the current text.
    void setCompareModel(bridge::MoeModelPtr model);
    void clearCompareModel() { setCompareModel(nullptr); }
    bridge::MoeModelPtr compareModel() const { return m_sides[1].model; }
    /// loadMoeModel(dir) then setCompareModel; false (and `error`) when it cannot be loaded.
    bool loadCompareModel(const QString& dir, QString* error = nullptr);
    /// Asks for a converted folder (a dialog) and loads it as the comparison.
    void chooseCompareModel();
    RoutingCanvas* compareCanvas() const { return m_sides[1].canvas; }
    std::shared_ptr<const RoutingTrace> compareTrace() const { return m_sides[1].trace; }
    QString compareTraceText() const { return m_sides[1].traceText; }
    QPushButton* compareButton() const { return m_compareButton; }
    QPushButton* clearCompareButton() const { return m_clearCompareButton; }

    QLineEdit* textEdit() const { return m_edit; }
    QComboBox* layerCombo() const { return m_layer; }
    /// The comparison model's own layer selector (hidden without a comparison).
    QComboBox* compareLayerCombo() const { return m_sides[1].layerCombo; }
    /// What differs between the two models (empty without a comparison or when nothing differs).
    QString comparisonNote() const;
    RoutingCanvas* canvas() const { return m_canvas; }
    /// Sets the text and traces it at once (no debounce): headless and tests.
    void setText(const QString& text);
    /// Traces the current text now (skips the debounce).
    void traceNow();
    void setDebounceMs(int ms);
    /// Tests: the worker sleeps this long before each trace (a slow model), to exercise stale results.
    void setSimulatedLatencyMs(int ms) { m_latencyMs = ms; }

    /// The trace shown and the text it belongs to (null before the first result).
    std::shared_ptr<const RoutingTrace> trace() const { return m_sides[0].trace; }
    QString traceText() const { return m_sides[0].traceText; }
    /// Shows a given trace (no engine call): tests of the adapters and views.
    void showTrace(std::shared_ptr<const RoutingTrace> trace, const QString& text);
    int selectedLayer() const;
    /// Selects an MoE layer index of the first model; one it does not have is ignored.
    void setSelectedLayer(int moeLayerIndex);
    /// The comparison side's MoE layer index (0 without a comparison).
    int selectedCompareLayer() const;
    void setSelectedCompareLayer(int moeLayerIndex);
    /// Shows a given trace on the comparison side (no engine call; needs a comparison model): tests.
    void showCompareTrace(std::shared_ptr<const RoutingTrace> trace, const QString& text);

    int tracesStarted() const { return m_sides[0].started; }
    int resultsDropped() const { return m_sides[0].dropped; }
    bool isTracing() const { return m_sides[0].running; }
    int compareTracesStarted() const { return m_sides[1].started; }
    int compareResultsDropped() const { return m_sides[1].dropped; }
    bool isCompareTracing() const { return m_sides[1].running; }

    bool exportImage(const QString& path, int width = 0, QString* error = nullptr);
    bool exportCsv(const QString& path, QString* error = nullptr);

Q_SIGNALS:
    void traceUpdated();
    void traceFailed(const QString& message);
    /// The comparison model's trace changed (or the comparison was cleared).
    void compareTraceUpdated();

private:
    /// One traced model: the primary (0) or the comparison (1).
    struct Side {
        bridge::MoeModelPtr model;
        RoutingCanvas* canvas = nullptr;
        QComboBox* layerCombo = nullptr;  // this side's MoE layer
        std::shared_ptr<const RoutingTrace> trace;
        QString traceText;
        quint64 seq = 0;  // the latest request
        bool running = false;
        bool pending = false;
        int started = 0;
        int dropped = 0;
    };
    void onTextEdited();
    void startTraces();
    void startTrace(int side);
    void onTraceDone(int side, quint64 seq, const QString& text, std::shared_ptr<const RoutingTrace> trace,
                     const QString& error);
    void showSideTrace(int side, std::shared_ptr<const RoutingTrace> trace, const QString& text);
    void refreshCanvas();
    void updateTitles();
    /// Fills side `side`'s layer selector with `layers` (model layer numbers), keeping the index if it fits.
    void fillLayers(int side, const std::vector<int>& layers);

    Side m_sides[2];
    QLineEdit* m_edit = nullptr;
    QComboBox* m_layer = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_compareLayerLabel = nullptr;
    QLabel* m_note = nullptr;  // what differs between the compared models
    QPushButton* m_compareButton = nullptr;
    QPushButton* m_clearCompareButton = nullptr;
    RoutingCanvas* m_canvas = nullptr;  // == m_sides[0].canvas
    QTimer* m_debounce = nullptr;
    QThreadPool* m_pool = nullptr;
    int m_latencyMs = 0;
    std::shared_ptr<bool> m_alive;
};

/// "<folder> · <recipe> · <router init> routers · seed N" from the model's folder name, moe_config.json
/// (recipe, router.init) and provenance.json (seed); the folder name alone when those are missing.
QString routingModelTitle(const bridge::MoeModelInfo& info);

/// Renders `paint(painter, width) -> height` into a PNG/SVG/PDF file chosen by suffix.
bool exportPainted(const QString& path, int width, const std::function<int(QPainter&, int, bool)>& paint,
                   QString* error);

}  // namespace den2moe::ui
