/**
 * Similarity heads: networks that put a score on top of a shared encoder, one per formulation of
 * similarity learning.
 *
 * - **Regression** ({@linkcode regressionHead}): pair → real similarity ŷ, trained with the mean
 *   squared error against graded targets.
 * - **Classification** ({@linkcode classificationHead}): pair → P(similar) = σ(w · [|e1 − e2|,
 *   e1 ⊙ e2] + b) (optionally through hidden ReLU layers), trained with binary cross-entropy.
 * - **Ranking** ({@linkcode rankingHead}): triplet → scores s(a, p), s(a, n), trained with the
 *   margin ranking loss max(0, margin − (s(a, p) − s(a, n))), where s is the cosine similarity
 *   or a learned score on pair features.
 *
 * Each head is a `tf.LayersModel` (so that the training loop checkpoints it and
 * `tf.loadLayersModel` reloads it) that contains the encoder: training the head trains the
 * encoder, whose embeddings are then evaluated like any other.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import type { PairBatch, TripletBatch } from "../data/batches.ts";
import { PairFeatures } from "../models/layers.ts";
import { encoderInputShape } from "../models/networks.ts";
import { binaryCrossEntropyWithLogits, marginRankingLoss, meanSquaredErrorLoss } from "./losses.ts";

/**
 * How a head scores a pair of embeddings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const score: PairScore = "cosine";
 * assert.equal(score, "cosine");
 * ```
 */
export type PairScore = "cosine" | "learned";

/**
 * What every head offers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PairBatch } from "../data/batches.ts";
 * import { mlpEncoder } from "../models/mod.ts";
 * const head: SimilarityHead<PairBatch> = regressionHead(mlpEncoder({ inputShape: [4], hidden: [8] }));
 * assert.equal(head.kind, "regression");
 * ```
 */
export interface SimilarityHead<B> {
  /** The formulation. */
  readonly kind: "regression" | "classification" | "ranking";
  /** The network trained (encoder inside): give it to `train` as `model`. */
  readonly model: tf.LayersModel;
  /** `[x1, x2] → [n, 1]` raw pair score (shares its weights with `model`). */
  readonly scorer: tf.LayersModel;
  /** The shared encoder `[n, ...] → [n, d]`. */
  readonly encoder: tf.LayersModel;
  /** The training objective on a batch (forward pass in training mode): `train`'s `objective`. */
  loss(batch: B): tf.Scalar;
  /**
   * The head's similarity of each pair, `[n]`: ŷ for regression, P(similar) for classification,
   * s(x1, x2) for ranking. Larger is more similar.
   */
  similarity(x1: tf.Tensor, x2: tf.Tensor): tf.Tensor1D;
}

/**
 * Options shared by the heads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const options: HeadOptions = { seed: 1, hidden: [32] };
 * assert.deepEqual(options.hidden, [32]);
 * ```
 */
export interface HeadOptions {
  /** Seed of the head's own initialisers. Default 0. */
  seed?: number;
  /** Hidden ReLU layer sizes of a learned score. Default `[]` (a linear score). */
  hidden?: number[];
}

function pairInputs(encoder: tf.LayersModel, prefix: string, names: string[]): tf.SymbolicTensor[] {
  const shape = encoderInputShape(encoder);
  return names.map((n) => tf.input({ shape, name: `${prefix}_${n}` }));
}

/**
 * A pair scorer built from shared layers: returns a function mapping two embedding tensors to a
 * `[n, 1]` score, reusing the same layer objects on every call (so scores share weights).
 */
