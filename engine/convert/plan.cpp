// plan_conversion: the sizes and rules of every recipe, from the config alone (see plan.h).
// Parameter counts follow the model's own accounting: total = every stored tensor
// (LlamaModel::n_params), active = the trunk plus what one token's FFN pass reads
// (FeedForward::n_active_params: router rows, the k widest experts, the shared expert).
#include "convert/plan.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "project/project.h"

namespace den2moe {

int64_t trunk_params(const LlamaConfig& c) {
    const int64_t D = c.n_embd;
    const int64_t dh = c.head_dim > 0 ? c.head_dim : (c.n_head > 0 ? D / c.n_head : 0);
    const int64_t q = c.n_head * dh;
    const int64_t kv = (c.n_head_kv > 0 ? c.n_head_kv : c.n_head) * dh;
    const int64_t per_layer = D * q + 2 * D * kv + q * D + 2 * D;  // q, k, v, o, two norms
    return c.vocab_size * D * (c.tie_word_embeddings ? 1 : 2) + D + c.n_layer * per_layer;
}

namespace {

int64_t swiglu_params(int64_t D, int64_t width, bool bias) { return 3 * D * width + (bias ? D : 0); }

struct Checker {
    ConversionPlan& plan;
    void fail(std::string what, std::string hint = {}) {
        plan.errors.push_back(std::move(what));
        plan.hints.push_back(std::move(hint));
    }
};

}  // namespace

ConversionPlan plan_conversion(const LlamaConfig& cfg, const Project& project, const ProjectClusters& clusters,
                               const ConvertSettings& s) {
    ConversionPlan plan;
    plan.recipe = s.recipe;
    Checker check{plan};
    const RecipeTraits& t = recipe_traits(s.recipe);
    for (const auto& p : convert_schema().problems(s, "conversion.")) check.fail(p);

    const int64_t D = cfg.n_embd, F = cfg.n_ff, L = cfg.n_layer;
    const int64_t trunk = trunk_params(cfg);
    const int64_t embedding = cfg.vocab_size * D;  // a lookup, no matmul
    auto flops = [&](int64_t params) { return 2 * (params - (cfg.tie_word_embeddings ? 0 : embedding)); };
    plan.dense_params = trunk + L * swiglu_params(D, F, false);
    plan.dense_flops = flops(plan.dense_params);
    plan.expert_bias = t.expert_bias && project.prune.bias_compensation;

    // the routed experts' widths and (dive) domains
    const int64_t pruned_width = F - static_cast<int64_t>(std::floor(static_cast<double>(F) * s.ratio));
    int64_t n_shared_width = 0;
    if (t.uses_clusters) {
        if (clusters.members.empty()) {
            check.fail(str("conversion: the ", t.name, " recipe needs a cluster assignment"),
                       "run mining and cut the dendrogram (den2moe cluster DIR --clusters K), then pass "
                       "--clusters DIR/clusters.json, or save clusters in the project");
        }
        std::set<std::string> seen;
        for (size_t c = 0; c < clusters.members.size(); ++c) {
            const auto& members = clusters.members[c];
            if (members.empty()) check.fail(str("conversion: cluster ", c + 1, " is empty; an empty cluster cannot make an expert"));
            for (const auto& name : members) {
                if (project.find_domain(name) < 0)
                    check.fail(str("conversion: cluster domain '", name, "' is not in the project"),
                               "was the clusters file written for another project?");
                else if (!seen.insert(name).second)
                    check.fail(str("conversion: domain '", name, "' is in two clusters"));
            }
            ExpertPlan e;
            e.expert = static_cast<int>(c);
            if (s.recipe == Recipe::Dive) e.domains = members;
            e.width = pruned_width;
            plan.experts.push_back(e);
        }
    } else if (s.recipe == Recipe::Flap) {
        plan.experts.push_back(ExpertPlan{0, {}, pruned_width});
    } else if (s.recipe == Recipe::Den2MoEE) {
        const int64_t K = s.n_experts;
        int enabled = 0;
        for (const auto& d : project.domains) enabled += d.enabled ? 1 : 0;
        if (enabled < 2)
            check.fail(str("conversion: den2moee profiles neurons over domains; found ", enabled, " enabled"),
                       "enable at least 2 domains in the project");
        if (K < 2 || F % K != 0)
            check.fail(str("conversion: den2moee needs K >= 2 clusters dividing F = ", F, ", found K = ", K),
                       "pick --experts among the divisors of the FFN width");
        const int64_t W = K > 0 ? F / K : 0;
        const int64_t n_shared = static_cast<int64_t>(std::floor(static_cast<double>(K) * s.shared_ratio + 1e-9));
        const int64_t R = K - n_shared;
        if (R < 1) check.fail("conversion: den2moee has no routed expert left", "lower --shared-ratio");
        if (s.token_weights == "tokenscore") {
            if (s.ts_mask_id >= cfg.vocab_size)
                check.fail(str("conversion: the TokenScore mask id ", s.ts_mask_id, " is outside the vocabulary [0, ",
                               cfg.vocab_size, ")"),
                           "pass --ts-mask-id with an id of this model's tokenizer");
            if (s.ts_ngram > s.ts_span)
                check.fail(str("conversion: the TokenScore window (--ts-ngram ", s.ts_ngram, ") is longer than a span (--ts-span ",
                               s.ts_span, ")"),
                           "masked windows live inside a span: lower --ts-ngram or raise --ts-span");
            if (s.ts_stride > s.ts_ngram)
                check.fail(str("conversion: the TokenScore stride ", s.ts_stride, " is longer than a window (", s.ts_ngram,
                               "): tokens between windows would get no RSS"),
                           "lower --ts-stride to at most --ts-ngram");
        }
        n_shared_width = n_shared * W;
        if (n_shared_width > 0) plan.experts.push_back(ExpertPlan{-1, {"shared, always on"}, n_shared_width});
        for (int64_t e = 0; e < std::max<int64_t>(R, 0); ++e) plan.experts.push_back(ExpertPlan{static_cast<int>(e), {}, W});
        plan.n_null = s.null_experts;
    } else {  // random, upcycle
        const bool split = s.recipe == Recipe::Random;
        if (split && (s.n_experts < 1 || F % s.n_experts != 0))
            check.fail(str("conversion: the random split needs E dividing F = ", F, ", found E = ", s.n_experts),
                       "pick --experts among the divisors of the FFN width");
        const int64_t w = split ? (s.n_experts > 0 ? F / s.n_experts : 0) : F;
        for (int64_t e = 0; e < std::max<int64_t>(s.n_experts, 0); ++e) plan.experts.push_back(ExpertPlan{static_cast<int>(e), {}, w});
    }

    if (!t.makes_moe) {  // flap: one pruned dense FFN
        plan.total_params = plan.active_params = trunk + L * swiglu_params(D, pruned_width, plan.expert_bias);
        plan.active_flops = flops(plan.active_params);
        return plan;
    }
    std::vector<int64_t> routed;  // parameters of each routed expert
    for (const auto& e : plan.experts) {
        if (e.expert >= 0) routed.push_back(swiglu_params(D, e.width, plan.expert_bias));
    }
    plan.n_experts = static_cast<int64_t>(routed.size());
    plan.top_k = s.top_k;
    const int64_t slots = plan.n_experts + plan.n_null;
    if (plan.n_experts > 0 && (s.top_k < 1 || s.top_k > slots))
        check.fail(str("conversion: top-k ", s.top_k, " must be in [1, ", slots, "] (", slots, " experts to choose from)"));
    const int64_t shared = n_shared_width > 0 ? swiglu_params(D, n_shared_width, false) : 0;
    // stored router tensors: weight [E, D]; den2moee adds the prior [E, D], the null rows [N, D] and the
    // selection bias [E]. What a token reads: the logit rows [E + N, D] (the prior is folded in).
    const int64_t E = plan.n_experts;
    const bool d2e = s.recipe == Recipe::Den2MoEE;
    const int64_t router_stored = E * D + (d2e ? E * D + plan.n_null * D + E : 0);
    const int64_t router_active = (E + plan.n_null) * D;
    int64_t all = 0;
    for (int64_t p : routed) all += p;
    std::sort(routed.rbegin(), routed.rend());
    const int64_t k = s.router_dense ? E : std::min<int64_t>(std::max<int64_t>(s.top_k, 0), E);
    int64_t active = 0;
    for (int64_t i = 0; i < k; ++i) active += routed[static_cast<size_t>(i)];
    plan.total_params = trunk + L * (router_stored + all + shared);
    plan.active_params = trunk + L * (router_active + active + shared);
    plan.active_flops = flops(plan.active_params);
    return plan;
}

void validate_conversion(const LlamaConfig& cfg, const Project& project, const ProjectClusters& clusters,
                         const ConvertSettings& s) {
    const ConversionPlan plan = plan_conversion(cfg, project, clusters, s);
    if (plan.ok()) return;
    std::string more;
    if (plan.errors.size() > 1) more = str(" (and ", plan.errors.size() - 1, " more problem", plan.errors.size() > 2 ? "s" : "", ")");
    D2M_FAIL(InvalidInput, plan.errors.front(), more, Hint{plan.hints.front()});
}

}  // namespace den2moe
