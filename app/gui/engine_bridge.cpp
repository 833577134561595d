// The only app/gui translation unit that includes ATen (through the model and export headers). No Qt.
#include "engine_bridge.h"

#include "core/error.h"
#include "core/run_context.h"
#include "export/hf_export.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "pipeline/conversion.h"
#include "train/trainer.h"

#include <nlohmann/json.hpp>

#include <fstream>

namespace den2moe::bridge {

struct MoeModel {
    std::shared_ptr<LlamaModel> model;
    std::shared_ptr<Tokenizer> tokenizer;
    MoeModelInfo info;
};

namespace {

/// A sidecar JSON file of a converted folder; an empty object when absent or unreadable (an HF
/// folder has none: the views then show what the model itself tells).
nlohmann::json readJsonFile(const std::string& path) {
    std::ifstream in(path);
    if (!in.good()) return nlohmann::json::object();
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
        return nlohmann::json::object();
    }
}

}  // namespace

MoeModelPtr loadMoeModel(const std::string& dir) {
    LoadedModel lm = load_model(dir, ComputeDType::F32);
    const nlohmann::json moeConfig = readJsonFile(dir + "/moe_config.json");
    const nlohmann::json provenance = readJsonFile(dir + "/provenance.json");
    auto m = std::make_shared<MoeModel>();
    m->model = lm.model;
    m->tokenizer = lm.tokenizer;
    MoeModelInfo& info = m->info;
    info.dir = dir;
    info.recipe = moeConfig.value("recipe", provenance.value("recipe", std::string()));
    info.n_experts = moeConfig.value("num_experts", provenance.value("num_experts", 0));
    info.top_k = moeConfig.value("top_k", provenance.value("top_k", 1));
    info.n_layers = static_cast<int>(m->model->config().n_layer);
    if (provenance.contains("clusters") && provenance["clusters"].is_object()) {
        const auto& c = provenance["clusters"];
        if (c.contains("members") && c["members"].is_array()) {
            info.members = c["members"].get<std::vector<std::vector<std::string>>>();
        }
        if (c.contains("names") && c["names"].is_array()) info.names = c["names"].get<std::vector<std::string>>();
    }
    info.params_total = m->model->n_params();
    info.params_active = m->model->n_active_params();
    return m;
}

const MoeModelInfo& moeModelInfo(const MoeModel& model) { return model.info; }

RoutingTrace traceRouting(const MoeModel& model, const std::string& text) {
    return trace_routing(*model.model, *model.tokenizer, text);
}

ExpertLoad expertLoad(const Project& project, const MoeModel& model) {
    return project_expert_load(project, *model.model, *model.tokenizer);
}

HfExportOutput exportHf(const std::string& moeDir, const ExportSettings& settings, const std::string& outDir,
                        bool lintOnly, const std::string& tokenizer, RunContext& ctx) {
    HfExportOutput out;
    out.source = moeDir;
    out.format = settings.format;
    out.lint_only = lintOnly;
    ctx.check_cancelled();
    ctx.report("lint", 0, 1, "loading " + moeDir);
    ExportOptions opt;
    static_cast<ExportSettings&>(opt) = settings;
    PreparedExport prep = prepare_export(moeDir, settings.format, opt, settings.dtype, tokenizer);
    ctx.report("lint", 1, 1);
    out.report = prep.lint.to_text();
    out.errors = static_cast<int>(prep.lint.count(LintSeverity::Error));
    out.warnings = static_cast<int>(prep.lint.count(LintSeverity::Warning));
    out.infos = static_cast<int>(prep.lint.count(LintSeverity::Info));
    out.dtype = prep.options.dtype;
    if (lintOnly || prep.lint.has_errors()) return out;
    ExportResult r = export_hf(*prep.model, settings.format, outDir, prep.options, ctx);
    out.out_dir = r.out_dir;
    out.files = r.files;
    out.shards = r.n_shards;
    out.tensors = r.n_tensors;
    out.bytes = r.bytes;
    out.seconds = r.seconds;
    return out;
}

int64_t modelTopK(const std::string& modelDir) { return model_top_k(modelDir); }

TrainSettings trainDefaults(const Project& project, const std::string& modelDir, const std::string& stage) {
    TrainSettings s;
    train_schema().set_text(s, "stage", stage);
    apply_stage_defaults(s, model_top_k(modelDir));
    apply_project_training(s, project);
    return s;
}

namespace {
HeldOutLoss heldOut(const HeldOut& h) { return {h.domains, h.loss, h.mean}; }
}  // namespace

TrainOutput train(const Project& project, const std::string& modelDir, const TrainSettings& settings,
                  const std::string& outDir, bool resume, RunContext& ctx,
                  const std::function<void(const std::string&)>& log) {
    TrainResult r = run_training(project, modelDir, settings, outDir, resume, ctx, log);
    TrainOutput out;
    out.out_dir = r.out_dir;
    out.stage = settings.stage;
    out.steps = r.steps;
    out.tokens = r.tokens;
    out.resumed_from = r.resumed_from;
    out.before = heldOut(r.before);
    out.after = heldOut(r.after);
    out.seconds = r.seconds;
    out.notes = r.notes;
    return out;
}

TaskEvalRun evaluate(const std::string& modelPath, const TaskEvalSettings& settings, const TaskEvalOutput& out,
                     RunContext& ctx) {
    validate_task_eval(settings, EvalModelCaps{}, out.shared_dir);  // tasks and data before loading the model
    ctx.check_cancelled();
    LoadedModel lm = load_model(modelPath, parse_compute_dtype(settings.dtype));
    ctx.check_cancelled();
    return run_task_eval(lm, modelPath, settings, out, ctx);
}

}  // namespace den2moe::bridge
