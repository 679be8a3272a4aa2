/**
 * Losses on statistics of the pairs' similarities over the batch: the intra-pair variance loss
 * (Yu et al. 2019) and the threshold-consistent margin loss (Zhang et al. 2023), as
 * pytorch-metric-learning (PML) defines them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions, type LossTerm, opt } from "./_template.ts";

/** Options of {@linkcode intraPairVarianceLoss}; defaults are PML's `IntraPairVarianceLoss`. */
export interface IntraPairVarianceLossOptions extends LossOptions {
  /** Tolerance ε⁺ around the mean positive similarity. Default 0.01. */
  posEps?: number;
  /** Tolerance ε⁻ around the mean negative similarity. Default 0.01. */
  negEps?: number;
}

/**
 * Intra-pair variance loss (Yu, Liu, Gong, Ding & Tao, "Deep Metric Learning with Tuplet Margin
 * Loss", ICCV 2019), PML's `IntraPairVarianceLoss`: with cosine similarities `s` and `μ⁺`, `μ⁻` the
 * means over the positive and the negative pairs (gradients flow through the means too),
 *
 *   posLoss(a, p) = relu((1 − ε⁺) μ⁺ − s_ap)²,   negLoss(a, n) = relu(s_an − (1 + ε⁻) μ⁻)²,
 *
 * each averaged over its pairs (default `"mean"`) and summed: pairs that stray from their kind's
 * mean are pulled back. For a distance the inequalities flip (`relu(d_ap − (1 + ε⁺) μ⁺)²`,
 * `relu((1 − ε⁻) μ⁻ − d_an)²`). A kind without pairs gives 0; a batch with at most one pair of each
 * kind gives 0 (PML's `GenericPairLoss`). Defaults ε⁺ = ε⁻ = 0.01.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n, m]` matrix of per-pair losses times
 *   multiplicity (0 where `(i, j)` is not a pair)
 * @throws Error for `posEps` or `negEps` not a finite number ≥ 0.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { intraPairVarianceLoss } from "./pair_statistics.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [1, 0.1], [0, 1]]);
 * const v = intraPairVarianceLoss(e, [0, 0, 0, 1]).dataSync()[0];
 * assert.ok(Math.abs(v - 0.0462702) < 1e-5); // PML 2.9.0's value
 * ```
 */
export const intraPairVarianceLoss: Loss<IntraPairVarianceLossOptions> = defineLoss<
  IntraPairVarianceLossOptions
>({
  name: "intraPairVarianceLoss",
  distance: "cosine",
  reduction: "mean",
  subLosses: ["posLoss", "negLoss"],
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: { posEps: opt.number(0.01, { min: 0 }), negEps: opt.number(0.01, { min: 0 }) },
  compute(ctx, o) {
    const { pos, neg, numPos, numNeg } = ctx.pairMatrices();
    const mat = ctx.mat();
    const sim = ctx.distance.inverted;
    const term = (w: tf.Tensor2D, count: number, eps: number, increase: boolean): LossTerm => {
      if (count === 0) return { kind: "zero" };
      const mean = tf.div(tf.sum(tf.mul(mat, w)), count);
      const gap = increase
        ? tf.sub(tf.mul(mean, 1 - eps), mat)
        : tf.sub(mat, tf.mul(mean, 1 + eps));
      return { kind: "pair", losses: tf.square(tf.relu(gap)), weights: w };
    };
    return {
      posLoss: term(pos, numPos, o.posEps, sim),
      negLoss: term(neg, numNeg, o.negEps, !sim),
    };
  },
});

/** Options of {@linkcode thresholdConsistentMarginLoss}; defaults are PML's. */
export interface ThresholdConsistentMarginLossOptions extends LossOptions {
  /** Weight λ⁺ of the positive term. Default 1. */
  lambdaPlus?: number;
  /** Weight λ⁻ of the negative term. Default 1. */
  lambdaMinus?: number;
  /** Positive pairs below this cosine similarity m⁺ pay. Default 0.9. */
  marginPlus?: number;
  /** Negative pairs above this cosine similarity m⁻ pay. Default 0.5. */
  marginMinus?: number;
}

/**
 * Threshold-consistent margin loss (Zhang et al., "Threshold-Consistent Margin Loss for Open-World
 * Deep Metric Learning", 2023), PML's `ThresholdConsistentMarginLoss`: with cosine similarities
 * `s` of the listed pairs,
 *
 *   L = λ⁺ · mean_{(a,p): s_ap ≤ m⁺} (m⁺ − s_ap) + λ⁻ · mean_{(a,n): s_an ≥ m⁻} (s_an − m⁻),
 *
 * each mean over the pairs inside its condition (0 when none is). Already reduced, as in PML (the
 * `reduction` option only matters for an attached regulariser). Defaults λ⁺ = λ⁻ = 1, m⁺ = 0.9,
 * m⁻ = 0.5; cosine similarity only. PML's `ref_emb` is refused: PML indexes the batch with the
 * reference set's indices there (a silently wrong value).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (also with `reduction: "none"`, which has nothing per element to return here:
 *   it throws)
 * @throws Error for a distance other than `"cosine"`, `refEmbeddings`, λ not a finite number ≥ 0, a
 *   margin outside [−1, 1].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { thresholdConsistentMarginLoss } from "./pair_statistics.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const v = thresholdConsistentMarginLoss(e, [0, 0, 1]).dataSync()[0];
 * // positives: s = 0.8 ≤ 0.9, pays 0.1; negatives: 0 and 0.6, only 0.6 ≥ 0.5 pays 0.1
 * assert.ok(Math.abs(v - 0.2) < 1e-5);
 * ```
 */
export const thresholdConsistentMarginLoss: Loss<ThresholdConsistentMarginLossOptions> = defineLoss<
  ThresholdConsistentMarginLossOptions
>({
  name: "thresholdConsistentMarginLoss",
  distance: "cosine",
  reduction: "mean",
  ref: false,
  checkDistance: (d) =>
    d.metric.name !== "cosineSimilarity"
      ? `distance must be "cosine" (PML's ThresholdConsistentMarginLoss requires ` +
        `CosineSimilarity)`
      : undefined,
  options: {
    lambdaPlus: opt.number(1, { min: 0 }),
    lambdaMinus: opt.number(1, { min: 0 }),
    marginPlus: opt.number(0.9, { min: -1, max: 1 }),
    marginMinus: opt.number(0.5, { min: -1, max: 1 }),
  },
  compute(ctx, o) {
    const { pos, neg, numPos, numNeg } = ctx.pairMatrices();
    const s = ctx.mat();
    // mean of (margin − s) over the listed pairs with s ≤ margin (sign −1: s − margin, s ≥ margin)
    const part = (w: tf.Tensor2D, margin: number, sign: number) => {
      const gap = tf.mul(tf.sub(margin, s), sign); // ≥ 0 inside the condition
      const inside = tf.mul(tf.sub(1, tf.step(tf.neg(gap))), w); // gap ≥ 0, with multiplicity
      const count = tf.sum(inside);
      return tf.div(tf.sum(tf.mul(gap, inside)), tf.maximum(count, 1));
    };
    const parts: tf.Tensor[] = [];
    if (numPos > 0) parts.push(tf.mul(part(pos, o.marginPlus, 1), o.lambdaPlus));
    if (numNeg > 0) parts.push(tf.mul(part(neg, o.marginMinus, -1), o.lambdaMinus));
    if (parts.length === 0) return ctx.zero();
    return { loss: { kind: "reduced", value: tf.addN(parts) as tf.Scalar } };
  },
});
