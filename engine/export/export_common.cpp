// Shared pieces of the export module (export_common.h): target names, the model survey, the
// dropped-bias probe, source folders and formatting helpers.
#include "export/export_common.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "core/shapes.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/llama.h"
#include "model/moe.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {
namespace export_detail {


Target parse_target(const std::string& f) {
    if (f == "mixtral") return Target::Mixtral;
    if (f == "qwen2moe" || f == "qwen2_moe" || f == "qwen2-moe") return Target::Qwen2Moe;
    if (f == "qwen3moe" || f == "qwen3_moe" || f == "qwen3-moe") return Target::Qwen3Moe;
    D2M_FAIL(InvalidInput, "unknown export format '", f, "'", Hint{"use mixtral, qwen2moe or qwen3moe"});
}
const TargetSpec& target_spec(Target t) {
    // name, class, model_type, Qwen MoE layout, shared expert, the dense architecture of its attention
    static const TargetSpec mixtral{"mixtral", "MixtralForCausalLM", "mixtral", false, false, "llama"};
    static const TargetSpec qwen2moe{"qwen2moe", "Qwen2MoeForCausalLM", "qwen2_moe", true, true, "qwen2"};
    static const TargetSpec qwen3moe{"qwen3moe", "Qwen3MoeForCausalLM", "qwen3_moe", true, false, "qwen3"};
    return t == Target::Mixtral ? mixtral : t == Target::Qwen2Moe ? qwen2moe : qwen3moe;
}
const char* target_name(Target t) { return target_spec(t).name; }
const char* arch_name(Target t) { return target_spec(t).arch; }

// ---------------------------------------------------------------------------------------------
// What the model holds, layer by layer

Survey survey(const LlamaModel& m) {
    Survey s;
    const int L = static_cast<int>(m.config().n_layer);
    s.min_width = INT64_MAX;
    for (int il = 0; il < L; ++il) {
        const FeedForward& f = m.ffn(il);
        const auto* moe = dynamic_cast<const MoeFfn*>(&f);
        const auto* dense = dynamic_cast<const SwiGluFfn*>(&f);
        s.moe.push_back(moe);
        s.dense.push_back(moe ? nullptr : dense);
        if (moe) {
            if (s.moe_layers.empty()) {
                s.n_experts = moe->n_experts();
                s.top_k = moe->top_k();
            }
            s.moe_layers.push_back(il);
            for (int64_t e = 0; e < moe->n_experts(); ++e) {
                s.max_width = std::max(s.max_width, moe->expert(e).width());
                s.min_width = std::min(s.min_width, moe->expert(e).width());
            }
            if (moe->shared_expert()) {
                s.any_shared = true;
                s.max_shared = std::max(s.max_shared, moe->shared_expert()->width());
            } else {
                s.all_shared = false;
            }
        } else if (dense) {
            s.dense_layers.push_back(il);
            s.max_dense = std::max(s.max_dense, dense->width());
        } else {
            s.other_layers.push_back(il);
        }
    }
    if (s.moe_layers.empty()) {
        s.min_width = 0;
        s.all_shared = false;
    }
    return s;
}

/// Does layer `moe` renormalise its selected weights to sum 1 (what Mixtral always does)?
/// All experts selected = a softmax over all of them, which sums to 1 either way (without null experts).
bool renormalises(const MoeFfn& moe) {
    const RouterSpec& r = moe.router();
    return r.norm_topk || moe.top_k() >= moe.n_experts() + r.n_null();
}

std::string join_ints(const std::vector<int>& v, size_t max_items) {
    std::ostringstream os;
    for (size_t i = 0; i < v.size() && i < max_items; ++i) os << (i ? ", " : "") << v[i];
    if (v.size() > max_items) os << ", … (" << v.size() << " in all)";
    return os.str();
}

std::string pct(double x) {
    std::ostringstream os;
    os.precision(x < 0.001 ? 2 : 3);
    os << 100.0 * x << "%";
    return os.str();
}

at::ScalarType target_dtype(const LlamaModel& m, const std::string& d) {
    if (d.empty() || d == "keep") return m.scalar_type();
    if (d == "fp32" || d == "f32" || d == "float32") return at::kFloat;
    if (d == "bf16" || d == "bfloat16") return at::kBFloat16;
    if (d == "fp16" || d == "f16" || d == "float16") return at::kHalf;
    D2M_FAIL(InvalidInput, "export: unknown dtype '", d, "'", Hint{"use keep, fp32, bf16 or fp16"});
}

const char* hf_dtype_name(at::ScalarType st) {
    switch (st) {
        case at::kBFloat16: return "bfloat16";
        case at::kHalf: return "float16";
        default: return "float32";
    }
}

// ---------------------------------------------------------------------------------------------
// Source files (tokenizer, provenance, generation config)

fs::path folder_of(const std::string& p) {
    std::error_code ec;
    if (p.empty()) return {};
    if (fs::is_directory(p, ec)) return fs::path(p);
    return fs::path(p).parent_path();
}

json read_json_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in.good()) return json();
    try {
        return json::parse(in);
    } catch (const json::exception&) {
        return json();
    }
}

