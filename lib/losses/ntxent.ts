/**
 * Information-based (softmax) losses: NT-Xent / InfoNCE (Oord et al. 2018; Chen et al. 2020,
 * SimCLR) and the supervised contrastive loss (Khosla et al. 2020), as pytorch-metric-learning
 * (PML) defines them. Both use cosine similarity divided by a temperature by default.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Labels } from "./pairs.ts";
import { pairSetup, type TupleLossOptions } from "./contrastive.ts";
import {
  checkOptions,
  checkReduction,
  checkTemperature,
  maskedLogSumExp,
  reduceWeighted,
  zeroLoss,
} from "./tuples.ts";

const COMMON = ["distance", "normalizeEmbeddings", "indices", "reduction", "temperature"];

/** Options of {@linkcode ntXentLoss}; defaults are PML's `NTXentLoss`. */
export interface NtXentLossOptions extends TupleLossOptions {
  /** Softmax temperature τ. Default 0.07. */
  temperature?: number;
}

/**
 * NT-Xent (normalised temperature-scaled cross entropy) loss, PML's `NTXentLoss`: for every
 * positive pair `(a, p)`,
 *
 *   ℓ(a, p) = −log( exp(s_ap/τ) / (exp(s_ap/τ) + Σ_{n ∈ N(a)} exp(s_an/τ)) ),
 *
 * where `N(a)` are the negatives of `a` and `s` is cosine similarity (for a distance, `s = −d`),
 * averaged over positive pairs (default `"mean"`, PML's `MeanReducer`). When each sample has
 * exactly one positive (two views of each instance, labels = instance ids) this is InfoNCE /
 * SimCLR's NT-Xent. Computed as `softplus(logΣ_n exp(s_an/τ) − s_ap/τ)`, which equals PML's value
 * up to PML's additive 1e-38 inside the log. No positive or no negative pair gives 0.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (`reduction: "none"`: `[n, n]`, the loss of each positive pair)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ntXentLoss } from "./ntxent.ts";
 * const e = tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]);
 * ntXentLoss(e, [0, 0, 1, 1]).print();
 * ```
 */
export function ntXentLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: NtXentLossOptions = {},
): tf.Scalar {
  const fn = "ntXentLoss";
  checkOptions(fn, options, COMMON);
  const {
    temperature = 0.07,
    distance = "cosine",
    normalizeEmbeddings = true,
    reduction = "mean",
    indices,
  } = options;
  checkReduction(fn, reduction);
  checkTemperature(fn, temperature);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (reduction !== "none" && (s.trivial || s.numPos === 0 || s.numNeg === 0)) {
      return zeroLoss(embeddings);
    }
    const logits = tf.div(s.inverted ? s.mat : tf.neg(s.mat), temperature) as tf.Tensor2D;
    // log Σ_n w_an exp(s_an/τ), negatives weighted by how often each pair is listed.
    const logW = tf.log(tf.maximum(s.neg, 1e-30));
    const negLse = maskedLogSumExp(tf.add(logits, logW) as tf.Tensor2D, s.neg, false);
    const hasNeg = tf.cast(tf.greater(tf.sum(s.neg, 1, true), 0), "float32");
    const perPair = tf.mul(tf.softplus(tf.sub(negLse, logits)), hasNeg);
    return reduceWeighted(perPair, s.pos, reduction) as tf.Scalar;
  });
}

/** Options of {@linkcode supConLoss}; defaults are PML's `SupConLoss`. */
export interface SupConLossOptions extends TupleLossOptions {
  /** Softmax temperature τ. Default 0.1. */
  temperature?: number;
}

/**
 * Supervised contrastive loss (Khosla et al. 2020), PML's `SupConLoss`: for each anchor `i` with
 * positives `P(i)` and all other samples `A(i) = P(i) ∪ N(i)`,
 *
 *   ℓ(i) = −(1/|P(i)|) Σ_{p ∈ P(i)} [ s_ip/τ − log Σ_{k ∈ A(i)} exp(s_ik/τ) ],
 *
 * with cosine similarity `s` (for a distance, `s = −d`). Anchors without positives give 0; the
 * default reduction is `"avgNonZero"` (PML's `AvgNonZeroReducer`). Indices, if given, only select
 * which pairs exist (PML's mask form). No positive or no negative pair gives 0.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (`reduction: "none"`: `[n]`, one loss per anchor)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { supConLoss } from "./ntxent.ts";
 * const e = tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]);
 * supConLoss(e, [0, 0, 1, 1]).print();
 * ```
 */
export function supConLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: SupConLossOptions = {},
): tf.Scalar {
  const fn = "supConLoss";
  checkOptions(fn, options, COMMON);
  const {
    temperature = 0.1,
    distance = "cosine",
    normalizeEmbeddings = true,
    reduction = "avgNonZero",
    indices,
  } = options;
  checkReduction(fn, reduction);
  checkTemperature(fn, temperature);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (reduction !== "none" && (s.trivial || s.numPos === 0 || s.numNeg === 0)) {
      return zeroLoss(embeddings);
    }
    const pos = tf.cast(tf.greater(s.pos, 0), "float32") as tf.Tensor2D;
    const neg = tf.cast(tf.greater(s.neg, 0), "float32") as tf.Tensor2D;
    const logits = tf.div(s.inverted ? s.mat : tf.neg(s.mat), temperature) as tf.Tensor2D;
    const denom = maskedLogSumExp(logits, tf.maximum(pos, neg) as tf.Tensor2D, false);
    const logProb = tf.sub(logits, denom);
    const perAnchor = tf.div(
      tf.neg(tf.sum(tf.mul(pos, logProb), 1)),
      tf.add(tf.sum(pos, 1), 1.1754943508222875e-38),
    );
    return reduceWeighted(perAnchor, tf.onesLike(perAnchor), reduction) as tf.Scalar;
  });
}
