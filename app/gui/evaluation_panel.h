// EvaluationPanel: the Evaluation step (a tab). The model to evaluate (the last trained or converted
// folder, or any model folder), the result folder, and the task-evaluation settings as widgets
// generated from task_eval_schema() (tasks, embedding kind, pooling, prompt, instruction, limits, ...);
// edits are reported (settingsEdited) so the window keeps them in the project's "task_eval" section.
// Run / Cancel go through the window's JobRunner (`den2moe eval`'s engine calls); after a run, this
// run's table: every task's main score with its chance level (zero-shot accuracy and the MTEB-style
// scores), items, time and whether it came from the result cache. The run's summary also goes into
// the Results tab's MTEB tables beside the earlier runs.
#pragma once

#include "eval/results.h"
#include "eval/task_settings.h"
#include "project/project.h"

#include <QString>
#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace den2moe::ui {

class SettingsForm;

class EvaluationPanel : public QWidget {
    Q_OBJECT
public:
    explicit EvaluationPanel(QWidget* parent = nullptr);

    /// The project (its cache folder gives the default result folder).
    void setProject(const den2moe::Project& project);
    /// The shown settings (no settingsEdited()).
    void setSettings(const den2moe::TaskEvalSettings& s);
    const den2moe::TaskEvalSettings& settings() const { return m_settings; }
    /// Sets one field through the schema, as the form does (emits settingsEdited). False with the
    /// schema's message when refused.
    bool setSetting(const QString& key, const QString& text, QString* error = nullptr);
    void setModelPath(const QString& path);
    QString modelPath() const;
    void setOutDir(const QString& dir);
    /// The result folder: the one typed, else "<project cache>/eval/<model folder>-<embedding>-<prompt>".
    QString outDir() const;

    SettingsForm* form() const { return m_form; }
    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }
    QTableWidget* runTable() const { return m_table; }
    QLabel* statusLabel() const { return m_status; }

    void setRunning(bool running);
    void setProgress(const QString& stage, qint64 step, qint64 total, const QString& message);
    /// A finished run: its tasks in the table, the means in the status line.
    void setResult(const den2moe::EvalSummary& summary, const QString& outDir, qint64 cacheHits);
    void setStopped(const QString& message);

Q_SIGNALS:
    void runRequested();
    void cancelRequested();
    void settingsEdited(const den2moe::TaskEvalSettings& settings);

private:
    den2moe::Project m_project;
    den2moe::TaskEvalSettings m_settings;
    QLineEdit* m_model = nullptr;
    QLineEdit* m_out = nullptr;
    SettingsForm* m_form = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_cancel = nullptr;
    QLabel* m_status = nullptr;
    QTableWidget* m_table = nullptr;
    bool m_running = false;
};

}  // namespace den2moe::ui
