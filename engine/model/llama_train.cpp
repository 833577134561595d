// The Train mode of LlamaModel (ExecMode::Train): the forward pass of model/llama.cpp as a chain
// of ATen operations that autograd differentiates, for recovery training (engine/train/).
// Same weights, same arithmetic up to the order of sums: RMSNorm and RoPE in float32, attention
// scores scaled, masked and soft-maxed in float32, residual adds out of place, no fused kernels, no
// row-parallel regions, no KV cache. Tensors are made on the weights' device, so the pass runs on
// CUDA as well. Adapters (LoRA) add their low-rank updates to named linear layers here.
// On the CPU, attention is one autograd function (FusedCausalAttention): the fused causal softmax
// kernel of the Infer mode in its forward (kernels/causal_softmax.h), the softmax backward written
// out (dS = P ⊙ (dP − rowsum(dP ⊙ P))), so the only [T, T] tensor kept for backward is P.
#include "model/llama.h"
#include "model/gemm.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#ifdef D2M_HAVE_KERNELS
#include "causal_softmax.h"
#endif

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/observers.h"
#include "io/tensor_names.h"

namespace den2moe {

namespace {

// RMSNorm out of place: x * rsqrt(mean(x^2) + eps) * w in float32, back to x's dtype
at::Tensor rms_norm_train(const at::Tensor& x, const at::Tensor& w, double eps) {
    at::Tensor xf = x.to(at::kFloat);
    at::Tensor r = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return (xf * r * w.to(at::kFloat)).to(x.scalar_type());
}

void emit(const ObserverSet* obs, const char* site, int il, const at::Tensor& t, const at::Tensor& token_mask) {
    if (obs && obs->wants(site, il)) obs->emit(site, il, t, token_mask);
}

// x·W_iᵀ (+ b_i) for each piece of a fused weight W = [W_0; W_1; ...] (rows `rows[i]`, names `keys[i]`),
// plus the piece's adapter update where it has one. One product per piece on a row block of W (a
// view), not one fused product cut into pieces: the backward of cutting an ACTIVATION [N, ΣR] is a
// zero-filled [N, ΣR] tensor per narrow (or one concatenation of the pieces' gradients per split),
// while a weight block's is as large as the WEIGHT, N / D times smaller (D = the input width; a
// contrastive step's N is thousands of tokens). The fused tensor stays the one leaf.
std::vector<at::Tensor> adapted_linears(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                        const LinearAdapters* adapters, const std::vector<std::string>& keys,
                                        const std::vector<int64_t>& rows) {
    std::vector<at::Tensor> out;
    int64_t off = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
        const bool whole = keys.size() == 1;
        at::Tensor y = gemm::linear(x, whole ? w : w.narrow(0, off, rows[i]),
                                    b.defined() && !whole ? b.narrow(0, off, rows[i]) : b);  // [.., R_i]
        if (adapters) {
            at::Tensor d = adapters->delta(keys[i], x);
            if (d.defined()) y = y + d;
        }
        out.push_back(y);
        off += rows[i];
    }
    return out;
}

#ifdef D2M_HAVE_KERNELS
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// o = softmax(scale·q·kᵀ over the visible keys)·v. q [B, Hkv, rep·T, Dh] (query head h = g·rep + r
// at rows r·T..), k, v [B, Hkv, T, Dh]; key_ok [B, T] bool, or empty for no padding (autograd
// functions take defined tensors only). Returns [B, Hkv, rep·T, Dh].
struct FusedCausalAttention : public torch::autograd::Function<FusedCausalAttention> {
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              double scale, int64_t H, const at::Tensor& key_ok) {
        const int64_t B = q.size(0), T = k.size(2);
        at::Tensor p = gemm::matmul(q, k.transpose(-1, -2));  // [B, Hkv, rep·T, T]
        at::Tensor p4 = p.view({B, H, T, T});
        kernels::causal_softmax_(p4, scale, 0, key_ok.numel() ? key_ok : at::Tensor());  // in place: P
        ctx->save_for_backward({q, k, v, p});
        ctx->saved_data["scale"] = scale;
        return gemm::matmul(p, v);
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &p = saved[3];
        const double scale = ctx->saved_data["scale"].toDouble();
        const at::Tensor dO = grads[0].contiguous();                 // [B, Hkv, rep·T, Dh]
        at::Tensor dv = gemm::matmul(p.transpose(-1, -2), dO);      // [B, Hkv, T, Dh]
        at::Tensor dp = gemm::matmul(dO, v.transpose(-1, -2));      // [B, Hkv, rep·T, T]
        at::Tensor ds;                                               // dS = P ⊙ (dP − Σ_j dP⊙P) · scale
        if (dp.scalar_type() == at::kFloat) {
            at::Tensor rs = (dp * p).sum(-1, true);
            ds = dp.sub_(rs).mul_(p).mul_(scale);
        } else {
            at::Tensor pf = p.to(at::kFloat), dpf = dp.to(at::kFloat);
            at::Tensor rs = (dpf * pf).sum(-1, true);
            ds = dpf.sub_(rs).mul_(pf).mul_(scale).to(dp.scalar_type());
        }
        at::Tensor dq = gemm::matmul(ds, k);                        // [B, Hkv, rep·T, Dh]
        at::Tensor dk = gemm::matmul(ds.transpose(-1, -2), q);      // [B, Hkv, T, Dh]
        return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor()};
    }
};
#endif

