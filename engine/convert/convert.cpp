// convert_model: validate (plan.h's rules), run the recipe's builder (recipe_*.cpp), assemble
// moe_config.json and the provenance (with who converted, RunContext::client, and when, in UTC: the only
// fields that differ between two front ends' conversions of the same project). Nothing here knows how
// a recipe builds its experts.
#include "convert/convert.h"

#include <chrono>
#include <ctime>

#include "calib/stats_cache.h"
#include "convert/plan.h"
#include "convert/recipe.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "io/hf_config.h"
#include "model/llama.h"

using nlohmann::json;

namespace den2moe {

ConvertResult convert_model(const Project& project, const std::shared_ptr<LlamaModel>& dense, const Tokenizer& tok,
                            const std::string& model_hash, const ProjectClusters& clusters,
                            const ConvertSettings& s, RunContext& ctx) {
    const auto t0 = std::chrono::steady_clock::now();
    const LlamaModel& m = *dense;
    validate_conversion(m.config(), project, clusters, s);
    const ConversionPlan plan = plan_conversion(m.config(), project, clusters, s);
    const RecipeTraits& traits = recipe_traits(s.recipe);
    const RecipeInput in{project, m, tok, model_hash, s, ctx};
    BuiltExperts b;
    switch (s.recipe) {
        case Recipe::Dive:
        case Recipe::DiveRandom:
        case Recipe::Flap: b = build_pruned_experts(in, clusters); break;
        case Recipe::Den2MoEE: b = build_den2moee(in); break;
        case Recipe::Random:
        case Recipe::Upcycle: b = build_split_experts(in); break;
    }
    ConvertResult res;
    res.stats_cache_hits = b.stats_hits;
    res.stats_cache_misses = b.stats_misses;
    res.model = m.with_ffns(std::move(b.ffns));
    res.model->source = m.source;

    const bool moe = traits.makes_moe;
    const int64_t n_experts = plan.n_experts;
    res.moe_config = {{"format", "den2moe-moe-v1"},
                      {"recipe", traits.name},
                      {"num_experts", n_experts},
                      {"top_k", moe ? s.top_k : 0},
                      {"ratio", s.ratio},
                      {"expert_widths", b.widths},
                      {"router", moe ? b.router : json::object()},
                      {"expert_bias", traits.expert_bias && project.prune.bias_compensation},
                      {"base", json::parse(hf_config_to_json(m.config()))}};
    for (auto it = b.extra_config.begin(); it != b.extra_config.end(); ++it) res.moe_config[it.key()] = it.value();

    json doms = json::array();
    for (const auto& mm : b.clusters.members) {
        for (const auto& name : mm) {
            json files = json::array();
            const ProjectDomain& d = project.domains[static_cast<size_t>(project.find_domain(name))];
            for (const auto& f : domain_calib_files(project, d)) files.push_back({{"file", f}, {"fnv1a64", hash_file(f)}});
            doms.push_back({{"name", name}, {"calibration", files}});
        }
    }
    char created[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    res.provenance = {{"tool", "den2moe"},
                      {"client", ctx.client},
                      {"created", created},
                      {"source_model", m.source},
                      {"source_model_hash", model_hash},
                      {"recipe", traits.name},
                      {"num_experts", moe ? n_experts : 1},
                      {"top_k", s.top_k},
                      {"ratio", s.ratio},
                      {"seed", s.seed},
                      {"router_init", b.router_init},
                      {"settings", convert_schema().to_json(s)},
                      {"calibration", {{"samples_per_domain", project.calib.n_samples},
                                       {"seq_len", project.calib.seq_len},
                                       {"seed", project.calib.seed},
                                       {"dtype", compute_dtype_name(m.compute_dtype())},
                                       {"token_weights", s.recipe == Recipe::Den2MoEE ? s.token_weights : "uniform"}}},
                      {"clusters", {{"names", b.clusters.names}, {"members", b.clusters.members}, {"manual", b.clusters.manual}}},
                      {"domains", doms}};
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace den2moe
