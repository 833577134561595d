// The Runs tab (issue 18) against runs made by the `den2moe` CLI on a saved project: a random-split
// conversion, a router-stage training run from it and a zero-shot evaluation of the trained model appear
// with the right lineage (made from, recipe, experts, stage), the held-out perplexities of the run's
// train.json and the evaluation's zero-shot mean from its summary.json (both read here independently
// with Qt's JSON); rename survives reopening the project; "Compare in Results" puts the evaluation in
// the Results tab and "Compare routing" loads two model runs into the Routing tab; delete refuses a
// folder that is no run and removes a run's folder; the headless `--view runs` lists the same runs
// and writes the tab as PNG.
#include "app_test_support.h"
#include "main_window.h"
#include "results_table.h"
#include "results_view.h"
#include "routing_view.h"
#include "runs_panel.h"

#include "project/project.h"
#include "project/runs.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>

using namespace den2moe::ui;

namespace {

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

QString canonical(const QString& p) { return QFileInfo(p).canonicalFilePath(); }

}  // namespace

class TestRunsPanel : public QObject {
    Q_OBJECT

    QString cli(const QStringList& args, int timeoutMs = 600000) { return d2mtest::runCli(args, timeoutMs); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_tmp.isValid());
        QVERIFY2(QFileInfo::exists(QStringLiteral(D2M_BUILD_DIR "/bin/den2moe")), "build den2moe first");
        // the demo project saved in a temporary folder, its cache (and run index) beside it
        den2moe::Project p = den2moe::load_project(D2M_SOURCE_DIR "/projects/demo.den2moe.json");
        p.cache_dir = (m_tmp.path() + QStringLiteral("/cache")).toStdString();
        m_project = m_tmp.path() + QStringLiteral("/runs.den2moe.json");
        den2moe::save_project(p, m_project.toStdString());
        m_moe = m_tmp.path() + QStringLiteral("/moe-random4");
        m_router = m_tmp.path() + QStringLiteral("/router");
        m_eval = m_tmp.path() + QStringLiteral("/eval-router");
        QString err = cli({"convert", m_project, "--recipe", "random", "--experts", "4", "--top-k", "2", "--dtype", "fp32",
                           "--no-eval", "--quiet", "--out", m_moe});
        QVERIFY2(err.isEmpty(), qPrintable(err));
        err = cli({"train", m_moe, "--project", m_project, "--stage", "router", "--domains", "truthfulqa,python",
                   "--seq-len", "32", "--batch", "2", "--eval-windows", "2", "--dtype", "fp32", "--tokens", "640",
                   "--quiet", "--out", m_router});
        QVERIFY2(err.isEmpty(), qPrintable(err));
        err = cli({"eval", m_router, "--project", m_project, "--tasks", "arc_easy", "--limit", "8", "--cache-dir",
                   m_tmp.path() + QStringLiteral("/evalcache"), "--out", m_eval});
        QVERIFY2(err.isEmpty(), qPrintable(err));
    }

    void cliRunsAppearWithLineage() {
        MainWindow w;
        w.setInteractive(false);
        QString error;
        QVERIFY2(w.openProject(m_project, &error), qPrintable(error));
        RunsPanel* panel = w.runsPanel();
        const auto& runs = panel->runs();
        QCOMPARE(int(runs.size()), 3);
        QCOMPARE(panel->table()->rowCount(), 3);
        // oldest first: the conversion, the training run, the evaluation
        QCOMPARE(QString::fromStdString(runs[0].path), canonical(m_moe));
        QCOMPARE(QString::fromStdString(runs[1].path), canonical(m_router));
        QCOMPARE(QString::fromStdString(runs[2].path), canonical(m_eval));
        QCOMPARE(QString::fromStdString(runs[0].kind), QStringLiteral("conversion"));
        QCOMPARE(QString::fromStdString(runs[1].kind), QStringLiteral("training"));
        QCOMPARE(QString::fromStdString(runs[2].kind), QStringLiteral("evaluation"));
        for (const auto& r : runs) QCOMPARE(QString::fromStdString(r.client), QStringLiteral("den2moe"));

        // the table's cells: made from, lineage
        auto cell = [&](int row, int col) { return panel->table()->item(row, col)->text(); };
        QCOMPARE(cell(0, 0), QStringLiteral("moe-random4"));
        QCOMPARE(cell(0, 2), QStringLiteral("dense demo-llama-7m"));
        QCOMPARE(cell(0, 3), QStringLiteral("random · 4 experts top-2"));
        QCOMPARE(cell(1, 2), QStringLiteral("moe-random4"));
        QCOMPARE(cell(1, 3), QStringLiteral("random · 4 experts top-2 → router"));
        QCOMPARE(cell(2, 2), QStringLiteral("router"));

        // results: the training run's held-out ppl from its train.json, the evaluation's zero-shot mean
        const QJsonObject train = readJson(m_router + QStringLiteral("/train.json"));
        const double before = train.value("held_out_before").toObject().value("ppl").toDouble();
        const double after = train.value("held_out_after").toObject().value("ppl").toDouble();
        QVERIFY(before > 1 && after > 1);
        QCOMPARE(runs[1].ppl_before, before);
        QCOMPARE(runs[1].ppl_after, after);
        QCOMPARE(train.value("stage").toString(), QStringLiteral("router"));
        const double zeroShot = readJson(m_eval + QStringLiteral("/summary.json")).value("mean_zeroshot").toDouble();
        QVERIFY(zeroShot >= 0 && zeroShot <= 1);
        const QString results = cell(1, 4);
        QVERIFY2(results.contains(QStringLiteral("held-out ppl %1 → %2").arg(before, 0, 'f', 1).arg(after, 0, 'f', 1)),
                 qPrintable(results));
        QVERIFY2(results.contains(QStringLiteral("zero-shot %1").arg(100 * zeroShot, 0, 'f', 2)), qPrintable(results));
        QCOMPARE(runs[1].evaluations.size(), size_t{1});

        // selecting the training run shows its provenance and drives the comparison
        QSignalSpy selected(panel, &RunsPanel::selectionChanged);
        panel->selectPaths({canonical(m_router)});
        QCOMPARE(selected.count(), 1);
        QCOMPARE(selected.at(0).at(0).toStringList(), QStringList{canonical(m_router)});
        QVERIFY(panel->details()->toPlainText().contains(QStringLiteral("made from: ") + canonical(m_moe)));
        QVERIFY(panel->details()->toPlainText().contains(QStringLiteral("\"stage\": \"router\"")));
        QCOMPARE(panel->selectedEvaluations(), QStringList{canonical(m_eval)});
        Q_EMIT panel->compareRequested(panel->selectedEvaluations());
        QCOMPARE(w.resultsView()->model()->resultsData().runs.size(), qsizetype(1));
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.resultsView()));

        // two model runs: "Compare routing" loads both into the Routing tab (before / after the stage)
        panel->selectPaths({canonical(m_moe), canonical(m_router), canonical(m_eval)});
        QCOMPARE(panel->selectedModels(), (QStringList{canonical(m_moe), canonical(m_router)}));
        QSignalSpy routing(panel, &RunsPanel::routingCompareRequested);
        const auto buttons = panel->findChildren<QPushButton*>();
        const auto it = std::find_if(buttons.begin(), buttons.end(),
                                     [](QPushButton* b) { return b->text() == QStringLiteral("Compare routing"); });
        QVERIFY(it != buttons.end() && (*it)->isEnabled());
        QTest::mouseClick(*it, Qt::LeftButton);
        QCOMPARE(routing.count(), 1);
        QVERIFY(w.routingView()->model() != nullptr);
        QVERIFY(w.routingView()->compareModel() != nullptr);
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.routingView()));
    }

    void renameSurvivesReopening() {
        {
            MainWindow w;
            w.setInteractive(false);
            QVERIFY(w.openProject(m_project));
            QString error;
            QVERIFY2(w.runsPanel()->renameRun(canonical(m_router), QStringLiteral("stage 1 (router)"), &error),
                     qPrintable(error));
            QCOMPARE(w.runsPanel()->table()->item(1, 0)->text(), QStringLiteral("stage 1 (router)"));
        }
        MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openProject(m_project));
        QCOMPARE(w.runsPanel()->table()->item(1, 0)->text(), QStringLiteral("stage 1 (router)"));
        QCOMPARE(w.runsPanel()->table()->item(2, 2)->text(), QStringLiteral("stage 1 (router)"));  // the eval's source
        QVERIFY(QFileInfo::exists(m_router));
    }

    void headlessRunsView() {
        const QString png = m_tmp.path() + QStringLiteral("/runs.png");
        QProcess proc;
        proc.start(QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio"),
                   {"--project", m_project, "--view", "runs", "--screenshot", png, "--size", "1400x600"});
        QVERIFY(proc.waitForFinished(120000));
        const QString err = QString::fromUtf8(proc.readAllStandardError());
        QVERIFY2(proc.exitCode() == 0, qPrintable(err));
        QVERIFY2(err.contains(QStringLiteral("stage 1 (router) | training | moe-random4 | random · 4 experts top-2 → router")),
                 qPrintable(err));
        QVERIFY(err.contains(QStringLiteral("3 runs")));
        QImage img(png);
        QCOMPARE(img.width(), 1400);
        proc.start(QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio"),
                   {"--project", m_project, "--view", "runs", "--run", "mining", "--screenshot", png});
        QVERIFY(proc.waitForFinished(60000));
        QCOMPARE(proc.exitCode(), 1);
    }

    void deleteOnlyRuns() {
        MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openProject(m_project));
        RunsPanel* panel = w.runsPanel();
        QString error;
        const QString keep = m_tmp.path() + QStringLiteral("/not-a-run");
        QVERIFY(QDir().mkpath(keep));
        QVERIFY(!panel->deleteRun(keep, &error));
        QVERIFY2(error.contains(QStringLiteral("not a run of project")), qPrintable(error));
        QVERIFY(QFileInfo::exists(keep));
        // the dialog path never deletes without the user's yes (no dialog when not interactive)
        panel->selectPaths({canonical(m_eval)});
        panel->deleteSelectedDialog();
        QVERIFY(QFileInfo::exists(m_eval));
        QVERIFY2(panel->deleteRun(canonical(m_eval), &error), qPrintable(error));
        QVERIFY(!QFileInfo::exists(m_eval));
        QCOMPARE(int(panel->runs().size()), 2);
        QVERIFY(panel->runs()[1].evaluations.empty());
    }

private:
    QTemporaryDir m_tmp;
    QString m_project, m_moe, m_router, m_eval;
};

QTEST_MAIN(TestRunsPanel)
#include "tst_runs_panel.moc"
