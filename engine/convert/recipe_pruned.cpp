// Recipes that prune the dense FFN with domain statistics: dive (one expert per domain cluster,
// DIVE-FLAP with the cluster's merged statistics = equal samples per domain, DIVE's "split evenly"),
// dive-random (the same with the domains shuffled among clusters of the same sizes) and flap (one
// cluster of every enabled domain: a dense pruned model at the experts' active width).
// Routers: PyTorch's default init, or domain centroids of the FFN inputs (see ConvertSettings).
#include "convert/recipe.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>
#include <random>

#include "calib/domain_stats.h"
#include "calib/ffn_stats.h"
#include "core/error.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/moe.h"
#include "prune/prune.h"

using nlohmann::json;

namespace den2moe {

at::Tensor default_router_init(int64_t E, int64_t D, uint64_t seed, int il) {
    at::Generator gen = at::detail::createCPUGenerator(seed * 1000003ull + static_cast<uint64_t>(il));
    const double b = 1.0 / std::sqrt(static_cast<double>(D));
    return at::empty({E, D}, at::kFloat).uniform_(-b, b, gen);
}

namespace {

/// Row e = (μ_e − μ̄) / σ²_pooled of the FFN inputs of expert e's calibration tokens (diagonal LDA).
at::Tensor centroid_router(const std::vector<FfnStats>& cluster_stats, int il, int64_t D) {
    std::vector<at::Tensor> mu;
    at::Tensor pooled = at::zeros({D}, at::kDouble);
    for (const auto& cs : cluster_stats) {
        D2M_CHECK(static_cast<int64_t>(cs.inputs.size()) > il, Incompatible,
                  "convert: the cached statistics have no FFN-input moments (written by an older version)",
                  Hint{"delete the project's .den2moe-cache folder; statistics are recomputed once"});
        mu.push_back(cs.inputs[il].mean());
        pooled += cs.inputs[il].variance();
    }
    pooled = pooled / static_cast<double>(cluster_stats.size()) + 1e-6;
    at::Tensor M = at::stack(mu);  // [E, D]
    return ((M - M.mean(0, true)) / pooled).to(at::kFloat);
}

}  // namespace

BuiltExperts build_pruned_experts(const RecipeInput& in, const ProjectClusters& clusters_in) {
    const ConvertSettings& s = in.settings;
    const LlamaModel& m = in.dense;
    const int L = static_cast<int>(m.config().n_layer);
    const int64_t D = m.config().n_embd;
    const at::ScalarType st = m.scalar_type();
    BuiltExperts out;
    ProjectClusters& clusters = out.clusters;
    clusters = clusters_in;
    if (s.recipe == Recipe::Flap) {
        clusters.names = {"all"};
        clusters.members = {in.project.domain_names()};
        clusters.manual = false;
    } else if (s.recipe == Recipe::DiveRandom) {  // same cluster sizes, domains shuffled (seeded)
        std::vector<std::string> all;
        for (const auto& mm : clusters.members) all.insert(all.end(), mm.begin(), mm.end());
        std::mt19937_64 rng(s.seed);
        for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[rng() % i]);
        size_t k = 0;
        for (auto& mm : clusters.members) {
            for (auto& name : mm) name = all[k++];
        }
        clusters.manual = false;
    }
    std::vector<const ProjectDomain*> doms;
    for (const auto& mm : clusters.members) {
        for (const auto& name : mm) doms.push_back(&in.project.domains[static_cast<size_t>(in.project.find_domain(name))]);
    }
    DomainStatsRun dsr = domain_statistics(in.project, doms, m, in.tok, in.model_hash, true, in.ctx);
    out.stats_hits = dsr.hits;
    out.stats_misses = dsr.misses;
    std::map<std::string, const FfnStats*> by_name;
    for (size_t i = 0; i < doms.size(); ++i) by_name[doms[i]->name] = &dsr.stats[i];

    PruneSettings ps = in.project.prune;
    ps.ratio = s.ratio;
    std::vector<std::vector<std::shared_ptr<const SwiGluFfn>>> experts(static_cast<size_t>(L));
    std::vector<FfnStats> cluster_stats;  // per expert, for centroid routers
    out.widths = json::array();
    for (size_t c = 0; c < clusters.members.size(); ++c) {
        in.ctx.check_cancelled();
        std::vector<const FfnStats*> parts;
        for (const auto& name : clusters.members[c]) parts.push_back(by_name.at(name));
        cluster_stats.push_back(merge_stats(parts));
        const FfnStats& merged = cluster_stats.back();
        auto kept = select_channels(m, merged, ps);
        json w = json::array();
        for (int il = 0; il < L; ++il) {
            at::Tensor mean = ps.bias_compensation ? merged.layers[il].mean() : at::Tensor();
            experts[il].push_back(prune_ffn(m.dense_ffn(il), kept[il], mean, st));
            w.push_back(kept[il].size());
        }
        out.widths.push_back(w);
        in.ctx.report("experts", static_cast<int64_t>(c + 1), static_cast<int64_t>(clusters.members.size()));
    }
    if (s.recipe == Recipe::Flap) {
        for (int il = 0; il < L; ++il) out.ffns.push_back(experts[il][0]);
        out.router_init = "none";
        return out;
    }
    const bool centroid = s.router_init == "centroid";
    const int64_t E = static_cast<int64_t>(clusters.members.size());
    for (int il = 0; il < L; ++il) {
        RouterSpec rs;
        rs.weight = centroid ? centroid_router(cluster_stats, il, D) : default_router_init(E, D, s.seed, il);
        rs.top_k = s.top_k;
        out.ffns.push_back(std::make_shared<MoeFfn>(experts[il], rs, nullptr, st));
    }
    out.router_init = centroid ? "centroid" : "random";
    out.router = {{"init", centroid ? "domain centroids (mu_e - mean) / pooled var" : "uniform(-1/sqrt(D), 1/sqrt(D))"},
                  {"bias", false},
                  {"gate", "softmax"},
                  {"softmax", "selected logits"}};
    return out;
}

}  // namespace den2moe
