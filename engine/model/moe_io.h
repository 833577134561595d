// Reading the native MoE format written by convert (model.safetensors + moe_config.json): the
// dense trunk under Hugging Face keys, and per layer `mlp.router.weight`, `mlp.experts.E.*`,
// optional `mlp.shared_expert.*` — or plain `mlp.{gate,up,down}_proj` for a pruned dense model.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "model/llama.h"

namespace den2moe {

/// True when `path` is a folder holding moe_config.json.
bool is_moe_native(const std::string& path);
/// Throws Error naming the file / tensor when something is missing, has the wrong shape or dtype, or
/// is inconsistent with moe_config.json (expected vs found shape, like the Hugging Face loaders).
std::shared_ptr<LlamaModel> load_moe_native(const std::string& dir, ComputeDType dtype);

/// Write `model` in the native format into `dir`: model.safetensors (every tensor of
/// LlamaModel::named_tensors(), contiguous), moe_config.json, provenance.json and a copy of the
/// tokenizer file (when given) so the folder loads on its own. Written into a temporary sibling
/// folder renamed into place at the end: a failure or a crash never leaves a half-written folder,
/// and an earlier folder at `dir` is replaced as a whole. `extra_files` (name -> text, e.g. eval.json)
/// are written into the same folder.
void save_moe_native(const LlamaModel& model, const nlohmann::json& moe_config, const nlohmann::json& provenance,
                     const std::string& dir, const std::string& tokenizer_path = {},
                     const std::map<std::string, std::string>& extra_files = {});

}  // namespace den2moe
