// Internal to engine/export: what the linter (export_lint.cpp), the tensor planner (export_plan.cpp)
// and the writer (hf_export.cpp) share — the target format, a survey of the model's FFNs, the
// dropped-bias probe, the source folders of tokenizer files, and small formatting helpers.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/shapes.h"
#include "export/hf_export.h"

namespace den2moe {

class MoeFfn;
class SwiGluFfn;

namespace export_detail {

enum class Target { Mixtral, Qwen2Moe, Qwen3Moe };
/// What a target format is: the one description the linter and the planner read.
struct TargetSpec {
    const char* name;        ///< "mixtral" | "qwen2moe" | "qwen3moe"
    const char* arch;        ///< config.json architectures[0]
    const char* model_type;  ///< config.json model_type
    bool qwen_layout;        ///< Qwen MoE keys and names: num_experts, mlp.gate, mlp.experts.E, mlp_only_layers,
                             ///< norm_topk_prob as a choice
    bool shared_expert;      ///< one shared expert with a sigmoid gate (Qwen2-MoE)
    const char* attention;   ///< the dense architecture (io/hf_config.h arch_specs) whose attention it has
};
const TargetSpec& target_spec(Target t);
Target parse_target(const std::string& f);  ///< throws InvalidInput for anything else
const char* target_name(Target t);
const char* arch_name(Target t);

/// What the model holds, layer by layer.
struct Survey {
    std::vector<const MoeFfn*> moe;       // per layer, nullptr for a dense layer
    std::vector<const SwiGluFfn*> dense;  // per layer, nullptr for an MoE layer
    std::vector<int> moe_layers, dense_layers, other_layers;
    int64_t n_experts = 0, top_k = 0;     // of the first MoE layer
    int64_t max_width = 0, min_width = 0; // routed experts, over all MoE layers
    int64_t max_shared = 0;               // widest shared expert (0 = none)
    int64_t max_dense = 0;                // widest dense FFN
    bool any_shared = false, all_shared = true;
};
Survey survey(const LlamaModel& m);
/// Does layer `moe` renormalise its selected weights to sum 1 (what Mixtral always does)?
bool renormalises(const MoeFfn& moe);
std::string join_ints(const std::vector<int>& v, size_t max_items = 8);
std::string pct(double x);
at::ScalarType target_dtype(const LlamaModel& m, const std::string& d);
const char* hf_dtype_name(at::ScalarType st);

std::filesystem::path folder_of(const std::string& p);
nlohmann::json read_json_file(const std::filesystem::path& p);
/// Where tokenizer files, provenance and generation_config.json come from, in order.
std::vector<std::filesystem::path> source_dirs(const LlamaModel& m, const ExportOptions& opt);
extern const char* const kTokenizerFiles[8];
/// name -> the first source holding it (tokenizer files and generation_config.json); tok{V}.bin is
/// llama2.c's tokenizer name, which den2moe's loader also looks for.
std::map<std::string, std::filesystem::path> files_to_copy(const std::vector<std::filesystem::path>& dirs, int64_t vocab);
/// ‖Σ_e g_e·b_e (+ shared bias)‖ / ‖MoE block output‖ per layer on the probe tokens.
std::map<int, double> probe_bias_effect(const LlamaModel& m, const Survey& s, const at::Tensor& ids,
                                        const std::set<int>& layers);

/// One tensor of the target checkpoint, made on demand (one shard at a time).
struct Item {
    std::string name;
    Shape shape;
    std::function<at::Tensor()> make;  // tensor in the target dtype, CPU, contiguous, of `shape`
};
/// The target's tensors in its names and order, and its config.json.
struct Plan {
    std::vector<Item> items;
    nlohmann::ordered_json config;
    int64_t expert_width = 0, shared_width = 0, dense_width = 0;
};
Plan build_plan(const LlamaModel& m, Target tgt, const ExportOptions& opt, const Survey& s, at::ScalarType out);

}  // namespace export_detail
}  // namespace den2moe
