"""PML 2.9.0's FastAPLoss, HistogramLoss, PNPLoss (every variant), RankedListLoss, SmoothAPLoss,
VICRegLoss and ManifoldLoss: values and gradients (float32, see _loss_cases) for the defaults and
other settings, with mined tuples where PML takes them; degenerate batches (no positives, no
negatives, one row, coincident rows); and what PML refuses (its error, for the TS test to refuse
the same input).

PML's SmoothAPLoss reshapes the batch into `g` consecutive blocks of `n / g` rows (`g` the rows per
class) and takes each block as a class: that is the labels' classes only when the batch is sorted
by class and there are as many classes as rows per class. Its cases use X16 with 4 classes of 4,
sorted (Y_SQUARE); the "permuted" cases are PML on that sorted batch, which our label-based
Smooth-AP must equal on a shuffled batch; the "blocks43" case (4 classes of 3, sorted) records
what PML computes otherwise, which equals ours with PML's positional blocks as labels."""
import torch
from pytorch_metric_learning import distances, losses, reducers

import _loss_cases as lc

N, D = 12, 5
X = lc.embeddings(N, D, 1401)
Y = lc.labels(N, 4, 1402)  # 4 classes of 3, shuffled
Y_BLOCK = [c for c in range(4) for _ in range(3)]
Y_MIXED = [0, 0, 1, 1, 1, 2, 3, 3, 0, 1, 3, 3]  # a singleton class (2) and unequal classes
Y_SPARSE = [0, 1, 2, 0, 3, 4, 5, 6, 1, 7, 8, 9]  # two pairs among singletons
X16 = lc.embeddings(16, D, 1404)
Y_SQUARE = [c for c in range(4) for _ in range(4)]
Y16 = lc.labels(16, 4, 1405)  # 4 classes of 4, shuffled
VIEWS = (torch.tensor(X) + 0.4 * torch.tensor(lc.embeddings(N, D, 1403))).tolist()


def _fix_indices():
    """Mined tuples that respect the labels (a positive has the anchor's label, a negative not)."""
    def pos_of(i, y):
        return next(j for j in range(len(y)) if j != i and y[j] == y[i])

    def neg_of(i, y, k=0):
        return [j for j in range(len(y)) if y[j] != y[i]][k]

    out = {}
    for name, y in (("Y", Y), ("Y_SQUARE", Y_SQUARE)):
        out[name] = {
            "pairs": {"a1": [0, 0, 3, 5, 7, 11], "p": [pos_of(i, y) for i in [0, 0, 3, 5, 7, 11]],
                      "a2": [0, 1, 2, 4, 4, 9], "n": [neg_of(i, y, k) for i, k in
                                                      zip([0, 1, 2, 4, 4, 9], [0, 1, 2, 0, 3, 1])]},
            "triplets": {"a": [0, 1, 2, 2, 6], "p": [pos_of(i, y) for i in [0, 1, 2, 2, 6]],
                         "n": [neg_of(i, y, k) for i, k in zip([0, 1, 2, 2, 6], [0, 2, 1, 4, 0])]},
        }
    return out


INDICES = _fix_indices()

PML = {
    "fastAPLoss": (losses.FastAPLoss, {"numBins": "num_bins"}),
    "histogramLoss": (losses.HistogramLoss, {"nBins": "n_bins", "delta": "delta"}),
    "pnpLoss": (losses.PNPLoss, {"b": "b", "alpha": "alpha", "anneal": "anneal",
                                 "variant": "variant"}),
    "rankedListLoss": (losses.RankedListLoss, {"margin": "margin", "Tn": "Tn", "Tp": "Tp",
                                               "imbalance": "imbalance", "alpha": "alpha"}),
    "smoothAPLoss": (losses.SmoothAPLoss, {"temperature": "temperature"}),
    "vicRegLoss": (losses.VICRegLoss, {"invarianceLambda": "invariance_lambda",
                                       "varianceMu": "variance_mu", "covarianceV": "covariance_v",
                                       "eps": "eps"}),
}

DISTANCES = {
    "euclidean": lambda: distances.LpDistance(),
    "sqeuclidean": lambda: distances.LpDistance(power=2),
    "cosine": lambda: distances.CosineSimilarity(),
    "dot": lambda: distances.DotProductSimilarity(),
}


