/**
 * Seeded, shuffled mini-batches over an in-memory labelled dataset.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import { createRng } from "./random.ts";

/**
 * A mini-batch: inputs `[b, ...]` and int32 labels `[b]`. The receiver disposes them.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const batch: Batch = { x: tf.zeros([2, 4]), y: tf.tensor1d([0, 1], "int32") };
 * ```
 */
export interface Batch {
  /** Inputs `[b, ...shape]`. */
  x: tf.Tensor;
  /** Labels `[b]`, int32. */
  y: tf.Tensor1D;
}

/**
 * A pair mini-batch: two inputs `[b, ...]` and a float target `[b]` per pair (1/0 for
 * similar/dissimilar, or a graded similarity in [0, 1]). The receiver disposes it.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const batch: PairBatch = { inputs: [tf.zeros([2, 4]), tf.ones([2, 4])], target: tf.tensor1d([1, 0]) };
 * ```
 */
export interface PairBatch {
  /** `[left [b, ...], right [b, ...]]`. */
  inputs: [tf.Tensor, tf.Tensor];
  /** Similarity targets `[b]`, float32. */
  target: tf.Tensor1D;
}

/**
 * A triplet mini-batch: anchors, positives and negatives `[b, ...]`. The receiver disposes it.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.zeros([2, 4]);
 * const batch: TripletBatch = { inputs: [x, x, x] };
 * ```
 */
export interface TripletBatch {
  /** `[anchor, positive, negative]`, each `[b, ...]`. */
  inputs: [tf.Tensor, tf.Tensor, tf.Tensor];
}

/**
 * A resumable, seeded source of mini-batches of type `B`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { type Batch, type Sampler, shuffledBatches } from "./batches.ts";
 * const s: Sampler<Batch> = shuffledBatches(tf.zeros([8, 2]), new Int32Array(8), { batchSize: 4 });
 * const saved = s.state();
 * s.next();
 * s.setState(saved); // the next batch is the same one again
 * ```
 */
export interface Sampler<B> {
  /** The next batch. */
  next(): B;
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  /** Serialisable position (epoch, batch, RNG state) for checkpoints. */
  state(): SamplerState;
  /** Restores a position from {@linkcode Sampler.state}. */
  setState(state: SamplerState): void;
}

/**
 * A {@linkcode Sampler} whose batches are produced asynchronously (for example decoded from
 * image files by worker threads while the training step runs); `train` awaits `next()`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { type AsyncSampler, type Batch, shuffledBatches } from "./batches.ts";
 * const base = shuffledBatches(tf.zeros([8, 2]), new Int32Array(8), { batchSize: 4 });
 * const s: AsyncSampler<Batch> = { ...base, next: () => Promise.resolve(base.next()) };
 * const batch = await s.next();
 * ```
 */
export interface AsyncSampler<B> extends Omit<Sampler<B>, "next"> {
  /** The next batch. */
  next(): Promise<B>;
}

/**
 * A resumable source of labelled mini-batches ({@linkcode Batch}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const s: BatchSampler = shuffledBatches(tf.zeros([8, 2]), new Int32Array(8), { batchSize: 4 });
 * ```
 */
export type BatchSampler = Sampler<Batch>;

/**
 * Position of a {@linkcode Sampler}: JSON-serialisable.
 *
 * @example
 * ```ts
 * const state: SamplerState = { epoch: 2, batch: 5, rngState: 123456 };
 * ```
 */
export interface SamplerState {
  /** Completed epochs. */
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /**
   * The RNG state that restores the position: for {@linkcode shuffledBatches} the state at the
   * start of the current epoch, for the samplers of `samplers.ts` the current state.
   */
  rngState: number;
}

/**
 * Checks that `state` is a {@linkcode SamplerState}.
 *
 * @throws Error naming `who` and the bad field.
 * @example
 * ```ts
 * import { checkSamplerState } from "./batches.ts";
 * checkSamplerState({ epoch: 0, batch: 3, rngState: 7 }, "demo"); // ok
 * ```
 */
export function checkSamplerState(state: SamplerState, who: string): void {
  for (const key of ["epoch", "batch", "rngState"] as const) {
    const v = state?.[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      throw new Error(`${who}.setState: state.${key} must be a non-negative integer, got ${v}`);
    }
  }
}

/**
 * Shuffled batches of `batchSize` (the last partial batch of an epoch is dropped), reshuffled each
 * epoch with a seeded RNG; the same seed gives the same batches.
 *
 * @param x inputs `[n, ...]` (kept; not disposed by the sampler)
 * @param labels `[n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { shuffledBatches } from "./batches.ts";
 * const s = shuffledBatches(tf.zeros([10, 2]), new Int32Array(10), { batchSize: 4, seed: 1 });
 * const { x, y } = s.next();
 * console.log(x.shape, y.shape); // [4, 2] [4]
 * ```
 */
export function shuffledBatches(
  x: tf.Tensor,
  labels: Int32Array | readonly number[],
  options: { batchSize: number; seed?: number },
): BatchSampler {
  checkOptionKeys("shuffledBatches", options, ["batchSize", "seed"]);
  const n = x.shape[0];
  const { batchSize, seed = 0 } = options;
  if (labels.length !== n) {
    throw new Error(`shuffledBatches: ${labels.length} labels for ${n} inputs`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) {
    throw new Error(`shuffledBatches: batchSize must be an integer in [1, ${n}], got ${batchSize}`);
  }
  const labelArray = Int32Array.from(labels);
  const rng = createRng(seed);
  const perEpoch = Math.floor(n / batchSize);
  let epoch = 0;
  let batch = 0;
  let epochStart = rng.state();
  let order = new Int32Array(n);
  const reshuffle = () => {
    epochStart = rng.state();
    order = Int32Array.from({ length: n }, (_, i) => i);
    rng.shuffle(order);
  };
  reshuffle();
  return {
    batchesPerEpoch: perEpoch,
    next(): Batch {
      if (batch >= perEpoch) {
        epoch++;
        batch = 0;
        reshuffle();
      }
      const idx = order.subarray(batch * batchSize, (batch + 1) * batchSize);
      batch++;
      return tf.tidy(() => {
        const indices = tf.tensor1d(idx, "int32");
        const y = tf.tensor1d(Array.from(idx, (i) => labelArray[i]), "int32");
        return { x: tf.gather(x, indices), y };
      });
    },
    state: () => ({ epoch, batch, rngState: epochStart }),
    setState(state: SamplerState) {
      checkSamplerState(state, "shuffledBatches");
      rng.setState(state.rngState);
      reshuffle();
      epoch = state.epoch;
      batch = state.batch;
    },
  };
}
