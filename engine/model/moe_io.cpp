#include "model/moe_io.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/moe.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

bool is_moe_native(const std::string& path) {
    std::error_code ec;
    return fs::is_directory(path, ec) && fs::exists(fs::path(path) / "moe_config.json", ec);
}

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
    D2M_CHECK(mc.value("format", "") == "den2moe-moe-v1" && mc.contains("base"), Incompatible, cfg_path,
              " is not a den2moe MoE config (format '", mc.value("format", ""), "')");
    LlamaConfig cfg = parse_hf_config(mc["base"].dump(), cfg_path);
    SafetensorsReader r = SafetensorsReader::open((fs::path(dir) / "model.safetensors").string());
    std::map<std::string, at::Tensor> t;
    for (const auto& n : r.names()) t[n] = r.get(n);
    const int L = static_cast<int>(cfg.n_layer);
    const int64_t E = mc.value("num_experts", int64_t{0});
    auto pfx = [](int il) { return names::layer_prefix(il) + "mlp."; };
    // the trunk loader wants a dense FFN per layer: give it expert 0 as a placeholder, replaced below
    std::map<std::string, at::Tensor> trunk = t;
    if (E > 0) {
        for (int il = 0; il < L; ++il) {
            for (const char* w : {"gate_proj", "up_proj", "down_proj"}) {
                const std::string src = pfx(il) + "experts.0." + w + ".weight";
                D2M_CHECK(t.count(src), Incompatible, "MoE checkpoint ", dir, ": tensor ", src, " is missing");
                trunk[pfx(il) + w + ".weight"] = t[src];
            }
        }
    }
    auto m = LlamaModel::from_tensors(cfg, trunk, dtype);
    m->source = dir;
    if (E == 0) return m;  // a pruned dense model (flap)
    const at::ScalarType st = m->scalar_type();
    auto ffn_at = [&](const std::string& p) -> std::shared_ptr<const SwiGluFfn> {
        auto get = [&](const std::string& n) -> at::Tensor {
            auto it = t.find(p + n);
            D2M_CHECK(it != t.end(), Incompatible, "MoE checkpoint ", dir, ": tensor ", p + n, " is missing");
            return it->second;
        };
        auto b = t.find(p + "down_proj.bias");
        return std::make_shared<SwiGluFfn>(get("gate_proj.weight"), get("up_proj.weight"), get("down_proj.weight"),
                                           b != t.end() ? b->second : at::Tensor(), st);
    };
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < L; ++il) {
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        for (int64_t e = 0; e < E; ++e) ex.push_back(ffn_at(pfx(il) + "experts." + std::to_string(e) + "."));
        RouterSpec rs;
        auto rw = t.find(pfx(il) + "router.weight");
        D2M_CHECK(rw != t.end(), Incompatible, "MoE checkpoint ", dir, ": tensor ", pfx(il), "router.weight is missing");
        rs.weight = rw->second;
        rs.top_k = mc.value("top_k", int64_t{1});
        const json rc = mc.value("router", json::object());
        rs.norm_topk = rc.value("norm_topk", true);
        rs.routed_scale = rc.value("routed_scale", 1.0);
        rs.dense = rc.value("mode", std::string("sparse")) == "dense";
        const std::string gate = rc.value("gate", std::string("softmax"));
        D2M_CHECK(gate == "softmax" || gate == "den2moee", Incompatible, cfg_path, ": unknown router gate '", gate,
                  "'", Hint{"softmax or den2moee; was the folder written by a newer version?"});
        auto opt = [&](const std::string& n) {
            auto it = t.find(pfx(il) + n);
            return it == t.end() ? at::Tensor() : it->second;
        };
        if (gate == "den2moee") {
            rs.gate = RouterSpec::Gate::Den2MoEE;
            rs.prior = opt("router.prior");
            rs.prior_scale = rc.value("prior_scale", 0.0);
            rs.null_weight = opt("router.null_weight");
            rs.select_bias = opt("router.select_bias");
            D2M_CHECK(rs.null_weight.defined() || mc.value("num_null_experts", int64_t{0}) == 0, Incompatible,
                      "MoE checkpoint ", dir, ": tensor ", pfx(il), "router.null_weight is missing");
        }
        rs.shared_gate = opt("shared_expert_gate.weight");
        std::shared_ptr<const SwiGluFfn> shared;
        if (t.count(pfx(il) + "shared_expert.gate_proj.weight")) shared = ffn_at(pfx(il) + "shared_expert.");
        ffns.push_back(std::make_shared<MoeFfn>(ex, rs, shared, st));
    }
    auto out = m->with_ffns(std::move(ffns));
    out->source = dir;
    return out;
}

}  // namespace den2moe