def make(name, options):
    cls, names = PML[name]
    kwargs = {}
    for k, v in options.items():
        if k == "distance":
            kwargs["distance"] = DISTANCES[v]()
        elif k == "reduction":
            kwargs["reducer"] = lc.pml_reducer(v)
        else:
            kwargs[names[k]] = v
    return cls(**kwargs)


# (loss, options, setting); settings: "all" (X, Y), "pairs" / "triplets" (mined tuples on Y),
# "square" (X16, Y_SQUARE), "squarePairs" / "squareTriplets" (mined tuples on Y_SQUARE),
# "blocks43" (X, Y_BLOCK: PML's Smooth-AP blocks are not the classes), "mixed" (X, Y_MIXED: a
# singleton class), "sparse" (X, Y_SPARSE: mostly singletons), "views" / "self" (VICReg).
CASES = [
    ("fastAPLoss", {}, "all"),
    ("fastAPLoss", {"numBins": 5}, "all"),
    ("fastAPLoss", {"numBins": 40}, "all"),
    ("fastAPLoss", {"distance": "euclidean"}, "all"),
    ("fastAPLoss", {}, "pairs"),
    ("fastAPLoss", {"numBins": 7}, "triplets"),
    ("fastAPLoss", {"reduction": "sum"}, "all"),
    ("fastAPLoss", {"reduction": "none"}, "all"),
    ("fastAPLoss", {"numBins": 20}, "mixed"),
    ("histogramLoss", {}, "mixed"),
    ("histogramLoss", {"nBins": 10}, "sparse"),
    ("fastAPLoss", {}, "sparse"),
    ("pnpLoss", {"variant": "Ds"}, "sparse"),
    ("histogramLoss", {"nBins": 10}, "mixed"),
    ("pnpLoss", {}, "mixed"),
    ("pnpLoss", {"variant": "Dq"}, "mixed"),
    ("rankedListLoss", {"margin": 0.4, "Tn": 10}, "mixed"),
    ("histogramLoss", {}, "all"),
    ("histogramLoss", {"nBins": 10}, "all"),
    ("histogramLoss", {"delta": 0.25}, "all"),
    ("histogramLoss", {"nBins": 8, "delta": 0.25}, "all"),
    ("histogramLoss", {"nBins": 3}, "all"),
    ("histogramLoss", {}, "pairs"),
    ("histogramLoss", {"nBins": 20}, "triplets"),
    ("pnpLoss", {}, "all"),
    ("pnpLoss", {"variant": "Ds"}, "all"),
    ("pnpLoss", {"variant": "Dq"}, "all"),
    ("pnpLoss", {"variant": "Iu"}, "all"),
    ("pnpLoss", {"variant": "Ib"}, "all"),
    ("pnpLoss", {"anneal": 0.1}, "all"),
    ("pnpLoss", {"variant": "Dq", "alpha": 2.5, "anneal": 0.05}, "all"),
    ("pnpLoss", {"variant": "Ib", "b": 3, "anneal": 0.2}, "all"),
    ("pnpLoss", {"variant": "Ds", "anneal": 0.5}, "all"),
    ("pnpLoss", {"variant": "Iu", "anneal": 0.03}, "all"),
    ("rankedListLoss", {"margin": 0.4, "Tn": 10}, "all"),
    ("rankedListLoss", {"margin": 0.4, "Tn": 1}, "all"),
    ("rankedListLoss", {"margin": 0.6, "Tn": 2, "imbalance": 0.3, "alpha": 1.1, "Tp": 1}, "all"),
    ("rankedListLoss", {"margin": 0.2, "Tn": 5, "Tp": 3, "distance": "sqeuclidean"}, "all"),
    ("rankedListLoss", {"margin": 0.4, "Tn": 10, "imbalance": 1}, "all"),
    ("rankedListLoss", {"margin": 0.4, "Tn": 10, "reduction": "sum"}, "all"),
    ("rankedListLoss", {"margin": 0.4, "Tn": 10, "reduction": "none"}, "all"),
    ("smoothAPLoss", {}, "square"),
    ("smoothAPLoss", {"temperature": 0.1}, "square"),
    ("smoothAPLoss", {"temperature": 0.5}, "square"),
    ("smoothAPLoss", {}, "squarePairs"),
    ("smoothAPLoss", {"temperature": 0.05}, "squareTriplets"),
    ("smoothAPLoss", {"reduction": "sum"}, "square"),
    ("smoothAPLoss", {"temperature": 0.1, "reduction": "none"}, "square"),
    ("smoothAPLoss", {"temperature": 0.1}, "blocks43"),
    ("vicRegLoss", {}, "views"),
    ("vicRegLoss", {}, "self"),
    ("vicRegLoss", {"invarianceLambda": 5, "varianceMu": 10, "covarianceV": 2, "eps": 1e-3},
     "views"),
    ("vicRegLoss", {"varianceMu": 0, "invarianceLambda": 1}, "views"),
    ("vicRegLoss", {"reduction": "sum"}, "views"),
]


