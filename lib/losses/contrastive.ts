/**
 * Pair losses with margins: the contrastive loss (Hadsell, Chopra & LeCun 2006) as
 * pytorch-metric-learning (PML) defines it, the loss on positive pairs alone (which collapses the
 * embedding), and the ring loss (positives inside a radius, negatives beyond an outer radius).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type CheckEnv, defineLoss, type Loss, type LossOptions, opt } from "./_template.ts";

/** Options of {@linkcode contrastiveLoss}; defaults are PML's `ContrastiveLoss`. */
export interface ContrastiveLossOptions extends LossOptions {
  /** Positive pairs are penalised beyond this distance (below this similarity). Default 0. */
  posMargin?: number;
  /** Negative pairs are penalised within this distance (above this similarity). Default 1. */
  negMargin?: number;
  /** Square the hinge terms, the classic Hadsell et al. form ½d², ½max(0, m − d)². Default false. */
  squared?: boolean;
}

const hinge = (x: tf.Tensor, squared: boolean) => {
  const h = tf.relu(x);
  return squared ? tf.mul(tf.square(h), 0.5) : h;
};

/**
 * Contrastive loss over pairs (PML's `ContrastiveLoss`): a positive pair pays
 * `relu(d − posMargin)`, a negative pair `relu(negMargin − d)` (for a similarity `s`:
 * `relu(posMargin − s)` and `relu(s − negMargin)`). Each of the two sub-losses (`posLoss`,
 * `negLoss`) is reduced over its pairs (default `"avgNonZero"`, PML's `AvgNonZeroReducer`) and
 * the two are summed. With `squared` the hinges become ½·hinge², the form of Hadsell, Chopra &
 * LeCun (2006). Defaults: Euclidean distance on L2-normalised embeddings, all pairs (or the
 * pairs of `indices`; triplets `(a, p, n)` count as pairs `(a, p)` and `(a, n)`).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` class labels
 * @returns a scalar; with `reduction: "none"` the `[n, m]` matrix of per-pair losses times each
 *   pair's multiplicity (0 where `(i, j)` is not a pair; `m = n` without `refEmbeddings`)
 * @throws Error for an unknown option, a margin that is not finite (or negative with a distance),
 *   mismatched labels or indices.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { contrastiveLoss } from "./contrastive.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const v = contrastiveLoss(e, [0, 0, 1]).dataSync()[0];
 * // positives: d(0, 1) = 0.6325; negatives: only (1, 2) is within 1, by 1 − 0.8944
 * assert.ok(Math.abs(v - (0.6325 + 0.1056)) < 1e-4);
 * ```
 */
export const contrastiveLoss: Loss<ContrastiveLossOptions> = defineLoss<ContrastiveLossOptions>({
  name: "contrastiveLoss",
  distance: "euclidean",
  reduction: "avgNonZero",
  subLosses: ["posLoss", "negLoss"],
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: {
    posMargin: opt.margin(0),
    negMargin: opt.margin(1),
    squared: opt.boolean(false),
  },
  compute(ctx, o) {
    const { pos, neg } = ctx.pairMatrices();
    const mat = ctx.mat();
    return {
      posLoss: {
        kind: "pair",
        losses: hinge(ctx.margin(mat, o.posMargin), o.squared),
        weights: pos,
      },
      negLoss: {
        kind: "pair",
        losses: hinge(ctx.margin(o.negMargin, mat), o.squared),
        weights: neg,
      },
    };
  },
});

/** Options of {@linkcode positivePairLoss}. */
export interface PositivePairLossOptions extends LossOptions {
  /** Positive pairs are penalised beyond this distance (below this similarity). Default 0. */
  posMargin?: number;
  /** Penalise ½·hinge² instead of the hinge. Default false. */
  squared?: boolean;
}

/**
 * The positive half of the contrastive loss alone: each positive pair pays
 * `relu(d − posMargin)` (or ½·relu(d − posMargin)² with `squared`), averaged over positive pairs
 * (default `"mean"`). Nothing keeps dissimilar samples apart, so minimising it *collapses* the
 * embedding: every input maps to (nearly) the same point — the failure that the negative term of
 * the contrastive loss exists to prevent. Not a PML loss; it equals PML's `ContrastiveLoss` with
 * the negative term removed and a `MeanReducer`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n, m]` per-pair losses times multiplicity
 * @throws Error for an unknown option or a bad `posMargin`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { positivePairLoss } from "./contrastive.ts";
 * const v = positivePairLoss(tf.tensor2d([[1, 0], [0, 1]]), [0, 0]).dataSync()[0];
 * assert.ok(Math.abs(v - Math.SQRT2) < 1e-5);
 * ```
 */
export const positivePairLoss: Loss<PositivePairLossOptions> = defineLoss<
  PositivePairLossOptions
