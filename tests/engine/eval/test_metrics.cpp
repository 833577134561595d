// Evaluation metrics, NumPy RNG streams, MTEB's undersampling and MoEE's chunk z-scoring against
// scipy / sklearn / numpy / MTEB's own evaluator code (tests/reference/eval_oracle.py metrics) at 1e-9;
// the MoEE text pipeline and the lm-eval prompt formats by hand; the task registry's errors.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "eval/embeddings.h"
#include "eval/metrics.h"
#include "eval/mteb_tasks.h"
#include "eval/numpy_rng.h"
#include "eval/prompts.h"
#include "eval/task_data.h"
#include "eval/task_registry.h"
#include "eval/task_settings.h"
#include "support/check.h"

using namespace den2moe;
using nlohmann::json;

namespace {
const json& oracle() {
    static json j = [] {
        const char* p = std::getenv("D2M_ORACLE");
        json o;
        if (!p) return o;
        std::ifstream f(p);
        if (f.good()) f >> o;
        return o;
    }();
    return j;
}
bool have_oracle() {
    const bool ok = !oracle().is_null();
    if (!ok) std::fprintf(stderr, "D2M_ORACLE is not set or unreadable: run through ctest (oracle_eval_metrics)\n");
    CHECK(ok);
    return ok;
}
std::vector<double> vd(const json& j) { return j.get<std::vector<double>>(); }
std::vector<int64_t> vi(const json& j) { return j.get<std::vector<int64_t>>(); }
}  // namespace

TEST(correlations_with_ties) {
    if (!have_oracle()) return;
    const json& c = oracle()["corr"];
    const auto x = vd(c["x"]), y = vd(c["y"]);
    CHECK_CLOSE(metrics::pearson(x, y), c["pearson"].get<double>(), 1e-9);
    CHECK_CLOSE(metrics::spearman(x, y), c["spearman"].get<double>(), 1e-9);
    const auto r = metrics::average_ranks(x), want = vd(c["ranks"]);
    for (size_t i = 0; i < r.size(); ++i) CHECK_CLOSE(r[i], want[i], 1e-12);
    CHECK(std::isnan(metrics::pearson({1, 1, 1}, {1, 2, 3})));  // scipy: constant input → nan
}

TEST(paired_scores) {
    if (!have_oracle()) return;
    const json& p = oracle()["paired"];
    const auto a = vd(p["a"]), b = vd(p["b"]);
    const int64_t d = p["d"].get<int64_t>();
    const auto cos = metrics::paired_cosine(a, b, d), man = metrics::paired_manhattan(a, b, d),
               euc = metrics::paired_euclidean(a, b, d), dot = metrics::paired_dot(a, b, d);
    const auto wc = vd(p["cosine"]), wm = vd(p["manhattan"]), we = vd(p["euclidean"]), wd = vd(p["dot"]),
               wt = vd(p["cos_sim_diag"]);
    for (size_t i = 0; i < cos.size(); ++i) {
        CHECK_CLOSE(cos[i], wc[i], 1e-9);
        CHECK_CLOSE(man[i], wm[i], 1e-9);
        CHECK_CLOSE(euc[i], we[i], 1e-9);
        CHECK_CLOSE(dot[i], wd[i], 1e-9);
        CHECK_CLOSE(metrics::cos_sim(a.data() + i * d, b.data() + i * d, d), wt[i], 1e-9);
    }
    CHECK_CLOSE(cos[3], 0.5, 1e-12);  // a zero row against a non-zero row (sklearn)
    CHECK_CLOSE(cos[5], 1.0, 1e-12);  // two zero rows
}

TEST(average_precision_and_mrr) {
    if (!have_oracle()) return;
    for (const auto& c : oracle()["ap"]) {
        const auto lab = c["labels"].get<std::vector<int>>();
        const auto sc = vd(c["scores"]);
        CHECK_CLOSE(metrics::average_precision(lab, sc), c["ap"].get<double>(), 1e-9);
        CHECK_CLOSE(metrics::mrr_at_k(lab, sc, 10), c["mrr10"].get<double>(), 1e-12);
    }
    const json& r = oracle()["random_ap"];
    CHECK_CLOSE(metrics::expected_random_ap(r["r"].get<int64_t>(), r["n"].get<int64_t>()), r["expected"].get<double>(),
                1e-12);
}

