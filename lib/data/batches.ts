/**
 * Seeded, shuffled mini-batches over an in-memory labelled dataset.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng } from "./random.ts";

/** A mini-batch: inputs `[b, ...]` and int32 labels `[b]`. The receiver disposes them. */
export interface Batch {
  /** Inputs `[b, ...shape]`. */
  x: tf.Tensor;
  /** Labels `[b]`, int32. */
  y: tf.Tensor1D;
}

/** A resumable source of mini-batches. */
export interface BatchSampler {
  /** The next batch. */
  next(): Batch;
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  /** Serialisable position (epoch, batch, RNG state) for checkpoints. */
  state(): SamplerState;
  /** Restores a position from {@linkcode BatchSampler.state}. */
  setState(state: SamplerState): void;
}

/** Position of a {@linkcode BatchSampler}. */
export interface SamplerState {
  /** Completed epochs. */
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** The RNG state at the start of the current epoch. */
  rngState: number;
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
      rng.setState(state.rngState);
      reshuffle();
      epoch = state.epoch;
      batch = state.batch;
    },
  };
}
