#include "dendrogram_layout.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace den2moe::ui {

namespace {

struct Walk {
    const DendrogramData& data;
    DendrogramLayout& out;

    struct Info {
        double centre;  // icoord of the subtree's attachment point
        double width;   // icoord units the subtree spans
        double height;  // dcoord of the subtree's root
    };

    // Port of scipy's _dendrogram_calculate_info without truncation, sorting or colouring:
    // left subtree first, the U of this node appended after both children (post-order).
    Info visit(int i, double iv) {
        const int n = data.n;
        if (i < n) {
            out.leaves.push_back(i);
            return {iv + 5.0, 10.0, 0.0};
        }
        const LinkRow& row = data.rows[i - n];
        const Info a = visit(row.a, iv);
        const Info b = visit(row.b, iv + a.width);
        const double h = row.height;
        DendrogramSegment seg;
        seg.node = i;
        seg.icoord[0] = a.centre;
        seg.icoord[1] = a.centre;
        seg.icoord[2] = b.centre;
        seg.icoord[3] = b.centre;
        seg.dcoord[0] = a.height;
        seg.dcoord[1] = h;
        seg.dcoord[2] = h;
        seg.dcoord[3] = b.height;
        out.segments.push_back(seg);
        return {(a.centre + b.centre) / 2, a.width + b.width, h};
    }
};

}  // namespace

DendrogramLayout computeDendrogramLayout(const DendrogramData& data) {
    DendrogramLayout out;
    if (!data.isValid()) {
        return out;
    }
    out.leaves.reserve(data.n);
    out.segments.reserve(data.n - 1);
    Walk walk{data, out};
    walk.visit(2 * data.n - 2, 0.0);
    out.positionOfLeaf.resize(data.n);
    for (int p = 0; p < out.leaves.size(); ++p) {
        out.positionOfLeaf[out.leaves[p]] = p;
    }
    for (const LinkRow& r : data.rows) {
        out.maxHeight = std::max(out.maxHeight, r.height);
    }
    return out;
}

QVector<double> maxMergeHeights(const DendrogramData& data) {
    // Rows only refer to earlier rows, so one forward pass sees every child before its parent.
    const int n = data.n;
    QVector<double> md(data.rows.size());
    for (int r = 0; r < data.rows.size(); ++r) {
        const LinkRow& row = data.rows[r];
        double m = row.height;
        if (row.a >= n) {
            m = std::max(m, md[row.a - n]);
        }
        if (row.b >= n) {
            m = std::max(m, md[row.b - n]);
        }
        md[r] = m;
    }
    return md;
}

QVector<int> fclusterDistance(const DendrogramData& data, double t) {
    // Port of scipy _hierarchy.cluster_monocrit with MC = max merge heights, so the numbering
    // matches fcluster exactly: a depth-first walk that descends into merge children (left, then
    // right) before numbering a node's own leaf children.
    const int n = data.n;
    QVector<int> labels(n, 1);
    if (!data.isValid() || n == 1) {
        return labels;
    }
    const QVector<double> mc = maxMergeHeights(data);
    QVector<int> stack(n);
    QVector<char> visited(2 * n - 1, 0);
    int k = 0;
    int nCluster = 0;
    int leader = -1;
    stack[0] = 2 * n - 2;
    while (k >= 0) {
        const int root = stack[k] - n;
        const int lc = data.rows[root].a;
        const int rc = data.rows[root].b;
        if (leader == -1 && mc[root] <= t) {
            leader = root;
            ++nCluster;
        }
        if (lc >= n && !visited[lc]) {
            visited[lc] = 1;
            stack[++k] = lc;
            continue;
        }
        if (rc >= n && !visited[rc]) {
            visited[rc] = 1;
            stack[++k] = rc;
            continue;
        }
        if (lc < n) {
            if (leader == -1) {
                ++nCluster;
            }
            labels[lc] = nCluster;
        }
        if (rc < n) {
            if (leader == -1) {
                ++nCluster;
            }
            labels[rc] = nCluster;
        }
        if (leader == root) {
            leader = -1;
        }
        --k;
    }
    return labels;
}

