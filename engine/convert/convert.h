// Expert construction: dense model + cached per-domain statistics + a cluster assignment -> an MoE
// model whose FFNs are MoeFfn blocks (or, for flap, a pruned dense model). The recipes, their
// settings and defaults are defined once in convert_settings.h (recipes(), convert_schema()); their
// sizes and rules in plan.h (plan_conversion, validate_conversion); one builder per recipe family in
// recipe_*.cpp. The whole job (load, convert, save, evaluate) is pipeline/conversion.h.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "convert/convert_settings.h"
#include "project/project.h"

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;

struct ConvertResult {
    std::shared_ptr<LlamaModel> model;  ///< shares the dense trunk
    nlohmann::json moe_config;          ///< recipe, E, k, widths, ...
    nlohmann::json provenance;          ///< source hash, clusters (manual?), domains + data hashes, seeds
    int64_t stats_cache_hits = 0, stats_cache_misses = 0;
    double seconds = 0;
};

/// Convert `dense` (loaded from project.model) with the project's cached statistics. `clusters` names
/// the domains per expert (dive, dive-random); the other recipes ignore it. Checks every rule of
/// validate_conversion() first.
ConvertResult convert_model(const Project& project, const std::shared_ptr<LlamaModel>& dense, const Tokenizer& tok,
                            const std::string& model_hash, const ProjectClusters& clusters,
                            const ConvertSettings& settings, RunContext& ctx);

}  // namespace den2moe
