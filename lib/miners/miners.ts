/**
 * PML's margin- and hardness-based miners: `tripletMarginMiner`, `batchHardMiner`,
 * `multiSimilarityMiner`, `pairMarginMiner`.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Labels, PairIndices, TripletIndices } from "../losses/mod.ts";
import { resolveLossDistance } from "../losses/_distance.ts";
import { checkOptionKeys } from "../validate.ts";
import {
  allPairs,
  checkNumber,
  f32,
  MINER_OPTION_KEYS,
  minerBatch,
  pairsOf,
  tripletsOf,
} from "./_common.ts";
import { easyHardPairs } from "./_easy_hard.ts";
import type { MinerOptions } from "./types.ts";

/**
 * Margins: finite numbers, and ≥ 0 with a distance (with a similarity such as `"cosine"` they may
 * be negative), as the losses check theirs.
 */
function checkMargins(fn: string, options: MinerOptions, margins: Record<string, unknown>): void {
  const inverted = resolveLossDistance(fn, options.distance ?? "euclidean").inverted;
  for (const [name, value] of Object.entries(margins)) {
    checkNumber(fn, name, value, inverted ? {} : { min: 0 });
  }
}

/**
 * Options of {@linkcode tripletMarginMiner}; names and defaults are PML's `TripletMarginMiner`'s
 * (`type` is PML's `type_of_triplets`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TripletMarginMinerOptions } from "./miners.ts";
 * const o: TripletMarginMinerOptions = { margin: 0.1, type: "semihard" };
 * assert.equal(o.type, "semihard");
 * ```
 */
export interface TripletMarginMinerOptions extends MinerOptions {
  /** Margin: finite, ≥ 0 with a distance. Default 0.2. */
  margin?: number;
  /**
   * `"all"` (default): triplets violating the margin; `"hard"`: those whose negative is at least
   * as close as the positive; `"semihard"`: violating, but negative farther than the positive;
   * `"easy"`: the triplets not violating the margin.
   */
  type?: "all" | "hard" | "semihard" | "easy";
}

/**
 * PML's `TripletMarginMiner` (Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015, for the
 * semihard triplets): with `t = d(a,n) − d(a,p)` (for a similarity `s(a,p) − s(a,n)`), keeps the
 * triplets with `t ≤ margin` (`"all"`), `t ≤ 0` (`"hard"`), `0 < t ≤ margin` (`"semihard"`) or
 * `t > margin` (`"easy"`), in PML's all-triplets order (anchor, positive, negative ascending).
 * Comparisons in float32, as PML's. An empty batch, or one without positives or negatives,
 * gives no triplet.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options `margin` (default 0.2), `type` (default `"all"`), and the distance (default
 *   `"euclidean"` on normalised embeddings) and reference set of {@linkcode MinerOptions}
 * @returns triplets; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError for a margin that is not finite (or negative with a distance) or an unknown
 *   `type`; Error for an unknown option, mismatched shapes or labels, non-finite distances.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { tripletMarginMiner } from "./miners.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.9, 0.1]]);
 * const { a, p, n } = tripletMarginMiner(e, [0, 0, 1], { type: "hard" });
 * assert.deepEqual([[...a], [...p], [...n]], [[0, 1], [1, 0], [2, 2]]);
 * ```
 */
export function tripletMarginMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: TripletMarginMinerOptions = {},
): TripletIndices {
  const fn = "tripletMarginMiner";
  const known = [...MINER_OPTION_KEYS, "margin", "type"];
  checkOptionKeys(fn, options, known);
  const { margin = 0.2, type = "all" } = options;
  if (!["all", "hard", "semihard", "easy"].includes(type)) {
    throw new RangeError(
      `${fn}: unknown type ${JSON.stringify(type)}; use "all", "hard", "semihard" or "easy"`,
    );
  }
  checkMargins(fn, options, { margin });
  const { n, m, y, yRef, mat, inverted, self } = minerBatch(
    fn,
    embeddings,
    labels,
    options,
    known,
    "euclidean",
  );
  const m32 = f32(margin);
  const a: number[] = [], p: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if ((self && i === j) || y[i] !== yRef[j]) continue;
      const ap = mat[i * m + j];
      for (let k = 0; k < m; k++) {
        if (yRef[k] === y[i]) continue;
        const an = mat[i * m + k];
        const tm = f32(inverted ? ap - an : an - ap);
        const keep = type === "easy"
          ? tm > m32
          : tm <= m32 && (type === "all" || (type === "hard" ? tm <= 0 : tm > 0));
        if (keep) a.push(i), p.push(j), ng.push(k);
      }
    }
  }
  return tripletsOf(a, p, ng);
}

