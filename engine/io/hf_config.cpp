// Hugging Face config.json <-> LlamaConfig. Reads LlamaForCausalLM / MistralForCausalLM /
// Qwen2ForCausalLM / Qwen3ForCausalLM keys with HF's defaults (num_key_value_heads = heads, head_dim
// = hidden / heads); every error names the file and the key, and says what was expected vs found.
// The architectures' differences are the ArchSpec table below, the one place they are written.
// Features the engine cannot run (o_proj / MLP biases, rope_scaling, an active sliding window, other
// activations) are rejected here rather than silently mis-computed later.
#include "io/hf_config.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"
#include "io/tensor_names.h"

namespace den2moe {

namespace {

using json = nlohmann::json;

// Not an HF key: marks a config whose q/k rows are in llama2.c's interleaved RoPE order.
constexpr const char* kRopeStyleKey = "den2moe_rope_style";

const char* json_type(const json& v) {
    if (v.is_number_integer()) return "integer";
    if (v.is_number_float()) return "number";
    return v.type_name();
}

/// Typed access to the keys of one config.json object; every error names the file and the key.
class KeyReader {
public:
    KeyReader(const json& obj, const std::string& source) : obj_(obj), source_(source) {}

    /// nullptr when the key is absent or null (HF writes null for "use the default").
    const json* find(const char* key) const {
        auto it = obj_.find(key);
        return (it == obj_.end() || it->is_null()) ? nullptr : &*it;
    }

    [[noreturn]] void missing(const char* key) const {
        D2M_FAIL(InvalidInput, "config.json at ", source_, " lacks the required key \"", key, "\"",
                 Hint{"a Llama config.json holds hidden_size, intermediate_size, num_hidden_layers, "
                      "num_attention_heads and vocab_size; is this the config.json of a Llama or "
                      "Mistral checkpoint?"});
    }

    [[noreturn]] void wrong_type(const char* key, const char* expected, const json& v) const {
        D2M_FAIL(InvalidInput, "config.json at ", source_, ": key \"", key, "\" must be ", expected,
                 ", found ", json_type(v), " ", v.dump());
    }

    int64_t get_int(const char* key, bool required, int64_t fallback) const {
        const json* v = find(key);
        if (!v) {
            if (required) missing(key);
            return fallback;
        }
        if (v->is_number_integer()) return v->get<int64_t>();
        if (v->is_number_float()) {  // some exporters write 4096.0
            double d = v->get<double>();
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return int64_t(d);
        }
        wrong_type(key, "an integer", *v);
    }

    double get_double(const char* key, double fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_number()) wrong_type(key, "a number", *v);
        return v->get<double>();
    }

    bool get_bool(const char* key, bool fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_boolean()) wrong_type(key, "true or false", *v);
        return v->get<bool>();
    }

    std::string get_string(const char* key, const std::string& fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_string()) wrong_type(key, "a string", *v);
        return v->get<std::string>();
    }

    /// bos/eos ids: an integer, a list (the first id is used) or null (-1 = none).
    int64_t get_token_id(const char* key, int64_t fallback) const {
        auto it = obj_.find(key);
        if (it == obj_.end()) return fallback;
        const json& v = *it;
        if (v.is_null()) return -1;
        if (v.is_number_integer()) return v.get<int64_t>();
        if (v.is_array()) {
            if (v.empty()) return -1;
            if (!v[0].is_number_integer()) wrong_type(key, "an integer or a list of integers", v);
            return v[0].get<int64_t>();
        }
        wrong_type(key, "an integer, a list of integers or null", v);
    }

private:
    const json& obj_;
    const std::string& source_;
};

bool supported_architecture(const std::string& arch) { return find_arch(arch) != nullptr; }

}  // namespace

const std::vector<ArchSpec>& arch_specs() {
    // model_type, class, q/k/v biases, q/k norm, sliding-window keys, the MoE export keeping the attention exactly
    static const std::vector<ArchSpec> table = {
        {"llama", "LlamaForCausalLM", false, false, false, ""},
        {"mistral", "MistralForCausalLM", false, false, false, ""},
        {"qwen2", "Qwen2ForCausalLM", true, false, true, "qwen2moe"},
        {"qwen3", "Qwen3ForCausalLM", false, true, true, "qwen3moe"},
    };
    return table;
}

const ArchSpec* find_arch(const std::string& name) {
    for (const ArchSpec& a : arch_specs())
        if (name == a.model_type || name == a.architecture) return &a;
    return nullptr;
}

