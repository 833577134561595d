// Domain-affinity mining (DIVE's D.A.M.), the math and the files: the N×N perplexity matrix P[i][j]
// (pruned with i, evaluated on j), the column-min normalisation S[i][j] = min_k P[k][j] / P[i][j],
// Pearson correlation of the rows of S (or its columns), distance 1 − r, a scipy-compatible linkage,
// flat clusters, and the output folder. The job that computes P (statistics, pruning, evaluation) is
// pipeline/mining.h's run_mining().
//
// Plain std types only (no torch, no Qt): the GUI includes this header. Results are immutable values
// handed back to the caller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "project/project.h"

namespace den2moe {

/// A scipy-layout linkage matrix: (n−1) rows of {a, b, height, size}.
struct LinkageRows {
    std::vector<double> z;  ///< row-major (n−1)×4
    int64_t rows() const { return static_cast<int64_t>(z.size() / 4); }
};

struct MiningTimings {
    double load_s = 0, statistics_s = 0, pruning_s = 0, evaluation_s = 0, clustering_s = 0, total_s = 0;
    int64_t stats_tokens = 0;  ///< tokens forwarded to collect statistics (0 when all cached)
    int64_t eval_tokens = 0;   ///< tokens forwarded for the N×N evaluation (incl. the dense row)
};

struct MiningResult {
    std::vector<std::string> domains;  ///< n, project order
    int64_t n = 0;
    std::vector<double> ppl;           ///< n×n row-major; row = calibration (pruned-with) domain
    std::vector<double> dense_ppl;     ///< n: the unpruned model on each evaluation domain
    std::vector<double> normalized;    ///< n×n: min_k P[k][j] / P[i][j]
    std::vector<double> correlation;   ///< n×n Pearson (rows of S, or columns per settings)
    std::vector<double> distance;      ///< n×n: 1 − r (diagonal 0)
    LinkageRows linkage;
    std::vector<int64_t> leaf_order;   ///< dendrogram leaf order (scipy's)
    std::string linkage_method;        ///< e.g. "average"
    std::string correlate;             ///< "rows" | "columns"
    // provenance
    std::string model;                 ///< resolved model path
    std::string model_hash;
    double ratio = 0;
    std::string structure, metric;
    int64_t calib_samples = 0, calib_seq = 0, eval_windows = 0, eval_seq = 0;
    uint64_t seed = 0;
    std::string dtype;
    int64_t stats_cache_hits = 0;      ///< domains whose statistics came from the disk cache
    int64_t stats_cache_misses = 0;    ///< domains whose statistics were computed in this run
    int64_t ppl_cache_hits = 0;        ///< perplexity cells (incl. the dense row) taken from the cache
    MiningTimings timings;
};

/// Recompute normalisation / correlation / linkage from `ppl` (after a subset or settings change).
/// Throws Error(InvalidInput) when a row of S is constant (correlation undefined).
void recompute_affinity(MiningResult& r, const std::string& correlate, const std::string& linkage_method);

/// Flat clusters: labels 0..K−1 per domain (project order) from a maxclust cut at K, or from a height cut.
std::vector<int> mining_clusters_k(const MiningResult& r, int64_t k);
std::vector<int> mining_clusters_height(const MiningResult& r, double height);
/// Labels -> ProjectClusters (names C1..CK in order of first appearance along the leaf order).
ProjectClusters clusters_from_labels(const MiningResult& r, const std::vector<int>& labels);

/// Files of a mining output folder: ppl_matrix.csv, normalized.csv, correlation.csv, linkage.json,
/// clusters.json (for `k`), mining.json (everything, for reloading). Written together
/// (io/atomic_dir.h write_files_atomic): a failure leaves the folder as it was, other files in it stay.
void write_mining_outputs(const MiningResult& r, const std::string& dir, int64_t k);
/// Re-read a folder written by write_mining_outputs (from mining.json).
MiningResult load_mining_result(const std::string& dir);
/// clusters.json text for a cut at K (labels, members, the height interval that gives K).
std::string clusters_json(const MiningResult& r, int64_t k);
/// Read a clusters.json ({"members": [[domain, ...], ...], "names": [...], "manual": bool}), as written
/// by clusters_json() or edited by hand. Throws Error(InvalidInput / Io) naming the file and key.
ProjectClusters read_clusters_file(const std::string& path);

}  // namespace den2moe
