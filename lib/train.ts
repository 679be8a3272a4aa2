/**
 * The one training loop, used by experiments, notebooks and benchmarks.
 *
 * What it guarantees:
 *
 * - **Progress**: a bar on a terminal, a plain line every few seconds otherwise, and in Jupyter
 *   (`Deno.jupyter` present) a line every 30 s, so cell output never floods.
 * - **History**: the loss of every step, and the metrics of an `evaluate` callback every
 *   `evaluateEvery` steps and at the end; `onStep` / `onEvaluate` callbacks for live plots.
 * - **Recorders** (`recorders`, see `train_recorder.ts`): per-step scalars of the batch's own
 *   embeddings (kept in each step's `metrics`), and measurements of the model at the start, every
 *   few steps and at the end (embedding spread, pair-distance snapshots): a run's bookkeeping
 *   without code around the loop.
 * - **Progress** shows the loss averaged over the last steps and names its reduction.
 * - **Checkpoints** (`checkpointDir`) every `checkpointEvery` steps and at the end: model
 *   (`tf.loadLayersModel` format), optimizer state, sampler position (with its RNG state), step
 *   and history, plus the caller's `extraState` (JSON) and `extraVariables`; see
 *   `io/checkpoint.ts` for the atomic layout.
 * - **Resume** (`resume: true`) continues from the latest checkpoint and ends with the same
 *   weights, losses and metrics as an uninterrupted run on the same backend (bit-equal on `cpu`).
 * - **NaN guard**: a NaN or infinite loss stops training with an error naming the step, before
 *   the update is applied; the model keeps its last good weights and the last good checkpoint
 *   stays on disk.
 * - **No tensor leaks**: `tf.memory().numTensors` does not grow with the number of steps.
 * - **Determinism**: the same seeds and backend give the same losses.
 * - **Stopping**: an `AbortSignal` (`signal`) stops after the current step and writes a
 *   checkpoint.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { AsyncSampler, Batch, Sampler } from "./data/batches.ts";
import { createProgress, type Progress, type ProgressOptions } from "./io/progress.ts";
import { restoreCheckpoint, saveCheckpoint } from "./io/checkpoint.ts";
import { checkOptionKeys } from "./validate.ts";
import { isLoss } from "./losses/_template.ts";
import type { TrainRecorder } from "./train_recorder.ts";
import { applyGradients } from "./kernels/adam.ts";

/**
 * A loss over a batch of embeddings `[b, d]` and their labels `[b]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { contrastiveLoss } from "./losses/mod.ts";
 * const loss: BatchLoss = (e, y) => contrastiveLoss(e, y);
 * const value = loss(tf.tensor2d([[1, 0], [0, 1]]), tf.tensor1d([0, 0], "int32"));
 * assert.ok(Math.abs(value.dataSync()[0] - Math.SQRT2) < 1e-5); // one positive pair at √2
 * ```
 */