std::vector<std::pair<std::string, int64_t>> LlamaConfig::attention_extras(int il) const {
    std::vector<std::pair<std::string, int64_t>> out;
    if (qkv_bias) {
        out.emplace_back(names::attn_bias(il, "q_proj"), q_dim());
        out.emplace_back(names::attn_bias(il, "k_proj"), kv_dim());
        out.emplace_back(names::attn_bias(il, "v_proj"), kv_dim());
    }
    if (qk_norm) {
        out.emplace_back(names::q_norm(il), head_dim);
        out.emplace_back(names::k_norm(il), head_dim);
    }
    return out;
}

void LlamaConfig::validate(const std::string& source) const {
    auto positive = [&](int64_t v, const char* key) {
        D2M_CHECK(v > 0, InvalidInput, "config at ", source, ": ", key, " must be positive, found ", v);
    };
    positive(vocab_size, "vocab_size");
    positive(n_embd, "hidden_size");
    positive(n_ff, "intermediate_size");
    positive(n_layer, "num_hidden_layers");
    positive(n_head, "num_attention_heads");
    positive(n_head_kv, "num_key_value_heads");
    positive(head_dim, "head_dim");
    positive(max_position_embeddings, "max_position_embeddings");
    // bounds far above any real model that keep every product of sizes inside int64
    auto bounded = [&](int64_t v, const char* key, int64_t most) {
        D2M_CHECK(v <= most, InvalidInput, "config at ", source, ": ", key, " = ", v, " is implausibly large (at most ",
                  most, ")", Hint{"is this config.json damaged?"});
    };
    constexpr int64_t kMaxSize = int64_t(1) << 24;
    bounded(vocab_size, "vocab_size", kMaxSize);
    bounded(n_embd, "hidden_size", kMaxSize);
    bounded(n_ff, "intermediate_size", kMaxSize);
    bounded(n_layer, "num_hidden_layers", 4096);
    bounded(n_head, "num_attention_heads", 65536);
    bounded(n_head_kv, "num_key_value_heads", 65536);
    bounded(head_dim, "head_dim", 65536);
    bounded(max_position_embeddings, "max_position_embeddings", int64_t(1) << 30);
    D2M_CHECK(n_head % n_head_kv == 0, InvalidInput, "config at ", source,
              ": num_attention_heads (", n_head, ") is not a multiple of num_key_value_heads (",
              n_head_kv, ")", Hint{"grouped-query attention shares each KV head among a whole "
                                   "number of query heads"});
    D2M_CHECK(head_dim % 2 == 0, InvalidInput, "config at ", source, ": head_dim (", head_dim,
              ") must be even for rotary embeddings");
    D2M_CHECK(rms_norm_eps > 0 && std::isfinite(rms_norm_eps), InvalidInput, "config at ", source,
              ": rms_norm_eps must be a positive number, found ", rms_norm_eps);
    D2M_CHECK(rope_theta > 0 && std::isfinite(rope_theta), InvalidInput, "config at ", source,
              ": rope_theta must be a positive number, found ", rope_theta);
    D2M_CHECK(supported_architecture(architecture), Incompatible, "config at ", source,
              ": architecture \"", architecture, "\" is not supported",
              Hint{"Den2MoE converts LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM "
                   "checkpoints"});
    D2M_CHECK(hidden_act == "silu", Incompatible, "config at ", source, ": hidden_act \"",
              hidden_act, "\" is not supported; Llama's SwiGLU MLP uses \"silu\"");
    D2M_CHECK(bos_token_id < vocab_size && eos_token_id < vocab_size, InvalidInput, "config at ",
              source, ": bos_token_id (", bos_token_id, ") or eos_token_id (", eos_token_id,
              ") is outside the vocabulary of ", vocab_size, " tokens");
}

void check_fits_context(const LlamaConfig& cfg, int64_t tokens, const std::string& what, const std::string& hint) {
    D2M_CHECK(tokens <= cfg.max_position_embeddings, InvalidInput, what, " = ", tokens,
              " tokens is longer than the model's context of ", cfg.max_position_embeddings,
              " positions (max_position_embeddings)",
              Hint{hint.empty() ? str("positions beyond the context were never trained: results there are not the "
                                      "model's; use at most ", cfg.max_position_embeddings)
                                : hint});
}

