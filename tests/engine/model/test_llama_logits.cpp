// demo-llama-7m logits vs the independent PyTorch reference (tests/reference/llama_reference.py):
// batched prompts with left and right padding, fp32 within 1e-4 max abs and bf16 within a
// documented tolerance; the KV-cache path equals the full pass; hooks see what the FFN computes.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "core/observers.h"
#include "core/run_context.h"
#include "core/runtime.h"
#include "io/safetensors.h"
#include "model/gemm.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "support/check.h"

using namespace den2moe;

static std::string oracle_path() {
    const char* p = std::getenv("D2M_ORACLE");
    return p ? p : "";
}
static std::string demo_dir() { return d2m_test::shared_dir() + "/models/demo-llama-7m"; }

// max |a - b| over real (mask = 1) positions; logits [B, T, V], mask [B, T]
static double masked_max_abs(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
    at::Tensor d = (a - b).abs().amax(-1);  // [B, T]
    return d.masked_select(mask.to(at::kBool)).max().item<double>();
}

TEST(oracle_file_present) {
    CHECK(!oracle_path().empty());
    CHECK(SafetensorsReader::open(oracle_path()).has("logits_fp32"));
}

TEST(token_ids_equal_python_sentencepiece) {
    LoadedModel lm = load_model(demo_dir(), ComputeDType::F32);
    std::ifstream f(oracle_path() + ".json");
    nlohmann::json j;
    f >> j;
    CHECK_EQ(j["prompts"].size(), size_t(6));
    for (size_t i = 0; i < j["prompts"].size(); ++i) {
        std::vector<int> ids = lm.tokenizer->encode(j["prompts"][i].get<std::string>(), true, false);
        CHECK(ids == j["ids"][i].get<std::vector<int>>());
    }
}

TEST(fp32_logits_match_reference) {
    auto ref = SafetensorsReader::open(oracle_path());
    at::Tensor ids = ref.get("ids"), mask = ref.get("mask"), want = ref.get("logits_fp32");
    LoadedModel lm = load_model(demo_dir(), ComputeDType::F32);
    at::Tensor got = lm.model->forward(ids, mask);
    CHECK(got.sizes() == want.sizes());
    double err = masked_max_abs(got, want, mask);
    std::fprintf(stderr, "fp32 max abs diff %.3g (logit scale %.3g)\n", err, want.abs().max().item<double>());
    CHECK(err <= 1e-4);
}

TEST(bf16_logits_match_reference) {
    // bf16 has 8 mantissa bits: GEMMs in a different blocking order differ by a few bf16 ulps per
    // layer. Documented tolerance: max abs <= 0.25 vs the PyTorch bf16 reference, and
    // <= 0.5 vs fp32, on logits of magnitude ~10-20; greedy tokens agree with fp32 on >= 95%.
    auto ref = SafetensorsReader::open(oracle_path());
    at::Tensor ids = ref.get("ids"), mask = ref.get("mask");
    LoadedModel lm = load_model(demo_dir(), ComputeDType::BF16);
    at::Tensor got = lm.model->forward(ids, mask);
    double err_bf16 = masked_max_abs(got, ref.get("logits_bf16"), mask);
    double err_fp32 = masked_max_abs(got, ref.get("logits_fp32"), mask);
    at::Tensor agree = got.argmax(-1).eq(ref.get("logits_fp32").argmax(-1)).masked_select(mask.to(at::kBool));
    double agree_frac = agree.to(at::kFloat).mean().item<double>();
    std::fprintf(stderr, "bf16: max abs vs torch bf16 %.3g, vs fp32 %.3g, argmax agreement %.3f\n", err_bf16,
                 err_fp32, agree_frac);
    CHECK(err_bf16 <= 0.25);
    CHECK(err_fp32 <= 0.5);
    CHECK(agree_frac >= 0.95);
}

// bf16 matrix products widened to float32 (gemm::Bf16Mode::Float32, the default where libtorch's
// bf16 GEMMs run on reference kernels) against ATen's own bf16 kernels: the same bf16 forward up
// to the order of the float32 sums, so logits agree to bf16 noise and the greedy tokens agree.
TEST(bf16_widened_gemms_match_native_bf16) {
    LoadedModel lm = load_model(demo_dir(), ComputeDType::BF16);
    at::manual_seed(3);
    at::Tensor ids = at::randint(3, 4096, {2, 48}, at::kLong);
    const gemm::Bf16Mode was = gemm::bf16_mode();
    gemm::set_bf16_mode(gemm::Bf16Mode::Native);
    at::Tensor native = lm.model->forward(ids).to(at::kFloat);
    gemm::set_bf16_mode(gemm::Bf16Mode::Float32);
    at::Tensor widened = lm.model->forward(ids).to(at::kFloat);
    gemm::set_bf16_mode(was);
    const double err = (native - widened).abs().max().item<double>();
    const double agree = native.argmax(-1).eq(widened.argmax(-1)).to(at::kFloat).mean().item<double>();
    std::fprintf(stderr, "bf16 widened vs native GEMMs: max abs %.3g (logits ~%.1f), argmax agreement %.3f\n", err,
                 native.abs().max().item<double>(), agree);
    CHECK(err <= 0.5);
    CHECK(agree >= 0.95);
}

