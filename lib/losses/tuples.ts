/**
 * The machinery shared by every loss and miner, as pytorch-metric-learning (PML) builds it:
 * tuples of batch indices (pairs or triplets), the distance or similarity matrix they index into,
 * option checking and the numerically safe masked log-sum-exp.
 *
 * Index conventions are PML's: pairs are `{ a1, p, a2, n }` (anchor-positive pairs `(a1[i], p[i])`
 * and anchor-negative pairs `(a2[j], n[j])`), triplets are `{ a, p, n }`. Without indices a loss
 * uses all ordered pairs `(i, j)`, `i ≠ j` (so every unordered pair appears twice, as in PML) or all
 * triplets, enumerated in PML's order (anchor, then positive, then negative, each ascending).
 *
 * Labels given as a tensor are read with `dataSync()`: tuples are built on the CPU (labels carry
 * no gradient), while distances, losses and gradients stay in `[n, n]` tensor form.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { l2Normalize, type Metric, pairwiseDistances, resolveMetric } from "../distances.ts";
import type { Labels } from "./pairs.ts";
import { stopGradient } from "./reducers.ts";

/** Anchor-positive and anchor-negative pairs, PML's `(a1, p, a2, n)`. */
export interface PairIndices {
  /** Anchors of the positive pairs. */
  a1: Int32Array;
  /** Positives, `p[i]` pairs with `a1[i]`. */
  p: Int32Array;
  /** Anchors of the negative pairs. */
  a2: Int32Array;
  /** Negatives, `n[j]` pairs with `a2[j]`. */
  n: Int32Array;
}

/** Triplets `(a[i], p[i], n[i])`, PML's `(anchor_idx, positive_idx, negative_idx)`. */
export interface TripletIndices {
  /** Anchors. */
  a: Int32Array;
  /** Positives (same label as the anchor). */
  p: Int32Array;
  /** Negatives (another label). */
  n: Int32Array;
}

/** Tuples produced by a miner and accepted by the losses' `indices` option. */
export type TupleIndices = PairIndices | TripletIndices;

/**
 * The distance a loss or miner uses: `"euclidean"` (PML's `LpDistance`), `"sqeuclidean"`
 * (`LpDistance(power=2)`), `"cosine"` (PML's `CosineSimilarity`: a *similarity*, larger is closer),
 * `"dot"` (PML's `DotProductSimilarity`), or any {@linkcode Metric} from `distances.ts`.
 */
export type LossDistance = "euclidean" | "sqeuclidean" | "cosine" | "dot" | Metric;

/**
 * True when `indices` are pairs `{ a1, p, a2, n }` rather than triplets.
 *
 * @example
 * ```ts
 * import { isPairIndices } from "./tuples.ts";
 * isPairIndices({ a: new Int32Array(), p: new Int32Array(), n: new Int32Array() }); // false
 * ```
 */
export function isPairIndices(indices: TupleIndices): indices is PairIndices {
  return "a1" in indices;
}

/**
 * Throws when `options` has a key outside `known`, naming the function and the key, so that a typo
 * such as `negMarign` is never silently ignored.
 *
 * @example
 * ```ts
 * import { checkOptions } from "./tuples.ts";
 * checkOptions("myLoss", { margin: 1 }, ["margin"]); // fine
 * ```
 */
