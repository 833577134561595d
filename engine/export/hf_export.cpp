// HF MoE export: survey the model's FFNs, lint them against the target's rules, then build a
// lazy plan (name, shape, producer) in the target's names and order, cut it into shards by bytes,
// and materialise one shard at a time into a temporary sibling folder renamed into place at the end.
// Exact rewrites (documented in docs/export.md): prior folded into the router (W + α·P, the same
// float expression MoeFfn evaluates), routed_scale folded into every routed expert's down_proj,
// zero-padding of narrower experts, an always-on shared expert as gate 0 (sigmoid 0.5) with its
// down_proj × 2, a missing shared expert as an all-zero one, interleaved RoPE rows permuted to
// Hugging Face's half-split order, Qwen2's q/k/v biases as zeros.
#include "export/hf_export.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
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
#include "model/loaded_model.h"
#include "model/moe.h"

#ifndef D2M_VERSION
#define D2M_VERSION "dev"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {

enum class Target { Mixtral, Qwen2Moe };

Target parse_target(const std::string& f) {
    if (f == "mixtral") return Target::Mixtral;
    if (f == "qwen2moe" || f == "qwen2_moe" || f == "qwen2-moe") return Target::Qwen2Moe;
    D2M_FAIL(InvalidInput, "unknown export format '", f, "'", Hint{"use mixtral or qwen2moe"});
}
const char* target_name(Target t) { return t == Target::Mixtral ? "mixtral" : "qwen2moe"; }
const char* arch_name(Target t) { return t == Target::Mixtral ? "MixtralForCausalLM" : "Qwen2MoeForCausalLM"; }

// ---------------------------------------------------------------------------------------------
// What the model holds, layer by layer

struct Survey {
    std::vector<const MoeFfn*> moe;       // per layer, nullptr for a dense layer
    std::vector<const SwiGluFfn*> dense;  // per layer, nullptr for an MoE layer
    std::vector<int> moe_layers, dense_layers, other_layers;
    int64_t n_experts = 0, top_k = 0;     // of the first MoE layer
    int64_t max_width = 0, min_width = 0; // routed experts, over all MoE layers
    int64_t max_shared = 0;               // widest shared expert (0 = none)
    int64_t max_dense = 0;                // widest dense FFN
    bool any_shared = false, all_shared = true;
};

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