// softmax(scale·q·kᵀ, masked)·v, as above: the fused function on the CPU, ATen ops elsewhere
at::Tensor causal_attention(const at::Tensor& qg, const at::Tensor& kt, const at::Tensor& vt, double scale, int64_t H,
                            const at::Tensor& blocked, const at::Tensor& key_ok) {
    const int64_t B = qg.size(0), Hkv = qg.size(1), T = kt.size(2), rep = H / Hkv;
#ifdef D2M_HAVE_KERNELS
    if (qg.is_cpu() && (qg.scalar_type() == at::kFloat || qg.scalar_type() == at::kBFloat16))
        return FusedCausalAttention::apply(qg, kt, vt, scale, H,
                                           key_ok.defined() ? key_ok : at::empty({0}, qg.options().dtype(at::kBool)));
#endif
    at::Tensor att = gemm::matmul(qg, kt.transpose(-1, -2)).view({B, H, T, T});  // [B, H, T, T]
    att = (att.to(at::kFloat) * scale).masked_fill(blocked, -std::numeric_limits<float>::infinity());
    att = at::softmax(att, -1).to(qg.scalar_type());
    return gemm::matmul(att.view({B, Hkv, rep * T, T}), vt);  // [B, Hkv, rep*T, Dh]
}

}  // namespace

at::Tensor FeedForward::forward_train(const at::Tensor&, int il, const FfnContext&) const {
    D2M_FAIL(Incompatible, "layer ", il, "'s '", kind(), "' feed-forward block has no differentiable (Train) mode");
}

std::shared_ptr<const FeedForward> FeedForward::to(const at::Device& device) const {
    D2M_FAIL(Incompatible, "a '", kind(), "' feed-forward block cannot be moved to ", device.str());
}

at::Tensor SwiGluFfn::forward_train(const at::Tensor& x, int il, const FfnContext& fc) const {
    // two products on the fused weight's row blocks, not one product split (see adapted_linears)
    const std::vector<at::Tensor> gu =
        adapted_linears(x, w_gate_up_, at::Tensor(), fc.adapters,
                        {fc.name_prefix + "gate_proj.weight", fc.name_prefix + "up_proj.weight"}, {n_ff_, n_ff_});
    at::Tensor act = at::silu(gu[0]) * gu[1];  // [.., F]
    static const at::Tensor kNone;
    emit(fc.observers, site::kFfnAct, il, act, fc.token_mask ? *fc.token_mask : kNone);
    return adapted_linears(act, w_down_, b_down_, fc.adapters, {fc.name_prefix + "down_proj.weight"},
                           {w_down_.size(0)})[0];  // [.., D]
}

std::shared_ptr<const FeedForward> SwiGluFfn::to(const at::Device& device) const {
    auto f = std::make_shared<SwiGluFfn>(*this);
    f->w_gate_up_ = w_gate_up_.to(device);
    f->w_down_ = w_down_.to(device);
    if (b_down_.defined()) f->b_down_ = b_down_.to(device);
    return f;
}

at::Device LlamaModel::device() const { return tok_embd_.device(); }

std::shared_ptr<LlamaModel> LlamaModel::to(const at::Device& device) const {
    auto m = std::make_shared<LlamaModel>(*this);
    m->tok_embd_ = tok_embd_.to(device);
    m->final_norm_ = final_norm_.to(device);
    m->w_out_ = w_out_.is_same(tok_embd_) ? m->tok_embd_ : w_out_.to(device);
    m->inv_freq_ = inv_freq_.to(device);
    for (auto& L : m->layers_) {
        L.attn_norm = L.attn_norm.to(device);
        L.ffn_norm = L.ffn_norm.to(device);
        L.w_qkv = L.w_qkv.to(device);
        L.w_o = L.w_o.to(device);
        if (L.b_qkv.defined()) L.b_qkv = L.b_qkv.to(device);
        if (L.q_norm.defined()) L.q_norm = L.q_norm.to(device);
        if (L.k_norm.defined()) L.k_norm = L.k_norm.to(device);
        L.ffn = L.ffn->to(device);
    }
    return m;
}

