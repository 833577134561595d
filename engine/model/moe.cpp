#include "model/moe.h"

#include <ATen/ATen.h>

#include "core/error.h"
#include "core/run_context.h"

namespace den2moe {

MoeFfn::MoeFfn(std::vector<std::shared_ptr<const SwiGluFfn>> experts, RouterSpec router,
               std::shared_ptr<const SwiGluFfn> shared, at::ScalarType dtype)
    : experts_(std::move(experts)), router_(std::move(router)), shared_(std::move(shared)) {
    const int64_t E = static_cast<int64_t>(experts_.size());
    D2M_CHECK(E >= 1, InvalidInput, "MoE block: no experts");
    D2M_CHECK(router_.weight.defined() && router_.weight.dim() == 2 && router_.weight.size(0) == E, InvalidInput,
              "MoE block: router weight must be [", E, ", D], found ",
              router_.weight.defined() ? router_.weight.sizes() : at::IntArrayRef{});
    D2M_CHECK(router_.top_k >= 1 && router_.top_k <= E, InvalidInput, "MoE block: top-k ", router_.top_k,
              " must be in [1, ", E, "]");
    D2M_CHECK(router_.temperature > 0, InvalidInput, "MoE block: router temperature must be > 0");
    const int64_t D = router_.weight.size(1);
    for (int64_t e = 0; e < E; ++e) {
        D2M_CHECK(experts_[e] && experts_[e]->down().size(0) == D, Incompatible, "MoE block: expert ", e,
                  " has output size ", experts_[e] ? experts_[e]->down().size(0) : 0, ", the router expects ", D);
    }
    router_.weight = router_.weight.to(dtype).contiguous();
}

void MoeFfn::route(const at::Tensor& x, at::Tensor* weights, at::Tensor* logits_out) const {
    at::Tensor logits = at::linear(x, router_.weight).to(at::kFloat);  // [N, E]
    const int64_t E = n_experts();
    at::Tensor w;
    if (router_.dense || router_.top_k == E) {
        w = at::softmax(logits / router_.temperature, -1);
    } else {
        auto top = logits.topk(router_.top_k, -1);  // values, indices [N, k]
        at::Tensor g = router_.top_k == 1 ? at::ones_like(std::get<0>(top))
                                          : at::softmax(std::get<0>(top) / router_.temperature, -1);
        w = at::zeros_like(logits).scatter_(-1, std::get<1>(top), g);
    }
    if (weights) *weights = w;
    if (logits_out) *logits_out = logits;
}

at::Tensor MoeFfn::forward(const at::Tensor& x, int il, const FfnContext& fc) const {
    const auto shape = x.sizes().vec();
    const int64_t D = x.size(-1);
    at::Tensor xf = x.reshape({-1, D});
    const int64_t N = xf.size(0), E = n_experts();
    at::Tensor w, logits;
    route(xf, &w, &logits);
    static const at::Tensor kNone;
    const at::Tensor& mask = fc.token_mask ? *fc.token_mask : kNone;
    if (fc.observers && fc.observers->wants(site::kRouterLogits, il)) {
        std::vector<int64_t> s(shape.begin(), shape.end() - 1);
        s.push_back(E);
        fc.observers->emit(site::kRouterLogits, il, logits.view(s), mask);
    }
    if (fc.observers && fc.observers->wants(site::kRouterProbs, il)) {
        std::vector<int64_t> s(shape.begin(), shape.end() - 1);
        s.push_back(E);
        fc.observers->emit(site::kRouterProbs, il, w.view(s), mask);
    }
    at::Tensor out = shared_ ? shared_->forward(xf, il, FfnContext{}) : at::zeros({N, D}, x.options());
    // group (token, expert) pairs by expert: one stable sort of the nonzero entries of w
    at::Tensor nz = w.nonzero();  // [P, 2] (token, expert), token-major
    if (nz.size(0) == 0) return out.view(shape);
    at::Tensor tok = nz.select(1, 0), ex = nz.select(1, 1);
    at::Tensor order = std::get<1>(ex.sort(/*stable=*/true, 0, false));
    tok = tok.index_select(0, order);
    ex = ex.index_select(0, order);
    at::Tensor gate = w.index({tok, ex}).to(x.scalar_type()).unsqueeze(1);  // [P, 1]
    at::Tensor counts = at::bincount(ex, {}, E).cpu();
    const int64_t* cnt = counts.data_ptr<int64_t>();
    int64_t start = 0;
    for (int64_t e = 0; e < E; ++e) {
        if (cnt[e] == 0) continue;
        at::Tensor t = tok.narrow(0, start, cnt[e]);
        at::Tensor ye = experts_[e]->forward(xf.index_select(0, t), il, FfnContext{});  // [n_e, D]
        out.index_add_(0, t, ye.mul_(gate.narrow(0, start, cnt[e])));
        start += cnt[e];
    }
    return out.view(shape);
}

void MoeFfn::named_tensors(const std::string& prefix, std::map<std::string, at::Tensor>& out) const {
    out[prefix + "router.weight"] = router_.weight;
    for (size_t e = 0; e < experts_.size(); ++e) {
        experts_[e]->named_tensors(prefix + "experts." + std::to_string(e) + ".", out);
    }
    if (shared_) shared_->named_tensors(prefix + "shared_expert.", out);
}

int64_t MoeFfn::n_params() const {
    int64_t n = router_.weight.numel();
    for (const auto& e : experts_) n += e->n_params();
    if (shared_) n += shared_->n_params();
    return n;
}

int64_t MoeFfn::n_active_params() const {
    // per token: the router, top-k experts (the widest ones, an upper bound for unequal widths), shared
    std::vector<int64_t> sizes;
    for (const auto& e : experts_) sizes.push_back(e->n_params());
    std::sort(sizes.rbegin(), sizes.rend());
    int64_t n = router_.weight.numel();
    const int64_t k = router_.dense ? n_experts() : router_.top_k;
    for (int64_t i = 0; i < k; ++i) n += sizes[static_cast<size_t>(i)];
    if (shared_) n += shared_->n_params();
    return n;
}

at::Tensor moe_forward_reference(const MoeFfn& moe, const at::Tensor& x) {
    const int64_t D = x.size(-1);
    at::Tensor xf = x.reshape({-1, D});
    at::Tensor w;
    moe.route(xf, &w, nullptr);
    at::Tensor out = at::zeros_like(xf);
    for (int64_t n = 0; n < xf.size(0); ++n) {
        at::Tensor xn = xf.narrow(0, n, 1);
        at::Tensor acc = moe.shared_expert() ? moe.shared_expert()->forward(xn, 0, {}) : at::zeros_like(xn);
        for (int64_t e = 0; e < moe.n_experts(); ++e) {
            const float g = w[n][e].item<float>();
            if (g != 0.0f) acc = acc + moe.expert(e).forward(xn, 0, {}) * g;
        }
        out.narrow(0, n, 1).copy_(acc);
    }
    return out.view(x.sizes());
}

}  // namespace den2moe
