"""Loss fixtures: pytorch-metric-learning 2.9.0's losses themselves, for every loss the library
has a PML counterpart of, with their defaults and non-default options: margins and the other
hyper-parameters, each reducer (MeanReducer, SumReducer, AvgNonZeroReducer, DoNothingReducer),
each distance (LpDistance, LpDistance(power=2), CosineSimilarity, DotProductSimilarity,
normalize_embeddings=False) and tuples from PML's own miners.

Each case holds the inputs (float32-representable embeddings, labels, the tuples when given), the
library's function name and options (our option names), the PML construction (for the record),
PML's value (float64) and PML's gradient w.r.t. the embeddings; for DoNothingReducer, PML's
per-element losses with their indices and reduction types.

Losses without a PML counterpart are not here: positivePairLoss and ringLoss (the library's own),
softNearestNeighborLoss (TensorFlow Similarity's), contrastiveLoss's `squared` option.
"""
import logging

import numpy as np
import torch
from pytorch_metric_learning import distances, losses, miners, reducers

logging.getLogger("PML").setLevel(logging.ERROR)

DIST = {
    None: None,
    "euclidean": lambda norm: distances.LpDistance(normalize_embeddings=norm),
    "sqeuclidean": lambda norm: distances.LpDistance(power=2, normalize_embeddings=norm),
    "cosine": lambda norm: distances.CosineSimilarity(),  # always normalises
    "dot": lambda norm: distances.DotProductSimilarity(normalize_embeddings=norm),
}
RED = {
    None: None,
    "mean": reducers.MeanReducer,
    "sum": reducers.SumReducer,
    "avgNonZero": reducers.AvgNonZeroReducer,
    "none": reducers.DoNothingReducer,
}
# Our option names → PML's constructor keywords.
KW = {
    "posMargin": "pos_margin",
    "negMargin": "neg_margin",
    "margin": "margin",
    "swap": "swap",
    "smoothLoss": "smooth_loss",
    "temperature": "temperature",
    "alpha": "alpha",
    "beta": "beta",
    "base": "base",
    "m": "m",
    "gamma": "gamma",
}
PML = {
    "contrastiveLoss": losses.ContrastiveLoss,
    "tripletMarginLoss": losses.TripletMarginLoss,
    "ntXentLoss": losses.NTXentLoss,
    "supConLoss": losses.SupConLoss,
    "multiSimilarityLoss": losses.MultiSimilarityLoss,
    "circleLoss": losses.CircleLoss,
    "liftedStructureLoss": losses.LiftedStructureLoss,
    "generalizedLiftedStructureLoss": losses.GeneralizedLiftedStructureLoss,
    "nPairsLoss": losses.NPairsLoss,
}


def _construct(name, options):
    kwargs = {KW[k]: v for k, v in options.items() if k in KW}
    norm = options.get("normalizeEmbeddings", True)
    dist = options.get("distance")
    if dist is not None or not norm:
        kwargs["distance"] = DIST[dist or _default_distance(name)](norm)
    red = options.get("reduction")
    if red is not None:
        kwargs["reducer"] = RED[red]()
    return PML[name](**kwargs), kwargs


def _default_distance(name):
    return {
        "ntXentLoss": "cosine",
        "supConLoss": "cosine",
        "multiSimilarityLoss": "cosine",
        "circleLoss": "cosine",
        "nPairsLoss": "dot",
    }.get(name, "euclidean")


def _describe(kwargs):
    return {k: (type(v).__name__ + (f"(power={v.power}, normalize_embeddings={v.normalize_embeddings})"
                                    if hasattr(v, "power") else "")) if not isinstance(v, (int, float, bool)) else v
            for k, v in kwargs.items()}


def _tuples_json(t):
    if t is None:
        return None
    if len(t) == 3:
        return {"a": t[0], "p": t[1], "n": t[2]}
    return {"a1": t[0], "p": t[1], "a2": t[2], "n": t[3]}


def _case(name, loss, x, labels, options=None, tuples=None):
    options = dict(options or {})
    fn, kwargs = _construct(loss, options)
    e = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(labels)
    if options.get("reduction") == "none":
        out = fn(e, y, tuples)
        parts = []
        for key, sub in out.items():
            idx = sub["indices"]
            if isinstance(idx, tuple):
                idx = [t.tolist() for t in idx]
            else:
                idx = [idx.tolist()]
            parts.append({"key": key, "losses": sub["losses"].detach(), "indices": idx,
                          "reduction_type": sub["reduction_type"]})
        value, grad = None, None
    else:
        value = fn(e, y, tuples)
        value.backward()
        grad = e.grad
        value = value.detach()
        parts = None
    return {
        "name": name,
        "loss": loss,
        "options": options,
        "pml": {"class": type(fn).__name__, "kwargs": _describe(kwargs)},
        "embeddings": x,
        "labels": labels,
        "indices": _tuples_json(None if tuples is None else [t.tolist() for t in tuples]),
        "value": value,
        "grad": grad,
        "none": parts,
    }