/**
 * PML's `BatchHardMiner` (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person
 * Re-Identification", 2017), which PML defines as `BatchEasyHardMiner` with hard positives and
 * hard negatives: for every anchor that has a positive and a negative, the triplet of its hardest
 * positive (largest distance / smallest similarity) and hardest negative (smallest distance /
 * largest similarity); ties go to the lowest index. A batch without positives or negatives gives
 * no triplet; an empty batch throws, as PML's fails there.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options the distance (default `"euclidean"` on normalised embeddings) and reference set
 *   of {@linkcode MinerOptions}
 * @returns one triplet per anchor with a positive and a negative, anchors ascending
 * @throws Error for an empty batch, an unknown option, mismatched shapes or labels, non-finite
 *   distances.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { batchHardMiner } from "./miners.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.9, 0.2], [0.6, 0.8]]);
 * const { a, p, n } = batchHardMiner(e, [0, 0, 1, 1]);
 * assert.deepEqual([[...a], [...p], [...n]], [[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1]]);
 * ```
 */
export function batchHardMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: MinerOptions = {},
): TripletIndices {
  const fn = "batchHardMiner";
  const b = minerBatch(fn, embeddings, labels, options, MINER_OPTION_KEYS, "euclidean");
  if (b.m === 0) {
    throw new Error(
      `${fn}: no ${b.self ? "embeddings" : "refEmbeddings"} to mine (0 rows); PML's ` +
        `BatchHardMiner fails on an empty batch`,
    );
  }
  const { a1, p, n } = easyHardPairs(b, "hard", "hard");
  return { a: a1, p, n };
}

/**
 * Options of {@linkcode multiSimilarityMiner}; names and defaults are PML's
 * `MultiSimilarityMiner`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MultiSimilarityMinerOptions } from "./miners.ts";
 * const o: MultiSimilarityMinerOptions = { epsilon: 0.05 };
 * assert.equal(o.epsilon, 0.05);
 * ```
 */
export interface MultiSimilarityMinerOptions extends MinerOptions {
  /** Slack ε: finite, ≥ 0. Default 0.1. */
  epsilon?: number;
}

/**
 * PML's `MultiSimilarityMiner` (Wang, Han, Huang, Dong & Scott, "Multi-Similarity Loss with
 * General Pair Weighting", CVPR 2019): with cosine similarity (default), keeps the positive pairs
 * with `s_ap − ε < max_n s_an` and the negative pairs with `s_an + ε > min_p s_ap` (for a
 * distance: `d_ap + ε > min_n d_an`, `d_an − ε < max_p d_ap`). Within an anchor, pairs come in
 * ascending order of their value, as PML's sort gives them (ties by index). A batch (or, with a
 * reference set, a query × reference layout) without positive or without negative pairs gives no
 * pairs; so does an empty batch.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options `epsilon` (default 0.1), and the distance (default `"cosine"` similarity on
 *   normalised embeddings) and reference set of {@linkcode MinerOptions}
 * @returns pairs; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError for an `epsilon` that is not finite and ≥ 0; Error for an unknown option,
 *   mismatched shapes or labels, non-finite distances.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { multiSimilarityMiner } from "./miners.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.9, 0.2], [0.6, 0.8]]);
 * const { a1, p, a2, n } = multiSimilarityMiner(e, [0, 0, 1, 1]);
 * assert.deepEqual([[...a1], [...p]], [[0, 1, 2, 3], [1, 0, 3, 2]]);
 * assert.deepEqual([[...a2], [...n]], [[0, 0, 1, 1, 2, 3], [3, 2, 2, 3, 0, 1]]);
 * ```
 */
