/**
 * Seeded, resumable batch samplers for metric learning: M-per-class batches (the semantics of
 * pytorch-metric-learning's `MPerClassSampler`), balanced pair batches and triplet batches.
 * Each draws from a {@linkcode createRng} stream and exposes `state()` / `setState()`, so that a
 * resumed run sees exactly the batches an uninterrupted run would have seen.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import { createRng, type Rng } from "./random.ts";
import {
  type Batch,
  checkSamplerState,
  type PairBatch,
  type Sampler,
  type SamplerState,
  type TripletBatch,
} from "./batches.ts";
import {
  classIndex,
  FASHION_MNIST_SUPER_CATEGORIES,
  gradedPairs,
  type LabelArray,
  labelledPairs,
  tripletIndices,
} from "./pairs.ts";

function checkInputs(who: string, x: tf.Tensor, labels: LabelArray): void {
  if (labels.length !== x.shape[0]) {
    throw new Error(`${who}: ${labels.length} labels for ${x.shape[0]} inputs`);
  }
}

function checkBatchSize(who: string, batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${who}: batchSize must be a positive integer, got ${batchSize}`);
  }
}

function gather(x: tf.Tensor, idx: Int32Array): tf.Tensor {
  return tf.tidy(() => tf.gather(x, tf.tensor1d(idx, "int32")));
}

/**
 * A sampler whose batches are a function of its RNG stream: `make(rng)` draws one batch. The
 * state is the batch counter and the current RNG state.
 */
function streamSampler<B>(
  who: string,
  seed: number,
  batchesPerEpoch: number,
  make: (rng: Rng) => B,
): Sampler<B> {
  const rng = createRng(seed);
  let epoch = 0;
  let batch = 0;
  return {
    batchesPerEpoch,
    next(): B {
      if (batch >= batchesPerEpoch) {
        epoch++;
        batch = 0;
      }
      batch++;
      return make(rng);
    },
    state: () => ({ epoch, batch, rngState: rng.state() }),
    setState(state: SamplerState) {
      checkSamplerState(state, who);
      rng.setState(state.rngState);
      epoch = state.epoch;
      batch = state.batch;
    },
  };
}

/**
 * Options of {@linkcode mPerClassSampler}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const options: MPerClassOptions = { m: 4, batchSize: 32, seed: 1 };
 * assert.equal(options.batchSize / options.m, 8);
 * ```
 */
export interface MPerClassOptions {
  /** Examples per class in each batch. */
  m: number;
  /** Batch size, a multiple of `m`, at most `m ×` (number of classes). */
  batchSize: number;
  /** Examples per "epoch" (PML's `length_before_new_iter`). Default: the dataset size. */
  lengthBeforeNewIter?: number;
  /** Seed. Default 0. */
  seed?: number;
}

/**
 * The indices of one M-per-class batch: `batchSize / m` distinct classes drawn uniformly (a
 * shuffle of the classes, first ones taken), then `m` examples of each, without replacement when
 * the class has at least `m` examples and with replacement otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classIndex } from "./pairs.ts";
 * import { createRng } from "./random.ts";
 * import { mPerClassIndices } from "./samplers.ts";
 * const idx = mPerClassIndices(classIndex([0, 0, 1, 1, 2, 2]), 2, 4, createRng(1));
 * assert.equal(idx.length, 4); // two classes, two examples each
 * ```
 */
export function mPerClassIndices(
  index: { classes: number[]; members: Map<number, Int32Array> },
  m: number,
  batchSize: number,
  rng: Rng,
): Int32Array {
  const classes = rng.shuffle(index.classes.slice());
  const out = new Int32Array(batchSize);
  let k = 0;
  for (let c = 0; c < batchSize / m; c++) {
    const members = index.members.get(classes[c])!;
    if (members.length >= m) {
      // Partial Fisher–Yates on a copy: m distinct members.
      const pool = Int32Array.from(members);
      for (let i = 0; i < m; i++) {
        const j = i + rng.nextInt(pool.length - i);
        const t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
        out[k++] = pool[i];
      }
    } else {
      for (let i = 0; i < m; i++) out[k++] = members[rng.nextInt(members.length)];
    }
  }
  return out;
}

/**
 * M-per-class batches (pytorch-metric-learning's `MPerClassSampler`): every batch holds
 * `batchSize / m` distinct classes and `m` examples of each (with replacement only for classes
 * smaller than `m`). An epoch is `floor(lengthBeforeNewIter / batchSize)` batches. Batch `x`
 * `[batchSize, ...]`, `y` `[batchSize]` int32, grouped by class.
 *
 * @param x inputs `[n, ...]` (kept; not disposed by the sampler)
 * @param labels `[n]`
 * @throws Error when `batchSize` is not a multiple of `m` or needs more classes than exist.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { mPerClassSampler } from "./samplers.ts";
 * const labels = Int32Array.from({ length: 40 }, (_, i) => i % 10);
 * const s = mPerClassSampler(tf.zeros([40, 2]), labels, { m: 4, batchSize: 8, seed: 1 });
 * const y = s.next().y.arraySync() as number[];
 * assert.deepEqual([...new Set(y)].map((c) => y.filter((v) => v === c).length), [4, 4]); // two classes, four of each
 * ```
 */
