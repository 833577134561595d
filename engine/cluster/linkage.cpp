// Hierarchical clustering, a line-by-line port of scipy.cluster._hierarchy (scipy 1.10) so that the
// linkage rows, tie-breaking included, are bit-identical: MST for single, nearest-neighbour chain
// for complete/average/ward, then a stable sort by height and union-find relabelling. The cuts port
// cluster_monocrit / cluster_maxclust_monocrit (maxclust with the scipy >= 1.15 fix of gh-12651)
// and leaf_order follows dendrogram(Z)['leaves'] (left child = Z[i, 0]). Pure C++, no torch.
#include "cluster/linkage.h"

#include "core/error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>

namespace den2moe {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
/// Asymmetry / non-zero diagonal tolerance, relative to the largest |entry| of the matrix.
constexpr double kSymmetryRelTol = 1e-10;

/// Index of (i, j), i != j, in scipy's condensed (upper-triangle, row-major) vector.
inline int64_t condensed_index(int64_t n, int64_t i, int64_t j) {
    if (i < j) {
        return n * i - (i * (i + 1) / 2) + (j - i - 1);
    }
    return n * j - (j * (j + 1) / 2) + (i - j - 1);
}

// Lance-Williams style updates of _hierarchy_distance_update.pxi; the expression order is kept
// as in the Cython source so that the rounding, and therefore the ties, are the same.
double update_complete(double d_xi, double d_yi, double, int64_t, int64_t, int64_t) {
    return d_xi < d_yi ? d_yi : d_xi;
}

double update_average(double d_xi, double d_yi, double, int64_t size_x, int64_t size_y, int64_t) {
    return (double(size_x) * d_xi + double(size_y) * d_yi) / double(size_x + size_y);
}

double update_ward(double d_xi, double d_yi, double d_xy, int64_t size_x, int64_t size_y,
                   int64_t size_i) {
    const double t = 1.0 / double(size_x + size_y + size_i);
    const double a = double(size_i + size_x) * t * d_xi * d_xi;
    const double b = double(size_i + size_y) * t * d_yi * d_yi;
    const double c = double(size_i) * t * d_xy * d_xy;
    return std::sqrt(a + b - c);
}

using DistanceUpdate = double (*)(double, double, double, int64_t, int64_t, int64_t);

/// Raw merge before relabelling: x, y are point indices that represent the two clusters.
struct RawMerge {
    int64_t x = 0;
    int64_t y = 0;
    double height = 0;
};

/// scipy _hierarchy.mst_single_linkage (Prim's algorithm on the condensed matrix).
std::vector<RawMerge> mst_single_linkage(const std::vector<double>& dists, int64_t n) {
    std::vector<RawMerge> z(size_t(n - 1));
    std::vector<char> merged(size_t(n), 0);
    std::vector<double> d(size_t(n), kInf);
    int64_t x = 0;
    int64_t y = 0;
    for (int64_t k = 0; k < n - 1; ++k) {
        double current_min = kInf;
        merged[size_t(x)] = 1;
        for (int64_t i = 0; i < n; ++i) {
            if (merged[size_t(i)]) {
                continue;
            }
            const double dist = dists[size_t(condensed_index(n, x, i))];
            if (d[size_t(i)] > dist) {
                d[size_t(i)] = dist;
            }
            if (d[size_t(i)] < current_min) {
                y = i;
                current_min = d[size_t(i)];
            }
        }
        z[size_t(k)] = {x, y, current_min};
        x = y;
    }
    return z;
}

/// scipy _hierarchy.nn_chain (complete / average / ward).
std::vector<RawMerge> nn_chain(const std::vector<double>& dists, int64_t n,
                               DistanceUpdate new_dist) {
    std::vector<RawMerge> z(size_t(n - 1));
    std::vector<double> d = dists;  // distances between clusters, condensed
    std::vector<int64_t> size(size_t(n), 1);
    std::vector<int64_t> chain(size_t(n), 0);
    int64_t chain_length = 0;
    int64_t x = 0;
    int64_t y = 0;
    for (int64_t k = 0; k < n - 1; ++k) {
        if (chain_length == 0) {
            chain_length = 1;
            for (int64_t i = 0; i < n; ++i) {
                if (size[size_t(i)] > 0) {
                    chain[0] = i;
                    break;
                }
            }
        }
        // Walk the chain of nearest neighbours until two mutual neighbours are found.
        double current_min = kInf;
        while (true) {
            x = chain[size_t(chain_length - 1)];
            // Prefer the previous chain element on ties, so the walk cannot cycle.
            if (chain_length > 1) {
                y = chain[size_t(chain_length - 2)];
                current_min = d[size_t(condensed_index(n, x, y))];
            } else {
                current_min = kInf;
            }
            for (int64_t i = 0; i < n; ++i) {
                if (size[size_t(i)] == 0 || x == i) {
                    continue;
                }
                const double dist = d[size_t(condensed_index(n, x, i))];
                if (dist < current_min) {
                    current_min = dist;
                    y = i;
                }
            }
            if (chain_length > 1 && y == chain[size_t(chain_length - 2)]) {
                break;
            }
            chain[size_t(chain_length)] = y;
            ++chain_length;
        }
        chain_length -= 2;
        if (x > y) {
            std::swap(x,
                      y);  // fastcluster's convention: the merged cluster lives at the larger index
        }
        const int64_t nx = size[size_t(x)];
        const int64_t ny = size[size_t(y)];
        z[size_t(k)] = {x, y, current_min};
        size[size_t(x)] = 0;
        size[size_t(y)] = nx + ny;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t ni = size[size_t(i)];
            if (ni == 0 || i == y) {
                continue;
            }
            d[size_t(condensed_index(n, i, y))] =
                new_dist(d[size_t(condensed_index(n, i, x))], d[size_t(condensed_index(n, i, y))],
                         current_min, nx, ny, ni);
        }
    }
    return z;
}

