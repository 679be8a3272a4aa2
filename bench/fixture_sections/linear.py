"""Fixtures for lib/linear: independent float64 computations of the closed-form learners (LFDA,
RCA, Covariance) with numpy/scipy, scikit-learn's own graphical lasso for SDML and its
LinearDiscriminantAnalysis for SCML's LDA bases, plus the objectives and defaults the iterative
learners start from (LSML's objective at the prior, ITML's default bounds).

metric-learn itself is not installable here; these computations follow the papers and
metric-learn 0.7's documented algorithms (see each function), written from scratch.
"""
import numpy as np
import scipy.linalg
from sklearn.covariance._graph_lasso import _graphical_lasso
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis


def _sign_rows(L):
    """Each row made unique in sign: its largest-magnitude entry positive (first on ties)."""
    L = np.array(L, dtype=float)
    for r in range(L.shape[0]):
        j = int(np.argmax(np.abs(L[r])))
        if L[r, j] < 0:
            L[r] = -L[r]
    return L


def _components_from_metric(M):
    """L with M = L^T L, as metric-learn builds it: sqrt of a diagonal M, else cholesky(M).T."""
    if np.array_equal(M, np.diag(np.diag(M))):
        return np.diag(np.sqrt(np.maximum(0, np.diag(M))))
    return np.linalg.cholesky(M).T


def covariance_cases():
    rng = np.random.default_rng(1)
    out = []
    X = rng.normal(size=(40, 4)) @ rng.normal(size=(4, 4))
    M = scipy.linalg.pinvh(np.cov(X, rowvar=False))
    out.append({"name": "full", "x": X, "M": M, "components": _components_from_metric(M)})
    X1 = rng.normal(size=(10, 1)) * 3
    M1 = np.atleast_2d(1.0 / np.var(X1[:, 0], ddof=1))
    out.append({"name": "one feature", "x": X1, "M": M1, "components": np.sqrt(M1)})
    # Three features, one a copy: the covariance is singular, M its pseudo-inverse (PSD, not PD).
    base = rng.normal(size=(12, 2))
    Xs = np.column_stack([base, base[:, 0]])
    Ms = scipy.linalg.pinvh(np.cov(Xs, rowvar=False))
    out.append({"name": "singular", "x": Xs, "M": Ms})
    return out


def lfda_fit(X, y, k=None, n_components=None, embedding="weighted"):
    """LFDA from Sugiyama (2007): local scaling sigma_i = distance to the k-th nearest same-class
    neighbour, local between/within scatters, generalized eigenproblem by scipy.linalg.eigh."""
    n, d = X.shape
    dim = d if n_components is None else n_components
    if k is None:
        k = min(7, d - 1)
    elif k >= d:
        k = d - 1
    Sb = np.zeros((d, d))
    Sw = np.zeros((d, d))
    for c in np.unique(y):
        Xc = X[y == c]
        nc = len(Xc)
        D = ((Xc[:, None, :] - Xc[None, :, :]) ** 2).sum(-1)
        kc = min(k, nc - 1)
        sigma = np.sqrt(np.sort(D, axis=1)[:, kc])
        scale = np.outer(sigma, sigma)
        A = np.zeros_like(D)
        nz = scale > 0
        A[nz] = np.exp(-D[nz] / scale[nz])
        # G = 1/2 sum_ij A_ij (x_i - x_j)(x_i - x_j)^T
        G = np.zeros((d, d))
        for i in range(nc):
            for j in range(nc):
                v = Xc[i] - Xc[j]
                G += 0.5 * A[i, j] * np.outer(v, v)
        s = Xc.sum(0)
        Sb += G / n + (1 - nc / n) * Xc.T @ Xc + np.outer(s, s) / n
        Sw += G / nc
    s = X.sum(0)
    Sb -= np.outer(s, s) / n - Sw
    Sb = (Sb + Sb.T) / 2
    Sw = (Sw + Sw.T) / 2
    vals, vecs = scipy.linalg.eigh(Sb, Sw)
    order = np.argsort(-vals)[:dim]
    vals, vecs = vals[order], vecs[:, order]
    if embedding == "weighted":
        vecs = vecs * np.sqrt(vals)
    elif embedding == "orthonormalized":
        vecs, _ = np.linalg.qr(vecs)
    L = vecs.T
    return L, L.T @ L


def lfda_cases():
    rng = np.random.default_rng(2)
    # Three classes in 5-d, class 0 bimodal (two clusters), plus noise features.
    parts, labels = [], []
    for c, centres in enumerate([[(0, 0), (6, 6)], [(3, 0)], [(0, 4)]]):
        for (a, b) in centres:
            m = 12 if len(centres) == 1 else 8
            parts.append(np.column_stack([a + 0.7 * rng.normal(size=m), b + 0.7 * rng.normal(size=m),
                                          rng.normal(size=(m, 3))]))
            labels += [c] * m
    X = np.vstack(parts)
    y = np.array(labels)
    out = []
    for opts in [{}, {"k": 2}, {"k": 9}, {"n_components": 2}, {"embedding": "plain"},
                 {"embedding": "orthonormalized", "n_components": 3}]:
        L, M = lfda_fit(X, y, **opts)
        case = {"options": opts, "x": X, "y": y, "M": M}
        if opts.get("embedding", "weighted") != "orthonormalized":
            case["components"] = _sign_rows(L)
        out.append(case)
    return out


