"""PML 2.9.0's reducers on our losses: each case is a loss, our `reduction` option, a setting
(all tuples of the batch, a separate reference set, mined pairs or triplets with repeats) and
PML's value and gradient with respect to the embeddings (float32, see _loss_cases)."""
import torch
from pytorch_metric_learning import distances
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

import _loss_cases as lc

N, M, D, CLASSES = 10, 7, 4, 3
X = lc.embeddings(N, D, 101)
Y = lc.labels(N, CLASSES, 102)
REF_X = lc.embeddings(M, D, 103)
REF_Y = lc.labels(M, CLASSES, 104)

def dense_none(loss_dict, n, m):
    """DoNothingReducer's loss_dict in our "none" form: per-element losses, pair losses summed
    into an [n, m] matrix (a pair listed twice counts twice)."""
    dense, flat = None, None
    for info in loss_dict.values():
        losses = info["losses"]
        if not torch.is_tensor(losses):
            continue
        if info["reduction_type"] in ("pos_pair", "neg_pair"):
            dense = torch.zeros(n, m, dtype=losses.dtype) if dense is None else dense
            a, o = info["indices"]
            for k in range(len(a)):
                dense[a[k], o[k]] += losses[k]
        else:
            flat = losses if flat is None else flat + losses
    return (dense if dense is not None else flat).tolist()


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
    "pairIndices": {"indices": pair_indices(Y, None, 105)},
    "tripletIndices": {"indices": triplet_indices(Y, None, 106)},
    "refPairIndices": {"ref": True, "indices": pair_indices(Y, REF_Y, 107)},
    "refTripletIndices": {"ref": True, "indices": triplet_indices(Y, REF_Y, 108)},
    # The batch again as the reference set, with the very labels object: PML's `ref_labels is
    # labels` keeps the self-pairs out, as without a reference set.
    "refSameLabels": {"ref": "self"},
}

LOSS_OPTIONS = {
    "contrastiveLoss": {"posMargin": 0.25, "negMargin": 1.3},
    "tripletMarginLoss": {"margin": 0.6},
    "ntXentLoss": {"temperature": 0.5},
    "supConLoss": {"temperature": 0.5},
    "multiSimilarityLoss": {},
    "circleLoss": {"gamma": 4},
    "liftedStructureLoss": {"negMargin": 1.2},
    "generalizedLiftedStructureLoss": {},
    "nPairsLoss": {},
}

# Losses whose terms are pairs: PerAnchorReducer writes them with new_array[anchors, others] =
# losses, whose autograd counts a pair listed twice twice (the value once).
PAIR_TERMS = ("contrastiveLoss", "ntXentLoss", "liftedStructureLoss")

CLASS_WEIGHTS = {"name": "classWeighted", "weights": [0.5, 2.0, 1.25]}
THRESHOLD = {"name": "threshold", "low": 0.1, "high": 1.5}
EVERY = ["mean", "sum", "avgNonZero", THRESHOLD, {"name": "threshold", "high": 0.8},
         CLASS_WEIGHTS, {"name": "perAnchor"}, "none"]
WITH_TUPLES = [THRESHOLD, CLASS_WEIGHTS, {"name": "perAnchor", "reducer": "avgNonZero"}, "sum"]


