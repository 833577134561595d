// Perplexity: window arithmetic by hand, and the per-domain table of demo-llama-7m on the 18
// domains vs the PyTorch reference (tests/reference/llama_reference.py ppl) within 1e-3 relative.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/run_context.h"
#include "data/domains.h"
#include "eval/perplexity.h"
#include "model/loaded_model.h"
#include "support/check.h"

using namespace den2moe;

TEST(windows_non_overlapping) {
    PplOptions o;
    o.seq = 4;
    auto w = ppl_windows(10, o);  // [0,4) [4,8); remainder 2 dropped
    CHECK_EQ(w.size(), size_t(2));
    CHECK_EQ(w[1].begin, int64_t(4));
    CHECK_EQ(w[1].n_score, int64_t(3));
    auto s = ppl_windows(3, o);  // shorter than a window: one window over all of it
    CHECK_EQ(s.size(), size_t(1));
    CHECK_EQ(s[0].n_score, int64_t(2));
}

TEST(windows_sliding_score_each_target_once) {
    PplOptions o;
    o.seq = 4;
    o.stride = 2;
    auto w = ppl_windows(9, o);  // targets 1..8 scored exactly once
    int64_t total = 0;
    for (auto& x : w) total += x.n_score;
    CHECK_EQ(total, int64_t(8));
    CHECK_EQ(w[0].n_score, int64_t(3));  // [0,4): targets 1,2,3
    CHECK_EQ(w[1].begin, int64_t(2));
    CHECK_EQ(w[1].n_score, int64_t(2));  // [2,6): targets 4,5
    CHECK_THROWS_WITH(ppl_windows(9, PplOptions{1, 0, 0, 8}), "at least 2");
}

TEST(domain_table_matches_reference) {
    const char* oracle = std::getenv("D2M_ORACLE");
    CHECK(oracle != nullptr);
    if (!oracle) return;
    std::ifstream f(oracle);
    CHECK(f.good());
    nlohmann::json ref;
    f >> ref;
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    auto domains = resolve_eval_domains({d2m_test::shared_dir() + "/data/domains"});
    CHECK_EQ(domains.size(), size_t(18));
    PplOptions po;
    po.seq = 256;
    po.max_tokens = 4096;
    RunContext ctx;
    auto table = perplexity_table(*lm.model, *lm.tokenizer, domains, po, ctx);
    CHECK_EQ(table.size(), ref.size());
    for (const auto& d : table) {
        double want = ref.at(d.name).at("ppl").get<double>();
        double rel = std::fabs(d.result.ppl() - want) / want;
        std::fprintf(stderr, "%-16s ppl %9.4f  ref %9.4f  rel %.2e\n", d.name.c_str(), d.result.ppl(), want, rel);
        CHECK(rel <= 1e-3);
        CHECK_EQ(d.result.n_scored, ref.at(d.name).at("scored").get<int64_t>());
    }
}

TEST(empty_corpus_is_a_clear_error) {
    const std::string dir = d2m_test::tmp_dir() + "/empty_domain";
    std::filesystem::create_directories(dir);
    { std::ofstream(dir + "/test.jsonl") << "\n"; }
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    RunContext ctx;
    CHECK_THROWS_WITH(perplexity_table(*lm.model, *lm.tokenizer, resolve_eval_domains({dir}), PplOptions{}, ctx),
                      "empty");
}

TEST(cancel_stops_with_cancelled) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    std::vector<int> stream(4096, 5);
    RunContext ctx;
    int reports = 0;
    ctx.on_progress = [&](const Progress&) {
        if (++reports == 1) ctx.cancel.cancel();
    };
    PplOptions po;
    po.seq = 64;
    po.batch = 2;
    bool cancelled = false;
    try {
        perplexity(*lm.model, stream, po, ctx);
    } catch (const Cancelled&) {
        cancelled = true;
    }
    CHECK(cancelled);
    CHECK_EQ(reports, 1);
}

D2M_TEST_MAIN()
