/**
 * Tuple miners with pytorch-metric-learning (PML) semantics: each reads the batch's distance (or
 * similarity) matrix and returns the indices of the pairs or triplets worth training on, to pass
 * to a loss as its `indices` option.
 *
 * Miners are **synchronous**: they read the distance matrix with `dataSync()` (mining needs the
 * values on the CPU anyway, and a synchronous miner can be called inside `optimizer.minimize`).
 * They carry no gradient. Comparisons are made in float32, as PML's are.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys as checkOptions } from "../validate.ts";
import { type LossDistance, lossDistanceMatrix, resolveLossDistance } from "../losses/_distance.ts";
import {
  allPairsIndices,
  type Labels,
  labelsArray,
  type PairIndices,
  type TripletIndices,
} from "../losses/_tuples.ts";

/** Options every miner accepts. */
export interface MinerOptions {
  /**
   * `"euclidean"` (PML's `LpDistance`), `"sqeuclidean"`, `"cosine"` (cosine *similarity*),
   * `"dot"` or a `Metric`. Default: PML's per miner.
   */
  distance?: LossDistance;
  /** L2-normalise embeddings first, as PML's distances do. Default true. */
  normalizeEmbeddings?: boolean;
}

const f32 = Math.fround;

function setup(
  fn: string,
  embeddings: tf.Tensor2D,
  labels: Labels,
  distance: LossDistance,
  normalize: boolean,
): { n: number; y: Int32Array; mat: Float32Array; inverted: boolean } {
  if (!(embeddings instanceof tf.Tensor) || embeddings.rank !== 2 || embeddings.shape[0] === 0) {
    throw new Error(`${fn}: embeddings must be a non-empty [n, d] tensor`);
  }
  const n = embeddings.shape[0];
  const y = labelsArray(labels, n, fn);
  const resolved = resolveLossDistance(fn, distance);
  const matT = tf.tidy(() => lossDistanceMatrix(embeddings, resolved, normalize));
  const mat = matT.dataSync() as Float32Array;
  matT.dispose();
  return { n, y, mat, inverted: resolved.inverted };
}

/** Options of {@linkcode tripletMarginMiner}; defaults are PML's `TripletMarginMiner`. */
export interface TripletMarginMinerOptions extends MinerOptions {
  /** Margin. Default 0.2. */
  margin?: number;
  /**
   * `"all"` (default): triplets violating the margin; `"hard"`: those whose negative is at least
   * as close as the positive; `"semihard"`: violating, but negative farther than the positive;
   * `"easy"`: the triplets not violating the margin.
   */
  type?: "all" | "hard" | "semihard" | "easy";
}

/**
 * PML's `TripletMarginMiner`: with `m = d(a,n) − d(a,p)` (for a similarity `s(a,p) − s(a,n)`),
 * keeps the triplets with `m ≤ margin` (`"all"`), `m ≤ 0` (`"hard"`), `0 < m ≤ margin`
 * (`"semihard"`) or `m > margin` (`"easy"`), in PML's all-triplets order. Default Euclidean
 * distance, margin 0.2, type `"all"`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tripletMarginMiner } from "./miners.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.9, 0.1]]);
 * tripletMarginMiner(e, [0, 0, 1], { type: "hard" }); // { a: [0, 1], p: [1, 0], n: [2, 2] }
 * ```
 */
export function tripletMarginMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: TripletMarginMinerOptions = {},
): TripletIndices {
  const fn = "tripletMarginMiner";
  checkOptions(fn, options, ["distance", "normalizeEmbeddings", "margin", "type"]);
  const { margin = 0.2, type = "all", distance = "euclidean", normalizeEmbeddings = true } =
    options;
  if (!["all", "hard", "semihard", "easy"].includes(type)) {
    throw new Error(`${fn}: unknown type "${type}"; use "all", "hard", "semihard" or "easy"`);
  }
  const { n, y, mat, inverted } = setup(fn, embeddings, labels, distance, normalizeEmbeddings);
  const m32 = f32(margin);
  const a: number[] = [], p: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j || y[i] !== y[j]) continue;
      const ap = mat[i * n + j];
      for (let k = 0; k < n; k++) {
        if (y[k] === y[i]) continue;
        const an = mat[i * n + k];
        const tm = f32(inverted ? ap - an : an - ap);
        const keep = type === "easy"
          ? tm > m32
          : tm <= m32 && (type === "all" || (type === "hard" ? tm <= 0 : tm > 0));
        if (keep) a.push(i), p.push(j), ng.push(k);
      }
    }
  }
  return { a: Int32Array.from(a), p: Int32Array.from(p), n: Int32Array.from(ng) };
}

/**
 * PML's `BatchHardMiner` (Hermans, Beyer & Leibe 2017): for every anchor that has a positive and a
 * negative, the triplet of its hardest positive (largest distance / smallest similarity) and
 * hardest negative (smallest distance / largest similarity); ties go to the lowest index. Default
 * Euclidean distance.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { batchHardMiner } from "./miners.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.9, 0.1], [0.7, 0.7]]);
 * batchHardMiner(e, [0, 0, 1, 1]);
 * ```
 */
