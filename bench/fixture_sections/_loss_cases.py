"""Shared by the reducers, regularizers and wrappers sections: seeded inputs (float32 values, so
that both sides start from the same numbers), PML's losses by our names, and running one case
through PML to get the value and the gradient with respect to the embeddings.

PML runs in float32, as our losses do and as PML is normally used: reducers that filter values
(AvgNonZero, Threshold) then keep the same elements on both sides (in float64 a term such as
log(1 + e^-25) is a positive 1e-11 that AvgNonZero counts; in float32 it is 0)."""
import torch
from pytorch_metric_learning import distances, losses, reducers

# Our name -> (PML class, our option name -> PML keyword).
LOSSES = {
    "contrastiveLoss": (losses.ContrastiveLoss, {"posMargin": "pos_margin", "negMargin": "neg_margin"}),
    "tripletMarginLoss": (losses.TripletMarginLoss, {"margin": "margin", "swap": "swap",
                                                     "smoothLoss": "smooth_loss"}),
    "ntXentLoss": (losses.NTXentLoss, {"temperature": "temperature"}),
    "supConLoss": (losses.SupConLoss, {"temperature": "temperature"}),
    "multiSimilarityLoss": (losses.MultiSimilarityLoss, {"alpha": "alpha", "beta": "beta",
                                                         "base": "base"}),
    "circleLoss": (losses.CircleLoss, {"m": "m", "gamma": "gamma"}),
    "liftedStructureLoss": (losses.LiftedStructureLoss, {"negMargin": "neg_margin",
                                                         "posMargin": "pos_margin"}),
    "generalizedLiftedStructureLoss": (losses.GeneralizedLiftedStructureLoss,
                                       {"negMargin": "neg_margin", "posMargin": "pos_margin"}),
    "nPairsLoss": (losses.NPairsLoss, {}),
}

DISTANCES = {
    "euclidean": lambda: distances.LpDistance(),
    "sqeuclidean": lambda: distances.LpDistance(power=2),
    "cosine": lambda: distances.CosineSimilarity(),
    "dot": lambda: distances.DotProductSimilarity(),
}


def embeddings(n, d, seed):
    """`[n, d]` standard normal values, float32-representable, as nested lists."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float32).tolist()


def labels(n, classes, seed):
    """`[n]` labels in 0..classes-1, each class present when n >= classes."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g).tolist()
    return [perm[i] % classes for i in range(n)]


def squeezed(cls):
    """`cls` with per-element losses of shape [k, 1] returned as [k]. PML's LiftedStructureLoss,
    MultiSimilarityLoss, CircleLoss and GeneralizedLiftedStructureLoss return [k, 1]: the
    reducers that use the elements' indices then fail (PerAnchorReducer on pairs: RuntimeError)
    or broadcast (ClassWeightedReducer: the mean of a [k, k] outer product); every other reducer
    treats [k, 1] and [k] alike. [k] gives the reducers' defined values."""

    class Squeezed(cls):
        def compute_loss(self, *args):
            out = super().compute_loss(*args)
            for info in out.values():
                x = info["losses"]
                if torch.is_tensor(x) and x.ndim == 2 and x.shape[1] == 1:
                    info["losses"] = x.squeeze(1)
            return out

    Squeezed.__name__ = cls.__name__
    return Squeezed


def make_loss(name, options, squeeze=True, **pml_kwargs):
    """PML's loss for our `name` and our `options` (plus PML-only keywords); `squeeze` gives
    [k] per-element losses where PML returns [k, 1] (see `squeezed`)."""
    cls, names = LOSSES[name]
    if squeeze:
        cls = squeezed(cls)
    kwargs = dict(pml_kwargs)
    for k, v in (options or {}).items():
        if k == "distance":
            if "distance" not in kwargs:
                kwargs["distance"] = DISTANCES[v]()
        elif k == "normalizeEmbeddings":
            continue  # part of the PML distance object (pass `distance=` for other settings)
        else:
            kwargs[names[k]] = v
    return cls(**kwargs)