at::Tensor LlamaModel::run_layers_train(const at::Tensor& ids_in, const at::Tensor& attention_mask,
                                        const ForwardOptions& opt) const {
    D2M_CHECK(opt.cache == nullptr, InvalidInput, "forward: the Train mode takes no KV cache");
    const at::Device dev = tok_embd_.device();
    const at::Tensor ids = token_ids(ids_in);
    const int64_t B = ids.size(0), T = ids.size(1);
    const int64_t H = cfg_.n_head, Hkv = cfg_.n_head_kv, Dh = cfg_.head_dim, rep = H / Hkv;
    const ObserverSet* obs = opt.observers;
    const at::ScalarType st = scalar_type();
    const auto lopt = at::TensorOptions().dtype(at::kLong).device(dev);

    at::Tensor token_mask;  // [B, T] bool or undefined
    if (attention_mask.defined()) {
        D2M_CHECK(attention_mask.sizes() == ids.sizes(), InvalidInput, "attention mask shape ",
                  attention_mask.sizes(), " differs from token ids ", ids.sizes());
        token_mask = attention_mask.to(dev, at::kBool);
    }
    // positions [B, T]: real tokens counted, so left padding does not shift RoPE
    at::Tensor pos = token_mask.defined() ? (token_mask.to(at::kLong).cumsum(1) - 1).clamp_min(0)
                                          : at::arange(T, lopt).unsqueeze(0).expand({B, T});
    at::Tensor ang = pos.to(at::kFloat).unsqueeze(-1).mul(inv_freq_.to(dev)).unsqueeze(2);  // [B, T, 1, Dh/2]
    at::Tensor cos = ang.cos(), sin = ang.sin();
    // a query sees keys at or before it that are real tokens, and always itself
    at::Tensor qi = at::arange(T, lopt).unsqueeze(1), ki = at::arange(T, lopt).unsqueeze(0);
    at::Tensor allowed = ki.le(qi).unsqueeze(0);  // [1, T, T]
    if (token_mask.defined()) allowed = allowed.logical_and(token_mask.unsqueeze(1)).logical_or(ki.eq(qi).unsqueeze(0));
    const at::Tensor blocked = allowed.logical_not().unsqueeze(1);  // [B|1, 1, T, T]
    const double scale = 1.0 / std::sqrt(static_cast<double>(Dh));
    const int64_t qd = cfg_.q_dim(), kvd = cfg_.kv_dim();

    at::Tensor x = at::embedding(tok_embd_, ids);  // [B, T, D]
    FfnContext fc{obs, token_mask.defined() ? &token_mask : nullptr, opt.adapters, {}};
    for (int il = 0; il < static_cast<int>(layers_.size()); ++il) {
        const Layer& L = layers_[il];
        emit(obs, site::kLayerInp, il, x, token_mask);
        at::Tensor h = rms_norm_train(x, L.attn_norm, cfg_.rms_norm_eps);
        const std::vector<at::Tensor> qkv =
            adapted_linears(h, L.w_qkv, L.b_qkv, opt.adapters, {names::q_proj(il), names::k_proj(il), names::v_proj(il)},
                            {qd, kvd, kvd});  // [B, T, H Dh], [B, T, Hkv Dh] x 2
        at::Tensor q = qkv[0].view({B, T, H, Dh});
        at::Tensor k = qkv[1].view({B, T, Hkv, Dh});
        at::Tensor v = qkv[2].view({B, T, Hkv, Dh});
        if (L.q_norm.defined()) {  // Qwen3: RMSNorm over each q and k head, before RoPE
            q = rms_norm_train(q, L.q_norm, cfg_.rms_norm_eps);
            k = rms_norm_train(k, L.k_norm, cfg_.rms_norm_eps);
        }
        q = apply_rope(q.to(at::kFloat), cos, sin, cfg_.rope_style).to(st);  // [B, T, H, Dh]
        k = apply_rope(k.to(at::kFloat), cos, sin, cfg_.rope_style).to(st);  // [B, T, Hkv, Dh]
        // GQA: query head h uses kv head h / rep -> q as [B, Hkv, rep*T, Dh]
        at::Tensor qg = q.permute({0, 2, 1, 3}).reshape({B, Hkv, rep * T, Dh});
        at::Tensor kt = k.permute({0, 2, 1, 3});  // [B, Hkv, T, Dh]
        at::Tensor vt = v.permute({0, 2, 1, 3});
        at::Tensor o = causal_attention(qg, kt, vt, scale, H, blocked, token_mask);  // [B, Hkv, rep*T, Dh]
        o = o.view({B, H, T, Dh}).permute({0, 2, 1, 3}).reshape({B, T, H * Dh});          // [B, T, H Dh]
        at::Tensor attn_out =
            adapted_linears(o, L.w_o, at::Tensor(), opt.adapters, {names::o_proj(il)}, {L.w_o.size(0)})[0];
        emit(obs, site::kAttnOut, il, attn_out, token_mask);
        x = x + attn_out;
        at::Tensor hf = rms_norm_train(x, L.ffn_norm, cfg_.rms_norm_eps);  // [B, T, D]
        emit(obs, site::kFfnInp, il, hf, token_mask);
        fc.name_prefix = names::layer_prefix(il) + "mlp.";
        at::Tensor f = L.ffn->forward_train(hf, il, fc);
        emit(obs, site::kFfnOut, il, f, token_mask);
        x = x + f;
        emit(obs, site::kLayerOut, il, x, token_mask);
    }
    at::Tensor out = rms_norm_train(x, final_norm_, cfg_.rms_norm_eps);  // [B, T, D]
    emit(obs, site::kFinalHidden, -1, out, token_mask);
    return out;
}

}  // namespace den2moe
