// Command line of den2moe-studio and its headless form:
//   den2moe-studio --project P --run mining --screenshot out.png [--view heatmap|dendrogram|all]
//   den2moe-studio --project P --run conversion --recipe dive --router-init centroid [--clusters FILE]
//                  --screenshot r.png --view routing --text "..." | --view experts [--csv data.csv]
//   den2moe-studio --model-dir CONVERTED --view routing --text "..." --screenshot r.png
//                  [--clusters K] [--mining-dir DIR] ...
// runs the step through the window's JobRunner (no window shown), renders the views offscreen,
// saves the image and exits: 0 on success, 1 with the message on stderr on an error, 2 for a usage
// error, 130 when cancelled.
#pragma once

#include "cluster_model.h"
#include "job_runner.h"

#include <QSize>
#include <QString>
#include <QStringList>

class QTextStream;

namespace den2moe::ui {

struct StudioOptions {
    QString project;     ///< --project
    QString run;         ///< --run mining
    QString screenshot;  ///< --screenshot out.png
    QString view = QStringLiteral("all");  ///< heatmap | dendrogram | all
    int clusters = 0;    ///< --clusters K (0 = the project's)
    QString miningDir;   ///< --mining-dir: load a finished mining folder instead of running
    QString saveMining;  ///< --save-mining: write the mining outputs there after the run
    QStringList domains; ///< --domains a,b,c (subset for the run)
    int calibSamples = 0, calibSeq = 0, evalWindows = 0, evalSeq = 0;  ///< overrides (0 = project's)
    QString dtype;
    QString matrix;      ///< --matrix raw|normalized|correlation for the screenshot
    QSize size{1400, 900};
    // issue 6: --run conversion, --view routing|experts
    QString clustersFile;  ///< --clusters FILE (a clusters.json; a number is K)
    QString recipe = QStringLiteral("dive");
    QString routerInit = QStringLiteral("centroid");
    int topK = 1;
    bool topKGiven = false;
    int experts = 8;
    double ratio = -1;     ///< -1 = the project's prune.ratio
    QString out;           ///< --out DIR: the conversion's folder ("" = <project cache>/experts/<recipe>)
    QString format;        ///< --run export: mixtral | qwen2moe
    bool lintOnly = false; ///< --run export --lint-only
    QString modelDir;      ///< --model-dir: a converted folder for --view routing|experts (instead of converting)
    QString compareDir;    ///< --compare-dir: a second converted folder shown beside --model-dir (--view routing)
    QString text;          ///< --text for --view routing
    int layer = 0;         ///< --layer: MoE layer index shown (routing, experts; experts: -1 = mean)
    bool layerSet = false;
    QString csv;           ///< --csv FILE: the rendered view's data
    bool help = false;
    bool version = false;

    /// Anything that makes the app run without a window.
    bool isHeadless() const { return !screenshot.isEmpty() || !run.isEmpty(); }
};

/// Parses the arguments (argv[0] first). False with a message on a usage error.
bool parseStudioOptions(const QStringList& arguments, StudioOptions* options, QString* error);
QString studioHelpText();

/// Renders `view` ("heatmap", "dendrogram" or "all") of a mining result with `state` (empty = the
/// cut at K) into `path` (the suffix picks PNG/SVG/PDF; "all" is PNG only), at `size`.
bool renderMiningView(const MiningResultPtr& result, const ClusterState& state, int k, const QString& view,
                      const QString& matrix, const QString& path, const QSize& size, QString* error);

/// ProjectClusters from a clusters.json ({"members": [[...]], "names": [...], "manual": bool}).
bool readClustersFile(const QString& path, den2moe::ProjectClusters* clusters, QString* error);

/// The headless run. Messages go to `err`.
int runHeadless(const StudioOptions& options, QTextStream& err);

}  // namespace den2moe::ui
