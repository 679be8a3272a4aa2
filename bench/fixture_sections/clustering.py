"""Clustering and verification fixtures from scikit-learn 1.9.1 itself:
`normalized_mutual_info_score` and `adjusted_mutual_info_score` (arithmetic mean, the defaults),
`mutual_info_score`, `roc_auc_score` and `roc_curve(drop_intermediate=False)`.

NMI/AMI cases cover the degenerate ones (identical labellings, all singletons, one cluster, one
side a single cluster, empty input, n = 1 and n = 2, label permutations and non-contiguous
labels) and random labellings of several sizes. ROC cases include tied scores, scores equal
across classes, and distances (negated scores).
"""
import numpy as np
from sklearn.metrics import (
    adjusted_mutual_info_score,
    mutual_info_score,
    normalized_mutual_info_score,
    roc_auc_score,
    roc_curve,
)


def _mi_case(name, a, b):
    a = [int(v) for v in a]
    b = [int(v) for v in b]
    return {
        "name": name,
        "labels_true": a,
        "labels_pred": b,
        "nmi": float(normalized_mutual_info_score(a, b)),
        "ami": float(adjusted_mutual_info_score(a, b)),
        "mi": float(mutual_info_score(a, b)) if len(a) > 0 else 0.0,
    }


def _roc_case(name, scores, same):
    scores = [float(s) for s in scores]
    same = [int(s) for s in same]
    fpr, tpr, thresholds = roc_curve(same, scores, drop_intermediate=False)
    return {
        "name": name,
        "scores": scores,
        "is_same": same,
        "auc": float(roc_auc_score(same, scores)),
        "fpr": fpr.tolist(),
        "tpr": tpr.tolist(),
        "thresholds": thresholds.tolist(),
    }


def generate():
    rng = np.random.RandomState(5)
    mi = []
    # Degenerate cases of issue 13, fault 5.
    mi.append(_mi_case("empty", [], []))
    mi.append(_mi_case("n1", [0], [0]))
    mi.append(_mi_case("n1_other_labels", [3], [-7]))
    mi.append(_mi_case("n2_identical", [1, 0], [1, 0]))
    mi.append(_mi_case("n2_swapped", [0, 1], [1, 0]))
    mi.append(_mi_case("n2_one_cluster_both", [0, 0], [5, 5]))
    mi.append(_mi_case("n2_one_cluster_true", [0, 0], [0, 1]))
    mi.append(_mi_case("n2_one_cluster_pred", [0, 1], [0, 0]))
    for n in (3, 4, 5, 7, 10, 16, 31, 64):
        mi.append(_mi_case(f"singletons_identical_n{n}", range(n), range(n)))
        mi.append(_mi_case(f"singletons_permuted_n{n}", range(n), rng.permutation(n)))
        mi.append(_mi_case(f"one_cluster_vs_singletons_n{n}", [0] * n, range(n)))
        mi.append(_mi_case(f"singletons_vs_one_cluster_n{n}", range(n), [4] * n))
        mi.append(_mi_case(f"one_cluster_both_n{n}", [2] * n, [9] * n))
        two = [0] * (n // 2) + [1] * (n - n // 2)
        mi.append(_mi_case(f"singletons_vs_two_n{n}", range(n), two))
        mi.append(_mi_case(f"two_vs_singletons_n{n}", two, range(n)))
    for n, k in ((6, 2), (12, 3), (20, 4), (50, 5), (100, 7)):
        a = rng.randint(0, k, size=n)
        perm = rng.permutation(k) * 3 - 4  # relabelled: non-contiguous, negative labels
        mi.append(_mi_case(f"identical_relabelled_n{n}_k{k}", a, perm[a]))
    for n, ka, kb in ((8, 2, 3), (15, 3, 3), (40, 4, 6), (120, 6, 4), (300, 10, 10), (1000, 8, 12)):
        a = rng.randint(0, ka, size=n)
        b = rng.randint(0, kb, size=n)
        mi.append(_mi_case(f"random_n{n}_{ka}x{kb}", a, b))
        # Correlated: b agrees with a on most points.
        c = np.where(rng.rand(n) < 0.8, a % kb, b)
        mi.append(_mi_case(f"correlated_n{n}_{ka}x{kb}", a, c))
    roc = []
    roc.append(_roc_case("separable", [0.9, 0.8, 0.3], [1, 0, 0]))
    roc.append(_roc_case("ties_across_classes", [0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]))
    roc.append(_roc_case("all_tied", [0.2, 0.2, 0.2, 0.2, 0.2], [1, 0, 1, 0, 0]))
    roc.append(_roc_case("inverted", [0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]))
    s = np.round(rng.normal(size=200) * 4) / 4
    y = (rng.rand(200) < 1 / (1 + np.exp(-s))).astype(int)
    roc.append(_roc_case("random_coarse_200", s, y))
    s = rng.normal(size=150)
    y = (rng.rand(150) < 0.3).astype(int)
    roc.append(_roc_case("random_150", s, y))
    dist = np.round(rng.rand(60) * 10) / 10
    y = (rng.rand(60) < np.exp(-2 * dist)).astype(int)
    roc.append(_roc_case("distances_negated_60", -dist, y))
    return {"mutual_information": mi, "roc": roc}
