/**
 * Softmax losses over the batch itself: the deep form of neighbourhood components analysis
 * (Goldberger et al. 2004) and the instance loss (Zheng et al. 2020), as pytorch-metric-learning
 * (PML) defines them. (The linear NCA learner is `linear/nca.ts`.)
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossContext, type LossOptions, opt } from "./_template.ts";
import { isPairIndices } from "./_tuples.ts";
import { maskedLogSumExp, stopGradient } from "./_ops.ts";

/** Options of {@linkcode ncaLoss}; defaults are PML's `NCALoss`. */
export interface NcaLossOptions extends LossOptions {
  /** The scale of the negated distances (or similarities) inside the softmax. Default 1. */
  softmaxScale?: number;
}

/**
 * PML's `convert_to_weights`: each batch row's count in the tuples over the largest count (with a
 * reference set only the anchors count), 1 for every row without tuples.
 */
function minerWeights(ctx: LossContext): Float32Array {
  const w = new Float32Array(ctx.n);
  const ix = ctx.indices;
  const arrays = !ix
    ? []
    : isPairIndices(ix)
    ? (ctx.hasRef ? [ix.a1, ix.a2] : [ix.a1, ix.p, ix.a2, ix.n])
    : (ctx.hasRef ? [ix.a] : [ix.a, ix.p, ix.n]);
  const all = !ix ||
    (isPairIndices(ix) ? [ix.a1, ix.p, ix.a2, ix.n] : [ix.a, ix.p, ix.n]).every((a) =>
      a.length === 0
    );
  if (all) return w.fill(1);
  const counts = new Map<number, number>();
  for (const a of arrays) for (const i of a) counts.set(i, (counts.get(i) ?? 0) + 1);
  const top = Math.max(0, ...counts.values());
  // Rows of the reference set (indices ≥ n, without a reference set impossible) are ignored.
  for (const [i, c] of counts) if (i < ctx.n) w[i] = c / top;
  return w;
}

/**
 * Neighbourhood components analysis as a deep metric loss (Goldberger, Roweis, Hinton &
 * Salakhutdinov, "Neighbourhood Components Analysis", NIPS 2004), PML's `NCALoss`: row `i` picks a
 * neighbour `j ≠ i` with probability `softmax_j(−scale · d_ij)` (similarities: `+scale · s_ij`);
 * its loss is `−log p_i`, `p_i` the probability of picking one of its own class, times the row's
 * miner weight (PML's `convert_to_weights`: its count in `indices` over the largest count, 1
 * without indices). Averaged (default `"mean"`) over the rows with `p_i > 0` — a row without
 * positives is left out, as PML leaves it out. Defaults: squared Euclidean distance (PML's
 * `LpDistance(power=2)`) on L2-normalised embeddings, `softmaxScale` 1. A batch of one row, or with
 * no row that has a positive, gives 0 (PML: 0 for one row, NaN — the mean of nothing — for the
 * other).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` a `[n]` tensor, 0 for the rows PML leaves out
 * @throws Error for `softmaxScale` not a finite number > 0.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { ncaLoss } from "./nca.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const v = ncaLoss(e, [0, 0, 1]).dataSync()[0];
 * // squared distances: d01 = 0.4, d02 = 2, d12 = 0.8; row 2 has no positive and is left out:
 * // (log(1 + e^−1.6) + log(1 + e^−0.4)) / 2 = (0.18390 + 0.51302) / 2 (PML 2.9.0: 0.3484580)
 * assert.ok(Math.abs(v - 0.348458) < 1e-5);
 * ```
 */
