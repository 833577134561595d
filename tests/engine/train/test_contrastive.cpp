// Embedding training (train/pairs.h, train/contrastive.h, the trainer's infonce / cosmse losses):
// the pairs format (round trip, refusals naming the line), the bundled-data builder (MRPC / STS12
// counts recounted from the files, Banking77 intents checked against the CSV), InfoNCE, cos-MSE and
// Den2MoEE's budget-bias update on small cases computed by hand, and fixtures for the PyTorch oracle
// (tests/reference/contrastive_oracle.py: loss and every trainable gradient of one step through the
// demo model, fp32 rel 1e-4; run by tests.cmake).
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/check.h"
#include "support/demo_project.h"

#include "convert/convert.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "model/moe_io.h"
#include "data/corpus.h"
#include "eval/embeddings.h"
#include "eval/prompts.h"
#include "eval/task_eval.h"
#include "eval/task_settings.h"
#include "io/safetensors.h"
#include "train/contrastive.h"
#include "train/pairs.h"
#include "train/trainer.h"
#include "train/train_settings.h"
#include "tokenizer/tokenizer.h"

using namespace den2moe;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string root() {
    const char* bd = std::getenv("D2M_BUILD_DIR");
    const std::string r = std::string(bd ? bd : d2m_test::tmp_dir()) + "/contrastive-oracle";
    fs::create_directories(r);
    return r;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::vector<TextPair> sample_pairs() {
    std::vector<TextPair> v(4);
    v[0] = {"How do I reset my card PIN?", "I forgot the PIN of my card", {"Where is my refund?"}, 0.9, "bank"};
    v[1] = {"The cat sat on the mat.", "A cat is sitting on a mat.", {"Stocks fell sharply today."}, 0.8, "sts"};
    v[2] = {"def add(a, b): return a + b", "a function that adds two numbers", {"import os"}, 0.5, "code"};
    v[3] = {"Caf\xc3\xa9 au lait \xf0\x9f\x98\x80", "coffee with milk", {"a rainy day in Oslo"}, -0.1, ""};
    return v;
}

/// A stage's defaults, then the small test run: 4 pairs per step, the two smallest LM domains for
/// the held-out loss, fp32.
TrainSettings small_run(const std::string& stage, int64_t top_k, const std::string& pairs) {
    TrainSettings s;
    s.stage = stage;
    apply_stage_defaults(s, top_k);
    s.pairs = pairs;
    s.domains = "truthfulqa,python";
    s.seq_len = 32;
    s.batch = 4;
    s.eval_windows = 1;
    s.dtype = "fp32";
    s.max_length = 24;
    return s;
}

/// Settings of the oracle fixtures: the dense demo model, a few tensors trained, fp32.
TrainSettings fixture_settings(const std::string& loss, const std::string& pooling, const std::string& pairs) {
    TrainSettings s = small_run("experts", 0, pairs);
    s.loss = loss;
    s.pooling = pooling;
    s.lora_rank = 0;
    s.trainable = "model.layers.5.mlp.*,model.layers.2.self_attn.q_proj.weight,model.norm.weight,"
                  "model.layers.0.input_layernorm.weight";
    return s;
}

/// `steps_first` optimizer steps before the recorded batch (the distillation term is 0, and so is its
/// gradient, while the model is still the start model): the trained tensors' values are recorded too.
void pair_fixture(const std::string& name, const TrainSettings& s, int steps_first = 0) {
    const std::string model = d2m_test::shared_dir() + "/models/demo-llama-7m";
    Trainer tr(d2m_test::tiny_demo_project(), model, s, null_context());
    for (int k = 0; k < steps_first; ++k) tr.train_step();
    tr.zero_grad();
    const std::vector<int64_t> idx = {0, 1, 2, 3};
    const double loss = tr.accumulate_pairs(idx);
    std::vector<std::pair<std::string, at::Tensor>> out;
    json texts = json::array(), labels = json::array(), names = json::array();
    int64_t k = 0;
    for (int64_t i : idx) {
        const auto& t = tr.pair_tokens()[static_cast<size_t>(i)];
        json row = json::array();
        for (const auto& ids : t) {
            std::vector<int64_t> v(ids.begin(), ids.end());
            out.emplace_back("text:" + std::to_string(k), at::tensor(v, at::kLong));
            row.push_back(k++);
        }
        texts.push_back(row);
        labels.push_back(tr.pairs()[static_cast<size_t>(i)].label);
    }
    out.emplace_back("loss", at::tensor({loss}, at::kDouble));
    for (const auto& kv : tr.gradients()) {
        out.emplace_back("grad:" + kv.first, kv.second);
        names.push_back(kv.first);
    }
    if (steps_first > 0)
        for (const auto& kv : tr.parameters()) out.emplace_back("param:" + kv.first, kv.second);
    json info = {{"model", model},  {"loss", s.loss},     {"tau", s.tau}, {"pooling", s.pooling},
                 {"texts", texts},  {"labels", labels},   {"trainable", names},
                 {"distill", s.distill}, {"distill_weight", s.distill_weight}, {"trained", steps_first > 0}};
    save_safetensors(root() + "/" + name + ".safetensors", out, {{"info", info.dump()}});
    std::printf("%s: loss %.6f, %zu gradients\n", name.c_str(), loss, names.size());
    CHECK(std::isfinite(loss) && loss > 0);
}

}  // namespace

