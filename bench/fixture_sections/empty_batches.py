"""Empty batches: what pytorch-metric-learning 2.9.0 gives for every loss of its `losses` module
when the batch has 0 rows (embeddings `[0, d]`, labels `[0]`), when the reference set
(`ref_emb`, `ref_labels`) has 0 rows, with an embedding regularizer on an empty batch, and in its
wrappers (SelfSupervisedLoss, MultipleLosses, CrossBatchMemory).

Each loss is keyed by the library's name (camelCase of PML's class), whether or not the library
has it yet, so that a loss added later finds PML's answer here. For each:

- `batch`: the loss at its default reducer on the empty batch: `value` (0, or "NaN" where PML
  returns NaN), whether it is connected to the embeddings (`connected`: PML's `zero_loss` is
  `sum(embeddings * 0)`), or `error` (the exception class and the first words of its message);
- `none`: the same with PML's `DoNothingReducer`: `kind` "zero" (PML's `zero_losses`: an
  already-reduced 0, which the library returns as an empty tensor) or "element" with the `shape`
  and the (flattened) `values` of the per-element losses, or `error`;
- `refEmpty` (losses that accept `ref_emb`): the batch `x` `[3, d]` with labels `y` against an
  empty reference set: `value` and the gradient with respect to `x` (`grad`), or `error`;
- `emptyWithRef`: the empty batch against the reference set `ref` `[3, d]` with labels `refY`.

`args` holds the constructor keywords. Required constructor arguments are given the smallest usual values (`num_classes=3`,
`embedding_size=d`, `margin`/`Tn` for RankedListLoss, `l=d, K=3` for ManifoldLoss); none of them
changes an empty batch's answer.
"""
import torch
from pytorch_metric_learning import losses, reducers, regularizers

D = 4
C = 3

# Our name -> (PML class name, constructor keywords, whether it takes labels).
LOSSES = {
    "angularLoss": ("AngularLoss", {}, True),
    "arcFaceLoss": ("ArcFaceLoss", {"num_classes": C, "embedding_size": D}, True),
    "circleLoss": ("CircleLoss", {}, True),
    "contrastiveLoss": ("ContrastiveLoss", {}, True),
    "cosFaceLoss": ("CosFaceLoss", {"num_classes": C, "embedding_size": D}, True),
    "dynamicSoftMarginLoss": ("DynamicSoftMarginLoss", {}, True),
    "fastAPLoss": ("FastAPLoss", {}, True),
    "generalizedLiftedStructureLoss": ("GeneralizedLiftedStructureLoss", {}, True),
    "histogramLoss": ("HistogramLoss", {}, True),
    "instanceLoss": ("InstanceLoss", {}, True),
    "intraPairVarianceLoss": ("IntraPairVarianceLoss", {}, True),
    "largeMarginSoftmaxLoss": ("LargeMarginSoftmaxLoss",
                               {"num_classes": C, "embedding_size": D}, True),
    "liftedStructureLoss": ("LiftedStructureLoss", {}, True),
    "manifoldLoss": ("ManifoldLoss", {"l": D, "K": 3}, False),
    "marginLoss": ("MarginLoss", {"num_classes": C}, True),
    "multiSimilarityLoss": ("MultiSimilarityLoss", {}, True),
    "nPairsLoss": ("NPairsLoss", {}, True),
    "ncaLoss": ("NCALoss", {}, True),
    "normalizedSoftmaxLoss": ("NormalizedSoftmaxLoss",
                              {"num_classes": C, "embedding_size": D}, True),
    "ntXentLoss": ("NTXentLoss", {}, True),
    "p2sGradLoss": ("P2SGradLoss", {"descriptors_dim": D, "num_classes": C}, True),
    "pnpLoss": ("PNPLoss", {}, True),
    "proxyAnchorLoss": ("ProxyAnchorLoss", {"num_classes": C, "embedding_size": D}, True),
    "proxyNcaLoss": ("ProxyNCALoss", {"num_classes": C, "embedding_size": D}, True),
    "rankedListLoss": ("RankedListLoss", {"margin": 0.4, "Tn": 10}, True),
    "signalToNoiseRatioContrastiveLoss": ("SignalToNoiseRatioContrastiveLoss", {}, True),
    "smoothAPLoss": ("SmoothAPLoss", {}, True),
    "softTripleLoss": ("SoftTripleLoss", {"num_classes": C, "embedding_size": D}, True),
    "sphereFaceLoss": ("SphereFaceLoss", {"num_classes": C, "embedding_size": D}, True),
    "subCenterArcFaceLoss": ("SubCenterArcFaceLoss",
                             {"num_classes": C, "embedding_size": D}, True),
    "supConLoss": ("SupConLoss", {}, True),
    "thresholdConsistentMarginLoss": ("ThresholdConsistentMarginLoss", {}, True),
    "tripletMarginLoss": ("TripletMarginLoss", {}, True),
    "tupletMarginLoss": ("TupletMarginLoss", {}, True),
    "vicRegLoss": ("VICRegLoss", {}, False),
}

X = [[0.5, -1.0, 0.25, 2.0], [1.5, 0.0, -0.75, 1.0], [-0.5, 0.5, 1.0, -1.25]]
Y = [0, 0, 1]
REF = [[1.0, 0.5, -0.5, 0.0], [0.0, -1.5, 0.5, 1.0], [0.25, 0.75, -1.0, 0.5]]
REF_Y = [1, 0, 1]