export function multiSimilarityMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: MultiSimilarityMinerOptions = {},
): PairIndices {
  const fn = "multiSimilarityMiner";
  const known = [...MINER_OPTION_KEYS, "epsilon"];
  checkOptionKeys(fn, options, known);
  const { epsilon = 0.1 } = options;
  checkNumber(fn, "epsilon", epsilon, { min: 0 });
  const b = minerBatch(fn, embeddings, labels, options, known, "cosine");
  const { n, m, y, yRef, mat, inverted, self } = b;
  const all = allPairs(b);
  if (all.a1.length === 0 || all.a2.length === 0) return pairsOf([], [], [], []);
  const eps = f32(epsilon);
  const a1: number[] = [], p: number[] = [], a2: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    const pos: number[] = [], neg: number[] = [];
    for (let j = 0; j < m; j++) {
      if (yRef[j] === y[i]) {
        if (!(self && j === i)) pos.push(j);
      } else neg.push(j);
    }
    if (pos.length === 0 || neg.length === 0) continue;
    const v = (j: number) => mat[i * m + j];
    const byValue = (x: number, z: number) => v(x) - v(z) || x - z;
    pos.sort(byValue), neg.sort(byValue);
    if (inverted) {
      const maxNeg = v(neg[neg.length - 1]), minPos = v(pos[0]);
      for (const j of pos) if (f32(v(j) - eps) < maxNeg) a1.push(i), p.push(j);
      for (const j of neg) if (f32(v(j) + eps) > minPos) a2.push(i), ng.push(j);
    } else {
      const minNeg = v(neg[0]), maxPos = v(pos[pos.length - 1]);
      for (const j of pos) if (f32(v(j) + eps) > minNeg) a1.push(i), p.push(j);
      for (const j of neg) if (f32(v(j) - eps) < maxPos) a2.push(i), ng.push(j);
    }
  }
  return pairsOf(a1, p, a2, ng);
}

/**
 * Options of {@linkcode pairMarginMiner}; names and defaults are PML's `PairMarginMiner`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PairMarginMinerOptions } from "./miners.ts";
 * const o: PairMarginMinerOptions = { posMargin: 0.3, negMargin: 0.9 };
 * assert.equal(o.negMargin, 0.9);
 * ```
 */
export interface PairMarginMinerOptions extends MinerOptions {
  /** Positive pairs farther than this are kept; finite, ≥ 0 with a distance. Default 0.2. */
  posMargin?: number;
  /** Negative pairs closer than this are kept; finite, ≥ 0 with a distance. Default 0.8. */
  negMargin?: number;
}

/**
 * PML's `PairMarginMiner` (PML's own; the pair criterion of the contrastive loss of Hadsell,
 * Chopra & LeCun, CVPR 2006): keeps the positive pairs with `d > posMargin` and the negative pairs
 * with `d < negMargin` (for a similarity: `s < posMargin`, `s > negMargin`), in all-pairs order
 * (row-major). An empty batch gives no pairs; a batch without negatives still gives its far
 * positive pairs, and the reverse.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options `posMargin` (default 0.2), `negMargin` (default 0.8), and the distance (default
 *   `"euclidean"` on normalised embeddings) and reference set of {@linkcode MinerOptions}
 * @returns pairs; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError for a margin that is not finite (or negative with a distance); Error for an
 *   unknown option, mismatched shapes or labels, non-finite distances.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairMarginMiner } from "./miners.ts";
 * const { a1, p, a2, n } = pairMarginMiner(tf.tensor2d([[1, 0], [0, 1], [0.9, 0.1]]), [0, 0, 1]);
 * assert.deepEqual([[...a1], [...p]], [[0, 1], [1, 0]]);
 * assert.deepEqual([[...a2], [...n]], [[0, 2], [2, 0]]);
 * ```
 */
export function pairMarginMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: PairMarginMinerOptions = {},
): PairIndices {
  const fn = "pairMarginMiner";
  const known = [...MINER_OPTION_KEYS, "posMargin", "negMargin"];
  checkOptionKeys(fn, options, known);
  const { posMargin = 0.2, negMargin = 0.8 } = options;
  checkMargins(fn, options, { posMargin, negMargin });
  const { n, m, y, yRef, mat, inverted, self } = minerBatch(
    fn,
    embeddings,
    labels,
    options,
    known,
    "euclidean",
  );
  const pm = f32(posMargin), nm = f32(negMargin);
  const a1: number[] = [], p: number[] = [], a2: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const v = mat[i * m + j];
      if (y[i] === yRef[j]) {
        if (!(self && i === j) && (inverted ? v < pm : v > pm)) a1.push(i), p.push(j);
      } else if (inverted ? v > nm : v < nm) {
        a2.push(i), ng.push(j);
      }
    }
  }
  return pairsOf(a1, p, a2, ng);
}