TEST(pairs_round_trip_and_refusals) {
    const std::string dir = d2m_test::tmp_dir() + "/pairs-format";
    fs::create_directories(dir);
    const auto v = sample_pairs();
    write_pairs(dir + "/p.jsonl", v);
    const auto back = read_pairs(dir + "/p.jsonl");
    CHECK_EQ(back.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        CHECK(back[i].query == v[i].query && back[i].positive == v[i].positive && back[i].domain == v[i].domain);
        CHECK(back[i].negatives == v[i].negatives);
        CHECK_CLOSE(back[i].label, v[i].label, 0.0);
    }
    // the minimal line: query and positive only
    write_text(dir + "/min.jsonl", "{\"query\": \"a\", \"positive\": \"b\"}\n\n");
    const auto m = read_pairs(dir + "/min.jsonl");
    CHECK(m.size() == 1 && !m[0].has_label() && m[0].negatives.empty());
    write_text(dir + "/bad1.jsonl", "{\"query\": \"a\", \"positive\": \"b\"}\n{\"query\": \"a\", \"postive\": \"b\"}\n");
    CHECK_THROWS_WITH(read_pairs(dir + "/bad1.jsonl"), "line 2");
    CHECK_THROWS_WITH(read_pairs(dir + "/bad1.jsonl"), "unknown key 'postive'");
    write_text(dir + "/bad2.jsonl", "{\"query\": \"a\", \"positive\": \"b\", \"label\": 3}\n");
    CHECK_THROWS_WITH(read_pairs(dir + "/bad2.jsonl"), "outside [-1, 1]");
    write_text(dir + "/bad3.jsonl", "{\"query\": \"a\"}\n");
    CHECK_THROWS_WITH(read_pairs(dir + "/bad3.jsonl"), "'positive'");
    write_text(dir + "/bad4.jsonl", "not json\n");
    CHECK_THROWS_WITH(read_pairs(dir + "/bad4.jsonl"), "is not JSON");
    write_text(dir + "/empty.jsonl", "\n");
    CHECK_THROWS_WITH(read_pairs(dir + "/empty.jsonl"), "holds no pair");
    CHECK_THROWS_WITH(read_pairs(dir + "/missing.jsonl"), "cannot open");
}

TEST(pairs_from_the_bundled_train_splits) {
    const std::string sh = d2m_test::shared_dir();
    PairBuildOptions o;
    o.sources = {"mrpc", "sts12", "banking77"};
    o.negatives = 2;
    const auto v = build_pairs(sh, o);
    std::map<std::string, int64_t> per;
    for (const auto& p : v) ++per[p.domain];
    // recount: MRPC train lines whose Quality is 1; STS 2012 train lines scored >= 4
    int64_t mrpc = 0, sts = 0;
    {
        std::istringstream in(read_file_maybe_gz(sh + "/data/mrpc/msr-para-train.tsv"));
        std::string l;
        std::getline(in, l);
        while (std::getline(in, l)) mrpc += l.rfind("1\t", 0) == 0;
    }
    for (const char* f : {"/data/sts_semeval/2012/MSRpar.train.tsv", "/data/sts_semeval/2012/SMTeuroparl.train.tsv"}) {
        std::istringstream in(read_file_maybe_gz(sh + f));
        std::string l;
        while (std::getline(in, l)) sts += !l.empty() && std::atof(l.c_str()) >= 4.0;
    }
    CHECK_EQ(per["mrpc"], mrpc);
    CHECK_EQ(per["sts12"], sts);
    CHECK(mrpc > 2000 && sts > 300);
    // banking77: 10,003 train queries in 77 intents -> about 5,000 disjoint same-intent pairs
    CHECK(per["banking77"] > 4900 && per["banking77"] <= 5001);
    std::map<std::string, std::string> intent;
    parse_csv("banking", read_file_maybe_gz(sh + "/data/banking77/train.csv"),
              [&](int64_t, std::vector<std::string>& r) {
                  if (r.size() == 2) intent[r[0]] = r[1];
                  return true;
              });
    int64_t checked = 0;
    for (const auto& p : v) {
        if (p.domain != "banking77") continue;
        CHECK_EQ(p.negatives.size(), size_t{2});
        CHECK(intent.at(p.query) == intent.at(p.positive));
        for (const auto& n : p.negatives) CHECK(intent.at(n) != intent.at(p.query));
        if (++checked == 200) break;
    }
    // an evenly spread subset, and the same pairs for the same seed
    o.max_per_source = 50;
    const auto a = build_pairs(sh, o), b = build_pairs(sh, o);
    CHECK_EQ(a.size(), size_t{150});
    CHECK(pairs_to_jsonl(a) == pairs_to_jsonl(b));
    o.sources = {"squad"};
    CHECK_THROWS_WITH(build_pairs(sh, o), "unknown source 'squad'");
}

