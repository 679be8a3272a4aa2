/**
 * Losses on angles: the angular loss (Wang et al. 2017) and the tuplet margin loss (Yu & Tao 2019),
 * as pytorch-metric-learning (PML) defines them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossContext, type LossOptions, opt } from "./_template.ts";
import { binary, maskedLogSumExp, stopGradient } from "./_ops.ts";
import { safeSqrt } from "../distances.ts";

/** Options of {@linkcode angularLoss}; defaults are PML's `AngularLoss`. */
export interface AngularLossOptions extends LossOptions {
  /** The angle α of the paper, in degrees, in [0, 90). Default 40. */
  alpha?: number;
}

/** Largest spread of exponents for which the factorised log-sum-exp cannot underflow. */
const SAFE_SPREAD = 80;

/**
 * `log Σ_k mask_ik exp(u_ik + v_jk)` for every `(i, j)`: `[n, m]` from `u` `[n, r]`, `v` `[m, r]`
 * and a constant 0/1 `mask` `[n, r]`. Factorised as a matrix product of `exp(u − a_i)` and
 * `exp(v − b_j)` (`a`, `b` the row maxima) when the exponents' spread cannot underflow float32;
 * otherwise exactly, in blocks of rows `[rows, m, r]` (holding about `n·m·r` floats in all for the
 * backward pass, only for embeddings of large norm). Rows without a kept `k` give 0 (finite).
 */
function pairLogSumExp(u: tf.Tensor2D, v: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const [n, r] = u.shape;
  const m = v.shape[0];
  const keep = tf.greater(mask, 0);
  const any = tf.greater(tf.sum(mask, 1, true), 0); // [n, 1]
  const um = tf.where(keep, u, tf.fill(u.shape, -Infinity));
  const a = stopGradient(tf.where(any, tf.max(um, 1, true), tf.zeros([n, 1]))); // [n, 1]
  const b = stopGradient(tf.max(v, 1, true)); // [m, 1]
  const spread = tf.add(
    tf.max(tf.where(keep, tf.sub(a, u), tf.zerosLike(u))),
    tf.max(tf.sub(b, v)),
  ).dataSync()[0];
  if (spread <= SAFE_SPREAD) {
    const p = tf.mul(tf.exp(tf.sub(u, a)), mask);
    const q = tf.exp(tf.sub(v, b));
    const s = tf.matMul(p, q, false, true); // [n, m]
    const safe = tf.where(tf.broadcastTo(any, [n, m]), s, tf.onesLike(s));
    return tf.add(tf.add(tf.log(safe), a), tf.reshape(b, [1, m])) as tf.Tensor2D;
  }
  const rows = Math.max(1, Math.floor((1 << 22) / Math.max(1, m * r)));
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += rows) {
    const k = Math.min(rows, n - start);
    const ub = tf.slice(u, [start, 0], [k, r]);
    const mb = tf.slice(mask, [start, 0], [k, r]);
    const x = tf.add(tf.expandDims(ub, 1), tf.expandDims(v, 0)); // [k, m, r]
    const mb3 = tf.broadcastTo(tf.expandDims(mb, 1), [k, m, r]);
    const xm = tf.where(tf.greater(mb3, 0), x, tf.fill([k, m, r], -1e30));
    const top = stopGradient(tf.max(xm, 2, true));
    const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(xm, top)), 2, true)), top);
    parts.push(tf.reshape(lse, [k, m]));
  }
  const lse = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  return tf.where(tf.broadcastTo(any, [n, m]), lse, tf.zerosLike(lse)) as tf.Tensor2D;
}

/**
 * log(1 + e^z) as PML's `logsumexp(…, add_one=True)` rounds it: `M + log(e^−M + e^(z−M))` with
 * `M = max(z, 0)`, exactly 0 in float32 once e^z < 2⁻²⁴ (where `softplus` would keep a tiny
 * positive value), so that reducers counting non-zero losses count what PML counts.
 */
function logOnePlusExp(z: tf.Tensor): tf.Tensor {
  const top = stopGradient(tf.relu(z));
  return tf.add(tf.log(tf.add(tf.exp(tf.neg(top)), tf.exp(tf.sub(z, top)))), top);
}

