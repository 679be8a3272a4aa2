/**
 * Losses that weight every pair of an anchor through a log-sum-exp: multi-similarity
 * (Wang et al. 2019), circle (Sun et al. 2020), lifted structure (Oh Song et al. 2016) and its
 * generalised form (Hermans et al. 2017), as pytorch-metric-learning (PML) defines them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions, type LossTerms, opt } from "./_template.ts";
import { binary, maskedLogSumExp, stopGradient } from "./_ops.ts";

/** One loss per batch row (PML's `"element"` reduction with `indices = arange(n)`). */
const rowLosses = (losses: tf.Tensor): LossTerms => ({
  loss: { kind: "element", losses: tf.reshape(losses, [-1]) },
});

/** Options of {@linkcode multiSimilarityLoss}; defaults are PML's `MultiSimilarityLoss`. */
export interface MultiSimilarityLossOptions extends LossOptions {
  /** Weight of positive pairs. Default 2. */
  alpha?: number;
  /** Weight of negative pairs. Default 50. */
  beta?: number;
  /** Similarity offset λ. Default 0.5. */
  base?: number;
}

/**
 * Multi-similarity loss (Wang et al. 2019), PML's `MultiSimilarityLoss`: per anchor `i`,
 *
 *   ℓ(i) = (1/α) log(1 + Σ_{p ∈ P(i)} exp(−α (s_ip − λ))) + (1/β) log(1 + Σ_{n ∈ N(i)} exp(β (s_in − λ))),
 *
 * with cosine similarity `s` (for a distance `d`, `s_ip − λ` becomes `λ − d_ip`), averaged over the
 * `n` anchors (default `"mean"`, PML's `MeanReducer`). Defaults α = 2, β = 50, λ = `base` = 0.5.
 * Like PML, a batch with negatives but no positives still pays the negative term.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` a `[n]` tensor, one loss per batch row
 * @throws Error for `alpha` or `beta` not a finite number > 0, a non-finite `base`, or an unknown option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { multiSimilarityLoss } from "./pair_weighting.ts";
 * const v = multiSimilarityLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]);
 * assert.ok(Math.abs(v.dataSync()[0] - 0.10552) < 1e-4);
 * ```
 */
export const multiSimilarityLoss: Loss<MultiSimilarityLossOptions> = defineLoss<
  MultiSimilarityLossOptions
>({
  name: "multiSimilarityLoss",
  distance: "cosine",
  reduction: "mean",
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: { alpha: opt.positive(2), beta: opt.positive(50), base: opt.number(0.5) },
  compute(ctx, o) {
    const { pos, neg } = ctx.pairMatrices();
    const mat = ctx.mat();
    const posExp = ctx.margin(mat, o.base) as tf.Tensor2D;
    const negExp = ctx.margin(o.base, mat) as tf.Tensor2D;
    const posLoss = tf.div(maskedLogSumExp(tf.mul(posExp, o.alpha), binary(pos), true), o.alpha);
    const negLoss = tf.div(maskedLogSumExp(tf.mul(negExp, o.beta), binary(neg), true), o.beta);
    return rowLosses(tf.add(posLoss, negLoss));
  },
});

/** Options of {@linkcode circleLoss}; defaults are PML's `CircleLoss`. */
export interface CircleLossOptions extends LossOptions {
  /** Relaxation margin m. Default 0.4. */
  m?: number;
  /** Scale γ. Default 80. */
  gamma?: number;
}

/**
 * Circle loss (Sun et al. 2020), PML's `CircleLoss`, cosine similarity only: per anchor `i`,
 *
 *   ℓ(i) = softplus( logΣ_{p} exp(−γ α_p (s_ip − Δ_p)) + logΣ_{n} exp(γ α_n (s_in − Δ_n)) ),
 *
 * with `α_p = relu(1 + m − s_ip)`, `α_n = relu(s_in + m)` (both without gradient), `Δ_p = 1 − m`,
 * `Δ_n = m`. Anchors lacking positives or negatives give 0; default reduction `"avgNonZero"`
 * (PML's `AvgNonZeroReducer`). Defaults m = 0.4, γ = 80.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` a `[n]` tensor, one loss per batch row
 * @throws Error for a distance other than `"cosine"`, `m` outside [0, 1], `gamma` not > 0.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { circleLoss } from "./pair_weighting.ts";
 * const v = circleLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]).dataSync()[0];
 * assert.ok(v >= 0 && v < 1e-9); // every pair is far beyond its relaxed margin
 * ```
 */
