// The MTEB result tables (issue 18) against hand-made evaluation folders: summary.json files written
// here as text in the layout engine/eval/results.cpp writes (not through the engine's writer), read by
// the app's adapter. Checked by hand: Mean(Task), Mean(TaskType), per-type means, a missing task (absent
// or null) shown as missing and making the means missing (never zero), deltas against a baseline and
// their colours, sorting (missing last in both orders), the type filter (means follow it), CSV /
// Markdown / LaTeX cell by cell, import of the Python mteb package's result layout (1.14 and 2.x files,
// subsets, revisions; and the engine's own mteb files against its summary), the Mean(TaskType) bar
// chart against the table's cells (PNG / SVG / PDF export), and the headless `den2moe-studio --view
// results` form (with --chart).
#include "results_adapters.h"
#include "results_table.h"
#include "results_view.h"
#include "type_means_chart.h"

#include "eval/results.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QProcess>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace den2moe::ui;

namespace {

/// One task entry of summary.json (EvalSummary::to_json's keys; main_score "null" = NaN).
QString taskJson(const QString& task, const QString& type, const QString& metric, const QString& score,
                 const QString& chance = QStringLiteral("null")) {
    return QStringLiteral(R"({"task": "%1", "type": "%2", "main_score_name": "%3", "main_score": %4,
        "chance": %5, "n_items": 10, "seconds": 0.5, "cached": false, "combination": "", "notes": [],
        "dataset_revision": "abc", "metrics": {}})")
        .arg(task, type, metric, score, chance);
}

/// Writes DIR/summary.json for `model` with `tasks`; the stored means are deliberately wrong (read_summary
/// recomputes them from the tasks, and the table computes its own).
QString writeRun(const QString& root, const QString& folder, const QString& model, const QStringList& tasks) {
    const QString dir = root + QLatin1Char('/') + folder;
    QDir().mkpath(dir);
    QFile f(dir + QStringLiteral("/summary.json"));
    if (!f.open(QIODevice::WriteOnly)) return {};
    f.write(QStringLiteral(R"({"model": "%1", "model_path": "/m/%2", "model_revision": "r1", "settings": {},
        "tasks": [%3], "mean_task": 0.0, "mean_by_type": {}, "mean_task_type": 0.0, "mean_zeroshot": 0.0,
        "mteb_version": "1.14.15"})")
                .arg(model, folder, tasks.join(QStringLiteral(",\n")))
                .toUtf8());
    return dir;
}

bool near(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol; }

}  // namespace