TEST(v_measure_accuracy_f1) {
    if (!have_oracle()) return;
    const json& c = oracle()["cls"];
    const auto t = vi(c["true"]), p = vi(c["pred"]);
    CHECK_CLOSE(metrics::v_measure(t, p), c["v_measure"].get<double>(), 1e-9);
    CHECK_CLOSE(metrics::accuracy(t, p), c["accuracy"].get<double>(), 1e-12);
    CHECK_CLOSE(metrics::f1_macro(t, p), c["f1_macro"].get<double>(), 1e-9);
    CHECK_CLOSE(metrics::f1_weighted(t, p), c["f1_weighted"].get<double>(), 1e-9);
    CHECK_CLOSE(metrics::v_measure(t, metrics::category_ids(vd(c["mixed"]))), c["v_measure_mixed"].get<double>(), 1e-9);
}

TEST(pair_classification_thresholds) {
    if (!have_oracle()) return;
    const json& p = oracle()["pairs"];
    const auto lab = p["labels"].get<std::vector<int>>();
    const auto sc = vd(p["scores"]);
    for (const char* name : {"sim", "dist"}) {
        const metrics::PairMetrics m = metrics::pair_metrics(sc, lab, std::string(name) == "sim");
        const json& w = p[name];
        CHECK_CLOSE(m.accuracy, w["accuracy"].get<double>(), 1e-12);
        CHECK_CLOSE(m.accuracy_threshold, w["accuracy_threshold"].get<double>(), 1e-12);
        CHECK_CLOSE(m.f1, w["f1"].get<double>(), 1e-12);
        CHECK_CLOSE(m.precision, w["precision"].get<double>(), 1e-12);
        CHECK_CLOSE(m.recall, w["recall"].get<double>(), 1e-12);
        CHECK_CLOSE(m.f1_threshold, w["f1_threshold"].get<double>(), 1e-12);
        CHECK_CLOSE(m.ap, w["ap"].get<double>(), 1e-9);
    }
}

TEST(numpy_random_state_streams) {
    if (!have_oracle()) return;
    const json& r = oracle()["rng"];
    NumpyRandomState g(42);
    CHECK(g.randint(0, 1000, 20) == vi(r["randint"]));
    const auto rs = vd(r["random_sample"]);
    for (double w : rs) CHECK_EQ(g.random_sample(), w);  // bit-exact
    CHECK(g.permutation(17) == vi(r["permutation"]));
    CHECK_EQ(g.randint(0, 77), r["randint1"].get<int64_t>());
    CHECK(g.choice_without_replacement(500, 6) == vi(r["choice"]));
}

TEST(mteb_undersampling_walk) {
    if (!have_oracle()) return;
    const json& u = oracle()["undersample"];
    const auto labels = vi(u["labels"]);
    std::vector<int64_t> idxs(labels.size());
    for (size_t i = 0; i < idxs.size(); ++i) idxs[i] = static_cast<int64_t>(i);
    for (const auto& want : u["kept"]) CHECK(undersample(idxs, labels, u["per_label"].get<int64_t>(), 42) == vi(want));
}

TEST(moee_chunk_zscore_matches_numpy) {
    if (!have_oracle()) return;
    const json& z = oracle()["zscore"];
    const int64_t n = z["n"].get<int64_t>(), d = z["d"].get<int64_t>();
    at::Tensor x = at::tensor(vd(z["x"]), at::kDouble).view({n, d});
    at::Tensor got = zscore_chunks(x, z["chunk"].get<int64_t>());
    const auto want = vd(z["z"]);
    const auto g = to_vector(got);
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(g[i] - want[i]));
    std::fprintf(stderr, "z-score max |diff| %.3e\n", worst);
    CHECK(worst <= 1e-9);
    for (int64_t k = 0; k < d; ++k) CHECK_EQ(got[n - 1][k].item<double>(), 0.0);  // the chunk of one: NaN → 0
    // MoEE concat = z-scored [HS; RW] = [z(HS); z(RW)] (per-column)
    RawEmbeddings raw{x.narrow(1, 0, 3), x.narrow(1, 3, 2)};
    EmbeddingSet es = make_embedding_set(raw, "moee-concat", 128);
    CHECK(at::allclose(es.main, got, 0, 1e-12));
    EmbeddingSet hs = make_embedding_set(raw, "hs", 128);
    CHECK(at::equal(hs.main, raw.hs));  // HS mode is raw
}