/// np.argsort(Z[:, 2], kind='mergesort') then scipy's `label`: union-find relabelling that turns
/// representative point indices into cluster ids (n + row) and fills the sizes.
Linkage sort_and_label(std::vector<RawMerge> raw, int64_t n) {
    std::stable_sort(raw.begin(), raw.end(),
                     [](const RawMerge& l, const RawMerge& r) { return l.height < r.height; });
    std::vector<int64_t> parent(static_cast<size_t>(2 * n - 1));
    std::iota(parent.begin(), parent.end(), int64_t(0));
    std::vector<int64_t> size(size_t(2 * n - 1), 1);
    int64_t next_label = n;
    auto find = [&parent](int64_t x) {
        int64_t root = x;
        while (parent[size_t(root)] != root) {
            root = parent[size_t(root)];
        }
        while (parent[size_t(x)] != root) {  // path compression
            const int64_t up = parent[size_t(x)];
            parent[size_t(x)] = root;
            x = up;
        }
        return root;
    };
    Linkage out;
    out.n = n;
    out.rows.resize(size_t(n - 1));
    for (int64_t i = 0; i < n - 1; ++i) {
        const int64_t x_root = find(raw[size_t(i)].x);
        const int64_t y_root = find(raw[size_t(i)].y);
        LinkageRow& row = out.rows[size_t(i)];
        row.a = std::min(x_root, y_root);
        row.b = std::max(x_root, y_root);
        row.height = raw[size_t(i)].height;
        parent[size_t(x_root)] = next_label;
        parent[size_t(y_root)] = next_label;
        size[size_t(next_label)] = size[size_t(x_root)] + size[size_t(y_root)];
        row.size = size[size_t(next_label)];
        ++next_label;
    }
    return out;
}

