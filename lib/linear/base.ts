/**
 * The API every learned linear metric shares, after metric-learn's `MahalanobisMixin`: a
 * Mahalanobis distance d(x, y) = ‖L(x − y)‖ = sqrt((x − y)ᵀ M (x − y)) with M = LᵀL, where L
 * (`components`, `[k, d]`) is what `fit` learns. `transform` maps points through L,
 * `getMahalanobisMatrix` gives M, `pairDistance`/`pairScore` score tuples, and `getMetric` turns
 * the learned distance into a {@linkcode Metric} usable wherever the library takes one
 * (`pairwiseDistances`, `knn`, `retrievalMetrics`, the losses' `distance` option).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng, type Rng } from "../data/random.ts";
import { type Metric, pairwiseDistances } from "../distances.ts";
import { checkFiniteTensor, checkOptionKeys } from "../validate.ts";
import {
  checkNComponents,
  type LabelInput,
  type MatrixInput,
  type Points,
  readPoints,
  readTuples,
  type TupleInput,
} from "./_internal.ts";

export type { LabelInput, MatrixInput, TupleInput } from "./_internal.ts";

/**
 * A learned linear metric (metric-learn's `MahalanobisMixin`). Every learner in `lib/linear`
 * implements it; each adds its own `fit` (see {@linkcode SupervisedLearner} for the learners that
 * fit labelled points).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LFDA } from "./lfda.ts";
 * import type { LinearMetricLearner } from "./base.ts";
 * const learner: LinearMetricLearner = await new LFDA({ k: 1 }).fit(
 *   [[0, 0], [0, 1], [5, 0], [5, 1.5], [0.2, 2], [5.1, 2]], [0, 0, 1, 1, 0, 1]);
 * console.log(learner.components.shape); // [2, 2]
 * ```
 */
export interface LinearMetricLearner {
  /** metric-learn's class name (`"NCA"`, `"ITML_Supervised"`, …). */
  readonly name: string;
  /** L, `[k, d]` float32 (metric-learn's `components_`); throws before `fit`. */
  readonly components: tf.Tensor2D;
  /** The objective (or the quantity the solver drives down) after each step of the last `fit`. */
  readonly history: number[];
  /** What metric-learn would have warned about during the last `fit` (empty when nothing). */
  readonly warnings: string[];
  /** Maps `[n, d]` to `[n, k]`: x ↦ x Lᵀ. Throws on a wrong shape or NaN/±Infinity. */
  transform(x: MatrixInput): tf.Tensor2D;
  /** M = LᵀL, `[d, d]`. */
  getMahalanobisMatrix(): tf.Tensor2D;
  /** Learned distances of pairs (`[n, 2, d]`, or `[n, 2]` indices into `preprocessor`), float64 `[n]`. */
  pairDistance(pairs: TupleInput): Promise<Float64Array>;
  /** −{@linkcode LinearMetricLearner.pairDistance} (higher = more similar), as metric-learn. */
  pairScore(pairs: TupleInput): Promise<Float64Array>;
  /**
   * The learned distance as a {@linkcode Metric} (a snapshot of the current L: a later `fit` or
   * `dispose` does not change it), usable in `pairwiseDistances`, `knn`, `retrievalMetrics`,
   * `knnClassificationAccuracy` and as a loss's `distance`; differentiable in its inputs.
   */
  getMetric(): Metric;
  /** Frees the tensors held by the learner. */
  dispose(): void;
}

/**
 * A learner fitted on labelled points (`fit(x, y)`): NCA, LMNN, MLKR (real targets), LFDA,
 * Covariance (y ignored) and every `_Supervised` form.
 *
 * @example
 * ```ts
 * import type { SupervisedLearner } from "./base.ts";
 * import { LFDA } from "./lfda.ts";
 * const learner: SupervisedLearner = new LFDA();
 * ```
 */
export interface SupervisedLearner extends LinearMetricLearner {
  /** Fits the metric to `[n, d]` points with labels (or targets) `[n]`. */
  fit(x: MatrixInput, y: LabelInput): Promise<this>;
}

