// TokenScore (issue 17 item 2): the last_attn hook site against tests/reference/tokenscore_oracle.py
// (an eager float64 PyTorch forward) on demo-llama-7m and the tiny Qwen2 / Qwen3 (padded rows, every
// layer, rel 1e-5 fp32); SCS and the RSS windows by hand; SCS, RSS, τ, the per-sample τ-weighted
// profiles v_s and the z-scored domain matrix against the oracle on the demo model and two samples
// (70 tokens = 5 spans, 13 tokens = 1 span); the batch of masked re-encodings does not change τ; the
// statistics cache keeps TokenScore entries apart from uniform ones and round-trips them.
#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>

#include "support/check.h"

#include "calib/stats_cache.h"
#include "calib/token_score.h"
#include "convert/den2moee.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

std::string oracle(const char* name) {
    const char* p = std::getenv("D2M_TOKENSCORE_ORACLE");
    return std::string(p ? p : "") + "/" + name;
}

/// max |a − b| / max |b|
double rel(const at::Tensor& a, const at::Tensor& b) {
    const double scale = b.abs().max().item<double>();
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

void check_last_attn(const std::string& model_dir, const std::string& ref_file) {
    LoadedModel lm = load_model(model_dir, ComputeDType::F32);
    auto r = SafetensorsReader::open(ref_file);
    at::Tensor ids = r.get("ids"), mask = r.get("mask"), ref = r.get("last_attn");  // ref [L, B, T]
    const int L = static_cast<int>(lm.model->config().n_layer);
    CHECK_EQ(ref.size(0), L);
    std::vector<at::Tensor> got(static_cast<size_t>(L));
    ObserverSet obs;
    obs.add(site::kLastAttn, [&](const HookEvent& ev) { got[static_cast<size_t>(ev.layer)] = ev.tensor.clone(); });
    ForwardOptions fo;
    fo.observers = &obs;
    at::Tensor with = lm.model->forward(ids, mask, fo);
    for (int il = 0; il < L; ++il) {
        CHECK(got[static_cast<size_t>(il)].defined());
        CHECK(got[static_cast<size_t>(il)].sizes() == ref[il].sizes());
        const double e = rel(got[static_cast<size_t>(il)], ref[il]);
        std::printf("%s layer %d: last_attn rel err %.2e\n", model_dir.c_str(), il, e);
        CHECK(e < 1e-5);
        // probabilities: every row sums to 1, padded keys of the left-padded row get 0
        CHECK(((got[static_cast<size_t>(il)].sum(1) - 1.0).abs().max().item<double>()) < 1e-5);
        CHECK(got[static_cast<size_t>(il)][1].narrow(0, 0, 4).abs().max().item<double>() == 0.0);
    }
    // observing changes nothing of the forward pass
    CHECK((with - lm.model->forward(ids, mask)).abs().max().item<double>() == 0.0);
}

}  // namespace

TEST(scs_by_hand) {
    // T = 10, span 4: sums 0.4, 0.6, 0.1 -> (0.4 − 0.1) / 0.5, 1, 0
    at::Tensor a = at::tensor({0.1, 0.1, 0.1, 0.1, 0.3, 0.2, 0.1, 0.0, 0.05, 0.05}, at::kDouble);
    at::Tensor s = span_contribution(a, 4);
    CHECK_EQ(s.numel(), 3);
    CHECK_CLOSE(s[0].item<double>(), 0.6, 1e-12);
    CHECK_CLOSE(s[1].item<double>(), 1.0, 1e-15);
    CHECK_CLOSE(s[2].item<double>(), 0.0, 1e-15);
    // one span -> 0; equal span sums -> 0
    CHECK(span_contribution(at::tensor({0.2, 0.5, 0.3}, at::kDouble), 4).eq(0).all().item<bool>());
    CHECK(span_contribution(at::tensor({0.25, 0.25, 0.25, 0.25}, at::kDouble), 2).eq(0).all().item<bool>());
    CHECK_EQ(span_contribution(at::tensor({0.2, 0.5, 0.3}, at::kDouble), 4).numel(), 1);
    CHECK_THROWS_WITH(span_contribution(at::tensor({0.2}, at::kDouble), 0), "span >= 1");
}

