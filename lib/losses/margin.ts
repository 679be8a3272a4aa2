/**
 * The margin loss of "Sampling Matters in Deep Embedding Learning" (Wu, Manmatha, Smola &
 * Krähenbühl, ICCV 2017) as pytorch-metric-learning (PML) defines it, with a fixed or learned
 * boundary β (one for all classes or one per class).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type CheckEnv,
  defineLoss,
  type Loss,
  type LossContext,
  type LossTerms,
  type OptionSpec,
  type ParametrizedLossOptions,
} from "./_template.ts";
import { opt } from "./_template.ts";
import type { Reducer } from "./_reduce.ts";

/** Options of {@linkcode marginLoss}; defaults are PML's `MarginLoss`. */
export interface MarginLossOptions extends ParametrizedLossOptions {
  /** Half-width α of the band around β that pairs must leave. Default 0.2. */
  margin?: number;
  /** Weight ν of the regulariser ν·β added when `learnBeta` (PML's `nu`). Default 0. */
  nu?: number;
  /**
   * The boundary β between positive and negative distances: a number (fixed, default 1.2), or a
   * tensor `[1]` — `[numClasses]` with `numClasses` — whose gradient the caller uses to learn it
   * (the functional form of PML's `learn_beta`); in a `TrainableLoss` the number is the initial
   * value of the owned variable.
   */
  beta?: number | tf.Tensor;
  /** PML's `learn_beta`: add the term ν·β; needs `beta` as a tensor (or a `TrainableLoss`). Default false. */
  learnBeta?: boolean;
  /** One β per class (labels must be `0 … numClasses − 1`), PML's `num_classes`. Default: one β. */
  numClasses?: number;
}

const DEFAULT_BETA = 1.2;

/** β: a finite number, or a tensor (its shape is checked by the template). */
const betaSpec: OptionSpec<number | tf.Tensor> = {
  default: DEFAULT_BETA,
  check(v: unknown, env: CheckEnv) {
    if (v instanceof tf.Tensor) return;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new Error(
        `${env.fn}: ${env.name} must be a finite number or a tensor, got ${String(v)}`,
      );
    }
  },
  parameter: {
    shape: (o) => [typeof o.numClasses === "number" ? o.numClasses : 1],
    init: (shape, _seed, o) => tf.fill(shape, typeof o.beta === "number" ? o.beta : DEFAULT_BETA),
    regularize: (v) => tf.reshape(v, [-1, 1]) as tf.Tensor2D,
  },
};

/**
 * PML's `DivisorReducer`: `sum / divisor`, 0 when the divisor is 0 (the divisor counts terms > 0,
 * through `tf.step`, so it carries no gradient).
 */
function byDivisor(sum: tf.Tensor, divisor: tf.Tensor): tf.Scalar {
  return tf.div(tf.mul(sum, tf.minimum(divisor, 1)), tf.maximum(divisor, 1)) as tf.Scalar;
}

/** Whether the all-triplet sums fold the reducer (else the triplets are listed). */
function foldable(r: Reducer): boolean {
  switch (r.name) {
    case "divisor":
    case "mean":
    case "sum":
    case "classWeighted":
      return true;
    case "threshold":
      return r.low === 0 && r.high === undefined; // "avgNonZero"
    default:
      return false;
  }
}

/** β per batch row `[n, 1]` (one β, or β of the row's class). */
function betaPerRow(ctx: LossContext, beta: number | tf.Tensor, numClasses?: number): tf.Tensor2D {
  const classes = numClasses ?? (beta instanceof tf.Tensor ? beta.size : 1);
  if (numClasses !== undefined || classes > 1) {
    const y = ctx.labels;
    for (let i = 0; i < y.length; i++) {
      if (!(y[i] >= 0 && y[i] < classes)) {
        throw new Error(
          `${ctx.fn}: label ${y[i]} (row ${i}) has no β: with numClasses ${classes} labels ` +
            `must be 0 … ${classes - 1}`,
        );
      }
    }
  }
  if (typeof beta === "number") return tf.fill([ctx.n, 1], beta) as tf.Tensor2D;
  if (beta.size === 1) return tf.broadcastTo(tf.reshape(beta, [1, 1]), [ctx.n, 1]) as tf.Tensor2D;
  return tf.reshape(
    tf.gather(tf.reshape(beta, [-1]), tf.tensor1d(ctx.labels, "int32")),
    [ctx.n, 1],
  );
}

