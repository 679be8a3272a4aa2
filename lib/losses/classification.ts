/**
 * Classification losses with learnable class weights, as pytorch-metric-learning (PML) 2.9
 * defines them: a softmax over the similarities of each embedding to one weight column per class
 * (`W`, `[d, numClasses]`), with an angular or additive margin on the true class — L-Softmax
 * (`largeMarginSoftmaxLoss`), SphereFace, CosFace, ArcFace, sub-center ArcFace — the
 * temperature-scaled normalised softmax, and P2SGrad (a mean squared error on the cosines).
 *
 * Each loss has two forms: a function taking its weights as an option named as PML's attribute
 * (`W`, or `weight` for P2SGrad), so that a value can be checked against PML for given weights;
 * and a class owning them as a `tf.Variable`, initialised as PML initialises them, for training
 * (`new ArcFaceLoss({ numClasses, embeddingSize })`, `.call(embeddings, labels)`,
 * `.trainableWeights`; pass it to `train()` as `loss`).
 *
 * Labels must lie in `[0, numClasses)`; the check runs before any tensor work.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  defineLoss,
  type Loss,
  type LossContext,
  opt,
  type ParametrizedLossOptions,
  TrainableLoss,
} from "./_template.ts";
import type { Labels } from "./_tuples.ts";
import { labelsArray } from "./_tuples.ts";
import {
  checkClassLabels,
  clampedAcos,
  crossEntropy,
  inits,
  intPow,
  minerWeights,
  oneHotMask,
  positive,
  renormColumns,
} from "./_classes.ts";
import { stopGradient } from "./_ops.ts";
import { lossDistanceMatrix, resolveLossDistance } from "./_distance.ts";

/** Options every class-weight loss shares (PML's `num_classes` and the weight regularizer). */
export interface ClassWeightLossOptions
  extends Omit<ParametrizedLossOptions, "refEmbeddings" | "refLabels"> {
  /** Number of classes `C` (required): labels must lie in `[0, C)`. */
  numClasses?: number;
  /** The class weights `[d, C]` (PML's `W`); required in the functional form. */
  W?: tf.Tensor;
}

/** What a trainable loss's constructor takes: the loss's options without its parameters. */
export type TrainableOptions<O, P extends keyof O> = Omit<O, P> & {
  /** Number of classes. */
  numClasses: number;
  /** Embedding size `d` (the parameters' shapes follow from it). */
  embeddingSize: number;
  /** Seed of the initialisation (a fixed seed gives the same initial parameters). */
  seed?: number;
};

const numClassesSpec = opt.integer(undefined, { min: 1 });

const cosineOnly = (name: string) => (d: { metric: { name: string } }, normalize: boolean) =>
  d.metric.name !== "cosineSimilarity"
    ? `distance must be "cosine" (PML's ${name} requires CosineSimilarity)`
    : !normalize
    ? "normalizeEmbeddings must be true (cosine similarity)"
    : undefined;

/**
 * The refusal of an empty batch: PML's class `cls` averages no rows and returns NaN
 * (`tests/fixtures/empty_batches.json`).
 */
const emptyBatchIsNaN = (cls: string, what = "the mean cross-entropy of no rows") => ({
  batch: `${what} is undefined (PML's ${cls} returns NaN)`,
});

/** The class-weight parameter `[d, C · perClass]`, PML's initialisation `init`. */
function weightsSpec(
  init: keyof typeof inits,
  perClass: (o: Record<string, unknown>) => number = () => 1,
) {
  return opt.parameter({
    shape: (o, d) => [d, (o.numClasses as number) * perClass(o)],
    init: inits[init],
    // PML regularizes W.t(): one row per class.
    regularize: (w) => tf.transpose(w) as tf.Tensor2D,
  });
}

/** The angular-margin variants of PML's `LargeMarginSoftmaxLoss` family. */
interface MarginVariant {
  /** PML's `modify_cosine_of_target_classes` (`[n]` → `[n]`). */
  modify(cosTarget: tf.Tensor1D, margin: number): tf.Tensor1D;
  /** PML's `scale_logits`. */
  scale(logits: tf.Tensor2D, embeddings: tf.Tensor2D, W: tf.Tensor2D, scale: number): tf.Tensor2D;
}

/** PML's `get_angles`: `acos(clamp(cos, −1, 1))` (with a finite gradient at ±1). */
const anglesOf = (cos: tf.Tensor1D) => clampedAcos(cos) as tf.Tensor1D;

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

const rowNorms = (x: tf.Tensor2D) => tf.sqrt(tf.sum(tf.square(x), 1)) as tf.Tensor1D;

