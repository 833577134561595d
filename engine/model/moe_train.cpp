// The Train mode of the MoE block (ExecMode::Train): the routing and dispatch of model/moe.cpp as
// ATen operations autograd follows, on any device. The router logits come from the trainable
// router.weight (plus α·prior and the null rows, rounded to the model's dtype as the fast path's
// float32 copy is), in float32; gates are softmaxes, so routers get gradients wherever the gate
// depends on them (dense mixture, top-k > 1, Den2MoEE); DIVE's top-1 gate is the softmax over one
// selected logit, exactly 1, and its router gets an exact zero (DIVE-FLAP.md §6). Tokens are sorted
// by expert once, gathered with index_select, run through each expert, scaled by their gates
// and summed back with index_add (out of place). The dense mixture runs every expert on every token:
// with frozen experts and no adapters (router training) as one fused function (model/moe_mixture.h).
#include "model/moe.h"
#include "model/gemm.h"
#include "model/moe_mixture.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // GradMode, NoGradGuard: not reached through ATen.h in libtorch 2.x

#include "core/error.h"
#include "core/observers.h"

namespace den2moe {

std::shared_ptr<MoeFfn> MoeFfn::with_router(RouterSpec spec) const {
    at::NoGradGuard no_grad;  // the derived float32 logit weight must not hold a graph
    return std::make_shared<MoeFfn>(experts_, std::move(spec), shared_, router_.weight.scalar_type());
}

std::shared_ptr<const FeedForward> MoeFfn::to(const at::Device& device) const {
    at::NoGradGuard no_grad;
    std::vector<std::shared_ptr<const SwiGluFfn>> ex;
    for (const auto& e : experts_) ex.push_back(std::dynamic_pointer_cast<const SwiGluFfn>(e->to(device)));
    std::shared_ptr<const SwiGluFfn> sh;
    if (shared_) sh = std::dynamic_pointer_cast<const SwiGluFfn>(shared_->to(device));
    RouterSpec r = router_;
    for (at::Tensor* t : {&r.weight, &r.prior, &r.null_weight, &r.select_bias, &r.shared_gate}) {
        if (t->defined()) *t = t->to(device);
    }
    return std::make_shared<MoeFfn>(ex, r, sh, router_.weight.scalar_type());
}

at::Tensor MoeFfn::forward_train(const at::Tensor& x, int il, const FfnContext& fc) const {
    const auto shape = x.sizes().vec();
    const int64_t D = x.size(-1);
    const at::ScalarType st = x.scalar_type();
    at::Tensor xf = x.reshape({-1, D});  // [N, D]
    const int64_t N = xf.size(0), E = n_experts();
    const RouterSpec& rs = router_;

    // logits [N, E + n_null] float32 from the router's own tensors
    at::Tensor w = rs.weight.to(at::kFloat);
    if (rs.prior.defined() && rs.prior_scale != 0.0) w = w + rs.prior.to(at::kFloat) * rs.prior_scale;
    if (rs.null_weight.defined()) w = at::cat({w, rs.null_weight.to(at::kFloat)}, 0);
    w = w.to(rs.weight.scalar_type()).to(at::kFloat);  // the model's rounding of the combined rows
    at::Tensor logits = at::linear(xf.to(at::kFloat), w);
    const int64_t K = logits.size(1);

    at::Tensor idx, gates;  // [N, k] int64 in [0, E] (E = a null slot), [N, k] float
    bool all = false;       // every routed expert on every token, gates [N, E]
    if (rs.gate == RouterSpec::Gate::Den2MoEE) {
        at::Tensor p = at::softmax(logits, -1);  // no temperature (DEN2MOEE.md §1.3)
        if (rs.dense || rs.top_k >= K) {
            all = true;
            gates = p.narrow(1, 0, E);
        } else {
            at::Tensor score = p.detach();  // selection carries no gradient
            if (rs.select_bias.defined()) {
                score = score + at::cat({rs.select_bias.to(score.options()), at::zeros({K - E}, score.options())});
            }
            at::Tensor sel = std::get<1>(score.topk(rs.top_k, -1));  // [N, k]
            at::Tensor is_null = sel >= E;
            gates = p.gather(1, sel).masked_fill(is_null, 0.0);
            idx = sel.masked_fill(is_null, E);
        }
        if (rs.norm_topk) gates = gates / gates.sum(-1, true).clamp_min(1e-20);
    } else if (rs.dense || rs.top_k >= E) {
        all = true;
        gates = at::softmax(logits / rs.temperature, -1);
    } else if (rs.norm_topk) {  // softmax over the selected logits (top-1: exactly 1)
        auto top = logits.topk(rs.top_k, -1);
        idx = std::get<1>(top);
        gates = at::softmax(std::get<0>(top) / rs.temperature, -1);
    } else {  // the selected experts' probabilities over all experts (Qwen2-MoE norm_topk_prob = false)
        auto top = at::softmax(logits / rs.temperature, -1).topk(rs.top_k, -1);
        gates = std::get<0>(top);
        idx = std::get<1>(top);
    }
    if (rs.routed_scale != 1.0) gates = gates * rs.routed_scale;

    static const at::Tensor kNone;
    const at::Tensor& mask = fc.token_mask ? *fc.token_mask : kNone;
    std::vector<int64_t> s_lead(shape.begin(), shape.end() - 1);
    if (fc.observers && fc.observers->wants(site::kRouterLogits, il)) {
        std::vector<int64_t> s = s_lead;
        s.push_back(K);
        fc.observers->emit(site::kRouterLogits, il, logits.view(s), mask);
    }
    if (fc.observers && fc.observers->wants(site::kRouterProbs, il)) {
        at::Tensor dense_w = all ? gates
                                 : at::zeros({N, E + 1}, gates.options()).scatter(1, idx, gates).narrow(1, 0, E);
        std::vector<int64_t> s = s_lead;
        s.push_back(E);
        fc.observers->emit(site::kRouterProbs, il, dense_w.view(s), mask);
    }

    FfnContext efc{nullptr, nullptr, fc.adapters, {}};  // the block's sites are its own, not an expert's
    auto run_expert = [&](int64_t e, const at::Tensor& rows) {
        efc.name_prefix = fc.name_prefix + "experts." + std::to_string(e) + ".";
        return experts_[static_cast<size_t>(e)]->forward_train(rows, il, efc);
    };
    at::Tensor out;  // [N, D]
    if (all && !fc.adapters && dense_mixture_applies(xf, experts_)) {
        out = dense_mixture_train(xf, gates, experts_);  // frozen experts: one fused autograd function
    } else if (all) {
        for (int64_t e = 0; e < E; ++e) {
            at::Tensor ye = run_expert(e, xf) * gates.narrow(1, e, 1).to(st);  // [N, D]
            out = out.defined() ? out + ye : ye;
        }
    } else {
        const int64_t k = idx.size(1), P = N * k;
        at::Tensor ex = idx.reshape({-1});                                    // [P], slot = token·k + j
        at::Tensor order = std::get<1>(ex.sort(/*stable=*/true, 0, false));  // slots grouped by expert
        at::Tensor counts = at::bincount(ex, {}, E + 1).cpu();              // one host copy of E + 1 counts
        const int64_t* cnt = counts.data_ptr<int64_t>();
        const int64_t P_real = P - cnt[E];                                    // null slots sort last
        at::Tensor slots = order.narrow(0, 0, P_real);
        at::Tensor tok = at::div(slots, k, "floor");                          // [P_real]
        at::Tensor xs = xf.index_select(0, tok);                              // [P_real, D]
        at::Tensor g = gates.reshape({-1}).index_select(0, slots).to(st).unsqueeze(1);  // [P_real, 1]
        std::vector<at::Tensor> parts;
        int64_t start = 0;
        for (int64_t e = 0; e < E; ++e) {
            if (cnt[e] > 0) parts.push_back(run_expert(e, xs.narrow(0, start, cnt[e])));
            start += cnt[e];
        }
        out = at::zeros({N, D}, xf.options());
        if (!parts.empty()) out = out.index_add(0, tok, at::cat(parts, 0) * g);
    }
    if (shared_) {
        FfnContext sfc{nullptr, nullptr, fc.adapters, fc.name_prefix + "shared_expert."};
        at::Tensor s = shared_->forward_train(xf, il, sfc);
        if (rs.shared_gate.defined()) s = s * at::sigmoid(gemm::linear(xf, rs.shared_gate));
        out = s + out;
    }
    return out.view(shape);
}

}  // namespace den2moe