export function batchHardMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: MinerOptions = {},
): TripletIndices {
  const fn = "batchHardMiner";
  checkOptions(fn, options, ["distance", "normalizeEmbeddings"]);
  const { distance = "euclidean", normalizeEmbeddings = true } = options;
  const { n, y, mat, inverted } = setup(fn, embeddings, labels, distance, normalizeEmbeddings);
  // "harder" for a positive: farther; for a negative: closer.
  const farther = (x: number, best: number) => inverted ? x < best : x > best;
  const a: number[] = [], p: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    let bp = -1, bn = -1;
    for (let j = 0; j < n; j++) {
      const v = mat[i * n + j];
      if (y[j] === y[i]) {
        if (j !== i && (bp < 0 || farther(v, mat[i * n + bp]))) bp = j;
      } else if (bn < 0 || farther(mat[i * n + bn], v)) {
        bn = j;
      }
    }
    if (bp >= 0 && bn >= 0) a.push(i), p.push(bp), ng.push(bn);
  }
  return { a: Int32Array.from(a), p: Int32Array.from(p), n: Int32Array.from(ng) };
}

/** Options of {@linkcode multiSimilarityMiner}; defaults are PML's `MultiSimilarityMiner`. */
export interface MultiSimilarityMinerOptions extends MinerOptions {
  /** Slack ε. Default 0.1. */
  epsilon?: number;
}

/**
 * PML's `MultiSimilarityMiner` (Wang et al. 2019): with cosine similarity (default), keeps the
 * positive pairs with `s_ap − ε < max_n s_an` and the negative pairs with
 * `s_an + ε > min_p s_ap` (for a distance: `d_ap + ε > min_n d_an`, `d_an − ε < max_p d_ap`).
 * Within an anchor, pairs come in ascending order of their value, as PML's sort gives them (ties
 * by index). A batch without positive or without negative pairs gives no pairs.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { multiSimilarityMiner } from "./miners.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.9, 0.1], [0.7, 0.7]]);
 * multiSimilarityMiner(e, [0, 0, 1, 1]);
 * ```
 */
export function multiSimilarityMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: MultiSimilarityMinerOptions = {},
): PairIndices {
  const fn = "multiSimilarityMiner";
  checkOptions(fn, options, ["distance", "normalizeEmbeddings", "epsilon"]);
  const { epsilon = 0.1, distance = "cosine", normalizeEmbeddings = true } = options;
  const { n, y, mat, inverted } = setup(fn, embeddings, labels, distance, normalizeEmbeddings);
  const empty = {
    a1: new Int32Array(),
    p: new Int32Array(),
    a2: new Int32Array(),
    n: new Int32Array(),
  };
  const all = allPairsIndices(y);
  if (all.a1.length === 0 || all.a2.length === 0) return empty;
  const eps = f32(epsilon);
  const a1: number[] = [], p: number[] = [], a2: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    const pos: number[] = [], neg: number[] = [];
    for (let j = 0; j < n; j++) {
      if (y[j] === y[i]) {
        if (j !== i) pos.push(j);
      } else neg.push(j);
    }
    if (pos.length === 0 || neg.length === 0) continue;
    const v = (j: number) => mat[i * n + j];
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
  return {
    a1: Int32Array.from(a1),
    p: Int32Array.from(p),
    a2: Int32Array.from(a2),
    n: Int32Array.from(ng),
  };
}

/** Options of {@linkcode pairMarginMiner}; defaults are PML's `PairMarginMiner`. */
export interface PairMarginMinerOptions extends MinerOptions {
  /** Positive pairs farther than this are kept. Default 0.2. */
  posMargin?: number;
  /** Negative pairs closer than this are kept. Default 0.8. */
  negMargin?: number;
}

/**
 * PML's `PairMarginMiner`: keeps the positive pairs with `d > posMargin` and the negative pairs
 * with `d < negMargin` (for a similarity: `s < posMargin`, `s > negMargin`), in all-pairs order.
 * Default Euclidean distance, posMargin 0.2, negMargin 0.8.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { pairMarginMiner } from "./miners.ts";
 * pairMarginMiner(tf.tensor2d([[1, 0], [0, 1], [0.9, 0.1]]), [0, 0, 1]);
 * ```
 */
export function pairMarginMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: PairMarginMinerOptions = {},
): PairIndices {
  const fn = "pairMarginMiner";
  checkOptions(fn, options, ["distance", "normalizeEmbeddings", "posMargin", "negMargin"]);
  const { posMargin = 0.2, negMargin = 0.8, distance = "euclidean", normalizeEmbeddings = true } =
    options;
  const { n, y, mat, inverted } = setup(fn, embeddings, labels, distance, normalizeEmbeddings);
  const pm = f32(posMargin), nm = f32(negMargin);
  const a1: number[] = [], p: number[] = [], a2: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = mat[i * n + j];
      if (y[i] === y[j]) {
        if (i !== j && (inverted ? v < pm : v > pm)) a1.push(i), p.push(j);
      } else if (inverted ? v > nm : v < nm) {
        a2.push(i), ng.push(j);
      }
    }
  }
  return {
    a1: Int32Array.from(a1),
    p: Int32Array.from(p),
    a2: Int32Array.from(a2),
    n: Int32Array.from(ng),
  };
}