/** 0/1 `[n, m]`: batch row `i` and reference row `k` have different labels. */
function negativeMask(ctx: LossContext): tf.Tensor2D {
  const y = ctx.labels, ry = ctx.hasRef ? ctx.refLabels : y;
  const out = new Float32Array(ctx.n * ctx.m);
  for (let i = 0; i < ctx.n; i++) {
    for (let k = 0; k < ctx.m; k++) out[i * ctx.m + k] = y[i] !== ry[k] ? 1 : 0;
  }
  return tf.tensor2d(out, [ctx.n, ctx.m]);
}

/**
 * Angular loss (Wang et al., "Deep Metric Learning with Angular Loss", ICCV 2017), PML's
 * `AngularLoss`: for each positive pair `(a, p)` (anchors and positives L2-normalised) and the
 * reference rows `x_n` whose label differs from `a`'s,
 *
 *   ℓ(a, p) = log(1 + Σ_n exp(4 tan²α (a + p)·x_n − 2 (1 + tan²α) a·p)),
 *
 * averaged over the positive pairs (default `"mean"`, PML's `MeanReducer`). As in PML, the
 * negatives `x_n` are every reference row of another label (not only mined negatives) and are
 * *not* normalised (PML multiplies by the raw `ref_emb`). Computed as a matrix product, never an
 * `[n, n, n]` tensor (except for embeddings of very large norm, where an exact blocked form takes
 * over). Euclidean distance on normalised embeddings only (PML asserts `LpDistance(p=2, power=1,
 * normalize_embeddings=True)`). No positive pair or no negative pair gives 0.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n, m]` matrix of the positive pairs' losses
 *   times multiplicity (0 elsewhere; `m = n` without `refEmbeddings`)
 * @throws Error for `alpha` outside [0, 90), another distance or `normalizeEmbeddings: false`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { angularLoss } from "./angular.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const v = angularLoss(e, [0, 0, 1]).dataSync()[0];
 * // pairs (0, 1) and (1, 0): a + p = (1.8, 0.6), a·p = 0.8, the negative (0, 1), t = tan²40°:
 * // log(1 + exp(4t·0.6 − 2(1 + t)·0.8)) = 0.3035 each (PML 2.9.0: 0.3035155)
 * assert.ok(Math.abs(v - 0.3035155) < 1e-5);
 * ```
 */
export const angularLoss: Loss<AngularLossOptions> = defineLoss<AngularLossOptions>({
  name: "angularLoss",
  distance: "euclidean",
  reduction: "mean",
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  checkDistance: (d, normalize) =>
    d.metric.name !== "euclidean"
      ? `distance must be "euclidean" (PML's AngularLoss requires LpDistance(p=2, power=1))`
      : !normalize
      ? "normalizeEmbeddings must be true (PML's AngularLoss requires it)"
      : undefined,
  options: { alpha: opt.number(40, { min: 0, lt: 90 }) },
  compute(ctx, o) {
    const { pos, numPos, numNeg } = ctx.pairMatrices();
    if (numPos === 0 || numNeg === 0) return ctx.zero();
    const t = Math.tan((o.alpha * Math.PI) / 180) ** 2;
    const anchors = ctx.normalized(ctx.embeddings); // [n, d]
    const positives = ctx.normalized(ctx.ref); // [m, d]
    const raw = ctx.ref; // [m, d]: PML's negatives are not normalised
    const u = tf.mul(tf.matMul(anchors, raw, false, true), 4 * t) as tf.Tensor2D; // [n, m]
    const v = tf.mul(tf.matMul(positives, raw, false, true), 4 * t) as tf.Tensor2D; // [m, m]
    const ap = tf.mul(tf.matMul(anchors, positives, false, true), 2 * (1 + t)); // [n, m]
    const neg = negativeMask(ctx);
    const lse = pairLogSumExp(u, v, neg);
    const hasNeg = tf.greater(tf.sum(neg, 1, true), 0);
    const losses = tf.where(
      tf.broadcastTo(hasNeg, [ctx.n, ctx.m]),
      logOnePlusExp(tf.sub(lse, ap)),
      tf.zeros([ctx.n, ctx.m]),
    );
    return { loss: { kind: "pair", losses, weights: pos } };
  },
});

