// Issue 14: the two front ends build the same model from the same project. A small project (3 demo
// domains, 4 calibration windows of 64 tokens, fp32) and a clusters.json are converted with every recipe
// of the registry by `den2moe convert` and by `den2moe-studio --run conversion` (the headless form,
// through the window's JobRunner), each with its own statistics cache: model.safetensors must be
// byte-identical, moe_config.json equal, provenance.json equal except its "created" time and "client"
// (den2moe vs den2moe-studio). Both refuse dive without clusters alike, even when the project's cache holds
// a mining the window would cut. Then the Experts panel, given the same project, shows for every recipe
// the engine's plan, and its parameter counts are those of the converted models.
#include "app_test_support.h"
#include "conversion_panel.h"
#include "engine_bridge.h"
#include "main_window.h"

#include "convert/convert_settings.h"
#include "mining/mining.h"
#include "pipeline/conversion.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QProcess>
#include <QRegularExpression>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

using namespace den2moe;
using namespace den2moe::ui;

namespace {

QByteArray readBytes(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QJsonObject readJson(const QString& path) {
    return QJsonDocument::fromJson(readBytes(path)).object();
}

/// Runs `program args`; the exit code, stderr in `err`.
int runProcess(const QString& program, const QStringList& args, QString* err) {
    QProcess proc;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    proc.setProcessEnvironment(env);
    proc.start(program, args);
    if (!proc.waitForFinished(300000)) {
        *err = QStringLiteral("timed out: %1 %2").arg(program, args.join(QLatin1Char(' ')));
        return -1;
    }
    *err = QString::fromUtf8(proc.readAllStandardError());
    return proc.exitStatus() == QProcess::NormalExit ? proc.exitCode() : -1;
}

}  // namespace

class TestConversionParity : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_tmp.isValid());
        const QByteArray cli = qgetenv("D2M_DEN2MOE");
        m_cli = cli.isEmpty() ? QStringLiteral(D2M_BUILD_DIR "/bin/den2moe") : QString::fromLocal8Bit(cli);
        m_studio = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio");
        QVERIFY2(QFile::exists(m_cli), qPrintable(m_cli));
        QVERIFY2(QFile::exists(m_studio), qPrintable(m_studio));
        Project p = d2mtest::smallDemoProject({"wiki", "python", "gsm8k"}, m_tmp.filePath(QStringLiteral("project-cache")));
        p.name = "parity";
        m_project = m_tmp.filePath(QStringLiteral("parity.den2moe.json"));
        save_project(p, m_project.toStdString());
        m_clusters = m_tmp.filePath(QStringLiteral("clusters.json"));
        QFile f(m_clusters);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"names": ["C1", "C2"], "members": [["wiki", "gsm8k"], ["python"]], "manual": true})");
        f.close();
    }

    void everyRecipeConvertsIdentically_data() {
        QTest::addColumn<QString>("recipe");
        for (const RecipeTraits& t : recipes()) QTest::newRow(t.name) << QString::fromLatin1(t.name);
    }

    void everyRecipeConvertsIdentically() {
        QFETCH(QString, recipe);
        const QStringList common{QStringLiteral("--recipe"), recipe,   QStringLiteral("--clusters"), m_clusters,
                                 QStringLiteral("--dtype"),  QStringLiteral("fp32"), QStringLiteral("--no-eval"),
                                 QStringLiteral("--quiet")};
        const QString outCli = cliDir(recipe), outStudio = m_tmp.filePath(QStringLiteral("studio/") + recipe);
        QString err;
        QCOMPARE(runProcess(m_cli,
                            QStringList{QStringLiteral("convert"), m_project} + common +
                                QStringList{QStringLiteral("--cache-dir"), m_tmp.filePath(QStringLiteral("cache-cli")),
                                            QStringLiteral("--out"), outCli},
                            &err),
                 0);
        QCOMPARE(runProcess(m_studio,
                            QStringList{QStringLiteral("--project"), m_project, QStringLiteral("--run"),
                                        QStringLiteral("conversion")} +
                                common +
                                QStringList{QStringLiteral("--cache-dir"), m_tmp.filePath(QStringLiteral("cache-studio")),
                                            QStringLiteral("--out"), outStudio},
                            &err),
                 0);
        // the same files
        QCOMPARE(QDir(outStudio).entryList(QDir::Files, QDir::Name), QDir(outCli).entryList(QDir::Files, QDir::Name));
        const QByteArray a = readBytes(outCli + QStringLiteral("/model.safetensors"));
        const QByteArray b = readBytes(outStudio + QStringLiteral("/model.safetensors"));
        QVERIFY(a.size() > 1000000);
        QVERIFY2(a == b, "model.safetensors differs between den2moe and den2moe-studio");
        QCOMPARE(readJson(outStudio + QStringLiteral("/moe_config.json")), readJson(outCli + QStringLiteral("/moe_config.json")));
        QCOMPARE(readJson(outCli + QStringLiteral("/moe_config.json")).value(QStringLiteral("recipe")).toString(), recipe);
        // provenance: equal but for who converted and when
        QJsonObject pa = readJson(outCli + QStringLiteral("/provenance.json"));
        QJsonObject pb = readJson(outStudio + QStringLiteral("/provenance.json"));
        QCOMPARE(pa.value(QStringLiteral("client")).toString(), QStringLiteral("den2moe"));
        QCOMPARE(pb.value(QStringLiteral("client")).toString(), QStringLiteral("den2moe-studio"));
        const QRegularExpression utc(QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"));
        for (const QJsonObject* o : {&pa, &pb}) {
            QVERIFY2(utc.match(o->value(QStringLiteral("created")).toString()).hasMatch(),
                     qPrintable(o->value(QStringLiteral("created")).toString()));
        }
        for (QJsonObject* o : {&pa, &pb}) {
            o->remove(QStringLiteral("client"));
            o->remove(QStringLiteral("created"));
        }
        QVERIFY(!pa.isEmpty());
        QCOMPARE(pb, pa);
    }

    /// The same refusal from both: dive without clusters, although the project's cache holds a mining
    /// result the window would cut into clusters (the headless form converts what the file says).
    void diveWithoutClustersIsRefusedByBoth() {
        const Project p = load_project(m_project.toStdString());
        MiningResult r;
        r.domains = p.domain_names();
        QCOMPARE(r.domains.size(), size_t(3));
        r.n = 3;
        r.ppl = {10, 20, 30, 12, 15, 40, 14, 25, 18};
        r.dense_ppl = {9, 14, 17};
        recompute_affinity(r, "rows", "average");
        write_mining_outputs(r, project_cache_dir(p) + "/mining", 2);
        const QStringList common{QStringLiteral("--recipe"), QStringLiteral("dive"), QStringLiteral("--no-eval"),
                                 QStringLiteral("--quiet"), QStringLiteral("--out"), m_tmp.filePath(QStringLiteral("never"))};
        QString errCli, errStudio;
        QCOMPARE(runProcess(m_cli, QStringList{QStringLiteral("convert"), m_project} + common, &errCli), 1);
        QCOMPARE(runProcess(m_studio,
                            QStringList{QStringLiteral("--project"), m_project, QStringLiteral("--run"),
                                        QStringLiteral("conversion")} +
                                common,
                            &errStudio),
                 1);
        for (const QString& err : {errCli, errStudio}) {
            QVERIFY2(err.contains(QLatin1String("the dive recipe needs a cluster assignment")), qPrintable(err));
        }
        QVERIFY(!QFile::exists(m_tmp.filePath(QStringLiteral("never"))));
        // the window itself does cut the cached result (its Experts step converts the shown clusters)
        MainWindow w;
        w.setInteractive(false);
        QString error;
        QVERIFY2(w.openProject(m_project, &error), qPrintable(error));
        QVERIFY(w.miningResult());
        QCOMPARE(w.project().clusters.members.size(), size_t(3));  // the project's K = 8, cut at n = 3
    }

    /// The Experts panel on the same project: for every recipe it shows the engine's plan, and the plan's
    /// parameter counts are those of the model `den2moe convert` built above.
    void panelPlanEqualsTheConvertedModels() {
        MainWindow w;
        w.setInteractive(false);
        QString error;
        QVERIFY2(w.openProject(m_project, &error), qPrintable(error));
        Project p = w.project();
        p.clusters = read_clusters_file(m_clusters.toStdString());
        w.setProject(p, false);
        ConversionPanel* panel = w.conversionPanel();
        auto* recipe = panel->findChild<QComboBox*>(QStringLiteral("recipe"));
        QVERIFY(recipe);
        QCOMPARE(recipe->count(), int(recipes().size()));
        for (int i = 0; i < recipe->count(); ++i) {
            const RecipeTraits& t = recipes()[size_t(i)];
            const QString dir = cliDir(QString::fromLatin1(t.name));
            if (!QFile::exists(dir + QStringLiteral("/model.safetensors"))) QSKIP("the conversions above did not run");
            ConvertSettings s = panel->settings();
            set_recipe(s, t.recipe);
            recipe->setCurrentIndex(recipe->findData(QString::fromLatin1(t.name)));  // as the user picks it
            QCOMPARE(panel->settings().recipe, t.recipe);
            QCOMPARE(panel->settings().top_k, s.top_k);
            // the engine's plan of the project, shown as it is
            const ConversionPlan plan = plan_project_conversion(w.project(), w.project().clusters, panel->settings());
            QVERIFY2(plan.ok(), plan.errors.empty() ? "" : plan.errors.front().c_str());
            QCOMPARE(panel->plan().total_params, plan.total_params);
            QCOMPARE(panel->plan().active_params, plan.active_params);
            QCOMPARE(panel->planTable()->rowCount(), int(plan.experts.size()));
            for (int r = 0; r < int(plan.experts.size()); ++r) {
                QCOMPARE(panel->planTable()->item(r, 2)->text(), QString::number(plan.experts[size_t(r)].width));
            }
            const QString tip = panel->planSummary()->toolTip();
            QVERIFY2(tip.contains(QStringLiteral("total %1,").arg(plan.total_params)), qPrintable(tip));
            // ... and the converted model's own counts
            const bridge::MoeModelPtr model = bridge::loadMoeModel(dir.toStdString());
            QCOMPARE(bridge::moeModelInfo(*model).params_total, panel->plan().total_params);
            QCOMPARE(bridge::moeModelInfo(*model).params_active, panel->plan().active_params);
            qInfo("%s: total %lld, active %lld parameters (plan = model)", t.name, (long long)plan.total_params,
                  (long long)plan.active_params);
        }
        // the user's choice is the project's: saved with it
        QVERIFY(w.isModified());
        QCOMPARE(w.project().convert.recipe, recipes().back().recipe);
    }

private:
    QString cliDir(const QString& recipe) const { return m_tmp.filePath(QStringLiteral("cli/") + recipe); }

    QTemporaryDir m_tmp;
    QString m_cli, m_studio, m_project, m_clusters;
};

QTEST_MAIN(TestConversionParity)
#include "tst_conversion_parity.moc"
