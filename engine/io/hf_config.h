// LlamaConfig: the hyper-parameters of a Llama-family decoder, read from Hugging Face config.json
// (LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM) or from a llama2.c
// .bin header. Plain struct, no torch. What an architecture adds to Llama's block (Qwen2's q/k/v
// biases, Qwen3's per-head q/k RMSNorm) is described once, in the ArchSpec table (arch_spec()), and
// carried by the config as flags; the model and the loaders read the flags, never the name.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace den2moe {

/// How RoPE pairs the elements of a head: Hugging Face rotates halves (i, i + Dh/2);
/// llama2.c / Meta rotates adjacent pairs (2i, 2i + 1).
enum class RopeStyle { HalfSplit, Interleaved };

/// One Llama-family architecture: its names in config.json and what its attention adds to Llama's,
/// plus the Hugging Face MoE format its converted models export to. The table is arch_specs().
struct ArchSpec {
    const char* model_type;     ///< config.json "model_type": "llama", "mistral", "qwen2", "qwen3"
    const char* architecture;   ///< "architectures"[0], e.g. "Qwen3ForCausalLM"
    bool qkv_bias;              ///< q/k/v projections carry biases (Qwen2: always)
    bool qk_norm;               ///< RMSNorm over each q/k head (weight [Dh]) before RoPE (Qwen3)
    bool window_keys;           ///< config.json declares use_sliding_window / sliding_window (Qwen)
    const char* moe_export;     ///< den2moe export format that keeps the attention exactly ("" = any)
};
/// Every architecture the engine runs (Llama, Mistral, Qwen2, Qwen3).
const std::vector<ArchSpec>& arch_specs();
/// The row for a model_type or an architecture class name; nullptr when unknown.
const ArchSpec* find_arch(const std::string& model_type_or_class);

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
    bool qkv_bias = false;  ///< q/k/v biases (from the architecture; Qwen2)
    bool qk_norm = false;   ///< per-head q/k RMSNorm before RoPE (from the architecture; Qwen3)

    /// Throws Error(InvalidInput) naming `source` if a value is missing or inconsistent
    /// (e.g. D not divisible by H, H not divisible by Hkv).
    void validate(const std::string& source) const;
    int64_t kv_dim() const { return n_head_kv * head_dim; }
    int64_t q_dim() const { return n_head * head_dim; }
    /// The architecture's own attention tensors of layer `il` beyond Llama's, all 1-D: the q/k/v
    /// biases [H·Dh], [Hkv·Dh], [Hkv·Dh] (qkv_bias) and the q/k norm weights [Dh], [Dh] (qk_norm),
    /// as {Hugging Face name, length}. Empty for Llama.
    std::vector<std::pair<std::string, int64_t>> attention_extras(int il) const;
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
