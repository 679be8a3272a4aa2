/**
 * Loss wrappers, as pytorch-metric-learning (PML) defines them: a self-supervised form (each
 * embedding and its augmented view are each other's positives), a weighted sum of losses, and a
 * cross-batch memory (a queue of past embeddings that every batch is compared against).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { isLoss, type Loss, type LossOptions } from "./_template.ts";
import {
  allPairsIndices,
  concatIndices,
  isPairIndices,
  type Labels,
  labelsArray,
  type PairIndices,
  toPairs,
  toTriplets,
  type TripletIndices,
  type TupleIndices,
} from "./_tuples.ts";
import { stopGradient } from "./_ops.ts";
import { checkOptionKeys } from "../validate.ts";

/** A loss over a batch, as the wrappers call it. */
export type BatchLossFunction = (
  embeddings: tf.Tensor2D,
  labels: Labels,
  options?: { indices?: TupleIndices },
) => tf.Scalar;

/** A miner over a batch (`(embeddings, labels) => tuples`), e.g. `tripletMarginMiner`. */
export type BatchMiner = (embeddings: tf.Tensor2D, labels: Labels) => TupleIndices;

function checkSupported(
  fn: string,
  loss: unknown,
  flag: "selfSupervised" | "crossBatchMemory",
): Loss<LossOptions> {
  if (!isLoss(loss)) {
    throw new Error(`${fn}: loss must be a loss of this library (e.g. contrastiveLoss)`);
  }
  if (!loss.definition.wrappers?.[flag]) {
    throw new Error(`${fn}: ${loss.lossName} is not supported (as in PML)`);
  }
  return loss;
}

/** Options of {@linkcode selfSupervisedLoss}; PML's `SelfSupervisedLoss`. */
export interface SelfSupervisedLossOptions {
  /**
   * True (default): the loss runs on the `2n` rows `[embeddings; refEmbeddings]` with labels
   * `[0..n−1, 0..n−1]`; false: on `embeddings` against the reference set `refEmbeddings`.
   */
  symmetric?: boolean;
}

/** The function {@linkcode selfSupervisedLoss} returns. */
export type SelfSupervisedLoss = (
  embeddings: tf.Tensor2D,
  refEmbeddings: tf.Tensor2D,
) => tf.Scalar;

/**
 * PML's `SelfSupervisedLoss`: for views `embeddings[i]` and `refEmbeddings[i]` of the same input
 * (e.g. two augmentations), row `i` of one and row `i` of the other are positives, every other
 * pair negative — labels are the row numbers. Symmetric (default): `loss([e; r], [0..n−1,
 * 0..n−1])`; else `loss(e, [0..n−1], { refEmbeddings: r, refLabels: [0..n−1] })`. Supported
 * losses are PML's list (here: contrastive, triplet margin, NT-Xent, SupCon, multi-similarity,
 * circle, the lifted-structure losses, and the positive-pair and ring losses); bind other
 * options with `loss.with({ … })`.
 *
 * @param loss a supported loss, e.g. `ntXentLoss.with({ temperature: 0.1 })`
 * @param options `symmetric` (default true)
 * @returns `(embeddings [n, d], refEmbeddings [n, d]) => tf.Scalar`
 * @throws Error for an unsupported loss, an unknown option, or views of different shapes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { ntXentLoss } from "./ntxent.ts";
 * import { selfSupervisedLoss } from "./wrappers.ts";
 * const loss = selfSupervisedLoss(ntXentLoss);
 * const e = tf.tensor2d([[1, 0], [0, 1]]), views = tf.tensor2d([[0.9, 0.1], [0.1, 0.9]]);
 * const v = loss(e, views).dataSync()[0];
 * const same = ntXentLoss(tf.concat([e, views]) as tf.Tensor2D, [0, 1, 0, 1]).dataSync()[0];
 * assert.equal(v, same);
 * ```
 */
