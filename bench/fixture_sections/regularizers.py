"""PML 2.9.0's regularizers: alone on a matrix (defaults and non-default settings, including their
reducers), and attached to losses as `embedding_regularizer` / `embedding_reg_weight`, with a
reference set and mined tuples; values and gradients (float32, see _loss_cases)."""
import torch
from pytorch_metric_learning import distances, regularizers
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

import _loss_cases as lc

K, D = 6, 4
W = lc.embeddings(K, D, 201)
N, M = 10, 7
X = lc.embeddings(N, D, 202)
Y = lc.labels(N, 3, 203)
REF_X = lc.embeddings(M, D, 204)
REF_Y = lc.labels(M, 3, 205)


def pml_regularizer(spec):
    """PML's regularizer for our `{ name, ...options }`."""
    name, options = spec["name"], dict(spec.get("options", {}))
    kwargs = {}
    if "reduction" in options:
        kwargs["reducer"] = lc.pml_reducer(options.pop("reduction"))
    if "distance" in options:
        kwargs["distance"] = lc.DISTANCES[options.pop("distance")]()
    if name == "lpRegularizer":
        return regularizers.LpRegularizer(**options, **kwargs)
    if name == "zeroMeanRegularizer":
        return regularizers.ZeroMeanRegularizer(**kwargs)
    if name == "centerInvariantRegularizer":
        return regularizers.CenterInvariantRegularizer(**kwargs)
    if name == "regularFaceRegularizer":
        return regularizers.RegularFaceRegularizer(**kwargs)
    if name == "sparseCentersRegularizer":
        return regularizers.SparseCentersRegularizer(
            num_classes=options["numClasses"], centers_per_class=options["centersPerClass"],
            **kwargs)
    raise ValueError(name)


ALONE = [
    {"name": "lpRegularizer"},
    {"name": "lpRegularizer", "options": {"p": 1, "power": 2}},
    {"name": "lpRegularizer", "options": {"p": 3, "reduction": "sum"}},
    {"name": "lpRegularizer", "options": {"reduction": {"name": "classWeighted",
                                                        "weights": [1, 2, 3, 0.5, 0.25, 1]}}},
    {"name": "zeroMeanRegularizer"},
    {"name": "zeroMeanRegularizer", "options": {"reduction": {"name": "threshold", "low": 2.0}}},
    {"name": "centerInvariantRegularizer"},
    {"name": "centerInvariantRegularizer", "options": {"reduction": "sum"}},
    {"name": "regularFaceRegularizer"},
    {"name": "regularFaceRegularizer", "options": {"distance": "dot", "reduction": "sum"}},
    {"name": "sparseCentersRegularizer", "options": {"numClasses": 3, "centersPerClass": 2}},
    {"name": "sparseCentersRegularizer", "options": {"numClasses": 2, "centersPerClass": 3}},
    {"name": "sparseCentersRegularizer",
     "options": {"numClasses": 2, "centersPerClass": 3, "reduction": "mean"}},
]

ATTACHED = [
    ("contrastiveLoss", {}, {"name": "lpRegularizer"}, 0.3, None),
    ("contrastiveLoss", {"negMargin": 1.3}, {"name": "zeroMeanRegularizer"}, 2.0,
     {"name": "multiple", "reducers": {"embeddingRegLoss": "sum", "posLoss": "sum"}}),
    ("tripletMarginLoss", {"margin": 0.5}, {"name": "lpRegularizer", "options": {"p": 1}}, 0.1,
     None),
    ("ntXentLoss", {}, {"name": "centerInvariantRegularizer"}, 0.5, None),
    ("multiSimilarityLoss", {}, {"name": "regularFaceRegularizer"}, 1.0, "sum"),
    ("supConLoss", {}, {"name": "lpRegularizer", "options": {"power": 2}}, 1.0, None),
]


def attached(loss, options, reg, weight, reduction, setting):
    kwargs = {"embedding_regularizer": pml_regularizer(reg), "embedding_reg_weight": weight}
    if reduction is not None:
        kwargs["reducer"] = lc.pml_reducer(reduction)
    fn = lc.make_loss(loss, options, **kwargs)
    ref = setting in ("ref", "refIndices")
    if setting == "indices":
        it = lmu.get_all_triplets_indices(lc.long(Y))
        it = tuple(t[::5] for t in it)
    elif setting == "refIndices":
        it = lmu.get_all_pairs_indices(lc.long(Y), lc.long(REF_Y))
        it = tuple(t[::2] for t in it)
    else:
        it = None
    y = Y if setting != "noPositives" else [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    out = {"loss": loss, "options": options, "regularizer": reg, "weight": weight,
           "reduction": reduction, "setting": setting, "y": y,
           "indices": None if it is None else
           dict(zip(["a1", "p", "a2", "n"] if len(it) == 4 else ["a", "p", "n"],
                    [t.tolist() for t in it]))}

    def call(x):
        r = lc.f64(REF_X).to(x.dtype) if ref else None
        return fn(x, lc.long(y), it, r, lc.long(REF_Y) if ref else None)

    lc.checked_grad(call, X, out, check=False)
    return out


def generate():
    alone = []
    for spec in ALONE:
        reg = pml_regularizer(spec)
        out = {"regularizer": spec}
        lc.checked_grad(lambda w: reg(w), W, out, check=spec["name"] != "regularFaceRegularizer")
        alone.append(out)
    with_losses = []
    for loss, options, reg, weight, reduction in ATTACHED:
        for setting in ("all", "ref", "indices", "refIndices", "noPositives"):
            with_losses.append(attached(loss, options, reg, weight, reduction, setting))
    return {"inputs": {"w": W, "x": X, "refX": REF_X, "refY": REF_Y},
            "alone": alone, "attached": with_losses}
