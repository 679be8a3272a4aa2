/**
 * VICReg (Bardes, Ponce & LeCun 2022, "VICReg: Variance-Invariance-Covariance Regularization for
 * Self-Supervised Learning"), as pytorch-metric-learning (PML) 2.9 defines it: a self-supervised
 * loss on two views of a batch, without labels, pairs or a distance.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions, opt } from "./_template.ts";
import type { Metric } from "../distances.ts";

/** Options of {@linkcode vicRegLoss}; defaults are PML's `VICRegLoss`. */
export interface VICRegLossOptions extends
  Omit<
    LossOptions,
    "distance" | "normalizeEmbeddings" | "indices" | "refLabels" | "embeddingRegularizer"
  > {
  /** The second view `[n, d]` (PML's `ref_emb`); default: the embeddings themselves. */
  refEmbeddings?: tf.Tensor2D;
  /** Weight λ of the invariance term. A finite number ≥ 0; default 25. */
  invarianceLambda?: number;
  /** Weight μ of the variance terms. A finite number ≥ 0; default 25. */
  varianceMu?: number;
  /** Weight ν of the covariance term. A finite number ≥ 0; default 1. */
  covarianceV?: number;
  /** ε added to the variance before its square root. A finite number > 0; default 1e-4. */
  eps?: number;
}

/** The default "distance" of VICReg: none. Any other distance is refused, as PML refuses one. */
const NO_DISTANCE: Metric = {
  name: "none",
  isSimilarity: false,
  axioms: { nonNegativity: false, identity: false, symmetry: false, triangleInequality: false },
  pairwise() {
    throw new Error("vicRegLoss uses no distance");
  },
};

/** Column variances, unbiased (divided by n − 1), as PyTorch's `var(dim=0)`. */
function columnVariance(x: tf.Tensor2D): tf.Tensor1D {
  const n = x.shape[0];
  const centred = tf.sub(x, tf.mean(x, 0));
  return tf.div(tf.sum(tf.square(centred), 0), n - 1) as tf.Tensor1D;
}

/** Σ of the squared off-diagonal entries of the covariance matrix of `x`, over d. */
function offDiagonalCovariance(x: tf.Tensor2D): tf.Scalar {
  const [n, d] = x.shape;
  const centred = tf.sub(x, tf.mean(x, 0)) as tf.Tensor2D;
  const cov = tf.div(tf.matMul(centred, centred, true, false), n - 1);
  const off = tf.mul(cov, tf.sub(1, tf.eye(d)));
  return tf.div(tf.sum(tf.square(off)), d) as tf.Scalar;
}

/**
 * VICReg loss, PML's `VICRegLoss`, on two views `Z = embeddings` and `Z' = refEmbeddings` (row
 * `i` of each is a view of the same input; `Z' = Z` when no reference set is given), both
 * `[n, d]` and used as they are (not normalised):
 *
 *   L = λ · mean_i ‖z_i − z'_i‖²/d + μ · mean_k ½·relu(1 − S_k(Z)) + μ · mean_k ½·relu(1 − S_k(Z'))
 *       + ν · (C(Z) + C(Z')),
 *
 * with `S_k(Z) = sqrt(Var(Z[:, k]) + ε)` (unbiased variance of column `k`) and `C(Z)` the sum of
 * the squared off-diagonal entries of Z's covariance matrix (divided by n − 1) over `d`. The four
 * parts are the sub-losses `invarianceLoss` (`[n]`), `varianceLoss1` and `varianceLoss2` (`[d]`),
 * each reduced by the reducer (default `"mean"`), and `covarianceLoss` (already reduced).
 *
 * The loss takes no labels (call it with `undefined`, as PML's `loss(emb, ref_emb=ref)`),
 * no `indices`, no distance and no `normalizeEmbeddings`: PML refuses each of them.
 *
 * @param embeddings `[n, d]` the first view
 * @param labels `undefined`
 * @returns a scalar
 * @throws Error for labels, `refLabels`, `indices`, `distance` or `normalizeEmbeddings: true`
 *   (PML refuses them), a weight not finite ≥ 0, `eps` not finite > 0, `refEmbeddings` of another
 *   shape than the embeddings, fewer than 2 rows (the unbiased variance is undefined: PML returns
 *   NaN), or `reduction: "none"` (the covariance part is a scalar).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { vicRegLoss } from "./vicreg.ts";
 * const z = tf.tensor2d([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]]);
 * const views = tf.tensor2d([[0.9, 0.1], [0.1, 0.9], [0.7, 0.7], [0.5, 0.9]]);
 * const v = vicRegLoss(z, undefined, { refEmbeddings: views }).dataSync()[0];
 * assert.ok(Math.abs(v - 15.3815) < 1e-3); // PML 2.9.0: 15.38148
 * ```
 */
export const vicRegLoss: Loss<VICRegLossOptions> = defineLoss<VICRegLossOptions>({
  name: "vicRegLoss",
  refuseEmpty: {
    batch: "the variance and covariance of no rows are undefined (PML's VICRegLoss returns NaN)",
  },
  distance: NO_DISTANCE,
  normalizeEmbeddings: false,
  reduction: "mean",
  indices: false,
  labels: false,
  subLosses: ["invarianceLoss", "varianceLoss1", "varianceLoss2", "covarianceLoss"],
  checkDistance: (d, normalize) =>
    d.metric !== NO_DISTANCE
      ? `takes no distance (PML's VICRegLoss cannot use one), got ${JSON.stringify(d.metric.name)}`
      : normalize
      ? "normalizeEmbeddings must be false: VICReg works on the embeddings as they are"
      : undefined,
  options: {
    invarianceLambda: opt.number(25, { min: 0 }),
    varianceMu: opt.number(25, { min: 0 }),
    covarianceV: opt.number(1, { min: 0 }),
    eps: opt.positive(1e-4),
  },
  compute(ctx, o) {
    const z = ctx.embeddings, zr = ctx.ref;
    if (zr.shape[0] !== ctx.n) {
      throw new Error(
        `${ctx.fn}: refEmbeddings must have the shape of the embeddings [${ctx.n}, ${ctx.d}], ` +
          `got [${zr.shape}]`,
      );
    }
    if (ctx.n < 2) {
      throw new Error(
        `${ctx.fn}: needs at least 2 rows (the unbiased variance of 1 row is undefined), got 1`,
      );
    }
    const std = (x: tf.Tensor2D) => tf.sqrt(tf.add(columnVariance(x), o.eps));
    const variance = (x: tf.Tensor2D) => tf.mul(tf.relu(tf.sub(1, std(x))), o.varianceMu / 2);
    return {
      invarianceLoss: {
        kind: "element",
        losses: tf.mul(tf.mean(tf.square(tf.sub(z, zr)), 1), o.invarianceLambda),
      },
      varianceLoss1: { kind: "element", losses: variance(z) },
      varianceLoss2: { kind: "element", losses: variance(zr) },
      covarianceLoss: {
        kind: "reduced",
        value: tf.mul(
          tf.add(offDiagonalCovariance(z), offDiagonalCovariance(zr)),
          o.covarianceV,
        ) as tf.Scalar,
      },
    };
  },
});
