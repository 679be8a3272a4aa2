"""PML 2.9.0's losses with learnable parameters (the classification losses with class weights `W`,
the proxy losses, SoftTriple's `fc`, P2SGrad's `weight`) for given parameter values: defaults and
non-default settings of each, with mined tuples, a weight regularizer and other reducers; the value,
the gradient with respect to the embeddings AND the parameter (PML's autograd, float32), and
whether PML's autograd agrees with central finite differences of PML's own value (float64). Also
SubCenterArcFaceLoss.get_outliers, and the initial parameters' shapes and statistics."""
import math

import torch
from pytorch_metric_learning import distances, losses, regularizers

import _loss_cases as lc

N, D, C = 8, 4, 3
X = lc.embeddings(N, D, 301)
Y = lc.labels(N, C, 302)
# A batch where class 2 is absent (ProxyAnchor's divisor counts the proxies with positives).
Y_PARTIAL = [0, 1, 0, 1, 1, 0, 0, 1]
TRIPLETS = {"a": [0, 1, 2, 0], "p": [3, 4, 5, 6], "n": [1, 0, 1, 2]}
PAIRS = {"a1": [0, 2, 2], "p": [3, 5, 5], "a2": [1, 4], "n": [0, 7]}

# Our name -> (PML class, parameter attribute, parameter shape(options), option map).
LOSSES = {
    "largeMarginSoftmaxLoss": (losses.LargeMarginSoftmaxLoss, "W", lambda o: [D, o["numClasses"]],
                               {"margin": "margin", "scale": "scale"}),
    "sphereFaceLoss": (losses.SphereFaceLoss, "W", lambda o: [D, o["numClasses"]],
                       {"margin": "margin", "scale": "scale"}),
    "cosFaceLoss": (losses.CosFaceLoss, "W", lambda o: [D, o["numClasses"]],
                    {"margin": "margin", "scale": "scale"}),
    "arcFaceLoss": (losses.ArcFaceLoss, "W", lambda o: [D, o["numClasses"]],
                    {"margin": "margin", "scale": "scale"}),
    "subCenterArcFaceLoss": (losses.SubCenterArcFaceLoss, "W",
                             lambda o: [D, o["numClasses"] * o.get("subCenters", 3)],
                             {"margin": "margin", "scale": "scale", "subCenters": "sub_centers"}),
    "normalizedSoftmaxLoss": (losses.NormalizedSoftmaxLoss, "W", lambda o: [D, o["numClasses"]],
                              {"temperature": "temperature"}),
    "proxyAnchorLoss": (losses.ProxyAnchorLoss, "proxies", lambda o: [o["numClasses"], D],
                        {"margin": "margin", "alpha": "alpha"}),
    "proxyNcaLoss": (losses.ProxyNCALoss, "proxies", lambda o: [o["numClasses"], D],
                     {"softmaxScale": "softmax_scale"}),
    "softTripleLoss": (losses.SoftTripleLoss, "fc",
                       lambda o: [D, o["numClasses"] * o.get("centersPerClass", 10)],
                       {"centersPerClass": "centers_per_class", "la": "la", "gamma": "gamma",
                        "margin": "margin"}),
    "p2sGradLoss": (losses.P2SGradLoss, "weight", lambda o: [D, o["numClasses"]], {}),
}

