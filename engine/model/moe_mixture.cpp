// dense_mixture_train (model/moe_mixture.h): out = Σ_e gate_e ⊙ (silu(x·Gₑᵀ) ⊙ x·Uₑᵀ · Dₑᵀ + bₑ) as one
// autograd function over frozen experts. Forward per block of rows: gu = x·[G;U]ᵀ (kept for backward),
// a = silu(g) ⊙ u ⊙ gate, out += a·Dᵀ; the biases enter once as gates·[b₀; …]. Backward per block:
// da = dout·Dₑ; dgate_e = rowsum(da ⊙ silu(g) ⊙ u) + dout·bₑ; with dact = gate ⊙ da,
// dg = dact ⊙ u ⊙ σ(g)(1 + g(1 − σ(g))), du = dact ⊙ silu(g), dx += [dg du]·[G;U]. The element-wise
// work is in float32 (bf16 inputs are widened); the products follow model/gemm.h's bf16 rule.
#include "model/moe_mixture.h"

#include "model/gemm.h"
#include "model/llama.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "core/error.h"

#ifdef D2M_HAVE_KERNELS
#include "swiglu.h"
#endif

namespace den2moe {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// rows per block: the block's gu [256, 2F] and its x, act and output stay in a core's L2 (as the
// Infer mode's SwiGluFfn::kRowBlock)
constexpr int64_t kMixRows = 256;

// fn(r0, n) for equal blocks of about kMixRows rows, the blocks shared among the intra-op threads
template <typename Fn>
void for_row_blocks(int64_t N, const Fn& fn) {
    const int64_t nb = std::max<int64_t>(1, (N + kMixRows / 2) / kMixRows);
    at::parallel_for(0, nb, 1, [&](int64_t b0, int64_t b1) {
        at::NoGradGuard no_grad;  // grad mode is per thread: the pool's threads do not inherit the caller's
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t r0 = N * b / nb, r1 = N * (b + 1) / nb;
            if (r1 > r0) fn(r0, r1 - r0);
        }
    });
}

// [2F, D]: the expert's fused gate/up weight (gate() and up() are its two halves)
at::Tensor gate_up(const SwiGluFfn& f) {
    at::Tensor g = f.gate(), u = f.up();
    const int64_t F = g.size(0), D = g.size(1);
    if (g.is_contiguous() && u.is_contiguous() &&
        static_cast<const char*>(u.data_ptr()) == static_cast<const char*>(g.data_ptr()) + F * D * g.element_size())
        return g.as_strided({2 * F, D}, {D, 1});
    return at::cat({g, u}, 0);
}

// silu(g) ⊙ u ⊙ gate of a block's gu [n, 2F] in its dtype; gate [n] in the compute dtype
at::Tensor gated_act(const at::Tensor& gub, const at::Tensor& gate) {
    const int64_t F = gub.size(1) / 2;
#ifdef D2M_HAVE_KERNELS
    at::Tensor act = at::empty({gub.size(0), F}, gub.options().dtype(at::kFloat));
    kernels::swiglu_gated_forward(gub.to(at::kFloat), gate.to(at::kFloat).contiguous(), act);
    return act.to(gub.scalar_type());
#else
    return at::silu(gub.narrow(1, 0, F)).mul_(gub.narrow(1, F, F)).mul_(gate.unsqueeze(1));
#endif
}

