// nll_sum (perplexity's one-pass loss) against its ATen reference (logsumexp − gather, summed in double) and
// a hand case: odd sizes, strided rows, large logits (the max shift), [n, 1] targets, bad targets refused.
#include <ATen/ATen.h>

#include <cmath>

#include "support/check.h"

#include "nll.h"

using namespace den2moe::kernels;

TEST(nll_hand_case) {
    // row 0: logits (0, ln 3), target 1 -> log(1 + 3) − ln 3 = ln(4/3); row 1: (5, 5), target 0 -> ln 2
    at::Tensor l = at::tensor({0.0f, std::log(3.0f), 5.0f, 5.0f}).reshape({2, 2});
    at::Tensor t = at::tensor({1, 0}, at::kLong);
    CHECK_CLOSE(nll_sum(l, t), std::log(4.0 / 3.0) + std::log(2.0), 1e-6);
}

TEST(nll_matches_reference) {
    at::manual_seed(5);
    struct Case { int64_t n, V; double scale; };
    for (Case c : {Case{1, 1, 1.0}, Case{3, 17, 2.0}, Case{128, 4096, 4.0}, Case{37, 32000, 1.0}, Case{5, 100, 300.0}}) {
        at::Tensor wide = at::randn({c.n, c.V + 5}) * c.scale;
        at::Tensor logits = wide.narrow(1, 2, c.V);  // row stride V + 5
        at::Tensor tgt = at::randint(c.V, {c.n, 1}, at::kLong);
        const double got = nll_sum(logits, tgt), ref = nll_sum_reference(logits, tgt);
        std::printf("n%lld V%lld scale %.0f: %.9g vs %.9g\n", (long long)c.n, (long long)c.V, c.scale, got, ref);
        CHECK(std::abs(got - ref) <= 1e-5 * std::max(1.0, std::abs(ref)));
    }
}

TEST(nll_refuses_bad_input) {
    at::Tensor l = at::zeros({2, 3});
    CHECK_THROWS_WITH(nll_sum(l, at::tensor({0, 3}, at::kLong)), "target 3 of row 1 is outside the vocabulary [0, 3)");
    CHECK_THROWS_WITH(nll_sum(l, at::tensor({0}, at::kLong)), "1 targets for 2 rows");
    CHECK_THROWS_WITH(nll_sum(l.to(at::kDouble), at::tensor({0, 1}, at::kLong)), "expected float32 CPU logits");
}

D2M_TEST_MAIN()