TEST(kv_cache_equals_full_pass) {
    LoadedModel lm = load_model(demo_dir(), ComputeDType::F32);
    std::vector<int> p = lm.tokenizer->encode("The quick brown fox jumps over the lazy dog", true, false);
    std::vector<int64_t> p64(p.begin(), p.end());
    at::Tensor ids = at::tensor(p64, at::kLong).unsqueeze(0);  // [1, T]
    const int64_t T = ids.size(1);
    at::Tensor full = lm.model->forward(ids);  // [1, T, V]
    KVCache cache = lm.model->new_cache(1, T);
    ForwardOptions fo;
    fo.cache = &cache;
    at::Tensor first = lm.model->forward(ids.narrow(1, 0, T - 3), {}, fo);
    double err = (first - full.narrow(1, 0, T - 3)).abs().max().item<double>();
    for (int64_t t = T - 3; t < T; ++t) {
        at::Tensor step = lm.model->forward(ids.narrow(1, t, 1), {}, fo);  // [1, 1, V]
        err = std::max(err, (step - full.narrow(1, t, 1)).abs().max().item<double>());
    }
    std::fprintf(stderr, "kv cache max abs diff %.3g\n", err);
    CHECK(err <= 1e-4);
    CHECK_EQ(cache.len, T);
}

TEST(left_padding_equals_unpadded) {
    // a left-padded row must give the same logits as the row alone (positions count real tokens)
    LoadedModel lm = load_model(demo_dir(), ComputeDType::F32);
    std::vector<int> p = lm.tokenizer->encode("Grade-school math: 3 + 4 = 7", true, false);
    std::vector<int64_t> p64(p.begin(), p.end());
    at::Tensor ids = at::tensor(p64, at::kLong).unsqueeze(0);
    const int64_t T = ids.size(1), pad = 5;
    at::Tensor padded = at::cat({at::zeros({1, pad}, at::kLong), ids}, 1);
    at::Tensor mask = at::cat({at::zeros({1, pad}, at::kLong), at::ones({1, T}, at::kLong)}, 1);
    at::Tensor a = lm.model->forward(ids);
    at::Tensor b = lm.model->forward(padded, mask).narrow(1, pad, T);
    CHECK((a - b).abs().max().item<double>() <= 1e-4);
}

TEST(hooks_observe_ffn_activation) {
    LoadedModel lm = load_model(demo_dir(), ComputeDType::F32);
    ObserverSet obs;
    std::vector<at::Tensor> acts, outs;
    int layer_inputs = 0;
    obs.add(site::kFfnAct, [&](const HookEvent& e) { acts.push_back(e.tensor.clone()); });
    obs.add(site::kFfnOut, [&](const HookEvent& e) { outs.push_back(e.tensor.clone()); });
    obs.add(site::kLayerInp, [&](const HookEvent& e) { layer_inputs += e.layer == 2; }, 2);
    at::Tensor ids = at::tensor(std::vector<int64_t>{1, 100, 200, 300, 400}, at::kLong).unsqueeze(0);
    ForwardOptions fo;
    fo.observers = &obs;
    lm.model->forward(ids, {}, fo);
    CHECK_EQ(acts.size(), size_t(6));
    CHECK_EQ(layer_inputs, 1);
    CHECK(acts[0].sizes() == at::IntArrayRef({1, 5, 768}));
    // ffn_out == down_proj(ffn_act) at every layer
    for (int il = 0; il < 6; ++il) {
        at::Tensor down = lm.model->dense_ffn(il).down();
        CHECK((at::linear(acts[il], down) - outs[il]).abs().max().item<double>() <= 1e-5);
    }
    // named tensors carry HF keys
    auto nt = lm.model->named_tensors();
    CHECK(nt.count("model.layers.5.mlp.down_proj.weight") == 1);
    CHECK(nt.count("model.layers.0.self_attn.k_proj.weight") == 1);
    CHECK_EQ(lm.model->n_params(), int64_t(6819072));
}

