/**
 * Sparse Distance Metric Learning (Qi, Tang, Zha, Chua and Zhang, "An Efficient Sparse Metric
 * Learning in High-Dimensional Space via ℓ1-Penalized Log-Determinant Regularization", ICML 2009):
 * from pairs labelled similar (+1) or dissimilar (−1), M is the sparse precision that the
 * graphical lasso estimates from
 *
 *   S = M₀⁻¹ + η Σ_i y_i (a_i − b_i)(a_i − b_i)ᵀ,
 *
 * i.e. M minimises tr(S M) − log det M + λ Σ_{i≠j} |M_ij|: close to the prior M₀ in LogDet
 * divergence, small on similar pairs, large on dissimilar ones, with sparse off-diagonal entries.
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
} from "./_internal.ts";
import { componentsFromMetric, eigenTolerance, fromEigen, symmetricEigen } from "./_linalg.ts";
import { graphicalLasso } from "./_graphical_lasso.ts";
import { checkPrior, initialMetric, type PriorSpec } from "./_prior.ts";
import { supervisedPairs } from "./constraints.ts";

/**
 * Options of {@linkcode SDML}.
 *
 * @example
 * ```ts
 * import { SDML } from "./sdml.ts";
 * const sdml = new SDML({ balanceParam: 0.1, sparsityParam: 0.05, prior: "covariance" });
 * ```
 */
export interface SdmlOptions extends TupleLearnerOptions {
  /** η, the weight of the pairs against the prior (metric-learn's `balance_param`, 0.5). */
  balanceParam?: number;
  /** λ, the ℓ1 penalty of the graphical lasso (metric-learn's `sparsity_param`, 0.01). */
  sparsityParam?: number;
  /** The prior M₀ (metric-learn's `prior`, default `"identity"`); must be positive definite. */
  prior?: PriorSpec;
  /** Seed of the `"random"` prior (default 0). */
  seed?: number;
}

const SDML_KEYS = ["balanceParam", "sparsityParam", "prior", "seed", "preprocessor"];

/**
 * SDML on labelled pairs, metric-learn's `SDML` (defaults `balance_param = 0.5`,
 * `sparsity_param = 0.01`, `prior = "identity"`) with scikit-learn's graphical lasso (mode "cd",
 * tol 1e-4, at most 100 iterations), started, as metric-learn starts it, from S with its
 * eigenvalues shifted to be positive. When S is not positive semi-definite the fit goes on with a
 * warning (metric-learn's), as the graphical lasso may still converge; `history` holds the
 * graphical lasso's duality gap after each iteration.
 *
 * @example
 * ```ts
 * import { SDML } from "./sdml.ts";
 * const pairs = [[[0, 0], [0, 0.2]], [[1, 0], [1, 0.3]], [[0, 0], [1, 0]], [[0, 1], [1, 1]]];
 * const sdml = await new SDML({ balanceParam: 0.1 }).fit(pairs, [1, 1, -1, -1]);
 * sdml.getMahalanobisMatrix().print();
 * ```
 */
export class SDML extends MahalanobisBase {
  readonly name: string = "SDML";
  protected readonly balanceParam: number;
  protected readonly sparsityParam: number;
  protected readonly prior: PriorSpec;
  protected readonly seed: number;

  constructor(options: SdmlOptions = {}, keys: readonly string[] = SDML_KEYS) {
    super();
    const cls = new.target.name;
    checkOptionKeys(cls, options, keys);
    this.balanceParam = options.balanceParam ?? 0.5;
    this.sparsityParam = options.sparsityParam ?? 0.01;
    this.prior = options.prior ?? "identity";
    this.seed = options.seed ?? 0;
    checkPositive(cls, "balanceParam", this.balanceParam, true);
    checkPositive(cls, "sparsityParam", this.sparsityParam, true);
    checkInteger(cls, "seed", this.seed, 0);
    checkPrior(cls, "prior", this.prior);
    this.setPreprocessor(options.preprocessor);
  }

  /**
   * Fits M to pairs.
   *
   * @param pairs `[n, 2, d]` points, or `[n, 2]` indices into the `preprocessor`
   * @param y `[n]` +1 (similar) or −1 (dissimilar)
   * @throws Error for a wrong tuple size, NaN/±Infinity, labels other than ±1, fewer than 2
   * features, a prior that is not positive definite, or when the graphical lasso fails or returns
   * a matrix that is not positive semi-definite (metric-learn's RuntimeError: lower
   * `balanceParam`, or use `prior: "identity"`).
   */
  async fit(pairs: TupleInput, y: LabelInput): Promise<this> {
    const fn = `${this.name}.fit`;
    const p = await this.tuples(fn, "pairs", pairs, 2);
    const labels = await readLabels(fn, y, p.n);
    await this.fitPairs(fn, p, labels);
    return this;
  }

