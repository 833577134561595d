// MixtralForCausalLM / Qwen2MoeForCausalLM folders -> LlamaModel with MoeFfn blocks.
// The trunk keys of both are Llama's (embed, norms, q/k/v/o, lm_head), so the trunk config is the
// same config.json read as a Llama one; the MoE keys are read here with Hugging Face's defaults.
// Every tensor is checked (present, float dtype, shape implied by config.json) before any is used.
#include "model/hf_moe_io.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/shapes.h"
#include "io/checked_tensors.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/moe.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {

std::string folder_of(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return path;
    return fs::path(path).parent_path().string();
}

bool read_json(const std::string& path, json* out) {
    std::ifstream in(path, std::ios::binary);
    if (!in.good()) return false;
    try {
        *out = json::parse(in);
    } catch (const json::exception&) {
        return false;
    }
    return out->is_object();
}

std::string kind_of(const json& j) {
    std::string arch, mt;
    auto a = j.find("architectures");
    if (a != j.end() && a->is_array() && !a->empty() && (*a)[0].is_string()) arch = (*a)[0].get<std::string>();
    auto m = j.find("model_type");
    if (m != j.end() && m->is_string()) mt = m->get<std::string>();
    if (arch == "MixtralForCausalLM" || mt == "mixtral") return "mixtral";
    // Qwen1.5-MoE's first config spelled the class "Qwen2MoEForCausalLM"; model_type is reliable
    if (arch == "Qwen2MoeForCausalLM" || mt == "qwen2_moe") return "qwen2moe";
    if (arch == "Qwen3MoeForCausalLM" || mt == "qwen3_moe") return "qwen3moe";
    return "";
}

/// Typed access to the MoE keys of config.json (HF's defaults when absent or null).
struct MoeKeys {
    const json& j;
    const std::string& src;

    const json* find(const char* key) const {
        auto it = j.find(key);
        return (it == j.end() || it->is_null()) ? nullptr : &*it;
    }
    int64_t get_int(const char* key, int64_t fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        D2M_CHECK(v->is_number_integer(), InvalidInput, "config.json at ", src, ": key \"", key,
                  "\" must be an integer, found ", v->dump());
        return v->get<int64_t>();
    }
    bool get_bool(const char* key, bool fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        D2M_CHECK(v->is_boolean(), InvalidInput, "config.json at ", src, ": key \"", key,
                  "\" must be true or false, found ", v->dump());
        return v->get<bool>();
    }
    std::set<int64_t> get_int_set(const char* key) const {
        std::set<int64_t> out;
        const json* v = find(key);
        if (!v) return out;
        D2M_CHECK(v->is_array(), InvalidInput, "config.json at ", src, ": key \"", key,
                  "\" must be a list of layer indices, found ", v->dump());
        for (const auto& x : *v) {
            D2M_CHECK(x.is_number_integer(), InvalidInput, "config.json at ", src, ": key \"", key,
                      "\" must be a list of layer indices, found ", v->dump());
            out.insert(x.get<int64_t>());
        }
        return out;
    }
};

}  // namespace

std::string hf_moe_kind(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return "";
    const std::string name = fs::path(path).filename().string();
    auto ends = [&](const std::string& suf) {
        return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
    };
    if (!fs::is_directory(path, ec) && name != "config.json" && !ends(".safetensors") && !ends(".index.json"))
        return "";
    json j;
    if (!read_json((fs::path(folder_of(path)) / "config.json").string(), &j)) return "";
    return kind_of(j);
}

