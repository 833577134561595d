// Domain-affinity mining end to end on demo-llama-7m (small sample counts): matrix invariants, one
// cell recomputed independently, outputs written and re-read, the cache reused (no statistics
// recomputed on a rerun), cancellation leaves whole cache entries. The 18-domain run also writes
// $D2M_BUILD_DIR/mining18 for the scipy oracle (tests/reference/mining_oracle.py).
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "support/check.h"

#include "calib/ffn_stats.h"
#include "calib/stats_cache.h"
#include "core/error.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "eval/perplexity.h"
#include "mining/mining.h"
#include "pipeline/mining.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "project/project.h"
#include "prune/prune.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

Project small_project(const std::string& cache) {
    Project p = load_project(d2m_test::source_dir() + "/projects/demo.den2moe.json");
    p.calib.n_samples = 8;
    p.calib.seq_len = 64;
    p.eval.n_windows = 4;
    p.eval.seq_len = 64;
    p.dtype = "fp32";
    p.cache_dir = cache;
    return p;
}

void check_invariants(const MiningResult& r) {
    const int64_t n = r.n;
    CHECK_EQ((int64_t)r.ppl.size(), n * n);
    for (int64_t j = 0; j < n; ++j) {
        double mx = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double p = r.ppl[i * n + j], s = r.normalized[i * n + j];
            CHECK(std::isfinite(p) && p > 1.0);
            CHECK(s > 0.0 && s <= 1.0);
            mx = std::max(mx, s);
        }
        CHECK_EQ(mx, 1.0);  // the best pruned model on column j
    }
    for (int64_t i = 0; i < n; ++i) {
        CHECK_CLOSE(r.correlation[i * n + i], 1.0, 1e-12);
        CHECK_EQ(r.distance[i * n + i], 0.0);
    }
    CHECK_EQ(r.linkage.rows(), n - 1);
    std::vector<int64_t> order = r.leaf_order;
    std::sort(order.begin(), order.end());
    for (int64_t i = 0; i < n; ++i) CHECK_EQ(order[i], i);
}

}  // namespace

TEST(four_domains_end_to_end) {
    const std::string cache = d2m_test::tmp_dir() + "/cache4";
    Project p = small_project(cache);
    MiningOptions mo;
    mo.only_domains = {"wiki", "gsm8k", "python", "news"};
    MiningResult r = run_mining(p, mo, null_context());
    CHECK_EQ(r.n, 4);
    CHECK_EQ(r.domains[1], "gsm8k");
    CHECK_EQ(r.stats_cache_misses, 4);
    CHECK_EQ(r.stats_cache_hits, 0);
    CHECK_EQ(r.timings.stats_tokens, 4 * 8 * 64);
    check_invariants(r);
    for (int64_t j = 0; j < 4; ++j) {
        // pruning at 50% costs perplexity on every domain
        for (int64_t i = 0; i < 4; ++i) CHECK(r.ppl[i * 4 + j] > r.dense_ppl[j]);
    }
    // each domain's own pruned model is the best or near it on its own evaluation split
    int diag_best = 0;
    for (int64_t j = 0; j < 4; ++j) diag_best += r.normalized[j * 4 + j] == 1.0;
    std::printf("diagonal best in %d of 4 columns\n", diag_best);
    CHECK(diag_best >= 3);

    // one cell recomputed by hand from the parts: P[gsm8k][python]
    LoadedModel lm = load_model(resolve_project_path(p, p.model), ComputeDType::F32);
    const ProjectDomain& g = p.domains[p.find_domain("gsm8k")];
    const ProjectDomain& py = p.domains[p.find_domain("python")];
    at::Tensor w = sample_calibration_windows(*lm.tokenizer, CorpusSpec{domain_calib_files(p, g), "", "", 0}, 8, 64, 42);
    FfnStats st = collect_ffn_stats(*lm.model, w, 3, null_context());  // another batch split
    auto pruned = prune_model(*lm.model, st, p.prune);
    std::vector<int> stream = tokenize_stream(*lm.tokenizer, read_records(domain_eval_files(p, py)[0]), 4 * 64);
    PplOptions po;
    po.seq = 64;
    double cell = perplexity(*pruned, stream, po, null_context()).ppl();
    std::printf("P[gsm8k][python] = %.6f, recomputed %.6f\n", r.ppl[1 * 4 + 2], cell);
    CHECK_CLOSE(r.ppl[1 * 4 + 2], cell, 1e-6 * cell);

    // outputs
    const std::string out = d2m_test::tmp_dir() + "/out4";
    write_mining_outputs(r, out, 2);
    for (const char* f : {"ppl_matrix.csv", "normalized.csv", "correlation.csv", "linkage.json", "clusters.json",
                          "mining.json"}) {
        CHECK(fs::exists(fs::path(out) / f));
    }
    std::ifstream csv(fs::path(out) / "ppl_matrix.csv");
    std::string header;
    std::getline(csv, header);
    CHECK_EQ(header, "domain,wiki,gsm8k,python,news");
    MiningResult back = load_mining_result(out);
    CHECK(back.ppl == r.ppl);
    CHECK(back.normalized == r.normalized);
    CHECK(back.linkage.z == r.linkage.z);
    CHECK(back.leaf_order == r.leaf_order);
    CHECK_EQ(back.model_hash, r.model_hash);
    auto labels = mining_clusters_k(r, 2);
    int mx = *std::max_element(labels.begin(), labels.end());
    CHECK_EQ(mx, 1);
    ProjectClusters pc = clusters_from_labels(r, labels);
    CHECK_EQ(pc.members.size(), size_t{2});
    CHECK_EQ(pc.members[0].size() + pc.members[1].size(), size_t{4});

    // rerun: every statistic and every perplexity cell from the cache, identical numbers
    CHECK_EQ(r.ppl_cache_hits, 0);
    MiningResult again = run_mining(p, mo, null_context());
    CHECK_EQ(again.stats_cache_hits, 4);
    CHECK_EQ(again.stats_cache_misses, 0);
    CHECK_EQ(again.timings.stats_tokens, 0);
    CHECK_EQ(again.ppl_cache_hits, 4 * 4 + 4);
    CHECK_EQ(again.timings.eval_tokens, 0);
    CHECK(again.ppl == r.ppl);
    CHECK(again.dense_ppl == r.dense_ppl);
    // a superset: only the new domain's row and column (and its dense cell) are evaluated
    mo.only_domains.push_back("arc");
    MiningResult five = run_mining(p, mo, null_context());
    CHECK_EQ(five.stats_cache_misses, 1);
    CHECK_EQ(five.ppl_cache_hits, 4 * 4 + 4);
    CHECK(five.domains == std::vector<std::string>({"wiki", "gsm8k", "arc", "python", "news"}));  // project order
    CHECK_EQ(five.ppl[1 * 5 + 3], r.ppl[1 * 4 + 2]);  // P[gsm8k][python], from the cache
    // another pruning ratio is another cell
    p.prune.ratio = 0.25;
    MiningResult quarter = run_mining(p, mo, null_context());
    CHECK_EQ(quarter.ppl_cache_hits, 5);  // only the dense row is shared
    CHECK(quarter.ppl[0] < five.ppl[0]);   // pruning less hurts less
}