def _inv_sqrtm(x):
    vals, vecs = np.linalg.eigh(x)
    return (vecs / np.sqrt(vals)) @ vecs.T


def rca_fit(X, chunks, n_components=None):
    """RCA (Shental et al. 2002) as metric-learn 0.7 documents it: chunklet-centred covariance C
    (bias=1); full rank L = C^(-1/2); else the n_components smallest generalized eigenvectors of
    (C, total covariance) and L = (A^T C A)^(-1/2) A^T."""
    chunks = np.asarray(chunks)
    mask = chunks >= 0
    data = X[mask].astype(float).copy()
    cl = chunks[mask]
    for c in np.unique(cl):
        data[cl == c] -= data[cl == c].mean(0)
    C = np.atleast_2d(np.cov(data, rowvar=0, bias=1))
    d = X.shape[1]
    dim = d if n_components is None else n_components
    if dim < d:
        total = np.cov(X[mask], rowvar=0)
        vals, vecs = scipy.linalg.eigh(C, total)
        A = vecs[:, np.argsort(vals)[:dim]]
        L = _inv_sqrtm(A.T @ C @ A) @ A.T
    else:
        L = _inv_sqrtm(C).T
    return L, L.T @ L


def rca_cases():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4)) * np.array([1.0, 3.0, 0.5, 2.0])
    chunks = np.repeat(np.arange(10), 3)
    chunks[[0, 7, 20]] = -1
    out = []
    for nc in [None, 2]:
        L, M = rca_fit(X, chunks, nc)
        case = {"n_components": nc, "x": X, "chunks": chunks, "M": M}
        if nc is None:
            case["components"] = L
        out.append(case)
    return out


def sdml_cases():
    """SDML's matrix: scikit-learn's graphical lasso on S = prior^-1 + eta * sum y_i d_i d_i^T,
    started (as metric-learn starts it) from S with eigenvalues shifted positive."""
    rng = np.random.default_rng(4)
    out = []
    X = rng.normal(size=(20, 4)) * np.array([1.0, 0.3, 2.0, 0.5])
    pairs_idx = [(i, (i + 1) % 20) for i in range(0, 20, 2)] + [(i, (i + 7) % 20) for i in range(0, 20, 2)]
    y = np.array([1] * 10 + [-1] * 10)
    for balance, sparsity in [(0.01, 0.01), (0.02, 0.05)]:
        a = X[[p[0] for p in pairs_idx]]
        b = X[[p[1] for p in pairs_idx]]
        diff = a - b
        S = np.eye(4) + balance * (diff.T * y) @ diff
        w, V = np.linalg.eigh(S)
        if w.min() < 0:
            w = w - w.min()
        w = w + 1e-10
        sigma0 = (V * w) @ V.T
        _, M, costs, n_iter = _graphical_lasso(S, alpha=sparsity, cov_init=sigma0)
        out.append({"balance": balance, "sparsity": sparsity, "pairs": np.stack([a, b], 1),
                    "y": y, "S": S, "M": M, "iterations": n_iter})
    return out


def lda_cases():
    rng = np.random.default_rng(5)
    out = []
    for n_classes, d in [(3, 4), (2, 3), (4, 6)]:
        X = np.vstack([rng.normal(size=(15, d)) + 2 * rng.normal(size=d) for _ in range(n_classes)])
        y = np.repeat(np.arange(n_classes), 15)
        lda = LinearDiscriminantAnalysis().fit(X, y)
        out.append({"x": X, "y": y, "scalings": _sign_rows(lda.scalings_.T).T})
    return out


def lsml_objective_cases():
    """LSML's objective sum w [sqrt(dab) - sqrt(dcd)]^2_+ + tr(M P^-1) - log det M at M = prior."""
    rng = np.random.default_rng(6)
    Q = rng.normal(size=(12, 4, 3))
    prior = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]])
    out = []
    for P in [np.eye(3), prior]:
        M = P
        vab, vcd = Q[:, 0] - Q[:, 1], Q[:, 2] - Q[:, 3]
        dab = np.einsum("ij,jk,ik->i", vab, M, vab)
        dcd = np.einsum("ij,jk,ik->i", vcd, M, vcd)
        w = np.ones(len(Q)) / len(Q)
        viol = dab > dcd
        loss = (w[viol] * (np.sqrt(dab[viol]) - np.sqrt(dcd[viol])) ** 2).sum()
        loss += np.sum(M * np.linalg.inv(P)) - np.linalg.slogdet(M)[1]
        out.append({"quadruplets": Q, "prior": P, "objective": loss})
    return out


def itml_bounds_cases():
    """ITML's default bounds: 5th/95th percentiles (numpy's linear interpolation) of the squared
    Euclidean distances over all ordered pairs of the distinct points of the pairs."""
    rng = np.random.default_rng(7)
    pts = rng.normal(size=(9, 3))
    idx = np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 0], [1, 2]])
    pairs = pts[idx]
    X = np.unique(np.vstack(pairs), axis=0)
    D2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    return [{"pairs": pairs, "bounds": np.percentile(D2, (5, 95))}]


def generate():
    return {
        "covariance": covariance_cases(),
        "lfda": lfda_cases(),
        "rca": rca_cases(),
        "sdml": sdml_cases(),
        "lda": lda_cases(),
        "lsml_objective": lsml_objective_cases(),
        "itml_bounds": itml_bounds_cases(),
    }
