/**
 * Information-Theoretic Metric Learning (Davis, Kulis, Jain, Sra and Dhillon, 2007):
 * classification similarity from labelled pairs. Finds the Mahalanobis matrix M closest to a
 * prior M₀ (the identity by default) in LogDet divergence such that similar pairs have d²_M ≤ u
 * and dissimilar pairs d²_M ≥ l (with slack weighted by γ), by cyclic Bregman projections onto one
 * pair constraint at a time; L is then the transposed Cholesky factor, M = LᵀL.
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
import { componentsFromMetric } from "./_linalg.ts";
import { checkPrior, initialMetric, type PriorSpec, uniqueRows } from "./_prior.ts";
import { supervisedPairs } from "./constraints.ts";

/**
 * Options of {@linkcode ITML}.
 *
 * @example
 * ```ts
 * import { ITML } from "./itml.ts";
 * const itml = new ITML({ gamma: 1, maxIter: 200, bounds: [1, 10] });
 * ```
 */
export interface ItmlOptions extends TupleLearnerOptions {
  /** Slack trade-off γ (metric-learn default 1). */
  gamma?: number;
  /** Passes over the constraints at most (metric-learn's `max_iter`, default 1000). */
  maxIter?: number;
  /**
   * Stop when Σ|λ − λ_old| / (‖λ‖ + ‖λ_old‖) of the dual variables is below this (metric-learn's
   * `tol`, default 1e-3).
   */
  convergenceThreshold?: number;
  /**
   * `[u, l]`: similar pairs should have d² ≤ u, dissimilar d² ≥ l (zeros are replaced by 1e-9, as
   * metric-learn does). Default: the 5th and 95th percentiles of the squared Euclidean distances
   * among the distinct points of the pairs.
   */
  bounds?: [number, number];
  /** The prior M₀ (metric-learn's `prior`, default `"identity"`); must be positive definite. */
  prior?: PriorSpec;
  /** Seed of the `"random"` prior (default 0). */
  seed?: number;
  /** Called after every pass over the constraints with the mean violation. */
  onStep?: (step: number, objective: number) => void;
}

const ITML_KEYS = [
  "gamma",
  "maxIter",
  "convergenceThreshold",
  "bounds",
  "prior",
  "seed",
  "onStep",
  "preprocessor",
];

/**
 * The 5th and 95th percentiles of the squared Euclidean distances over all ordered pairs of the
 * distinct points (the zero self-distances included, as metric-learn's `pairwise_distances`
 * matrix holds them).
 */
function defaultBounds(p: Tuples): [number, number] {
  const u = uniqueRows({ data: p.data, n: p.n * 2, d: p.d });
  const { data, n, d } = u;
  const off = new Float64Array((n * (n - 1)) / 2);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += (data[i * d + c] - data[j * d + c]) ** 2;
      off[t++] = s;
    }
  }
  off.sort();
  // The full n² matrix sorted: n zeros, then every off-diagonal value twice.
  const total = n * n;
  const at = (j: number) => (j < n ? 0 : off[Math.floor((j - n) / 2)]);
  const q = (f: number) => {
    const pos = (total - 1) * f;
    const lo = Math.floor(pos), hi = Math.ceil(pos);
    return at(lo) + (at(hi) - at(lo)) * (pos - lo);
  };
  return [q(0.05), q(0.95)];
}

/**
 * ITML on labelled pairs. Defaults follow metric-learn's `ITML` (γ = 1, `max_iter = 1000`,
 * `tol = 1e-3`, identity prior, similar constraints projected before dissimilar ones in each
 * pass). `history` records, from M₀ and after each pass, the mean constraint violation (mean of
 * [d² − u]₊ over similar and [l − d²]₊ over dissimilar pairs, divided by u + l), the quantity
 * ITML drives down. Pairs of identical points carry no constraint and are skipped (counted in
 * `warnings`).
 *
 * Difference from metric-learn 0.7: its default bounds are percentiles of unsquared distances,
 * compared with squared ones; here both are squared (as in the authors' code).
 *
 * @example
 * ```ts
 * import { ITML } from "./itml.ts";
 * const pairs = [[[0, 0], [0, 3]], [[0, 0], [1, 0]], [[1, 0], [1, 3]]];
 * const itml = await new ITML().fit(pairs, [1, -1, 1]);
 * itml.getMahalanobisMatrix().print();
 * ```
 */
