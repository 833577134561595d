// The app's door to the engine calls that need ATen: loading a converted (native or Hugging Face) MoE
// model for the routing and expert-load views, tracing routing and measuring expert load on it, and the
// Hugging Face export (prepare_export + export_hf), recovery training (run_training) and task
// evaluation (load_model + run_task_eval). A Qt-free, torch-free API: only engine_bridge.cpp
// includes ATen, so no Qt translation unit meets its headers or macros. Everything torch-free (mining,
// conversion, plans, clusters files) the Qt side calls in the engine directly. Failures are the
// engine's own den2moe::Error / den2moe::Cancelled; jobs take the caller's RunContext.
#pragma once

#include "eval/routing.h"
#include "eval/task_eval.h"
#include "export/export_settings.h"
#include "project/project.h"
#include "train/train_settings.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace den2moe {
class RunContext;
}

namespace den2moe::bridge {

/// A loaded MoE model with its tokenizer; opaque to the Qt side. Immutable once loaded: routing
/// traces and expert loads only read it (one engine call at a time per model).
struct MoeModel;
using MoeModelPtr = std::shared_ptr<const MoeModel>;

/// What the views show about a converted model (from moe_config.json / provenance.json).
struct MoeModelInfo {
    std::string dir;
    std::string recipe;
    int n_experts = 0;
    int top_k = 1;
    int n_layers = 0;
    std::vector<std::vector<std::string>> members;  ///< provenance clusters.members (per expert; may be empty)
    std::vector<std::string> names;                 ///< cluster names (per expert; may be empty)
    int64_t params_total = 0;
    int64_t params_active = 0;
};

/// load_model(dir) of a converted folder in fp32 (the routing views' dtype, whatever the project's).
/// Throws den2moe::Error.
MoeModelPtr loadMoeModel(const std::string& dir);
const MoeModelInfo& moeModelInfo(const MoeModel& model);
/// trace_routing on `model`. Throws den2moe::Error (e.g. a dense model: no MoE layer).
RoutingTrace traceRouting(const MoeModel& model, const std::string& text);
/// project_expert_load: the project's enabled domains read as mining reads them.
ExpertLoad expertLoad(const Project& project, const MoeModel& model);

/// What an export (or a lint-only check) produced.
struct HfExportOutput {
    std::string source;           ///< the converted folder
    std::string format;           ///< mixtral | qwen2moe
    std::string out_dir;          ///< "" when nothing was written (lint only, or lint errors)
    std::string report;           ///< the linter's findings as text
    int errors = 0, warnings = 0, infos = 0;
    bool lint_only = false;
    std::vector<std::string> files;  ///< written, relative to out_dir
    int64_t shards = 0, tensors = 0, bytes = 0;
    std::string dtype;
    double seconds = 0;
};
/// prepare_export + (unless `lintOnly` or lint errors) export_hf with `settings`: the engine calls of
/// `den2moe export`. `tokenizer` overrides the model's ("" = its own). Progress stages "lint" and the
/// writer's; throws den2moe::Error / den2moe::Cancelled.
HfExportOutput exportHf(const std::string& moeDir, const ExportSettings& settings, const std::string& outDir,
                        bool lintOnly, const std::string& tokenizer, RunContext& ctx);

/// The model's top-k as the training stages' defaults need it (model_top_k: 0 for a dense model).
int64_t modelTopK(const std::string& modelDir);
/// The settings `den2moe train --stage STAGE` starts from for `modelDir`: the stage's reference values
/// (apply_stage_defaults), then the project's "training" section. Throws den2moe::Error.
TrainSettings trainDefaults(const Project& project, const std::string& modelDir, const std::string& stage);

/// Held-out loss per domain of one evaluation (the engine's HeldOut without its JSON).
struct HeldOutLoss {
    std::vector<std::string> domains;
    std::vector<double> loss;  ///< mean NLL per domain
    double mean = 0;           ///< token-weighted
};
/// What a training run produced (the engine's TrainResult).
struct TrainOutput {
    std::string out_dir;
    std::string stage;
    int64_t steps = 0, tokens = 0;
    int64_t resumed_from = -1;  ///< the checkpoint's step, -1 = a fresh run
    HeldOutLoss before;         ///< empty when resumed (the before-evaluation ran in the first part)
    HeldOutLoss after;
    double seconds = 0;
    std::vector<std::string> notes;
};
/// run_training: `den2moe train`'s engine call. Cancel writes a checkpoint and throws
/// den2moe::Cancelled (`resume` continues from it); `log` receives the engine's one-line notes (on
/// the worker thread). Throws den2moe::Error before any work when a setting, the model or the folder
/// is wrong.
TrainOutput train(const Project& project, const std::string& modelDir, const TrainSettings& settings,
                  const std::string& outDir, bool resume, RunContext& ctx,
                  const std::function<void(const std::string&)>& log = {});

/// `den2moe eval`'s engine calls: validate_task_eval (tasks and data before loading), load_model in
/// the settings' dtype, run_task_eval. Throws den2moe::Error / den2moe::Cancelled (the tasks finished
/// before a cancel keep their files).
TaskEvalRun evaluate(const std::string& modelPath, const TaskEvalSettings& settings, const TaskEvalOutput& out,
                     RunContext& ctx);

}  // namespace den2moe::bridge
