"""PML 2.9.0's AngularLoss, IntraPairVarianceLoss, MarginLoss, TupletMarginLoss,
SignalToNoiseRatioContrastiveLoss (with SNRDistance), DynamicSoftMarginLoss,
ThresholdConsistentMarginLoss, NCALoss, InstanceLoss and TripletMarginLoss's `swap` and
`smooth_loss`, on seeded float32 inputs: each case is a loss, our options, a setting (all tuples of
the batch, a separate reference set, mined pairs or triplets with repeats), a reduction, and PML's
value and gradient with respect to the embeddings (autograd, checked against finite differences of
PML's own value; see _loss_cases.checked_grad). Also: degenerate batches (no positives, no
negatives, one row, coincident rows), MarginLoss's gradient with respect to a learned beta, and
DynamicSoftMarginLoss's histogram over several calls."""
import torch
from pytorch_metric_learning import distances, losses, reducers
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

import _loss_cases as lc

N, M, D, CLASSES = 10, 7, 4, 3
X = lc.embeddings(N, D, 301)
Y = lc.labels(N, CLASSES, 302)
REF_X = lc.embeddings(M, D, 303)
REF_Y = lc.labels(M, CLASSES, 304)

# Our name -> (PML class, our option name -> PML keyword).
LOSSES = {
    "angularLoss": (losses.AngularLoss, {"alpha": "alpha"}),
    "intraPairVarianceLoss": (losses.IntraPairVarianceLoss,
                              {"posEps": "pos_eps", "negEps": "neg_eps"}),
    "marginLoss": (losses.MarginLoss, {"margin": "margin", "nu": "nu", "beta": "beta",
                                       "learnBeta": "learn_beta", "numClasses": "num_classes"}),
    "tupletMarginLoss": (losses.TupletMarginLoss, {"margin": "margin", "scale": "scale"}),
    "signalToNoiseRatioContrastiveLoss": (losses.SignalToNoiseRatioContrastiveLoss,
                                          {"posMargin": "pos_margin", "negMargin": "neg_margin"}),
    "dynamicSoftMarginLoss": (losses.DynamicSoftMarginLoss,
                              {"minVal": "min_val", "numBins": "num_bins", "momentum": "momentum"}),
    "thresholdConsistentMarginLoss": (losses.ThresholdConsistentMarginLoss,
                                      {"lambdaPlus": "lambda_plus", "lambdaMinus": "lambda_minus",
                                       "marginPlus": "margin_plus", "marginMinus": "margin_minus"}),
    "ncaLoss": (losses.NCALoss, {"softmaxScale": "softmax_scale"}),
    "instanceLoss": (losses.InstanceLoss, {"gamma": "gamma"}),
    "tripletMarginLoss": (losses.TripletMarginLoss, {"margin": "margin", "swap": "swap",
                                                     "smoothLoss": "smooth_loss"}),
}

DISTANCES = {
    "euclidean": lambda **k: distances.LpDistance(**k),
    "sqeuclidean": lambda **k: distances.LpDistance(power=2, **k),
    "cosine": lambda **k: distances.CosineSimilarity(**k),
    "dot": lambda **k: distances.DotProductSimilarity(**k),
    "snr": lambda **k: distances.SNRDistance(**k),
}