export function checkOptions(
  fn: string,
  options: object | undefined,
  known: readonly string[],
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object") {
    throw new Error(`${fn}: options must be an object, got ${options}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`${fn}: unknown option "${key}"; known options: ${known.join(", ")}`);
    }
  }
}

/**
 * Labels as a plain `Int32Array` (reads a tensor synchronously), checked against `n`.
 *
 * @param labels `[n]`
 * @example
 * ```ts
 * import { labelsArray } from "./tuples.ts";
 * labelsArray([0, 1, 1], 3); // Int32Array [0, 1, 1]
 * ```
 */
export function labelsArray(labels: Labels, n: number, fn = "labels"): Int32Array {
  let out: Int32Array;
  if (labels instanceof tf.Tensor) {
    if (labels.rank !== 1 || labels.shape[0] !== n) {
      throw new Error(`${fn}: labels must have shape [${n}], got [${labels.shape}]`);
    }
    const data = labels.dataSync();
    out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(data[i])) {
        throw new Error(`${fn}: label ${i} is ${data[i]}, not an integer`);
      }
      out[i] = data[i];
    }
    return out;
  }
  if (labels.length !== n) {
    throw new Error(`${fn}: expected ${n} labels (one per embedding), got ${labels.length}`);
  }
  out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(labels[i])) {
      throw new Error(`${fn}: label ${i} is ${labels[i]}, not an integer`);
    }
    out[i] = labels[i];
  }
  return out;
}

/**
 * All ordered positive pairs `(i, j)`, `i ≠ j`, same label, and all negative pairs (different
 * labels), row-major as PML's `get_all_pairs_indices`.
 *
 * @param labels `[n]`
 * @example
 * ```ts
 * import { allPairsIndices } from "./tuples.ts";
 * const { a1, p } = allPairsIndices([0, 0, 1]);
 * console.log([...a1], [...p]); // [0, 1] [1, 0]
 * ```
 */
export function allPairsIndices(labels: ArrayLike<number>): PairIndices {
  const n = labels.length;
  const a1: number[] = [], p: number[] = [], a2: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (labels[i] === labels[j]) {
        if (i !== j) a1.push(i), p.push(j);
      } else {
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

/**
 * All triplets `(a, p, n)` with `label[a] = label[p]`, `a ≠ p`, `label[n] ≠ label[a]`, in PML's
 * order (`get_all_triplets_indices`).
 *
 * @param labels `[n]`
 * @example
 * ```ts
 * import { allTripletsIndices } from "./tuples.ts";
 * allTripletsIndices([0, 0, 1]).a.length; // 2
 * ```
 */
export function allTripletsIndices(labels: ArrayLike<number>): TripletIndices {
  const n = labels.length;
  const a: number[] = [], p: number[] = [], ng: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j || labels[i] !== labels[j]) continue;
      for (let k = 0; k < n; k++) {
        if (labels[k] !== labels[i]) a.push(i), p.push(j), ng.push(k);
      }
    }
  }
  return { a: Int32Array.from(a), p: Int32Array.from(p), n: Int32Array.from(ng) };
}

function checkIndexArrays(fn: string, n: number, arrays: Record<string, Int32Array>): void {
  const lengths = new Set<number>();
  for (const [name, arr] of Object.entries(arrays)) {
    if (!(arr instanceof Int32Array)) {
      throw new Error(`${fn}: indices.${name} must be an Int32Array`);
    }
    for (let i = 0; i < arr.length; i++) {
      if (arr[i] < 0 || arr[i] >= n) {
        throw new Error(`${fn}: indices.${name}[${i}] = ${arr[i]} is outside the batch [0, ${n})`);
      }
    }
    lengths.add(arr.length);
  }
  if (lengths.size > 1 && "a" in arrays) {
    throw new Error(`${fn}: indices.a, .p and .n must have the same length`);
  }
}

/**
 * The pairs a pair-based loss uses: all pairs (PML's `convert_to_pairs` with no indices), the given
 * pairs, or triplets converted to pairs `(a, p, a, n)` as PML does.
 *
 * @example
 * ```ts
 * import { toPairs } from "./tuples.ts";
 * toPairs("f", [0, 0, 1]).a2.length; // 4
 * ```
 */
export function toPairs(
  fn: string,
  labels: ArrayLike<number>,
  indices?: TupleIndices,
): PairIndices {
  if (!indices) return allPairsIndices(labels);
  const n = labels.length;
  if (isPairIndices(indices)) {
    checkIndexArrays(fn, n, { a1: indices.a1, p: indices.p });
    checkIndexArrays(fn, n, { a2: indices.a2, n: indices.n });
    if (indices.a1.length !== indices.p.length || indices.a2.length !== indices.n.length) {
      throw new Error(`${fn}: indices.a1/p and indices.a2/n must have matching lengths`);
    }
    return indices;
  }
  checkIndexArrays(fn, n, { a: indices.a, p: indices.p, n: indices.n });
  return { a1: indices.a, p: indices.p, a2: indices.a, n: indices.n };
}

/**
 * The triplets a triplet loss uses: all triplets, the given triplets, or pairs converted to
 * triplets as PML's `convert_to_triplets` (every positive pair combined with every negative pair
 * sharing its anchor).
 *
 * @example
 * ```ts
 * import { toTriplets } from "./tuples.ts";
 * toTriplets("f", [0, 0, 1]).a.length; // 2
 * ```
 */
export function toTriplets(
  fn: string,
  labels: ArrayLike<number>,
  indices?: TupleIndices,
): TripletIndices {
  if (!indices) return allTripletsIndices(labels);
  const n = labels.length;
  if (!isPairIndices(indices)) {
    checkIndexArrays(fn, n, { a: indices.a, p: indices.p, n: indices.n });
    return indices;
  }
  const pairs = toPairs(fn, labels, indices);
  const a: number[] = [], p: number[] = [], ng: number[] = [];
  for (let i = 0; i < pairs.a1.length; i++) {
    for (let j = 0; j < pairs.a2.length; j++) {
      if (pairs.a1[i] === pairs.a2[j]) a.push(pairs.a1[i]), p.push(pairs.p[i]), ng.push(pairs.n[j]);
    }
  }
  return { a: Int32Array.from(a), p: Int32Array.from(p), n: Int32Array.from(ng) };
}

/** Pair multiplicities as dense `[n, n]` matrices (plain arrays, row-major). */
export interface PairWeights {
  /** `pos[i * n + j]`: how many times `(i, j)` is listed as a positive pair. */
  pos: Float32Array;
  /** `neg[i * n + j]`: how many times `(i, j)` is listed as a negative pair. */
  neg: Float32Array;
  /** Number of positive pairs listed (with repeats). */
  numPos: number;
  /** Number of negative pairs listed (with repeats). */
  numNeg: number;
  /** PML's `GenericPairLoss` shortcut: every index array has length ≤ 1, so the loss is zero. */
  trivial: boolean;
}

/**
 * Dense multiplicity matrices of a set of pairs, so that pair-based losses stay in `[n, n]` matrix
 * form (PML indexes `mat[a1, p]`; a pair listed twice counts twice, here through its weight 2).
 *
 * @example
 * ```ts
 * import { allPairsIndices, pairWeights } from "./tuples.ts";
 * pairWeights(allPairsIndices([0, 0, 1]), 3).numPos; // 2
 * ```
 */
export function pairWeights(pairs: PairIndices, n: number): PairWeights {
  const pos = new Float32Array(n * n), neg = new Float32Array(n * n);
  for (let i = 0; i < pairs.a1.length; i++) pos[pairs.a1[i] * n + pairs.p[i]] += 1;
  for (let j = 0; j < pairs.a2.length; j++) neg[pairs.a2[j] * n + pairs.n[j]] += 1;
  const trivial = pairs.a1.length <= 1 && pairs.p.length <= 1 && pairs.a2.length <= 1 &&
    pairs.n.length <= 1;
  return { pos, neg, numPos: pairs.a1.length, numNeg: pairs.a2.length, trivial };
}

/** A resolved loss distance. */
export interface ResolvedDistance {
  /** The metric from `distances.ts`. */
  metric: Metric;
  /** True for similarities (larger is closer), PML's `is_inverted`. */
  inverted: boolean;
}

/**
 * Resolves a {@linkcode LossDistance}; `"cosine"` means cosine *similarity*, as in PML.
 *
 * @example
 * ```ts
 * import { resolveLossDistance } from "./tuples.ts";
 * resolveLossDistance("f", "cosine").inverted; // true
 * ```
 */
export function resolveLossDistance(fn: string, distance: LossDistance): ResolvedDistance {
  let metric: Metric;
  if (typeof distance === "string") {
    const name = {
      euclidean: "euclidean",
      sqeuclidean: "sqeuclidean",
      cosine: "cosineSimilarity",
      dot: "dot",
    }[
      distance
    ];
    if (!name) {
      throw new Error(
        `${fn}: unknown distance "${distance}"; use "euclidean", "sqeuclidean", "cosine", "dot" or a Metric`,
      );
    }
    metric = resolveMetric(name);
  } else if (distance && typeof distance === "object" && "pairwise" in distance) {
    metric = distance;
  } else {
    throw new Error(`${fn}: distance must be a name or a Metric, got ${String(distance)}`);
  }
  return { metric, inverted: metric.isSimilarity };
}

/**
 * The `[n, n]` matrix of distances (or similarities) between the rows of `embeddings`, optionally
 * L2-normalised first (PML's `normalize_embeddings=True`).
 *
 * @param embeddings `[n, d]`
 * @returns `[n, n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { lossDistanceMatrix, resolveLossDistance } from "./tuples.ts";
 * const d = resolveLossDistance("f", "euclidean");
 * lossDistanceMatrix(tf.tensor2d([[1, 0], [0, 2]]), d, true).print(); // [[0, 1.414], [1.414, 0]]
 * ```
 */
export function lossDistanceMatrix(
  embeddings: tf.Tensor2D,
  distance: ResolvedDistance,
  normalize: boolean,
): tf.Tensor2D {
  return tf.tidy(() => {
    const e = normalize ? l2Normalize(embeddings) : embeddings;
    return pairwiseDistances(e, e, distance.metric, { checkFinite: false });
  });
}

/**
 * PML's `distance.margin(x, y)`: `x − y` for a distance, `y − x` for a similarity, so that a
 * positive value always means "x is farther than y".
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { marginOf } from "./tuples.ts";
 * marginOf(true, tf.scalar(0.2), 0.5).print(); // 0.3
 * ```
 */
export function marginOf(
  inverted: boolean,
  x: tf.Tensor | number,
  y: tf.Tensor | number,
): tf.Tensor {
  return inverted ? tf.sub(y, x) : tf.sub(x, y);
}

const NEG_BIG = -1e30;

/**
 * Row-wise log-sum-exp over the entries where `mask` is non-zero, as PML's `lmu.logsumexp`:
 * with `addOne` a 0 joins each row (log(1 + Σ exp)); a row with no kept entry gives 0. The
 * maximum used for stability carries no gradient, and masked-out entries get none.
 *
 * @param x `[n, m]`
 * @param mask `[n, m]` 0/1 (constant)
 * @returns `[n, 1]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maskedLogSumExp } from "./tuples.ts";
 * maskedLogSumExp(tf.tensor2d([[0, 0, 5]]), tf.tensor2d([[1, 1, 0]]), false).print(); // [[0.6931]]
 * ```
 */
export function maskedLogSumExp(x: tf.Tensor2D, mask: tf.Tensor2D, addOne: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const keep = tf.greater(mask, 0);
    const xm = tf.where(keep, x, tf.fill(x.shape, NEG_BIG));
    const rowMax = tf.max(xm, 1, true);
    const m = stopGradient(addOne ? tf.relu(rowMax) : rowMax);
    let s = tf.sum(tf.exp(tf.sub(xm, m)), 1, true);
    if (addOne) s = tf.add(s, tf.exp(tf.neg(m)));
    const out = tf.add(tf.log(s), m);
    if (addOne) return out as tf.Tensor2D;
    const any = tf.greater(tf.sum(mask, 1, true), 0);
    return tf.where(any, out, tf.zerosLike(out)) as tf.Tensor2D;
  });
}

/**
 * Reduces per-tuple losses weighted by tuple multiplicities: `"mean"` (PML's `MeanReducer`: the
 * average over the tuples), `"sum"`, `"avgNonZero"` (`AvgNonZeroReducer`: the average over the
 * tuples whose loss is > 0; 0 when none is) and `"none"` (the weighted losses, same shape).
 * With no tuple the value is 0, never NaN. Counts carry no gradient.
 *
 * @param losses per-tuple losses, any shape
 * @param weights multiplicity of each entry (0 = not a tuple), same shape
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { reduceWeighted } from "./tuples.ts";
 * reduceWeighted(tf.tensor1d([0, 2, 4]), tf.tensor1d([1, 1, 2]), "avgNonZero").print(); // 10/3
 * ```
 */
export function reduceWeighted(
  losses: tf.Tensor,
  weights: tf.Tensor,
  reduction: string,
): tf.Tensor {
  return tf.tidy(() => {
    const weighted = tf.mul(losses, weights);
    switch (reduction) {
      case "none":
        return weighted;
      case "sum":
        return tf.sum(weighted);
      case "mean":
        return tf.div(tf.sum(weighted), tf.maximum(tf.sum(weights), 1));
      case "avgNonZero": {
        const count = tf.sum(tf.mul(tf.step(losses), weights));
        return tf.div(tf.sum(weighted), tf.maximum(count, 1));
      }
      default:
        throw new Error(
          `reduction: unknown reduction "${reduction}"; use "mean", "sum", "none" or "avgNonZero"`,
        );
    }
  });
}

/**
 * Checks the embeddings and returns `n`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkEmbeddings } from "./tuples.ts";
 * checkEmbeddings("f", tf.zeros([3, 2]) as tf.Tensor2D); // 3
 * ```
 */
export function checkEmbeddings(fn: string, embeddings: tf.Tensor): number {
  if (!(embeddings instanceof tf.Tensor) || embeddings.rank !== 2) {
    throw new Error(
      `${fn}: embeddings must be a [n, d] tensor, got ${
        embeddings instanceof tf.Tensor ? `rank ${embeddings.rank}` : typeof embeddings
      }`,
    );
  }
  if (embeddings.shape[0] === 0) throw new Error(`${fn}: embeddings is an empty batch (0 rows)`);
  if (embeddings.shape[1] === 0) throw new Error(`${fn}: embeddings have dimension 0`);
  return embeddings.shape[0];
}

/**
 * Checks a reduction name.
 *
 * @example
 * ```ts
 * import { checkReduction } from "./tuples.ts";
 * checkReduction("f", "mean"); // fine
 * ```
 */
export function checkReduction(fn: string, reduction: string): void {
  if (!["mean", "sum", "none", "avgNonZero"].includes(reduction)) {
    throw new Error(
      `${fn}: unknown reduction "${reduction}"; use "mean", "sum", "none" or "avgNonZero"`,
    );
  }
}

/**
 * A scalar zero connected to `embeddings` (gradient zero), PML's `zero_losses()`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { zeroLoss } from "./tuples.ts";
 * zeroLoss(tf.ones([2, 2])).print(); // 0
 * ```
 */
export function zeroLoss(embeddings: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.sum(embeddings), 0) as tf.Scalar);
}

