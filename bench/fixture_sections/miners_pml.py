"""Miner fixtures: pytorch-metric-learning 2.9.0's miners themselves, on given batches.

Covers AngularMiner, BatchEasyHardMiner (every allowed pair of strategies, allowed ranges, several
distances), DistanceWeightedMiner, HDCMiner (also on external indices), UniformHistogramMiner and
EmbeddingsAlreadyPackagedAsTriplets, each at PML's defaults and at non-default settings, with a
separate reference set (`ref_emb`, `ref_labels`), and every miner of the library (the four older
ones included) on the degenerate batches: empty, one row, no positive pair, no negative pair.

Each case names its batch (`batches` holds the inputs: embeddings as float32 values and labels,
and for the reference layout the reference embeddings and labels) and gives the options in the
library's spelling (camelCase; `distance` is "euclidean" (LpDistance), "sqeuclidean"
(LpDistance(power=2)), "cosine" (CosineSimilarity) or "dot" (DotProductSimilarity)). `pml` is the
class and keyword arguments it stands for. The result is `output` (PML's index tensors, as lists)
or `error` (the exception class PML raised).

The two sampling miners draw from PyTorch's generator, which the library does not reproduce, so
their cases hold what the tests compare instead: PML's own intermediate values captured while it
runs (DistanceWeightedMiner's weight matrix, passed by PML to `get_random_triplet_indices`;
UniformHistogramMiner's bin edges from `get_bins`), the distance matrix PML mined on, one run's
output, and counts over `runs` seeded runs (`torch.manual_seed(run)`): how often each
(anchor, positive) and (anchor, negative) appeared, for a two-sample comparison.
"""
import torch
from pytorch_metric_learning import distances, miners
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

OPTION_NAMES = {
    "angle": "angle",
    "posStrategy": "pos_strategy",
    "negStrategy": "neg_strategy",
    "allowedPosRange": "allowed_pos_range",
    "allowedNegRange": "allowed_neg_range",
    "cutoff": "cutoff",
    "nonzeroLossCutoff": "nonzero_loss_cutoff",
    "filterPercentage": "filter_percentage",
    "numBins": "num_bins",
    "posPerBin": "pos_per_bin",
    "negPerBin": "neg_per_bin",
    "margin": "margin",
    "type": "type_of_triplets",
    "epsilon": "epsilon",
    "posMargin": "pos_margin",
    "negMargin": "neg_margin",
}

CLASSES = {
    "angularMiner": "AngularMiner",
    "batchEasyHardMiner": "BatchEasyHardMiner",
    "distanceWeightedMiner": "DistanceWeightedMiner",
    "hdcMiner": "HDCMiner",
    "uniformHistogramMiner": "UniformHistogramMiner",
    "embeddingsAlreadyPackagedAsTriplets": "EmbeddingsAlreadyPackagedAsTriplets",
    "tripletMarginMiner": "TripletMarginMiner",
    "batchHardMiner": "BatchHardMiner",
    "multiSimilarityMiner": "MultiSimilarityMiner",
    "pairMarginMiner": "PairMarginMiner",
}

RUNS = 2000


def _distance(name, normalize):
    if name == "euclidean":
        return distances.LpDistance(normalize_embeddings=normalize)
    if name == "sqeuclidean":
        return distances.LpDistance(power=2, normalize_embeddings=normalize)
    if name == "cosine":
        return distances.CosineSimilarity()  # always normalises
    if name == "dot":
        return distances.DotProductSimilarity(normalize_embeddings=normalize)
    raise ValueError(name)


def _miner(name, options):
    kwargs = {}
    for key, value in options.items():
        if key in ("distance", "normalizeEmbeddings"):
            continue
        kwargs[OPTION_NAMES[key]] = tuple(value) if isinstance(value, list) else value
    if "distance" in options:
        kwargs["distance"] = _distance(options["distance"], options.get("normalizeEmbeddings", True))
    text = CLASSES[name] + "(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
    return getattr(miners, CLASSES[name])(**kwargs), text


