// The "Export to Hugging Face…" dialog: its defaults and requests, its settings (export_schema's
// widgets, kept in the project's export section and saved with it), its result display, and an
// export through the main window's JobRunner (bridge::exportHf, the engine calls of `den2moe
// export`) whose Mixtral folder routes every token to the same experts as the converted source.
#include "app_test_support.h"
#include "engine_bridge.h"
#include "export_dialog.h"
#include "main_window.h"
#include "settings_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QSpinBox>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace den2moe;
using namespace den2moe::ui;

Q_DECLARE_METATYPE(den2moe::ui::ExportRequest)

class TestExportDialog : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        qRegisterMetaType<den2moe::ui::ExportRequest>();
        QVERIFY(m_tmp.isValid());
        m_src = m_tmp.path() + QStringLiteral("/moe");
        const QString error = d2mtest::convertRandomWithCli(m_src);
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }

    void defaultsAndRequests() {
        ExportDialog d;
        d.setSource(QStringLiteral("/x/model"));
        QCOMPARE(d.out(), QStringLiteral("/x/model-mixtral"));
        d.setFormat(QStringLiteral("qwen2moe"));
        QCOMPARE(d.out(), QStringLiteral("/x/model-qwen2moe"));
        QSignalSpy spy(&d, &ExportDialog::requested);
        d.findChild<QPushButton*>(QStringLiteral("exportCheck"))->click();
        QCOMPARE(spy.count(), 1);
        const ExportRequest r = spy.at(0).at(0).value<ExportRequest>();
        QVERIFY(r.lintOnly);
        QCOMPARE(r.settings.format, std::string("qwen2moe"));
        QCOMPARE(r.source, QStringLiteral("/x/model"));
        d.setOut(QStringLiteral("/y/out"));
        d.setFormat(QStringLiteral("mixtral"));
        QCOMPARE(d.out(), QStringLiteral("/y/out"));  // an explicit folder stays
        d.findChild<QPushButton*>(QStringLiteral("exportRun"))->click();
        QCOMPARE(spy.count(), 2);
        QVERIFY(!spy.at(1).at(0).value<ExportRequest>().lintOnly);

        bridge::HfExportOutput bad;
        bad.format = "mixtral";
        bad.errors = 1;
        bad.report = "error   shared-expert: ...";
        d.showResult(bad);
        QVERIFY(d.summaryText().contains(QStringLiteral("cannot carry")));
        QCOMPARE(d.reportText(), QStringLiteral("error   shared-expert: ..."));
    }

    /// The dialog's widgets are export_schema()'s; what the user sets goes into the project's export
    /// section (modified, saved with the project) and into the request.
    void settingsGoIntoTheProject() {
        MainWindow w;
        w.setInteractive(false);
        den2moe::Project p = den2moe::load_project(D2M_SOURCE_DIR "/projects/demo.den2moe.json");
        p.hf_export.format = "qwen2moe";
        p.hf_export.tensor_parallel = 2;
        w.setProject(p, false);
        ExportDialog* d = w.exportDialog();
        QCOMPARE(d->settings().format, std::string("qwen2moe"));
        auto* format = d->findChild<QComboBox*>(QStringLiteral("format"));
        QVERIFY(format);
        QCOMPARE(format->count(), int(den2moe::export_schema().find("format")->choices.size()));
        QCOMPARE(format->currentData().toString(), QStringLiteral("qwen2moe"));
        auto* tp = d->findChild<QSpinBox*>(QStringLiteral("tensor_parallel"));
        QVERIFY(tp);
        QCOMPARE(tp->value(), 2);
        QCOMPARE(tp->minimum(), 1);  // the schema's range
        QCOMPARE(tp->maximum(), 4096);
        QVERIFY(!w.isModified());
        auto* strict = d->findChild<QCheckBox*>(QStringLiteral("strict"));
        QVERIFY(strict && !strict->isChecked());
        strict->setChecked(true);  // as a click would
        tp->setValue(4);
        QVERIFY(w.isModified());
        QVERIFY(w.project().hf_export.strict);
        QCOMPARE(w.project().hf_export.tensor_parallel, int64_t(4));
        QVERIFY(d->request(true).settings.strict);
        const QString path = m_tmp.filePath(QStringLiteral("export-settings.den2moe.json"));
        QString error;
        QVERIFY2(w.saveProject(path, &error), qPrintable(error));
        const den2moe::Project back = den2moe::load_project(path.toStdString());
        QVERIFY(back.hf_export.strict);
        QCOMPARE(back.hf_export.tensor_parallel, int64_t(4));
        QCOMPARE(back.hf_export.format, std::string("qwen2moe"));
    }

    void exportsThroughTheWindow() {
        MainWindow w;
        w.setInteractive(false);
        ExportDialog* d = w.exportDialog();
        d->setSource(m_src);
        QSignalSpy done(&w, &MainWindow::exportFinished);
        d->findChild<QPushButton*>(QStringLiteral("exportCheck"))->click();
        QVERIFY(done.wait(60000));
        HfExportOutputPtr lint = w.exportResult();
        QVERIFY(lint && lint->lint_only);
        QCOMPARE(lint->errors, 0);
        QVERIFY(lint->out_dir.empty());
        QVERIFY(d->reportText().contains(QStringLiteral("export lint (mixtral)")));

        const QString out = m_tmp.path() + QStringLiteral("/mixtral");
        d->setOut(out);
        d->findChild<QPushButton*>(QStringLiteral("exportRun"))->click();
        QVERIFY(done.wait(60000));
        HfExportOutputPtr x = w.exportResult();
        QVERIFY(x && !x->lint_only);
        QCOMPARE(QString::fromStdString(x->out_dir), out);
        QVERIFY(d->summaryText().contains(QStringLiteral("Exported")));
        QFile cfg(out + QStringLiteral("/config.json"));
        QVERIFY(cfg.open(QIODevice::ReadOnly));
        QVERIFY(cfg.readAll().contains("MixtralForCausalLM"));
        // the export routes every token like the source
        const std::string text = "Tom has 3 apples and buys 5 more.";
        const RoutingTrace a = bridge::traceRouting(*bridge::loadMoeModel(m_src.toStdString()), text);
        const RoutingTrace b = bridge::traceRouting(*bridge::loadMoeModel(out.toStdString()), text);
        QCOMPARE(a.pieces.size(), b.pieces.size());
        QCOMPARE(a.picks.size(), b.picks.size());
        for (size_t l = 0; l < a.picks.size(); ++l) {
            for (size_t t = 0; t < a.picks[l].size(); ++t) {
                QCOMPARE(a.picks[l][t].size(), b.picks[l][t].size());
                for (size_t j = 0; j < a.picks[l][t].size(); ++j) {
                    QCOMPARE(a.picks[l][t][j].expert, b.picks[l][t][j].expert);
                    QVERIFY(std::abs(a.picks[l][t][j].weight - b.picks[l][t][j].weight) < 1e-5);
                }
            }
        }

        // a folder that is not a model: the dialog says what failed, nothing is written
        d->setSource(m_tmp.path() + QStringLiteral("/missing"));
        d->setOut(m_tmp.path() + QStringLiteral("/never"));
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        d->findChild<QPushButton*>(QStringLiteral("exportRun"))->click();
        QVERIFY(failed.wait(60000));
        QVERIFY(d->summaryText().contains(QStringLiteral("Failed")));
        QVERIFY(!QDir(m_tmp.path() + QStringLiteral("/never")).exists());
    }

private:
    QTemporaryDir m_tmp;
    QString m_src;
};

QTEST_MAIN(TestExportDialog)
#include "tst_export_dialog.moc"
