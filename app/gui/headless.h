// den2moe-studio's command line, parsed like the CLI's (app/frontend: frontend::Args, the steps' options
// generated from the engine's settings schemas, the progress printer, the exit codes):
//   den2moe-studio [--project P]                                    the window
//   den2moe-studio --project P --run mining [mining options] --screenshot out.png [--view heatmap|dendrogram|all]
//   den2moe-studio --project P --run conversion [conversion options] [--clusters FILE] --view routing --text "..."
//                  --screenshot r.png | --view experts [--csv data.csv]
//   den2moe-studio --run export --model-dir DIR --out DIR [export options] [--screenshot dialog.png]
//   den2moe-studio --model-dir CONVERTED --view routing --text "..." --screenshot r.png [--clusters K] ...
//   den2moe-studio --model-dir A --compare-dir B [--layer L] [--compare-layer L] --view routing --text "..." | --view
//                  experts [--project P] --screenshot c.png [--csv c.csv]   two runs, each at its own layer
//   den2moe-studio --view results --results DIR [--results DIR ...] [--baseline N|LABEL] [--types T,T]
//                  [--sort KEY[:asc]] [--deltas] [--screenshot t.png] [--table t.md|t.tex|t.csv ...]
//   den2moe-studio --project P --run training --model-dir MOE --stage S --out DIR [train options] [--resume]
//                  [--screenshot t.png|curves.svg|curves.pdf]
//   den2moe-studio --view training --train-dir DIR --screenshot t.png      a finished run's curves from its log
//   den2moe-studio --project P --run evaluation [--model-dir M] [eval options] [--out DIR] [--screenshot e.png]
//   den2moe-studio --view evaluation --results DIR --screenshot e.png      one evaluation run's table
// The headless form runs the step through the window's JobRunner (no window shown) with the options'
// meaning and the validation of `den2moe mine / convert / export` (frontend::mining_job, conversion_job,
// export_settings), prints progress with the CLI's printer, renders the views offscreen, saves the image
// and exits: 0 ok, 1 a user error (usage included; message on stderr), 2 internal, 130 cancelled.
#pragma once

#include "cluster_model.h"
#include "job_runner.h"

#include "args.h"
#include "steps.h"

#include <QSize>
#include <QString>

#include <string>
#include <vector>

class QTextStream;

namespace den2moe::ui {

/// The app's own options (not a step's).
struct StudioOptions {
    QString project;     ///< --project
    QString run;         ///< --run mining|conversion|export|training|evaluation
    QString screenshot;  ///< --screenshot out.png
    QString view = QStringLiteral("all");  ///< heatmap | dendrogram | all | routing | experts
    int clustersK = 0;   ///< --clusters K (an integer: the dendrogram cut; a file is a step's clusters.json)
    QString miningDir;   ///< --mining-dir: load a finished mining folder instead of running
    QString saveMining;  ///< --save-mining: write the mining outputs there after the run
    QString matrix;      ///< --matrix raw|normalized|correlation for the screenshot
    QSize size{1400, 900};
    QString modelDir;    ///< --model-dir: a converted folder for --view routing|experts and --run export
    QString compareDir;  ///< --compare-dir: a second converted folder shown beside --model-dir (--view routing)
    int compareLayer = 0;  ///< --compare-layer: the second model's MoE layer index (experts: -1 = mean)
    bool compareLayerSet = false;
    QString text;        ///< --text for --view routing
    int layer = 0;       ///< --layer: MoE layer index shown (routing, experts; experts: -1 = mean)
    bool layerSet = false;
    QString csv;         ///< --csv FILE: the rendered view's data
    QStringList results; ///< --results DIR (repeatable): evaluation folders for --view results
    QString baseline;    ///< --baseline N|LABEL (--view results): the N-th --results (1-based) or a run's label
    QStringList types;   ///< --types T,T (--view results): the task types shown
    QString sort;        ///< --sort KEY[:asc|:desc] (--view results): a column key, descending by default
    bool deltas = false; ///< --deltas (--view results): cells show the deltas to the baseline
    QStringList tables;  ///< --table FILE (repeatable, --view results): .csv / .md / .tex of the table
    QStringList charts;  ///< --chart FILE (repeatable, --view results): the type-means bar chart, .png / .svg / .pdf
    QString trainDir;    ///< --train-dir DIR (--view training): a finished or paused training run
    bool help = false;
    bool version = false;

    /// Anything that makes the app run without a window.
    bool isHeadless() const { return !screenshot.isEmpty() || !run.isEmpty() || !tables.isEmpty() || !charts.isEmpty() || !trainDir.isEmpty(); }
};

/// The options of den2moe-studio itself (--project, --run, --screenshot, --view, ...), common ones included.
std::vector<frontend::OptionInfo> studioOptions();
/// What a command line may hold: the studio's options and those of the step `run` ("" = none).
std::vector<frontend::OptionInfo> studioOptionsFor(const std::string& run);
/// Parses `argv[1..argc)` (after QApplication took its own options) with every option's switches.
frontend::Args parseStudioArgs(int argc, char** argv);
/// The studio's options of `args`, checked together with the step's (Args::allow): a usage error
/// throws den2moe::Error (InvalidInput, exit 1).
StudioOptions studioOptionsFrom(const frontend::Args& args);
/// --help, generated from the option lists.
std::string studioHelpText();

/// Renders `view` ("heatmap", "dendrogram" or "all") of a mining result with `state` (empty = the
/// cut at K) into `path` (the suffix picks PNG/SVG/PDF; "all" is PNG only), at `size`.
bool renderMiningView(const MiningResultPtr& result, const ClusterState& state, int k, const QString& view,
                      const QString& matrix, const QString& path, const QSize& size, QString* error);

/// The headless run: its exit code. Messages go to `err`; a user error may also be thrown as
/// den2moe::Error (main maps it with frontend::run_guarded).
int runHeadless(const StudioOptions& options, const frontend::Args& args, QTextStream& err);

}  // namespace den2moe::ui
