#!/usr/bin/python3
# Golden data for engine/cluster/linkage: runs scipy.cluster.hierarchy (Debian python3-scipy 1.10)
# on random, tie-heavy and correlation-distance matrices for single/complete/average/ward and writes
# the linkage Z, fcluster maxclust (K = 1..n) and distance labels, dendrogram leaves and
# numpy.corrcoef results as JSON to the path given as argv[1]. Deterministic (fixed seeds).
# Usage: linkage_oracle.py OUT.json
import json
import os
import sys

import numpy as np
import scipy
from scipy.cluster.hierarchy import dendrogram, fcluster, linkage
from scipy.spatial.distance import pdist, squareform

METHODS = ["single", "complete", "average", "ward"]


def maxclust_expected(Z, n, k):
    """fcluster maxclust semantics as documented (and as scipy >= 1.15 implements it, gh-12651):
    the smallest merge height giving <= k clusters, every leaf alone when k >= n. Computed
    through the independent 'distance' criterion, so it is not a copy of the C++ port."""
    if k >= n:
        return list(range(1, n + 1))
    for h in np.unique(Z[:, 2]):  # ascending
        labels = fcluster(Z, h, criterion="distance")
        if labels.max() <= k:
            return labels.tolist()
    raise AssertionError("unreachable: the root height gives one cluster")


def make_case(name, y, method):
    y = np.asarray(y, dtype=np.float64)
    D = squareform(y)  # exact symmetric square matrix, zero diagonal
    n = D.shape[0]
    Z = linkage(squareform(D), method)
    heights = np.unique(Z[:, 2])
    cuts = list(heights) + [0.5 * (a + b) for a, b in zip(heights[:-1], heights[1:])]
    cuts += [0.0, -1.0, float(heights[-1]) * 1.5 + 1.0]
    dist_cuts = [{"t": float(t), "labels": fcluster(Z, t, criterion="distance").tolist()}
                 for t in sorted(set(float(c) for c in cuts))]
    # scipy 1.10 reads one past its MC array for n == 2 (undefined); record nothing there.
    scipy_maxclust = ([fcluster(Z, k, criterion="maxclust").tolist() for k in range(1, n + 1)]
                      if n > 2 else None)
    return {
        "name": name,
        "method": method,
        "n": n,
        "condensed": y.tolist(),
        "Z": Z.tolist(),
        "leaves": [int(v) for v in dendrogram(Z, no_plot=True)["leaves"]],
        "maxclust_scipy": scipy_maxclust,
        "maxclust_expected": [maxclust_expected(Z, n, k) for k in range(1, n + 1)],
        "distance_cuts": dist_cuts,
    }


def matrices():
    """(name, condensed distance vector) pairs."""
    out = []
    # 1. random non-metric symmetric distances, every size 2..30, several seeds
    for seed in range(3):
        rng = np.random.default_rng(1000 + seed)
        for n in range(2, 31):
            out.append((f"uniform_n{n}_s{seed}", rng.random(n * (n - 1) // 2)))
    # 2. Euclidean random points
    for seed, (n, d) in enumerate([(5, 2), (12, 3), (25, 4), (30, 2)]):
        rng = np.random.default_rng(2000 + seed)
        out.append((f"euclid_n{n}_d{d}", pdist(rng.normal(size=(n, d)))))
    # 3. deliberate ties: integer distances from a small range
    for seed in range(3):
        rng = np.random.default_rng(3000 + seed)
        for n in [3, 4, 5, 6, 8, 10, 13, 17, 22, 30]:
            hi = 3 if seed == 0 else 5
            out.append((f"intties_n{n}_lo1_hi{hi}_s{seed}",
                        rng.integers(1, hi + 1, size=n * (n - 1) // 2).astype(float)))
    # 4. grids of points: many equal distances (Euclidean and city-block)
    for rows, cols in [(2, 2), (3, 3), (4, 4), (3, 5), (5, 6)]:
        pts = np.array([(r, c) for r in range(rows) for c in range(cols)], dtype=float)
        out.append((f"grid{rows}x{cols}_euclid", pdist(pts)))
        out.append((f"grid{rows}x{cols}_cityblock", pdist(pts, "cityblock")))
    # 5. points on a line with duplicates (zero distances) and equal gaps
    for name, xs in [("line_dups", [0, 0, 1, 1, 1, 3, 3, 7]),
                     ("line_equal_gaps", list(range(10))),
                     ("all_equal", [5.0] * 6)]:
        out.append((name, pdist(np.asarray(xs, dtype=float)[:, None])))
    # 6. correlation distances 1 - corrcoef of random profiles (domain affinity: 18x18, 24x24)
    for seed in range(6):
        rng = np.random.default_rng(4000 + seed)
        n = 18 if seed < 4 else 24
        if seed % 2 == 0:
            prof = rng.normal(size=(n, n))
        else:  # perplexity-like: P_ij > 1, N_ij = min_k P_kj / P_ij (DIVE-FLAP section 4)
            P = np.exp(rng.uniform(1.5, 4.0, size=(n, n)))
            prof = P.min(axis=0, keepdims=True) / P
        D = 1.0 - np.corrcoef(prof)
        D = 0.5 * (D + D.T)
        np.fill_diagonal(D, 0.0)
        out.append((f"corr_n{n}_s{seed}", squareform(D, checks=False)))
    return out


def pearson_cases():
    cases = []
    for seed, (r, c) in enumerate([(2, 2), (3, 5), (18, 18), (24, 24), (7, 40)]):
        rng = np.random.default_rng(5000 + seed)
        m = rng.normal(size=(r, c)) * rng.uniform(0.1, 10.0, size=(r, 1)) + rng.normal(size=(r, 1))
        cases.append({"rows": r, "cols": c, "data": m.ravel().tolist(),
                      "corr": np.corrcoef(m).ravel().tolist()})
    return cases


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: linkage_oracle.py OUT.json")
    cases = [make_case(name, y, method) for name, y in matrices() for method in METHODS]
    doc = {
        "generator": "tests/reference/linkage_oracle.py",
        "scipy_version": scipy.__version__,
        "numpy_version": np.__version__,
        "cases": cases,
        "pearson": pearson_cases(),
    }
    out = sys.argv[1]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, out)
    print(f"wrote {len(cases)} linkage cases, {len(doc['pearson'])} pearson cases to {out}")


if __name__ == "__main__":
    main()
