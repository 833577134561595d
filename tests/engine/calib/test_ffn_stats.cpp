// FLAP statistics: float64 moments equal a direct two-pass computation for any batch split and
// padding mask; the hook-collected statistics equal the down_proj input recomputed by hand; window
// sampling is deterministic per seed; the disk cache round-trips and counts hits and misses.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "support/check.h"

#include "calib/ffn_stats.h"
#include "calib/stats_cache.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "tokenizer/tokenizer.h"

using namespace den2moe;
namespace fs = std::filesystem;

TEST(moments_hand_case) {
    ChannelMoments m;
    m.add(at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2}));
    m.add(at::tensor({5.0f, 9.0f}).reshape({1, 2}));
    CHECK_EQ(m.count(), 3);
    CHECK_CLOSE(m.mean()[0].item<double>(), 3.0, 1e-15);
    CHECK_CLOSE(m.mean()[1].item<double>(), 5.0, 1e-15);
    CHECK_CLOSE(m.variance()[0].item<double>(), 8.0 / 3.0, 1e-14);   // (4 + 0 + 4) / 3
    CHECK_CLOSE(m.variance()[1].item<double>(), 26.0 / 3.0, 1e-14);  // (9 + 1 + 16) / 3
    CHECK_CLOSE(m.mean_square()[1].item<double>(), (4.0 + 16.0 + 81.0) / 3.0, 1e-13);
}

TEST(moments_equal_two_pass_for_any_split_and_mask) {
    at::manual_seed(7);
    at::Tensor x = at::randn({6, 50, 33}) * 3 + 100;  // large offset: naive sum-of-squares would lose digits
    at::Tensor mask = at::rand({6, 50}) > 0.3;
    ChannelMoments a, b;
    a.add(x, mask);
    for (int64_t i = 0; i < 6; ++i) b.add(x.slice(0, i, i + 1), mask.slice(0, i, i + 1));
    at::Tensor rows = x.reshape({-1, 33}).index({mask.reshape({-1})}).to(at::kDouble);
    at::Tensor mean = rows.mean(0), var = (rows - mean).square().mean(0);
    CHECK_EQ(a.count(), rows.size(0));
    CHECK_EQ(b.count(), rows.size(0));
    CHECK((a.mean() - mean).abs().max().item<double>() < 1e-10);
    CHECK((b.mean() - mean).abs().max().item<double>() < 1e-10);
    CHECK(((a.variance() - var).abs() / var).max().item<double>() < 1e-10);
    CHECK(((b.variance() - var).abs() / var).max().item<double>() < 1e-10);
}

TEST(hook_statistics_equal_the_down_proj_input) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    const LlamaModel& m = *lm.model;
    at::manual_seed(2);
    at::Tensor ids = at::randint(3, 4096, {3, 40}, at::kLong);
    FfnStats st = collect_ffn_stats(m, ids, 2, null_context());  // batches of 2 + 1
    CHECK_EQ(st.n_windows, 3);
    CHECK_EQ((int64_t)st.layers.size(), m.config().n_layer);
    // recompute layer 2's down_proj input from the layer's FFN input (observed) and its weights
    at::Tensor ffn_in;
    ObserverSet obs;
    obs.add(site::kFfnInp, [&](const HookEvent& e) { ffn_in = e.tensor.clone(); }, 2);
    ForwardOptions fo;
    fo.observers = &obs;
    m.forward(ids, {}, fo);
    const SwiGluFfn& f = m.dense_ffn(2);
    at::Tensor act = (at::silu(at::linear(ffn_in, f.gate())) * at::linear(ffn_in, f.up())).reshape({-1, m.config().n_ff});
    at::Tensor a = act.to(at::kDouble);
    at::Tensor mean = a.mean(0), var = (a - mean).square().mean(0);
    CHECK((st.layers[2].mean() - mean).abs().max().item<double>() < 1e-5);
    CHECK(((st.layers[2].variance() - var).abs()).max().item<double>() < 1e-4 * var.max().item<double>());
}