export type BatchLoss = (embeddings: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;

/**
 * A loss that owns state: learnable variables optimised with the model's weights (class weights,
 * proxies: a {@linkcode TrainableLoss}), and/or state that a checkpoint must carry (a memory
 * queue, a histogram). `train()` takes one as `loss`; so does a loss function with `state` /
 * `setState` properties (`crossBatchMemory`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcFaceLoss } from "./losses/mod.ts";
 * const loss: StatefulLoss = new ArcFaceLoss({ numClasses: 10, embeddingSize: 64 });
 * assert.equal(loss.trainableWeights?.length, 1);
 * ```
 */
export interface StatefulLoss {
  /** The loss of embeddings `[b, d]` and their labels `[b]`. */
  call(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar;
  /** Variables trained with the model's weights (and saved in checkpoints), in a fixed order. */
  readonly trainableWeights?: readonly tf.Variable[];
  /** Its checkpoint state besides the variables (JSON, typed arrays allowed). */
  state?(): unknown | Promise<unknown>;
  /** Restores what `state()` returned. */
  setState?(state: unknown): void;
}

/** A loss function that carries checkpoint state (e.g. `crossBatchMemory`). */
type StatefulLossFunction = BatchLoss & {
  state?(): unknown | Promise<unknown>;
  setState?(state: unknown): void;
  trainableWeights?: readonly tf.Variable[];
};

/**
 * A training objective on a whole batch (for heads, Siamese and triplet networks): runs the
 * forward pass itself (in training mode) and returns the scalar loss.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PairBatch } from "./data/batches.ts";
 * import { classificationHead } from "./heads/mod.ts";
 * import { mlpEncoder } from "./models/mod.ts";
 * const head = classificationHead(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 }));
 * const objective: Objective<PairBatch> = head.loss;
 * assert.equal(typeof objective, "function");
 * ```
 */
export type Objective<B> = (batch: B) => tf.Scalar;

/**
 * One training step's record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const r: StepRecord = { step: 1, loss: 0.7, seconds: 0.1 };
 * assert.equal(r.metrics, undefined); // present only when recorders add batch metrics
 * ```
 */
export interface StepRecord {
  /** 1-based step number. */
  step: number;
  /** The batch loss before the update. */
  loss: number;
  /** Seconds since training started (in this process). */
  seconds: number;
  /** The recorders' per-step scalars of this batch (`TrainRecorder.batchMetrics`), if any. */
  metrics?: Record<string, number>;
}

/**
 * One evaluation's record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const r: EvaluationRecord = { step: 100, metrics: { mapAtR: 0.4 } };
 * assert.equal(r.metrics.mapAtR, 0.4);
 * ```
 */
export interface EvaluationRecord {
  /** The step after which it ran. */
  step: number;
  /** What the `evaluate` callback returned. */
  metrics: Record<string, number>;
}

/**
 * What an `evaluate` callback receives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlpEncoder } from "./models/mod.ts";
 * const evaluate = ({ step }: EvaluateContext) => ({ step });
 * const model = mlpEncoder({ inputShape: [4], embeddingDim: 2 });
 * assert.deepEqual(evaluate({ step: 3, model }), { step: 3 });
 * ```
 */
export interface EvaluateContext {
  /** Completed steps. */
  step: number;
  /** The model being trained. */
  model: tf.LayersModel;
}

/**
 * Options of {@linkcode train}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Batch } from "./data/batches.ts";
 * const partial: Partial<TrainOptions<Batch>> = { steps: 100, evaluateEvery: 20 };
 * assert.equal(partial.steps! / partial.evaluateEvery!, 5); // five evaluations
 * ```
 */
export interface TrainOptions<B = Batch> {
  /**
   * The model to train (its trainable weights are updated in place) and to checkpoint: an
   * encoder, or a head / Siamese / triplet network containing the encoder.
   */
  model: tf.LayersModel;
  /**
   * For {@linkcode Batch} samplers: the loss of `model(x)` and the labels `y` — a function, or a
   * {@linkcode StatefulLoss} whose variables are trained with the model's and saved (with its
   * state) in checkpoints.
   */
  loss?: BatchLoss | StatefulLoss;
  /** For any sampler: the loss of a batch (takes precedence over `loss`). */
  objective?: Objective<B>;
  /** Where batches come from (an asynchronous sampler, such as `imageBatches`, is awaited). */
  sampler: Sampler<B> | AsyncSampler<B>;
  /** Total number of optimisation steps (including those of a resumed checkpoint). */
  steps: number;
  /** The optimiser. Default Adam with learning rate 1e-3. */
  optimizer?: tf.Optimizer;
  /**
   * A separate optimiser for the loss's own variables (a {@linkcode StatefulLoss}'s
   * `trainableWeights`). Default: `optimizer` itself, or with `lossLearningRateMultiplier` ≠ 1 an
   * optimiser of `optimizer`'s class and settings with the learning rate multiplied.
   */
  lossOptimizer?: tf.Optimizer;
  /**
   * Learning rate of the loss's variables relative to the model's, e.g. 100 for proxies as
   * ProxyAnchor's paper trains them (an optimiser's learning rate, not a gradient scale: Adam
   * ignores gradient scales). Default 1. Exclusive with `lossOptimizer`.
   */
  lossLearningRateMultiplier?: number;
  /** Called after every step. */
  onStep?: (record: StepRecord) => void;
  /** Computes evaluation metrics; called every `evaluateEvery` steps and after the last step. */
  evaluate?: (context: EvaluateContext) => Promise<Record<string, number>> | Record<string, number>;
  /** Steps between evaluations (0: only after the last step). Default 0. */
  evaluateEvery?: number;
  /** Called after every evaluation. */
  onEvaluate?: (record: EvaluationRecord) => void;
  /** Directory of checkpoints; none are written without it. */
  checkpointDir?: string;
  /** Steps between checkpoints (0: only at the end or on abort). Default 0. */
  checkpointEvery?: number;
  /** Checkpoints kept. Default 2. */
  keepCheckpoints?: number;
  /** Continue from the latest checkpoint in `checkpointDir`, if there is one. Default false. */
  resume?: boolean;
  /** Stops after the current step (and writes a checkpoint) once aborted. */
  signal?: AbortSignal;
  /**
   * Caller state saved in every checkpoint (as `state.extra`, JSON) and handed back on resume
   * before the first step, for values that callbacks accumulate (counters, tracked metrics).
   */
  extraState?: { save(): unknown; restore(saved: unknown): void };
  /** Variables outside the model saved in every checkpoint and restored by name on resume. */
  extraVariables?: Record<string, tf.Variable>;
  /** Progress display; `false` for none. */
  progress?: false | ProgressOptions;
  /**
   * Recorders of the run (`train_recorder.ts`): per-step batch scalars and periodic measurements
   * of the model. Batch scalars need `loss` (they see its embeddings).
   */
  recorders?: readonly TrainRecorder[];
  /**
   * How the progress display names the loss, e.g. `"contrastive, avgNonZero"`; default the
   * reduction of `loss` when it is a library loss (`contrastiveLoss.with({...})`), else
   * `"batch loss"`.
   */
  lossLabel?: string;
}

/**
 * What {@linkcode train} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainResult } from "./train.ts";
 * const report = (result: TrainResult) => `${result.history.at(-1)?.loss} ${result.stopped}`;
 * const history = [{ step: 1, loss: 0.5, seconds: 0.1 }];
 * const result: TrainResult = {
 *   history, evaluations: [], seconds: 0.1, imagesPerSecond: 0, step: 1, stopped: "completed",
 *   resumedFrom: 0,
 * };
 * assert.equal(report(result), "0.5 completed");
 * ```
 */
export interface TrainResult {
  /** Loss per step (including the steps of a resumed checkpoint). */
  history: StepRecord[];
  /** Evaluations (including those of a resumed checkpoint). */
  evaluations: EvaluationRecord[];
  /** Wall-clock seconds spent training in this call. */
  seconds: number;
  /** Training throughput in this call: inputs through the model per second (all tuple members). */
  imagesPerSecond: number;
  /** Completed steps. */
  step: number;
  /** `"completed"`, or `"aborted"` when `signal` stopped training early. */
  stopped: "completed" | "aborted";
  /** The step of the checkpoint training resumed from (0 when it started afresh). */
  resumedFrom: number;
  /** The last checkpoint written or resumed from, if any. */
  checkpoint?: string;
}

/**
 * True when running inside Deno's Jupyter kernel (`Deno.jupyter` exists).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inJupyter } from "./train.ts";
 * assert.equal(inJupyter(), false); // false outside a notebook
 * ```
 */
export function inJupyter(): boolean {
  try {
    // Outside the kernel, reading Deno.jupyter throws.
    return typeof (Deno as unknown as { jupyter?: { display?: unknown } }).jupyter?.display ===
      "function";
  } catch {
    return false;
  }
}

/**
 * Examples in a batch, counting every input: `x.shape[0]` for `{ x, y }`, the sum of the first
 * dimensions of `inputs` for pair and triplet batches.
 */
function examplesIn(batch: unknown): number {
  const b = batch as { x?: unknown; inputs?: unknown };
  if (b.x instanceof tf.Tensor) return b.x.shape[0] ?? 0;
  if (Array.isArray(b.inputs)) {
    return b.inputs.reduce((s: number, t) => s + (t instanceof tf.Tensor ? t.shape[0] ?? 0 : 0), 0);
  }
  return 0;
}

/** How the progress display names the loss: its reduction when the loss says. */
function lossLabelOf(options: { loss?: unknown; lossLabel?: string }): string {
  if (options.lossLabel) return options.lossLabel;
  if (isLoss(options.loss)) {
    const reduction = options.loss.boundOptions.reduction ?? options.loss.definition.reduction ??
      "mean";
    return `reduction ${typeof reduction === "string" ? reduction : reduction.name}`;
  }
  return "batch loss";
}

/** Steps over which the progress display averages the loss. */
const SMOOTHING = 20;

/** The trainable variables of `model`, in the model's (deterministic) order. */
function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** What `train` needs of its `loss`: the call, its variables, its checkpoint state. */
interface LossParts {
  call: BatchLoss;
  /** Its trainable variables, in order. */
  variables: tf.Variable[];
  /** The same, by the names checkpoints keep them under (`loss/<name>`). */
  named: Record<string, tf.Variable>;
  /** Whether it has a `state()` / `setState()` to checkpoint. */
  hasState: boolean;
  saveState(): Promise<unknown>;
  restoreState(saved: unknown): void;
}

/** Float32/Int32 arrays inside a loss's state, as JSON-safe tagged arrays (exact for float32). */
function toJson(value: unknown): unknown {
  if (value instanceof Float32Array || value instanceof Int32Array) {
    return {
      $typed: value instanceof Float32Array ? "float32" : "int32",
      values: Array.from(value),
    };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === "object") {
    const o = value as { $typed?: string; values?: number[] };
    if (o.$typed === "float32") return Float32Array.from(o.values!);
    if (o.$typed === "int32") return Int32Array.from(o.values!);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJson(v)]));
  }
  return value;
}

