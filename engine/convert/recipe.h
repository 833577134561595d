// The recipe builders behind convert_model(): one function per recipe family, each turning the dense
// model (+ cached statistics) into the per-layer FFNs of the converted model, with what the
// provenance and moe_config.json must say about it. Internal to engine/convert; the recipes' names,
// defaults and rules are in convert_settings.h and plan.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert/convert_settings.h"
#include "project/project.h"

namespace den2moe {

class FeedForward;
class LlamaModel;
class RunContext;
class Tokenizer;

struct RecipeInput {
    const Project& project;
    const LlamaModel& dense;
    const Tokenizer& tok;
    const std::string& model_hash;
    const ConvertSettings& settings;
    RunContext& ctx;
};

struct BuiltExperts {
    std::vector<std::shared_ptr<const FeedForward>> ffns;  ///< one per layer
    ProjectClusters clusters;     ///< the domains behind each expert as used (provenance); empty for splits
    nlohmann::json widths;        ///< per expert per layer ([[...]]), or one width for all ([w])
    nlohmann::json router;        ///< moe_config.json "router"
    nlohmann::json extra_config;  ///< recipe-specific moe_config.json keys
    std::string router_init;      ///< provenance "router_init"
    int64_t stats_hits = 0, stats_misses = 0;
};

/// dive, dive-random (`clusters` shuffled, same sizes) and flap (one cluster of every domain, a dense result).
BuiltExperts build_pruned_experts(const RecipeInput& in, const ProjectClusters& clusters);
/// den2moee: balanced spherical k-means neuron partition, shared + routed + null experts, prior router.
BuiltExperts build_den2moee(const RecipeInput& in);
/// random: LLaMA-MoE's disjoint random split; upcycle: E copies of the dense FFN.
BuiltExperts build_split_experts(const RecipeInput& in);

/// PyTorch's default Linear init U(−1/√D, 1/√D) for an [E, D] router, seeded per layer.
at::Tensor default_router_init(int64_t E, int64_t D, uint64_t seed, int il);

}  // namespace den2moe
