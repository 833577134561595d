// The conversion plan: what a conversion will build (expert widths, total and active parameters,
// FLOPs per token) and every rule it must satisfy, from the dense model's config, the project, the
// clusters and the settings alone — no weights, no statistics. The app shows it before converting;
// validate_conversion() throws its first problem before any work starts; convert_model() calls the
// same rules, so a plan and the converted model agree (tests/engine/convert/test_plan.cpp checks the
// parameter counts of every recipe against the built model). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/convert_settings.h"
#include "io/hf_config.h"

namespace den2moe {

struct Project;
struct ProjectClusters;

struct ExpertPlan {
    int expert = 0;                    ///< routed expert index; -1 = the always-on shared expert
    std::vector<std::string> domains;  ///< the cluster's domains (dive); empty otherwise
    int64_t width = 0;                 ///< FFN channels
};

struct ConversionPlan {
    Recipe recipe = Recipe::Dive;
    std::vector<ExpertPlan> experts;   ///< the shared expert (if any) first, then the routed ones
    int64_t n_experts = 0;             ///< routed experts (0: a dense result)
    int64_t n_null = 0;                ///< null experts in the routing pool (den2moee)
    int64_t top_k = 0;                 ///< 0: a dense result
    bool expert_bias = false;          ///< experts carry a down_proj bias (FLAP compensation)
    int64_t dense_params = 0, total_params = 0, active_params = 0;
    int64_t dense_flops = 0, active_flops = 0;  ///< multiply-adds × 2 per token (matmuls; no attention)
    /// Everything that stops the conversion, one message each ("" none); the first is what
    /// validate_conversion() throws.
    std::vector<std::string> errors;
    std::vector<std::string> hints;    ///< one per error (may be "")
    bool ok() const { return errors.empty(); }
};

/// Parameters outside the FFNs (embeddings, attention, norms, lm_head) of a Llama-style model.
int64_t trunk_params(const LlamaConfig& cfg);

/// The plan of converting a dense model with config `cfg` (from project.model) under `s`.
/// `clusters` is used by recipes that need them (dive, dive-random).
ConversionPlan plan_conversion(const LlamaConfig& cfg, const Project& project, const ProjectClusters& clusters,
                               const ConvertSettings& s);

/// Throws Error(InvalidInput) with the plan's first problem (what, expected vs found, hint).
void validate_conversion(const LlamaConfig& cfg, const Project& project, const ProjectClusters& clusters,
                         const ConvertSettings& s);

}  // namespace den2moe
