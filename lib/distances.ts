/**
 * The one distance module: every distance and similarity used by losses, miners, evaluation and
 * plots is computed here. Metrics are interchangeable objects ({@linkcode Metric}) resolved from a
 * {@linkcode MetricSpec}, following pytorch-metric-learning's distance objects and the names of
 * `scipy.spatial.distance.cdist`.
 *
 * @module
 */
import { checkFiniteTensor, checkOptionKeys } from "./validate.ts";
import * as tf from "@tensorflow/tfjs";
import { squaredDistances } from "./_squared_distances.ts";
import { sqrtGradient } from "./kernels/elementwise.ts";

/**
 * A metric by name (`"euclidean"`) or by name with parameters (`{ name: "minkowski", p: 3 }`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MetricSpec, resolveMetric } from "./distances.ts";
 * const spec: MetricSpec = { name: "minkowski", p: 3 };
 * assert.equal(resolveMetric(spec).axioms.triangleInequality, true); // p ≥ 1
 * ```
 */
export type MetricSpec = string | { name: string; [param: string]: unknown };

/**
 * The four metric axioms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Axiom, resolveMetric } from "./distances.ts";
 * const a: Axiom = "triangleInequality";
 * assert.equal(resolveMetric("cosine").axioms[a], false);
 * ```
 */
export type Axiom = "nonNegativity" | "identity" | "symmetry" | "triangleInequality";

/**
 * The inputs a metric is defined on, used by `checkMetricAxioms` to draw samples: all real
 * vectors, non-negative vectors, 0/1 vectors (sets), or probability vectors (non-negative, summing
 * to 1; `jensenshannon` normalises its inputs onto this simplex).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveMetric } from "./distances.ts";
 * assert.equal(resolveMetric("jaccard").domain, "binary");
 * ```
 */
export type MetricDomain = "real" | "nonnegative" | "binary" | "simplex";

/**
 * How a metric is computed: one matrix product, or differences of `[rows, m, d]` blocks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveMetric } from "./distances.ts";
 * assert.equal(resolveMetric("cityblock").form, "elementwise");
 * ```
 */
export type MetricForm = "matmul" | "elementwise";

/**
 * An interchangeable distance or similarity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { Metric } from "./distances.ts";
 * const halfL1: Metric = {
 *   name: "halfL1",
 *   isSimilarity: false,
 *   axioms: { nonNegativity: true, identity: true, symmetry: true, triangleInequality: true },
 *   pairwise: (a, b) => tf.tidy(() => tf.mul(tf.sum(tf.abs(tf.sub(a.expandDims(1), b.expandDims(0))), 2), 0.5)),
 * };
 * const d = halfL1.pairwise(tf.tensor2d([[0, 0]]), tf.tensor2d([[2, 4]]));
 * assert.deepEqual(d.arraySync(), [[3]]);
 * ```
 */
export interface Metric {
  /** Canonical name, as scipy spells it where scipy has it. */
  readonly name: string;
  /** True when larger values mean closer (a similarity such as the dot product). */
  readonly isSimilarity: boolean;
  /** The axioms this measure satisfies on its whole {@linkcode Metric.domain}. */
  readonly axioms: Readonly<Record<Axiom, boolean>>;
  /** Where the axioms are declared to hold (default `"real"`). */
  readonly domain?: MetricDomain;
  /** Matmul or elementwise computation (informative). */
  readonly form?: MetricForm;
  /** Parameters in effect (e.g. `{ p: 3 }`). */
  readonly params?: Readonly<Record<string, unknown>>;
  /**
   * The same metric with data-dependent defaults (e.g. `seuclidean`'s `V`) computed from the
   * full inputs, for blocked evaluation. Absent when the metric has none.
   */
  prepare?(a: tf.Tensor2D, b: tf.Tensor2D): Metric;
  /**
   * All pairwise values between rows.
   *
   * @param a `[n, d]`
   * @param b `[m, d]`
   * @returns `[n, m]`
   */
  pairwise(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D;
}

const ALL_AXIOMS: Record<Axiom, boolean> = {
  nonNegativity: true,
  identity: true,
  symmetry: true,
  triangleInequality: true,
};

/**
 * Square root whose gradient is 0 (not infinite) where its input is 0, so that Euclidean distances
 * between identical points have finite gradients. Negative inputs (round-off) are clamped to 0.
 *
 * @param x any shape, squared distances
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { safeSqrt } from "./distances.ts";
 * assert.deepEqual(safeSqrt(tf.tensor1d([0, 4])).arraySync(), [0, 2]);
 * ```
 */
export const safeSqrt: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any, save: any) => {
    const clamped = tf.relu(x as tf.Tensor);
    const value = tf.sqrt(clamped);
    save([value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => sqrtGradient(dy, saved[0]),
    };
  },
) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * Squared Euclidean distances in matmul form: ‖a‖² + ‖b‖² − 2 a·bᵀ, clamped at 0. Float32
 * cancellation makes the absolute error about ε·(‖a‖² + ‖b‖²) (ε ≈ 6e-8); the metrics
 * `euclidean`/`sqeuclidean` centre the inputs first to shrink it.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @returns `[n, m]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { squaredEuclideanMatrix } from "./distances.ts";
 * const d = squaredEuclideanMatrix(tf.tensor2d([[0, 0]]), tf.tensor2d([[3, 4]]));
 * assert.deepEqual(d.arraySync(), [[25]]);
 * ```
 */
export function squaredEuclideanMatrix(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const ab = tf.matMul(a, b, false, true); // [n, m]
    const aa = rowDots(a); // [n, 1]
    const bb = a === b ? aa : rowDots(b);
    return tf.relu(tf.sub(tf.add(aa, tf.reshape(bb, [1, -1])), tf.mul(ab, 2))) as tf.Tensor2D;
  });
}

/**
 * Squared row norms `[n, 1]` computed by the same matrix-product kernel as the cross term `a·bᵀ`,
 * so that (on backends whose kernel sums in a fixed order, e.g. `cpu`) identical rows give
 * exactly ‖a‖² + ‖b‖² − 2a·b = 0.
 */
const rowDots: (x: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any, save: any) => {
    const t = x as tf.Tensor2D;
    const [n, d] = t.shape;
    const x3 = tf.reshape(t, [n, 1, d]);
    save([t]);
    return {
      value: tf.reshape(tf.matMul(x3, x3, false, true), [n, 1]),
      // d(x·x)/dx = 2x: cheaper than the batched matrix product's own gradient.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(tf.mul(saved[0], dy), 2),
    };
  },
) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;

/**
 * Rows scaled to unit L2 norm; zero rows stay zero.
 *
 * @param x `[n, d]`
 * @returns `[n, d]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { l2Normalize } from "./distances.ts";
 * const [[u, v]] = l2Normalize(tf.tensor2d([[3, 4]])).arraySync();
 * assert.ok(Math.abs(u - 0.6) < 1e-6 && Math.abs(v - 0.8) < 1e-6);
 * ```
 */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => normalizeRows(x));
}

/** Below this the norm is replaced by it (PyTorch's `F.normalize` eps). */
const NORMALIZE_EPS = 1e-12;

/**
 * `x / max(safeSqrt(Σ x²), 1e-12)` row by row, under one custom gradient: the operations
 * autograd takes through the square, the sum, {@linkcode safeSqrt}, the maximum and the
 * division, in the same order (the same bits), without the tape's copies and no-op casts (a
 * training step records one operation here instead of about forty).
 */
