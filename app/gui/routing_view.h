// RoutingView: type a text, see which expert each token goes to. Typing is debounced (QTimer, 250 ms
// by default); each settled text is traced on a dedicated one-thread pool (never the GUI thread,
// never the JobRunner's conversion slot). At most one trace runs at a time; a text that changes while
// one runs is traced once it returns (coalesced), and a result whose sequence number is not the
// latest request's is dropped, so the last text always wins.
// Shows: tokens as chips coloured by their top-1 expert at the selected layer, a legend naming each
// expert by its cluster's domains, a layer × token heat strip (top-1 expert), and a tooltip with the
// top-k experts and weights at every layer. Export: PNG/SVG/PDF (by suffix) and CSV.
#pragma once

#include "engine_bridge.h"

#include <QRect>
#include <QString>
#include <QVector>
#include <QWidget>

#include <memory>

class QComboBox;
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
    /// Paints at `width`; returns the height used. Records the hit boxes when `record`.
    int paintAll(QPainter& p, int width, bool record);
    int heightForWidth(int width) const override;
    bool hasHeightForWidth() const override { return true; }
    QSize sizeHint() const override;
    /// Token under a point (chip or heat-strip cell), -1 if none.
    int tokenAt(const QPoint& pos) const;
    QRect chipRect(int token) const;
    QString toolTipFor(int token) const;

protected:
    void paintEvent(QPaintEvent* event) override;
    bool event(QEvent* event) override;

private:
    std::shared_ptr<const RoutingTrace> m_trace;
    const bridge::MoeModelInfo* m_info = nullptr;
    int m_layer = 0;
    QVector<QRect> m_chipRects;
    QVector<QVector<QRect>> m_cellRects;  // [layer][token]
};

class RoutingView : public QWidget {
    Q_OBJECT
public:
    explicit RoutingView(QWidget* parent = nullptr);
    ~RoutingView() override;

    void setModel(bridge::MoeModelPtr model);
    bridge::MoeModelPtr model() const { return m_model; }

    QLineEdit* textEdit() const { return m_edit; }
    QComboBox* layerCombo() const { return m_layer; }
    RoutingCanvas* canvas() const { return m_canvas; }
    /// Sets the text and traces it at once (no debounce): headless and tests.
    void setText(const QString& text);
    /// Traces the current text now (skips the debounce).
    void traceNow();
    void setDebounceMs(int ms);
    /// Tests: the worker sleeps this long before each trace (a slow model), to exercise stale results.
    void setSimulatedLatencyMs(int ms) { m_latencyMs = ms; }

    /// The trace shown and the text it belongs to (null before the first result).
    std::shared_ptr<const RoutingTrace> trace() const { return m_trace; }
    QString traceText() const { return m_traceText; }
    /// Shows a given trace (no engine call): tests of the adapters and views.
    void showTrace(std::shared_ptr<const RoutingTrace> trace, const QString& text);
    int selectedLayer() const;
    void setSelectedLayer(int moeLayerIndex);

    int tracesStarted() const { return m_started; }
    int resultsDropped() const { return m_dropped; }
    bool isTracing() const { return m_running; }

    bool exportImage(const QString& path, int width = 0, QString* error = nullptr);
    bool exportCsv(const QString& path, QString* error = nullptr);

Q_SIGNALS:
    void traceUpdated();
    void traceFailed(const QString& message);

private:
    void onTextEdited();
    void startTrace();
    void onTraceDone(quint64 seq, const QString& text, std::shared_ptr<const RoutingTrace> trace,
                     const QString& error);
    void refreshCanvas();

    bridge::MoeModelPtr m_model;
    QLineEdit* m_edit = nullptr;
    QComboBox* m_layer = nullptr;
    QLabel* m_status = nullptr;
    RoutingCanvas* m_canvas = nullptr;
    QTimer* m_debounce = nullptr;
    QThreadPool* m_pool = nullptr;
    std::shared_ptr<const RoutingTrace> m_trace;
    QString m_traceText;
    quint64 m_seq = 0;  // the latest request
    bool m_running = false;
    bool m_pending = false;
    int m_started = 0;
    int m_dropped = 0;
    int m_latencyMs = 0;
    std::shared_ptr<bool> m_alive;
};

/// Renders `paint(painter, width) -> height` into a PNG/SVG/PDF file chosen by suffix.
bool exportPainted(const QString& path, int width, const std::function<int(QPainter&, int, bool)>& paint,
                   QString* error);

}  // namespace den2moe::ui
