/**
 * The shape shared by every learned linear metric: d(x, y) = ‖L(x − y)‖, a Mahalanobis distance
 * with M = LᵀL, fitted by gradient descent on `L` with a TensorFlow.js optimiser.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng, type Rng } from "../data/random.ts";
import { type Metric, pairwiseDistances } from "../distances.ts";

/**
 * Initialisation of `L` (`[k, d]`).
 *
 * @example
 * ```ts
 * import { NCA } from "./nca.ts";
 * const nca = new NCA({ init: "random", seed: 7 });
 * ```
 */
export type LinearInit = "identity" | "random";

/**
 * Options every learner accepts.
 *
 * @example
 * ```ts
 * import { NCA } from "./nca.ts";
 * const nca = new NCA({ components: 2, iterations: 50, learningRate: 0.05, seed: 1 });
 * ```
 */
export interface LinearLearnerOptions {
  /** Output dimension k of `L` (`[k, d]`); default d (full rank). */
  components?: number;
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

/**
 * A learned linear metric d(x, y) = ‖L(x − y)‖ (metric-learn's Mahalanobis learners).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { NCA } from "./nca.ts";
 * const learner = new NCA({ iterations: 20 });
 * await learner.fit(tf.tensor2d([[0, 0], [0, 1], [5, 0], [5, 1]]), [0, 0, 1, 1]);
 * learner.transform(tf.tensor2d([[1, 1]])).print();
 * ```
 */
export interface LinearMetricLearner {
  /** metric-learn's name of the method (`"nca"`, `"mmc"`, `"lmnn"`, `"mlkr"`). */
  readonly name: string;
  /** `L`, `[k, d]`; throws before `fit`. */
  readonly L: tf.Tensor2D;
  /** The objective after each step of the last `fit` (lower is better). */
  readonly history: number[];
  /** Maps `[n, d]` to `[n, k]`: x ↦ x Lᵀ. */
  transform(x: tf.Tensor2D): tf.Tensor2D;
  /** The learned distance as a {@linkcode Metric} usable wherever a `MetricSpec` is. */
  metric(): Metric;
  /** M = LᵀL, `[d, d]`. */
  mahalanobisMatrix(): tf.Tensor2D;
  /** Frees `L`. */
  dispose(): void;
}

/**
 * The machinery every learner here shares — `L` as a seeded `tf.Variable`, Adam on an objective,
 * `transform`, `metric`, `mahalanobisMatrix` — for writing another linear learner.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LinearLearnerBase } from "./base.ts";
 * class Shrink extends LinearLearnerBase {
 *   readonly name = "shrink";
 *   constructor() { super({ iterations: 10 }, 10); }
 *   async fit(x: tf.Tensor2D) {
 *     const L = this.initL(x.shape[1]);
 *     await this.optimize(() => tf.sum(tf.square(tf.matMul(x, L, false, true))) as tf.Scalar);
 *   }
 * }
 * ```
 */
export abstract class LinearLearnerBase implements LinearMetricLearner {
  abstract readonly name: string;
  history: number[] = [];
  protected variable: tf.Variable<tf.Rank.R2> | null = null;
  protected rng: Rng;
  protected readonly options: LinearLearnerOptions;

  constructor(
    options: LinearLearnerOptions,
    protected readonly defaultIterations: number,
    protected readonly defaultLearningRate = 0.01,
  ) {
    this.options = options;
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) {
      throw new Error(`${this.constructor.name}: seed must be an integer`);
    }
    this.rng = createRng(seed);
    for (const key of ["iterations", "components"] as const) {
      const v = options[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new Error(`${this.constructor.name}: ${key} must be a positive integer, got ${v}`);
      }
    }
    if (options.learningRate !== undefined && !(options.learningRate > 0)) {
      throw new Error(`${this.constructor.name}: learningRate must be > 0`);
    }
  }

  get L(): tf.Tensor2D {
    if (!this.variable) throw new Error(`${this.name}: call fit() before using L`);
    return this.variable;
  }

  /** Creates `L` `[k, d]` (seeded), replacing any previous one. */
  protected initL(d: number): tf.Variable<tf.Rank.R2> {
    const k = this.options.components ?? d;
    if (k > d) throw new Error(`${this.name}: components (${k}) must be ≤ the dimension ${d}`);
    const init = this.options.init ?? "identity";
    const values = new Float32Array(k * d);
    if (init === "identity") {
      for (let i = 0; i < k; i++) values[i * d + i] = 1;
    } else if (init === "random") {
      for (let i = 0; i < k * d; i++) values[i] = this.rng.normal() / Math.sqrt(d);
    } else {
      throw new Error(`${this.name}: init must be "identity" or "random", got "${init}"`);
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
    const L = this.variable!;
    for (let step = 0; step < iterations; step++) {
      const cost = optimizer.minimize(() => objective(step), true, [L]);
      const value = (await cost!.data())[0];
      cost!.dispose();
      if (!Number.isFinite(value)) {
        optimizer.dispose();
        throw new Error(`${this.name}: the objective became ${value} at step ${step + 1}`);
      }
      this.history.push(value);
      this.options.onStep?.(step + 1, value);
    }
    optimizer.dispose();
  }

  transform(x: tf.Tensor2D): tf.Tensor2D {
    const L = this.L;
    if (x.rank !== 2 || x.shape[1] !== L.shape[1]) {
      throw new Error(`${this.name}.transform: x must be [n, ${L.shape[1]}], got [${x.shape}]`);
    }
    return tf.matMul(x, L, false, true);
  }

  mahalanobisMatrix(): tf.Tensor2D {
    return tf.matMul(this.L, this.L, true, false);
  }

  metric(): Metric {
    const L = tf.keep(tf.clone(this.L));
    const [k, d] = L.shape;
    const name = this.name;
    return {
      name,
      isSimilarity: false,
      // A pseudo-metric when L has fewer rows than columns: distinct points can be at distance 0.
      axioms: { nonNegativity: true, identity: k >= d, symmetry: true, triangleInequality: true },
      domain: "real",
      form: "matmul",
      params: { L },
      pairwise: (a, b) =>
        tf.tidy(() => {
          const za = tf.matMul(a, L, false, true);
          const zb = a === b ? za : tf.matMul(b, L, false, true);
          return pairwiseDistances(za as tf.Tensor2D, zb as tf.Tensor2D, "euclidean", {
            checkFinite: false,
          });
        }),
    };
  }

  dispose(): void {
    this.variable?.dispose();
    this.variable = null;
  }

  /** `count` distinct indices from `[0, n)` (all of them, shuffled, when count ≥ n). */
  protected sample(n: number, count: number): Int32Array {
    const idx = this.rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    return count >= n ? idx : idx.slice(0, count);
  }
}
