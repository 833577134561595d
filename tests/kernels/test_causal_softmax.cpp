// causal_softmax_ against its ATen reference (and a hand case): fp32 and bf16, with and without a
// KV-cache offset and a key (padding) mask, odd sizes; rows sum to 1, hidden keys are exactly 0.
#include <ATen/ATen.h>

#include "support/check.h"

#include "causal_softmax.h"

using namespace den2moe::kernels;

TEST(hand_case) {
    // one row pair, T = 2, scale 1: row 0 sees only key 0; row 1 sees keys 0, 1 with scores 0, ln 3
    at::Tensor s = at::tensor({5.0f, 7.0f, 0.0f, std::log(3.0f)}).reshape({1, 1, 2, 2});
    causal_softmax_(s, 1.0, 0);
    CHECK_EQ(s[0][0][0][0].item<float>(), 1.0f);
    CHECK_EQ(s[0][0][0][1].item<float>(), 0.0f);
    CHECK_CLOSE(s[0][0][1][0].item<float>(), 0.25f, 1e-6);
    CHECK_CLOSE(s[0][0][1][1].item<float>(), 0.75f, 1e-6);
}

TEST(matches_reference) {
    at::manual_seed(0);
    struct Case { int64_t B, H, T, past; bool mask; };
    for (Case c : {Case{2, 3, 17, 0, false}, Case{1, 8, 256, 0, false}, Case{3, 2, 5, 11, false},
                   Case{2, 4, 33, 0, true}, Case{2, 2, 1, 40, true}}) {
        const int64_t Tk = c.past + c.T;
        at::Tensor key_ok;
        if (c.mask) {
            key_ok = at::rand({c.B, Tk}) > 0.3;
            key_ok[0].narrow(0, 0, 3).fill_(false);  // left padding
        }
        for (auto dt : {at::kFloat, at::kBFloat16}) {
            at::Tensor s = (at::randn({c.B, c.H, c.T, Tk}) * 4).to(dt);
            at::Tensor ref = causal_softmax_reference(s, 0.125, c.past, key_ok).to(at::kFloat);
            at::Tensor out = s.clone();
            causal_softmax_(out, 0.125, c.past, key_ok);
            at::Tensor o = out.to(at::kFloat);
            const double tol = dt == at::kFloat ? 1e-6 : 8e-3;  // bf16: one rounding of the output
            const double err = (o - ref).abs().max().item<double>();
            std::printf("B%lld H%lld T%lld past%lld mask%d %s: max err %.2e\n", (long long)c.B, (long long)c.H,
                        (long long)c.T, (long long)c.past, (int)c.mask, dt == at::kFloat ? "fp32" : "bf16", err);
            CHECK(err < tol);
            CHECK(((o.sum(-1) - 1).abs().max().item<double>()) < (dt == at::kFloat ? 1e-5 : 2e-2));
            // exactly zero where the reference is zero (hidden keys)
            CHECK_EQ(o.masked_select(ref == 0).abs().sum().item<double>(), 0.0);
        }
    }
}

// causal_softmax_block_ as head_attention calls it: one head's queries in blocks of nq rows, each block's
// scores [nq, past + t1] in a wider strided buffer, against the reference over the full [T, Tk] rows.
TEST(block_matches_reference) {
    at::manual_seed(1);
    struct Case { int64_t T, past, nq; bool mask; };
    for (Case c : {Case{37, 0, 16, false}, Case{256, 0, 64, false}, Case{9, 7, 4, false}, Case{33, 0, 8, true},
                   Case{20, 5, 64, true}}) {
        const int64_t Tk = c.past + c.T;
        at::Tensor key_ok;  // [1, Tk]
        if (c.mask) {
            key_ok = at::rand({1, Tk}) > 0.3;
            key_ok[0].narrow(0, 0, 3).fill_(false);  // left padding
        }
        for (auto dt : {at::kFloat, at::kBFloat16}) {
            at::Tensor s = (at::randn({1, 1, c.T, Tk}) * 4).to(dt);
            at::Tensor ref = causal_softmax_reference(s, 0.125, c.past, key_ok).to(at::kFloat)[0][0];  // [T, Tk]
            at::Tensor got = at::full({c.T, Tk}, -1.0f);
            at::Tensor buf = at::empty({c.nq, Tk + 3}, dt);  // row stride Tk + 3 > every block's width
            for (int64_t t0 = 0; t0 < c.T; t0 += c.nq) {
                const int64_t nq = std::min(c.nq, c.T - t0), nk = c.past + t0 + nq;
                at::Tensor blk = buf.narrow(0, 0, nq).narrow(1, 0, nk);
                blk.copy_(s[0][0].narrow(0, t0, nq).narrow(1, 0, nk));
                causal_softmax_block_(blk, 0.125, c.past + t0, key_ok.defined() ? key_ok[0] : key_ok);
                got.narrow(0, t0, nq).narrow(1, 0, nk).copy_(blk);
                got.narrow(0, t0, nq).narrow(1, nk, Tk - nk).zero_();  // never stored: beyond the block
            }
            const double tol = dt == at::kFloat ? 1e-6 : 8e-3;
            const double err = (got - ref).abs().max().item<double>();
            std::printf("block T%lld past%lld nq%lld mask%d %s: max err %.2e\n", (long long)c.T, (long long)c.past,
                        (long long)c.nq, (int)c.mask, dt == at::kFloat ? "fp32" : "bf16", err);
            CHECK(err < tol);
            CHECK_EQ(got.masked_select(ref == 0).abs().sum().item<double>(), 0.0);
            CHECK(((got.sum(-1) - 1).abs().max().item<double>()) < (dt == at::kFloat ? 1e-5 : 2e-2));
        }
    }
    // hand case: scores 0, ln 3 on the second row, first row one visible key
    at::Tensor h = at::tensor({5.0f, 7.0f, 0.0f, std::log(3.0f)}).reshape({2, 2});
    causal_softmax_block_(h, 1.0, 0);
    CHECK_EQ(h[0][0].item<float>(), 1.0f);
    CHECK_EQ(h[0][1].item<float>(), 0.0f);
    CHECK_CLOSE(h[1][0].item<float>(), 0.25f, 1e-6);
    CHECK_CLOSE(h[1][1].item<float>(), 0.75f, 1e-6);
}

TEST(rejects_bad_shapes) {
    at::Tensor s = at::zeros({1, 1, 4, 5});
    CHECK_THROWS_WITH(causal_softmax_(s, 1.0, 0), "Tk must equal past + T");
    at::Tensor d = at::zeros({1, 1, 4, 4}, at::kDouble);
    CHECK_THROWS_WITH(causal_softmax_(d, 1.0, 0), "float32 or bfloat16");
    at::Tensor b = at::zeros({4, 3});
    CHECK_THROWS_WITH(causal_softmax_block_(b, 1.0, 0), "must lie within the 3 key columns");
    at::Tensor d2 = d[0][0];
    CHECK_THROWS_WITH(causal_softmax_block_(d2, 1.0, 0), "float32 or bfloat16");
}

D2M_TEST_MAIN()