const VARIANTS: Record<"lsoftmax" | "sphereface" | "cosface" | "arcface", MarginVariant> = {
  // L-Softmax: cos(mθ) by the multiple-angle formula, made monotonic: (−1)^k cos(mθ) − 2k,
  // k = ⌊θ / (π/m)⌋ (Liu et al. 2016, Eq. 6–7).
  lsoftmax: {
    modify(cos, m) {
      const sin2 = tf.sub(1, tf.square(cos));
      const terms: tf.Tensor[] = [];
      for (let j = 0; j <= Math.floor(m / 2); j++) {
        const c = (j % 2 === 0 ? 1 : -1) * binomial(m, 2 * j);
        terms.push(tf.mul(tf.mul(intPow(cos, m - 2 * j), intPow(sin2, j)), c));
      }
      const cosM = terms.length === 1 ? terms[0] : tf.addN(terms);
      const k = stopGradient(tf.floor(tf.div(anglesOf(cos), Math.PI / m)));
      const sign = tf.sub(1, tf.mul(tf.mod(k, 2), 2));
      return tf.sub(tf.mul(sign, cosM), tf.mul(k, 2)) as tf.Tensor1D;
    },
    scale(logits, e, W, s) {
      const wNorm = tf.sqrt(tf.sum(tf.square(W), 0, true));
      return tf.mul(tf.mul(tf.mul(logits, wNorm), tf.expandDims(rowNorms(e), 1)), s) as tf.Tensor2D;
    },
  },
  sphereface: {
    modify: (cos, m) => VARIANTS.lsoftmax.modify(cos, m),
    scale: (logits, e, _W, s) =>
      tf.mul(tf.mul(logits, tf.expandDims(rowNorms(e), 1)), s) as tf.Tensor2D,
  },
  cosface: {
    modify: (cos, m) => tf.sub(cos, m) as tf.Tensor1D,
    scale: (logits, _e, _W, s) => tf.mul(logits, s) as tf.Tensor2D,
  },
  // ArcFace: cos(θ + m) while θ ≤ π − m, else cos θ − m·sin m (kept monotonic), m in radians.
  arcface: {
    modify(cos, degrees) {
      const m = (degrees * Math.PI) / 180;
      const angles = anglesOf(cos);
      // angles ≤ π − m (equality included, as PML's `<=`): sign(π − m − θ) ∈ {0, 1}.
      const inside = positive(tf.add(tf.sign(tf.sub(Math.PI - m, angles)), 0.5));
      return tf.add(
        tf.mul(inside, tf.cos(tf.add(angles, m))),
        tf.mul(tf.sub(1, inside), tf.sub(tf.cos(angles), m * Math.sin(m))),
      ) as tf.Tensor1D;
    },
    scale: (logits, _e, _W, s) => tf.mul(logits, s) as tf.Tensor2D,
  },
};

/** The `[n, C]` cosines to each class (the best sub-center's with `subCenters` > 1). */
function classCosines(ctx: LossContext, W: tf.Tensor2D, C: number, K: number): tf.Tensor2D {
  const cos = ctx.distances(ctx.embeddings, tf.transpose(W) as tf.Tensor2D);
  return K === 1 ? cos : tf.max(tf.reshape(cos, [ctx.n, C, K]), 2) as tf.Tensor2D;
}

/** PML's `LargeMarginSoftmaxLoss.compute_loss` with a margin variant. */
function marginSoftmax(
  ctx: LossContext,
  o: { numClasses: number; margin: number; scale: number; W: tf.Tensor },
  variant: MarginVariant,
  subCenters = 1,
) {
  const C = o.numClasses;
  checkClassLabels(ctx.fn, ctx.labels, C);
  const weights = tf.tensor1d(minerWeights(ctx.indices, ctx.n));
  const W = o.W as tf.Tensor2D;
  const mask = oneHotMask(ctx.labels, C);
  const cosine = classCosines(ctx, W, C, subCenters);
  const cosTarget = tf.sum(tf.mul(cosine, mask), 1) as tf.Tensor1D;
  const diff = tf.sub(variant.modify(cosTarget, o.margin), cosTarget);
  const logits = variant.scale(
    tf.add(cosine, tf.mul(mask, tf.expandDims(diff, 1))) as tf.Tensor2D,
    ctx.embeddings,
    W,
    o.scale,
  );
  return {
    loss: { kind: "element" as const, losses: tf.mul(crossEntropy(logits, mask), weights) },
  };
}

// ---------------------------------------------------------------------------------------------
// L-Softmax

/** Options of {@linkcode largeMarginSoftmaxLoss}; defaults are PML's `LargeMarginSoftmaxLoss`. */
export interface LargeMarginSoftmaxLossOptions extends ClassWeightLossOptions {
  /** The integer angular multiplier m (cos(mθ) on the true class), ≥ 1. Default 4. */
  margin?: number;
  /** Scale s > 0 of the logits. Default 1. */
  scale?: number;
}

