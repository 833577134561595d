// The Training tab without a training run (issue 18): the tokens/s curve equals the run log's
// tokens_per_s (a hand-made train_log.jsonl read by the engine's read_train_log), live points follow the
// trainer's progress metric (a resumed run rewrites the tail, steps without the metric draw nothing),
// the SVG export carries the panel; and a setting edited in the form is written into the project's
// "training" section, typed as the schema writes it, saved with the project and shown again (for every
// stage) when the project is reopened, while a refused value is written nowhere.
#include "main_window.h"
#include "settings_form.h"
#include "training_curves.h"
#include "training_panel.h"

#include "project/project.h"
#include "train/train_log.h"

#include <QComboBox>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace den2moe::ui;

class TestTrainingSettings : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void tokensPerSecondCurveFromLog() {
        QTemporaryDir tmp;
        QFile log(tmp.path() + QStringLiteral("/train_log.jsonl"));
        QVERIFY(log.open(QIODevice::WriteOnly));
        log.write(R"({"domains":{"wiki":7.0},"loss":7.0,"ppl":1096.6,"step":0,"type":"eval"}
{"grad_norm":2.9,"loss":6.91,"lr":0.0,"step":1,"tokens":1024,"tokens_per_s":432.3657940544238,"type":"step"}
{"grad_norm":2.5,"loss":6.80,"lr":0.0001,"step":2,"tokens":2048,"tokens_per_s":1250.5,"type":"step"}
{"grad_norm":2.1,"loss":6.70,"lr":0.0002,"step":3,"tokens":3072,"tokens_per_s":1302.25,"type":"step"}
)");
        log.close();
        const den2moe::TrainLog l = den2moe::read_train_log(tmp.path().toStdString());
        const TrainingCurveData d = curveDataFrom(l);
        QCOMPARE(d.tokensPerS, (QVector<double>{432.3657940544238, 1250.5, 1302.25}));
        QCOMPARE(d.step, (QVector<double>{1, 2, 3}));
        TrainingCurvesView v;
        v.setData(d);
        QCOMPARE(v.pointCount(QStringLiteral("tokens_per_s")), 3);

        // live: a report without the metric draws no throughput point; a resumed run rewrites the tail
        v.clear();
        v.appendStep(1, 6.9, 0.0);
        v.appendStep(2, 6.8, 1e-4, 900.0);
        v.appendStep(3, 6.7, 2e-4, 950.0);
        QCOMPARE(v.pointCount(QStringLiteral("tokens_per_s")), 2);
        v.appendStep(2, 6.85, 1e-4, 800.0);  // resumed from step 1's checkpoint
        QCOMPARE(v.data().step, (QVector<double>{1, 2}));
        QCOMPARE(v.data().tokensPerS.size(), 2);
        QCOMPARE(v.data().tokensPerS[1], 800.0);
        QVERIFY(std::isnan(v.data().tokensPerS[0]));
        QCOMPARE(v.pointCount(QStringLiteral("tokens_per_s")), 1);

        const QString svg = tmp.path() + QStringLiteral("/curves.svg");
        v.setData(d);
        QString error;
        QVERIFY2(v.exportImage(svg, 800, 900, &error), qPrintable(error));
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.readAll().contains("tokens/s"));
    }

    void editsAreSavedInTheProject() {
        QTemporaryDir tmp;
        den2moe::Project p = den2moe::load_project(D2M_SOURCE_DIR "/projects/demo.den2moe.json");
        p.cache_dir = (tmp.path() + QStringLiteral("/cache")).toStdString();
        p.training = nlohmann::json::object();
        const QString file = tmp.path() + QStringLiteral("/t.den2moe.json");
        den2moe::save_project(p, file.toStdString());
        {
            MainWindow w;
            w.setInteractive(false);
            QVERIFY(w.openProject(file));
            TrainingPanel* panel = w.trainingPanel();
            QVERIFY(panel->setStage(QStringLiteral("experts")));
            const double stageLr = panel->settings().lr;
            QVERIFY(stageLr != 3.7e-4);
            Q_EMIT panel->form()->edited(QStringLiteral("lr"), QStringLiteral("0.00037"));
            Q_EMIT panel->form()->edited(QStringLiteral("batch"), QStringLiteral("6"));
            Q_EMIT panel->form()->edited(QStringLiteral("lr"), QStringLiteral("-1"));  // refused by the schema
            QCOMPARE(panel->settings().lr, 3.7e-4);
            QVERIFY(w.isModified());
            const nlohmann::json& t = w.project().training;
            QVERIFY(t.contains("lr") && t["lr"].is_number_float());
            QCOMPARE(t["lr"].get<double>(), 3.7e-4);
            QVERIFY(t["batch"].is_number_integer());
            QCOMPARE(t["batch"].get<int64_t>(), int64_t{6});
            QVERIFY(!t.contains("stage"));
            QString error;
            QVERIFY2(w.saveProject(file, &error), qPrintable(error));
        }
        // the file itself, then a new window on it
        QCOMPARE(den2moe::load_project(file.toStdString()).training["lr"].get<double>(), 3.7e-4);
        MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openProject(file));
        TrainingPanel* panel = w.trainingPanel();
        for (const char* stage : {"router", "experts"}) {
            QVERIFY(panel->setStage(QLatin1String(stage)));
            QCOMPARE(panel->settings().lr, 3.7e-4);
            QCOMPARE(panel->settings().batch, int64_t{6});
        }
        QVERIFY(!w.isModified());
    }
};

QTEST_MAIN(TestTrainingSettings)
#include "tst_training_settings.moc"
