// PipelinePanel: the pipeline's steps (Model → Domains → Mining → Clusters → Experts → Training →
// Evaluation) with each one's state. Steps whose engine does not exist yet stay visible but
// disabled ("not available yet"); their state is still tracked, so they turn stale like the others.
#pragma once

#include <QVector>
#include <QWidget>

class QListWidget;
class QListWidgetItem;

namespace den2moe::ui {

enum class PipelineStep { Model, Domains, Mining, Clusters, Experts, Training, Evaluation };
enum class StepState { NotRun, Running, Done, Stale, Invalid };

QString pipelineStepName(PipelineStep step);
QString stepStateName(StepState state);
constexpr int kPipelineStepCount = 7;

/// @brief The list of pipeline steps and their states.
class PipelinePanel : public QWidget {
    Q_OBJECT

public:
    explicit PipelinePanel(QWidget* parent = nullptr);

    void setState(PipelineStep step, StepState state, const QString& detail = {});
    StepState state(PipelineStep step) const { return m_states[int(step)]; }
    QString detail(PipelineStep step) const { return m_details[int(step)]; }
    /// Steps without an engine yet: shown disabled, "not available yet".
    void setAvailable(PipelineStep step, bool available);
    bool isAvailable(PipelineStep step) const { return m_available[int(step)]; }
    /// Every step after `step` that is Done becomes Stale.
    void markDownstreamStale(PipelineStep step);
    /// The text shown for a step ("Mining — done").
    QString itemText(PipelineStep step) const;

Q_SIGNALS:
    void stepActivated(den2moe::ui::PipelineStep step);

private:
    void refresh(PipelineStep step);

    QListWidget* m_list = nullptr;
    QVector<StepState> m_states;
    QVector<QString> m_details;
    QVector<bool> m_available;
};

}  // namespace den2moe::ui
