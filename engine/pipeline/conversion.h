// The conversion job, as the CLI and the app run it: validate (before loading anything), load the
// project's dense model, hash it, convert_model (convert/convert.h), save natively into `out_dir`
// (tokenizer copied beside), and when settings.evaluate: the per-domain perplexity of dense vs
// converted on the project's evaluation splits and (for an MoE) the expert load per domain, written to
// out_dir/eval.json. Progress stages "load", "statistics", "experts", "save", "evaluation", "expert load";
// cancellable (nothing is left half-written: the folder appears whole or not at all).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert/convert.h"
#include "convert/plan.h"
#include "eval/routing.h"
#include "project/project.h"

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;

/// The dense model's config, read without loading its weights (config.json of a Hugging Face folder,
/// the header of a llama2.c .bin). Throws Error naming the path.
LlamaConfig project_model_config(const Project& project);
/// The project's calibration and evaluation windows (calibration.seq_len, evaluation.seq_len) fit the
/// model's context; Error(InvalidInput) naming the setting otherwise.
void check_project_windows(const Project& project, const LlamaConfig& cfg);

/// The plan of converting the project's model (plan_conversion on project_model_config).
ConversionPlan plan_project_conversion(const Project& project, const ProjectClusters& clusters,
                                       const ConvertSettings& settings);

/// Where a conversion goes when no folder is given: <project cache>/experts/<recipe>.
std::string default_conversion_dir(const Project& project, Recipe recipe);

/// Every problem that stops a conversion, before any work: the project's files, the settings, the
/// clusters against the model's config (validate_conversion), the output folder.
void validate_conversion_job(const Project& project, const ProjectClusters& clusters, const ConvertSettings& settings,
                             const std::string& out_dir);

struct ConversionRun {
    ConvertResult result;
    std::shared_ptr<LlamaModel> dense;
    std::shared_ptr<Tokenizer> tokenizer;
    std::string tokenizer_path;
    std::string model_hash;
    std::string out_dir;
    struct DomainRow {
        std::string domain;
        double dense = 0, converted = 0;
    };
    std::vector<DomainRow> ppl;  ///< per enabled domain (empty when !evaluate)
    ExpertLoad load;             ///< empty for a dense result or when !evaluate
    nlohmann::json eval;         ///< the eval.json document (written when evaluating)
};
ConversionRun run_conversion(const Project& project, const ProjectClusters& clusters, const ConvertSettings& settings,
                             const std::string& out_dir, RunContext& ctx);

/// Expert load of `model` over the project's enabled domains (their evaluation splits read exactly as
/// mining reads them, the project's evaluation window settings).
ExpertLoad project_expert_load(const Project& project, const LlamaModel& model, const Tokenizer& tok);

}  // namespace den2moe