class TestResultsView : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    QString m_dense, m_hs, m_moee;
    ResultsData m_data;

    /// The column index of `key` in `g` (-1 absent).
    static int col(const ResultGrid& g, const QString& key) {
        for (int c = 0; c < g.columns.size(); ++c)
            if (g.columns[c].key() == key) return c;
        return -1;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_tmp.isValid());
        const QString root = m_tmp.path();
        // dense: complete. moe_hs-100%: complete (a label with LaTeX specials). moe-moee: SICK-R absent,
        // ARC-Easy evaluated but null (NaN).
        m_dense = writeRun(root, QStringLiteral("dense"), QStringLiteral("den2moe/dense"),
                           {taskJson("STSBenchmark", "STS", "cosine_spearman", "0.80"),
                            taskJson("SICK-R", "STS", "cosine_spearman", "0.70"),
                            taskJson("Banking77", "Classification", "accuracy", "0.60"),
                            taskJson("ARC-Easy", "MultipleChoice", "acc", "0.40", "0.25")});
        m_hs = writeRun(root, QStringLiteral("hs"), QStringLiteral("den2moe/moe_hs-100%"),
                        {taskJson("STSBenchmark", "STS", "cosine_spearman", "0.82"),
                         taskJson("SICK-R", "STS", "cosine_spearman", "0.66"),
                         taskJson("Banking77", "Classification", "accuracy", "0.65"),
                         taskJson("ARC-Easy", "MultipleChoice", "acc", "0.45", "0.25")});
        m_moee = writeRun(root, QStringLiteral("moee"), QStringLiteral("den2moe/moe-moee"),
                          {taskJson("STSBenchmark", "STS", "cosine_spearman", "0.85"),
                           taskJson("Banking77", "Classification", "accuracy", "0.70"),
                           taskJson("ARC-Easy", "MultipleChoice", "acc", "null", "0.25")});
        QString error;
        QVERIFY2(loadResultsFolders({m_dense, m_hs, m_moee}, &m_data, &error), qPrintable(error));
    }

    void adapterReadsRunsAndTasks() {
        QCOMPARE(m_data.runs.size(), 3);
        QCOMPARE(m_data.runs[0].label, QStringLiteral("dense"));
        QCOMPARE(m_data.runs[1].label, QStringLiteral("moe_hs-100%"));
        QCOMPARE(m_data.runs[2].label, QStringLiteral("moe-moee"));
        QCOMPARE(m_data.runs[0].source, m_dense);
        QCOMPARE(m_data.tasks.size(), 4);
        QCOMPARE(m_data.tasks[3].task, QStringLiteral("ARC-Easy"));
        QVERIFY(!m_data.tasks[3].inMeans);  // zero-shot is not in the MTEB means
        QCOMPARE(m_data.tasks[3].chance, 0.25);
        QVERIFY(m_data.tasks[0].inMeans);
        QVERIFY(!m_data.runs[2].scores.contains(QStringLiteral("SICK-R")));
        QVERIFY(std::isnan(m_data.runs[2].scores.value(QStringLiteral("ARC-Easy"))));
        QCOMPARE(resultTypes(m_data), (QStringList{"Classification", "STS", "MultipleChoice"}));
    }

    void sameFolderTwiceGetsUniqueLabels() {
        ResultsData d;
        QString error;
        QVERIFY(loadResultsFolders({m_dense, m_dense, m_dense}, &d, &error));
        QCOMPARE(d.runs[0].label, QStringLiteral("dense"));
        QCOMPARE(d.runs[1].label, QStringLiteral("dense [dense]"));
        QCOMPARE(d.runs[2].label, QStringLiteral("dense [dense] #2"));
    }

    void badFolderIsAnErrorNotACrash() {
        ResultsData d;
        QString error;
        QVERIFY(!loadResultsFolders({m_dense, m_tmp.path() + QStringLiteral("/nothing")}, &d, &error));
        QVERIFY2(error.contains(QStringLiteral("nothing")), qPrintable(error));
        QFile junk(m_tmp.path() + QStringLiteral("/junk.json"));
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("{\"tasks\": [{\"task\": 3}]}");
        junk.close();
        QVERIFY(!loadResultsFolders({junk.fileName()}, &d, &error));
        QVERIFY2(error.contains(QStringLiteral("junk.json")), qPrintable(error));
    }

    void meansAndMissing() {
        const ResultGrid g = resultGrid(m_data);
        QStringList keys;
        for (const ResultColumn& c : g.columns) keys << c.key();
        // one-task types get no mean column of their own
        QCOMPARE(keys, (QStringList{"run", "Mean(Task)", "Mean(TaskType)", "Banking77", "Mean(STS)", "STSBenchmark",
                                    "SICK-R", "ARC-Easy"}));
        const int mt = col(g, "Mean(Task)"), mtt = col(g, "Mean(TaskType)"), sts = col(g, "Mean(STS)");
        QVERIFY(near(g.values[0][mt], (0.80 + 0.70 + 0.60) / 3));
        QVERIFY(near(g.values[0][sts], 0.75));
        QVERIFY(near(g.values[0][mtt], (0.60 + 0.75) / 2));
        QVERIFY(near(g.values[1][mt], (0.82 + 0.66 + 0.65) / 3));
        QVERIFY(near(g.values[1][mtt], (0.65 + 0.74) / 2));
        // the engine's own Mean(TaskType) of a complete run agrees
        QVERIFY(near(g.values[0][mtt], den2moe::read_summary(m_dense.toStdString()).mean_task_type));
        // moe-moee lacks SICK-R: its STS, Task and TaskType means are missing, not means over fewer tasks
        QVERIFY(std::isnan(g.values[2][col(g, "SICK-R")]));
        QVERIFY(std::isnan(g.values[2][sts]));
        QVERIFY(std::isnan(g.values[2][mt]));
        QVERIFY(std::isnan(g.values[2][mtt]));
        QCOMPARE(g.missing[2][mt], 1);
        QVERIFY(std::isnan(g.values[2][col(g, "ARC-Easy")]));  // null score = missing
        QVERIFY(near(g.values[2][col(g, "STSBenchmark")], 0.85));

        ResultsTableModel m;
        m.setData(m_data);
        QCOMPARE(m.rowCount(), 3);
        QCOMPARE(m.columnCount(), 8);
        QCOMPARE(m.index(0, mt).data().toString(), QStringLiteral("70.00"));
        QCOMPARE(m.index(0, mtt).data().toString(), QStringLiteral("67.50"));
        QCOMPARE(m.index(2, col(g, "SICK-R")).data().toString(), QStringLiteral("—"));
        QCOMPARE(m.index(2, mt).data().toString(), QStringLiteral("—"));
        QVERIFY(m.index(2, mt).data(Qt::ToolTipRole).toString().contains(QStringLiteral("1 task")));
        QVERIFY(m.index(2, col(g, "SICK-R")).data(Qt::ToolTipRole).toString().contains(QStringLiteral("not evaluated")));
        QCOMPARE(m.headerData(col(g, "SICK-R"), Qt::Horizontal).toString(), QStringLiteral("STS\nSICK-R"));
        QCOMPARE(m.headerData(mt, Qt::Horizontal).toString(), QStringLiteral("Mean\nTask"));
    }

    void deltasAgainstBaseline() {
        ResultsTableModel m;
        m.setData(m_data);
        m.setBaseline(0);
        const ResultGrid& g = m.grid();
        const int mt = col(g, "Mean(Task)"), stsb = col(g, "STSBenchmark"), sick = col(g, "SICK-R");
        QVERIFY(near(g.delta(1, mt), 1.0, 1e-9));
        QVERIFY(near(g.delta(1, stsb), 2.0, 1e-9));
        QVERIFY(near(g.delta(1, sick), -4.0, 1e-9));
        QVERIFY(near(g.delta(1, col(g, "Mean(TaskType)")), 2.0, 1e-9));
        QVERIFY(near(g.delta(1, col(g, "ARC-Easy")), 5.0, 1e-9));
        QVERIFY(near(g.delta(2, col(g, "Banking77")), 10.0, 1e-9));
        QVERIFY(std::isnan(g.delta(2, sick)));  // missing: no delta
        QVERIFY(std::isnan(g.delta(0, stsb)));  // the baseline itself
        // colours: green above, red below, none on the baseline or a missing cell
        const QColor up = m.index(1, stsb).data(Qt::BackgroundRole).value<QBrush>().color();
        const QColor down = m.index(1, sick).data(Qt::BackgroundRole).value<QBrush>().color();
        QVERIFY(up.green() > up.red());
        QVERIFY(down.red() > down.green());
        QVERIFY(!m.index(0, stsb).data(Qt::BackgroundRole).isValid());
        QVERIFY(!m.index(2, sick).data(Qt::BackgroundRole).isValid());
        QCOMPARE(resultDeltaColor(10.0), resultDeltaColor(5.0));  // saturates at 5 points
        QVERIFY(resultDeltaColor(1.0) != resultDeltaColor(2.0));
        QCOMPARE(m.index(0, 0).data().toString(), QStringLiteral("dense (baseline)"));
        m.setShowDeltas(true);
        QCOMPARE(m.index(1, sick).data().toString(), QStringLiteral("-4.00"));
        QCOMPARE(m.index(1, stsb).data().toString(), QStringLiteral("+2.00"));
        QCOMPARE(m.index(0, stsb).data().toString(), QStringLiteral("80.00"));  // the baseline keeps its scores
        QCOMPARE(m.index(2, sick).data().toString(), QStringLiteral("—"));
    }

    void sortMissingLastBothWays() {
        ResultsView v;
        v.setResults(m_data);
        QVERIFY(v.sortByKey(QStringLiteral("Mean(Task)"), Qt::DescendingOrder));
        QCOMPARE(v.proxy()->sourceOrder(), (QVector<int>{1, 0, 2}));
        QVERIFY(v.sortByKey(QStringLiteral("Mean(Task)"), Qt::AscendingOrder));
        QCOMPARE(v.proxy()->sourceOrder(), (QVector<int>{0, 1, 2}));
        QVERIFY(v.sortByKey(QStringLiteral("STSBenchmark"), Qt::DescendingOrder));
        QCOMPARE(v.proxy()->sourceOrder(), (QVector<int>{2, 1, 0}));
        QVERIFY(v.sortByKey(QStringLiteral("SICK-R"), Qt::AscendingOrder));
        QCOMPARE(v.proxy()->sourceOrder(), (QVector<int>{1, 0, 2}));
        QVERIFY(v.sortByKey(QStringLiteral("run"), Qt::AscendingOrder));
        QCOMPARE(v.proxy()->sourceOrder(), (QVector<int>{0, 2, 1}));  // dense, moe-moee, moe_hs-100%
        QVERIFY(!v.sortByKey(QStringLiteral("NoSuchTask")));
    }

    void filterByTypeMeansFollow() {
        ResultsView v;
        v.setResults(m_data);
        v.setVisibleTypes({QStringLiteral("STS")});
        const ResultGrid& g = v.model()->grid();
        QStringList keys;
        for (const ResultColumn& c : g.columns) keys << c.key();
        QCOMPARE(keys, (QStringList{"run", "Mean(Task)", "Mean(TaskType)", "Mean(STS)", "STSBenchmark", "SICK-R"}));
        QVERIFY(near(g.values[0][col(g, "Mean(Task)")], 0.75));
        QVERIFY(near(g.values[1][col(g, "Mean(TaskType)")], 0.74));
        // only zero-shot: no MTEB means at all
        v.setVisibleTypes({QStringLiteral("MultipleChoice")});
        QCOMPARE(v.model()->columnCount(), 2);
        QCOMPARE(v.model()->grid().columns[1].key(), QStringLiteral("ARC-Easy"));
        QCOMPARE(v.model()->index(0, 1).data().toString(), QStringLiteral("40.00"));
    }

    void exportsCellByCell() {
        ResultsView v;
        v.setResults(m_data);
        v.setBaseline(0);
        QVERIFY(v.sortByKey(QStringLiteral("Mean(Task)"), Qt::DescendingOrder));  // rows: hs, dense, moee

        // CSV: raw scores, shortest text, missing empty, baseline flag
        const QStringList csv = v.exportText(QStringLiteral("csv")).split(QLatin1Char('\n'));
        QCOMPARE(csv.size(), 5);  // header, 3 runs, trailing ""
        QCOMPARE(csv[0], QStringLiteral("run,Mean(Task),Mean(TaskType),Banking77,Mean(STS),STSBenchmark,SICK-R,ARC-Easy,baseline"));
        QStringList hs = csv[1].split(QLatin1Char(','));
        QCOMPARE(hs.size(), 9);
        QCOMPARE(hs[0], QStringLiteral("moe_hs-100%"));
        QVERIFY(near(hs[1].toDouble(), (0.82 + 0.66 + 0.65) / 3));
        QVERIFY(near(hs[2].toDouble(), 0.695));
        QCOMPARE(hs[3], QStringLiteral("0.65"));
        QVERIFY(near(hs[4].toDouble(), 0.74));
        QCOMPARE(hs[5], QStringLiteral("0.82"));
        QCOMPARE(hs[6], QStringLiteral("0.66"));
        QCOMPARE(hs[7], QStringLiteral("0.45"));
        QCOMPARE(hs[8], QStringLiteral("false"));
        QCOMPARE(csv[2].split(QLatin1Char(','))[8], QStringLiteral("true"));
        QCOMPARE(csv[3], QStringLiteral("moe-moee,,,0.7,,0.85,,,false"));

        // Markdown: × 100, deltas, "-" missing, a type row
        const QStringList md = v.exportText(QStringLiteral("md")).split(QLatin1Char('\n'));
        QCOMPARE(md[0], QStringLiteral("| run | Mean(Task) | Mean(TaskType) | Banking77 | Mean(STS) | STSBenchmark | SICK-R | ARC-Easy |"));
        QCOMPARE(md[1], QStringLiteral("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"));
        QCOMPARE(md[2], QStringLiteral("| *type* | Mean | Mean | Classification | STS | STS | STS | MultipleChoice |"));
        QCOMPARE(md[3], QStringLiteral("| moe_hs-100% | 71.00 (+1.00) | 69.50 (+2.00) | 65.00 (+5.00) | 74.00 (-1.00) | "
                                       "82.00 (+2.00) | 66.00 (-4.00) | 45.00 (+5.00) |"));
        QCOMPARE(md[4], QStringLiteral("| dense (baseline) | 70.00 | 67.50 | 60.00 | 75.00 | 80.00 | 70.00 | 40.00 |"));
        QCOMPARE(md[5], QStringLiteral("| moe-moee | - | - | 70.00 (+10.00) | - | 85.00 (+5.00) | - | - |"));

        // LaTeX booktabs: grouped header with cmidrules, escaped labels, "--" missing
        const QStringList tex = v.exportText(QStringLiteral("tex")).split(QLatin1Char('\n'));
        QCOMPARE(tex[0], QStringLiteral("\\begin{tabular}{lrrrrrrr}"));
        QCOMPARE(tex[1], QStringLiteral("\\toprule"));
        QCOMPARE(tex[2], QStringLiteral(" & \\multicolumn{2}{c}{Mean} & \\multicolumn{1}{c}{Classification} & "
                                        "\\multicolumn{3}{c}{STS} & \\multicolumn{1}{c}{MultipleChoice} \\\\"));
        QCOMPARE(tex[3], QStringLiteral("\\cmidrule(lr){2-3}\\cmidrule(lr){4-4}\\cmidrule(lr){5-7}\\cmidrule(lr){8-8}"));
        QCOMPARE(tex[4], QStringLiteral("Run & Task & TaskType & Banking77 & Mean & STSBenchmark & SICK-R & ARC-Easy \\\\"));
        QCOMPARE(tex[5], QStringLiteral("\\midrule"));
        QCOMPARE(tex[6], QStringLiteral("moe\\_hs-100\\% & 71.00 (+1.00) & 69.50 (+2.00) & 65.00 (+5.00) & 74.00 (-1.00) & "
                                        "82.00 (+2.00) & 66.00 (-4.00) & 45.00 (+5.00) \\\\"));
        QCOMPARE(tex[7], QStringLiteral("dense (baseline) & 70.00 & 67.50 & 60.00 & 75.00 & 80.00 & 70.00 & 40.00 \\\\"));
        QCOMPARE(tex[8], QStringLiteral("moe-moee & -- & -- & 70.00 (+10.00) & -- & 85.00 (+5.00) & -- & -- \\\\"));
        QCOMPARE(tex[9], QStringLiteral("\\bottomrule"));
        QCOMPARE(tex[10], QStringLiteral("\\end{tabular}"));

        // files by suffix; an unknown suffix is refused
        QString error;
        const QString md1 = m_tmp.path() + QStringLiteral("/t.md");
        QVERIFY2(v.exportTo(md1, &error), qPrintable(error));
        QFile f(md1);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(f.readAll()), v.exportText(QStringLiteral("md")));
        QVERIFY(!v.exportTo(m_tmp.path() + QStringLiteral("/t.docx"), &error));
    }

    void importMtebLayout() {
        // result files as the Python mteb package writes them: 1.14 (indent 2, sorted keys) and 2.x
        // (rounded, "date", mteb_version in the entry), a multilingual task with subsets, model_meta.json
        const QString root = m_tmp.path() + QStringLiteral("/mteb-results");
        auto put = [&](const QString& rel, const QByteArray& text) {
            const QString path = root + QLatin1Char('/') + rel;
            QDir().mkpath(QFileInfo(path).absolutePath());
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text);
        };
        auto entry114 = [](const char* task, const char* score) {
            return QStringLiteral(R"({"dataset_revision": "x", "evaluation_time": 1.5, "kg_co2_emissions": null,
  "mteb_version": "1.14.15", "scores": {"test": [{"cosine_spearman": %2, "hf_subset": "default",
  "languages": ["eng-Latn"], "main_score": %2}]}, "task_name": "%1"})").arg(QLatin1String(task), QLatin1String(score)).toUtf8();
        };
        put("intfloat__e5-small-v2/rev1/STS13.json", entry114("STS13", "0.78125"));
        put("intfloat__e5-small-v2/rev1/Banking77Classification.json", entry114("Banking77Classification", "0.8"));
        put("intfloat__e5-small-v2/rev1/model_meta.json", R"({"name": "intfloat/e5-small-v2", "revision": "rev1"})");
        put("intfloat__e5-small-v2/rev2/STS13.json", entry114("STS13", "0.79"));
        put("other__model/r/STS22.json", R"({"task_name": "STS22", "scores": {"test": [
            {"hf_subset": "de", "languages": ["deu-Latn"], "main_score": 0.5},
            {"hf_subset": "en", "languages": ["eng-Latn"], "main_score": 0.6}]}})");
        put("other__model/r/STS14.json", R"({"dataset_revision": "y", "date": 1733000000.0, "evaluation_time": 2.0,
            "kg_co2_emissions": null, "mteb_version": "2.1.0", "scores": {"test": [{"hf_subset": "default",
            "languages": ["eng-Latn"], "main_score": 0.654321, "mteb_version": "2.1.0"}]}, "task_name": "STS14"})");

        ResultsData d;
        QString error;
        QVERIFY2(loadResultsFolders({root}, &d, &error), qPrintable(error));
        QCOMPARE(d.runs.size(), 3);
        QCOMPARE(d.runs[0].label, QStringLiteral("intfloat/e5-small-v2@rev1"));
        QCOMPARE(d.runs[1].label, QStringLiteral("intfloat/e5-small-v2@rev2"));
        QCOMPARE(d.runs[2].label, QStringLiteral("other/model"));
        QCOMPARE(d.runs[0].scores.size(), 2);  // model_meta.json is not a task
        QCOMPARE(d.runs[0].scores.value(QStringLiteral("STS13")), 0.78125);
        QCOMPARE(d.runs[0].scores.value(QStringLiteral("Banking77Classification")), 0.8);
        QCOMPARE(d.runs[1].scores.value(QStringLiteral("STS13")), 0.79);
        QCOMPARE(d.runs[2].scores.value(QStringLiteral("STS22")), 0.6);  // the "en" subset
        QCOMPARE(d.runs[2].scores.value(QStringLiteral("STS14")), 0.654321);
        QHash<QString, ResultTaskInfo> tasks;
        for (const ResultTaskInfo& t : d.tasks) tasks.insert(t.task, t);
        QCOMPARE(tasks.size(), 4);
        QCOMPARE(tasks[QStringLiteral("STS13")].type, QStringLiteral("STS"));  // from the task registry
        QCOMPARE(tasks[QStringLiteral("Banking77Classification")].type, QStringLiteral("Classification"));
        QCOMPARE(tasks[QStringLiteral("Banking77Classification")].metric, QStringLiteral("accuracy"));
        QCOMPARE(tasks[QStringLiteral("STS22")].type, QStringLiteral("Other"));
        ResultsTableModel m;
        m.setData(d);
        for (int c = 0; c < m.columnCount(); ++c) {
            if (m.grid().columns[c].key() == QLatin1String("Banking77Classification")) {
                QCOMPARE(m.headerData(c, Qt::Horizontal).toString(), QStringLiteral("Classification\nBanking77"));
            }
        }
        QVERIFY(!tasks[QStringLiteral("STS22")].inMeans);

        // the engine's own mteb files (den2moe eval --out DIR/mteb) import to the summary's scores
        den2moe::EvalSummary hs = den2moe::read_summary(m_hs.toStdString());
        const QString out = m_tmp.path() + QStringLiteral("/engine-out");
        for (const den2moe::TaskScores& t : hs.tasks) den2moe::write_task_result(out.toStdString(), hs, t);
        ResultsData e;
        QVERIFY2(loadResultsFolders({out + QStringLiteral("/mteb")}, &e, &error), qPrintable(error));
        QCOMPARE(e.runs.size(), 1);
        QCOMPARE(e.runs[0].label, QStringLiteral("den2moe/moe_hs-100%"));
        QCOMPARE(e.runs[0].scores.size(), 3);  // the zero-shot task is not in the mteb layout
        for (const den2moe::TaskScores& t : hs.tasks) {
            if (t.is_mteb()) QCOMPARE(e.runs[0].scores.value(QString::fromStdString(t.task)), t.main_score);
        }

        // an empty folder and broken JSON are errors that name the place
        QDir().mkpath(m_tmp.path() + QStringLiteral("/empty"));
        QVERIFY(!loadResultsFolders({m_tmp.path() + QStringLiteral("/empty")}, &d, &error));
        QVERIFY2(error.contains(QStringLiteral("neither summary.json")), qPrintable(error));
        put("broken/m/r/X.json", "{\"task_name\": ");
        QVERIFY(!loadResultsFolders({root + QStringLiteral("/broken")}, &d, &error));
        QVERIFY2(error.contains(QStringLiteral("X.json")), qPrintable(error));
    }

    void typeMeansChartEqualsTheTable() {
        // the Results tab's bar chart: one group per type in the means, then Mean(TaskType); its bars are
        // the table's Mean(<type>) / single-task / Mean(TaskType) cells x 100 (hand values above)
        ResultsView v;
        v.setResults(m_data);
        const ResultGrid& g = v.model()->grid();
        const TypeMeansData d = v.chart()->data();
        QCOMPARE(d.groups, (QStringList{"Classification", "STS", "Mean(TaskType)"}));  // no MultipleChoice
        QCOMPARE(d.runs, (QStringList{"dense", "moe_hs-100%", "moe-moee"}));
        const int cols[] = {col(g, "Banking77"), col(g, "Mean(STS)"), col(g, "Mean(TaskType)")};
        for (int r = 0; r < 3; ++r)
            for (int k = 0; k < 3; ++k) {
                const double table = g.values[r][cols[k]];
                if (std::isnan(table)) {
                    QVERIFY(std::isnan(d.values[r][k]));
                } else {
                    QVERIFY(near(d.values[r][k], 100 * table, 1e-9));
                    // the number the table shows
                    QCOMPARE(QString::number(d.values[r][k], 'f', 2), v.model()->index(r, cols[k]).data().toString());
                }
            }
        QVERIFY(near(d.values[0][1], 75.0, 1e-9));
        QVERIFY(near(d.values[0][2], 67.5, 1e-9));
        QVERIFY(near(d.values[1][2], 69.5, 1e-9));
        QVERIFY(near(d.values[2][0], 70.0, 1e-9));
        // moe-moee lacks SICK-R: no STS bar and no Mean(TaskType) bar, never a zero bar
        QCOMPARE(v.chart()->barCount(0), 3);
        QCOMPARE(v.chart()->barCount(2), 1);
        // the type filter: the chart follows the table
        v.setVisibleTypes({QStringLiteral("STS")});
        QCOMPARE(v.chart()->data().groups, (QStringList{"STS", "Mean(TaskType)"}));
        QVERIFY(near(v.chart()->data().values[1][0], 74.0, 1e-9));
        v.setVisibleTypes({});
        // exports by suffix
        for (const char* suffix : {"png", "svg", "pdf"}) {
            const QString path = m_tmp.path() + QStringLiteral("/type-means.") + QLatin1String(suffix);
            QString error;
            QVERIFY2(v.exportChart(path, 700, 360, &error), qPrintable(error));
            QVERIFY(QFileInfo(path).size() > 500);
        }
        QFile svg(m_tmp.path() + QStringLiteral("/type-means.svg"));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        const QByteArray text = svg.readAll();
        QVERIFY(text.contains("<svg"));
        QCOMPARE(QImage(m_tmp.path() + QStringLiteral("/type-means.png")).width(), 1400);  // 2x pixel ratio
    }

    void headlessForm() {
        const QString bin = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio");
        QVERIFY2(QFileInfo::exists(bin), "build den2moe-studio first");
        const QString png = m_tmp.path() + QStringLiteral("/results.png");
        const QString md = m_tmp.path() + QStringLiteral("/results.md");
        QProcess p;
        p.start(bin, {"--view", "results", "--results", m_dense, "--results", m_hs, "--results", m_moee, "--baseline",
                      "1", "--sort", "Mean(Task)", "--table", md, "--screenshot", png, "--size", "1000x320"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        QImage img(png);
        QCOMPARE(img.size(), QSize(1000, 320));
        // the file equals the view's export with the same settings
        ResultsView v;
        v.setResults(m_data);
        v.setBaseline(0);
        QVERIFY(v.sortByKey(QStringLiteral("Mean(Task)")));
        QFile f(md);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(f.readAll()), v.exportText(QStringLiteral("md")));
        const QString chart = m_tmp.path() + QStringLiteral("/chart.pdf");
        p.start(bin, {"--results", m_dense, "--results", m_hs, "--chart", chart});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        QFile pdf(chart);
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        QVERIFY(pdf.read(5) == "%PDF-");

        // user errors: exit 1 with a message
        QProcess bad;
        bad.start(bin, {"--view", "results", "--results", m_tmp.path() + QStringLiteral("/missing"), "--table", md});
        QVERIFY(bad.waitForFinished(60000));
        QCOMPARE(bad.exitCode(), 1);
        QVERIFY(bad.readAllStandardError().contains("missing"));
        QProcess badType;
        badType.start(bin, {"--results", m_dense, "--types", "Retrieval", "--table", md});
        QVERIFY(badType.waitForFinished(60000));
        QCOMPARE(badType.exitCode(), 1);
        QVERIFY(badType.readAllStandardError().contains("Retrieval"));
    }
};

QTEST_MAIN(TestResultsView)
#include "tst_results_view.moc"
