/**
 * The one training loop, used by experiments, notebooks and benchmarks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BatchSampler } from "./data/batches.ts";
import { createProgress, type ProgressOptions } from "./io/progress.ts";

/** A loss over a batch of embeddings `[b, d]` and their labels `[b]`. */
export type BatchLoss = (embeddings: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;

/** One training step's record. */
export interface StepRecord {
  /** 1-based step number. */
  step: number;
  /** The batch loss before the update. */
  loss: number;
  /** Seconds since training started. */
  seconds: number;
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** The encoder to train (its weights are updated in place). */
  model: tf.LayersModel;
  /** The loss. */
  loss: BatchLoss;
  /** Where batches come from. */
  sampler: BatchSampler;
  /** Number of optimisation steps. */
  steps: number;
  /** The optimiser. Default Adam with learning rate 1e-3. */
  optimizer?: tf.Optimizer;
  /** Called after every step. */
  onStep?: (record: StepRecord) => void;
  /** Progress display; `false` for none. */
  progress?: false | ProgressOptions;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** Loss per step. */
  history: StepRecord[];
  /** Wall-clock seconds spent training. */
  seconds: number;
  /** Training throughput. */
  imagesPerSecond: number;
}

/**
 * Trains `model` for `steps` mini-batches, reporting progress, and stops with an error naming the
 * step if the loss becomes NaN or infinite.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { train } from "./train.ts";
 * import { mlpEncoder } from "./models/mod.ts";
 * import { shuffledBatches } from "./data/batches.ts";
 * import { contrastiveLoss } from "./losses/mod.ts";
 * const x = tf.randomNormal([64, 4]);
 * const labels = Int32Array.from({ length: 64 }, (_, i) => i % 4);
 * const model = mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 });
 * const result = await train({
 *   model, loss: contrastiveLoss, steps: 5, progress: false,
 *   sampler: shuffledBatches(x, labels, { batchSize: 16, seed: 1 }),
 * });
 * console.log(result.history.length); // 5
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { model, loss, sampler, steps } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new Error(`train: steps must be a non-negative integer, got ${steps}`);
  }
  const optimizer = options.optimizer ?? tf.train.adam(1e-3);
  const progress = options.progress === false
    ? undefined
    : createProgress(steps, { label: "train", ...options.progress });
  const history: StepRecord[] = [];
  const start = performance.now();
  let images = 0;
  for (let step = 1; step <= steps; step++) {
    const batch = sampler.next();
    const lossTensor = optimizer.minimize(
      () => loss(model.apply(batch.x, { training: true }) as tf.Tensor2D, batch.y),
      true,
    ) as tf.Scalar;
    images += batch.x.shape[0];
    batch.x.dispose();
    batch.y.dispose();
    const value = (await lossTensor.data())[0];
    lossTensor.dispose();
    if (!Number.isFinite(value)) {
      progress?.finish();
      throw new Error(`train: the loss became ${value} at step ${step}; training stopped`);
    }
    const seconds = (performance.now() - start) / 1000;
    const record = { step, loss: value, seconds };
    history.push(record);
    options.onStep?.(record);
    progress?.update({
      done: step,
      fields: { loss: value, "img/s": seconds > 0 ? images / seconds : 0 },
    });
  }
  const seconds = (performance.now() - start) / 1000;
  progress?.finish({
    done: steps,
    fields: { loss: history.at(-1)?.loss ?? NaN, "img/s": seconds > 0 ? images / seconds : 0 },
  });
  if (!options.optimizer) optimizer.dispose();
  return { history, seconds, imagesPerSecond: seconds > 0 ? images / seconds : 0 };
}
