// TaskPanel: see task_panel.h.
#include "task_panel.h"

#include "job_runner.h"

#include <QDateTime>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include <cmath>

namespace den2moe::ui {

QString formatEta(double seconds) {
    if (!(seconds >= 0) || !std::isfinite(seconds)) {
        return {};
    }
    const qint64 s = qRound64(seconds);
    if (s < 60) {
        return QStringLiteral("%1 s").arg(s);
    }
    if (s < 3600) {
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    }
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

TaskPanel::TaskPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto* row = new QHBoxLayout;
    m_stage = new QLabel(tr("Idle"), this);
    m_stage->setObjectName(QStringLiteral("stage"));
    m_stage->setMinimumWidth(260);
    m_bar = new QProgressBar(this);
    m_bar->setRange(0, 100);
    m_bar->setValue(0);
    m_eta = new QLabel(this);
    m_eta->setMinimumWidth(110);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setEnabled(false);
    m_cancel->setToolTip(tr("Stop the running job (the project stays as it was)"));
    row->addWidget(m_stage);
    row->addWidget(m_bar, 1);
    row->addWidget(m_eta);
    row->addWidget(m_cancel);
    layout->addLayout(row);
    m_log = new QPlainTextEdit(this);
    m_log->setObjectName(QStringLiteral("log"));
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(5000);
    layout->addWidget(m_log, 1);
}

void TaskPanel::attach(JobRunner* runner) {
    m_runner = runner;
    connect(runner, &JobRunner::started, this, &TaskPanel::onStarted);
    connect(runner, &JobRunner::progress, this, &TaskPanel::onProgress);
    connect(runner, &JobRunner::finished, this, [this] { onEnded(tr("finished")); });
    connect(runner, &JobRunner::cancelled, this, [this] { onEnded(tr("cancelled")); });
    connect(runner, &JobRunner::failed, this, [this](const QString& message, const QString& hint) {
        onEnded(tr("failed"));
        appendLog(tr("error: %1").arg(message));
        if (!hint.isEmpty()) {
            appendLog(tr("hint: %1").arg(hint));
        }
    });
    connect(m_cancel, &QPushButton::clicked, runner, [this] {
        m_cancel->setEnabled(false);
        m_stage->setText(tr("Cancelling…"));
        m_runner->cancel();
    });
}

void TaskPanel::appendLog(const QString& line) {
    m_log->appendPlainText(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss  ")) + line);
}

QString TaskPanel::logText() const {
    return m_log->toPlainText();
}

void TaskPanel::onStarted(const QString& name) {
    m_clock.start();
    m_lastStage.clear();
    m_stage->setText(tr("%1: starting").arg(name));
    m_bar->setRange(0, 0);  // busy until the first report
    m_eta->clear();
    m_cancel->setEnabled(true);
    appendLog(tr("%1 started").arg(name));
}

void TaskPanel::onProgress(const QString& stage, qint64 step, qint64 total, double eta, const QString& message,
                           const ProgressMetrics& metrics) {
    const QString name = m_runner ? m_runner->jobName() : QString();
    if (stage != m_lastStage) {
        m_lastStage = stage;
        appendLog(tr("%1: %2").arg(name, stage));
    }
    QString text = QStringLiteral("%1: %2").arg(name, stage);
    if (total > 0) {
        text += QStringLiteral(" %1/%2").arg(step).arg(total);
        m_bar->setRange(0, 1000);
        m_bar->setValue(int(1000.0 * double(step) / double(total)));
    } else {
        m_bar->setRange(0, 0);
    }
    if (!message.isEmpty()) {
        text += QStringLiteral(" — ") + message;
    }
    for (const auto& m : metrics) {  // "loss 2.31", as the CLI prints them
        text += QStringLiteral("  %1 %2").arg(m.first).arg(m.second, 0, 'g', 4);
    }
    m_stage->setText(text);
    const QString e = formatEta(eta);
    m_eta->setText(e.isEmpty() ? QString() : tr("ETA %1").arg(e));
}

void TaskPanel::onEnded(const QString& how) {
    const QString name = m_runner ? m_runner->jobName() : QString();
    m_bar->setRange(0, 100);
    m_bar->setValue(how == tr("finished") ? 100 : 0);
    m_eta->clear();
    m_cancel->setEnabled(false);
    m_stage->setText(tr("%1 %2").arg(name, how));
    appendLog(tr("%1 %2 after %3").arg(name, how, formatEta(m_clock.isValid() ? m_clock.elapsed() / 1000.0 : 0)));
}

}  // namespace den2moe::ui
