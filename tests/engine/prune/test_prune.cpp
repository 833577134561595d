// DIVE-FLAP pruning: WIFV/IFV/WIFN scores against hand computations, exact ⌊F·r⌋ removal with the
// documented tie-break, bias compensation exact on the mean input, and a pruned demo model equal to
// the masked dense model plus compensation (to 1e-5).
#include <ATen/ATen.h>

#include "support/check.h"

#include "calib/ffn_stats.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "project/project.h"
#include "prune/prune.h"

using namespace den2moe;

namespace {

// D = 2, F = 4: down columns have squared norms 1, 1, 4, 9.
SwiGluFfn hand_ffn() {
    at::Tensor gate = at::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, -1.0f, 0.5f}).reshape({4, 2});
    at::Tensor up = at::tensor({0.5f, 1.0f, 1.0f, -1.0f, 2.0f, 0.0f, 0.0f, 1.0f}).reshape({4, 2});
    at::Tensor down = at::tensor({1.0f, 0.0f, 2.0f, 0.0f, 0.0f, 1.0f, 0.0f, 3.0f}).reshape({2, 4});
    return SwiGluFfn(gate, up, down, at::Tensor(), at::kFloat);
}

ChannelMoments moments(std::vector<double> mean, std::vector<double> var, int64_t n) {
    at::Tensor m = at::tensor(mean, at::kDouble);
    at::Tensor v = at::tensor(var, at::kDouble);
    return ChannelMoments::from(n, m, v * static_cast<double>(n));
}

// The masked dense FFN: removed channels replaced by their calibration mean (FLAP's meaning of b).
class MaskedFfn : public FeedForward {
public:
    MaskedFfn(const SwiGluFfn& d, at::Tensor keep_mask, at::Tensor mean)
        : d_(d), keep_(keep_mask.to(at::kFloat)), mean_(mean.to(at::kFloat)) {}
    at::Tensor forward(const at::Tensor& x, int, const FfnContext&) const override {
        at::Tensor act = at::silu(at::linear(x, d_.gate())) * at::linear(x, d_.up());
        act = act * keep_ + mean_ * (1 - keep_);
        return at::linear(act, d_.down());
    }
    void named_tensors(const std::string&, std::map<std::string, at::Tensor>&) const override {}
    std::string kind() const override { return "masked"; }
    int64_t n_params() const override { return 0; }

private:
    const SwiGluFfn& d_;
    at::Tensor keep_, mean_;
};

}  // namespace

TEST(wifv_scores_equal_hand_computation) {
    SwiGluFfn f = hand_ffn();
    ChannelMoments st = moments({0.5, -1.0, 2.0, 0.25}, {4.0, 1.0, 1.0, 0.5}, 10);
    at::Tensor s = channel_scores(f, st, PruneMetric::WIFV);
    // var * ||W[:, j]||^2 = {4*1, 1*1, 1*4, 0.5*9}
    CHECK_CLOSE(s[0].item<double>(), 4.0, 1e-12);
    CHECK_CLOSE(s[1].item<double>(), 1.0, 1e-12);
    CHECK_CLOSE(s[2].item<double>(), 4.0, 1e-12);
    CHECK_CLOSE(s[3].item<double>(), 4.5, 1e-12);
    at::Tensor ifv = channel_scores(f, st, PruneMetric::IFV);
    CHECK_CLOSE(ifv[3].item<double>(), 0.5, 1e-12);
    // WIFN: mean_i |W_ij| sqrt(E[x^2]); channel 3: E[x^2] = 0.5 + 0.0625, |W| = {0, 3} -> 1.5 sqrt(0.5625)
    at::Tensor wifn = channel_scores(f, st, PruneMetric::WIFN);
    CHECK_CLOSE(wifn[3].item<double>(), 1.5 * 0.75, 1e-12);
    CHECK_CLOSE(wifn[0].item<double>(), 0.5 * std::sqrt(4.25), 1e-12);
}

TEST(uniform_removes_exactly_floor_f_r_with_stable_ties) {
    // scores {4, 1, 4, 4.5}: remove 2 -> channel 1, then the tie 4 == 4 removes the lower index 0
    std::vector<int64_t> kept = keep_uniform(at::tensor({4.0, 1.0, 4.0, 4.5}, at::kDouble), 2);
    CHECK_EQ(kept.size(), size_t{2});
    CHECK_EQ(kept[0], 2);
    CHECK_EQ(kept[1], 3);
    // all tied: the highest indices survive
    kept = keep_uniform(at::ones({10}, at::kDouble), 7);
    CHECK_EQ(kept.size(), size_t{3});
    CHECK_EQ(kept[0], 7);
    // exact count for a realistic width and ratio
    at::Tensor s = at::randint(0, 5, {5632}, at::kLong).to(at::kDouble);  // many ties
    CHECK_EQ(keep_uniform(s, 2816).size(), size_t{2816});
    CHECK_EQ(keep_uniform(s, 4224).size(), size_t{1408});
    CHECK_THROWS_WITH(keep_uniform(s, 5632), "at least one channel");
}