/**
 * Large-margin softmax loss (Liu et al. 2016, "Large-Margin Softmax Loss for Convolutional Neural
 * Networks"), PML's `LargeMarginSoftmaxLoss`: with `cos θ_ic` the cosine similarity of embedding
 * `i` to class weight column `W_c`,
 *
 *   logit_ic = s·‖W_c‖·‖x_i‖·ψ(θ_ic) for c = y_i, and s·‖W_c‖·‖x_i‖·cos θ_ic otherwise,
 *   ψ(θ) = (−1)^k cos(mθ) − 2k,  k = ⌊θ m / π⌋,
 *
 * then the cross-entropy of each row against its label, times the miner weight of the row (PML's
 * `convert_to_weights`: 1 without `indices`), averaged (default `"mean"`). `cos(mθ)` is expanded
 * by the multiple-angle formula, as PML does.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `W` `[d, numClasses]` (required), `margin`, `scale`; the
 *   distance must be `"cosine"` (the default)
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses
 * @throws Error for an empty batch (PML: NaN), a missing `numClasses` or `W`, `W` of another shape,
 *   a label outside `[0, numClasses)`, `margin` not an integer ≥ 1, `scale` ≤ 0, another distance,
 *   `refEmbeddings` (as PML, which does not support them).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { largeMarginSoftmaxLoss } from "./classification.ts";
 * const W = tf.tensor2d([[1, 0], [0, 1]]); // [d, C]: class 0 along x, class 1 along y
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = largeMarginSoftmaxLoss(e, [0, 1], { numClasses: 2, W }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.4152) < 1e-4); // PML: 0.41517
 * ```
 */
export const largeMarginSoftmaxLoss: Loss<LargeMarginSoftmaxLossOptions> = defineLoss<
  LargeMarginSoftmaxLossOptions
>({
  name: "largeMarginSoftmaxLoss",
  refuseEmpty: emptyBatchIsNaN("LargeMarginSoftmaxLoss"),
  distance: "cosine",
  reduction: "mean",
  ref: false,
  checkDistance: cosineOnly("LargeMarginSoftmaxLoss"),
  options: {
    numClasses: numClassesSpec,
    margin: opt.integer(4, { min: 1 }),
    scale: opt.positive(1),
    W: weightsSpec("normal"),
  },
  compute: (ctx, o) => marginSoftmax(ctx, o, VARIANTS.lsoftmax),
});

// ---------------------------------------------------------------------------------------------
// SphereFace

/** Options of {@linkcode sphereFaceLoss}; defaults are PML's `SphereFaceLoss`. */
export interface SphereFaceLossOptions extends ClassWeightLossOptions {
  /** The integer angular multiplier m, ≥ 1. Default 4. */
  margin?: number;
  /** Scale s > 0 of the logits. Default 1. */
  scale?: number;
}

/**
 * SphereFace / A-Softmax (Liu et al. 2017, "SphereFace: Deep Hypersphere Embedding for Face
 * Recognition"), PML's `SphereFaceLoss`: L-Softmax with the class weights' norms left out,
 *
 *   logit_ic = s·‖x_i‖·ψ(θ_ic) for c = y_i, s·‖x_i‖·cos θ_ic otherwise,
 *
 * with ψ as in {@linkcode largeMarginSoftmaxLoss}; cross-entropy per row, times miner weights,
 * averaged.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `W` `[d, numClasses]` (required), `margin`, `scale`
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses
 * @throws Error as {@linkcode largeMarginSoftmaxLoss}.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { sphereFaceLoss } from "./classification.ts";
 * const W = tf.tensor2d([[2, 0], [0, 3]]);
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = sphereFaceLoss(e, [0, 1], { numClasses: 2, W }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.4152) < 1e-4); // as with unit columns: the weights' norms do not count
 * ```
 */
export const sphereFaceLoss: Loss<SphereFaceLossOptions> = defineLoss<SphereFaceLossOptions>({
  name: "sphereFaceLoss",
  refuseEmpty: emptyBatchIsNaN("SphereFaceLoss"),
  distance: "cosine",
  reduction: "mean",
  ref: false,
  checkDistance: cosineOnly("SphereFaceLoss"),
  options: {
    numClasses: numClassesSpec,
    margin: opt.integer(4, { min: 1 }),
    scale: opt.positive(1),
    W: weightsSpec("normal"),
  },
  compute: (ctx, o) => marginSoftmax(ctx, o, VARIANTS.sphereface),
});

// ---------------------------------------------------------------------------------------------
// CosFace

/** Options of {@linkcode cosFaceLoss}; defaults are PML's `CosFaceLoss`. */
export interface CosFaceLossOptions extends ClassWeightLossOptions {
  /** Additive cosine margin m, in [0, 2]. Default 0.35. */
  margin?: number;
  /** Scale s > 0 of the logits. Default 64. */
  scale?: number;
}

/**
 * CosFace / large-margin cosine loss (Wang et al. 2018, "CosFace: Large Margin Cosine Loss for
 * Deep Face Recognition"), PML's `CosFaceLoss`:
 *
 *   logit_ic = s·(cos θ_ic − m) for c = y_i, s·cos θ_ic otherwise,
 *
 * cross-entropy per row, times miner weights, averaged (default `"mean"`).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `W` `[d, numClasses]` (required), `margin`, `scale`
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses
 * @throws Error for an empty batch (PML: NaN), a missing `numClasses` or `W`, `W` of another shape,
 *   a label outside `[0, numClasses)`, `margin` outside [0, 2], `scale` ≤ 0, another distance than
 *   `"cosine"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { cosFaceLoss } from "./classification.ts";
 * const W = tf.tensor2d([[1, 0], [0, 1]]);
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = cosFaceLoss(e, [0, 1], { numClasses: 2, W, scale: 8 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.02156) < 1e-4); // PML: 0.021557
 * ```
 */
