// Den2MoEE pooling (eval/embeddings.h, DEN2MOEE.md §4): by hand on small tensors (groups of 4 router
// layers, the last group the L mod 4 remainder averaged over its own layers, L2 normalisation, widths
// that differ refused), then on the demo model converted by Den2MoEE (6 layers: groups {0-3}, {4, 5};
// 6 routed + 1 null, top-2, prior α 1): texts of different lengths encoded in one left-padded batch,
// the mean over real tokens only (equal to each text encoded alone), and the embeddings written for
// tests/reference/den2moee_oracle.py, which recomputes them with an independent PyTorch forward (rel 1e-5);
// the same with the tokenizer's EOS appended to every text (--append-eos: HS at the EOS, the oracle's
// own EOS id).
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/check.h"
#include "support/demo_project.h"
#include "support/oracle_file.h"

#include "convert/convert.h"
#include "core/run_context.h"
#include "eval/embeddings.h"
#include "eval/task_eval.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "model/moe_io.h"
#include "tokenizer/tokenizer.h"

using namespace den2moe;
namespace fs = std::filesystem;

TEST(groups_of_four_router_layers_and_the_remainder_by_hand) {
    // N = 1, D = 2, L = 6 layers of K = 2 logits: layer l holds (l, 10 l)
    at::Tensor hs = at::tensor({3.0, 4.0}, at::kDouble).view({1, 2});
    at::Tensor z = at::empty({1, 12}, at::kDouble);
    for (int l = 0; l < 6; ++l) {
        z[0][2 * l] = double(l);
        z[0][2 * l + 1] = 10.0 * l;
    }
    at::Tensor e = den2moee_pool(hs, z, std::vector<int64_t>(6, 2));
    CHECK_EQ(e.size(1), int64_t(2 + 2 * 2));  // D + K·ceil(6/4)
    CHECK_EQ(den2moee_dim(2, 6, 2), int64_t(6));
    // group 0 = layers 0-3: (1.5, 15); group 1 = layers 4, 5: (4.5, 45); then / ||(3, 4, 1.5, 15, 4.5, 45)||
    const double want[] = {3.0, 4.0, 1.5, 15.0, 4.5, 45.0};
    double n2 = 0;
    for (double v : want) n2 += v * v;
    for (int i = 0; i < 6; ++i) CHECK_CLOSE(e[0][i].item<double>(), want[i] / std::sqrt(n2), 1e-15);
    // L = 4: one group; L = 8: two full groups
    at::Tensor e4 = den2moee_pool(hs, z.narrow(1, 0, 8), std::vector<int64_t>(4, 2));
    CHECK_EQ(e4.size(1), int64_t(4));
    at::Tensor raw4 = at::tensor({3.0, 4.0, 1.5, 15.0}, at::kDouble);
    CHECK((e4[0] - raw4 / raw4.norm()).abs().max().item<double>() < 1e-15);
    CHECK_EQ(den2moee_dim(1024, 28, 7), int64_t(1024 + 49));  // Qwen3-Embedding-0.6B: 7 groups (the release's H + 49)
    CHECK_EQ(den2moee_dim(2560, 36, 7), int64_t(2560 + 63));  // 4B: 36 layers, 9 groups
    CHECK_EQ(den2moee_dim(256, 7, 7), int64_t(256 + 14));     // 7 layers: {0-3}, {4-6}
    // a zero vector stays finite (F.normalize's eps)
    at::Tensor zero = den2moee_pool(at::zeros({1, 2}, at::kDouble), at::zeros({1, 12}, at::kDouble),
                                    std::vector<int64_t>(6, 2));
    CHECK(zero.abs().max().item<double>() == 0.0);
    // layers of different widths cannot be averaged
    CHECK_THROWS_WITH(den2moee_pool(hs, at::zeros({1, 5}, at::kDouble), {2, 3}), "router layer 1 has 3 outputs");
    CHECK_THROWS_WITH(den2moee_pool(hs, at::Tensor(), {}), "no router layer");
    // make_embedding_set: den2moee needs routers
    RawEmbeddings dense{hs, at::Tensor()};
    CHECK_THROWS_WITH(make_embedding_set(dense, "den2moee", 128), "needs routing weights");
}