export function mPerClassSampler(
  x: tf.Tensor,
  labels: LabelArray,
  options: MPerClassOptions,
): Sampler<Batch> {
  const who = "mPerClassSampler";
  checkOptionKeys(who, options, ["m", "batchSize", "lengthBeforeNewIter", "seed"]);
  checkInputs(who, x, labels);
  const { m, batchSize, seed = 0, lengthBeforeNewIter = x.shape[0] } = options;
  if (!Number.isInteger(m) || m < 1) {
    throw new Error(`${who}: m must be a positive integer, got ${m}`);
  }
  checkBatchSize(who, batchSize);
  if (batchSize % m !== 0) {
    throw new Error(`${who}: batchSize ${batchSize} is not a multiple of m = ${m}`);
  }
  const index = classIndex(labels);
  if (batchSize / m > index.classes.length) {
    throw new Error(
      `${who}: batchSize / m = ${
        batchSize / m
      } classes per batch, but labels hold ${index.classes.length}`,
    );
  }
  const perEpoch = Math.floor(lengthBeforeNewIter / batchSize);
  if (perEpoch < 1) {
    throw new Error(`${who}: lengthBeforeNewIter ${lengthBeforeNewIter} < batchSize ${batchSize}`);
  }
  const labelArray = Int32Array.from(labels);
  return streamSampler(who, seed, perEpoch, (rng) => {
    const idx = mPerClassIndices(index, m, batchSize, rng);
    return { x: gather(x, idx), y: tf.tensor1d(idx.map((i) => labelArray[i]), "int32") };
  });
}

/**
 * Options of {@linkcode pairSampler}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const options: PairSamplerOptions = { batchSize: 64, targets: "graded", seed: 1 };
 * assert.equal(options.targets, "graded");
 * ```
 */
export interface PairSamplerOptions {
  /** Pairs per batch. */
  batchSize: number;
  /**
   * `"binary"` (default): balanced similar (1) / dissimilar (0) pairs ({@linkcode labelledPairs});
   * `"graded"`: a third each of targets 1, 0.5, 0 ({@linkcode gradedPairs}).
   */
  targets?: "binary" | "graded";
  /** Fraction of positive pairs for `"binary"`. Default 0.5. */
  positiveFraction?: number;
  /** Super-category per label for `"graded"`. Default Fashion-MNIST's. */
  superCategories?: readonly number[];
  /** Seed. Default 0. */
  seed?: number;
}

/**
 * Balanced pair batches drawn afresh for every batch: `inputs` `[x[left], x[right]]`, each
 * `[batchSize, ...]`, and `target` `[batchSize]` float32. An epoch is `floor(n / batchSize)`
 * batches (nominal: pairs are drawn with replacement).
 *
 * @param x inputs `[n, ...]` (kept; not disposed by the sampler)
 * @param labels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairSampler } from "./samplers.ts";
 * const s = pairSampler(tf.zeros([8, 2]), [0, 0, 1, 1, 2, 2, 3, 3], { batchSize: 4, seed: 1 });
 * assert.deepEqual((s.next().target.arraySync() as number[]).sort(), [0, 0, 1, 1]); // two 1s and two 0s
 * ```
 */
export function pairSampler(
  x: tf.Tensor,
  labels: LabelArray,
  options: PairSamplerOptions,
): Sampler<PairBatch> {
  const who = "pairSampler";
  checkOptionKeys(who, options, [
    "batchSize",
    "targets",
    "positiveFraction",
    "superCategories",
    "seed",
  ]);
  checkInputs(who, x, labels);
  const { batchSize, targets = "binary", positiveFraction = 0.5, seed = 0 } = options;
  checkBatchSize(who, batchSize);
  if (targets !== "binary" && targets !== "graded") {
    throw new Error(`${who}: targets must be "binary" or "graded", got "${targets}"`);
  }
  const superCategories = options.superCategories ?? FASHION_MNIST_SUPER_CATEGORIES;
  const labelArray = Int32Array.from(labels);
  return streamSampler(who, seed, Math.max(1, Math.floor(x.shape[0] / batchSize)), (rng) => {
    const p = targets === "binary"
      ? labelledPairs(labelArray, { count: batchSize, positiveFraction, rng })
      : gradedPairs(labelArray, { count: batchSize, superCategories, rng });
    return {
      inputs: [gather(x, p.left), gather(x, p.right)],
      target: tf.tensor1d(p.target, "float32"),
    };
  });
}

/**
 * Triplet batches drawn afresh for every batch ({@linkcode tripletIndices}): `inputs`
 * `[anchor, positive, negative]`, each `[batchSize, ...]`.
 *
 * @param x inputs `[n, ...]` (kept; not disposed by the sampler)
 * @param labels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { tripletSampler } from "./samplers.ts";
 * const s = tripletSampler(tf.zeros([4, 2]), [0, 0, 1, 1], { batchSize: 3, seed: 1 });
 * assert.equal(s.next().inputs.length, 3);
 * ```
 */
export function tripletSampler(
  x: tf.Tensor,
  labels: LabelArray,
  options: { batchSize: number; seed?: number },
): Sampler<TripletBatch> {
  const who = "tripletSampler";
  checkOptionKeys(who, options, ["batchSize", "seed"]);
  checkInputs(who, x, labels);
  const { batchSize, seed = 0 } = options;
  checkBatchSize(who, batchSize);
  const labelArray = Int32Array.from(labels);
  const classes = new Set(labelArray).size;
  if (classes < 2) {
    throw new Error(`${who}: labels hold ${classes} class(es); triplets need at least 2 classes`);
  }
  return streamSampler(who, seed, Math.max(1, Math.floor(x.shape[0] / batchSize)), (rng) => {
    const t = tripletIndices(labelArray, { count: batchSize, rng });
    return { inputs: [gather(x, t.anchor), gather(x, t.positive), gather(x, t.negative)] };
  });
}
