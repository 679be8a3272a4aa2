/**
 * Least Squared-residual Metric Learning (Liu, Wang, Xu, Gong and Sun, "Metric Learning from
 * Relative Comparisons by Minimizing Squared Residual", ICDM 2012): from quadruplets (a, b, c, d)
 * meaning "a and b are closer than c and d", minimises
 *
 *   Σ_q w_q [d_M(a, b) − d_M(c, d)]²₊  +  tr(M M₀⁻¹) − log det M
 *
 * (squared residuals of the violated comparisons, plus the LogDet divergence to the prior M₀) by
 * gradient descent on M with a search over ten step sizes and projection onto the positive
 * definite cone (eigenvalues clipped at 1e-8), as metric-learn's `LSML` solves it.
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import { MahalanobisBase, type SupervisedLearner, type TupleLearnerOptions } from "./base.ts";
import {
  checkInteger,
  checkPositive,
  gatherRows,
  type LabelInput,
  type MatrixInput,
  readLabels,
  readPoints,
  requireTwoClasses,
  type TupleInput,
  type Tuples,
  yieldNow,
} from "./_internal.ts";
import { componentsFromMetric, fromEigen, symmetricEigen } from "./_linalg.ts";
import { checkPrior, initialMetric, type PriorSpec } from "./_prior.ts";
import { positiveNegativePairs } from "./constraints.ts";

/**
 * Options of {@linkcode LSML}.
 *
 * @example
 * ```ts
 * import { LSML } from "./lsml.ts";
 * const lsml = new LSML({ tol: 1e-4, maxIter: 200, prior: "covariance" });
 * ```
 */
export interface LsmlOptions extends TupleLearnerOptions {
  /** Stop when the gradient's Frobenius norm is below this (metric-learn's `tol`, 1e-3). */
  tol?: number;
  /** Iterations at most (metric-learn's `max_iter`, 1000). */
  maxIter?: number;
  /** The prior M₀ (metric-learn's `prior`, default `"identity"`); must be positive definite. */
  prior?: PriorSpec;
  /** Seed of the `"random"` prior (default 0). */
  seed?: number;
}

const LSML_KEYS = ["tol", "maxIter", "prior", "seed", "preprocessor"];

/** Σ w_q [sqrt(vabᵀ M vab) − sqrt(vcdᵀ M vcd)]² over the violated comparisons. */
function quadForms(M: Float64Array, v: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let s = 0;
    for (let r = 0; r < d; r++) {
      const vr = v[o + r];
      if (vr === 0) continue;
      let t = 0;
      const or = r * d;
      for (let c = 0; c < d; c++) t += M[or + c] * v[o + c];
      s += vr * t;
    }
    out[i] = s;
  }
  return out;
}

/** What LSML and LSML_Supervised share: options, the prior and the solver. */
abstract class LsmlBase extends MahalanobisBase {
  abstract override readonly name: string;
  protected readonly tol: number;
  protected readonly maxIter: number;
  protected readonly prior: PriorSpec;
  protected readonly seed: number;

  constructor(options: LsmlOptions = {}, keys: readonly string[] = LSML_KEYS) {
    super();
    const cls = new.target.name;
    checkOptionKeys(cls, options, keys);
    this.tol = options.tol ?? 1e-3;
    this.maxIter = options.maxIter ?? 1000;
    this.prior = options.prior ?? "identity";
    this.seed = options.seed ?? 0;
    checkPositive(cls, "tol", this.tol, true);
    checkInteger(cls, "maxIter", this.maxIter, 1);
    checkInteger(cls, "seed", this.seed, 0);
    checkPrior(cls, "prior", this.prior);
    this.setPreprocessor(options.preprocessor);
  }

