"""Peer side of `bench/knn.ts --metrics`: the same metrics computed by scikit-learn and by a
numpy transcription of pytorch-metric-learning's AccuracyCalculator formulas (PML itself is not
installable here), on data written by the TypeScript side.

Usage: sklearn_metrics.py DIR N D
DIR holds x.f32 [N x D] float32, labels.i32 [N], clusters.i32 [N] (our k-means labels),
scores.f32 [P] and same.i32 [P] (verification pairs). Prints one JSON object.
"""
import json
import sys

import faiss
import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score, roc_auc_score


def pml_retrieval(x, labels):
    """AccuracyCalculator(k=None) with query = reference (self excluded), faiss exact search."""
    n = len(x)
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    _, ids = index.search(x, n)
    # Remove each query's own id (wherever it landed) -> n - 1 columns.
    knn = np.array([row[row != i][: n - 1] for i, row in enumerate(ids)])
    knn_labels = labels[knn]
    uniq, counts = np.unique(labels, return_counts=True)
    count_of = dict(zip(uniq, counts))
    r = np.array([count_of[l] - 1 for l in labels])
    keep = r >= 1
    same = knn_labels == labels[:, None]
    cols = np.arange(1, n)
    relevance = cols[None, :] <= r[:, None]
    eq = same & relevance
    cum = np.cumsum(eq, axis=1)
    map_r = np.sum(cum * eq / cols[None, :], axis=1) / r.clip(min=1)
    rp = np.sum(eq, axis=1) / r.clip(min=1)
    cum_all = np.cumsum(same, axis=1)
    ap = np.sum(cum_all * same / cols[None, :], axis=1) / np.maximum(np.sum(same, axis=1), 1)
    first = np.argmax(same, axis=1) + 1
    rr = np.where(same.any(axis=1), 1.0 / first, 0.0)
    return {
        "precisionAt1": float(np.mean(same[keep, 0])),
        "rPrecision": float(np.mean(rp[keep])),
        "mapAtR": float(np.mean(map_r[keep])),
        "meanAveragePrecision": float(np.mean(ap[keep])),
        "mrr": float(np.mean(rr[keep])),
    }


def main() -> None:
    d, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    x = np.fromfile(f"{d}/x.f32", dtype="<f4").reshape(n, dim)
    labels = np.fromfile(f"{d}/labels.i32", dtype="<i4")
    clusters = np.fromfile(f"{d}/clusters.i32", dtype="<i4")
    scores = np.fromfile(f"{d}/scores.f32", dtype="<f4").astype(np.float64)
    same = np.fromfile(f"{d}/same.i32", dtype="<i4")
    k = len(np.unique(labels))
    km = KMeans(n_clusters=k, n_init=3, random_state=0).fit(x.astype(np.float64))
    out = {
        "sklearn": sklearn.__version__,
        "nmi": normalized_mutual_info_score(labels, clusters),
        "ami": adjusted_mutual_info_score(labels, clusters),
        "rocAuc": roc_auc_score(same, scores),
        "kmeansInertia": float(km.inertia_),
        "kmeansNmi": normalized_mutual_info_score(labels, km.labels_),
        **pml_retrieval(x, labels),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
