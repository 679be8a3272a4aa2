"""Retrieval fixtures: pytorch-metric-learning 2.9.0's AccuracyCalculator itself (faiss k-NN on the
CPU: needs Debian's python3-faiss, in the install command of bench/fixtures.py), on several
query/reference layouts. Each case holds its inputs (embeddings as float32 values,
labels), PML's `k` option, the ranking length PML used (`k_used`, from `determine_k`) and PML's
values of every k-NN metric it shares with `retrievalMetrics`:

    precision_at_1, r_precision, mean_average_precision_at_r, mean_average_precision,
    mean_reciprocal_rank

Layouts: self (reference = None: each query ranked against the others), separate query and
reference sets, exact ties in distance (integer coordinates, so equal distances are equal in
float32), lone queries (a label with no other member), no query defined (every metric NaN),
k smaller and larger than R, and the smallest inputs of faults 1, 2 and 7 of issue 13.
"""
import logging

import numpy as np
import torch
from pytorch_metric_learning.utils import accuracy_calculator as ac

METRICS = (
    "precision_at_1",
    "r_precision",
    "mean_average_precision_at_r",
    "mean_average_precision",
    "mean_reciprocal_rank",
)

logging.getLogger("PML").setLevel(logging.ERROR)


def _case(name, query, query_labels, reference=None, reference_labels=None, k=None):
    query = np.asarray(query, dtype=np.float32)
    query_labels = np.asarray(query_labels, dtype=np.int64)
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float32)
        reference_labels = np.asarray(reference_labels, dtype=np.int64)
    calc = ac.AccuracyCalculator(include=METRICS, k=k, device=torch.device("cpu"))
    values = calc.get_accuracy(query, query_labels, reference, reference_labels)
    # The ranking length PML used, as get_accuracy computes it.
    self_mode = reference is None
    ref_labels_t = torch.tensor(query_labels if self_mode else reference_labels).float()
    label_counts = ac.get_label_match_counts(
        torch.tensor(query_labels).float(), ref_labels_t, ac.EQUALITY
    )
    k_used = calc.determine_k(label_counts[1], len(ref_labels_t), self_mode)
    _, not_lone = ac.get_lone_query_labels(
        torch.tensor(query_labels).float(), label_counts, self_mode, ac.EQUALITY
    )
    return {
        "name": name,
        "query": query.astype(np.float64),
        "query_labels": query_labels,
        "reference": None if self_mode else reference.astype(np.float64),
        "reference_labels": None if self_mode else reference_labels,
        "k": k,
        "k_used": int(k_used),
        "lone_queries": int((~not_lone).sum()),
        "expected": {m: float(values[m]) for m in METRICS},
    }


def _blobs(rng, n, d, classes, spread=0.8):
    centres = rng.normal(size=(classes, d))
    labels = rng.randint(0, classes, size=n)
    x = (0.7 * centres[labels] + spread * rng.normal(size=(n, d))).astype(np.float32)
    return x, labels


def generate():
    rng = np.random.RandomState(13)
    cases = []
    # Issue 13's smallest inputs.
    cases.append(_case("fault1_map_divisor", [[0]], [0], [[1], [2], [3]], [0, 1, 0], k=1))
    cases.append(_case("fault2_no_query_defined", [[0], [1]], [7, 8], [[0], [1]], [1, 2]))
    cases.append(_case("fault7_far_from_origin", [[1000, 1000]], [0],
                       [[1000.25, 1000], [1000.0625, 1000]], [1, 0]))
    # Self layout (reference omitted), random blobs, several k.
    x, y = _blobs(rng, 40, 6, 4)
    for k in (None, 1, 3, 8, "max_bin_count"):
        cases.append(_case(f"self_blobs_k{k}", x, y, k=k))
    # Separate query and reference sets.
    q, ql = _blobs(rng, 25, 5, 3)
    r, rl = _blobs(rng, 35, 5, 3)
    for k in (None, 2, 5, 20):
        cases.append(_case(f"separate_blobs_k{k}", q, ql, r, rl, k=k))
    # Exact ties: 1-D integer points, equal distances on both sides of each query.
    tq = [[0], [4], [10]]
    tr = [[-2], [2], [-2], [2], [6], [2], [8], [12], [8]]
    cases.append(_case("ties_separate", tq, [0, 1, 0], tr, [0, 1, 1, 0, 1, 0, 0, 1, 1]))
    cases.append(_case("ties_separate_k3", tq, [0, 1, 0], tr, [0, 1, 1, 0, 1, 0, 0, 1, 1], k=3))
    grid = [[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1], [2, 0], [0, 2], [1, 1]]
    cases.append(_case("ties_self", grid, [0, 1, 0, 1, 0, 1, 1, 0]))
    cases.append(_case("ties_self_k2", grid, [0, 1, 0, 1, 0, 1, 1, 0], k=2))
    # Lone queries: a class with one member (self), labels absent from the reference (separate).
    lx, ly = _blobs(rng, 12, 3, 3)
    ly = ly.copy()
    ly[0] = 9  # a singleton class
    ly[5] = 11  # another
    cases.append(_case("lone_self", lx, ly))
    cases.append(_case("lone_self_k2", lx, ly, k=2))
    lq, lql = _blobs(rng, 10, 3, 4)
    lr, lrl = _blobs(rng, 14, 3, 4)
    lrl = np.where(lrl == 3, 2, lrl)  # no reference of class 3: its queries are lone
    cases.append(_case("lone_separate", lq, lql, lr, lrl))
    cases.append(_case("lone_separate_k4", lq, lql, lr, lrl, k=4))
    # Every query lone: PML returns NaN for every metric.
    cases.append(_case("all_lone_self", [[0, 0], [1, 0], [0, 3]], [1, 2, 3]))
    # k smaller than R (large classes) and larger than R (small classes).
    bx, by = _blobs(rng, 30, 4, 2, spread=1.5)
    for k in (2, 5, 25):
        cases.append(_case(f"big_classes_k{k}", bx, by, k=k))
    # Far from the origin: small spread around a large offset (float32 cancellation territory).
    # Fewer than 20 queries, so that faiss computes exact differences (from 20 queries on, its
    # IndexFlatL2 uses the float32 expansion itself and loses these distances).
    fx, fy = _blobs(rng, 16, 3, 2, spread=0.05)
    fx = (fx * 0.01 + np.float32(3000.0)).astype(np.float32)
    cases.append(_case("far_from_origin_self", fx, fy))
    ox, oy = _blobs(rng, 16, 3, 2)
    ox = (ox * 0.01 + np.float32(-2000.0)).astype(np.float32)
    oq, oql = _blobs(rng, 8, 3, 2)
    oq = (oq * 0.01 + np.float32(-2000.0)).astype(np.float32)
    cases.append(_case("far_from_origin_overlap_self", ox, oy))
    cases.append(_case("far_from_origin_overlap_separate_k5", oq, oql, ox, oy, k=5))
    # Non-contiguous and negative labels.
    nx, ny = _blobs(rng, 16, 3, 3)
    ny = np.array([-5, 100, 7])[ny]
    cases.append(_case("odd_labels_self", nx, ny, k=4))
    return cases