HfMoeModel load_hf_moe(const std::string& path, ComputeDType dtype) {
    HfMoeModel out;
    out.dir = folder_of(path);
    const std::string cfg_path = (fs::path(out.dir) / "config.json").string();
    json j;
    {
        std::ifstream in(cfg_path, std::ios::binary);
        D2M_CHECK(in.good(), Io, "cannot read config.json at ", cfg_path, ": ", std::strerror(errno));
        try {
            j = json::parse(in);
        } catch (const json::exception& e) {
            D2M_FAIL(InvalidInput, "config.json at ", cfg_path, " is not valid JSON: ", e.what());
        }
    }
    D2M_CHECK(j.is_object(), InvalidInput, "config.json at ", cfg_path, " is not a JSON object");
    out.kind = kind_of(j);
    D2M_CHECK(!out.kind.empty(), Incompatible, "config.json at ", cfg_path,
              " declares neither MixtralForCausalLM nor Qwen2MoeForCausalLM");
    // qwen: the Qwen MoE keys and names (num_experts, mlp.gate, mlp.experts.E); Qwen2-MoE adds the shared
    // expert and q/k/v biases, Qwen3-MoE the per-head q/k norms and no shared expert
    const bool qwen2 = out.kind == "qwen2moe", qwen3 = out.kind == "qwen3moe", qwen = qwen2 || qwen3;
    const char* arch = qwen2 ? "Qwen2MoeForCausalLM" : qwen3 ? "Qwen3MoeForCausalLM" : "MixtralForCausalLM";
    MoeKeys k{j, cfg_path};
    const bool qkv_bias = qwen2 ? k.get_bool("qkv_bias", true) : false;

    // The trunk: the same config.json read as the dense architecture whose attention it has (Llama,
    // Qwen2 with biases, Qwen3 with q/k norms): hidden size, heads, RoPE, norms, attention extras
    json base = j;
    const ArchSpec& dense = *find_arch(qwen3 ? "qwen3" : qkv_bias ? "qwen2" : "llama");
    base["architectures"] = json::array({dense.architecture});
    base["model_type"] = dense.model_type;
    base.erase("use_sliding_window");  // warned about below; the MoE loader's own rule
    if (qwen && !k.find("intermediate_size")) base["intermediate_size"] = k.get_int("moe_intermediate_size", 1408);
    LlamaConfig cfg = parse_hf_config(base.dump(), cfg_path);
    const int64_t D = cfg.n_embd, V = cfg.vocab_size, L = cfg.n_layer;

    if (!qwen && k.find("sliding_window") && k.get_int("sliding_window", 0) < cfg.max_position_embeddings) {
        out.warnings.push_back(str(cfg_path, " sets sliding_window = ", k.get_int("sliding_window", 0),
                                   "; Den2MoE attends to the whole context (identical for sequences up to that "
                                   "length)"));
    }
    if (qwen && k.get_bool("use_sliding_window", false)) {
        out.warnings.push_back(str(cfg_path, " sets use_sliding_window = true; Den2MoE attends to the whole "
                                             "context (identical for sequences up to sliding_window tokens)"));
    }

    const int64_t E = qwen ? k.get_int("num_experts", 60) : k.get_int("num_local_experts", 8);
    const int64_t K = k.get_int("num_experts_per_tok", qwen ? 4 : 2);
    const int64_t Fe = qwen ? k.get_int("moe_intermediate_size", 1408) : cfg.n_ff;
    const int64_t Fs = qwen2 ? k.get_int("shared_expert_intermediate_size", 5632) : 0;
    const int64_t Fd = cfg.n_ff;  // Qwen2-MoE's dense layers
    const bool norm_topk = qwen ? k.get_bool("norm_topk_prob", false) : true;
    const int64_t step = qwen ? k.get_int("decoder_sparse_step", 1) : 1;
    const std::set<int64_t> mlp_only = qwen ? k.get_int_set("mlp_only_layers") : std::set<int64_t>{};
    D2M_CHECK(qwen || E >= 1, InvalidInput, "config.json at ", cfg_path, ": num_local_experts must be >= 1, found ", E);
    D2M_CHECK(E >= 0 && Fe >= 1 && Fs >= 0 && step >= 1, InvalidInput, "config.json at ", cfg_path,
              ": expected num_experts >= 0, moe_intermediate_size >= 1, shared_expert_intermediate_size >= 0 and "
              "decoder_sparse_step >= 1; found ", E, ", ", Fe, ", ", Fs, ", ", step);
    auto sparse = [&](int il) { return !qwen || (!mlp_only.count(il) && E > 0 && (il + 1) % step == 0); };
    bool any_sparse = false;
    for (int il = 0; il < L; ++il) any_sparse = any_sparse || sparse(il);
    D2M_CHECK(!any_sparse || (K >= 1 && K <= E), InvalidInput, "config.json at ", cfg_path,
              ": num_experts_per_tok = ", K, " must be between 1 and the ", E, " experts");

    // Tensors: every one checked for presence, dtype and shape before use.
    SafetensorsReader r = SafetensorsReader::open(out.dir);
    const std::string container = fs::exists(fs::path(out.dir) / "model.safetensors.index.json")
                                      ? (fs::path(out.dir) / "model.safetensors.index.json").string()
                                      : (fs::path(out.dir) / "model.safetensors").string();
    CheckedTensors checked(r, container,
                           str("config.json describes a ", arch, " with ", L, " layers",
                               any_sparse ? str(" and ", E, " experts") : std::string()),
                           "config.json");
    auto fetch = [&](const std::string& name, const Shape& shape, int il) {
        return checked.fetch(name, shape, il, static_cast<int>(L));
    };

    std::map<std::string, at::Tensor> trunk;
    trunk[names::embed_tokens()] = fetch(names::embed_tokens(), {V, D}, -1);
    trunk[names::final_norm()] = fetch(names::final_norm(), {D}, -1);
    if (!cfg.tie_word_embeddings) {
        trunk[names::lm_head()] = fetch(names::lm_head(), {V, D}, -1);
    } else if (r.has(names::lm_head())) {
        checked.mark_used(names::lm_head());  // Transformers ties it to the embedding, ignoring the stored copy
        out.warnings.push_back(str("tie_word_embeddings = true: the stored ", names::lm_head(),
                                   " is ignored (the embedding is the output layer)"));
    }
    struct Block {
        std::vector<at::Tensor> gate, up, down;  // per expert
        at::Tensor router, sg, su, sd, shared_gate;
    };
    std::vector<Block> blocks(static_cast<size_t>(L));
    for (int il = 0; il < L; ++il) {
        trunk[names::attn_norm(il)] = fetch(names::attn_norm(il), {D}, il);
        trunk[names::ffn_norm(il)] = fetch(names::ffn_norm(il), {D}, il);
        trunk[names::q_proj(il)] = fetch(names::q_proj(il), {cfg.q_dim(), D}, il);
        trunk[names::k_proj(il)] = fetch(names::k_proj(il), {cfg.kv_dim(), D}, il);
        trunk[names::v_proj(il)] = fetch(names::v_proj(il), {cfg.kv_dim(), D}, il);
        trunk[names::o_proj(il)] = fetch(names::o_proj(il), {D, cfg.q_dim()}, il);
        for (const auto& [name, n] : cfg.attention_extras(il)) trunk[name] = fetch(name, {n}, il);
        Block& b = blocks[static_cast<size_t>(il)];
        if (!sparse(il)) {  // Qwen2-MoE dense layer
            trunk[names::gate_proj(il)] = fetch(names::gate_proj(il), {Fd, D}, il);
            trunk[names::up_proj(il)] = fetch(names::up_proj(il), {Fd, D}, il);
            trunk[names::down_proj(il)] = fetch(names::down_proj(il), {D, Fd}, il);
            continue;
        }
        auto ename = [&](int64_t e, const char* proj) {
            return qwen ? names::qwen2moe_expert(il, e, proj) : names::mixtral_expert(il, e, proj);
        };
        b.router = fetch(qwen ? names::qwen2moe_router(il) : names::mixtral_router(il), {E, D}, il);
        for (int64_t e = 0; e < E; ++e) {
            b.gate.push_back(fetch(ename(e, "gate_proj"), {Fe, D}, il));
            b.up.push_back(fetch(ename(e, "up_proj"), {Fe, D}, il));
            b.down.push_back(fetch(ename(e, "down_proj"), {D, Fe}, il));
        }
        if (qwen2) {
            b.sg = fetch(names::qwen2moe_shared(il, "gate_proj"), {Fs, D}, il);
            b.su = fetch(names::qwen2moe_shared(il, "up_proj"), {Fs, D}, il);
            b.sd = fetch(names::qwen2moe_shared(il, "down_proj"), {D, Fs}, il);
            b.shared_gate = fetch(names::qwen2moe_shared_gate(il), {1, D}, il);
        }
        // the trunk loader wants a dense FFN per layer: expert 0 as a placeholder, replaced below
        trunk[names::gate_proj(il)] = b.gate[0];
        trunk[names::up_proj(il)] = b.up[0];
        trunk[names::down_proj(il)] = b.down[0];
    }
    for (const auto& n : r.names()) {
        if (!checked.used().count(n))
            out.warnings.push_back(str("Unused tensor ", n, " in ", r.describe_source(n), " is not part of a ", arch,
                                       " checkpoint; it is ignored"));
    }

    out.stored_dtypes = checked.stored_dtypes();
    // all-zero q/k/v biases (den2moe's Qwen2-MoE export of a Llama model) are a Llama attention: read as
    // one, so the model can go to any format again (as the all-zero shared expert is dropped below)
    if (cfg.qkv_bias) {
        bool zero = true;
        for (int il = 0; il < L && zero; ++il)
            for (const auto& extra : cfg.attention_extras(static_cast<int>(il)))
                zero = zero && trunk.at(extra.first).eq(0).all().item<bool>();
        if (zero) {
            for (int il = 0; il < L; ++il)
                for (const auto& extra : cfg.attention_extras(static_cast<int>(il))) trunk.erase(extra.first);
            const ArchSpec& llama = *find_arch("llama");
            cfg.architecture = llama.architecture;
            cfg.model_type = llama.model_type;
            cfg.qkv_bias = false;
        }
    }
    auto m = LlamaModel::from_tensors(cfg, trunk, dtype);
    const at::ScalarType st = m->scalar_type();
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < L; ++il) {
        if (!sparse(il)) {
            ffns.push_back(m->ffn_ptr(il));
            continue;
        }
        Block& b = blocks[static_cast<size_t>(il)];
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        for (int64_t e = 0; e < E; ++e)
            ex.push_back(std::make_shared<SwiGluFfn>(b.gate[e], b.up[e], b.down[e], at::Tensor(), st));
        RouterSpec rs;
        rs.weight = b.router;
        rs.top_k = K;
        rs.gate = RouterSpec::Gate::Softmax;
        rs.norm_topk = norm_topk;
        std::shared_ptr<const SwiGluFfn> shared;
        // A shared expert of width 0 or with an all-zero down_proj adds exactly nothing: dropped
        // (den2moe export writes such a zero expert when the MoE had none).
        if (qwen2 && Fs > 0 && b.sd.ne(0).any().item<bool>()) {
            shared = std::make_shared<SwiGluFfn>(b.sg, b.su, b.sd, at::Tensor(), st);
            rs.shared_gate = b.shared_gate;
        }
        ffns.push_back(std::make_shared<MoeFfn>(std::move(ex), std::move(rs), std::move(shared), st));
    }
    out.model = m->with_ffns(std::move(ffns));
    out.model->source = out.dir;
    return out;
}

}  // namespace den2moe
