// CLI `train`: one training stage (DIVE's router / experts / extra; embedding; Den2MoEE's dense and
// sparse phases) on a model folder, data from the project's domains or a pairs file; and `pairs`,
// which writes a pairs file from the bundled train splits. Settings: the stage's reference values
// (apply_stage_defaults), then the project file's "training" section, then the flags
// (train_schema()); everything is validated before any work. Progress: step, loss, LR, tokens/s, ETA.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <map>

#include "cli.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "project/project.h"
#include "train/pairs.h"
#include "train/trainer.h"
#include "train/train_settings.h"
#include "dist/comm.h"

namespace den2moe::cli {

using nlohmann::json;

std::vector<frontend::OptionInfo> train_options() {
    return frontend::join_options({{{"project", "PROJECT", "the project whose domains give the data (required)", false},
                                    {"out", "DIR", "output folder (required)", false},
                                    {"resume", "", "continue the run in DIR from its last checkpoint", true},
                                    {"json", "", "print the result as JSON", true}},
                                   frontend::schema_options(train_schema()), dist_options()});
}

static int train_and_print(const Args& a, const Project& p, const std::string& model_dir, const TrainSettings& s,
                           RunContext& ctx);

int cmd_train(const Args& a, RunContext& ctx) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "train: expected one MOE_DIR argument, got ",
              a.positionals().size(), Hint{"den2moe train MOE_DIR --project P --stage router --out DIR"});
    D2M_CHECK(a.has("project"), InvalidInput, "train: --project PROJECT is required (the training data's domains)");
    D2M_CHECK(a.has("out"), InvalidInput, "train: --out DIR is required");
    const std::string model_dir = a.positionals()[0];
    const std::string project_file = a.get("project");
    Project p = load_project(project_file);

    D2M_CHECK(a.has("stage"), InvalidInput,
              "train: --stage router|experts|extra|embedding|den2moee-dense|den2moee-sparse is required",
              Hint{"DIVE trains the routers first (router), then the experts (experts)"});
    TrainSettings s;
    train_schema().set_text(s, "stage", a.get("stage"));
    apply_stage_defaults(s, model_top_k(model_dir));
    apply_project_training(s, p);
    apply_settings(train_schema(), s, a);
    validate_data_parallel(s, planned_world_size(a));  // before any rank starts

    return run_distributed(a, [&] { return train_and_print(a, p, model_dir, s, ctx); });
}

static int train_and_print(const Args& a, const Project& p, const std::string& model_dir, const TrainSettings& s,
                           RunContext& ctx) {
    const bool quiet = a.has("quiet");
    TrainResult r = run_training(p, model_dir, s, a.get("out"), a.has("resume"), ctx, [quiet](const std::string& m) {
        if (!quiet) std::fprintf(stderr, "\nnote: %s\n", m.c_str());
    });
    if (!dist::world().is_root()) return kOk;  // rank 0 prints the result
    if (a.has("json")) {
        json j = {{"out", r.out_dir},
                  {"stage", s.stage},
                  {"steps", r.steps},
                  {"tokens", r.tokens},
                  {"resumed_from", r.resumed_from},
                  {"seconds", r.seconds},
                  {"held_out_after", r.after.to_json()}};
        if (r.resumed_from < 0) j["held_out_before"] = r.before.to_json();
        std::fputs((dump_json(j, 1) + "\n").c_str(), stdout);
        return kOk;
    }
    std::printf("\nstage %s: %lld steps, %lld tokens in %.1f s -> %s\n", s.stage.c_str(), (long long)r.steps,
                (long long)r.tokens, r.seconds, r.out_dir.c_str());
    const bool have_before = r.resumed_from < 0;
    std::printf("%-18s %12s %12s\n", "held-out ppl", have_before ? "before" : "", "after");
    for (size_t i = 0; i < r.after.domains.size(); ++i) {
        if (have_before)
            std::printf("%-18s %12.3f %12.3f\n", r.after.domains[i].c_str(), std::exp(r.before.loss[i]),
                        std::exp(r.after.loss[i]));
        else
            std::printf("%-18s %12s %12.3f\n", r.after.domains[i].c_str(), "", std::exp(r.after.loss[i]));
    }
    if (have_before)
        std::printf("%-18s %12.3f %12.3f\n", "all (token mean)", std::exp(r.before.mean), std::exp(r.after.mean));
    else
        std::printf("%-18s %12s %12.3f\n", "all (token mean)", "", std::exp(r.after.mean));
    return kOk;
}

// ---- `pairs`: a pairs file from the bundled data's train splits (train/pairs.h) ----

std::vector<frontend::OptionInfo> pairs_options() {
    std::string sources;
    for (const auto& k : pair_sources()) sources += (sources.empty() ? "" : ",") + k.name;
    return {{"out", "FILE", "the pairs file to write (JSON Lines; required)", false},
            {"from", "LIST", "comma-separated sources (default mrpc,sts12,banking77; all: " + sources + ")", false},
            {"max-per-source", "N", "at most N pairs of each source, evenly spread (default 0 = all)", false},
            {"negatives", "N", "banking77: hard negatives per pair (default 1)", false},
            {"seed", "N", "banking77's pairing and negatives (default 42)", false},
            {"json", "", "print the counts as JSON", true}};
}

static int64_t int_flag(const Args& a, const std::string& flag, int64_t dflt, int64_t lo, int64_t hi) {
    if (!a.has(flag)) return dflt;
    const double v = parse_real_text(a.get(flag), "--" + flag);
    D2M_CHECK(v == std::floor(v) && v >= static_cast<double>(lo) && v <= static_cast<double>(hi), InvalidInput, "--",
              flag, " ", a.get(flag), " must be an integer in ", lo, "..", hi);
    return static_cast<int64_t>(v);
}

int cmd_pairs(const Args& a, RunContext&) {
    D2M_CHECK(a.positionals().empty(), InvalidInput, "pairs: no positional argument expected",
              Hint{"den2moe pairs --out pairs.jsonl [--from mrpc,sts12,banking77]"});
    D2M_CHECK(a.has("out") && !a.get("out").empty(), InvalidInput, "pairs: --out FILE is required");
    PairBuildOptions o;
    if (a.has("from")) o.sources = split_list(a.get("from"));
    o.max_per_source = int_flag(a, "max-per-source", 0, 0, int64_t{1} << 40);
    o.negatives = int_flag(a, "negatives", 1, 0, 64);
    o.seed = static_cast<uint64_t>(int_flag(a, "seed", 42, 0, int64_t{1} << 40));
    const std::string shared = find_shared_dir();
    D2M_CHECK(!shared.empty(), InvalidInput, "pairs: the shared data folder is not found",
              Hint{"set D2M_SHARED_DIR to the folder holding data/"});
    const std::vector<TextPair> pairs = build_pairs(shared, o);
    write_pairs(a.get("out"), pairs);
    std::map<std::string, int64_t> per;
    for (const auto& p : pairs) ++per[p.domain];
    if (a.has("json")) {
        json j = {{"out", a.get("out")}, {"pairs", pairs.size()}, {"per_source", per}};
        std::fputs((dump_json(j, 1) + "\n").c_str(), stdout);
    } else {
        for (const auto& kv : per) std::printf("%-10s %6lld pairs\n", kv.first.c_str(), (long long)kv.second);
        std::printf("%-10s %6zu pairs -> %s\n", "all", pairs.size(), a.get("out").c_str());
    }
    return kOk;
}

}  // namespace den2moe::cli