def pair_indices(y, ref_y, seed):
    """A subset of the pairs, with one positive and one negative pair listed twice."""
    a1, p, a2, n = (t.tolist() for t in lmu.get_all_pairs_indices(lc.long(y), lc.long(ref_y)))
    g = torch.Generator().manual_seed(seed)
    keep_p = sorted(torch.randperm(len(a1), generator=g)[: max(2, len(a1) // 2)].tolist())
    keep_n = sorted(torch.randperm(len(a2), generator=g)[: max(2, len(a2) // 3)].tolist())
    keep_p.append(keep_p[0])
    keep_n.append(keep_n[-1])
    return {"a1": [a1[i] for i in keep_p], "p": [p[i] for i in keep_p],
            "a2": [a2[i] for i in keep_n], "n": [n[i] for i in keep_n]}


def triplet_indices(y, ref_y, seed):
    """A subset of the triplets, with one listed twice."""
    a, p, n = (t.tolist() for t in lmu.get_all_triplets_indices(lc.long(y), lc.long(ref_y)))
    g = torch.Generator().manual_seed(seed)
    keep = sorted(torch.randperm(len(a), generator=g)[: max(3, len(a) // 6)].tolist())
    keep.append(keep[1])
    return {"a": [a[i] for i in keep], "p": [p[i] for i in keep], "n": [n[i] for i in keep]}


SETTINGS = {
    "all": {},
    "ref": {"ref": True},
    "pairIndices": {"indices": pair_indices(Y, None, 305)},
    "tripletIndices": {"indices": triplet_indices(Y, None, 306)},
    "refPairIndices": {"ref": True, "indices": pair_indices(Y, REF_Y, 307)},
    "refTripletIndices": {"ref": True, "indices": triplet_indices(Y, REF_Y, 308)},
}
EVERY_SETTING = list(SETTINGS)
NO_REF = ["all", "pairIndices", "tripletIndices"]

THRESHOLD = {"name": "threshold", "low": 0.05, "high": 0.6}
CLASS_WEIGHTS = {"name": "classWeighted", "weights": [0.5, 2.0, 1.25]}


def pml_reducer(spec):
    return None if spec is None else lc.pml_reducer(spec)


def make(name, options, reduction=None, squeeze=True):
    """A fresh PML loss for our `name`, `options` and `reduction` (None: PML's default).
    `squeeze`: per-element losses of shape [k, 1] (AngularLoss, TupletMarginLoss) as [k], the
    shape PML's reducers are defined for (see _loss_cases.squeezed)."""
    cls, names = LOSSES[name]
    if squeeze:
        cls = lc.squeezed(cls)
    kwargs = {}
    dist = options.get("distance")
    norm = options.get("normalizeEmbeddings")
    if dist is not None or norm is not None:
        default = {"marginLoss": "euclidean", "ncaLoss": "sqeuclidean",
                   "signalToNoiseRatioContrastiveLoss": "snr"}.get(name, "euclidean")
        if name in ("intraPairVarianceLoss", "tupletMarginLoss", "thresholdConsistentMarginLoss",
                    "instanceLoss"):
            default = "cosine"
        extra = {} if norm is None else {"normalize_embeddings": norm}
        kwargs["distance"] = DISTANCES[dist or default](**extra)
    beta = None
    for k, v in options.items():
        if k in ("distance", "normalizeEmbeddings"):
            continue
        if k == "beta" and isinstance(v, list):
            beta = v
            continue
        kwargs[names[k]] = v
    if reduction is not None:
        kwargs["reducer"] = pml_reducer(reduction)
    loss = cls(**kwargs)
    if beta is not None:
        with torch.no_grad():
            loss.beta.data = torch.tensor(beta, dtype=lc.DTYPE)
    return loss


def caller(name, options, setting, reduction=None, x_labels=None, squeeze=True):
    """`call(x)`: a fresh PML loss (stateful losses start from scratch) on `x`."""
    s = SETTINGS[setting]
    y = lc.long(Y if x_labels is None else x_labels)
    ref_x = lc.f64(REF_X) if s.get("ref") else None
    ref_y = lc.long(REF_Y) if s.get("ref") else None
    it = lc.indices_tensors(s.get("indices"))

    def call(x):
        ref = None if ref_x is None else ref_x.to(x.dtype)
        return make(name, options, reduction, squeeze)(x, y, it, ref, ref_y)

    return call


def dense_none(loss_dict, n, m):
    """DoNothingReducer's loss_dict in our "none" form: pair losses summed into an [n, m] matrix
    (a pair listed twice counts twice), other per-element losses as they are."""
    dense, flat = None, None
    for info in loss_dict.values():
        losses_ = info["losses"]
        if not torch.is_tensor(losses_):
            continue
        if losses_.ndim == 2 and losses_.shape[1] == 1:
            losses_ = losses_.squeeze(1)
        if info["reduction_type"] in ("pos_pair", "neg_pair"):
            dense = torch.zeros(n, m, dtype=losses_.dtype) if dense is None else dense
            a, o = info["indices"]
            for k in range(len(a)):
                dense[a[k], o[k]] += losses_[k]
        else:
            flat = losses_ if flat is None else flat + losses_
    return (dense if dense is not None else flat).tolist()


def case(name, options, setting="all", reduction=None, check=True):
    out = {"loss": name, "options": options, "setting": setting}
    if reduction is not None:
        out["reduction"] = reduction
    try:
        if reduction == "none":
            s = SETTINGS[setting]
            loss_dict = caller(name, options, setting, reduction)(lc.f64(X))
            out["value"] = lc.rounded(dense_none(loss_dict, N, M if s.get("ref") else N))
        else:
            lc.checked_grad(caller(name, options, setting, reduction), X, out, check=check)
            # PML as it is ([k, 1] losses): recorded where it differs.
            v = caller(name, options, setting, reduction, squeeze=False)(lc.f64(X)).item()
            if abs(v - out["value"]) > 1e-6 * max(1, abs(v)):
                out["pmlAsIs"] = v
    except Exception as e:  # noqa: BLE001 - PML's refusal is part of the fixture
        out["error"] = f"{type(e).__name__}: {e}"
    return out


# (loss, options, settings, reductions): defaults first, then non-default settings.
PLAN = [
    ("angularLoss", {}, EVERY_SETTING, [None]),
    ("angularLoss", {}, ["all"], ["sum", "avgNonZero", "none"]),
    ("angularLoss", {"alpha": 30}, ["all", "ref", "pairIndices"], [None]),
    ("angularLoss", {"alpha": 55}, ["all", "tripletIndices"], [None, CLASS_WEIGHTS]),
    ("intraPairVarianceLoss", {}, EVERY_SETTING, [None]),
    ("intraPairVarianceLoss", {}, ["all"], ["sum", "none"]),
    ("intraPairVarianceLoss", {"posEps": 0.05, "negEps": 0.2}, ["all", "ref", "pairIndices"],
     [None]),
    ("intraPairVarianceLoss", {"distance": "euclidean"}, ["all", "ref", "tripletIndices"], [None]),
    ("marginLoss", {}, EVERY_SETTING, [None]),
    ("marginLoss", {}, ["all", "ref"], ["mean", "sum", "avgNonZero", CLASS_WEIGHTS, THRESHOLD]),
    ("marginLoss", {}, ["all"], ["none"]),
    ("marginLoss", {"margin": 0.1, "beta": 0.8}, ["all", "ref", "tripletIndices"], [None]),
    ("marginLoss", {"distance": "cosine", "margin": 0.1, "beta": 0.5}, ["all", "pairIndices"],
     [None]),
    ("marginLoss", {"learnBeta": True, "nu": 0.1, "beta": [1.1]}, ["all", "ref", "tripletIndices"],
     [None, "mean"]),
    ("marginLoss", {"learnBeta": True, "nu": 0.1, "numClasses": 3, "beta": [1.0, 1.2, 0.9]},
     ["all", "ref", "tripletIndices"], [None, "mean", "avgNonZero", CLASS_WEIGHTS]),
    ("marginLoss", {"numClasses": 3}, ["all"], [None]),
    ("tupletMarginLoss", {}, EVERY_SETTING, [None]),
    ("tupletMarginLoss", {}, ["all"], ["sum", "avgNonZero", "none"]),
    ("tupletMarginLoss", {"margin": 10, "scale": 16}, ["all", "ref", "pairIndices",
                                                       "tripletIndices"], [None]),
    ("signalToNoiseRatioContrastiveLoss", {}, EVERY_SETTING, [None]),
    ("signalToNoiseRatioContrastiveLoss", {}, ["all"], ["mean", "none"]),
    ("signalToNoiseRatioContrastiveLoss", {"posMargin": 0.1, "negMargin": 0.8},
     ["all", "ref", "pairIndices"], [None]),
    ("signalToNoiseRatioContrastiveLoss", {"normalizeEmbeddings": False}, ["all", "ref"], [None]),
    ("dynamicSoftMarginLoss", {}, EVERY_SETTING, [None]),
    ("dynamicSoftMarginLoss", {"minVal": -2.5, "numBins": 20, "momentum": 0.3},
     ["all", "ref", "tripletIndices"], [None]),
    ("dynamicSoftMarginLoss", {"distance": "sqeuclidean", "minVal": -4.5, "numBins": 9},
     ["all", "pairIndices"], [None]),
    ("thresholdConsistentMarginLoss", {}, NO_REF, [None]),
    ("thresholdConsistentMarginLoss",
     {"lambdaPlus": 0.5, "lambdaMinus": 2, "marginPlus": 0.7, "marginMinus": 0.2}, NO_REF, [None]),
    ("thresholdConsistentMarginLoss", {"marginPlus": 0.99, "marginMinus": -0.3}, ["all"], [None]),
    ("ncaLoss", {}, EVERY_SETTING, [None]),
    ("ncaLoss", {}, ["all", "pairIndices"], ["sum", CLASS_WEIGHTS]),
    ("ncaLoss", {"softmaxScale": 4}, ["all", "ref", "tripletIndices"], [None]),
    ("ncaLoss", {"distance": "cosine", "softmaxScale": 3}, ["all", "ref"], [None]),
    ("instanceLoss", {}, ["all"], [None, "sum", "avgNonZero", CLASS_WEIGHTS]),
    ("instanceLoss", {"gamma": 8}, ["all"], [None, "none", THRESHOLD]),
    ("tripletMarginLoss", {"swap": True}, ["all", "pairIndices", "tripletIndices"], [None]),
    ("tripletMarginLoss", {"smoothLoss": True}, EVERY_SETTING, [None]),
    ("tripletMarginLoss", {"swap": True, "smoothLoss": True, "margin": 0.3},
     ["all", "tripletIndices"], [None, "mean"]),
    ("tripletMarginLoss", {"swap": True, "distance": "cosine", "margin": 0.2},
     ["all", "tripletIndices"], [None]),
]


def degenerate_cases():
    """Batches PML treats specially: no positive pair, no negative pair, one row, two coincident
    rows (the gradient there must be finite), and labels that are not 0..k-1."""
    out = []
    x6 = X[:6]
    coincident = [X[0], list(X[0]), X[1], X[2], list(X[2]), X[3]]
    batches = {
        "noPositives": (x6, [0, 1, 2, 3, 4, 5]),
        "noNegatives": (x6, [2] * 6),
        "oneRow": (X[:1], [0]),
        "coincident": (coincident, [0, 0, 1, 1, 1, 0]),
        "sparseLabels": (x6, [7, 3, 7, 12, 3, 12]),
    }
    for name in LOSSES:
        options = {"numClasses": 13} if name == "marginLoss" else {}
        for batch, (x, y) in batches.items():
            item = {"loss": name, "options": options, "batch": batch, "x": x, "y": y}
            try:
                loss_y = lc.long(y)

                def call(t, loss_y=loss_y, name=name, options=options):
                    return make(name, options)(t, loss_y)

                value, grad = lc.run(call, x)
                item["value"] = value.item()
                item["grad"] = lc.rounded(grad.tolist())
                item["gradFinite"] = bool(torch.isfinite(grad).all())
            except Exception as e:  # noqa: BLE001
                item["error"] = f"{type(e).__name__}: {e}"
            out.append(item)
    return out


def margin_beta_grads():
    """MarginLoss with a learned beta: the gradient with respect to beta (PML's Parameter)."""
    out = []
    for options, setting, reduction in [
        ({"learnBeta": True, "nu": 0.1, "beta": [1.1]}, "all", None),
        ({"learnBeta": True, "nu": 0.1, "numClasses": 3, "beta": [1.0, 1.2, 0.9]}, "all", None),
        ({"learnBeta": True, "nu": 0.1, "numClasses": 3, "beta": [1.0, 1.2, 0.9]}, "ref", "mean"),
        ({"learnBeta": True, "nu": 0.3, "numClasses": 3, "beta": [0.9, 1.3, 1.1]},
         "tripletIndices", None),
    ]:
        s = SETTINGS[setting]
        loss = make("marginLoss", options, reduction)
        x = lc.f64(X)
        value = loss(x, lc.long(Y), lc.indices_tensors(s.get("indices")),
                     lc.f64(REF_X) if s.get("ref") else None,
                     lc.long(REF_Y) if s.get("ref") else None)
        value.backward()
        out.append({"options": options, "setting": setting, "reduction": reduction,
                    "value": value.item(), "betaGrad": lc.rounded(loss.beta.grad.tolist())})
    return out


def dsm_sequences():
    """DynamicSoftMarginLoss keeps a histogram across calls: values and histograms of a loss
    called on several batches in turn. PML keeps the histogram's autograd graph, so a second
    backward pass fails ("Trying to backward through the graph a second time"); the gradient of
    later calls is recorded with the previous histogram detached (a constant), as we define it."""
    out = []
    batches = [(lc.embeddings(N, D, 310 + k), lc.labels(N, CLASSES, 320 + k)) for k in range(3)]
    for options in ({}, {"momentum": 0.3, "numBins": 16}):
        loss = make("dynamicSoftMarginLoss", options)
        calls = []
        for k, (x, y) in enumerate(batches):
            if k > 0:
                loss.hist_ = loss.hist_.detach()
            xt = torch.tensor(x, dtype=lc.DTYPE, requires_grad=True)
            value = loss(xt, lc.long(y))
            value.backward()
            calls.append({"x": x, "y": y, "value": value.item(),
                          "grad": lc.rounded(xt.grad.tolist()),
                          "histogram": lc.rounded(loss.hist_.detach().tolist())})
        # PML itself on the second call, without the detach:
        loss2 = make("dynamicSoftMarginLoss", options)
        x0 = torch.tensor(batches[0][0], dtype=lc.DTYPE, requires_grad=True)
        loss2(x0, lc.long(batches[0][1])).backward()
        try:
            xt = torch.tensor(batches[1][0], dtype=lc.DTYPE, requires_grad=True)
            loss2(xt, lc.long(batches[1][1])).backward()
            pml_second = "ok"
        except RuntimeError as e:
            pml_second = f"RuntimeError: {str(e).split('.')[0]}"
        out.append({"options": options, "calls": calls, "pmlSecondBackward": pml_second})
    # Values past the histogram's range: PML indexes past its bins.
    far = [[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0001], [0.0, 1.0]]
    try:
        make("dynamicSoftMarginLoss", {})(lc.f64(far), lc.long([0, 0, 1, 1]))
        beyond = "ok"
    except RuntimeError as e:
        beyond = f"RuntimeError: {e}"
    return {"sequences": out, "beyondRange": {"x": far, "y": [0, 0, 1, 1], "pml": beyond}}


def snr_distances():
    """PML's SNRDistance matrix (normalised and not) between the batch and the reference set."""
    out = []
    for norm in (True, False):
        d = distances.SNRDistance(normalize_embeddings=norm)
        out.append({"normalizeEmbeddings": norm,
                    "self": lc.rounded(d(lc.f64(X)).tolist()),
                    "ref": lc.rounded(d(lc.f64(X), lc.f64(REF_X)).tolist())})
    return out


def angular_large_norms():
    """AngularLoss on embeddings of large norm: PML multiplies by the raw (not normalised)
    negatives, so the exponents spread widely (our exact blocked path)."""
    out = []
    x = [[25 * v for v in row] for row in X]
    ref = [[25 * v for v in row] for row in REF_X]
    for options, with_ref in (({}, False), ({"alpha": 55}, False), ({}, True)):
        loss = make("angularLoss", options)

        def call(t, loss=loss, with_ref=with_ref):
            if with_ref:
                return loss(t, lc.long(Y), None, lc.f64(ref).to(t.dtype), lc.long(REF_Y))
            return loss(t, lc.long(Y))

        item = {"options": options, "ref": with_ref, "x": x, "refX": ref}
        lc.checked_grad(call, x, item)
        out.append(item)
    return out


def empty_batches():
    """PML on a batch of 0 rows: 0 for every loss here but InstanceLoss (NaN, a mean of nothing).
    The template refuses an empty batch with a named error."""
    out = {}
    e = torch.zeros(0, D)
    for name in LOSSES:
        options = {"numClasses": 3} if name == "marginLoss" else {}
        out[name] = make(name, options)(e, torch.zeros(0, dtype=torch.long)).item()
    return out


SELF_SUPERVISED = ["angularLoss", "intraPairVarianceLoss", "tupletMarginLoss",
                   "signalToNoiseRatioContrastiveLoss", "ncaLoss"]
CROSS_BATCH = SELF_SUPERVISED + ["marginLoss"]


def wrapped():
    """PML's SelfSupervisedLoss (symmetric and not) and CrossBatchMemory (memory 12, three
    batches of 6: the queue wraps) around the losses PML lists for them."""
    views = [[v + 0.3 * w for v, w in zip(r, q)] for r, q in zip(X[:6], lc.embeddings(6, D, 330))]
    self_sup = []
    for name in SELF_SUPERVISED:
        for symmetric in (True, False):
            wrapper = losses.SelfSupervisedLoss(make(name, {}), symmetric=symmetric)
            e = torch.tensor(X[:6], dtype=lc.DTYPE, requires_grad=True)
            r = torch.tensor(views, dtype=lc.DTYPE, requires_grad=True)
            value = wrapper(e, r)
            value.backward()
            self_sup.append({"loss": name, "symmetric": symmetric, "value": value.item(),
                             "grad": lc.rounded(e.grad.tolist()),
                             "refGrad": lc.rounded(r.grad.tolist())})
    batches = [(lc.embeddings(6, D, 340 + k), lc.labels(6, CLASSES, 350 + k)) for k in range(3)]
    memory = []
    for name in CROSS_BATCH:
        xbm = losses.CrossBatchMemory(make(name, {}), embedding_size=D, memory_size=12)
        steps = []
        for x, y in batches:
            e = torch.tensor(x, dtype=lc.DTYPE, requires_grad=True)
            value = xbm(e, lc.long(y))
            value.backward()
            steps.append({"value": value.item(), "grad": lc.rounded(e.grad.tolist())})
        memory.append({"loss": name, "steps": steps})
    return {"views": views, "selfSupervised": self_sup,
            "batches": [{"x": x, "y": y} for x, y in batches], "memory": memory}


def generate():
    cases = []
    for name, options, settings, reductions in PLAN:
        for setting in settings:
            for reduction in reductions:
                cases.append(case(name, options, setting, reduction))
    # PML's refusals and silent misreadings, recorded.
    refusals = []
    for name, options, setting in [
        ("instanceLoss", {}, "ref"), ("instanceLoss", {}, "pairIndices"),
        ("tupletMarginLoss", {"distance": "euclidean"}, "all"),
        ("angularLoss", {"distance": "cosine"}, "all"),
        ("angularLoss", {"normalizeEmbeddings": False}, "all"),
        ("signalToNoiseRatioContrastiveLoss", {"distance": "euclidean"}, "all"),
        ("dynamicSoftMarginLoss", {"distance": "cosine"}, "all"),
        ("thresholdConsistentMarginLoss", {"distance": "euclidean"}, "all"),
        ("thresholdConsistentMarginLoss", {}, "ref"),
        ("tripletMarginLoss", {"swap": True}, "ref"),
    ]:
        item = {"loss": name, "options": options, "setting": setting}
        try:
            item["value"] = caller(name, options, setting)(lc.f64(X)).item()
        except Exception as e:  # noqa: BLE001
            item["error"] = f"{type(e).__name__}: {str(e)[:120]}"
        refusals.append(item)
    return {"inputs": {"x": X, "y": Y, "refX": REF_X, "refY": REF_Y, "settings": SETTINGS},
            "cases": cases, "degenerate": degenerate_cases(), "marginBeta": margin_beta_grads(),
            "dsm": dsm_sequences(), "snr": snr_distances(), "refusals": refusals,
            "angularLargeNorms": angular_large_norms(), "emptyBatch": empty_batches(),
            "wrapped": wrapped()}
