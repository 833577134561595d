// run_conversion and its validation: see conversion.h.
#include "pipeline/conversion.h"

#include <filesystem>

#include "calib/stats_cache.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "eval/perplexity.h"
#include "io/llama2c.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe_io.h"
#include "project/runs.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

LlamaConfig project_model_config(const Project& p) {
    D2M_CHECK(!p.model.empty(), InvalidInput, "project ", p.file, ": no model given");
    const std::string path = resolve_project_path(p, p.model);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        const fs::path cfg = fs::path(path) / "config.json";
        D2M_CHECK(fs::exists(cfg, ec), InvalidInput, "model ", path, " has no config.json",
                  Hint{"expected a Hugging Face folder or a llama2.c .bin"});
        return load_hf_config(cfg.string());
    }
    if (fs::path(path).filename() == "config.json") return load_hf_config(path);
    return load_llama2c(path).config;
}

void check_project_windows(const Project& p, const LlamaConfig& cfg) {
    check_fits_context(cfg, p.calib.seq_len, "calibration.seq_len (--seq)");
    check_fits_context(cfg, p.eval.seq_len, "evaluation.seq_len (--eval-seq)");
}

ConversionPlan plan_project_conversion(const Project& project, const ProjectClusters& clusters,
                                       const ConvertSettings& settings) {
    return plan_conversion(project_model_config(project), project, clusters, settings);
}

std::string default_conversion_dir(const Project& project, Recipe recipe) {
    return (fs::path(project_cache_dir(project)) / "experts" / recipe_name(recipe)).string();
}

void validate_conversion_job(const Project& project, const ProjectClusters& clusters, const ConvertSettings& s,
                             const std::string& out_dir) {
    D2M_CHECK(!out_dir.empty(), InvalidInput, "convert: no output folder given", Hint{"--out DIR"});
    std::error_code ec;
    D2M_CHECK(!fs::exists(out_dir, ec) || fs::is_directory(out_dir, ec), InvalidInput, "convert: ", out_dir,
              " exists and is not a folder", Hint{"choose another --out"});
    // the project's files and settings; mining's "at least 2 domains" does not apply to every recipe
    std::vector<std::string> problems;
    for (const auto& pr : validate_project(project)) {
        if (pr.rfind("domains: mining needs", 0) != 0) problems.push_back(pr);
    }
    if (!problems.empty()) {
        std::string all;
        for (const auto& pr : problems) all += "\n  - " + pr;
        D2M_FAIL(InvalidInput, "project ", project.file, " is not ready to convert:", all);
    }
    const LlamaConfig cfg = project_model_config(project);
    check_project_windows(project, cfg);
    validate_conversion(cfg, project, clusters, s);
}

ExpertLoad project_expert_load(const Project& p, const LlamaModel& model, const Tokenizer& tok) {
    std::vector<std::string> names;
    std::vector<CorpusSpec> corpora;
    for (const auto& d : p.domains) {
        if (!d.enabled) continue;
        names.push_back(d.name);
        corpora.push_back(domain_eval_corpus(p, d));
    }
    return expert_load(model, tok, names, corpora, p.eval.n_windows * p.eval.seq_len, p.eval.seq_len, p.eval.batch);
}

ConversionRun run_conversion(const Project& p, const ProjectClusters& clusters, const ConvertSettings& settings,
                             const std::string& out_dir, RunContext& ctx) {
    validate_conversion_job(p, clusters, settings, out_dir);
    ConversionRun run;
    run.out_dir = out_dir;
    const std::string model_path = resolve_project_path(p, p.model);
    ctx.report("load", 0, 1, "loading the dense model");
    LoadedModel lm = load_model(model_path, parse_compute_dtype(p.dtype),
                                p.tokenizer.empty() ? std::string() : resolve_project_path(p, p.tokenizer));
    run.dense = lm.model;
    run.tokenizer = lm.tokenizer;
    run.tokenizer_path = lm.tokenizer_path;
    run.model_hash = hash_model(model_path, lm.tokenizer_path);
    ctx.report("load", 1, 1, "loading the dense model");
    run.result = convert_model(p, lm.model, *lm.tokenizer, run.model_hash, clusters, settings, ctx);
    const ConvertResult& r = run.result;
    const char* recipe = recipe_name(settings.recipe);
    json j = {{"recipe", recipe},
              {"out", out_dir},
              {"seconds", r.seconds},
              {"params_total", r.model->n_params()},
              {"params_active", r.model->n_active_params()},
              {"params_dense", lm.model->n_params()}};
    if (settings.evaluate) {
        PplOptions po;
        po.seq = p.eval.seq_len;
        po.batch = p.eval.batch;
        std::vector<const ProjectDomain*> doms;
        for (const auto& d : p.domains) {
            if (d.enabled) doms.push_back(&d);
        }
        json rows = json::array();
        RunContext quiet = ctx.quiet();
        const int64_t nd = static_cast<int64_t>(doms.size());
        for (int64_t i = 0; i < nd; ++i) {
            const ProjectDomain& d = *doms[static_cast<size_t>(i)];
            ctx.check_cancelled();
            ctx.report("evaluation", i, nd, d.name);
            std::vector<int> stream =
                tokenize_stream(*lm.tokenizer, read_records(domain_eval_corpus(p, d)), p.eval.n_windows * p.eval.seq_len);
            const double pd = perplexity(*lm.model, stream, po, quiet).ppl();
            const double pm = perplexity(*r.model, stream, po, quiet).ppl();
            run.ppl.push_back({d.name, pd, pm});
            rows.push_back({{"domain", d.name}, {"dense", pd}, {recipe, pm}});
        }
        ctx.report("evaluation", nd, nd);
        j["ppl"] = rows;
        if (r.moe_config.value("num_experts", 0) > 0) {
            ctx.check_cancelled();
            ctx.report("expert load", 0, 1);
            run.load = project_expert_load(p, *r.model, *lm.tokenizer);
            ctx.report("expert load", 1, 1);
            j["expert_load"] = {{"domains", run.load.domains}, {"moe_layers", run.load.moe_layers},
                                {"n_experts", run.load.n_experts}, {"share", run.load.share}};
        }
    }
    run.eval = j;
    // the folder appears whole: model + configs (+ eval.json) renamed into place together
    ctx.check_cancelled();
    ctx.report("save", 0, 1, out_dir);
    std::map<std::string, std::string> extra;
    if (settings.evaluate) extra["eval.json"] = dump_json(j, 1) + "\n";
    save_moe_native(*r.model, r.moe_config, r.provenance, out_dir, lm.tokenizer_path, extra);
    // the project's run index (runs.h); a failure to record is said, never fatal
    const std::string unrecorded = record_run(p, "conversion", out_dir, ctx.client);
    ctx.report("save", 1, 1, unrecorded.empty() ? out_dir : out_dir + " (" + unrecorded + ")");
    return run;
}

}  // namespace den2moe
