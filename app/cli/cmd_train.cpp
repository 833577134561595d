// CLI `train`: one recovery-training stage (DIVE's router / experts / extra) on a converted model
// folder, data from the project's domains. Settings: the stage's reference values
// (apply_stage_defaults), then the project file's "training" section, then the flags
// (train_schema()); everything is validated before any work. Progress: step, loss, LR, tokens/s, ETA.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "cli.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "project/project.h"
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

    D2M_CHECK(a.has("stage"), InvalidInput, "train: --stage router|experts|extra is required",
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

}  // namespace den2moe::cli
