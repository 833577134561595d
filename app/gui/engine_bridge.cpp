// The only app/gui translation unit that includes RunContext (and so ATen). No Qt here.
#include "engine_bridge.h"

#include "calib/stats_cache.h"
#include "core/error.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "eval/perplexity.h"
#include "export/hf_export.h"
#include "model/llama.h"
#include "model/loaded_model.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace den2moe::bridge {

namespace {

JobError toJobError(const Error& e) {
    return JobError{e.message(), e.hint(), error_kind_name(e.kind())};
}

/// Forwards an external cancel flag to a CancelToken until stopped (the token owns its own flag).
class CancelForwarder {
public:
    CancelForwarder(CancelFlag flag, const CancelToken& token) : flag_(std::move(flag)), token_(token) {
        if (flag_) {
            thread_ = std::thread([this] { loop(); });
        }
    }
    ~CancelForwarder() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    CancelForwarder(const CancelForwarder&) = delete;
    CancelForwarder& operator=(const CancelForwarder&) = delete;

private:
    void loop() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!stop_) {
            if (flag_->load()) {
                token_.cancel();
                return;
            }
            cv_.wait_for(lock, std::chrono::milliseconds(10));
        }
    }

    CancelFlag flag_;
    CancelToken token_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace

void translateErrors(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const JobCancelled&) {
        throw;
    } catch (const JobFailed&) {
        throw;
    } catch (const Cancelled&) {
        throw JobCancelled();
    } catch (const Error& e) {
        throw JobFailed(toJobError(e));
    } catch (const std::bad_alloc&) {
        throw JobFailed(JobError{"out of memory", "close other programs or reduce the settings", "out of memory"});
    } catch (const std::exception& e) {
        throw JobFailed(JobError{e.what(), {}, "internal"});
    }
}

/// An engine call with a RunContext wired to the GUI: progress forwarded, the cancel flag checked
/// before the call and forwarded into the context while it runs, errors translated.
static void withEngineContext(const ProgressFn& progress, const CancelFlag& cancel,
                              const std::function<void(RunContext&)>& fn) {
    translateErrors([&] {
        RunContext ctx;
        if (cancel && cancel->load()) throw Cancelled();
        ctx.on_progress = [&](const Progress& p) {
            if (cancel && cancel->load()) ctx.cancel.cancel();
            if (progress) progress(ProgressInfo{p.stage, p.step, p.total, p.message, p.elapsed_s, p.eta_s});
        };
        CancelForwarder forwarder(cancel, ctx.cancel);
        fn(ctx);
    });
}

MiningResult runMining(const Project& project, const MiningOptions& options, ProgressFn progress,
                       CancelFlag cancel) {
    MiningResult result;
    withEngineContext(progress, cancel, [&](RunContext& ctx) {
        result = run_mining(project, options, ctx);
        if (cancel && cancel->load()) {
            throw Cancelled();  // cancelled after the last check: the result is not wanted
        }
    });
    return result;
}

// ---- conversion, routing, expert load ----

struct MoeModel {
    std::shared_ptr<LlamaModel> model;
    std::shared_ptr<Tokenizer> tokenizer;
    MoeModelInfo info;
};

namespace {

nlohmann::json readJsonFile(const std::string& path) {
    std::ifstream in(path);
    if (!in.good()) {
        return nlohmann::json::object();
    }
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
        return nlohmann::json::object();
    }
}

int64_t activeParams(const LlamaModel& m) {
    int64_t active = m.n_params();
    for (int64_t il = 0; il < m.config().n_layer; ++il) {
        const FeedForward& f = m.ffn(static_cast<int>(il));
        active -= f.n_params() - f.n_active_params();
    }
    return active;
}

MoeModelPtr wrapModel(std::shared_ptr<LlamaModel> model, std::shared_ptr<Tokenizer> tok, const std::string& dir,
                      const nlohmann::json& moeConfig, const nlohmann::json& provenance) {
    auto m = std::make_shared<MoeModel>();
    m->model = std::move(model);
    m->tokenizer = std::move(tok);
    m->info.dir = dir;
    m->info.recipe = moeConfig.value("recipe", provenance.value("recipe", std::string()));
    m->info.n_experts = moeConfig.value("num_experts", provenance.value("num_experts", 0));
    m->info.top_k = moeConfig.value("top_k", provenance.value("top_k", 1));
    m->info.n_layers = static_cast<int>(m->model->config().n_layer);
    if (provenance.contains("clusters") && provenance["clusters"].is_object()) {
        const auto& c = provenance["clusters"];
        if (c.contains("members") && c["members"].is_array()) {
            m->info.members = c["members"].get<std::vector<std::vector<std::string>>>();
        }
        if (c.contains("names") && c["names"].is_array()) {
            m->info.names = c["names"].get<std::vector<std::string>>();
        }
    }
    m->info.params_total = m->model->n_params();
    m->info.params_active = activeParams(*m->model);
    return m;
}

}  // namespace

