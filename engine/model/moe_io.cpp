// The native MoE format (see moe_io.h): reader and writer. Every tensor is fetched through
// io/checked_tensors.h — present, float, and the shape moe_config.json implies (expert widths from
// "expert_widths", the trunk from "base") — so a bad folder is a user error naming the tensor and both
// shapes, never an internal one.
#include "model/moe_io.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"
#include "io/atomic_dir.h"
#include "io/checked_tensors.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/moe.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

bool is_moe_native(const std::string& path) {
    std::error_code ec;
    return fs::is_directory(path, ec) && fs::exists(fs::path(path) / "moe_config.json", ec);
}

namespace {

/// The width moe_config.json gives expert `e` of layer `il`: "expert_widths" is [w] (every expert of
/// every layer) or [[w per layer] per expert]; -1 when it says nothing usable.
int64_t configured_width(const json& widths, int64_t e, int il) {
    if (!widths.is_array() || widths.empty()) return -1;
    if (widths.size() == 1 && widths[0].is_number_integer()) return widths[0].get<int64_t>();
    if (e < static_cast<int64_t>(widths.size()) && widths[e].is_array() && il < static_cast<int>(widths[e].size()) &&
        widths[e][il].is_number_integer())
        return widths[e][il].get<int64_t>();
    return -1;
}

}  // namespace