def indices_tensors(indices):
    if indices is None:
        return None
    keys = ["a1", "p", "a2", "n"] if "a1" in indices else ["a", "p", "n"]
    return tuple(torch.tensor(indices[k], dtype=torch.long) for k in keys)


def rounded(values, digits=8):
    """Nested lists of floats rounded to `digits` significant digits (float32 is compared)."""
    if isinstance(values, list):
        return [rounded(v, digits) for v in values]
    return float(f"{values:.{digits}g}")


DTYPE = torch.float32


def run(fn, x, *tensors):
    """Value and gradient of `fn(x, ...)` with respect to `x` (in DTYPE)."""
    xt = torch.tensor(x, dtype=DTYPE, requires_grad=True)
    out = fn(xt, *tensors)
    if out.requires_grad:
        out.backward()
        grad = xt.grad if xt.grad is not None else torch.zeros_like(xt)
    else:
        grad = torch.zeros_like(xt)
    return out.detach(), grad.detach()


def fd_grad(fn, x, *tensors, h=1e-6):
    """Central finite differences (in float64) of the scalar `fn(x, ...)`."""
    x64 = torch.tensor(x, dtype=torch.float64)
    g = torch.zeros_like(x64)
    with torch.no_grad():
        for i in range(x64.shape[0]):
            for j in range(x64.shape[1]):
                plus, minus = x64.clone(), x64.clone()
                plus[i, j] += h
                minus[i, j] -= h
                g[i, j] = (fn(plus, *tensors) - fn(minus, *tensors)) / (2 * h)
    return g


def checked_grad(fn, x, out, *tensors, check=True):
    """PML's autograd gradient, checked (`check`) against finite differences of PML's own value:
    where they disagree (PML's gradient is not the derivative of its value, as PerAnchorReducer's
    `new_array[anchors, others] = losses` gives with a pair listed twice: the value counts the
    pair once, autograd twice), `out` gets the finite differences as "grad" and PML's autograd
    result as "pmlAutograd". Losses with detached weights (CircleLoss) are not checked."""
    value, grad = run(fn, x, *tensors)
    out["value"] = value.item()
    fd = fd_grad(fn, x, *tensors).to(grad.dtype) if check else grad
    if torch.allclose(grad, fd, rtol=1e-3, atol=1e-5):
        out["grad"] = rounded(grad.tolist())
    else:
        out["grad"] = rounded(fd.tolist(), 7)
        out["pmlAutograd"] = rounded(grad.tolist(), 7)


def f64(x):
    """`x` as a tensor of DTYPE (the name is historical: float32 by default)."""
    return None if x is None else torch.tensor(x, dtype=DTYPE)


def long(y):
    return None if y is None else torch.tensor(y, dtype=torch.long)


SUB = {"loss": "loss", "posLoss": "pos_loss", "negLoss": "neg_loss",
       "embeddingRegLoss": "embedding_reg_loss"}


def pml_reducer(spec):
    """PML's reducer for our `reduction` option."""
    name = spec if isinstance(spec, str) else spec["name"]
    if name == "mean":
        return reducers.MeanReducer()
    if name == "sum":
        return reducers.SumReducer()
    if name == "avgNonZero":
        return reducers.AvgNonZeroReducer()
    if name == "none":
        return reducers.DoNothingReducer()
    if name == "threshold":
        return reducers.ThresholdReducer(low=spec.get("low"), high=spec.get("high"))
    if name == "classWeighted":
        return reducers.ClassWeightedReducer(torch.tensor(spec["weights"], dtype=DTYPE))
    if name == "divisor":
        return reducers.DivisorReducer()
    if name == "perAnchor":
        return reducers.PerAnchorReducer(reducer=pml_reducer(spec.get("reducer", "mean")))
    if name == "multiple":
        return reducers.MultipleReducers(
            {SUB[k]: pml_reducer(v) for k, v in spec["reducers"].items()},
            default_reducer=pml_reducer(spec.get("default", "mean")))
    raise ValueError(name)
