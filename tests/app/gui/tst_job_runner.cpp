// JobRunner: progress / finished / cancelled / failed signals with plain jobs, throttled progress,
// progress metrics (in order, through the coalescing and to the un-coalesced observer), the job's own
// RunContext (client name, the cancel token Cancel sets), one job at a time, cancel within 1 s (also
// for a job that ignores the flag), engine errors with their message and hint; JobController: each
// job's own completion handlers; then real (small) mining runs: a result, a cancel that leaves the
// project unchanged, an engine error, and the event-loop latency during a run (max gap of a 10 ms timer).
#include "app_test_support.h"
#include "core/error.h"
#include "core/run_context.h"
#include "job_controller.h"
#include "job_runner.h"
#include "main_window.h"
#include "pipeline_panel.h"
#include "task_panel.h"

#include <QLabel>

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace den2moe::ui;

namespace {

void sleepMs(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

/// A job that reports `steps` steps, `ms` apart, checking the cancel token between them.
JobRunner::Job countingJob(int steps, int ms) {
    return [steps, ms](den2moe::RunContext& ctx) {
        for (int i = 1; i <= steps; ++i) {
            sleepMs(ms);
            ctx.check_cancelled();
            ctx.report("counting", i, steps, "step");
        }
        return QVariant(steps * 10);
    };
}

/// countingJob's work as a typed job (JobController::start).
std::function<int(den2moe::RunContext&)> countingJobValue(int steps, int ms) {
    return [steps, ms](den2moe::RunContext& ctx) {
        for (int i = 1; i <= steps; ++i) {
            sleepMs(ms);
            ctx.check_cancelled();
            ctx.report("counting", i, steps);
        }
        return steps;
    };
}

}  // namespace

class TestJobRunner : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY2(m_cache.isValid(), "temporary dir");
    }

    void progressAndFinished() {
        JobRunner runner;
        QSignalSpy started(&runner, &JobRunner::started);
        QSignalSpy progress(&runner, &JobRunner::progress);
        QSignalSpy finished(&runner, &JobRunner::finished);
        QSignalSpy idle(&runner, &JobRunner::idle);
        runner.setProgressIntervalMs(0);
        QVERIFY(runner.start(QStringLiteral("count"), countingJob(5, 20)));
        QVERIFY(runner.isBusy());
        QCOMPARE(started.count(), 1);
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.count(), 1);
        QCOMPARE(finished.first().first().toInt(), 50);
        QVERIFY(progress.count() >= 1);
        const QList<QVariant> last = progress.last();
        QCOMPARE(last.at(0).toString(), QStringLiteral("counting"));
        QCOMPARE(last.at(1).toLongLong(), 5);  // the last report is delivered before the result
        QCOMPARE(last.at(2).toLongLong(), 5);
        QCOMPARE(last.at(4).toString(), QStringLiteral("step"));
        QCOMPARE(idle.count(), 1);
        QVERIFY(!runner.isBusy());
    }

    void progressIsThrottled() {
        JobRunner runner;
        runner.setProgressIntervalMs(50);
        QSignalSpy progress(&runner, &JobRunner::progress);
        QSignalSpy finished(&runner, &JobRunner::finished);
        QVERIFY(runner.start(QStringLiteral("chatty"), [](den2moe::RunContext& ctx) {
            QElapsedTimer t;
            t.start();
            int64_t i = 0;
            while (t.elapsed() < 400) {  // hundreds of thousands of reports
                ctx.report("spin", ++i, 0);
            }
            ctx.report("spin", 1000, 1000, "last");
            return QVariant(true);
        }));
        QVERIFY(finished.wait(5000));
        QVERIFY2(progress.count() <= 12, qPrintable(QString::number(progress.count())));
        QVERIFY(progress.count() >= 2);
        QCOMPARE(progress.last().at(1).toLongLong(), 1000);
        QCOMPARE(progress.last().at(4).toString(), QStringLiteral("last"));
    }

    void oneJobAtATime() {
        JobRunner runner;
        QSignalSpy finished(&runner, &JobRunner::finished);
        QVERIFY(runner.start(QStringLiteral("a"), countingJob(3, 30)));
        QVERIFY(!runner.start(QStringLiteral("b"), countingJob(1, 1)));
        QVERIFY(finished.wait(5000));
        QTRY_VERIFY(!runner.isBusy());
        QVERIFY(runner.start(QStringLiteral("b"), countingJob(1, 1)));
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.count(), 2);
        QCOMPARE(finished.last().first().toInt(), 10);
    }

    void progressCarriesMetricsAndTheJobsContext() {
        JobRunner runner;
        runner.setProgressIntervalMs(0);
        std::mutex mutex;
        std::vector<den2moe::Progress> observed;  // every report, on the worker thread
        runner.setProgressObserver([&](const den2moe::Progress& p) {
            std::lock_guard<std::mutex> lock(mutex);
            observed.push_back(p);
        });
        QSignalSpy progress(&runner, &JobRunner::progress);
        QSignalSpy finished(&runner, &JobRunner::finished);
        TaskPanel panel;
        panel.attach(&runner);
        QString shown;  // the task panel's line at the last report
        connect(&runner, &JobRunner::progress, this, [&] { shown = panel.stageLabel()->text(); });
        auto client = std::make_shared<std::string>();
        QVERIFY(runner.start(QStringLiteral("train"), [client](den2moe::RunContext& ctx) {
            *client = ctx.client;
            for (int i = 1; i <= 3; ++i) {
                ctx.report("train", i, 3, {}, {{"loss", 3.0 - i}, {"lr", 1e-3 * i}});
            }
            return QVariant(true);
        }));
        QVERIFY(finished.wait(5000));
        QCOMPARE(*client, std::string("den2moe-studio"));
        // the signal's metrics: the last report's, names and values in the order the step gave them
        const ProgressMetrics last = progress.last().at(5).value<ProgressMetrics>();
        QCOMPARE(last.size(), 2);
        QCOMPARE(last[0].first, QStringLiteral("loss"));
        QCOMPARE(last[0].second, 0.0);
        QCOMPARE(last[1].first, QStringLiteral("lr"));
        QCOMPARE(last[1].second, 3e-3);
        QVERIFY2(shown.contains(QStringLiteral("train 3/3")) && shown.contains(QStringLiteral("loss 0")) &&
                     shown.contains(QStringLiteral("lr 0.003")),
                 qPrintable(shown));
        // the observer saw every report, uncoalesced
        std::lock_guard<std::mutex> lock(mutex);
        QCOMPARE(observed.size(), size_t(3));
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(observed[size_t(i)].step, int64_t(i + 1));
            QCOMPARE(observed[size_t(i)].metric("loss", -1), 2.0 - i);
            QCOMPARE(observed[size_t(i)].metric("lr", -1), 1e-3 * (i + 1));
        }
    }

    void cancelSetsTheJobsToken() {
        JobRunner runner;
        QSignalSpy cancelled(&runner, &JobRunner::cancelled);
        QSignalSpy idle(&runner, &JobRunner::idle);
        auto sawCancel = std::make_shared<std::atomic<bool>>(false);
        QVERIFY(runner.start(QStringLiteral("waits"), [sawCancel](den2moe::RunContext& ctx) {
            for (int i = 0; i < 500 && !ctx.cancel.cancelled(); ++i) sleepMs(5);
            sawCancel->store(ctx.cancel.cancelled());
            ctx.check_cancelled();  // throws den2moe::Cancelled: not an error
            return QVariant(1);
        }));
        const den2moe::CancelToken token = runner.cancelToken();
        QVERIFY(!token.cancelled());
        runner.cancel();
        QVERIFY(token.cancelled());  // the very token the job holds
        QVERIFY(cancelled.wait(1000));
        QTRY_COMPARE_WITH_TIMEOUT(idle.count(), 1, 5000);  // with cancelled(), or after it
        QVERIFY(sawCancel->load());
        QCOMPARE(cancelled.count(), 1);
    }

    /// Each job carries its own handlers: only the ending job's run, exactly once; a refused start
    /// leaves the running job's handlers in place.
    void controllerCallsEachJobsOwnHandlers() {
        JobRunner runner;
        JobController jobs(&runner);
        QSignalSpy failedSignal(&jobs, &JobController::jobFailed);
        QSignalSpy cancelledSignal(&jobs, &JobController::jobCancelled);
        QSignalSpy idle(&runner, &JobRunner::idle);
        QStringList calls;
        QVERIFY(jobs.start(
            QStringLiteral("a"), [](den2moe::RunContext&) { return std::make_shared<const int>(7); },
            [&](const std::shared_ptr<const int>& v) { calls << QStringLiteral("a finished %1").arg(*v); },
            [&](const JobStop&) { calls << QStringLiteral("a stopped"); }));
        QVERIFY(!jobs.start(
            QStringLiteral("b"), [](den2moe::RunContext&) { return 1; }, [&](int) { calls << QStringLiteral("b finished"); },
            [&](const JobStop&) { calls << QStringLiteral("b stopped"); }));
        QTRY_COMPARE_WITH_TIMEOUT(idle.count(), 1, 5000);
        QCOMPARE(calls, QStringList{QStringLiteral("a finished 7")});

        QVERIFY(jobs.start(
            QStringLiteral("c"),
            [](den2moe::RunContext&) -> int { D2M_FAIL(InvalidInput, "no such domain", den2moe::Hint{"check the name"}); },
            [&](int) { calls << QStringLiteral("c finished"); },
            [&](const JobStop& s) {
                calls << QStringLiteral("c stopped %1 %2 %3").arg(s.cancelled).arg(s.message, s.hint);
            }));
        QTRY_COMPARE_WITH_TIMEOUT(idle.count(), 2, 5000);
        QCOMPARE(calls.last(), QStringLiteral("c stopped 0 no such domain check the name"));
        QCOMPARE(failedSignal.count(), 1);
        QCOMPARE(failedSignal.first().at(0).toString(), QStringLiteral("c"));
        QCOMPARE(failedSignal.first().at(1).toString(), QStringLiteral("no such domain"));

        QVERIFY(jobs.start(QStringLiteral("d"), countingJobValue(1000, 5), [&](int) { calls << QStringLiteral("d finished"); },
                           [&](const JobStop& s) { calls << QStringLiteral("d stopped %1").arg(s.cancelled); }));
        runner.cancel();
        QVERIFY(cancelledSignal.wait(2000));
        QTRY_COMPARE_WITH_TIMEOUT(idle.count(), 3, 5000);
        QCOMPARE(calls, (QStringList{QStringLiteral("a finished 7"), QStringLiteral("c stopped 0 no such domain check the name"),
                                     QStringLiteral("d stopped 1")}));
        QCOMPARE(cancelledSignal.count(), 1);
        QCOMPARE(failedSignal.count(), 1);
    }

    void cancelMidRun() {
        JobRunner runner;
        QSignalSpy progress(&runner, &JobRunner::progress);
        QSignalSpy finished(&runner, &JobRunner::finished);
        QSignalSpy cancelled(&runner, &JobRunner::cancelled);
        QVERIFY(runner.start(QStringLiteral("long"), countingJob(1000, 10)));
        QVERIFY(progress.wait(2000));
        QElapsedTimer t;
        t.start();
        runner.cancel();
        QVERIFY(cancelled.wait(1000));
        QVERIFY2(t.elapsed() < 1000, qPrintable(QString::number(t.elapsed())));
        QTRY_VERIFY(!runner.isBusy());
        QCOMPARE(finished.count(), 0);
        QCOMPARE(cancelled.count(), 1);
    }

    void cancelAJobThatIgnoresTheFlag() {
        JobRunner runner;
        QSignalSpy cancelled(&runner, &JobRunner::cancelled);
        QSignalSpy finished(&runner, &JobRunner::finished);
        QSignalSpy idle(&runner, &JobRunner::idle);
        QVERIFY(runner.start(QStringLiteral("stubborn"), [](den2moe::RunContext&) {
            sleepMs(2000);
            return QVariant(1);
        }));
        sleepMs(50);
        QElapsedTimer t;
        t.start();
        runner.cancel();
        QVERIFY(cancelled.wait(1000));
        QVERIFY2(t.elapsed() < 1000, qPrintable(QString::number(t.elapsed())));
        QVERIFY(runner.isBusy());  // draining: no second job until it returns
        QVERIFY(!runner.start(QStringLiteral("next"), countingJob(1, 1)));
        QVERIFY(idle.wait(5000));
        QCOMPARE(finished.count(), 0);  // the late result is dropped
        QCOMPARE(cancelled.count(), 1);
    }

    void engineErrorReachesFailed() {
        JobRunner runner;
        QSignalSpy failed(&runner, &JobRunner::failed);
        QVERIFY(runner.start(QStringLiteral("bad"), [](den2moe::RunContext&) -> QVariant {
            D2M_FAIL(InvalidInput, "domain 'x' has no test split", den2moe::Hint{"add test.jsonl"});
        }));
        QVERIFY(failed.wait(5000));
        QCOMPARE(failed.first().at(0).toString(), QStringLiteral("domain 'x' has no test split"));
        QCOMPARE(failed.first().at(1).toString(), QStringLiteral("add test.jsonl"));
        // A plain std::exception too.
        QTRY_VERIFY(!runner.isBusy());
        QVERIFY(runner.start(QStringLiteral("bad2"), [](den2moe::RunContext&) -> QVariant {
            throw std::runtime_error("boom");
        }));
        QVERIFY(failed.wait(5000));
        QCOMPARE(failed.last().at(0).toString(), QStringLiteral("boom"));
        QCOMPARE(failed.last().at(1).toString(), QString());
    }

    // ---- real engine runs ---------------------------------------------------------------------

    void realMiningFinishes() {
        const den2moe::Project p = d2mtest::smallDemoProject({"wiki", "python", "gsm8k", "news"}, m_cache.path());
        JobRunner runner;
        QSignalSpy progress(&runner, &JobRunner::progress);
        QSignalSpy finished(&runner, &JobRunner::finished);
        QSignalSpy failed(&runner, &JobRunner::failed);
        QVERIFY(runner.startMining(p, {}));
        QVERIFY2(finished.wait(120000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
        const MiningResultPtr r = finished.first().first().value<MiningResultPtr>();
        QVERIFY(r);
        QCOMPARE(r->n, 4);
        QCOMPARE(r->domains, (std::vector<std::string>{"wiki", "gsm8k", "python", "news"}));
        QCOMPARE(int(r->ppl.size()), 16);
        for (double v : r->ppl) {
            QVERIFY(std::isfinite(v) && v > 1.0);
        }
        QStringList stages;
        for (const auto& call : progress) {
            stages << call.at(0).toString();
        }
        QVERIFY2(stages.contains(QStringLiteral("evaluation")), qPrintable(stages.join(',')));
        QCOMPARE(stages.last(), QStringLiteral("clustering"));
    }

    void realMiningCancelLeavesProjectUnchanged() {
        MainWindow w;
        w.setInteractive(false);
        den2moe::Project p =
            d2mtest::smallDemoProject({"wiki", "python", "gsm8k", "news", "stories", "pubmed"}, m_cache.path(), 16, 128, 8);
        p.cache_dir = (m_cache.path() + QStringLiteral("/cancel")).toStdString();  // no cached statistics
        w.setProject(p, false);
        const std::string before = den2moe::project_to_json(w.project());
        QSignalSpy progress(w.jobRunner(), &JobRunner::progress);
        QSignalSpy cancelled(&w, &MainWindow::jobCancelled);
        QSignalSpy finished(&w, &MainWindow::miningFinished);
        QString error;
        QVERIFY2(w.startMining({}, &error), qPrintable(error));
        QCOMPARE(w.pipeline()->state(PipelineStep::Mining), StepState::Running);
        // Wait until the run is well inside the work (statistics or later), then cancel.
        QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 3, 60000);
        QVERIFY(finished.isEmpty());
        QElapsedTimer t;
        t.start();
        w.jobRunner()->cancel();
        QVERIFY(cancelled.wait(1000));
        QVERIFY2(t.elapsed() < 1000, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(den2moe::project_to_json(w.project()), before);
        QVERIFY(!w.miningResult());
        QVERIFY(!w.isModified());
        QCOMPARE(w.pipeline()->state(PipelineStep::Mining), StepState::NotRun);
        QTRY_VERIFY_WITH_TIMEOUT(!w.jobRunner()->isBusy(), 10000);
        QCOMPARE(finished.count(), 0);
    }

    void realEngineErrorReachesFailed() {
        den2moe::Project p = d2mtest::smallDemoProject({"wiki", "python"}, m_cache.path());
        p.model = "/nonexistent/model-folder";
        JobRunner runner;
        QSignalSpy failed(&runner, &JobRunner::failed);
        QVERIFY(runner.startMining(p, {}));
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.first().at(0).toString().contains(QLatin1String("/nonexistent/model-folder")),
                 qPrintable(failed.first().at(0).toString()));
        // The window refuses to start it at all: validation comes first.
        MainWindow w;
        w.setInteractive(false);
        w.setProject(p, false);
        QString error;
        QVERIFY(!w.startMining({}, &error));
        QVERIFY2(error.contains(QLatin1String("model")), qPrintable(error));
        QVERIFY(!w.jobRunner()->isBusy());
    }

    void eventLoopStaysResponsiveDuringMining() {
        MainWindow w;
        w.setInteractive(false);
        den2moe::Project p =
            d2mtest::smallDemoProject({"wiki", "python", "gsm8k", "news", "stories"}, m_cache.path(), 8, 64, 4);
        p.cache_dir = (m_cache.path() + QStringLiteral("/latency")).toStdString();
        w.setProject(p, false);
        w.resize(1200, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QElapsedTimer clock;
        qint64 last = -1;
        qint64 maxGap = 0;
        qint64 maxGapAt = 0;
        int ticks = 0;
        QTimer timer;
        timer.setInterval(10);
        connect(&timer, &QTimer::timeout, this, [&] {
            const qint64 now = clock.elapsed();
            if (last >= 0 && now - last > maxGap) {
                maxGap = now - last;
                maxGapAt = now;
            }
            last = now;
            ++ticks;
        });
        QSignalSpy finished(&w, &MainWindow::miningFinished);
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        QString error;
        clock.start();
        timer.start();
        QVERIFY2(w.startMining({}, &error), qPrintable(error));
        QVERIFY2(finished.wait(300000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
        QTest::qWait(200);  // showing the result (views, cluster list) counts too
        timer.stop();
        const qint64 runMs = clock.elapsed();
        qInfo("mining ran %lld ms, %d ticks, max event-loop gap %lld ms (ending at %lld ms)", runMs, ticks, maxGap,
              maxGapAt);
        QVERIFY2(runMs > 300, "the run should be long enough to measure");
        QVERIFY2(maxGap <= 100, qPrintable(QStringLiteral("max gap %1 ms").arg(maxGap)));
        QVERIFY(w.miningResult());
        QCOMPARE(w.pipeline()->state(PipelineStep::Mining), StepState::Done);
        QElapsedTimer show;
        show.start();
        w.setMiningResult(w.miningResult());
        QCoreApplication::processEvents();
        qInfo("showing the result took %lld ms", show.elapsed());
    }

private:
    QTemporaryDir m_cache;
};

QTEST_MAIN(TestJobRunner)
#include "tst_job_runner.moc"
