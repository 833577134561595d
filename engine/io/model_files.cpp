// Locate, load and check a dense Llama checkpoint: a Hugging Face folder (config.json + safetensors,
// single or sharded), a path to its config.json, or a llama2.c .bin. Every expected tensor is
// checked against the config (present, float dtype, shape) with errors naming the tensor, the
// layer, expected vs found and the file; a tied lm_head is filled in from the embedding.
#include "io/model_files.h"

#include <ATen/ATen.h>

#include <sys/stat.h>

#include <functional>
#include <set>

#include "core/error.h"
#include "core/shapes.h"
#include "io/checked_tensors.h"
#include "io/llama2c.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"

namespace den2moe {

namespace {

bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}
std::string parent_dir(const std::string& p) {
    auto slash = p.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : p.substr(0, slash);
}
std::string base_name(const std::string& p) {
    auto slash = p.find_last_of('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}
bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
std::string strip_slash(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
}

struct Expected {
    std::string name;
    Shape shape;
    int layer;  // -1 for model-wide tensors
};

/// Every tensor a Llama checkpoint of `cfg` holds, with its shape, in load order.
std::vector<Expected> expected_tensors(const LlamaConfig& cfg) {
    const int64_t D = cfg.n_embd, F = cfg.n_ff, V = cfg.vocab_size;
    std::vector<Expected> e;
    e.push_back({names::embed_tokens(), {V, D}, -1});
    for (int il = 0; il < int(cfg.n_layer); ++il) {
        e.push_back({names::attn_norm(il), {D}, il});
        e.push_back({names::q_proj(il), {cfg.q_dim(), D}, il});   // [H*Dh, D]
        e.push_back({names::k_proj(il), {cfg.kv_dim(), D}, il});  // [Hkv*Dh, D]
        e.push_back({names::v_proj(il), {cfg.kv_dim(), D}, il});  // [Hkv*Dh, D]
        e.push_back({names::o_proj(il), {D, cfg.q_dim()}, il});   // [D, H*Dh]
        for (const auto& [name, n] : cfg.attention_extras(il)) e.push_back({name, {n}, il});  // Qwen2/Qwen3
        e.push_back({names::ffn_norm(il), {D}, il});
        e.push_back({names::gate_proj(il), {F, D}, il});
        e.push_back({names::up_proj(il), {F, D}, il});
        e.push_back({names::down_proj(il), {D, F}, il});
    }
    e.push_back({names::final_norm(), {D}, -1});
    e.push_back({names::lm_head(), {V, D}, -1});
    return e;
}

const char* dtype_label(at::ScalarType s) {
    switch (s) {
        case at::kFloat: return "float32";
        case at::kHalf: return "float16";
        case at::kBFloat16: return "bfloat16";
        case at::kDouble: return "float64";
        case at::kLong: return "int64";
        case at::kInt: return "int32";
        case at::kShort: return "int16";
        case at::kChar: return "int8";
        case at::kByte: return "uint8";
        case at::kBool: return "bool";
        default: return "an unsupported dtype";
    }
}

/// check_llama_tensors with a per-tensor file name (shards); `container` names the whole checkpoint.
std::vector<std::string> check_tensors_impl(const LlamaConfig& cfg,
                                            const std::map<std::string, at::Tensor>& tensors,
                                            const std::string& container,
                                            const std::function<std::string(const std::string&)>& file_of) {
    std::set<std::string> known;
    for (const Expected& e : expected_tensors(cfg)) {
        known.insert(e.name);
        auto it = tensors.find(e.name);
        if (it == tensors.end()) {
            if (e.name == names::lm_head()) {
                if (cfg.tie_word_embeddings) continue;  // the embedding serves as lm_head
                D2M_FAIL(Incompatible, "Tensor ", e.name, " is missing from ", container,
                         Hint{"config.json says tie_word_embeddings = false; set it to true if the "
                              "model shares its embedding matrix with the output layer"});
            }
            const std::string where = e.layer >= 0 ? str(" (layer ", e.layer, " of ", cfg.n_layer, ")") : "";
            D2M_FAIL(Incompatible, "Tensor ", e.name, where, " is missing from ", container,
                     Hint{e.layer >= 0 ? str("config.json says num_hidden_layers = ", cfg.n_layer,
                                             "; is the checkpoint complete (all shards present) and "
                                             "config.json from the same checkpoint?")
                                       : std::string("is the checkpoint complete (all shards present)?")});
        }
        const at::Tensor& t = it->second;
        const at::ScalarType st = t.scalar_type();
        D2M_CHECK(st == at::kFloat || st == at::kHalf || st == at::kBFloat16, Incompatible, "Tensor ",
                  e.name, " in ", file_of(e.name), " has dtype ", dtype_label(st),
                  "; weights must be float32, float16 or bfloat16",
                  Hint{"quantized checkpoints (GPTQ, AWQ, bitsandbytes) must be de-quantized first"});
        const Shape found = t.sizes().vec();
        D2M_CHECK(found == e.shape, Incompatible, "Tensor ", e.name, " has shape ", shape_str(found),
                  "; config.json implies ", shape_str(e.shape), " (tensor in ", file_of(e.name), ")",
                  Hint{"Is config.json from the same checkpoint?"});
        check_finite_weight(t, e.name, file_of(e.name));
    }
    std::vector<std::string> warnings;
    for (const auto& kv : tensors) {
        if (!known.count(kv.first))
            warnings.push_back(str("Unused tensor ", kv.first, " in ", file_of(kv.first),
                                   " is not part of a Llama checkpoint; it is ignored"));
    }
    return warnings;
}

}  // namespace

std::vector<std::string> check_llama_tensors(const LlamaConfig& cfg,
                                             const std::map<std::string, at::Tensor>& tensors,
                                             const std::string& source) {
    return check_tensors_impl(cfg, tensors, source, [&](const std::string&) { return source; });
}

std::string find_tokenizer(const std::string& model_path, int64_t vocab_size) {
    const std::string dir = is_dir(model_path) ? strip_slash(model_path) : parent_dir(model_path);
    for (const std::string& name :
         {std::string("tokenizer.model"), std::string("tokenizer.bin"), str("tok", vocab_size, ".bin"),
          std::string("tokenizer.json"), std::string("vocab.json")}) {  // the last two: byte-level BPE
        const std::string p = dir + "/" + name;
        if (is_file(p)) return p;
    }
    return "";
}

ModelFiles load_model_files(const std::string& path) {
    D2M_CHECK(exists(path), Io, "Model path ", path, " does not exist",
              Hint{"pass a Hugging Face checkpoint folder, its config.json, or a llama2.c .bin file"});
    ModelFiles mf;
    mf.source = path;

    if (!is_dir(path) && ends_with(path, ".bin")) {
        Llama2cCheckpoint ck = load_llama2c(path);
        mf.format = "llama2c";
        mf.config = ck.config;
        mf.tensors = std::move(ck.tensors);
        mf.warnings = check_llama_tensors(mf.config, mf.tensors, path);
        mf.tokenizer_path = find_tokenizer(path, mf.config.vocab_size);
        return mf;
    }

    // Hugging Face: a folder, or a file inside one (config.json, model.safetensors, the index).
    const std::string dir = is_dir(path) ? strip_slash(path) : parent_dir(path);
    D2M_CHECK(is_dir(path) || base_name(path) == "config.json" || ends_with(path, ".safetensors") ||
                  ends_with(path, ".index.json"),
              InvalidInput, "Cannot tell the format of ", path,
              Hint{"pass a Hugging Face checkpoint folder, its config.json, or a llama2.c .bin file"});
    const std::string config_path = dir + "/config.json";
    D2M_CHECK(is_file(config_path), InvalidInput, "Folder ", dir, " has no config.json",
              Hint{"a Hugging Face checkpoint folder holds config.json beside model.safetensors; "
                   "for a llama2.c checkpoint pass the .bin file itself"});
    mf.format = "hf";
    mf.config = load_hf_config(config_path);

    // A named .safetensors file is read alone; otherwise the folder (index first, then single file).
    const std::string weights = ends_with(path, ".safetensors") || ends_with(path, ".index.json") ? path : dir;
    SafetensorsReader reader = SafetensorsReader::open(weights);
    const std::string container = is_file(dir + "/model.safetensors.index.json") && weights == dir
                                      ? dir + "/model.safetensors.index.json"
                                      : (weights == dir ? dir + "/model.safetensors" : weights);
    for (const std::string& name : reader.names()) mf.tensors[name] = reader.get(name);

    mf.warnings = check_tensors_impl(mf.config, mf.tensors, container,
                                     [&](const std::string& n) { return reader.describe_source(n); });
    if (mf.config.tie_word_embeddings && !mf.tensors.count(names::lm_head()))
        mf.tensors[names::lm_head()] = mf.tensors.at(names::embed_tokens());
    mf.tokenizer_path = find_tokenizer(dir, mf.config.vocab_size);
    return mf;
}

}  // namespace den2moe
