// Crash recovery for real (issue 20): a child process (this test binary with D2M_CRASH_CHILD=<project>,
// running the app's MainWindow offscreen) opens a saved project, edits it through a widget and through the
// project controller, waits until the autosave holds exactly those edits, and is killed with SIGKILL.
// Reopening the project in a fresh window offers the edits back (autosaveFound), the file itself is byte for
// byte what was saved, and restoring gives the child's project exactly (project_to_json equal), widgets included.
#include "app_test_support.h"
#include "conversion_panel.h"
#include "main_window.h"
#include "project_controller.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <csignal>
#include <cstdio>

#include <signal.h>

using namespace den2moe;
using namespace den2moe::ui;

namespace {

const char* const kChildEnv = "D2M_CRASH_CHILD";

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

/// The child: edit, wait for the autosave to hold the edits, say so on stdout, then idle until killed.
/// Writes the project it holds (project_to_json) to `<project>.expected` for the parent to compare.
int runChild(const QString& path) {
    QStandardPaths::setTestModeEnabled(true);
    MainWindow w;
    w.setInteractive(false);
    ProjectController* pc = w.projectController();
    pc->setAutosaveIntervalMs(50);
    QString error;
    if (!w.openProject(path, &error)) {
        std::fprintf(stderr, "child: %s\n", qPrintable(error));
        return 3;
    }
    // an edit through a widget: the Experts panel's recipe (set_recipe also changes its defaults)
    auto* recipe = w.conversionPanel()->findChild<QComboBox*>(QStringLiteral("recipe"));
    if (!recipe) return 4;
    recipe->setCurrentIndex(recipe->findData(QString::fromLatin1(recipe_name(Recipe::Den2MoEE))));
    // edits of every other part of the project through the controller
    pc->update([](Project& p) {
        p.name = "edited after the save";
        p.dtype = "fp32";
        p.notes = "unsaved notes \xE2\x9C\x93";  // UTF-8 survives
        p.calib.n_samples = 7;
        p.eval.n_windows = 3;
        p.prune.ratio = 0.3;
        p.prune.metric = "ifv";
        p.cluster.k = 5;
        p.cluster.cut_height = 0.42;
        p.domains[0].enabled = false;
        p.domains[1].calib_split = "validation";
        p.hf_export.pad_experts = true;
        p.training = nlohmann::json{{"steps", 5}, {"lr", 0.001}};
        p.clusters.members = {{p.domains[0].name, p.domains[1].name}, {p.domains[2].name}};
        p.clusters.names = {"first", "second"};
        p.clusters.manual = true;
    });
    const QByteArray expected = QByteArray::fromStdString(project_to_json(pc->project()));
    {
        QFile f(path + QStringLiteral(".expected"));
        if (!f.open(QIODevice::WriteOnly) || f.write(expected) != expected.size()) return 5;
    }
    QElapsedTimer t;
    t.start();
    while (readAll(pc->autosavePath()) != expected) {  // the timer runs in this event loop
        if (t.elapsed() > 30000) {
            std::fprintf(stderr, "child: no autosave with the edits after 30 s\n");
            return 6;
        }
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(10);
    }
    std::printf("AUTOSAVED\n");
    std::fflush(stdout);
    return QCoreApplication::exec();  // the window lives on, unsaved, until the parent kills it
}

}  // namespace