export const circleLoss: Loss<CircleLossOptions> = defineLoss<CircleLossOptions>({
  name: "circleLoss",
  distance: "cosine",
  reduction: "avgNonZero",
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  checkDistance: (d, normalize) =>
    d.metric.name !== "cosineSimilarity"
      ? `distance must be "cosine" (PML's CircleLoss requires CosineSimilarity)`
      : !normalize
      ? "normalizeEmbeddings must be true (cosine similarity)"
      : undefined,
  options: { m: opt.number(0.4, { min: 0, max: 1 }), gamma: opt.positive(80) },
  compute(ctx, o) {
    const { m, gamma } = o;
    const mat = ctx.mat();
    const { pos: posW, neg: negW } = ctx.pairMatrices();
    const pos = binary(posW), neg = binary(negW);
    const fixed = stopGradient(mat);
    const logitP = tf.mul(
      tf.mul(tf.relu(tf.sub(1 + m, fixed)), tf.sub(mat, 1 - m)),
      -gamma,
    ) as tf.Tensor2D;
    const logitN = tf.mul(tf.mul(tf.relu(tf.add(fixed, m)), tf.sub(mat, m)), gamma) as tf.Tensor2D;
    const losses = tf.softplus(
      tf.add(maskedLogSumExp(logitP, pos, false), maskedLogSumExp(logitN, neg, false)),
    );
    const both = tf.mul(binary(tf.sum(pos, 1, true)), binary(tf.sum(neg, 1, true)));
    return rowLosses(tf.mul(losses, both));
  },
});

/** Options of {@linkcode liftedStructureLoss} and {@linkcode generalizedLiftedStructureLoss}. */
export interface LiftedStructureLossOptions extends LossOptions {
  /** Margin α for negative pairs. Default 1. */
  negMargin?: number;
  /** Offset for positive pairs. Default 0. */
  posMargin?: number;
}

/** What both lifted-structure losses share: PML's defaults and options. */
const LIFTED = {
  distance: "euclidean",
  reduction: "mean",
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: { negMargin: opt.margin(1), posMargin: opt.margin(0) },
} as const;

/**
 * Lifted structured loss (Oh Song et al. 2016), PML's `LiftedStructureLoss` (defaults
 * `neg_margin = 1`, `pos_margin = 0`, Euclidean distance, `MeanReducer`): for each positive pair
 * `(a, p)`, with the negative pairs of *either* `a` or `p`,
 *
 *   J(a, p) = log Σ_{(x, n): x ∈ {a, p}} exp(negMargin − d_xn) + (d_ap − posMargin),
 *   ℓ(a, p) = ½ relu(J(a, p))²,
 *
 * averaged over positive pairs (each unordered pair appears twice, hence PML's ½). No positive or
 * no negative pair gives 0.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n, m]` matrix of the positive pairs' losses
 *   times multiplicity (0 elsewhere; `m = n` without `refEmbeddings`)
 * @throws Error for a margin that is not finite (or negative with a distance).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { liftedStructureLoss } from "./pair_weighting.ts";
 * const v = liftedStructureLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]);
 * assert.ok(Math.abs(v.dataSync()[0] - 0.09268) < 1e-4);
 * ```
 */
export const liftedStructureLoss: Loss<LiftedStructureLossOptions> = defineLoss<
  LiftedStructureLossOptions
