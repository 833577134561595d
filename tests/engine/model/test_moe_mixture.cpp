// dense_mixture_train (model/moe_mixture.h), the fused dense mixture of router training, against
// autograd of the plain ATen loop it replaces (dense_mixture_reference): the output and the
// gradients of x and of the gates agree to fp32 rel 1e-5, with and without FLAP-style expert biases,
// with experts of different widths, an odd row count (blocks of unequal size), 1 and 2 threads, a
// gate-only backward (x without gradient), and bf16 within bf16 rounding.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "model/llama.h"
#include "model/moe_mixture.h"
#include "support/check.h"

using namespace den2moe;

namespace {

using Experts = std::vector<std::shared_ptr<const SwiGluFfn>>;

Experts make_experts(int64_t D, const std::vector<int64_t>& widths, bool bias, at::ScalarType dt) {
    Experts ex;
    for (int64_t F : widths) {
        ex.push_back(std::make_shared<SwiGluFfn>(at::randn({F, D}) * 0.1, at::randn({F, D}) * 0.1,
                                                 at::randn({D, F}) * 0.1, bias ? at::randn({D}) * 0.3 : at::Tensor(),
                                                 dt));
    }
    return ex;
}

double rel(const at::Tensor& a, const at::Tensor& b) {
    return ((a.to(at::kDouble) - b.to(at::kDouble)).abs().max() / b.to(at::kDouble).abs().max()).item<double>();
}

struct Result {
    at::Tensor out, dx, dg;
};

// out, d(loss)/dx and d(loss)/dgates for loss = Σ out ⊙ w (a fixed random weighting)
template <typename Fn>
Result run(const Fn& fn, const at::Tensor& x0, const at::Tensor& g0, const at::Tensor& w, bool x_grad) {
    at::Tensor x = x0.clone().requires_grad_(x_grad);
    at::Tensor logits = g0.clone().requires_grad_(true);
    at::Tensor gates = at::softmax(logits / 0.5, -1);  // [N, E] float32, as the router stage's
    at::Tensor out = fn(x, gates);
    (out.to(at::kFloat) * w).sum().backward();
    return {out.detach(), x_grad ? x.grad() : at::Tensor(), logits.grad()};
}

void compare(int64_t N, const std::vector<int64_t>& widths, bool bias, bool x_grad, at::ScalarType dt, double tol,
             const char* what) {
    const int64_t D = 64;
    at::manual_seed(17);
    Experts ex = make_experts(D, widths, bias, dt);
    const int64_t E = static_cast<int64_t>(widths.size());
    at::Tensor x = at::randn({N, D}).to(dt), g = at::randn({N, E}), w = at::randn({N, D});
    Result a = run([&](const at::Tensor& xx, const at::Tensor& gg) { return dense_mixture_train(xx, gg, ex); }, x, g, w,
                   x_grad);
    Result b = run([&](const at::Tensor& xx, const at::Tensor& gg) { return dense_mixture_reference(xx, gg, ex); }, x,
                   g, w, x_grad);
    const double eo = rel(a.out, b.out), eg = rel(a.dg, b.dg), ex_ = x_grad ? rel(a.dx, b.dx) : 0.0;
    std::printf("%-44s out %.2e  d gates %.2e  d x %.2e\n", what, eo, eg, ex_);
    CHECK(a.out.scalar_type() == dt);
    CHECK(eo <= tol);
    CHECK(eg <= tol);
    CHECK(ex_ <= tol);
    CHECK(a.dg.abs().max().item<double>() > 0);
    if (x_grad) CHECK(a.dx.abs().max().item<double>() > 0);
}

}  // namespace

TEST(fused_mixture_equals_autograd_of_the_loop_fp32) {
    for (int nt : {1, 2}) {
        at::set_num_threads(nt);
        compare(300, {48, 48, 48, 48}, true, true, at::kFloat, 1e-5, "4 x 48, biases, 300 rows");
        compare(517, {40, 24, 56}, false, true, at::kFloat, 1e-5, "widths 40/24/56, no bias, 517 rows");
        compare(129, {32, 32}, true, false, at::kFloat, 1e-5, "gates only (x frozen), 129 rows");
        compare(7, {16, 16, 16}, true, true, at::kFloat, 1e-5, "7 rows (one block)");
    }
}

TEST(fused_mixture_bf16_within_rounding) {
    at::set_num_threads(2);
    compare(300, {48, 48, 48, 48}, true, true, at::kBFloat16, 3e-2, "bf16 4 x 48, biases");
}

TEST(fused_mixture_refuses_trainable_experts) {
    at::manual_seed(3);
    Experts ex = make_experts(16, {8, 8}, false, at::kFloat);
    at::Tensor x = at::randn({5, 16});
    CHECK(dense_mixture_applies(x, ex));
    ex[1]->down().requires_grad_(true);  // a trained expert needs the loop (weight gradients)
    CHECK(!dense_mixture_applies(x, ex));
    CHECK_THROWS_WITH(dense_mixture_train(x, at::rand({5, 2}), ex), "frozen experts");
    ex[1]->down().requires_grad_(false);
}

D2M_TEST_MAIN()