MoeModelPtr loadMoeModel(const std::string& dir) {
    MoeModelPtr out;
    translateErrors([&] {
        LoadedModel lm = load_model(dir, ComputeDType::F32);
        out = wrapModel(lm.model, lm.tokenizer, dir, readJsonFile(dir + "/moe_config.json"),
                        readJsonFile(dir + "/provenance.json"));
    });
    return out;
}

const MoeModelInfo& moeModelInfo(const MoeModel& model) { return model.info; }

RoutingTrace traceRouting(const MoeModel& model, const std::string& text) {
    RoutingTrace t;
    translateErrors([&] { t = trace_routing(*model.model, *model.tokenizer, text); });
    return t;
}

ExpertLoad expertLoad(const Project& p, const MoeModel& model, CancelFlag cancel) {
    ExpertLoad el;
    translateErrors([&] {
        if (cancel && cancel->load()) throw Cancelled();
        el = project_expert_load(p, *model.model, *model.tokenizer);
    });
    return el;
}

LlamaConfig readModelConfig(const Project& p) {
    LlamaConfig cfg;
    translateErrors([&] {
        const std::string path = resolve_project_path(p, p.model);
        namespace fs = std::filesystem;
        if (fs::is_directory(path) && fs::exists(fs::path(path) / "config.json")) {
            cfg = load_hf_config((fs::path(path) / "config.json").string());
        } else if (fs::path(path).filename() == "config.json") {
            cfg = load_hf_config(path);
        } else {
            cfg = load_model(path, ComputeDType::F32,
                             p.tokenizer.empty() ? std::string() : resolve_project_path(p, p.tokenizer))
                      .model->config();
        }
    });
    return cfg;
}

std::string defaultExpertsDir(const Project& p, const std::string& recipe) {
    return (std::filesystem::path(project_cache_dir(p)) / "experts" / recipe).string();
}

ConversionOutput runConversion(const Project& project, const ProjectClusters& clusters,
                               const ConvertSettings& settings, const std::string& outDir, bool evaluate,
                               ProgressFn progress, CancelFlag cancel) {
    ConversionOutput out;
    withEngineContext(progress, cancel, [&](RunContext& ctx) {
        // the one engine call the CLI's `convert` makes too
        ConversionRun run = run_conversion(project, clusters, settings, outDir, evaluate, ctx);
        const ConvertResult& r = run.result;
        out.dir = outDir;
        out.settings = settings;
        out.params_dense = run.dense->n_params();
        out.params_total = r.model->n_params();
        out.params_active = activeParams(*r.model);
        out.cache_hits = r.stats_cache_hits;
        out.cache_misses = r.stats_cache_misses;
        out.seconds = r.seconds;
        if (r.moe_config.value("num_experts", 0) > 0) {
            // routing views run in fp32 whatever the project's compute dtype: reload the saved folder
            LoadedModel moe = load_model(outDir, ComputeDType::F32, run.tokenizer_path);
            out.model = wrapModel(moe.model, moe.tokenizer, outDir, r.moe_config, r.provenance);
        }
        for (const auto& row : run.ppl) out.ppl.push_back(DomainPpl{row.domain, row.dense, row.converted});
        out.load = run.load;
        if (cancel && cancel->load()) throw Cancelled();
    });
    return out;
}

HfExportOutput exportHf(const std::string& moeDir, const std::string& format, const std::string& outDir,
                        bool padExperts, bool lintOnly, ProgressFn progress, CancelFlag cancel) {
    HfExportOutput out;
    out.source = moeDir;
    out.format = format;
    out.lint_only = lintOnly;
    withEngineContext(progress, cancel, [&](RunContext& ctx) {
        ctx.report("lint", 0, 1, "loading " + moeDir);
        ExportOptions opt;
        opt.pad_experts = padExperts;
        PreparedExport prep = prepare_export(moeDir, format, opt);
        ctx.report("lint", 1, 1);
        out.report = prep.lint.to_text();
        out.errors = static_cast<int>(prep.lint.count(LintSeverity::Error));
        out.warnings = static_cast<int>(prep.lint.count(LintSeverity::Warning));
        out.infos = static_cast<int>(prep.lint.count(LintSeverity::Info));
        out.dtype = prep.options.dtype;
        if (lintOnly || prep.lint.has_errors()) return;
        ExportResult r = export_hf(*prep.model, format, outDir, prep.options, ctx);
        out.out_dir = r.out_dir;
        out.files = r.files;
        out.shards = r.n_shards;
        out.tensors = r.n_tensors;
        out.bytes = r.bytes;
        out.seconds = r.seconds;
    });
    return out;
}

}  // namespace den2moe::bridge