export function selfSupervisedLoss(
  loss: Loss<LossOptions>,
  options: SelfSupervisedLossOptions = {},
): SelfSupervisedLoss {
  const fn = "selfSupervisedLoss";
  const wrapped = checkSupported(fn, loss, "selfSupervised");
  checkOptionKeys(fn, options, ["symmetric"]);
  const symmetric = options.symmetric ?? true;
  if (typeof symmetric !== "boolean") {
    throw new Error(`${fn}: symmetric must be true or false, got ${symmetric}`);
  }
  return (embeddings, refEmbeddings) => {
    if (
      !(embeddings instanceof tf.Tensor) || !(refEmbeddings instanceof tf.Tensor) ||
      embeddings.rank !== 2 || embeddings.shape.join() !== refEmbeddings.shape.join()
    ) {
      throw new Error(
        `${fn}: embeddings and refEmbeddings must be [n, d] tensors of the same shape`,
      );
    }
    const n = embeddings.shape[0];
    const labels = Array.from({ length: n }, (_, i) => i);
    if (!symmetric) {
      // A copy: the very labels object would keep (i, i) out (PML's `ref_labels is labels`).
      return wrapped(embeddings, labels, { refEmbeddings, refLabels: labels.slice() });
    }
    return tf.tidy(() =>
      wrapped(tf.concat([embeddings, refEmbeddings], 0) as tf.Tensor2D, [...labels, ...labels])
    );
  };
}

/** Options of {@linkcode multipleLosses}; PML's `MultipleLosses`. */
export interface MultipleLossesOptions {
  /** One weight per loss (same keys, or same length); default 1 each. */
  weights?: readonly number[] | Readonly<Record<string, number>>;
  /** A miner per loss (a subset of the keys, or an array with `undefined` for none). */
  miners?: readonly (BatchMiner | undefined)[] | Readonly<Record<string, BatchMiner>>;
}

/** The function {@linkcode multipleLosses} returns. */
export type MultipleLosses = (
  embeddings: tf.Tensor2D,
  labels: Labels,
  options?: { indices?: TupleIndices },
) => tf.Scalar;

/**
 * PML's `MultipleLosses`: `Σ_k weights[k] · losses[k](embeddings, labels, { indices })`, each
 * loss with the tuples of its own miner when one is given (then `indices` must not be).
 *
 * @param losses an array or a record of losses (bind their options with `loss.with({ … })`)
 * @param options `weights`, `miners`
 * @returns `(embeddings [n, d], labels [n], { indices }?) => tf.Scalar`
 * @throws Error for mismatched weights or miners, non-finite weights, or `indices` with miners.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { contrastiveLoss } from "./contrastive.ts";
 * import { tripletMarginLoss } from "./triplet.ts";
 * import { multipleLosses } from "./wrappers.ts";
 * const both = multipleLosses([contrastiveLoss, tripletMarginLoss], { weights: [1, 0.5] });
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]), y = [0, 0, 1];
 * const sum = contrastiveLoss(e, y).dataSync()[0] + 0.5 * tripletMarginLoss(e, y).dataSync()[0];
 * assert.ok(Math.abs(both(e, y).dataSync()[0] - sum) < 1e-6);
 * ```
 */
export function multipleLosses(
  losses: readonly BatchLossFunction[] | Readonly<Record<string, BatchLossFunction>>,
  options: MultipleLossesOptions = {},
): MultipleLosses {
  const fn = "multipleLosses";
  checkOptionKeys(fn, options, ["weights", "miners"]);
  const isArray = Array.isArray(losses);
  if (losses === null || typeof losses !== "object") {
    throw new Error(`${fn}: losses must be an array or a record of losses`);
  }
  const keys = Object.keys(losses);
  if (keys.length === 0) throw new Error(`${fn}: no losses given`);
  const table = losses as Record<string, BatchLossFunction>;
  for (const k of keys) {
    if (typeof table[k] !== "function") throw new Error(`${fn}: losses[${k}] is not a function`);
  }
  const { weights, miners } = options;
  const shapeOf = (x: object, what: string, all: boolean) => {
    if (Array.isArray(x) !== isArray) {
      throw new Error(`${fn}: ${what} must be ${isArray ? "an array" : "a record"} like losses`);
    }
    const ks = Object.keys(x);
    if (all ? ks.length !== keys.length : ks.some((k) => !keys.includes(k))) {
      throw new Error(`${fn}: ${what} must ${all ? "match" : "be a subset of"} the losses' keys`);
    }
  };
  const w: Record<string, number> = {};
  if (weights !== undefined) shapeOf(weights, "weights", true);
  for (const k of keys) {
    const v = weights === undefined ? 1 : (weights as Record<string, number>)[k];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new Error(`${fn}: weights[${k}] must be a finite number, got ${v}`);
    }
    w[k] = v;
  }
  if (miners !== undefined) shapeOf(miners, "miners", isArray);
  const mine = (miners ?? {}) as Record<string, BatchMiner | undefined>;
  return (embeddings, labels, callOptions = {}) => {
    checkOptionKeys(fn, callOptions, ["indices"]);
    if (miners !== undefined && callOptions.indices !== undefined) {
      throw new Error(`${fn}: indices cannot be given when the losses have miners`);
    }
    return tf.tidy(() => {
      const parts = keys.map((k) => {
        const miner = mine[k];
        const indices = miner ? miner(embeddings, labels) : callOptions.indices;
        const value = table[k](embeddings, labels, indices ? { indices } : undefined);
        return tf.mul(value, w[k]);
      });
      return (parts.length === 1 ? parts[0] : tf.addN(parts)) as tf.Scalar;
    });
  };
}

