// rms_norm and rope_ against their ATen references (the engine's previous formulas) and hand cases:
// fp32 and bf16, odd sizes, both RoPE pair layouts, heads past n_rot untouched.
#include <ATen/ATen.h>

#include "support/check.h"

#include "norm_rope.h"

#include <cmath>

using namespace den2moe::kernels;

TEST(rms_norm_hand_case) {
    // row (3, 4): mean square 12.5, eps 0 -> x / sqrt(12.5), weights (1, 2)
    at::Tensor x = at::tensor({3.0f, 4.0f}).reshape({1, 2});
    at::Tensor y = rms_norm(x, at::tensor({1.0f, 2.0f}), 0.0);
    CHECK_CLOSE(y[0][0].item<float>(), 3.0 / std::sqrt(12.5), 1e-6);
    CHECK_CLOSE(y[0][1].item<float>(), 8.0 / std::sqrt(12.5), 1e-6);
}

TEST(rms_norm_matches_reference) {
    at::manual_seed(0);
    for (auto shape : {std::vector<int64_t>{3, 7, 256}, std::vector<int64_t>{1, 1, 33}, std::vector<int64_t>{515, 64}}) {
        at::Tensor w = at::randn({shape.back()});
        for (auto dt : {at::kFloat, at::kBFloat16}) {
            at::Tensor x = (at::randn(shape) * 3).to(dt);
            at::Tensor ref = rms_norm_reference(x, w.to(dt), 1e-5).to(at::kFloat);
            at::Tensor out = rms_norm(x, w.to(dt), 1e-5);
            CHECK(out.scalar_type() == dt);
            CHECK(out.sizes() == x.sizes());
            const double err = ((out.to(at::kFloat) - ref).abs() / (ref.abs() + 1e-3)).max().item<double>();
            std::printf("rms_norm %s D%lld: max rel err %.2e\n", dt == at::kFloat ? "fp32" : "bf16",
                        (long long)shape.back(), err);
            CHECK(err < (dt == at::kFloat ? 1e-5 : 1e-2));  // bf16: one output rounding either side
        }
    }
}

TEST(rope_hand_case) {
    // one head of 4 channels, angle pi/2 for pair 0 and 0 for pair 1
    at::Tensor qkv = at::tensor({1.0f, 2.0f, 3.0f, 4.0f, 9.0f}).reshape({1, 1, 5});
    at::Tensor c = at::tensor({0.0f, 1.0f}).reshape({1, 1, 1, 2}), s = at::tensor({1.0f, 0.0f}).reshape({1, 1, 1, 2});
    at::Tensor h = qkv.clone();
    rope_(h, 1, 4, c, s, /*interleaved=*/false);  // pairs (0, 2), (1, 3): (1, 3) -> (-3, 1)
    CHECK_EQ(h[0][0][0].item<float>(), -3.0f);
    CHECK_EQ(h[0][0][2].item<float>(), 1.0f);
    CHECK_EQ(h[0][0][1].item<float>(), 2.0f);
    CHECK_EQ(h[0][0][3].item<float>(), 4.0f);
    CHECK_EQ(h[0][0][4].item<float>(), 9.0f);  // past the rotated heads: untouched
    at::Tensor i = qkv.clone();
    rope_(i, 1, 4, c, s, /*interleaved=*/true);  // pairs (0, 1), (2, 3): (1, 2) -> (-2, 1)
    CHECK_EQ(i[0][0][0].item<float>(), -2.0f);
    CHECK_EQ(i[0][0][1].item<float>(), 1.0f);
    CHECK_EQ(i[0][0][2].item<float>(), 3.0f);
}

TEST(rope_matches_reference) {
    at::manual_seed(1);
    const int64_t B = 2, T = 9, Dh = 32, H = 8, Hkv = 4, C = (H + 2 * Hkv) * Dh;
    at::Tensor pos = at::randint(0, 300, {B, T}, at::kLong);
    at::Tensor inv = at::pow(10000.0, -at::arange(0, Dh, 2, at::kFloat) / Dh);
    at::Tensor ang = pos.to(at::kFloat).unsqueeze(-1).mul(inv).unsqueeze(2);  // [B, T, 1, Dh/2]
    at::Tensor c = ang.cos(), s = ang.sin();
    for (bool il : {false, true}) {
        for (auto dt : {at::kFloat, at::kBFloat16}) {
            at::Tensor qkv = at::randn({B, T, C}).to(dt);
            at::Tensor ref = rope_reference(qkv, H + Hkv, Dh, c, s, il).to(at::kFloat);
            at::Tensor out = qkv.clone();
            rope_(out, H + Hkv, Dh, c, s, il);
            const double err = (out.to(at::kFloat) - ref).abs().max().item<double>();
            std::printf("rope %s %s: max err %.2e\n", il ? "interleaved" : "half-split", dt == at::kFloat ? "fp32" : "bf16", err);
            CHECK(err < (dt == at::kFloat ? 1e-5 : 4e-2));
            // the V heads are not touched
            CHECK_EQ((out.narrow(-1, (H + Hkv) * Dh, Hkv * Dh).to(at::kFloat) -
                      qkv.narrow(-1, (H + Hkv) * Dh, Hkv * Dh).to(at::kFloat)).abs().max().item<double>(), 0.0);
        }
    }
}

TEST(reject_bad_inputs) {
    at::Tensor d = at::zeros({2, 4}, at::kDouble);
    CHECK_THROWS_WITH(rms_norm(d, at::ones({4}), 1e-5), "float32 or bfloat16");
    CHECK_THROWS_WITH(rms_norm(at::zeros({2, 4}), at::ones({3}), 1e-5), "last dimension");
    at::Tensor q = at::zeros({1, 2, 8});
    CHECK_THROWS_WITH(rope_(q, 3, 4, at::zeros({1, 2, 1, 2}), at::zeros({1, 2, 1, 2}), false), "n_rot * head_dim");
    CHECK_THROWS_WITH(rope_(q, 2, 4, at::zeros({1, 2, 1, 3}), at::zeros({1, 2, 1, 2}), false), "cos/sin");
}

D2M_TEST_MAIN()