export const cosFaceLoss: Loss<CosFaceLossOptions> = defineLoss<CosFaceLossOptions>({
  name: "cosFaceLoss",
  refuseEmpty: emptyBatchIsNaN("CosFaceLoss"),
  distance: "cosine",
  reduction: "mean",
  ref: false,
  checkDistance: cosineOnly("CosFaceLoss"),
  options: {
    numClasses: numClassesSpec,
    margin: opt.number(0.35, { min: 0, max: 2 }),
    scale: opt.positive(64),
    W: weightsSpec("normal"),
  },
  compute: (ctx, o) => marginSoftmax(ctx, o, VARIANTS.cosface),
});

// ---------------------------------------------------------------------------------------------
// ArcFace

/** Options of {@linkcode arcFaceLoss}; defaults are PML's `ArcFaceLoss`. */
export interface ArcFaceLossOptions extends ClassWeightLossOptions {
  /** Additive angular margin m in degrees, in [0, 180). Default 28.6 (0.5 rad). */
  margin?: number;
  /** Scale s > 0 of the logits. Default 64. */
  scale?: number;
}

/**
 * ArcFace / additive angular margin loss (Deng et al. 2019, "ArcFace: Additive Angular Margin
 * Loss for Deep Face Recognition"), PML's `ArcFaceLoss`: with `θ_ic` the angle between embedding
 * `i` and class weight column `W_c`,
 *
 *   logit_ic = s·cos(θ_ic + m) for c = y_i (s·(cos θ_ic − m·sin m) once θ_ic > π − m),
 *   logit_ic = s·cos θ_ic otherwise,
 *
 * `m` given in degrees; cross-entropy per row, times miner weights, averaged (default
 * `"mean"`).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `W` `[d, numClasses]` (required), `margin` (degrees), `scale`
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses
 * @throws Error for an empty batch (PML: NaN), a missing `numClasses` or `W`, `W` of another shape,
 *   a label outside `[0, numClasses)`, `margin` outside [0, 180), `scale` ≤ 0, another distance
 *   than `"cosine"`, `refEmbeddings`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { arcFaceLoss } from "./classification.ts";
 * const W = tf.tensor2d([[1, 0], [0, 1]]);
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = arcFaceLoss(e, [0, 1], { numClasses: 2, W, scale: 8 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.006659) < 1e-5); // PML: 0.0066588
 * ```
 */
export const arcFaceLoss: Loss<ArcFaceLossOptions> = defineLoss<ArcFaceLossOptions>({
  name: "arcFaceLoss",
  refuseEmpty: emptyBatchIsNaN("ArcFaceLoss"),
  distance: "cosine",
  reduction: "mean",
  ref: false,
  checkDistance: cosineOnly("ArcFaceLoss"),
  options: {
    numClasses: numClassesSpec,
    margin: opt.number(28.6, { min: 0, lt: 180 }),
    scale: opt.positive(64),
    W: weightsSpec("normal"),
  },
  compute: (ctx, o) => marginSoftmax(ctx, o, VARIANTS.arcface),
});

// ---------------------------------------------------------------------------------------------
// Sub-center ArcFace

/** Options of {@linkcode subCenterArcFaceLoss}; defaults are PML's `SubCenterArcFaceLoss`. */
export interface SubCenterArcFaceLossOptions extends ClassWeightLossOptions {
  /** Additive angular margin m in degrees, in [0, 180). Default 28.6. */
  margin?: number;
  /** Scale s > 0 of the logits. Default 64. */
  scale?: number;
  /** Sub-centers K per class (integer ≥ 1). Default 3. */
  subCenters?: number;
  /** The weights `[d, numClasses · subCenters]`, column `c·K + k` sub-center k of class c. */
  W?: tf.Tensor;
}

/**
 * Sub-center ArcFace (Deng et al. 2020, "Sub-center ArcFace: Boosting Face Recognition by
 * Large-Scale Noisy Web Faces"), PML's `SubCenterArcFaceLoss`: ArcFace where each class has K
 * weight columns (sub-centers) and `cos θ_ic` is the largest cosine of embedding `i` to the
 * sub-centers of class `c`; see {@linkcode arcFaceLoss}. Noisy samples gather around
 * non-dominant sub-centers; {@linkcode subCenterArcFaceOutliers} finds them.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `W` `[d, numClasses·subCenters]` (required), `margin`,
 *   `scale`, `subCenters`
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses
 * @throws Error as {@linkcode arcFaceLoss}, and for `subCenters` not an integer ≥ 1.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { arcFaceLoss, subCenterArcFaceLoss } from "./classification.ts";
 * const W = tf.tensor2d([[1, 0], [0, 1]]);
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * // One sub-center per class is ArcFace.
 * const sub = subCenterArcFaceLoss(e, [0, 1], { numClasses: 2, W, subCenters: 1 }).dataSync()[0];
 * assert.equal(sub, arcFaceLoss(e, [0, 1], { numClasses: 2, W }).dataSync()[0]);
 * ```
 */