TEST(den2moee_pooling_of_a_converted_demo_model_for_the_oracle) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    ConvertSettings cs;
    cs.recipe = Recipe::Den2MoEE;
    cs.n_experts = 8;
    cs.top_k = 2;
    cs.prior_scale = 1.0;
    ConvertResult r = convert_model(d2m_test::tiny_demo_project(), lm.model, *lm.tokenizer, "test", {}, cs, null_context());
    const std::string dir = d2m_test::oracle_write_dir() + "/den2moee_pool_model";
    save_moe_native(*r.model, r.moe_config, r.provenance, dir, lm.tokenizer_path);
    LoadedModel m = load_model(dir, ComputeDType::F32);
    EncoderOptions eo;
    eo.batch = 8;
    TextEncoder enc(*m.model, *m.tokenizer, eo);
    CHECK_EQ(enc.n_moe_layers(), 6);
    CHECK_EQ(enc.rw_dim(), int64_t(6 * 7));
    const std::vector<std::string> texts = {
        "A man is playing a guitar.",
        "Two dogs run across a snowy field near the old red barn while a child watches from the porch.",
        "Hi",
        "The stock market fell sharply on Tuesday after the central bank raised interest rates again.",
        "def add(a, b):\n    return a + b",
        "Ein Mann spielt Gitarre — café, naïve, 東京."};
    RunContext ctx;
    RawEmbeddings raw = enc.encode(texts, ctx, "batch");  // one left-padded batch (lengths 3 .. 20+)
    CHECK(raw.rw_mean.defined() && raw.rw_mean.size(1) == 42);
    CHECK_EQ(static_cast<int64_t>(raw.rw_widths.size()), int64_t(6));
    EmbeddingSet es = make_embedding_set(raw, "den2moee", 128);
    CHECK_EQ(es.main.size(1), int64_t(256 + 7 * 2));
    CHECK((es.main.norm(2, 1) - 1.0).abs().max().item<double>() < 1e-12);
    // the padding of the batch does not enter the mean: each text alone gives the same vector
    for (size_t i = 0; i < texts.size(); ++i) {
        TextEncoder alone(*m.model, *m.tokenizer, eo);
        RawEmbeddings one = alone.encode({texts[i]}, ctx, "alone");
        at::Tensor e1 = make_embedding_set(one, "den2moee", 128).main[0];
        const double d = (e1 - es.main[static_cast<int64_t>(i)]).abs().max().item<double>();
        CHECK(d < 1e-5);
        // the mean is over real tokens: the first (BOS) token's logits differ from the last one's
        CHECK((one.rw_mean - one.rw).abs().max().item<double>() > 1e-4 || texts[i] == "Hi");
    }
    nlohmann::json out = {{"model", dir}, {"group", kDen2MoEEGroup}, {"texts", texts}};
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t i = 0; i < es.main.size(0); ++i) {
        std::vector<double> v(static_cast<size_t>(es.main.size(1)));
        for (int64_t j = 0; j < es.main.size(1); ++j) v[static_cast<size_t>(j)] = es.main[i][j].item<double>();
        rows.push_back(v);
    }
    out["embeddings"] = rows;
    std::ofstream(d2m_test::oracle_write_dir() + "/den2moee_pool_ours.json") << out.dump(1);
}

