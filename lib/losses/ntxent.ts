/**
 * Information-based (softmax) losses: NT-Xent / InfoNCE (Oord et al. 2018; Chen et al. 2020,
 * SimCLR) and the supervised contrastive loss (Khosla et al. 2020), as pytorch-metric-learning
 * (PML) defines them. Both use cosine similarity divided by a temperature by default.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossContext, type LossOptions, opt } from "./_template.ts";
import { binary, maskedLogSumExp } from "./_ops.ts";

/** Options of {@linkcode ntXentLoss}; defaults are PML's `NTXentLoss`. */
export interface NtXentLossOptions extends LossOptions {
  /** Softmax temperature τ. Default 0.07. */
  temperature?: number;
}

/** Similarities over the temperature (−distance/τ for a distance). */
const logitsOf = (ctx: LossContext, temperature: number) =>
  tf.div(ctx.distance.inverted ? ctx.mat() : tf.neg(ctx.mat()), temperature) as tf.Tensor2D;

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
 * @returns a scalar; with `reduction: "none"` the `[n, m]` matrix of the positive pairs' losses
 *   times multiplicity (0 elsewhere)
 * @throws Error for a temperature that is not a finite number > 0, or an unknown option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { ntXentLoss } from "./ntxent.ts";
 * const e = tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]);
 * const v = ntXentLoss(e, [0, 0, 1, 1]).dataSync()[0];
 * assert.ok(Math.abs(v - 1.149e-5) < 1e-7); // the positives are far closer than the negatives
 * ```
 */
export const ntXentLoss: Loss<NtXentLossOptions> = defineLoss<NtXentLossOptions>({
  name: "ntXentLoss",
  distance: "cosine",
  reduction: "mean",
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: { temperature: opt.positive(0.07) },
  compute(ctx, o) {
    const { pos, neg, numPos, numNeg } = ctx.pairMatrices();
    if (!ctx.none && (numPos === 0 || numNeg === 0)) return ctx.zero();
    const logits = logitsOf(ctx, o.temperature);
    // log Σ_n w_an exp(s_an/τ), negatives weighted by how often each pair is listed.
    const logW = tf.log(tf.maximum(neg, 1e-30));
    const negLse = maskedLogSumExp(tf.add(logits, logW) as tf.Tensor2D, neg, false);
    const hasNeg = binary(tf.sum(neg, 1, true));
    const losses = tf.mul(tf.softplus(tf.sub(negLse, logits)), hasNeg);
    return { loss: { kind: "pair", losses, weights: pos } };
  },
});

/** Options of {@linkcode supConLoss}; defaults are PML's `SupConLoss`. */
export interface SupConLossOptions extends LossOptions {
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
 * @returns a scalar; with `reduction: "none"` a `[n]` tensor, one loss per anchor
 * @throws Error for a temperature that is not a finite number > 0, or an unknown option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { supConLoss } from "./ntxent.ts";
 * const e = tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]);
 * const v = supConLoss(e, [0, 0, 1, 1]).dataSync()[0];
 * assert.ok(Math.abs(v - 3.862e-4) < 1e-6);
 * ```
 */
export const supConLoss: Loss<SupConLossOptions> = defineLoss<SupConLossOptions>({
  name: "supConLoss",
  distance: "cosine",
  reduction: "avgNonZero",
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: { temperature: opt.positive(0.1) },
  compute(ctx, o) {
    const { pos: posW, neg: negW, numPos, numNeg } = ctx.pairMatrices();
    if (!ctx.none && (numPos === 0 || numNeg === 0)) return ctx.zero();
    const pos = binary(posW), neg = binary(negW);
    const logits = logitsOf(ctx, o.temperature);
    const denom = maskedLogSumExp(logits, tf.maximum(pos, neg) as tf.Tensor2D, false);
    const logProb = tf.sub(logits, denom);
    const losses = tf.div(
      tf.neg(tf.sum(tf.mul(pos, logProb), 1)),
      tf.add(tf.sum(pos, 1), 1.1754943508222875e-38),
    );
    return { loss: { kind: "element", losses } };
  },
});
