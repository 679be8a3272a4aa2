/**
 * Input checks shared by the linear learners (internal; not re-exported by `mod.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkFiniteTensor } from "../validate.ts";

/**
 * Labels as a plain array, checked against the number of rows.
 *
 * @example
 * ```ts
 * import { labelArray } from "./_internal.ts";
 * labelArray([0, 1, 1], 3, "demo"); // [0, 1, 1]
 * ```
 */
export function labelArray(labels: ArrayLike<number> | tf.Tensor, n: number, fn: string): number[] {
  const arr = labels instanceof tf.Tensor ? Array.from(labels.dataSync()) : Array.from(labels);
  if (arr.length !== n) throw new Error(`${fn}: ${arr.length} labels for ${n} rows`);
  if (arr.some((v) => !Number.isFinite(v))) throw new Error(`${fn}: labels must be finite numbers`);
  return arr;
}

/**
 * Checks a 2-D input.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkX } from "./_internal.ts";
 * checkX(tf.zeros([4, 2]) as tf.Tensor2D, "demo"); // passes
 * ```
 */
export function checkX(x: tf.Tensor2D, fn: string, minRows = 2): void {
  if (!(x instanceof tf.Tensor) || x.rank !== 2) {
    throw new Error(`${fn}: x must be a tf.Tensor2D [n, d]`);
  }
  if (x.shape[0] < minRows) {
    throw new Error(`${fn}: x needs at least ${minRows} rows, got ${x.shape[0]}`);
  }
  checkFiniteTensor(fn, "x", x);
}
