// Agglomerative hierarchical clustering with scipy-compatible output: a linkage matrix of (N-1)
// rows [idx_a, idx_b, height, size] (cluster ids >= N are merges, in merge order), fcluster-style
// cuts (maxclust / distance) and the dendrogram leaf order. Tie-breaking follows scipy exactly.
// Pure C++ (no torch): the GUI adapters and the CLI use it directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe {

enum class LinkageMethod { Single, Complete, Average, Ward };

LinkageMethod parse_linkage_method(const std::string& name);  ///< "single"|"complete"|"average"|"ward"
const char* linkage_method_name(LinkageMethod m);

struct LinkageRow {
    int64_t a = 0;       ///< smaller cluster id first, as scipy
    int64_t b = 0;
    double height = 0;
    int64_t size = 0;
};

struct Linkage {
    int64_t n = 0;                 ///< number of leaves
    std::vector<LinkageRow> rows;  ///< n - 1 rows
};

/// Square symmetric distance matrix (row-major n*n, zero diagonal) -> linkage.
/// Throws Error(InvalidInput) on a non-square, asymmetric, negative or NaN matrix.
Linkage linkage(const std::vector<double>& dist, int64_t n, LinkageMethod method);

/// fcluster(Z, K, criterion='maxclust'): labels 1..k (k <= K), one per leaf.
std::vector<int> cut_maxclust(const Linkage& z, int64_t k);
/// fcluster(Z, t, criterion='distance'): leaves in the same cluster iff merged at height <= t.
std::vector<int> cut_distance(const Linkage& z, double t);
/// The height interval [lo, hi) of cut heights that yield exactly k clusters (for a cut line that
/// the user drags vs a K spin box). Returns false if no height gives k clusters.
bool height_range_for_k(const Linkage& z, int64_t k, double* lo, double* hi);
/// Number of clusters a distance cut at `t` gives.
int64_t clusters_at_height(const Linkage& z, double t);
/// scipy.cluster.hierarchy.dendrogram(Z)['leaves'] — left-to-right leaf order.
std::vector<int64_t> leaf_order(const Linkage& z);

/// Pearson correlation between the rows of a (rows x cols) matrix -> rows x rows.
std::vector<double> pearson_rows(const std::vector<double>& m, int64_t rows, int64_t cols);

}  // namespace den2moe