int clusterCountAt(const DendrogramData& data, double t) {
    if (!data.isValid()) {
        return 0;
    }
    // A merge whose whole subtree sits at or below t is absorbed and removes one cluster.
    int merged = 0;
    for (double m : maxMergeHeights(data)) {
        merged += (m <= t) ? 1 : 0;
    }
    return data.n - merged;
}

CutInterval cutIntervalForK(const DendrogramData& data, int k) {
    CutInterval out;
    if (!data.isValid() || k < 1 || k > data.n) {
        return out;
    }
    const double inf = std::numeric_limits<double>::infinity();
    QVector<double> m = maxMergeHeights(data);
    std::sort(m.begin(), m.end());
    const int absorbed = data.n - k;  // merges at or below the cut
    out.lo = absorbed >= 1 ? m[absorbed - 1] : -inf;
    out.hi = absorbed <= m.size() - 1 ? m[absorbed] : inf;
    out.valid = out.lo < out.hi;
    if (!out.valid) {
        return out;
    }
    // Open ends get a margin of 5% of the tallest merge (a unit scale when every height is 0).
    const double top = m.isEmpty() ? 0.0 : m.last();
    const double margin = 0.05 * (top > 0 ? top : 1.0);
    if (std::isinf(out.lo) && std::isinf(out.hi)) {
        out.height = margin;  // a single leaf
    } else if (std::isinf(out.lo)) {
        out.height = out.hi > 0 ? out.hi / 2 : out.hi - margin;
    } else if (std::isinf(out.hi)) {
        out.height = out.lo + margin;
    } else {
        out.height = (out.lo + out.hi) / 2;
    }
    return out;
}

double cutHeightForK(const DendrogramData& data, int k, int* actualK) {
    if (!data.isValid()) {
        if (actualK) {
            *actualK = 0;
        }
        return 0.0;
    }
    k = std::clamp(k, 1, data.n);
    for (int kk = k; kk >= 1; --kk) {
        const CutInterval c = cutIntervalForK(data, kk);
        if (c.valid) {
            if (actualK) {
                *actualK = kk;
            }
            return c.height;
        }
    }
    // Unreachable: k = 1 is always reachable.
    if (actualK) {
        *actualK = 1;
    }
    return cutIntervalForK(data, 1).height;
}

ClusterAssignment assignmentAtHeight(const DendrogramData& data, double t,
                                     const QVector<int>& leafOrder) {
    ClusterAssignment out;
    if (!data.isValid()) {
        return out;
    }
    const QVector<int> scipyLabels = fclusterDistance(data, t);
    QVector<int> order = leafOrder;
    if (order.size() != data.n) {
        order.resize(data.n);
        for (int i = 0; i < data.n; ++i) {
            order[i] = i;
        }
    }
    QVector<int> renumber(data.n + 1, -1);
    int next = 0;
    out.labelOfLeaf.fill(-1, data.n);
    for (int leaf : order) {
        int& id = renumber[scipyLabels[leaf]];
        if (id < 0) {
            id = next++;
        }
        out.labelOfLeaf[leaf] = id;
    }
    for (int c = 0; c < next; ++c) {
        out.clusterNames << QStringLiteral("C%1").arg(c + 1);
    }
    out.manual.fill(false, next);
    return out;
}

QVector<int> subtreeLeaves(const DendrogramData& data, int node) {
    QVector<int> out;
    if (!data.isValid() || node < 0 || node > 2 * data.n - 2) {
        return out;
    }
    QVector<int> stack{node};
    while (!stack.isEmpty()) {
        const int id = stack.takeLast();
        if (id < data.n) {
            out.push_back(id);
        } else {
            stack.push_back(data.rows[id - data.n].a);
            stack.push_back(data.rows[id - data.n].b);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

QColor clusterColor(int cluster) {
    // Tableau 10 (2016 revision): distinct in hue and lightness, and readable on white.
    static const QRgb kPalette[] = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f,
                                    0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};
    constexpr int kCount = int(sizeof(kPalette) / sizeof(kPalette[0]));
    if (cluster < 0) {
        return QColor(0x9a9a9a);
    }
    return QColor(kPalette[cluster % kCount]);
}

}  // namespace den2moe::ui