/** Options of {@linkcode tupletMarginLoss}; defaults are PML's `TupletMarginLoss`. */
export interface TupletMarginLossOptions extends LossOptions {
  /** Angular margin β subtracted from the positive pair's angle, in degrees. Default 5.73. */
  margin?: number;
  /** Scale `s` of the cosines. Default 64. */
  scale?: number;
}

/**
 * Tuplet margin loss (Yu & Tao, "Deep Metric Learning with Tuplet Margin Loss", ICCV 2019),
 * PML's `TupletMarginLoss`: with cosine similarities `s`, for each positive pair `(a, p)` at angle
 * `θ_ap = arccos s_ap` and the negative pairs `(a, n)` listed with the same anchor,
 *
 *   ℓ(a, p) = log(1 + Σ_n exp(scale (s_an − cos(θ_ap − margin)))),
 *
 * averaged over the positive pairs (default `"mean"`). `cos(θ − β)` is computed as
 * `s cos β + √(1 − s²) sin β` (equal for s in [−1, 1]), whose gradient stays finite at s = ±1 where
 * PML's `acos` gives NaN (two coincident embeddings). Cosine similarity on normalised embeddings
 * only. No positive or no negative pair gives 0; a pair of a batch row without negatives pays 0.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n, m]` matrix of the positive pairs' losses
 *   times multiplicity (0 elsewhere)
 * @throws Error for a non-finite margin, `scale` not > 0, a distance other than `"cosine"` or
 *   `normalizeEmbeddings: false`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { tupletMarginLoss } from "./angular.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const v = tupletMarginLoss(e, [0, 0, 1], { scale: 4 }).dataSync()[0];
 * // (0, 1): s = 0.8 ⇒ cos(36.87° − 5.73°) = 0.85594; its negative (0, 2) has s = 0:
 * // log(1 + e^{4(0 − 0.85594)}) = 0.03207; (1, 0): its negative (1, 2) has s = 0.6:
 * // log(1 + e^{4(0.6 − 0.85594)}) = 0.30692. Mean 0.16950 (PML 2.9.0: 0.1695178)
 * assert.ok(Math.abs(v - 0.1695178) < 1e-5);
 * ```
 */
export const tupletMarginLoss: Loss<TupletMarginLossOptions> = defineLoss<
  TupletMarginLossOptions
>({
  name: "tupletMarginLoss",
  distance: "cosine",
  reduction: "mean",
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  checkDistance: (d, normalize) =>
    d.metric.name !== "cosineSimilarity"
      ? `distance must be "cosine" (PML's TupletMarginLoss requires CosineSimilarity)`
      : !normalize
      ? "normalizeEmbeddings must be true (the angles need cosines in [-1, 1])"
      : undefined,
  options: { margin: opt.number(5.73), scale: opt.positive(64) },
  compute(ctx, o) {
    const { pos, neg, numPos, numNeg } = ctx.pairMatrices();
    if (numPos === 0 || numNeg === 0) return ctx.zero();
    const beta = (o.margin * Math.PI) / 180;
    const s = tf.clipByValue(ctx.mat(), -1, 1);
    const sine = safeSqrt(tf.sub(1, tf.square(s)));
    const shifted = tf.add(tf.mul(s, Math.cos(beta)), tf.mul(sine, Math.sin(beta)));
    // log Σ_n w_an exp(scale·s_an), each negative pair as often as it is listed.
    const logW = tf.log(tf.maximum(neg, 1));
    const negLse = maskedLogSumExp(
      tf.add(tf.mul(s, o.scale), logW) as tf.Tensor2D,
      binary(neg),
      false,
    ); // [n, 1]
    const hasNeg = tf.greater(tf.sum(neg, 1, true), 0);
    const losses = tf.where(
      tf.broadcastTo(hasNeg, [ctx.n, ctx.m]),
      logOnePlusExp(tf.sub(negLse, tf.mul(shifted, o.scale))),
      tf.zeros([ctx.n, ctx.m]),
    );
    return { loss: { kind: "pair", losses, weights: pos } };
  },
});