function lossParts(loss: BatchLoss | StatefulLoss): LossParts {
  const stateful = loss as StatefulLoss & StatefulLossFunction;
  const call: BatchLoss = typeof loss === "function"
    ? loss
    : (e, y) => (loss as StatefulLoss).call(e, y);
  if (typeof loss !== "function" && typeof (loss as StatefulLoss)?.call !== "function") {
    throw new Error("train: loss must be a function or an object with call(embeddings, labels)");
  }
  const variables = [...(stateful.trainableWeights ?? [])];
  for (const v of variables) {
    if (!(v instanceof tf.Variable)) {
      throw new Error("train: the loss's trainableWeights must be tf.Variables");
    }
  }
  // A TrainableLoss names its variables (W, proxies, …); others are numbered.
  const own = (loss as { variables?: Record<string, tf.Variable> }).variables;
  const names = variables.map((v, i) => {
    const found = own && Object.entries(own).find(([, w]) => w === v)?.[0];
    return `loss/${found ?? i}`;
  });
  const hasState = typeof stateful.state === "function" && typeof stateful.setState === "function";
  return {
    call,
    variables,
    named: Object.fromEntries(variables.map((v, i) => [names[i], v])),
    hasState,
    async saveState() {
      return toJson(await stateful.state!());
    },
    restoreState(saved) {
      if (hasState) stateful.setState!(fromJson(saved));
    },
  };
}