export const subCenterArcFaceLoss: Loss<SubCenterArcFaceLossOptions> = defineLoss<
  SubCenterArcFaceLossOptions
>({
  name: "subCenterArcFaceLoss",
  refuseEmpty: emptyBatchIsNaN("SubCenterArcFaceLoss"),
  distance: "cosine",
  reduction: "mean",
  ref: false,
  checkDistance: cosineOnly("SubCenterArcFaceLoss"),
  options: {
    numClasses: numClassesSpec,
    margin: opt.number(28.6, { min: 0, lt: 180 }),
    scale: opt.positive(64),
    subCenters: opt.integer(3, { min: 1 }),
    W: weightsSpec("normal", (o) => o.subCenters as number),
  },
  compute: (ctx, o) => marginSoftmax(ctx, o, VARIANTS.arcface, o.subCenters),
});

/** What {@linkcode subCenterArcFaceOutliers} returns. */
export interface SubCenterOutliers {
  /** Rows whose cosine to their class's dominant sub-center is below cos(threshold), by class then row. */
  outliers: Int32Array;
  /**
   * `[d, numClasses]`: each class's dominant sub-center (the one most of its rows are closest
   * to); zeros for a class absent from the batch (PML leaves them uninitialised).
   */
  dominantCenters: tf.Tensor2D;
}

/**
 * PML's `SubCenterArcFaceLoss.get_outliers`: for each class present in the batch, the dominant
 * sub-center is the one most of the class's rows are closest to (by cosine; ties: the lowest);
 * rows whose cosine to it is below `cos(threshold°)` are outliers (possibly mislabelled). No
 * gradient.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `W` `[d, numClasses·subCenters]`, `numClasses`, `subCenters` (default 3),
 *   `threshold` in degrees (default 75)
 * @returns the outliers' rows and the dominant sub-centers (dispose the tensor)
 * @throws Error for a label outside `[0, numClasses)`, `W` of another shape, a threshold
 *   outside [0, 180].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { subCenterArcFaceOutliers } from "./classification.ts";
 * const W = tf.tensor2d([[1, 0.6], [0, 0.8]]); // one class, two sub-centers
 * const e = tf.tensor2d([[1, 0.05], [1, -0.1], [-0.2, 1]]);
 * const r = subCenterArcFaceOutliers(e, [0, 0, 0], { W, numClasses: 1, subCenters: 2 });
 * assert.deepEqual([...r.outliers], [2]); // 101° from the dominant sub-center
 * r.dominantCenters.dispose();
 * ```
 */
export function subCenterArcFaceOutliers(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: { W: tf.Tensor; numClasses: number; subCenters?: number; threshold?: number },
): SubCenterOutliers {
  const fn = "subCenterArcFaceOutliers";
  const { W, numClasses: C, subCenters: K = 3, threshold = 75 } = options ?? {};
  // The template's option checks (the function's and the option's names in the message).
  const env = (name: string) => ({ fn, name, distance: undefined as never });
  numClassesSpec.check(C, env("numClasses"));
  opt.integer(3, { min: 1 }).check(K, env("subCenters"));
  opt.number(75, { min: 0, max: 180 }).check(threshold, env("threshold"));
  if (!(embeddings instanceof tf.Tensor) || embeddings.rank !== 2) {
    throw new Error(`${fn}: embeddings must be a [n, d] tensor`);
  }
  const [n, d] = embeddings.shape;
  if (!(W instanceof tf.Tensor) || W.rank !== 2 || W.shape[0] !== d || W.shape[1] !== C * K) {
    throw new Error(
      `${fn}: W must have shape [${d}, ${C * K}], got ${
        W instanceof tf.Tensor ? `[${W.shape}]` : String(W)
      }`,
    );
  }
  const y = labelsArray(labels, n, fn);
  checkClassLabels(fn, y, C);
  const cos = tf.tidy(() =>
    lossDistanceMatrix(
      embeddings,
      resolveLossDistance(fn, "cosine"),
      true,
      tf.transpose(W) as tf.Tensor2D,
    )
  );
  const sims = cos.dataSync();
  cos.dispose();
  const cosThreshold = Math.cos((threshold * Math.PI) / 180);
  const outliers: number[] = [];
  const dominant = new Int32Array(C).fill(-1);
  for (let c = 0; c < C; c++) {
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (y[i] === c) rows.push(i);
    if (rows.length === 0) continue;
    const best = rows.map((i) => {
      let arg = 0;
      for (let k = 1; k < K; k++) {
        if (sims[i * C * K + c * K + k] > sims[i * C * K + c * K + arg]) arg = k;
      }
      return arg;
    });
    const counts = new Int32Array(K);
    for (const b of best) counts[b]++;
    let dom = 0;
    for (let k = 1; k < K; k++) if (counts[k] > counts[dom]) dom = k;
    dominant[c] = dom;
    for (const i of rows) if (sims[i * C * K + c * K + dom] < cosThreshold) outliers.push(i);
  }
  const dominantCenters = tf.tidy(() => {
    const cols = Array.from(dominant, (k, c) => (k < 0 ? 0 : c * K + k));
    const picked = tf.gather(W, tf.tensor1d(cols, "int32"), 1);
    const present = tf.tensor1d(Array.from(dominant, (k) => (k < 0 ? 0 : 1)));
    return tf.mul(picked, present) as tf.Tensor2D;
  });
  return { outliers: Int32Array.from(outliers), dominantCenters };
}

