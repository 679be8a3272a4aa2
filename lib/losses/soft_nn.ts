/**
 * The soft nearest-neighbour loss (Frosst, Papernot & Hinton 2019, "Analyzing and Improving
 * Representations with the Soft Nearest Neighbor Loss"), as TensorFlow Similarity's
 * `SoftNearestNeighborLoss` defines it: a differentiable measure of how entangled the classes are
 * in the embedding (the NCA objective with a temperature).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Labels } from "./pairs.ts";
import { pairSetup } from "./contrastive.ts";
import {
  checkOptions,
  checkReduction,
  checkTemperature,
  type LossDistance,
  maskedLogSumExp,
  reduceWeighted,
} from "./tuples.ts";
import type { Reduction } from "./reducers.ts";

/** Options of {@linkcode softNearestNeighborLoss}; defaults are TensorFlow Similarity's. */
export interface SoftNearestNeighborLossOptions {
  /** Temperature T dividing the distances. Default 1. */
  temperature?: number;
  /** Default `"sqeuclidean"` (TF Similarity's `"sql2"`); `"cosine"` uses −similarity. */
  distance?: LossDistance;
  /** Scale embeddings to unit length first. Default false (TF Similarity does not). */
  normalizeEmbeddings?: boolean;
  /**
   * Default `"mean"`: the sum of per-sample losses over the batch size `n` (Keras'
   * `sum_over_batch_size`, TF Similarity's default); samples without a positive count as 0.
   */
  reduction?: Reduction;
}

const KNOWN = ["temperature", "distance", "normalizeEmbeddings", "reduction"];

/**
 * Soft nearest-neighbour loss: for each sample `i`,
 *
 *   ℓ(i) = −log( ε + Σ_{j ≠ i, y_j = y_i} exp(−d_ij/T) / Σ_{k ≠ i} exp(−d_ik/T) ),  ε = 1e-9,
 *
 * and 0 for a sample with no other sample of its class; the batch loss is Σ_i ℓ(i) / n (default
 * `"mean"`), exactly as TensorFlow Similarity computes it. Both sums are evaluated as
 * log-sum-exps, so small temperatures do not underflow.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (`reduction: "none"`: `[n]`, one loss per sample)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { softNearestNeighborLoss } from "./soft_nn.ts";
 * const e = tf.tensor2d([[0, 0], [0.1, 0], [2, 2], [2, 2.1]]);
 * softNearestNeighborLoss(e, [0, 0, 1, 1]).print(); // small: the classes are disentangled
 * ```
 */
export function softNearestNeighborLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: SoftNearestNeighborLossOptions = {},
): tf.Scalar {
  const fn = "softNearestNeighborLoss";
  checkOptions(fn, options, KNOWN);
  const {
    temperature = 1,
    distance = "sqeuclidean",
    normalizeEmbeddings = false,
    reduction = "mean",
  } = options;
  checkReduction(fn, reduction);
  checkTemperature(fn, temperature);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings);
    const logits = tf.div(s.inverted ? s.mat : tf.neg(s.mat), temperature) as tf.Tensor2D;
    const pos = tf.cast(tf.greater(s.pos, 0), "float32") as tf.Tensor2D;
    const others = tf.sub(1, tf.eye(s.n)) as tf.Tensor2D;
    const hasPos = tf.cast(tf.greater(tf.sum(pos, 1), 0), "float32");
    const logRatio = tf.reshape(
      tf.sub(maskedLogSumExp(logits, pos, false), maskedLogSumExp(logits, others, false)),
      [s.n],
    );
    const perSample = tf.mul(tf.neg(tf.log(tf.add(tf.exp(logRatio), 1e-9))), hasPos);
    // "mean" divides by n (every sample has weight 1), as Keras' sum_over_batch_size does.
    return reduceWeighted(perSample, tf.onesLike(perSample), reduction) as tf.Scalar;
  });
}