def data_of(setting):
    if setting.startswith("square"):
        return X16, Y_SQUARE
    if setting == "blocks43":
        return X, Y_BLOCK
    if setting == "mixed":
        return X, Y_MIXED
    if setting == "sparse":
        return X, Y_SPARSE
    return X, Y


def indices_of(setting):
    ix = INDICES["Y_SQUARE" if setting.startswith("square") else "Y"]
    if setting.lower().endswith("pairs"):
        return ix["pairs"]
    if setting.lower().endswith("triplets"):
        return ix["triplets"]
    return None


def run_case(name, options, setting):
    out = {"loss": name, "options": {k: v for k, v in options.items() if k != "reduction"},
           "setting": setting}
    if "reduction" in options:
        out["reduction"] = options["reduction"]
    loss = make(name, options)
    if name == "vicRegLoss":
        def fn(x, r):
            return loss(x, ref_emb=r) if setting == "views" else loss(x)
        xt = torch.tensor(X, dtype=lc.DTYPE, requires_grad=True)
        rt = torch.tensor(VIEWS, dtype=lc.DTYPE, requires_grad=True)
        v = fn(xt, rt)
        v.backward()
        out["value"] = v.item()
        out["grad"] = lc.rounded(xt.grad.tolist())
        out["refGrad"] = lc.rounded(rt.grad.tolist()) if setting == "views" else None
        return out
    x0, y0 = data_of(setting)
    y = lc.long(y0)
    idx = lc.indices_tensors(indices_of(setting))

    def fn(x):
        return loss(x, y, idx)

    if options.get("reduction") == "none":
        got = fn(torch.tensor(x0, dtype=lc.DTYPE))  # DoNothingReducer: PML's loss_dict
        (only,) = got.values()
        out["value"] = lc.rounded(only["losses"].tolist())
        return out
    # SmoothAP writes its per-query APs into a float32 buffer, so PML's float64 finite differences
    # are 0: its autograd gradient is the reference.
    lc.checked_grad(fn, x0, out, check=name != "smoothAPLoss")
    return out


def manifold_cases():
    """ManifoldLoss with given proxies and meta classes (PML's indices_tuple): value, gradient
    with respect to the embeddings and to the proxies."""
    settings = [
        ({"K": 3}, 1501),
        ({"K": 3, "lambdaC": 0}, 1502),
        ({"K": 3, "lambdaC": 2.5, "alpha": 0.5, "margin": 0.01}, 1503),
        ({"K": 4, "alpha": 0.95, "margin": 0.002}, 1504),
        ({"K": 2, "alpha": 0.2, "lambdaC": 0.5}, 1505),
        ({"K": 3, "distance": "euclidean", "margin": 0}, 1506),
    ]
    out = []
    for options, seed in settings:
        k = options["K"]
        g = torch.Generator().manual_seed(seed)
        proxies = torch.randn(k, D, generator=g).tolist()
        meta = [i % k for i in range(N)]
        perm = torch.randperm(N, generator=g).tolist()
        meta = [meta[p] for p in perm]
        kwargs = {"l": D, "K": k}
        for key, pml in (("lambdaC", "lambdaC"), ("alpha", "alpha"), ("margin", "margin")):
            if key in options:
                kwargs[pml] = options[key]
        if "distance" in options:
            kwargs["distance"] = DISTANCES[options["distance"]]()

        # (No finite-difference check of PML's gradient here: PML inverts in float32 even for
        # float64 inputs, which makes its finite differences noise; the TS test checks ours.)
        loss = losses.ManifoldLoss(**kwargs)
        loss.proxies.data = torch.tensor(proxies, dtype=lc.DTYPE)
        xt = torch.tensor(X, dtype=lc.DTYPE, requires_grad=True)
        v = loss(xt, indices_tuple=torch.tensor(meta))
        v.sum().backward()
        case = {"options": options, "proxies": proxies, "metaClasses": meta,
                "value": v.sum().item(), "grad": lc.rounded(xt.grad.tolist()),
                "proxyGrad": lc.rounded(loss.proxies.grad.tolist())}
        out.append(case)
    return out


