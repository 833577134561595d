// router_logits against a hand case, a float64 reference and its ATen formula: every code path this
// CPU has (AVX-512, AVX2+FMA, scalar), fp32 and bf16 tokens, expert counts across the groups of eight
// and channel counts with and without a scalar tail.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "support/check.h"

#include "router.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace den2moe::kernels;

namespace {
std::vector<const char*> paths() {
    std::vector<const char*> p;
    for (const char* isa : {"scalar", "avx2", "avx512"})
        if (router_logits_supports(isa)) p.push_back(isa);
    return p;
}
}  // namespace

TEST(hand_case) {
    // two tokens of 3 channels, two experts: exact small integers on every path
    at::Tensor x = at::tensor({1.0f, 2.0f, 3.0f, -1.0f, 0.5f, 4.0f}).reshape({2, 3});
    at::Tensor w = at::tensor({1.0f, 0.0f, -1.0f, 2.0f, 2.0f, 2.0f}).reshape({2, 3});
    for (const char* isa : paths()) {
        at::Tensor out = at::full({2, 2}, 99.0f);
        router_logits(x, w, out, isa);
        CHECK_EQ(out[0][0].item<float>(), -2.0f);  // 1 - 3
        CHECK_EQ(out[0][1].item<float>(), 12.0f);  // 2 (1 + 2 + 3)
        CHECK_EQ(out[1][0].item<float>(), -5.0f);  // -1 - 4
        CHECK_EQ(out[1][1].item<float>(), 7.0f);   // 2 (-1 + 0.5 + 4)
    }
}

TEST(matches_float64_and_aten) {
    at::manual_seed(3);
    std::printf("best path on this CPU: %s\n", router_logits_isa());
    CHECK(router_logits_supports(router_logits_isa()));
    for (int64_t D : {256, 40, 7, 1000}) {         // full chunks; 16 + 16 + 8; tail only; 62 chunks + 8
        for (int64_t E : {8, 1, 3, 11, 16, 20}) {  // one group; partial groups; several groups
            at::Tensor w = at::randn({E, D}) * 0.1;
            for (auto dt : {at::kFloat, at::kBFloat16}) {
                at::Tensor x = at::randn({131, D}).to(dt);  // rows not a multiple of the 64-row grain
                at::Tensor ref = at::mm(x.to(at::kDouble), w.to(at::kDouble).t());
                at::Tensor scale = at::mm(x.to(at::kDouble).abs(), w.to(at::kDouble).abs().t());  // sum |x w|
                at::Tensor aten = router_logits_reference(x, w);
                for (const char* isa : paths()) {
                    at::Tensor out = at::empty({131, E});
                    router_logits(x, w, out, isa);
                    // fp32 accumulation of D products: a few ulps of sum |x w| per product
                    const double err = ((out.to(at::kDouble) - ref).abs() / (scale + 1e-30)).max().item<double>();
                    const double vs_aten = (out - aten).abs().max().item<double>();
                    if (E == 8 || E == 20)
                        std::printf("D %lld E %lld %s %s: rel err %.2e, vs ATen %.2e\n", (long long)D, (long long)E,
                                    dt == at::kFloat ? "fp32" : "bf16", isa, err, vs_aten);
                    CHECK(err < 4e-7 * std::sqrt((double)D));
                    CHECK(vs_aten < 1e-4);
                }
            }
        }
    }
}

TEST(inside_a_parallel_region_and_on_row_slices) {
    // the engine calls it per thread on its own rows: same numbers as one call over all rows
    at::manual_seed(4);
    at::Tensor x = at::randn({300, 256}), w = at::randn({8, 256});
    at::Tensor whole = at::empty({300, 8}), parts = at::empty({300, 8});
    router_logits(x, w, whole);
    at::parallel_for(0, 3, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            at::Tensor o = parts.narrow(0, 100 * t, 100);
            router_logits(x.narrow(0, 100 * t, 100), w, o);
        }
    });
    CHECK_EQ((whole - parts).abs().max().item<double>(), 0.0);
}

TEST(reject_bad_inputs) {
    at::Tensor x = at::randn({4, 16}), w = at::randn({2, 16}), out = at::empty({4, 2});
    CHECK_THROWS_WITH(router_logits(x.t(), w, out), "x must be");                    // not contiguous
    CHECK_THROWS_WITH(router_logits(x.to(at::kDouble), w, out), "x must be");        // dtype
    CHECK_THROWS_WITH(router_logits(x, at::randn({2, 15}), out), "w must be");       // D mismatch
    CHECK_THROWS_WITH(router_logits(x, w.to(at::kBFloat16), out), "w must be");      // router must be float32
    at::Tensor bad = at::empty({4, 3});
    CHECK_THROWS_WITH(router_logits(x, w, bad), "out must be");                      // out shape
    CHECK_THROWS_WITH(router_logits(x, w, out, "sse9"), "unknown ISA");              // unknown path
}

D2M_TEST_MAIN()
