// Pure dendrogram geometry and cuts over a scipy linkage (DendrogramData), no widgets:
//  - leaf order and segment coordinates identical to scipy.cluster.hierarchy.dendrogram(Z,
//  no_plot=True)
//    (icoord/dcoord/leaves, same list order, no truncation or sorting);
//  - flat clusters at a cut height with fcluster(Z, t, 'distance') semantics (merged iff merge
//  height <= t,
//    scipy's numbering), the cut-height interval that yields K clusters, subtree membership,
//    colours.
// Tested against scipy by tests/widgets/tst_dendrogram_layout.cpp.
#pragma once

#include "view_data.h"

#include <QColor>
#include <QVector>

namespace den2moe::ui {

/// @brief One merge drawn as scipy's "U": icoord [xl, xl, xr, xr], dcoord [hl, h, h, hr].
struct DendrogramSegment {
    int node = -1;  ///< merge id (n + linkage row)
    double icoord[4] = {0, 0, 0, 0};
    double dcoord[4] = {0, 0, 0, 0};
};

/// @brief scipy's dendrogram layout. Leaf at position p (left to right) sits at icoord 5 + 10 p.
struct DendrogramLayout {
    QVector<int> leaves;                  ///< scipy 'leaves': project index at each position
    QVector<int> positionOfLeaf;          ///< inverse of leaves
    QVector<DendrogramSegment> segments;  ///< scipy 'icoord'/'dcoord' order (post-order)
    double maxHeight = 0.0;               ///< max merge height (0 for a single leaf)

    /// Leaf position (0..n-1) for a scipy icoord value.
    static double positionForCoord(double icoord) { return (icoord - 5.0) / 10.0; }
};

/// scipy.cluster.hierarchy.dendrogram(Z, no_plot=True) for a valid linkage.
DendrogramLayout computeDendrogramLayout(const DendrogramData& data);

/// Per merge row r: max merge height in the subtree of n + r (scipy get_max_dist_for_each_cluster).
QVector<double> maxMergeHeights(const DendrogramData& data);

/// fcluster(Z, t, criterion='distance'): 1-based labels in scipy's numbering, one per leaf.
QVector<int> fclusterDistance(const DendrogramData& data, double t);

/// Number of flat clusters a distance cut at t gives.
int clusterCountAt(const DendrogramData& data, double t);

/// @brief The cut heights [lo, hi) that give exactly k clusters; lo may be -inf (k = n), hi +inf (k
/// = 1).
struct CutInterval {
    bool valid = false;  ///< false when ties make k unreachable
    double lo = 0.0;
    double hi = 0.0;
    double height = 0.0;  ///< the cut we place for k: mid-interval, or a margin past an open end
};

CutInterval cutIntervalForK(const DendrogramData& data, int k);

/// Cut height for k clusters. When k is unreachable (tied heights) it follows fcluster's
/// 'maxclust': the largest reachable count below k; `actualK` receives the count the height gives.
double cutHeightForK(const DendrogramData& data, int k, int* actualK = nullptr);

/// Flat clusters at t, renumbered 0.. by first appearance in `leafOrder` (top-to-bottom in the
/// views), named "C1".."Ck", none manual, default colours.
ClusterAssignment assignmentAtHeight(const DendrogramData& data, double t,
                                     const QVector<int>& leafOrder);

/// Leaves under `node` (a leaf id < n or a merge id n + r), ascending project indices.
QVector<int> subtreeLeaves(const DendrogramData& data, int node);

/// The house qualitative palette (colour-blind aware, cycles after 10).
QColor clusterColor(int cluster);

}  // namespace den2moe::ui