// ---------------------------------------------------------------------------------------------
// Normalized softmax

/** Options of {@linkcode normalizedSoftmaxLoss}; defaults are PML's `NormalizedSoftmaxLoss`. */
export interface NormalizedSoftmaxLossOptions extends ClassWeightLossOptions {
  /** Temperature τ > 0 dividing the similarities. Default 0.05. */
  temperature?: number;
}

/**
 * Normalized softmax loss (Zhai & Wu 2019, "Classification is a Strong Baseline for Deep Metric
 * Learning"; the "NormSoftmax" of the reality check), PML's `NormalizedSoftmaxLoss`: with the
 * class weight columns scaled to unit norm, `logit_ic = s(x_i, W_c)/τ` for a similarity `s`
 * (default `"dot"` on normalised embeddings, i.e. cosine), `−d(x_i, W_c)/τ` for a distance;
 * cross-entropy per row, times miner weights, averaged (default `"mean"`).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `W` `[d, numClasses]` (required), `temperature`
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses
 * @throws Error for an empty batch (PML: NaN), a missing `numClasses` or `W`, `W` of another shape,
 *   a label outside `[0, numClasses)`, `temperature` ≤ 0, `refEmbeddings`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { normalizedSoftmaxLoss } from "./classification.ts";
 * const W = tf.tensor2d([[1, 0], [0, 1]]);
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = normalizedSoftmaxLoss(e, [0, 1], { numClasses: 2, W, temperature: 0.5 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.17172) < 1e-4); // PML: 0.171719
 * ```
 */
export const normalizedSoftmaxLoss: Loss<NormalizedSoftmaxLossOptions> = defineLoss<
  NormalizedSoftmaxLossOptions
>({
  name: "normalizedSoftmaxLoss",
  refuseEmpty: emptyBatchIsNaN("NormalizedSoftmaxLoss"),
  distance: "dot",
  reduction: "mean",
  ref: false,
  options: {
    numClasses: numClassesSpec,
    temperature: opt.positive(0.05),
    W: weightsSpec("normal"),
  },
  compute(ctx, o) {
    const C = o.numClasses;
    checkClassLabels(ctx.fn, ctx.labels, C);
    const weights = tf.tensor1d(minerWeights(ctx.indices, ctx.n));
    const unitW = lossUnitRows(tf.transpose(o.W) as tf.Tensor2D, ctx.distance.normP);
    const sim = ctx.distances(ctx.embeddings, unitW);
    const logits = tf.div(ctx.distance.inverted ? sim : tf.neg(sim), o.temperature) as tf.Tensor2D;
    const losses = tf.mul(crossEntropy(logits, oneHotMask(ctx.labels, C)), weights);
    return { loss: { kind: "element", losses } };
  },
});

