// The pipeline steps as the app runs them on its JobRunner: what runs on the worker thread for each step
// (the engine's run_mining / run_conversion, then what the views need: the converted model loaded for
// routing) and the immutable results the window and its views share. The settings, their validation and
// the work itself are the engine's (pipeline/mining.h, pipeline/conversion.h); nothing here decides how
// a step is done.
#pragma once

#include "engine_bridge.h"
#include "job_runner.h"

#include "convert/convert_settings.h"
#include "pipeline/conversion.h"
#include "pipeline/mining.h"

#include <QString>

#include <memory>
#include <string>
#include <vector>

namespace den2moe::ui {

/// A finished conversion as the views show it (the engine's ConversionRun without the models it held).
struct ConversionOutput {
    std::string dir;                                 ///< where it was saved (native format)
    den2moe::ConvertSettings settings;
    bridge::MoeModelPtr model;                       ///< loaded (fp32) for routing; null for a dense result
    std::vector<den2moe::ConversionRun::DomainRow> ppl;  ///< dense vs converted (empty without evaluation)
    den2moe::ExpertLoad load;                        ///< empty for a dense result or without evaluation
    int64_t params_dense = 0, params_total = 0, params_active = 0;
    int64_t cache_hits = 0, cache_misses = 0;
    double seconds = 0;
};
using ConversionOutputPtr = std::shared_ptr<const ConversionOutput>;
using HfExportOutputPtr = std::shared_ptr<const bridge::HfExportOutput>;
using TrainOutputPtr = std::shared_ptr<const bridge::TrainOutput>;
/// A finished evaluation: the engine's run and the folder its files went to ("" = none).
struct EvalRunOutput {
    den2moe::TaskEvalRun run;
    std::string out_dir;
};
using EvalRunPtr = std::shared_ptr<const EvalRunOutput>;

/// The folder where the window keeps the last mining of a project (<project cache>/mining; "" when
/// the project has no cache folder).
QString miningCacheDir(const den2moe::Project& project);
/// True when a mining result was computed over exactly the project's enabled domains.
bool miningResultFits(const den2moe::MiningResult& result, const den2moe::Project& project);

/// run_mining, then (when it fits the project) its files into `cacheDir` for the next session; a cache
/// that cannot be written does not fail the run.
MiningResultPtr runMiningStep(const den2moe::Project& project, const den2moe::MiningOptions& options,
                              const std::string& cacheDir, den2moe::RunContext& ctx);
/// run_conversion into `outDir`, then the saved MoE folder loaded for the routing views.
ConversionOutputPtr runConversionStep(const den2moe::Project& project, const den2moe::ProjectClusters& clusters,
                                      const den2moe::ConvertSettings& settings, const std::string& outDir,
                                      den2moe::RunContext& ctx);

}  // namespace den2moe::ui
