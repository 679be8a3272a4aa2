/**
 * Information-Theoretic Metric Learning (Davis, Kulis, Jain, Sra and Dhillon, 2007):
 * classification similarity from labelled pairs. Finds the Mahalanobis matrix M closest to a
 * prior M₀ (the identity) in LogDet divergence such that similar pairs have d²_M ≤ u and
 * dissimilar pairs d²_M ≥ l (with slack weighted by γ), by cyclic Bregman projections onto one
 * pair constraint at a time; L is then the Cholesky factor, M = LᵀL.
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import * as tf from "@tensorflow/tfjs";
import { LinearLearnerBase, type LinearLearnerOptions } from "./base.ts";
import { checkX, labelArray } from "./_internal.ts";

/**
 * Options of {@linkcode ITML}.
 *
 * @example
 * ```ts
 * import { ITML } from "./itml.ts";
 * const itml = new ITML({ gamma: 1, maxIter: 200, bounds: [1, 10] });
 * ```
 */
export interface ItmlOptions extends Pick<LinearLearnerOptions, "seed" | "onStep"> {
  /** Slack trade-off γ (metric-learn default 1). */
  gamma?: number;
  /** Passes over the constraints at most (metric-learn's `max_iter`, default 1000). */
  maxIter?: number;
  /** Stop when the relative change of the dual variables is below this (default 1e-3). */
  convergenceThreshold?: number;
  /**
   * `[u, l]`: similar pairs should have d² ≤ u, dissimilar d² ≥ l. Default: the 5th and 95th
   * percentiles of the pairs' squared Euclidean distances.
   */
  bounds?: [number, number];
}

/** Lower Cholesky factor C of a symmetric positive definite `[d, d]` matrix (A = C Cᵀ). */
function cholesky(a: Float64Array, d: number): Float64Array {
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= c[i * d + k] * c[j * d + k];
      if (i === j) {
        if (!(s > 0)) {
          throw new Error(`ITML: the learned matrix is not positive definite (pivot ${s})`);
        }
        c[i * d + i] = Math.sqrt(s);
      } else c[i * d + j] = s / c[j * d + j];
    }
  }
  return c;
}