/** PML's `distance.normalize(W, dim=0)` on `W.t()`: rows to unit Lp norm (always, whatever the flag). */
function lossUnitRows(x: tf.Tensor2D, p: number): tf.Tensor2D {
  const norm = p === 2
    ? tf.sqrt(tf.sum(tf.square(x), 1, true))
    : p === Infinity
    ? tf.max(tf.abs(x), 1, true)
    : tf.pow(tf.sum(tf.pow(tf.abs(x), p), 1, true), 1 / p);
  return tf.div(x, tf.maximum(norm, 1e-12)) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------
// P2SGrad

/** Options of {@linkcode p2sGradLoss}; PML's `P2SGradLoss`. */
export interface P2SGradLossOptions
  extends Omit<ParametrizedLossOptions, "refEmbeddings" | "refLabels" | "indices"> {
  /** Number of classes `C` (required). */
  numClasses?: number;
  /** The class weights `[d, C]` (PML's `weight`), used with unit-norm columns. */
  weight?: tf.Tensor;
}

/**
 * P2SGrad (Zhang et al. 2019, "P2SGrad: Refined Gradients for Optimizing Deep Face Models"),
 * PML's `P2SGradLoss`: the mean squared error between the cosines and the one-hot labels,
 *
 *   L = 1/(n·C) · Σ_i Σ_c (cos θ_ic − [c = y_i])²,  cos θ_ic = clamp(x_i·w_c / ‖x_i‖, −1, 1),
 *
 * where `w_c` is column `c` of `weight` scaled to unit norm first (PML rescales the parameter in
 * place before every call, `renorm(2, 1, 1e-5)·1e5`; here the value is the rescaled one and the
 * gradient passes to `weight` as it would to PML's rescaled parameter). Already reduced, as in
 * PML: every reducer returns it unchanged (`"none"` is refused); `distance` and
 * `normalizeEmbeddings` play no part; `indices` and `refEmbeddings` are refused.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `weight` `[d, numClasses]` (required)
 * @returns a scalar
 * @throws Error for an empty batch (PML: NaN), a missing `numClasses` or `weight`, `weight` of
 *   another shape, a label outside `[0, numClasses)`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { p2sGradLoss } from "./classification.ts";
 * const weight = tf.tensor2d([[1, 0], [0, 1]]);
 * const v = p2sGradLoss(tf.tensor2d([[1, 0], [0, 1]]), [0, 1], { numClasses: 2, weight });
 * assert.ok(Math.abs(v.dataSync()[0]) < 1e-6); // the cosines are the one-hot labels
 * ```
 */
export const p2sGradLoss: Loss<P2SGradLossOptions> = defineLoss<P2SGradLossOptions>({
  name: "p2sGradLoss",
  refuseEmpty: emptyBatchIsNaN("P2SGradLoss", "the mean squared error of no rows"),
  distance: "cosine",
  reduction: "mean",
  ref: false,
  indices: false,
  options: {
    numClasses: numClassesSpec,
    weight: opt.parameter({
      shape: (o, d) => [d, o.numClasses as number],
      init: inits.unitColumns,
      regularize: (w) => tf.transpose(w) as tf.Tensor2D,
    }),
  },
  compute(ctx, o) {
    const C = o.numClasses;
    checkClassLabels(ctx.fn, ctx.labels, C);
    const w = o.weight as tf.Tensor2D;
    const unit = tf.add(w, stopGradient(tf.sub(renormColumns(w), w))) as tf.Tensor2D;
    const e = ctx.embeddings;
    const cos = tf.clipByValue(
      tf.div(tf.matMul(e, unit), tf.expandDims(rowNorms(e), 1)),
      -1,
      1,
    );
    const value = tf.mean(tf.square(tf.sub(cos, oneHotMask(ctx.labels, C)))) as tf.Scalar;
    return { loss: { kind: "reduced", value } };
  },
});

// ---------------------------------------------------------------------------------------------
// The trainable forms

/**
 * {@linkcode largeMarginSoftmaxLoss} owning its class weights `W` `[embeddingSize, numClasses]`
 * as a `tf.Variable`, initialised N(0, 1) as PML does; PML's `LargeMarginSoftmaxLoss` module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { LargeMarginSoftmaxLoss } from "./classification.ts";
 * const loss = new LargeMarginSoftmaxLoss({ numClasses: 3, embeddingSize: 2, seed: 0 });
 * assert.deepEqual(loss.W.shape, [2, 3]);
 * const [value] = loss.call(tf.tensor2d([[1, 0], [0, 1]]), [0, 2]).dataSync();
 * assert.ok(Math.abs(value - 6.3338) < 1e-3); // seed 0
 * loss.dispose();
 * ```
 */
export class LargeMarginSoftmaxLoss extends TrainableLoss<LargeMarginSoftmaxLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<LargeMarginSoftmaxLossOptions, "W">) {
    super(largeMarginSoftmaxLoss, options);
  }
  /** The class weights `[d, C]` (PML's `W`). */
  get W(): tf.Variable {
    return this.variables.W;
  }
}

/**
 * {@linkcode sphereFaceLoss} owning `W` `[embeddingSize, numClasses]` (N(0, 1), as PML);
 * PML's `SphereFaceLoss` module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SphereFaceLoss } from "./classification.ts";
 * const loss = new SphereFaceLoss({ numClasses: 3, embeddingSize: 2 });
 * assert.equal(loss.trainableWeights.length, 1);
 * loss.dispose();
 * ```
 */
export class SphereFaceLoss extends TrainableLoss<SphereFaceLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<SphereFaceLossOptions, "W">) {
    super(sphereFaceLoss, options);
  }
  /** The class weights `[d, C]` (PML's `W`). */
  get W(): tf.Variable {
    return this.variables.W;
  }
}

/**
 * {@linkcode cosFaceLoss} owning `W` `[embeddingSize, numClasses]` (N(0, 1), as PML); PML's
 * `CosFaceLoss` module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CosFaceLoss } from "./classification.ts";
 * const loss = new CosFaceLoss({ numClasses: 10, embeddingSize: 64, margin: 0.2 });
 * assert.deepEqual(loss.W.shape, [64, 10]);
 * loss.dispose();
 * ```
 */
export class CosFaceLoss extends TrainableLoss<CosFaceLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<CosFaceLossOptions, "W">) {
    super(cosFaceLoss, options);
  }
  /** The class weights `[d, C]` (PML's `W`). */
  get W(): tf.Variable {
    return this.variables.W;
  }
}

/**
 * {@linkcode arcFaceLoss} owning `W` `[embeddingSize, numClasses]` (N(0, 1), as PML); PML's
 * `ArcFaceLoss` module. Train it with the model: `train({ model, loss: arcFace, ... })`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { ArcFaceLoss } from "./classification.ts";
 * const arcFace = new ArcFaceLoss({ numClasses: 3, embeddingSize: 2, seed: 1 });
 * const v = arcFace.call(tf.tensor2d([[1, 0], [0, 1]]), [0, 2]).dataSync()[0];
 * assert.ok(v > 0);
 * assert.equal(arcFace.trainableWeights[0], arcFace.W);
 * arcFace.dispose();
 * ```
 */