/// Square matrix -> scipy's condensed vector (upper triangle), after validating it.
std::vector<double> condense_checked(const std::vector<double>& dist, int64_t n) {
    D2M_CHECK(n >= 2, InvalidInput, "linkage needs at least 2 items to cluster, got n = ", n,
              Hint{"with fewer than 2 items there is nothing to merge"});
    D2M_CHECK(int64_t(dist.size()) == n * n, InvalidInput, "distance matrix is not square: ", n,
              " x ", n, " needs ", n * n, " values, got ", dist.size(),
              Hint{"pass the full row-major n x n matrix, not the condensed upper triangle"});
    double max_abs = 0;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) {
            const double v = dist[size_t(i * n + j)];
            D2M_CHECK(!std::isnan(v), InvalidInput, "distance matrix entry (", i, ", ", j,
                      ") is NaN",
                      Hint{"a NaN usually comes from a constant profile (zero variance) upstream"});
            D2M_CHECK(std::isfinite(v), InvalidInput, "distance matrix entry (", i, ", ", j,
                      ") is infinite", Hint{"distances must be finite"});
            D2M_CHECK(v >= 0, InvalidInput, "distance matrix entry (", i, ", ", j, ") = ", v,
                      " is negative; distances must be >= 0",
                      Hint{"for a correlation r use the distance 1 - r"});
            max_abs = std::max(max_abs, v);
        }
    }
    const double tol = kSymmetryRelTol * max_abs;
    for (int64_t i = 0; i < n; ++i) {
        const double dii = dist[size_t(i * n + i)];
        D2M_CHECK(dii <= tol, InvalidInput, "distance matrix diagonal entry (", i, ", ", i,
                  ") = ", dii, ", expected 0 (tolerance ", tol, ")",
                  Hint{"the distance of an item to itself is 0"});
        for (int64_t j = i + 1; j < n; ++j) {
            const double dij = dist[size_t(i * n + j)];
            const double dji = dist[size_t(j * n + i)];
            D2M_CHECK(std::fabs(dij - dji) <= tol, InvalidInput,
                      "distance matrix is not symmetric: entry (", i, ", ", j, ") = ", dij,
                      " but (", j, ", ", i, ") = ", dji, " (tolerance ", tol,
                      " = 1e-10 x largest entry)",
                      Hint{"symmetrise it, e.g. (D + D^T) / 2, before clustering"});
        }
    }
    std::vector<double> condensed;
    condensed.reserve(size_t(n * (n - 1) / 2));
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = i + 1; j < n; ++j) {
            condensed.push_back(dist[size_t(i * n + j)]);
        }
    }
    return condensed;
}

/// Structural check of a linkage handed to the cut functions (is_valid_linkage's essentials).
void check_linkage(const Linkage& z, const char* what) {
    D2M_CHECK(z.n >= 2, InvalidInput, what, ": linkage has n = ", z.n,
              " leaves; at least 2 are needed");
    D2M_CHECK(int64_t(z.rows.size()) == z.n - 1, InvalidInput, what, ": linkage of ", z.n,
              " leaves must have ", z.n - 1, " rows, has ", z.rows.size());
    std::vector<char> used(size_t(2 * z.n - 1), 0);
    for (int64_t i = 0; i < z.n - 1; ++i) {
        const LinkageRow& r = z.rows[size_t(i)];
        for (int64_t c : {r.a, r.b}) {
            D2M_CHECK(c >= 0 && c < z.n + i, InvalidInput, what, ": linkage row ", i,
                      " refers to cluster ", c,
                      ", which does not exist before that row (valid: 0..", z.n + i - 1, ")");
            D2M_CHECK(!used[size_t(c)], InvalidInput, what, ": cluster ", c,
                      " is merged twice in the linkage (again at row ", i, ")");
            used[size_t(c)] = 1;
        }
        D2M_CHECK(!std::isnan(r.height), InvalidInput, what, ": linkage row ", i,
                  " has a NaN height");
    }
}

inline int64_t left_child(const Linkage& z, int64_t root) {
    return z.rows[size_t(root)].a;
}
inline int64_t right_child(const Linkage& z, int64_t root) {
    return z.rows[size_t(root)].b;
}

