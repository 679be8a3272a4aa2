/**
 * The prior (or initial) Mahalanobis matrix of LSML, SDML, ITML and MMC, as metric-learn's
 * `_initialize_metric_mahalanobis` builds it (internal).
 *
 * @module
 */
import { createRng } from "../data/random.ts";
import {
  covariance as covarianceMatrix,
  eigenTolerance,
  fromEigen,
  matmul,
  pinvh,
  svd,
  symmetricEigen,
} from "./_linalg.ts";
import type { Points } from "./_internal.ts";

/**
 * A prior Mahalanobis matrix: `"identity"`, `"covariance"` (the inverse covariance of the
 * points), `"random"` (a seeded random symmetric positive definite matrix, as scikit-learn's
 * `make_spd_matrix` draws one), or an explicit symmetric `[d, d]` matrix.
 *
 * @example
 * ```ts
 * import type { PriorSpec } from "./_prior.ts";
 * const p: PriorSpec = [[2, 0], [0, 1]];
 * ```
 */
export type PriorSpec = "identity" | "covariance" | "random" | ArrayLike<ArrayLike<number>>;

/** Checks a prior option at construction time. */
export function checkPrior(fn: string, name: string, prior: unknown): void {
  if (prior === "identity" || prior === "covariance" || prior === "random") return;
  if (
    prior !== null && typeof prior === "object" &&
    typeof (prior as ArrayLike<unknown>).length === "number"
  ) {
    return;
  }
  throw new Error(
    `${fn}: ${name} must be "identity", "covariance", "random" or a [d, d] matrix, got ${
      String(prior)
    }`,
  );
}

/**
 * M and its (pseudo-)inverse for a prior spec, on `points` (`[m, d]`: the data, or the points of
 * the tuples, de-duplicated as metric-learn does).
 *
 * @throws Error when an explicit matrix has the wrong shape, is not symmetric or not PSD; with
 * `strictPd`, when M is not positive definite.
 */
export function initialMetric(
  fn: string,
  name: string,
  spec: PriorSpec,
  points: Points,
  options: { seed?: number; strictPd?: boolean } = {},
): { M: Float64Array; Minv: Float64Array } {
  const d = points.d;
  const definite = (values: Float64Array, what: string) => {
    const tol = eigenTolerance(values);
    if (values.some((w) => w < -tol)) {
      throw new Error(`${fn}: the ${name} ${what} is not positive semi-definite`);
    }
    const isDefinite = !values.some((w) => Math.abs(w) < tol);
    if (options.strictPd && !isDefinite) {
      throw new Error(
        `${fn}: the ${name} ${what} is not strictly positive definite; use another ${name}`,
      );
    }
  };
  if (spec === "identity") {
    const I = new Float64Array(d * d);
    for (let i = 0; i < d; i++) I[i * d + i] = 1;
    return { M: I, Minv: Float64Array.from(I) };
  }
  if (spec === "covariance") {
    const uniq = uniqueRows(points);
    const C = covarianceMatrix(uniq.data, uniq.n, d, 1);
    const { values, vectors } = symmetricEigen(C, d);
    definite(values, "(covariance)");
    const tol = Math.max(...values) * d * Number.EPSILON;
    return {
      M: fromEigen(values, vectors, d, (w) => (Math.abs(w) > tol ? 1 / w : 0)),
      Minv: C,
    };
  }
  if (spec === "random") {
    const rng = createRng(options.seed ?? 0);
    const A = Float64Array.from({ length: d * d }, () => rng.next());
    const AtA = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let r = 0; r < d; r++) s += A[r * d + i] * A[r * d + j];
        AtA[i * d + j] = s;
      }
    }
    const { u, v } = svd(AtA, d, d);
    // scikit-learn adds 1 to every entry of diag(r): U (11ᵀ + diag(r)) Vᵀ.
    const B = new Float64Array(d * d).fill(1);
    for (let i = 0; i < d; i++) B[i * d + i] += rng.next();
    const Vt = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) Vt[i * d + j] = v[j * d + i];
    const M = matmul(matmul(u, B, d, d, d), Vt, d, d, d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < i; j++) M[i * d + j] = M[j * d + i] = (M[i * d + j] + M[j * d + i]) / 2;
    }
    return { M, Minv: pinvh(M, d) };
  }
  const rows = spec;
  if (rows.length !== d || Array.from(rows).some((r) => r?.length !== d)) {
    throw new Error(`${fn}: the ${name} must be [${d}, ${d}] to match the ${d} features`);
  }
  const M = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      M[i * d + j] = rows[i][j];
      if (!Number.isFinite(M[i * d + j])) {
        throw new Error(`${fn}: the ${name} holds ${M[i * d + j]} at [${i}, ${j}]`);
      }
    }
  }
  let scale = 0;
  for (const v of M) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      if (Math.abs(M[i * d + j] - M[j * d + i]) > 1e-8 + 1e-5 * scale) {
        throw new Error(`${fn}: the ${name} is not symmetric`);
      }
    }
  }
  const { values, vectors } = symmetricEigen(M, d);
  definite(values, "matrix");
  const tol = Math.max(...values) * d * Number.EPSILON;
  return { M, Minv: fromEigen(values, vectors, d, (w) => (Math.abs(w) > tol ? 1 / w : 0)) };
}

/** The distinct rows of `points` (numpy's `np.unique(..., axis=0)`, in lexicographic order). */
export function uniqueRows(points: Points): Points {
  const { data, n, d } = points;
  const idx = Array.from({ length: n }, (_, i) => i);
  const cmp = (a: number, b: number) => {
    for (let c = 0; c < d; c++) {
      const diff = data[a * d + c] - data[b * d + c];
      if (diff !== 0) return diff;
    }
    return 0;
  };
  idx.sort((a, b) => cmp(a, b) || a - b);
  const keep: number[] = [];
  for (const i of idx) if (!keep.length || cmp(keep[keep.length - 1], i) !== 0) keep.push(i);
  const out = new Float64Array(keep.length * d);
  keep.forEach((i, r) => out.set(data.subarray(i * d, (i + 1) * d), r * d));
  return { data: out, n: keep.length, d };
}
