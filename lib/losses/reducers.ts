/**
 * Reductions of per-tuple losses to a scalar, as pytorch-metric-learning's reducers define them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** How a loss reduces its per-tuple terms. `"avgNonZero"` is PML's `AvgNonZeroReducer`. */
export type Reduction = "mean" | "sum" | "none" | "avgNonZero";

/**
 * The identity in the forward pass with a zero gradient: values computed through it (counts,
 * masks, comparisons) do not take part in differentiation.
 *
 * @param x any tensor
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { stopGradient } from "./reducers.ts";
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, stopGradient(x))))(tf.tensor1d([3]));
 * g.print(); // [3]
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
 * The number of strictly positive entries, as a scalar with a zero gradient.
 *
 * @param x any tensor
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { countPositive } from "./reducers.ts";
 * countPositive(tf.tensor1d([0, 2, -1, 3])).print(); // 2
 * ```
 */
export const countPositive: (x: tf.Tensor) => tf.Scalar = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any) => ({
    value: tf.sum(tf.cast(tf.greater(x as tf.Tensor, 0), "float32")),
    gradFunc: (_dy: tf.Tensor) => tf.zerosLike(x as tf.Tensor),
  }),
) as unknown as (x: tf.Tensor) => tf.Scalar;

/**
 * Mean over the terms that are strictly positive; 0 when none is (PML's `AvgNonZeroReducer`).
 * Terms outside `mask` are ignored.
 *
 * @param losses per-tuple losses, any shape
 * @param mask 0/1 of the same shape marking the tuples that exist (default: all)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { averageNonZero } from "./reducers.ts";
 * averageNonZero(tf.tensor1d([0, 2, 4])).print(); // 3
 * ```
 */
export function averageNonZero(losses: tf.Tensor, mask?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const masked = mask ? tf.mul(losses, mask) : losses;
    const count = countPositive(masked);
    return tf.div(tf.sum(masked), tf.maximum(count, 1)) as tf.Scalar;
  });
}

/**
 * Mean over the tuples that exist (`mask`), 0 when there are none.
 *
 * @param losses per-tuple losses, any shape
 * @param mask 0/1 of the same shape (default: all)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maskedMean } from "./reducers.ts";
 * maskedMean(tf.tensor1d([1, 2, 9]), tf.tensor1d([1, 1, 0])).print(); // 1.5
 * ```
 */
export function maskedMean(losses: tf.Tensor, mask?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    if (!mask) return tf.mean(losses) as tf.Scalar;
    return tf.div(tf.sum(tf.mul(losses, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/**
 * Applies a {@linkcode Reduction} to per-tuple losses.
 *
 * @param losses per-tuple losses, any shape
 * @param reduction how to reduce
 * @param mask 0/1 marking the tuples that exist
 * @returns a scalar, or for `"none"` the masked losses unchanged in shape
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { reduce } from "./reducers.ts";
 * reduce(tf.tensor1d([1, 3]), "sum").print(); // 4
 * ```
 */
export function reduce(losses: tf.Tensor, reduction: Reduction, mask?: tf.Tensor): tf.Tensor {
  switch (reduction) {
    case "avgNonZero":
      return averageNonZero(losses, mask);
    case "mean":
      return maskedMean(losses, mask);
    case "sum":
      return tf.tidy(() => tf.sum(mask ? tf.mul(losses, mask) : losses));
    case "none":
      return tf.tidy(() => mask ? tf.mul(losses, mask) : tf.clone(losses));
    default:
      throw new Error(`reduction: unknown reduction "${reduction}"`);
  }
}
