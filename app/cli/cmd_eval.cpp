// CLI `eval`: zero-shot multiple-choice accuracy and MTEB-style embedding tasks of one model. Thin:
// flags → TaskEvalSettings through the schema, one engine call (run_task_eval), a table on stdout.
// On several processes (--nproc N, torchrun, srun) the tasks are shared out by the engine; rank 0
// writes the files and prints the table.
#include <nlohmann/json.hpp>

#include <cmath>
#include <optional>
#include <cstdio>

#include "cli.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "dist/comm.h"
#include "eval/results.h"
#include "eval/task_eval.h"
#include "eval/task_registry.h"
#include "eval/task_settings.h"
#include "model/loaded_model.h"
#include "project/project.h"
#include "project/runs.h"

namespace den2moe::cli {

namespace {
std::string pct(double v) {
    if (!std::isfinite(v)) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", 100.0 * v);
    return b;
}
}  // namespace

std::vector<frontend::OptionInfo> eval_options() {
    return frontend::join_options(
        {{{"project", "PROJECT", "take the settings of its \"task_eval\" section (flags override), and its model if no MODEL is given", false},
          {"out", "DIR", "result folder (MTEB layout, summary.json / summary.csv)", false},
          {"cache-dir", "DIR", "result cache (default $D2M_CACHE_DIR/eval or ~/.cache/den2moe/eval)", false},
          {"tokenizer", "PATH", "tokenizer override", false},
          {"list-tasks", "", "list the tasks and groups, then exit", true},
          {"show-prompt", "", "print the prompts the settings produce, then exit", true},
          {"table", "[LABEL=]DIR", "print earlier runs side by side (repeat; markdown); a folder of the Python mteb package's result files is imported (one run per model revision)", false},
          {"json", "", "print the summary as JSON", true}},
         frontend::schema_options(task_eval_schema()), dist_options()});
}

int cmd_eval(const Args& a, RunContext& ctx) {
    if (a.has("list-tasks")) {
        std::fputs(describe_tasks().c_str(), stdout);
        return kOk;
    }
    if (a.has("table")) {  // earlier runs side by side: DIR or LABEL=DIR, repeated; mteb result folders too
        std::vector<std::pair<std::string, EvalSummary>> runs;
        for (const auto& v : a.get_all("table")) {
            const auto eq = v.find('=');
            const std::string dir = eq == std::string::npos ? v : v.substr(eq + 1);
            for (auto& r : read_result_runs(dir, eq == std::string::npos ? v : v.substr(0, eq))) runs.push_back(std::move(r));
        }
        std::fputs(result_table_markdown(result_table(runs)).c_str(), stdout);
        return kOk;
    }
    TaskEvalSettings s;
    std::string model;
    std::optional<Project> project;
    if (a.has("project")) {
        project = load_project(a.get("project"));
        s = project->task_eval;
        model = resolve_project_path(*project, project->model);
    }
    apply_settings(task_eval_schema(), s, a);
    if (a.has("show-prompt")) {
        // with a MODEL (or the project's): --embedding auto resolved from its record, the exact token ids shown
        const std::string m = a.positionals().size() == 1 ? a.positionals()[0] : model;
        std::fputs(describe_prompts(s, find_shared_dir(), m).c_str(), stdout);
        return kOk;
    }
    D2M_CHECK(a.positionals().size() == 1 || (a.positionals().empty() && !model.empty()), InvalidInput,
              "eval: expected one MODEL argument, got ", a.positionals().size(),
              Hint{"den2moe eval MODEL --tasks mteb --out DIR (see --list-tasks), or --project P for its model"});
    if (!a.positionals().empty()) model = a.positionals()[0];
    TaskEvalOutput out;
    out.shared_dir = find_shared_dir();
    out.out_dir = a.get("out");
    out.cache_dir = a.has("cache-dir") ? a.get("cache-dir") : default_eval_cache_dir();
    validate_task_eval(s, EvalModelCaps{}, out.shared_dir);  // tasks and data before loading the model
    D2M_CHECK(planned_world_size(a) == 1 || !s.save_embeddings, InvalidInput,
              "--save-embeddings is not supported on several processes", Hint{"leave out --nproc"});
    {  // --embedding auto: say before the work which embedding the model's record gives (run_task_eval resolves it)
        TaskEvalSettings resolved = s;
        const std::string note = resolve_auto_embedding(resolved, read_recorded_embedding(model));
        if (!note.empty()) std::fprintf(stderr, "%s\n", note.c_str());
    }
    TaskEvalRun run;
    const int rc = run_distributed(a, [&] {
        LoadedModel lm = load_model(model, parse_compute_dtype(s.dtype), a.get("tokenizer"));
        if (dist::world().is_root()) print_warnings(lm.warnings);
        run = run_task_eval(lm, model, s, out, ctx);
        return dist::world().is_root() ? kOk : -1;  // -1: a worker, which prints nothing
    });
    if (rc == -1) return kOk;
    if (rc != kOk || run.summary.tasks.empty()) return rc;  // the --nproc launcher: the workers did the work
    const EvalSummary& sum = run.summary;
    if (project && !out.out_dir.empty())  // one of the project's runs (project/runs.h)
        if (std::string why = record_run(*project, "evaluation", out.out_dir, ctx.client); !why.empty())
            std::fprintf(stderr, "note: %s\n", why.c_str());
    if (a.has("json")) {
        std::fputs((dump_json(sum.to_json(), 1) + "\n").c_str(), stdout);
        return kOk;
    }
    std::printf("%-24s %-18s %-16s %8s %8s %7s %8s\n", "task", "type", "main score", "x100", "chance", "items", "seconds");
    for (const auto& t : sum.tasks)
        std::printf("%-24s %-18s %-16s %8s %8s %7lld %8.1f%s\n", t.task.c_str(), t.type.c_str(),
                    t.main_score_name.c_str(), pct(t.main_score).c_str(), pct(t.chance).c_str(),
                    static_cast<long long>(t.n_items), t.seconds, t.cached ? " (cache)" : "");
    if (std::isfinite(sum.mean_task)) {
        std::printf("%-24s %-18s %-16s %8s\n", "Mean(Task)", "", "", pct(sum.mean_task).c_str());
        for (const auto& kv : sum.mean_by_type)
            std::printf("%-24s %-18s %-16s %8s\n", ("Mean(" + kv.first + ")").c_str(), "", "", pct(kv.second).c_str());
        std::printf("%-24s %-18s %-16s %8s\n", "Mean(TaskType)", "", "", pct(sum.mean_task_type).c_str());
    }
    if (std::isfinite(sum.mean_zeroshot))
        std::printf("%-24s %-18s %-16s %8s\n", "Mean(zero-shot acc)", "", "", pct(sum.mean_zeroshot).c_str());
    for (const auto& t : sum.tasks)
        if (!t.combination.empty()) std::printf("%s: %s\n", t.task.c_str(), t.combination.c_str());
    if (!out.out_dir.empty())
        std::fprintf(stderr, "wrote %zu files under %s (%lld of %zu tasks from the cache %s)\n", run.files.size(),
                     out.out_dir.c_str(), static_cast<long long>(run.cache_hits), sum.tasks.size(), out.cache_dir.c_str());
    return kOk;
}

}  // namespace den2moe::cli