def degenerate():
    """PML on batches without positives, without negatives, of one row, and of coincident rows."""
    batches = {
        "noPositives": (X[:6], list(range(6))),
        "noNegatives": (X[:6], [2] * 6),
        "oneRow": (X[:1], [0]),
        "coincident": ([X[0], X[0], X[1], X[1], X[2], X[2]], [0, 0, 1, 1, 2, 2]),
    }
    losses_ = [
        ("fastAPLoss", {}),
        ("histogramLoss", {}),
        ("pnpLoss", {}),
        ("pnpLoss", {"variant": "Dq"}),
        ("rankedListLoss", {"margin": 0.4, "Tn": 10}),
        ("smoothAPLoss", {}),
    ]
    out = []
    for name, options in losses_:
        for batch, (x, y) in batches.items():
            case = {"loss": name, "options": options, "batch": batch, "x": x, "y": y}
            if name == "smoothAPLoss":
                case["pmlLabels"] = pml_block_labels(y)  # the classes PML's Smooth-AP uses
            try:
                xt = torch.tensor(x, dtype=lc.DTYPE, requires_grad=True)
                v = make(name, options)(xt, lc.long(y))
                if v.requires_grad:
                    v.backward()
                case["value"] = v.item()
                g = xt.grad if xt.grad is not None else torch.zeros_like(xt)
                case["grad"] = lc.rounded(g.tolist())
                case["gradFinite"] = bool(torch.isfinite(g).all())
            except Exception as e:  # noqa: BLE001 - PML's failure is the fixture
                case["error"] = f"{type(e).__name__}: {e}"
            out.append(case)
    # VICReg: one row (PML: NaN from the unbiased variance), coincident views.
    for batch, (x, r) in {"oneRow": (X[:1], VIEWS[:1]), "coincident": (X[:4], X[:4]),
                          "constantColumn": ([[1.0, 2.0]] * 4, [[1.0, 2.0]] * 4)}.items():
        case = {"loss": "vicRegLoss", "options": {}, "batch": batch, "x": x, "ref": r}
        xt = torch.tensor(x, dtype=lc.DTYPE, requires_grad=True)
        v = losses.VICRegLoss()(xt, ref_emb=torch.tensor(r, dtype=lc.DTYPE))
        v.backward()
        case["value"] = v.item()
        case["gradFinite"] = bool(torch.isfinite(xt.grad).all())
        out.append(case)
    return out


def permuted_smooth_ap():
    """Smooth-AP on the class-sorted batch (4 classes of 4); the TS test feeds the shuffled batch
    (X16, Y16) and permutes the gradient."""
    order = sorted(range(16), key=lambda i: (Y16[i], i))
    xs = [X16[i] for i in order]
    out = []
    for options in ({}, {"temperature": 0.1}):
        loss = make("smoothAPLoss", options)
        case = {"options": options, "order": order}

        def fn(x):
            return loss(x, lc.long([Y16[i] for i in order]))

        lc.checked_grad(fn, xs, case, check=False)
        out.append(case)
    return out


