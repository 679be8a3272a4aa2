/**
 * Losses that weight every pair of an anchor through a log-sum-exp: multi-similarity
 * (Wang et al. 2019), circle (Sun et al. 2020), lifted structure (Oh Song et al. 2016) and its
 * generalised form (Hermans et al. 2017), as pytorch-metric-learning (PML) defines them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Labels } from "./pairs.ts";
import { pairSetup, type TupleLossOptions } from "./contrastive.ts";
import { stopGradient } from "./reducers.ts";
import {
  checkOptions,
  checkReduction,
  marginOf,
  maskedLogSumExp,
  reduceWeighted,
  zeroLoss,
} from "./tuples.ts";

const COMMON = ["distance", "normalizeEmbeddings", "indices", "reduction"];

const binary = (w: tf.Tensor2D) => tf.cast(tf.greater(w, 0), "float32") as tf.Tensor2D;

function perAnchor(losses: tf.Tensor, reduction: string): tf.Scalar {
  return reduceWeighted(
    tf.reshape(losses, [-1]),
    tf.onesLike(tf.reshape(losses, [-1])),
    reduction,
  ) as tf.Scalar;
}

/** Options of {@linkcode multiSimilarityLoss}; defaults are PML's `MultiSimilarityLoss`. */
export interface MultiSimilarityLossOptions extends TupleLossOptions {
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
 * @returns a scalar (`reduction: "none"`: `[n]`)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { multiSimilarityLoss } from "./pair_weighting.ts";
 * multiSimilarityLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]).print();
 * ```
 */
export function multiSimilarityLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: MultiSimilarityLossOptions = {},
): tf.Scalar {
  const fn = "multiSimilarityLoss";
  checkOptions(fn, options, [...COMMON, "alpha", "beta", "base"]);
  const {
    alpha = 2,
    beta = 50,
    base = 0.5,
    distance = "cosine",
    normalizeEmbeddings = true,
    reduction = "mean",
    indices,
  } = options;
  checkReduction(fn, reduction);
  if (!(alpha > 0) || !(beta > 0)) throw new Error(`${fn}: alpha and beta must be > 0`);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (s.trivial && reduction !== "none") return zeroLoss(embeddings);
    const posExp = marginOf(s.inverted, s.mat, base) as tf.Tensor2D;
    const negExp = marginOf(s.inverted, base, s.mat) as tf.Tensor2D;
    const posLoss = tf.div(maskedLogSumExp(tf.mul(posExp, alpha), binary(s.pos), true), alpha);
    const negLoss = tf.div(maskedLogSumExp(tf.mul(negExp, beta), binary(s.neg), true), beta);
    return perAnchor(tf.add(posLoss, negLoss), reduction);
  });
}

/** Options of {@linkcode circleLoss}; defaults are PML's `CircleLoss`. */
export interface CircleLossOptions extends TupleLossOptions {
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
 * @returns a scalar (`reduction: "none"`: `[n]`)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { circleLoss } from "./pair_weighting.ts";
 * circleLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]).print();
 * ```
 */
export function circleLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: CircleLossOptions = {},
): tf.Scalar {
  const fn = "circleLoss";
  checkOptions(fn, options, [...COMMON, "m", "gamma"]);
  const {
    m = 0.4,
    gamma = 80,
    distance = "cosine",
    normalizeEmbeddings = true,
    reduction = "avgNonZero",
    indices,
  } = options;
  checkReduction(fn, reduction);
  if (distance !== "cosine") {
    throw new Error(
      `${fn}: distance must be "cosine" (PML's CircleLoss requires CosineSimilarity)`,
    );
  }
  if (!normalizeEmbeddings) {
    throw new Error(`${fn}: normalizeEmbeddings must be true (cosine similarity)`);
  }
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (s.trivial && reduction !== "none") return zeroLoss(embeddings);
    const pos = binary(s.pos), neg = binary(s.neg);
    const fixed = stopGradient(s.mat);
    const logitP = tf.mul(
      tf.mul(tf.relu(tf.sub(1 + m, fixed)), tf.sub(s.mat, 1 - m)),
      -gamma,
    ) as tf.Tensor2D;
    const logitN = tf.mul(
      tf.mul(tf.relu(tf.add(fixed, m)), tf.sub(s.mat, m)),
      gamma,
    ) as tf.Tensor2D;
    const losses = tf.softplus(
      tf.add(maskedLogSumExp(logitP, pos, false), maskedLogSumExp(logitN, neg, false)),
    );
    const both = tf.mul(
      tf.cast(tf.greater(tf.sum(pos, 1, true), 0), "float32"),
      tf.cast(tf.greater(tf.sum(neg, 1, true), 0), "float32"),
    );
    return perAnchor(tf.mul(losses, both), reduction);
  });
}