// The residual adds go into o_proj's and down_proj's GEMMs (beta = 1) when nobody observes the projections
// or the residual stream (run_layers): the same logits as the observed path, which keeps the separate adds,
// up to the order of the sums; the observed path's sites still add up (layer_out = layer_inp + attn_out +
// ffn_out), and a tensor handed to an observer is never changed afterwards by the in-place sums.
TEST(fused_residual_adds_match_the_observed_path) {
    LoadedModel lm = load_model(demo_dir(), ComputeDType::F32);
    const int prev_threads = at::get_num_threads();
    at::set_num_threads(2);  // 2 x 128 rows: the row-parallel path (use_row_parallel) as in ppl
    at::manual_seed(3);
    at::Tensor ids = at::randint(3, 4000, {2, 128}, at::kLong);
    at::Tensor fused = lm.model->forward(ids);
    ObserverSet obs;
    std::map<int, at::Tensor> inp_ref, inp_seen, attn, ffn, out;
    obs.add(site::kLayerInp, [&](const HookEvent& e) {
        inp_ref[e.layer] = e.tensor;  // kept by reference: must not change after the event
        inp_seen[e.layer] = e.tensor.clone();
    });
    obs.add(site::kAttnOut, [&](const HookEvent& e) { attn[e.layer] = e.tensor.clone(); });
    obs.add(site::kFfnOut, [&](const HookEvent& e) { ffn[e.layer] = e.tensor.clone(); });
    obs.add(site::kLayerOut, [&](const HookEvent& e) { out[e.layer] = e.tensor.clone(); });
    ForwardOptions fo;
    fo.observers = &obs;
    at::Tensor observed = lm.model->forward(ids, {}, fo);
    const double scale = observed.abs().max().item<double>();
    const double d = (fused - observed).abs().max().item<double>();
    std::fprintf(stderr, "fused vs observed logits: max abs diff %.3g (scale %.3g)\n", d, scale);
    CHECK(d <= 1e-4);
    for (int il = 0; il < 6; ++il) {
        CHECK(at::equal(inp_ref.at(il), inp_seen.at(il)));
        const at::Tensor sum = inp_seen.at(il) + attn.at(il) + ffn.at(il);
        CHECK((sum - out.at(il)).abs().max().item<double>() <= 1e-5);
    }
    // only layer 3's input and layer 1's output observed, kept by reference: layers 0, 1 (its FFN only) and
    // 4-5 fuse, layers 2 and 3 keep the separate adds, and neither held tensor changes afterwards
    ObserverSet some;
    at::Tensor held_inp3, held_out1;
    some.add(site::kLayerInp, [&](const HookEvent& e) { held_inp3 = e.tensor; }, 3);
    some.add(site::kLayerOut, [&](const HookEvent& e) { held_out1 = e.tensor; }, 1);
    fo.observers = &some;
    at::Tensor partly = lm.model->forward(ids, {}, fo);
    CHECK((partly - fused).abs().max().item<double>() <= 1e-4);
    CHECK((held_inp3 - inp_seen.at(3)).abs().max().item<double>() <= 1e-5);
    CHECK((held_out1 - out.at(1)).abs().max().item<double>() <= 1e-5);
    at::set_num_threads(prev_threads);
}

// linear_rows_add: residual += x·wᵀ (+ b), by rows (2 threads, 256 rows) and in one GEMM (1 thread, or 6 rows),
// against ATen's separate product and add
TEST(linear_rows_add_equals_linear_then_add) {
    const int prev_threads = at::get_num_threads();
    at::manual_seed(5);
    const at::Tensor w = at::randn({48, 40}), b = at::randn({48});
    for (int threads : {2, 1}) {
        at::set_num_threads(threads);
        for (int64_t rows : {256, 6}) {
            const at::Tensor x = at::randn({2, rows / 2, 40});
            const at::Tensor r0 = at::randn({x.size(0), x.size(1), 48});
            for (bool bias : {false, true}) {
                at::Tensor r = r0.clone();
                linear_rows_add(x, w, r, bias ? b : at::Tensor());
                const at::Tensor want = r0 + at::linear(x, w, bias ? b : at::Tensor());
                CHECK((r - want).abs().max().item<double>() <= 1e-5);
            }
        }
        // a bf16 residual takes the separate add: the product rounded to bf16, then added
        const at::Tensor xb = at::randn({4, 40}).to(at::kBFloat16), wb = w.to(at::kBFloat16);
        at::Tensor rb = at::randn({4, 48}).to(at::kBFloat16);
        const at::Tensor rb0 = rb.clone();
        linear_rows_add(xb, wb, rb);
        CHECK(at::equal(rb, rb0 + gemm::linear(xb, wb)));
    }
    at::set_num_threads(prev_threads);
}

D2M_TEST_MAIN()
