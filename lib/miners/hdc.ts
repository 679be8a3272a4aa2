/**
 * PML's `HDCMiner`: the hardest fraction of the positive and of the negative pairs.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Labels, PairIndices, TupleIndices } from "../losses/mod.ts";
import { checkOptionKeys } from "../validate.ts";
import { allPairs, checkNumber, MINER_OPTION_KEYS, minerBatch } from "./_common.ts";
import type { MinerOptions } from "./types.ts";

/**
 * Options of {@linkcode hdcMiner}; names and defaults are PML's `HDCMiner`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HDCMinerOptions } from "./hdc.ts";
 * const o: HDCMinerOptions = { filterPercentage: 0.3 };
 * assert.equal(o.filterPercentage, 0.3);
 * ```
 */
export interface HDCMinerOptions extends MinerOptions {
  /** Fraction of each kind of pair kept, in [0, 1]. Default 0.5. */
  filterPercentage?: number;
  /**
   * Tuples to filter instead of all pairs (PML's `set_idx_externally`, for cascades): pairs as
   * given, triplets as the pairs `(a, p)` and `(a, n)`. Indices into the batch (`p`, `n` into
   * `refEmbeddings` when given). Default: all pairs.
   */
  indices?: TupleIndices;
}

/** Keeps the `ceil(fraction · count)` pairs of largest (or smallest) value, sorted by value. */
function topFraction(
  mat: Float32Array,
  m: number,
  anchors: Int32Array,
  others: Int32Array,
  fraction: number,
  largest: boolean,
): [Int32Array, Int32Array] {
  const count = anchors.length;
  const k = Math.ceil(fraction * count);
  const order = Array.from({ length: count }, (_, t) => t);
  const v = (t: number) => mat[anchors[t] * m + others[t]];
  order.sort((s, t) => (largest ? v(t) - v(s) : v(s) - v(t)) || s - t);
  const keep = order.slice(0, k);
  return [Int32Array.from(keep, (t) => anchors[t]), Int32Array.from(keep, (t) => others[t])];
}

/**
 * PML's `HDCMiner` (Yuan, Yang & Zhang, "Hard-Aware Deeply Cascaded Embedding", ICCV 2017): of
 * the positive pairs keeps the `ceil(filterPercentage · P)` hardest (largest distance, or
 * smallest similarity), of the negative pairs the `ceil(filterPercentage · N)` hardest (smallest
 * distance, or largest similarity). Each kind is returned hardest first, as `torch.topk` sorts
 * it; pairs with equal values come in pair-list order (PyTorch leaves their order unspecified).
 * A kind with no pairs (a batch without positives or negatives, or an empty batch) stays empty.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options `filterPercentage` (default 0.5), `indices`, and the distance (default
 *   `"euclidean"` on normalised embeddings) and reference set of {@linkcode MinerOptions}
 * @returns pairs; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError when `filterPercentage` is not a finite number in [0, 1]; Error for bad
 *   `indices`, an unknown option, mismatched shapes or labels, non-finite distances.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { hdcMiner } from "./hdc.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]]);
 * const { a1, p, a2, n } = hdcMiner(e, [0, 0, 1, 1], { filterPercentage: 0.25 });
 * // 4 positive pairs keep 1, 8 negative pairs keep 2: the closest, d(1, 3) = d(3, 1) ≈ 0.28.
 * assert.equal(a1.length, 1);
 * assert.deepEqual([...a2].sort(), [1, 3]);
 * assert.deepEqual([...n].sort(), [1, 3]);
 * ```
 */
export function hdcMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: HDCMinerOptions = {},
): PairIndices {
  const fn = "hdcMiner";
  const known = [...MINER_OPTION_KEYS, "filterPercentage", "indices"];
  checkOptionKeys(fn, options, known);
  const { filterPercentage = 0.5, indices } = options;
  checkNumber(fn, "filterPercentage", filterPercentage, { min: 0, max: 1 });
  const b = minerBatch(fn, embeddings, labels, options, known, "euclidean");
  const pairs = indices === undefined ? allPairs(b) : checkedPairs(fn, indices, b.n, b.m);
  const [a1, p] = topFraction(b.mat, b.m, pairs.a1, pairs.p, filterPercentage, !b.inverted);
  const [a2, n] = topFraction(b.mat, b.m, pairs.a2, pairs.n, filterPercentage, b.inverted);
  return { a1, p, a2, n };
}

/** The given tuples as pairs (triplets as `(a, p)`, `(a, n)`), each index checked. */
function checkedPairs(fn: string, indices: TupleIndices, n: number, m: number): PairIndices {
  if (indices === null || typeof indices !== "object") {
    throw new TypeError(`${fn}: indices must be pairs { a1, p, a2, n } or triplets { a, p, n }`);
  }
  const triplets = !("a1" in indices);
  const pairs = triplets
    ? { a1: indices.a, p: indices.p, a2: indices.a, n: indices.n }
    : (indices as PairIndices);
  const check = (name: string, arr: unknown, size: number, length?: number) => {
    if (!(arr instanceof Int32Array)) {
      throw new TypeError(`${fn}: indices.${name} must be an Int32Array`);
    }
    if (length !== undefined && arr.length !== length) {
      throw new RangeError(
        `${fn}: indices.${name} has length ${arr.length}, its partner ${length}`,
      );
    }
    arr.forEach((v, i) => {
      if (v < 0 || v >= size) {
        throw new RangeError(`${fn}: indices.${name}[${i}] = ${v} is outside [0, ${size})`);
      }
    });
  };
  check(triplets ? "a" : "a1", pairs.a1, n);
  check("p", pairs.p, m, pairs.a1.length);
  if (!triplets) check("a2", pairs.a2, n);
  check("n", pairs.n, m, pairs.a2.length);
  return pairs;
}
