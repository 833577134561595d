// The Evaluation step (issue 18): its widgets are task_eval_schema()'s and what the user sets goes into
// the project's task_eval section; an evaluation of the dense demo model through the window's
// JobRunner (bridge::evaluate, `den2moe eval`'s engine calls) gives exactly the main scores of
// `den2moe eval` on the same model and settings; the run's table shows each task with its chance
// level; the run lands in the Results tab's MTEB table; a second run serves every task from the result
// cache with the same scores. Headless: `--view evaluation --results DIR` renders a finished run.
#include "evaluation_panel.h"
#include "main_window.h"
#include "results_view.h"
#include "settings_form.h"

#include "eval/results.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace den2moe;
using namespace den2moe::ui;

class TestEvaluationPanel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_tmp.isValid());
        qputenv("D2M_CACHE_DIR", (m_tmp.path() + QStringLiteral("/cache")).toUtf8());  // a cache of our own
        m_model = QString::fromUtf8(qgetenv("D2M_SHARED_DIR")) + QStringLiteral("/models/demo-llama-7m");
        QVERIFY2(QDir(m_model).exists(), qPrintable(m_model));
    }

    void settingsGoIntoTheProject() {
        MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openProject(QStringLiteral(D2M_SOURCE_DIR "/projects/demo.den2moe.json")));
        EvaluationPanel* p = w.evaluationPanel();
        QVERIFY(p->form()->hasField(QStringLiteral("embedding")));
        QVERIFY(p->form()->hasField(QStringLiteral("prompt")));
        QVERIFY(!p->modelPath().isEmpty());  // the project's dense model by default
        QString error;
        QVERIFY(p->setSetting(QStringLiteral("limit"), QStringLiteral("24"), &error));
        QCOMPARE(w.project().task_eval.limit, int64_t(24));
        QVERIFY(w.isModified());
        QVERIFY(!p->setSetting(QStringLiteral("embedding"), QStringLiteral("xyz"), &error));
        QCOMPARE(w.project().task_eval.embedding, std::string("auto"));  // the model's record, else hs
        // validation before any work: an unknown task does not start a job
        QVERIFY(p->setSetting(QStringLiteral("tasks"), QStringLiteral("STS99"), &error));
        QVERIFY(!w.startEvaluation(&error));
        QVERIFY2(error.contains(QStringLiteral("STS99")), qPrintable(error));
        QVERIFY(!w.jobRunner()->isBusy());
    }

    void evaluationMatchesTheCli() {
        const QStringList tasks = {QStringLiteral("arc_easy"), QStringLiteral("STS13")};
        // the CLI's numbers first
        const QString cliOut = m_tmp.path() + QStringLiteral("/cli");
        QProcess proc;
        proc.start(QStringLiteral(D2M_BUILD_DIR "/bin/den2moe"),
                   {"eval", m_model, "--tasks", tasks.join(QLatin1Char(',')), "--limit", "24", "--no-cache", "--out",
                    cliOut, "--quiet"});
        QVERIFY(proc.waitForFinished(300000));
        QVERIFY2(proc.exitCode() == 0, proc.readAllStandardError().constData());
        const EvalSummary cli = read_summary(cliOut.toStdString());
        QCOMPARE(int(cli.tasks.size()), 2);

        MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openProject(QStringLiteral(D2M_SOURCE_DIR "/projects/demo.den2moe.json")));
        EvaluationPanel* p = w.evaluationPanel();
        p->setModelPath(m_model);
        QString error;
        QVERIFY(p->setSetting(QStringLiteral("tasks"), tasks.join(QLatin1Char(',')), &error));
        QVERIFY(p->setSetting(QStringLiteral("limit"), QStringLiteral("24"), &error));
        const QString appOut = m_tmp.path() + QStringLiteral("/app");
        p->setOutDir(appOut);
        QSignalSpy finished(&w, &MainWindow::evaluationFinished);
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        QVERIFY2(w.startEvaluation(&error), qPrintable(error));
        QVERIFY2(finished.wait(300000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
        QTRY_VERIFY(!w.jobRunner()->isBusy());
        const EvalSummary& app = w.evaluationResult()->run.summary;
        QCOMPARE(int(app.tasks.size()), 2);
        for (size_t i = 0; i < 2; ++i) {
            QCOMPARE(app.tasks[i].task, cli.tasks[i].task);
            QCOMPARE(app.tasks[i].main_score, cli.tasks[i].main_score);  // the same engine calls, the same numbers
            QCOMPARE(app.tasks[i].n_items, cli.tasks[i].n_items);
        }
        QCOMPARE(w.evaluationResult()->run.cache_hits, int64_t(0));
        QVERIFY(QFile::exists(appOut + QStringLiteral("/summary.json")));
        QCOMPARE(w.pipeline()->state(PipelineStep::Evaluation), StepState::Done);

        // this run's table: task, type, metric, score x100, chance x100
        QTableWidget* t = p->runTable();
        QCOMPARE(t->rowCount(), 2);
        for (int r = 0; r < 2; ++r) {
            const TaskScores& s = app.tasks[size_t(r)];
            QCOMPARE(t->item(r, 0)->text(), QString::fromStdString(s.task));
            QCOMPARE(t->item(r, 3)->text(), QString::number(100 * s.main_score, 'f', 2));
            if (s.task == "arc_easy") QCOMPARE(t->item(r, 4)->text(), QString::number(100 * s.chance, 'f', 2));
        }
        // and a run in the Results tab with the same scores
        const ResultsData& rd = w.resultsView()->model()->resultsData();
        QCOMPARE(rd.runs.size(), 1);
        QCOMPARE(rd.runs[0].scores.value(QStringLiteral("STS13")), app.tasks[1].main_score);

        // again: every task from the result cache, the same scores, a second row in the tables
        finished.clear();
        QVERIFY2(w.startEvaluation(&error), qPrintable(error));
        QVERIFY2(finished.wait(300000), failed.isEmpty() ? "timeout" : qPrintable(failed.last().first().toString()));
        QTRY_VERIFY(!w.jobRunner()->isBusy());
        QCOMPARE(w.evaluationResult()->run.cache_hits, int64_t(2));
        for (size_t i = 0; i < 2; ++i) {
            QCOMPARE(w.evaluationResult()->run.summary.tasks[i].main_score, cli.tasks[i].main_score);
        }
        QCOMPARE(w.resultsView()->model()->resultsData().runs.size(), 2);
        m_appOut = appOut;
    }

    void headlessEvaluationView() {
        if (m_appOut.isEmpty()) QSKIP("needs evaluationMatchesTheCli's run");
        const QString bin = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio");
        const QString png = m_tmp.path() + QStringLiteral("/evaluation.png");
        QProcess proc;
        proc.start(bin, {"--view", "evaluation", "--results", m_appOut, "--screenshot", png, "--size", "1300x700"});
        QVERIFY(proc.waitForFinished(60000));
        QVERIFY2(proc.exitCode() == 0, proc.readAllStandardError().constData());
        QVERIFY(QImage(png).width() >= 1300);
        proc.start(bin, {"--view", "evaluation", "--screenshot", png});
        QVERIFY(proc.waitForFinished(60000));
        QCOMPARE(proc.exitCode(), 1);
    }

private:
    QTemporaryDir m_tmp;
    QString m_model;
    QString m_appOut;
};

QTEST_MAIN(TestEvaluationPanel)
#include "tst_evaluation_panel.moc"
