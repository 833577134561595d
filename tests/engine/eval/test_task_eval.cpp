// Task evaluation on the demo model:
//  - multiple-choice log-likelihoods (batched, left-padded contexts, KV-cached continuations) and
//    last-token hidden states are written for tests/reference/eval_oracle.py mc, which recomputes them
//    with an independent PyTorch Llama (1e-4);
//  - the classification and clustering protocols run on real HS embeddings, which are written with our
//    results for eval_oracle.py classifiers (sklearn LogisticRegression / MiniBatchKMeans);
//  - RW at the router_logits hook = router weight · the post-attention norm output at the last token;
//    embeddings do not depend on the batch a text is in (left padding);
//  - the result cache, and a cancel that leaves the finished task's files and no half-written one.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "eval/classifiers.h"
#include "eval/embeddings.h"
#include "eval/metrics.h"
#include "eval/mteb_tasks.h"
#include "eval/multiple_choice.h"
#include "eval/prompts.h"
#include "eval/results.h"
#include "eval/task_data.h"
#include "eval/task_eval.h"
#include "eval/task_registry.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "support/check.h"
#include "tokenizer/tokenizer.h"

using namespace den2moe;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const LoadedModel& demo() {
    static LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    return lm;
}

std::string oracle_dir() {
    const char* b = std::getenv("D2M_BUILD_DIR");
    const std::string d = std::string(b ? b : d2m_test::tmp_dir()) + "/oracle";
    fs::create_directories(d);
    return d;
}

// A random-split MoE of the demo model: each layer's FFN neurons cut into 4 experts of 192, a seeded
// random router, top-2 (LLaMA-MoE's random split; enough to exercise the router hook).
std::shared_ptr<LlamaModel> demo_moe() {
    const LlamaModel& m = *demo().model;
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    at::manual_seed(7);
    for (int il = 0; il < m.config().n_layer; ++il) {
        const SwiGluFfn& d = m.dense_ffn(il);
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        const int64_t F = d.width(), E = 4, w = F / E;
        for (int64_t e = 0; e < E; ++e)
            ex.push_back(std::make_shared<SwiGluFfn>(d.gate().narrow(0, e * w, w), d.up().narrow(0, e * w, w),
                                                     d.down().narrow(1, e * w, w), at::Tensor(), at::kFloat));
        RouterSpec rs;
        rs.weight = at::randn({E, m.config().n_embd}) * 0.1;
        rs.top_k = 2;
        ffns.push_back(std::make_shared<MoeFfn>(ex, rs, nullptr, at::kFloat));
    }
    return m.with_ffns(ffns);
}

}  // namespace