const normalizeRows: (x: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any, save: any) => {
    const norm = tf.sqrt(tf.relu(tf.sum(tf.square(x as tf.Tensor), 1, true)));
    const m = tf.maximum(norm, NORMALIZE_EPS);
    save([x, norm, m]);
    return {
      value: tf.div(x, m),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [v, n, den] = saved;
        // ∂/∂x of x / m, then of m = max(n, eps), n = sqrt(Σ x²), Σ x², as tfjs's gradients.
        const direct = tf.div(dy, den);
        const dm = tf.neg(tf.div(tf.sum(tf.mul(dy, v), 1, true), tf.square(den)));
        const dn = tf.mul(dm, tf.cast(tf.greaterEqual(n, NORMALIZE_EPS), "float32"));
        const viaNorm = tf.mul(sqrtGradient(dn, n), tf.mul(v, 2));
        return tf.add(direct, viaNorm);
      },
    };
  },
) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;

/**
 * Cosine similarities between rows; a zero row has similarity 0 with everything.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @returns `[n, m]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { cosineSimilarityMatrix } from "./distances.ts";
 * const [[s]] = cosineSimilarityMatrix(tf.tensor2d([[1, 0]]), tf.tensor2d([[1, 1]])).arraySync();
 * assert.ok(Math.abs(s - Math.SQRT1_2) < 1e-6); // 0.7071
 * ```
 */
export function cosineSimilarityMatrix(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const na = l2Normalize(a);
    return tf.matMul(na, a === b ? na : l2Normalize(b), false, true);
  });
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

const NO_TRIANGLE: Readonly<Record<Axiom, boolean>> = { ...ALL_AXIOMS, triangleInequality: false };
const SIMILARITY_AXIOMS: Readonly<Record<Axiom, boolean>> = {
  nonNegativity: false,
  identity: false,
  symmetry: true,
  triangleInequality: false,
};

/**
 * `x^(1/p)` for `x ≥ 0` whose gradient is 0 (not infinite) where `x` is 0, the `p`-th root
 * analogue of {@linkcode safeSqrt}. Negative inputs (round-off) are clamped to 0.
 *
 * @param x any shape
 * @param p root order, `p > 0`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { safeRoot } from "./distances.ts";
 * const [r0, r8] = safeRoot(tf.tensor1d([0, 8]), 3).dataSync();
 * assert.ok(r0 === 0 && Math.abs(r8 - 2) < 1e-6);
 * ```
 */
export function safeRoot(x: tf.Tensor, p: number): tf.Tensor {
  if (!(p > 0) || !Number.isFinite(p)) {
    throw new Error(`safeRoot: p must be finite and > 0, got ${p}`);
  }
  if (p === 2) return safeSqrt(x);
  if (p === 1) return tf.relu(x);
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (t: any, save: any) => {
      const clamped = tf.relu(t as tf.Tensor);
      const value = tf.pow(clamped, 1 / p);
      save([clamped, value]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [c, v] = saved;
          const positive = tf.greater(c, 0);
          const safeC = tf.where(positive, c, tf.onesLike(c));
          // d/dx x^(1/p) = x^(1/p) / (p x)
          const g = tf.div(v, tf.mul(safeC, p));
          return tf.where(positive, tf.mul(dy, g), tf.zerosLike(c));
        },
      };
    },
  ) as unknown as (t: tf.Tensor) => tf.Tensor;
  return f(x);
}

/** The smallest normal float32, used as a floor in divisions whose numerator is then 0. */
const TINY = 1.1754944e-38;

/**
 * Wraps a piecewise-constant pairwise function (counts of equal coordinates) so that its gradient
 * is 0 instead of an error from boolean ops that have no gradient.
 */
function piecewiseConstant(
  fn: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D,
): (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (a: any, b: any) => ({
      value: fn(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: () => [tf.zerosLike(a as tf.Tensor), tf.zerosLike(b as tf.Tensor)],
    }),
  ) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
  return (a, b) => f(a, b);
}

/**
 * Elements of the largest `[blockRows, m, d]` intermediate an elementwise metric builds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ELEMENTWISE_BLOCK_ELEMENTS, elementwiseBlockRows } from "./distances.ts";
 * assert.ok(elementwiseBlockRows(20000, 64) * 20000 * 64 <= ELEMENTWISE_BLOCK_ELEMENTS);
 * ```
 */
export const ELEMENTWISE_BLOCK_ELEMENTS = 1 << 21;

/**
 * Rows per block for an elementwise metric so that one `[rows, m, d]` intermediate holds at most
 * `budget` elements (at least one row).
 *
 * @param m rows of `b`
 * @param d feature dimension
 * @param budget elements per block (default {@linkcode ELEMENTWISE_BLOCK_ELEMENTS})
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elementwiseBlockRows } from "./distances.ts";
 * assert.equal(elementwiseBlockRows(1000, 64, 640000), 10);
 * ```
 */
export function elementwiseBlockRows(
  m: number,
  d: number,
  budget: number = ELEMENTWISE_BLOCK_ELEMENTS,
): number {
  return Math.max(1, Math.floor(budget / Math.max(1, m * d)));
}

/** `kernel(x [r,1,d], y [1,m,d]) → [r,m]`, applied in row blocks of bounded size. */
type ElementwiseKernel = (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor2D;

function elementwise(a: tf.Tensor2D, b: tf.Tensor2D, kernel: ElementwiseKernel): tf.Tensor2D {
  const [n, d] = a.shape;
  const m = b.shape[0];
  if (n === 0 || m === 0) return tf.zeros([n, m]) as tf.Tensor2D;
  const rows = elementwiseBlockRows(m, d);
  if (n <= rows) {
    return tf.tidy(() =>
      kernel(tf.expandDims(a, 1) as tf.Tensor3D, tf.expandDims(b, 0) as tf.Tensor3D)
    );
  }
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < n; start += rows) {
    const r = Math.min(rows, n - start);
    parts.push(tf.tidy(() =>
      kernel(
        tf.expandDims(tf.slice(a, [start, 0], [r, d]), 1) as tf.Tensor3D,
        tf.expandDims(b, 0) as tf.Tensor3D,
      )
    ));
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

/** Multiplies the diagonal by 0 when `a` and `b` are the same tensor (NaN stays NaN). */
function zeroSelfDiagonal(a: tf.Tensor2D, b: tf.Tensor2D, d: tf.Tensor2D): tf.Tensor2D {
  if (a !== b) return d;
  return tf.tidy(() => tf.mul(d, tf.sub(1, tf.eye(a.shape[0]))) as tf.Tensor2D);
}

/** `[n, m]` mask: row i of `a` or row j of `b` is flagged. */
function eitherRow(flagA: tf.Tensor, flagB: tf.Tensor): tf.Tensor2D {
  return tf.logicalOr(tf.reshape(flagA, [-1, 1]), tf.reshape(flagB, [1, -1])) as tf.Tensor2D;
}

/**
 * `value` where `mask(...sources)` is true, else `x`. The mask is computed inside a custom
 * gradient so that its boolean ops (which have no gradients) stay off the tape; the gradient
 * flows to `x` where it is kept and nowhere else.
 */
function maskedFill(
  x: tf.Tensor2D,
  sources: tf.Tensor[],
  mask: (...sources: tf.Tensor[]) => tf.Tensor,
  value: number,
): tf.Tensor2D {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (...args: any[]) => {
      const save = args[args.length - 1] as (t: tf.Tensor[]) => void;
      const [t, ...src] = args.slice(0, -1) as tf.Tensor[];
      const m = tf.broadcastTo(mask(...src), t.shape);
      save([m]);
      return {
        value: tf.where(m, tf.fill(t.shape, value), t),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          tf.where(saved[0], tf.zerosLike(dy), dy),
          ...src.map((s) => tf.zerosLike(s)),
        ],
      };
    },
  ) as unknown as (...t: tf.Tensor[]) => tf.Tensor2D;
  return f(x, ...sources);
}

