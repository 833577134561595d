// Den2MoEE (shared/docs/DEN2MOEE.md): the gate arithmetic on hand-computed cases (probabilities +
// bias for selection only, renormalisation over the selected routed experts, × n_routed, null
// experts add nothing, the prototype prior), the equal-size spherical k-means and coverage ranking
// on constructed profiles, and the conversion of the demo model: an exact partition of every FFN
// whose dense-mode block (uniform router) reproduces the dense logits.
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "support/check.h"
#include "support/demo_project.h"

#include "convert/convert.h"
#include "model/moe_io.h"
#include "convert/den2moee.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "project/project.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

Project tiny_project() { return d2m_test::tiny_demo_project(); }

// Three routed experts (distinguishable outputs) over D = 2 and one null expert.
std::vector<std::shared_ptr<const SwiGluFfn>> three_experts() {
    std::vector<std::shared_ptr<const SwiGluFfn>> ex;
    for (int e = 0; e < 3; ++e) {
        at::Tensor g = at::full({1, 2}, 1.0 + e), u = at::full({1, 2}, 0.5), d = at::full({2, 1}, 1.0 + 10 * e);
        ex.push_back(std::make_shared<SwiGluFfn>(g, u, d, at::Tensor(), at::kFloat));
    }
    return ex;
}

std::vector<double> weights_of(const MoeFfn& moe, const at::Tensor& x) {
    at::Tensor w;
    moe.route(x, &w, nullptr);
    std::vector<double> out;
    for (int64_t e = 0; e < w.size(1); ++e) out.push_back(w[0][e].item<double>());
    return out;
}

}  // namespace