class TestCrashRecovery : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_tmp.isValid());
    }

    void killedAfterAutosaveOffersTheEditsBack() {
        const QString path = m_tmp.filePath(QStringLiteral("crash.den2moe.json"));
        {
            // a saved project (the demo's settings; its $SHARED paths resolve as in the demo)
            ProjectController pc;
            pc.reset(load_project(d2mtest::demoProjectPath().toStdString()), true);
            QString error;
            QVERIFY2(pc.save(path, &error), qPrintable(error));
        }
        QFile saved(path);
        QVERIFY(saved.open(QIODevice::ReadWrite));
        saved.setFileTime(QDateTime::currentDateTime().addSecs(-60), QFileDevice::FileModificationTime);
        saved.close();
        const QByteArray savedBytes = readAll(path);

        QProcess child;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QString::fromLatin1(kChildEnv), path);
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        child.setProcessEnvironment(env);
        child.setProcessChannelMode(QProcess::SeparateChannels);
        child.start(QCoreApplication::applicationFilePath(), {});
        QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));
        QByteArray out;
        QElapsedTimer t;
        t.start();
        while (!out.contains("AUTOSAVED") && child.state() == QProcess::Running && t.elapsed() < 120000) {
            child.waitForReadyRead(200);
            out += child.readAllStandardOutput();
        }
        QVERIFY2(out.contains("AUTOSAVED"), qPrintable(QStringLiteral("child said: %1 / %2")
                                                           .arg(QString::fromUtf8(out),
                                                                QString::fromUtf8(child.readAllStandardError()))));
        QCOMPARE(::kill(pid_t(child.processId()), SIGKILL), 0);  // no Qt shutdown, no destructors
        QVERIFY(child.waitForFinished(10000));
        QCOMPARE(child.exitStatus(), QProcess::CrashExit);

        // what the crash left: the saved file untouched, the recovery copy complete, no temporary file
        const QString recovery = path + QStringLiteral(".autosave");
        const QByteArray expected = readAll(path + QStringLiteral(".expected"));
        QVERIFY(!expected.isEmpty());
        QCOMPARE(readAll(path), savedBytes);
        QCOMPARE(readAll(recovery), expected);
        QCOMPARE(QDir(m_tmp.path()).entryList(QDir::Files | QDir::Hidden, QDir::Name),
                 QStringList({QStringLiteral("crash.den2moe.json"), QStringLiteral("crash.den2moe.json.autosave"),
                              QStringLiteral("crash.den2moe.json.expected")}));
        QVERIFY(expected != QByteArray::fromStdString(project_to_json(load_project(path.toStdString()))));

        // reopening offers the edits back, and shows the file as saved until they are accepted
        MainWindow w;
        w.setInteractive(false);
        QSignalSpy found(w.projectController(), &ProjectController::autosaveFound);
        QString error;
        QVERIFY2(w.openProject(path, &error), qPrintable(error));
        QCOMPARE(found.count(), 1);
        QCOMPARE(found.first().first().toString(), recovery);
        QCOMPARE(project_to_json(w.project()), project_to_json(load_project(path.toStdString())));
        QCOMPARE(w.conversionPanel()->settings().recipe, Recipe::Dive);
        QVERIFY(!w.isModified());

        // accepting restores them exactly, as unsaved changes of the same file
        QVERIFY2(w.projectController()->restoreAutosave(&error), qPrintable(error));
        QCOMPARE(QByteArray::fromStdString(project_to_json(w.project())), expected);
        QCOMPARE(QString::fromStdString(w.project().file), QFileInfo(path).absoluteFilePath());
        QVERIFY(w.isModified());
        QCOMPARE(w.conversionPanel()->settings().recipe, Recipe::Den2MoEE);  // the widgets refilled
        QCOMPARE(w.project().calib.n_samples, int64_t(7));
        QCOMPARE(w.project().notes, std::string("unsaved notes \xE2\x9C\x93"));

        // saving them makes them the file's and removes the recovery copy
        QVERIFY2(w.saveProject(path, &error), qPrintable(error));
        QVERIFY(!QFile::exists(recovery));
        QCOMPARE(QByteArray::fromStdString(project_to_json(load_project(path.toStdString()))), expected);
    }

private:
    QTemporaryDir m_tmp;
};

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    if (qEnvironmentVariableIsSet(kChildEnv)) return runChild(qEnvironmentVariable(kChildEnv));
    TestCrashRecovery t;
    return QTest::qExec(&t, argc, argv);
}

#include "tst_crash_recovery.moc"
