/**
 * Dense float64 linear algebra for the linear learners (internal): thin wrappers that keep the
 * learners' row-major `Float64Array` layout and delegate the factorizations to `ml-matrix`
 * (its `EigenvalueDecomposition`, `CholeskyDecomposition`, `SingularValueDecomposition` and
 * `QrDecomposition`), plus the few matrix functions metric-learn composes from them (pseudo-inverse,
 * inverse square root, rank, L from M).
 *
 * Matrices here are small (d ≲ a few hundred): the learners work on feature-by-feature matrices.
 *
 * @module
 */
import {
  CholeskyDecomposition,
  EigenvalueDecomposition,
  Matrix,
  QrDecomposition,
  SingularValueDecomposition,
} from "ml-matrix";

/** `[rows, cols]` row-major Float64Array → ml-matrix Matrix. */
export function toMatrix(a: ArrayLike<number>, rows: number, cols: number): Matrix {
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) m.set(i, j, a[i * cols + j]);
  }
  return m;
}

/** ml-matrix Matrix → row-major Float64Array. */
export function fromMatrix(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows * m.columns);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.columns; j++) out[i * m.columns + j] = m.get(i, j);
  }
  return out;
}

/** (A + Aᵀ)/2 of a `[d, d]` matrix, as a Matrix (ml-matrix's symmetric solvers test exact symmetry). */
function symmetricMatrix(a: ArrayLike<number>, d: number): Matrix {
  const m = new Matrix(d, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) m.set(i, j, (a[i * d + j] + a[j * d + i]) / 2);
  }
  return m;
}

/**
 * Eigendecomposition of a symmetric `[d, d]` matrix (row-major; its symmetric part is used):
 * A = V diag(values) Vᵀ with eigenvalues ascending and eigenvector k in column k of `vectors`
 * (row-major). By ml-matrix's `EigenvalueDecomposition` (Householder tridiagonalisation + QL).
 *
 * @example
 * ```ts
 * import { symmetricEigen } from "./_linalg.ts";
 * const { values } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
 * console.log(values); // ≈ [1, 3]
 * ```
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  d: number,
): { values: Float64Array; vectors: Float64Array } {
  if (d === 0) return { values: new Float64Array(0), vectors: new Float64Array(0) };
  const e = new EigenvalueDecomposition(symmetricMatrix(a, d), { assumeSymmetric: true });
  const raw = e.realEigenvalues;
  const V = e.eigenvectorMatrix;
  const order = raw.map((_, i) => i).sort((i, j) => raw[i] - raw[j]);
  const values = Float64Array.from(order, (i) => raw[i]);
  const vectors = new Float64Array(d * d);
  for (let r = 0; r < d; r++) {
    for (let c = 0; c < d; c++) vectors[r * d + c] = V.get(r, order[c]);
  }
  return { values, vectors };
}

/** V diag(f(values)) Vᵀ from an eigendecomposition, `[d, d]`. */
export function fromEigen(
  values: ArrayLike<number>,
  vectors: ArrayLike<number>,
  d: number,
  f: (v: number) => number = (v) => v,
): Float64Array {
  const out = new Float64Array(d * d);
  for (let e = 0; e < d; e++) {
    const w = f(values[e]);
    if (w === 0) continue;
    for (let r = 0; r < d; r++) {
      const vr = w * vectors[r * d + e];
      if (vr === 0) continue;
      for (let c = 0; c < d; c++) out[r * d + c] += vr * vectors[c * d + e];
    }
  }
  return out;
}

/**
 * Lower Cholesky factor C of a symmetric positive definite `[d, d]` matrix (A = C Cᵀ), or `null`
 * when A is not (numerically) positive definite. By ml-matrix's `CholeskyDecomposition`.
 *
 * @example
 * ```ts
 * import { choleskyLower } from "./_linalg.ts";
 * console.log(choleskyLower(Float64Array.from([4, 2, 2, 2]), 2)); // [2, 0, 1, 1]
 * console.log(choleskyLower(Float64Array.from([1, 1, 1, 1]), 2)); // null
 * ```
 */
