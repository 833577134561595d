// The conversion step's settings and the recipe registry: every recipe, what it needs, which settings
// apply to it and its own defaults, defined once here. The CLI, the app's Experts panel and its
// headless form enumerate recipes() and read convert_schema(); no recipe name or default lives in app/.
// Torch-free and Qt-free (the GUI includes it directly); the project file's section "conversion".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/settings.h"

namespace den2moe {

enum class Recipe {
    Dive,        ///< one expert per domain cluster, DIVE-FLAP pruned with the cluster's statistics
    Den2MoEE,    ///< no pruning: neurons split by balanced spherical k-means, shared + routed + null experts
    DiveRandom,  ///< DIVE with clusters of the same sizes drawn at random (the D.A.M. ablation)
    Random,      ///< LLaMA-MoE's random disjoint neuron split
    Upcycle,     ///< E copies of the dense FFN (sparse upcycling)
    Flap,        ///< FLAP-only dense pruning at the same active width (a dense model)
};

struct ConvertSettings {
    Recipe recipe = Recipe::Dive;
    int64_t n_experts = 8;  ///< random / upcycle; den2moee: K neuron clusters; dive uses the number of clusters
    int64_t top_k = 1;
    double ratio = 0.5;     ///< pruning ratio per expert (dive, dive-random, flap): active width = (1 − r)·F
    uint64_t seed = 42;
    /// "centroid": row e = (μ_e − μ̄) / σ², the mean FFN input of expert e's calibration tokens minus the
    /// mean over experts, per channel divided by the pooled variance (a diagonal-LDA direction), so a
    /// token goes to the expert whose domains it resembles before any router training. "random":
    /// U(−1/√D, 1/√D), DIVE's released initialisation (dive / dive-random; the others have their own).
    std::string router_init = "centroid";
    // den2moee (n_experts = K clusters, shared + routed)
    double shared_ratio = 0.25;  ///< ⌊K·r⌋ clusters become the shared expert
    int64_t null_experts = 1;    ///< zero-output experts in the routing pool
    double prior_scale = 1.0;    ///< α of the prototype prior (1 = the trained model's inference value)
    bool router_dense = false;   ///< every expert active (the router-training phase), else top-k
    /// den2moee: how the calibration tokens weigh in the neuron profiles. "uniform": τ = 1 over
    /// language-model windows (the default; LM windows have no pooled token). "tokenscore": each
    /// calibration record is one sequence (BOS text EOS) and τ_t = ½(SCS + RSS) (calib/token_score.h,
    /// shared/docs/DEN2MOEE.md §2.2), for embedding models pooled at the final token.
    std::string token_weights = "uniform";
    int64_t ts_span = 64;         ///< tokenscore: span length of the SCS
    int64_t ts_ngram = 8;         ///< tokenscore: masked window length of the RSS
    int64_t ts_stride = 4;        ///< tokenscore: stride between masked windows
    int64_t ts_mask_id = 0;       ///< tokenscore: the id written over a masked window (the release's 0)
    int64_t ts_max_windows = 0;   ///< tokenscore: at most this many masked re-encodings per sample (0 = all)
    bool evaluate = true;        ///< per-domain perplexity dense vs converted + expert load after converting
};

struct RecipeTraits {
    Recipe recipe;
    const char* name;     ///< as written in project files and on the command line
    const char* title;    ///< display name
    const char* summary;  ///< one line
    bool needs_clusters;  ///< a domain-cluster assignment is required (dive)
    bool uses_clusters;   ///< reads the cluster sizes / domains (dive, dive-random)
    bool uses_statistics; ///< cached per-domain FLAP statistics
    bool prunes;          ///< `ratio` applies
    bool makes_moe;       ///< false: a pruned dense model (flap)
    bool expert_bias;     ///< experts carry FLAP's compensation bias
    std::vector<std::string> settings;  ///< the convert_schema() keys that apply
    int64_t default_top_k;
};

/// Every recipe, in the order front ends list them.
inline const std::vector<RecipeTraits>& recipes() {
    static const std::vector<RecipeTraits> r = {
        {Recipe::Dive, "dive", "DIVE", "one expert per domain cluster, FLAP-pruned with the cluster's calibration statistics",
         true, true, true, true, true, true, {"experts_from_clusters", "top_k", "ratio", "seed", "router_init", "evaluate"}, 1},
        {Recipe::Den2MoEE, "den2moee", "Den2MoEE",
         "no pruning: neurons split by balanced spherical k-means of their domain profiles; shared, routed and null experts",
         false, false, true, false, true, false,
         {"n_experts", "top_k", "seed", "shared_ratio", "null_experts", "prior_scale", "router_dense", "token_weights",
          "ts_span", "ts_ngram", "ts_stride", "ts_mask_id", "ts_max_windows", "evaluate"}, 2},
        {Recipe::DiveRandom, "dive-random", "DIVE, random clusters",
         "DIVE with clusters of the same sizes drawn at random (the domain-affinity ablation)", true, true, true, true,
         true, true, {"experts_from_clusters", "top_k", "ratio", "seed", "router_init", "evaluate"}, 1},
        {Recipe::Random, "random", "Random split (LLaMA-MoE)", "the FFN neurons shuffled into E equal disjoint experts",
         false, false, false, false, true, false, {"n_experts", "top_k", "seed", "evaluate"}, 1},
        {Recipe::Upcycle, "upcycle", "Upcycling", "E copies of the dense FFN (sparse upcycling)", false, false, false,
         false, true, false, {"n_experts", "top_k", "seed", "evaluate"}, 1},
        {Recipe::Flap, "flap", "FLAP only (dense)", "one FLAP-pruned dense FFN at the same active width", false, false,
         true, true, false, true, {"ratio", "evaluate"}, 0},
    };
    return r;
}

inline const RecipeTraits& recipe_traits(Recipe r) {
    for (const auto& t : recipes()) {
        if (t.recipe == r) return t;
    }
    D2M_FAIL(Internal, "recipe ", static_cast<int>(r), " has no traits");
}
inline const char* recipe_name(Recipe r) { return recipe_traits(r).name; }
/// By name; throws Error(InvalidInput) listing the recipes.
inline Recipe parse_recipe(const std::string& name) {
    std::string all;
    for (const auto& t : recipes()) {
        if (name == t.name) return t.recipe;
        all += (all.empty() ? "" : ", ") + std::string(t.name);
    }
    D2M_FAIL(InvalidInput, "unknown recipe '", name, "'", Hint{"recipes: " + all});
}
/// True when setting `key` of convert_schema() applies to recipe `r` ("n_experts" of dive comes from
/// the clusters: listed as "experts_from_clusters").
inline bool recipe_uses(Recipe r, const std::string& key) {
    for (const auto& k : recipe_traits(r).settings) {
        if (k == key) return true;
    }
    return false;
}
/// Switch `s` to recipe `r` with the recipe's own defaults (top-k: 2 for den2moee, else 1). Front ends
/// call it when the user picks a recipe, before applying the settings the user gave explicitly.
inline void set_recipe(ConvertSettings& s, Recipe r) {
    if (s.recipe == r) return;
    s.recipe = r;
    const RecipeTraits& t = recipe_traits(r);
    if (t.default_top_k > 0) s.top_k = t.default_top_k;
}

inline const Schema<ConvertSettings>& convert_schema() {
    static const Schema<ConvertSettings> s = [] {
        std::vector<std::pair<Recipe, std::string>> names;
        for (const auto& t : recipes()) names.emplace_back(t.recipe, t.name);
        Schema<ConvertSettings> sc("conversion");
        sc.enumeration("recipe", &ConvertSettings::recipe, names, "how the experts are built")
            .integer("n_experts", &ConvertSettings::n_experts,
                     "experts (random, upcycle) or neuron clusters (den2moee); dive: one per domain cluster", 1, 1024,
                     "experts")
            .integer("top_k", &ConvertSettings::top_k, "experts per token", 1, 1024)
            .real("ratio", &ConvertSettings::ratio, "FFN channels pruned per expert (dive, flap)", 0.0, 1.0, false, true)
            .integer("seed", &ConvertSettings::seed, "seed of random choices (splits, routers, k-means)", 0)
            .choice("router_init", &ConvertSettings::router_init, {"centroid", "random"},
                    "router initialisation of dive / dive-random")
            .real("shared_ratio", &ConvertSettings::shared_ratio, "den2moee: share of clusters merged into the shared expert",
                  0.0, 1.0, false, true)
            .integer("null_experts", &ConvertSettings::null_experts, "den2moee: zero-output experts in the pool", 0, 64)
            .real("prior_scale", &ConvertSettings::prior_scale, "den2moee: alpha of the prototype prior", 0.0, 100.0)
            .flag("router_dense", &ConvertSettings::router_dense, "den2moee: every expert active (router-training phase)",
                  "dense-router")
            .choice("token_weights", &ConvertSettings::token_weights, {"uniform", "tokenscore"},
                    "den2moee: token weights of the neuron profiles (tokenscore: embedding models)")
            .integer("ts_span", &ConvertSettings::ts_span, "den2moee tokenscore: SCS span length", 1, 1 << 20,
                     "ts-span")
            .integer("ts_ngram", &ConvertSettings::ts_ngram, "den2moee tokenscore: RSS masked window length", 1,
                     1 << 20, "ts-ngram")
            .integer("ts_stride", &ConvertSettings::ts_stride, "den2moee tokenscore: RSS window stride", 1, 1 << 20,
                     "ts-stride")
            .integer("ts_mask_id", &ConvertSettings::ts_mask_id,
                     "den2moee tokenscore: token id written over masked windows (0: <unk> of Llama tokenizers, "
                     "'!' of Qwen's, as in the release)", 0, 1e9, "ts-mask-id")
            .integer("ts_max_windows", &ConvertSettings::ts_max_windows,
                     "den2moee tokenscore: cap on masked re-encodings per sample (0 = all)", 0, 1e9, "ts-max-windows")
            .flag("evaluate", &ConvertSettings::evaluate,
                  "per-domain perplexity of dense vs converted and the expert load, written to eval.json", "eval");
        return sc;
    }();
    return s;
}

}  // namespace den2moe
