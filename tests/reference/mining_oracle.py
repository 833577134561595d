#!/usr/bin/env python3
"""Oracle for the affinity stage of mining: from the C++ run's raw perplexity matrix (mining.json),
compute with numpy/scipy the column-min normalisation, Pearson correlation of the rows (and of the
columns), distance 1 - r, and for every linkage method scipy's linkage matrix, dendrogram leaf order
and fcluster(maxclust) labels for every K (documented semantics, see linkage_oracle.py). Test oracle only, never used by the product.

usage: mining_oracle.py MINING_DIR OUT.json
"""
import json
import os
import sys

import numpy as np
from scipy.cluster.hierarchy import dendrogram, linkage
from scipy.spatial.distance import squareform

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# fcluster maxclust as documented / scipy >= 1.15 (gh-12651), via the 'distance' criterion
from linkage_oracle import maxclust_expected  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    m = json.load(open(f"{src}/mining.json"))
    names = m["domains"]
    n = len(names)
    P = np.array(m["ppl"], dtype=np.float64).reshape(n, n)
    S = P.min(axis=0, keepdims=True) / P
    res = {"domains": names, "normalized": S.ravel().tolist(), "methods": {}}
    for correlate in ("rows", "columns"):
        X = S if correlate == "rows" else S.T
        R = np.corrcoef(X)
        D = 1.0 - 0.5 * (R + R.T)
        np.fill_diagonal(D, 0.0)
        D = np.maximum(D, 0.0)
        res[f"correlation_{correlate}"] = R.ravel().tolist()
        for method in ("single", "complete", "average", "ward"):
            Z = linkage(squareform(D, checks=False), method=method)
            leaves = dendrogram(Z, no_plot=True)["leaves"]
            cuts = {str(k): maxclust_expected(Z, n, k) for k in range(1, n + 1)}
            res["methods"][f"{correlate}/{method}"] = {"Z": Z.ravel().tolist(), "leaves": leaves, "maxclust": cuts}
    json.dump(res, open(out, "w"))
    print(f"wrote {out}: {n} domains, 8 linkages")


if __name__ == "__main__":
    main()