/// Where tokenizer / provenance / generation files come from: the given or the model's own folder,
/// then the dense model named in its provenance.json ("source_model").
std::vector<fs::path> source_dirs(const LlamaModel& m, const ExportOptions& opt) {
    std::vector<fs::path> dirs;
    std::error_code ec;
    const fs::path first = folder_of(opt.source_dir.empty() ? m.source : opt.source_dir);
    if (!first.empty() && fs::is_directory(first, ec)) dirs.push_back(first);
    if (!dirs.empty()) {
        json prov = read_json_file(first / "provenance.json");
        if (prov.is_object() && prov.contains("source_model") && prov["source_model"].is_string()) {
            const fs::path dense = folder_of(prov["source_model"].get<std::string>());
            if (!dense.empty() && fs::is_directory(dense, ec) && dense != first) dirs.push_back(dense);
        }
    }
    return dirs;
}

const char* const kTokenizerFiles[8] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                       "special_tokens_map.json", "added_tokens.json", "tokenizer.bin",
                                       "vocab.json", "merges.txt"};  // the last two: byte-level BPE

/// name -> the first source holding it (tokenizer files and generation_config.json); tok{V}.bin is
/// llama2.c's tokenizer name, which den2moe's loader also looks for.
std::map<std::string, fs::path> files_to_copy(const std::vector<fs::path>& dirs, int64_t vocab) {
    std::map<std::string, fs::path> out;
    std::error_code ec;
    std::vector<std::string> names(std::begin(kTokenizerFiles), std::end(kTokenizerFiles));
    names.push_back(str("tok", vocab, ".bin"));
    names.push_back("generation_config.json");
    for (const auto& n : names) {
        for (const auto& d : dirs) {
            const fs::path p = d / n;
            if (fs::exists(p, ec) && !fs::is_directory(p, ec)) {
                out[n] = p;
                break;
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Bias measurement on probe tokens: ‖Σ_e g_e·b_e (+ shared bias)‖ / ‖MoE block output‖ per layer

std::map<int, double> probe_bias_effect(const LlamaModel& m, const Survey& s, const at::Tensor& ids,
                                        const std::set<int>& layers) {
    std::map<int, double> ratio;
    if (!ids.defined() || layers.empty()) return ratio;
    std::map<int, at::Tensor> inp, outp;
    ObserverSet obs;
    for (int il : layers) {
        obs.add(site::kFfnInp, [&inp](const HookEvent& e) { inp[e.layer] = e.tensor.detach().clone(); }, il);
        obs.add(site::kFfnOut, [&outp](const HookEvent& e) { outp[e.layer] = e.tensor.detach().clone(); }, il);
    }
    ForwardOptions fo;
    fo.observers = &obs;
    at::Tensor ids2 = ids.dim() == 1 ? ids.unsqueeze(0) : ids;
    m.forward(ids2.to(at::kLong), {}, fo);
    for (int il : layers) {
        if (!inp.count(il) || !outp.count(il)) continue;
        const int64_t D = inp[il].size(-1);
        at::Tensor x = inp[il].reshape({-1, D});                 // [N, D] compute dtype
        at::Tensor y = outp[il].reshape({-1, D}).to(at::kFloat);  // [N, D]
        at::Tensor contrib = at::zeros({x.size(0), D}, at::kFloat);
        if (const MoeFfn* moe = s.moe[static_cast<size_t>(il)]) {
            at::Tensor w;
            moe->route(x, &w, nullptr);  // [N, E] float, routed_scale included
            std::vector<at::Tensor> rows;
            for (int64_t e = 0; e < moe->n_experts(); ++e) {
                const at::Tensor& b = moe->expert(e).down_bias();
                rows.push_back(b.defined() ? b.to(at::kFloat) : at::zeros({D}, at::kFloat));
            }
            contrib += at::matmul(w, at::stack(rows));
            if (const SwiGluFfn* sh = moe->shared_expert(); sh && sh->down_bias().defined()) {
                at::Tensor g = moe->router().shared_gate.defined()
                                   ? at::sigmoid(at::linear(x, moe->router().shared_gate).to(at::kFloat))
                                   : at::ones({x.size(0), 1}, at::kFloat);
                contrib += g * sh->down_bias().to(at::kFloat).unsqueeze(0);
            }
        } else if (const SwiGluFfn* d = s.dense[static_cast<size_t>(il)]; d && d->down_bias().defined()) {
            contrib += d->down_bias().to(at::kFloat).unsqueeze(0);
        }
        const double yn = y.norm().item<double>();
        ratio[il] = yn > 0 ? contrib.norm().item<double>() / yn : 0.0;
    }
    return ratio;
}


}  // namespace export_detail
}  // namespace den2moe