TEST(gate_arithmetic_by_hand) {
    const at::Tensor x = at::tensor({1.0f, 0.0f}).view({1, 2});
    RouterSpec rs;
    rs.gate = RouterSpec::Gate::Den2MoEE;
    rs.weight = at::tensor({2.0f, 0.f, 1.f, 0.f, 0.f, 0.f}).view({3, 2});  // routed logits 2, 1, 0
    rs.null_weight = at::tensor({0.5f, 0.f}).view({1, 2});                // null logit 0.5
    rs.top_k = 2;
    rs.routed_scale = 3;
    {
        MoeFfn moe(three_experts(), rs, nullptr, at::kFloat);
        auto w = weights_of(moe, x);  // top-2 = routed 0, 1: e²/(e²+e) · 3, e/(e²+e) · 3
        const double e2 = std::exp(2.0), e1 = std::exp(1.0);
        CHECK_CLOSE(w[0], 3 * e2 / (e2 + e1), 1e-6);
        CHECK_CLOSE(w[1], 3 * e1 / (e2 + e1), 1e-6);
        CHECK_EQ(w[2], 0.0);
        at::Tensor logits;
        moe.route(x, nullptr, &logits);
        CHECK_EQ(logits.size(1), 4);  // routed + null
        CHECK_CLOSE(logits[0][3].item<double>(), 0.5, 1e-7);
    }
    {   // the bias changes the selection only: routed 2 is chosen (p2 + 1 > p1), gates from the raw p
        RouterSpec b = rs;
        b.select_bias = at::tensor({0.f, 0.f, 1.f});
        MoeFfn moe(three_experts(), b, nullptr, at::kFloat);
        auto w = weights_of(moe, x);
        const double e2 = std::exp(2.0), e0 = 1.0;
        CHECK_CLOSE(w[0], 3 * e2 / (e2 + e0), 1e-6);
        CHECK_EQ(w[1], 0.0);
        CHECK_CLOSE(w[2], 3 * e0 / (e2 + e0), 1e-6);
    }
    {   // the null expert takes a slot: the one selected routed expert gets 1 · n_routed
        RouterSpec n = rs;
        n.null_weight = at::tensor({3.0f, 0.f}).view({1, 2});
        MoeFfn moe(three_experts(), n, nullptr, at::kFloat);
        auto w = weights_of(moe, x);
        CHECK_CLOSE(w[0], 3.0, 1e-6);
        CHECK_EQ(w[1], 0.0);
        CHECK_EQ(w[2], 0.0);
        // and the block's output is exactly 3 · expert 0 (the null expert adds nothing)
        at::Tensor y = moe.forward(x.view({1, 1, 2}), 0, {});
        at::Tensor y0 = moe.expert(0).forward(x, 0, {}) * 3.0;
        CHECK((y.view({1, 2}) - y0).abs().max().item<double>() < 1e-6);
    }
    {   // dense mode: every routed expert, weights p_i / Σ_routed p · n_routed
        RouterSpec d = rs;
        d.dense = true;
        MoeFfn moe(three_experts(), d, nullptr, at::kFloat);
        auto w = weights_of(moe, x);
        const double s = std::exp(2.0) + std::exp(1.0) + 1.0;
        CHECK_CLOSE(w[0], 3 * std::exp(2.0) / s, 1e-6);
        CHECK_CLOSE(w[2], 3 * 1.0 / s, 1e-6);
    }
    {   // the prototype prior: logits = W·x + α·P·x
        RouterSpec pr = rs;
        pr.prior = at::tensor({0.f, 0.f, 0.f, 0.f, 4.f, 0.f}).view({3, 2});
        pr.prior_scale = 0.5;  // routed 2 logit: 0 + 0.5 · 4 = 2
        MoeFfn moe(three_experts(), pr, nullptr, at::kFloat);
        at::Tensor logits;
        moe.route(x, nullptr, &logits);
        CHECK_CLOSE(logits[0][2].item<double>(), 2.0, 1e-6);
    }
    // grouped dispatch = the per-token reference with null experts, bias, a gated shared expert
    at::manual_seed(3);
    std::vector<std::shared_ptr<const SwiGluFfn>> ex;
    for (int e = 0; e < 4; ++e) {
        ex.push_back(std::make_shared<SwiGluFfn>(at::randn({24, 16}), at::randn({24, 16}), at::randn({16, 24}) * 0.1,
                                                 at::Tensor(), at::kFloat));
    }
    auto shared = std::make_shared<SwiGluFfn>(at::randn({8, 16}), at::randn({8, 16}), at::randn({16, 8}),
                                              at::Tensor(), at::kFloat);
    RouterSpec g;
    g.gate = RouterSpec::Gate::Den2MoEE;
    g.weight = at::randn({4, 16});
    g.null_weight = at::randn({2, 16});
    g.select_bias = at::randn({4}) * 0.1;
    g.prior = at::randn({4, 16});
    g.prior_scale = 0.3;
    g.routed_scale = 4;
    g.top_k = 3;
    g.shared_gate = at::randn({1, 16});
    MoeFfn moe(ex, g, shared, at::kFloat);
    at::Tensor xs = at::randn({2, 13, 16});
    at::Tensor a = moe.forward(xs, 0, {}), b = moe_forward_reference(moe, xs);
    CHECK((a - b).abs().max().item<double>() < 1e-5 * (1 + b.abs().max().item<double>()));
    // a bad shape is an error naming what it expected
    RouterSpec bad = g;
    bad.select_bias = at::zeros({5});
    CHECK_THROWS_WITH(MoeFfn(ex, bad, shared, at::kFloat), "selection bias must have 4 entries");
}

