/**
 * Recorders for `train()`: the bookkeeping of a training run — what the embedding of a held-out
 * probe set does over training, and scalars of each batch — done by the library instead of code
 * around the loop. Give them to `train({ ..., recorders: [...] })`; read their fields afterwards.
 *
 * - {@linkcode probeRecorder}: every `every` steps (and at the start and the end) embeds a probe
 *   set and records its spread (mean distance to the centroid: collapse shows as a fall to 0), and
 *   at chosen steps the distances of all its positive and negative pairs (for histograms).
 * - {@linkcode pairStepMetrics}: per step, on the batch the loss sees, what a contrastive loss's
 *   reduction hides: the fraction of positive and negative pairs still inside their margins
 *   ("active", the pairs `avgNonZero` averages over), the mean positive and negative distances, and
 *   the loss averaged over all pairs (PML's `MeanReducer`).
 * - {@linkcode stepMetrics}: any other per-step scalars of the batch's embeddings.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { pairwiseDistances } from "./distances.ts";
import { contrastiveLoss } from "./losses/mod.ts";
import { embed } from "./models/encoders.ts";
import { embeddingSpread, pairDistanceSamples } from "./viz/loss_figures.ts";
import type { EvaluateContext, StepRecord } from "./train.ts";

/**
 * What `train()` calls. Both parts are optional.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { TrainRecorder } from "./train_recorder.ts";
 * const norms: TrainRecorder = {
 *   batchMetrics: (e) => ({ meanNorm: tf.mean(tf.norm(e, "euclidean", 1)) as tf.Scalar }),
 * };
 * const m = norms.batchMetrics!(tf.tensor2d([[3, 4], [0, 1]]), tf.tensor1d([0, 1], "int32"));
 * assert.equal(m.meanNorm.dataSync()[0], 3); // (5 + 1) / 2
 * ```
 */
export interface TrainRecorder {
  /**
   * Scalars of a batch: the embeddings `[b, d]` the loss sees (training mode, same forward pass)
   * and their labels `[b]`. They are recorded in that step's `StepRecord.metrics` and carry no
   * gradient. Names must differ between recorders.
   */
  batchMetrics?(embeddings: tf.Tensor2D, labels: tf.Tensor1D): Record<string, tf.Scalar>;
  /** Called before the first step, every `every` steps, and after the last step. */
  record?(context: EvaluateContext): Promise<void> | void;
  /** Steps between `record` calls (0 or absent: only at the start and the end). */
  every?: number;
}

/**
 * A pair-distance snapshot of {@linkcode ProbeRecorder}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PairSnapshot } from "./train_recorder.ts";
 * const s: PairSnapshot = { step: 0, positive: [0.2], negative: [1.1] };
 * assert.ok(s.positive[0] < s.negative[0]);
 * ```
 */
export interface PairSnapshot {
  /** Completed steps when it was taken. */
  step: number;
  /** Distances of the probe's unordered positive pairs. */
  positive: number[];
  /** Distances of the probe's unordered negative pairs. */
  negative: number[];
}

/**
 * The recorder {@linkcode probeRecorder} returns, with what it recorded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { type ProbeRecorder, probeRecorder } from "./train_recorder.ts";
 * const probe: ProbeRecorder = probeRecorder(tf.zeros([4, 2]), Int32Array.of(0, 0, 1, 1));
 * assert.deepEqual(probe.spread, { steps: [], values: [] }); // filled as training runs
 * assert.equal(probe.snapshots.length, 0);
 * ```
 */
export interface ProbeRecorder extends TrainRecorder {
  /** Mean distance of the probe embeddings to their centroid, per recorded step. */
  readonly spread: { steps: number[]; values: number[] };
  /** Pair distances at the snapshot steps. */
  readonly snapshots: PairSnapshot[];
}

/**
 * Options of {@linkcode probeRecorder}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { probeRecorder, type ProbeRecorderOptions } from "./train_recorder.ts";
 * const options: ProbeRecorderOptions = { every: 25, snapshotSteps: [0, 100, 300] };
 * assert.equal(probeRecorder(tf.zeros([4, 2]), Int32Array.of(0, 0, 1, 1), options).every, 25);
 * ```
 */
export interface ProbeRecorderOptions {
  /** Steps between spread measurements. Default 25. */
  every?: number;
  /** Steps at which all pair distances are kept (those the run reaches). Default none. */
  snapshotSteps?: readonly number[];
  /** The network that embeds the probe; default the model being trained (give a head's encoder). */
  encoder?: tf.LayersModel;
}