/**
 * `l2Normalize(x)` when `normalize`, else `x` unchanged.
 *
 * @param x `[n, d]`
 * @returns `[n, d]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { l2NormalizeIf } from "./tuples.ts";
 * l2NormalizeIf(tf.tensor2d([[3, 4]]), true).print(); // [[0.6, 0.8]]
 * ```
 */
export function l2NormalizeIf(x: tf.Tensor2D, normalize: boolean): tf.Tensor2D {
  return normalize ? l2Normalize(x) : x;
}

/**
 * Checks margins: each must be a finite number, and ≥ 0 when the loss uses a distance (with a
 * similarity such as `cosineSimilarity`, PML's margins may legitimately be negative).
 *
 * @param fn the loss name used in the message
 * @param distance the loss's distance option
 * @param margins the margins by option name
 * @throws Error `<fn>: <name> must be ≥ 0 with a distance, got <v>`
 * @example
 * ```ts
 * import { checkMargins } from "./tuples.ts";
 * checkMargins("contrastiveLoss", "euclidean", { posMargin: 0, negMargin: 1 }); // fine
 * ```
 */
export function checkMargins(
  fn: string,
  distance: LossDistance,
  margins: Record<string, number>,
): void {
  const inverted = resolveLossDistance(fn, distance).inverted;
  for (const [name, value] of Object.entries(margins)) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new Error(`${fn}: ${name} must be a finite number, got ${value}`);
    }
    if (!inverted && value < 0) {
      throw new Error(`${fn}: ${name} must be ≥ 0 with a distance, got ${value}`);
    }
  }
}

/**
 * Checks a softmax temperature: a finite number > 0.
 *
 * @throws Error naming the loss and the value.
 * @example
 * ```ts
 * import { checkTemperature } from "./tuples.ts";
 * checkTemperature("ntXentLoss", 0.07); // ok
 * ```
 */
export function checkTemperature(fn: string, temperature: number): void {
  if (!(typeof temperature === "number" && temperature > 0 && Number.isFinite(temperature))) {
    throw new Error(`${fn}: temperature must be a finite number > 0, got ${temperature}`);
  }
}
