// compare_expert_load (eval/expert_load_compare.h) on hand-made loads, every number worked out by hand:
// the shares of each side at its own layer (or the mean over its layers), the per-expert delta and the
// total variation distance when the expert counts agree, none of them (and a note) when they differ,
// domains measured on one side only left out and named, a layer outside a side's range refused.
#include "support/check.h"

#include "eval/expert_load_compare.h"

#include <cmath>

using namespace den2moe;

namespace {

/// shares[d][l][e]
ExpertLoad make_load(std::vector<std::string> domains, std::vector<int> layers,
                     const std::vector<std::vector<std::vector<double>>>& shares) {
    ExpertLoad x;
    x.domains = std::move(domains);
    x.moe_layers = std::move(layers);
    x.n_experts = int(shares[0][0].size());
    for (const auto& d : shares)
        for (const auto& l : d)
            for (double v : l) x.share.push_back(v);
    return x;
}

}  // namespace

TEST(same_experts_delta_and_tv) {
    // a: 2 layers, 2 experts; b: 3 layers, 2 experts; domains wiki, code (b lists them reversed + math)
    const ExpertLoad a = make_load({"wiki", "code"}, {0, 1}, {{{0.5, 0.5}, {0.7, 0.3}}, {{0.2, 0.8}, {0.4, 0.6}}});
    const ExpertLoad b = make_load({"code", "wiki", "math"}, {0, 2, 4},
                                   {{{0.1, 0.9}, {0.1, 0.9}, {0.1, 0.9}},
                                    {{0.9, 0.1}, {0.8, 0.2}, {1.0, 0.0}},
                                    {{0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}}});
    // mean over layers: a wiki (0.6, 0.4), code (0.3, 0.7); b wiki (0.9, 0.1), code (0.1, 0.9)
    const auto c = compare_expert_load(a, -1, b, -1);
    CHECK(c.same_experts);
    CHECK_EQ(c.domains.size(), size_t{2});
    CHECK(c.domains[0] == "wiki" && c.domains[1] == "code");
    CHECK(c.only_a.empty());
    CHECK(c.only_b.size() == 1 && c.only_b[0] == "math");
    CHECK_CLOSE(c.share_a[0][0], 0.6, 1e-12);
    CHECK_CLOSE(c.share_a[1][1], 0.7, 1e-12);
    CHECK_CLOSE(c.share_b[0][0], 0.9, 1e-12);
    CHECK_CLOSE(c.share_b[1][0], 0.1, 1e-12);
    CHECK_CLOSE(c.delta[0][0], 0.3, 1e-12);
    CHECK_CLOSE(c.delta[0][1], -0.3, 1e-12);
    CHECK_CLOSE(c.delta[1][0], -0.2, 1e-12);
    CHECK_CLOSE(c.tv[0], 0.3, 1e-12);
    CHECK_CLOSE(c.tv[1], 0.2, 1e-12);
    CHECK_CLOSE(c.max_share_b[0], 0.9, 1e-12);
    // balance: entropy of (0.6, 0.4) / ln 2
    CHECK_CLOSE(c.balance_a[0], -(0.6 * std::log(0.6) + 0.4 * std::log(0.4)) / std::log(2.0), 1e-12);
    CHECK_EQ(c.model_layer_a, -1);
    // notes: layer counts differ (2 vs 3), one domain left out
    CHECK_EQ(c.notes.size(), size_t{2});
    CHECK(c.notes[0].find("a has 2 MoE layers, b has 3") != std::string::npos);

    // each side at its own layer: a layer index 1 (model layer 1), b layer index 2 (model layer 4)
    const auto l = compare_expert_load(a, 1, b, 2);
    CHECK_EQ(l.model_layer_a, 1);
    CHECK_EQ(l.model_layer_b, 4);
    CHECK_CLOSE(l.share_a[0][0], 0.7, 1e-12);
    CHECK_CLOSE(l.share_b[0][0], 1.0, 1e-12);
    CHECK_CLOSE(l.delta[1][1], 0.9 - 0.6, 1e-12);
    CHECK_CLOSE(l.tv[1], 0.3, 1e-12);
    CHECK_CLOSE(l.balance_b[0], 0.0, 1e-12);  // all on one expert
    CHECK(l.notes[1].find("a shows layer 1, b shows layer 4") != std::string::npos);

    const std::string csv = expert_load_comparison_csv(l);
    CHECK(csv.rfind("domain,expert,share_a,share_b,delta\nwiki,0,0.7,1,0.3\nwiki,1,0.3,0,-0.3\n", 0) == 0);
}

TEST(different_expert_counts_have_no_delta) {
    const ExpertLoad a = make_load({"wiki"}, {0}, {{{0.25, 0.75}}});
    const ExpertLoad b = make_load({"wiki"}, {0}, {{{0.25, 0.25, 0.25, 0.25}}});
    const auto c = compare_expert_load(a, 0, b, 0);
    CHECK(!c.same_experts);
    CHECK(c.delta.empty());
    CHECK(std::isnan(c.tv[0]));
    CHECK_CLOSE(c.balance_b[0], 1.0, 1e-12);
    CHECK_CLOSE(c.max_share_a[0], 0.75, 1e-12);
    CHECK(c.notes[0].find("a has 2 experts, b has 4") != std::string::npos);
    // the csv leaves what a side lacks empty
    CHECK(expert_load_comparison_csv(c) ==
          "domain,expert,share_a,share_b,delta\nwiki,0,0.25,0.25,\nwiki,1,0.75,0.25,\nwiki,2,,0.25,\nwiki,3,,0.25,\n");
}

TEST(refusals_name_the_side) {
    const ExpertLoad a = make_load({"wiki"}, {0, 1}, {{{0.5, 0.5}, {0.5, 0.5}}});
    const ExpertLoad b = make_load({"code"}, {0}, {{{0.5, 0.5}}});
    CHECK_THROWS_WITH(compare_expert_load(a, 2, a, 0), "side a has MoE layers 0..1, got layer 2");
    CHECK_THROWS_WITH(compare_expert_load(a, 0, a, -2), "side b has MoE layers 0..1, got layer -2");
    CHECK_THROWS_WITH(compare_expert_load(a, 0, b, 0), "share no domain");
    CHECK_THROWS_WITH(compare_expert_load(a, 0, ExpertLoad{}, 0), "side b has no measurement");
    CHECK_CLOSE(expert_share(a, 5, 0, 0), 0.0, 0);  // out of range reads 0, never past the buffer
}

D2M_TEST_MAIN()
