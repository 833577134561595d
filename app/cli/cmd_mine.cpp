// CLI commands of domain-affinity mining: `mine` (the whole computation, cached statistics) and
// `cluster` (re-cut / re-link a finished mining folder without recomputing anything). `mine` runs
// sharded over several processes (--nproc, torchrun, srun; engine/pipeline/mining.cpp): rank 0
// writes the folder and prints, the result files equal a single process's.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "core/text.h"
#include "core/error.h"
#include "core/run_context.h"
#include "dist/comm.h"
#include "mining/mining.h"
#include "pipeline/mining.h"
#include "project/project.h"

namespace den2moe::cli {

using nlohmann::json;

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

std::vector<frontend::OptionInfo> mine_options() {
    return frontend::join_options({{{"out", "DIR", "the output folder (required)", false},
                                    {"json", "", "print clusters.json on stdout instead of the tables", true}},
                                   frontend::mining_options(), dist_options()});
}

int cmd_mine(const Args& a, RunContext& ctx) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "mine: expected one PROJECT argument, got ",
              a.positionals().size(), Hint{"den2moe mine projects/demo.den2moe.json --out out/mining"});
    D2M_CHECK(a.has("out"), InvalidInput, "mine: --out DIR is required", Hint{"e.g. --out out/mining"});
    const frontend::MiningJob job = frontend::mining_job(load_project(a.positionals()[0]), a);
    print_warnings(job.warnings);
    const int64_t k = job.project.cluster.k;
    MiningResult r;
    const int rc = run_distributed(a, [&] {
        r = run_mining(job.project, job.options, ctx);
        if (dist::world().is_root()) write_mining_outputs(r, a.get("out"), std::min<int64_t>(k, r.n));
        return dist::world().is_root() ? kOk : -1;  // -1: a worker, which prints nothing
    });
    if (rc == -1) return kOk;
    if (rc != kOk || r.n == 0) return rc;  // the --nproc launcher: the workers did the work
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

std::vector<frontend::OptionInfo> cluster_options() {
    return frontend::join_options({{{"height", "H", "cut at this height instead of K clusters", false},
                                    {"json", "", "print clusters.json on stdout", true}},
                                   frontend::schema_options(cluster_schema())});
}

int cmd_cluster(const Args& a, RunContext&) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "cluster: expected one DIR argument (a `mine --out` folder), got ",
              a.positionals().size());
    const std::string dir = a.positionals()[0];
    // the cut is checked before the folder is read: a height, or K clusters, not both
    const bool by_height = a.has("height");
    const double h = by_height ? a.get_double("height", 0.0) : 0.0;
    D2M_CHECK(h >= 0, InvalidInput, "cluster: --height must be >= 0, got ", h);
    D2M_CHECK(!(by_height && a.has("clusters")), InvalidInput, "cluster: --height and --clusters exclude each other",
              Hint{"--clusters K cuts into K clusters, --height H at a linkage distance"});
    MiningResult r = load_mining_result(dir);
    ClusterSettings cs;  // the folder's own linkage and correlation, the flags on top
    cs.linkage = r.linkage_method;
    cs.correlate = r.correlate;
    frontend::apply_schema(cluster_schema(), cs, a);
    int64_t k = cs.k;
    if (!by_height) {
        D2M_CHECK(k <= r.n || !a.has("clusters"), InvalidInput, "cluster: --clusters ", k, " is more than the ", r.n,
                  " domains of ", dir);
        if (k > r.n) {  // the default K on a folder of fewer domains: said, not silent
            print_warnings({str("cutting at ", r.n, " clusters: the default K = ", k, " is more than the ", r.n,
                                " domains of ", dir)});
            k = r.n;
        }
    }
    if (cs.linkage != r.linkage_method || cs.correlate != r.correlate) recompute_affinity(r, cs.correlate, cs.linkage);
    if (by_height) {
        std::vector<int> labels = mining_clusters_height(r, h);
        int mx = 0;
        for (int l : labels) mx = std::max(mx, l + 1);
        k = mx;
    }
    write_mining_outputs(r, dir, k);
    if (a.has("json")) {
        std::fputs(clusters_json(r, k).c_str(), stdout);
    } else {
        print_clusters(r, k);
    }
    return kOk;
}

}  // namespace den2moe::cli