def pml_block_labels(y):
    """The classes PML's SmoothAPLoss actually uses: consecutive blocks of n / g rows."""
    n = len(y)
    per_class = n // len(set(y))
    size = n // per_class
    return [i // size for i in range(n)]


def refusals():
    """Inputs PML refuses; the TS test checks that ours refuses them too."""
    x = torch.tensor(X, dtype=lc.DTYPE)
    y = lc.long(Y)
    ref = {"ref_emb": torch.tensor(VIEWS, dtype=lc.DTYPE), "ref_labels": y}
    pairs = lc.indices_tensors(INDICES["Y"]["pairs"])
    tries = [
        ("fastAPLoss", "refEmbeddings", lambda: losses.FastAPLoss()(x, y, **ref)),
        ("fastAPLoss", "distance cosine",
         lambda: losses.FastAPLoss(distance=distances.CosineSimilarity())(x, y)),
        ("fastAPLoss", "normalizeEmbeddings false",
         lambda: losses.FastAPLoss(distance=distances.LpDistance(power=2,
                                                                 normalize_embeddings=False))(x, y)),
        ("fastAPLoss", "no labels", lambda: losses.FastAPLoss()(x)),
        ("histogramLoss", "refEmbeddings", lambda: losses.HistogramLoss()(x, y, **ref)),
        ("histogramLoss", "delta and nBins disagree",
         lambda: losses.HistogramLoss(n_bins=10, delta=0.3)(x, y)),
        ("pnpLoss", "refEmbeddings", lambda: losses.PNPLoss()(x, y, **ref)),
        ("pnpLoss", "indices", lambda: losses.PNPLoss()(x, y, pairs)),
        ("pnpLoss", "variant", lambda: losses.PNPLoss(variant="X")(x, y)),
        ("pnpLoss", "distance euclidean",
         lambda: losses.PNPLoss(distance=distances.LpDistance())(x, y)),
        ("rankedListLoss", "refEmbeddings",
         lambda: losses.RankedListLoss(margin=0.4, Tn=10)(x, y, **ref)),
        ("rankedListLoss", "indices", lambda: losses.RankedListLoss(margin=0.4, Tn=10)(x, y, pairs)),
        ("rankedListLoss", "imbalance 1.5",
         lambda: losses.RankedListLoss(margin=0.4, Tn=10, imbalance=1.5)(x, y)),
        ("rankedListLoss", "no margin", lambda: losses.RankedListLoss(Tn=10)(x, y)),
        ("smoothAPLoss", "refEmbeddings", lambda: losses.SmoothAPLoss()(x, y, **ref)),
        ("smoothAPLoss", "distance euclidean",
         lambda: losses.SmoothAPLoss(distance=distances.LpDistance())(x, y)),
        ("vicRegLoss", "labels", lambda: losses.VICRegLoss()(x, y, ref_emb=x)),
        ("vicRegLoss", "indices", lambda: losses.VICRegLoss()(x, None, pairs, ref_emb=x)),
        ("vicRegLoss", "distance", lambda: losses.VICRegLoss(distance=distances.LpDistance())),
        ("manifoldLoss", "labels", lambda: losses.ManifoldLoss(l=D, K=3)(x, y)),
        ("manifoldLoss", "refEmbeddings",
         lambda: losses.ManifoldLoss(l=D, K=3)(x, ref_emb=torch.tensor(VIEWS))),
        ("manifoldLoss", "batch smaller than K", lambda: losses.ManifoldLoss(l=D, K=20)(x)),
        ("manifoldLoss", "negative lambdaC", lambda: losses.ManifoldLoss(l=D, K=3, lambdaC=-1)),
    ]
    out = []
    for loss, what, call in tries:
        try:
            call()
            out.append({"loss": loss, "what": what, "error": None})
        except Exception as e:  # noqa: BLE001
            out.append({"loss": loss, "what": what, "error": f"{type(e).__name__}: {e}"})
    # What PML does with labels of unequal class counts (our Smooth-AP handles them).
    try:
        losses.SmoothAPLoss()(x[:7], lc.long([0, 0, 0, 1, 1, 2, 2]))
        out.append({"loss": "smoothAPLoss", "what": "unequal classes", "error": None})
    except Exception as e:  # noqa: BLE001
        out.append({"loss": "smoothAPLoss", "what": "unequal classes",
                    "error": f"{type(e).__name__}: {str(e).splitlines()[0]}"})
    return out


def generate():
    return {
        "inputs": {"x": X, "y": Y, "yBlock": Y_BLOCK, "pmlBlockLabels": pml_block_labels(Y_BLOCK),
                   "yMixed": Y_MIXED, "ySparse": Y_SPARSE, "x16": X16, "ySquare": Y_SQUARE, "y16": Y16, "views": VIEWS,
                   "indices": INDICES},
        "cases": [run_case(*c) for c in CASES],
        "manifold": manifold_cases(),
        "permutedSmoothAP": permuted_smooth_ap(),
        "degenerate": degenerate(),
        "refusals": refusals(),
    }
