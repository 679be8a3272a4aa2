/**
 * The soft nearest-neighbour loss (Frosst, Papernot & Hinton 2019, "Analyzing and Improving
 * Representations with the Soft Nearest Neighbor Loss"), as TensorFlow Similarity's
 * `SoftNearestNeighborLoss` defines it: a differentiable measure of how entangled the classes are
 * in the embedding (the NCA objective with a temperature).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions, opt } from "./_template.ts";
import { binary, maskedLogSumExp } from "./_ops.ts";

/**
 * Options of {@linkcode softNearestNeighborLoss}; defaults are TensorFlow Similarity's. The
 * distance defaults to `"sqeuclidean"` (TF Similarity's `"sql2"`; `"cosine"` uses −similarity),
 * `normalizeEmbeddings` to false (TF Similarity does not normalise) and the reduction to `"mean"`:
 * the sum of per-sample losses over the batch size `n` (Keras' `sum_over_batch_size`), samples
 * without a positive counting as 0. Neither `indices` nor `refEmbeddings` are accepted.
 */
export interface SoftNearestNeighborLossOptions
  extends Omit<LossOptions, "indices" | "refEmbeddings" | "refLabels"> {
  /** Temperature T dividing the distances. Default 1. */
  temperature?: number;
}

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
 * @returns a scalar; with `reduction: "none"` a `[n]` tensor, one loss per sample
 * @throws Error for a temperature that is not a finite number > 0, `indices` or `refEmbeddings`,
 *   or an unknown option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { softNearestNeighborLoss } from "./soft_nn.ts";
 * const e = tf.tensor2d([[0, 0], [0.1, 0], [2, 2], [2, 2.1]]);
 * const v = softNearestNeighborLoss(e, [0, 0, 1, 1]).dataSync()[0];
 * assert.ok(Math.abs(v - 6.979e-4) < 1e-6); // small: the classes are disentangled
 * ```
 */
export const softNearestNeighborLoss: Loss<SoftNearestNeighborLossOptions> = defineLoss<
  SoftNearestNeighborLossOptions
>({
  name: "softNearestNeighborLoss",
  distance: "sqeuclidean",
  normalizeEmbeddings: false,
  reduction: "mean",
  indices: false,
  ref: false,
  options: { temperature: opt.positive(1) },
  compute(ctx, o) {
    const mat = ctx.mat();
    const logits = tf.div(ctx.distance.inverted ? mat : tf.neg(mat), o.temperature) as tf.Tensor2D;
    const pos = binary(ctx.pairMatrices().pos);
    const others = tf.sub(1, tf.eye(ctx.n)) as tf.Tensor2D;
    const hasPos = binary(tf.sum(pos, 1));
    const logRatio = tf.reshape(
      tf.sub(maskedLogSumExp(logits, pos, false), maskedLogSumExp(logits, others, false)),
      [ctx.n],
    );
    // "mean" divides by n (every sample has weight 1), as Keras' sum_over_batch_size does.
    const losses = tf.mul(tf.neg(tf.log(tf.add(tf.exp(logRatio), 1e-9))), hasPos);
    return { loss: { kind: "element", losses } };
  },
});