/**
 * Options of the learners that take tuples (pairs, triplets, quadruplets).
 *
 * @example
 * ```ts
 * import { ITML } from "./itml.ts";
 * const itml = new ITML({ preprocessor: [[0, 0], [1, 0], [0, 3]] });
 * await itml.fit([[0, 1], [0, 2]], [1, -1]); // index pairs into the preprocessor's points
 * ```
 */
export interface TupleLearnerOptions {
  /**
   * Points `[m, d]` that index tuples `[n, t]` refer to (metric-learn's array-like
   * `preprocessor`); without it, tuples must be formed `[n, t, d]`.
   */
  preprocessor?: MatrixInput;
}

/**
 * The machinery behind {@linkcode LinearMetricLearner}: holds L in float64 (and a float32 tensor of
 * it), and implements `transform`, `getMahalanobisMatrix`, `pairDistance`, `pairScore`, `getMetric`
 * and `dispose` from it. A learner sets L with `setComponents` at the end of its `fit`.
 *
 * @example
 * ```ts
 * import { MahalanobisBase } from "./base.ts";
 * class Scale extends MahalanobisBase {
 *   readonly name = "Scale";
 *   fit(s: number) { this.setComponents(Float64Array.of(s, 0, 0, s), 2, 2); return this; }
 * }
 * console.log(await new Scale().fit(2).pairDistance([[[0, 0], [3, 4]]])); // [10]
 * ```
 */
export abstract class MahalanobisBase implements LinearMetricLearner {
  abstract readonly name: string;
  history: number[] = [];
  warnings: string[] = [];
  /** Iterations the solver ran in the last `fit` (metric-learn's `n_iter_`; 0 for closed forms). */
  nIter = 0;
  private L64: Float64Array | null = null;
  private shape: [number, number] = [0, 0];
  private tensor: tf.Tensor2D | null = null;
  private preprocessorInput?: MatrixInput;
  private preprocessorPoints?: Points;

  /** Sets the `preprocessor` points that index tuples refer to. */
  protected setPreprocessor(preprocessor: MatrixInput | undefined): void {
    this.preprocessorInput = preprocessor;
    this.preprocessorPoints = undefined;
  }

  /** Reads tuples of size `t` (formed, or indices into the preprocessor). */
  protected async tuples(fn: string, name: string, input: TupleInput, t: number) {
    if (this.preprocessorInput !== undefined && this.preprocessorPoints === undefined) {
      this.preprocessorPoints = await readPoints(fn, "preprocessor", this.preprocessorInput);
    }
    return await readTuples(fn, name, input, t, this.preprocessorPoints);
  }

  /** Installs L (`[k, d]`, row-major), replacing the previous one; throws on non-finite entries. */
  protected setComponents(L: ArrayLike<number>, k: number, d: number): void {
    for (let i = 0; i < k * d; i++) {
      if (!Number.isFinite(L[i])) {
        throw new Error(
          `${this.name}.fit: the learned transformation holds ${L[i]} (row ${
            Math.floor(i / d)
          }); the problem is degenerate for this input`,
        );
      }
    }
    this.L64 = Float64Array.from(L);
    this.shape = [k, d];
    this.tensor?.dispose();
    this.tensor = tf.tensor2d(Float32Array.from(this.L64), [k, d]);
  }

  /** L in float64, `[k·d]` row-major, and its shape; throws before `fit`. */
  protected componentsFloat64(): { L: Float64Array; k: number; d: number } {
    if (!this.L64) throw new Error(`${this.name}: call fit() before using the learned metric`);
    return { L: this.L64, k: this.shape[0], d: this.shape[1] };
  }

  get components(): tf.Tensor2D {
    this.componentsFloat64();
    return this.tensor!;
  }

  transform(x: MatrixInput): tf.Tensor2D {
    const { d } = this.componentsFloat64();
    const fn = `${this.name}.transform`;
    const t = x instanceof tf.Tensor ? x : tf.tensor2d(x as number[][]);
    try {
      if (t.rank !== 2 || t.shape[1] !== d) {
        throw new Error(`${fn}: x must be [n, ${d}], got [${t.shape}]`);
      }
      checkFiniteTensor(fn, "x", t);
      return tf.matMul(t, this.tensor!, false, true);
    } finally {
      if (t !== x) t.dispose();
    }
  }