TEST(infonce_and_cosine_mse_by_hand) {
    // anchors a0 = (1, 0), a1 = (0, 1); candidates c0 = (1, 0), c1 = (0.6, 0.8), c2 = (0, 1); tau 0.5
    at::Tensor a = at::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});
    at::Tensor c = at::tensor({1.0f, 0.0f, 0.6f, 0.8f, 0.0f, 1.0f}).view({3, 2});
    at::Tensor tgt = at::tensor({int64_t{0}, int64_t{2}});
    const double s00 = 1 / 0.5, s01 = 0.6 / 0.5, s02 = 0.0;
    const double s10 = 0.0, s11 = 0.8 / 0.5, s12 = 1 / 0.5;
    const double l0 = -s00 + std::log(std::exp(s00) + std::exp(s01) + std::exp(s02));
    const double l1 = -s12 + std::log(std::exp(s10) + std::exp(s11) + std::exp(s12));
    CHECK_CLOSE(infonce_loss(a, c, tgt, 0.5).item<double>(), 0.5 * (l0 + l1), 1e-6);
    // cos((1,0),(3,4)) = 0.6, cos((0,2),(0,-1)) = -1; labels 1 and 0
    at::Tensor x = at::tensor({1.0f, 0.0f, 0.0f, 2.0f}).view({2, 2});
    at::Tensor y = at::tensor({3.0f, 4.0f, 0.0f, -1.0f}).view({2, 2});
    CHECK_CLOSE(cosine_mse_loss(x, y, at::tensor({1.0f, 0.0f})).item<double>(), 0.5 * (0.16 + 1.0), 1e-6);
    // distillation: e = ((1,0), (0.6,0.8)), e0 = ((0.6,0.8), (0.6,0.8)): 1 - cos = (0.4, 0) -> 0.2;
    // Gram(e) - Gram(e0) = ((0, -0.4), (-0.4, 0)) -> mean of squares 2·0.16/4 = 0.08
    at::Tensor e = at::tensor({1.0f, 0.0f, 0.6f, 0.8f}).view({2, 2});
    at::Tensor e0 = at::tensor({0.6f, 0.8f, 0.6f, 0.8f}).view({2, 2});
    CHECK_CLOSE(distill_loss(e, e0, "embedding").item<double>(), 0.2, 1e-6);
    CHECK_CLOSE(distill_loss(e, e0, "similarity").item<double>(), 0.08, 1e-6);
    CHECK_CLOSE(distill_loss(e0, e0, "similarity").item<double>(), 0.0, 0.0);
    // pooling: left-padded rows, last token and the mean over real tokens, unit norm
    at::Tensor h = at::tensor({0.f, 0.f, 3.f, 0.f, 0.f, 4.f, 1.f, 1.f, 2.f, 2.f, 0.f, 1.f}).view({2, 3, 2});
    at::Tensor mask = at::tensor(std::vector<int64_t>{0, 1, 1, 1, 1, 1}).view({2, 3});
    at::Tensor last = pool_embeddings(h, mask, "last");
    CHECK_CLOSE(last[0][0].item<double>(), 0.0, 1e-7);
    CHECK_CLOSE(last[0][1].item<double>(), 1.0, 1e-7);
    CHECK_CLOSE(last[1][1].item<double>(), 1.0, 1e-7);
    at::Tensor mean = pool_embeddings(h, mask, "mean");  // row 0: mean((3,0),(0,4)) = (1.5, 2) -> (0.6, 0.8)
    CHECK_CLOSE(mean[0][0].item<double>(), 0.6, 1e-6);
    CHECK_CLOSE(mean[0][1].item<double>(), 0.8, 1e-6);
    // row 1: mean((1,1),(2,2),(0,1)) = (1, 4/3) -> (0.6, 0.8)
    CHECK_CLOSE(mean[1][0].item<double>(), 0.6, 1e-6);
}

TEST(budget_bias_update_by_hand) {
    // R = 3 routed experts, K = 2, K_e = 2, beta 1, eta 1e-3; scores (0.2, 0.3, 0.5), counts (6, 3, 1)
    at::Tensor bias = at::zeros({3}, at::kFloat);
    at::Tensor score = at::tensor({0.2f, 0.3f, 0.5f});
    at::Tensor counts = at::tensor({6.0f, 3.0f, 1.0f});
    update_budget_bias(bias, score, counts, 2, 2, 1.0, 1e-3);
    // w = (1.2, 1.3, 1.5), Σw = 4; ideal = (2/2)·w/4 = (0.3, 0.325, 0.375); T_all = 10;
    // actual = T/(2·10) = (0.3, 0.15, 0.05); bias = 1e-3·(0, 0.175, 0.325)
    CHECK_CLOSE(bias[0].item<double>(), 0.0, 1e-9);
    CHECK_CLOSE(bias[1].item<double>(), 1.75e-4, 1e-9);
    CHECK_CLOSE(bias[2].item<double>(), 3.25e-4, 1e-9);
    // T_all = tokens (the probable intent): 8 tokens, K_e = 1.8 -> ideal = 0.9·w/4, actual = T/16
    at::Tensor b2 = at::zeros({3}, at::kFloat);
    update_budget_bias(b2, score, counts, 2, 1.8, 1.0, 1e-3, true, 8);
    CHECK_CLOSE(b2[0].item<double>(), 1e-3 * (0.9 * 1.2 / 4 - 6.0 / 16), 1e-9);
    CHECK_CLOSE(b2[2].item<double>(), 1e-3 * (0.9 * 1.5 / 4 - 1.0 / 16), 1e-9);
    // no routed selection: unchanged
    at::Tensor b3 = at::zeros({3}, at::kFloat);
    update_budget_bias(b3, score, at::zeros({3}), 2, 2, 1.0, 1e-3);
    CHECK_CLOSE(b3.abs().sum().item<double>(), 0.0, 0.0);
}

