"""Gradient fixtures from PyTorch itself: values and gradients of `torch.cdist` for the p-norms
(p = 0.5, 1, 1.5, 2, 3, inf; PyTorch's subgradient conventions at zero distance and at zero
coordinate differences), of its square (`sqeuclidean`), of PML's `CosineSimilarity` (normalise,
then inner product) and of the inner product, at coincident points and zero coordinate
differences. Computed in float64 with the exact (non-matmul) path of cdist
(`compute_mode="donot_use_mm_for_euclid_dist"`).

Each case: inputs `x` `[n, d]`, `y` `[m, d]` (or `self: true`: y is x itself), a weight matrix `w`
`[n, m]`; for each measure the value `D` and the gradients of `sum(w * D)` w.r.t. x and y.
"""
import math

import torch


def _measures():
    out = {}
    for p in (0.5, 1.0, 1.5, 2.0, 3.0, math.inf):
        key = "inf" if p == math.inf else repr(p)
        out[f"p{key}"] = (
            lambda a, b, p=p: torch.cdist(a, b, p=p, compute_mode="donot_use_mm_for_euclid_dist")
        )
    out["sqeuclidean"] = lambda a, b: torch.cdist(
        a, b, p=2.0, compute_mode="donot_use_mm_for_euclid_dist"
    ) ** 2
    out["cosineSimilarity"] = lambda a, b: torch.nn.functional.normalize(a, dim=1) @ (
        torch.nn.functional.normalize(b, dim=1).T
    )
    out["dot"] = lambda a, b: a @ b.T
    return out


def _case(name, x, y=None, w=None):
    x0 = torch.tensor(x, dtype=torch.float64)
    self_mode = y is None
    y0 = x0 if self_mode else torch.tensor(y, dtype=torch.float64)
    n, m = x0.shape[0], y0.shape[0]
    if w is None:
        w = [[1.0 + 0.25 * ((i * 3 + j * 5) % 7) for j in range(m)] for i in range(n)]
    wt = torch.tensor(w, dtype=torch.float64)
    results = {}
    for key, fn in _measures().items():
        xa = x0.clone().requires_grad_(True)
        if self_mode:
            d = fn(xa, xa)
            (d * wt).sum().backward()
            results[key] = {"value": d, "grad_x": xa.grad, "grad_y": None}
        else:
            ya = y0.clone().requires_grad_(True)
            d = fn(xa, ya)
            (d * wt).sum().backward()
            results[key] = {"value": d, "grad_x": xa.grad, "grad_y": ya.grad}
    return {"name": name, "x": x, "y": y, "self": self_mode, "w": w, "results": results}


def _norm_case(name, x):
    """Row norms (`torch.linalg.vector_norm`) and `F.normalize` for each p: values and gradients
    of sum(w * norm) and sum(w2 * normalize(x))."""
    x0 = torch.tensor(x, dtype=torch.float64)
    n, d = x0.shape
    w = torch.tensor([1.0 + 0.5 * i for i in range(n)], dtype=torch.float64)
    w2 = torch.tensor([[1.0 + 0.25 * ((i + 2 * j) % 5) for j in range(d)] for i in range(n)],
                      dtype=torch.float64)
    results = {}
    for p in (0.5, 1.0, 1.5, 2.0, 3.0, math.inf):
        key = "inf" if p == math.inf else repr(p)
        xa = x0.clone().requires_grad_(True)
        norm = torch.linalg.vector_norm(xa, ord=p, dim=1)
        (norm * w).sum().backward()
        xb = x0.clone().requires_grad_(True)
        normalized = torch.nn.functional.normalize(xb, p=p, dim=1)
        (normalized * w2).sum().backward()
        results[f"p{key}"] = {"norm": norm.detach(), "grad_norm": xa.grad,
                              "normalized": normalized.detach(), "grad_normalized": xb.grad}
    return {"name": name, "x": x, "w": w, "w2": w2, "results": results}


def generate():
    return {"pairwise": _pairwise(), "norms": [
        _norm_case("zero_coordinates", [[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [0.0, -2.0, 0.0],
                                        [3.0, -3.0, 1.0]]),
    ]}


def _pairwise():
    return [
        # Issue 13, fault 4: the smallest failing input and its neighbour.
        _case("coincident_origin", [[0.0, 0.0]], [[0.0, 0.0]], [[1.0]]),
        _case("zero_coordinate_difference", [[0.0, 0.0]], [[1.0, 0.0]], [[1.0]]),
        _case("coincident_and_zero_differences", [[1.0, -2.0, 3.0]],
              [[1.0, -2.0, 3.0], [1.0, 0.0, 3.0], [2.0, -2.0, 3.0], [1.0, -2.0, 3.5]]),
        _case("mixed", [[0.5, 0.5, 0.5], [1.0, 2.0, 3.0]],
              [[0.5, 0.5, 0.5], [1.0, 2.0, 3.0], [0.0, 2.0, 3.0], [-1.0, -1.0, 4.0]]),
        _case("ties_in_max", [[0.0, 0.0, 0.0]], [[1.0, -1.0, 0.5], [2.0, 2.0, -2.0]]),
        # Self distances with duplicate rows: the diagonal and the duplicates are at distance 0.
        _case("self_with_duplicates", [[1.0, 2.0], [1.0, 2.0], [3.0, 1.0], [1.0, 5.0]]),
    ]