  /** The solver on read pairs. */
  protected fitPairs(fn: string, p: Tuples, y: number[]): Promise<void> {
    const bad = y.findIndex((v) => v !== 1 && v !== -1);
    if (bad >= 0) throw new Error(`${fn}: y[${bad}] is ${y[bad]}; pair labels must be +1 or −1`);
    const { n, d } = p;
    if (d < 2) throw new Error(`${fn}: cannot fit SDML with ${d} feature(s); it needs 2 or more`);
    this.warnings = [];
    const { Minv: priorInv } = initialMetric(
      fn,
      "prior",
      this.prior,
      { data: p.data, n: 2 * n, d },
      { seed: this.seed, strictPd: true },
    );
    const S = Float64Array.from(priorInv);
    for (let i = 0; i < n; i++) {
      const f = this.balanceParam * y[i];
      const o = 2 * i * d;
      for (let r = 0; r < d; r++) {
        const vr = p.data[o + r] - p.data[o + d + r];
        if (vr === 0) continue;
        for (let c = 0; c < d; c++) S[r * d + c] += f * vr * (p.data[o + c] - p.data[o + d + c]);
      }
    }
    const { values, vectors } = symmetricEigen(S, d);
    const shifted = Float64Array.from(values);
    if (values[0] < 0) {
      this.warnings.push(
        "the input matrix of the graphical lasso is not positive semi-definite; the fit may " +
          'diverge or degenerate: decrease balanceParam and/or use prior "identity"',
      );
      for (let i = 0; i < d; i++) shifted[i] -= values[0];
    }
    for (let i = 0; i < d; i++) shifted[i] += 1e-10;
    const sigma0 = fromEigen(shifted, vectors, d);
    const fail = (why: string) =>
      new Error(
        `${fn}: there was a problem in SDML's graphical lasso: ${why}; decrease balanceParam ` +
          `and/or use prior "identity"`,
      );
    let result;
    try {
      result = graphicalLasso(S, d, this.sparsityParam, { covInit: sigma0 });
    } catch (e) {
      throw fail((e as Error).message);
    }
    const M = result.precision;
    if (!M.every(Number.isFinite)) throw fail("the estimated matrix is not finite");
    const eig = symmetricEigen(M, d).values;
    if (eig[0] < -eigenTolerance(eig)) {
      throw fail(`the estimated matrix is not positive semi-definite (eigenvalue ${eig[0]})`);
    }
    if (!result.converged) {
      this.warnings.push(
        `the graphical lasso did not converge after ${result.iterations} iterations (duality gap ${
          result.gaps.at(-1)
        })`,
      );
    }
    this.history = result.gaps;
    this.nIter = result.iterations;
    this.setComponents(componentsFromMetric(M, d, fn), d, d);
    return Promise.resolve();
  }
}

/**
 * Options of {@linkcode SDML_Supervised}.
 *
 * @example
 * ```ts
 * import { SDML_Supervised } from "./sdml.ts";
 * const sdml = new SDML_Supervised({ nConstraints: 200, balanceParam: 0.1 });
 * ```
 */
export interface SdmlSupervisedOptions extends Omit<SdmlOptions, "preprocessor"> {
  /** Pairs of each kind to draw (metric-learn's `n_constraints`; default 20 · classes²). */
  nConstraints?: number;
}

/**
 * SDML from class labels, metric-learn's `SDML_Supervised`: draws `nConstraints` similar and as
 * many dissimilar pairs ({@linkcode positiveNegativePairs}) and fits {@linkcode SDML}.
 *
 * @example
 * ```ts
 * import { SDML_Supervised } from "./sdml.ts";
 * const x = [[0, 0], [0, 3], [1, 0], [1, 3], [0, 1], [1, 1]];
 * const sdml = await new SDML_Supervised({ nConstraints: 6, balanceParam: 0.05 }).fit(x, [0, 0, 1, 1, 0, 1]);
 * sdml.getMahalanobisMatrix().print();
 * ```
 */
export class SDML_Supervised extends SDML implements SupervisedLearner {
  override readonly name: string = "SDML_Supervised";
  private readonly nConstraints?: number;

  constructor(options: SdmlSupervisedOptions = {}) {
    super(options, ["balanceParam", "sparsityParam", "prior", "seed", "nConstraints"]);
    this.nConstraints = options.nConstraints;
    if (this.nConstraints !== undefined) {
      checkInteger("SDML_Supervised", "nConstraints", this.nConstraints, 1);
    }
  }

  /**
   * Draws pairs from the labels and fits SDML.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param y `[n]` class labels (negative: unlabelled), at least 2 classes
   * @throws Error as {@linkcode SDML.fit}, and for a single class.
   */
  override async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "SDML_Supervised.fit";
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