export class ITML extends MahalanobisBase {
  readonly name: string = "ITML";
  protected readonly gamma: number;
  protected readonly maxIter: number;
  protected readonly threshold: number;
  protected readonly bounds?: [number, number];
  protected readonly prior: PriorSpec;
  protected readonly seed: number;
  protected readonly onStep?: (step: number, objective: number) => void;
  /** The bounds `[u, l]` the last `fit` used (metric-learn's `bounds_`). */
  boundsUsed: [number, number] = [0, 0];

  constructor(options: ItmlOptions = {}, keys: readonly string[] = ITML_KEYS) {
    super();
    const cls = new.target.name;
    checkOptionKeys(cls, options, keys);
    this.gamma = options.gamma ?? 1;
    this.maxIter = options.maxIter ?? 1000;
    this.threshold = options.convergenceThreshold ?? 1e-3;
    this.bounds = options.bounds;
    this.prior = options.prior ?? "identity";
    this.seed = options.seed ?? 0;
    this.onStep = options.onStep;
    if (!(this.gamma > 0)) throw new Error(`${cls}: gamma must be > 0, got ${this.gamma}`);
    checkInteger(cls, "maxIter", this.maxIter, 1);
    checkPositive(cls, "convergenceThreshold", this.threshold, true);
    checkInteger(cls, "seed", this.seed, 0);
    checkPrior(cls, "prior", this.prior);
    if (this.bounds !== undefined) {
      const b = this.bounds as unknown;
      if (
        !Array.isArray(b) || b.length !== 2 ||
        !b.every((v) => typeof v === "number" && Number.isFinite(v) && v >= 0)
      ) {
        throw new Error(
          `${cls}: bounds must be two finite numbers [u, l] ≥ 0, got ${JSON.stringify(b)}`,
        );
      }
    }
    this.setPreprocessor(options.preprocessor);
  }

  /**
   * Fits M to pairs.
   *
   * @param pairs `[n, 2, d]` points, or `[n, 2]` indices into the `preprocessor`
   * @param y `[n]` +1 (similar) or −1 (dissimilar)
   * @throws Error for a wrong tuple size, NaN/±Infinity, labels other than ±1, or a prior that is
   * not positive definite.
   */
  async fit(pairs: TupleInput, y: LabelInput): Promise<this> {
    const fn = `${this.name}.fit`;
    const p = await this.tuples(fn, "pairs", pairs, 2);
    const labels = await readLabels(fn, y, p.n);
    await this.fitPairs(fn, p, labels);
    return this;
  }