def _batches():
    g = torch.Generator().manual_seed(2024)

    def randn(n, d):
        return torch.randn(n, d, generator=g)

    b = {
        "b12": (randn(12, 4), [0, 1, 2] * 4),
        "b10": (randn(10, 3), [4, 4, 4, 1, 1, 7, 7, 7, 7, 9]),
        "b16": (randn(16, 8), [3, 0, 1, 2, 0, 3, 1, 1, 2, 0, 3, 2, 2, 0, 1, 3]),
        "b9": (randn(9, 2), [0, 0, 1, 1, 1, 0, 2, 2, 0]),
        "empty": (torch.zeros(0, 4), []),
        "one": (randn(1, 4), [0]),
        "nopos": (randn(3, 4), [0, 1, 2]),
        "noneg": (randn(3, 4), [5, 5, 5]),
        "seven": (randn(7, 2), [0, 1, 2, 3, 4, 5, 6]),
    }
    out = {k: {"embeddings": e, "labels": y} for k, (e, y) in b.items()}
    # A separate reference set: query label 5 has no reference, reference label 4 no query.
    out["ref"] = {
        "embeddings": randn(6, 4),
        "labels": [0, 1, 2, 3, 0, 5],
        "refEmbeddings": randn(10, 4),
        "refLabels": [0, 0, 1, 1, 2, 2, 2, 3, 4, 4],
    }
    out["ref8"] = {
        "embeddings": randn(7, 8),
        "labels": [0, 1, 2, 0, 1, 3, 9],
        "refEmbeddings": randn(12, 8),
        "refLabels": [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 5],
    }
    return out


def _inputs(batch):
    e = batch["embeddings"]
    y = torch.tensor(batch["labels"], dtype=torch.long)
    if "refEmbeddings" in batch:
        return e, y, batch["refEmbeddings"], torch.tensor(batch["refLabels"], dtype=torch.long)
    return e, y, None, None


def _call(miner, batch):
    e, y, r, ry = _inputs(batch)
    return miner(e, y) if r is None else miner(e, y, r, ry)


def _exact(batches, name, batch, options=None, indices=None):
    options = options or {}
    case = {"miner": name, "batch": batch, "options": options}
    try:
        miner, case["pml"] = _miner(name, options)
        if indices is not None:
            y = torch.tensor(batches[batch]["labels"])
            miner.set_idx_externally(tuple(torch.tensor(v) for v in indices), y)
            case["indices"] = indices
        out = _call(miner, batches[batch])
        case["output"] = [o.tolist() for o in out]
    except Exception as ex:  # PML's behaviour on this input is to fail
        case["error"] = type(ex).__name__
    return case


def _capture_matrix(miner):
    store = []
    miner.distance.register_forward_hook(lambda _m, _i, out: store.append(out.detach().clone()))
    return store


def _distance_weighted(batches, batch, options=None):
    options = options or {}
    miner, text = _miner("distanceWeightedMiner", options)
    mats = _capture_matrix(miner)
    captured = []
    original = lmu.get_random_triplet_indices

    def spy(labels, ref_labels=None, t_per_anchor=None, weights=None):
        captured.append(weights.detach().clone())
        return original(labels, ref_labels=ref_labels, t_per_anchor=t_per_anchor, weights=weights)

    lmu.get_random_triplet_indices = spy
    try:
        torch.manual_seed(0)
        first = [o.tolist() for o in _call(miner, batches[batch])]
        n, m = captured[0].shape
        pos_counts = [[0] * m for _ in range(n)]
        neg_counts = [[0] * m for _ in range(n)]
        for run in range(RUNS):
            torch.manual_seed(run)
            a, p, ng = _call(miner, batches[batch])
            for i, j, k in zip(a.tolist(), p.tolist(), ng.tolist()):
                pos_counts[i][j] += 1
                neg_counts[i][k] += 1
    finally:
        lmu.get_random_triplet_indices = original
    return {
        "miner": "distanceWeightedMiner",
        "batch": batch,
        "options": options,
        "pml": text,
        "weights": captured[0],
        "matrix": mats[0],
        "output": first,
        "runs": RUNS,
        "posCounts": pos_counts,
        "negCounts": neg_counts,
    }