function checkParams(metric: string, params: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw new Error(
        `metric "${metric}": unknown parameter "${key}"` +
          (allowed.length ? `; accepted: ${allowed.join(", ")}` : "; it takes no parameters"),
      );
    }
  }
}

function numberArray(value: unknown, what: string): { values: number[]; shape: number[] } {
  if (value instanceof tf.Tensor) {
    return { values: Array.from(value.dataSync()), shape: value.shape };
  }
  if (ArrayBuffer.isView(value)) {
    const arr = Array.from(value as unknown as ArrayLike<number>);
    return { values: arr, shape: [arr.length] };
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && Array.isArray(value[0])) {
      const rows = value as number[][];
      const width = rows[0].length;
      if (rows.some((r) => !Array.isArray(r) || r.length !== width)) {
        throw new Error(`${what}: rows have different lengths`);
      }
      return { values: rows.flat(), shape: [rows.length, width] };
    }
    return { values: (value as number[]).map(Number), shape: [value.length] };
  }
  throw new Error(`${what}: expected an array, typed array or tf.Tensor, got ${typeof value}`);
}

/**
 * `x` minus its mean along `axis`, by the corrected two-pass algorithm (Chan, Golub & LeVeque
 * 1983): the float32 mean of values far from the origin is off by up to half an ulp of their
 * magnitude (3e-5 at 1000), which shifts every centred value by that much and adds n·δ² to a
 * variance; the mean of the small residuals, taken again, removes the shift.
 */
function centred(x: tf.Tensor, axis: number): tf.Tensor {
  const r = tf.sub(x, tf.mean(x, axis, true));
  return tf.sub(r, tf.mean(r, axis, true));
}

/** Column variances of the stacked rows of `a` and `b` with `ddof = 1` (scipy's cdist default). */
function stackedVariance(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const x = tf.concat([a, b], 0);
    const n = x.shape[0];
    return tf.div(tf.sum(tf.square(centred(x, 0)), 0), n - 1) as tf.Tensor1D;
  });
}

/**
 * The inverse of a square matrix by Gauss–Jordan elimination with partial pivoting, in float64.
 *
 * @param matrix `[d, d]` row-major
 * @param d size
 * @returns `[d, d]` row-major
 * @throws Error when the matrix is singular to working precision.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invertMatrix } from "./distances.ts";
 * assert.deepEqual(Array.from(invertMatrix(new Float64Array([2, 0, 0, 4]), 2)), [0.5, 0, 0, 0.25]);
 * ```
 */
export function invertMatrix(matrix: ArrayLike<number>, d: number): Float64Array {
  if (matrix.length !== d * d) {
    throw new Error(
      `invertMatrix: expected ${d * d} entries for a ${d}×${d} matrix, got ${matrix.length}`,
    );
  }
  const w = 2 * d;
  const m = new Float64Array(d * w);
  let scale = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      m[i * w + j] = matrix[i * d + j];
      scale = Math.max(scale, Math.abs(matrix[i * d + j]));
    }
    m[i * w + d + i] = 1;
  }
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++) {
      if (Math.abs(m[r * w + col]) > Math.abs(m[pivot * w + col])) pivot = r;
    }
    const pv = m[pivot * w + col];
    if (!(Math.abs(pv) > 1e-13 * Math.max(scale, 1e-300))) {
      throw new Error(`invertMatrix: the matrix is singular (pivot ${pv} in column ${col})`);
    }
    if (pivot !== col) {
      for (let j = 0; j < w; j++) {
        const t = m[col * w + j];
        m[col * w + j] = m[pivot * w + j];
        m[pivot * w + j] = t;
      }
    }
    for (let j = 0; j < w; j++) m[col * w + j] /= pv;
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const f = m[r * w + col];
      if (f === 0) continue;
      for (let j = 0; j < w; j++) m[r * w + j] -= f * m[col * w + j];
    }
  }
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] = m[i * w + d + j];
  return out;
}

/**
 * `VI = inv(cov(X))ᵀ` of the stacked rows `X = [a; b]` (`ddof = 1`), as scipy's cdist computes
 * the default of `mahalanobis`. Computed in float64.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @returns `[d, d]`
 * @throws Error when `n + m ≤ d` (the covariance is singular), like scipy.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { inverseCovariance } from "./distances.ts";
 * const x = tf.tensor2d([[0, 0], [2, 0], [0, 2], [2, 2]]);
 * const vi = inverseCovariance(x, x).arraySync().flat().map((v) => +v.toFixed(4));
 * assert.deepEqual(vi, [0.875, 0, 0, 0.875]);
 * ```
 */
export function inverseCovariance(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const d = a.shape[1];
  const rows = a.shape[0] + b.shape[0];
  if (rows <= d) {
    throw new Error(
      `mahalanobis: ${rows} observations are too few for ${d} dimensions (the covariance matrix ` +
        `is singular; at least ${d + 1} are required); pass VI explicitly`,
    );
  }
  const x = new Float64Array(rows * d);
  x.set(a.dataSync(), 0);
  x.set(b.dataSync(), a.shape[0] * d);
  const mean = new Float64Array(d);
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / rows;
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) x[i * d + j] -= mean[j];
  const cov = new Float64Array(d * d);
  for (let i = 0; i < rows; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) {
      const xj = x[off + j];
      if (xj === 0) continue;
      for (let k = j; k < d; k++) cov[j * d + k] += xj * x[off + k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      cov[j * d + k] /= rows - 1;
      cov[k * d + j] = cov[j * d + k];
    }
  }
  const inv = invertMatrix(cov, d);
  const t = new Float32Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) t[i * d + j] = inv[j * d + i];
  return tf.tensor2d(t, [d, d]);
}

// ---------------------------------------------------------------------------------------------
// Metric factories
// ---------------------------------------------------------------------------------------------

function cosineDistance(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const dist = tf.clipByValue(tf.sub(1, cosineSimilarityMatrix(a, b)), 0, 2) as tf.Tensor2D;
    const zero = (t: tf.Tensor) => tf.equal(tf.sum(tf.abs(t), 1), 0);
    return maskedFill(
      zeroSelfDiagonal(a, b, dist),
      [a, b],
      (x, y) => eitherRow(zero(x), zero(y)),
      NaN,
    );
  });
}

function correlationDistance(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const ca = centred(a, 1) as tf.Tensor2D;
    const cb = a === b ? ca : centred(b, 1) as tf.Tensor2D;
    const dist = tf.clipByValue(tf.sub(1, cosineSimilarityMatrix(ca, cb)), 0, 2) as tf.Tensor2D;
    const constant = (t: tf.Tensor) => tf.equal(tf.max(t, 1), tf.min(t, 1));
    const d = a === b ? tf.mul(dist, tf.sub(1, tf.eye(a.shape[0]))) as tf.Tensor2D : dist;
    return maskedFill(d, [a, b], (x, y) => eitherRow(constant(x), constant(y)), NaN);
  });
}

