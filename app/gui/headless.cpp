#include "headless.h"
#include "export_dialog.h"

#include "affinity_view.h"
#include "cluster_model.h"
#include "heatmap_view.h"
#include "main_window.h"
#include "task_panel.h"
#include "view_adapters.h"
#include "expert_load_view.h"
#include "routing_view.h"

#include <QComboBox>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "mining/mining.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QRegularExpression>
#include <QFileInfo>
#include <QTextStream>
#include <QTimer>

#include <cmath>

namespace den2moe::ui {

namespace {

void addOptions(QCommandLineParser& p) {
    p.setApplicationDescription(QStringLiteral(
        "Den2MoE Studio: explore domain affinity (mining), edit domain clusters, convert dense models to MoE.\n"
        "Without --run/--screenshot it opens the window (on --project P, else the last project, else the demo)."));
    p.addHelpOption();
    p.addVersionOption();
    p.addOption({QStringLiteral("project"), QStringLiteral("Project file to open."), QStringLiteral("P")});
    p.addOption({QStringLiteral("run"), QStringLiteral("Run a step headless: mining or conversion."), QStringLiteral("STEP")});
    p.addOption({QStringLiteral("screenshot"), QStringLiteral("Render the views to this image and exit."),
                 QStringLiteral("out.png")});
    p.addOption({QStringLiteral("view"),
                 QStringLiteral("What --screenshot renders: heatmap, dendrogram, all (default), routing or experts."),
                 QStringLiteral("VIEW"), QStringLiteral("all")});
    p.addOption({QStringLiteral("clusters"),
                 QStringLiteral("Cut the dendrogram into K clusters, or (a file) use the clusters of a clusters.json."),
                 QStringLiteral("K|FILE")});
    p.addOption({QStringLiteral("recipe"), QStringLiteral("--run conversion: dive (default), dive-random, random, upcycle, flap, den2moee."),
                 QStringLiteral("R")});
    p.addOption({QStringLiteral("router-init"), QStringLiteral("--run conversion: centroid (default) or random."),
                 QStringLiteral("I")});
    p.addOption({QStringLiteral("top-k"), QStringLiteral("--run conversion: experts per token (default 1; den2moee 2)."), QStringLiteral("K")});
    p.addOption({QStringLiteral("experts"), QStringLiteral("--run conversion: E for random / upcycle (default 8)."),
                 QStringLiteral("E")});
    p.addOption({QStringLiteral("ratio"), QStringLiteral("--run conversion: pruning ratio (default: the project's)."),
                 QStringLiteral("R")});
    p.addOption({QStringLiteral("out"), QStringLiteral("--run conversion: output folder (default <project cache>/experts/<recipe>)."),
                 QStringLiteral("DIR")});
    p.addOption({QStringLiteral("format"), QStringLiteral("--run export: mixtral (default) or qwen2moe."),
                 QStringLiteral("F")});
    p.addOption({QStringLiteral("lint-only"), QStringLiteral("--run export: check only, write nothing.")});
    p.addOption({QStringLiteral("model-dir"), QStringLiteral("A converted folder for --view routing|experts and --run export."),
                 QStringLiteral("DIR")});
    p.addOption({QStringLiteral("compare-dir"),
                 QStringLiteral("--view routing: a second converted folder, traced on the same text and shown under the first."),
                 QStringLiteral("DIR")});
    p.addOption({QStringLiteral("text"), QStringLiteral("The text of --view routing."), QStringLiteral("TEXT")});
    p.addOption({QStringLiteral("layer"), QStringLiteral("MoE layer shown by --view routing|experts (experts: -1 = mean)."),
                 QStringLiteral("L")});
    p.addOption({QStringLiteral("csv"), QStringLiteral("Also write the data of --view routing|experts as CSV."),
                 QStringLiteral("FILE")});
    p.addOption({QStringLiteral("mining-dir"),
                 QStringLiteral("Load a finished mining folder (mining.json) instead of running."), QStringLiteral("DIR")});
    p.addOption({QStringLiteral("save-mining"), QStringLiteral("After --run mining, write the mining outputs to DIR."),
                 QStringLiteral("DIR")});
    p.addOption({QStringLiteral("domains"), QStringLiteral("Run on this subset of domains (comma separated)."),
                 QStringLiteral("a,b,c")});
    p.addOption({QStringLiteral("calib-samples"), QStringLiteral("Override: calibration windows per domain."),
                 QStringLiteral("N")});
    p.addOption({QStringLiteral("calib-seq"), QStringLiteral("Override: calibration tokens per window."), QStringLiteral("N")});
    p.addOption({QStringLiteral("eval-windows"), QStringLiteral("Override: evaluation windows per domain."),
                 QStringLiteral("N")});
    p.addOption({QStringLiteral("eval-seq"), QStringLiteral("Override: evaluation tokens per window."), QStringLiteral("N")});
    p.addOption({QStringLiteral("dtype"), QStringLiteral("Override: compute dtype, bf16 or fp32."), QStringLiteral("T")});
    p.addOption({QStringLiteral("matrix"),
                 QStringLiteral("Heatmap matrix for the screenshot: normalized (default), raw or correlation."),
                 QStringLiteral("M")});
    p.addOption({QStringLiteral("size"), QStringLiteral("Screenshot size, WxH (default 1400x900)."), QStringLiteral("WxH")});
}

bool positiveInt(const QCommandLineParser& p, const QString& name, int* out, QString* error) {
    if (!p.isSet(name)) {
        return true;
    }
    bool ok = false;
    const int v = p.value(name).toInt(&ok);
    if (!ok || v <= 0) {
        *error = QStringLiteral("--%1 needs a positive integer, got '%2'").arg(name, p.value(name));
        return false;
    }
    *out = v;
    return true;
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

QString studioHelpText() {
    QCommandLineParser p;
    addOptions(p);
    return p.helpText();
}

bool parseStudioOptions(const QStringList& arguments, StudioOptions* o, QString* error) {
    QCommandLineParser p;
    addOptions(p);
    if (!p.parse(arguments)) {
        *error = p.errorText();
        return false;
    }
    o->help = p.isSet(QStringLiteral("help"));
    o->version = p.isSet(QStringLiteral("version"));
    o->project = p.value(QStringLiteral("project"));
    o->run = p.value(QStringLiteral("run"));
    o->screenshot = p.value(QStringLiteral("screenshot"));
    o->view = p.value(QStringLiteral("view"));
    o->miningDir = p.value(QStringLiteral("mining-dir"));
    o->saveMining = p.value(QStringLiteral("save-mining"));
    o->dtype = p.value(QStringLiteral("dtype"));
    o->matrix = p.value(QStringLiteral("matrix"));
    if (p.isSet(QStringLiteral("domains"))) {
        o->domains = p.value(QStringLiteral("domains")).split(QLatin1Char(','), Qt::SkipEmptyParts);
    }
    o->recipe = p.isSet(QStringLiteral("recipe")) ? p.value(QStringLiteral("recipe")) : o->recipe;
    o->routerInit = p.isSet(QStringLiteral("router-init")) ? p.value(QStringLiteral("router-init")) : o->routerInit;
    o->out = p.value(QStringLiteral("out"));
    o->modelDir = p.value(QStringLiteral("model-dir"));
    o->format = p.isSet(QStringLiteral("format")) ? p.value(QStringLiteral("format")) : QStringLiteral("mixtral");
    o->lintOnly = p.isSet(QStringLiteral("lint-only"));
    o->compareDir = p.value(QStringLiteral("compare-dir"));
    o->text = p.value(QStringLiteral("text"));
    o->csv = p.value(QStringLiteral("csv"));
    if (p.isSet(QStringLiteral("layer"))) {
        bool ok = false;
        o->layer = p.value(QStringLiteral("layer")).toInt(&ok);
        o->layerSet = true;
        if (!ok || o->layer < -1) {
            *error = QStringLiteral("--layer needs an integer >= -1, got '%1'").arg(p.value(QStringLiteral("layer")));
            return false;
        }
    }
    if (p.isSet(QStringLiteral("ratio"))) {
        bool ok = false;
        o->ratio = p.value(QStringLiteral("ratio")).toDouble(&ok);
        if (!ok || o->ratio < 0 || o->ratio >= 1) {
            *error = QStringLiteral("--ratio needs a number in [0, 1), got '%1'").arg(p.value(QStringLiteral("ratio")));
            return false;
        }
    }
    if (p.isSet(QStringLiteral("clusters"))) {
        bool isInt = false;
        p.value(QStringLiteral("clusters")).toInt(&isInt);
        if (!isInt) {
            o->clustersFile = p.value(QStringLiteral("clusters"));
        }
    }
    const QStringList recipes{QStringLiteral("dive"), QStringLiteral("dive-random"), QStringLiteral("random"),
                              QStringLiteral("upcycle"), QStringLiteral("flap"), QStringLiteral("den2moee")};
    if (!recipes.contains(o->recipe)) {
        *error = QStringLiteral("--recipe must be one of %1, got '%2'").arg(recipes.join(QStringLiteral(", ")), o->recipe);
        return false;
    }
    if (o->routerInit != QLatin1String("centroid") && o->routerInit != QLatin1String("random")) {
        *error = QStringLiteral("--router-init must be centroid or random, got '%1'").arg(o->routerInit);
        return false;
    }
    o->topKGiven = p.isSet(QStringLiteral("top-k"));
    if (!positiveInt(p, QStringLiteral("top-k"), &o->topK, error) ||
        !positiveInt(p, QStringLiteral("experts"), &o->experts, error) ||
        (o->clustersFile.isEmpty() && !positiveInt(p, QStringLiteral("clusters"), &o->clusters, error)) ||
        !positiveInt(p, QStringLiteral("calib-samples"), &o->calibSamples, error) ||
        !positiveInt(p, QStringLiteral("calib-seq"), &o->calibSeq, error) ||
        !positiveInt(p, QStringLiteral("eval-windows"), &o->evalWindows, error) ||
        !positiveInt(p, QStringLiteral("eval-seq"), &o->evalSeq, error)) {
        return false;
    }
    if (p.isSet(QStringLiteral("size"))) {
        const QStringList wh = p.value(QStringLiteral("size")).split(QLatin1Char('x'));
        const int w = wh.value(0).toInt();
        const int h = wh.value(1).toInt();
        if (wh.size() != 2 || w < 200 || h < 150) {
            *error = QStringLiteral("--size needs WxH (at least 200x150), got '%1'").arg(p.value(QStringLiteral("size")));
            return false;
        }
        o->size = QSize(w, h);
    }
    if (!o->run.isEmpty() && o->run != QLatin1String("mining") && o->run != QLatin1String("conversion") &&
        o->run != QLatin1String("export")) {
        *error = QStringLiteral("--run: unknown step '%1' (available: mining, conversion, export)").arg(o->run);
        return false;
    }
    if (o->run == QLatin1String("export")) {
        if (o->modelDir.isEmpty() || (o->out.isEmpty() && !o->lintOnly)) {
            *error = QStringLiteral("--run export needs --model-dir DIR and --out DIR (or --lint-only)");
            return false;
        }
        if (o->format != QLatin1String("mixtral") && o->format != QLatin1String("qwen2moe")) {
            *error = QStringLiteral("--format must be mixtral or qwen2moe, got '%1'").arg(o->format);
            return false;
        }
    }
    const bool moeView = o->view == QLatin1String("routing") || o->view == QLatin1String("experts");
    if (o->view != QLatin1String("all") && o->view != QLatin1String("heatmap") &&
        o->view != QLatin1String("dendrogram") && !moeView) {
        *error = QStringLiteral("--view must be heatmap, dendrogram, all, routing or experts, got '%1'").arg(o->view);
        return false;
    }
    if (!o->compareDir.isEmpty() && o->view != QLatin1String("routing")) {
        *error = QStringLiteral("--compare-dir needs --view routing");
        return false;
    }
    if (o->view == QLatin1String("routing") && o->text.isEmpty()) {
        *error = QStringLiteral("--view routing needs --text TEXT");
        return false;
    }
    if (moeView && o->run != QLatin1String("conversion") && o->modelDir.isEmpty()) {
        *error = QStringLiteral("--view %1 needs --run conversion or --model-dir DIR").arg(o->view);
        return false;
    }
    if (!o->matrix.isEmpty() && o->matrix != QLatin1String("raw") && o->matrix != QLatin1String("normalized") &&
        o->matrix != QLatin1String("correlation")) {
        *error = QStringLiteral("--matrix must be raw, normalized or correlation, got '%1'").arg(o->matrix);
        return false;
    }
    if (!o->dtype.isEmpty() && o->dtype != QLatin1String("bf16") && o->dtype != QLatin1String("fp32")) {
        *error = QStringLiteral("--dtype must be bf16 or fp32, got '%1'").arg(o->dtype);
        return false;
    }
    if (o->run == QLatin1String("mining") && !o->miningDir.isEmpty()) {
        *error = QStringLiteral("--run mining and --mining-dir exclude each other");
        return false;
    }
    if (o->view == QLatin1String("all") && !o->screenshot.isEmpty() &&
        !o->screenshot.endsWith(QLatin1String(".png"), Qt::CaseInsensitive)) {
        *error = QStringLiteral("--view all writes PNG only (use --view heatmap or dendrogram for SVG/PDF)");
        return false;
    }
    return true;
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

bool readClustersFile(const QString& path, den2moe::ProjectClusters* clusters, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot open the clusters file %1").arg(path);
        return false;
    }
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
    const QJsonArray members = doc.object().value(QStringLiteral("members")).toArray();
    if (pe.error != QJsonParseError::NoError || members.isEmpty()) {
        *error = QStringLiteral("%1: expected a JSON object with a \"members\" array of domain-name arrays").arg(path);
        return false;
    }
    den2moe::ProjectClusters pc;
    for (const QJsonValue& m : members) {
        std::vector<std::string> names;
        for (const QJsonValue& d : m.toArray()) names.push_back(d.toString().toStdString());
        pc.members.push_back(names);
    }
    for (const QJsonValue& n : doc.object().value(QStringLiteral("names")).toArray()) pc.names.push_back(n.toString().toStdString());
    while (pc.names.size() < pc.members.size()) pc.names.push_back("C" + std::to_string(pc.names.size() + 1));
    pc.manual = doc.object().value(QStringLiteral("manual")).toBool(false);
    *clusters = pc;
    return true;
}

namespace {

/// Waits for `done` (0), jobCancelled (130) or jobFailed (1, message on err), printing progress.
template <typename Signal>
int waitForJob(MainWindow& w, Signal done, const QString& what, QTextStream& err) {
    QEventLoop loop;
    QObject::connect(&w, done, &loop, [&] { loop.exit(0); });
    QObject::connect(&w, &MainWindow::jobCancelled, &loop, [&] { loop.exit(130); });
    QObject::connect(&w, &MainWindow::jobFailed, &loop, [&](const QString& message, const QString& hint) {
        err << "error: " << what << " failed: " << message << "\n";
        if (!hint.isEmpty()) err << "hint: " << hint << "\n";
        err.flush();
        loop.exit(1);
    });
    QString lastStage;
    QElapsedTimer sinceLine;
    QObject::connect(w.jobRunner(), &JobRunner::progress, &loop,
                     [&](const QString& stage, qint64 step, qint64 total, double eta, const QString& message) {
                         if (stage == lastStage && sinceLine.isValid() && sinceLine.elapsed() < 1000 && step != total) {
                             return;
                         }
                         lastStage = stage;
                         sinceLine.restart();
                         err << what << ": " << stage << " " << step << "/" << total
                             << (message.isEmpty() ? QString() : QStringLiteral(" ") + message)
                             << (eta >= 0 ? QStringLiteral(" (ETA %1)").arg(formatEta(eta)) : QString()) << "\n";
                         err.flush();
                     });
    const int code = loop.exec();
    if (code == 130) err << "cancelled\n";
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

}  // namespace

int runHeadlessExport(MainWindow& w, const StudioOptions& o, QTextStream& err) {
    ExportDialog* d = w.exportDialog();
    d->setSource(o.modelDir);
    d->setFormat(o.format);
    if (!o.out.isEmpty()) d->setOut(o.out);
    const ExportRequest r = d->request(o.lintOnly);
    QString error;
    if (!w.startExport(r, &error)) {
        err << "error: the export cannot start: " << error << "\n";
        return 1;
    }
    const int code = waitForJob(w, &MainWindow::exportFinished, QStringLiteral("export"), err);
    if (code != 0) return code;
    const HfExportOutputPtr x = w.exportResult();
    err << d->reportText() << "\n" << QString(d->summaryText()).remove(QRegularExpression(QStringLiteral("<[^>]*>"))) << "\n";
    if (!o.screenshot.isEmpty()) {
        d->resize(o.size.width() > 0 ? std::min(o.size.width(), 1100) : 900, 620);
        d->show();
        QCoreApplication::processEvents();
        if (!d->grab().save(o.screenshot)) {
            err << "error: cannot write " << o.screenshot << "\n";
            return 1;
        }
        err << "wrote " << o.screenshot << "\n";
    }
    return x && x->errors > 0 ? 1 : 0;
}

int runHeadless(const StudioOptions& o, QTextStream& err) {
    MainWindow w;
    w.setInteractive(false);
    QString error;
    if (o.run == QLatin1String("export")) return runHeadlessExport(w, o, err);
    const QString projectPath = o.project.isEmpty() ? MainWindow::findDemoProject() : o.project;
    if (projectPath.isEmpty()) {
        err << "error: no --project given and the demo project was not found\n";
        return 1;
    }
    if (!w.openProject(projectPath, &error)) {
        err << "error: " << error << "\n";
        return 1;
    }
    den2moe::Project p = w.project();
    if (o.calibSamples > 0) p.calib.n_samples = o.calibSamples;
    if (o.calibSeq > 0) p.calib.seq_len = o.calibSeq;
    if (o.evalWindows > 0) p.eval.n_windows = o.evalWindows;
    if (o.evalSeq > 0) p.eval.seq_len = o.evalSeq;
    if (!o.dtype.isEmpty()) p.dtype = o.dtype.toStdString();
    if (o.clusters > 0) {
        p.cluster.k = o.clusters;
        p.cluster.cut_height.reset();
        p.clusters = {};
    }
    if (!o.clustersFile.isEmpty()) {
        if (!readClustersFile(o.clustersFile, &p.clusters, &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
    }
    const bool overridden = o.calibSamples || o.calibSeq || o.evalWindows || o.evalSeq || !o.dtype.isEmpty() ||
                            o.clusters > 0 || !o.clustersFile.isEmpty();
    if (!o.domains.isEmpty()) {
        for (const QString& d : o.domains) {
            if (p.find_domain(d.toStdString()) < 0) {
                err << "error: --domains: the project has no domain '" << d << "'\n";
                return 1;
            }
        }
        for (den2moe::ProjectDomain& d : p.domains) {
            d.enabled = o.domains.contains(QString::fromStdString(d.name));
        }
    }
    if (overridden || !o.domains.isEmpty()) {
        w.setProject(p, false);
    }

    if (!o.miningDir.isEmpty()) {
        if (!w.loadMiningDir(o.miningDir, &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
    } else if (o.run == QLatin1String("mining")) {
        QEventLoop loop;
        int code = 0;
        QObject::connect(&w, &MainWindow::miningFinished, &loop, [&] { loop.exit(0); });
        QObject::connect(&w, &MainWindow::jobCancelled, &loop, [&] { loop.exit(130); });
        QObject::connect(&w, &MainWindow::jobFailed, &loop, [&](const QString& message, const QString& hint) {
            err << "error: mining failed: " << message << "\n";
            if (!hint.isEmpty()) {
                err << "hint: " << hint << "\n";
            }
            err.flush();
            loop.exit(1);
        });
        // One line per stage change, then at most one a second (with the ETA).
        QString lastStage;
        QElapsedTimer sinceLine;
        QObject::connect(w.jobRunner(), &JobRunner::progress, &loop,
                         [&](const QString& stage, qint64 step, qint64 total, double eta, const QString& message) {
                             if (stage == lastStage && sinceLine.isValid() && sinceLine.elapsed() < 1000 &&
                                 step != total) {
                                 return;
                             }
                             lastStage = stage;
                             sinceLine.restart();
                             err << "mining: " << stage << " " << step << "/" << total
                                 << (message.isEmpty() ? QString() : QStringLiteral(" ") + message)
                                 << (eta >= 0 ? QStringLiteral(" (ETA %1)").arg(formatEta(eta)) : QString()) << "\n";
                             err.flush();
                         });
        if (!w.startMining({}, &error)) {
            err << "error: the project is not ready to run:\n  " << error.replace(QLatin1Char('\n'), QStringLiteral("\n  "))
                << "\n";
            return 1;
        }
        code = loop.exec();
        if (code != 0) {
            if (code == 130) {
                err << "cancelled\n";
            }
            return code;
        }
        if (!o.saveMining.isEmpty()) {
            try {
                den2moe::write_mining_outputs(*w.miningResult(), o.saveMining.toStdString(), w.project().cluster.k);
            } catch (const std::exception& e) {
                err << "error: cannot write the mining outputs: " << e.what() << "\n";
                return 1;
            }
        }
    }
    if (o.clusters > 0 && w.miningResult()) {
        w.cutAtK(o.clusters);
    }
    const bool moeView = o.view == QLatin1String("routing") || o.view == QLatin1String("experts");
    if (o.run == QLatin1String("conversion")) {
        if (w.project().clusters.empty() && (o.recipe == QLatin1String("dive") || o.recipe == QLatin1String("dive-random"))) {
            err << "error: the project has no saved clusters: give --clusters FILE (a clusters.json), --mining-dir DIR "
                   "or run the mining once and save the project\n";
            return 1;
        }
        den2moe::ConvertSettings s;
        s.recipe = o.recipe.toStdString();
        s.router_init = o.routerInit.toStdString();
        s.top_k = o.recipe == QLatin1String("den2moee") && !o.topKGiven ? 2 : o.topK;
        s.n_experts = o.experts;
        s.ratio = o.ratio >= 0 ? o.ratio : w.project().prune.ratio;
        if (!w.startConversion(s, &error, o.out)) {
            err << "error: the conversion cannot start:\n  " << error.replace(QLatin1Char('\n'), QStringLiteral("\n  ")) << "\n";
            return 1;
        }
        const int code = waitForJob(w, &MainWindow::conversionFinished, QStringLiteral("conversion"), err);
        if (code != 0) return code;
        const ConversionOutputPtr r = w.conversionResult();
        err << "converted (" << o.recipe << ") into " << QString::fromStdString(r->dir) << "\n";
        for (const auto& row : r->ppl) {
            err << QStringLiteral("  %1 dense %2  converted %3\n")
                       .arg(QString::fromStdString(row.domain), -18)
                       .arg(row.dense, 9, 'f', 3)
                       .arg(row.converted, 9, 'f', 3);
        }
    } else if (!o.modelDir.isEmpty()) {
        if (!w.loadConvertedModel(o.modelDir, &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
        if (o.view == QLatin1String("experts")) {
            try {
                const auto model = w.routingView()->model();
                w.expertLoadView()->setLoad(bridge::expertLoad(w.project(), *model, {}), &bridge::moeModelInfo(*model));
            } catch (const bridge::JobFailed& e) {
                err << "error: expert load: " << QString::fromStdString(e.error().what) << "\n";
                return 1;
            }
        }
    }
    if (moeView) {
        return renderMoeView(w, o, err);
    }
    if (!o.screenshot.isEmpty() && o.run != QLatin1String("conversion")) {
        if (!w.miningResult()) {
            err << "error: nothing to render: give --run mining or --mining-dir DIR (or run the mining once)\n";
            return 1;
        }
        const int k = o.clusters > 0 ? o.clusters : int(w.project().cluster.k);
        if (!renderMiningView(w.miningResult(), w.clusterModel()->state(), k, o.view, o.matrix, o.screenshot, o.size,
                              &error)) {
            err << "error: " << error << "\n";
            return 1;
        }
        err << "wrote " << o.screenshot << "\n";
    }
    return 0;
}

}  // namespace den2moe::ui
