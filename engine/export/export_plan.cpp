// The export's tensor plan: every tensor of the target checkpoint in its names and order (lazy: made
// one shard at a time), with the exact rewrites of docs/export.md — the prior folded into the router,
// routed_scale into the experts' down_proj, zero-padding of narrower experts, the always-on shared
// expert as gate 0 with down_proj × 2, a missing shared expert as an all-zero one, interleaved RoPE
// rows permuted to Hugging Face's order, the attention's own tensors (Qwen2's q/k/v biases, zeros
// for a Llama trunk; Qwen3's q/k norms) — and its config.json.
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
// ---------------------------------------------------------------------------------------------
// Export plan

/// rows [F, D] -> [W, D] with zero rows appended (cols = false), or [D, F] -> [D, W] (cols = true)
static at::Tensor pad_to(const at::Tensor& t, int64_t W, bool cols) {
    const int64_t F = cols ? t.size(1) : t.size(0);
    if (F == W) return t;
    return cols ? at::constant_pad_nd(t, {0, W - F}, 0) : at::constant_pad_nd(t, {0, 0, 0, W - F}, 0);
}

Plan build_plan(const LlamaModel& m, Target tgt, const ExportOptions& opt, const Survey& s, at::ScalarType out) {
    Plan p;
    const LlamaConfig& cfg = m.config();
    const int L = static_cast<int>(cfg.n_layer);
    const int64_t D = cfg.n_embd;
    const at::ScalarType model_st = m.scalar_type();
    const TargetSpec& ts = target_spec(tgt);
    const bool qwen = ts.qwen_layout, shared = ts.shared_expert;
    const ArchSpec& attn = *find_arch(ts.attention);
    auto cvt = [out](const at::Tensor& t) { return t.to(out).contiguous(); };
    auto add = [&](const std::string& name, Shape shape, std::function<at::Tensor()> make) {
        p.items.push_back({name, std::move(shape), std::move(make)});
    };
    auto add_tensor = [&](const std::string& name, const at::Tensor& t) {
        add(name, t.sizes().vec(), [t, cvt] { return cvt(t); });
    };
    p.expert_width = s.max_width;
    p.shared_width = s.any_shared ? s.max_shared : (shared ? opt.zero_shared_width : 0);
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
        // the attention's own tensors (the linter refused a model whose attention the target lacks)
        for (const auto& extra : cfg.attention_extras(il)) add_tensor(extra.first, trunk.at(extra.first));
        if (attn.qkv_bias && !cfg.qkv_bias) {  // Qwen2 attention always has q/k/v biases: zeros keep a Llama's
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
        if (!shared) continue;
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
    c["model_type"] = ts.model_type;
    c["vocab_size"] = cfg.vocab_size;
    c["hidden_size"] = D;
    c["intermediate_size"] = qwen ? p.dense_width : p.expert_width;
    c["num_hidden_layers"] = cfg.n_layer;
    c["num_attention_heads"] = cfg.n_head;
    c["num_key_value_heads"] = cfg.n_head_kv;
    if (tgt != Target::Qwen2Moe) c["head_dim"] = cfg.head_dim;  // Qwen2-MoE derives it as hidden / heads (lint checks)
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
        if (shared) c["shared_expert_intermediate_size"] = p.shared_width;
        c["norm_topk_prob"] = norm;
        c["decoder_sparse_step"] = 1;
        c["mlp_only_layers"] = mlp_only;
        if (attn.qkv_bias) c["qkv_bias"] = true;
        else c["attention_bias"] = false;
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


}  // namespace export_detail
}  // namespace den2moe