std::string join_ints(const std::vector<int>& v, size_t max_items = 8) {
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

const char* const kTokenizerFiles[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                       "special_tokens_map.json", "added_tokens.json", "tokenizer.bin"};

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

// ---------------------------------------------------------------------------------------------
// Export plan

struct Item {
    std::string name;
    Shape shape;
    std::function<at::Tensor()> make;  // tensor in the target dtype, CPU, contiguous, of `shape`
};

/// rows [F, D] -> [W, D] with zero rows appended (cols = false), or [D, F] -> [D, W] (cols = true)
at::Tensor pad_to(const at::Tensor& t, int64_t W, bool cols) {
    const int64_t F = cols ? t.size(1) : t.size(0);
    if (F == W) return t;
    return cols ? at::constant_pad_nd(t, {0, W - F}, 0) : at::constant_pad_nd(t, {0, 0, 0, W - F}, 0);
}

struct Plan {
    std::vector<Item> items;
    nlohmann::ordered_json config;
    int64_t expert_width = 0, shared_width = 0, dense_width = 0;
};

Plan build_plan(const LlamaModel& m, Target tgt, const ExportOptions& opt, const Survey& s, at::ScalarType out) {
    Plan p;
    const LlamaConfig& cfg = m.config();
    const int L = static_cast<int>(cfg.n_layer);
    const int64_t D = cfg.n_embd;
    const at::ScalarType model_st = m.scalar_type();
    const bool qwen = tgt == Target::Qwen2Moe;
    auto cvt = [out](const at::Tensor& t) { return t.to(out).contiguous(); };
    auto add = [&](const std::string& name, Shape shape, std::function<at::Tensor()> make) {
        p.items.push_back({name, std::move(shape), std::move(make)});
    };
    auto add_tensor = [&](const std::string& name, const at::Tensor& t) {
        add(name, t.sizes().vec(), [t, cvt] { return cvt(t); });
    };
    p.expert_width = s.max_width;
    p.shared_width = s.any_shared ? s.max_shared : (qwen ? opt.zero_shared_width : 0);
    p.dense_width = s.dense_layers.empty() ? cfg.n_ff : s.max_dense;

    std::map<std::string, at::Tensor> trunk = m.named_tensors();
    // llama2.c-derived models rotate adjacent pairs; HF rotates halves: permute the q/k rows per head
    auto rope_rows = [&](const at::Tensor& w, int64_t n_heads) {
        if (cfg.rope_style != RopeStyle::Interleaved) return w;
        return w.reshape({n_heads, cfg.head_dim / 2, 2, w.size(1)}).transpose(1, 2).reshape({w.size(0), w.size(1)});
    };
    add_tensor(names::embed_tokens(), trunk.at(names::embed_tokens()));
    for (int il = 0; il < L; ++il) {
        add_tensor(names::attn_norm(il), trunk.at(names::attn_norm(il)));
        add_tensor(names::q_proj(il), rope_rows(trunk.at(names::q_proj(il)), cfg.n_head));
        add_tensor(names::k_proj(il), rope_rows(trunk.at(names::k_proj(il)), cfg.n_head_kv));
        add_tensor(names::v_proj(il), trunk.at(names::v_proj(il)));
        if (qwen) {  // Qwen2 attention always has q/k/v biases: zeros keep it exactly a Llama attention
            const int64_t qd = cfg.q_dim(), kvd = cfg.kv_dim();
            add(names::attn_bias(il, "q_proj"), {qd}, [=] { return at::zeros({qd}, out); });
            add(names::attn_bias(il, "k_proj"), {kvd}, [=] { return at::zeros({kvd}, out); });
            add(names::attn_bias(il, "v_proj"), {kvd}, [=] { return at::zeros({kvd}, out); });
        }
        add_tensor(names::o_proj(il), trunk.at(names::o_proj(il)));
        add_tensor(names::ffn_norm(il), trunk.at(names::ffn_norm(il)));

        if (const SwiGluFfn* d = s.dense[static_cast<size_t>(il)]) {  // Qwen2-MoE dense layer (mlp_only_layers)
            const int64_t W = p.dense_width;
            const at::Tensor g = d->gate(), u = d->up(), dn = d->down();
            add(names::gate_proj(il), {W, D}, [=] { return cvt(pad_to(g, W, false)); });
            add(names::up_proj(il), {W, D}, [=] { return cvt(pad_to(u, W, false)); });
            add(names::down_proj(il), {D, W}, [=] { return cvt(pad_to(dn, W, true)); });
            continue;
        }
        const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
        const RouterSpec& r = moe.router();
        // router: W + α·P evaluated exactly as MoeFfn does (float, then the model's dtype), / temperature
        {
            at::Tensor w = r.weight.to(at::kFloat);
            if (r.prior.defined() && r.prior_scale != 0.0) w = w + r.prior.to(at::kFloat) * r.prior_scale;
            w = w.to(model_st);
            const double T = r.gate == RouterSpec::Gate::Softmax ? r.temperature : 1.0;
            if (T != 1.0) w = w.to(at::kFloat) / T;
            add_tensor(qwen ? names::qwen2moe_router(il) : names::mixtral_router(il), w);
        }
        const int64_t W = p.expert_width;
        const double rs = r.routed_scale;
        for (int64_t e = 0; e < moe.n_experts(); ++e) {
            const SwiGluFfn& ex = moe.expert(e);
            const at::Tensor g = ex.gate(), u = ex.up(), dn = ex.down();
            auto name = [&](const char* proj) {
                return qwen ? names::qwen2moe_expert(il, e, proj) : names::mixtral_expert(il, e, proj);
            };
            add(name("gate_proj"), {W, D}, [=] { return cvt(pad_to(g, W, false)); });
            add(name("up_proj"), {W, D}, [=] { return cvt(pad_to(u, W, false)); });
            add(name("down_proj"), {D, W}, [=] {
                at::Tensor d2 = rs == 1.0 ? dn : dn.to(at::kFloat) * rs;  // routed_scale folded into down_proj
                return cvt(pad_to(d2, W, true));
            });
        }
        if (!qwen) continue;
        const int64_t Ws = p.shared_width;
        if (const SwiGluFfn* sh = moe.shared_expert()) {
            const at::Tensor g = sh->gate(), u = sh->up(), dn = sh->down();
            const bool gated = r.shared_gate.defined();
            add(names::qwen2moe_shared(il, "gate_proj"), {Ws, D}, [=] { return cvt(pad_to(g, Ws, false)); });
            add(names::qwen2moe_shared(il, "up_proj"), {Ws, D}, [=] { return cvt(pad_to(u, Ws, false)); });
            // always-on shared expert: gate 0 -> sigmoid = 0.5 exactly, compensated by down_proj × 2 (exact)
            add(names::qwen2moe_shared(il, "down_proj"), {D, Ws},
                [=] { return cvt(pad_to(gated ? dn : dn * 2, Ws, true)); });
            const at::Tensor sg = r.shared_gate;
            add(names::qwen2moe_shared_gate(il), {1, D},
                [=] { return gated ? cvt(sg.reshape({1, D})) : at::zeros({1, D}, out); });
        } else {  // no shared expert: an all-zero one adds exactly nothing
            add(names::qwen2moe_shared(il, "gate_proj"), {Ws, D}, [=] { return at::zeros({Ws, D}, out); });
            add(names::qwen2moe_shared(il, "up_proj"), {Ws, D}, [=] { return at::zeros({Ws, D}, out); });
            add(names::qwen2moe_shared(il, "down_proj"), {D, Ws}, [=] { return at::zeros({D, Ws}, out); });
            add(names::qwen2moe_shared_gate(il), {1, D}, [=] { return at::zeros({1, D}, out); });
        }
    }
    add_tensor(names::final_norm(), trunk.at(names::final_norm()));
    if (!cfg.tie_word_embeddings) add_tensor(names::lm_head(), trunk.at(names::lm_head()));

    // config.json
    nlohmann::ordered_json c;
    c["architectures"] = {arch_name(tgt)};
    c["model_type"] = qwen ? "qwen2_moe" : "mixtral";
    c["vocab_size"] = cfg.vocab_size;
    c["hidden_size"] = D;
    c["intermediate_size"] = qwen ? p.dense_width : p.expert_width;
    c["num_hidden_layers"] = cfg.n_layer;
    c["num_attention_heads"] = cfg.n_head;
    c["num_key_value_heads"] = cfg.n_head_kv;
    if (!qwen) c["head_dim"] = cfg.head_dim;  // Qwen2-MoE derives it as hidden / heads (lint checks)
    c["hidden_act"] = "silu";
    c["max_position_embeddings"] = cfg.max_position_embeddings;
    c["initializer_range"] = 0.02;
    c["rms_norm_eps"] = cfg.rms_norm_eps;
    c["use_cache"] = true;
    c["rope_theta"] = cfg.rope_theta;
    c["rope_scaling"] = nullptr;
    c["attention_dropout"] = 0.0;
    c["tie_word_embeddings"] = cfg.tie_word_embeddings;
    c["bos_token_id"] = cfg.bos_token_id >= 0 ? json(cfg.bos_token_id) : json(nullptr);
    c["eos_token_id"] = cfg.eos_token_id >= 0 ? json(cfg.eos_token_id) : json(nullptr);
    c["torch_dtype"] = hf_dtype_name(out);
    c["num_experts_per_tok"] = s.top_k;
    c["output_router_logits"] = false;
    if (qwen) {
        bool norm = true;
        for (int il : s.moe_layers) {  // lint guarantees agreement where it matters
            const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
            if (moe.top_k() < moe.n_experts()) {
                norm = moe.router().norm_topk;
                break;
            }
        }
        std::vector<int> mlp_only(s.dense_layers.begin(), s.dense_layers.end());
        c["num_experts"] = s.n_experts;
        c["moe_intermediate_size"] = p.expert_width;
        c["shared_expert_intermediate_size"] = p.shared_width;
        c["norm_topk_prob"] = norm;
        c["decoder_sparse_step"] = 1;
        c["mlp_only_layers"] = mlp_only;
        c["qkv_bias"] = true;
        c["use_sliding_window"] = false;
        c["sliding_window"] = nullptr;
        c["max_window_layers"] = cfg.n_layer;
        c["router_aux_loss_coef"] = 0.001;
    } else {
        c["num_local_experts"] = s.n_experts;
        c["sliding_window"] = nullptr;
        c["router_aux_loss_coef"] = 0.02;
        c["router_jitter_noise"] = 0.0;
    }
    p.config = std::move(c);
    return p;
}

// ---------------------------------------------------------------------------------------------
// Folder handling

struct TmpDir {
    fs::path path;
    bool keep = false;
    ~TmpDir() {
        if (!keep && !path.empty()) {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    }
};

std::string random_suffix() {
    std::random_device rd;
    std::ostringstream os;
    os << std::hex << ((uint64_t(rd()) << 32) ^ rd());
    return os.str();
}

void copy_into(const fs::path& src, const fs::path& dst) {
    std::error_code ec;
    fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
    D2M_CHECK(!ec, Io, "export: cannot copy ", src.string(), " to ", dst.string(), ": ", ec.message());
    // the sources may be read-only (the shared model folder): the export's files are the user's
    fs::permissions(dst, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lint report

const char* lint_severity_name(LintSeverity s) {
    switch (s) {
        case LintSeverity::Error: return "error";
        case LintSeverity::Warning: return "warning";
        case LintSeverity::Info: return "info";
    }
    return "info";
}

bool ExportLint::has_errors() const { return count(LintSeverity::Error) > 0; }

int64_t ExportLint::count(LintSeverity s) const {
    return std::count_if(findings.begin(), findings.end(), [s](const LintFinding& f) { return f.severity == s; });
}

const LintFinding* ExportLint::find(const std::string& code) const {
    for (const auto& f : findings) {
        if (f.code == code) return &f;
    }
    return nullptr;
}

json ExportLint::to_json() const {
    json arr = json::array();
    for (const auto& f : findings) {
        arr.push_back({{"severity", lint_severity_name(f.severity)}, {"code", f.code}, {"message", f.message},
                       {"hint", f.hint}});
    }
    return {{"format", format},
            {"errors", count(LintSeverity::Error)},
            {"warnings", count(LintSeverity::Warning)},
            {"info", count(LintSeverity::Info)},
            {"findings", arr}};
}

std::string ExportLint::to_text() const {
    std::ostringstream os;
    const int64_t ne = count(LintSeverity::Error), nw = count(LintSeverity::Warning), ni = count(LintSeverity::Info);
    os << "export lint (" << format << "): " << ne << (ne == 1 ? " error, " : " errors, ") << nw
       << (nw == 1 ? " warning, " : " warnings, ") << ni << " info\n";
    for (const auto& f : findings) {
        std::string sev = lint_severity_name(f.severity);
        sev.resize(8, ' ');
        os << sev << f.code << ": " << f.message << "\n";
        if (!f.hint.empty()) os << "        hint: " << f.hint << "\n";
    }
    return os.str();
}

ExportLint lint_export(const LlamaModel& m, const std::string& format, const ExportOptions& opt) {
    const Target tgt = parse_target(format);
    const bool qwen = tgt == Target::Qwen2Moe;
    const char* arch = arch_name(tgt);
    const LlamaConfig& cfg = m.config();
    const int L = static_cast<int>(cfg.n_layer);
    ExportLint lint;
    lint.format = target_name(tgt);
    auto add = [&](LintSeverity sev, const std::string& code, const std::string& msg, const std::string& hint = {}) {
        lint.findings.push_back({sev, code, msg, hint});
    };
    const auto E_ = LintSeverity::Error;
    const auto W_ = LintSeverity::Warning;
    const auto I_ = LintSeverity::Info;
    const Survey s = survey(m);
    const at::ScalarType out_st = target_dtype(m, opt.dtype);

    // --- structure -----------------------------------------------------------------------------
    if (!s.other_layers.empty()) {
        add(E_, "unsupported-ffn",
            str("layers ", join_ints(s.other_layers), " hold a '", m.ffn(s.other_layers[0]).kind(),
                "' block, neither an MoE block nor a SwiGLU FFN"));
    }
    if (s.moe_layers.empty()) {
        add(E_, "no-moe-layers",
            str("the model has no MoE layer (", s.dense_layers.size(), " dense SwiGLU FFNs); ", arch,
                " needs routed experts"),
            "a FLAP-pruned dense model (recipe flap) is a Llama checkpoint with narrower FFNs and down_proj biases, "
            "which no standard MoE format describes; convert with an MoE recipe (random, upcycle, dive) to export");
    }
    if (!s.dense_layers.empty() && !s.moe_layers.empty()) {
        if (!qwen) {
            add(E_, "dense-layers",
                str("layers ", join_ints(s.dense_layers), " are dense FFNs; every Mixtral layer is an MoE block"),
                "export to qwen2moe, which lists dense layers in mlp_only_layers (ECOSYSTEM.md §5.3)");
        } else {
            add(I_, "dense-layers",
                str("layers ", join_ints(s.dense_layers), " are dense FFNs: written as mlp_only_layers with "
                    "intermediate_size ", s.max_dense),
                "mixed dense + MoE layers are native in Transformers; llama.cpp support is unverified "
                "(ECOSYSTEM.md §8)");
        }
    }
    // one expert count, one top-k, one routed width (global config keys)
    std::vector<int> e_mismatch, k_mismatch;
    std::map<int64_t, std::vector<int>> widths;  // width -> layers having it
    for (int il : s.moe_layers) {
        const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
        if (moe.n_experts() != s.n_experts) e_mismatch.push_back(il);
        if (moe.top_k() != s.top_k) k_mismatch.push_back(il);
        for (int64_t e = 0; e < moe.n_experts(); ++e) {
            auto& v = widths[moe.expert(e).width()];
            if (v.empty() || v.back() != il) v.push_back(il);
        }
    }
    if (!e_mismatch.empty()) {
        add(E_, "expert-count-mismatch",
            str("layers ", join_ints(e_mismatch), " have a different number of experts than layer ",
                s.moe_layers[0], " (", s.n_experts, "); ", arch, " has one ",
                qwen ? "num_experts" : "num_local_experts", " for all layers"));
    }
    if (!k_mismatch.empty()) {
        add(E_, "top-k-mismatch",
            str("layers ", join_ints(k_mismatch), " route a different top-k than layer ", s.moe_layers[0], " (",
                s.top_k, "); num_experts_per_tok is one value for all layers"));
    }
    if (widths.size() > 1) {
        std::ostringstream os;
        int shown = 0;
        for (int il : s.moe_layers) {
            const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
            bool uneven = false;
            for (int64_t e = 0; e < moe.n_experts(); ++e) uneven |= moe.expert(e).width() != s.max_width;
            if (!uneven || shown >= 3) continue;
            os << (shown ? "; " : "") << "layer " << il << ": [";
            for (int64_t e = 0; e < moe.n_experts(); ++e) os << (e ? ", " : "") << moe.expert(e).width();
            os << "]";
            ++shown;
        }
        if (opt.pad_experts) {
            int64_t n = 0, n_pad = 0;
            for (int il : s.moe_layers) {
                const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
                for (int64_t e = 0; e < moe.n_experts(); ++e) {
                    n += moe.expert(e).width();
                    n_pad += s.max_width;
                }
            }
            add(I_, "padded-experts",
                str("experts zero-padded to the widest (", s.max_width, " channels; widths ", os.str(),
                    "): exact, +", pct(double(n_pad - n) / double(n)), " expert parameters and compute"),
                "zero rows in gate/up and zero columns in down_proj add exactly zero with SwiGLU (ECOSYSTEM.md §5.3)");
        } else {
            add(E_, "unequal-expert-width",
                str("experts have unequal widths (", s.min_width, " to ", s.max_width, " channels; ", os.str(),
                    "); ", arch, " has one ", qwen ? "moe_intermediate_size" : "intermediate_size",
                    " for every expert and layer"),
                "pass --pad-experts to zero-pad to the widest (exact, wasted compute), or cluster into equal sizes");
        }
    }
    // shared experts
    if (s.any_shared && !qwen) {
        std::vector<int> sl;
        for (int il : s.moe_layers)
            if (s.moe[static_cast<size_t>(il)]->shared_expert()) sl.push_back(il);
        add(E_, "shared-expert-unsupported",
            str("layers ", join_ints(sl), " have an always-on shared expert (", s.max_shared,
                " channels); Mixtral has no shared expert"),
            "export to qwen2moe (one shared expert with a sigmoid gate)");
    }
    if (qwen && !s.moe_layers.empty()) {
        std::set<int64_t> sw;
        std::vector<int> no_shared, always_on;
        for (int il : s.moe_layers) {
            const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
            if (const SwiGluFfn* sh = moe.shared_expert()) {
                sw.insert(sh->width());
                if (!moe.router().shared_gate.defined()) always_on.push_back(il);
            } else {
                no_shared.push_back(il);
            }
        }
        if (sw.size() > 1) {
            if (opt.pad_experts) {
                add(I_, "padded-shared-experts",
                    str("shared experts zero-padded to the widest (", s.max_shared, " channels): exact"));
            } else {
                add(E_, "unequal-shared-width",
                    str("shared experts have unequal widths (", *sw.begin(), " to ", *sw.rbegin(),
                        " channels); shared_expert_intermediate_size is one value"),
                    "pass --pad-experts to zero-pad them to the widest (exact)");
            }
        }
        if (!always_on.empty()) {
            add(I_, "shared-gate-emulated",
                str("layers ", join_ints(always_on), ": the always-on shared expert is written with "
                    "shared_expert_gate.weight = 0 (sigmoid = 0.5) and down_proj × 2: exact"));
        }
        if (!no_shared.empty()) {
            const int64_t Ws = s.any_shared ? s.max_shared : opt.zero_shared_width;
            add(I_, "zero-shared-expert",
                str("layers ", join_ints(no_shared), " have no shared expert; Qwen2-MoE always runs one, so an "
                    "all-zero shared expert of width ", Ws, " is written: exact, ", 3 * Ws * cfg.n_embd,
                    " zero parameters per layer"));
        }
        if (s.max_dense > 0 && !s.dense_layers.empty()) {
            std::set<int64_t> dw;
            for (int il : s.dense_layers) dw.insert(s.dense[static_cast<size_t>(il)]->width());
            if (dw.size() > 1 && !opt.pad_experts)
                add(E_, "unequal-dense-width",
                    str("dense layers have unequal widths (", *dw.begin(), " to ", *dw.rbegin(),
                        "); intermediate_size is one value"),
                    "pass --pad-experts to zero-pad them to the widest (exact)");
        }
    }

    // --- routing ---------------------------------------------------------------------------------
    std::vector<int> no_renorm, temp_layers, prior_layers, null_layers, sbias_layers, scale_layers, dense_mode,
        den2moee_layers;
    std::set<bool> norms;  // Qwen2-MoE: norm_topk_prob is one value
    for (int il : s.moe_layers) {
        const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
        const RouterSpec& r = moe.router();
        if (!renormalises(moe)) no_renorm.push_back(il);
        if (moe.top_k() < moe.n_experts()) norms.insert(r.norm_topk);
        if (r.gate == RouterSpec::Gate::Softmax && r.temperature != 1.0) temp_layers.push_back(il);
        if (r.prior.defined() && r.prior_scale != 0.0) prior_layers.push_back(il);
        if (r.n_null() > 0) null_layers.push_back(il);
        if (r.select_bias.defined()) sbias_layers.push_back(il);
        if (r.routed_scale != 1.0) scale_layers.push_back(il);
        if (r.dense && moe.top_k() < moe.n_experts()) dense_mode.push_back(il);
        if (r.gate == RouterSpec::Gate::Den2MoEE) den2moee_layers.push_back(il);
    }
    if (!no_renorm.empty() && !qwen) {
        add(E_, "gate-not-renormalised",
            str("layers ", join_ints(no_renorm), " keep the raw softmax values of the top-", s.top_k,
                " experts (norm_topk = false); Mixtral always renormalises them to sum 1"),
            "export to qwen2moe (norm_topk_prob = false)");
    }
    if (qwen && norms.size() > 1) {
        add(E_, "norm-topk-mismatch", "some layers renormalise the top-k weights and others do not; "
                                      "norm_topk_prob is one value for all layers");
    }
    if (!temp_layers.empty()) {
        add(I_, "router-temperature",
            str("layers ", join_ints(temp_layers), ": the router temperature is folded into the gate weight (W / T): "
                "mathematically exact, rounding-level differences"));
    }
    if (!prior_layers.empty()) {
        add(I_, "prior-folded",
            str("layers ", join_ints(prior_layers), ": the Den2MoEE prior is folded into the gate weight "
                "(W + α·P, the matrix the router evaluates): exact"));
    }
    if (!den2moee_layers.empty() && null_layers.empty() && sbias_layers.empty()) {
        add(I_, "den2moee-gate",
            str("layers ", join_ints(den2moee_layers), " use the Den2MoEE gate; without null experts or a selection "
                "bias it equals softmax → top-k",
                renormalises(*s.moe[size_t(den2moee_layers[0])]) ? " → renormalise" : "", ": exact"));
    }
    if (!null_layers.empty()) {
        const bool renorm = s.moe[size_t(null_layers[0])]->router().norm_topk;
        add(W_, "null-experts-dropped",
            str("layers ", join_ints(null_layers), " have Den2MoEE null experts (",
                s.moe[size_t(null_layers[0])]->router().n_null(), " in layer ", null_layers[0], "); ", arch,
                " has none, so they are dropped: a token that picked a null expert now gets another routed one, "
                "every token uses ", s.top_k, " routed experts (compute-adaptive routing is lost)",
                renorm ? "; tokens that picked routed experts only keep their (renormalised) gates"
                       : "; the softmax no longer includes the null logits, so every gate value changes"),
            "expect a perplexity change (more compute per token); compare den2moe ppl on both folders");
    }
    if (!sbias_layers.empty()) {
        add(W_, "selection-bias-dropped",
            str("layers ", join_ints(sbias_layers), " select experts on probabilities + a selection bias; ", arch,
                " selects on the router logits alone, so the bias is dropped: tokens whose top-k it reorders pick "
                "other experts"),
            "the bias is a load-balancing device; recovery training with the router aux loss replaces it");
    }
    if (!scale_layers.empty()) {
        add(I_, "routed-scale-folded",
            str("layers ", join_ints(scale_layers), ": routed_scale = ",
                s.moe[size_t(scale_layers[0])]->router().routed_scale,
                " is folded into every routed expert's down_proj (× scale): exact up to rounding"));
    }
    if (!dense_mode.empty()) {
        add(W_, "dense-router-mode",
            str("layers ", join_ints(dense_mode), " are in dense (router-training) mode, mixing all experts; the "
                "export routes top-", s.top_k, " sparsely, as the model will be deployed"),
            "the exported logits differ from a dense-mode evaluation; switch the model to sparse routing to compare");
    }

    // --- biases ------------------------------------------------------------------------------------
    std::set<int> bias_layers;
    int64_t n_biased = 0, n_total = 0;
    double max_bnorm = 0;
    for (int il = 0; il < L; ++il) {
        auto visit = [&](const SwiGluFfn& f) {
            ++n_total;
            if (!f.down_bias().defined()) return;
            ++n_biased;
            bias_layers.insert(il);
            max_bnorm = std::max(max_bnorm, f.down_bias().to(at::kFloat).norm().item<double>());
        };
        if (const MoeFfn* moe = s.moe[size_t(il)]) {
            for (int64_t e = 0; e < moe->n_experts(); ++e) visit(moe->expert(e));
            if (moe->shared_expert()) visit(*moe->shared_expert());
        } else if (const SwiGluFfn* d = s.dense[size_t(il)]) {
            visit(*d);
        }
    }
    if (n_biased > 0 && !s.moe_layers.empty()) {
        std::ostringstream effect;
        const std::map<int, double> ratio = probe_bias_effect(m, s, opt.probe_ids, bias_layers);
        if (!ratio.empty()) {
            double mx = 0;
            int at_layer = -1, shown = 0;
            effect << "; relative effect on the block output ‖Σ g·b‖ / ‖output‖ on " << opt.probe_ids.numel()
                   << " probe tokens: ";
            for (const auto& [il, v] : ratio) {
                if (shown++ < 8) effect << (shown > 1 ? ", " : "") << "layer " << il << " " << pct(v);
                if (v > mx) {
                    mx = v;
                    at_layer = il;
                }
            }
            effect << " (max " << pct(mx) << " in layer " << at_layer << ")";
        } else {
            effect << "; largest ‖b‖ = " << max_bnorm << " (pass probe tokens to measure the effect)";
        }
        std::vector<int> bl(bias_layers.begin(), bias_layers.end());
        add(opt.refuse_biases ? E_ : W_, "expert-bias-dropped",
            str(n_biased, " of ", n_total, " FFNs (layers ", join_ints(bl), ") carry FLAP down_proj biases; ", arch,
                " experts have no biases, and a bias cannot be folded exactly into any other tensor of the format, "
                "so they are dropped", effect.str()),
            opt.refuse_biases
                ? "export a bias-free recipe (random, upcycle), or drop --refuse-biases to accept the change"
                : "the exported logits differ by the bias effect; short recovery training absorbs it, or pass "
                  "--refuse-biases (or --strict) to refuse");
    }

    // --- deployment alignment (ECOSYSTEM.md §5.4) -----------------------------------------------
    if (!s.moe_layers.empty()) {
        const int64_t tp = std::max<int64_t>(1, opt.tensor_parallel);
        std::vector<std::pair<std::string, int64_t>> ws = {{qwen ? "moe_intermediate_size" : "intermediate_size",
                                                            s.max_width}};
        if (qwen)
            ws.push_back({"shared_expert_intermediate_size", s.any_shared ? s.max_shared : opt.zero_shared_width});
        for (const auto& [key, w] : ws) {
            if (w % 256 != 0)
                add(W_, "width-not-multiple-256",
                    str(key, " = ", w, " is not a multiple of 256: llama.cpp's k-quants need rows divisible by 256, "
                        "so down_proj falls back to another quantisation type"),
                    w > 256 ? str("choose an expert count or pruning ratio giving a multiple of 256 (", w / 256 * 256,
                                  " or ", (w / 256 + 1) * 256, ")")
                            : std::string("choose an expert count or pruning ratio giving a width of 256"));
            if (w % (128 * tp) != 0)
                add(W_, "width-not-multiple-tp",
                    str(key, " = ", w, " is not a multiple of 128 × TP = ", 128 * tp,
                        ": vLLM's fused-MoE kernels need a per-rank width that is a multiple of 128 (FP8 blocks, "
                        "Marlin tiles) at tensor-parallel size ", tp),
                    "multiples of 1024 cover TP ≤ 8");
        }
        if (s.n_experts & (s.n_experts - 1))
            add(W_, "experts-not-power-of-two",
                str(s.n_experts, " experts is not a power of two: llama.cpp's GPU top-k (bitonic argsort) needed "
                                 "one; the CPU backend does not"),
                "re-check on the current llama.cpp release if GGUF/GPU deployment is the goal (ECOSYSTEM.md §5.4, §8)");
    }

    // --- trunk -------------------------------------------------------------------------------------
    if (cfg.tie_word_embeddings)
        add(I_, "tied-embeddings", "tie_word_embeddings = true: lm_head.weight is not written; loaders tie it");
    if (cfg.head_dim * cfg.n_head != cfg.n_embd) {
        if (qwen)
            add(E_, "head-dim", str("head_dim ", cfg.head_dim, " × ", cfg.n_head, " heads ≠ hidden_size ", cfg.n_embd,
                                    "; Qwen2-MoE derives head_dim as hidden_size / heads"));
        else
            add(W_, "head-dim", str("head_dim ", cfg.head_dim, " × ", cfg.n_head, " heads ≠ hidden_size ", cfg.n_embd,
                                    "; written as config head_dim, which older Transformers releases ignore"));
    }
    if (cfg.rope_style == RopeStyle::Interleaved)
        add(I_, "rope-permuted", "the model rotates adjacent RoPE pairs (llama2.c); q/k rows are permuted per head "
                                 "to Hugging Face's half-split order: exact");
    if (qwen)
        add(I_, "qkv-zero-bias",
            "Qwen2 attention has q/k/v biases; they are written as zeros (qkv_bias = true): exact");
    if (out_st != m.scalar_type())
        add(I_, "dtype-cast",
            str("weights are written as ", hf_dtype_name(out_st), " (the model holds ", hf_dtype_name(m.scalar_type()),
                ")", out_st == at::kFloat ? ": exact" : ": rounding may change the routing of near-tied tokens"));
    if (!s.moe_layers.empty())
        add(I_, "router-aux-loss",
            str("output_router_logits = false, router_aux_loss_coef = ", qwen ? "0.001" : "0.02",
                " (inference defaults)"),
            "for recovery training set output_router_logits = true so the load-balancing loss takes effect "
            "(ECOSYSTEM.md §5.2)");
    {
        const auto files = files_to_copy(source_dirs(m, opt), cfg.vocab_size);
        bool tok = files.count(str("tok", cfg.vocab_size, ".bin")) > 0;
        for (const char* n : kTokenizerFiles) tok |= files.count(n) > 0;
        if (!tok)
            add(W_, "no-tokenizer",
                str("no tokenizer file found beside the model (", m.source, ") or its dense source; the export "
                    "will hold weights and config only"),
                "copy tokenizer.model (and tokenizer_config.json) into the export folder by hand");
    }

    if (opt.strict) {
        for (auto& f : lint.findings) {
            if (f.severity == W_) {
                f.severity = E_;
                f.hint += f.hint.empty() ? "(an error under --strict)" : " (an error under --strict)";
            }
        }
    }
    std::stable_sort(lint.findings.begin(), lint.findings.end(),
                     [](const LintFinding& a, const LintFinding& b) { return a.severity < b.severity; });
    return lint;
}

// ---------------------------------------------------------------------------------------------
// Export

ExportResult export_hf(const LlamaModel& m, const std::string& format, const std::string& out_dir,
                       const ExportOptions& opt) {
    return export_hf(m, format, out_dir, opt, null_context());
}

ExportResult export_hf(const LlamaModel& m, const std::string& format, const std::string& out_dir,
                       const ExportOptions& opt, RunContext& ctx) {
    const auto t0 = std::chrono::steady_clock::now();
    const Target tgt = parse_target(format);
    ExportResult res;
    res.out_dir = out_dir;
    res.lint = lint_export(m, format, opt);
    if (res.lint.has_errors()) {
        std::ostringstream os;
        for (const auto& f : res.lint.findings) {
            if (f.severity == LintSeverity::Error) os << "\n  [" << f.code << "] " << f.message;
        }
        D2M_FAIL(Incompatible, "cannot export ", m.source.empty() ? std::string("the model") : m.source, " as ",
                 arch_name(tgt), ": ", res.lint.count(LintSeverity::Error), " lint error(s):", os.str(),
                 Hint{"see the hints of `den2moe export --lint-only`; nothing was written"});
    }
    D2M_CHECK(opt.shard_size > 0, InvalidInput, "export: the shard size must be positive, found ", opt.shard_size);
    D2M_CHECK(!out_dir.empty(), InvalidInput, "export: no output folder given");
    const fs::path out = fs::absolute(fs::path(out_dir)).lexically_normal();
    const fs::path outp = out.filename().empty() ? out.parent_path() : out;  // "dir/" -> "dir"
    std::error_code ec;
    if (fs::exists(outp, ec)) {
        D2M_CHECK(fs::is_directory(outp, ec) &&
                      (fs::is_empty(outp, ec) || fs::exists(outp / "den2moe_provenance.json", ec)),
                  InvalidInput, "export: ", outp.string(), " already exists and is not an earlier den2moe export",
                  Hint{"choose a new --out folder or remove it first; only a folder holding den2moe_provenance.json "
                       "(or an empty one) is replaced"});
    }
    fs::create_directories(outp.parent_path(), ec);
    D2M_CHECK(!ec, Io, "export: cannot create ", outp.parent_path().string(), ": ", ec.message());

    const Survey s = survey(m);
    const at::ScalarType out_st = target_dtype(m, opt.dtype);
    Plan plan = build_plan(m, tgt, opt, s, out_st);

    // shards: the plan's order (layer by layer), a new shard when the next tensor would overflow
    const int64_t esize = static_cast<int64_t>(c10::elementSize(out_st));
    std::vector<std::vector<size_t>> shards(1);
    int64_t cur = 0, total = 0;
    for (size_t i = 0; i < plan.items.size(); ++i) {
        int64_t n = esize;
        for (int64_t d : plan.items[i].shape) n *= d;
        if (cur > 0 && cur + n > opt.shard_size) {
            shards.emplace_back();
            cur = 0;
        }
        shards.back().push_back(i);
        cur += n;
        total += n;
    }
    const int64_t n_shards = static_cast<int64_t>(shards.size());
    auto shard_name = [&](int64_t i) {
        if (n_shards == 1) return std::string("model.safetensors");
        char buf[64];
        std::snprintf(buf, sizeof(buf), "model-%05lld-of-%05lld.safetensors", (long long)(i + 1), (long long)n_shards);
        return std::string(buf);
    };

    TmpDir tmp;
    tmp.path = outp.parent_path() / ("." + outp.filename().string() + ".export-tmp-" + random_suffix());
    fs::create_directory(tmp.path, ec);
    D2M_CHECK(!ec, Io, "export: cannot create the temporary folder ", tmp.path.string(), ": ", ec.message());

    json weight_map = json::object();
    for (int64_t si = 0; si < n_shards; ++si) {
        ctx.check_cancelled();
        ctx.report("export", si, n_shards, shard_name(si));
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (size_t i : shards[static_cast<size_t>(si)]) {
            const Item& it = plan.items[i];
            at::Tensor t = it.make();
            D2M_ASSERT(t.sizes().vec() == it.shape && t.scalar_type() == out_st);
            tensors.emplace_back(it.name, t);
            weight_map[it.name] = shard_name(si);
        }
        save_safetensors((tmp.path / shard_name(si)).string(), tensors, {{"format", "pt"}});
        res.files.push_back(shard_name(si));
    }
    ctx.report("export", n_shards, n_shards);
    if (n_shards > 1) {
        nlohmann::ordered_json idx;
        idx["metadata"] = {{"total_size", total}};
        idx["weight_map"] = weight_map;  // json::object keeps keys sorted
        write_file_atomic((tmp.path / "model.safetensors.index.json").string(), idx.dump(2) + "\n");
        res.files.push_back("model.safetensors.index.json");
    }
    write_file_atomic((tmp.path / "config.json").string(), plan.config.dump(2) + "\n");
    res.files.push_back("config.json");

    // tokenizer + generation config from the sources; provenance sidecar
    const std::vector<fs::path> dirs = source_dirs(m, opt);
    const auto copies = files_to_copy(dirs, m.config().vocab_size);
    for (const auto& [name, src] : copies) {
        ctx.check_cancelled();
        copy_into(src, tmp.path / name);
        res.files.push_back(name);
    }
    if (!copies.count("generation_config.json")) {
        nlohmann::ordered_json g;
        g["_from_model_config"] = true;
        g["bos_token_id"] = m.config().bos_token_id >= 0 ? json(m.config().bos_token_id) : json(nullptr);
        g["eos_token_id"] = m.config().eos_token_id >= 0 ? json(m.config().eos_token_id) : json(nullptr);
        write_file_atomic((tmp.path / "generation_config.json").string(), g.dump(2) + "\n");
        res.files.push_back("generation_config.json");
    }
    nlohmann::ordered_json prov;
    prov["tool"] = "den2moe";
    prov["version"] = D2M_VERSION;
    {
        const std::time_t now = std::time(nullptr);
        char buf[32];
        std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        prov["exported_at"] = buf;
    }
    prov["format"] = target_name(tgt);
    prov["architecture"] = arch_name(tgt);
    prov["source"] = m.source.empty() ? std::string() : fs::absolute(m.source).lexically_normal().string();
    prov["dtype"] = hf_dtype_name(out_st);
    prov["options"] = {{"dtype", opt.dtype},          {"pad_experts", opt.pad_experts},
                       {"strict", opt.strict},        {"refuse_biases", opt.refuse_biases},
                       {"shard_size", opt.shard_size}, {"tensor_parallel", opt.tensor_parallel},
                       {"zero_shared_width", opt.zero_shared_width}};
    prov["shards"] = n_shards;
    prov["lint"] = res.lint.to_json()["findings"];
    for (const auto& d : dirs) {  // the native folder's provenance and MoE config, when exported from one
        json p = read_json_file(d / "provenance.json");
        if (p.is_object() && !prov.contains("native_provenance")) prov["native_provenance"] = p;
        json mc = read_json_file(d / "moe_config.json");
        if (mc.is_object() && !prov.contains("native_moe_config")) prov["native_moe_config"] = mc;
        json dp = read_json_file(d / "den2moe_provenance.json");  // re-export of an export
        if (dp.is_object() && !prov.contains("previous_export")) prov["previous_export"] = dp;
    }
    write_file_atomic((tmp.path / "den2moe_provenance.json").string(), prov.dump(2) + "\n");
    res.files.push_back("den2moe_provenance.json");

    // into place: replace an earlier export as a whole
    ctx.check_cancelled();
    fs::path old;
    if (fs::exists(outp, ec)) {
        old = outp.parent_path() / ("." + outp.filename().string() + ".export-old-" + random_suffix());
        fs::rename(outp, old, ec);
        D2M_CHECK(!ec, Io, "export: cannot move the earlier export ", outp.string(), " aside: ", ec.message());
    }
    fs::rename(tmp.path, outp, ec);
    if (ec) {
        std::error_code ec2;
        if (!old.empty()) fs::rename(old, outp, ec2);
        D2M_FAIL(Io, "export: cannot move ", tmp.path.string(), " to ", outp.string(), ": ", ec.message());
    }
    tmp.keep = true;
    if (!old.empty()) fs::remove_all(old, ec);
    res.out_dir = outp.string();
    res.n_shards = n_shards;
    res.n_tensors = static_cast<int64_t>(plan.items.size());
    res.bytes = total;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

namespace {

// A few sentences of ordinary prose: the probe that measures what dropped biases change.
constexpr const char* kProbeText =
    "Once upon a time, there was a little girl named Lily. She liked to play in the park with her friends. "
    "The stock market fell sharply on Monday as investors worried about interest rates. "
    "Question: What is 12 times 7? Answer: 84. Photosynthesis converts light energy into chemical energy.";

/// The dtype the checkpoint stores its embedding in ("" when it cannot be read).
std::string stored_embedding_dtype(const std::string& dir) {
    std::vector<std::string> candidates = {(fs::path(dir) / "model.safetensors").string()};
    try {
        std::ifstream idx(fs::path(dir) / "model.safetensors.index.json");
        if (idx.good()) {
            const json j = json::parse(idx);
            const auto& wm = j.at("weight_map");
            if (wm.contains("model.embed_tokens.weight"))
                candidates.insert(candidates.begin(),
                                  (fs::path(dir) / wm["model.embed_tokens.weight"].get<std::string>()).string());
        }
    } catch (const std::exception&) {
    }
    for (const auto& path : candidates) {
        try {
            std::error_code ec;
            if (!fs::exists(path, ec)) continue;
            SafetensorsReader r = SafetensorsReader::open(path);
            if (r.has("model.embed_tokens.weight")) return st_dtype_name(r.info("model.embed_tokens.weight").dtype);
        } catch (const Error&) {
        }
    }
    return "";
}

}  // namespace

PreparedExport prepare_export(const std::string& moe_dir, const std::string& format, ExportOptions opt,
                              const std::string& want, const std::string& tokenizer_override) {
    D2M_CHECK(want == "keep" || want == "fp32" || want == "bf16" || want == "fp16", InvalidInput,
              "export: unknown dtype '", want, "'", Hint{"use keep, fp32, bf16 or fp16"});
    PreparedExport p;
    p.stored_dtype = stored_embedding_dtype(moe_dir);
    const bool load_bf16 = p.stored_dtype == "BF16" && (want == "keep" || want == "bf16");
    opt.dtype = want != "keep" ? want : p.stored_dtype == "BF16" ? "bf16" : p.stored_dtype == "F16" ? "fp16" : "fp32";
    LoadedModel lm = load_model(moe_dir, load_bf16 ? ComputeDType::BF16 : ComputeDType::F32, tokenizer_override);
    std::vector<int> ids = lm.tokenizer->encode(kProbeText, true, false);
    opt.probe_ids = at::tensor(ids, at::kLong).unsqueeze(0);
    p.model = lm.model;
    p.lint = lint_export(*p.model, format, opt);
    p.options = opt;
    return p;
}

}  // namespace den2moe
