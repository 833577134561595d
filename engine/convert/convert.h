// Expert construction (issue 5, first recipes): dense model + cached per-domain statistics +
// a cluster assignment -> an MoE model whose FFNs are MoeFfn blocks.
//   dive         one expert per cluster: DIVE-FLAP pruning (uniform ratio, WIFV, bias compensation)
//                with the cluster's statistics = the merged moments of its domains' calibration sets
//                (equal samples per domain: DIVE's "split evenly"), top-k routing
//   dive-random  the same with clusters drawn at random (same sizes as the given ones; the ablation)
//   random       LLaMA-MoE's random split: the F channels shuffled (seeded) into E equal disjoint
//                experts, no bias
//   upcycle      sparse upcycling: E copies of the dense FFN
//   flap         FLAP-only dense pruning at the same active width (a dense model, E = 1)
//   den2moee     Den2MoEE (shared/docs/DEN2MOEE.md): no pruning; per layer the F neurons are split by
//                an equal-size spherical k-means of their per-domain activation profiles into K
//                clusters (convert/den2moee.h); the ⌊K·shared_ratio⌋ broadest become one always-on
//                shared MLP, the rest routed experts, plus null experts (zero output) in the routing
//                pool; router = N(0, (1e-2/√D)²) gate + prototype prior α·P (P = mean up_proj rows of
//                each expert), logit-centering selection bias, gates renormalised over the selected
//                routed experts × n_routed.
// Routers: bias-free linear [E, D], PyTorch's default init U(−1/√D, 1/√D) seeded (DIVE-FLAP.md §5.1),
// or domain centroids (ConvertSettings::router_init).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/routing.h"
#include "project/project.h"

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;

struct ConvertSettings {
    std::string recipe = "dive";
    int64_t n_experts = 8;  ///< random / upcycle; dive uses the number of clusters
    int64_t top_k = 1;
    double ratio = 0.5;     ///< pruning ratio per expert (dive, flap); active width = (1 − r)·F per expert
    uint64_t seed = 42;
    /// "random": U(−1/√D, 1/√D) (DIVE's released model); "centroid": row e = (μ_e − μ̄) / σ², the
    /// mean FFN input of expert e's calibration tokens minus the mean over experts, per channel
    /// divided by the pooled variance (a diagonal-LDA direction), so a token goes to the expert whose
    /// domains it resembles before any router training (dive / dive-random only).
    std::string router_init = "random";
    // den2moee (n_experts = K clusters, shared + routed)
    double shared_ratio = 0.25;   ///< ⌊K·r⌋ clusters become the shared expert
    int64_t null_experts = 1;     ///< zero-output experts in the routing pool
    double prior_scale = 1.0;     ///< α of the prototype prior (1 = the trained model's inference value)
    bool router_dense = false;    ///< every expert active (the router-training phase), else top-k
};

struct ConvertResult {
    std::shared_ptr<LlamaModel> model;  ///< shares the dense trunk
    nlohmann::json moe_config;          ///< recipe, E, k, widths, ...
    nlohmann::json provenance;          ///< source hash, clusters (manual?), domains + data hashes, seeds
    int64_t stats_cache_hits = 0, stats_cache_misses = 0;
    double seconds = 0;
};

/// Convert `dense` (loaded from project.model) with the project's cached statistics.
/// `clusters` names the domains per expert (dive); ignored by random / upcycle.
ConvertResult convert_model(const Project& project, const std::shared_ptr<LlamaModel>& dense, const Tokenizer& tok,
                            const std::string& model_hash, const ProjectClusters& clusters,
                            const ConvertSettings& settings, RunContext& ctx);

/// Native format: model.safetensors (HF-style trunk keys + mlp.router.weight / mlp.experts.E.*),
/// moe_config.json, provenance.json, written atomically into `dir`, plus a copy of the tokenizer file
/// (when given) so the folder loads on its own (`den2moe ppl DIR`, `den2moe route DIR`).
void save_moe_native(const ConvertResult& r, const std::string& dir, const std::string& tokenizer_path = {});

/// Expert load of `model` over the project's enabled domains (their evaluation splits, the project's
/// evaluation window settings). Shared by run_conversion and the app's expert-load view.
ExpertLoad project_expert_load(const Project& project, const LlamaModel& model, const Tokenizer& tok);

/// The whole conversion job, as the CLI and the app run it: load the project's dense model, hash
/// it, convert, save natively into `out_dir` (tokenizer copied beside), and when `evaluate`: the
/// per-domain perplexity of dense vs converted on the project's evaluation splits and (for an MoE)
/// the expert load per domain, written to `out_dir/eval.json` (atomically). Progress stages "load",
/// "statistics", "experts", "evaluation", "expert load"; cancellable.
struct ConversionRun {
    ConvertResult result;
    std::shared_ptr<LlamaModel> dense;
    std::shared_ptr<Tokenizer> tokenizer;
    std::string tokenizer_path;
    std::string model_hash;
    struct DomainRow {
        std::string domain;
        double dense = 0, converted = 0;
    };
    std::vector<DomainRow> ppl;  ///< per enabled domain (empty when !evaluate)
    ExpertLoad load;             ///< empty for a dense result or when !evaluate
    nlohmann::json eval;         ///< the eval.json document
};
ConversionRun run_conversion(const Project& project, const ProjectClusters& clusters, const ConvertSettings& settings,
                             const std::string& out_dir, bool evaluate, RunContext& ctx);

}  // namespace den2moe
