// Reading the native MoE format written by convert (model.safetensors + moe_config.json): the
// dense trunk under Hugging Face keys, and per layer `mlp.router.weight`, `mlp.experts.E.*`,
// optional `mlp.shared_expert.*` — or plain `mlp.{gate,up,down}_proj` for a pruned dense model.
#pragma once

#include <memory>
#include <string>

#include "model/llama.h"

namespace den2moe {

/// True when `path` is a folder holding moe_config.json.
bool is_moe_native(const std::string& path);
/// Throws Error naming the file / tensor when something is missing or inconsistent.
std::shared_ptr<LlamaModel> load_moe_native(const std::string& dir, ComputeDType dtype);

}  // namespace den2moe
