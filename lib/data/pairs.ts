/**
 * Dataset builders for the three formulations of similarity learning: labelled pairs
 * (classification similarity), pairs with graded similarity targets (regression similarity) and
 * triplets (ranking similarity), all drawn from class labels with a seeded RNG.
 *
 * Graded similarity of two Fashion-MNIST images ({@linkcode gradedSimilarity}):
 *
 * | relation                                   | target |
 * | ------------------------------------------ | ------ |
 * | same class                                 | 1      |
 * | different class, same super-category       | 0.5    |
 * | different super-categories                 | 0      |
 *
 * Super-categories ({@linkcode FASHION_MNIST_SUPER_CATEGORIES}): **tops** {0 T-shirt/top,
 * 2 Pullover, 3 Dress, 4 Coat, 6 Shirt}, **bottoms** {1 Trouser}, **footwear** {5 Sandal,
 * 7 Sneaker, 9 Ankle boot}, **bags** {8 Bag}. *Dress goes with the tops*: it is a garment worn from
 * the shoulders, its 28×28 silhouette (shoulders, sleeves or straps, a torso) resembles the coats,
 * shirts and pullovers far more than the two separated legs of a trouser, and the Fashion-MNIST
 * classifiers' confusions put Dress with Coat, Shirt and T-shirt/top, rarely with Trouser.
 *
 * @module
 */
import { createRng, type Rng } from "./random.ts";

/**
 * Labels of a dataset, `[n]` integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const labels: LabelArray = Int32Array.from([0, 1, 1]);
 * assert.equal(labels.length, 3);
 * ```
 */
export type LabelArray = Int32Array | readonly number[];

/**
 * Fashion-MNIST super-category of each class label (index = label): 0 tops, 1 bottoms,
 * 2 footwear, 3 bags.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FASHION_MNIST_SUPER_CATEGORIES } from "./pairs.ts";
 * assert.equal(FASHION_MNIST_SUPER_CATEGORIES[3], 0); // Dress is a top
 * ```
 */
export const FASHION_MNIST_SUPER_CATEGORIES: readonly number[] = Object.freeze([
  0, // T-shirt/top: tops
  1, // Trouser: bottoms
  0, // Pullover: tops
  0, // Dress: tops (see the module documentation)
  0, // Coat: tops
  2, // Sandal: footwear
  0, // Shirt: tops
  2, // Sneaker: footwear
  3, // Bag: bags
  2, // Ankle boot: footwear
]);

/**
 * Names of the super-categories of {@linkcode FASHION_MNIST_SUPER_CATEGORIES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FASHION_MNIST_SUPER_CATEGORY_NAMES } from "./pairs.ts";
 * assert.equal(FASHION_MNIST_SUPER_CATEGORY_NAMES[2], "footwear");
 * ```
 */
export const FASHION_MNIST_SUPER_CATEGORY_NAMES: readonly string[] = Object.freeze([
  "tops",
  "bottoms",
  "footwear",
  "bags",
]);

/**
 * Graded similarity of two labels: 1 for the same class, 0.5 for different classes of the same
 * super-category, 0 otherwise.
 *
 * @param superCategories super-category per label (default Fashion-MNIST's)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradedSimilarity } from "./pairs.ts";
 * assert.equal(gradedSimilarity(5, 7), 0.5); // Sandal and Sneaker are both footwear
 * assert.equal(gradedSimilarity(1, 8), 0);
 * ```
 */
export function gradedSimilarity(
  a: number,
  b: number,
  superCategories: readonly number[] = FASHION_MNIST_SUPER_CATEGORIES,
): number {
  if (a === b) return 1;
  const sa = superCategories[a], sb = superCategories[b];
  if (sa === undefined || sb === undefined) {
    throw new Error(`gradedSimilarity: no super-category for label ${sa === undefined ? a : b}`);
  }
  return sa === sb ? 0.5 : 0;
}

/**
 * Pairs of example indices with a target per pair.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const p: IndexPairs = labelledPairs([0, 0, 1, 1], { count: 2 });
 * assert.deepEqual([p.left.length, p.right.length, p.target.length], [2, 2, 2]);
 * ```
 */
export interface IndexPairs {
  /** Index of the first example of each pair, `[p]`. */
  left: Int32Array;
  /** Index of the second example, `[p]`. */
  right: Int32Array;
  /** Target similarity of each pair, `[p]`. */
  target: Float32Array;
}

/**
 * Triplets of example indices: anchor and positive share a class, the negative does not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const t: IndexTriplets = tripletIndices([0, 0, 1, 1], { count: 2 });
 * assert.equal(t.anchor.length, 2);
 * ```
 */