export function choleskyLower(a: ArrayLike<number>, d: number): Float64Array | null {
  const c = new CholeskyDecomposition(symmetricMatrix(a, d));
  if (!c.isPositiveDefinite()) return null;
  const out = fromMatrix(c.lowerTriangularMatrix);
  for (let i = 0; i < d; i++) if (!(out[i * d + i] > 0)) return null;
  return out;
}

/**
 * Tolerance under which an eigenvalue counts as zero, as numpy's `matrix_rank` and metric-learn's
 * `_check_sdp_from_eigen` choose it: max |w| · d · ε.
 */
export function eigenTolerance(values: ArrayLike<number>): number {
  let big = 0;
  for (let i = 0; i < values.length; i++) big = Math.max(big, Math.abs(values[i]));
  return big * values.length * Number.EPSILON;
}

/**
 * Moore–Penrose pseudo-inverse of a symmetric `[d, d]` matrix (scipy's `pinvh`): eigenvalues with
 * |w| ≤ max |w| · d · ε are treated as zero.
 *
 * @example
 * ```ts
 * import { pinvh } from "./_linalg.ts";
 * console.log(pinvh(Float64Array.from([2, 0, 0, 0]), 2)); // [0.5, 0, 0, 0]
 * ```
 */
export function pinvh(a: ArrayLike<number>, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, d);
  const tol = eigenTolerance(values);
  return fromEigen(values, vectors, d, (w) => (Math.abs(w) > tol ? 1 / w : 0));
}

/** Rank of a symmetric matrix: eigenvalues above {@linkcode eigenTolerance}, as numpy counts it. */
export function symmetricRank(a: ArrayLike<number>, d: number): number {
  const { values } = symmetricEigen(a, d);
  const tol = eigenTolerance(values);
  return values.filter((w) => Math.abs(w) > tol).length;
}

/**
 * L with M = LᵀL from a symmetric positive semi-definite `[d, d]` matrix, as metric-learn's
 * `components_from_metric` builds it: the element-wise square root when M is diagonal, else the
 * transposed Cholesky factor when M is positive definite, else Vᵀ·sqrt(max(0, w)) from the
 * eigendecomposition (rows in ascending eigenvalue order).
 *
 * @throws Error `<fn>: the Mahalanobis matrix is not symmetric` / `... is not positive semi-definite`
 * (an eigenvalue below −max|w|·d·ε).
 * @example
 * ```ts
 * import { componentsFromMetric } from "./_linalg.ts";
 * console.log(componentsFromMetric(Float64Array.from([4, 2, 2, 2]), 2)); // [2, 1, 0, 1]
 * ```
 */
export function componentsFromMetric(
  m: ArrayLike<number>,
  d: number,
  fn = "componentsFromMetric",
): Float64Array {
  let scale = 0, asym = 0, offDiagonal = false;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      scale = Math.max(scale, Math.abs(m[i * d + j]));
      asym = Math.max(asym, Math.abs(m[i * d + j] - m[j * d + i]));
      if (i !== j && m[i * d + j] !== 0) offDiagonal = true;
    }
  }
  if (asym > 1e-8 + 1e-5 * scale) throw new Error(`${fn}: the Mahalanobis matrix is not symmetric`);
  const notPsd = (values: ArrayLike<number>) => {
    const tol = eigenTolerance(values);
    for (let i = 0; i < values.length; i++) {
      if (values[i] < -tol) {
        throw new Error(
          `${fn}: the Mahalanobis matrix is not positive semi-definite (eigenvalue ${values[i]})`,
        );
      }
    }
  };
  const L = new Float64Array(d * d);
  if (!offDiagonal) {
    const diag = Float64Array.from({ length: d }, (_, i) => m[i * d + i]);
    notPsd(diag);
    for (let i = 0; i < d; i++) L[i * d + i] = Math.sqrt(Math.max(0, diag[i]));
    return L;
  }
  const C = choleskyLower(m, d);
  if (C) {
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) L[i * d + j] = C[j * d + i];
    return L;
  }
  const { values, vectors } = symmetricEigen(m, d);
  notPsd(values);
  for (let e = 0; e < d; e++) {
    const s = Math.sqrt(Math.max(0, values[e]));
    for (let c = 0; c < d; c++) L[e * d + c] = s * vectors[c * d + e];
  }
  return L;
}

