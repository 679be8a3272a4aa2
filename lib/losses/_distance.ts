/**
 * The distance a loss, miner or regularizer uses, as pytorch-metric-learning's (PML) distance
 * objects define it: a metric from `distances.ts`, whether it is a similarity (PML's
 * `is_inverted`), and PML's `normalize_embeddings` (rows scaled to unit Lp norm first, with the
 * metric's own p: 2 for the Euclidean family and the similarities, 1 for `cityblock`, `p` for
 * `minkowski`, ∞ for `chebyshev`).
 *
 * Internal: the losses expose this through their `distance` and `normalizeEmbeddings` options.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  l2Normalize,
  type Metric,
  type MetricSpec,
  pairwiseDistances,
  resolveMetric,
} from "../distances.ts";

/**
 * The distance of a loss or miner. Four names keep PML's meaning: `"euclidean"` (PML's
 * `LpDistance`, the default of most losses), `"sqeuclidean"` (`LpDistance(power=2)`), `"cosine"`
 * (PML's `CosineSimilarity`: a *similarity*, larger is closer) and `"dot"`
 * (`DotProductSimilarity`). Any other metric of `distances.ts` is accepted by name or spec
 * (`"cityblock"`, `{ name: "minkowski", p: 3 }`) or as a {@linkcode Metric} object (the cosine
 * *distance* 1 − cos is `resolveMetric("cosine")`).
 */
export type LossDistance = "euclidean" | "sqeuclidean" | "cosine" | "dot" | MetricSpec | Metric;

/** A resolved loss distance. */
export interface ResolvedDistance {
  /** The metric from `distances.ts`. */
  metric: Metric;
  /** True for similarities (larger is closer), PML's `is_inverted`. */
  inverted: boolean;
  /** The p of the norm that `normalizeEmbeddings` divides by (PML's `distance.p`). */
  normP: number;
}

const LOSS_NAMES: Record<string, string> = {
  euclidean: "euclidean",
  sqeuclidean: "sqeuclidean",
  cosine: "cosineSimilarity",
  dot: "dot",
};

/**
 * Resolves a {@linkcode LossDistance}; `"cosine"` means cosine *similarity*, as in PML.
 *
 * @param fn the caller's name, for messages
 * @throws Error naming `fn` and the distance when it is unknown or malformed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveLossDistance } from "./_distance.ts";
 * assert.equal(resolveLossDistance("f", "cosine").inverted, true);
 * assert.equal(resolveLossDistance("f", "cityblock").normP, 1);
 * ```
 */
export function resolveLossDistance(fn: string, distance: LossDistance): ResolvedDistance {
  let metric: Metric;
  try {
    if (typeof distance === "string") {
      metric = resolveMetric(LOSS_NAMES[distance] ?? distance);
    } else if (distance !== null && typeof distance === "object") {
      metric = resolveMetric(distance as MetricSpec | Metric);
    } else {
      throw new Error(`expected a name, a { name, ...params } spec or a Metric`);
    }
  } catch (e) {
    throw new Error(
      `${fn}: distance ${JSON.stringify(distance) ?? String(distance)} is not usable (${
        (e as Error).message
      }); use "euclidean", "sqeuclidean", "cosine", "dot", another metric of distances.ts or a Metric`,
    );
  }
  const p = metric.params?.p;
  const normP = metric.name === "cityblock"
    ? 1
    : metric.name === "chebyshev"
    ? Infinity
    : metric.name === "minkowski" && typeof p === "number"
    ? p
    : 2;
  return { metric, inverted: metric.isSimilarity, normP };
}

/**
 * Rows divided by their Lp norm (at least 1e-12), PyTorch's `F.normalize(x, p)`.
 *
 * @param x `[n, d]`
 * @param p the norm's order (2 by default; `Infinity` for the largest absolute value)
 * @returns `[n, d]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { lpNormalize } from "./_distance.ts";
 * assert.deepEqual(lpNormalize(tf.tensor2d([[3, -1]]), 1).arraySync(), [[0.75, -0.25]]);
 * ```
 */
export function lpNormalize(x: tf.Tensor2D, p = 2): tf.Tensor2D {
  if (p === 2) return l2Normalize(x);
  return tf.tidy(() => {
    const a = tf.abs(x);
    const norm = p === Infinity
      ? tf.max(a, 1, true)
      : p === 1
      ? tf.sum(a, 1, true)
      : tf.pow(tf.sum(tf.pow(a, p), 1, true), 1 / p);
    return tf.div(x, tf.maximum(norm, 1e-12)) as tf.Tensor2D;
  });
}

/**
 * The `[n, m]` matrix of distances (or similarities) between the rows of `query` and of `ref`
 * (`ref` defaults to `query`), each normalised first when `normalize` (PML's `distance(query,
 * ref)`).
 *
 * @param query `[n, d]`
 * @param distance a resolved distance
 * @param normalize PML's `normalize_embeddings`
 * @param ref `[m, d]`
 * @returns `[n, m]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { lossDistanceMatrix, resolveLossDistance } from "./_distance.ts";
 * const d = resolveLossDistance("f", "euclidean");
 * const m = lossDistanceMatrix(tf.tensor2d([[1, 0], [0, 2]]), d, true).arraySync() as number[][];
 * assert.ok(Math.abs(m[0][1] - Math.SQRT2) < 1e-6 && m[1][0] === m[0][1] && m[0][0] === 0); // [[0, 1.414], [1.414, 0]]
 * ```
 */
export function lossDistanceMatrix(
  query: tf.Tensor2D,
  distance: ResolvedDistance,
  normalize: boolean,
  ref?: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const q = normalize ? lpNormalize(query, distance.normP) : query;
    const r = ref === undefined || ref === query
      ? q
      : normalize
      ? lpNormalize(ref, distance.normP)
      : ref;
    return pairwiseDistances(q, r, distance.metric, { checkFinite: false });
  });
}

/**
 * PML's `distance.margin(x, y)`: `x − y` for a distance, `y − x` for a similarity, so that a
 * positive value always means "x is farther than y".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { marginOf } from "./_distance.ts";
 * assert.ok(Math.abs(marginOf(true, tf.scalar(0.2), 0.5).dataSync()[0] - 0.3) < 1e-6);
 * ```
 */
export function marginOf(
  inverted: boolean,
  x: tf.Tensor | number,
  y: tf.Tensor | number,
): tf.Tensor {
  return inverted ? tf.sub(y, x) : tf.sub(x, y);
}