/**
 * Margin loss (Wu et al. 2017), PML's `MarginLoss`: each triplet `(a, p, n)` pays
 *
 *   relu(d(a,p) − β + α) + relu(β − d(a,n) + α)
 *
 * (for a similarity, `relu(β − s(a,p) + α) + relu(s(a,n) − β + α)`), with α = `margin` and β the
 * boundary of the anchor's class (`numClasses`) or one for all. By default (PML's
 * `DivisorReducer`) the sum over all triplets is divided by the number of positive and negative
 * terms that are > 0. With `learnBeta` the term ν·β is added (one β: as is; per class: one per
 * triplet, reduced like the triplets). All triplets of the batch (against `refEmbeddings` when
 * given) unless `indices` are given.
 *
 * With all triplets and the reducers `"divisor"`, `"mean"`, `"sum"`, `"avgNonZero"` and
 * `classWeighted` the sums over triplets are folded into `[n, m]` pair sums (each pair's term
 * counted once per triplet it appears in): no list of triplets is built. Other reducers and
 * `"none"` list the triplets (`n·k·(m − k)` values for classes of `k`).
 *
 * Defaults: margin 0.2, ν 0, β 1.2 (fixed), Euclidean distance on L2-normalised embeddings. PML's
 * `triplets_per_anchor` (random triplets) is not offered: all triplets or `indices`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` (`0 … numClasses − 1` with per-class β)
 * @returns a scalar; with `reduction: "none"` a `[t]` tensor, one loss per triplet in PML's order
 *   (plus its ν·β with per-class β)
 * @throws Error for a negative margin (with a distance), a negative `nu`, a non-finite `beta`,
 *   `learnBeta` with a numeric `beta`, a `beta` tensor whose shape is not `[numClasses]` (or `[1]`),
 *   a label outside `0 … numClasses − 1`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { marginLoss } from "./margin.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const v = marginLoss(e, [0, 0, 1]).dataSync()[0];
 * // triplets (0, 1, 2), (1, 0, 2): positive terms relu(0.6325 − 1.2 + 0.2) = 0; negative terms
 * // relu(1.2 − 1.4142 + 0.2) = 0, relu(1.2 − 0.8944 + 0.2) = 0.5056: one term > 0
 * assert.ok(Math.abs(v - 0.5056) < 1e-4);
 * // β learned per class: the tensor's gradient
 * const beta = tf.tensor1d([1, 1.4]);
 * const g = tf.grad((b: tf.Tensor) => marginLoss(e, [0, 0, 1], { beta: b, numClasses: 2 }))(beta);
 * assert.ok(g.dataSync()[0] > 0);
 * ```
 */
export const marginLoss: Loss<MarginLossOptions> = defineLoss<MarginLossOptions>({
  name: "marginLoss",
  distance: "euclidean",
  reduction: { name: "divisor" },
  subLosses: ["marginLoss", "betaRegLoss"],
  wrappers: { crossBatchMemory: true },
  options: {
    margin: opt.margin(0.2),
    nu: opt.number(0, { min: 0 }),
    beta: betaSpec,
    learnBeta: opt.boolean(false),
    numClasses: opt.integer(undefined, { min: 1 }, true),
  },
  validate(o, { fn }) {
    if (o.learnBeta && !(o.beta instanceof tf.Tensor)) {
      throw new Error(
        `${fn}: learnBeta needs beta as a tensor ([1], or [numClasses]) to learn, or the loss ` +
          `in a TrainableLoss; got beta = ${o.beta}`,
      );
    }
  },
  compute(ctx, o) {
    const beta = betaPerRow(ctx, o.beta, o.numClasses);
    const perClass = o.beta instanceof tf.Tensor ? o.beta.size > 1 : (o.numClasses ?? 1) > 1;
    const reg = o.learnBeta ? (o.beta as tf.Tensor) : undefined;
    const mReducer = ctx.reducerFor("marginLoss");
    const rReducer = ctx.reducerFor("betaRegLoss");
    if (
      ctx.indices === undefined && !ctx.none && foldable(mReducer) &&
      (!reg || !perClass || foldable(rReducer))
    ) {
      return folded(
        ctx,
        o.margin,
        beta,
        reg && { beta: reg, nu: o.nu, perClass, reducer: rReducer },
      );
    }
    // Listed triplets (mined, or for reducers that need each triplet's value).
    const t = ctx.triplets();
    if (t.a.length === 0) return ctx.zero();
    const flat = tf.reshape(ctx.mat(), [-1]);
    const at = (rows: Int32Array, cols: Int32Array) =>
      tf.gather(flat, tf.tensor1d(rows.map((r, i) => r * ctx.m + cols[i]), "int32"));
    const b = tf.gather(tf.reshape(beta, [-1]), tf.tensor1d(t.a, "int32"));
    const posL = tf.relu(tf.add(ctx.margin(at(t.a, t.p), b), o.margin));
    const negL = tf.relu(tf.add(ctx.margin(b, at(t.a, t.n)), o.margin));
    const losses = tf.add(posL, negL);
    const divisor = tf.add(tf.sum(tf.step(posL)), tf.sum(tf.step(negL)));
    const terms: LossTerms = {
      marginLoss: mReducer.name === "divisor"
        ? { kind: "reduced", value: byDivisor(tf.sum(losses), divisor) }
        : { kind: "triplet", losses, anchors: t.a },
      betaRegLoss: { kind: "zero" },
    };
    if (reg) {
      const regLosses = tf.mul(b, o.nu);
      terms.betaRegLoss = !perClass
        ? { kind: "reduced", value: tf.mul(tf.sum(reg), o.nu) as tf.Scalar }
        : rReducer.name === "divisor"
        ? { kind: "reduced", value: byDivisor(tf.sum(regLosses), divisor) }
        : { kind: "element", losses: regLosses, anchors: t.a };
    }
    return terms;
  },
});