def _uniform_histogram(batches, batch, options=None):
    options = options or {}
    miner, text = _miner("uniformHistogramMiner", options)
    mats = _capture_matrix(miner)
    bins = []
    original = miner.get_bins

    def spy(pairs):
        out = original(pairs)
        bins.append(out.detach().clone())
        return out

    miner.get_bins = spy
    torch.manual_seed(0)
    first = [o.tolist() for o in _call(miner, batches[batch])]
    edges = list(bins)
    n, m = mats[0].shape
    pos_counts = [[0] * m for _ in range(n)]
    neg_counts = [[0] * m for _ in range(n)]
    for run in range(RUNS):
        torch.manual_seed(run)
        a1, p, a2, ng = _call(miner, batches[batch])
        for i, j in zip(a1.tolist(), p.tolist()):
            pos_counts[i][j] += 1
        for i, k in zip(a2.tolist(), ng.tolist()):
            neg_counts[i][k] += 1
    e, y, r, ry = _inputs(batches[batch])
    a1, p, a2, ng = lmu.get_all_pairs_indices(y, ry)
    has_pos, has_neg = len(a1) > 0, len(a2) > 0
    return {
        "miner": "uniformHistogramMiner",
        "batch": batch,
        "options": options,
        "pml": text,
        "posEdges": edges[0] if has_pos else [],
        "negEdges": edges[int(has_pos)] if has_neg else [],
        "matrix": mats[0],
        "output": first,
        "runs": RUNS,
        "posCounts": pos_counts,
        "negCounts": neg_counts,
    }


STRATEGIES = ["hard", "semihard", "easy", "all"]


