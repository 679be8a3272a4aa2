/**
 * PML's `EmbeddingsAlreadyPackagedAsTriplets`: a batch laid out as consecutive triplets.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Labels, TripletIndices } from "../losses/mod.ts";
import { labelsArray } from "../losses/_tuples.ts";
import { checkOptionKeys } from "../validate.ts";

/**
 * PML's `EmbeddingsAlreadyPackagedAsTriplets`: for a batch ordered as
 * `[a₀, p₀, n₀, a₁, p₁, n₁, …]`, the triplets `a = [0, 3, 6, …]`, `p = [1, 4, 7, …]`,
 * `n = [2, 5, 8, …]`, whatever the labels (they are only checked for length, as PML checks
 * them). Pass the result as a loss's `indices` to train on the triplets as packaged, e.g. from
 * the triplet sampler. It takes no options; there is no reference set (PML ignores one).
 *
 * @param embeddings `[3t, d]`
 * @param labels `[3t]` integer labels (not used for the triplets)
 * @param options none (`{}`)
 * @returns `t` triplets
 * @throws Error when the batch is empty or its size is not a multiple of 3 (PML fails there
 *   too), for mismatched labels, or for any option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { embeddingsAlreadyPackagedAsTriplets } from "./packaged_triplets.ts";
 * const { a, p, n } = embeddingsAlreadyPackagedAsTriplets(tf.zeros([6, 2]), [0, 0, 1, 2, 2, 0]);
 * assert.deepEqual([[...a], [...p], [...n]], [[0, 3], [1, 4], [2, 5]]);
 * ```
 */
export function embeddingsAlreadyPackagedAsTriplets(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: Record<string, never> = {},
): TripletIndices {
  const fn = "embeddingsAlreadyPackagedAsTriplets";
  checkOptionKeys(fn, options, []);
  if (!(embeddings instanceof tf.Tensor) || embeddings.rank !== 2) {
    throw new TypeError(`${fn}: embeddings must be a [n, d] tensor`);
  }
  const size = embeddings.shape[0];
  labelsArray(labels, size, fn);
  if (size === 0 || size % 3 !== 0) {
    throw new Error(
      `${fn}: the batch must hold whole triplets (a multiple of 3 rows, at least 3), got ${size} rows`,
    );
  }
  const t = size / 3;
  return {
    a: Int32Array.from({ length: t }, (_, i) => 3 * i),
    p: Int32Array.from({ length: t }, (_, i) => 3 * i + 1),
    n: Int32Array.from({ length: t }, (_, i) => 3 * i + 2),
  };
}