CASES = [
    # L-Softmax: defaults (m = 4), another margin and scale, m = 1 (plain softmax on cos·norms).
    ("largeMarginSoftmaxLoss", {"numClasses": 3}, {}),
    ("largeMarginSoftmaxLoss", {"numClasses": 3, "margin": 3, "scale": 2}, {}),
    ("largeMarginSoftmaxLoss", {"numClasses": 4, "margin": 1}, {"indices": TRIPLETS}),
    ("sphereFaceLoss", {"numClasses": 3}, {}),
    ("sphereFaceLoss", {"numClasses": 3, "margin": 2, "scale": 0.5}, {"reduction": "sum"}),
    ("cosFaceLoss", {"numClasses": 3}, {}),
    ("cosFaceLoss", {"numClasses": 3, "margin": 0.2, "scale": 10}, {"indices": PAIRS}),
    ("cosFaceLoss", {"numClasses": 3, "scale": 8}, {"reduction": "none"}),
    ("arcFaceLoss", {"numClasses": 3}, {}),
    ("arcFaceLoss", {"numClasses": 3, "margin": 10, "scale": 16}, {}),
    ("arcFaceLoss", {"numClasses": 3, "margin": 150, "scale": 4}, {}),  # the monotonic branch
    ("arcFaceLoss", {"numClasses": 3, "scale": 8}, {"indices": TRIPLETS,
                                                    "reduction": {"name": "threshold", "low": 1}}),
    ("arcFaceLoss", {"numClasses": 3, "scale": 8},
     {"weightRegularizer": {"name": "regularFaceRegularizer"}, "weightRegWeight": 0.5}),
    ("subCenterArcFaceLoss", {"numClasses": 3}, {}),
    ("subCenterArcFaceLoss", {"numClasses": 3, "subCenters": 2, "margin": 20, "scale": 8}, {}),
    ("normalizedSoftmaxLoss", {"numClasses": 3}, {}),
    ("normalizedSoftmaxLoss", {"numClasses": 3, "temperature": 0.5}, {"distance": "euclidean"}),
    # Unnormalised embeddings: only W's columns are scaled to unit length.
    ("normalizedSoftmaxLoss", {"numClasses": 3, "temperature": 0.5},
     {"distance": "dot", "normalizeEmbeddings": False}),
    ("proxyAnchorLoss", {"numClasses": 3, "alpha": 0.5},
     {"distance": "dot", "normalizeEmbeddings": False}),
    ("normalizedSoftmaxLoss", {"numClasses": 3, "temperature": 0.2},
     {"indices": TRIPLETS, "weightRegularizer": {"name": "lpRegularizer"}}),
    ("proxyAnchorLoss", {"numClasses": 3}, {}),
    ("proxyAnchorLoss", {"numClasses": 3, "margin": 0.2, "alpha": 8}, {"labels": Y_PARTIAL}),
    ("proxyAnchorLoss", {"numClasses": 3, "alpha": 4}, {"distance": "euclidean"}),
    ("proxyAnchorLoss", {"numClasses": 3, "alpha": 16}, {"indices": TRIPLETS,
                                                         "reduction": "none"}),
    ("proxyAnchorLoss", {"numClasses": 3}, {"reduction": "mean"}),
    ("proxyNcaLoss", {"numClasses": 3}, {}),
    ("proxyNcaLoss", {"numClasses": 3, "softmaxScale": 3}, {"distance": "cosine"}),
    ("proxyNcaLoss", {"numClasses": 3}, {"indices": PAIRS}),
    ("proxyNcaLoss", {"numClasses": 4, "softmaxScale": 2},
     {"weightRegularizer": {"name": "lpRegularizer"}, "weightRegWeight": 0.1}),
    ("softTripleLoss", {"numClasses": 3}, {}),
    ("softTripleLoss", {"numClasses": 3, "centersPerClass": 2, "la": 10, "gamma": 0.5,
                        "margin": 0.1}, {}),
    ("softTripleLoss", {"numClasses": 3, "centersPerClass": 2}, {
        "indices": TRIPLETS,
        "weightRegularizer": {"name": "sparseCentersRegularizer",
                              "options": {"numClasses": 3, "centersPerClass": 2}}}),
    ("p2sGradLoss", {"numClasses": 3}, {}),
    ("p2sGradLoss", {"numClasses": 4}, {"unitWeight": True}),
]


def pml_regularizer(spec):
    name, options = spec["name"], spec.get("options", {})
    if name == "lpRegularizer":
        return regularizers.LpRegularizer()
    if name == "regularFaceRegularizer":
        return regularizers.RegularFaceRegularizer()
    if name == "sparseCentersRegularizer":
        return regularizers.SparseCentersRegularizer(
            num_classes=options["numClasses"], centers_per_class=options["centersPerClass"])
    raise ValueError(name)


def make(name, options, extra):
    cls, attr, _, names = LOSSES[name]
    kwargs = {names[k]: v for k, v in options.items() if k != "numClasses"}
    if name == "p2sGradLoss":
        return cls(descriptors_dim=D, num_classes=options["numClasses"], **kwargs), attr
    kwargs["num_classes"] = options["numClasses"]
    kwargs["embedding_size"] = D
    if "distance" in extra:
        kwargs["distance"] = lc.DISTANCES[extra["distance"]]()
    if extra.get("normalizeEmbeddings") is False:  # with distance "dot"
        kwargs["distance"] = distances.DotProductSimilarity(normalize_embeddings=False)
    if "reduction" in extra:
        kwargs["reducer"] = lc.pml_reducer(extra["reduction"])
    if "weightRegularizer" in extra:
        kwargs["weight_regularizer"] = pml_regularizer(extra["weightRegularizer"])
    if "weightRegWeight" in extra:
        kwargs["weight_reg_weight"] = extra["weightRegWeight"]
    return cls(**kwargs), attr


def fd(f, t, h=1e-6):
    """Central finite differences (float64) of the scalar f at the 2-D tensor t."""
    t = t.double()
    g = torch.zeros_like(t)
    with torch.no_grad():
        for i in range(t.shape[0]):
            for j in range(t.shape[1]):
                plus, minus = t.clone(), t.clone()
                plus[i, j] += h
                minus[i, j] -= h
                g[i, j] = (f(plus) - f(minus)) / (2 * h)
    return g