export interface IndexTriplets {
  /** `[t]` */
  anchor: Int32Array;
  /** `[t]` */
  positive: Int32Array;
  /** `[t]` */
  negative: Int32Array;
}

/**
 * Example indices of each class, in index order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const index: ClassIndex = classIndex([0, 1, 0]);
 * assert.deepEqual(index.members.get(0), Int32Array.of(0, 2));
 * ```
 */
export interface ClassIndex {
  /** The distinct labels, ascending. */
  classes: number[];
  /** Indices of each label. */
  members: Map<number, Int32Array>;
}

/**
 * Groups example indices by label.
 *
 * @throws Error when a label is not an integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classIndex } from "./pairs.ts";
 * assert.deepEqual(classIndex([1, 0, 1]).members.get(1), Int32Array.of(0, 2));
 * ```
 */
export function classIndex(labels: LabelArray): ClassIndex {
  const lists = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l)) throw new Error(`labels: label ${i} is ${l}, not an integer`);
    if (!lists.has(l)) lists.set(l, []);
    lists.get(l)!.push(i);
  }
  const classes = [...lists.keys()].sort((a, b) => a - b);
  const members = new Map(classes.map((c) => [c, Int32Array.from(lists.get(c)!)]));
  return { classes, members };
}

function rngOf(seedOrRng: number | Rng | undefined): Rng {
  if (seedOrRng === undefined) return createRng(0);
  return typeof seedOrRng === "number" ? createRng(seedOrRng) : seedOrRng;
}

function checkCount(who: string, count: number): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`${who}: count must be a non-negative integer, got ${count}`);
  }
}

function pick(rng: Rng, from: Int32Array | number[]): number {
  return from[rng.nextInt(from.length)];
}

/** Two distinct members of `from` (length ≥ 2). */
function pickTwo(rng: Rng, from: Int32Array): [number, number] {
  const i = rng.nextInt(from.length);
  let j = rng.nextInt(from.length - 1);
  if (j >= i) j++;
  return [from[i], from[j]];
}

/**
 * Options shared by the builders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRng } from "./random.ts";
 * const options: PairBuilderOptions = { count: 100, rng: createRng(7) };
 * assert.equal(options.count, 100);
 * ```
 */
export interface PairBuilderOptions {
  /** Number of pairs or triplets. */
  count: number;
  /** A seed or an RNG to draw from (the RNG advances). Default seed 0. */
  rng?: number | Rng;
}

/**
 * Labelled pairs for classification similarity learning: `round(count · positiveFraction)`
 * positive pairs (target 1: two distinct examples of a class drawn uniformly among classes with
 * at least two examples) and the rest negative (target 0: two distinct classes drawn uniformly,
 * one example of each), in random order.
 *
 * @param labels `[n]` class labels
 * @throws Error when no class has two examples (positives) or there is one class (negatives).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelledPairs } from "./pairs.ts";
 * const p = labelledPairs([0, 0, 1, 1], { count: 4, rng: 1 });
 * assert.deepEqual([...p.target].sort(), [0, 0, 1, 1]); // two 1s and two 0s
 * ```
 */
export function labelledPairs(
  labels: LabelArray,
  options: PairBuilderOptions & { positiveFraction?: number },
): IndexPairs {
  const { count, positiveFraction = 0.5 } = options;
  checkCount("labelledPairs", count);
  if (!(positiveFraction >= 0 && positiveFraction <= 1)) {
    throw new Error(`labelledPairs: positiveFraction must be in [0, 1], got ${positiveFraction}`);
  }
  const rng = rngOf(options.rng);
  const { classes, members } = classIndex(labels);
  const withPairs = classes.filter((c) => members.get(c)!.length >= 2);
  const positives = Math.round(count * positiveFraction);
  if (positives > 0 && withPairs.length === 0) {
    throw new Error("labelledPairs: no class has two examples, so no positive pair exists");
  }
  if (count - positives > 0 && classes.length < 2) {
    throw new Error("labelledPairs: labels hold a single class, so no negative pair exists");
  }
  const order = rng.shuffle(Int32Array.from({ length: count }, (_, i) => i));
  const out: IndexPairs = {
    left: new Int32Array(count),
    right: new Int32Array(count),
    target: new Float32Array(count),
  };
  for (let k = 0; k < count; k++) {
    const slot = order[k];
    if (k < positives) {
      const [a, b] = pickTwo(rng, members.get(pick(rng, withPairs))!);
      out.left[slot] = a;
      out.right[slot] = b;
      out.target[slot] = 1;
    } else {
      const [ca, cb] = pickTwo(rng, Int32Array.from(classes));
      out.left[slot] = pick(rng, members.get(ca)!);
      out.right[slot] = pick(rng, members.get(cb)!);
      out.target[slot] = 0;
    }
  }
  return out;
}