TEST(den2moee_alpha_ramp_as_the_release) {
    // DEN2MOEE.md §1.3: the α used in forward n is 0 for n <= 9, 0.3 for 10..18, 0.6 for 19..30, 1.0 from 31
    for (int64_t n = 1; n <= 40; ++n) {
        const double want = n <= 9 ? 0.0 : n <= 18 ? 0.3 : n <= 30 ? 0.6 : 1.0;
        CHECK_CLOSE(den2moee_alpha(n, 30, 0.0), want, 0.0);
    }
    CHECK_CLOSE(den2moee_alpha(1, 30, 0.25), 0.25, 0.0);  // the converted model's α until the first milestone
    CHECK_CLOSE(den2moee_alpha(4, 10, 0.0), 0.3, 0.0);
}

TEST(writes_budget_bias_fixture) {
    // random counts, scores and starting bias for the NumPy recomputation (contrastive_oracle.py budget)
    at::manual_seed(11);
    std::vector<std::pair<std::string, at::Tensor>> out;
    json cases = json::array();
    for (int c = 0; c < 4; ++c) {
        const int64_t R = 6;
        at::Tensor score = at::rand({R});
        score = score / score.sum();
        at::Tensor counts = at::randint(0, 50, {R}).to(at::kFloat);
        at::Tensor bias = at::randn({R}) * 1e-3;
        at::Tensor before = bias.clone();
        const bool tokens = c % 2 == 1;
        const int64_t T = 40;
        const double ke = c < 2 ? 2.0 : 1.8;
        update_budget_bias(bias, score, counts, 2, ke, 1.0, 1e-3, tokens, T);
        const std::string k = std::to_string(c);
        out.emplace_back("score:" + k, score);
        out.emplace_back("counts:" + k, counts);
        out.emplace_back("before:" + k, before);
        out.emplace_back("after:" + k, bias);
        cases.push_back({{"k", 2}, {"k_e", ke}, {"beta", 1.0}, {"eta", 1e-3}, {"t_all_tokens", tokens}, {"tokens", T}});
    }
    save_safetensors(root() + "/budget.safetensors", out, {{"info", json{{"cases", cases}}.dump()}});
}

TEST(writes_contrastive_fixtures) {
    const std::string pairs = root() + "/pairs.jsonl";
    write_pairs(pairs, sample_pairs());
    pair_fixture("infonce_last", fixture_settings("infonce", "last", pairs));
    TrainSettings s = fixture_settings("cosmse", "mean", pairs);
    pair_fixture("cosmse_mean", s);
    // training.distill after 3 steps at LR 1e-2 (the term and its gradient are 0 at the start model):
    // InfoNCE + 20 x mean(1 - cos(e, e_start)); cos-MSE + 200 x mean((Gram - Gram_start)^2)
    s = fixture_settings("infonce", "last", pairs);
    s.distill = "embedding";
    s.distill_weight = 20;
    s.schedule = "constant";
    s.lr = 1e-2;
    s.steps = 4;
    pair_fixture("infonce_distill_embedding", s, 3);
    s.loss = "cosmse";
    s.pooling = "mean";
    s.distill = "similarity";
    s.distill_weight = 200;
    pair_fixture("cosmse_distill_similarity", s, 3);
}

