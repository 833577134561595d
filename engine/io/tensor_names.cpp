// The one table of Hugging Face Llama tensor names (see tensor_names.h). Every loader, saver and
// module registration spells a key through these functions, so a renamed key changes in one place.
// Layer keys are "model.layers.{il}.<site>.weight"; il is the 0-based layer index.
#include "io/tensor_names.h"

namespace den2moe::names {

std::string embed_tokens() { return "model.embed_tokens.weight"; }
std::string final_norm() { return "model.norm.weight"; }
std::string lm_head() { return "lm_head.weight"; }

std::string layer_prefix(int il) { return "model.layers." + std::to_string(il) + "."; }

std::string attn_norm(int il) { return layer_prefix(il) + "input_layernorm.weight"; }
std::string ffn_norm(int il) { return layer_prefix(il) + "post_attention_layernorm.weight"; }
std::string q_proj(int il) { return layer_prefix(il) + "self_attn.q_proj.weight"; }
std::string k_proj(int il) { return layer_prefix(il) + "self_attn.k_proj.weight"; }
std::string v_proj(int il) { return layer_prefix(il) + "self_attn.v_proj.weight"; }
std::string o_proj(int il) { return layer_prefix(il) + "self_attn.o_proj.weight"; }
std::string gate_proj(int il) { return layer_prefix(il) + "mlp.gate_proj.weight"; }
std::string up_proj(int il) { return layer_prefix(il) + "mlp.up_proj.weight"; }
std::string down_proj(int il) { return layer_prefix(il) + "mlp.down_proj.weight"; }

std::string mixtral_router(int il) { return layer_prefix(il) + "block_sparse_moe.gate.weight"; }
std::string mixtral_expert(int il, int64_t e, const std::string& proj) {
    const char* w = proj == "gate_proj" ? "w1" : proj == "down_proj" ? "w2" : proj == "up_proj" ? "w3" : nullptr;
    if (!w) return {};  // not a SwiGLU projection: no such key
    return layer_prefix(il) + "block_sparse_moe.experts." + std::to_string(e) + "." + w + ".weight";
}
std::string qwen2moe_router(int il) { return layer_prefix(il) + "mlp.gate.weight"; }
std::string qwen2moe_expert(int il, int64_t e, const std::string& proj) {
    return layer_prefix(il) + "mlp.experts." + std::to_string(e) + "." + proj + ".weight";
}
std::string qwen2moe_shared(int il, const std::string& proj) {
    return layer_prefix(il) + "mlp.shared_expert." + proj + ".weight";
}
std::string qwen2moe_shared_gate(int il) { return layer_prefix(il) + "mlp.shared_expert_gate.weight"; }
std::string attn_bias(int il, const std::string& proj) { return layer_prefix(il) + "self_attn." + proj + ".bias"; }
std::string q_norm(int il) { return layer_prefix(il) + "self_attn.q_norm.weight"; }
std::string k_norm(int il) { return layer_prefix(il) + "self_attn.k_norm.weight"; }

}  // namespace den2moe::names