  getMahalanobisMatrix(): tf.Tensor2D {
    const { L, k, d } = this.componentsFloat64();
    const M = new Float32Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let r = 0; r < k; r++) s += L[r * d + i] * L[r * d + j];
        M[i * d + j] = s;
      }
    }
    return tf.tensor2d(M, [d, d]);
  }

  async pairDistance(pairs: TupleInput): Promise<Float64Array> {
    const { L, k, d } = this.componentsFloat64();
    const fn = `${this.name}.pairDistance`;
    const p = await this.tuples(fn, "pairs", pairs, 2);
    if (p.d !== d) throw new Error(`${fn}: pairs have ${p.d} features, the metric ${d}`);
    const out = new Float64Array(p.n);
    const diff = new Float64Array(d);
    for (let i = 0; i < p.n; i++) {
      for (let c = 0; c < d; c++) diff[c] = p.data[2 * i * d + c] - p.data[(2 * i + 1) * d + c];
      let s = 0;
      for (let r = 0; r < k; r++) {
        let z = 0;
        for (let c = 0; c < d; c++) z += L[r * d + c] * diff[c];
        s += z * z;
      }
      out[i] = Math.sqrt(s);
    }
    return out;
  }

  async pairScore(pairs: TupleInput): Promise<Float64Array> {
    const dist = await this.pairDistance(pairs);
    return dist.map((v) => -v);
  }

  getMetric(): Metric {
    const { L, k, d } = this.componentsFloat64();
    const values = Float32Array.from(L);
    return {
      name: this.name,
      isSimilarity: false,
      // A pseudo-metric when L has fewer rows than columns: distinct points can be at distance 0.
      axioms: { nonNegativity: true, identity: k >= d, symmetry: true, triangleInequality: true },
      domain: "real",
      form: "matmul",
      params: { components: values, shape: [k, d] },
      pairwise: (a, b) =>
        tf.tidy(() => {
          const Lt = tf.tensor2d(values, [k, d]);
          const za = tf.matMul(a, Lt, false, true);
          const zb = a === b ? za : tf.matMul(b, Lt, false, true);
          return pairwiseDistances(za as tf.Tensor2D, zb as tf.Tensor2D, "euclidean", {
            checkFinite: false,
          });
        }),
    };
  }

  dispose(): void {
    this.tensor?.dispose();
    this.tensor = null;
    this.L64 = null;
  }
}

/**
 * Initialisation of `L` (`[k, d]`) of the gradient-trained learners.
 *
 * @example
 * ```ts
 * import { NCA } from "./nca.ts";
 * const nca = new NCA({ init: "random", seed: 7 });
 * ```
 */
export type LinearInit = "identity" | "random";

/**
 * Options every gradient-trained learner (NCA, LMNN, MLKR) accepts.
 *
 * @example
 * ```ts
 * import { NCA } from "./nca.ts";
 * const nca = new NCA({ nComponents: 2, iterations: 50, learningRate: 0.05, seed: 1 });
 * ```
 */
export interface LinearLearnerOptions {
  /** Output dimension k of `L` (`[k, d]`, metric-learn's `n_components`); default d (full rank). */
  nComponents?: number;
  /**
   * `"identity"` (default when k = d: starts from the Euclidean metric; with k < d the first k
   * rows of the identity) or `"random"` (seeded Gaussian, entries N(0, 1/d)).
   */
  init?: LinearInit;
  /** Seed of the initialisation and of minibatch sampling (default 0). */
  seed?: number;
  /** Optimisation steps (defaults per learner). */
  iterations?: number;
  /** Adam learning rate (default 0.01; MLKR 0.05). */
  learningRate?: number;
  /** Called after every step with the objective before that step's update. */
  onStep?: (step: number, objective: number) => void;
}

/** The option keys of {@linkcode LinearLearnerOptions}. */
export const LINEAR_LEARNER_OPTION_KEYS: readonly string[] = Object.freeze([
  "nComponents",
  "init",
  "seed",
  "iterations",
  "learningRate",
  "onStep",
]);