/// scipy get_max_dist_for_each_cluster: MD[i] = max height in the subtree of row i (monotone).
std::vector<double> max_dist_for_each_cluster(const Linkage& z) {
    const int64_t n = z.n;
    std::vector<double> md(size_t(n - 1), 0.0);
    std::vector<int64_t> curr_node(size_t(n), 0);
    std::vector<char> visited(size_t(2 * n - 1), 0);
    int64_t k = 0;
    curr_node[0] = 2 * n - 2;
    while (k >= 0) {
        const int64_t root = curr_node[size_t(k)] - n;
        const int64_t i_lc = left_child(z, root);
        const int64_t i_rc = right_child(z, root);
        if (i_lc >= n && !visited[size_t(i_lc)]) {
            visited[size_t(i_lc)] = 1;
            curr_node[size_t(++k)] = i_lc;
            continue;
        }
        if (i_rc >= n && !visited[size_t(i_rc)]) {
            visited[size_t(i_rc)] = 1;
            curr_node[size_t(++k)] = i_rc;
            continue;
        }
        double max_dist = z.rows[size_t(root)].height;
        if (i_lc >= n && md[size_t(i_lc - n)] > max_dist) {
            max_dist = md[size_t(i_lc - n)];
        }
        if (i_rc >= n && md[size_t(i_rc - n)] > max_dist) {
            max_dist = md[size_t(i_rc - n)];
        }
        md[size_t(root)] = max_dist;
        --k;
    }
    return md;
}

/// scipy cluster_monocrit: a node whose MC <= cutoff, met top-down first, becomes a flat cluster;
/// clusters are numbered 1.. in the order the depth-first traversal closes them.
std::vector<int> cluster_monocrit(const Linkage& z, const std::vector<double>& mc, double cutoff) {
    const int64_t n = z.n;
    std::vector<int> t(size_t(n), 0);
    std::vector<int64_t> curr_node(size_t(n), 0);
    std::vector<char> visited(size_t(2 * n - 1), 0);
    int n_cluster = 0;
    int64_t cluster_leader = -1;
    int64_t k = 0;
    curr_node[0] = 2 * n - 2;
    while (k >= 0) {
        const int64_t root = curr_node[size_t(k)] - n;
        const int64_t i_lc = left_child(z, root);
        const int64_t i_rc = right_child(z, root);
        if (cluster_leader == -1 && mc[size_t(root)] <= cutoff) {  // found a cluster
            cluster_leader = root;
            ++n_cluster;
        }
        if (i_lc >= n && !visited[size_t(i_lc)]) {
            visited[size_t(i_lc)] = 1;
            curr_node[size_t(++k)] = i_lc;
            continue;
        }
        if (i_rc >= n && !visited[size_t(i_rc)]) {
            visited[size_t(i_rc)] = 1;
            curr_node[size_t(++k)] = i_rc;
            continue;
        }
        if (i_lc < n) {
            if (cluster_leader == -1) {  // singleton cluster
                ++n_cluster;
            }
            t[size_t(i_lc)] = n_cluster;
        }
        if (i_rc < n) {
            if (cluster_leader == -1) {
                ++n_cluster;
            }
            t[size_t(i_rc)] = n_cluster;
        }
        if (cluster_leader == root) {  // back to the leader
            cluster_leader = -1;
        }
        --k;
    }
    return t;
}

/// Number of flat clusters cluster_monocrit would form at `thresh`, stopping early once it
/// exceeds max_nc (the counting loop of scipy's cluster_maxclust_monocrit).
bool exceeds_max_clusters(const Linkage& z, const std::vector<double>& mc, double thresh,
                          int64_t max_nc, std::vector<int64_t>& curr_node,
                          std::vector<char>& visited) {
    const int64_t n = z.n;
    std::fill(visited.begin(), visited.end(), 0);
    int64_t nc = 0;
    int64_t k = 0;
    curr_node[0] = 2 * n - 2;
    while (k >= 0) {
        const int64_t root = curr_node[size_t(k)] - n;
        const int64_t i_lc = left_child(z, root);
        const int64_t i_rc = right_child(z, root);
        if (mc[size_t(root)] <= thresh) {  // this subtree forms a cluster
            if (++nc > max_nc) {
                return true;
            }
            --k;
            visited[size_t(i_lc)] = 1;
            visited[size_t(i_rc)] = 1;
            continue;
        }
        if (!visited[size_t(i_lc)]) {
            visited[size_t(i_lc)] = 1;
            if (i_lc >= n) {
                curr_node[size_t(++k)] = i_lc;
                continue;
            }
            if (++nc > max_nc) {  // singleton cluster
                return true;
            }
        }
        if (!visited[size_t(i_rc)]) {
            visited[size_t(i_rc)] = 1;
            if (i_rc >= n) {
                curr_node[size_t(++k)] = i_rc;
                continue;
            }
            if (++nc > max_nc) {
                return true;
            }
        }
        --k;
    }
    return false;
}

}  // namespace

