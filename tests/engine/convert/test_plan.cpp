// The conversion plan (convert/plan.h) against the models the recipes really build: for every recipe,
// the planned total parameters equal LlamaModel::n_params() of the converted model and the planned
// active parameters equal n_active_params(), on the demo model; and the plan's rules are the errors
// convert_model throws. Also the recipe registry itself: names round-trip, per-recipe defaults.
#include <ATen/ATen.h>

#include <cstdio>

#include "support/check.h"
#include "support/demo_project.h"

#include "convert/convert.h"
#include "convert/plan.h"
#include "core/error.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "project/project.h"

using namespace den2moe;

namespace {

ProjectClusters two_clusters() {
    ProjectClusters cl;
    cl.names = {"math", "prose"};
    cl.members = {{"gsm8k", "mmlu_stem"}, {"wiki", "stories", "news"}};
    return cl;
}

}  // namespace

TEST(registry_names_round_trip_and_recipe_defaults) {
    CHECK_EQ(recipes().size(), size_t{6});
    for (const auto& t : recipes()) {
        CHECK(parse_recipe(t.name) == t.recipe);
        CHECK(std::string(recipe_name(t.recipe)) == t.name);
        for (const auto& k : t.settings) {
            CHECK(k == "experts_from_clusters" || convert_schema().find(k) != nullptr);
        }
    }
    CHECK_THROWS_WITH(parse_recipe("den2moe"), "recipes: dive, den2moee, dive-random, random, upcycle, flap");
    ConvertSettings s;
    CHECK(s.recipe == Recipe::Dive);
    CHECK_EQ(s.top_k, 1);
    set_recipe(s, Recipe::Den2MoEE);
    CHECK_EQ(s.top_k, 2);  // den2moee routes top-2 by default (DEN2MOEE.md)
    set_recipe(s, Recipe::Random);
    CHECK_EQ(s.top_k, 1);
    // the schema writes and reads every field; a bad value names the key
    ConvertSettings back;
    convert_schema().read_json(back, convert_schema().to_json(s), "test: conversion.");
    CHECK(convert_schema().to_json(back) == convert_schema().to_json(s));
    CHECK_THROWS_WITH(convert_schema().read_json(back, nlohmann::json::parse(R"({"top_k": 0})"), "p: conversion."),
                      "p: conversion.top_k = 0 is out of range (expected 1 <= x <= 1024)");
    CHECK_THROWS_WITH(convert_schema().read_json(back, nlohmann::json::parse(R"({"recipe": "moe"})"), "p: conversion."),
                      "must be one of dive, den2moee, dive-random, random, upcycle, flap");
}

TEST(plan_equals_the_converted_models_parameters_for_every_recipe) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    Project p = d2m_test::tiny_demo_project();
    const LlamaConfig& cfg = lm.model->config();
    CHECK_EQ(trunk_params(cfg) + cfg.n_layer * 3 * cfg.n_embd * cfg.n_ff, lm.model->n_params());
    for (const auto& t : recipes()) {
        for (int64_t k : {int64_t(1), int64_t(2)}) {
            ConvertSettings s;
            set_recipe(s, t.recipe);
            s.n_experts = t.recipe == Recipe::Den2MoEE ? 8 : 4;
            if (t.makes_moe) s.top_k = k;
            else if (k == 2) continue;
            const ProjectClusters cl = two_clusters();
            const ConversionPlan plan = plan_conversion(cfg, p, cl, s);
            CHECK(plan.ok());
            ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, "h", cl, s, null_context());
            std::printf("%-12s top-%lld: plan total %lld active %lld | model %lld / %lld\n", t.name, (long long)s.top_k,
                        (long long)plan.total_params, (long long)plan.active_params, (long long)r.model->n_params(),
                        (long long)r.model->n_active_params());
            CHECK_EQ(plan.total_params, r.model->n_params());
            CHECK_EQ(plan.active_params, r.model->n_active_params());
            CHECK_EQ(plan.n_experts, r.moe_config["num_experts"].get<int64_t>());
        }
    }
}

TEST(plan_rules_are_the_conversion_errors) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    Project p = d2m_test::tiny_demo_project();
    const LlamaConfig& cfg = lm.model->config();  // F = 768
    auto expect = [&](ConvertSettings s, const ProjectClusters& cl, const char* msg) {
        const ConversionPlan plan = plan_conversion(cfg, p, cl, s);
        CHECK(!plan.ok());
        CHECK_THROWS_WITH(validate_conversion(cfg, p, cl, s), msg);
        CHECK_THROWS_WITH(convert_model(p, lm.model, *lm.tokenizer, "h", cl, s, null_context()), msg);
    };
    ConvertSettings s;
    expect(s, {}, "the dive recipe needs a cluster assignment");
    ProjectClusters cl = two_clusters();
    cl.members[1].push_back("gsm8k");
    expect(s, cl, "domain 'gsm8k' is in two clusters");
    cl = two_clusters();
    cl.members[0].push_back("nonesuch");
    expect(s, cl, "cluster domain 'nonesuch' is not in the project");
    s.top_k = 3;
    expect(s, two_clusters(), "top-k 3 must be in [1, 2]");
    set_recipe(s, Recipe::Random);
    s.n_experts = 7;
    expect(s, {}, "the random split needs E dividing F = 768, found E = 7");
    set_recipe(s, Recipe::Den2MoEE);
    s.n_experts = 5;
    expect(s, {}, "den2moee needs K >= 2 clusters dividing F = 768, found K = 5");
    s.n_experts = 8;
    s.top_k = 8;  // 6 routed + 1 null
    expect(s, {}, "top-k 8 must be in [1, 7]");
}

D2M_TEST_MAIN()