TEST(settings_refuse_what_does_not_fit) {
    TrainSettings s = fixture_settings("infonce", "last", "");
    CHECK_THROWS_WITH(validate_train_settings(s), "no pairs file");
    s.loss = "lm";
    s.pairs = "x.jsonl";
    CHECK_THROWS_WITH(validate_train_settings(s), "does not read it");
    s = fixture_settings("infonce", "last", root() + "/pairs.jsonl");
    s.teacher = "somewhere";
    CHECK_THROWS_WITH(validate_train_settings(s), "teacher");
    s = fixture_settings("infonce", "last", root() + "/pairs.jsonl");
    s.loss = "lm";
    s.pairs.clear();
    s.distill = "embedding";
    CHECK_THROWS_WITH(validate_train_settings(s), "training.distill 'embedding' keeps the start");
    s.distill = "gram";
    CHECK_THROWS_WITH(validate_train_settings(s), "distill");
    // cosmse without labels and without a teacher is refused before training
    const std::string nolab = root() + "/nolabel.jsonl";
    write_text(nolab, "{\"query\": \"a b\", \"positive\": \"c d\"}\n{\"query\": \"e\", \"positive\": \"f\"}\n"
                      "{\"query\": \"g\", \"positive\": \"h\"}\n{\"query\": \"i\", \"positive\": \"j\"}\n");
    s = fixture_settings("cosmse", "last", nolab);
    CHECK_THROWS_WITH(Trainer(d2m_test::tiny_demo_project(), d2m_test::shared_dir() + "/models/demo-llama-7m", s,
                              null_context()),
                      "needs a label on every pair");
    // with the model itself as teacher, its own cosines are the labels: the loss starts at 0
    s.teacher = d2m_test::shared_dir() + "/models/demo-llama-7m";
    Trainer tr(d2m_test::tiny_demo_project(), s.teacher, s, null_context());
    CHECK_CLOSE(tr.accumulate_pairs({0, 1, 2, 3}), 0.0, 1e-10);
    // a short InfoNCE run lowers the training loss of its pairs
    s = fixture_settings("infonce", "last", root() + "/pairs.jsonl");
    s.steps = 12;
    s.lr = 1e-3;
    s.schedule = "constant";
    Trainer t2(d2m_test::tiny_demo_project(), d2m_test::shared_dir() + "/models/demo-llama-7m", s, null_context());
    CHECK_EQ(t2.total_steps(), int64_t{12});
    const double first = t2.train_step();
    double last = first;
    while (t2.step() < t2.total_steps()) last = t2.train_step();
    std::printf("infonce: step 1 loss %.4f, step 12 loss %.4f\n", first, last);
    CHECK(last < 0.5 * first);
}

TEST(append_eos_trains_at_the_eos_evaluates_there_and_round_trips) {
    // --append-eos: every pair text is BOS text EOS, the trainer pools the EOS state, `den2moe eval`
    // (TextEncoder) computes the same embedding, and the saved model records it for --embedding auto
    const std::string pairs = root() + "/pairs-eos.jsonl", model = d2m_test::shared_dir() + "/models/demo-llama-7m";
    write_pairs(pairs, sample_pairs());
    TrainSettings lm_loss = fixture_settings("lm", "last", "");
    lm_loss.append_eos = true;
    CHECK_THROWS_WITH(validate_train_settings(lm_loss), "training.append_eos");
    TrainSettings s = fixture_settings("infonce", "last", pairs);
    s.append_eos = true;
    s.steps = 2;
    Trainer tr(d2m_test::tiny_demo_project(), model, s, null_context());
    LoadedModel ref = load_model(model, ComputeDType::F32);
    const int bos = ref.tokenizer->bos_id(), eos = ref.tokenizer->eos_id();
    CHECK_EQ(eos, 2);  // the demo model's sentencepiece </s>
    for (size_t i = 0; i < tr.pairs().size(); ++i) {
        const auto& t = tr.pair_tokens()[i];
        // the evaluator's "none" template: "query." in double quotes (the texts fit max_length 24)
        const std::vector<int> plain = ref.tokenizer->encode(moee_prompt(tr.pairs()[i].query, "none", ""), true, false);
        CHECK_EQ(t[0].size(), plain.size() + 1);
        CHECK_EQ(t[0].front(), bos);
        for (const auto& ids : t) CHECK_EQ(ids.back(), eos);
    }
    // the trainer's pooled embedding = the evaluator's HS at the appended EOS, L2-normalised
    std::vector<std::string> texts, prompts;
    for (const auto& p : tr.pairs()) texts.push_back(p.query);
    for (const auto& x : texts) prompts.push_back(moee_prompt(x, "none", ""));  // what eval --prompt none encodes
    const at::Tensor ours = tr.embeddings(texts).to(at::kDouble);  // [4, D]
    RunContext ctx;
    EncoderOptions eo;
    eo.append_eos = true;
    TextEncoder enc(*ref.model, *ref.tokenizer, eo);
    at::Tensor hs = enc.encode(prompts, ctx, "eos").hs;
    hs = hs / hs.norm(2, 1, true);
    const double d = (ours - hs).abs().max().item<double>();
    std::printf("append_eos: trainer vs evaluator embedding max |diff| %.3e\n", d);
    CHECK(d < 1e-5);
    eo.append_eos = false;  // the EOS changes the vector: the test can tell the two encodings apart
    TextEncoder plain(*ref.model, *ref.tokenizer, eo);
    at::Tensor hp = plain.encode(prompts, ctx, "plain").hs;
    CHECK((ours - hp / hp.norm(2, 1, true)).abs().max().item<double>() > 1e-2);
    // a short run, saved: the record says EOS, --embedding auto takes it
    while (tr.step() < tr.total_steps()) tr.train_step();
    const std::string out = root() + "/append-eos-out";
    fs::remove_all(out);
    tr.write_model(out, json::object());
    const RecordedEmbedding rec = read_recorded_embedding(out);
    CHECK(rec.found && rec.append_eos);
    TaskEvalSettings es;
    const std::string note = resolve_auto_embedding(es, rec);
    CHECK(es.append_eos && es.embedding == "hs" && es.pooling == "last");
    CHECK(note.find("EOS appended") != std::string::npos);
    // provenance.json's training record holds train_schema().to_json(settings) (run_training)
    CHECK(train_schema().to_json(s)["append_eos"] == true);
    TrainSettings back;
    train_schema().read_json(back, train_schema().to_json(s), "training.");
    CHECK(back.append_eos);
    // a record without the key (models trained before the setting) reads as no EOS; a wrong type is refused
    json mc;
    {
        std::ifstream in(out + "/moe_config.json");
        mc = json::parse(in);
    }
    mc["embedding"].erase("append_eos");
    std::ofstream(out + "/moe_config.json") << mc.dump();
    CHECK(read_recorded_embedding(out).found && !read_recorded_embedding(out).append_eos);
    mc["embedding"]["append_eos"] = "yes";
    std::ofstream(out + "/moe_config.json") << mc.dump();
    CHECK_THROWS_WITH(read_recorded_embedding(out), "embedding.append_eos must be true or false");
}

