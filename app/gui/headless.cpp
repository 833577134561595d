// den2moe-studio's command line and headless form: see headless.h.
#include "headless.h"

#include "affinity_view.h"
#include "cluster_model.h"
#include "expert_load_view.h"
#include "evaluation_panel.h"
#include "export_dialog.h"
#include "heatmap_view.h"
#include "main_window.h"
#include "results_view.h"
#include "routing_view.h"
#include "runs_panel.h"
#include "training_panel.h"
#include "view_adapters.h"

#include "console.h"

#include "core/error.h"
#include "core/interrupts.h"
#include "eval/task_settings.h"
#include "mining/mining.h"
#include "train/train_settings.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QFileInfo>
#include <QRegularExpression>
#include <QTextStream>

#include <algorithm>
#include <cmath>
#include <set>

namespace den2moe::ui {

namespace {

using frontend::OptionInfo;

const std::set<std::string> kSteps = {"mining", "conversion", "export", "training", "evaluation"};

std::vector<OptionInfo> stepOptions(const std::string& run) {
    if (run == "mining") return frontend::mining_options();
    if (run == "conversion") return frontend::conversion_options();
    if (run == "export") return frontend::export_options();
    if (run == "training") {  // `den2moe train`'s options; the source model is --model-dir
        return frontend::join_options({{{"out", "DIR", "output folder of the training run (required)", false},
                                        {"resume", "", "continue the run in --out from its last checkpoint", true}},
                                       frontend::schema_options(den2moe::train_schema())});
    }
    if (run == "evaluation") {  // `den2moe eval`'s options; the model is --model-dir (default: the project's)
        return frontend::join_options({{{"out", "DIR", "result folder (default: <project cache>/eval/...)", false}},
                                       frontend::schema_options(den2moe::task_eval_schema())});
    }
    return {};
}

bool isCount(const std::string& v) {
    return !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
}

MatrixKind matrixKindFrom(const QString& name) {
    if (name == QLatin1String("raw")) {
        return MatrixKind::Raw;
    }
    if (name == QLatin1String("correlation")) {
        return MatrixKind::Correlation;
    }
    return MatrixKind::Normalized;
}

}  // namespace

std::vector<OptionInfo> studioOptions() {
    return {{"project", "P", "project file (the window: else the last project, else the demo)", false},
            {"run", "mining|conversion|export|training|evaluation", "run a step without a window (its options below)", false},
            {"screenshot", "FILE", "render the views into this image (PNG; SVG/PDF for one plot) and exit", false},
            {"view", "heatmap|dendrogram|all|routing|experts|results|training|evaluation|runs",
             "what --screenshot renders (default all; training / evaluation after --run training / evaluation; "
             "runs: the project's runs, also listed on stderr)", false},
            {"train-dir", "DIR", "--view training: a finished or paused training run folder (its train_log.jsonl)", false},
            {"clusters", "K|FILE", "cut the dendrogram into K clusters; with --run conversion, a clusters.json", false},
            {"mining-dir", "DIR", "load a finished mining folder (mining.json) instead of running", false},
            {"save-mining", "DIR", "after --run mining, write the mining outputs into DIR", false},
            {"matrix", "normalized|raw|correlation", "the heatmap's matrix in the screenshot (default normalized)", false},
            {"size", "WxH", "screenshot size (default 1400x900)", false},
            {"model-dir", "DIR", "a converted folder: for --view routing|experts, and the source of --run export", false},
            {"compare-dir", "DIR",
             "--view routing|experts: a second run's model folder (converted or trained), traced on the same text / "
             "measured on the same domains, shown under the first (experts: with the change b − a)",
             false},
            {"compare-layer", "L",
             "--compare-dir: the MoE layer shown for the second model, its own (experts: -1 = the mean; default: as --layer)",
             false},
            {"text", "TEXT", "the text of --view routing", false},
            {"layer", "L", "MoE layer shown by --view routing|experts (experts: -1 = the mean over layers)", false},
            {"csv", "FILE", "also write the data of --view routing|experts as CSV", false},
            {"results", "DIR",
             "--view results: a `den2moe eval --out DIR` folder, or result files of the Python mteb package (repeat for more runs)",
             false},
            {"baseline", "N|LABEL", "--view results: deltas against the N-th --results (1-based) or the run so labelled",
             false},
            {"types", "T,T", "--view results: only these task types (the means follow)", false},
            {"sort", "KEY[:asc]", "--view results: sort the runs by this column (Mean(Task), a task, run), descending",
             false},
            {"deltas", "", "--view results: cells show the deltas to the baseline", true},
            {"table", "FILE", "--view results: write the table as .csv, .md or .tex (LaTeX booktabs); repeatable", false},
            {"chart", "FILE", "--view results: write the Mean(TaskType) bar chart as .png, .svg or .pdf; repeatable", false},
            {"version", "", "the version", true}};
}

std::vector<OptionInfo> studioOptionsFor(const std::string& run) {
    return frontend::join_options({studioOptions(), stepOptions(run), frontend::common_options()});
}

frontend::Args parseStudioArgs(int argc, char** argv) {
    std::set<std::string> switches = frontend::switches_of(studioOptionsFor({}));
    for (const std::string& step : kSteps) {
        for (const std::string& s : frontend::switches_of(stepOptions(step))) switches.insert(s);
    }
    return frontend::Args(argc, argv, 1, switches);
}

std::string studioHelpText() {
    std::string h =
        "den2moe-studio — Den2MoE Studio: explore domain affinity (mining), edit domain clusters, convert dense\n"
        "models into MoE, look at the routing and export to Hugging Face.\n\n"
        "usage:\n"
        "  den2moe-studio [--project P]        the window (on P, else the last project, else the demo)\n"
        "  den2moe-studio --project P --run mining [mining options] [--save-mining DIR] [--screenshot out.png]\n"
        "  den2moe-studio --project P --run conversion [conversion options] [--view routing|experts ...]\n"
        "  den2moe-studio --run export --model-dir DIR --out DIR [export options] [--screenshot dialog.png]\n"
        "  den2moe-studio --model-dir DIR --view routing --text TEXT --screenshot out.png\n"
        "  den2moe-studio --model-dir A --compare-dir B [--layer L] [--compare-layer L] --view routing --text TEXT\n"
        "                 --screenshot r.png            two runs' routing, each at its own layer\n"
        "  den2moe-studio --project P --model-dir A --compare-dir B --view experts --screenshot l.png [--csv l.csv]\n"
        "                 two runs' expert load on the project's domains and its change b - a\n"
        "  den2moe-studio --view results --results DIR [--results DIR ...] [--baseline N] --screenshot t.png\n"
        "                 [--table t.md|t.tex|t.csv]   MTEB result tables of `den2moe eval` folders\n"
        "  den2moe-studio --project P --run training --model-dir MOE --stage router --out DIR [train options]\n"
        "                 [--screenshot t.png]         the Training step (PNG: the tab; SVG/PDF: the curves)\n"
        "  den2moe-studio --view training --train-dir DIR --screenshot t.png   curves of a finished run\n"
        "  den2moe-studio --project P --run evaluation [--model-dir M] [eval options] [--screenshot e.png]\n"
        "  den2moe-studio --view evaluation --results DIR --screenshot e.png   one evaluation run's table\n"
        "A step's options mean what they mean for `den2moe mine / convert / export`.\n\n"
        "options:\n";
    h += frontend::options_help(frontend::join_options({studioOptions(), frontend::common_options()}));
    for (const std::string& step : {std::string("mining"), std::string("conversion"), std::string("export"),
                                    std::string("training"), std::string("evaluation")}) {
        h += "\n--run " + step + ":\n" + frontend::options_help(stepOptions(step));
    }
    h += "\nExit codes: 0 ok, 1 user error, 2 internal error, 130 cancelled.\n";
    return h;
}

StudioOptions studioOptionsFrom(const frontend::Args& a) {
    StudioOptions o;
    o.help = a.help();
    o.version = a.has("version");
    if (o.help || o.version) {
        return o;
    }
    D2M_CHECK(a.positionals().empty(), InvalidInput, "den2moe-studio takes no positional argument, got '",
              a.positionals().front(), "'", Hint{"the project is --project P; see --help"});
    const std::string run = a.get("run");
    D2M_CHECK(!a.has("run") || kSteps.count(run), InvalidInput, "--run: unknown step '", run, "'",
              Hint{"available: mining, conversion, export, training, evaluation"});
    a.allow(frontend::flags_of(studioOptionsFor(run)));
    auto text = [&](const char* name) { return QString::fromStdString(a.get(name)); };
    o.project = text("project");
    o.run = QString::fromStdString(run);
    o.screenshot = text("screenshot");
    if (a.has("view")) o.view = text("view");
    o.miningDir = text("mining-dir");
    o.saveMining = text("save-mining");
    o.matrix = text("matrix");
    o.modelDir = text("model-dir");
    o.compareDir = text("compare-dir");
    if (a.has("compare-layer")) {
        o.compareLayer = static_cast<int>(a.get_int("compare-layer", 0));
        o.compareLayerSet = true;
        D2M_CHECK(o.compareLayer >= -1, InvalidInput, "--compare-layer needs an integer >= -1, got ", o.compareLayer);
    }
    o.text = text("text");
    o.csv = text("csv");
    if (a.has("clusters")) {
        const std::string v = a.get("clusters");
        if (isCount(v)) {
            o.clustersK = static_cast<int>(a.get_int("clusters", 0));
            D2M_CHECK(o.clustersK >= 1, InvalidInput, "--clusters K needs K >= 1, got ", v);
        } else {
            D2M_CHECK(run == "conversion", InvalidInput, "--clusters ", v, ": a clusters file is read by --run conversion",
                      Hint{"give --clusters K to cut the dendrogram into K clusters"});
        }
    }
    if (a.has("layer")) {
        o.layer = static_cast<int>(a.get_int("layer", 0));
        o.layerSet = true;
        D2M_CHECK(o.layer >= -1, InvalidInput, "--layer needs an integer >= -1, got ", o.layer);
    }
    if (a.has("size")) {
        const QStringList wh = text("size").split(QLatin1Char('x'));
        const int w = wh.value(0).toInt();
        const int h = wh.value(1).toInt();
        D2M_CHECK(wh.size() == 2 && w >= 200 && h >= 150, InvalidInput, "--size needs WxH (at least 200x150), got '",
                  a.get("size"), "'");
        o.size = QSize(w, h);
    }
    if (run == "export") {
        D2M_CHECK(!o.modelDir.isEmpty() && (a.has("out") || a.has("lint-only")), InvalidInput,
                  "--run export needs --model-dir DIR and --out DIR (or --lint-only)");
    }
    for (const std::string& r : a.get_all("results")) o.results << QString::fromStdString(r);
    for (const std::string& t : a.get_all("table")) o.tables << QString::fromStdString(t);
    for (const std::string& t : a.get_all("chart")) o.charts << QString::fromStdString(t);
    o.baseline = text("baseline");
    o.sort = text("sort");
    o.deltas = a.has("deltas");
    if (a.has("types")) o.types = text("types").split(QLatin1Char(','), Qt::SkipEmptyParts);
    o.trainDir = text("train-dir");
    if (!o.trainDir.isEmpty() && !a.has("view")) o.view = QStringLiteral("training");
    if ((!o.results.isEmpty() || !o.tables.isEmpty() || !o.charts.isEmpty()) && !a.has("view"))
        o.view = QStringLiteral("results");
    if (run == "training" && !a.has("view")) o.view = QStringLiteral("training");
    if (run == "evaluation" && !a.has("view")) o.view = QStringLiteral("evaluation");
    const bool trainingView = o.view == QLatin1String("training");
    const bool evaluationView = o.view == QLatin1String("evaluation");
    D2M_CHECK(o.trainDir.isEmpty() || trainingView, InvalidInput, "--train-dir belongs to --view training");
    D2M_CHECK(!trainingView || run == "training" || !o.trainDir.isEmpty(), InvalidInput,
              "--view training needs --train-dir DIR (a finished run) or --run training",
              Hint{"a folder written by `den2moe train --out DIR` or the app's Training step"});
    D2M_CHECK(!trainingView || run != "training" || o.trainDir.isEmpty(), InvalidInput,
              "--run training shows its own run; --train-dir is for a finished one");
    D2M_CHECK(run != "training" || (!o.modelDir.isEmpty() && a.has("out") && a.has("stage")), InvalidInput,
              "--run training needs --model-dir MOE_DIR, --stage router|experts|extra and --out DIR");
    D2M_CHECK(!evaluationView || run == "evaluation" || o.results.size() == 1, InvalidInput,
              "--view evaluation needs --run evaluation or one --results DIR (a `den2moe eval --out DIR` folder)");
    D2M_CHECK(!evaluationView || run != "evaluation" || o.results.isEmpty(), InvalidInput,
              "--run evaluation shows its own run; --results is for a finished one");
    D2M_CHECK(run != "training" || trainingView, InvalidInput, "--run training shows --view training");
    D2M_CHECK(run != "evaluation" || evaluationView, InvalidInput, "--run evaluation shows --view evaluation");
    const bool resultsView = o.view == QLatin1String("results");
    D2M_CHECK(!resultsView || !o.results.isEmpty(), InvalidInput, "--view results needs --results DIR",
              Hint{"a folder written by `den2moe eval --out DIR`; repeat --results for more runs"});
    D2M_CHECK(resultsView || (((evaluationView && run.empty()) || o.results.isEmpty()) && o.tables.isEmpty() &&
                              o.charts.isEmpty() &&
                              o.baseline.isEmpty() && o.types.isEmpty() && o.sort.isEmpty() && !o.deltas),
              InvalidInput, "--results, --table, --chart, --baseline, --types, --sort and --deltas belong to --view results");
    D2M_CHECK(!resultsView || run.empty(), InvalidInput, "--view results reads finished evaluations; it takes no --run");
    for (const QString& t : o.tables) {
        const QString suffix = QFileInfo(t).suffix().toLower();
        D2M_CHECK(suffix == QLatin1String("csv") || suffix == QLatin1String("md") || suffix == QLatin1String("tex"),
                  InvalidInput, "--table ", t.toStdString(), ": the suffix must be .csv, .md or .tex");
    }
    for (const QString& c : o.charts) {
        const QString suffix = QFileInfo(c).suffix().toLower();
        D2M_CHECK(suffix == QLatin1String("png") || suffix == QLatin1String("svg") || suffix == QLatin1String("pdf"),
                  InvalidInput, "--chart ", c.toStdString(), ": the suffix must be .png, .svg or .pdf");
    }
    D2M_CHECK(o.sort.isEmpty() || !o.sort.endsWith(QLatin1Char(':')), InvalidInput, "--sort KEY[:asc|:desc], got '",
              a.get("sort"), "'");
    const bool moeView = o.view == QLatin1String("routing") || o.view == QLatin1String("experts");
    D2M_CHECK(resultsView || moeView || trainingView || evaluationView || o.view == QLatin1String("all") ||
                  o.view == QLatin1String("heatmap") || o.view == QLatin1String("dendrogram") ||
                  o.view == QLatin1String("runs"),
              InvalidInput, "--view must be heatmap, dendrogram, all, routing, experts, results, training, evaluation or runs, got '",
              a.get("view"), "'");
    D2M_CHECK(!evaluationView || o.screenshot.isEmpty() || o.screenshot.endsWith(QLatin1String(".png"), Qt::CaseInsensitive),
              InvalidInput, "--view evaluation writes PNG only");
    D2M_CHECK(o.view != QLatin1String("runs") || (run.empty() && (o.screenshot.isEmpty() ||
                                                                 o.screenshot.endsWith(QLatin1String(".png"), Qt::CaseInsensitive))),
              InvalidInput, "--view runs lists the project's finished runs: no --run, PNG only");
    D2M_CHECK(o.compareDir.isEmpty() || moeView, InvalidInput, "--compare-dir needs --view routing or --view experts");
    D2M_CHECK(!o.compareLayerSet || !o.compareDir.isEmpty(), InvalidInput, "--compare-layer needs --compare-dir DIR");
    D2M_CHECK(o.view != QLatin1String("routing") || !o.text.isEmpty(), InvalidInput, "--view routing needs --text TEXT");
    D2M_CHECK(!moeView || run == "conversion" || !o.modelDir.isEmpty(), InvalidInput, "--view ", a.get("view"),
              " needs --run conversion or --model-dir DIR");
    D2M_CHECK(o.matrix.isEmpty() || o.matrix == QLatin1String("raw") || o.matrix == QLatin1String("normalized") ||
                  o.matrix == QLatin1String("correlation"),
              InvalidInput, "--matrix must be raw, normalized or correlation, got '", a.get("matrix"), "'");
    D2M_CHECK(run != "mining" || o.miningDir.isEmpty(), InvalidInput, "--run mining and --mining-dir exclude each other");
    D2M_CHECK(o.view != QLatin1String("all") || o.screenshot.isEmpty() ||
                  o.screenshot.endsWith(QLatin1String(".png"), Qt::CaseInsensitive),
              InvalidInput, "--view all writes PNG only", Hint{"use --view heatmap or dendrogram for SVG/PDF"});
    return o;
}

bool renderMiningView(const MiningResultPtr& result, const ClusterState& state, int k, const QString& view,
                      const QString& matrix, const QString& path, const QSize& size, QString* error) {
    if (!result) {
        *error = QStringLiteral("no mining result to render");
        return false;
    }
    AffinityView shot;
    shot.setAttribute(Qt::WA_DontShowOnScreen, true);
    shot.setData(matrixViewData(*result), dendrogramData(*result), k);
    if (!state.assignment.isEmpty()) {
        shot.setClusterState(state);
    }
    shot.heatmap()->setMatrixKind(matrixKindFrom(matrix));
    shot.resize(size);
    shot.show();
    for (int i = 0; i < 3; ++i) {
        QCoreApplication::processEvents();
    }
    shot.syncAlignment();
    QCoreApplication::processEvents();
    const QFileInfo out(path);
    if (!out.absoluteDir().exists() && !QDir().mkpath(out.absolutePath())) {
        *error = QStringLiteral("cannot create the folder %1").arg(out.absolutePath());
        return false;
    }
    bool ok = false;
    if (view == QLatin1String("heatmap")) {
        ok = shot.heatmap()->exportTo(path, size.width(), size.height(), error);
    } else if (view == QLatin1String("dendrogram")) {
        ok = shot.exportDendrogram(path, size.width() / 2, size.height(), error);
    } else {
        const QImage img = shot.renderPlots();
        ok = !img.isNull() && img.save(path);
        if (!ok) {
            *error = QStringLiteral("cannot write %1").arg(path);
        }
    }
    shot.hide();
    return ok;
}

namespace {

/// Writes `line` (and a newline) to `err` at once.
void say(QTextStream& err, const QString& line) {
    err << line << "\n";
    err.flush();
}

/// Waits for `done` (0), jobCancelled (130) or jobFailed (1, the message on err). Progress is printed
/// by the runner's observer (the CLI's printer) from the job's own thread.
template <typename Signal>
int waitForJob(MainWindow& w, Signal done, const QString& what, QTextStream& err) {
    QEventLoop loop;
    QObject::connect(&w, done, &loop, [&] { loop.exit(frontend::kOk); });
    QObject::connect(&w, &MainWindow::jobCancelled, &loop, [&] { loop.exit(frontend::kCancelled); });
    QObject::connect(&w, &MainWindow::jobFailed, &loop, [&](const QString& message, const QString& hint) {
        say(err, QStringLiteral("error: %1 failed: %2").arg(what, message));
        if (!hint.isEmpty()) say(err, QStringLiteral("hint: ") + hint);
        loop.exit(frontend::kUserError);
    });
    // Ctrl-C stops the job at its next check, as in the CLI
    den2moe::set_interrupt_flag(w.jobRunner()->cancelToken().raw_flag());
    const int code = loop.exec();
    den2moe::set_interrupt_flag(nullptr);
    if (code == frontend::kCancelled) say(err, QStringLiteral("cancelled"));
    return code;
}

int renderMoeView(MainWindow& w, const StudioOptions& o, QTextStream& err) {
    QString error;
    const int width = o.size.width();
    if (o.view == QLatin1String("routing")) {
        RoutingView* v = w.routingView();
        if (!v->model()) {
            err << "error: no converted model to route with (the recipe gives a dense model?)\n";
            return 1;
        }
        v->resize(o.size);
        if (!o.compareDir.isEmpty() && !v->loadCompareModel(o.compareDir, &error)) {
            err << "error: --compare-dir: " << error << "\n";
            return 1;
        }
        const bool comparing = v->compareModel() != nullptr;
        QEventLoop loop;
        auto doneIfBoth = [&] {
            if (v->traceText() == o.text && (!comparing || v->compareTraceText() == o.text)) loop.exit(0);
        };
        QObject::connect(v, &RoutingView::traceUpdated, &loop, doneIfBoth);
        QObject::connect(v, &RoutingView::compareTraceUpdated, &loop, doneIfBoth);
        QObject::connect(v, &RoutingView::traceFailed, &loop, [&](const QString& m) {
            err << "error: routing failed: " << m << "\n";
            loop.exit(1);
        });
        v->setText(o.text);
        if (loop.exec() != 0) return 1;
        if (o.layerSet && o.layer >= 0) {
            if (o.layer >= v->layerCombo()->count()) {
                err << "error: --layer " << o.layer << ": the model has " << v->layerCombo()->count() << " MoE layers\n";
                return 1;
            }
            v->setSelectedLayer(o.layer);
        }
        if (comparing && (o.compareLayerSet || (o.layerSet && o.layer >= 0))) {
            const int cl = o.compareLayerSet ? o.compareLayer : o.layer;
            const bool fits = cl >= 0 && cl < v->compareLayerCombo()->count();
            if (!fits && o.compareLayerSet) {  // --layer alone is only a default for the second model
                err << "error: --compare-layer " << cl << ": the compared model has " << v->compareLayerCombo()->count()
                    << " MoE layers\n";
                return 1;
            }
            if (fits) v->setSelectedCompareLayer(cl);
        }
        if (comparing && !v->comparisonNote().isEmpty()) err << "note: " << v->comparisonNote() << "\n";
        if (!o.screenshot.isEmpty() && !v->exportImage(o.screenshot, width, &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
        if (!o.csv.isEmpty() && !v->exportCsv(o.csv, &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
    } else {
        ExpertLoadView* v = w.expertLoadView();
        if (v->load().domains.empty()) {
            err << "error: no expert load to show\n";
            return 1;
        }
        v->resize(o.size);
        if (o.layerSet) {
            if (o.layer + 1 >= v->layerCombo()->count()) {
                err << "error: --layer " << o.layer << " out of range\n";
                return 1;
            }
            v->layerCombo()->setCurrentIndex(o.layer + 1);
        }
        if (v->isComparing() && (o.compareLayerSet || o.layerSet)) {
            const int cl = o.compareLayerSet ? o.compareLayer : o.layer;
            const bool fits = cl + 1 < v->compareLayerCombo()->count();
            if (!fits && o.compareLayerSet) {
                err << "error: --compare-layer " << cl << ": the compared model has " << v->compareLayerCombo()->count() - 1
                    << " MoE layers\n";
                return 1;
            }
            if (fits) v->compareLayerCombo()->setCurrentIndex(cl + 1);
        }
        if (v->isComparing()) {
            if (!v->comparison()) {
                err << "error: expert-load comparison: " << v->comparisonError() << "\n";
                return 1;
            }
            const den2moe::ExpertLoadComparison& c = *v->comparison();
            if (!v->comparisonNote().isEmpty()) err << "note: " << v->comparisonNote() << "\n";
            for (size_t d = 0; d < c.domains.size(); ++d) {
                err << QStringLiteral("  %1 TV %2  balance %3 -> %4")
                           .arg(QString::fromStdString(c.domains[d]), -16)
                           .arg(std::isfinite(c.tv[d]) ? QString::number(c.tv[d], 'f', 3) : QStringLiteral("-"))
                           .arg(c.balance_a[d], 0, 'f', 3)
                           .arg(c.balance_b[d], 0, 'f', 3)
                    << "\n";
            }
        }
        if (!o.screenshot.isEmpty() && !v->exportImage(o.screenshot, width, &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
        if (!o.csv.isEmpty() && !v->exportCsv(o.csv, &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
    }
    if (!o.screenshot.isEmpty()) err << "wrote " << o.screenshot << "\n";
    if (!o.csv.isEmpty()) err << "wrote " << o.csv << "\n";
    return 0;
}

int renderResultsView(MainWindow& w, const StudioOptions& o, QTextStream& err) {
    ResultsView* v = w.resultsView();
    QString error;
    if (!v->addFolders(o.results, &error)) D2M_FAIL(InvalidInput, "--results: ", error.toStdString());
    if (!o.types.isEmpty()) {
        const QStringList known = resultTypes(v->model()->resultsData());
        for (const QString& t : o.types) {
            D2M_CHECK(known.contains(t), InvalidInput, "--types: no task of type '", t.toStdString(), "' in the results",
                      Hint{"types here: " + known.join(QStringLiteral(", ")).toStdString()});
        }
        v->setVisibleTypes(o.types);
    }
    if (!o.baseline.isEmpty()) {
        const int n = isCount(o.baseline.toStdString()) ? o.baseline.toInt() : 0;
        if (!v->setBaselineLabel(o.baseline)) {
            D2M_CHECK(n >= 1 && n <= v->model()->rowCount(), InvalidInput, "--baseline ", o.baseline.toStdString(),
                      ": neither a run's label nor a number 1..", v->model()->rowCount());
            v->setBaseline(n - 1);
        }
    }
    v->setShowDeltas(o.deltas);
    if (!o.sort.isEmpty()) {
        QString key = o.sort;
        Qt::SortOrder order = Qt::DescendingOrder;
        if (key.endsWith(QLatin1String(":asc"))) {
            key.chop(4);
            order = Qt::AscendingOrder;
        } else if (key.endsWith(QLatin1String(":desc"))) {
            key.chop(5);
        }
        D2M_CHECK(v->sortByKey(key, order), InvalidInput, "--sort: no column '", key.toStdString(), "'",
                  Hint{"a task name, Mean(Task), Mean(TaskType), Mean(<type>) or run"});
    }
    for (const QString& t : o.tables) {
        if (!v->exportTo(t, &error)) D2M_FAIL(Io, error.toStdString());
        say(err, QStringLiteral("wrote ") + t);
    }
    for (const QString& c : o.charts) {
        if (!v->exportChart(c, o.size.width(), std::max(300, o.size.height() / 2), &error)) D2M_FAIL(Io, error.toStdString());
        say(err, QStringLiteral("wrote ") + c);
    }
    if (!o.screenshot.isEmpty()) {
        // the tab drawn on its own at --size (the window stays hidden), then given back to the window
        const int tab = w.tabs()->indexOf(v);
        const QString title = w.tabs()->tabText(tab);
        v->setParent(nullptr);
        v->setAttribute(Qt::WA_DontShowOnScreen, true);
        v->resize(o.size);
        v->show();
        for (int i = 0; i < 3; ++i) QCoreApplication::processEvents();
        const bool ok = v->exportTo(o.screenshot, &error);
        v->hide();
        w.tabs()->insertTab(tab, v, title);
        if (!ok) D2M_FAIL(Io, error.toStdString());
        say(err, QStringLiteral("wrote ") + o.screenshot);
    }
    return frontend::kOk;
}

/// Draws the tab `v` of the window on its own at `size` into `path` (PNG), then gives it back.
void grabTab(MainWindow& w, QWidget* v, const QSize& size, const QString& path) {
    const int tab = w.tabs()->indexOf(v);
    const QString title = w.tabs()->tabText(tab);
    v->setParent(nullptr);
    v->setAttribute(Qt::WA_DontShowOnScreen, true);
    v->resize(size);
    v->show();
    for (int i = 0; i < 3; ++i) QCoreApplication::processEvents();
    const bool ok = v->grab().save(path);
    v->hide();
    w.tabs()->insertTab(tab, v, title);
    D2M_CHECK(ok, Io, "cannot write ", path.toStdString());
}

/// The Training tab (PNG) or its curves alone (SVG / PDF).
void saveTraining(MainWindow& w, const StudioOptions& o, QTextStream& err) {
    if (o.screenshot.isEmpty()) return;
    TrainingPanel* panel = w.trainingPanel();
    if (o.screenshot.endsWith(QLatin1String(".png"), Qt::CaseInsensitive)) {
        grabTab(w, panel, o.size, o.screenshot);
    } else {
        QString error;
        if (!panel->curves()->exportImage(o.screenshot, o.size.width(), o.size.height(), &error)) {
            D2M_FAIL(Io, error.toStdString());
        }
    }
    say(err, QStringLiteral("wrote ") + o.screenshot);
}

int renderTrainingRun(MainWindow& w, const StudioOptions& o, QTextStream& err) {
    QString error;
    if (!w.trainingPanel()->loadRun(o.trainDir, &error)) D2M_FAIL(InvalidInput, "--train-dir: ", error.toStdString());
    saveTraining(w, o, err);
    return frontend::kOk;
}

int renderEvaluationRun(MainWindow& w, const StudioOptions& o, QTextStream& err) {
    den2moe::EvalSummary s;
    try {
        s = den2moe::read_summary(o.results.front().toStdString());
    } catch (const den2moe::Error&) {
        throw;
    } catch (const std::exception& e) {
        D2M_FAIL(InvalidInput, "--results: ", e.what());
    }
    EvaluationPanel* panel = w.evaluationPanel();
    panel->setModelPath(QString::fromStdString(s.model_path));
    panel->setOutDir(o.results.front());
    try {
        den2moe::TaskEvalSettings settings;
        den2moe::task_eval_schema().read_json(settings, s.settings, "summary.json: settings.");
        panel->setSettings(settings);
    } catch (const std::exception&) {
        // a summary from another version: the table alone
    }
    int64_t cached = 0;
    for (const den2moe::TaskScores& t : s.tasks) cached += t.cached ? 1 : 0;
    panel->setResult(s, o.results.front(), cached);
    if (!o.screenshot.isEmpty()) {
        grabTab(w, panel, o.size, o.screenshot);
        say(err, QStringLiteral("wrote ") + o.screenshot);
    }
    return frontend::kOk;
}

int runHeadlessTraining(MainWindow& w, const StudioOptions& o, const frontend::Args& a, QTextStream& err) {
    TrainingPanel* panel = w.trainingPanel();
    panel->setModelDir(o.modelDir);
    QString error;
    if (!panel->setStage(QString::fromStdString(a.get("stage")), &error)) D2M_FAIL(InvalidInput, "--stage: ", error.toStdString());
    // the flags over the stage's defaults and the project's section, as `den2moe train` applies them
    den2moe::TrainSettings s = panel->settings();
    frontend::apply_schema(den2moe::train_schema(), s, a);
    for (const den2moe::FieldInfo& f : den2moe::train_schema().fields()) {
        const std::string v = den2moe::train_schema().get_text(s, f.key);
        if (v != den2moe::train_schema().get_text(panel->settings(), f.key)) {
            panel->setSetting(QString::fromStdString(f.key), QString::fromStdString(v));
        }
    }
    panel->setOutDir(QString::fromStdString(a.get("out")));
    if (!w.startTraining(a.has("resume"), &error)) D2M_FAIL(InvalidInput, "the training cannot start: ", error.toStdString());
    const int code = waitForJob(w, &MainWindow::trainingFinished, QStringLiteral("training"), err);
    if (code == frontend::kCancelled) saveTraining(w, o, err);  // the curves up to the pause
    if (code != frontend::kOk) return code;
    const TrainOutputPtr r = w.trainingResult();
    say(err, QStringLiteral("trained (%1 stage, %2 steps) into %3")
                 .arg(QString::fromStdString(r->stage))
                 .arg(r->steps)
                 .arg(QString::fromStdString(r->out_dir)));
    saveTraining(w, o, err);
    return frontend::kOk;
}

int runHeadlessEvaluation(MainWindow& w, const StudioOptions& o, const frontend::Args& a, QTextStream& err) {
    EvaluationPanel* panel = w.evaluationPanel();
    if (!o.modelDir.isEmpty()) panel->setModelPath(o.modelDir);
    den2moe::TaskEvalSettings s = panel->settings();
    frontend::apply_schema(den2moe::task_eval_schema(), s, a);
    panel->setSettings(s);
    if (a.has("out")) panel->setOutDir(QString::fromStdString(a.get("out")));
    QString error;
    if (!w.startEvaluation(&error)) D2M_FAIL(InvalidInput, "the evaluation cannot start: ", error.toStdString());
    const int code = waitForJob(w, &MainWindow::evaluationFinished, QStringLiteral("evaluation"), err);
    if (code != frontend::kOk) return code;
    const EvalRunPtr r = w.evaluationResult();
    say(err, QStringLiteral("evaluated %1 tasks (%2 from the cache) into %3")
                 .arg(r->run.summary.tasks.size())
                 .arg(r->run.cache_hits)
                 .arg(QString::fromStdString(r->out_dir)));
    if (!o.screenshot.isEmpty()) {
        grabTab(w, panel, o.size, o.screenshot);
        say(err, QStringLiteral("wrote ") + o.screenshot);
    }
    return frontend::kOk;
}

/// --view runs: the project's runs on stderr (one line each: label, kind, made from, lineage, results)
/// and the Runs tab as PNG, the newest model run selected so its provenance shows.
int renderRunsView(MainWindow& w, const StudioOptions& o, QTextStream& err) {
    RunsPanel* panel = w.runsPanel();
    panel->refresh();
    const auto& runs = panel->runs();
    for (const auto& r : runs) say(err, runCells(r, runs).mid(0, 5).join(QStringLiteral(" | ")));
    say(err, QStringLiteral("%1 runs").arg(runs.size()));
    for (auto it = runs.rbegin(); it != runs.rend(); ++it)
        if (it->is_model()) {
            panel->selectPaths({QString::fromStdString(it->path)});
            break;
        }
    if (!o.screenshot.isEmpty()) {
        grabTab(w, panel, o.size, o.screenshot);
        say(err, QStringLiteral("wrote ") + o.screenshot);
    }
    return frontend::kOk;
}

int runHeadlessExport(MainWindow& w, const StudioOptions& o, const frontend::Args& a, QTextStream& err) {
    den2moe::ExportSettings base;  // the project's export settings when one is given, else the defaults
    QString error;
    if (!o.project.isEmpty()) {
        if (!w.openProject(o.project, &error)) D2M_FAIL(InvalidInput, error.toStdString());
        base = w.project().hf_export;
    }
    ExportDialog* d = w.exportDialog();
    d->setSettings(frontend::export_settings(base, a));
    d->setSource(o.modelDir);
    if (a.has("out")) d->setOut(QString::fromStdString(a.get("out")));
    ExportRequest r = d->request(a.has("lint-only"));
    r.tokenizer = QString::fromStdString(a.get("tokenizer"));
    if (!w.startExport(r, &error)) D2M_FAIL(InvalidInput, "the export cannot start: ", error.toStdString());
    const int code = waitForJob(w, &MainWindow::exportFinished, QStringLiteral("export"), err);
    if (code != frontend::kOk) return code;
    const HfExportOutputPtr x = w.exportResult();
    say(err, d->reportText());
    say(err, QString(d->summaryText()).remove(QRegularExpression(QStringLiteral("<[^>]*>"))));
    if (!o.screenshot.isEmpty()) {
        d->resize(std::min(o.size.width(), 1100), 680);
        d->show();
        QCoreApplication::processEvents();
        if (!d->grab().save(o.screenshot)) D2M_FAIL(Io, "cannot write ", o.screenshot.toStdString());
        say(err, QStringLiteral("wrote ") + o.screenshot);
    }
    return x && x->errors > 0 ? frontend::kUserError : frontend::kOk;
}

}  // namespace

int runHeadless(const StudioOptions& o, const frontend::Args& a, QTextStream& err) {
    // The printer outlives the window: the runner's worker may report until the window is gone.
    frontend::ProgressPrinter printer(stderr, o.run.toStdString());
    MainWindow w;
    w.setInteractive(false);
    if (!a.has("quiet")) w.jobRunner()->setProgressObserver(printer.sink());
    QString error;
    if (o.run == QLatin1String("export")) return runHeadlessExport(w, o, a, err);
    if (o.view == QLatin1String("results")) return renderResultsView(w, o, err);  // needs no project
    if (o.view == QLatin1String("training") && o.run.isEmpty()) return renderTrainingRun(w, o, err);
    if (o.view == QLatin1String("evaluation") && o.run.isEmpty()) return renderEvaluationRun(w, o, err);
    // The routing view of a converted folder needs nothing but the folder (its tokenizer is beside it):
    // no project is opened, so an installed binary works wherever it was built. Everything else reads
    // the project given, else the demo project when one is found beside the binary.
    const bool folderOnly = o.project.isEmpty() && o.run.isEmpty() && !o.modelDir.isEmpty() &&
                            o.view == QLatin1String("routing") && o.miningDir.isEmpty() && o.clustersK <= 0;
    const QString projectPath = !o.project.isEmpty() ? o.project : folderOnly ? QString() : MainWindow::findDemoProject();
    D2M_CHECK(folderOnly || !projectPath.isEmpty(), InvalidInput,
              "no --project given and the demo project was not found beside the program",
              Hint{"give --project FILE (the demo: projects/demo.den2moe.json of the source tree)"});
    // The project as its file says: the window also cuts the project's cached mining into clusters,
    // which `den2moe convert` would not see. Only --mining-dir / --clusters K ask for the window's cut.
    den2moe::Project fromFile;
    if (!projectPath.isEmpty()) {
        if (!w.openProject(projectPath, &error)) D2M_FAIL(InvalidInput, error.toStdString());
        fromFile = den2moe::load_project(QFileInfo(projectPath).absoluteFilePath().toStdString());
    }
    if (o.clustersK > 0) {  // the cut at K, not the project's saved clusters
        den2moe::Project p = w.project();
        p.cluster.k = o.clustersK;
        p.cluster.cut_height.reset();
        p.clusters = {};
        w.setProject(p, false);
    }

    if (!o.miningDir.isEmpty()) {
        if (!w.loadMiningDir(o.miningDir, &error)) D2M_FAIL(InvalidInput, error.toStdString());
    } else if (o.run == QLatin1String("mining")) {
        // the flags onto the project's settings, validated as `den2moe mine` does
        const frontend::MiningJob job = frontend::mining_job(w.project(), a);
        w.setProject(job.project, false);
        if (!w.startMining(job.options, &error)) D2M_FAIL(InvalidInput, "the project is not ready to run: ", error.toStdString());
        const int code = waitForJob(w, &MainWindow::miningFinished, QStringLiteral("mining"), err);
        if (code != frontend::kOk) return code;
        if (!o.saveMining.isEmpty()) {
            den2moe::write_mining_outputs(*w.miningResult(), o.saveMining.toStdString(), w.project().cluster.k);
            say(err, QStringLiteral("wrote %1/mining.json").arg(o.saveMining));
        }
    }
    if (o.clustersK > 0 && w.miningResult()) {
        w.cutAtK(o.clustersK);
    }
    if (o.view == QLatin1String("runs")) return renderRunsView(w, o, err);
    if (o.run == QLatin1String("training")) return runHeadlessTraining(w, o, a, err);
    if (o.run == QLatin1String("evaluation")) return runHeadlessEvaluation(w, o, a, err);
    const bool moeView = o.view == QLatin1String("routing") || o.view == QLatin1String("experts");
    if (o.run == QLatin1String("conversion")) {
        // the flags onto the project's conversion settings, validated as `den2moe convert` does
        const bool windowCut = !o.miningDir.isEmpty() || o.clustersK > 0;
        const frontend::ConversionJob job = frontend::conversion_job(windowCut ? w.project() : fromFile, a);
        if (!w.startConversion(job.project, job.clusters, job.settings, job.out_dir, &error)) {
            D2M_FAIL(InvalidInput, "the conversion cannot start: ", error.toStdString());
        }
        const int code = waitForJob(w, &MainWindow::conversionFinished, QStringLiteral("conversion"), err);
        if (code != frontend::kOk) return code;
        const ConversionOutputPtr r = w.conversionResult();
        say(err, QStringLiteral("converted (%1) into %2")
                     .arg(QString::fromLatin1(den2moe::recipe_name(r->settings.recipe)), QString::fromStdString(r->dir)));
        for (const auto& row : r->ppl) {
            say(err, QStringLiteral("  %1 dense %2  converted %3")
                         .arg(QString::fromStdString(row.domain), -18)
                         .arg(row.dense, 9, 'f', 3)
                         .arg(row.converted, 9, 'f', 3));
        }
    } else if (!o.modelDir.isEmpty()) {
        if (!w.loadConvertedModel(o.modelDir, &error)) D2M_FAIL(InvalidInput, error.toStdString());
        if (o.view == QLatin1String("experts")) {
            const auto model = w.routingView()->model();
            w.expertLoadView()->setLoad(bridge::expertLoad(w.project(), *model), &bridge::moeModelInfo(*model));
        }
    }
    if (o.view == QLatin1String("experts") && !o.compareDir.isEmpty()) {
        // the second run measured on the same domains and windows (the engine's project_expert_load)
        const auto other = bridge::loadMoeModel(o.compareDir.toStdString());
        w.expertLoadView()->setCompareLoad(bridge::expertLoad(w.project(), *other), &bridge::moeModelInfo(*other));
    }
    if (moeView) {
        return renderMoeView(w, o, err);
    }
    if (!o.screenshot.isEmpty() && o.run != QLatin1String("conversion")) {
        D2M_CHECK(w.miningResult() != nullptr, InvalidInput, "nothing to render",
                  Hint{"give --run mining or --mining-dir DIR (or run the mining once)"});
        const int k = o.clustersK > 0 ? o.clustersK : int(w.project().cluster.k);
        if (!renderMiningView(w.miningResult(), w.clusterModel()->state(), k, o.view, o.matrix, o.screenshot, o.size,
                              &error)) {
            D2M_FAIL(Io, error.toStdString());
        }
        say(err, QStringLiteral("wrote ") + o.screenshot);
    }
    return frontend::kOk;
}

}  // namespace den2moe::ui
