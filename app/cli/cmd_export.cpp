// CLI `export`: a converted MoE folder -> a standard Hugging Face folder (Mixtral / Qwen2-MoE).
// Prints the lint report first (stdout; --json for the machine-readable document), exits 1 on
// lint errors, then writes the folder atomically (engine/export/hf_export.h). --peft-adapter DIR also
// writes a training run's LoRA, unmerged, as a PEFT adapter folder (engine/export/peft_adapter.h),
// before the export (its refusals come first); with --handoff torchrun|deepspeed and --project, also
// its handoff/ bundle (engine/pipeline/handoff.h), whose settings are checked before the export starts.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include "cli.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "export/hf_export.h"
#include "export/peft_adapter.h"
#include "pipeline/handoff.h"
#include "project/project.h"
#include "project/runs.h"
#include "train/trainer.h"

namespace den2moe::cli {

using nlohmann::json;


std::vector<frontend::OptionInfo> export_cmd_options() {
    return frontend::join_options({frontend::export_options(),
                                   {{"json", "", "print the lint report (and the export's files) as JSON", true},
                                    {"peft-adapter", "DIR",
                                     "MOE_DIR is a `den2moe train` folder: also write its LoRA, unmerged, as a PEFT "
                                     "adapter folder for the export of the run's source model",
                                     false},
                                    {"project", "PROJECT", "the project whose domains the --handoff bundle trains on", false}}});
}

int cmd_export(const Args& a, RunContext& ctx) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "export: expected one MOE_DIR argument, got ",
              a.positionals().size(), Hint{"den2moe export MOE_DIR --format mixtral --out DIR"});
    D2M_CHECK(a.has("out") || a.has("lint-only"), InvalidInput, "export: --out DIR is required (or --lint-only)");
    const std::string path = a.positionals()[0];
    const ExportSettings settings = frontend::export_settings(ExportSettings{}, a);
    const std::string format = settings.format;
    ExportOptions opt;
    static_cast<ExportSettings&>(opt) = settings;
    std::unique_ptr<Project> project;
    if (a.has("project")) project = std::make_unique<Project>(load_project(a.get("project")));
    if (settings.handoff != "none") validate_handoff(project.get(), settings, model_top_k(path));
    PreparedExport prep = prepare_export(path, format, opt, settings.dtype, a.get("tokenizer"));
    const ExportLint& lint = prep.lint;
    opt = prep.options;
    json doc = {{"model", path}, {"format", format}, {"lint", lint.to_json()}};
    if (!a.has("json")) std::fputs(lint.to_text().c_str(), stdout);
    if (lint.has_errors() || a.has("lint-only")) {
        if (a.has("json")) std::fputs((dump_json(doc, 1) + "\n").c_str(), stdout);
        if (lint.has_errors() && !a.has("json"))
            std::fprintf(stderr, "export refused: %lld lint error(s); nothing was written\n",
                         (long long)lint.count(LintSeverity::Error));
        return lint.has_errors() ? kUserError : kOk;
    }
    if (a.has("peft-adapter")) {
        const PeftAdapterResult pa = write_peft_adapter(*prep.model, path, format, a.get("peft-adapter"), ctx);
        doc["peft_adapter"] = {{"out", pa.out_dir}, {"r", pa.rank}, {"lora_alpha", pa.alpha},
                               {"target_modules", pa.target_modules}, {"step", pa.train_step}};
        if (!a.has("json"))
            std::printf("\nPEFT adapter -> %s (r %lld, alpha %g, %zu modules, step %lld)\n", pa.out_dir.c_str(),
                        (long long)pa.rank, pa.alpha, pa.target_modules.size(), (long long)pa.train_step);
    }
    ExportResult r = export_hf(*prep.model, format, a.get("out"), opt, ctx);
    doc["export"] = {{"out", r.out_dir},          {"files", r.files},   {"shards", r.n_shards},
                     {"tensors", r.n_tensors},    {"bytes", r.bytes},   {"seconds", r.seconds},
                     {"dtype", opt.dtype}};
    if (project)  // one of the project's runs (project/runs.h)
        if (std::string why = record_run(*project, "export", r.out_dir, ctx.client); !why.empty())
            std::fprintf(stderr, "note: %s\n", why.c_str());
    HandoffResult h;
    if (settings.handoff != "none") {
        h = write_handoff(r.out_dir, *project, settings, ctx);
        doc["handoff"] = {{"dir", h.dir}, {"files", h.files}, {"data_files", h.data_files}, {"data_bytes", h.data_bytes}};
    }
    if (a.has("json")) {
        std::fputs((dump_json(doc, 1) + "\n").c_str(), stdout);
    } else {
        std::printf("\nexported %s -> %s (%s, %lld tensors, %.1f MB in %lld shard%s, %.2f s)\n", path.c_str(),
                    r.out_dir.c_str(), opt.dtype.c_str(), (long long)r.n_tensors, r.bytes / 1e6,
                    (long long)r.n_shards, r.n_shards == 1 ? "" : "s", r.seconds);
        for (const auto& f : r.files) std::printf("  %s\n", f.c_str());
        if (!h.dir.empty()) {
            std::printf("hand-off bundle (%s) -> %s (%lld data files, %.1f MB hashed)\n", settings.handoff.c_str(),
                        h.dir.c_str(), (long long)h.data_files, h.data_bytes / 1e6);
            for (const auto& f : h.files) std::printf("  handoff/%s\n", f.c_str());
        }
    }
    return kOk;
}

}  // namespace den2moe::cli
