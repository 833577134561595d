// JobController: see job_controller.h.
#include "job_controller.h"

namespace den2moe::ui {

JobController::JobController(JobRunner* runner, QObject* parent) : QObject(parent), m_runner(runner) {
    connect(m_runner, &JobRunner::finished, this, &JobController::onFinished);
    connect(m_runner, &JobRunner::cancelled, this, [this] { onStopped(JobStop{true, {}, {}}); });
    connect(m_runner, &JobRunner::failed, this,
            [this](const QString& message, const QString& hint) { onStopped(JobStop{false, message, hint}); });
}

bool JobController::startJob(const QString& name, JobRunner::Job job, std::function<void()> finished,
                             std::function<void(const JobStop&)> stopped) {
    if (m_runner->isBusy()) {
        return false;
    }
    m_finished = std::move(finished);
    m_stopped = std::move(stopped);
    if (!m_runner->start(name, std::move(job))) {
        m_finished = nullptr;
        m_stopped = nullptr;
        return false;
    }
    return true;
}

void JobController::onFinished() {
    // The handlers belong to this job only: taken before calling, so a handler may start the next job.
    auto finished = std::exchange(m_finished, nullptr);
    m_stopped = nullptr;
    if (finished) finished();
}

void JobController::onStopped(const JobStop& stop) {
    auto stopped = std::exchange(m_stopped, nullptr);
    m_finished = nullptr;
    if (stopped) stopped(stop);
    if (stop.cancelled) {
        Q_EMIT jobCancelled();
    } else {
        Q_EMIT jobFailed(m_runner->jobName(), stop.message, stop.hint);
    }
}

}  // namespace den2moe::ui