def one_case(index, name, options, extra):
    _, attr, shape_of, _ = LOSSES[name]
    shape = shape_of(options)
    param = lc.embeddings(shape[0], shape[1], 400 + index)
    if extra.get("unitWeight"):
        param = torch.nn.functional.normalize(torch.tensor(param), dim=0).tolist()
    y = extra.get("labels", Y)
    indices = extra.get("indices")
    loss, attr = make(name, options, extra)

    def evaluate(x, p, dtype):
        loss.to(dtype)
        getattr(loss, attr).data = p.to(dtype)
        out = loss(x.to(dtype), torch.tensor(y), lc.indices_tensors(indices))
        if isinstance(out, dict):  # reduction "none": PML's loss_dict; ours sums the sub-losses
            out = sum(info["losses"] for info in out.values())
        return out

    x = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    p = torch.tensor(param, dtype=torch.float32)
    out = evaluate(x, p, torch.float32)
    case = {"loss": name, "options": options, "param": attr, "paramValue": param, "labels": y}
    for k in ("indices", "distance", "normalizeEmbeddings", "reduction", "weightRegularizer",
              "weightRegWeight"):
        if k in extra:
            case[k] = extra[k]
    if out.ndim > 0:  # reduction "none"
        case["value"] = out.detach().tolist()
        total = out.sum()
    else:
        case["value"] = out.item()
        total = out
    total.backward()
    case["grad"] = lc.rounded(x.grad.tolist())
    param_grad = getattr(loss, attr).grad.detach().clone()
    case["paramGrad"] = lc.rounded(param_grad.tolist())
    # PML's autograd against finite differences of PML's own value (float64).
    x64 = torch.tensor(X, dtype=torch.float64)
    p64 = torch.tensor(param, dtype=torch.float64)
    with torch.no_grad():
        fx = fd(lambda z: evaluate(z, p64, torch.float64).sum(), x64)
        fp = fd(lambda z: evaluate(x64, z, torch.float64).sum(), p64)
    case["gradAgreesWithFd"] = bool(torch.allclose(x.grad.double(), fx, rtol=1e-3, atol=1e-4))
    case["paramGradAgreesWithFd"] = bool(
        torch.allclose(param_grad.double(), fp, rtol=1e-3, atol=1e-4))
    loss.to(torch.float32)
    return case


def outliers_cases():
    out = []
    x = lc.embeddings(12, D, 310)
    y = lc.labels(12, 3, 311)
    for threshold, sub in ((75, 3), (40, 2), (120, 3)):
        loss = losses.SubCenterArcFaceLoss(num_classes=4, embedding_size=D, sub_centers=sub)
        w = lc.embeddings(D, 4 * sub, 320 + sub)
        loss.W.data = torch.tensor(w)
        outliers, dominant = loss.get_outliers(torch.tensor(x), torch.tensor(y),
                                               threshold=threshold)
        # Class 3 is absent: PML leaves its column uninitialised; we write zeros.
        dom = dominant.clone()
        dom[:, 3] = 0
        out.append({"x": x, "labels": y, "W": w, "subCenters": sub, "numClasses": 4,
                    "threshold": threshold, "outliers": outliers.tolist(),
                    "dominantCenters": lc.rounded(dom.tolist())})
    return out


def init_stats():
    """Shapes and moments of PML's initial parameters (numClasses 10, embedding size 64)."""
    torch.manual_seed(0)
    out = {}
    for name, make_loss, attr in (
        ("ArcFaceLoss", lambda: losses.ArcFaceLoss(10, 64), "W"),
        ("ProxyAnchorLoss", lambda: losses.ProxyAnchorLoss(10, 64), "proxies"),
        ("ProxyNCALoss", lambda: losses.ProxyNCALoss(10, 64), "proxies"),
        ("SoftTripleLoss", lambda: losses.SoftTripleLoss(10, 64), "fc"),
        ("P2SGradLoss", lambda: losses.P2SGradLoss(64, 10), "weight"),
        ("SubCenterArcFaceLoss", lambda: losses.SubCenterArcFaceLoss(num_classes=10,
                                                                     embedding_size=64), "W"),
    ):
        t = getattr(make_loss(), attr).detach().double()
        out[name] = {"shape": list(t.shape), "std": t.std().item(), "absMax": t.abs().max().item(),
                     "columnNorm": t.norm(dim=0).mean().item()}
    return out


def generate():
    return {
        "inputs": {"x": X, "labels": Y},
        "cases": [one_case(i, *c) for i, c in enumerate(CASES)],
        "outliers": outliers_cases(),
        "init": init_stats(),
    }
