/**
 * The ranked list loss (Wang, Hua, Kodirov, Hu, Garnier & Robertson 2019, "Ranked List Loss for
 * Deep Metric Learning"), as pytorch-metric-learning (PML) 2.9 defines it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions, opt } from "./_template.ts";

/**
 * Options of {@linkcode rankedListLoss}; PML's `RankedListLoss`, whose `margin` and `Tn` have no
 * default (the paper uses margin 0.4, α = 1.2, Tn = 10).
 */
export interface RankedListLossOptions
  extends Omit<LossOptions, "indices" | "refEmbeddings" | "refLabels"> {
  /** Margin m between the positive and the negative boundary. Required; a finite number. */
  margin?: number;
  /** Temperature of the negatives' weights. Required; a finite number (PML warns above 5). */
  Tn?: number;
  /** Weight λ of the negatives' part, 1 − λ of the positives'. In [0, 1]; default 0.5. */
  imbalance?: number;
  /** Boundary α of the negatives (positives beyond α − m pay). Default `1 + margin / 2`. */
  alpha?: number;
  /** Temperature of the positives' weights. A finite number; default 0 (RLL-Simpler). */
  Tp?: number;
}

/**
 * Ranked list loss, PML's `RankedListLoss`: for each anchor `i` (every row of the batch), with
 * distances `d` (self-distances set to 0), the violating positives `P*_i = {j ≠ i, y_j = y_i,
 * d_ij > α − m}` and violating negatives `N*_i = {k : y_k ≠ y_i, d_ik < α}`,
 *
 *   L_P(i) = Σ_{j ∈ P*_i} w_ij (d_ij − (α − m)) / (Σ_j w_ij + n·10⁻⁵),   w_ij = e^{Tp (d_ij − (α − m))},
 *   L_N(i) = Σ_{k ∈ N*_i} w_ik (α − d_ik) / (Σ_k w_ik + n·10⁻⁵),         w_ik = e^{Tn (α − d_ik)},
 *   ℓ(i) = (1 − λ) L_P(i) + λ L_N(i),
 *
 * averaged over the anchors (default `"mean"`). The `n·10⁻⁵` is PML's (it adds 10⁻⁵ to every
 * weight of the row, selected or not), and as in PML a pair at distance exactly 0 is never
 * selected (PML keeps the entries whose selected distance is > 0). Weights carry gradient, as in
 * PML. Defaults: Euclidean distance on normalised embeddings; `imbalance` 0.5, `alpha`
 * 1 + margin/2, `Tp` 0 (the paper's RLL-Simpler).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n]` losses
 * @throws Error for a missing `margin` or `Tn`, a non-finite option, `imbalance` outside [0, 1],
 *   `indices` or `refEmbeddings` (PML refuses both), or missing labels. Anchors without violating
 *   pairs contribute 0 to their part, as in PML.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { rankedListLoss } from "./ranked_list.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]]);
 * const v = rankedListLoss(e, [0, 0, 1, 1], { margin: 0.4, Tn: 10 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.42843) < 1e-4); // PML 2.9.0: 0.428428
 * ```
 */
export const rankedListLoss: Loss<RankedListLossOptions> = defineLoss<RankedListLossOptions>({
  name: "rankedListLoss",
  refuseEmpty: {
    batch: "the mean over no anchors is undefined (PML's RankedListLoss returns NaN)",
  },
  distance: "euclidean",
  reduction: "mean",
  indices: false,
  ref: false,
  options: {
    margin: opt.number(undefined),
    Tn: opt.number(undefined),
    imbalance: opt.number(0.5, { min: 0, max: 1 }),
    alpha: opt.custom<number>(undefined, (v, env) => opt.number(0).check(v, env)),
    Tp: opt.number(0),
  },
  compute(ctx, o) {
    const n = ctx.n, y = ctx.labels;
    const alpha = o.alpha ?? 1 + o.margin / 2, low = alpha - o.margin;
    const same = new Float32Array(n * n), diff = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (y[i] !== y[j]) diff[i * n + j] = 1;
        else if (i !== j) same[i * n + j] = 1;
      }
    }
    const d = tf.mul(ctx.mat(), tf.sub(1, tf.eye(n)));
    // Selections as 0/1 masks (step: 1 above 0, no gradient, as PML's boolean indexing).
    const pStar = tf.mul(d, tf.mul(tf.tensor2d(same, [n, n]), tf.step(tf.sub(d, low))));
    const nStar = tf.mul(d, tf.mul(tf.tensor2d(diff, [n, n]), tf.step(tf.sub(alpha, d))));
    // PML weighs only the entries whose selected distance is > 0; the exponent is taken at 0
    // elsewhere, so no unselected entry can overflow.
    const part = (star: tf.Tensor, gap: tf.Tensor, t: number) => {
      const on = tf.step(star);
      const w = tf.mul(on, tf.exp(tf.mul(tf.mul(gap, on), t)));
      return tf.div(tf.sum(tf.mul(w, gap), 1), tf.add(tf.sum(w, 1), n * 1e-5));
    };
    const lossP = part(pStar, tf.sub(pStar, low), o.Tp);
    const lossN = part(nStar, tf.sub(alpha, nStar), o.Tn);
    const losses = tf.add(tf.mul(lossP, 1 - o.imbalance), tf.mul(lossN, o.imbalance));
    return { loss: { kind: "element", losses } };
  },
});
