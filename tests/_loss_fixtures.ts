/**
 * Helpers of the reducer, regularizer and wrapper tests: our losses by name, fixture inputs as
 * tensors and indices, values and gradients read back, and central finite differences.
 */
import * as tf from "@tensorflow/tfjs";
import * as losses from "../lib/losses/mod.ts";
import type { Loss, LossOptions, TupleIndices } from "../lib/losses/mod.ts";

/** The losses by their exported name. */
export const LOSSES: Record<string, Loss<LossOptions>> = Object.fromEntries(
  Object.entries(losses).filter(([, v]) => losses.isLoss(v)),
) as Record<string, Loss<LossOptions>>;

/** Fixture indices (plain arrays) as Int32Arrays. */
export function toIndices(ix: Record<string, number[]> | undefined): TupleIndices | undefined {
  if (!ix) return undefined;
  return Object.fromEntries(
    Object.entries(ix).map(([k, v]) => [k, Int32Array.from(v)]),
  ) as unknown as TupleIndices;
}

/** The value of `f(x)` and its gradient with respect to `x`, as plain arrays. */
export function valueAndGrad(
  f: (x: tf.Tensor2D) => tf.Tensor,
  x: number[][],
): { value: number; grad: number[][] } {
  return tf.tidy(() => {
    const t = tf.tensor2d(x);
    const { value, grad } = tf.valueAndGrad((e: tf.Tensor) => f(e as tf.Tensor2D) as tf.Scalar)(t);
    return { value: value.dataSync()[0], grad: grad.arraySync() as number[][] };
  });
}

/** The value of `f(x)` as nested arrays (any shape). */
export function arrayOf(f: (x: tf.Tensor2D) => tf.Tensor, x: number[][]): unknown {
  return tf.tidy(() => f(tf.tensor2d(x)).arraySync());
}

/**
 * Central finite differences of `f` at `x` (float32 evaluations, step `h`), for every coordinate.
 */
export function finiteDifferences(
  f: (x: tf.Tensor2D) => tf.Tensor,
  x: number[][],
  h = 1e-2,
): number[][] {
  const at = (z: number[][]) => tf.tidy(() => f(tf.tensor2d(z)).dataSync()[0]);
  return x.map((row, i) =>
    row.map((_, j) => {
      const plus = x.map((r) => r.slice()), minus = x.map((r) => r.slice());
      plus[i][j] += h, minus[i][j] -= h;
      return (at(plus) - at(minus)) / (2 * h);
    })
  );
}
