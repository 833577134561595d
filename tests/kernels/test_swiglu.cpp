// swiglu_gated_forward / swiglu_gated_backward against their ATen references (autograd of
// silu(g) ⊙ u ⊙ gate): fp32 rel 1e-5 on odd widths, strided rows and gate columns, the gate-only
// backward, and one hand case.
#include <ATen/ATen.h>

#include <cmath>

#include "support/check.h"

#include "swiglu.h"

using namespace den2moe::kernels;

namespace {
double rel(const at::Tensor& a, const at::Tensor& b) {
    return ((a.to(at::kDouble) - b.to(at::kDouble)).abs().max() / b.to(at::kDouble).abs().max()).item<double>();
}
}  // namespace

TEST(swiglu_hand_case) {
    // g = 1, u = 2, gate = 0.5: silu(1) = 1/(1+e^-1) = 0.7310586, act = 0.7310586
    at::Tensor gu = at::tensor({1.0f, 2.0f}).reshape({1, 2});
    at::Tensor gate = at::tensor({0.5f});
    at::Tensor act = at::empty({1, 1});
    swiglu_gated_forward(gu, gate, act);
    CHECK_CLOSE(act.item<float>(), 0.7310586, 1e-6);
    // da = 1: dgate = silu(1)·2 = 1.4621172; du = 0.5·silu(1); dg = 0.5·2·σ(1)(1 + 1·(1 − σ(1)))
    at::Tensor dgu = at::empty({1, 2}), dgate = at::zeros({1});
    swiglu_gated_backward(gu, at::ones({1, 1}), gate, dgu, dgate);
    const double s = 1.0 / (1.0 + std::exp(-1.0));
    CHECK_CLOSE(dgate.item<float>(), 2.0 * s, 1e-6);
    CHECK_CLOSE(dgu[0][1].item<float>(), 0.5 * s, 1e-6);
    CHECK_CLOSE(dgu[0][0].item<float>(), 0.5 * 2.0 * s * (1.0 + (1.0 - s)), 1e-6);
}

TEST(swiglu_matches_autograd_reference) {
    at::manual_seed(5);
    for (int64_t F : {1, 7, 48, 385}) {
        const int64_t n = 37;
        at::Tensor big = at::randn({n, 2 * F + 3}) * 3;       // rows strided: gu is a column slice
        at::Tensor gu = big.narrow(1, 1, 2 * F);
        at::Tensor gates = at::rand({n, 4});
        at::Tensor gate = gates.select(1, 2);                 // strided gate column
        at::Tensor act = at::empty({n, F});
        swiglu_gated_forward(gu, gate, act);
        CHECK(rel(act, swiglu_gated_forward_reference(gu, gate)) <= 1e-5);
        at::Tensor da = at::randn({n, F});
        auto ref = swiglu_gated_backward_reference(gu, da, gate);
        at::Tensor dgu = at::empty({n, 2 * F}), dgate = at::full({n}, 0.25f);  // accumulates onto 0.25
        swiglu_gated_backward(gu, da, gate, dgu, dgate);
        CHECK(rel(dgu, ref.first) <= 1e-5);
        CHECK(rel(dgate - 0.25, ref.second) <= 1e-5);
        at::Tensor none, dgate2 = at::zeros({n});
        swiglu_gated_backward(gu, da, gate, none, dgate2);  // gate gradient only
        CHECK(rel(dgate2, ref.second) <= 1e-5);
    }
}

// the dense FFN's activation: silu(g) ⊙ u against at::silu(g).mul_(u), fp32 and bf16, odd widths, strided rows
TEST(swiglu_dense_matches_reference) {
    at::manual_seed(3);
    for (int64_t F : {1, 7, 2816}) {
        for (auto dt : {at::kFloat, at::kBFloat16}) {
            at::Tensor wide = (at::randn({5, 2 * F + 3}) * 3).to(dt);
            at::Tensor gu = wide.narrow(1, 1, 2 * F);  // row stride 2F + 3
            at::Tensor act = at::full({5, F + 2}, 7.0f, dt).narrow(1, 0, F);
            swiglu_forward(gu, act);
            // against the exact value (float64) and against ATen's at::silu(g).mul_(u) in the same dtype
            const at::Tensor g64 = gu.narrow(1, 0, F).to(at::kDouble), u64 = gu.narrow(1, F, F).to(at::kDouble);
            const at::Tensor exact = g64 / (1 + (-g64).exp()) * u64;
            const at::Tensor scale = exact.abs().clamp_min(1e-3);
            const double err = ((act.to(at::kDouble) - exact).abs() / scale).max().item<double>();
            const double err_aten =
                ((swiglu_forward_reference(gu).to(at::kDouble) - exact).abs() / scale).max().item<double>();
            std::printf("F%lld %s: max rel err %.2e (ATen's ops: %.2e)\n", (long long)F,
                        dt == at::kFloat ? "fp32" : "bf16", err, err_aten);
            // bf16: one rounding of the float result, half a bf16 ulp (2^-9 relative) plus float's error
            CHECK(err < (dt == at::kFloat ? 1e-6 : 2.0 / 512));
            if (dt == at::kBFloat16) CHECK(err < err_aten);  // closer to exact than ATen (which rounds every op)
        }
    }
    // hand case: g = 1, u = 2 -> silu(1)·2 = 1.4621172; g = -2, u = 1 -> -2/(1+e^2) = -0.2384058
    at::Tensor gu = at::tensor({1.0f, -2.0f, 2.0f, 1.0f}).reshape({1, 4});
    at::Tensor act = at::empty({1, 2});
    swiglu_forward(gu, act);
    CHECK_CLOSE(act[0][0].item<float>(), 1.4621172, 1e-6);
    CHECK_CLOSE(act[0][1].item<float>(), -0.2384058, 1e-6);
    at::Tensor half = at::empty({1, 2}, at::kBFloat16);
    CHECK_THROWS_WITH(swiglu_forward(gu, half), "of one dtype");
}

TEST(swiglu_refuses_bad_shapes) {
    at::Tensor act = at::empty({2, 3});
    CHECK_THROWS_WITH(swiglu_gated_forward(at::randn({2, 5}), at::rand({2}), act), "gu must be");
    CHECK_THROWS_WITH(swiglu_gated_forward(at::randn({2, 6}).to(at::kDouble), at::rand({2}), act), "float32");
}

D2M_TEST_MAIN()
