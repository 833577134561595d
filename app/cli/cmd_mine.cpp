// CLI commands of domain-affinity mining: `mine` (the whole computation, cached statistics) and
// `cluster` (re-cut / re-link a finished mining folder without recomputing anything).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "core/text.h"
#include "core/error.h"
#include "core/run_context.h"
#include "mining/mining.h"
#include "project/project.h"

namespace den2moe::cli {

using nlohmann::json;

static std::vector<std::string> split_csv(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

static void print_clusters(const MiningResult& r, int64_t k) {
    ProjectClusters pc = clusters_from_labels(r, mining_clusters_k(r, k));
    std::printf("clusters at K = %lld (%s linkage on 1 - Pearson of the normalised %s):\n", (long long)k,
                r.linkage_method.c_str(), r.correlate.c_str());
    for (size_t c = 0; c < pc.members.size(); ++c) {
        std::string line;
        for (const auto& m : pc.members[c]) line += (line.empty() ? "" : ", ") + m;
        std::printf("  %s %s\n", text::pad_cell(pc.names[c], 4).c_str(), text::display(line).c_str());
    }
}

static void print_matrix(const MiningResult& r, const std::vector<double>& m, const char* title, const char* fmt) {
    std::printf("%s\n%-16s", title, "");
    for (int64_t j = 0; j < r.n; ++j) {  // right-aligned in 7 terminal cells, cut at a character
        std::string name = text::fit_width(text::display(r.domains[j]), 7);
        const size_t pad = name.size() - name.find_last_not_of(' ') - 1;
        std::printf(" %s%s", std::string(pad, ' ').c_str(), name.substr(0, name.size() - pad).c_str());
    }
    std::printf("\n");
    for (int64_t i = 0; i < r.n; ++i) {
        std::printf("%s", text::fit_width(text::display(r.domains[i]), 16).c_str());
        for (int64_t j = 0; j < r.n; ++j) std::printf(fmt, m[i * r.n + j]);
        std::printf("\n");
    }
}

int cmd_mine(const Args& a, RunContext& ctx) {
    a.allow({"out", "domains", "ratio", "clusters", "linkage", "correlate", "samples", "seq", "eval-windows",
             "eval-seq", "batch", "dtype", "structure", "metric", "seed", "no-cache", "cache-dir", "json", "quiet",
             "threads"});
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "mine: expected one PROJECT argument, got ",
              a.positionals().size(), Hint{"den2moe mine projects/demo.den2moe.json --out out/mining"});
    D2M_CHECK(a.has("out"), InvalidInput, "mine: --out DIR is required", Hint{"e.g. --out out/mining"});
    Project p = load_project(a.positionals()[0]);
    if (a.has("ratio")) p.prune.ratio = a.get_double("ratio", p.prune.ratio);
    if (a.has("linkage")) p.cluster.linkage = a.get("linkage");
    if (a.has("correlate")) p.cluster.correlate = a.get("correlate");
    if (a.has("samples")) p.calib.n_samples = a.get_int("samples", p.calib.n_samples);
    if (a.has("seq")) p.calib.seq_len = a.get_int("seq", p.calib.seq_len);
    if (a.has("seed")) p.calib.seed = static_cast<uint64_t>(a.get_int("seed", 42));
    if (a.has("eval-windows")) p.eval.n_windows = a.get_int("eval-windows", p.eval.n_windows);
    if (a.has("eval-seq")) p.eval.seq_len = a.get_int("eval-seq", p.eval.seq_len);
    if (a.has("batch")) p.eval.batch = a.get_int("batch", p.eval.batch);
    if (a.has("dtype")) p.dtype = a.get("dtype");
    if (a.has("structure")) p.prune.structure = a.get("structure");
    if (a.has("metric")) p.prune.metric = a.get("metric");
    if (a.has("cache-dir")) p.cache_dir = a.get("cache-dir");
    const int64_t k = a.get_int("clusters", p.cluster.k);

    MiningOptions mo;
    if (a.has("domains")) mo.only_domains = split_csv(a.get("domains"));
    mo.use_cache = !a.has("no-cache");
    // validate what this run uses (only the selected domains)
    Project check = p;
    if (!mo.only_domains.empty()) {
        for (auto& d : check.domains) {
            d.enabled = std::find(mo.only_domains.begin(), mo.only_domains.end(), d.name) != mo.only_domains.end();
        }
    }
    auto problems = validate_project(check);
    if (!problems.empty()) {
        std::string all;
        for (const auto& s : problems) all += "\n  - " + s;
        D2M_FAIL(InvalidInput, "project ", p.file, " is not ready to mine:", all);
    }

    MiningResult r = run_mining(p, mo, ctx);
    write_mining_outputs(r, a.get("out"), k);
    if (a.has("json")) {
        std::fputs(clusters_json(r, std::min<int64_t>(k, r.n)).c_str(), stdout);
        return kOk;
    }
    print_matrix(r, r.normalized, "normalised perplexity S[i][j] = min_k P[k][j] / P[i][j] (row: pruned with i)",
                 " %7.3f");
    print_clusters(r, std::min<int64_t>(k, r.n));
    const auto& t = r.timings;
    std::printf("time: %.1f s (load %.1f, statistics %.1f, pruning %.2f, evaluation %.1f, clustering %.3f); "
                "statistics cache: %lld hit, %lld computed; perplexity cells from cache: %lld of %lld\n",
                t.total_s, t.load_s, t.statistics_s, t.pruning_s, t.evaluation_s, t.clustering_s,
                (long long)r.stats_cache_hits, (long long)r.stats_cache_misses, (long long)r.ppl_cache_hits,
                (long long)(r.n * r.n + r.n));
    std::printf("wrote %s/{ppl_matrix.csv,normalized.csv,correlation.csv,linkage.json,clusters.json,mining.json}\n",
                a.get("out").c_str());
    return kOk;
}

int cmd_cluster(const Args& a, RunContext&) {
    a.allow({"clusters", "linkage", "correlate", "height", "json", "quiet", "threads"});
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "cluster: expected one DIR argument (a `mine --out` folder), got ",
              a.positionals().size());
    const std::string dir = a.positionals()[0];
    MiningResult r = load_mining_result(dir);
    const std::string method = a.get("linkage", r.linkage_method);
    const std::string correlate = a.get("correlate", r.correlate);
    if (method != r.linkage_method || correlate != r.correlate) recompute_affinity(r, correlate, method);
    int64_t k = a.get_int("clusters", 8);
    if (a.has("height")) {
        std::vector<int> labels = mining_clusters_height(r, a.get_double("height", 0.0));
        int mx = 0;
        for (int l : labels) mx = std::max(mx, l + 1);
        k = mx;
    }
    k = std::min<int64_t>(k, r.n);
    write_mining_outputs(r, dir, k);
    if (a.has("json")) {
        std::fputs(clusters_json(r, k).c_str(), stdout);
    } else {
        print_clusters(r, k);
    }
    return kOk;
}

}  // namespace den2moe::cli