TEST(eos_pooling_of_the_converted_demo_model_for_the_oracle) {
    // --append-eos (Qwen3-Embedding's encoding): BOS text EOS, HS at the EOS and the router logits
    // mean-pooled over every token including it; den2moee_oracle.py recomputes both from its own forward
    // of BOS + sentencepiece ids + its own EOS id, each text alone
    const std::string dir = d2m_test::oracle_write_dir() + "/den2moee_pool_model";
    CHECK(fs::exists(dir + "/moe_config.json"));  // written by the previous test
    LoadedModel m = load_model(dir, ComputeDType::F32);
    const std::vector<std::string> texts = {"A man is playing a guitar.", "Hi",
                                            "Two dogs run across a snowy field near the old red barn.",
                                            "def add(a, b):\n    return a + b", "Ein Mann spielt Gitarre — café."};
    EncoderOptions eo;
    eo.batch = 8;
    eo.append_eos = true;
    RunContext ctx;
    TextEncoder enc(*m.model, *m.tokenizer, eo);
    RawEmbeddings raw = enc.encode(texts, ctx, "eos batch");  // one left-padded batch
    EmbeddingSet es = make_embedding_set(raw, "den2moee", 128);
    EncoderOptions plain_opt = eo;
    plain_opt.append_eos = false;
    TextEncoder plain(*m.model, *m.tokenizer, plain_opt);
    RawEmbeddings no_eos = plain.encode(texts, ctx, "plain");
    for (size_t i = 0; i < texts.size(); ++i) {
        const int64_t r = static_cast<int64_t>(i);
        // the appended EOS is a real token: the vector differs from BOS + text's
        CHECK((raw.hs[r] - no_eos.hs[r]).abs().max().item<double>() > 1e-3);
        // the state pooled is the EOS row of a plain forward over BOS text EOS, alone
        const std::vector<int> ids = m.tokenizer->encode(texts[i], true, true);
        CHECK_EQ(ids.back(), m.tokenizer->eos_id());
        at::Tensor x = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).view({1, -1});
        at::Tensor h = m.model->hidden_states(x, at::ones_like(x), ForwardOptions{});  // [1, T, D]
        CHECK((h[0][-1].to(at::kDouble) - raw.hs[r]).abs().max().item<double>() < 1e-4);
    }
    nlohmann::json out = {{"model", dir}, {"group", kDen2MoEEGroup}, {"texts", texts}, {"append_eos", true}};
    nlohmann::json rows = nlohmann::json::array(), hs_rows = nlohmann::json::array();
    for (int64_t i = 0; i < es.main.size(0); ++i) {
        std::vector<double> v(static_cast<size_t>(es.main.size(1))), h(static_cast<size_t>(raw.hs.size(1)));
        for (int64_t j = 0; j < es.main.size(1); ++j) v[static_cast<size_t>(j)] = es.main[i][j].item<double>();
        for (int64_t j = 0; j < raw.hs.size(1); ++j) h[static_cast<size_t>(j)] = raw.hs[i][j].item<double>();
        rows.push_back(v);
        hs_rows.push_back(h);
    }
    out["embeddings"] = rows;
    out["hs"] = hs_rows;
    std::ofstream(d2m_test::oracle_write_dir() + "/den2moee_pool_eos_ours.json") << out.dump(1);
}

TEST(eval_reads_the_recorded_embedding_by_default) {
    // a saved embedding model records how it is read; --embedding auto takes it, a named kind wins
    const std::string dir = d2m_test::tmp_dir() + "/recorded";
    fs::create_directories(dir);
    auto write = [&](const std::string& text) { std::ofstream(dir + "/moe_config.json") << text; };
    write(R"({"format": "den2moe-moe-v1", "embedding": {"kind": "hs", "pooling": "mean", "prompt": "prompteol",
              "normalize": true, "loss": "infonce"}})");
    RecordedEmbedding rec = read_recorded_embedding(dir);
    CHECK(rec.found);
    TaskEvalSettings s;
    CHECK_EQ(s.embedding, std::string("auto"));
    const std::string note = resolve_auto_embedding(s, rec);
    CHECK_EQ(s.embedding, std::string("hs"));
    CHECK_EQ(s.pooling, std::string("mean"));
    CHECK_EQ(s.prompt, std::string("prompteol"));
    CHECK(note.find("as the model records it") != std::string::npos);
    TaskEvalSettings named;
    named.embedding = "hs";
    CHECK(resolve_auto_embedding(named, rec).empty());
    CHECK_EQ(named.pooling, std::string("last"));
    // no record: hs with the settings' own pooling
    TaskEvalSettings none;
    CHECK(resolve_auto_embedding(none, read_recorded_embedding(d2m_test::shared_dir() + "/models/demo-llama-7m"))
              .find("records no embedding") != std::string::npos);
    CHECK_EQ(none.embedding, std::string("hs"));
    // a record this version cannot read is a user error naming the file
    write(R"({"embedding": {"kind": "hs", "pooling": "cls"}})");
    CHECK_THROWS_WITH(read_recorded_embedding(dir), "embedding.pooling 'cls'");
    write(R"({"embedding": {"kind": "bag-of-words"}})");
    CHECK_THROWS_WITH(read_recorded_embedding(dir), "not an embedding this version evaluates");
    fs::remove_all(dir);
}

D2M_TEST_MAIN()
