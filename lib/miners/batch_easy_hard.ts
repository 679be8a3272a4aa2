/**
 * PML's `BatchEasyHardMiner`: one positive and one negative per anchor, each chosen as the
 * easiest, the hardest or the semihard one.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Labels, PairIndices } from "../losses/mod.ts";
import { checkOptionKeys } from "../validate.ts";
import { MINER_OPTION_KEYS, minerBatch } from "./_common.ts";
import { easyHardPairs, type MiningStrategy, STRATEGIES } from "./_easy_hard.ts";
import type { MinerOptions } from "./types.ts";

export type { MiningStrategy } from "./_easy_hard.ts";

/**
 * Options of {@linkcode batchEasyHardMiner}; names and defaults are PML's `BatchEasyHardMiner`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BatchEasyHardMinerOptions } from "./batch_easy_hard.ts";
 * const o: BatchEasyHardMinerOptions = { posStrategy: "hard", negStrategy: "hard" };
 * assert.equal(o.negStrategy, "hard");
 * ```
 */
export interface BatchEasyHardMinerOptions extends MinerOptions {
  /**
   * Which positive each anchor gets: `"easy"` (default: the closest), `"hard"` (the farthest),
   * `"semihard"` (the farthest one still closer than the anchor's chosen negative) or `"all"`
   * (every positive pair).
   */
  posStrategy?: MiningStrategy;
  /**
   * Which negative each anchor gets: `"semihard"` (default: the closest one farther than the
   * anchor's chosen positive), `"hard"` (the closest), `"easy"` (the farthest) or `"all"` (every
   * negative pair).
   */
  negStrategy?: MiningStrategy;
  /**
   * `[low, high]`: only positive pairs whose distance (similarity) lies in it are candidates.
   * Default: no limit. Bounds may be ±Infinity; `low ≤ high`.
   */
  allowedPosRange?: readonly [number, number];
  /** `[low, high]`: the same for negative pairs. Default: no limit. */
  allowedNegRange?: readonly [number, number];
}

function checkStrategy(fn: string, name: string, value: unknown): MiningStrategy {
  if (!STRATEGIES.includes(value as MiningStrategy)) {
    throw new RangeError(
      `${fn}: ${name} must be "easy", "semihard", "hard" or "all", got ${JSON.stringify(value)}`,
    );
  }
  return value as MiningStrategy;
}

function checkRange(
  fn: string,
  name: string,
  value: unknown,
): readonly [number, number] | undefined {
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) || value.length !== 2 ||
    value.some((v) => typeof v !== "number" || Number.isNaN(v))
  ) {
    throw new TypeError(`${fn}: ${name} must be [low, high] (two numbers), got ${String(value)}`);
  }
  if (value[0] > value[1]) {
    throw new RangeError(`${fn}: ${name} must have low ≤ high, got [${value[0]}, ${value[1]}]`);
  }
  return value as unknown as readonly [number, number];
}

/**
 * PML's `BatchEasyHardMiner` (Xuan, Stylianou, Liu & Pless, "Improved Embeddings with Easy
 * Positive Triplet Mining", WACV 2020): for every anchor, one positive and one negative chosen by
 * strategy, among the pairs allowed by the ranges. With a distance `d` (a similarity reverses
 * every comparison):
 *
 * | strategy | positive | negative |
 * | --- | --- | --- |
 * | `"easy"` | argmin d(a, p) | argmax d(a, n) |
 * | `"hard"` | argmax d(a, p) | argmin d(a, n) |
 * | `"semihard"` | argmax d(a, p) with d(a, p) < d(a, n*) | argmin d(a, n) with d(a, n) > d(a, p*) |
 * | `"all"` | every positive pair | every negative pair |
 *
 * where `n*`, `p*` are the anchor's chosen negative and positive. Ties go to the lowest index.
 * Without `"all"`, an anchor is kept only if it gets both a positive and a negative, and the
 * result has `a1 = a2` (anchors ascending); with `"all"` on one side, that side is every pair of
 * its kind (row-major) and the other side lists each anchor that found one. Like PML it returns
 * pairs `{ a1, p, a2, n }`, not triplets.
 *
 * A batch without positives (or negatives) gives no anchor, except that an `"all"` side still
 * lists its pairs. An empty batch gives empty pairs for `"all"`/`"all"` and throws otherwise, as
 * PML's fails there.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options strategies (default `"easy"` positives, `"semihard"` negatives), ranges, and the
 *   distance (default `"euclidean"` on normalised embeddings) and reference set of
 *   {@linkcode MinerOptions}
 * @returns pairs; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError for an unknown strategy, `"semihard"` on both sides, or `"semihard"`
 *   together with `"all"` (PML refuses these); TypeError/RangeError for a malformed range;
 *   Error for an unknown option, mismatched shapes or labels, non-finite distances.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { batchEasyHardMiner } from "./batch_easy_hard.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]]);
 * const { a1, p, a2, n } = batchEasyHardMiner(e, [0, 0, 1, 1], {
 *   posStrategy: "hard",
 *   negStrategy: "hard",
 * });
 * assert.deepEqual([...a1], [0, 1, 2, 3]);
 * assert.deepEqual([...p], [1, 0, 3, 2]);
 * assert.deepEqual([...a2], [0, 1, 2, 3]);
 * assert.deepEqual([...n], [3, 3, 1, 1]);
 * ```
 */
export function batchEasyHardMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: BatchEasyHardMinerOptions = {},
): PairIndices {
  const fn = "batchEasyHardMiner";
  const known = [
    ...MINER_OPTION_KEYS,
    "posStrategy",
    "negStrategy",
    "allowedPosRange",
    "allowedNegRange",
  ];
  checkOptionKeys(fn, options, known);
  const pos = checkStrategy(fn, "posStrategy", options.posStrategy ?? "easy");
  const neg = checkStrategy(fn, "negStrategy", options.negStrategy ?? "semihard");
  if (pos === "semihard" && neg === "semihard") {
    throw new RangeError(`${fn}: posStrategy and negStrategy cannot both be "semihard"`);
  }
  if ((pos === "all" && neg === "semihard") || (neg === "all" && pos === "semihard")) {
    throw new RangeError(
      `${fn}: "semihard" cannot be combined with "all" (posStrategy "${pos}", negStrategy "${neg}")`,
    );
  }
  const posRange = checkRange(fn, "allowedPosRange", options.allowedPosRange);
  const negRange = checkRange(fn, "allowedNegRange", options.allowedNegRange);
  const b = minerBatch(fn, embeddings, labels, options, known, "euclidean");
  if (b.m === 0 && (pos !== "all" || neg !== "all")) {
    throw new Error(
      `${fn}: no ${b.self ? "embeddings" : "refEmbeddings"} to mine (0 rows); PML's ` +
        `BatchEasyHardMiner fails on an empty batch unless both strategies are "all"`,
    );
  }
  return easyHardPairs(b, pos, neg, posRange, negRange);
}
