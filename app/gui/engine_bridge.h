// The GUI's one door to engine calls that need a RunContext (which includes ATen): a Qt-free,
// torch-free API. Only engine_bridge.cpp sees RunContext, so no Qt translation unit pays for ATen
// or meets its macros. Cancellation is a shared atomic flag; the engine's den2moe::Cancelled becomes
// bridge::JobCancelled and den2moe::Error becomes bridge::JobFailed carrying what / hint / kind.
#pragma once

#include "convert/convert.h"
#include "eval/routing.h"
#include "io/hf_config.h"
#include "mining/mining.h"
#include "project/project.h"

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

namespace den2moe::bridge {

/// One progress report of a running job (a copy of the engine's Progress).
struct ProgressInfo {
    std::string stage;
    int64_t step = 0;
    int64_t total = 0;  ///< 0 = unknown
    std::string message;
    double elapsed_s = 0;
    double eta_s = -1;  ///< -1 = unknown
};

/// What an engine failure tells the user.
struct JobError {
    std::string what;  ///< the message, without the hint
    std::string hint;
    std::string kind;  ///< "invalid input", "io", ... (error_kind_name), "internal" for non-engine errors
};

/// Thrown by a bridge call when the cancel flag stopped the job.
class JobCancelled : public std::exception {
public:
    const char* what() const noexcept override { return "cancelled"; }
};

/// Thrown by a bridge call when the engine failed.
class JobFailed : public std::exception {
public:
    explicit JobFailed(JobError error) : error_(std::move(error)) {}
    const JobError& error() const { return error_; }
    const char* what() const noexcept override { return error_.what.c_str(); }

private:
    JobError error_;
};

using ProgressFn = std::function<void(const ProgressInfo&)>;
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

/// run_mining() with a progress callback (called on the calling thread) and a cancel flag that is
/// checked by the engine between batches (forwarded to the RunContext within ~10 ms).
/// Throws JobCancelled or JobFailed.
MiningResult runMining(const Project& project, const MiningOptions& options, ProgressFn progress,
                       CancelFlag cancel);

/// Calls `fn` and turns den2moe::Error / den2moe::Cancelled / std::exception into JobFailed /
/// JobCancelled, for the torch-free engine calls the GUI makes directly.
void translateErrors(const std::function<void()>& fn);

// ---- conversion, routing, expert load (issue 6) ----

/// A loaded MoE model (native folder) with its tokenizer; opaque to the Qt side. Immutable once
/// loaded: routing traces and expert loads only read it (one engine call at a time per model).
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

/// load_model(dir) of a converted native folder (fp32). Throws JobFailed.
MoeModelPtr loadMoeModel(const std::string& dir);
const MoeModelInfo& moeModelInfo(const MoeModel& model);
/// trace_routing on `model`. Throws JobFailed (e.g. a dense model: no MoE layer).
RoutingTrace traceRouting(const MoeModel& model, const std::string& text);
/// expert_load over the project's enabled domains' evaluation splits (eval.n_windows × eval.seq_len tokens).
ExpertLoad expertLoad(const Project& project, const MoeModel& model, CancelFlag cancel = {});

/// The dense model's config (config.json of a HF folder, else the llama2.c header via the loader).
LlamaConfig readModelConfig(const Project& project);

/// `<project cache>/experts/<recipe>` (the GUI's default output folder of a conversion).
std::string defaultExpertsDir(const Project& project, const std::string& recipe);

struct DomainPpl {
    std::string domain;
    double dense = 0, converted = 0;
};

struct ConversionOutput {
    std::string dir;              ///< where it was saved (native format)
    ConvertSettings settings;
    MoeModelPtr model;            ///< the converted model, loaded for routing (null for a dense "flap" result)
    std::vector<DomainPpl> ppl;   ///< dense vs converted, per enabled domain (empty when !evaluate)
    ExpertLoad load;              ///< empty for a dense result
    int64_t params_dense = 0, params_total = 0, params_active = 0;
    int64_t cache_hits = 0, cache_misses = 0;
    double seconds = 0;
};

/// load the dense model, hash it, convert_model with `clusters`, save_moe_native into `outDir`,
/// then (when `evaluate`) per-domain perplexity dense vs converted and the expert load.
/// Throws JobCancelled / JobFailed.
ConversionOutput runConversion(const Project& project, const ProjectClusters& clusters,
                               const ConvertSettings& settings, const std::string& outDir, bool evaluate,
                               ProgressFn progress, CancelFlag cancel);

// ---- Hugging Face export (issue 5) ----

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
/// prepare_export + (unless `lintOnly` or lint errors) export_hf: the same engine calls as
/// `den2moe export`. The stored dtype is kept. Throws JobCancelled / JobFailed.
HfExportOutput exportHf(const std::string& moeDir, const std::string& format, const std::string& outDir,
                        bool padExperts, bool lintOnly, ProgressFn progress, CancelFlag cancel);

}  // namespace den2moe::bridge