/**
 * PML's `SNRDistance` (signal-to-noise ratio, Yuan et al. 2019): `var(a_i − b_j) / var(a_i)`, the
 * variance of the difference (the noise) over the variance of the query row (the signal), each
 * over the row's `d` coordinates (the `d − 1` of the unbiased variance cancels); the noise from
 * exact differences (`_squared_distances.ts`). A constant query row divides by 0 (∞, or NaN for
 * 0/0), as in PML.
 */
function snrDistance(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    // Two-pass centring: a one-pass float32 row mean added d·δ² to the signal of a row far from
    // the origin (2.7e-5 of it for values 1000 ± 0.01).
    const ca = centred(a, 1);
    const noise = squaredDistances(a, b, { kind: "centred" });
    const signal = tf.sum(tf.square(ca), 1, true);
    // Finite everywhere with a finite gradient; the constant query rows then get PML's value
    // (∞, or NaN for 0/0) with a zero gradient.
    const ratio = tf.div(noise, positiveOrOne(signal)) as tf.Tensor2D;
    const constant = (sig: tf.Tensor) => tf.equal(sig, 0);
    const inf = maskedFill(
      ratio,
      [signal, noise],
      (sig, no) => tf.logicalAnd(constant(sig), tf.greater(no, 0)),
      Infinity,
    );
    return maskedFill(
      inf,
      [signal, noise],
      (sig, no) => tf.logicalAnd(constant(sig), tf.lessEqual(no, 0)),
      NaN,
    );
  });
}

/**
 * `t` where `t > 0`, else 1, with gradient `dy` where `t > 0` and 0 elsewhere: a denominator
 * that is never 0 and never passes a 0/0 back. (A plain `tf.where(tf.greater(t, 0), …)` would
 * put `Greater`, which has no gradient, on the tape.)
 */
const positiveOrOne: (t: tf.Tensor) => tf.Tensor = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (t: any, save: any) => {
    const positive = tf.greater(t as tf.Tensor, 0);
    save([positive]);
    return {
      value: tf.where(positive, t as tf.Tensor, tf.onesLike(t as tf.Tensor)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.where(saved[0], dy, tf.zerosLike(dy)),
    };
  },
) as unknown as (t: tf.Tensor) => tf.Tensor;

/** `x` where `cond`, else 0 (`x` may be non-finite where `cond` is false). */
function keepWhere(cond: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.where(cond, x, tf.zerosLike(x));
}

/**
 * The p-norm of coordinate differences, `(Σ|xᵢ − yᵢ|ᵖ)^(1/p)` (`p = Infinity`: the largest
 * |xᵢ − yᵢ|), with the gradient PyTorch's `cdist` defines everywhere: with Δ = x − y and d the
 * distance, ∂d/∂xᵢ = sign(Δᵢ)·(|Δᵢ|/d)^(p−1), taken as 0 where Δᵢ = 0 or d = 0 (for p < 1 too,
 * where |Δᵢ|^(p−1) is infinite); `p = 1`: sign(Δᵢ) with sign(0) = 0; `p = Infinity`: sign(Δᵢ) on
 * the coordinates where |Δᵢ| = d. So coincident points and zero coordinate differences have
 * finite (zero) gradients, as in PyTorch, instead of the NaN that `pow` gives at 0.
 */
function minkowskiKernel(p: number): ElementwiseKernel {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (x: any, y: any, save: any) => {
      const diff = tf.sub(x as tf.Tensor3D, y as tf.Tensor3D);
      const ad = tf.abs(diff);
      let dist: tf.Tensor;
      if (p === Infinity) dist = tf.max(ad, -1);
      else if (p === 1) dist = tf.sum(ad, -1);
      else {
        // Scaled by the largest difference so that |Δ|^p neither overflows nor underflows.
        const big = tf.max(ad, -1, true);
        const s = tf.sum(tf.pow(tf.div(ad, tf.maximum(big, TINY)), p), -1);
        dist = tf.mul(tf.squeeze(big, [2]), tf.pow(s, 1 / p));
      }
      save([diff, dist]);
      return {
        value: dist,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [delta, d] = saved;
          const sign = tf.sign(delta);
          const d3 = tf.expandDims(d, 2);
          let w: tf.Tensor;
          if (p === 1) w = sign;
          else if (p === Infinity) {
            w = tf.mul(sign, tf.cast(tf.equal(tf.abs(delta), d3), "float32"));
          } else {
            const ratio = tf.div(tf.abs(delta), tf.where(tf.greater(d3, 0), d3, tf.onesLike(d3)));
            const scaled = p === 2 ? ratio : tf.pow(ratio, p - 1);
            w = keepWhere(tf.greater(ratio, 0), tf.mul(sign, scaled));
          }
          const g = tf.mul(w, tf.expandDims(dy, 2));
          return [tf.sum(g, 1, true), tf.neg(tf.sum(g, 0, true))];
        },
      };
    },
  ) as unknown as (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor2D;
  return (x, y) => f(x, y);
}

/** Largest |xᵢ| of each row, `[n, 1]`, the gradient shared evenly among tied maxima. */
const maxNorm: (x: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any, save: any) => {
    const value = tf.max(tf.abs(x as tf.Tensor2D), 1, true);
    save([x as tf.Tensor, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [t, v] = saved;
        const at = tf.cast(tf.equal(tf.abs(t), v), "float32");
        const share = tf.div(at, tf.sum(at, 1, true)); // ≥ 1 tie per row
        return tf.mul(tf.mul(tf.sign(t), share), dy);
      },
    };
  },
) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;

/**
 * Lp norm of each row, `[n, 1]` (`p = Infinity`: the largest |xᵢ|), with PyTorch's subgradient
 * of `torch.norm`/`F.normalize` everywhere: ∂‖x‖/∂xᵢ = sign(xᵢ)·(|xᵢ|/‖x‖)^(p−1), taken as 0 where
 * xᵢ = 0 (for p < 1 too, where |xᵢ|^(p−1) is infinite) or ‖x‖ = 0; `p = 1`: sign(xᵢ) with
 * sign(0) = 0; `p = Infinity`: sign(xᵢ) shared evenly among the coordinates where |xᵢ| = ‖x‖
 * (as `torch.linalg.vector_norm`; `cdist`'s convention, without the sharing, is the one of the
 * `chebyshev` distance). (A plain
 * `tf.pow(tf.abs(x), p)` has an infinite gradient at zero coordinates for p < 1.) Divide by
 * `tf.maximum(lpNorm(x, p), 1e-12)` for PyTorch's `F.normalize(x, p)`, as PML's distances
 * normalise with their own p.
 *
 * @param x `[n, d]`
 * @param p the norm's order, > 0 (default 2)
 * @returns `[n, 1]`
 * @throws Error when p is not a number > 0.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { lpNorm } from "./distances.ts";
 * assert.deepEqual(Array.from(lpNorm(tf.tensor2d([[3, -4], [0, 0]]), 1).dataSync()), [7, 0]);
 * const g = tf.grad((x: tf.Tensor) => tf.sum(lpNorm(x as tf.Tensor2D, 0.5)))(tf.tensor2d([[1, 0]]));
 * assert.deepEqual(Array.from(g.dataSync()), [1, 0]); // finite at the zero coordinate
 * ```
 */
export function lpNorm(x: tf.Tensor2D, p = 2): tf.Tensor2D {
  if (typeof p !== "number" || !(p > 0)) {
    throw new Error(`lpNorm: p must be a number > 0 (or Infinity), got ${String(p)}`);
  }
  if (p === Infinity) return maxNorm(x);
  return tf.tidy(() => {
    const [n, d] = x.shape;
    const kernel = minkowskiKernel(p);
    return kernel(
      tf.reshape(x, [n, 1, d]) as tf.Tensor3D,
      tf.zeros([1, 1, d]) as tf.Tensor3D,
    ) as tf.Tensor2D;
  });
}

