// TaskPanel: the running job (name, stage, progress bar, the step's metrics, ETA, Cancel) above the
// session log.
// Connect it to a JobRunner with attach(); the window adds its own log lines with appendLog().
#pragma once

#include "job_runner.h"

#include <QElapsedTimer>
#include <QWidget>

class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;

namespace den2moe::ui {

/// Seconds as "42 s", "3 min 05 s", "1 h 02 min"; "" for a negative (unknown) value.
QString formatEta(double seconds);

/// @brief Progress, ETA and Cancel for the job runner, plus the log.
class TaskPanel : public QWidget {
    Q_OBJECT

public:
    explicit TaskPanel(QWidget* parent = nullptr);
    void attach(JobRunner* runner);
    void appendLog(const QString& line);
    QString logText() const;

    QProgressBar* progressBar() const { return m_bar; }
    QPushButton* cancelButton() const { return m_cancel; }
    QLabel* stageLabel() const { return m_stage; }

private:
    void onStarted(const QString& name);
    void onProgress(const QString& stage, qint64 step, qint64 total, double eta, const QString& message,
                    const ProgressMetrics& metrics);
    void onEnded(const QString& how);

    JobRunner* m_runner = nullptr;
    QLabel* m_stage = nullptr;
    QLabel* m_eta = nullptr;
    QProgressBar* m_bar = nullptr;
    QPushButton* m_cancel = nullptr;
    QPlainTextEdit* m_log = nullptr;
    QString m_lastStage;
    QElapsedTimer m_clock;
};

}  // namespace den2moe::ui
