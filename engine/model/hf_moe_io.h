// Reading standard Hugging Face MoE checkpoints — MixtralForCausalLM, Qwen2MoeForCausalLM and
// Qwen3MoeForCausalLM —
// (config.json + model.safetensors or a sharded model.safetensors.index.json) into a LlamaModel
// whose FFNs are MoeFfn blocks, so `den2moe ppl / route / info` run on an exported (or a trained
// and re-imported) checkpoint. Routing follows the config: Mixtral = softmax, top-k, renormalised;
// Qwen2-MoE = softmax, top-k, renormalised only with norm_topk_prob, plus the shared expert scaled
// by sigmoid(shared_expert_gate · x). Qwen2-MoE's dense layers (mlp_only_layers,
// decoder_sparse_step) load as SwiGLU FFNs. The attention is the dense architecture's (Qwen2's q/k/v
// biases, Qwen3's q/k norms: io/hf_config.h ArchSpec; all-zero q/k/v biases are read as Llama's attention,
// an all-zero shared expert is dropped). Every error names the tensor, the file,
// expected vs found.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/llama.h"

namespace den2moe {

/// "mixtral", "qwen2moe" or "qwen3moe" when `path` (a folder, or its config.json / a safetensors file / the index
/// inside it) sits beside a config.json of one of those architectures; "" otherwise (also for
/// unreadable JSON: the dense loader reports it). The whole folder is read either way.
std::string hf_moe_kind(const std::string& path);

struct HfMoeModel {
    std::shared_ptr<LlamaModel> model;
    std::string kind;                                  ///< "mixtral" | "qwen2moe"
    std::string dir;                                   ///< the checkpoint folder
    std::vector<std::string> warnings;                 ///< unused tensors, ignored config features
    std::map<std::string, std::string> stored_dtypes;  ///< tensor -> dtype in the checkpoint
};

/// Throws Error (Incompatible / InvalidInput / Io) naming the file and the tensor or key.
HfMoeModel load_hf_moe(const std::string& path, ComputeDType dtype);

}  // namespace den2moe