  /** The solver on read quadruplets. */
  protected async fitTuples(fn: string, q: Tuples, weights?: ArrayLike<number>): Promise<void> {
    const { n, d } = q;
    const w = new Float64Array(n);
    if (weights === undefined) w.fill(1);
    else {
      if (weights.length !== n) {
        throw new Error(`${fn}: ${weights.length} weights for ${n} quadruplets`);
      }
      for (let i = 0; i < n; i++) {
        if (!(Number.isFinite(weights[i]) && weights[i] >= 0)) {
          throw new Error(`${fn}: weights[${i}] is ${weights[i]}; weights must be finite and ≥ 0`);
        }
        w[i] = weights[i];
      }
    }
    const wSum = w.reduce((s, v) => s + v, 0);
    if (!(wSum > 0)) throw new Error(`${fn}: the weights sum to 0`);
    for (let i = 0; i < n; i++) w[i] /= wSum;
    const vab = new Float64Array(n * d), vcd = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < d; c++) {
        const o = 4 * i * d + c;
        vab[i * d + c] = q.data[o] - q.data[o + d];
        vcd[i * d + c] = q.data[o + 2 * d] - q.data[o + 3 * d];
      }
    }
    const { M: M0, Minv: priorInv } = initialMetric(
      fn,
      "prior",
      this.prior,
      { data: q.data, n: n * 4, d },
      { seed: this.seed, strictPd: true },
    );
    const dd = d * d;
    const comparison = (M: Float64Array) => {
      const dab = quadForms(M, vab, n, d), dcd = quadForms(M, vcd, n, d);
      let s = 0;
      for (let i = 0; i < n; i++) {
        if (dab[i] > dcd[i]) s += w[i] * (Math.sqrt(dab[i]) - Math.sqrt(Math.max(0, dcd[i]))) ** 2;
      }
      return { s, dab, dcd };
    };
    const regulariser = (M: Float64Array, logdet: number) => {
      let s = 0;
      for (let i = 0; i < dd; i++) s += M[i] * priorInv[i];
      return s - logdet;
    };
    let eig = symmetricEigen(M0, d);
    let M: Float64Array = Float64Array.from(M0);
    const logdetOf = (values: Float64Array) => {
      let s = 0;
      for (const v of values) s += Math.log(Math.abs(v));
      return s;
    };
    let sBest = comparison(M).s + regulariser(M, logdetOf(eig.values));
    this.history = [sBest];
    this.warnings = [];
    const steps = Array.from({ length: 10 }, (_, i) => 10 ** (-10 + (10 * i) / 9));
    let it = 1;
    let converged = false;
    for (; it <= this.maxIter; it++) {
      // Gradient: M₀⁻¹ − M⁻¹ + Σ_violated w [(1 − sqrt(dcd/dab)) vab vabᵀ + (1 − sqrt(dab/dcd)) vcd vcdᵀ]
      const grad = fromEigen(eig.values, eig.vectors, d, (v) => -1 / v);
      for (let i = 0; i < dd; i++) grad[i] += priorInv[i];
      const { dab, dcd } = comparison(M);
      for (let i = 0; i < n; i++) {
        if (!(dab[i] > dcd[i])) continue;
        const fa = dcd[i] > 0 ? w[i] * (1 - Math.sqrt(dcd[i] / dab[i])) : w[i];
        const fc = dcd[i] > 0 ? w[i] * (1 - Math.sqrt(dab[i] / dcd[i])) : 0;
        const o = i * d;
        for (let r = 0; r < d; r++) {
          const ar = fa * vab[o + r], cr = fc * vcd[o + r];
          for (let c = 0; c < d; c++) grad[r * d + c] += ar * vab[o + c] + cr * vcd[o + c];
        }
      }
      let gradNorm = 0;
      for (const v of grad) gradNorm += v * v;
      gradNorm = Math.sqrt(gradNorm);
      if (gradNorm < this.tol) {
        converged = true;
        break;
      }
      let best: { M: Float64Array; eig: ReturnType<typeof symmetricEigen> } | null = null;
      for (const s0 of steps) {
        const step = s0 / gradNorm;
        const trial = Float64Array.from(M, (v, i) => v - step * grad[i]);
        const e = symmetricEigen(trial, d);
        const clipped = e.values.map((v) => Math.max(v, 1e-8));
        const projected = fromEigen(clipped, e.vectors, d);
        const cur = comparison(projected).s + regulariser(projected, logdetOf(clipped));
        if (cur < sBest) {
          sBest = cur;
          best = { M: projected, eig: { values: clipped, vectors: e.vectors } };
        }
      }
      if (!best) break;
      M = best.M;
      eig = best.eig;
      this.history.push(sBest);
      if (it % 10 === 0) await yieldNow();
    }
    this.nIter = Math.min(it, this.maxIter);
    if (!converged && it > this.maxIter) {
      this.warnings.push(`did not converge after ${this.maxIter} iterations; objective ${sBest}`);
    }
    this.setComponents(componentsFromMetric(M, d, fn), d, d);
  }
}

/**
 * LSML on quadruplets, metric-learn's `LSML` (defaults `tol = 1e-3`, `max_iter = 1000`,
 * `prior = "identity"`). `history` holds the objective from M₀ and after each accepted step: it
 * decreases strictly (a step is taken only when it lowers the objective; the fit stops when none
 * of the step sizes 10⁻¹⁰ … 1 (relative to the gradient norm) does).
 *
 * Difference from metric-learn 0.7, a bug fix: its gradient leaves out the constraint weights w
 * (1/n by default) that its objective has, so it descends along another direction than the
 * objective's gradient; here the gradient is the objective's.
 *
 * @example
 * ```ts
 * import { LSML } from "./lsml.ts";
 * const quadruplets = [
 *   [[1.2, 7.5], [1.3, 1.5], [6.4, 2.6], [6.2, 9.7]],
 *   [[1.3, 4.5], [3.2, 4.6], [6.2, 5.5], [5.4, 5.4]],
 *   [[3.2, 7.5], [3.3, 1.5], [8.4, 2.6], [8.2, 9.7]],
 *   [[3.3, 4.5], [5.2, 4.6], [8.2, 5.5], [7.4, 5.4]],
 * ];
 * const lsml = await new LSML().fit(quadruplets);
 * console.log(lsml.history.at(-1)! < lsml.history[0]); // true
 * ```
 */