TEST(texts_of_very_different_lengths_embed_as_each_alone) {
    // the trainer embeds a step's texts in up to 4 batches of similar lengths: 6 short and 6 long texts
    // are cut into groups, and every embedding equals the text's embedding run alone (no padding at all)
    const std::string pairs = root() + "/pairs-lengths.jsonl";
    write_pairs(pairs, sample_pairs());
    TrainSettings s = fixture_settings("infonce", "last", pairs);
    s.max_length = 64;
    Trainer tr(d2m_test::tiny_demo_project(), d2m_test::shared_dir() + "/models/demo-llama-7m", s, null_context());
    std::vector<std::string> texts;
    for (int i = 0; i < 6; ++i) texts.push_back("word " + std::to_string(i));
    for (int i = 0; i < 6; ++i) {
        std::string t = "A much longer sentence number " + std::to_string(i) + ", which goes on";
        for (int k = 0; k < 6; ++k) t += " and on about the river, the bank and the money in it";
        texts.push_back(t);
    }
    std::swap(texts[1], texts[7]);  // mixed order: the result must come back in the given order
    const at::Tensor all = tr.embeddings(texts);  // [12, D]
    double worst = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        const at::Tensor one = tr.embeddings({texts[i]});  // [1, D]
        worst = std::max(worst, (all[static_cast<int64_t>(i)] - one[0]).abs().max().item<double>());
    }
    std::printf("12 texts of 4..64 tokens in length groups vs each alone: max |diff| %.2e\n", worst);
    CHECK(worst < 1e-5);
    // these lengths are really cut into groups (the rule itself by hand below)
    const LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    std::vector<int64_t> lens;
    for (const auto& t : texts)
        lens.push_back(static_cast<int64_t>(embedding_token_ids(*lm.tokenizer, moee_prompt(t, "none", ""), false, 64).size()));
    CHECK(length_groups(lens, 4, 128).size() >= 2);
}

TEST(length_groups_by_hand) {
    // 3 texts of 5 tokens and 3 of 60 (mixed order): one batch computes 6·60 + 128 = 488, two 3·5 + 3·60 + 256 = 451
    auto g = length_groups({60, 5, 60, 5, 5, 60}, 4, 128);
    CHECK_EQ(g.size(), size_t{2});
    CHECK(g[0] == (std::vector<int64_t>{1, 3, 4}) && g[1] == (std::vector<int64_t>{0, 2, 5}));
    // a group cost of 200: 15 + 180 + 400 = 595 > 360 + 200 = 560, one batch in the given order's sort
    g = length_groups({60, 5, 60, 5, 5, 60}, 4, 200);
    CHECK_EQ(g.size(), size_t{1});
    CHECK_EQ(g[0].size(), size_t{6});
    // at most max_groups; equal lengths never cut; empty input: one empty group
    CHECK_EQ(length_groups({1, 100, 200, 300, 400}, 2, 0).size(), size_t{2});
    CHECK_EQ(length_groups({7, 7, 7, 7}, 4, 1).size(), size_t{1});
    CHECK_EQ(length_groups({}, 4, 128).size(), size_t{1});
}

