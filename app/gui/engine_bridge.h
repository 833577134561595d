// The app's door to the engine calls that need ATen: loading a converted (native or Hugging Face) MoE
// model for the routing and expert-load views, tracing routing and measuring expert load on it, and the
// Hugging Face export (prepare_export + export_hf). A Qt-free, torch-free API: only engine_bridge.cpp
// includes ATen, so no Qt translation unit meets its headers or macros. Everything torch-free (mining,
// conversion, plans, clusters files) the Qt side calls in the engine directly. Failures are the
// engine's own den2moe::Error / den2moe::Cancelled; jobs take the caller's RunContext.
#pragma once

#include "eval/routing.h"
#include "export/export_settings.h"
#include "project/project.h"

#include <cstdint>
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

}  // namespace den2moe::bridge