LlamaConfig parse_hf_config(const std::string& json_text, const std::string& source) {
    json root;
    try {
        root = json::parse(json_text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range 406 (a number overflows)
        D2M_FAIL(InvalidInput, "config.json at ", source, " is not valid JSON: ", e.what(),
                 Hint{"the file may be truncated or hand-edited; compare it with the original"});
    }
    D2M_CHECK(root.is_object(), InvalidInput, "config.json at ", source,
              " is not a JSON object (found ", json_type(root), ")");
    KeyReader r(root, source);
    LlamaConfig cfg;

    // Architecture: architectures[0], else derived from model_type.
    cfg.model_type = r.get_string("model_type", "");
    if (const json* a = r.find("architectures")) {
        if (!a->is_array() || a->empty() || !(*a)[0].is_string())
            r.wrong_type("architectures", "a non-empty list of strings", *a);
        cfg.architecture = (*a)[0].get<std::string>();
    } else if (const ArchSpec* a = find_arch(cfg.model_type); a && cfg.model_type == a->model_type) {
        cfg.architecture = a->architecture;
    } else {
        D2M_FAIL(InvalidInput, "config.json at ", source,
                 " has neither \"architectures\" nor a known \"model_type\" (found \"",
                 cfg.model_type, "\")", Hint{"add \"architectures\": [\"LlamaForCausalLM\"]"});
    }
    D2M_CHECK(supported_architecture(cfg.architecture), Incompatible, "config.json at ", source,
              " declares architecture \"", cfg.architecture,
              "\"; Den2MoE reads LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM",
              Hint{"only Llama-family dense decoders (RMSNorm, RoPE, SwiGLU MLP without biases) "
                   "can be converted; Mixtral and other MoE checkpoints are already sparse"});
    const ArchSpec& arch = *find_arch(cfg.architecture);
    if (cfg.model_type.empty()) cfg.model_type = arch.model_type;
    D2M_CHECK(!find_arch(cfg.model_type) || cfg.model_type == arch.model_type, InvalidInput, "config.json at ", source, ": model_type \"",
              cfg.model_type, "\" contradicts architectures [\"", cfg.architecture, "\"] (model_type \"",
              arch.model_type, "\")", Hint{"is config.json hand-edited? the two must name the same architecture"});
    cfg.qkv_bias = arch.qkv_bias;
    cfg.qk_norm = arch.qk_norm;

    cfg.n_embd = r.get_int("hidden_size", true, 0);
    cfg.n_ff = r.get_int("intermediate_size", true, 0);
    cfg.n_layer = r.get_int("num_hidden_layers", true, 0);
    cfg.n_head = r.get_int("num_attention_heads", true, 0);
    cfg.vocab_size = r.get_int("vocab_size", true, 0);
    cfg.n_head_kv = r.get_int("num_key_value_heads", false, cfg.n_head);
    if (r.find("head_dim")) {
        cfg.head_dim = r.get_int("head_dim", false, 0);
    } else {
        D2M_CHECK(cfg.n_head > 0 && cfg.n_embd % cfg.n_head == 0, InvalidInput, "config.json at ",
                  source, ": hidden_size (", cfg.n_embd, ") is not divisible by num_attention_heads (",
                  cfg.n_head, ") and no head_dim is given");
        cfg.head_dim = cfg.n_embd / cfg.n_head;
    }
    cfg.max_position_embeddings = r.get_int("max_position_embeddings", false, cfg.max_position_embeddings);
    cfg.rms_norm_eps = r.get_double("rms_norm_eps", cfg.rms_norm_eps);
    cfg.rope_theta = r.get_double("rope_theta", cfg.rope_theta);
    // transformers >= 5 writes {"rope_parameters": {"rope_type": "default", "rope_theta": θ}}
    if (const json* rp = r.find("rope_parameters")) {
        D2M_CHECK(rp->is_object(), InvalidInput, "config.json at ", source, ": key \"rope_parameters\" must be an object, "
                  "found ", rp->dump());
        KeyReader rr(*rp, source);
        const std::string type = rr.get_string("rope_type", "default");
        D2M_CHECK(type == "default", Incompatible, "config.json at ", source, " sets rope_parameters.rope_type = \"",
                  type, "\"; Den2MoE computes plain RoPE only", Hint{"use a checkpoint without RoPE scaling"});
        cfg.rope_theta = rr.get_double("rope_theta", cfg.rope_theta);
    }
    cfg.tie_word_embeddings = r.get_bool("tie_word_embeddings", false);
    cfg.bos_token_id = r.get_token_id("bos_token_id", cfg.bos_token_id);
    cfg.eos_token_id = r.get_token_id("eos_token_id", cfg.eos_token_id);
    // transformers >= 4.56 writes "dtype"; older versions "torch_dtype".
    cfg.torch_dtype = r.get_string("torch_dtype", r.get_string("dtype", cfg.torch_dtype));
    cfg.hidden_act = r.get_string("hidden_act", cfg.hidden_act);
    D2M_CHECK(cfg.hidden_act == "silu", Incompatible, "config.json at ", source, ": hidden_act \"",
              cfg.hidden_act, "\" is not supported; the SwiGLU MLP of Llama uses \"silu\"",
              Hint{"Den2MoE converts Llama-style SwiGLU MLPs only"});
    const std::string rope_style = r.get_string(kRopeStyleKey, "half_split");
    D2M_CHECK(rope_style == "half_split" || rope_style == "interleaved", InvalidInput,
              "config.json at ", source, ": ", kRopeStyleKey, " must be \"half_split\" or "
              "\"interleaved\", found \"", rope_style, "\"");
    cfg.rope_style = rope_style == "interleaved" ? RopeStyle::Interleaved : RopeStyle::HalfSplit;

    // Features the forward pass of the engine does not compute. (Qwen2's q/k/v biases come with the
    // architecture; an attention_bias key would add an o_proj bias in Llama and Qwen3.)
    D2M_CHECK(arch.qkv_bias || !r.get_bool("attention_bias", false), Incompatible, "config.json at ", source,
              " sets attention_bias = true; Den2MoE's ", cfg.architecture, " blocks have no q/k/v/o biases");
    // Qwen2/Qwen3 declare a sliding window that only applies with use_sliding_window = true; the engine
    // attends to the whole context, which is the model's own arithmetic when it is false.
    D2M_CHECK(!r.get_bool("use_sliding_window", false), Incompatible, "config.json at ", source,
              " sets use_sliding_window = true; Den2MoE attends to the whole context",
              Hint{"the engine's logits would differ beyond sliding_window tokens; set use_sliding_window to false "
                   "only if the model was trained with full attention"});
    D2M_CHECK(!r.get_bool("mlp_bias", false), Incompatible, "config.json at ", source,
              " sets mlp_bias = true; Den2MoE's Llama MLP has no biases");
    if (const json* rs = r.find("rope_scaling")) {
        D2M_FAIL(Incompatible, "config.json at ", source, " sets rope_scaling = ", rs->dump(),
                 "; Den2MoE computes plain RoPE only",
                 Hint{"use a checkpoint without rope_scaling (e.g. Llama 2 or Mistral 7B v0.1)"});
    }

    cfg.validate(source);
    return cfg;
}

LlamaConfig load_hf_config(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot read config.json at ", path, ": ", std::strerror(errno),
              Hint{"a Hugging Face checkpoint folder holds config.json beside model.safetensors"});
    std::ostringstream ss;
    ss << in.rdbuf();
    D2M_CHECK(!in.bad(), Io, "error while reading config.json at ", path);
    return parse_hf_config(ss.str(), path);
}

