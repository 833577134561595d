#!/usr/bin/env python3
"""Oracle for tests/widgets/tst_dendrogram_layout: scipy's dendrogram layout and flat clusters.

Writes JSON with several linkages (random points under four methods, heavy ties including zero
heights, 18 leaves, tiny trees) and, for each, what scipy.cluster.hierarchy returns:
dendrogram(Z, no_plot=True) icoord / dcoord / leaves, fcluster(Z, t, 'distance') at a set of cuts
(every merge height exactly, midpoints, below 0, above the top) and the 'maxclust' partition for
every k. Floats are written with repr (round-trip exact), so the C++ side compares with ==.

'maxclust' is computed from its documented definition (the smallest threshold r, possibly below every
merge, whose distance cut gives at most k clusters) through fcluster(..., 'distance'), not through
fcluster(Z, k, 'maxclust'): scipy 1.10 (Debian 12) reads past its max-distance array there and returns
too few clusters for k >= n - 1 or with ties (e.g. one cluster for k = 2 on two leaves).

Usage: dendrogram_oracle.py OUT.json
"""
import json
import os
import sys

import numpy as np
from scipy.cluster.hierarchy import dendrogram, fcluster, linkage


def case(name, Z):
    Z = np.asarray(Z, dtype=np.float64)
    n = Z.shape[0] + 1
    d = dendrogram(Z, no_plot=True)
    heights = sorted(set(float(h) for h in Z[:, 2]))
    cuts = [heights[0] - 1.0, -0.5] + heights
    cuts += [(a + b) / 2 for a, b in zip(heights, heights[1:])]
    cuts += [heights[-1] * 1.5 + 1.0]
    return {
        "name": name,
        "n": n,
        "Z": [[int(r[0]), int(r[1]), float(r[2]), int(r[3])] for r in Z],
        "icoord": [[float(v) for v in seg] for seg in d["icoord"]],
        "dcoord": [[float(v) for v in seg] for seg in d["dcoord"]],
        "leaves": [int(v) for v in d["leaves"]],
        "cuts": [{"t": float(t), "labels": [int(v) for v in fcluster(Z, t, criterion="distance")]}
                 for t in cuts],
        "maxclust": [{"k": k, "labels": maxclust(Z, k)} for k in range(1, n + 1)],
    }


def maxclust(Z, k):
    heights = sorted(set(float(h) for h in Z[:, 2]))
    for r in [heights[0] - 1.0] + heights:
        labels = fcluster(Z, r, criterion="distance")
        if labels.max() <= k:
            return [int(v) for v in labels]
    raise AssertionError("the top merge always gives one cluster")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rng = np.random.default_rng(20240607)
    cases = []
    for method in ("average", "complete", "single", "ward"):
        pts = rng.normal(size=(12, 3))
        cases.append(case(f"random12_{method}", linkage(pts, method=method)))
    # 18 leaves in four loose groups, like the calibration domains.
    centres = rng.normal(scale=4.0, size=(4, 5))
    pts18 = np.vstack([centres[i % 4] + rng.normal(size=5) for i in range(18)])
    cases.append(case("domains18_average", linkage(pts18, method="average")))
    cases.append(case("domains18_ward", linkage(pts18, method="ward")))
    # Ties: integer points on a line, with duplicates (zero-height merges) and equal gaps.
    ties = np.array([[0], [0], [1], [2], [2], [4], [6], [6], [8], [9], [11], [11]], dtype=float)
    cases.append(case("ties12_single", linkage(ties, method="single")))
    cases.append(case("ties12_complete", linkage(ties, method="complete")))
    grid = np.array([[x, y] for x in range(3) for y in range(3)], dtype=float)
    cases.append(case("grid9_single", linkage(grid, method="single")))
    cases.append(case("two_leaves", linkage(np.array([[0.0], [3.0]]), method="average")))
    cases.append(case("three_leaves", linkage(np.array([[0.0], [1.0], [5.0]]), method="average")))

    out = sys.argv[1]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"scipy": __import__("scipy").__version__, "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