/** A miner against a reference set: PML's `miner(embeddings, labels, ref_emb, ref_labels)`. */
export type ReferenceMiner = (
  embeddings: tf.Tensor2D,
  labels: Labels,
  refEmbeddings: tf.Tensor2D,
  refLabels: Labels,
) => TupleIndices;

/** Options of {@linkcode crossBatchMemory}; PML's `CrossBatchMemory`. */
export interface CrossBatchMemoryOptions {
  /** Dimension `d` of the embeddings. Required. */
  embeddingSize: number;
  /** Rows the queue holds. Default 1024. */
  memorySize?: number;
  /**
   * Tuples between the batch and the memory, e.g. `(e, y, re, ry) => multiSimilarityMiner(e, y,
   * { refEmbeddings: re, refLabels: ry })`; default all pairs. Either way, the comparisons of each
   * batch row to its own copy in the memory are removed.
   */
  miner?: ReferenceMiner;
}

/** Options of one call of a {@linkcode CrossBatchMemory}. */
export interface CrossBatchMemoryCallOptions {
  /** Extra tuples within the batch, added to the memory tuples (PML's `indices_tuple`). */
  indices?: TupleIndices;
  /**
   * Rows to put in the memory; the others are the queries (PML's `enqueue_mask`, e.g. one view of
   * each pair). Exclusive with `indices`.
   */
  enqueueMask?: readonly boolean[] | Uint8Array;
}

/** A {@linkcode CrossBatchMemory}'s queue as plain arrays. */
export interface CrossBatchMemoryState {
  /** `[memorySize, embeddingSize]` row-major. */
  embeddings: Float32Array;
  /** `[memorySize]`. */
  labels: Int32Array;
  /** Where the next batch is written. */
  queueIdx: number;
  /** True once the queue has wrapped around. */
  hasBeenFilled: boolean;
}

/** The stateful loss {@linkcode crossBatchMemory} returns. */
export interface CrossBatchMemory {
  /** The loss of the batch against the memory (after the batch is queued). */
  (embeddings: tf.Tensor2D, labels: Labels, options?: CrossBatchMemoryCallOptions): tf.Scalar;
  /** The wrapped loss. */
  readonly loss: Loss<LossOptions>;
  /** `d`. */
  readonly embeddingSize: number;
  /** Capacity of the queue. */
  readonly memorySize: number;
  /** Where the next batch is written. */
  readonly queueIdx: number;
  /** True once the queue has wrapped around. */
  readonly hasBeenFilled: boolean;
  /** The filled part of the memory: embeddings `[k, d]` (a new tensor) and labels `[k]`. */
  memory(): { embeddings: tf.Tensor2D; labels: Int32Array };
  /** The whole queue as plain arrays (for a checkpoint; an asynchronous read, as WebGPU needs). */
  state(): Promise<CrossBatchMemoryState>;
  /** Restores a queue saved by `state()` (same sizes). */
  setState(state: CrossBatchMemoryState): void;
  /** Empties the queue. */
  reset(): void;
  /** Frees the memory's tensors. */
  dispose(): void;
}

/** Removes positive pairs (or triplets) whose positive is the anchor's own copy in the memory. */
function removeSelfComparisons(
  t: TupleIndices,
  batchSlot: (p: number) => number,
): TupleIndices {
  const keep = (a: Int32Array, p: Int32Array) => a.map((ai, i) => batchSlot(p[i]) === ai ? 0 : 1);
  const filter = (x: Int32Array, k: Int32Array) => x.filter((_, i) => k[i] === 1);
  if (isPairIndices(t)) {
    const k = keep(t.a1, t.p);
    return { a1: filter(t.a1, k), p: filter(t.p, k), a2: t.a2, n: t.n };
  }
  const k = keep(t.a, t.p);
  return { a: filter(t.a, k), p: filter(t.p, k), n: filter(t.n, k) };
}