TEST(rss_windows_by_hand) {
    TokenScoreSettings s;
    s.span = 4;
    s.ngram = 3;
    s.stride = 2;
    // 3 spans -> the top 1 (span 1, tokens 4..7): windows [4, 7), [6, 8) (clipped at the span's end)
    std::vector<MaskWindow> w = rss_windows(at::tensor({0.6, 1.0, 0.0}, at::kDouble), 10, s);
    CHECK_EQ(w.size(), size_t{2});
    CHECK(w[0].start == 4 && w[0].end == 7 && w[0].span == 1);
    CHECK(w[1].start == 6 && w[1].end == 8);
    // 5 spans (T = 18): top 2 = span 3 then span 0 (ties: the earlier span); the last span is short
    w = rss_windows(at::tensor({0.5, 0.0, 0.2, 1.0, 0.5}, at::kDouble), 18, s);
    CHECK_EQ(w.size(), size_t{4});
    CHECK(w[0].start == 12 && w[0].end == 15 && w[1].start == 14 && w[1].end == 16);
    CHECK(w[2].start == 0 && w[2].end == 3 && w[3].start == 2 && w[3].end == 4);
    // one span: it is the top span
    w = rss_windows(at::tensor({0.0}, at::kDouble), 3, s);
    CHECK_EQ(w.size(), size_t{2});
    CHECK(w[1].start == 2 && w[1].end == 3);
    // the cap keeps the highest-SCS span's windows first
    s.max_windows = 3;
    w = rss_windows(at::tensor({0.5, 0.0, 0.2, 1.0, 0.5}, at::kDouble), 18, s);
    CHECK_EQ(w.size(), size_t{3});
    CHECK(w[2].start == 0);
}

TEST(last_attn_equals_the_oracle_demo) {
    check_last_attn(d2m_test::shared_dir() + "/models/demo-llama-7m", oracle("demo_attn.safetensors"));
}

TEST(last_attn_equals_the_oracle_qwen) {
    const char* q = std::getenv("D2M_QWEN_ORACLE");
    CHECK(q != nullptr);
    check_last_attn(std::string(q) + "/qwen3", oracle("qwen3_attn.safetensors"));
    check_last_attn(std::string(q) + "/qwen2", oracle("qwen2_attn.safetensors"));
}

