/**
 * Small differentiable building blocks of the losses: a gradient stop, the masked log-sum-exp of
 * PML's `lmu.logsumexp`, and 0/1 masks of multiplicity matrices.
 *
 * Internal.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The identity in the forward pass with a zero gradient (PyTorch's `.detach()`): values computed
 * through it (counts, masks, comparisons) do not take part in differentiation.
 *
 * @param x any tensor
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { stopGradient } from "./_ops.ts";
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, stopGradient(x))))(tf.tensor1d([3]));
 * assert.deepEqual(g.arraySync(), [3]);
 * ```
 */
export const stopGradient: <T extends tf.Tensor>(x: T) => T = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any) => ({
    value: tf.clone(x as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }),
) as unknown as <T extends tf.Tensor>(x: T) => T;

/**
 * 0/1 float mask of the entries of `w` that are > 0 (a multiplicity matrix's pairs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { binary } from "./_ops.ts";
 * assert.deepEqual(binary(tf.tensor1d([0, 2, 1])).arraySync(), [0, 1, 1]);
 * ```
 */
export function binary<T extends tf.Tensor>(w: T): T {
  return tf.cast(tf.greater(w, 0), "float32") as T;
}

const NEG_BIG = -1e30;

/**
 * Row-wise log-sum-exp over the entries where `mask` is non-zero, as PML's `lmu.logsumexp`:
 * with `addOne` a 0 joins each row (log(1 + Σ exp)); a row with no kept entry (or `m` = 0) gives
 * 0. The maximum used for stability carries no gradient, and masked-out entries get none.
 *
 * @param x `[n, m]`
 * @param mask `[n, m]` 0/1 (constant)
 * @returns `[n, 1]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { maskedLogSumExp } from "./_ops.ts";
 * const lse = maskedLogSumExp(tf.tensor2d([[0, 0, 5]]), tf.tensor2d([[1, 1, 0]]), false);
 * assert.deepEqual(lse.shape, [1, 1]);
 * assert.ok(Math.abs(lse.dataSync()[0] - Math.LN2) < 1e-6);
 * ```
 */
export function maskedLogSumExp(x: tf.Tensor2D, mask: tf.Tensor2D, addOne: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    // No columns (an empty batch): every row has no kept entry, 0 (log 1 with `addOne`); the
    // maximum of nothing would be NaN.
    if (x.shape[1] === 0) return tf.mul(tf.sum(x, 1, true), 0) as tf.Tensor2D;
    const keep = tf.greater(mask, 0);
    const xm = tf.where(keep, x, tf.fill(x.shape, NEG_BIG));
    const rowMax = tf.max(xm, 1, true);
    const m = stopGradient(addOne ? tf.relu(rowMax) : rowMax);
    let s = tf.sum(tf.exp(tf.sub(xm, m)), 1, true);
    if (addOne) s = tf.add(s, tf.exp(tf.neg(m)));
    const out = tf.add(tf.log(s), m);
    if (addOne) return out as tf.Tensor2D;
    const any = tf.greater(tf.sum(mask, 1, true), 0);
    return tf.where(any, out, tf.zerosLike(out)) as tf.Tensor2D;
  });
}