/**
 * PML's `CrossBatchMemory` (Wang et al. 2020, "Cross-Batch Memory for Embedding Learning"): a
 * queue of the last `memorySize` embeddings (detached) and labels. Each call queues the batch
 * (or its `enqueueMask` rows), then computes `loss(batch, labels, { indices, refEmbeddings:
 * memory, refLabels })` with the tuples of `miner` (default all pairs) between the batch and the
 * memory, without each row's comparison to its own copy. Usable as `train()`'s `loss`. Supported
 * losses are PML's list (contrastive, triplet margin, NT-Xent, SupCon, multi-similarity, circle,
 * the lifted-structure losses here, and the positive-pair and ring losses).
 *
 * @param loss a supported loss (bind options with `loss.with({ … })`)
 * @param options `embeddingSize` (required), `memorySize` (default 1024), `miner`
 * @returns the stateful loss, with `memory()`, `state()`/`setState()` (checkpoints), `reset()`
 *   and `dispose()`
 * @throws Error for an unsupported loss, bad sizes; on a call, a batch larger than the memory,
 *   an empty batch (PML fails on one), embeddings of another dimension, or both `indices` and
 *   `enqueueMask`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { contrastiveLoss } from "./contrastive.ts";
 * import { crossBatchMemory } from "./wrappers.ts";
 * const xbm = crossBatchMemory(contrastiveLoss, { embeddingSize: 2, memorySize: 4 });
 * xbm(tf.tensor2d([[1, 0], [0, 1]]), [0, 1]).dispose();
 * const v = xbm(tf.tensor2d([[0.9, 0.1], [0.1, 0.9]]), [0, 1]).dataSync()[0];
 * assert.ok(v > 0);
 * assert.equal(xbm.memory().labels.length, 4);
 * xbm.dispose();
 * ```
 */
