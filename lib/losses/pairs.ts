/**
 * Label handling and the pair masks shared by pair-based losses and miners.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Class labels: a `[n]` int tensor or an array of integers. */
export type Labels = tf.Tensor1D | readonly number[] | Int32Array;

/**
 * Labels as an int32 `[n]` tensor, checked against the number of embeddings.
 *
 * @param labels `[n]`
 * @param n the number of embeddings
 * @throws Error when the count differs or a label is not an integer.
 * @example
 * ```ts
 * import { labelsTensor } from "./pairs.ts";
 * labelsTensor([0, 1, 1], 3).print(); // [0, 1, 1]
 * ```
 */
export function labelsTensor(labels: Labels, n: number): tf.Tensor1D {
  if (labels instanceof tf.Tensor) {
    if (labels.rank !== 1 || labels.shape[0] !== n) {
      throw new Error(`labels: expected shape [${n}], got [${labels.shape}]`);
    }
    return labels.dtype === "int32" ? tf.clone(labels) : tf.cast(labels, "int32");
  }
  if (labels.length !== n) {
    throw new Error(`labels: expected ${n} labels (one per embedding), got ${labels.length}`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i])) {
      throw new Error(`labels: label ${i} is ${labels[i]}, not an integer`);
    }
  }
  return tf.tensor1d(Array.from(labels), "int32");
}

/**
 * 0/1 float masks of positive pairs (same label, `i ≠ j`) and negative pairs (different labels).
 *
 * @param labels `[n]` int32
 * @returns `{ positive: [n, n], negative: [n, n] }`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { pairMasks } from "./pairs.ts";
 * const { positive } = pairMasks(tf.tensor1d([0, 0, 1], "int32"));
 * positive.print(); // [[0,1,0],[1,0,0],[0,0,0]]
 * ```
 */
export function pairMasks(labels: tf.Tensor1D): { positive: tf.Tensor2D; negative: tf.Tensor2D } {
  return tf.tidy(() => {
    const n = labels.shape[0];
    const same = tf.cast(
      tf.equal(tf.reshape(labels, [n, 1]), tf.reshape(labels, [1, n])),
      "float32",
    ) as tf.Tensor2D;
    const positive = tf.sub(same, tf.eye(n)) as tf.Tensor2D;
    const negative = tf.sub(1, same) as tf.Tensor2D;
    return { positive, negative };
  });
}