def case(loss, reduction, setting):
    s = SETTINGS[setting]
    options = LOSS_OPTIONS[loss]
    ref_x = X if s.get("ref") == "self" else REF_X if s.get("ref") else None
    ref_y = REF_Y if s.get("ref") is True else None
    indices = s.get("indices")
    out = {"loss": loss, "options": options, "reduction": reduction, "setting": setting}
    it = lc.indices_tensors(indices)
    r32 = lc.f64(ref_x)
    y = lc.long(Y)
    ry = y if s.get("ref") == "self" else lc.long(ref_y)

    def caller(fn):
        def call(x):
            return fn(x, y, it, None if r32 is None else r32.to(x.dtype), ry)
        return call

    try:
        call = caller(lc.make_loss(loss, options, reducer=lc.pml_reducer(reduction)))
        if reduction == "none":
            loss_dict = call(lc.f64(X))
            out["value"] = lc.rounded(dense_none(loss_dict, N, len(ref_x) if ref_x else N))
        else:
            lc.checked_grad(call, X, out, check="perAnchor" in str(reduction) and loss in PAIR_TERMS)
    except (NotImplementedError, KeyError, ValueError) as e:
        out["error"] = f"{type(e).__name__}: {e}"
    if reduction != "none" and "error" not in out:
        # PML as it is (per-element losses [k, 1] for some losses): recorded where it differs.
        try:
            as_is = caller(lc.make_loss(loss, options, squeeze=False,
                                        reducer=lc.pml_reducer(reduction)))
            v = as_is(lc.f64(X)).item()
            if abs(v - out["value"]) > 1e-9 * max(1, abs(v)):
                out["pmlAsIs"] = v
        except Exception as e:  # noqa: BLE001 - recorded, not raised
            out["pmlAsIs"] = f"{type(e).__name__}: {e}"
    return out


# The template's distance handling: PML's LpDistance normalises with its own p.
DISTANCE_CASES = [
    ({"distance": "euclidean", "normalizeEmbeddings": False}, lambda: distances.LpDistance(
        normalize_embeddings=False)),
    ({"distance": "sqeuclidean"}, lambda: distances.LpDistance(power=2)),
    ({"distance": "cityblock"}, lambda: distances.LpDistance(p=1)),
    ({"distance": {"name": "minkowski", "p": 3}}, lambda: distances.LpDistance(p=3)),
    ({"distance": "dot", "normalizeEmbeddings": False},
     lambda: distances.DotProductSimilarity(normalize_embeddings=False)),
    ({"distance": "cosine"}, lambda: distances.CosineSimilarity()),
]


def distance_cases():
    out = []
    for loss, options in (("contrastiveLoss", {"negMargin": 0.8}),
                          ("tripletMarginLoss", {"margin": 0.3}),
                          ("multiSimilarityLoss", {})):
        for ours, pml in DISTANCE_CASES:
            for setting in ("all", "ref"):
                if loss != "multiSimilarityLoss" and ours["distance"] in ("dot", "cosine"):
                    continue  # margins of these examples are for distances
                fn = lc.make_loss(loss, options, distance=pml())
                r = lc.f64(REF_X) if setting == "ref" else None
                ry = lc.long(REF_Y) if setting == "ref" else None
                case = {"loss": loss, "options": {**options, **ours}, "setting": setting}
                lc.checked_grad(lambda x: fn(x, lc.long(Y), None, r, ry), X, case, check=False)
                out.append(case)
    return out


def generate():
    cases = []
    for loss in LOSS_OPTIONS:
        for reduction in EVERY:
            cases.append(case(loss, reduction, "all"))
        for setting in SETTINGS:
            if setting == "all" or (loss == "nPairsLoss" and "ref" in SETTINGS[setting]):
                continue
            for reduction in WITH_TUPLES:
                cases.append(case(loss, reduction, setting))
    multiple = {"name": "multiple", "reducers": {"posLoss": "sum"}, "default": "avgNonZero"}
    for setting in ("all", "ref", "pairIndices"):
        cases.append(case("contrastiveLoss", multiple, setting))
        cases.append(case("contrastiveLoss", {"name": "perAnchor", "reducer": THRESHOLD}, setting))
    cases.append(case("tripletMarginLoss", {"name": "multiple", "reducers": {"loss": THRESHOLD}},
                      "all"))
    # PML refuses these: PerAnchor on triplets (NotImplementedError), Divisor without a divisor.
    cases.append(case("tripletMarginLoss", {"name": "perAnchor"}, "all"))
    cases.append(case("contrastiveLoss", {"name": "divisor"}, "all"))
    return {"inputs": {"x": X, "y": Y, "refX": REF_X, "refY": REF_Y,
                       "settings": {k: v for k, v in SETTINGS.items()}},
            "cases": cases, "distances": distance_cases()}