function pairScorer(
  kind: PairScore,
  options: HeadOptions & { finalActivation?: "sigmoid" | "linear"; affineInit?: [number, number] },
): (a: tf.SymbolicTensor, b: tf.SymbolicTensor) => tf.SymbolicTensor {
  const { seed = 0, hidden = [], finalActivation = "linear" } = options;
  if (kind === "cosine") {
    const dot = tf.layers.dot({ axes: -1, normalize: true });
    const affine = options.affineInit
      ? tf.layers.dense({
        units: 1,
        kernelInitializer: tf.initializers.constant({ value: options.affineInit[0] }),
        biasInitializer: tf.initializers.constant({ value: options.affineInit[1] }),
        activation: finalActivation,
      })
      : undefined;
    return (a, b) => {
      const s = dot.apply([a, b]) as tf.SymbolicTensor;
      return affine ? affine.apply(s) as tf.SymbolicTensor : s;
    };
  }
  if (kind !== "learned") throw new Error(`score: must be "cosine" or "learned", got "${kind}"`);
  const features = new PairFeatures();
  const layers = hidden.map((units, i) =>
    tf.layers.dense({
      units,
      activation: "relu",
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + 500 + i }),
    })
  );
  const out = tf.layers.dense({
    units: 1,
    activation: finalActivation,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + 599 }),
  });
  return (a, b) => {
    let h = features.apply([a, b]) as tf.SymbolicTensor;
    for (const layer of layers) h = layer.apply(h) as tf.SymbolicTensor;
    return out.apply(h) as tf.SymbolicTensor;
  };
}

function reshapeScores(scores: tf.Tensor): tf.Tensor1D {
  return tf.reshape(scores, [scores.shape[0]]) as tf.Tensor1D;
}

/**
 * The regression head: `[x1, x2] → ŷ` `[n, 1]`, trained with the mean squared error against real
 * similarity targets (such as the graded targets of `gradedPairs`: 1, 0.5, 0).
 *
 * With `score: "cosine"` (default) ŷ = a · cos(e1, e2) + b with learned a, b (initially 0.5, 0.5,
 * mapping [−1, 1] onto [0, 1]); with `"learned"`, ŷ = σ(MLP([|e1 − e2|, e1 ⊙ e2])).
 *
 * @param encoder the shared encoder (trained with the head)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder } from "../models/mod.ts";
 * import { regressionHead } from "./heads.ts";
 * const head = regressionHead(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 3 }));
 * const loss = head.loss({ inputs: [tf.ones([2, 4]), tf.zeros([2, 4])], target: tf.tensor1d([1, 0]) });
 * assert.deepEqual(loss.shape, []);
 * assert.ok(loss.dataSync()[0] >= 0);
 * ```
 */
export function regressionHead(
  encoder: tf.LayersModel,
  options: HeadOptions & { score?: PairScore } = {},
): SimilarityHead<PairBatch> {
  checkOptionKeys("regressionHead", options, ["seed", "hidden", "score"]);
  const { score = "cosine" } = options;
  const inputs = pairInputs(encoder, "regression", ["left", "right"]);
  const [e1, e2] = inputs.map((x) => encoder.apply(x) as tf.SymbolicTensor);
  const scorer = score === "cosine"
    ? pairScorer("cosine", { ...options, affineInit: [0.5, 0.5] })
    : pairScorer("learned", { ...options, finalActivation: "sigmoid" });
  const model = tf.model({ inputs, outputs: scorer(e1, e2), name: "regression_head" });
  return {
    kind: "regression",
    model,
    scorer: model,
    encoder,
    loss: (batch) =>
      tf.tidy(() =>
        meanSquaredErrorLoss(
          model.apply(batch.inputs, { training: true }) as tf.Tensor,
          batch.target,
        )
      ),
    similarity: (x1, x2) => tf.tidy(() => reshapeScores(model.predict([x1, x2]) as tf.Tensor)),
  };
}

/**
 * The classification head: `[x1, x2] → logit` `[n, 1]` of P(similar) = σ(logit), where the logit
 * is a linear function (or an MLP with `hidden` ReLU layers) of the pair features
 * `[|e1 − e2|, e1 ⊙ e2]`; trained with binary cross-entropy against 0/1 targets.
 *
 * @param encoder the shared encoder (trained with the head)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder } from "../models/mod.ts";
 * import { classificationHead } from "./heads.ts";
 * const head = classificationHead(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 3 }));
 * const p = head.similarity(tf.ones([2, 4]), tf.zeros([2, 4])).dataSync(); // two probabilities
 * assert.equal(p.length, 2);
 * assert.ok(p.every((v) => v >= 0 && v <= 1));
 * ```
 */
