/**
 * The tuple machinery shared by every loss and miner, as pytorch-metric-learning (PML) builds it:
 * labels read onto the CPU, tuples of indices (pairs or triplets) and their conversions, and the
 * dense multiplicity matrices that keep pair losses in `[n, m]` matrix form.
 *
 * Index conventions are PML's: pairs are `{ a1, p, a2, n }` (anchor-positive pairs `(a1[i], p[i])`
 * and anchor-negative pairs `(a2[j], n[j])`), triplets are `{ a, p, n }`. Anchors index the batch
 * (`embeddings`, `n` rows); positives and negatives index the reference set (`refEmbeddings`, `m`
 * rows), which is the batch itself unless a loss is given one. Without indices a loss uses all
 * ordered pairs `(i, j)` — `i ≠ j` when the reference set is the batch, so every unordered pair
 * appears twice, as in PML — or all triplets, enumerated in PML's order (anchor, then positive,
 * then negative, each ascending).
 *
 * Labels given as a tensor are read with `dataSync()`: tuples are built on the CPU (labels carry
 * no gradient), while distances, losses and gradients stay in tensor form.
 *
 * Internal (the index types are re-exported by `mod.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Class labels: a `[n]` int tensor or an array of integers. */
export type Labels = tf.Tensor1D | readonly number[] | Int32Array;

/** Anchor-positive and anchor-negative pairs, PML's `(a1, p, a2, n)`. */
export interface PairIndices {
  /** Anchors of the positive pairs (rows of the batch). */
  a1: Int32Array;
  /** Positives, `p[i]` pairs with `a1[i]` (rows of the reference set). */
  p: Int32Array;
  /** Anchors of the negative pairs (rows of the batch). */
  a2: Int32Array;
  /** Negatives, `n[j]` pairs with `a2[j]` (rows of the reference set). */
  n: Int32Array;
}

/** Triplets `(a[i], p[i], n[i])`, PML's `(anchor_idx, positive_idx, negative_idx)`. */
export interface TripletIndices {
  /** Anchors (rows of the batch). */
  a: Int32Array;
  /** Positives, same label as the anchor (rows of the reference set). */
  p: Int32Array;
  /** Negatives, another label (rows of the reference set). */
  n: Int32Array;
}

/** Tuples produced by a miner and accepted by the losses' `indices` option. */
export type TupleIndices = PairIndices | TripletIndices;

/**
 * True when `indices` are pairs `{ a1, p, a2, n }` rather than triplets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPairIndices } from "./_tuples.ts";
 * assert.equal(isPairIndices({ a: new Int32Array(), p: new Int32Array(), n: new Int32Array() }), false);
 * ```
 */
export function isPairIndices(indices: TupleIndices): indices is PairIndices {
  return "a1" in indices;
}

/**
 * Labels as a plain `Int32Array` (a tensor is read synchronously), checked against `n`.
 *
 * @param labels `[n]`
 * @param n the number of embeddings they label
 * @param fn the caller's name, for messages
 * @param name the argument's name, for messages
 * @throws Error when the count differs or a label is not an integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelsArray } from "./_tuples.ts";
 * assert.deepEqual(labelsArray([0, 1, 1], 3), Int32Array.of(0, 1, 1));
 * ```
 */
export function labelsArray(labels: Labels, n: number, fn = "labels", name = "labels"): Int32Array {
  let data: ArrayLike<number>;
  if (labels instanceof tf.Tensor) {
    if (labels.rank !== 1 || labels.shape[0] !== n) {
      throw new Error(`${fn}: ${name} must have shape [${n}], got [${labels.shape}]`);
    }
    data = labels.dataSync();
  } else if (labels !== null && typeof labels === "object" && "length" in labels) {
    if (labels.length !== n) {
      throw new Error(
        `${fn}: expected ${n} ${name} (one per embedding), got ${labels.length}`,
      );
    }
    data = labels;
  } else {
    throw new Error(`${fn}: ${name} must be an array or a [n] tensor, got ${String(labels)}`);
  }
  const out = new Int32Array(n);
  const what = name === "labels" ? "label" : `${name} entry`;
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(data[i])) {
      throw new Error(`${fn}: ${what} ${i} is ${data[i]}, not an integer`);
    }
    out[i] = data[i];
  }
  return out;
}

/**
 * All positive pairs `(i, j)` (same label; `i ≠ j` when self-pairs are excluded) and all negative
 * pairs (different labels), row-major as PML's `get_all_pairs_indices`.
 *
 * @param labels `[n]` labels of the batch
 * @param refLabels `[m]` labels of a separate reference set
 * @param excludeSelf drop `(i, i)` (PML: when `ref_labels is labels`); default: without `refLabels`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allPairsIndices } from "./_tuples.ts";
 * const { a1, p } = allPairsIndices([0, 0, 1]);
 * assert.deepEqual([...a1], [0, 1]);
 * assert.deepEqual([...p], [1, 0]);
 * ```
 */
