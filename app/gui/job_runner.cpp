// JobRunner: see job_runner.h.
#include "job_runner.h"

#include "core/error.h"

#include <QMetaObject>
#include <QThread>
#include <QTimer>

#include <mutex>
#include <optional>

namespace den2moe::ui {

namespace {
enum Outcome { kFinished, kCancelled, kFailed };
}

QString errorText(const std::exception& e) {
    if (const auto* err = dynamic_cast<const den2moe::Error*>(&e)) {
        QString text = QString::fromStdString(err->message());
        if (!err->hint().empty()) text += QStringLiteral("\nhint: ") + QString::fromStdString(err->hint());
        return text;
    }
    return QString::fromLocal8Bit(e.what());
}

struct JobRunner::Shared {
    den2moe::RunContext ctx;  // the job's; the GUI thread only touches ctx.cancel (an atomic)
    std::mutex mutex;
    std::optional<den2moe::Progress> latest;  // written by the worker, taken by the GUI thread
    bool deliveryQueued = false;
    std::optional<den2moe::Progress> pendingGui;  // GUI thread only: held back by the throttle
};

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
    qRegisterMetaType<MiningResultPtr>();
    qRegisterMetaType<den2moe::ui::ProgressMetrics>();
    m_graceTimer = new QTimer(this);
    m_graceTimer->setSingleShot(true);
    connect(m_graceTimer, &QTimer::timeout, this, &JobRunner::reportCancelled);
    m_progressTimer = new QTimer(this);
    m_progressTimer->setSingleShot(true);
    connect(m_progressTimer, &QTimer::timeout, this, &JobRunner::deliverProgress);
}

JobRunner::~JobRunner() {
    if (m_thread) {
        m_shared->ctx.cancel.cancel();
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
    shared->ctx.client = m_client.toStdString();
    shared->ctx.on_progress = [shared = shared.get(), runner, observer = m_observer](const den2moe::Progress& p) {
        if (observer) observer(p);
        std::lock_guard<std::mutex> lock(shared->mutex);
        shared->latest = p;
        if (!shared->deliveryQueued) {
            shared->deliveryQueued = true;
            // Queued to the runner's thread; dropped if the runner is gone.
            QMetaObject::invokeMethod(runner, [runner] { runner->deliverProgress(); }, Qt::QueuedConnection);
        }
    };
    m_thread = QThread::create([shared, runner, job = std::move(job)] {
        int outcome = kFinished;
        QVariant result;
        QString message;
        QString hint;
        try {
            result = job(shared->ctx);
        } catch (const den2moe::Cancelled&) {
            outcome = kCancelled;
        } catch (const den2moe::Error& e) {
            outcome = kFailed;
            message = QString::fromStdString(e.message());
            hint = QString::fromStdString(e.hint());
        } catch (const std::bad_alloc&) {
            outcome = kFailed;
            message = QStringLiteral("out of memory");
            hint = QStringLiteral("close other programs or reduce the settings");
        } catch (const std::exception& e) {
            outcome = kFailed;
            message = QString::fromLocal8Bit(e.what());
        } catch (...) {
            outcome = kFailed;
            message = QStringLiteral("unknown error");
        }
        if (outcome == kFinished && shared->ctx.cancel.cancelled()) {
            outcome = kCancelled;  // cancelled after the job's last check: drop the result
        }
        QMetaObject::invokeMethod(
            runner, [runner, outcome, result, message, hint] { runner->onWorkerDone(outcome, result, message, hint); },
            Qt::QueuedConnection);
    });
    m_thread->setObjectName(QStringLiteral("d2m-job"));
    m_thread->start();
    Q_EMIT started(name);
    return true;
}

bool JobRunner::startMining(const den2moe::Project& project, const den2moe::MiningOptions& options) {
    return start(QStringLiteral("mining"), [project, options](den2moe::RunContext& ctx) {
        return QVariant::fromValue(
            MiningResultPtr(std::make_shared<const den2moe::MiningResult>(den2moe::run_mining(project, options, ctx))));
    });
}

void JobRunner::cancel() {
    if (!m_thread || m_reported) {
        return;
    }
    m_shared->ctx.cancel.cancel();
    if (!m_graceTimer->isActive()) {
        m_graceTimer->start(m_graceMs);
    }
}

den2moe::CancelToken JobRunner::cancelToken() const {
    return m_shared ? m_shared->ctx.cancel : den2moe::CancelToken();
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
    const den2moe::Progress p = std::move(*s.pendingGui);
    s.pendingGui.reset();
    m_sinceProgress.restart();
    ProgressMetrics metrics;
    for (const den2moe::Metric& m : p.metrics) metrics.append({QString::fromStdString(m.name), m.value});
    Q_EMIT progress(QString::fromStdString(p.stage), p.step, p.total, p.eta_s, QString::fromStdString(p.message),
                    metrics);
}

void JobRunner::onWorkerDone(int outcome, const QVariant& result, const QString& message, const QString& hint) {
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