export function classificationHead(
  encoder: tf.LayersModel,
  options: HeadOptions = {},
): SimilarityHead<PairBatch> {
  checkOptionKeys("classificationHead", options, ["seed", "hidden"]);
  const inputs = pairInputs(encoder, "classification", ["left", "right"]);
  const [e1, e2] = inputs.map((x) => encoder.apply(x) as tf.SymbolicTensor);
  const logit = pairScorer("learned", options)(e1, e2);
  const model = tf.model({ inputs, outputs: logit, name: "classification_head" });
  return {
    kind: "classification",
    model,
    scorer: model,
    encoder,
    loss: (batch) =>
      tf.tidy(() =>
        binaryCrossEntropyWithLogits(
          model.apply(batch.inputs, { training: true }) as tf.Tensor,
          batch.target,
        )
      ),
    similarity: (x1, x2) =>
      tf.tidy(() => tf.sigmoid(reshapeScores(model.predict([x1, x2]) as tf.Tensor)) as tf.Tensor1D),
  };
}

/**
 * The ranking head: `[anchor, positive, negative] → [s(a, p), s(a, n)]` `[n, 2]`, trained with the
 * margin ranking loss `max(0, margin − (s(a, p) − s(a, n)))`. The score s is the cosine
 * similarity (`score: "cosine"`, default; no parameters besides the encoder's) or a learned score
 * on `[|e1 − e2|, e1 ⊙ e2]` (`"learned"`), the same function for both pairs. The cosine score is
 * bounded in [−1, 1], so the margin has a fixed meaning; a learned score is unbounded, and the
 * margin then only fixes the scale of the score.
 *
 * @param encoder the shared encoder (trained with the head)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder } from "../models/mod.ts";
 * import { rankingHead } from "./heads.ts";
 * const head = rankingHead(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 3 }), { margin: 0.3 });
 * const x = tf.randomNormal([5, 4]);
 * const loss = head.loss({ inputs: [x, x, tf.neg(x)] });
 * assert.ok(loss.dataSync()[0] >= 0);
 * ```
 */
export function rankingHead(
  encoder: tf.LayersModel,
  options: HeadOptions & { score?: PairScore; margin?: number } = {},
): SimilarityHead<TripletBatch> {
  checkOptionKeys("rankingHead", options, ["seed", "hidden", "score", "margin"]);
  const { score = "cosine", margin = 0.2 } = options;
  if (!Number.isFinite(margin) || margin < 0) {
    throw new Error(`rankingHead: margin must be a finite number ≥ 0, got ${margin}`);
  }
  const inputs = pairInputs(encoder, "ranking", ["anchor", "positive", "negative"]);
  const [ea, ep, en] = inputs.map((x) => encoder.apply(x) as tf.SymbolicTensor);
  const s = pairScorer(score, options);
  const scores = tf.layers.concatenate({ axis: -1 }).apply([
    s(ea, ep),
    s(ea, en),
  ]) as tf.SymbolicTensor;
  const model = tf.model({ inputs, outputs: scores, name: "ranking_head" });
  const pairIn = pairInputs(encoder, "ranking_pair", ["left", "right"]);
  const [p1, p2] = pairIn.map((x) => encoder.apply(x) as tf.SymbolicTensor);
  const scorer = tf.model({ inputs: pairIn, outputs: s(p1, p2), name: "ranking_scorer" });
  return {
    kind: "ranking",
    model,
    scorer,
    encoder,
    loss: (batch) =>
      tf.tidy(() => {
        const out = model.apply(batch.inputs, { training: true }) as tf.Tensor2D;
        const [sp, sn] = tf.split(out, 2, 1);
        return marginRankingLoss(sp, sn, margin);
      }),
    similarity: (x1, x2) => tf.tidy(() => reshapeScores(scorer.predict([x1, x2]) as tf.Tensor)),
  };
}
