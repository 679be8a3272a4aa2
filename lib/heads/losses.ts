/**
 * The losses of the similarity heads: mean squared error (regression), binary cross-entropy on
 * logits (classification) and the margin ranking loss (ranking).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

function flat(x: tf.Tensor, who: string, name: string): tf.Tensor1D {
  if (x.rank === 2 && x.shape[1] === 1) return tf.reshape(x, [x.shape[0]]) as tf.Tensor1D;
  if (x.rank !== 1) throw new Error(`${who}: ${name} must be [n] or [n, 1], got [${x.shape}]`);
  return x as tf.Tensor1D;
}

function sameLength(who: string, a: tf.Tensor, b: tf.Tensor): void {
  if (a.shape[0] !== b.shape[0]) {
    throw new Error(`${who}: ${a.shape[0]} predictions for ${b.shape[0]} targets`);
  }
}

/**
 * Mean squared error `mean((ŷ − y)²)`.
 *
 * @param prediction `[n]` or `[n, 1]`
 * @param target `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { meanSquaredErrorLoss } from "./losses.ts";
 * assert.equal(meanSquaredErrorLoss(tf.tensor1d([1, 0]), tf.tensor1d([0, 0])).dataSync()[0], 0.5);
 * ```
 */
export function meanSquaredErrorLoss(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const p = flat(prediction, "meanSquaredErrorLoss", "prediction");
    const t = flat(target, "meanSquaredErrorLoss", "target");
    sameLength("meanSquaredErrorLoss", p, t);
    return tf.mean(tf.square(tf.sub(p, t))) as tf.Scalar;
  });
}

/**
 * Binary cross-entropy of `sigmoid(z)` against `y ∈ [0, 1]`, averaged, in the numerically stable
 * form `max(z, 0) − z·y + log(1 + exp(−|z|))`.
 *
 * @param logits `[n]` or `[n, 1]`
 * @param target `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { binaryCrossEntropyWithLogits } from "./losses.ts";
 * const loss = binaryCrossEntropyWithLogits(tf.tensor1d([0]), tf.tensor1d([1])).dataSync()[0];
 * assert.ok(Math.abs(loss - Math.LN2) < 1e-6); // log 2 ≈ 0.6931
 * ```
 */
export function binaryCrossEntropyWithLogits(logits: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const z = flat(logits, "binaryCrossEntropyWithLogits", "logits");
    const y = flat(target, "binaryCrossEntropyWithLogits", "target");
    sameLength("binaryCrossEntropyWithLogits", z, y);
    const terms = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
    return tf.mean(terms) as tf.Scalar;
  });
}

/**
 * Margin ranking loss of triplets: `mean(max(0, margin − (s(a, p) − s(a, n))))`, where `s` is a
 * similarity (larger is closer).
 *
 * @param positiveScores `s(a, p)`, `[n]` or `[n, 1]`
 * @param negativeScores `s(a, n)`, `[n]` or `[n, 1]`
 * @param margin the required gap, default 0.2
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { marginRankingLoss } from "./losses.ts";
 * const loss = marginRankingLoss(tf.tensor1d([0.9, 0.5]), tf.tensor1d([0.1, 0.4]), 0.2).dataSync()[0];
 * assert.ok(Math.abs(loss - 0.05) < 1e-6);
 * ```
 */
export function marginRankingLoss(
  positiveScores: tf.Tensor,
  negativeScores: tf.Tensor,
  margin = 0.2,
): tf.Scalar {
  if (!Number.isFinite(margin)) {
    throw new Error(`marginRankingLoss: margin must be finite, got ${margin}`);
  }
  return tf.tidy(() => {
    const sp = flat(positiveScores, "marginRankingLoss", "positiveScores");
    const sn = flat(negativeScores, "marginRankingLoss", "negativeScores");
    sameLength("marginRankingLoss", sp, sn);
    return tf.mean(tf.relu(tf.sub(margin, tf.sub(sp, sn)))) as tf.Scalar;
  });
}