/**
 * Canberra distance Σ|Δᵢ| / (|xᵢ| + |yᵢ|) of `[r, 1, d]` against `[1, m, d]`, terms with 0/0
 * counted 0 (scipy), with a finite gradient everywhere: sign(0) = 0 for |·|, and 0 for the
 * terms whose denominator is 0.
 */
const canberraKernel: ElementwiseKernel = (() => {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (x: any, y: any, save: any) => {
      const diff = tf.sub(x as tf.Tensor3D, y as tf.Tensor3D);
      const den = tf.add(tf.abs(x as tf.Tensor), tf.abs(y as tf.Tensor));
      const positive = tf.greater(den, 0);
      const safe = tf.where(positive, den, tf.onesLike(den));
      // |x − y| ≤ |x| + |y|, so a zero denominator has a zero numerator: the term is 0.
      const value = tf.sum(tf.div(tf.abs(diff), safe), -1);
      save([x as tf.Tensor, y as tf.Tensor, diff, safe, positive]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [a, b, delta, sd, pos] = saved;
          const d3 = tf.expandDims(dy, 2);
          const first = tf.div(tf.sign(delta), sd);
          const ratio = tf.div(tf.abs(delta), tf.square(sd));
          const gx = keepWhere(pos, tf.sub(first, tf.mul(ratio, tf.sign(a))));
          const gy = keepWhere(pos, tf.neg(tf.add(first, tf.mul(ratio, tf.sign(b)))));
          return [tf.sum(tf.mul(gx, d3), 1, true), tf.sum(tf.mul(gy, d3), 0, true)];
        },
      };
    },
  ) as unknown as (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor2D;
  return (x, y) => f(x, y);
})();

/**
 * Bray–Curtis dissimilarity Σ|Δᵢ| / Σ|xᵢ + yᵢ| of `[r, 1, d]` against `[1, m, d]` (NaN for two
 * zero rows, as scipy), with sign(0) = 0 for |·| and a zero gradient where the denominator is 0.
 */
const brayCurtisKernel: ElementwiseKernel = (() => {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (x: any, y: any, save: any) => {
      const diff = tf.sub(x as tf.Tensor3D, y as tf.Tensor3D);
      const plus = tf.add(x as tf.Tensor3D, y as tf.Tensor3D);
      const num = tf.sum(tf.abs(diff), -1);
      const den = tf.sum(tf.abs(plus), -1);
      save([diff, plus, num, den]);
      return {
        value: tf.div(num, den),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [delta, sum, nm, dn] = saved;
          const pos = tf.greater(dn, 0);
          const safe = tf.where(pos, dn, tf.onesLike(dn));
          const scale = keepWhere(pos, tf.div(dy, safe)); // dy / den
          const q = keepWhere(pos, tf.div(nm, safe)); // num / den
          const s3 = tf.expandDims(scale, 2), q3 = tf.expandDims(q, 2);
          const signDelta = tf.sign(delta), signSum = tf.mul(tf.sign(sum), q3);
          const gx = tf.mul(tf.sub(signDelta, signSum), s3);
          const gy = tf.mul(tf.neg(tf.add(signDelta, signSum)), s3);
          return [tf.sum(gx, 1, true), tf.sum(gy, 0, true)];
        },
      };
    },
  ) as unknown as (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor2D;
  return (x, y) => f(x, y);
})();

function parseP(params: Record<string, unknown>): number {
  const p = params.p === undefined ? 2 : params.p;
  if (typeof p !== "number" || !(p > 0)) {
    throw new Error(`metric "minkowski": p must be a number > 0 (or Infinity), got ${String(p)}`);
  }
  return p;
}