TEST(moee_text_pipeline) {
    // MOEE-MTEB.md §A3: period rule, quotes, template, underscores, strip
    CHECK_EQ(moee_prompt("A man plays guitar", "none", ""), std::string("\"A man plays guitar.\""));
    CHECK_EQ(moee_prompt("He said \"hi\"", "none", ""), std::string("\"He said 'hi'\""));
    CHECK_EQ(moee_prompt("Is it?", "prompteol", ""), std::string("This sentence : \"Is it?\" means in one word:\""));
    CHECK_EQ(moee_prompt("snake_case words", "none", ""), std::string("\"snake case words.\""));
    CHECK_EQ(moee_prompt("  x", "none", ""), std::string("\"  x.\""));
    CHECK_EQ(moee_prompt("", "none", ""), std::string("\"\""));
    CHECK_EQ(gritlm_prefix(""), std::string("<|embed|>\n"));
    CHECK_EQ(gritlm_prefix(" Retrieve semantically similar text.: \n"),
             std::string("<|user|>\nRetrieve semantically similar text.\n<|embed|>\n"));
    CHECK_EQ(moee_prompt("ok", "none", gritlm_prefix("Classify")), std::string("\"<|user|>\nClassify\n<|embed|>\nok.\""));
    // the language_style template: its underscores are replaced too (none in the text), and strip
    CHECK_EQ(moee_prompt("Hi!", "tone", ""),
             std::string("In one word, describe the tone of the following sentence - \"Hi!\" (e.g., formal, informal, "
                         "humorous, serious):"));
    CHECK_THROWS_WITH(embed_template("eol"), "unknown prompt template");
    // UTF-8 stays bytes; a trailing multi-byte character is not a period
    CHECK_EQ(moee_prompt("caf\xc3\xa9", "none", ""), std::string("\"caf\xc3\xa9.\""));
}

TEST(lm_eval_prompt_formats) {
    McDoc d;
    d.question = "Which is a mammal?";
    d.options = {"shark", "whale", "trout", "eel"};
    d.gold = 1;
    McPrompt p = format_mc("arc_easy", d);
    CHECK_EQ(p.context, std::string("Question: Which is a mammal?\nAnswer:"));
    CHECK_EQ(p.continuations[1], std::string(" whale"));
    d.subject = "high_school_biology";
    McDoc shot = d;
    shot.question = " What is 2+2? ";
    shot.options = {"3", "4", "5", "6"};
    p = format_mc("mmlu", d, {shot});
    CHECK_EQ(p.context, std::string("The following are multiple choice questions (with answers) about high school biology.\n\n"
                                    "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer: B\n\n"
                                    "Which is a mammal?\nA. shark\nB. whale\nC. trout\nD. eel\nAnswer:"));
    CHECK_EQ(p.continuations[3], std::string(" D"));
    CHECK_EQ(p.choices[3], std::string("D"));
}

TEST(registry_and_settings_errors) {
    CHECK_THROWS_WITH(resolve_tasks("STS13,foo"), "unknown task 'foo'");
    CHECK_THROWS_WITH(resolve_tasks("foo"), "Banking77Classification");  // the hint lists the known tasks
    CHECK_EQ(resolve_tasks("sts").size(), size_t(4));
    CHECK_EQ(resolve_tasks("STS13,sts").size(), size_t(4));  // no repeats
    size_t n_mc = 0;
    for (const auto* t : resolve_tasks("zeroshot")) n_mc += t->type == TaskType::MultipleChoice;
    CHECK_EQ(n_mc, size_t(8));
    TaskEvalSettings s;
    s.tasks = "STS13";
    s.embedding = "rw";
    EvalModelCaps dense;
    dense.path = "demo-llama-7m";
    dense.n_layers = 6;
    CHECK_THROWS_WITH(validate_task_eval(s, dense, d2m_test::shared_dir()), "is a dense model");
    s.embedding = "hs";
    CHECK_THROWS_WITH(validate_task_eval(s, dense, "/nonexistent-shared"), "task STS13: data file");
    CHECK_THROWS_WITH(validate_task_eval(s, dense, "/nonexistent-shared"), "FNWN.test.tsv");
    s.instruction_text = "Retrieve";
    CHECK_THROWS_WITH(validate_task_eval(s, dense, d2m_test::shared_dir()), "--instruction gritlm");
    s.instruction_text.clear();
    s.prompt = "eol";
    CHECK_THROWS_WITH(validate_task_eval(s, dense, d2m_test::shared_dir()), "prompt must be one of");
}