export class LSML extends LsmlBase {
  readonly name: string = "LSML";

  /** Options as {@linkcode LsmlOptions}. */
  constructor(options: LsmlOptions = {}) {
    super(options);
  }

  /**
   * Fits M to quadruplets: d(q[0], q[1]) should be smaller than d(q[2], q[3]).
   *
   * @param quadruplets `[n, 4, d]` points, or `[n, 4]` indices into the `preprocessor`
   * @param weights `[n]` non-negative weight of each quadruplet (default uniform), normalised to
   * sum 1
   * @throws Error for a wrong tuple size, NaN/±Infinity, weights of the wrong length, negative or
   * all zero, or a prior that is not positive definite.
   */
  async fit(quadruplets: TupleInput, weights?: ArrayLike<number>): Promise<this> {
    const fn = `${this.name}.fit`;
    const q = await this.tuples(fn, "quadruplets", quadruplets, 4);
    await this.fitTuples(fn, q, weights);
    return this;
  }
}

/**
 * Options of {@linkcode LSML_Supervised}.
 *
 * @example
 * ```ts
 * import { LSML_Supervised } from "./lsml.ts";
 * const lsml = new LSML_Supervised({ nConstraints: 200, seed: 1 });
 * ```
 */
export interface LsmlSupervisedOptions extends Omit<LsmlOptions, "preprocessor"> {
  /** Quadruplets to draw (metric-learn's `n_constraints`; default 20 · classes²). */
  nConstraints?: number;
  /** Weight of each drawn quadruplet (default uniform). */
  weights?: ArrayLike<number>;
}

/**
 * LSML from class labels, metric-learn's `LSML_Supervised`: draws `nConstraints` positive pairs
 * (a, b) and as many negative pairs (c, d) ({@linkcode positiveNegativePairs}, same length), forms
 * the quadruplets (a, b, c, d) and fits {@linkcode LSML}. `seed` seeds the draw and the random
 * prior.
 *
 * @example
 * ```ts
 * import { LSML_Supervised } from "./lsml.ts";
 * const x = [[0, 0], [0, 3], [1, 0], [1, 3], [0, 1], [1, 1]];
 * const lsml = await new LSML_Supervised({ nConstraints: 10 }).fit(x, [0, 0, 1, 1, 0, 1]);
 * lsml.getMahalanobisMatrix().print();
 * ```
 */
export class LSML_Supervised extends LsmlBase implements SupervisedLearner {
  readonly name: string = "LSML_Supervised";
  private readonly nConstraints?: number;
  private readonly weights?: ArrayLike<number>;

  constructor(options: LsmlSupervisedOptions = {}) {
    super(options, ["tol", "maxIter", "prior", "seed", "nConstraints", "weights"]);
    this.nConstraints = options.nConstraints;
    this.weights = options.weights;
    if (this.nConstraints !== undefined) {
      checkInteger("LSML_Supervised", "nConstraints", this.nConstraints, 1);
    }
  }

  /**
   * Draws quadruplets from the labels and fits LSML.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param y `[n]` class labels (negative: unlabelled), at least 2 classes
   * @throws Error as {@linkcode LSML.fit}, for a single class, or when no positive pair exists.
   */
  async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "LSML_Supervised.fit";
    const { data, n, d } = await readPoints(fn, "x", x, 2);
    const labels = await readLabels(fn, y, n);
    requireTwoClasses(fn, labels.filter((v) => v >= 0));
    const classes = new Set(labels.filter((v) => v >= 0)).size;
    const wanted = this.nConstraints ?? 20 * classes ** 2;
    const { a, b, c, d: dd } = positiveNegativePairs(labels, wanted, {
      sameLength: true,
      seed: this.seed,
    });
    if (a.length === 0) {
      throw new Error(`${fn}: no class has two labelled points, so no positive pair exists`);
    }
    const idx = new Int32Array(a.length * 4);
    for (let i = 0; i < a.length; i++) idx.set([a[i], b[i], c[i], dd[i]], 4 * i);
    const q: Tuples = { data: gatherRows(data, d, idx), n: a.length, t: 4, d };
    await this.fitTuples(fn, q, this.weights);
    if (a.length < wanted) {
      this.warnings.unshift(`only ${a.length} quadruplets could be drawn (requested ${wanted})`);
    }
    return this;
  }
}