  /** The solver on read pairs. */
  protected async fitPairs(fn: string, pairs: Tuples, labels: number[]): Promise<void> {
    const bad = labels.findIndex((v) => v !== 1 && v !== -1);
    if (bad >= 0) {
      throw new Error(`${fn}: y[${bad}] is ${labels[bad]}; pair labels must be +1 or −1`);
    }
    const { n: p, d } = pairs;
    this.warnings = [];
    const diff = new Float64Array(p * d);
    for (let i = 0; i < p; i++) {
      for (let c = 0; c < d; c++) {
        diff[i * d + c] = pairs.data[2 * i * d + c] - pairs.data[(2 * i + 1) * d + c];
      }
    }
    const [u0, l0] = this.bounds ?? defaultBounds(pairs);
    const u = u0 === 0 ? 1e-9 : u0, l = l0 === 0 ? 1e-9 : l0;
    this.boundsUsed = [u, l];
    const { M: A } = initialMetric(
      fn,
      "prior",
      this.prior,
      { data: pairs.data, n: 2 * p, d },
      { seed: this.seed, strictPd: true },
    );
    // Similar constraints first, then dissimilar, as metric-learn orders them.
    const order = [...labels.keys()].sort((i, j) => labels[j] - labels[i] || i - j);
    const lambda = new Float64Array(p);
    let lambdaOld = new Float64Array(p);
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
    let skipped = 0, pass = 0;
    for (; pass < this.maxIter; pass++) {
      skipped = 0;
      for (const i of order) {
        const v = diff.subarray(i * d, (i + 1) * d);
        let wtw = 0;
        for (let r = 0; r < d; r++) {
          let t = 0;
          for (let c = 0; c < d; c++) t += A[r * d + c] * v[c];
          Av[r] = t;
          wtw += v[r] * t;
        }
        if (!(wtw > 1e-12)) {
          skipped++;
          continue;
        }
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
      let norm = 0, normOld = 0, change = 0;
      for (let i = 0; i < p; i++) {
        norm += lambda[i] ** 2;
        normOld += lambdaOld[i] ** 2;
        change += Math.abs(lambdaOld[i] - lambda[i]);
      }
      this.history.push(violation());
      this.onStep?.(pass + 1, this.history.at(-1)!);
      const normSum = Math.sqrt(norm) + Math.sqrt(normOld);
      if (normSum === 0 || change / normSum < this.threshold) {
        pass++;
        break;
      }
      lambdaOld = Float64Array.from(lambda);
      if (pass % 20 === 19) await yieldNow();
    }
    this.nIter = pass;
    if (skipped) this.warnings.push(`${skipped} pairs of identical points carry no constraint`);
    this.setComponents(componentsFromMetric(A, d, fn), d, d);
  }
}

/**
 * Options of {@linkcode ITML_Supervised}.
 *
 * @example
 * ```ts
 * import { ITML_Supervised } from "./itml.ts";
 * const itml = new ITML_Supervised({ nConstraints: 200, seed: 1 });
 * ```
 */
export interface ItmlSupervisedOptions extends Omit<ItmlOptions, "preprocessor"> {
  /** Similar and dissimilar pairs to draw, each (metric-learn's `n_constraints`; default 20 · classes²). */
  nConstraints?: number;
}

/**
 * ITML from class labels, metric-learn's `ITML_Supervised`: draws `nConstraints` similar and as
 * many dissimilar pairs ({@linkcode supervisedPairs}, seeded by `seed`) and fits {@linkcode ITML}.
 *
 * @example
 * ```ts
 * import { ITML_Supervised } from "./itml.ts";
 * const x = [[0, 0], [0, 3], [1, 0], [1, 3], [0, 1], [1, 1]];
 * const itml = await new ITML_Supervised({ nConstraints: 10 }).fit(x, [0, 0, 1, 1, 0, 1]);
 * itml.getMahalanobisMatrix().print();
 * ```
 */
export class ITML_Supervised extends ITML implements SupervisedLearner {
  override readonly name: string = "ITML_Supervised";
  private readonly nConstraints?: number;

  constructor(options: ItmlSupervisedOptions = {}) {
    super(options, [...ITML_KEYS.filter((k) => k !== "preprocessor"), "nConstraints"]);
    this.nConstraints = options.nConstraints;
    if (this.nConstraints !== undefined) {
      checkInteger("ITML_Supervised", "nConstraints", this.nConstraints, 1);
    }
  }

  /**
   * Draws pairs from the labels and fits ITML.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param y `[n]` class labels (negative: unlabelled), at least 2 classes
   * @throws Error as {@linkcode ITML.fit}, and for a single class.
   */
  override async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "ITML_Supervised.fit";
    const { data, n, d } = await readPoints(fn, "x", x, 2);
    const labels = await readLabels(fn, y, n);
    const known = labels.filter((v) => v >= 0);
    requireTwoClasses(fn, known);
    const wanted = this.nConstraints ?? 20 * new Set(known).size ** 2;
    const { pairs, y: py, short } = supervisedPairs(labels, wanted, this.seed);
    await this.fitPairs(fn, { data: gatherRows(data, d, pairs), n: py.length, t: 2, d }, py);
    if (short) this.warnings.unshift(short);
    return this;
  }
}