/**
 * A recorder that embeds a held-out probe set at the start, every `every` steps and at the end,
 * recording the spread of its embeddings (`embeddingSpread`'s mean distance to the centroid) and,
 * at `snapshotSteps`, the Euclidean distances of all its positive and negative pairs.
 *
 * @param x probe inputs (e.g. `[n, 28, 28, 1]`)
 * @param labels `[n]` their labels
 * @throws RangeError for a bad `every` or a label count that does not match `x`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { train } from "./train.ts";
 * import { probeRecorder } from "./train_recorder.ts";
 * import { mlpEncoder } from "./models/mod.ts";
 * import { shuffledBatches } from "./data/batches.ts";
 * import { contrastiveLoss } from "./losses/mod.ts";
 * const x = tf.randomNormal([64, 4], 0, 1, "float32", 1);
 * const labels = Int32Array.from({ length: 64 }, (_, i) => i % 4);
 * const model = mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2, seed: 0 });
 * const probe = probeRecorder(x, labels, { every: 2, snapshotSteps: [0, 4] });
 * await train({
 *   model, loss: contrastiveLoss, steps: 4, progress: false, recorders: [probe],
 *   sampler: shuffledBatches(x, labels, { batchSize: 16, seed: 1 }),
 * });
 * assert.deepEqual(probe.spread.steps, [0, 2, 4]);
 * assert.deepEqual(probe.snapshots.map((s) => s.step), [0, 4]);
 * assert.equal(probe.snapshots[0].positive.length, 4 * (16 * 15) / 2); // 4 classes of 16
 * ```
 */
export function probeRecorder(
  x: tf.Tensor,
  labels: ArrayLike<number>,
  options: ProbeRecorderOptions = {},
): ProbeRecorder {
  const every = options.every ?? 25;
  if (!Number.isInteger(every) || every < 0) {
    throw new RangeError(`probeRecorder: every must be a non-negative integer, got ${every}`);
  }
  if (labels.length !== x.shape[0]) {
    throw new RangeError(`probeRecorder: ${labels.length} labels for ${x.shape[0]} probe inputs`);
  }
  const snapshotSteps = new Set(options.snapshotSteps ?? []);
  const spread = { steps: [] as number[], values: [] as number[] };
  const snapshots: PairSnapshot[] = [];
  return {
    every,
    spread,
    snapshots,
    async record({ step, model }) {
      if (spread.steps.at(-1) === step) return;
      const e = embed(options.encoder ?? model, x);
      try {
        spread.steps.push(step);
        spread.values.push(embeddingSpread(e).meanDistanceToCentroid);
        if (snapshotSteps.has(step)) {
          snapshots.push({ step, ...(await pairDistanceSamples(e, labels)) });
        }
      } finally {
        e.dispose();
      }
    },
  };
}

/**
 * Options of {@linkcode pairStepMetrics}: the contrastive loss's margins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairStepMetrics, type PairStepMetricsOptions } from "./train_recorder.ts";
 * const options: PairStepMetricsOptions = { posMargin: 0.3, negMargin: 1 };
 * const e = tf.tensor2d([[1, 0], [0.6, 0.8], [0, 1]]); // positive pair (0, 1) at 0.894
 * const m = pairStepMetrics(options).batchMetrics!(e, tf.tensor1d([0, 0, 1], "int32"));
 * assert.equal(m.activePositive.dataSync()[0], 1); // 0.894 > 0.3
 * ```
 */
export interface PairStepMetricsOptions {
  /** Positive pairs farther than this are active. Default 0 (PML's). */
  posMargin?: number;
  /** Negative pairs closer than this are active. Default 1 (PML's). */
  negMargin?: number;
}

/**
 * Per-step scalars of the batch that explain a contrastive loss's curve, on Euclidean distances
 * of the batch embeddings (the loss's own distance), over the unordered pairs `i < j`:
 *
 * - `activePositive`, `activeNegative`: the fraction of positive pairs with `d > posMargin` and of
 *   negative pairs with `d < negMargin` — the pairs with a non-zero loss, the only ones
 *   `avgNonZero` (PML's default reducer) averages over;
 * - `meanPositive`, `meanNegative`: the mean distance of positive and of negative pairs;
 * - `positiveTerm`, `negativeTerm`: the two terms of the loss as `avgNonZero` reduces them (each
 *   the mean hinge over its active pairs, 0 when none is); their sum is `contrastiveLoss` with its
 *   default reduction;
 * - `lossAllPairs`: the contrastive loss with the same margins averaged over all pairs (each
 *   sub-loss reduced by PML's `MeanReducer`): its negative part falls with the active fraction.
 *
 * @throws RangeError for a margin that is not a finite number ≥ 0.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairStepMetrics } from "./train_recorder.ts";
 * const e = tf.tensor2d([[1, 0], [0.6, 0.8], [0, 1]]);
 * const m = pairStepMetrics().batchMetrics!(e, tf.tensor1d([0, 0, 1], "int32"));
 * // of the negatives (0,2) at 1.414 and (1,2) at 0.632, one is within 1
 * assert.equal(m.activeNegative.dataSync()[0], 0.5);
 * ```
 */
