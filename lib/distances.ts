/**
 * The one distance module: every distance and similarity used by losses, miners, evaluation and
 * plots is computed here. Metrics are interchangeable objects ({@linkcode Metric}) resolved from a
 * {@linkcode MetricSpec}, following pytorch-metric-learning's distance objects and the names of
 * `scipy.spatial.distance.cdist`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A metric by name (`"euclidean"`) or by name with parameters (`{ name: "minkowski", p: 3 }`). */
export type MetricSpec = string | { name: string; [param: string]: unknown };

/** The four metric axioms. */
export type Axiom = "nonNegativity" | "identity" | "symmetry" | "triangleInequality";

/** An interchangeable distance or similarity. */
export interface Metric {
  /** Canonical name, as scipy spells it where scipy has it. */
  readonly name: string;
  /** True when larger values mean closer (a similarity such as the dot product). */
  readonly isSimilarity: boolean;
  /** The axioms this measure satisfies on its whole domain. */
  readonly axioms: Readonly<Record<Axiom, boolean>>;
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
 * import * as tf from "@tensorflow/tfjs";
 * import { safeSqrt } from "./distances.ts";
 * safeSqrt(tf.tensor1d([0, 4])).print(); // [0, 2]
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
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [v] = saved;
        const positive = tf.greater(v, 0);
        const safeV = tf.where(positive, v, tf.onesLike(v));
        return tf.where(positive, tf.div(dy, tf.mul(safeV, 2)), tf.zerosLike(v));
      },
    };
  },
) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * Squared Euclidean distances in matmul form: ‖a‖² + ‖b‖² − 2 a·bᵀ, clamped at 0.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @returns `[n, m]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { squaredEuclideanMatrix } from "./distances.ts";
 * squaredEuclideanMatrix(tf.tensor2d([[0, 0]]), tf.tensor2d([[3, 4]])).print(); // [[25]]
 * ```
 */
export function squaredEuclideanMatrix(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const aa = tf.sum(tf.square(a), 1, true); // [n, 1]
    const bb = tf.reshape(tf.sum(tf.square(b), 1), [1, -1]); // [1, m]
    const ab = tf.matMul(a, b, false, true); // [n, m]
    return tf.relu(tf.sub(tf.add(aa, bb), tf.mul(ab, 2))) as tf.Tensor2D;
  });
}

/**
 * Rows scaled to unit L2 norm; zero rows stay zero.
 *
 * @param x `[n, d]`
 * @returns `[n, d]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { l2Normalize } from "./distances.ts";
 * l2Normalize(tf.tensor2d([[3, 4]])).print(); // [[0.6, 0.8]]
 * ```
 */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = safeSqrt(tf.sum(tf.square(x), 1, true));
    return tf.div(x, tf.maximum(norm, 1e-12)) as tf.Tensor2D;
  });
}

/**
 * Cosine similarities between rows; a zero row has similarity 0 with everything.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @returns `[n, m]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { cosineSimilarityMatrix } from "./distances.ts";
 * cosineSimilarityMatrix(tf.tensor2d([[1, 0]]), tf.tensor2d([[1, 1]])).print(); // [[0.7071]]
 * ```
 */
export function cosineSimilarityMatrix(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(l2Normalize(a), l2Normalize(b), false, true));
}

const BUILT_INS: Record<string, (params: Record<string, unknown>) => Metric> = {
  euclidean: () => ({
    name: "euclidean",
    isSimilarity: false,
    axioms: ALL_AXIOMS,
    pairwise: (a, b) => tf.tidy(() => safeSqrt(squaredEuclideanMatrix(a, b)) as tf.Tensor2D),
  }),
  sqeuclidean: () => ({
    name: "sqeuclidean",
    isSimilarity: false,
    axioms: { ...ALL_AXIOMS, triangleInequality: false },
    pairwise: squaredEuclideanMatrix,
  }),
  cosine: () => ({
    name: "cosine",
    isSimilarity: false,
    // 1 − cos is zero for any two parallel vectors, and breaks the triangle inequality.
    axioms: { ...ALL_AXIOMS, identity: false, triangleInequality: false },
    pairwise: (a, b) => tf.tidy(() => tf.sub(1, cosineSimilarityMatrix(a, b)) as tf.Tensor2D),
  }),
  cosineSimilarity: () => ({
    name: "cosineSimilarity",
    isSimilarity: true,
    axioms: { nonNegativity: false, identity: false, symmetry: true, triangleInequality: false },
    pairwise: cosineSimilarityMatrix,
  }),
  dot: () => ({
    name: "dot",
    isSimilarity: true,
    axioms: { nonNegativity: false, identity: false, symmetry: true, triangleInequality: false },
    pairwise: (a, b) => tf.matMul(a, b, false, true),
  }),
};

const ALIASES: Record<string, string> = { cosine_similarity: "cosineSimilarity" };

/**
 * The names {@linkcode resolveMetric} accepts.
 *
 * @example
 * ```ts
 * import { metricNames } from "./distances.ts";
 * metricNames().includes("euclidean"); // true
 * ```
 */
export function metricNames(): string[] {
  return [...Object.keys(BUILT_INS), ...Object.keys(ALIASES)];
}

/**
 * Turns a {@linkcode MetricSpec} into a {@linkcode Metric}.
 *
 * @throws Error naming the unknown metric and the known ones.
 * @example
 * ```ts
 * import { resolveMetric } from "./distances.ts";
 * resolveMetric("euclidean").isSimilarity; // false
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

/**
 * All pairwise distances (or similarities) between the rows of `a` and `b`.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @param metric a {@linkcode MetricSpec} such as `"euclidean"` or `"cosine"`.
 * @returns `[n, m]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { pairwiseDistances } from "./distances.ts";
 * pairwiseDistances(tf.tensor2d([[0, 0]]), tf.tensor2d([[3, 4]]), "euclidean").print(); // [[5]]
 * ```
 */
export function pairwiseDistances(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  metric: MetricSpec | Metric = "euclidean",
): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2) {
    throw new Error(`pairwiseDistances: a and b must be rank 2, got ${a.rank} and ${b.rank}`);
  }
  if (a.shape[1] !== b.shape[1]) {
    throw new Error(
      `pairwiseDistances: a is [${a.shape}] and b is [${b.shape}]; their dimensions differ`,
    );
  }
  return resolveMetric(metric).pairwise(a, b);
}