def _error(e):
    return f"{type(e).__name__}: {str(e)[:80]}"


def _make(name, reducer=None):
    cls, kwargs, _ = LOSSES[name]
    torch.manual_seed(0)
    loss = getattr(losses, cls)(**kwargs)
    if reducer is not None:
        loss.reducer = reducer
    return loss


def _call(name, loss, e, labels, **ref):
    takes_labels = LOSSES[name][2]
    if name == "vicRegLoss":
        # Two views: the reference set is the second view (empty with an empty batch).
        return loss(e, ref_emb=ref.get("ref_emb", torch.zeros(e.shape[0], D)))
    if not takes_labels:
        return loss(e)
    return loss(e, labels, **ref)


def _batch(name):
    e = torch.zeros(0, D, requires_grad=True)
    try:
        out = _call(name, _make(name), e, torch.zeros(0, dtype=torch.long))
    except Exception as ex:  # noqa: BLE001 - PML's own failure is the fixture
        return {"error": _error(ex)}
    return {"value": out.item(), "connected": bool(out.requires_grad)}


def _none(name):
    e = torch.zeros(0, D, requires_grad=True)
    try:
        out = _call(name, _make(name, reducers.DoNothingReducer()), e,
                    torch.zeros(0, dtype=torch.long))
    except Exception as ex:  # noqa: BLE001
        return {"error": _error(ex)}
    kinds = {}
    for sub, info in out.items():
        x = info["losses"]
        if not torch.is_tensor(x) and x == 0:
            kinds[sub] = {"kind": "zero"}
        else:
            kinds[sub] = {"kind": info["reduction_type"], "shape": list(x.shape),
                          "values": x.detach().flatten().tolist()}
    return kinds


def _ref_empty(name):
    x = torch.tensor(X, requires_grad=True)
    try:
        out = _call(name, _make(name), x, torch.tensor(Y), ref_emb=torch.zeros(0, D),
                    ref_labels=torch.zeros(0, dtype=torch.long))
        grad = torch.autograd.grad(out, x, allow_unused=True)[0]
    except Exception as ex:  # noqa: BLE001
        return {"error": _error(ex)}
    return {"value": out.item(), "grad": None if grad is None else grad.tolist()}


def _empty_with_ref(name):
    e = torch.zeros(0, D, requires_grad=True)
    try:
        out = _call(name, _make(name), e, torch.zeros(0, dtype=torch.long),
                    ref_emb=torch.tensor(REF), ref_labels=torch.tensor(REF_Y))
    except Exception as ex:  # noqa: BLE001
        return {"error": _error(ex)}
    return {"value": out.item(), "connected": bool(out.requires_grad)}


def _wrappers():
    e = torch.zeros(0, D, requires_grad=True)
    y = torch.zeros(0, dtype=torch.long)
    out = {}
    for symmetric in (True, False):
        v = losses.SelfSupervisedLoss(losses.NTXentLoss(), symmetric=symmetric)(
            e, torch.zeros(0, D))
        out[f"selfSupervisedLoss(ntXentLoss, symmetric {str(symmetric).lower()})"] = {"value": v.item()}
    v = losses.MultipleLosses([losses.ContrastiveLoss(), losses.TripletMarginLoss()],
                              weights=[1, 0.5])(e, y)
    out["multipleLosses([contrastiveLoss, tripletMarginLoss])"] = {"value": v.item()}
    cbm = losses.CrossBatchMemory(losses.ContrastiveLoss(), D, memory_size=6)
    try:
        v = cbm(e, y)
        out["crossBatchMemory(contrastiveLoss), first batch empty"] = {"value": v.item()}
    except Exception as ex:  # noqa: BLE001
        out["crossBatchMemory(contrastiveLoss), first batch empty"] = {"error": _error(ex)}
    cbm(torch.tensor(X), torch.tensor(Y))
    try:
        v = cbm(e, y)
        out["crossBatchMemory(contrastiveLoss), empty batch after one of 3"] = {"value": v.item()}
    except Exception as ex:  # noqa: BLE001
        out["crossBatchMemory(contrastiveLoss), empty batch after one of 3"] = {
            "error": _error(ex)}
    return out


def _regularized():
    e = torch.zeros(0, D, requires_grad=True)
    y = torch.zeros(0, dtype=torch.long)
    out = {}
    for reg in ("LpRegularizer", "ZeroMeanRegularizer", "CenterInvariantRegularizer"):
        loss = losses.ContrastiveLoss(embedding_regularizer=getattr(regularizers, reg)())
        try:
            out[reg] = {"value": loss(e, y).item()}
        except Exception as ex:  # noqa: BLE001
            out[reg] = {"error": _error(ex)}
    return out


def generate():
    out = {}
    for name in LOSSES:
        case = {"pml": LOSSES[name][0], "args": LOSSES[name][1], "batch": _batch(name),
                "none": _none(name)}
        if LOSSES[name][2]:
            case["refEmpty"] = _ref_empty(name)
            case["emptyWithRef"] = _empty_with_ref(name)
        out[name] = case
    return {"d": D, "x": X, "y": Y, "ref": REF, "refY": REF_Y, "losses": out,
            "wrappers": _wrappers(), "embeddingRegularizer": _regularized()}