TEST(cancel_keeps_finished_cache_entries) {
    const std::string cache = d2m_test::tmp_dir() + "/cache_cancel";
    Project p = small_project(cache);
    MiningOptions mo;
    mo.only_domains = {"arc", "banking", "stories"};
    RunContext ctx;
    int stats_done = 0;
    ctx.on_progress = [&](const Progress& pr) {
        if (pr.stage == "statistics" && pr.step == pr.total * 2 / 3 && pr.step > 0) ++stats_done;
        if (stats_done > 0) ctx.cancel.cancel();  // after the second domain's statistics
    };
    bool cancelled = false;
    try {
        run_mining(p, mo, ctx);
    } catch (const Cancelled&) {
        cancelled = true;
    }
    CHECK(cancelled);
    int entries = 0, temps = 0;
    for (auto& e : fs::directory_iterator(cache)) {
        entries += e.path().extension() == ".safetensors";
        temps += e.path().string().find(".tmp") != std::string::npos;
    }
    CHECK_EQ(entries, 2);
    CHECK_EQ(temps, 0);
    MiningResult r = run_mining(p, mo, null_context());
    CHECK_EQ(r.stats_cache_hits, 2);
    CHECK_EQ(r.stats_cache_misses, 1);
}

TEST(errors_name_the_domain) {
    Project p = small_project(d2m_test::tmp_dir() + "/cache_err");
    MiningOptions mo;
    mo.only_domains = {"wiki", "nonesuch"};
    CHECK_THROWS_WITH(run_mining(p, mo, null_context()), "domain 'nonesuch' is not in the project");
    mo.only_domains = {"wiki"};
    CHECK_THROWS_WITH(run_mining(p, mo, null_context()), "at least 2 domains");
    p.eval.seq_len = 100000;
    mo.only_domains = {"wiki", "arc"};
    CHECK_THROWS_WITH(run_mining(p, mo, null_context()), "evaluation.seq_len 100000 exceeds the model's context of 512");
}

TEST(eighteen_domains_and_cached_rerun) {
    // Tiny sample counts: this checks the plumbing and the cache at full width; the real-size run is
    // the benchmark (bench/bench_mining.cpp).
    const char* build = std::getenv("D2M_BUILD_DIR");
    const std::string base = build ? build : d2m_test::tmp_dir();
    const std::string cache = base + "/mining18-cache";
    fs::remove_all(cache);
    Project p = small_project(cache);
    p.calib.n_samples = 4;
    p.eval.n_windows = 2;
    MiningResult r = run_mining(p, {}, null_context());
    CHECK_EQ(r.n, 18);
    CHECK_EQ(r.stats_cache_misses, 18);
    check_invariants(r);
    write_mining_outputs(r, base + "/mining18", 8);
    MiningResult again = run_mining(p, {}, null_context());
    CHECK_EQ(again.ppl_cache_hits, 18 * 18 + 18);
    CHECK_EQ(again.stats_cache_hits, 18);
    CHECK_EQ(again.stats_cache_misses, 0);
    CHECK_EQ(again.timings.stats_tokens, 0);
    CHECK(again.ppl == r.ppl);
}

D2M_TEST_MAIN()