TEST(training_tokenises_each_pair_text_as_the_evaluator_does) {
    // train/eval text match: a pair text becomes the same token ids in training (Trainer::pair_tokens)
    // as in `den2moe eval` for every embedding task family (eval_text_prompt + embedding_token_ids, the
    // functions TextEncoder runs), with and without EOS, for the default template and another one
    const std::string pairs = root() + "/pairs-format.jsonl", model = d2m_test::shared_dir() + "/models/demo-llama-7m";
    std::vector<TextPair> sp = sample_pairs();
    sp[1].query = "He said \"no\" to the_plan";  // '"' -> '\'', '_' -> ' ' and the period rule all apply
    write_pairs(pairs, sp);
    LoadedModel ref = load_model(model, ComputeDType::F32);
    const std::vector<std::string> families = {"STS13", "SICK-R", "Banking77Clustering", "MRPC",
                                               "Banking77Classification", "TrecQAReranking"};
    for (const bool eos : {false, true}) {
        for (const std::string prompt : {"none", "prompteol"}) {
            TrainSettings s = fixture_settings("infonce", "last", pairs);
            s.append_eos = eos;
            s.prompt = prompt;
            s.max_length = 64;
            Trainer tr(d2m_test::tiny_demo_project(), model, s, null_context());
            TaskEvalSettings es;
            es.embedding = "hs";
            es.prompt = prompt;
            es.append_eos = eos;
            es.max_length = 64;
            for (const std::string& task : families) {
                for (size_t i = 0; i < tr.pairs().size(); ++i) {
                    const TextPair& p = tr.pairs()[i];
                    const auto& ids = tr.pair_tokens()[i];
                    CHECK(ids[0] == embedding_token_ids(*ref.tokenizer, eval_text_prompt(es, task, p.query), eos, 64));
                    CHECK(ids[1] == embedding_token_ids(*ref.tokenizer, eval_text_prompt(es, task, p.positive), eos, 64));
                    CHECK(ids[2] == embedding_token_ids(*ref.tokenizer, eval_text_prompt(es, task, p.negatives[0]), eos, 64));
                }
            }
            // by hand: "none" wraps the text as "text." after BOS (and before the EOS)
            if (prompt == "none") {
                std::vector<int> want = ref.tokenizer->encode("\"He said 'no' to the plan.\"", true, eos);
                CHECK(tr.pair_tokens()[1][0] == want);
                CHECK(tr.pair_tokens()[1][0] != ref.tokenizer->encode(sp[1].query, true, eos));  // not the raw text
            }
            // the record says which template: eval --embedding auto formats with it
            const std::string out = root() + "/format-out";
            fs::remove_all(out);
            tr.write_model(out, json::object());
            const RecordedEmbedding rec = read_recorded_embedding(out);
            CHECK(rec.found && rec.prompt == prompt && rec.append_eos == eos);
        }
    }
    // a template the evaluator does not know, and a prompt on the lm loss, are refused
    TrainSettings bad = fixture_settings("infonce", "last", pairs);
    bad.prompt = "poem";
    CHECK_THROWS_WITH(validate_train_settings(bad), "prompt");
    TrainSettings lm = fixture_settings("lm", "last", "");
    lm.prompt = "prompteol";
    CHECK_THROWS_WITH(validate_train_settings(lm), "training.prompt");
}

namespace {

/// The demo model converted by Den2MoEE (8 clusters: 2 shared, 6 routed, 1 null; top-2; α 0 as the
/// release's conversion), saved natively once per run.
std::string den2moee_model() {
    const std::string dir = root() + "/den2moee";
    static bool built = false;
    if (built) return dir;
    fs::remove_all(dir);
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    ConvertSettings s;
    s.recipe = Recipe::Den2MoEE;
    s.n_experts = 8;
    s.top_k = 2;
    s.prior_scale = 0.0;
    s.router_dense = true;
    Project p = d2m_test::tiny_demo_project();
    ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, "test", {}, s, null_context());
    save_moe_native(*r.model, r.moe_config, r.provenance, dir, lm.tokenizer_path);
    built = true;
    return dir;
}

json read_json(const std::string& path) {
    std::ifstream in(path);
    return json::parse(in);
}

}  // namespace

TEST(den2moee_dense_phase_ramps_alpha_and_persists_it) {
    const std::string src = den2moee_model(), pairs = root() + "/pairs-d2m.jsonl";
    write_pairs(pairs, sample_pairs());
    TrainSettings s = small_run("den2moee-dense", 2, pairs);
    CHECK(s.loss == "cosmse" && s.trainable == "*.mlp.router.weight" && s.lora_rank == 0);
    s.teacher = d2m_test::shared_dir() + "/models/demo-llama-7m";
    s.steps = 8;
    s.alpha_warmup = 4;
    s.lr = 1e-3;
    Trainer tr(d2m_test::tiny_demo_project(), src, s, null_context());
    for (const auto& kv : tr.gradients()) CHECK(kv.first.find("mlp.router.weight") != std::string::npos);
    CHECK_EQ(tr.gradients().size(), size_t{6});
    // at conversion (uniform-ish router, α 0, every expert on) the model reproduces the dense teacher:
    // the cos-MSE against the teacher's cosines starts near 0
    const double first = tr.train_step();
    std::printf("den2moee-dense: first loss %.3e\n", first);
    CHECK(first < 1e-3);
    const auto& moe0 = dynamic_cast<const MoeFfn&>(tr.model().ffn(0));
    CHECK(moe0.router().dense);
    CHECK_CLOSE(moe0.router().prior_scale, 0.0, 0.0);  // step 1
    for (int64_t n = 2; n <= 8; ++n) {
        tr.train_step();
        const auto& m = dynamic_cast<const MoeFfn&>(tr.model().ffn(3));
        CHECK_CLOSE(m.router().prior_scale, den2moee_alpha(n, 4, 0.0), 0.0);
    }
    CHECK_CLOSE(den2moee_alpha(8, 4, 0.0), 1.0, 0.0);
    const std::string out = root() + "/den2moee-dense-out";
    fs::remove_all(out);
    tr.write_model(out, json::object());
    const json mc = read_json(out + "/moe_config.json");
    CHECK_CLOSE(mc["router"]["prior_scale"].get<double>(), 1.0, 0.0);
    CHECK(mc["router"]["mode"] == "dense");
    LoadedModel back = load_model(out, ComputeDType::F32);
    const auto& r = dynamic_cast<const MoeFfn&>(back.model->ffn(0)).router();
    CHECK(r.dense && r.prior_scale == 1.0);
}