/**
 * All triplets folded into pair sums: for anchor `i` with `kP_i` positives and `kN_i` negatives,
 * Σ_triplets (pos + neg) = Σ_i (kN_i Σ_p pos_ip + kP_i Σ_n neg_in), and likewise for the counts
 * the reducers divide by (terms > 0, triplets with a non-zero loss).
 */
function folded(
  ctx: LossContext,
  margin: number,
  beta: tf.Tensor2D,
  reg: { beta: tf.Tensor; nu: number; perClass: boolean; reducer: Reducer } | undefined,
): LossTerms {
  const { n, m } = ctx;
  const y = ctx.labels, ry = ctx.hasRef ? ctx.refLabels : y;
  const kP = new Float32Array(n), kN = new Float32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (y[i] !== ry[j]) kN[i]++;
      else if (ctx.hasRef || i !== j) kP[i]++;
    }
    total += kP[i] * kN[i];
  }
  if (total === 0) return ctx.zero();
  const { pos, neg } = ctx.pairMatrices();
  const mat = ctx.mat();
  const posL = tf.relu(tf.add(ctx.margin(mat, beta), margin));
  const negL = tf.relu(tf.add(ctx.margin(beta, mat), margin));
  const kPt = tf.tensor2d(kP, [n, 1]), kNt = tf.tensor2d(kN, [n, 1]);
  const rowSum = (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(x, w), 1, true); // [n, 1]
  // Per anchor: Σ over its triplets of the loss, of the terms > 0, and its zero terms.
  const perAnchor = tf.add(tf.mul(kNt, rowSum(posL, pos)), tf.mul(kPt, rowSum(negL, neg)));
  const posOn = tf.step(posL), negOn = tf.step(negL);
  const terms = (on: tf.Tensor, k: tf.Tensor, w: tf.Tensor) => tf.mul(k, rowSum(on, w));
  const divisor = tf.sum(tf.add(terms(posOn, kNt, pos), terms(negOn, kPt, neg)));
  const r = ctx.reducerFor("marginLoss");
  let value: tf.Tensor;
  switch (r.name) {
    case "divisor":
      value = byDivisor(tf.sum(perAnchor), divisor);
      break;
    case "sum":
      value = tf.sum(perAnchor);
      break;
    case "classWeighted":
      value = tf.div(tf.sum(tf.mul(perAnchor, classWeights(ctx, r.weights))), total);
      break;
    case "threshold": {
      // Triplets with loss 0: both terms 0, i.e. (zero positive terms) × (zero negative terms).
      const zeroP = rowSum(tf.sub(1, posOn), pos), zeroN = rowSum(tf.sub(1, negOn), neg);
      const nonZero = tf.sub(total, tf.sum(tf.mul(zeroP, zeroN)));
      value = tf.div(tf.sum(perAnchor), tf.maximum(nonZero, 1));
      break;
    }
    default: // "mean"
      value = tf.div(tf.sum(perAnchor), total);
  }
  const out: LossTerms = {
    marginLoss: { kind: "reduced", value: value as tf.Scalar },
    betaRegLoss: { kind: "zero" },
  };
  if (reg) {
    if (!reg.perClass) {
      out.betaRegLoss = { kind: "reduced", value: tf.mul(tf.sum(reg.beta), reg.nu) as tf.Scalar };
    } else {
      // One ν·β per triplet: per anchor, weighted by its number of triplets.
      const losses = tf.mul(tf.reshape(beta, [-1]), reg.nu);
      const weights = tf.tensor1d(kP.map((p, i) => p * kN[i]));
      out.betaRegLoss = reg.reducer.name === "divisor"
        ? { kind: "reduced", value: byDivisor(tf.sum(tf.mul(losses, weights)), divisor) }
        : { kind: "element", losses, weights };
    }
  }
  return out;
}

/** The class weight of each batch row `[n, 1]`, checked. */
function classWeights(ctx: LossContext, weights: Float64Array): tf.Tensor2D {
  const y = ctx.labels;
  const w = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    if (!(y[i] >= 0 && y[i] < weights.length)) {
      throw new Error(
        `${ctx.fn}: reduction classWeighted has no weight for class ${y[i]} ` +
          `(weights has ${weights.length} entries)`,
      );
    }
    w[i] = weights[y[i]];
  }
  return tf.tensor2d(w, [y.length, 1]);
}