export function crossBatchMemory(
  loss: Loss<LossOptions>,
  options: CrossBatchMemoryOptions,
): CrossBatchMemory {
  const fn = "crossBatchMemory";
  const wrapped = checkSupported(fn, loss, "crossBatchMemory");
  checkOptionKeys(fn, options, ["embeddingSize", "memorySize", "miner"]);
  const { embeddingSize, memorySize = 1024, miner } = options ?? {};
  for (const [name, v] of [["embeddingSize", embeddingSize], ["memorySize", memorySize]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`${fn}: ${name} must be an integer ≥ 1, got ${v}`);
    }
  }
  if (miner !== undefined && typeof miner !== "function") {
    throw new Error(`${fn}: miner must be a function (embeddings, labels, refEmb, refLabels)`);
  }
  let memory = tf.keep(tf.zeros([memorySize, embeddingSize])) as tf.Tensor2D;
  let previous: tf.Tensor | undefined; // freed on the next call, after the backward pass
  let labelMemory = new Int32Array(memorySize);
  let queueIdx = 0, filled = false;

  const call = (
    embeddings: tf.Tensor2D,
    labels: Labels,
    callOptions: CrossBatchMemoryCallOptions = {},
  ): tf.Scalar => {
    checkOptionKeys(fn, callOptions, ["indices", "enqueueMask"]);
    const { indices, enqueueMask } = callOptions;
    if (indices !== undefined && enqueueMask !== undefined) {
      throw new Error(`${fn}: indices and enqueueMask are mutually exclusive`);
    }
    if (!(embeddings instanceof tf.Tensor) || embeddings.rank !== 2) {
      throw new Error(`${fn}: embeddings must be a [n, d] tensor`);
    }
    const [n, d] = embeddings.shape;
    if (d !== embeddingSize) {
      throw new Error(`${fn}: embeddings have dimension ${d}, embeddingSize is ${embeddingSize}`);
    }
    if (n === 0) {
      throw new Error(
        `${fn}: embeddings is an empty batch (0 rows): PML's CrossBatchMemory fails on one ` +
          `(IndexError); nothing was queued`,
      );
    }
    const y = labelsArray(labels, n, fn);
    let queued = Array.from({ length: n }, (_, i) => i), queries = queued;
    if (enqueueMask !== undefined) {
      if (enqueueMask.length !== n) {
        throw new Error(`${fn}: enqueueMask has ${enqueueMask.length} entries, the batch ${n}`);
      }
      queued = queued.filter((i) => enqueueMask[i]);
      queries = queries.filter((i) => !enqueueMask[i]);
    }
    if (queued.length > memorySize) {
      throw new Error(`${fn}: ${queued.length} rows to queue exceed memorySize ${memorySize}`);
    }
    previous?.dispose();
    previous = undefined;
    return tf.tidy(() => {
      const pick = (rows: number[]) =>
        rows.length === n
          ? embeddings
          : tf.gather(embeddings, tf.tensor1d(rows, "int32")) as tf.Tensor2D;
      // Queue the rows (detached), as PML's add_to_memory.
      const start = queueIdx, b = queued.length;
      const slots = queued.map((_, k) => (start + k) % memorySize);
      if (b > 0) {
        const detached = stopGradient(pick(queued));
        const first = Math.min(b, memorySize - start);
        const parts: tf.Tensor[] = [];
        if (first < b) parts.push(tf.slice(detached, [first, 0], [b - first, d]));
        const keepFrom = first < b ? b - first : 0;
        if (start > keepFrom) parts.push(tf.slice(memory, [keepFrom, 0], [start - keepFrom, d]));
        parts.push(tf.slice(detached, [0, 0], [first, d]));
        if (start + first < memorySize) {
          parts.push(tf.slice(memory, [start + first, 0], [memorySize - start - first, d]));
        }
        previous = memory;
        memory = tf.keep(tf.concat(parts, 0)) as tf.Tensor2D;
        const newLabels = labelMemory.slice();
        queued.forEach((row, k) => (newLabels[slots[k]] = y[row]));
        labelMemory = newLabels;
        const prev = queueIdx;
        queueIdx = (queueIdx + b) % memorySize;
        if (!filled && queueIdx <= prev) filled = true;
      }
      const size = filled ? memorySize : queueIdx;
      const refEmbeddings = size === memorySize
        ? memory
        : tf.slice(memory, [0, 0], [size, d]) as tf.Tensor2D;
      const refLabels = labelMemory.slice(0, size);
      const qEmb = pick(queries), qY = Int32Array.from(queries, (i) => y[i]);
      let tuples: TupleIndices = miner
        ? miner(qEmb, qY, refEmbeddings, refLabels)
        : allPairsIndices(qY, refLabels);
      if (enqueueMask === undefined) {
        // Batch row i sits in slot (start + i) mod memorySize.
        const slotOf = new Map(slots.map((s, i) => [s, i]));
        tuples = removeSelfComparisons(tuples, (p) => slotOf.get(p) ?? -1);
      }
      if (indices !== undefined) {
        const extra: TupleIndices = isPairIndices(tuples)
          ? toPairs(qY, indices)
          : toTriplets(qY, indices);
        tuples = concatIndices<PairIndices | TripletIndices>(tuples, extra);
      }
      return wrapped(qEmb, qY, { indices: tuples, refEmbeddings, refLabels });
    });
  };
  const xbm = call as CrossBatchMemory;
  Object.defineProperties(xbm, {
    loss: { value: wrapped, enumerable: true },
    embeddingSize: { value: embeddingSize, enumerable: true },
    memorySize: { value: memorySize, enumerable: true },
    queueIdx: { get: () => queueIdx, enumerable: true },
    hasBeenFilled: { get: () => filled, enumerable: true },
    memory: {
      value: () => {
        const size = filled ? memorySize : queueIdx;
        return {
          embeddings: tf.slice(memory, [0, 0], [size, embeddingSize]) as tf.Tensor2D,
          labels: labelMemory.slice(0, size),
        };
      },
    },
    state: {
      value: async (): Promise<CrossBatchMemoryState> => {
        const labels = labelMemory.slice(), at = queueIdx, wrapped = filled;
        return {
          embeddings: Float32Array.from(await memory.data()),
          labels,
          queueIdx: at,
          hasBeenFilled: wrapped,
        };
      },
    },
    setState: {
      value: (st: CrossBatchMemoryState) => {
        if (
          st?.embeddings?.length !== memorySize * embeddingSize ||
          st.labels?.length !== memorySize || !Number.isInteger(st.queueIdx) ||
          st.queueIdx < 0 || st.queueIdx >= memorySize
        ) {
          throw new Error(`${fn}: the state does not fit a ${memorySize} × ${embeddingSize} queue`);
        }
        previous?.dispose();
        previous = undefined;
        memory.dispose();
        memory = tf.keep(tf.tensor2d(st.embeddings, [memorySize, embeddingSize]));
        labelMemory = Int32Array.from(st.labels);
        queueIdx = st.queueIdx, filled = st.hasBeenFilled === true;
      },
    },
    reset: {
      value: () => {
        previous?.dispose();
        previous = undefined;
        memory.dispose();
        memory = tf.keep(tf.zeros([memorySize, embeddingSize])) as tf.Tensor2D;
        labelMemory = new Int32Array(memorySize);
        queueIdx = 0, filled = false;
      },
    },
    dispose: {
      value: () => {
        previous?.dispose();
        previous = undefined;
        memory.dispose();
      },
    },
  });
  return xbm;
}