/**
 * The generalized symmetric-definite eigenproblem A v = λ B v (A symmetric, B symmetric positive
 * definite), by the Cholesky reduction B = C Cᵀ, C⁻¹ A C⁻ᵀ = U Λ Uᵀ, V = C⁻ᵀ U: eigenvalues
 * ascending, eigenvector k in column k of `vectors`, B-orthonormal (Vᵀ B V = I), as scipy's
 * `eigh(a, b)` returns them (up to sign).
 *
 * @returns `null` when B is not positive definite.
 * @example
 * ```ts
 * import { generalizedEigen } from "./_linalg.ts";
 * const r = generalizedEigen(Float64Array.from([2, 0, 0, 3]), Float64Array.from([1, 0, 0, 3]), 2);
 * console.log(r?.values); // [1, 2]
 * ```
 */
export function generalizedEigen(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  d: number,
): { values: Float64Array; vectors: Float64Array } | null {
  const C = choleskyLower(b, d);
  if (!C) return null;
  // Cinv by forward substitution (C lower triangular).
  const Ci = new Float64Array(d * d);
  for (let col = 0; col < d; col++) {
    for (let i = 0; i < d; i++) {
      let s = i === col ? 1 : 0;
      for (let k = 0; k < i; k++) s -= C[i * d + k] * Ci[k * d + col];
      Ci[i * d + col] = s / C[i * d + i];
    }
  }
  const CiA = toMatrix(Ci, d, d).mmul(toMatrix(a, d, d));
  const reduced = fromMatrix(CiA.mmul(toMatrix(Ci, d, d).transpose()));
  const { values, vectors: U } = symmetricEigen(reduced, d);
  const V = fromMatrix(toMatrix(Ci, d, d).transpose().mmul(toMatrix(U, d, d)));
  return { values, vectors: V };
}

/**
 * Thin singular value decomposition of an `[r, c]` matrix (ml-matrix's
 * `SingularValueDecomposition`): singular values descending, `u` `[r, k]`, `v` `[c, k]`,
 * k = min(r, c).
 */
export function svd(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
): { s: Float64Array; u: Float64Array; v: Float64Array; k: number } {
  const dec = new SingularValueDecomposition(toMatrix(a, rows, cols), { autoTranspose: true });
  const k = Math.min(rows, cols);
  const s = Float64Array.from(dec.diagonal.slice(0, k));
  const order = [...s.keys()].sort((i, j) => s[j] - s[i]);
  const U = dec.leftSingularVectors, V = dec.rightSingularVectors;
  const u = new Float64Array(rows * k), v = new Float64Array(cols * k);
  for (let c = 0; c < k; c++) {
    const o = order[c];
    for (let r = 0; r < rows; r++) u[r * k + c] = U.get(r, o);
    for (let r = 0; r < cols; r++) v[r * k + c] = V.get(r, o);
  }
  return { s: Float64Array.from(order, (o) => s[o]), u, v, k };
}

/** Q of the thin QR decomposition of an `[r, c]` matrix (r ≥ c), `[r, c]` (ml-matrix's `QrDecomposition`). */
export function orthonormalColumns(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const q = new QrDecomposition(toMatrix(a, rows, cols)).orthogonalMatrix;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = q.get(r, c);
  return out;
}

/** C = A B for row-major `[n, m]` × `[m, p]`. */
export function matmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  m: number,
  p: number,
): Float64Array {
  const out = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      const o = k * p;
      for (let j = 0; j < p; j++) out[i * p + j] += aik * b[o + j];
    }
  }
  return out;
}

/** Covariance of the rows of `[n, d]` (columns are variables), divided by n − ddof. */
export function covariance(x: ArrayLike<number>, n: number, d: number, ddof = 1): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const out = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - mean[j];
    for (let r = 0; r < d; r++) {
      const v = row[r];
      if (v === 0) continue;
      for (let c = r; c < d; c++) out[r * d + c] += v * row[c];
    }
  }
  const div = n - ddof;
  for (let r = 0; r < d; r++) {
    for (let c = r; c < d; c++) out[c * d + r] = out[r * d + c] = out[r * d + c] / div;
  }
  return out;
}
