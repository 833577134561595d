// The one table of Hugging Face tensor names. The engine's modules register their parameters
// under these exact keys, so named_parameters() is the loader's and the saver's index.
#pragma once

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

}  // namespace den2moe::names