function percentile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * ITML. Defaults follow metric-learn's `ITML` (γ = 1, `max_iter = 1000`,
 * `convergence_threshold = 1e-3`, identity prior, bounds from the 5th/95th percentiles —
 * computed here over the given pairs). `history` records, after each pass, the mean constraint
 * violation (mean of [d² − u]₊ over similar and [l − d²]₊ over dissimilar pairs, divided by
 * u + l), the quantity ITML drives down.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ITML } from "./itml.ts";
 * const itml = new ITML();
 * const a = tf.tensor2d([[0, 0], [0, 0], [1, 0]]);
 * const b = tf.tensor2d([[0, 3], [1, 0], [1, 3]]);
 * await itml.fit(a, b, [1, -1, 1]);
 * itml.mahalanobisMatrix().print();
 * ```
 */
export class ITML extends LinearLearnerBase {
  readonly name = "itml";
  private readonly gamma: number;
  private readonly maxIter: number;
  private readonly threshold: number;
  private readonly bounds?: [number, number];

  constructor(options: ItmlOptions = {}) {
    super(
      (checkOptionKeys("ITML", options, [
        "seed",
        "onStep",
        "gamma",
        "maxIter",
        "convergenceThreshold",
        "bounds",
      ]),
        { seed: options.seed, onStep: options.onStep }),
      1,
    );
    this.gamma = options.gamma ?? 1;
    this.maxIter = options.maxIter ?? 1000;
    this.threshold = options.convergenceThreshold ?? 1e-3;
    this.bounds = options.bounds;
    if (!(this.gamma > 0)) throw new Error(`ITML: gamma must be > 0, got ${this.gamma}`);
    if (!Number.isInteger(this.maxIter) || this.maxIter < 1) {
      throw new Error(`ITML: maxIter must be a positive integer, got ${this.maxIter}`);
    }
    if (this.bounds && !(this.bounds[0] > 0 && this.bounds[1] > 0)) {
      throw new Error(`ITML: bounds must be two positive numbers [u, l]`);
    }
  }

  /**
   * Fits M to pairs (a_i, b_i) with labels y_i = +1 (similar) or −1 (dissimilar).
   *
   * @param a `[p, d]`
   * @param b `[p, d]`
   * @param y `[p]` +1 / −1
   */
  async fit(a: tf.Tensor2D, b: tf.Tensor2D, y: ArrayLike<number> | tf.Tensor1D): Promise<void> {
    checkX(a, "ITML.fit", 1);
    checkX(b, "ITML.fit", 1);
    if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
      throw new Error(`ITML.fit: a is [${a.shape}] and b is [${b.shape}]; they must match`);
    }
    const labels = labelArray(y, a.shape[0], "ITML.fit");
    if (labels.some((v) => v !== 1 && v !== -1)) throw new Error("ITML.fit: y must be +1 or −1");
    const [p, d] = a.shape;
    const va = await a.data(), vb = await b.data();
    const diff = new Float64Array(p * d);
    for (let i = 0; i < p * d; i++) diff[i] = va[i] - vb[i];
    const sq = Array.from({ length: p }, (_, i) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += diff[i * d + k] ** 2;
      return s;
    });
    const sorted = [...sq].sort((x, z) => x - z);
    const [u, l] = this.bounds ?? [percentile(sorted, 0.05), percentile(sorted, 0.95)];
    // Similar constraints first, then dissimilar, as metric-learn orders them.
    const order = [...labels.keys()].sort((i, j) => labels[j] - labels[i] || i - j);
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++) A[i * d + i] = 1;
    const lambda = new Float64Array(p);
    const xi = Float64Array.from(labels, (v) => (v === 1 ? u : l));
    const gammaProj = this.gamma / (this.gamma + 1);
    const Av = new Float64Array(d);
    const violation = () => {
      let s = 0;
      for (let i = 0; i < p; i++) {
        let q = 0;
        for (let r = 0; r < d; r++) {
          let t = 0;
          for (let c = 0; c < d; c++) t += A[r * d + c] * diff[i * d + c];
          q += diff[i * d + r] * t;
        }
        s += labels[i] === 1 ? Math.max(0, q - u) : Math.max(0, l - q);
      }
      return s / p / (u + l);
    };
    this.history = [violation()];
    for (let pass = 0; pass < this.maxIter; pass++) {
      const before = Float64Array.from(lambda);
      for (const i of order) {
        const v = diff.subarray(i * d, (i + 1) * d);
        let wtw = 0;
        for (let r = 0; r < d; r++) {
          let t = 0;
          for (let c = 0; c < d; c++) t += A[r * d + c] * v[c];
          Av[r] = t;
          wtw += v[r] * t;
        }
        if (!(wtw > 1e-12)) continue;
        let beta: number;
        if (labels[i] === 1) {
          const alpha = Math.min(lambda[i], gammaProj * (1 / wtw - 1 / xi[i]));
          lambda[i] -= alpha;
          beta = alpha / (1 - alpha * wtw);
          xi[i] = 1 / (1 / xi[i] + alpha / this.gamma);
        } else {
          const alpha = Math.min(lambda[i], gammaProj * (1 / xi[i] - 1 / wtw));
          lambda[i] -= alpha;
          beta = -alpha / (1 + alpha * wtw);
          xi[i] = 1 / (1 / xi[i] - alpha / this.gamma);
        }
        for (let r = 0; r < d; r++) {
          const f = beta * Av[r];
          for (let c = 0; c < d; c++) A[r * d + c] += f * Av[c];
        }
      }
      let norm = 0, change = 0;
      for (let i = 0; i < p; i++) {
        norm += lambda[i] ** 2;
        change += (lambda[i] - before[i]) ** 2;
      }
      this.history.push(violation());
      this.options.onStep?.(pass + 1, this.history.at(-1)!);
      if (norm === 0 || Math.sqrt(change / norm) < this.threshold) break;
      if (pass % 20 === 19) await new Promise((r) => setTimeout(r, 0));
    }
    const C = cholesky(A, d);
    const L = new Float32Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) L[i * d + j] = C[j * d + i]; // L = Cᵀ
    this.variable?.dispose();
    this.variable = tf.variable(tf.tensor2d(L, [d, d]), false);
  }
}