/**
 * Pairs with graded similarity targets for regression similarity learning: a third each (the
 * remainder going to the first levels) of same-class pairs (target 1), same-super-category pairs
 * of different classes (0.5) and pairs across super-categories (0); see
 * {@linkcode gradedSimilarity}. Within a level, the class (or class pair) is drawn uniformly
 * among those possible, then the examples. Random order.
 *
 * @param labels `[n]` class labels
 * @throws Error when some level has no possible pair.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradedPairs } from "./pairs.ts";
 * const p = gradedPairs([0, 0, 2, 5, 7, 1], { count: 6, rng: 3 });
 * assert.deepEqual([...p.target].sort(), [0, 0, 0.5, 0.5, 1, 1]); // two each of 1, 0.5 and 0
 * ```
 */
export function gradedPairs(
  labels: LabelArray,
  options: PairBuilderOptions & { superCategories?: readonly number[] },
): IndexPairs {
  const { count, superCategories = FASHION_MNIST_SUPER_CATEGORIES } = options;
  checkCount("gradedPairs", count);
  const rng = rngOf(options.rng);
  const { classes, members } = classIndex(labels);
  const same = classes.filter((c) => members.get(c)!.length >= 2);
  const near: [number, number][] = [];
  const far: [number, number][] = [];
  for (const a of classes) {
    for (const b of classes) {
      if (a >= b) continue;
      const g = gradedSimilarity(a, b, superCategories);
      (g === 0.5 ? near : far).push([a, b]);
    }
  }
  const perLevel = [0, 1, 2].map((k) => Math.floor(count / 3) + (k < count % 3 ? 1 : 0));
  const levels: [string, number][] = [["same-class", same.length], [
    "same-super-category",
    near.length,
  ], [
    "cross-super-category",
    far.length,
  ]];
  levels.forEach(([name, possible], k) => {
    if (perLevel[k] > 0 && possible === 0) {
      throw new Error(`gradedPairs: labels admit no ${name} pair`);
    }
  });
  const order = rng.shuffle(Int32Array.from({ length: count }, (_, i) => i));
  const out: IndexPairs = {
    left: new Int32Array(count),
    right: new Int32Array(count),
    target: new Float32Array(count),
  };
  for (let k = 0; k < count; k++) {
    const slot = order[k];
    let a: number, b: number, t: number;
    if (k < perLevel[0]) {
      [a, b] = pickTwo(rng, members.get(pick(rng, same))!);
      t = 1;
    } else {
      const list = k < perLevel[0] + perLevel[1] ? near : far;
      const [ca, cb] = list[rng.nextInt(list.length)];
      const swap = rng.nextInt(2) === 1;
      a = pick(rng, members.get(swap ? cb : ca)!);
      b = pick(rng, members.get(swap ? ca : cb)!);
      t = list === near ? 0.5 : 0;
    }
    out.left[slot] = a;
    out.right[slot] = b;
    out.target[slot] = t;
  }
  return out;
}

/**
 * Triplets for ranking similarity learning: the anchor's class drawn uniformly among classes with
 * at least two examples, anchor and positive two distinct examples of it, the negative an example
 * of another class drawn uniformly.
 *
 * @param labels `[n]` class labels
 * @throws Error when no class has two examples or there is a single class.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tripletIndices } from "./pairs.ts";
 * const labels = [0, 0, 1, 1];
 * const t = tripletIndices(labels, { count: 2, rng: 1 });
 * t.anchor.forEach((a, i) => {
 *   assert.equal(labels[t.positive[i]], labels[a]);
 *   assert.notEqual(labels[t.negative[i]], labels[a]);
 * });
 * ```
 */
export function tripletIndices(labels: LabelArray, options: PairBuilderOptions): IndexTriplets {
  const { count } = options;
  checkCount("tripletIndices", count);
  const rng = rngOf(options.rng);
  const { classes, members } = classIndex(labels);
  const withPairs = classes.filter((c) => members.get(c)!.length >= 2);
  if (count > 0 && (withPairs.length === 0 || classes.length < 2)) {
    throw new Error(
      "tripletIndices: need a class with two examples and at least two classes to form a triplet",
    );
  }
  const out: IndexTriplets = {
    anchor: new Int32Array(count),
    positive: new Int32Array(count),
    negative: new Int32Array(count),
  };
  for (let k = 0; k < count; k++) {
    const c = pick(rng, withPairs);
    const [a, p] = pickTwo(rng, members.get(c)!);
    let other = rng.nextInt(classes.length - 1);
    if (other >= classes.indexOf(c)) other++;
    const nc = classes[other];
    out.anchor[k] = a;
    out.positive[k] = p;
    out.negative[k] = pick(rng, members.get(nc)!);
  }
  return out;
}