export function allPairsIndices(
  labels: ArrayLike<number>,
  refLabels?: ArrayLike<number>,
  excludeSelf: boolean = refLabels === undefined,
): PairIndices {
  const ref = refLabels ?? labels;
  const self = excludeSelf;
  // Counted first, then written into typed arrays (no growing arrays: this runs every step).
  let numPos = 0, numNeg = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < ref.length; j++) {
      if (labels[i] !== ref[j]) numNeg++;
      else if (!self || i !== j) numPos++;
    }
  }
  const a1 = new Int32Array(numPos), p = new Int32Array(numPos);
  const a2 = new Int32Array(numNeg), ng = new Int32Array(numNeg);
  let u = 0, v = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < ref.length; j++) {
      if (labels[i] !== ref[j]) a2[v] = i, ng[v++] = j;
      else if (!self || i !== j) a1[u] = i, p[u++] = j;
    }
  }
  return { a1, p, a2, n: ng };
}

/**
 * All triplets `(a, p, n)` with `label[a] = ref[p]` (`a ≠ p` when self-pairs are excluded) and
 * `ref[n] ≠ label[a]`, in PML's order (`get_all_triplets_indices`).
 *
 * @param labels `[n]`
 * @param refLabels `[m]` labels of a separate reference set
 * @param excludeSelf drop `p = a` (PML: when `ref_labels is labels`); default: without `refLabels`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allTripletsIndices } from "./_tuples.ts";
 * assert.equal(allTripletsIndices([0, 0, 1]).a.length, 2);
 * ```
 */
export function allTripletsIndices(
  labels: ArrayLike<number>,
  refLabels?: ArrayLike<number>,
  excludeSelf: boolean = refLabels === undefined,
): TripletIndices {
  const ref = refLabels ?? labels;
  const self = excludeSelf;
  // Per anchor: its positives × its negatives, counted first (typed arrays, no growing arrays).
  const positives: Int32Array[] = [], negatives: Int32Array[] = [];
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    let np = 0, nn = 0;
    for (let j = 0; j < ref.length; j++) {
      if (ref[j] !== labels[i]) nn++;
      else if (!self || i !== j) np++;
    }
    const pos = new Int32Array(np), neg = new Int32Array(nn);
    np = 0, nn = 0;
    for (let j = 0; j < ref.length; j++) {
      if (ref[j] !== labels[i]) neg[nn++] = j;
      else if (!self || i !== j) pos[np++] = j;
    }
    positives.push(pos), negatives.push(neg);
    total += pos.length * neg.length;
  }
  const a = new Int32Array(total), p = new Int32Array(total), ng = new Int32Array(total);
  let t = 0;
  for (let i = 0; i < labels.length; i++) {
    const neg = negatives[i];
    for (const j of positives[i]) {
      a.fill(i, t, t + neg.length), p.fill(j, t, t + neg.length), ng.set(neg, t);
      t += neg.length;
    }
  }
  return { a, p, n: ng };
}

function checkIndexArray(fn: string, name: string, arr: unknown, size: number, what: string) {
  if (!(arr instanceof Int32Array)) {
    throw new Error(`${fn}: indices.${name} must be an Int32Array, got ${String(arr)}`);
  }
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] < 0 || arr[i] >= size) {
      throw new Error(
        `${fn}: indices.${name}[${i}] = ${arr[i]} is outside the ${what} [0, ${size})`,
      );
    }
  }
}

/**
 * Checks tuple indices against the batch size `n` (anchors) and the reference size `m`
 * (positives, negatives): Int32Arrays, in range, matching lengths.
 *
 * @throws Error naming `fn`, the array and the offending entry.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkIndices } from "./_tuples.ts";
 * checkIndices("f", { a: Int32Array.of(0), p: Int32Array.of(1), n: Int32Array.of(2) }, 3, 3); // fine
 * assert.throws(() => checkIndices("f", { a: Int32Array.of(0), p: Int32Array.of(1), n: Int32Array.of(3) }, 3, 3), /outside the batch/);
 * ```
 */
export function checkIndices(fn: string, indices: TupleIndices, n: number, m: number): void {
  if (indices === null || typeof indices !== "object") {
    throw new Error(`${fn}: indices must be { a, p, n } or { a1, p, a2, n }, got ${indices}`);
  }
  const batch = "batch", ref = m === n ? "batch" : "reference set";
  if (isPairIndices(indices)) {
    checkIndexArray(fn, "a1", indices.a1, n, batch);
    checkIndexArray(fn, "p", indices.p, m, ref);
    checkIndexArray(fn, "a2", indices.a2, n, batch);
    checkIndexArray(fn, "n", indices.n, m, ref);
    if (indices.a1.length !== indices.p.length || indices.a2.length !== indices.n.length) {
      throw new Error(`${fn}: indices.a1/p and indices.a2/n must have matching lengths`);
    }
    return;
  }
  if (!("a" in indices)) {
    throw new Error(`${fn}: indices must be { a, p, n } or { a1, p, a2, n }`);
  }
  checkIndexArray(fn, "a", indices.a, n, batch);
  checkIndexArray(fn, "p", indices.p, m, ref);
  checkIndexArray(fn, "n", indices.n, m, ref);
  if (indices.a.length !== indices.p.length || indices.a.length !== indices.n.length) {
    throw new Error(`${fn}: indices.a, .p and .n must have the same length`);
  }
}