export class ArcFaceLoss extends TrainableLoss<ArcFaceLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<ArcFaceLossOptions, "W">) {
    super(arcFaceLoss, options);
  }
  /** The class weights `[d, C]` (PML's `W`). */
  get W(): tf.Variable {
    return this.variables.W;
  }
}

/**
 * {@linkcode subCenterArcFaceLoss} owning `W` `[embeddingSize, numClasses·subCenters]`
 * (N(0, 1), as PML); PML's `SubCenterArcFaceLoss` module, with `getOutliers`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { SubCenterArcFaceLoss } from "./classification.ts";
 * const loss = new SubCenterArcFaceLoss({ numClasses: 2, embeddingSize: 2, subCenters: 2 });
 * const { outliers, dominantCenters } = loss.getOutliers(tf.tensor2d([[1, 0], [0, 1]]), [0, 1]);
 * assert.ok(outliers.length <= 2);
 * assert.deepEqual(dominantCenters.shape, [2, 2]);
 * dominantCenters.dispose();
 * loss.dispose();
 * ```
 */
export class SubCenterArcFaceLoss extends TrainableLoss<SubCenterArcFaceLossOptions> {
  readonly #numClasses: number;
  readonly #subCenters: number;
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<SubCenterArcFaceLossOptions, "W">) {
    super(subCenterArcFaceLoss, options);
    this.#numClasses = options.numClasses;
    this.#subCenters = options.subCenters ?? 3;
  }
  /** The sub-center weights `[d, C·K]` (PML's `W`). */
  get W(): tf.Variable {
    return this.variables.W;
  }
  /**
   * PML's `get_outliers` with this loss's weights: see {@linkcode subCenterArcFaceOutliers}.
   *
   * @param threshold degrees (default 75)
   */
  getOutliers(embeddings: tf.Tensor2D, labels: Labels, threshold = 75): SubCenterOutliers {
    return subCenterArcFaceOutliers(embeddings, labels, {
      W: this.W,
      numClasses: this.#numClasses,
      subCenters: this.#subCenters,
      threshold,
    });
  }
}

/**
 * {@linkcode normalizedSoftmaxLoss} owning `W` `[embeddingSize, numClasses]` (N(0, 1), as PML);
 * PML's `NormalizedSoftmaxLoss` module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NormalizedSoftmaxLoss } from "./classification.ts";
 * const loss = new NormalizedSoftmaxLoss({ numClasses: 10, embeddingSize: 64, temperature: 0.1 });
 * assert.deepEqual(loss.W.shape, [64, 10]);
 * loss.dispose();
 * ```
 */
export class NormalizedSoftmaxLoss extends TrainableLoss<NormalizedSoftmaxLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<NormalizedSoftmaxLossOptions, "W">) {
    super(normalizedSoftmaxLoss, options);
  }
  /** The class weights `[d, C]` (PML's `W`). */
  get W(): tf.Variable {
    return this.variables.W;
  }
}

/**
 * {@linkcode p2sGradLoss} owning `weight` `[descriptorsDim, numClasses]` (uniform in [−1, 1],
 * columns scaled to unit norm, as PML); PML's `P2SGradLoss(descriptors_dim, num_classes)`
 * module. Like PML, every call first rescales the variable's columns to unit norm in place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { P2SGradLoss } from "./classification.ts";
 * const loss = new P2SGradLoss({ descriptorsDim: 2, numClasses: 3, seed: 0 });
 * const [value] = loss.call(tf.tensor2d([[1, 0], [0, 1]]), [0, 2]).dataSync();
 * assert.ok(Math.abs(value - 1.0944) < 1e-3); // seed 0
 * loss.dispose();
 * ```
 */
export class P2SGradLoss extends TrainableLoss<P2SGradLossOptions> {
  /**
   * @param options `descriptorsDim` (PML's name for the embedding size; or `embeddingSize`),
   *   `numClasses`, `seed`
   */
  constructor(
    options:
      & Omit<P2SGradLossOptions, "weight">
      & { numClasses: number; seed?: number }
      & ({ descriptorsDim: number } | { embeddingSize: number }),
  ) {
    const { descriptorsDim, ...rest } = options as {
      descriptorsDim?: number;
      embeddingSize?: number;
    };
    super(
      p2sGradLoss,
      {
        ...rest,
        embeddingSize: descriptorsDim ?? rest.embeddingSize,
      } as P2SGradLossOptions & { embeddingSize: number },
    );
  }
  /** The class weights `[d, C]` (PML's `weight`). */
  get weight(): tf.Variable {
    return this.variables.weight;
  }
  /** Rescales `weight`'s columns to unit norm (as PML does in place), then the loss. */
  override call(embeddings: tf.Tensor2D, labels: Labels, options?: P2SGradLossOptions): tf.Scalar {
    tf.tidy(() => this.weight.assign(renormColumns(this.weight as unknown as tf.Tensor2D)));
    return super.call(embeddings, labels, options);
  }
}