TEST(mc_loglikelihoods_for_the_oracle) {
    const LoadedModel& lm = demo();
    const std::string sh = d2m_test::shared_dir();
    std::vector<McPrompt> items;
    // ARC (multi-token continuations), MMLU (single letters), PubMedQA (a long context), an item whose
    // context ends in spaces (lm-eval moves them to the continuation), a non-ASCII choice
    for (const char* task : {"arc_easy", "mmlu", "pubmedqa", "logiqa"}) {
        McTaskData d = load_mc_task(*find_task(task), sh, std::string(task) == "mmlu" ? 2 : 0, 2);
        const size_t take = std::string(task) == "arc_easy" ? 2 : 1;  // long contexts: one item each
        for (size_t i = 0; i < d.docs.size() && i < take; ++i) items.push_back(format_mc(task, d.docs[i], d.shots[i]));
    }
    McPrompt odd;
    odd.context = "The capital of France is  ";
    odd.choices = {"Paris", "Lyon", "Z\xc3\xbcrich"};
    for (const auto& c : odd.choices) odd.continuations.push_back(" " + c);
    items.push_back(odd);
    McOptions mo;
    mo.batch = 3;  // several batches, padded
    RunContext ctx;
    const auto ll = mc_loglikelihoods(*lm.model, *lm.tokenizer, items, mo, ctx);
    // the same items one at a time (no padding) give the same numbers
    McOptions one = mo;
    one.batch = 1;
    const auto ll1 = mc_loglikelihoods(*lm.model, *lm.tokenizer, items, one, ctx);
    double worst = 0;
    json out = {{"bos", mo.bos}, {"items", json::array()}};
    for (size_t i = 0; i < items.size(); ++i) {
        for (size_t c = 0; c < ll[i].size(); ++c) {
            worst = std::max(worst, std::fabs(ll[i][c] - ll1[i][c]));
            CHECK(std::isfinite(ll[i][c]) && ll[i][c] < 0);
        }
        out["items"].push_back({{"context", items[i].context}, {"continuations", items[i].continuations},
                                {"loglik", ll[i]}});
    }
    std::fprintf(stderr, "batched vs one-by-one: max |diff| %.2e\n", worst);
    CHECK(worst < 1e-4);
    CHECK_EQ(utf8_length("Z\xc3\xbcrich"), int64_t(6));
    // last-token hidden states of prompts of different lengths, encoded in one left-padded batch
    EncoderOptions eo;
    eo.batch = 8;
    TextEncoder enc(*lm.model, *lm.tokenizer, eo);
    const std::vector<std::string> prompts = {moee_prompt("A man is playing a guitar", "none", ""),
                                              moee_prompt("Two dogs run across a snowy field near the old barn",
                                                          "prompteol", ""),
                                              moee_prompt("Hi", "none", gritlm_prefix("Retrieve similar text"))};
    RawEmbeddings raw = enc.encode(prompts, ctx, "hs");
    out["embeddings"] = json::array();
    for (size_t i = 0; i < prompts.size(); ++i)
        out["embeddings"].push_back({{"prompt", prompts[i]}, {"hs", to_vector(raw.hs[static_cast<int64_t>(i)])}});
    std::ofstream(oracle_dir() + "/eval_mc_ours.json") << out.dump(1);
}

TEST(embeddings_do_not_depend_on_the_batch) {
    const LoadedModel& lm = demo();
    RunContext ctx;
    const std::vector<std::string> p = {"\"short.\"", "\"a much longer sentence with many more tokens in it.\"",
                                        "\"medium length text here.\""};
    EncoderOptions eo;
    TextEncoder together(*lm.model, *lm.tokenizer, eo);
    RawEmbeddings a = together.encode(p, ctx, "x");
    for (size_t i = 0; i < p.size(); ++i) {
        TextEncoder alone(*lm.model, *lm.tokenizer, eo);
        RawEmbeddings b = alone.encode({p[i]}, ctx, "x");
        const double d = (a.hs[static_cast<int64_t>(i)] - b.hs[0]).abs().max().item<double>();
        CHECK(d < 1e-4);
    }
    // mean pooling differs from the last token; a repeated prompt is computed once
    EncoderOptions em = eo;
    em.pooling = "mean";
    TextEncoder mean(*lm.model, *lm.tokenizer, em);
    RawEmbeddings m = mean.encode({p[0], p[0], p[1]}, ctx, "x");
    CHECK_EQ(mean.texts_encoded(), int64_t(2));
    CHECK(at::equal(m.hs[0], m.hs[1]));
    CHECK((m.hs[0] - a.hs[0]).abs().max().item<double>() > 1e-3);
}