def generate():
    torch.manual_seed(0)
    batches = _batches()
    cases = []
    # AngularMiner.
    for batch in ("b12", "b10", "b16", "ref"):
        cases.append(_exact(batches, "angularMiner", batch))
    for batch, angle in (("b12", 35), ("b9", 45), ("ref8", 10), ("b16", 0)):
        cases.append(_exact(batches, "angularMiner", batch, {"angle": angle}))
    # BatchEasyHardMiner: every pair of strategies, PML's refusals included.
    for pos in STRATEGIES:
        for neg in STRATEGIES:
            opts = {"posStrategy": pos, "negStrategy": neg}
            cases.append(_exact(batches, "batchEasyHardMiner", "b12", opts))
            cases.append(_exact(batches, "batchEasyHardMiner", "b10", {**opts, "distance": "cosine"}))
            cases.append(_exact(batches, "batchEasyHardMiner", "ref", opts))
    cases.append(_exact(batches, "batchEasyHardMiner", "b16"))
    for opts in (
        {"allowedPosRange": [0.5, 1.2], "allowedNegRange": [0.6, 1.5]},
        {"posStrategy": "hard", "negStrategy": "semihard", "allowedNegRange": [0.9, 2.0]},
        {"posStrategy": "semihard", "negStrategy": "easy", "allowedPosRange": [0.0, 1.0]},
        {"posStrategy": "all", "negStrategy": "hard", "allowedNegRange": [0.8, 1.3]},
        {"posStrategy": "easy", "negStrategy": "all", "allowedPosRange": [0.7, 1.1]},
        {"posStrategy": "hard", "negStrategy": "hard", "distance": "sqeuclidean",
         "normalizeEmbeddings": False},
        {"posStrategy": "semihard", "negStrategy": "hard", "distance": "dot",
         "normalizeEmbeddings": False},
        {"posStrategy": "easy", "negStrategy": "semihard", "distance": "cosine",
         "allowedPosRange": [0.0, 0.9], "allowedNegRange": [-0.5, 0.8]},
    ):
        cases.append(_exact(batches, "batchEasyHardMiner", "b16", opts))
    # HDCMiner.
    for batch in ("b12", "b10", "ref"):
        cases.append(_exact(batches, "hdcMiner", batch))
    cases.append(_exact(batches, "hdcMiner", "b16", {"filterPercentage": 0.3, "distance": "cosine"}))
    cases.append(_exact(batches, "hdcMiner", "b12", {"filterPercentage": 0.8}))
    cases.append(_exact(batches, "hdcMiner", "b12", {"filterPercentage": 0.0}))
    cases.append(_exact(batches, "hdcMiner", "ref8", {"filterPercentage": 0.2, "distance": "dot"}))
    cases.append(_exact(batches, "hdcMiner", "b12", {"filterPercentage": 0.4},
                        indices=[[0, 3, 6, 9, 1, 4], [3, 6, 9, 0, 4, 7], [0, 0, 3, 5, 1, 2],
                                 [1, 2, 4, 7, 2, 3]]))
    cases.append(_exact(batches, "hdcMiner", "b12", {"filterPercentage": 0.5},
                        indices=[[0, 3, 6, 1, 4], [3, 6, 9, 4, 7], [1, 2, 4, 5, 0]]))
    # EmbeddingsAlreadyPackagedAsTriplets.
    for batch in ("b12", "b9", "b10", "seven", "empty", "one"):
        cases.append(_exact(batches, "embeddingsAlreadyPackagedAsTriplets", batch))
    # The four older miners with a reference set and non-default settings.
    cases.append(_exact(batches, "tripletMarginMiner", "ref"))
    cases.append(_exact(batches, "tripletMarginMiner", "ref8", {"margin": 0.1, "type": "semihard"}))
    cases.append(_exact(batches, "tripletMarginMiner", "ref", {"margin": 0.3, "type": "easy",
                                                               "distance": "cosine"}))
    cases.append(_exact(batches, "batchHardMiner", "ref"))
    cases.append(_exact(batches, "batchHardMiner", "ref8", {"distance": "cosine"}))
    cases.append(_exact(batches, "multiSimilarityMiner", "ref"))
    cases.append(_exact(batches, "multiSimilarityMiner", "ref8", {"epsilon": 0.3,
                                                                  "distance": "euclidean"}))
    cases.append(_exact(batches, "pairMarginMiner", "ref"))
    cases.append(_exact(batches, "pairMarginMiner", "ref8", {"posMargin": 0.4, "negMargin": 0.3,
                                                             "distance": "cosine"}))
    # Degenerate batches, every miner at its defaults.
    for name in CLASSES:
        if name in ("distanceWeightedMiner", "uniformHistogramMiner"):
            continue
        for batch in ("empty", "one", "nopos", "noneg"):
            cases.append(_exact(batches, name, batch))
    cases.append(_exact(batches, "batchEasyHardMiner", "empty",
                        {"posStrategy": "all", "negStrategy": "all"}))
    cases.append(_exact(batches, "batchEasyHardMiner", "nopos",
                        {"posStrategy": "all", "negStrategy": "hard"}))
    cases.append(_exact(batches, "batchEasyHardMiner", "noneg",
                        {"posStrategy": "hard", "negStrategy": "all"}))
    # The sampling miners: captured weights and bins, one run, counts over seeded runs.
    sampling = [
        _distance_weighted(batches, "b16"),
        _distance_weighted(batches, "b16", {"cutoff": 0.3, "nonzeroLossCutoff": 1.2}),
        _distance_weighted(batches, "b10"),
        _distance_weighted(batches, "ref8"),
        _uniform_histogram(batches, "b12"),
        _uniform_histogram(batches, "b16", {"numBins": 8, "posPerBin": 3, "negPerBin": 2,
                                            "distance": "cosine"}),
        _uniform_histogram(batches, "ref", {"numBins": 5, "posPerBin": 4, "negPerBin": 3}),
        _uniform_histogram(batches, "nopos", {"numBins": 4}),
        _uniform_histogram(batches, "noneg", {"numBins": 4}),
    ]
    for name in ("distanceWeightedMiner", "uniformHistogramMiner"):
        for batch in ("empty", "one", "nopos", "noneg"):
            case = _exact(batches, name, batch)
            # Sampled outputs of non-empty results are compared by their structure only.
            cases.append(case)
    return {"batches": batches, "cases": cases, "sampling": sampling}