TEST(token_score_and_weighted_profiles_equal_the_oracle) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    const LlamaModel& m = *lm.model;
    auto r = SafetensorsReader::open(oracle("demo_score.safetensors"));
    TokenScoreSettings s;  // the oracle's: span 16, ngram 4, stride 2, mask id 0
    s.span = 16;
    s.ngram = 4;
    s.stride = 2;
    s.mask_id = 0;
    s.batch = 5;
    const int L = static_cast<int>(m.config().n_layer);
    std::vector<at::Tensor> v(2);
    std::vector<std::vector<at::Tensor>> per_layer(static_cast<size_t>(L));
    for (int smp = 0; smp < 2; ++smp) {
        const std::string sfx = "_" + std::to_string(smp);
        at::Tensor ids = r.get("ids" + sfx);
        at::Tensor attn;
        ObserverSet obs;
        obs.add(site::kLastAttn, [&](const HookEvent& ev) { attn = ev.tensor[0].clone(); }, L - 1);
        ForwardOptions fo;
        fo.observers = &obs;
        at::Tensor phi = m.hidden_states(ids.unsqueeze(0), {}, fo)[0];
        CHECK(rel(attn, r.get("attn" + sfx)) < 1e-5);
        TokenScore ts = token_score(m, ids, attn, phi, s);
        const double e_scs = rel(ts.span_scs, r.get("span_scs" + sfx)), e_rss = rel(ts.rss, r.get("rss" + sfx)),
                     e_tau = rel(ts.tau, r.get("tau" + sfx));
        std::printf("sample %d: T %lld, %lld windows, rel err SCS %.2e RSS %.2e tau %.2e\n", smp,
                    (long long)ids.numel(), (long long)ts.windows, e_scs, e_rss, e_tau);
        CHECK(e_scs < 1e-5);
        CHECK(rel(ts.scs, r.get("scs" + sfx)) < 1e-5);
        CHECK(e_rss < 1e-5);
        CHECK(e_tau < 1e-5);
        if (smp == 1) {  // 13 tokens, one span: SCS 0, τ = RSS / 2
            CHECK(ts.span_scs.numel() == 1 && ts.span_scs[0].item<double>() == 0.0);
        } else {
            // 5 spans -> the top 2 masked: exactly their tokens get an RSS
            CHECK_EQ(ts.span_scs.numel(), 5);
            at::Tensor covered = at::zeros({ids.numel()}, at::kBool);
            for (const MaskWindow& w : rss_windows(ts.span_scs, ids.numel(), s)) covered.narrow(0, w.start, w.end - w.start).fill_(true);
            CHECK(ts.rss.gt(0).equal(covered));
            CHECK_EQ(ts.windows, static_cast<int64_t>(rss_windows(ts.span_scs, ids.numel(), s).size()));
        }
        // the batch of masked re-encodings does not change τ (fp32 GEMM shapes: 1e-6 relative)
        TokenScoreSettings one = s;
        one.batch = 1;
        CHECK(rel(token_score(m, ids, attn, phi, one).tau, ts.tau) < 1e-6);
        // v_s per layer through the collector (one sample = its mean)
        FfnStats st = collect_tokenscore_stats(m, {ids}, s, null_context());
        CHECK_EQ(st.weighted.size(), static_cast<size_t>(L));
        CHECK_EQ(st.n_windows, 1);
        CHECK_EQ(st.n_tokens, ids.numel());
        for (int il = 0; il < L; ++il) {
            const double e = rel(st.weighted[static_cast<size_t>(il)], r.get("v" + sfx + "_" + std::to_string(il)));
            if (il == 0 || il == L - 1) std::printf("  v_s layer %d rel err %.2e\n", il, e);
            CHECK(e < 1e-5);
            per_layer[static_cast<size_t>(il)].push_back(st.weighted[static_cast<size_t>(il)]);
        }
    }
    // two samples as two domains: Den2MoEE's z-scored domain matrix equals the oracle's
    for (int il = 0; il < L; ++il) {
        at::Tensor Z = den2moee_zscore(at::stack(per_layer[static_cast<size_t>(il)], 1));  // [F, 2]
        CHECK(rel(Z, r.get("z_" + std::to_string(il))) < 1e-5);
    }
    // the mean over both samples is what a domain of both samples gets
    at::Tensor ids0 = r.get("ids_0"), ids1 = r.get("ids_1");
    FfnStats both = collect_tokenscore_stats(m, {ids0, ids1}, s, null_context());
    CHECK(rel(both.weighted[0], (per_layer[0][0] + per_layer[0][1]) / 2) < 1e-12);
    CHECK_EQ(both.n_windows, 2);
}

TEST(cache_keys_name_the_weighting) {
    StatsKeyParts k{"m", {}, "text", "", 4, 64, 1, "fp32"};
    const std::string uniform = stats_key(k);
    TokenScoreSettings ts;
    k.weighting = ts.key();
    const std::string a = stats_key(k);
    ts.stride = 2;
    k.weighting = ts.key();
    const std::string b = stats_key(k);
    CHECK(uniform != a && a != b && uniform != b);
    CHECK_EQ(TokenScoreSettings{}.key(), std::string("tokenscore(span=64,ngram=8,stride=4,mask=0,cap=0)"));
    // the weighted profiles round-trip through the cache
    const std::string dir = d2m_test::tmp_dir() + "/ts-cache";
    StatsCache c(dir);
    FfnStats st;
    st.layers.resize(2);
    st.layers[0].add(at::rand({5, 3}));
    st.layers[1].add(at::rand({5, 3}));
    st.weighted = {at::rand({3}, at::kDouble), at::rand({3}, at::kDouble)};
    st.n_windows = 2;
    c.store(a, st, "test");
    auto back = c.load(a);
    CHECK(back.has_value());
    CHECK_EQ(back->weighted.size(), size_t{2});
    CHECK((back->weighted[1] - st.weighted[1]).abs().max().item<double>() == 0.0);
    CHECK(!c.load(b).has_value());
    fs::remove_all(dir);
}

D2M_TEST_MAIN()