/**
 * The machinery of the gradient-trained learners — `L` as a seeded `tf.Variable`, Adam on an
 * objective — for writing another one. `fit` ends with `finish()`, which installs the trained L.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LinearLearnerBase } from "./base.ts";
 * class Shrink extends LinearLearnerBase {
 *   readonly name = "Shrink";
 *   constructor() { super("Shrink", { iterations: 10 }, [], 10); }
 *   async fit(x: tf.Tensor2D) {
 *     const L = this.initL(x.shape[1]);
 *     await this.optimize(() => tf.sum(tf.square(tf.matMul(x, L, false, true))) as tf.Scalar);
 *     await this.finish();
 *     return this;
 *   }
 * }
 * const s = await new Shrink().fit(tf.tensor2d([[1, 2]]));
 * console.log(s.history.length); // 10
 * ```
 */
export abstract class LinearLearnerBase extends MahalanobisBase {
  protected variable: tf.Variable<tf.Rank.R2> | null = null;
  protected rng: Rng;
  protected readonly options: LinearLearnerOptions;

  constructor(
    cls: string,
    options: LinearLearnerOptions,
    extraKeys: readonly string[],
    protected readonly defaultIterations: number,
    protected readonly defaultLearningRate = 0.01,
  ) {
    super();
    checkOptionKeys(cls, options, [...LINEAR_LEARNER_OPTION_KEYS, ...extraKeys]);
    this.options = options;
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new Error(`${cls}: seed must be an integer, got ${seed}`);
    this.rng = createRng(seed);
    for (const key of ["iterations", "nComponents"] as const) {
      const v = options[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new Error(`${cls}: ${key} must be a positive integer, got ${v}`);
      }
    }
    if (options.learningRate !== undefined && !(options.learningRate > 0)) {
      throw new Error(`${cls}: learningRate must be > 0, got ${options.learningRate}`);
    }
    const init = options.init ?? "identity";
    if (init !== "identity" && init !== "random") {
      throw new Error(`${cls}: init must be "identity" or "random", got "${init}"`);
    }
  }

  /** Creates `L` `[k, d]` (seeded), replacing any previous one. */
  protected initL(d: number): tf.Variable<tf.Rank.R2> {
    const k = checkNComponents(`${this.name}.fit`, this.options.nComponents, d);
    const values = new Float32Array(k * d);
    if ((this.options.init ?? "identity") === "identity") {
      for (let i = 0; i < k; i++) values[i * d + i] = 1;
    } else {
      for (let i = 0; i < k * d; i++) values[i] = this.rng.normal() / Math.sqrt(d);
    }
    this.variable?.dispose();
    this.variable = tf.variable(tf.tensor2d(values, [k, d]), true);
    return this.variable;
  }

  /** Runs Adam on `objective` (evaluated inside a tidy) for the configured number of steps. */
  protected async optimize(objective: (step: number) => tf.Scalar): Promise<void> {
    const iterations = this.options.iterations ?? this.defaultIterations;
    const optimizer = tf.train.adam(this.options.learningRate ?? this.defaultLearningRate);
    this.history = [];
    this.warnings = [];
    const L = this.variable!;
    try {
      for (let step = 0; step < iterations; step++) {
        const cost = optimizer.minimize(() => objective(step), true, [L]);
        const value = (await cost!.data())[0];
        cost!.dispose();
        if (!Number.isFinite(value)) {
          throw new Error(`${this.name}.fit: the objective became ${value} at step ${step + 1}`);
        }
        this.history.push(value);
        this.options.onStep?.(step + 1, value);
      }
      this.nIter = iterations;
    } finally {
      optimizer.dispose();
    }
  }

  /** Installs the trained variable as L and frees the variable. */
  protected async finish(): Promise<void> {
    const L = this.variable!;
    const values = await L.data();
    const [k, d] = L.shape;
    L.dispose();
    this.variable = null;
    this.setComponents(values, k, d);
  }

  override dispose(): void {
    this.variable?.dispose();
    this.variable = null;
    super.dispose();
  }

  /** `count` distinct indices from `[0, n)` (all of them, shuffled, when count ≥ n). */
  protected sample(n: number, count: number): Int32Array {
    const idx = this.rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    return count >= n ? idx : idx.slice(0, count);
  }
}
