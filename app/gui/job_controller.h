// JobController: the window's jobs on its one JobRunner, each carrying its own completion handlers.
// start() takes the work (run on the worker with the job's RunContext), what to do with its result on
// the GUI thread, and what to undo when it is cancelled or fails; the controller calls exactly one of
// them when the job ends, then emits jobCancelled / jobFailed for whoever reports it (log, dialogs, the
// headless form). No result type is switched on and no "what is running" flag is kept.
#pragma once

#include "job_runner.h"

#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace den2moe::ui {

/// How a job ended when it did not finish.
struct JobStop {
    bool cancelled = false;
    QString message;  ///< failed: what failed
    QString hint;     ///< failed: what to do about it ("" none)
};

class JobController : public QObject {
    Q_OBJECT
public:
    explicit JobController(JobRunner* runner, QObject* parent = nullptr);
    JobRunner* runner() const { return m_runner; }
    bool isBusy() const { return m_runner->isBusy(); }

    /// Runs `work(RunContext&) -> T` on the runner. `finished(const T&)` gets the result on the GUI
    /// thread; `stopped(const JobStop&)` (may be empty) runs when the job is cancelled or fails,
    /// before jobCancelled() / jobFailed(). False when another job is running.
    template <class Work, class Finished>
    bool start(const QString& name, Work work, Finished finished, std::function<void(const JobStop&)> stopped = {}) {
        using T = std::decay_t<std::invoke_result_t<Work&, den2moe::RunContext&>>;
        auto box = std::make_shared<std::optional<T>>();  // written by the worker, read after it returned
        JobRunner::Job job = [box, work = std::move(work)](den2moe::RunContext& ctx) mutable {
            box->emplace(work(ctx));
            return QVariant();
        };
        return startJob(name, std::move(job), [box, finished = std::move(finished)] {
            if (*box) finished(**box);
        }, std::move(stopped));
    }

Q_SIGNALS:
    void jobCancelled();
    void jobFailed(const QString& name, const QString& message, const QString& hint);

private:
    bool startJob(const QString& name, JobRunner::Job job, std::function<void()> finished,
                  std::function<void(const JobStop&)> stopped);
    void onFinished();
    void onStopped(const JobStop& stop);

    JobRunner* m_runner;
    std::function<void()> m_finished;
    std::function<void(const JobStop&)> m_stopped;
};

}  // namespace den2moe::ui