/** Options of {@linkcode liftedStructureLoss} and {@linkcode generalizedLiftedStructureLoss}. */
export interface LiftedStructureLossOptions extends TupleLossOptions {
  /** Margin α for negative pairs. Default 1. */
  negMargin?: number;
  /** Offset for positive pairs. Default 0. */
  posMargin?: number;
}

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
 * @returns a scalar (`reduction: "none"`: `[n, n]` per positive pair)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { liftedStructureLoss } from "./pair_weighting.ts";
 * liftedStructureLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]).print();
 * ```
 */
export function liftedStructureLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: LiftedStructureLossOptions = {},
): tf.Scalar {
  const fn = "liftedStructureLoss";
  checkOptions(fn, options, [...COMMON, "negMargin", "posMargin"]);
  const {
    negMargin = 1,
    posMargin = 0,
    distance = "euclidean",
    normalizeEmbeddings = true,
    reduction = "mean",
    indices,
  } = options;
  checkReduction(fn, reduction);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (reduction !== "none" && (s.trivial || s.numPos === 0 || s.numNeg === 0)) {
      return zeroLoss(embeddings);
    }
    const n = s.n;
    // Row x: r_xn = margin(negMargin, d_xn) over the listed negative pairs (with multiplicity).
    const r = marginOf(s.inverted, negMargin, s.mat) as tf.Tensor2D;
    const keep = tf.greater(s.neg, 0);
    const rm = tf.where(keep, r, tf.fill([n, n], -1e30));
    const rowMax = stopGradient(tf.max(rm, 1, true)); // [n, 1]
    const rowSum = tf.sum(tf.mul(tf.exp(tf.sub(rm, rowMax)), s.neg), 1, true); // [n, 1]
    // For pair (a, p): log( S_a e^{M_a} + S_p e^{M_p} ), row p counted once when p = a.
    const mA = rowMax, mP = tf.reshape(rowMax, [1, n]);
    // (tfjs's Maximum gradient does not handle broadcasting: broadcast explicitly.)
    const top = stopGradient(tf.maximum(tf.broadcastTo(mA, [n, n]), tf.broadcastTo(mP, [n, n])));
    const termA = tf.mul(rowSum, tf.exp(tf.sub(mA, top)));
    const termP = tf.mul(
      tf.mul(tf.reshape(rowSum, [1, n]), tf.exp(tf.sub(mP, top))),
      tf.sub(1, tf.eye(n)),
    );
    const total = tf.add(termA, termP);
    // Whether row a or row p lists a negative: from the constant weights, never from `total`
    // (a comparison on a differentiated value has no gradient in tfjs).
    const rowCount = tf.sum(s.neg, 1, true);
    const hasAny = tf.greater(tf.add(rowCount, tf.reshape(rowCount, [1, n])), 0);
    const lse = tf.where(
      hasAny,
      tf.add(tf.log(tf.where(hasAny, total, tf.onesLike(total))), top),
      tf.zerosLike(total),
    );
    const j = tf.add(lse, marginOf(s.inverted, s.mat, posMargin));
    const perPair = tf.mul(tf.square(tf.relu(j)), 0.5);
    return reduceWeighted(perPair, s.pos, reduction) as tf.Scalar;
  });
}

/**
 * Generalised lifted structure loss (Hermans, Beyer & Leibe 2017), PML's
 * `GeneralizedLiftedStructureLoss`: per anchor `i`,
 * `relu( logΣ_{p} exp(d_ip − posMargin) + logΣ_{n} exp(negMargin − d_in) )`, averaged over the `n`
 * anchors (`MeanReducer`). Defaults `negMargin = 1`, `posMargin = 0`, Euclidean distance.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (`reduction: "none"`: `[n]`)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { generalizedLiftedStructureLoss } from "./pair_weighting.ts";
 * generalizedLiftedStructureLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]).print();
 * ```
 */
export function generalizedLiftedStructureLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: LiftedStructureLossOptions = {},
): tf.Scalar {
  const fn = "generalizedLiftedStructureLoss";
  checkOptions(fn, options, [...COMMON, "negMargin", "posMargin"]);
  const {
    negMargin = 1,
    posMargin = 0,
    distance = "euclidean",
    normalizeEmbeddings = true,
    reduction = "mean",
    indices,
  } = options;
  checkReduction(fn, reduction);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (s.trivial && reduction !== "none") return zeroLoss(embeddings);
    const posLse = maskedLogSumExp(
      marginOf(s.inverted, s.mat, posMargin) as tf.Tensor2D,
      binary(s.pos),
      false,
    );
    const negLse = maskedLogSumExp(
      marginOf(s.inverted, negMargin, s.mat) as tf.Tensor2D,
      binary(s.neg),
      false,
    );
    return perAnchor(tf.relu(tf.add(posLse, negLse)), reduction);
  });
}
