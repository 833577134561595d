// ProjectController: reset / open / save with the modified flag and its signal, the recent-files list
// (most recent first, no duplicates, at most 8), autosave (a recovery copy written after an edit, gone
// after a save, offered when the project is opened again, restored or discarded), and the step settings
// the window's widgets edit (the Experts panel's conversion settings) saved with the project.
#include "app_test_support.h"
#include "conversion_panel.h"
#include "main_window.h"
#include "project_controller.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace den2moe;
using namespace den2moe::ui;

class TestProjectController : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_tmp.isValid());
    }

    void modifiedFlagAndSave() {
        ProjectController pc;
        QSignalSpy reset(&pc, &ProjectController::projectReset);
        QSignalSpy modified(&pc, &ProjectController::modifiedChanged);
        Project p = load_project(d2mtest::demoProjectPath().toStdString());
        pc.reset(p, false);
        QCOMPARE(reset.count(), 1);
        QVERIFY(!pc.isModified());
        pc.update([](Project& q) { q.calib.n_samples = 7; });
        QVERIFY(pc.isModified());
        QCOMPARE(modified.last().first().toBool(), true);
        QCOMPARE(pc.project().calib.n_samples, int64_t(7));
        pc.update([](Project& q) { q.notes = "view state"; }, false);  // not a change of the project's meaning
        const QString path = m_tmp.filePath(QStringLiteral("saved.den2moe.json"));
        QString error;
        QVERIFY2(pc.save(path, &error), qPrintable(error));
        QVERIFY(!pc.isModified());
        QCOMPARE(modified.last().first().toBool(), false);
        QCOMPARE(load_project(path.toStdString()).calib.n_samples, int64_t(7));
        QVERIFY(!pc.open(m_tmp.filePath(QStringLiteral("missing.den2moe.json")), &error));
        QVERIFY(error.contains(QLatin1String("missing.den2moe.json")));
        QCOMPARE(pc.project().calib.n_samples, int64_t(7));  // a failed open keeps the project
    }

    void recentFiles() {
        ProjectController pc;
        QSignalSpy changed(&pc, &ProjectController::recentFilesChanged);
        for (int i = 0; i < 10; ++i) pc.addRecentFile(QStringLiteral("/p/%1.den2moe.json").arg(i));
        pc.addRecentFile(QStringLiteral("/p/5.den2moe.json"));
        const QStringList files = pc.recentFiles();
        QCOMPARE(files.size(), 8);
        QCOMPARE(files.first(), QStringLiteral("/p/5.den2moe.json"));
        QCOMPARE(files.count(QStringLiteral("/p/5.den2moe.json")), 1);
        QCOMPARE(files.at(1), QStringLiteral("/p/9.den2moe.json"));
        QCOMPARE(changed.count(), 11);
    }

    void autosaveWritesRestoresAndDiscards() {
        const QString path = m_tmp.filePath(QStringLiteral("auto.den2moe.json"));
        QVERIFY(QFile::copy(d2mtest::demoProjectPath(), path));
        QString error;
        {
            ProjectController pc;
            pc.setAutosaveIntervalMs(20);
            QVERIFY2(pc.open(path, &error), qPrintable(error));
            QCOMPARE(pc.autosavePath(), path + QStringLiteral(".autosave"));
            QVERIFY(!QFile::exists(pc.autosavePath()));
            pc.update([](Project& q) { q.convert.top_k = 3; });
            QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(pc.autosavePath()), 5000);
            QFile f(pc.autosavePath());
            QVERIFY(f.open(QIODevice::ReadOnly));
            QCOMPARE(parse_project(f.readAll().toStdString(), path.toStdString()).convert.top_k, int64_t(3));
            f.close();
            QVERIFY2(pc.save(path, &error), qPrintable(error));
            QVERIFY(!QFile::exists(pc.autosavePath()));  // saved: nothing to recover
            pc.update([](Project& q) { q.convert.top_k = 4; });
            QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(pc.autosavePath()), 5000);
        }  // "crash": the controller goes without saving, the copy stays
        QVERIFY(QFile::exists(path + QStringLiteral(".autosave")));
        ProjectController pc;
        QSignalSpy found(&pc, &ProjectController::autosaveFound);
        QVERIFY(pc.open(path, &error));
        QCOMPARE(found.count(), 1);
        QCOMPARE(found.first().first().toString(), path + QStringLiteral(".autosave"));
        QCOMPARE(pc.project().convert.top_k, int64_t(3));  // the file as saved
        QVERIFY2(pc.restoreAutosave(&error), qPrintable(error));
        QCOMPARE(pc.project().convert.top_k, int64_t(4));  // the unsaved edit is back
        QVERIFY(pc.isModified());
        QCOMPARE(QString::fromStdString(pc.project().file), QFileInfo(path).absoluteFilePath());
        pc.discardAutosave();
        QVERIFY(!QFile::exists(path + QStringLiteral(".autosave")));
        QVERIFY(!pc.restoreAutosave(&error));
    }

    /// The Experts panel's settings are the project's: an edit marks it modified and is saved with it.
    void conversionSettingsAreSavedWithTheProject() {
        MainWindow w;
        w.setInteractive(false);
        Project p = load_project(d2mtest::demoProjectPath().toStdString());
        p.convert.ratio = 0.25;
        w.setProject(p, false);
        ConversionPanel* panel = w.conversionPanel();
        QCOMPARE(panel->settings().ratio, 0.25);  // the panel shows the project's settings
        auto* recipe = panel->findChild<QComboBox*>(QStringLiteral("recipe"));
        auto* ratio = panel->findChild<QDoubleSpinBox*>(QStringLiteral("ratio"));
        QVERIFY(recipe && ratio);
        QCOMPARE(ratio->value(), 0.25);
        QVERIFY(!w.isModified());
        recipe->setCurrentIndex(recipe->findData(QString::fromLatin1(recipe_name(Recipe::Den2MoEE))));
        QVERIFY(w.isModified());
        QCOMPARE(w.project().convert.recipe, Recipe::Den2MoEE);
        QCOMPARE(w.project().convert.top_k, int64_t(2));  // set_recipe: den2moee's own default
        QVERIFY(!ratio->isEnabled());                      // den2moee does not prune
        const QString path = m_tmp.filePath(QStringLiteral("convert.den2moe.json"));
        QString error;
        QVERIFY2(w.saveProject(path, &error), qPrintable(error));
        QVERIFY(!w.isModified());
        const Project back = load_project(path.toStdString());
        QCOMPARE(back.convert.recipe, Recipe::Den2MoEE);
        QCOMPARE(back.convert.top_k, int64_t(2));
        QCOMPARE(back.convert.ratio, 0.25);
        // opening it again shows the saved settings
        MainWindow w2;
        w2.setInteractive(false);
        QVERIFY2(w2.openProject(path, &error), qPrintable(error));
        QCOMPARE(w2.conversionPanel()->settings().recipe, Recipe::Den2MoEE);
        QCOMPARE(w2.conversionPanel()->findChild<QComboBox*>(QStringLiteral("recipe"))->currentData().toString(),
                 QString::fromLatin1(recipe_name(Recipe::Den2MoEE)));
    }

private:
    QTemporaryDir m_tmp;
};

QTEST_MAIN(TestProjectController)
#include "tst_project_controller.moc"