export function pairStepMetrics(options: PairStepMetricsOptions = {}): TrainRecorder {
  const posMargin = options.posMargin ?? 0;
  const negMargin = options.negMargin ?? 1;
  for (const [name, v] of [["posMargin", posMargin], ["negMargin", negMargin]] as const) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`pairStepMetrics: ${name} must be a finite number ≥ 0, got ${v}`);
    }
  }
  return {
    batchMetrics(embeddings, labels) {
      return tf.tidy(() => {
        const e = embeddings;
        const n = e.shape[0];
        const d = pairwiseDistances(e, e, "euclidean");
        const y = tf.cast(labels, "int32");
        const same = tf.cast(tf.equal(tf.expandDims(y, 1), tf.expandDims(y, 0)), "float32");
        const ones = tf.ones([n, n]);
        const upper = tf.sub(tf.linalg.bandPart(ones, 0, -1), tf.linalg.bandPart(ones, 0, 0));
        const pos = tf.mul(same, upper);
        const neg = tf.mul(tf.sub(1, same), upper);
        const count = (m: tf.Tensor) => tf.maximum(tf.sum(m), 1);
        const meanOver = (v: tf.Tensor, m: tf.Tensor) => tf.div(tf.sum(tf.mul(v, m)), count(m));
        const posHinge = tf.relu(tf.sub(d, posMargin));
        const negHinge = tf.relu(tf.sub(negMargin, d));
        const activePos = tf.mul(tf.cast(tf.greater(posHinge, 0), "float32"), pos);
        const activeNeg = tf.mul(tf.cast(tf.greater(negHinge, 0), "float32"), neg);
        return {
          activePositive: meanOver(activePos, pos) as tf.Scalar,
          activeNegative: meanOver(activeNeg, neg) as tf.Scalar,
          meanPositive: meanOver(d, pos) as tf.Scalar,
          meanNegative: meanOver(d, neg) as tf.Scalar,
          positiveTerm: meanOver(posHinge, activePos) as tf.Scalar,
          negativeTerm: meanOver(negHinge, activeNeg) as tf.Scalar,
          lossAllPairs: contrastiveLoss(e, labels, { posMargin, negMargin, reduction: "mean" }),
        };
      });
    },
  };
}

/**
 * A recorder of any per-step scalars of the batch embeddings (see
 * {@linkcode TrainRecorder.batchMetrics}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { stepMetrics } from "./train_recorder.ts";
 * const meanNorm = (e: tf.Tensor2D) => tf.mean(tf.norm(e, "euclidean", 1)) as tf.Scalar;
 * const norms = stepMetrics((e) => ({ meanNorm: meanNorm(e) }));
 * const m = norms.batchMetrics!(tf.tensor2d([[3, 4], [0, 1]]), tf.tensor1d([0, 1], "int32"));
 * assert.equal(m.meanNorm.dataSync()[0], 3); // (5 + 1) / 2
 * ```
 */
export function stepMetrics(
  fn: (embeddings: tf.Tensor2D, labels: tf.Tensor1D) => Record<string, tf.Scalar>,
): TrainRecorder {
  return { batchMetrics: fn };
}

/**
 * One row of {@linkcode historySummary}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HistoryRow, historySummary } from "./train_recorder.ts";
 * const row: HistoryRow = { quantity: "loss", first: 0.86, last: 0.84 };
 * const history = [{ step: 1, loss: 0.86, seconds: 0 }, { step: 2, loss: 0.84, seconds: 0 }];
 * assert.deepEqual(historySummary(history, 1), [row]);
 * ```
 */
export interface HistoryRow {
  /** `"loss"` or the name of a recorded per-step metric. */
  quantity: string;
  /** Mean over the first `window` steps. */
  first: number;
  /** Mean over the last `window` steps. */
  last: number;
}

/**
 * The loss and every recorded per-step metric, averaged over the first and the last `window`
 * steps of a history: how a run started and how it ended, in one table.
 *
 * @param history `train()`'s history
 * @param window steps per average (default 20; fewer when the run is shorter)
 * @throws RangeError for an empty history or a window below 1.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historySummary } from "./train_recorder.ts";
 * const history = [
 *   { step: 1, loss: 1, seconds: 0, metrics: { activeNegative: 0.3 } },
 *   { step: 2, loss: 0.5, seconds: 0, metrics: { activeNegative: 0.1 } },
 * ];
 * assert.deepEqual(historySummary(history, 1), [
 *   { quantity: "loss", first: 1, last: 0.5 },
 *   { quantity: "activeNegative", first: 0.3, last: 0.1 },
 * ]);
 * ```
 */
export function historySummary(
  history: readonly Pick<StepRecord, "loss" | "metrics">[],
  window = 20,
): HistoryRow[] {
  if (history.length === 0) throw new RangeError("historySummary: the history is empty");
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`historySummary: window must be a positive integer, got ${window}`);
  }
  const w = Math.min(window, history.length);
  const keys = ["loss", ...new Set(history.flatMap((h) => Object.keys(h.metrics ?? {})))];
  const value = (h: (typeof history)[number], k: string) =>
    k === "loss" ? h.loss : h.metrics?.[k] ?? NaN;
  const mean = (part: typeof history, k: string) =>
    part.reduce((s, h) => s + value(h, k), 0) / part.length;
  return keys.map((quantity) => ({
    quantity,
    first: mean(history.slice(0, w), quantity),
    last: mean(history.slice(-w), quantity),
  }));
}