LinkageMethod parse_linkage_method(const std::string& name) {
    std::string s = name;
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (s == "single") {
        return LinkageMethod::Single;
    }
    if (s == "complete") {
        return LinkageMethod::Complete;
    }
    if (s == "average") {
        return LinkageMethod::Average;
    }
    if (s == "ward") {
        return LinkageMethod::Ward;
    }
    D2M_FAIL(InvalidInput, "unknown linkage method \"", name, "\"",
             Hint{"use one of: single, complete, average, ward"});
}

const char* linkage_method_name(LinkageMethod m) {
    switch (m) {
        case LinkageMethod::Single: return "single";
        case LinkageMethod::Complete: return "complete";
        case LinkageMethod::Average: return "average";
        case LinkageMethod::Ward: return "ward";
    }
    return "unknown";
}

Linkage linkage(const std::vector<double>& dist, int64_t n, LinkageMethod method) {
    const std::vector<double> condensed = condense_checked(dist, n);
    std::vector<RawMerge> raw;
    switch (method) {
        case LinkageMethod::Single: raw = mst_single_linkage(condensed, n); break;
        case LinkageMethod::Complete: raw = nn_chain(condensed, n, &update_complete); break;
        case LinkageMethod::Average: raw = nn_chain(condensed, n, &update_average); break;
        case LinkageMethod::Ward: raw = nn_chain(condensed, n, &update_ward); break;
    }
    return sort_and_label(std::move(raw), n);
}

std::vector<int> cut_maxclust(const Linkage& z, int64_t k) {
    check_linkage(z, "maxclust cut");
    D2M_CHECK(k >= 1, InvalidInput, "maxclust cut: the number of clusters must be >= 1, got ", k);
    const int64_t n = z.n;
    if (k >=
        n) {  // every leaf its own cluster (scipy >= 1.15; 1.10 merged at least once, gh-12651)
        std::vector<int> t(static_cast<size_t>(n));
        std::iota(t.begin(), t.end(), 1);
        return t;
    }
    const std::vector<double> mc = max_dist_for_each_cluster(z);
    std::vector<int64_t> curr_node(size_t(n), 0);
    std::vector<char> visited(size_t(2 * n - 1), 0);
    // Binary search for the smallest MC[i] that gives <= k clusters. lower = -1 stands for
    // "-infinity", which by convention is illegal (the gh-12651 fix; scipy 1.10 started at 0 and
    // could never choose MC[0]). MC is monotone along the sorted rows, so legality is monotone in
    // i.
    int64_t lower_idx = -1;
    int64_t upper_idx = n - 1;
    while (upper_idx - lower_idx > 1) {
        const int64_t i = (lower_idx + upper_idx) >> 1;
        if (exceeds_max_clusters(z, mc, mc[size_t(i)], k, curr_node, visited)) {
            lower_idx = i;
        } else {
            upper_idx = i;
        }
    }
    D2M_ASSERT(upper_idx <= n - 2);  // MC[n-2] (the root) always yields one cluster
    return cluster_monocrit(z, mc, mc[size_t(upper_idx)]);
}

std::vector<int> cut_distance(const Linkage& z, double t) {
    check_linkage(z, "distance cut");
    D2M_CHECK(!std::isnan(t), InvalidInput, "distance cut: the cut height is NaN");
    return cluster_monocrit(z, max_dist_for_each_cluster(z), t);
}

int64_t clusters_at_height(const Linkage& z, double t) {
    check_linkage(z, "clusters at height");
    D2M_CHECK(!std::isnan(t), InvalidInput, "clusters at height: the cut height is NaN");
    // MD is monotone towards the root, so the nodes with MD <= t form a forest and each of them
    // merges two clusters: clusters = n - #{MD <= t}, exactly what cut_distance forms.
    const std::vector<double> md = max_dist_for_each_cluster(z);
    const auto merged = std::count_if(md.begin(), md.end(), [t](double h) { return h <= t; });
    return z.n - int64_t(merged);
}