TEST(den2moee_sparse_phase_budget_bias_from_the_routed_counts) {
    const std::string src = root() + "/den2moee-dense-out", pairs = root() + "/pairs-d2m.jsonl";
    CHECK(fs::exists(src + "/moe_config.json"));
    TrainSettings s = small_run("den2moee-sparse", 2, pairs);
    CHECK(s.loss == "infonce" && s.lora_rank == 0 && s.tau == 0.1);
    s.steps = 2;
    s.budget_lr = 0.05;  // large, so that the update is far above float32 rounding
    Trainer tr(d2m_test::tiny_demo_project(), src, s, null_context());
    const LlamaModel& m = tr.model();
    const int L = static_cast<int>(m.config().n_layer);
    const json mc = read_json(src + "/moe_config.json");
    std::vector<at::Tensor> before;
    for (int il = 0; il < L; ++il) {
        const auto& moe = dynamic_cast<const MoeFfn&>(m.ffn(il));
        CHECK(!moe.router().dense && moe.router().top_k == 2 && moe.router().prior_scale == 1.0);
        before.push_back(moe.router().select_bias.clone());
    }
    // independent counts: the inference path's routing weights (router_probs, zero off the selection)
    // of every text of the step (one epoch of 4 pairs = all of them), each text alone
    std::vector<at::Tensor> counts(static_cast<size_t>(L));
    for (auto& c : counts) c = at::zeros({6}, at::kDouble);
    int64_t tokens = 0;
    {
        ObserverSet obs;
        obs.add(site::kRouterProbs, [&](const HookEvent& e) {
            counts[static_cast<size_t>(e.layer)] += e.tensor.reshape({-1, 6}).gt(0).sum(0).to(at::kDouble);
        });
        ForwardOptions fo;
        fo.observers = &obs;
        at::NoGradGuard ng;
        for (const auto& pair : tr.pair_tokens()) {
            for (const auto& ids : pair) {
                std::vector<int64_t> v(ids.begin(), ids.end());
                m.hidden_states(at::tensor(v, at::kLong).view({1, -1}), {}, fo);
                tokens += static_cast<int64_t>(v.size());
            }
        }
    }
    tr.train_step();
    double worst = 0;
    for (int il = 0; il < L; ++il) {
        const auto bs = mc["den2moee"]["layers"][il]["budget_score"].get<std::vector<double>>();
        at::Tensor w = 1.0 + at::tensor(bs, at::kDouble);
        at::Tensor c = counts[static_cast<size_t>(il)];
        at::Tensor want = before[static_cast<size_t>(il)].to(at::kDouble) +
                          0.05 * ((2.0 / 2.0) * w / w.sum() - c / (2.0 * c.sum().item<double>()));
        const auto& moe = dynamic_cast<const MoeFfn&>(tr.model().ffn(il));
        worst = std::max(worst, (moe.router().select_bias.to(at::kDouble) - want).abs().max().item<double>());
        CHECK(c.sum().item<double>() > 0 && c.sum().item<double>() <= 2.0 * static_cast<double>(tokens));
    }
    std::printf("den2moee-sparse: budget bias vs the rule on independent counts: max abs err %.2e\n", worst);
    CHECK(worst < 1e-6);
    tr.train_step();
    const std::string out = root() + "/den2moee-sparse-out";
    fs::remove_all(out);
    tr.write_model(out, json::object());
    const json mo = read_json(out + "/moe_config.json");
    CHECK(mo["router"]["mode"] == "sparse" && mo["top_k"] == 2);
    CHECK_CLOSE(mo["router"]["prior_scale"].get<double>(), 1.0, 0.0);
    LoadedModel back = load_model(out, ComputeDType::F32);
    for (int il = 0; il < L; ++il) {
        const auto& r = dynamic_cast<const MoeFfn&>(back.model->ffn(il)).router();
        CHECK(!r.dense && r.top_k == 2 && r.prior_scale == 1.0);
        const auto& t = dynamic_cast<const MoeFfn&>(tr.model().ffn(il)).router();
        CHECK((r.select_bias - t.select_bias.cpu()).abs().max().item<double>() == 0.0);
    }
}

D2M_TEST_MAIN()
