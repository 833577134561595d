// The demo project end to end: a real (small) mining run through the window's JobRunner, the
// heatmap's domain labels, the rendered screenshot (more than 10 distinct colours; saved under the
// build tree as test-output/studio-affinity.png to look at), exports (PNG/SVG/PDF, CSV), and the
// den2moe-studio binary's headless form (--run mining, --mining-dir, --help, errors, Ctrl-C -> 130).
#include "affinity_view.h"
#include "app_test_support.h"
#include "cluster_model.h"
#include "headless.h"
#include "heatmap_view.h"
#include "main_window.h"
#include "qcp.h"
#include "steps.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <sys/types.h>

using namespace den2moe::ui;

namespace {

const std::vector<std::string> kDomains{"wiki", "python", "gsm8k", "news", "stories", "shakespeare"};

int distinctColours(const QImage& img) {
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 2) {
        for (int x = 0; x < img.width(); x += 2) {
            colours.insert(img.pixel(x, y));
        }
    }
    return colours.size();
}

QString outputDir() {
    const QString dir = QStringLiteral(D2M_BUILD_DIR "/test-output");
    QDir().mkpath(dir);
    return dir;
}

QString studioBinary() {
    return QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio");
}

QString readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

}  // namespace

class TestStudioScreenshot : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_tmp.isValid());
        // The demo project copied beside a private cache (its paths are all $SHARED/...).
        m_project = m_tmp.filePath(QStringLiteral("demo.den2moe.json"));
        QVERIFY(QFile::copy(d2mtest::demoProjectPath(), m_project));
    }

    void demoMiningAndScreenshot() {
        MainWindow w;
        w.setInteractive(false);
        QString error;
        QVERIFY2(w.openProject(m_project, &error), qPrintable(error));
        QCOMPARE(w.project().domains.size(), size_t(18));
        w.setProject(d2mtest::smallDemoProject(kDomains, m_tmp.filePath(QStringLiteral("cache"))), false);
        QSignalSpy finished(&w, &MainWindow::miningFinished);
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        QVERIFY2(w.startMining({}, &error), qPrintable(error));
        QVERIFY2(finished.wait(180000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
        const MiningResultPtr r = w.miningResult();
        QVERIFY(r);
        QCOMPARE(r->n, int64_t(kDomains.size()));
        w.cutAtK(3);
        QCOMPARE(w.clusterModel()->assignment().clusterCount(), 3);

        // On screen: every domain labels a row and a column of the heatmap.
        w.resize(1500, 950);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTest::qWait(50);
        auto* plot = qobject_cast<QCustomPlot*>(w.affinityView()->heatmap()->plotWidget());
        QVERIFY(plot);
        plot->replot();
        const QVector<QString> rows = plot->yAxis->tickVectorLabels();
        const QVector<QString> cols = plot->xAxis->tickVectorLabels();
        for (const std::string& d : kDomains) {
            QVERIFY2(rows.contains(QString::fromStdString(d)), d.c_str());
            QVERIFY2(cols.contains(QString::fromStdString(d)), d.c_str());
        }

        // The whole window, to look at (not checked beyond being written).
        QVERIFY(w.grab().save(outputDir() + QStringLiteral("/studio-window.png")));

        // The screenshot the headless form writes.
        const QString png = outputDir() + QStringLiteral("/studio-affinity.png");
        QVERIFY2(renderMiningView(r, w.clusterModel()->state(), 3, QStringLiteral("all"), {}, png, QSize(1400, 900),
                                  &error),
                 qPrintable(error));
        QImage img(png);
        QVERIFY(!img.isNull());
        QVERIFY(img.width() >= 1000 && img.height() >= 600);
        const int colours = distinctColours(img);
        qInfo("screenshot %s: %dx%d, %d distinct colours", qPrintable(png), img.width(), img.height(), colours);
        QVERIFY2(colours > 10, qPrintable(QString::number(colours)));
        // The heatmap half is not blank: its middle is viridis, not white.
        const QColor mid = img.pixelColor(img.width() * 2 / 3, img.height() / 2);
        QVERIFY2(mid != QColor(Qt::white), qPrintable(mid.name()));

        // Exports of each view, and CSV.
        for (const QString& suffix : {QStringLiteral("png"), QStringLiteral("svg"), QStringLiteral("pdf")}) {
            const QString heat = m_tmp.filePath(QStringLiteral("heatmap.") + suffix);
            const QString tree = m_tmp.filePath(QStringLiteral("dendrogram.") + suffix);
            QVERIFY2(w.exportView(QStringLiteral("heatmap"), heat, &error), qPrintable(error));
            QVERIFY2(w.exportView(QStringLiteral("dendrogram"), tree, &error), qPrintable(error));
            QVERIFY(QFileInfo(heat).size() > 1000);
            QVERIFY(QFileInfo(tree).size() > 1000);
        }
        QVERIFY(readAll(m_tmp.filePath(QStringLiteral("heatmap.svg"))).contains(QLatin1String("shakespeare")));
        const QString csv = m_tmp.filePath(QStringLiteral("ppl.csv"));
        QVERIFY2(w.exportMatrixCsv(MatrixKind::Raw, csv, &error), qPrintable(error));
        const QStringList lines = readAll(csv).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), int(kDomains.size()) + 1);
        QVERIFY(lines.first().startsWith(QLatin1String("domain,")));
        const QString clusters = m_tmp.filePath(QStringLiteral("clusters.csv"));
        QVERIFY2(w.exportClustersCsv(clusters, &error), qPrintable(error));
        QCOMPARE(readAll(clusters).split(QLatin1Char('\n'), Qt::SkipEmptyParts).size(), int(kDomains.size()) + 1);
    }

    void headlessBinary() {
        QVERIFY2(QFileInfo::exists(studioBinary()), "build den2moe-studio first");
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        auto run = [&](const QStringList& args, int timeoutMs = 180000) {
            QProcess p;
            p.setProcessEnvironment(env);
            p.start(studioBinary(), args);
            p.waitForFinished(timeoutMs);
            return std::make_tuple(p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
                                   QString::fromUtf8(p.readAllStandardError()));
        };
        // --help
        auto [helpCode, helpOut, helpErr] = run({QStringLiteral("--help")});
        QCOMPARE(helpCode, 0);
        QVERIFY(helpOut.contains(QLatin1String("--screenshot")) && helpOut.contains(QLatin1String("--mining-dir")));
        // generated from the steps' option lists: the schemas' flags with their defaults and ranges
        for (const auto& list : {den2moe::frontend::mining_options(), den2moe::frontend::conversion_options(),
                                 den2moe::frontend::export_options()}) {
            for (const auto& o : list) {
                QVERIFY2(helpOut.contains(QString::fromStdString("--" + o.flag)), o.flag.c_str());
            }
        }
        QVERIFY(helpOut.contains(QLatin1String("--run conversion:")) && helpOut.contains(QLatin1String("--top-k N")));

        // --run mining --screenshot, saving the mining folder for the next call.
        const QString miningDir = m_tmp.filePath(QStringLiteral("mining"));
        const QString shot = m_tmp.filePath(QStringLiteral("cli.png"));
        auto [code, out, err] =
            run({QStringLiteral("--project"), m_project, QStringLiteral("--run"), QStringLiteral("mining"),
                 QStringLiteral("--domains"), QStringLiteral("wiki,python,gsm8k,news"), QStringLiteral("--samples"),
                 QStringLiteral("4"), QStringLiteral("--seq"), QStringLiteral("64"), QStringLiteral("--eval-windows"),
                 QStringLiteral("2"), QStringLiteral("--eval-seq"), QStringLiteral("64"), QStringLiteral("--dtype"),
                 QStringLiteral("fp32"), QStringLiteral("--save-mining"), miningDir, QStringLiteral("--screenshot"), shot});
        QVERIFY2(code == 0, qPrintable(err));
        QVERIFY2(err.contains(QLatin1String("mining: [evaluation]")), qPrintable(err));  // the CLI's progress printer
        QVERIFY(distinctColours(QImage(shot)) > 10);
        QVERIFY(QFileInfo::exists(miningDir + QStringLiteral("/mining.json")));

        // --mining-dir: no run, a heatmap at K = 2.
        const QString heat = m_tmp.filePath(QStringLiteral("cli-heatmap.png"));
        auto [code2, out2, err2] = run({QStringLiteral("--project"), m_project, QStringLiteral("--mining-dir"), miningDir,
                                        QStringLiteral("--screenshot"), heat, QStringLiteral("--view"),
                                        QStringLiteral("heatmap"), QStringLiteral("--clusters"), QStringLiteral("2")});
        QVERIFY2(code2 == 0, qPrintable(err2));
        QVERIFY(distinctColours(QImage(heat)) > 10);

        // Errors: a missing project, a bad option value, an unknown option, a value out of the schema's
        // range: user errors (1) with the message on stderr.
        auto [code3, out3, err3] = run({QStringLiteral("--project"), m_tmp.filePath(QStringLiteral("missing.json")),
                                        QStringLiteral("--run"), QStringLiteral("mining")});
        QCOMPARE(code3, 1);
        QVERIFY2(err3.contains(QLatin1String("error:")) && err3.contains(QLatin1String("missing.json")), qPrintable(err3));
        auto [code4, out4, err4] = run({QStringLiteral("--view"), QStringLiteral("bogus"), QStringLiteral("--screenshot"),
                                        QStringLiteral("x.png")});
        QCOMPARE(code4, 1);
        QVERIFY(err4.contains(QLatin1String("--view")));
        auto [code6, out6, err6] = run({QStringLiteral("--project"), m_project, QStringLiteral("--run"),
                                        QStringLiteral("mining"), QStringLiteral("--calib-samples"), QStringLiteral("4")});
        QCOMPARE(code6, 1);
        QVERIFY2(err6.contains(QLatin1String("unknown option --calib-samples")), qPrintable(err6));
        auto [code7, out7, err7] = run({QStringLiteral("--project"), m_project, QStringLiteral("--run"),
                                        QStringLiteral("mining"), QStringLiteral("--samples"), QStringLiteral("0")});
        QCOMPARE(code7, 1);
        QVERIFY2(err7.contains(QLatin1String("--samples = 0 is out of range")), qPrintable(err7));
        auto [code8, out8, err8] = run({QStringLiteral("--run"), QStringLiteral("distillation")});
        QCOMPARE(code8, 1);
        QVERIFY2(err8.contains(QLatin1String("unknown step 'distillation'")), qPrintable(err8));
        // --run training needs its model, stage and output folder (checked before a project is read)
        auto [code9, out9, err9] = run({QStringLiteral("--run"), QStringLiteral("training"), QStringLiteral("--stage"),
                                        QStringLiteral("router")});
        QCOMPARE(code9, 1);
        QVERIFY2(err9.contains(QLatin1String("--run training needs --model-dir")), qPrintable(err9));
        // A project that does not validate: the run does not start.
        QString bad = readAll(m_project);
        bad.replace(QStringLiteral("$SHARED/models/demo-llama-7m"), QStringLiteral("$SHARED/models/no-such-model"));
        const QString badPath = m_tmp.filePath(QStringLiteral("bad.den2moe.json"));
        QFile f(badPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(bad.toUtf8());
        f.close();
        auto [code5, out5, err5] =
            run({QStringLiteral("--project"), badPath, QStringLiteral("--run"), QStringLiteral("mining")});
        QCOMPARE(code5, 1);
        QVERIFY2(err5.contains(QLatin1String("no-such-model")), qPrintable(err5));
    }

    /// Ctrl-C during a headless run stops the job at its next check and exits 130, as the CLI does;
    /// nothing is written.
    void headlessInterruptExits130() {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        QProcess p;
        p.setProcessEnvironment(env);
        const QString saved = m_tmp.filePath(QStringLiteral("never-mining"));
        p.start(studioBinary(), {QStringLiteral("--project"), m_project, QStringLiteral("--run"), QStringLiteral("mining"),
                                 QStringLiteral("--domains"), QStringLiteral("wiki,python,gsm8k,news,stories,pubmed"),
                                 QStringLiteral("--samples"), QStringLiteral("16"), QStringLiteral("--seq"),
                                 QStringLiteral("128"), QStringLiteral("--dtype"), QStringLiteral("fp32"),
                                 QStringLiteral("--cache-dir"), m_tmp.filePath(QStringLiteral("interrupt-cache")),
                                 QStringLiteral("--save-mining"), saved});
        QVERIFY(p.waitForStarted(10000));
        QString err;
        QElapsedTimer t;
        t.start();
        while (!err.contains(QLatin1String("mining: [statistics]")) && t.elapsed() < 120000 &&
               p.state() == QProcess::Running) {
            p.waitForReadyRead(200);
            err += QString::fromUtf8(p.readAllStandardError());
        }
        QVERIFY2(err.contains(QLatin1String("mining: [statistics]")), qPrintable(err));
        ::kill(static_cast<pid_t>(p.processId()), SIGINT);
        QVERIFY(p.waitForFinished(60000));
        err += QString::fromUtf8(p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 130);
        QVERIFY2(err.contains(QLatin1String("cancelled")), qPrintable(err));
        QVERIFY(!QFileInfo::exists(saved));
    }

private:
    QTemporaryDir m_tmp;
    QString m_project;
};

QTEST_MAIN(TestStudioScreenshot)
#include "tst_studio_screenshot.moc"
