/**
 * Linear projection of embeddings to 2-D or 3-D for plotting, through the library's one PCA
 * (`lib/linear/pca.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fitPca } from "../linear/pca.ts";
import { checkFiniteTensor } from "../validate.ts";

/** The result of {@linkcode pca}. */
export interface PcaResult {
  /** Projected points `[n, k]`, row-major. */
  points: Float32Array;
  /** Number of components `k`. */
  components: number;
  /** Fraction of total variance each component explains. */
  explainedVarianceRatio: number[];
}

/**
 * Projects `x` onto its top `k` principal axes (sign fixed: the largest loading is positive), as
 * plain arrays ready for a scatter plot.
 *
 * @param x `[n, d]`
 * @param k number of components (≤ d)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pca } from "./projection.ts";
 * const { points } = await pca(tf.tensor2d([[0, 0], [1, 1], [2, 2]]), 1);
 * const first = Array.from(points).map(Math.abs);
 * assert.ok([Math.SQRT2, 0, Math.SQRT2].every((v, i) => Math.abs(first[i] - v) < 1e-5));
 * ```
 */
export async function pca(x: tf.Tensor2D, k = 2): Promise<PcaResult> {
  const [n, d] = x.shape;
  if (!Number.isInteger(k) || k < 1 || k > d) {
    throw new Error(`pca: k must be an integer in [1, ${d}], got ${k}`);
  }
  if (n < 2) throw new Error(`pca: need at least 2 points, got ${n}`);
  checkFiniteTensor("pca", "x", x);
  const model = await fitPca(x, k);
  try {
    const projected = model.transform(x);
    const points = new Float32Array(await projected.data());
    projected.dispose();
    return { points, components: k, explainedVarianceRatio: model.explainedVarianceRatio };
  } finally {
    model.dispose();
  }
}
