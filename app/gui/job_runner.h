// JobRunner: runs one engine job at a time on a worker thread and reports back on the GUI thread.
// Progress from the worker is coalesced (the latest report wins, at most one queued delivery at a
// time and at most one signal per throttle interval), so a chatty engine never floods the event
// loop. cancel() sets the job's shared flag; the runner reports cancelled() as soon as the job
// stops, and at the latest after a grace period (the job's late result is then dropped). Results are
// handed back as immutable values inside a QVariant (e.g. MiningResultPtr).
#pragma once

#include "engine_bridge.h"

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QVariant>

#include <functional>
#include <memory>
#include <mutex>

class QThread;
class QTimer;

namespace den2moe::ui {

/// An immutable mining result, shared between the job, the views and the project window.
using MiningResultPtr = std::shared_ptr<const den2moe::MiningResult>;

/// What a job sees of the runner: report progress, look at the cancel flag.
class JobControl {
public:
    JobControl(bridge::ProgressFn progress, bridge::CancelFlag cancel)
        : m_progress(std::move(progress)), m_cancel(std::move(cancel)) {}
    void report(const bridge::ProgressInfo& info) const {
        if (m_progress) {
            m_progress(info);
        }
    }
    const bridge::ProgressFn& progressFn() const { return m_progress; }
    const bridge::CancelFlag& cancelFlag() const { return m_cancel; }
    bool isCancelled() const { return m_cancel && m_cancel->load(); }
    /// Throws bridge::JobCancelled when cancelled (for plain jobs without an engine loop).
    void checkCancelled() const {
        if (isCancelled()) {
            throw bridge::JobCancelled();
        }
    }

private:
    bridge::ProgressFn m_progress;
    bridge::CancelFlag m_cancel;
};

/// @brief Runs engine jobs off the GUI thread, one at a time, with progress, cancel and errors.
class JobRunner : public QObject {
    Q_OBJECT

public:
    /// A job runs on the worker thread; it returns its result or throws (bridge::JobCancelled,
    /// bridge::JobFailed, den2moe::Error, den2moe::Cancelled or any std::exception).
    using Job = std::function<QVariant(const JobControl&)>;

    explicit JobRunner(QObject* parent = nullptr);
    ~JobRunner() override;  ///< cancels a running job and waits for its thread

    /// Starts `job`; false (and nothing happens) while another job is still running.
    bool start(const QString& name, Job job);
    /// The mining step through bridge::runMining; the result is a MiningResultPtr.
    bool startMining(const den2moe::Project& project, const den2moe::MiningOptions& options);

    /// True from start() until the worker thread has returned (also while a cancelled job drains).
    bool isBusy() const { return m_thread != nullptr; }
    QString jobName() const { return m_name; }
    void cancel();

    /// Longest time between cancel() and cancelled() (the job's late result is dropped).
    void setCancelGraceMs(int ms) { m_graceMs = ms; }
    /// Minimum interval between two progress() signals (the last report of a stage is never lost
    /// for long: it is delivered at the next interval or with the result).
    void setProgressIntervalMs(int ms) { m_progressIntervalMs = ms; }

Q_SIGNALS:
    void started(const QString& name);
    /// eta in seconds (-1 = unknown), total 0 = unknown.
    void progress(const QString& stage, qint64 step, qint64 total, double eta, const QString& message);
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
    bool m_reported = false;  // finished/cancelled/failed already emitted for the current job
    int m_graceMs = 800;
    int m_progressIntervalMs = 50;
    QElapsedTimer m_sinceProgress;
};

}  // namespace den2moe::ui

Q_DECLARE_METATYPE(den2moe::ui::MiningResultPtr)