>({
  name: "positivePairLoss",
  distance: "euclidean",
  reduction: "mean",
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: {
    posMargin: opt.margin(0),
    squared: opt.boolean(false),
  },
  compute(ctx, o) {
    const { pos } = ctx.pairMatrices();
    const losses = hinge(ctx.margin(ctx.mat(), o.posMargin), o.squared);
    return { loss: { kind: "pair", losses, weights: pos } };
  },
});

/** Options of {@linkcode ringLoss}. */
export interface RingLossOptions extends LossOptions {
  /**
   * Radius r_in of the ball around each anchor that holds its positives; one number, or one per
   * class indexed by label (`innerRadius[label]`). Default 0.5.
   */
  innerRadius?: number | readonly number[];
  /**
   * Radius r_out (≥ r_in) beyond which negatives are pushed; one number or one per class.
   * Default 1.2.
   */
  outerRadius?: number | readonly number[];
  /** Penalise ½·hinge² instead of the hinge. Default false. */
  squared?: boolean;
}

function checkRadius(v: unknown, env: CheckEnv): void {
  const ok = (r: unknown) => typeof r === "number" && Number.isFinite(r) && r >= 0;
  if (
    typeof v === "number" ? ok(v) : Array.isArray(v) && v.every((r) => r === undefined || ok(r))
  ) {
    return;
  }
  throw new Error(
    `${env.fn}: ${env.name} must be a finite number ≥ 0 or one such number per class, got ${v}`,
  );
}

function radiusPerAnchor(
  fn: string,
  name: string,
  r: number | readonly number[],
  labels: Int32Array,
): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = typeof r === "number" ? r : r[labels[i]];
    if (typeof v !== "number") {
      throw new Error(
        `${fn}: ${name}[${
          labels[i]
        }] (class of sample ${i}) is ${v}; give one radius ≥ 0 per class`,
      );
    }
    out[i] = v;
  }
  return out;
}

/**
 * Ring loss, after the ring-push idea of "Ring-push metric learning for person
 * re-identification" (J. Electron. Imaging 26(3), 2017): around each anchor `a` of class `c`, its
 * positives are held inside an inner radius `r_in(c)` and its negatives pushed beyond an outer
 * radius `r_out(c) ≥ r_in(c)`, leaving an empty ring between them. The formula implemented here
 * (our formulation of that idea, not the paper's exact objective) is
 *
 *   L = reduce_{(a,p) positive} h(d(a,p) − r_in(y_a)) + reduce_{(a,n) negative} h(r_out(y_a) − d(a,n)),
 *
 * with `h(x) = max(0, x)` (or `½ max(0, x)²` when `squared`), each sum reduced by default with
 * `"avgNonZero"` as the contrastive loss. With one radius for all classes it is the contrastive
 * loss with `posMargin = r_in`, `negMargin = r_out`; per-class radii let compact and spread-out
 * classes keep their own scale. Distances only (not similarities).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n, m]` per-pair losses times multiplicity
 * @throws Error for a similarity, a radius missing for a class, or `outerRadius < innerRadius`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { ringLoss } from "./contrastive.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const v = ringLoss(e, [0, 0, 1], { innerRadius: [0.1, 0.3], outerRadius: 1.5 }).dataSync()[0];
 * // positives: 0.6325 − 0.1; negatives: (1.5 − 1.4142 + 1.5 − 0.8944) / 2
 * assert.ok(Math.abs(v - 0.8781) < 1e-4);
 * ```
 */
export const ringLoss: Loss<RingLossOptions> = defineLoss<RingLossOptions>({
  name: "ringLoss",
  distance: "euclidean",
  reduction: "avgNonZero",
  subLosses: ["posLoss", "negLoss"],
  pairLoss: true,
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  checkDistance: (d) => d.inverted ? "distance must be a distance, not a similarity" : undefined,
  options: {
    innerRadius: opt.custom<number | readonly number[]>(0.5, checkRadius),
    outerRadius: opt.custom<number | readonly number[]>(1.2, checkRadius),
    squared: opt.boolean(false),
  },
  compute(ctx, o) {
    const rin = radiusPerAnchor(ctx.fn, "innerRadius", o.innerRadius, ctx.labels);
    const rout = radiusPerAnchor(ctx.fn, "outerRadius", o.outerRadius, ctx.labels);
    for (let i = 0; i < ctx.n; i++) {
      if (rout[i] < rin[i]) {
        throw new Error(
          `${ctx.fn}: outerRadius (${rout[i]}) is smaller than innerRadius (${rin[i]}) for class ${
            ctx.labels[i]
          }`,
        );
      }
    }
    const { pos, neg } = ctx.pairMatrices();
    const mat = ctx.mat();
    return {
      posLoss: {
        kind: "pair",
        losses: hinge(tf.sub(mat, tf.tensor2d(rin, [ctx.n, 1])), o.squared),
        weights: pos,
      },
      negLoss: {
        kind: "pair",
        losses: hinge(tf.sub(tf.tensor2d(rout, [ctx.n, 1]), mat), o.squared),
        weights: neg,
      },
    };
  },
});