export const ncaLoss: Loss<NcaLossOptions> = defineLoss<NcaLossOptions>({
  name: "ncaLoss",
  refuseEmpty: {
    ref: "the softmax over no references is undefined (PML's NCALoss returns NaN)",
  },
  distance: "sqeuclidean",
  reduction: "mean",
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: { softmaxScale: opt.positive(1) },
  compute(ctx, o) {
    const { n, m } = ctx;
    if (n <= 1) return ctx.zero();
    const y = ctx.labels, ry = ctx.hasRef ? ctx.refLabels : y;
    const same = new Float32Array(n * m), self = new Float32Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const isSelf = !ctx.hasRef && i === j;
        self[i * m + j] = isSelf ? 1 : 0;
        same[i * m + j] = !isSelf && y[i] === ry[j] ? 1 : 0;
      }
    }
    const z = tf.mul(ctx.distance.inverted ? ctx.mat() : tf.neg(ctx.mat()), o.softmaxScale);
    const others = tf.sub(1, tf.tensor2d(self, [n, m])) as tf.Tensor2D;
    const sameMask = tf.tensor2d(same, [n, m]);
    const all = maskedLogSumExp(z as tf.Tensor2D, others, false); // [n, 1]
    const own = maskedLogSumExp(z as tf.Tensor2D, sameMask, false); // [n, 1], 0 without positives
    const logP = tf.sub(own, all);
    // Rows PML keeps: a positive, and p = exp(log p) not 0 in float32 (no gradient through it).
    const hasPos = tf.tensor1d(Array.from({ length: n }, (_, i) => {
      for (let j = 0; j < m; j++) if (same[i * m + j]) return 1;
      return 0;
    }));
    const kept = tf.mul(hasPos, tf.step(tf.exp(tf.reshape(stopGradient(logP), [n]))));
    const losses = tf.mul(
      tf.mul(tf.neg(tf.reshape(logP, [n])), tf.tensor1d(minerWeights(ctx))),
      kept,
    );
    return { loss: { kind: "element", losses, weights: kept } };
  },
});

/** Options of {@linkcode instanceLoss}; defaults are PML's `InstanceLoss`. */
export interface InstanceLossOptions extends LossOptions {
  /** Scale γ of the cosine similarities (the softmax's inverse temperature). Default 64. */
  gamma?: number;
}

/**
 * Instance loss (Zheng, Zheng, Garrett, Yang, Xu & Shen, "Dual-Path Convolutional Image-Text
 * Embeddings with Instance Loss", ACM TOMM 2020), PML's `InstanceLoss`: the `[n, n]` cosine
 * similarities of the batch times γ are logits, and row `i` is classified as class `r(y_i)`, the
 * rank of its label among the batch's distinct labels (sorted ascending), by cross entropy:
 *
 *   ℓ(i) = −log softmax_k(γ s_ik)[r(y_i)],
 *
 * averaged (default `"mean"`). As in PML, the columns are the batch's rows: column `r(y_i)` is the
 * similarity to the row whose *index* is that rank (PML's shortcut of the paper's classifier over
 * instances; with labels `0 … n−1`, one per row, it is the paper's instance classification).
 * Cosine similarity only; no reference set, no `indices` (PML refuses both).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` a `[n]` tensor, one loss per row
 * @throws Error for `gamma` not a finite number > 0, a distance other than `"cosine"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { instanceLoss } from "./nca.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1]]);
 * const v = instanceLoss(e, [0, 1], { gamma: 2 }).dataSync()[0];
 * assert.ok(Math.abs(v - Math.log(1 + Math.exp(-2))) < 1e-5); // each row is its own class
 * ```
 */
export const instanceLoss: Loss<InstanceLossOptions> = defineLoss<InstanceLossOptions>({
  name: "instanceLoss",
  refuseEmpty: {
    batch: "the mean cross-entropy of no rows is undefined (PML's InstanceLoss returns NaN)",
  },
  distance: "cosine",
  reduction: "mean",
  ref: false,
  indices: false,
  checkDistance: (d) =>
    d.metric.name !== "cosineSimilarity"
      ? `distance must be "cosine" (PML's InstanceLoss requires CosineSimilarity)`
      : undefined,
  options: { gamma: opt.positive(64) },
  compute(ctx, o) {
    const n = ctx.n, y = ctx.labels;
    const distinct = [...new Set(y)].sort((a, b) => a - b);
    const rank = new Map(distinct.map((v, i) => [v, i]));
    const target = Int32Array.from(y, (v, i) => i * n + rank.get(v)!);
    const logits = tf.mul(ctx.mat(), o.gamma) as tf.Tensor2D;
    const lse = tf.reshape(tf.logSumExp(logits, 1), [n]);
    const picked = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(target, "int32"));
    return { loss: { kind: "element", losses: tf.sub(lse, picked) } };
  },
});
