// LlamaConfig: the hyper-parameters of a Llama-style decoder, read from Hugging Face config.json
// (LlamaForCausalLM / MistralForCausalLM) or from a llama2.c .bin header. Plain struct, no torch.
#pragma once

#include <cstdint>
#include <string>

namespace den2moe {

/// How RoPE pairs the elements of a head: Hugging Face rotates halves (i, i + Dh/2);
/// llama2.c / Meta rotates adjacent pairs (2i, 2i + 1).
enum class RopeStyle { HalfSplit, Interleaved };

struct LlamaConfig {
    std::string architecture = "LlamaForCausalLM";
    std::string model_type = "llama";
    int64_t vocab_size = 0;
    int64_t n_embd = 0;          ///< hidden_size, D
    int64_t n_ff = 0;            ///< intermediate_size, F
    int64_t n_layer = 0;         ///< num_hidden_layers, L
    int64_t n_head = 0;          ///< num_attention_heads, H
    int64_t n_head_kv = 0;       ///< num_key_value_heads, Hkv
    int64_t head_dim = 0;        ///< Dh (defaults to D / H)
    int64_t max_position_embeddings = 2048;
    double rms_norm_eps = 1e-5;
    double rope_theta = 10000.0;
    bool tie_word_embeddings = false;
    RopeStyle rope_style = RopeStyle::HalfSplit;
    int64_t bos_token_id = 1;
    int64_t eos_token_id = 2;
    std::string torch_dtype = "float32";  ///< dtype stored in the checkpoint
    std::string hidden_act = "silu";

    /// Throws Error(InvalidInput) naming `source` if a value is missing or inconsistent
    /// (e.g. D not divisible by H, H not divisible by Hkv).
    void validate(const std::string& source) const;
    int64_t kv_dim() const { return n_head_kv * head_dim; }
    int64_t q_dim() const { return n_head * head_dim; }
};

/// Throws Error(InvalidInput) when `tokens` positions do not fit the model's context
/// (max_position_embeddings; a llama2.c header's seq_len): `what` names the setting ("--seq 1024").
void check_fits_context(const LlamaConfig& cfg, int64_t tokens, const std::string& what,
                        const std::string& hint = {});

/// Parse a config.json file. Errors name the file and the offending key.
LlamaConfig load_hf_config(const std::string& path);
/// Parse config.json text; `source` names it in errors.
LlamaConfig parse_hf_config(const std::string& json_text, const std::string& source);
/// Serialise to Hugging Face config.json text (LlamaForCausalLM keys).
std::string hf_config_to_json(const LlamaConfig& cfg);

}  // namespace den2moe