TEST(data_helpers) {
    CHECK(spread_indices(10, 0).size() == 10);
    CHECK(spread_indices(10, 4) == std::vector<size_t>({0, 2, 5, 7}));
    CHECK(spread_indices(3, 5).size() == 3);
    CHECK_EQ(cp1252_to_utf8("caf\xe9 \x85"), std::string("caf\xc3\xa9 \xe2\x80\xa6"));
    // the bundled sets parse to their documented sizes
    const std::string sh = d2m_test::shared_dir();
    CHECK_EQ(load_sts(*find_task("STS13"), sh, 0).score.size(), size_t(1500));
    CHECK_EQ(load_sts(*find_task("STS14"), sh, 0).score.size(), size_t(3750));
    CHECK_EQ(load_sts(*find_task("SICK-R"), sh, 0).score.size(), size_t(9927));
    CHECK_EQ(load_pairs(*find_task("MRPC"), sh, 0).label.size(), size_t(1725));
    auto rr = load_reranking(*find_task("TrecQAReranking"), sh, 0);
    CHECK_EQ(rr.samples.size(), size_t(95));
    auto cls = load_classification(*find_task("Banking77Classification"), sh, 0);
    CHECK_EQ(cls.train_text.size(), size_t(10003));
    CHECK_EQ(cls.test_text.size(), size_t(3080));
    CHECK_EQ(cls.label_names.size(), size_t(77));
    CHECK_EQ(load_classification(*find_task("MRClassification"), sh, 0).test_text.size(), size_t(2132));
    auto arce = load_mc_task(*find_task("arc_easy"), sh, 0, 0);
    CHECK_EQ(arce.docs.size(), size_t(549));  // the bundled file lost the options of its 21 numbered-key items
    CHECK_EQ(arce.skipped, int64_t(21));
    auto arcc = load_mc_task(*find_task("arc_challenge"), sh, 0, 0);
    CHECK_EQ(arcc.docs.size(), size_t(294));  // one answer is option E, which the CSV does not keep; 4 lost options
    CHECK_EQ(arcc.skipped, int64_t(5));
    size_t three = 0;  // ARC's 3-option questions keep 3 choices
    for (const auto& d : arcc.docs) three += d.options.size() == 3;
    CHECK_EQ(three, size_t(3));
    CHECK_EQ(load_mc_task(*find_task("openbookqa"), sh, 0, 0).docs.size(), size_t(500));
    CHECK_EQ(load_mc_task(*find_task("pubmedqa"), sh, 0, 0).docs.size(), size_t(500));
    CHECK_EQ(load_mc_task(*find_task("logiqa"), sh, 0, 0).docs.size(), size_t(651));
    CHECK_EQ(load_mc_task(*find_task("qnli"), sh, 0, 0).docs.size(), size_t(5463));
    auto mmlu = load_mc_task(*find_task("mmlu"), sh, 5, 0);
    CHECK_EQ(mmlu.docs.size(), size_t(14042));
    CHECK_EQ(mmlu.shots[0].size(), size_t(5));
    auto logiqa = load_mc_task(*find_task("logiqa"), sh, 0, 1);
    CHECK_EQ(logiqa.docs[0].options.size(), size_t(4));
    CHECK(logiqa.docs[0].options[0].rfind("Civic Park", 0) == 0);  // "A." stripped
}

D2M_TEST_MAIN()