TEST(rw_is_the_router_output_at_the_last_token) {
    auto moe = demo_moe();
    const Tokenizer& tok = *demo().tokenizer;
    RunContext ctx;
    EncoderOptions eo;
    TextEncoder enc(*moe, tok, eo);
    CHECK_EQ(enc.n_moe_layers(), 6);
    CHECK_EQ(enc.rw_dim(), int64_t(24));
    const std::vector<std::string> p = {"\"The cat sat on the mat.\"", "\"Stocks fell.\""};
    RawEmbeddings raw = enc.encode(p, ctx, "rw");
    CHECK(raw.rw.defined() && raw.rw.size(1) == 24);
    // independent route: the FFN input (post-attention norm) at the last token times the router weight
    for (size_t i = 0; i < p.size(); ++i) {
        std::vector<int> ids = tok.encode(p[i], true, false);
        at::Tensor x = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
        ObserverSet obs;
        std::vector<at::Tensor> inp(6);
        obs.add(site::kFfnInp, [&](const HookEvent& e) { inp[e.layer] = e.tensor.select(1, e.tensor.size(1) - 1).clone(); });
        ForwardOptions fo;
        fo.observers = &obs;
        moe->hidden_states(x, {}, fo);
        for (int il = 0; il < 6; ++il) {
            const auto& f = dynamic_cast<const MoeFfn&>(moe->ffn(il));
            at::Tensor want = at::mm(inp[il].to(at::kDouble), f.router_weight().to(at::kDouble).t()).squeeze(0);  // [4]
            at::Tensor got = raw.rw[static_cast<int64_t>(i)].narrow(0, il * 4, 4);
            CHECK((want - got).abs().max().item<double>() < 1e-4);
        }
    }
    // probabilities: softmax per layer
    EncoderOptions ep = eo;
    ep.rw_values = "probs";
    TextEncoder encp(*moe, tok, ep);
    RawEmbeddings rp = encp.encode(p, ctx, "rw");
    at::Tensor s = rp.rw[0].narrow(0, 0, 4);
    CHECK_CLOSE(s.sum().item<double>(), 1.0, 1e-9);
    CHECK((s - at::softmax(raw.rw[0].narrow(0, 0, 4), 0)).abs().max().item<double>() < 1e-9);
}

TEST(protocols_on_real_embeddings_for_sklearn) {
    // HS embeddings of the demo model on subsets of two classification and two clustering tasks
    const LoadedModel& lm = demo();
    const std::string sh = d2m_test::shared_dir();
    RunContext ctx;
    EncoderOptions eo;
    eo.batch = 64;
    TextEncoder enc(*lm.model, *lm.tokenizer, eo);
    std::vector<std::pair<std::string, at::Tensor>> saved, all_saved;
    std::string task_name;
    EncodeFn encode = [&](const std::string& name, const std::vector<std::string>& texts) {
        std::vector<std::string> prompts;
        for (const auto& t : texts) prompts.push_back(moee_prompt(t, "none", ""));
        EmbeddingSet es = make_embedding_set(enc.encode(prompts, ctx, name), "hs", 128);
        saved.emplace_back(task_name + "." + name, es.main.clone());
        return es;
    };
    json ours = {{"classification", json::array()}, {"clustering", json::array()}};
    for (const char* name : {"SST2Classification", "Banking77Classification"}) {
        task_name = name;
        const TaskInfo& t = *find_task(name);
        ClassificationData d = load_classification(t, sh, 240);
        MtebParams p;
        p.n_experiments = 2;
        p.samples_per_label = std::string(name) == "SST2Classification" ? 32 : 8;
        json task = {{"name", name}, {"y_test", d.test_label}, {"experiments", json::array()}};
        // both objective scales: the oracle compares the one its sklearn version uses
        for (bool mean_loss : {false, true}) {
            p.logreg_mean_loss = mean_loss;
            saved.clear();  // the texts are encoded once (TextEncoder remembers them); the matrices saved once
            MtebOutcome o = run_classification(d, encode, p, ctx);
            const std::string tag = mean_loss ? "_14" : "_12";
            task["accuracy" + tag] = o.main_score;
            std::vector<int64_t> idxs(d.train_text.size());
            for (size_t i = 0; i < idxs.size(); ++i) idxs[i] = static_cast<int64_t>(i);
            for (int64_t e = 0; e < p.n_experiments; ++e) {
                std::vector<int64_t> y;
                for (int64_t i : undersample(idxs, d.train_label, p.samples_per_label, 42)) y.push_back(d.train_label[i]);
                if (!mean_loss) task["experiments"].push_back({{"y_train", y}});
                task["experiments"][e]["accuracy" + tag] = o.scores["scores_per_experiment"][e]["accuracy"];
            }
            std::fprintf(stderr, "%s (%s loss): accuracy %.4f over %lld test texts\n", name, mean_loss ? "mean" : "summed",
                         o.main_score, static_cast<long long>(o.n_items));
            CHECK(o.main_score > 0 && o.main_score <= 1);
        }
        for (auto& kv : saved) all_saved.push_back(kv);
        ours["classification"].push_back(task);
        saved.clear();
        enc.clear();
    }
    for (const char* name : {"Banking77Clustering", "AGNewsClustering"}) {
        task_name = name;
        ClusteringData d = load_clustering(*find_task(name), sh, 700);
        at::Tensor X;
        {
            std::vector<std::string> prompts;
            for (const auto& s : d.sets[0]) prompts.push_back(moee_prompt(s, "none", ""));
            X = enc.encode(prompts, ctx, name).hs;
        }
        all_saved.emplace_back(std::string(name) + ".set", X);
        KMeansOptions ko;
        ko.n_clusters = static_cast<int64_t>(std::set<int64_t>(d.labels[0].begin(), d.labels[0].end()).size());
        json task = {{"name", name}, {"labels", d.labels[0]}};
        for (bool by_choice : {false, true}) {  // sklearn 1.2 and >= 1.3 first-centre draws
            ko.first_centre_by_choice = by_choice;
            NumpyRandomState rng(42);
            const auto pred = minibatch_kmeans(X, ko, rng);
            task[by_choice ? "v_measure_13" : "v_measure_12"] = metrics::v_measure(d.labels[0], pred);
            task[by_choice ? "pred_13" : "pred_12"] = pred;
        }
        ours["clustering"].push_back(task);
        enc.clear();
    }
    save_safetensors(oracle_dir() + "/eval_emb.safetensors", all_saved);
    std::ofstream(oracle_dir() + "/eval_ours.json") << ours.dump(1);
}