/** A named tensor, as optimisers' `getWeights` return them. */
type NamedTensor = { name: string; tensor: tf.Tensor };

/**
 * One optimiser over two groups of variables (the model's, the loss's), each updated by its
 * own optimiser; its `getWeights`/`setWeights` carry both (with Adam's running β powers, so a
 * resumed run is bit-equal), so that a checkpoint sees one optimiser.
 */
class GroupedOptimizer extends tf.Optimizer {
  static get className(): string {
    return "GroupedOptimizer";
  }
  constructor(
    readonly groups: { optimizer: tf.Optimizer; names: Set<string> }[],
  ) {
    super();
  }
  override applyGradients(grads: tf.NamedTensorMap | NamedTensor[]): void {
    const map: tf.NamedTensorMap = Array.isArray(grads)
      ? Object.fromEntries(grads.map((g) => [g.name, g.tensor]))
      : grads;
    for (const g of this.groups) {
      const part: tf.NamedTensorMap = {};
      for (const [name, t] of Object.entries(map)) if (g.names.has(name)) part[name] = t;
      if (Object.keys(part).length) applyGradients(g.optimizer, part);
    }
  }
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [];
    for (const [k, g] of this.groups.entries()) {
      for (const w of await g.optimizer.getWeights()) out.push({ ...w, name: `g${k}/${w.name}` });
      for (const [key, v] of Object.entries(g.optimizer)) {
        if (v instanceof tf.Variable && v.rank === 0) {
          out.push({ name: `g${k}/$${key}`, tensor: v });
        }
      }
    }
    return out;
  }
  override async setWeights(weights: NamedTensor[]): Promise<void> {
    for (const [k, g] of this.groups.entries()) {
      const prefix = `g${k}/`;
      const mine = weights.filter((w) => w.name.startsWith(prefix))
        .map((w) => ({ ...w, name: w.name.slice(prefix.length) }));
      await g.optimizer.setWeights(mine.filter((w) => !w.name.startsWith("$")));
      for (const w of mine.filter((w) => w.name.startsWith("$"))) {
        const v = (g.optimizer as unknown as Record<string, unknown>)[w.name.slice(1)];
        if (v instanceof tf.Variable) tf.tidy(() => v.assign(w.tensor));
      }
    }
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

/** An optimiser of `optimizer`'s class and settings with the learning rate times `factor`. */
function scaledCopy(optimizer: tf.Optimizer, factor: number): tf.Optimizer {
  const config = optimizer.getConfig() as Record<string, unknown>;
  const cls = optimizer.constructor as unknown as {
    fromConfig(cls: unknown, config: tf.serialization.ConfigDict): tf.Optimizer;
  };
  if (typeof config.learningRate !== "number" || typeof cls.fromConfig !== "function") {
    throw new Error(
      "train: lossLearningRateMultiplier needs an optimiser with a learningRate setting; " +
        "give lossOptimizer instead",
    );
  }
  return cls.fromConfig(cls, {
    ...config,
    learningRate: config.learningRate * factor,
  } as tf.serialization.ConfigDict);
}

/**
 * Trains `model` for `steps` mini-batches (see the module documentation for progress, history,
 * checkpoints, resume, the NaN guard and stopping).
 *
 * @throws Error naming the step when the loss becomes NaN or infinite; the update of that step
 * is not applied.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
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
 *   checkpointDir: "/tmp/ckpt-demo", resume: true,
 * });
 * assert.equal(result.history.length, 5);
 * assert.equal(result.step, 5);
 * ```
 */
export async function train<B = Batch>(options: TrainOptions<B>): Promise<TrainResult> {
  checkOptionKeys("train", options, [
    "model",
    "loss",
    "objective",
    "sampler",
    "steps",
    "optimizer",
    "lossOptimizer",
    "lossLearningRateMultiplier",
    "onStep",
    "evaluate",
    "evaluateEvery",
    "onEvaluate",
    "checkpointDir",
    "checkpointEvery",
    "keepCheckpoints",
    "resume",
    "signal",
    "extraState",
    "extraVariables",
    "progress",
    "recorders",
    "lossLabel",
  ]);
  const { model, sampler, steps, signal } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new Error(`train: steps must be a non-negative integer, got ${steps}`);
  }
  const every = (name: string, value: number | undefined) => {
    const v = value ?? 0;
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`train: ${name} must be a non-negative integer, got ${value}`);
    }
    return v;
  };
  const evaluateEvery = every("evaluateEvery", options.evaluateEvery);
  const checkpointEvery = every("checkpointEvery", options.checkpointEvery);
  const { checkpointDir } = options;
  if (options.resume && !checkpointDir) {
    throw new Error("train: resume needs checkpointDir");
  }
  const multiplier = options.lossLearningRateMultiplier ?? 1;
  if (typeof multiplier !== "number" || !Number.isFinite(multiplier) || multiplier <= 0) {
    throw new Error(`train: lossLearningRateMultiplier must be a number > 0, got ${multiplier}`);
  }
  if (options.lossOptimizer !== undefined && options.lossLearningRateMultiplier !== undefined) {
    throw new Error("train: give lossOptimizer or lossLearningRateMultiplier, not both");
  }
  const recorders = options.recorders ?? [];
  const measured = recorders.filter((r) => r.batchMetrics);
  if (measured.length && !options.loss) {
    throw new Error("train: recorders with batchMetrics need `loss` (they read its embeddings)");
  }
  let batchScalars: Record<string, tf.Scalar> | undefined;
  let objective: Objective<B>;
  let parts: LossParts | undefined;
  if (options.objective) {
    objective = options.objective;
  } else if (options.loss) {
    parts = lossParts(options.loss);
    const loss = parts.call;
    objective = (batch: B) => {
      const { x, y } = batch as unknown as Batch;
      if (!(x instanceof tf.Tensor) || !(y instanceof tf.Tensor)) {
        throw new Error("train: `loss` needs batches { x, y }; give `objective` for other batches");
      }
      const embeddings = model.apply(x, { training: true }) as tf.Tensor2D;
      if (measured.length) batchScalars = keepBatchMetrics(measured, embeddings, y);
      return loss(embeddings, y);
    };
  } else {
    throw new Error("train: give either `loss` (for { x, y } batches) or `objective`");
  }
  if (!parts?.variables.length && (options.lossOptimizer || multiplier !== 1)) {
    throw new Error(
      "train: lossOptimizer and lossLearningRateMultiplier need a loss with trainableWeights",
    );
  }
  const modelVariables = trainableVariables(model);
  if (modelVariables.length === 0) throw new Error("train: the model has no trainable weights");
  const lossVariables = parts?.variables ?? [];
  const variables = [...modelVariables, ...lossVariables];
  const mainOptimizer = options.optimizer ?? tf.train.adam(1e-3);
  // The loss's variables: in the model's optimiser, or in their own (given, or scaled).
  const lossOptimizer = options.lossOptimizer ??
    (lossVariables.length && multiplier !== 1 ? scaledCopy(mainOptimizer, multiplier) : undefined);
  const optimizer: tf.Optimizer = lossOptimizer
    ? new GroupedOptimizer([
      { optimizer: mainOptimizer, names: new Set(modelVariables.map((v) => v.name)) },
      { optimizer: lossOptimizer, names: new Set(lossVariables.map((v) => v.name)) },
    ])
    : mainOptimizer;
  // What checkpoints keep besides the model: the caller's variables and the loss's.
  const checkpointVariables: Record<string, tf.Variable> | undefined =
    options.extraVariables || lossVariables.length
      ? { ...(options.extraVariables ?? {}), ...(parts?.named ?? {}) }
      : undefined;

  let history: StepRecord[] = [];
  let evaluations: EvaluationRecord[] = [];
  let start = 0;
  let checkpoint: string | undefined;
  if (options.resume && checkpointDir) {
    const restored = await restoreCheckpoint(checkpointDir, {
      model,
      optimizer,
      variables: checkpointVariables,
    });
    if (restored) {
      start = restored.step;
      checkpoint = restored.checkpointDir;
      const saved = restored as unknown as {
        sampler: ReturnType<Sampler<B>["state"]>;
        history: StepRecord[];
        evaluations: EvaluationRecord[];
        extra?: unknown;
        loss?: unknown;
      };
      sampler.setState(saved.sampler);
      if (options.extraState) options.extraState.restore(saved.extra);
      if (parts && saved.loss !== undefined) parts.restoreState(saved.loss);
      history = saved.history ?? [];
      evaluations = saved.evaluations ?? [];
      if (start > steps) {
        throw new Error(
          `train: the checkpoint in ${checkpointDir} is at step ${start} > steps ${steps}`,
        );
      }
    }
  }

  const progressOptions: ProgressOptions | undefined = options.progress === false ? undefined : {
    label: start > 0 ? `train (resumed at ${start})` : "train",
    ...(inJupyter() ? { terminal: false, intervalSeconds: 30 } : {}),
    ...options.progress,
  };
  const progress: Progress | undefined = progressOptions
    ? createProgress(steps - start, progressOptions)
    : undefined;

  const began = performance.now();
  let images = 0;
  let step = start;
  let lastSaved = start;
  const writeCheckpoint = async () => {
    if (!checkpointDir) return;
    checkpoint = await saveCheckpoint(checkpointDir, {
      model,
      optimizer,
      variables: checkpointVariables,
      state: {
        step,
        sampler: sampler.state(),
        history,
        evaluations,
        ...(options.extraState ? { extra: options.extraState.save() } : {}),
        ...(parts?.hasState ? { loss: await parts.saveState() } : {}),
      },
    }, { keep: options.keepCheckpoints ?? 2 });
    lastSaved = step;
  };
  const rate = () => {
    const s = (performance.now() - began) / 1000;
    return s > 0 ? images / s : 0;
  };
  let stopped: TrainResult["stopped"] = "completed";
  const label = lossLabelOf(options);
  const smoothed = () => {
    const last = history.slice(-SMOOTHING);
    const mean = last.reduce((a, r) => a + r.loss, 0) / Math.max(1, last.length);
    return `${mean.toPrecision(3)} (${label}, mean of last ${last.length})`;
  };
  const record = async (at: number, force: boolean) => {
    for (const r of recorders) {
      if (r.record && (force || (r.every && at % r.every === 0))) {
        await r.record({ step: at, model });
      }
    }
  };
  try {
    await record(step, true);
    while (step < steps) {
      const current = step + 1;
      const batch = await sampler.next();
      images += examplesIn(batch);
      let computed: { value: tf.Scalar; grads: tf.NamedTensorMap };
      try {
        computed = optimizer.computeGradients(() => objective(batch), variables);
      } finally {
        tf.dispose(batch as unknown as tf.TensorContainer);
      }
      const value = (await computed.value.data())[0];
      computed.value.dispose();
      const metrics = batchScalars ? await readScalars(batchScalars) : undefined;
      batchScalars = undefined;
      if (!Number.isFinite(value)) {
        tf.dispose(computed.grads);
        throw new Error(
          `train: the loss became ${value} at step ${current}; training stopped before applying ` +
            `that update` +
            (checkpointDir
              ? checkpoint
                ? `; the last good checkpoint is ${checkpoint} (step ${lastSaved})`
                : "; no checkpoint had been written yet"
              : ""),
        );
      }
      // tf.train.adam's update as one fused kernel per variable where the backend has it (same
      // numbers); any other optimizer applies its own update.
      applyGradients(optimizer, computed.grads);
      tf.dispose(computed.grads);
      step = current;
      const stepRecord: StepRecord = {
        step,
        loss: value,
        seconds: (performance.now() - began) / 1000,
        ...(metrics ? { metrics } : {}),
      };
      history.push(stepRecord);
      options.onStep?.(stepRecord);
      progress?.update({ done: step - start, fields: { loss: smoothed(), "img/s": rate() } });
      await record(step, step === steps);
      if (
        options.evaluate && ((evaluateEvery > 0 && step % evaluateEvery === 0) || step === steps)
      ) {
        const metrics = await options.evaluate({ step, model });
        const evaluation = { step, metrics };
        evaluations.push(evaluation);
        options.onEvaluate?.(evaluation);
      }
      const aborted = signal?.aborted === true && step < steps;
      if (
        checkpointDir &&
        ((checkpointEvery > 0 && step % checkpointEvery === 0) || step === steps || aborted)
      ) {
        await writeCheckpoint();
      }
      if (aborted) {
        stopped = "aborted";
        break;
      }
    }
  } finally {
    if (batchScalars) tf.dispose(Object.values(batchScalars));
    progress?.finish({
      done: step - start,
      fields: { loss: history.length ? smoothed() : "—", "img/s": rate() },
    });
    if (!options.optimizer) mainOptimizer.dispose();
    if (lossOptimizer && !options.lossOptimizer) lossOptimizer.dispose();
  }
  const seconds = (performance.now() - began) / 1000;
  return {
    history,
    evaluations,
    seconds,
    imagesPerSecond: seconds > 0 ? images / seconds : 0,
    step,
    stopped,
    resumedFrom: start,
    checkpoint,
  };
}

/** The recorders' batch scalars, kept beyond the gradient computation's scope. */
function keepBatchMetrics(
  recorders: readonly TrainRecorder[],
  embeddings: tf.Tensor2D,
  labels: tf.Tensor1D,
): Record<string, tf.Scalar> {
  const out: Record<string, tf.Scalar> = {};
  for (const r of recorders) {
    for (const [k, v] of Object.entries(r.batchMetrics!(embeddings, labels))) {
      if (k in out) {
        tf.dispose([...Object.values(out), v]);
        throw new Error(`train: two recorders report the batch metric "${k}"`);
      }
      out[k] = tf.keep(v);
    }
  }
  return out;
}

/** Reads and disposes kept scalars. */
async function readScalars(scalars: Record<string, tf.Scalar>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    for (const [k, v] of Object.entries(scalars)) out[k] = (await v.data())[0];
  } finally {
    tf.dispose(Object.values(scalars));
  }
  return out;
}