def _inputs(rng, n, d, classes):
    x = rng.normal(size=(n, d)).astype(np.float32).astype(np.float64)
    labels = [i % classes for i in range(n)]
    rng.shuffle(labels)
    return x.tolist(), labels


def generate():
    rng = np.random.RandomState(2026)
    x, y = _inputs(rng, 9, 4, 3)
    # Coincident points inside and across classes (zero distances off the diagonal).
    dup = [[1.0, 0.0, 0.5], [1.0, 0.0, 0.5], [0.0, 1.0, 0.25], [0.0, 1.0, 0.25], [1.0, 0.0, 0.5],
           [0.5, 0.75, 1.0], [0.25, 0.5, 1.0], [0.25, 0.5, 1.0]]
    dup_y = [0, 0, 1, 1, 1, 0, 1, 0]
    xt = torch.tensor(x, dtype=torch.float64)
    yt = torch.tensor(y)
    pairs = miners.PairMarginMiner(pos_margin=0.6, neg_margin=1.2)(xt, yt)
    triplets = miners.TripletMarginMiner(margin=0.4, type_of_triplets="semihard")(xt, yt)
    cases = []
    grid = {
        "contrastiveLoss": [
            {}, {"posMargin": 0.1, "negMargin": 0.6}, {"reduction": "mean"}, {"reduction": "sum"},
            {"reduction": "none"}, {"distance": "sqeuclidean", "negMargin": 1.5},
            {"distance": "cosine", "posMargin": 0.9, "negMargin": 0.3},
            {"distance": "dot", "posMargin": 0.8, "negMargin": 0.1},
            {"normalizeEmbeddings": False, "negMargin": 2.5},
        ],
        "tripletMarginLoss": [
            {}, {"margin": 0.3}, {"swap": True}, {"smoothLoss": True}, {"reduction": "mean"},
            {"reduction": "sum"}, {"reduction": "none"}, {"distance": "sqeuclidean", "margin": 0.5},
            {"distance": "cosine", "margin": 0.2}, {"distance": "dot", "margin": 0.1, "swap": True},
            {"normalizeEmbeddings": False, "margin": 1.0},
        ],
        "ntXentLoss": [
            {}, {"temperature": 0.5}, {"reduction": "sum"}, {"reduction": "none"},
            {"distance": "dot", "temperature": 0.3}, {"distance": "euclidean", "temperature": 0.4},
            {"reduction": "avgNonZero"},
        ],
        "supConLoss": [
            {}, {"temperature": 0.5}, {"reduction": "mean"}, {"reduction": "none"},
            {"distance": "dot", "temperature": 0.3},
        ],
        "multiSimilarityLoss": [
            {}, {"alpha": 1.0, "beta": 10.0, "base": 0.3}, {"reduction": "sum"}, {"reduction": "none"},
            {"distance": "euclidean", "base": 1.0}, {"reduction": "avgNonZero"},
        ],
        "circleLoss": [{}, {"m": 0.25, "gamma": 32.0}, {"reduction": "mean"}, {"reduction": "none"}],
        "liftedStructureLoss": [
            {}, {"negMargin": 0.6, "posMargin": 0.1}, {"reduction": "sum"}, {"reduction": "none"},
            {"distance": "cosine", "negMargin": 0.2, "posMargin": 0.9},
        ],
        "generalizedLiftedStructureLoss": [
            {}, {"negMargin": 0.6, "posMargin": 0.1}, {"reduction": "sum"}, {"reduction": "none"},
            {"distance": "sqeuclidean"},
        ],
        "nPairsLoss": [
            {}, {"reduction": "sum"}, {"reduction": "none"}, {"distance": "cosine"},
            {"normalizeEmbeddings": False},
        ],
    }
    for loss, option_sets in grid.items():
        for i, options in enumerate(option_sets):
            cases.append(_case(f"{loss}_{i}", loss, x, y, options))
        cases.append(_case(f"{loss}_duplicates", loss, dup, dup_y, option_sets[0]))
        if loss == "tripletMarginLoss":
            cases.append(_case(f"{loss}_mined_triplets", loss, x, y, {}, triplets))
            cases.append(_case(f"{loss}_mined_pairs", loss, x, y, {}, pairs))
        else:
            cases.append(_case(f"{loss}_mined_pairs", loss, x, y, {}, pairs))
            cases.append(_case(f"{loss}_mined_triplets", loss, x, y, {}, triplets))
    return cases