TEST(cache_and_cancel) {
    const LoadedModel& lm = demo();
    const std::string root = d2m_test::tmp_dir() + "/task_eval";
    fs::remove_all(root);
    TaskEvalOutput out;
    out.shared_dir = d2m_test::shared_dir();
    out.out_dir = root + "/out";
    out.cache_dir = root + "/cache";
    TaskEvalSettings s;
    s.tasks = "arc_easy,STS13,MRPC";
    s.limit = 12;
    const std::string model = d2m_test::shared_dir() + "/models/demo-llama-7m";
    RunContext ctx;
    TaskEvalRun a = run_task_eval(lm, model, s, out, ctx);
    CHECK_EQ(a.cache_hits, int64_t(0));
    CHECK_EQ(a.summary.tasks.size(), size_t(3));
    TaskEvalRun b = run_task_eval(lm, model, s, out, ctx);
    CHECK_EQ(b.cache_hits, int64_t(3));
    for (size_t i = 0; i < 3; ++i) {
        CHECK_EQ(a.summary.tasks[i].main_score, b.summary.tasks[i].main_score);
        CHECK(b.summary.tasks[i].cached);
    }
    // another prompt changes the embedding tasks only
    s.prompt = "prompteol";
    TaskEvalRun c = run_task_eval(lm, model, s, out, ctx);
    CHECK_EQ(c.cache_hits, int64_t(1));
    CHECK(c.summary.tasks[0].cached && !c.summary.tasks[1].cached);
    // read back for the app
    EvalSummary r = read_summary(out.out_dir);
    CHECK_EQ(r.tasks.size(), size_t(3));
    CHECK_CLOSE(r.mean_task, c.summary.mean_task, 1e-12);

    // cancel during the second task: the first task's file is complete, no other task file, no temp file
    const std::string out2 = root + "/cancelled";
    TaskEvalOutput o2 = out;
    o2.out_dir = out2;
    o2.cache_dir.clear();
    s.tasks = "arc_easy,STS13";
    RunContext cc;
    bool seen_second = false;
    cc.on_progress = [&](const Progress& p) {
        if (p.stage == "tasks" && p.step == 1) seen_second = true;
        if (seen_second && p.stage.rfind("STS13", 0) == 0 && p.step > 0) cc.cancel.cancel();
    };
    bool cancelled = false;
    try {
        run_task_eval(lm, model, s, o2, cc);
    } catch (const Cancelled&) {
        cancelled = true;
    }
    CHECK(cancelled);
    CHECK(fs::exists(out2 + "/zeroshot/arc_easy.json"));
    json zs;
    std::ifstream(out2 + "/zeroshot/arc_easy.json") >> zs;
    CHECK(zs["results"]["arc_easy"].contains("acc,none"));
    int task_files = 0, temps = 0;
    for (const auto& e : fs::recursive_directory_iterator(out2)) {
        const std::string f = e.path().filename().string();
        if (f.find(".tmp") != std::string::npos) ++temps;
        if (f == "STS13.json") ++task_files;
    }
    CHECK_EQ(task_files, 0);
    CHECK_EQ(temps, 0);
    CHECK_EQ(read_summary(out2).tasks.size(), size_t(1));
}