/**
 * The pairs a pair-based loss uses (PML's `convert_to_pairs`): all pairs when `indices` is
 * absent, the given pairs, or triplets turned into pairs `(a, p, a, n)`. Indices are assumed
 * checked ({@linkcode checkIndices}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toPairs } from "./_tuples.ts";
 * assert.equal(toPairs([0, 0, 1]).a2.length, 4);
 * ```
 */
export function toPairs(
  labels: ArrayLike<number>,
  indices?: TupleIndices,
  refLabels?: ArrayLike<number>,
  excludeSelf: boolean = refLabels === undefined,
): PairIndices {
  if (!indices) return allPairsIndices(labels, refLabels, excludeSelf);
  if (isPairIndices(indices)) return indices;
  return { a1: indices.a, p: indices.p, a2: indices.a, n: indices.n };
}

/**
 * The triplets a triplet loss uses (PML's `convert_to_triplets` with `t_per_anchor="all"`): all
 * triplets, the given triplets, or pairs turned into triplets (every positive pair combined with
 * every negative pair sharing its anchor, in PML's order).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toTriplets } from "./_tuples.ts";
 * assert.equal(toTriplets([0, 0, 1]).a.length, 2);
 * ```
 */
export function toTriplets(
  labels: ArrayLike<number>,
  indices?: TupleIndices,
  refLabels?: ArrayLike<number>,
  excludeSelf: boolean = refLabels === undefined,
): TripletIndices {
  if (!indices) return allTripletsIndices(labels, refLabels, excludeSelf);
  if (!isPairIndices(indices)) return indices;
  const a: number[] = [], p: number[] = [], ng: number[] = [];
  for (let i = 0; i < indices.a1.length; i++) {
    for (let j = 0; j < indices.a2.length; j++) {
      if (indices.a1[i] === indices.a2[j]) {
        a.push(indices.a1[i]), p.push(indices.p[i]), ng.push(indices.n[j]);
      }
    }
  }
  return { a: Int32Array.from(a), p: Int32Array.from(p), n: Int32Array.from(ng) };
}

/** Pair multiplicities as dense `[n, m]` matrices (plain arrays, row-major). */
export interface PairWeights {
  /** `pos[i * m + j]`: how many times `(i, j)` is listed as a positive pair. */
  pos: Float32Array;
  /** `neg[i * m + j]`: how many times `(i, j)` is listed as a negative pair. */
  neg: Float32Array;
  /** Number of positive pairs listed (with repeats). */
  numPos: number;
  /** Number of negative pairs listed (with repeats). */
  numNeg: number;
  /** PML's `GenericPairLoss` shortcut: every index array has length ≤ 1, so the loss is zero. */
  trivial: boolean;
}

/**
 * Dense multiplicity matrices of a set of pairs, so that pair-based losses stay in `[n, m]`
 * matrix form (PML indexes `mat[a1, p]`; a pair listed twice counts twice, here through its
 * weight 2).
 *
 * @param pairs the pairs
 * @param n batch size (rows)
 * @param m reference-set size (columns; default `n`)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allPairsIndices, pairWeights } from "./_tuples.ts";
 * assert.equal(pairWeights(allPairsIndices([0, 0, 1]), 3).numPos, 2);
 * ```
 */
export function pairWeights(pairs: PairIndices, n: number, m = n): PairWeights {
  const pos = new Float32Array(n * m), neg = new Float32Array(n * m);
  for (let i = 0; i < pairs.a1.length; i++) pos[pairs.a1[i] * m + pairs.p[i]] += 1;
  for (let j = 0; j < pairs.a2.length; j++) neg[pairs.a2[j] * m + pairs.n[j]] += 1;
  const trivial = pairs.a1.length <= 1 && pairs.p.length <= 1 && pairs.a2.length <= 1 &&
    pairs.n.length <= 1;
  return { pos, neg, numPos: pairs.a1.length, numNeg: pairs.a2.length, trivial };
}

/**
 * Concatenates two tuple sets of the same kind (PML's `concatenate_indices_tuples`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concatIndices } from "./_tuples.ts";
 * const t = { a: Int32Array.of(0), p: Int32Array.of(1), n: Int32Array.of(2) };
 * assert.equal(concatIndices(t, t).a.length, 2);
 * ```
 */
export function concatIndices<T extends TupleIndices>(x: T, y: T): T {
  const cat = (u: Int32Array, v: Int32Array) => {
    const out = new Int32Array(u.length + v.length);
    out.set(u), out.set(v, u.length);
    return out;
  };
  const out: Record<string, Int32Array> = {};
  for (const key of Object.keys(x)) {
    out[key] = cat(
      (x as unknown as Record<string, Int32Array>)[key],
      (y as unknown as Record<string, Int32Array>)[key],
    );
  }
  return out as unknown as T;
}
