// JobRunner: runs one engine job at a time on a worker thread and reports back on the GUI thread.
// Each job gets its own den2moe::RunContext, created here: Cancel sets that context's CancelToken (the
// engine checks it between batches; no forwarding thread), and its reports (with their named metrics)
// flow from RunContext::on_progress into a coalescing step (the latest report wins, at most one queued
// delivery at a time and at most one progress() signal per throttle interval), so a chatty engine never
// floods the event loop. The runner reports cancelled() as soon as the job stops, and at the latest after
// a grace period (the job's late result is then dropped). Results come back as values inside a QVariant;
// den2moe::Error, den2moe::Cancelled and any std::exception thrown by a job become failed() / cancelled().
#pragma once

#include "core/run_context.h"
#include "mining/mining.h"
#include "pipeline/mining.h"

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QPair>
#include <QString>
#include <QVariant>

#include <functional>
#include <memory>

class QThread;
class QTimer;

namespace den2moe::ui {

/// An immutable mining result, shared between the job, the views and the project window.
using MiningResultPtr = std::shared_ptr<const den2moe::MiningResult>;
/// The named numbers of one progress report, in the order the step gave them ("loss", "lr", ...).
using ProgressMetrics = QList<QPair<QString, double>>;

/// The message of an engine error with its hint ("…\nhint: …"), or what() of any other exception.
QString errorText(const std::exception& e);

/// @brief Runs engine jobs off the GUI thread, one at a time, with progress, cancel and errors.
class JobRunner : public QObject {
    Q_OBJECT

public:
    /// A job runs on the worker thread with the run context the runner made for it; it returns its
    /// result or throws (den2moe::Error, den2moe::Cancelled or any std::exception).
    using Job = std::function<QVariant(den2moe::RunContext&)>;

    explicit JobRunner(QObject* parent = nullptr);
    ~JobRunner() override;  ///< cancels a running job and waits for its thread

    /// Starts `job`; false (and nothing happens) while another job is still running.
    bool start(const QString& name, Job job);
    /// run_mining on `project`; the result is a MiningResultPtr.
    bool startMining(const den2moe::Project& project, const den2moe::MiningOptions& options);

    /// True from start() until the worker thread has returned (also while a cancelled job drains).
    bool isBusy() const { return m_thread != nullptr; }
    QString jobName() const { return m_name; }
    void cancel();
    /// The current (or last) job's cancel token, the one cancel() sets: the headless form hands its
    /// flag to Ctrl-C. A token of no job before the first start().
    den2moe::CancelToken cancelToken() const;

    /// The front end's name recorded in what jobs write (RunContext::client): "den2moe-studio".
    void setClient(const QString& client) { m_client = client; }
    QString client() const { return m_client; }
    /// Also hands every report, un-coalesced, to `observer` on the worker thread (the headless form
    /// prints them with the CLI's progress printer). Applies to jobs started afterwards.
    void setProgressObserver(den2moe::RunContext::ProgressFn observer) { m_observer = std::move(observer); }

    /// Longest time between cancel() and cancelled() (the job's late result is dropped).
    void setCancelGraceMs(int ms) { m_graceMs = ms; }
    /// Minimum interval between two progress() signals (the last report of a stage is never lost
    /// for long: it is delivered at the next interval or with the result).
    void setProgressIntervalMs(int ms) { m_progressIntervalMs = ms; }

Q_SIGNALS:
    void started(const QString& name);
    /// eta in seconds (-1 = unknown), total 0 = unknown; `metrics` as the engine reported them.
    void progress(const QString& stage, qint64 step, qint64 total, double eta, const QString& message,
                  const den2moe::ui::ProgressMetrics& metrics);
    void finished(const QVariant& result);
    void cancelled();
    void failed(const QString& message, const QString& hint);
    /// After finished / cancelled / failed and once the worker has returned: a new job may start.
    void idle();

private:
    struct Shared;  // state shared with the worker thread (outlives the runner if needed)
    void deliverProgress();
    void onWorkerDone(int outcome, const QVariant& result, const QString& message, const QString& hint);
    void reportCancelled();

    std::shared_ptr<Shared> m_shared;
    QThread* m_thread = nullptr;
    QTimer* m_graceTimer = nullptr;
    QTimer* m_progressTimer = nullptr;
    QString m_name;
    QString m_client = QStringLiteral("den2moe-studio");
    den2moe::RunContext::ProgressFn m_observer;
    bool m_reported = false;  // finished/cancelled/failed already emitted for the current job
    int m_graceMs = 800;
    int m_progressIntervalMs = 50;
    QElapsedTimer m_sinceProgress;
};

}  // namespace den2moe::ui

Q_DECLARE_METATYPE(den2moe::ui::MiningResultPtr)
