// The one table of Hugging Face tensor names. The engine's modules register their parameters
// under these exact keys, so named_parameters() is the loader's and the saver's index.
#pragma once

#include <cstdint>
#include <string>

namespace den2moe::names {

std::string embed_tokens();                 ///< model.embed_tokens.weight          [V, D]
std::string final_norm();                   ///< model.norm.weight                  [D]
std::string lm_head();                      ///< lm_head.weight                     [V, D]
std::string attn_norm(int il);              ///< model.layers.{il}.input_layernorm.weight
std::string ffn_norm(int il);               ///< model.layers.{il}.post_attention_layernorm.weight
std::string q_proj(int il);                 ///< model.layers.{il}.self_attn.q_proj.weight [H*Dh, D]
std::string k_proj(int il);                 ///< ... k_proj.weight [Hkv*Dh, D]
std::string v_proj(int il);                 ///< ... v_proj.weight [Hkv*Dh, D]
std::string o_proj(int il);                 ///< ... o_proj.weight [D, H*Dh]
std::string gate_proj(int il);              ///< model.layers.{il}.mlp.gate_proj.weight [F, D]
std::string up_proj(int il);                ///< model.layers.{il}.mlp.up_proj.weight   [F, D]
std::string down_proj(int il);              ///< model.layers.{il}.mlp.down_proj.weight [D, F]
std::string layer_prefix(int il);           ///< "model.layers.{il}."

// Hugging Face MoE targets (engine/export writes them, model/hf_moe_io reads them). `proj` is one of
// our SwiGLU projections: "gate_proj", "up_proj" or "down_proj".
std::string mixtral_router(int il);         ///< model.layers.{il}.block_sparse_moe.gate.weight [E, D]
/// model.layers.{il}.block_sparse_moe.experts.{e}.w1|w2|w3.weight: w1 = gate_proj [F, D],
/// w2 = down_proj [D, F], w3 = up_proj [F, D] (Mistral's reference code names).
std::string mixtral_expert(int il, int64_t e, const std::string& proj);
std::string qwen2moe_router(int il);        ///< model.layers.{il}.mlp.gate.weight [E, D]
std::string qwen2moe_expert(int il, int64_t e, const std::string& proj);  ///< ...mlp.experts.{e}.{proj}.weight
std::string qwen2moe_shared(int il, const std::string& proj);  ///< ...mlp.shared_expert.{proj}.weight
std::string qwen2moe_shared_gate(int il);   ///< model.layers.{il}.mlp.shared_expert_gate.weight [1, D]
std::string attn_bias(int il, const std::string& proj);  ///< model.layers.{il}.self_attn.{q,k,v}_proj.bias
std::string q_norm(int il);                 ///< model.layers.{il}.self_attn.q_norm.weight [Dh] (Qwen3)
std::string k_norm(int il);                 ///< model.layers.{il}.self_attn.k_norm.weight [Dh] (Qwen3)

}  // namespace den2moe::names