std::shared_ptr<LlamaModel> load_moe_native(const std::string& dir, ComputeDType dtype) {
    const std::string cfg_path = (fs::path(dir) / "moe_config.json").string();
    std::ifstream in(cfg_path);
    D2M_CHECK(in.good(), Io, "cannot open ", cfg_path);
    json mc;
    try {
        mc = json::parse(in);
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, cfg_path, " is not valid JSON: ", e.what());
    }
    D2M_CHECK(mc.is_object() && mc.value("format", "") == "den2moe-moe-v1" && mc.contains("base"), Incompatible,
              cfg_path, " is not a den2moe MoE config (format '", mc.is_object() ? mc.value("format", "") : "", "')");
    auto int_key = [&](const char* key, int64_t def) -> int64_t {
        auto it = mc.find(key);
        if (it == mc.end() || it->is_null()) return def;
        D2M_CHECK(it->is_number_integer() && it->get<int64_t>() >= 0, InvalidInput, cfg_path, ": key \"", key,
                  "\" must be a non-negative integer, found ", it->dump());
        return it->get<int64_t>();
    };
    LlamaConfig cfg = parse_hf_config(mc["base"].dump(), cfg_path);
    const std::string st_path = (fs::path(dir) / "model.safetensors").string();
    SafetensorsReader r = SafetensorsReader::open(st_path);
    const int L = static_cast<int>(cfg.n_layer);
    const int64_t D = cfg.n_embd, V = cfg.vocab_size;
    const int64_t E = int_key("num_experts", 0);
    const int64_t N = int_key("num_null_experts", 0);
    const json widths = mc.value("expert_widths", json::array());
    CheckedTensors ck(r, st_path,
                      str("moe_config.json describes ", L, " layers", E > 0 ? str(" with ", E, " experts") : std::string()),
                      "moe_config.json");
    auto pfx = [](int il) { return names::layer_prefix(il) + "mlp."; };

    // trunk
    std::map<std::string, at::Tensor> trunk;
    trunk[names::embed_tokens()] = ck.fetch(names::embed_tokens(), {V, D});
    trunk[names::final_norm()] = ck.fetch(names::final_norm(), {D});
    if (!cfg.tie_word_embeddings) trunk[names::lm_head()] = ck.fetch(names::lm_head(), {V, D});
    // a SwiGLU of the width the config gives (or, when it says nothing, of gate_proj's stored width)
    auto swiglu = [&](const std::string& p, int64_t width, int il, bool bias) {
        if (width < 0) {
            D2M_CHECK(r.has(p + "gate_proj.weight"), Incompatible, "Tensor ", p, "gate_proj.weight (layer ", il,
                      ") is missing from ", st_path);
            const Shape s = r.info(p + "gate_proj.weight").shape;
            width = s.empty() ? 0 : s[0];
        }
        struct W { at::Tensor gate, up, down, bias; } w;
        w.gate = ck.fetch(p + "gate_proj.weight", {width, D}, il, L);
        w.up = ck.fetch(p + "up_proj.weight", {width, D}, il, L);
        w.down = ck.fetch(p + "down_proj.weight", {D, width}, il, L);
        if (bias) w.bias = ck.fetch_optional(p + "down_proj.bias", {D}, il);
        return w;
    };
    for (int il = 0; il < L; ++il) {
        trunk[names::attn_norm(il)] = ck.fetch(names::attn_norm(il), {D}, il, L);
        trunk[names::ffn_norm(il)] = ck.fetch(names::ffn_norm(il), {D}, il, L);
        trunk[names::q_proj(il)] = ck.fetch(names::q_proj(il), {cfg.q_dim(), D}, il, L);
        trunk[names::k_proj(il)] = ck.fetch(names::k_proj(il), {cfg.kv_dim(), D}, il, L);
        trunk[names::v_proj(il)] = ck.fetch(names::v_proj(il), {cfg.kv_dim(), D}, il, L);
        trunk[names::o_proj(il)] = ck.fetch(names::o_proj(il), {D, cfg.q_dim()}, il, L);
        for (const auto& [name, n] : cfg.attention_extras(il)) trunk[name] = ck.fetch(name, {n}, il, L);
        // the trunk loader wants a dense FFN per layer: a pruned dense model's own (flap), else expert 0
        // as a placeholder, replaced below
        auto w = swiglu(E > 0 ? pfx(il) + "experts.0." : pfx(il), configured_width(widths, 0, il), il, true);
        trunk[names::gate_proj(il)] = w.gate;
        trunk[names::up_proj(il)] = w.up;
        trunk[names::down_proj(il)] = w.down;
        if (E == 0 && w.bias.defined()) trunk[pfx(il) + "down_proj.bias"] = w.bias;
    }
    auto m = LlamaModel::from_tensors(cfg, trunk, dtype);
    m->source = dir;
    if (E == 0) return m;  // a pruned dense model (flap)

    const at::ScalarType st = m->scalar_type();
    const json rc = mc.value("router", json::object());
    const std::string gate = rc.is_object() ? rc.value("gate", std::string("softmax")) : std::string("softmax");
    D2M_CHECK(gate == "softmax" || gate == "den2moee", Incompatible, cfg_path, ": unknown router gate '", gate, "'",
              Hint{"softmax or den2moee; was the folder written by a newer version?"});
    const int64_t top_k = int_key("top_k", 1);
    D2M_CHECK(top_k >= 1 && top_k <= E + N, InvalidInput, cfg_path, ": top_k = ", top_k, " must be in [1, ", E + N,
              "] (", E, " experts and ", N, " null experts)");
    const int64_t shared_width = int_key("shared_expert_width", -1);
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < L; ++il) {
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        for (int64_t e = 0; e < E; ++e) {
            auto w = swiglu(pfx(il) + "experts." + std::to_string(e) + ".", configured_width(widths, e, il), il, true);
            ex.push_back(std::make_shared<SwiGluFfn>(w.gate, w.up, w.down, w.bias, st));
        }
        RouterSpec rs;
        rs.weight = ck.fetch(pfx(il) + "router.weight", {E, D}, il, L);
        rs.top_k = top_k;
        rs.norm_topk = rc.value("norm_topk", true);
        rs.routed_scale = rc.value("routed_scale", 1.0);
        rs.dense = rc.value("mode", std::string("sparse")) == "dense";
        if (gate == "den2moee") {
            rs.gate = RouterSpec::Gate::Den2MoEE;
            rs.prior = ck.fetch_optional(pfx(il) + "router.prior", {E, D}, il);
            rs.prior_scale = rc.value("prior_scale", 0.0);
            rs.null_weight = N > 0 ? ck.fetch(pfx(il) + "router.null_weight", {N, D}, il, L) : at::Tensor();
            rs.select_bias = ck.fetch_optional(pfx(il) + "router.select_bias", {E}, il);
        }
        rs.shared_gate = ck.fetch_optional(pfx(il) + "shared_expert_gate.weight", {1, D}, il);
        std::shared_ptr<const SwiGluFfn> shared;
        if (r.has(pfx(il) + "shared_expert.gate_proj.weight")) {
            auto w = swiglu(pfx(il) + "shared_expert.", shared_width, il, false);
            shared = std::make_shared<SwiGluFfn>(w.gate, w.up, w.down, at::Tensor(), st);
        }
        ffns.push_back(std::make_shared<MoeFfn>(ex, rs, shared, st));
    }
    auto out = m->with_ffns(std::move(ffns));
    out->source = dir;
    return out;
}

void save_moe_native(const LlamaModel& model, const json& moe_config, const json& provenance, const std::string& dir,
                     const std::string& tokenizer_path, const std::map<std::string, std::string>& extra_files) {
    AtomicDir out(dir, "save");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (auto& kv : model.named_tensors()) tensors.emplace_back(kv.first, kv.second.contiguous());
    save_safetensors(out.file("model.safetensors"), tensors, {{"format", "pt"}, {"den2moe", "moe-v1"}});
    write_file_atomic(out.file("moe_config.json"), dump_json(moe_config, 2) + "\n");
    write_file_atomic(out.file("provenance.json"), dump_json(provenance, 2) + "\n");
    for (const auto& kv : extra_files) write_file_atomic(out.file(kv.first), kv.second);
    if (!tokenizer_path.empty()) {
        for (const std::string& f : tokenizer_files(tokenizer_path)) {  // BPE: vocab.json + merges.txt + ...
            std::error_code ec;
            fs::copy_file(f, out.path() / fs::path(f).filename(), fs::copy_options::overwrite_existing, ec);
            D2M_CHECK(!ec, Io, "cannot copy the tokenizer file ", f, " into ", dir, ": ", ec.message());
        }
    }
    out.commit();
}

}  // namespace den2moe
