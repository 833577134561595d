// The Training step (issue 18) against short real runs of `den2moe train`'s engine call through the
// window's JobRunner, on a random-recipe MoE (4 experts, top-2) made by the CLI: the stage selector
// applies the stage's reference values with the user's edits kept on top; the curves of a finished
// run equal its train_log.jsonl point for point; a run paused at step 5 (the engine's cancel) keeps
// its checkpoint and no model, its live curve equals the log so far, and Resume ends with the same
// model file, byte for byte, and the same loss curve as the uninterrupted run; the event loop's worst
// gap during training is reported (not asserted: the machine is shared). The curves widget keeps
// ascending steps when a resumed run rewrites its tail. Headless: `--view training --train-dir DIR`
// renders a finished run, and --view training without a run is a usage error (exit 1).
#include "app_test_support.h"
#include "main_window.h"
#include "settings_form.h"
#include "training_curves.h"
#include "training_panel.h"

#include "train/train_log.h"

#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include <atomic>

using namespace den2moe;
using namespace den2moe::ui;

namespace {

QByteArray fileBytes(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

/// The log's curves as the view should hold them.
void compareWithLog(const TrainingCurveData& d, const den2moe::TrainLog& log, int upToStep = -1) {
    QVector<double> step, loss, lr, evalStep, evalLoss;
    for (const auto& s : log.steps) {
        if (upToStep >= 0 && s.step > upToStep) continue;
        step << double(s.step);
        loss << s.loss;
        lr << s.lr;
    }
    for (const auto& e : log.evals) {
        if (upToStep >= 0 && e.step > upToStep) continue;
        evalStep << double(e.step);
        evalLoss << e.mean;
    }
    QCOMPARE(d.step, step);
    QCOMPARE(d.loss, loss);  // exact: the log's numbers are the progress metrics, printed round-trip
    QCOMPARE(d.lr, lr);
    QCOMPARE(d.evalStep, evalStep);
    QCOMPARE(d.evalLoss, evalLoss);
}

}  // namespace

class TestTrainingPanel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_tmp.isValid());
        m_moe = m_tmp.path() + QStringLiteral("/moe");
        const QString error = d2mtest::convertRandomWithCli(m_moe);
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }

    void curvesKeepAscendingSteps() {
        TrainingCurvesView v;
        v.appendEval(0, 3.0);
        for (int s = 1; s <= 6; ++s) v.appendStep(s, 3.0 - 0.1 * s, 1e-4);
        v.appendEval(5, 2.5);
        QCOMPARE(v.pointCount(QStringLiteral("loss")), 6);
        QCOMPARE(v.pointCount(QStringLiteral("held_out")), 2);
        QCOMPARE(v.pointCount(QStringLiteral("ppl")), 2);
        // a run resumed from the checkpoint of step 4 reports step 5 again: the tail after 4 is replaced
        v.appendStep(5, 2.0, 2e-4);
        QCOMPARE(v.data().step, (QVector<double>{1, 2, 3, 4, 5}));
        QCOMPARE(v.data().loss.last(), 2.0);
        QCOMPARE(v.data().lr.last(), 2e-4);
        v.appendEval(5, 2.25);
        QCOMPARE(v.data().evalStep, (QVector<double>{0, 5}));
        QCOMPARE(v.data().evalLoss.last(), 2.25);
        QCOMPARE(v.pointCount(QStringLiteral("lr")), 5);
    }

    void stageDefaultsAndEdits() {
        MainWindow w;
        w.setInteractive(false);
        TrainingPanel* p = w.trainingPanel();
        p->setModelDir(m_moe);
        QVERIFY(p->setStage(QStringLiteral("router")));
        QCOMPARE(p->settings().stage, std::string("router"));
        QCOMPARE(p->settings().schedule, std::string("constant"));  // DIVE's router stage: LR 1e-4 constant
        QCOMPARE(p->settings().lora_rank, int64_t(0));
        QCOMPARE(p->settings().temperature, 0.5);  // top-2 model
        QString error;
        QVERIFY(p->setSetting(QStringLiteral("seq_len"), QStringLiteral("32"), &error));
        QVERIFY(!p->setSetting(QStringLiteral("lr"), QStringLiteral("0"), &error));  // the schema's range
        QVERIFY2(error.contains(QStringLiteral("lr")), qPrintable(error));
        QVERIFY(p->setStage(QStringLiteral("experts")));
        QCOMPARE(p->settings().schedule, std::string("cosine"));
        QCOMPARE(p->settings().lora_rank, int64_t(8));
        QCOMPARE(p->settings().seq_len, int64_t(32));  // the edit survives the stage change
        QCOMPARE(p->form()->value(QStringLiteral("seq_len")), QStringLiteral("32"));
        QCOMPARE(p->stageCombo()->currentText(), QStringLiteral("experts"));
        QVERIFY(!p->setStage(QStringLiteral("nope"), &error));
    }

    void trainPauseResume() {
        MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openProject(QStringLiteral(D2M_SOURCE_DIR "/projects/demo.den2moe.json")));
        w.resize(1300, 850);
        w.show();
        TrainingPanel* p = w.trainingPanel();
        p->setModelDir(m_moe);
        QVERIFY(p->setStage(QStringLiteral("experts")));
        const QList<QPair<QString, QString>> edits = {
            {"domains", "truthfulqa,python"}, {"seq_len", "32"},   {"batch", "2"},      {"eval_windows", "2"},
            {"dtype", "fp32"},                {"tokens", "1920"},  {"save_every", "7"}, {"eval_every", "10"}};
        for (const auto& [k, v] : edits) {
            QString error;
            QVERIFY2(p->setSetting(k, v, &error), qPrintable(error));
        }
        QCOMPARE(p->settings().tokens, int64_t(1920));  // 30 steps of 2 x 32 tokens

        // A: uninterrupted, with the event loop's worst gap measured
        const QString dirA = m_tmp.path() + QStringLiteral("/a");
        p->setOutDir(dirA);
        QSignalSpy finished(&w, &MainWindow::trainingFinished);
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        QElapsedTimer clock;
        qint64 last = -1, maxGap = 0;
        QTimer timer;
        timer.setInterval(10);
        connect(&timer, &QTimer::timeout, this, [&] {
            const qint64 now = clock.elapsed();
            if (last >= 0) maxGap = std::max(maxGap, now - last);
            last = now;
        });
        clock.start();
        timer.start();
        QString error;
        QVERIFY2(w.startTraining(false, &error), qPrintable(error));
        QVERIFY(!p->startButton()->isEnabled());
        QVERIFY(p->pauseButton()->isEnabled());
        QVERIFY2(finished.wait(600000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
        timer.stop();
        qInfo("training ran %lld ms; max event-loop gap %lld ms", clock.elapsed(), maxGap);
        QTRY_VERIFY(!w.jobRunner()->isBusy());
        QVERIFY(w.trainingResult());
        QCOMPARE(w.trainingResult()->steps, int64_t(30));
        QCOMPARE(w.pipeline()->state(PipelineStep::Training), StepState::Done);
        const den2moe::TrainLog logA = den2moe::read_train_log(dirA.toStdString());
        QCOMPARE(int(logA.steps.size()), 30);
        QCOMPARE(int(logA.evals.size()), 4);  // steps 0, 10, 20, 30
        compareWithLog(p->curves()->data(), logA);
        QCOMPARE(p->curves()->pointCount(QStringLiteral("loss")), 30);
        QCOMPARE(p->heldOutTable()->rowCount(), 3);  // 2 domains + all
        QVERIFY(fileBytes(dirA + QStringLiteral("/model.safetensors")).size() > 1000);

        // B: paused after step 5 (the runner's cancel token tripped on the worker, right after the
        // report), then resumed
        const QString dirB = m_tmp.path() + QStringLiteral("/b");
        p->setOutDir(dirB);
        auto armed = std::make_shared<std::atomic<bool>>(false);
        auto token = std::make_shared<den2moe::CancelToken>();
        w.jobRunner()->setProgressObserver([armed, token](const den2moe::Progress& pr) {
            if (armed->load() && pr.stage == "train" && pr.step == 5 && pr.message.empty()) token->cancel();
        });
        QSignalSpy cancelled(&w, &MainWindow::jobCancelled);
        QVERIFY2(w.startTraining(false, &error), qPrintable(error));
        *token = w.jobRunner()->cancelToken();
        armed->store(true);
        QVERIFY(cancelled.wait(600000));
        QTRY_VERIFY_WITH_TIMEOUT(!w.jobRunner()->isBusy(), 60000);
        w.jobRunner()->setProgressObserver({});
        QVERIFY(QFile::exists(dirB + QStringLiteral("/checkpoint.safetensors")));
        QVERIFY(!QFile::exists(dirB + QStringLiteral("/model.safetensors")));
        QVERIFY(p->resumeButton()->isEnabled());
        QVERIFY2(p->statusLabel()->text().contains(QStringLiteral("Paused")), qPrintable(p->statusLabel()->text()));
        const den2moe::TrainLog logPaused = den2moe::read_train_log(dirB.toStdString());
        QCOMPARE(int(logPaused.steps.size()), 5);
        compareWithLog(p->curves()->data(), logPaused);  // the live curve is the log so far
        compareWithLog(p->curves()->data(), logA, 5);   // and the uninterrupted run's first five steps

        finished.clear();
        p->resumeButton()->click();
        QVERIFY2(finished.wait(600000), failed.isEmpty() ? "timeout" : qPrintable(failed.last().first().toString()));
        QTRY_VERIFY(!w.jobRunner()->isBusy());
        QCOMPARE(w.trainingResult()->resumed_from, int64_t(5));
        const QByteArray a = fileBytes(dirA + QStringLiteral("/model.safetensors"));
        const QByteArray b = fileBytes(dirB + QStringLiteral("/model.safetensors"));
        QVERIFY(!b.isEmpty());
        QVERIFY2(a == b, "paused and resumed training must end with the uninterrupted run's model, byte for byte");
        const den2moe::TrainLog logB = den2moe::read_train_log(dirB.toStdString());
        compareWithLog(p->curves()->data(), logB);
        compareWithLog(p->curves()->data(), logA);  // the same curve as the uninterrupted run
        QVERIFY(p->statusLabel()->text().contains(QStringLiteral("resumed at step 5")));
        m_runA = dirA;
    }

    void headlessTrainingView() {
        if (m_runA.isEmpty()) QSKIP("needs trainPauseResume's run");
        const QString bin = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio");
        QVERIFY2(QFileInfo::exists(bin), "build den2moe-studio first");
        const QString png = m_tmp.path() + QStringLiteral("/training.png");
        const QString svg = m_tmp.path() + QStringLiteral("/curves.svg");
        QProcess proc;
        proc.start(bin, {"--view", "training", "--train-dir", m_runA, "--screenshot", png, "--size", "1300x800"});
        QVERIFY(proc.waitForFinished(60000));
        QVERIFY2(proc.exitCode() == 0, proc.readAllStandardError().constData());
        QImage img(png);
        QVERIFY(img.width() >= 1300);
        proc.start(bin, {"--train-dir", m_runA, "--screenshot", svg});
        QVERIFY(proc.waitForFinished(60000));
        QVERIFY2(proc.exitCode() == 0, proc.readAllStandardError().constData());
        QVERIFY(fileBytes(svg).contains("<svg"));
        proc.start(bin, {"--view", "training", "--screenshot", png});
        QVERIFY(proc.waitForFinished(60000));
        QCOMPARE(proc.exitCode(), 1);
        QVERIFY(proc.readAllStandardError().contains("--view training needs --train-dir"));
    }

private:
    QTemporaryDir m_tmp;
    QString m_moe;
    QString m_runA;
};

QTEST_MAIN(TestTrainingPanel)
#include "tst_training_panel.moc"