TEST(zscore_and_balanced_kmeans) {
    at::Tensor S = at::tensor({1.0, 10.0, 2.0, 20.0, 3.0, 30.0}, at::kDouble).view({3, 2});
    at::Tensor Z = den2moee_zscore(S);
    const double sd = std::sqrt(2.0 / 3.0);  // population std of {1,2,3}
    CHECK_CLOSE(Z[0][0].item<double>(), -1.0 / sd, 1e-6);
    CHECK_CLOSE(Z[2][1].item<double>(), 10.0 / (10 * sd + 1e-9), 1e-6);

    // three clear directions, four rows each, shuffled: every cluster is one direction
    at::manual_seed(5);
    at::Tensor dirs = at::eye(3, at::kDouble);
    std::vector<int64_t> truth;
    std::vector<at::Tensor> rows;
    for (int i = 0; i < 12; ++i) {
        const int64_t c = (i * 7) % 3;
        truth.push_back(c);
        rows.push_back(dirs[c] + at::randn({3}, at::kDouble) * 0.05);
    }
    KMeansResult km = balanced_spherical_kmeans(at::stack(rows), 3, 12345);
    std::vector<int> size(3, 0);
    for (int i = 0; i < 12; ++i) {
        ++size[km.label[i]];
        for (int j = 0; j < 12; ++j) CHECK_EQ(km.label[i] == km.label[j], truth[i] == truth[j]);
    }
    CHECK(size[0] == 4 && size[1] == 4 && size[2] == 4);
    CHECK(km.last_shift <= 1e-6);

    // unbalanced data, capacity forces equal sizes: 6 rows near x, 2 near y, K = 2 (capacity 4).
    // The 2 y-rows and the 2 x-rows closest to y (largest y component) share a cluster.
    std::vector<at::Tensor> r2;
    for (int i = 0; i < 6; ++i) r2.push_back(at::tensor({1.0, 0.05 * i}, at::kDouble));
    r2.push_back(at::tensor({0.0, 1.0}, at::kDouble));
    r2.push_back(at::tensor({0.1, 1.0}, at::kDouble));
    KMeansResult k2 = balanced_spherical_kmeans(at::stack(r2), 2, 1);
    const int64_t cy = k2.label[6];
    CHECK_EQ(k2.label[7], cy);
    CHECK_EQ(k2.label[5], cy);
    CHECK_EQ(k2.label[4], cy);
    for (int i = 0; i < 4; ++i) CHECK(k2.label[i] != cy);
    CHECK_THROWS_WITH(balanced_spherical_kmeans(at::stack(r2), 3, 1), "equal clusters");
}

TEST(coverage_ranking_picks_the_broadest_clusters) {
    // 8 clusters × 4 neurons over 4 domains. Cluster j's neurons are active in the domains of mask j;
    // clusters 5 and 2 are active in 3 domains (broadest), the others in 1.
    const int64_t K = 8, n = 4, Dn = 4;
    const int masks[8] = {0b0001, 0b0010, 0b0111, 0b0100, 0b1000, 0b1110, 0b0001, 0b1000};
    at::Tensor S = at::zeros({K * n, Dn}, at::kDouble);
    at::manual_seed(7);
    for (int64_t j = 0; j < K; ++j) {
        for (int64_t i = 0; i < n; ++i) {
            for (int64_t d = 0; d < Dn; ++d) {
                S[j * n + i][d] = ((masks[j] >> d) & 1 ? 5.0 : 1.0) + 0.01 * at::randn({1}, at::kDouble).item<double>();
            }
        }
    }
    NeuronPartition p = den2moee_partition(S, K, 0.25, 12345);
    CHECK_EQ(p.shared.size(), size_t{2});
    CHECK_EQ(p.routed.size(), size_t{6});
    // the shared clusters hold exactly the neurons of mask clusters 2 and 5
    std::set<int64_t> shared_neurons;
    for (int64_t j : p.shared) shared_neurons.insert(p.clusters[j].begin(), p.clusters[j].end());
    std::set<int64_t> expect;
    for (int64_t j : {2, 5}) {
        for (int64_t i = 0; i < n; ++i) expect.insert(j * n + i);
    }
    CHECK(shared_neurons == expect);
    double bs = 0;
    for (double b : p.budget_score) bs += b;
    CHECK_CLOSE(bs, 1.0, 1e-12);
}