struct DenseMixture : public torch::autograd::Function<DenseMixture> {
    // saved: x, gates (compute dtype), gu_0..gu_{E-1}, wgu_0.., wd_0.., [bias [E, D]]
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& gates_in,
                              const std::vector<std::shared_ptr<const SwiGluFfn>>* experts) {
        const at::Tensor x = x_in.contiguous();  // [N, D]
        const at::ScalarType st = x.scalar_type();
        const int64_t N = x.size(0), D = x.size(1), E = static_cast<int64_t>(experts->size());
        const at::Tensor g = gates_in.to(st).contiguous();  // [N, E]: the gates as the plain loop rounds them
        std::vector<at::Tensor> wgu, wd, gu;
        std::vector<at::Tensor> biases;
        bool any_bias = false;
        for (const auto& e : *experts) {
            wgu.push_back(gate_up(*e));  // [2F, D]
            wd.push_back(e->down());     // [D, F]
            gu.push_back(at::empty({N, wgu.back().size(0)}, x.options()));  // [N, 2F]
            any_bias = any_bias || e->down_bias().defined();
            biases.push_back(e->down_bias().defined() ? e->down_bias().to(st) : at::zeros({D}, x.options()));
        }
        const at::Tensor bias = any_bias ? at::stack(biases) : at::Tensor();  // [E, D]
        at::Tensor out = any_bias ? gemm::mm(g, bias) : at::zeros({N, D}, x.options());  // [N, D]
        for_row_blocks(N, [&](int64_t r0, int64_t n) {
            const at::Tensor xb = x.narrow(0, r0, n), gb = g.narrow(0, r0, n);
            at::Tensor ob = out.narrow(0, r0, n);
            for (int64_t e = 0; e < E; ++e) {
                at::Tensor gub = gu[e].narrow(0, r0, n);  // [n, 2F]
                gemm::mm_out(gub, xb, wgu[e].t());
                gemm::addmm_(ob, gated_act(gub, gb.select(1, e)), wd[e].t());  // [n, D]
            }
        });
        std::vector<at::Tensor> saved{x, g};
        saved.insert(saved.end(), gu.begin(), gu.end());
        saved.insert(saved.end(), wgu.begin(), wgu.end());
        saved.insert(saved.end(), wd.begin(), wd.end());
        if (any_bias) saved.push_back(bias);
        ctx->save_for_backward(saved);
        ctx->saved_data["E"] = E;
        ctx->saved_data["bias"] = any_bias;
        return out;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        const auto s = ctx->get_saved_variables();
        const int64_t E = ctx->saved_data["E"].toInt();
        const bool any_bias = ctx->saved_data["bias"].toBool();
        const at::Tensor &x = s[0], &g = s[1];
        auto gu = [&](int64_t e) -> const at::Tensor& { return s[static_cast<size_t>(2 + e)]; };
        auto wgu = [&](int64_t e) -> const at::Tensor& { return s[static_cast<size_t>(2 + E + e)]; };
        auto wd = [&](int64_t e) -> const at::Tensor& { return s[static_cast<size_t>(2 + 2 * E + e)]; };
        const int64_t N = x.size(0);
        const at::ScalarType st = x.scalar_type();
        const bool need_x = ctx->needs_input_grad(0), need_g = ctx->needs_input_grad(1);
        const at::Tensor dout = grads[0].to(st).contiguous();  // [N, D]
        at::Tensor dx = need_x ? at::zeros_like(x) : at::Tensor();  // [N, D]
        at::Tensor dgate;                                           // [N, E] float32
        if (need_g) {
            dgate = any_bias ? gemm::mm(dout, s.back().t()).to(at::kFloat)
                             : at::zeros({N, E}, x.options().dtype(at::kFloat));
        }
        if (need_x || need_g) {
            for_row_blocks(N, [&](int64_t r0, int64_t n) {
                const at::Tensor dob = dout.narrow(0, r0, n);
                const at::Tensor gb = g.narrow(0, r0, n).to(at::kFloat);  // [n, E]
                at::Tensor dxb = need_x ? dx.narrow(0, r0, n) : at::Tensor();
                for (int64_t e = 0; e < E; ++e) {
                    const int64_t F = wd(e).size(1);
                    at::Tensor da = gemm::mm(dob, wd(e)).to(at::kFloat);  // [n, F]: d(out)/d(gate ⊙ act)
                    const at::Tensor gub = gu(e).narrow(0, r0, n);
#ifdef D2M_HAVE_KERNELS
                    {
                        at::Tensor gf = gub.to(at::kFloat), dgu = need_x ? at::empty({n, 2 * F}, da.options()) : at::Tensor();
                        at::Tensor dge = need_g ? at::Tensor(dgate.narrow(0, r0, n).select(1, e)) : at::Tensor();
                        kernels::swiglu_gated_backward(gf, da, gb.select(1, e).contiguous(), dgu, dge);
                        if (need_x) gemm::addmm_(dxb, dgu.to(st), wgu(e));  // [n, D]
                        continue;
                    }
#endif
                    const at::Tensor gg = gub.narrow(1, 0, F).to(at::kFloat), uu = gub.narrow(1, F, F).to(at::kFloat);
                    at::Tensor sg = at::sigmoid(gg);  // [n, F]
                    at::Tensor silu = gg * sg;        // [n, F]
                    if (need_g) dgate.narrow(0, r0, n).narrow(1, e, 1).add_((da * silu * uu).sum(-1, true));
                    if (!need_x) continue;
                    at::Tensor dact = da.mul_(gb.narrow(1, e, 1));  // [n, F]
                    at::Tensor dgu = at::empty({n, 2 * F}, dact.options());
                    at::Tensor dg = dgu.narrow(1, 0, F), du = dgu.narrow(1, F, F);
                    at::mul_out(du, dact, silu);
                    // dg = dact ⊙ u ⊙ (σ + silu ⊙ (1 − σ))
                    at::Tensor dsilu = silu.mul_(at::rsub(sg, 1.0)).add_(sg);
                    at::mul_out(dg, dsilu.mul_(uu), dact);
                    gemm::addmm_(dxb, dgu.to(st), wgu(e));  // [n, D]
                }
            });
        }
        return {dx, dgate, at::Tensor()};
    }
};

}  // namespace

bool dense_mixture_applies(const at::Tensor& x, const std::vector<std::shared_ptr<const SwiGluFfn>>& experts) {
    if (!x.is_cpu() || (x.scalar_type() != at::kFloat && x.scalar_type() != at::kBFloat16) || x.dim() != 2)
        return false;
    for (const auto& e : experts) {
        if (e->gate().requires_grad() || e->up().requires_grad() || e->down().requires_grad() ||
            (e->down_bias().defined() && e->down_bias().requires_grad()))
            return false;
    }
    return !experts.empty();
}

at::Tensor dense_mixture_train(const at::Tensor& x, const at::Tensor& gates,
                               const std::vector<std::shared_ptr<const SwiGluFfn>>& experts) {
    D2M_CHECK(dense_mixture_applies(x, experts), Internal, "dense_mixture_train: needs CPU rows [N, D] in float32 or "
              "bfloat16 and frozen experts");
    D2M_CHECK(gates.dim() == 2 && gates.size(0) == x.size(0) && gates.size(1) == static_cast<int64_t>(experts.size()),
              Internal, "dense_mixture_train: gates ", gates.sizes(), " for ", x.size(0), " rows and ", experts.size(),
              " experts");
    return DenseMixture::apply(x, gates, &experts);
}

at::Tensor dense_mixture_reference(const at::Tensor& x, const at::Tensor& gates,
                                   const std::vector<std::shared_ptr<const SwiGluFfn>>& experts) {
    FfnContext fc{nullptr, nullptr, nullptr, {}};
    at::Tensor out;
    for (size_t e = 0; e < experts.size(); ++e) {
        at::Tensor ye = experts[e]->forward_train(x, 0, fc) *
                        gates.narrow(1, static_cast<int64_t>(e), 1).to(x.scalar_type());  // [N, D]
        out = out.defined() ? out + ye : ye;
    }
    return out;
}

}  // namespace den2moe
