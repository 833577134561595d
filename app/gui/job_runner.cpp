#include "job_runner.h"

#include "core/error.h"  // den2moe::Error / Cancelled: Qt-free and torch-free

#include <QMetaObject>
#include <QThread>
#include <QTimer>

#include <optional>

namespace den2moe::ui {

namespace {
enum Outcome { kFinished, kCancelled, kFailed };
}

struct JobRunner::Shared {
    bridge::CancelFlag cancel = std::make_shared<std::atomic<bool>>(false);
    std::mutex mutex;
    std::optional<bridge::ProgressInfo> latest;  // written by the worker, taken by the GUI thread
    bool deliveryQueued = false;
    std::optional<bridge::ProgressInfo> pendingGui;  // GUI thread only: held back by the throttle
};

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
    qRegisterMetaType<MiningResultPtr>();
    m_graceTimer = new QTimer(this);
    m_graceTimer->setSingleShot(true);
    connect(m_graceTimer, &QTimer::timeout, this, &JobRunner::reportCancelled);
    m_progressTimer = new QTimer(this);
    m_progressTimer->setSingleShot(true);
    connect(m_progressTimer, &QTimer::timeout, this, &JobRunner::deliverProgress);
}

JobRunner::~JobRunner() {
    if (m_thread) {
        m_shared->cancel->store(true);
        m_thread->wait();
        delete m_thread;
    }
}

bool JobRunner::start(const QString& name, Job job) {
    if (m_thread || !job) {
        return false;
    }
    m_shared = std::make_shared<Shared>();
    m_name = name;
    m_reported = false;
    m_sinceProgress.invalidate();

    std::shared_ptr<Shared> shared = m_shared;
    JobRunner* runner = this;
    bridge::ProgressFn progressFn = [shared, runner](const bridge::ProgressInfo& info) {
        std::lock_guard<std::mutex> lock(shared->mutex);
        shared->latest = info;
        if (!shared->deliveryQueued) {
            shared->deliveryQueued = true;
            // Queued to the runner's thread; dropped if the runner is gone.
            QMetaObject::invokeMethod(runner, [runner] { runner->deliverProgress(); },
                                      Qt::QueuedConnection);
        }
    };
    m_thread = QThread::create([shared, runner, progressFn, job = std::move(job)] {
        const JobControl control(progressFn, shared->cancel);
        int outcome = kFinished;
        QVariant result;
        QString message;
        QString hint;
        try {
            result = job(control);
        } catch (const bridge::JobCancelled&) {
            outcome = kCancelled;
        } catch (const den2moe::Cancelled&) {
            outcome = kCancelled;
        } catch (const bridge::JobFailed& e) {
            outcome = kFailed;
            message = QString::fromStdString(e.error().what);
            hint = QString::fromStdString(e.error().hint);
        } catch (const den2moe::Error& e) {
            outcome = kFailed;
            message = QString::fromStdString(e.message());
            hint = QString::fromStdString(e.hint());
        } catch (const std::exception& e) {
            outcome = kFailed;
            message = QString::fromLocal8Bit(e.what());
        } catch (...) {
            outcome = kFailed;
            message = QStringLiteral("unknown error");
        }
        if (outcome == kFinished && shared->cancel->load()) {
            outcome = kCancelled;  // cancelled after the job's last check: drop the result
        }
        QMetaObject::invokeMethod(
            runner, [runner, outcome, result, message, hint] {
                runner->onWorkerDone(outcome, result, message, hint);
            },
            Qt::QueuedConnection);
    });
    m_thread->setObjectName(QStringLiteral("d2m-job"));
    m_thread->start();
    Q_EMIT started(name);
    return true;
}

bool JobRunner::startMining(const den2moe::Project& project, const den2moe::MiningOptions& options) {
    return start(QStringLiteral("mining"), [project, options](const JobControl& control) {
        auto result = std::make_shared<const den2moe::MiningResult>(
            bridge::runMining(project, options, control.progressFn(), control.cancelFlag()));
        return QVariant::fromValue(MiningResultPtr(result));
    });
}

void JobRunner::cancel() {
    if (!m_thread || m_reported) {
        return;
    }
    m_shared->cancel->store(true);
    if (!m_graceTimer->isActive()) {
        m_graceTimer->start(m_graceMs);
    }
}

void JobRunner::reportCancelled() {
    if (m_reported) {
        return;
    }
    m_reported = true;
    m_graceTimer->stop();
    m_progressTimer->stop();
    Q_EMIT cancelled();
}

void JobRunner::deliverProgress() {
    if (!m_shared) {
        return;
    }
    Shared& s = *m_shared;
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        if (s.latest) {
            s.pendingGui = std::move(s.latest);
            s.latest.reset();
        }
        s.deliveryQueued = false;
    }
    if (m_reported || !s.pendingGui) {
        return;
    }
    if (m_sinceProgress.isValid() && m_sinceProgress.elapsed() < m_progressIntervalMs) {
        if (!m_progressTimer->isActive()) {
            m_progressTimer->start(int(m_progressIntervalMs - m_sinceProgress.elapsed()));
        }
        return;
    }
    const bridge::ProgressInfo info = *s.pendingGui;
    s.pendingGui.reset();
    m_sinceProgress.restart();
    Q_EMIT progress(QString::fromStdString(info.stage), info.step, info.total, info.eta_s,
                    QString::fromStdString(info.message));
}

void JobRunner::onWorkerDone(int outcome, const QVariant& result, const QString& message,
                             const QString& hint) {
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
        m_thread = nullptr;
    }
    m_graceTimer->stop();
    if (!m_reported) {
        if (outcome == kFinished && m_shared && m_shared->pendingGui) {
            m_sinceProgress.invalidate();
            deliverProgress();  // the last report before the result
        }
        m_progressTimer->stop();
        m_reported = true;
        switch (outcome) {
            case kFinished: Q_EMIT finished(result); break;
            case kCancelled: Q_EMIT cancelled(); break;
            default: Q_EMIT failed(message, hint); break;
        }
    }
    Q_EMIT idle();
}

}  // namespace den2moe::ui
