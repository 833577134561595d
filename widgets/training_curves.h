// TrainingCurvesView: a training run's curves over optimizer steps, four stacked QCustomPlot panels
// sharing the step axis: loss (train loss per logged step, held-out loss at each evaluation), held-out
// perplexity (exp of the held-out loss), learning rate and throughput (tokens/s per step). Plain data in (TrainingCurveData, filled
// live from progress metrics or from a finished run's log by the app), no engine headers; export to
// PNG/SVG/PDF. Composes a private QCustomPlot: no QCP type appears in this API.
#pragma once

#include <QString>
#include <QVector>
#include <QWidget>

#include <limits>

class QCustomPlot;
class QCPAxisRect;
class QCPGraph;
class QCPTextElement;

namespace den2moe::ui {

/// One run's curves. Steps ascend within each series.
struct TrainingCurveData {
    QVector<double> step, loss, lr;        ///< per logged optimizer step
    QVector<double> tokensPerS;            ///< per logged step, parallel to `step` (NaN = not reported)
    QVector<double> evalStep, evalLoss;    ///< per held-out evaluation (mean NLL, nats)
    QString title;                         ///< shown above the plots ("" = none)
    int totalSteps = 0;                    ///< x range upper bound while live (0 = the data's last step)

    bool isEmpty() const { return step.isEmpty() && evalStep.isEmpty(); }
};

class TrainingCurvesView : public QWidget {
    Q_OBJECT
public:
    explicit TrainingCurvesView(QWidget* parent = nullptr);

    void setData(const TrainingCurveData& data);
    const TrainingCurveData& data() const { return m_data; }
    void clear();
    /// Live points (a step with the same or a lower index than the last one replaces the tail: a
    /// resumed run continues from its checkpoint's step).
    void appendStep(double step, double loss, double lr,
                    double tokensPerS = std::numeric_limits<double>::quiet_NaN());
    void appendEval(double step, double loss);
    void setTotalSteps(int total);
    void setTitle(const QString& title);

    /// Points drawn by each graph (tests): "loss", "held_out", "ppl", "lr", "tokens_per_s".
    int pointCount(const QString& graph) const;
    /// PNG (2x), SVG or PDF by the suffix; width/height 0 = the current size.
    bool exportImage(const QString& path, int width = 0, int height = 0, QString* error = nullptr);
    QCustomPlot* plot() const { return m_plot; }

private:
    void refresh();

    TrainingCurveData m_data;
    QCustomPlot* m_plot = nullptr;
    QCPAxisRect* m_lossRect = nullptr;
    QCPAxisRect* m_pplRect = nullptr;
    QCPAxisRect* m_lrRect = nullptr;
    QCPAxisRect* m_tpsRect = nullptr;
    QCPGraph* m_loss = nullptr;
    QCPGraph* m_heldOut = nullptr;
    QCPGraph* m_ppl = nullptr;
    QCPGraph* m_lr = nullptr;
    QCPGraph* m_tps = nullptr;
    QCPTextElement* m_title = nullptr;
};

}  // namespace den2moe::ui