bool height_range_for_k(const Linkage& z, int64_t k, double* lo, double* hi) {
    check_linkage(z, "height range for k");
    const int64_t n = z.n;
    if (k < 1 || k > n) {
        return false;
    }
    std::vector<double> md = max_dist_for_each_cluster(z);
    std::sort(md.begin(), md.end());
    // Need #{MD <= t} == n - k =: c, i.e. md[c-1] <= t < md[c] (md[-1] = -inf, md[n-1] = +inf).
    const int64_t c = n - k;
    const double l = c == 0 ? -kInf : md[size_t(c - 1)];
    const double h = c == n - 1 ? kInf : md[size_t(c)];
    if (!(l < h)) {
        return false;  // tied heights: k clusters is skipped
    }
    if (lo) {
        *lo = l;
    }
    if (hi) {
        *hi = h;
    }
    return true;
}

std::vector<int64_t> leaf_order(const Linkage& z) {
    check_linkage(z, "leaf order");
    const int64_t n = z.n;
    std::vector<int64_t> leaves;
    leaves.reserve(size_t(n));
    std::vector<int64_t> stack{2 * n - 2};
    while (!stack.empty()) {
        const int64_t node = stack.back();
        stack.pop_back();
        if (node < n) {
            leaves.push_back(node);
            continue;
        }
        // dendrogram() without count_sort / distance_sort draws Z[i, 0] left of Z[i, 1].
        stack.push_back(right_child(z, node - n));
        stack.push_back(left_child(z, node - n));
    }
    return leaves;
}

std::vector<double> pearson_rows(const std::vector<double>& m, int64_t rows, int64_t cols) {
    D2M_CHECK(rows >= 1 && cols >= 2, InvalidInput,
              "pearson correlation needs >= 1 row and >= 2 columns, got ", rows, " x ", cols,
              Hint{"each row is a profile; a correlation needs at least 2 values"});
    D2M_CHECK(int64_t(m.size()) == rows * cols, InvalidInput, "pearson correlation: a ", rows,
              " x ", cols, " matrix needs ", rows * cols, " values, got ", m.size());
    // numpy.corrcoef: centre each row, C = X X^T / (cols - 1), divide by the std devs, clip to [-1,
    // 1].
    std::vector<double> x(m);  // [rows, cols], centred below
    for (int64_t i = 0; i < rows; ++i) {
        double sum = 0;
        for (int64_t j = 0; j < cols; ++j) {
            const double v = x[size_t(i * cols + j)];
            D2M_CHECK(std::isfinite(v), InvalidInput, "pearson correlation: row ", i, ", column ",
                      j, " is ", v, Hint{"the profiles must be finite numbers"});
            sum += v;
        }
        const double mean = sum / double(cols);
        for (int64_t j = 0; j < cols; ++j) {
            x[size_t(i * cols + j)] -= mean;
        }
    }
    const double inv_fact = 1.0 / double(cols - 1);
    std::vector<double> c(size_t(rows * rows), 0.0);  // [rows, rows]
    for (int64_t i = 0; i < rows; ++i) {
        for (int64_t k = i; k < rows; ++k) {
            double dot = 0;
            for (int64_t j = 0; j < cols; ++j) {
                dot += x[size_t(i * cols + j)] * x[size_t(k * cols + j)];
            }
            c[size_t(i * rows + k)] = c[size_t(k * rows + i)] = dot * inv_fact;
        }
    }
    std::vector<double> stddev(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) {
        const double var = c[size_t(i * rows + i)];
        // numpy would return a NaN row here; 1 - r of a NaN is no distance, so refuse instead.
        D2M_CHECK(
            var > 0, InvalidInput, "pearson correlation: row ", i,
            " is constant (zero variance), so its correlation with the other rows is undefined",
            Hint{"drop that row or check why its profile does not vary"});
        stddev[size_t(i)] = std::sqrt(var);
    }
    for (int64_t i = 0; i < rows; ++i) {
        for (int64_t k = 0; k < rows; ++k) {
            double r = c[size_t(i * rows + k)] / stddev[size_t(i)];
            r /= stddev[size_t(k)];
            c[size_t(i * rows + k)] = std::min(1.0, std::max(-1.0, r));
        }
    }
    return c;
}

}  // namespace den2moe