TEST(den2moee_converts_the_demo_model_exactly) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    Project p = tiny_project();
    ConvertSettings s;
    s.recipe = Recipe::Den2MoEE;
    s.n_experts = 8;
    s.top_k = 2;
    ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, "h", {}, s, null_context());
    const int L = static_cast<int>(lm.model->config().n_layer);
    const int64_t F = lm.model->config().n_ff;
    CHECK_EQ(r.stats_cache_misses, 18);
    CHECK_EQ(r.moe_config["num_experts"].get<int64_t>(), 6);
    CHECK_EQ(r.moe_config["shared_expert_width"].get<int64_t>(), 2 * F / 8);
    at::manual_seed(0);
    at::Tensor ids = at::randint(3, 4096, {2, 48}, at::kLong);
    at::Tensor ref = lm.model->forward(ids);
    std::vector<std::shared_ptr<const FeedForward>> uniform;
    for (int il = 0; il < L; ++il) {
        const auto& moe = dynamic_cast<const MoeFfn&>(r.model->ffn(il));
        CHECK_EQ(moe.n_experts(), 6);
        CHECK_EQ(moe.router().n_null(), 1);
        // an exact partition: every dense neuron's gate row appears once across shared + routed
        const SwiGluFfn& d = lm.model->dense_ffn(il);
        at::Tensor rows = moe.shared_expert()->gate();
        for (int64_t e = 0; e < 6; ++e) {
            CHECK_EQ(moe.expert(e).width(), F / 8);
            rows = at::cat({rows, moe.expert(e).gate()});
        }
        CHECK_EQ(rows.size(0), F);
        at::Tensor sorted_a = std::get<0>(rows.sum(1).sort()), sorted_b = std::get<0>(d.gate().sum(1).sort());
        CHECK((sorted_a - sorted_b).abs().max().item<double>() == 0.0);
        // dense mode with a uniform router (zero gate, α = 0): each routed weight (1/7)/(6/7)·6 = 1
        RouterSpec u = moe.router();
        u.weight = at::zeros_like(u.weight);
        u.null_weight = at::zeros_like(u.null_weight);
        u.prior_scale = 0.0;
        u.dense = true;
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        for (int64_t e = 0; e < 6; ++e) ex.push_back(std::make_shared<SwiGluFfn>(moe.expert(e)));
        auto um = std::make_shared<MoeFfn>(ex, u, std::make_shared<SwiGluFfn>(*moe.shared_expert()), at::kFloat);
        at::Tensor w;
        um->route(at::randn({5, lm.model->config().n_embd}), &w, nullptr);
        CHECK((w - 1.0).abs().max().item<double>() < 1e-6);
        uniform.push_back(um);
    }
    at::Tensor out = r.model->with_ffns(uniform)->forward(ids);
    // fp32: the partitioned down projections are summed in a different order than the dense GEMM
    // (the same effect as in upcycled_moe_equals_dense); measured 1.1e-5 abs on logits up to 14.4
    const double err = (out - ref).abs().max().item<double>(), scale = ref.abs().max().item<double>();
    std::printf("den2moee dense mode vs dense: max abs %.2e, relative to the largest logit %.2e\n", err, err / scale);
    CHECK(err / scale < 1e-5);
    CHECK(err < 5e-5);
    // the sparse model (top-2 of 6 routed + 1 null) runs and differs from the dense model
    at::Tensor sparse = r.model->forward(ids);
    CHECK(std::isfinite(sparse.abs().max().item<double>()));
    CHECK((sparse - ref).abs().max().item<double>() > 1e-3);
    // native round trip: identical logits
    const std::string dir = d2m_test::tmp_dir() + "/d2e";
    save_moe_native(*r.model, r.moe_config, r.provenance, dir, lm.tokenizer_path);
    LoadedModel back = load_model(dir, ComputeDType::F32);
    CHECK((back.model->forward(ids) - sparse).abs().max().item<double>() == 0.0);
    // a rerun takes every statistic from the cache (the entries now hold the magnitudes)
    ConvertResult again = convert_model(p, lm.model, *lm.tokenizer, "h", {}, s, null_context());
    CHECK_EQ(again.stats_cache_misses, 0);
    CHECK((again.model->forward(ids) - sparse).abs().max().item<double>() == 0.0);
    fs::remove_all(d2m_test::tmp_dir());
}

D2M_TEST_MAIN()