TEST(adaptive_removes_floor_lfr_overall) {
    at::manual_seed(3);
    std::vector<at::Tensor> scores = {at::rand({100}, at::kDouble), at::rand({100}, at::kDouble) * 10 + 5,
                                      at::rand({100}, at::kDouble).square()};
    auto kept = keep_adaptive(scores, 0.3);
    size_t total = 0;
    for (const auto& k : kept) total += k.size();
    CHECK_EQ(total, size_t{300 - 90});
    // standardisation per layer: a layer with large raw scores does not keep everything
    CHECK(kept[1].size() < 100);
}

TEST(bias_compensation_is_exact_on_the_mean_input) {
    SwiGluFfn f = hand_ffn();
    at::Tensor mean = at::tensor({0.5, -1.0, 2.0, 0.25}, at::kDouble);
    auto p = prune_ffn(f, {2, 3}, mean, at::kFloat);
    CHECK_EQ(p->width(), 2);
    CHECK_EQ(p->down().size(1), 2);
    // b = W[:, {0,1}] . mean[{0,1}] = {1*0.5, 1*(-1)}
    CHECK_CLOSE(p->down_bias()[0].item<float>(), 0.5f, 1e-7);
    CHECK_CLOSE(p->down_bias()[1].item<float>(), -1.0f, 1e-7);
    // kept rows/columns are the original ones, in order
    CHECK(at::equal(p->gate(), f.gate().index_select(0, at::tensor({2, 3}, at::kLong))));
    CHECK(at::equal(p->down(), f.down().index_select(1, at::tensor({2, 3}, at::kLong))));
    // any input whose removed activations equal their means gives the dense output exactly
    at::manual_seed(0);
    at::Tensor x = at::randn({5, 2});
    MaskedFfn masked(f, at::tensor({0.0f, 0.0f, 1.0f, 1.0f}), mean);
    at::Tensor a = p->forward(x, 0, {});
    at::Tensor b = masked.forward(x, 0, {});
    CHECK((a - b).abs().max().item<float>() < 1e-6f);
}

TEST(pruned_model_equals_masked_model_plus_compensation) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    const LlamaModel& m = *lm.model;
    at::manual_seed(1);
    at::Tensor calib = at::randint(3, 4096, {4, 64}, at::kLong);
    FfnStats st = collect_ffn_stats(m, calib, 2, null_context());
    CHECK_EQ(st.n_tokens, 4 * 64);
    CHECK_EQ(st.layers[0].count(), 4 * 64);
    for (const char* structure : {"uniform", "adaptive"}) {
        PruneSettings ps;
        ps.ratio = 0.5;
        ps.structure = structure;
        auto kept = select_channels(m, st, ps);
        auto pruned = prune_model(m, st, ps);
        std::vector<std::shared_ptr<const FeedForward>> masked;
        int64_t total_kept = 0;
        for (int il = 0; il < (int)m.config().n_layer; ++il) {
            at::Tensor keep = at::zeros({m.config().n_ff});
            for (int64_t j : kept[il]) keep[j] = 1.0f;
            total_kept += (int64_t)kept[il].size();
            if (std::string(structure) == "uniform") CHECK_EQ(kept[il].size(), size_t{384});
            CHECK_EQ(((const SwiGluFfn&)pruned->ffn(il)).width(), (int64_t)kept[il].size());
            masked.push_back(std::make_shared<MaskedFfn>(m.dense_ffn(il), keep, st.layers[il].mean()));
        }
        CHECK_EQ(total_kept, 6 * 384);
        auto ref = m.with_ffns(masked);
        at::Tensor ids = at::randint(3, 4096, {2, 48}, at::kLong);
        at::Tensor a = pruned->forward(ids), b = ref->forward(ids);
        const double rel = ((a - b).abs().max() / b.abs().max()).item<double>();
        std::printf("%s: max |pruned - masked| / max |logit| = %.2e\n", structure, rel);
        CHECK(rel < 1e-5);
        // and pruning really changes the model
        CHECK(((a - m.forward(ids)).abs().max()).item<double>() > 1e-2);
        // physically smaller
        CHECK(pruned->n_params() < m.n_params());
    }
}

TEST(bad_settings_are_errors) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    FfnStats st = collect_ffn_stats(*lm.model, at::randint(3, 4096, {1, 16}, at::kLong), 1, null_context());
    PruneSettings ps;
    ps.metric = "magnitude";
    CHECK_THROWS_WITH(select_channels(*lm.model, st, ps), "unknown pruning metric 'magnitude'");
    ps.metric = "wifv";
    ps.structure = "blocky";
    CHECK_THROWS_WITH(select_channels(*lm.model, st, ps), "unknown pruning structure");
    FfnStats short_stats = st;
    short_stats.layers.pop_back();
    ps.structure = "uniform";
    CHECK_THROWS_WITH(select_channels(*lm.model, short_stats, ps), "statistics cover 5 layers, the model has 6");
}

D2M_TEST_MAIN()