>({
  name: "liftedStructureLoss",
  ...LIFTED,
  compute(ctx, o) {
    const { n, m } = ctx;
    const { pos, neg, numPos, numNeg } = ctx.pairMatrices();
    if (!ctx.none && (numPos === 0 || numNeg === 0)) return ctx.zero();
    const mat = ctx.mat();
    // Row x: r_xj = margin(negMargin, d_xj) over the listed negative pairs (with multiplicity).
    const r = ctx.margin(o.negMargin, mat) as tf.Tensor2D;
    const rm = tf.where(tf.greater(neg, 0), r, tf.fill([n, m], -1e30));
    const rowMax = stopGradient(tf.max(rm, 1, true)); // [n, 1]
    const rowSum = tf.sum(tf.mul(tf.exp(tf.sub(rm, rowMax)), neg), 1, true); // [n, 1]
    // For the pair (a, p): log(S_a e^{M_a} + S_p e^{M_p}), where S_p, M_p are those of batch row
    // p (PML compares the negative pairs' anchors with p; with a reference set, p indexes it and
    // rows p ≥ n have none), counted once when p = a.
    const asColumn = (t: tf.Tensor, fill: number) => {
      const row = tf.reshape(t, [1, n]);
      if (m === n) return row;
      if (m < n) return tf.slice(row, [0, 0], [1, m]);
      return tf.concat([row, tf.fill([1, m - n], fill)], 1);
    };
    const mA = rowMax, mP = asColumn(rowMax, -1e30), sP = asColumn(rowSum, 0);
    // (tfjs's Maximum gradient does not handle broadcasting: broadcast explicitly.)
    const top = stopGradient(tf.maximum(tf.broadcastTo(mA, [n, m]), tf.broadcastTo(mP, [n, m])));
    const termA = tf.mul(rowSum, tf.exp(tf.sub(mA, top)));
    const notSelf = tf.sub(1, tf.eye(n, m));
    const termP = tf.mul(tf.mul(sP, tf.exp(tf.sub(mP, top))), notSelf);
    const total = tf.add(termA, termP);
    // Whether row a or row p lists a negative: from the constant weights, never from `total`
    // (a comparison on a differentiated value has no gradient in tfjs).
    const rowCount = tf.sum(neg, 1, true);
    const hasAny = tf.greater(tf.add(rowCount, asColumn(rowCount, 0)), 0);
    const lse = tf.where(
      hasAny,
      tf.add(tf.log(tf.where(hasAny, total, tf.onesLike(total))), top),
      tf.zerosLike(total),
    );
    const j = tf.add(lse, ctx.margin(mat, o.posMargin));
    const losses = tf.mul(tf.square(tf.relu(j)), 0.5);
    return { loss: { kind: "pair", losses, weights: pos } };
  },
});

/**
 * Generalised lifted structure loss (Hermans, Beyer & Leibe 2017), PML's
 * `GeneralizedLiftedStructureLoss`: per anchor `i`,
 * `relu( logΣ_{p} exp(d_ip − posMargin) + logΣ_{n} exp(negMargin − d_in) )`, averaged over the `n`
 * anchors (`MeanReducer`). Defaults `negMargin = 1`, `posMargin = 0`, Euclidean distance.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` a `[n]` tensor, one loss per batch row
 * @throws Error for a margin that is not finite (or negative with a distance).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { generalizedLiftedStructureLoss } from "./pair_weighting.ts";
 * const e = tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]);
 * const v = generalizedLiftedStructureLoss(e, [0, 0, 1]).dataSync()[0];
 * assert.ok(Math.abs(v - 0.10664) < 1e-4);
 * ```
 */
export const generalizedLiftedStructureLoss: Loss<LiftedStructureLossOptions> = defineLoss<
  LiftedStructureLossOptions
>({
  name: "generalizedLiftedStructureLoss",
  ...LIFTED,
  compute(ctx, o) {
    const { pos, neg } = ctx.pairMatrices();
    const mat = ctx.mat();
    const posLse = maskedLogSumExp(ctx.margin(mat, o.posMargin) as tf.Tensor2D, binary(pos), false);
    const negLse = maskedLogSumExp(ctx.margin(o.negMargin, mat) as tf.Tensor2D, binary(neg), false);
    return rowLosses(tf.relu(tf.add(posLse, negLse)));
  },
});