TEST(calibration_windows_are_deterministic_per_seed) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    CorpusSpec spec{{d2m_test::shared_dir() + "/data/domains/gsm8k/train.jsonl.gz"}, "", "", 0};
    at::Tensor a = sample_calibration_windows(*lm.tokenizer, spec, 8, 64, 42);
    at::Tensor b = sample_calibration_windows(*lm.tokenizer, spec, 8, 64, 42);
    at::Tensor c = sample_calibration_windows(*lm.tokenizer, spec, 8, 64, 43);
    CHECK_EQ(a.size(0), 8);
    CHECK_EQ(a.size(1), 64);
    CHECK(at::equal(a, b));
    CHECK(!at::equal(a, c));
    // records are BOS text EOS: the windows hold BOS tokens at record boundaries
    CHECK((a == lm.tokenizer->bos_id()).sum().item<int64_t>() >= 1);
    CHECK(a.min().item<int64_t>() >= 0 && a.max().item<int64_t>() < 4096);
    // a corpus shorter than n·seq: windows at seeded random offsets, still exactly n × seq
    const std::string small = d2m_test::tmp_dir() + "/small.txt";
    std::ofstream(small) << "one short line of text\nand another one here\n";
    CorpusSpec sspec{{small}, "", "", 0};
    at::Tensor s = sample_calibration_windows(*lm.tokenizer, sspec, 5, 6, 1);
    CHECK_EQ(s.size(0), 5);
    CHECK_THROWS_WITH(sample_calibration_windows(*lm.tokenizer, sspec, 5, 500, 1), "fewer than one window of 500");
}

TEST(cache_round_trip_and_counters) {
    const std::string dir = d2m_test::tmp_dir() + "/cache";
    StatsCache cache(dir);
    FfnStats st;
    at::manual_seed(5);
    for (int l = 0; l < 3; ++l) {
        ChannelMoments m;
        m.add(at::randn({20, 7}));
        st.layers.push_back(m);
    }
    st.n_tokens = 20;
    st.n_windows = 2;
    CHECK(!cache.load("abc").has_value());
    CHECK_EQ(cache.misses(), 1);
    cache.store("abc", st, "test");
    auto back = cache.load("abc");
    CHECK(back.has_value());
    CHECK_EQ(cache.hits(), 1);
    CHECK_EQ(back->layers.size(), size_t{3});
    CHECK_EQ(back->n_tokens, 20);
    CHECK_EQ(back->layers[1].count(), 20);
    CHECK(at::equal(back->layers[2].mean(), st.layers[2].mean()));
    CHECK(at::equal(back->layers[2].m2(), st.layers[2].m2()));
    // no temp file left behind
    int files = 0;
    for (auto& e : fs::directory_iterator(dir)) files += e.path().extension() == ".safetensors";
    CHECK_EQ(files, 1);
    // a damaged entry is a miss, never a crash
    std::ofstream(cache.path_for("bad"), std::ios::binary) << "garbage";
    CHECK(!cache.load("bad").has_value());
    CHECK_EQ(cache.misses(), 2);
}

TEST(cache_keys_change_with_every_input) {
    const std::string a = d2m_test::tmp_dir() + "/a.txt", b = d2m_test::tmp_dir() + "/b.txt";
    std::ofstream(a) << "alpha";
    std::ofstream(b) << "beta";
    StatsKeyParts k{"m1", {a}, "", "", 128, 256, 42, "bf16"};
    const std::string base = stats_key(k);
    CHECK_EQ(stats_key(k), base);
    auto differs = [&](StatsKeyParts v) { return stats_key(v) != base; };
    StatsKeyParts v = k; v.model_hash = "m2"; CHECK(differs(v));
    v = k; v.data_files = {b}; CHECK(differs(v));
    v = k; v.n_samples = 64; CHECK(differs(v));
    v = k; v.seq_len = 128; CHECK(differs(v));
    v = k; v.seed = 1; CHECK(differs(v));
    v = k; v.dtype = "fp32"; CHECK(differs(v));
    v = k; v.text_template = "{q}"; CHECK(differs(v));
    std::ofstream(a) << "alpha changed";  // same path, new content
    CHECK(stats_key(k) != base);
    CHECK_EQ(hash_string(""), "cbf29ce484222325");  // FNV-1a 64 offset basis
    CHECK_EQ(hash_string("a"), "af63dc4c8601ec8c");  // published FNV-1a test vector
}

D2M_TEST_MAIN()