TEST(bad_input_messages) {
    const LoadedModel& lm = demo();
    TaskEvalOutput out;
    out.shared_dir = d2m_test::shared_dir();
    TaskEvalSettings s;
    s.tasks = "STS13";
    s.embedding = "moee-sum";
    RunContext ctx;
    CHECK_THROWS_WITH(run_task_eval(lm, "demo-llama-7m", s, out, ctx), "is a dense model");
    s.embedding = "hs";
    s.tasks = "STS99";
    CHECK_THROWS_WITH(run_task_eval(lm, "demo-llama-7m", s, out, ctx), "unknown task 'STS99'");
    s.tasks = "STS13";
    out.shared_dir = d2m_test::tmp_dir() + "/no-such-bundle";
    CHECK_THROWS_WITH(run_task_eval(lm, "demo-llama-7m", s, out, ctx), "task STS13: data file");
}

TEST(show_prompt_with_a_model_shows_the_pooled_eos) {
    // --show-prompt MODEL --embedding auto: the model's record (prompt, EOS) is resolved first and the
    // first item's exact token ids are printed, the pooled one (the appended EOS) marked
    const std::string dir = oracle_dir() + "/show-prompt-eos";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(d2m_test::shared_dir() + "/models/demo-llama-7m/tokenizer.model", dir + "/tokenizer.model");
    json mc = {{"embedding", {{"kind", "hs"}, {"pooling", "last"}, {"prompt", "none"}, {"append_eos", true}}}};
    std::ofstream(dir + "/moe_config.json") << mc.dump();
    TaskEvalSettings s;  // embedding auto, prompt none, no EOS asked
    s.tasks = "STS13";
    const std::string shared = d2m_test::shared_dir();
    const std::string bare = describe_prompts(s, shared);
    CHECK(bare.find("token ids") == std::string::npos);  // no model: the prompt only
    CHECK(bare.find("BOS + prompt;") != std::string::npos);
    const std::string with = describe_prompts(s, shared, dir);
    CHECK(with.find("EOS appended as the model records it") != std::string::npos);
    CHECK(with.find("tokens: BOS + prompt + EOS; embedding = hs") != std::string::npos);
    // the ids printed = BOS + "first text." in quotes + EOS, the EOS (id 2) marked as the pooled token
    const std::string first = load_sts(*find_task("STS13"), shared, 1).sentence1.at(0);
    const std::vector<int> ids = demo().tokenizer->encode(moee_prompt(first, "none", ""), true, true);
    std::string want = "token ids (" + std::to_string(ids.size()) + "):";
    for (size_t i = 0; i < ids.size(); ++i) want += " " + std::to_string(ids[i]) + (i + 1 == ids.size() ? "*" : "");
    CHECK(with.find(want + "\n") != std::string::npos);
    CHECK_EQ(ids.back(), 2);
    CHECK(with.find("pooled (*): </s> (the appended EOS)") != std::string::npos);
    // the record without EOS: the last text token is pooled, no EOS in the ids
    mc["embedding"]["append_eos"] = false;
    std::ofstream(dir + "/moe_config.json") << mc.dump();
    const std::string noeos = describe_prompts(s, shared, dir);
    CHECK(noeos.find("(the appended EOS)") == std::string::npos);
    CHECK(noeos.find("tokens: BOS + prompt; embedding = hs") != std::string::npos);
    CHECK_THROWS_WITH(describe_prompts(s, shared, dir + "/no-such-model"), "does not exist");
}

D2M_TEST_MAIN()