std::string hf_config_to_json(const LlamaConfig& cfg) {
    nlohmann::ordered_json j;
    j["architectures"] = {cfg.architecture};
    j["model_type"] = cfg.model_type;
    j["hidden_size"] = cfg.n_embd;
    j["intermediate_size"] = cfg.n_ff;
    j["num_hidden_layers"] = cfg.n_layer;
    j["num_attention_heads"] = cfg.n_head;
    j["num_key_value_heads"] = cfg.n_head_kv;
    j["head_dim"] = cfg.head_dim;
    j["vocab_size"] = cfg.vocab_size;
    j["max_position_embeddings"] = cfg.max_position_embeddings;
    j["rms_norm_eps"] = cfg.rms_norm_eps;
    j["rope_theta"] = cfg.rope_theta;
    j["hidden_act"] = cfg.hidden_act;
    j["tie_word_embeddings"] = cfg.tie_word_embeddings;
    j["bos_token_id"] = cfg.bos_token_id >= 0 ? json(cfg.bos_token_id) : json(nullptr);
    j["eos_token_id"] = cfg.eos_token_id >= 0 ? json(cfg.eos_token_id) : json(nullptr);
    j["torch_dtype"] = cfg.torch_dtype;
    if (!cfg.qkv_bias) j["attention_bias"] = false;  // Qwen2's q/k/v biases are its architecture's
    j["mlp_bias"] = false;
    const ArchSpec* arch = find_arch(cfg.architecture);
    if (arch && arch->window_keys) {
        j["use_sliding_window"] = false;  // full attention, as the engine computes it
        j["sliding_window"] = nullptr;
        j["max_window_layers"] = cfg.n_layer;
    }
    // HF models rotate half-split pairs; only a llama2.c-derived checkpoint needs the marker.
    if (cfg.rope_style == RopeStyle::Interleaved) j[kRopeStyleKey] = "interleaved";
    return dump_json(j, 2) + "\n";
}

}  // namespace den2moe