function jensenShannon(base: number | undefined): (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D {
  const logBase = base === undefined ? 1 : Math.log(base);
  return (a, b) =>
    tf.tidy(() => {
      // Denominators ≤ 0 are replaced by 1, so that no gradient is 0/0 (the terms concerned are
      // 0, or the row is masked to Infinity below).
      const safe = positiveOrOne;
      const p = tf.div(a, safe(tf.sum(a, 1, true))) as tf.Tensor2D;
      const q = tf.div(b, safe(tf.sum(b, 1, true))) as tf.Tensor2D;
      const js = elementwise(p, q, (x, y) => {
        // With s = p + q and r = (p − q)/s: p log(p/m) + q log(q/m) = (s/2)[(1+r)ln(1+r) +
        // (1−r)ln(1−r)], exactly 0 when p = q and accurate to second order near it.
        const s = tf.add(x, y);
        const r = tf.div(tf.sub(x, y), safe(s));
        const lo = -1 + 1e-7;
        const plus = tf.mul(tf.add(1, r), tf.log1p(tf.maximum(r, lo)));
        const minus = tf.mul(tf.sub(1, r), tf.log1p(tf.maximum(tf.neg(r), lo)));
        const kl = tf.sum(tf.mul(tf.div(s, 2), tf.add(plus, minus)), -1);
        return safeSqrt(tf.div(kl, 2 * logBase)) as tf.Tensor2D;
      });
      const bad = (t: tf.Tensor) =>
        tf.logicalOr(tf.any(tf.less(t, 0), 1), tf.equal(tf.sum(t, 1), 0));
      return maskedFill(js, [a, b], (x, y) => eitherRow(bad(x), bad(y)), Infinity);
    });
}

const BUILT_INS: Record<string, (params: Record<string, unknown>) => Metric> = {
  euclidean: (params) => {
    checkParams("euclidean", params, []);
    return {
      name: "euclidean",
      isSimilarity: false,
      axioms: ALL_AXIOMS,
      domain: "real",
      form: "matmul",
      pairwise: (a, b) => tf.tidy(() => safeSqrt(squaredDistances(a, b)) as tf.Tensor2D),
    };
  },
  sqeuclidean: (params) => {
    checkParams("sqeuclidean", params, []);
    return {
      name: "sqeuclidean",
      isSimilarity: false,
      axioms: NO_TRIANGLE,
      domain: "real",
      form: "matmul",
      pairwise: (a, b) => squaredDistances(a, b),
    };
  },
  cityblock: (params) => {
    checkParams("cityblock", params, []);
    return {
      name: "cityblock",
      isSimilarity: false,
      axioms: ALL_AXIOMS,
      domain: "real",
      form: "elementwise",
      pairwise: (a, b) => elementwise(a, b, minkowskiKernel(1)),
    };
  },
  chebyshev: (params) => {
    checkParams("chebyshev", params, []);
    return {
      name: "chebyshev",
      isSimilarity: false,
      axioms: ALL_AXIOMS,
      domain: "real",
      form: "elementwise",
      pairwise: (a, b) => elementwise(a, b, minkowskiKernel(Infinity)),
    };
  },
  minkowski: (params) => {
    checkParams("minkowski", params, ["p"]);
    const p = parseP(params);
    return {
      name: "minkowski",
      isSimilarity: false,
      // For p < 1 the unit ball is not convex and the triangle inequality fails.
      axioms: p >= 1 ? ALL_AXIOMS : NO_TRIANGLE,
      domain: "real",
      form: "elementwise",
      params: { p },
      pairwise: (a, b) => elementwise(a, b, minkowskiKernel(p)),
    };
  },
  cosine: (params) => {
    checkParams("cosine", params, []);
    return {
      name: "cosine",
      isSimilarity: false,
      // 1 − cos is zero for any two parallel vectors, and breaks the triangle inequality.
      axioms: { ...ALL_AXIOMS, identity: false, triangleInequality: false },
      domain: "real",
      form: "matmul",
      pairwise: cosineDistance,
    };
  },
  correlation: (params) => {
    checkParams("correlation", params, []);
    return {
      name: "correlation",
      isSimilarity: false,
      // Zero between x and any αx + β (α > 0); the cosine of centred vectors.
      axioms: { ...ALL_AXIOMS, identity: false, triangleInequality: false },
      domain: "real",
      form: "matmul",
      pairwise: correlationDistance,
    };
  },
  canberra: (params) => {
    checkParams("canberra", params, []);
    return {
      name: "canberra",
      isSimilarity: false,
      axioms: ALL_AXIOMS,
      domain: "real",
      form: "elementwise",
      pairwise: (a, b) => elementwise(a, b, canberraKernel),
    };
  },
  braycurtis: (params) => {
    checkParams("braycurtis", params, []);
    return {
      name: "braycurtis",
      isSimilarity: false,
      axioms: NO_TRIANGLE,
      domain: "nonnegative",
      form: "elementwise",
      pairwise: (a, b) => elementwise(a, b, brayCurtisKernel),
    };
  },
  jensenshannon: (params) => {
    checkParams("jensenshannon", params, ["base"]);
    const base = params.base;
    if (base !== undefined && (typeof base !== "number" || !(base > 0) || base === 1)) {
      throw new Error(
        `metric "jensenshannon": base must be a number > 0 and ≠ 1, got ${String(base)}`,
      );
    }
    return {
      name: "jensenshannon",
      isSimilarity: false,
      // The square root of the Jensen–Shannon divergence is a metric on probability vectors.
      axioms: ALL_AXIOMS,
      domain: "simplex",
      form: "elementwise",
      params: base === undefined ? {} : { base },
      pairwise: jensenShannon(base as number | undefined),
    };
  },
  seuclidean: (params) => {
    checkParams("seuclidean", params, ["V"]);
    let fixed: tf.Tensor1D | undefined;
    if (params.V !== undefined) {
      const { values } = numberArray(params.V, `metric "seuclidean": V`);
      if (values.some((v) => !(v > 0))) {
        throw new Error(`metric "seuclidean": every entry of V must be > 0`);
      }
      fixed = tf.keep(tf.tensor1d(values));
    }
    const make = (v: tf.Tensor1D | undefined): Metric => ({
      name: "seuclidean",
      isSimilarity: false,
      axioms: ALL_AXIOMS,
      domain: "real",
      form: "matmul",
      params: v ? { V: v } : {},
      prepare: (a, b) => (v ? make(v) : make(tf.keep(stackedVariance(a, b)))),
      pairwise: (a, b) =>
        tf.tidy(() => {
          const d = a.shape[1];
          const variance = v ?? stackedVariance(a, b);
          if (variance.shape[0] !== d) {
            throw new Error(
              `metric "seuclidean": V has ${variance.shape[0]} entries for ${d} dimensions`,
            );
          }
          // A zero variance gives NaN below; 1/1 there keeps the gradient finite.
          const w = tf.reciprocal(positiveOrOne(variance)) as tf.Tensor1D;
          const dist = safeSqrt(squaredDistances(a, b, { kind: "diagonal", w })) as tf.Tensor2D;
          // A zero variance (a constant column) makes every term 0/0: scipy returns NaN.
          return maskedFill(dist, [variance], (v) => tf.any(tf.lessEqual(v, 0)), NaN);
        }),
    });
    return make(fixed);
  },
  mahalanobis: (params) => {
    checkParams("mahalanobis", params, ["VI"]);
    let fixed: tf.Tensor2D | undefined;
    if (params.VI !== undefined) {
      const { values, shape } = numberArray(params.VI, `metric "mahalanobis": VI`);
      if (shape.length !== 2 || shape[0] !== shape[1]) {
        throw new Error(`metric "mahalanobis": VI must be a square [d, d] matrix, got [${shape}]`);
      }
      fixed = tf.keep(tf.tensor2d(values, shape as [number, number]));
    }
    const make = (vi: tf.Tensor2D | undefined): Metric => ({
      name: "mahalanobis",
      isSimilarity: false,
      // A metric when VI is positive definite (always true of an inverse covariance).
      axioms: ALL_AXIOMS,
      domain: "real",
      form: "matmul",
      params: vi ? { VI: vi } : {},
      prepare: (a, b) => (vi ? make(vi) : make(tf.keep(inverseCovariance(a, b)))),
      pairwise: (a, b) =>
        tf.tidy(() => {
          const d = a.shape[1];
          const m = vi ?? inverseCovariance(a, b);
          if (m.shape[0] !== d) {
            throw new Error(`metric "mahalanobis": VI is [${m.shape}] for ${d} dimensions`);
          }
          // ‖a_i − b_j‖² under the symmetric part S of VI (a negative value, VI not positive
          // semi-definite, is clamped to 0 by safeSqrt).
          const s = tf.div(tf.add(m, tf.transpose(m)), 2) as tf.Tensor2D;
          return safeSqrt(squaredDistances(a, b, { kind: "matrix", s })) as tf.Tensor2D;
        }),
    });
    return make(fixed);
  },
  hamming: (params) => {
    checkParams("hamming", params, []);
    return {
      name: "hamming",
      isSimilarity: false,
      axioms: ALL_AXIOMS,
      domain: "binary",
      form: "elementwise",
      pairwise: piecewiseConstant((a, b) =>
        elementwise(
          a,
          b,
          (x, y) => tf.mean(tf.cast(tf.notEqual(x, y), "float32"), -1) as tf.Tensor2D,
        )
      ),
    };
  },
  jaccard: (params) => {
    checkParams("jaccard", params, []);
    return {
      name: "jaccard",
      isSimilarity: false,
      axioms: ALL_AXIOMS,
      domain: "binary",
      form: "elementwise",
      pairwise: piecewiseConstant((a, b) =>
        elementwise(a, b, (x, y) => {
          const union = tf.logicalOr(tf.notEqual(x, 0), tf.notEqual(y, 0));
          const differ = tf.logicalAnd(tf.notEqual(x, y), union);
          const num = tf.sum(tf.cast(differ, "float32"), -1);
          const den = tf.sum(tf.cast(union, "float32"), -1);
          const positive = tf.greater(den, 0);
          return tf.where(
            positive,
            tf.div(num, tf.where(positive, den, tf.onesLike(den))),
            tf.zerosLike(num),
          ) as tf.Tensor2D;
        })
      ),
    };
  },
  dice: (params) => {
    checkParams("dice", params, []);
    return {
      name: "dice",
      isSimilarity: false,
      // Sørensen–Dice: d({a}, {b}) = 1 > d({a}, {a, b}) + d({a, b}, {b}) = 2/3.
      axioms: NO_TRIANGLE,
      domain: "binary",
      form: "matmul",
      pairwise: piecewiseConstant((a, b) =>
        tf.tidy(() => {
          const ba = tf.cast(tf.notEqual(a, 0), "float32") as tf.Tensor2D;
          const bb = tf.cast(tf.notEqual(b, 0), "float32") as tf.Tensor2D;
          const both = tf.matMul(ba, bb, false, true);
          const differ = tf.sub(
            tf.add(tf.sum(ba, 1, true), tf.reshape(tf.sum(bb, 1), [1, -1])),
            tf.mul(both, 2),
          );
          return tf.div(differ, tf.add(tf.mul(both, 2), differ)) as tf.Tensor2D;
        })
      ),
    };
  },
  snr: (params) => {
    checkParams("snr", params, []);
    return {
      name: "snr",
      isSimilarity: false,
      // 0 for y = x + c (a constant shift), not symmetric (the query's variance divides).
      axioms: { nonNegativity: true, identity: false, symmetry: false, triangleInequality: false },
      domain: "real",
      form: "matmul",
      pairwise: snrDistance,
    };
  },
  cosineSimilarity: (params) => {
    checkParams("cosineSimilarity", params, []);
    return {
      name: "cosineSimilarity",
      isSimilarity: true,
      axioms: SIMILARITY_AXIOMS,
      domain: "real",
      form: "matmul",
      pairwise: cosineSimilarityMatrix,
    };
  },
  dot: (params) => {
    checkParams("dot", params, []);
    return {
      name: "dot",
      isSimilarity: true,
      axioms: SIMILARITY_AXIOMS,
      domain: "real",
      form: "matmul",
      pairwise: (a, b) => tf.matMul(a, b, false, true),
    };
  },
};

const ALIASES: Record<string, string> = {
  manhattan: "cityblock",
  cosine_similarity: "cosineSimilarity",
};

/**
 * The names {@linkcode resolveMetric} accepts (canonical names, then aliases).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricNames } from "./distances.ts";
 * assert.ok(metricNames().includes("euclidean"));
 * ```
 */
export function metricNames(): string[] {
  return [...Object.keys(BUILT_INS), ...Object.keys(ALIASES)];
}

/**
 * Turns a {@linkcode MetricSpec} into a {@linkcode Metric}; a {@linkcode Metric} is returned as is.
 *
 * @throws Error naming the unknown metric and the known ones, or the invalid parameter.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveMetric } from "./distances.ts";
 * assert.equal(resolveMetric("euclidean").isSimilarity, false);
 * assert.equal(resolveMetric({ name: "minkowski", p: 0.5 }).axioms.triangleInequality, false);
 * ```
 */
export function resolveMetric(spec: MetricSpec | Metric): Metric {
  if (typeof spec === "object" && spec !== null && "pairwise" in spec) return spec as Metric;
  const { name, ...params } = typeof spec === "string" ? { name: spec } : spec;
  if (typeof name !== "string") throw new Error("metric: expected a name or { name, ...params }");
  const canonical = ALIASES[name] ?? name;
  const factory = BUILT_INS[canonical];
  if (!factory) {
    throw new Error(`metric: unknown metric "${name}"; known: ${metricNames().join(", ")}`);
  }
  return factory(params);
}

function checkShapes(fn: string, a: tf.Tensor2D, b: tf.Tensor2D): void {
  if (!(a instanceof tf.Tensor) || !(b instanceof tf.Tensor)) {
    throw new Error(`${fn}: a and b must be tf.Tensor2D`);
  }
  if (a.rank !== 2 || b.rank !== 2) {
    throw new Error(`${fn}: a and b must be rank 2, got ${a.rank} and ${b.rank}`);
  }
  if (a.shape[1] !== b.shape[1]) {
    throw new Error(`${fn}: a is [${a.shape}] and b is [${b.shape}]; their dimensions differ`);
  }
}

/**
 * Options of {@linkcode pairwiseDistances}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { type PairwiseOptions, pairwiseDistances } from "./distances.ts";
 * const fast: PairwiseOptions = { checkFinite: false };
 * const d = pairwiseDistances(tf.tensor2d([[0, 0]]), tf.tensor2d([[3, 4]]), "euclidean", fast);
 * assert.deepEqual(d.arraySync(), [[5]]);
 * ```
 */
export interface PairwiseOptions {
  /**
   * Refuse inputs holding NaN or ±Infinity (default true). The check costs one multiply-by-0 and
   * one sum per input and a 4-byte read back (a device sync on WebGPU); the losses, kNN blocks
   * and linear learners, which check their inputs once or run inside a training step guarded
   * by the training loop's NaN check, pass `false`.
   */
  checkFinite?: boolean;
}

/**
 * All pairwise distances (or similarities) between the rows of `a` and `b`, with the names and
 * semantics of `scipy.spatial.distance.cdist` (scipy 1.10):
 *
 * | name | value for rows `x`, `y` |
 * | --- | --- |
 * | `euclidean`, `sqeuclidean` | ‖x − y‖, ‖x − y‖² (matmul form) |
 * | `cityblock` (`manhattan`), `chebyshev` | Σ\|xᵢ − yᵢ\|, max\|xᵢ − yᵢ\| |
 * | `minkowski` (`p`, default 2) | (Σ\|xᵢ − yᵢ\|ᵖ)^(1/p); `p = Infinity` is `chebyshev` |
 * | `cosine` | 1 − x·y / (‖x‖‖y‖), clipped to [0, 2]; **NaN** if x or y is a zero vector |
 * | `correlation` | `cosine` of the mean-centred rows; **NaN** if x or y is constant |
 * | `canberra` | Σ\|xᵢ − yᵢ\| / (\|xᵢ\| + \|yᵢ\|), terms with 0/0 count 0 |
 * | `braycurtis` | Σ\|xᵢ − yᵢ\| / Σ\|xᵢ + yᵢ\| (NaN for two zero rows) |
 * | `jensenshannon` (`base`, default e) | √(JS divergence) of x/Σx and y/Σy; **∞** if a row has a negative entry or sums to 0 |
 * | `seuclidean` (`V`) | √Σ (xᵢ − yᵢ)²/Vᵢ; default V: column variances (ddof 1) of [a; b], NaN if one is 0 |
 * | `mahalanobis` (`VI`) | √((x − y) VI (x − y)ᵀ); default VI = inv(cov([a; b])) (needs n + m > d) |
 * | `hamming` | fraction of coordinates where xᵢ ≠ yᵢ |
 * | `jaccard` | #{xᵢ ≠ yᵢ, (xᵢ ≠ 0 or yᵢ ≠ 0)} / #{xᵢ ≠ 0 or yᵢ ≠ 0}; 0 for two zero rows |
 * | `dice` | on x ≠ 0, y ≠ 0: (n₁₀ + n₀₁) / (2n₁₁ + n₁₀ + n₀₁); NaN for two zero rows |
 * | `dot`, `cosineSimilarity` | x·y and x·y/(‖x‖‖y‖) (similarities; zero rows give 0) |
 * | `snr` | var(x − y)/var(x), PML's `SNRDistance` (not symmetric); ∞ or NaN for a constant x |
 *
 * Matmul-form metrics are exact to float32 round-off of ‖x‖² + ‖y‖² − 2x·y, so distances that are
 * tiny relative to the norms lose relative precision; when `a` and `b` are the same tensor the
 * diagonal is exactly 0. Elementwise metrics never build more than
 * `[elementwiseBlockRows(m, d), m, d]` at once. A Mahalanobis quadratic form that is negative
 * (VI not positive semi-definite) is clamped to 0 where scipy returns NaN.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @param metric a {@linkcode MetricSpec} such as `"euclidean"` or `{ name: "minkowski", p: 3 }`,
 *   or a {@linkcode Metric}.
 * @returns `[n, m]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairwiseDistances } from "./distances.ts";
 * const a = tf.tensor2d([[0, 0]]), b = tf.tensor2d([[3, 4]]);
 * assert.deepEqual(pairwiseDistances(a, b, "euclidean").arraySync(), [[5]]);
 * assert.deepEqual(pairwiseDistances(a, b, "cityblock").arraySync(), [[7]]);
 * ```
 */
export function pairwiseDistances(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  metric: MetricSpec | Metric = "euclidean",
  options: PairwiseOptions = {},
): tf.Tensor2D {
  checkShapes("pairwiseDistances", a, b);
  checkOptionKeys("pairwiseDistances", options, ["checkFinite"]);
  if (options.checkFinite ?? true) {
    checkFiniteTensor("pairwiseDistances", "a", a);
    if (b !== a) checkFiniteTensor("pairwiseDistances", "b", b);
  }
  return resolveMetric(metric).pairwise(a, b);
}

/**
 * Fixes a metric's data-dependent defaults (`seuclidean`'s V, `mahalanobis`' VI) from the full
 * inputs, so that blocks of rows are computed with the same parameters as the whole.
 *
 * @param metric a spec or metric
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { prepareMetric } from "./distances.ts";
 * const x = tf.tensor2d([[0, 1], [2, 3], [4, 7]]);
 * const { V } = prepareMetric("seuclidean", x, x).params as { V: tf.Tensor1D };
 * // the variance (ddof 1) of x and y stacked, as scipy's cdist: [16 / 5, 112 / 15]
 * assert.deepEqual(Array.from(V.dataSync(), (v) => +v.toFixed(4)), [3.2, 7.4667]);
 * ```
 */
export function prepareMetric(metric: MetricSpec | Metric, a: tf.Tensor2D, b: tf.Tensor2D): Metric {
  const m = resolveMetric(metric);
  return m.prepare ? m.prepare(a, b) : m;
}

/**
 * The metric's value between row i of `a` and row i of `b` for every i: the diagonal of
 * {@linkcode pairwiseDistances}, computed `blockRows` rows at a time (memory about
 * `blockRows²` floats), with the metric's data-dependent defaults fixed from all rows
 * ({@linkcode prepareMetric}). What a verification protocol scores a list of pairs by.
 *
 * @param a `[n, d]`
 * @param b `[n, d]`
 * @returns `[n]`
 * @throws Error when the shapes differ or a value is not finite.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairedDistances } from "./distances.ts";
 * const a = tf.tensor2d([[0, 0], [1, 1]]), b = tf.tensor2d([[3, 4], [1, 1]]);
 * assert.deepEqual(pairedDistances(a, b).arraySync(), [5, 0]);
 * ```
 */
export function pairedDistances(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  metric: MetricSpec | Metric = "euclidean",
  blockRows = 256,
): tf.Tensor1D {
  checkShapes("pairedDistances", a, b);
  if (a.shape[0] !== b.shape[0]) {
    throw new Error(`pairedDistances: a has ${a.shape[0]} rows but b has ${b.shape[0]}`);
  }
  if (!Number.isInteger(blockRows) || blockRows < 1) {
    throw new Error(`pairedDistances: blockRows must be a positive integer, got ${blockRows}`);
  }
  checkFiniteTensor("pairedDistances", "a", a);
  checkFiniteTensor("pairedDistances", "b", b);
  const m = prepareMetric(metric, a, b);
  const n = a.shape[0];
  if (n === 0) return tf.zeros([0]) as tf.Tensor1D;
  return tf.tidy(() => {
    const parts: tf.Tensor1D[] = [];
    for (let s = 0; s < n; s += blockRows) {
      const k = Math.min(blockRows, n - s);
      const block = m.pairwise(tf.slice(a, [s, 0], [k, -1]), tf.slice(b, [s, 0], [k, -1]));
      parts.push(tf.sum(tf.mul(block, tf.eye(k)), 1) as tf.Tensor1D);
    }
    return parts.length === 1 ? parts[0] : tf.concat(parts) as tf.Tensor1D;
  });
}

/**
 * Options of {@linkcode pairwiseDistancesBlocked}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { type BlockOptions, pairwiseDistancesBlocked } from "./distances.ts";
 * const options: BlockOptions = { blockSize: 512 };
 * const x = tf.tensor2d([[0, 0], [3, 4]]);
 * const d = pairwiseDistancesBlocked(x, x, "euclidean", options);
 * assert.deepEqual(d.arraySync(), [[0, 5], [5, 0]]);
 * ```
 */
export interface BlockOptions {
  /** Rows of `a` per block (default 1024). */
  blockSize?: number;
}

function checkBlockRows(fn: string, rows: number): void {
  if (!Number.isInteger(rows) || rows < 1) {
    throw new Error(`${fn}: blockSize must be a positive integer, got ${rows}`);
  }
}

/**
 * {@linkcode pairwiseDistances} computed `blockSize` rows of `a` at a time and concatenated:
 * peak memory is the `[n, m]` result plus one block's intermediates. Data-dependent defaults are
 * fixed from the whole of `a` and `b` first ({@linkcode prepareMetric}).
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @returns `[n, m]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairwiseDistancesBlocked } from "./distances.ts";
 * const x = tf.randomNormal([100, 8]) as tf.Tensor2D;
 * const d = pairwiseDistancesBlocked(x, x, "cityblock", { blockSize: 16 });
 * assert.deepEqual(d.shape, [100, 100]);
 * ```
 */
export function pairwiseDistancesBlocked(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  metric: MetricSpec | Metric = "euclidean",
  options: BlockOptions = {},
): tf.Tensor2D {
  checkShapes("pairwiseDistancesBlocked", a, b);
  const blockSize = options.blockSize ?? 1024;
  checkBlockRows("pairwiseDistancesBlocked", blockSize);
  const m = prepareMetric(metric, a, b);
  const n = a.shape[0];
  if (n <= blockSize) return m.pairwise(a, b);
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < n; start += blockSize) {
    const rows = Math.min(blockSize, n - start);
    parts.push(tf.tidy(() => m.pairwise(tf.slice(a, [start, 0], [rows, -1]), b)));
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

/**
 * Streams the `[n, m]` distance matrix in row blocks, for sets too large to hold it: calls
 * `callback(values, start, rows)` with `values` a row-major `[rows, m]` Float32Array for rows
 * `start … start + rows − 1` of `a`, and disposes each block's tensors before the next.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @param blockRows rows of `a` per block
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { forEachDistanceBlock } from "./distances.ts";
 * const x = tf.randomNormal([1000, 16]) as tf.Tensor2D;
 * let seen = 0;
 * await forEachDistanceBlock(x, x, "euclidean", 256, (values, start, rows) => {
 *   seen += rows; // e.g. scan each row of `values` for its k smallest entries
 * });
 * assert.equal(seen, 1000);
 * ```
 */
export async function forEachDistanceBlock(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  metric: MetricSpec | Metric,
  blockRows: number,
  callback: (values: Float32Array, start: number, rows: number) => void | Promise<void>,
): Promise<void> {
  checkShapes("forEachDistanceBlock", a, b);
  checkBlockRows("forEachDistanceBlock", blockRows);
  const m = prepareMetric(metric, a, b);
  const n = a.shape[0];
  for (let start = 0; start < n; start += blockRows) {
    const rows = Math.min(blockRows, n - start);
    const block = tf.tidy(() => m.pairwise(tf.slice(a, [start, 0], [rows, -1]), b));
    const values = await block.data() as Float32Array;
    block.dispose();
    await callback(values, start, rows);
  }
}
