/**
 * Proxy losses, as pytorch-metric-learning (PML) 2.9 defines them: each class is represented by
 * learned points (proxies) and embeddings are pulled towards their class's proxies and pushed
 * from the others — ProxyNCA, ProxyAnchor, and SoftTriple (several centers per class).
 *
 * Each loss has two forms: a function taking the learnable tensor as an option named as PML's
 * attribute (`proxies` `[numClasses, d]`, or `fc` `[d, numClasses·centersPerClass]`), so that a
 * value can be checked against PML for given proxies; and a class owning it as a `tf.Variable`,
 * initialised as PML initialises it, for training (`new ProxyAnchorLoss({ numClasses,
 * embeddingSize })`; pass it to `train()` as `loss`, with `lossLearningRateMultiplier: 100` for
 * the proxies as ProxyAnchor's paper does).
 *
 * Labels must lie in `[0, numClasses)`; the check runs before any tensor work.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  defineLoss,
  type Loss,
  opt,
  type ParametrizedLossOptions,
  TrainableLoss,
} from "./_template.ts";
import {
  checkClassLabels,
  crossEntropy,
  inits,
  minerWeights,
  oneHotMask,
  positive,
} from "./_classes.ts";
import { maskedLogSumExp } from "./_ops.ts";
import type { TrainableOptions } from "./classification.ts";

/** Options every proxy loss shares. */
export interface ProxyLossOptions
  extends Omit<ParametrizedLossOptions, "refEmbeddings" | "refLabels"> {
  /** Number of classes `C` (required): labels must lie in `[0, C)`. */
  numClasses?: number;
  /** The proxies `[C, d]` (PML's `proxies`); required in the functional form. */
  proxies?: tf.Tensor;
}

const numClassesSpec = opt.integer(undefined, { min: 1 });

function proxiesSpec(init: keyof typeof inits) {
  return opt.parameter({
    shape: (o, d) => [o.numClasses as number, d],
    init: inits[init],
  });
}

// ---------------------------------------------------------------------------------------------
// ProxyAnchor

/** Options of {@linkcode proxyAnchorLoss}; defaults are PML's `ProxyAnchorLoss`. */
export interface ProxyAnchorLossOptions extends ProxyLossOptions {
  /** Margin δ. Default 0.1. */
  margin?: number;
  /** Scale α > 0. Default 32. */
  alpha?: number;
}

/**
 * Proxy-Anchor loss (Kim et al. 2020, "Proxy Anchor Loss for Deep Metric Learning"), PML's
 * `ProxyAnchorLoss`: with `s(x, p)` the similarity of an embedding to a proxy (default cosine)
 * and each proxy an anchor,
 *
 *   posLoss = 1/|P⁺| Σ_{p ∈ P⁺} log(1 + Σ_{x ∈ X_p⁺} exp(−α(s(x, p) − δ))),
 *   negLoss = 1/|P| Σ_{p ∈ P} log(1 + Σ_{x ∈ X_p⁻} exp(α(s(x, p) + δ))),
 *
 * where `X_p⁺` are the batch's embeddings of proxy `p`'s class, `X_p⁻` the others, `P⁺` the
 * proxies with a positive in the batch (PML's `DivisorReducer` divisors). With a distance,
 * PML's `distance.margin` flips the signs. Miner `indices` add `w − 1` to every exponent of a row
 * with miner weight `w` (PML's offset).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `proxies` `[numClasses, d]` (required), `margin`, `alpha`
 * @returns a scalar; with `reduction: "none"` the `[numClasses]` per-proxy losses (pos + neg)
 * @throws Error for a missing `numClasses` or `proxies`, `proxies` of another shape, a label
 *   outside `[0, numClasses)`, `alpha` ≤ 0, a negative margin with a distance, `refEmbeddings`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { proxyAnchorLoss } from "./proxies.ts";
 * const proxies = tf.tensor2d([[1, 0], [0, 1]]);
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = proxyAnchorLoss(e, [0, 1], { numClasses: 2, proxies }).dataSync()[0];
 * assert.ok(Math.abs(v - 7.9308) < 1e-3); // PML: 7.93080
 * ```
 */
export const proxyAnchorLoss: Loss<ProxyAnchorLossOptions> = defineLoss<ProxyAnchorLossOptions>({
  name: "proxyAnchorLoss",
  distance: "cosine",
  reduction: { name: "divisor" },
  ref: false,
  subLosses: ["posLoss", "negLoss"],
  options: {
    numClasses: numClassesSpec,
    margin: opt.margin(0.1),
    alpha: opt.positive(32),
    proxies: proxiesSpec("kaimingNormalFanOut"),
  },
  compute(ctx, o) {
    const C = o.numClasses;
    checkClassLabels(ctx.fn, ctx.labels, C);
    const present = new Set(ctx.labels).size;
    const offset = tf.tensor2d(minerWeights(ctx.indices, ctx.n).map((w) => w - 1), [ctx.n, 1]);
    const sim = ctx.distances(ctx.embeddings, o.proxies as tf.Tensor2D); // [n, C]
    const pos = oneHotMask(ctx.labels, C);
    const neg = tf.sub(1, pos) as tf.Tensor2D;
    const posExp = tf.add(tf.mul(ctx.margin(sim, o.margin), o.alpha), offset) as tf.Tensor2D;
    const negExp = tf.add(tf.mul(ctx.margin(-o.margin, sim), o.alpha), offset) as tf.Tensor2D;
    // PML's logsumexp over the batch (dim 0), with a 0 joined: one value per proxy.
    const lse = (x: tf.Tensor2D, mask: tf.Tensor2D) =>
      tf.reshape(
        maskedLogSumExp(tf.transpose(x) as tf.Tensor2D, tf.transpose(mask) as tf.Tensor2D, true),
        [C],
      );
    return {
      posLoss: { kind: "element", losses: lse(posExp, pos), divisor: present },
      negLoss: { kind: "element", losses: lse(negExp, neg), divisor: C },
    };
  },
});

// ---------------------------------------------------------------------------------------------
// ProxyNCA

/** Options of {@linkcode proxyNcaLoss}; defaults are PML's `ProxyNCALoss`. */
export interface ProxyNcaLossOptions extends ProxyLossOptions {
  /** Scale of the logits inside the softmax (PML's `softmax_scale`), > 0. Default 1. */
  softmaxScale?: number;
}

/**
 * ProxyNCA (Movshovitz-Attias et al. 2017, "No Fuss Distance Metric Learning using Proxies"),
 * PML's `ProxyNCALoss` (its `NCALoss` against the proxies): with `d` the squared Euclidean
 * distance between normalised embeddings and normalised proxies (default),
 *
 *   ℓ_i = −log( exp(−t·d(x_i, p_{y_i})) / Σ_c exp(−t·d(x_i, p_c)) ),  t = softmaxScale,
 *
 * (for a similarity `s`, `+t·s`), times the row's miner weight (anchors only, PML's
 * `using_ref`), averaged over the rows whose softmax probability did not underflow to 0 (PML
 * drops those rows).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `proxies` `[numClasses, d]` (required), `softmaxScale`
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses (0 for dropped rows)
 * @throws Error for an empty batch (PML: NaN), a missing `numClasses` or `proxies`, `proxies` of
 *   another shape, a label outside `[0, numClasses)`, `softmaxScale` ≤ 0, `refEmbeddings`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { proxyNcaLoss } from "./proxies.ts";
 * const proxies = tf.tensor2d([[1, 0], [0, 1]]);
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = proxyNcaLoss(e, [0, 1], { numClasses: 2, proxies }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.17172) < 1e-4); // PML: 0.171719
 * ```
 */
export const proxyNcaLoss: Loss<ProxyNcaLossOptions> = defineLoss<ProxyNcaLossOptions>({
  name: "proxyNcaLoss",
  refuseEmpty: {
    batch: "the mean of no rows' losses is undefined (PML's ProxyNCALoss returns NaN)",
  },
  distance: "sqeuclidean",
  reduction: "mean",
  ref: false,
  options: {
    numClasses: numClassesSpec,
    softmaxScale: opt.positive(1),
    proxies: proxiesSpec("normal"),
  },
  compute(ctx, o) {
    const C = o.numClasses;
    checkClassLabels(ctx.fn, ctx.labels, C);
    const weights = tf.tensor1d(minerWeights(ctx.indices, ctx.n, true));
    const mat = ctx.distances(ctx.embeddings, o.proxies as tf.Tensor2D);
    const logits = tf.mul(ctx.distance.inverted ? mat : tf.neg(mat), o.softmaxScale);
    const p = tf.sum(tf.mul(tf.softmax(logits), oneHotMask(ctx.labels, C)), 1);
    // PML drops the rows whose probability underflowed to 0 (log 0 would be infinite).
    const kept = positive(p);
    const losses = tf.mul(tf.neg(tf.log(tf.add(p, tf.sub(1, kept)))), weights);
    return { loss: { kind: "element", losses, weights: kept } };
  },
});

// ---------------------------------------------------------------------------------------------
// SoftTriple

/** Options of {@linkcode softTripleLoss}; defaults are PML's `SoftTripleLoss`. */
export interface SoftTripleLossOptions extends Omit<ProxyLossOptions, "proxies"> {
  /** Centers K per class (integer ≥ 1). Default 10. */
  centersPerClass?: number;
  /** λ > 0, the scale of the class logits (PML's `la`). Default 20. */
  la?: number;
  /** γ > 0, the temperature of the softmax over a class's centers. Default 0.1. */
  gamma?: number;
  /** Margin δ subtracted from the true class's similarity. Default 0.01. */
  margin?: number;
  /** The centers `[d, numClasses·centersPerClass]` (PML's `fc`), column `c·K + k`. */
  fc?: tf.Tensor;
}

/**
 * SoftTriple loss (Qian et al. 2019, "SoftTriple Loss: Deep Metric Learning Without Triplet
 * Sampling"), PML's `SoftTripleLoss`: each class `c` has K centers `w_ck` (columns of `fc`); the
 * similarity of embedding `x` to class `c` is the softmax-weighted mean of its similarities to the
 * centers,
 *
 *   S_c(x) = Σ_k softmax_k(s(x, w_ck)/γ) · s(x, w_ck),
 *   ℓ = −log( exp(λ(S_y − δ)) / (exp(λ(S_y − δ)) + Σ_{c ≠ y} exp(λ S_c)) ),
 *
 * with `s` cosine similarity (a similarity is required), times miner weights, averaged. (PML,
 * like this function, leaves out the paper's regularizer of the centers; add it with
 * `weightRegularizer: sparseCentersRegularizer(...)`.)
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`, in `[0, numClasses)`
 * @param options `numClasses` and `fc` `[d, numClasses·centersPerClass]` (required),
 *   `centersPerClass`, `la`, `gamma`, `margin`
 * @returns a scalar; with `reduction: "none"` the `[n]` per-row losses
 * @throws Error for an empty batch (PML: NaN), a missing `numClasses` or `fc`, `fc` of another
 *   shape, a label outside `[0, numClasses)`, `la` or `gamma` ≤ 0, `centersPerClass` not an integer
 *   ≥ 1, a distance that is not a similarity, `refEmbeddings`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { softTripleLoss } from "./proxies.ts";
 * const fc = tf.tensor2d([[1, 0.8, 0, 0.2], [0, 0.6, 1, 0.98]]); // 2 classes × 2 centers
 * const e = tf.tensor2d([[1, 0.2], [0.1, 1]]);
 * const v = softTripleLoss(e, [0, 1], { numClasses: 2, centersPerClass: 2, fc }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.0010159) < 1e-6); // PML: 0.00101589
 * ```
 */
export const softTripleLoss: Loss<SoftTripleLossOptions> = defineLoss<SoftTripleLossOptions>({
  name: "softTripleLoss",
  refuseEmpty: {
    batch: "the mean cross-entropy of no rows is undefined (PML's SoftTripleLoss returns NaN)",
  },
  distance: "cosine",
  reduction: "mean",
  ref: false,
  checkDistance: (d) =>
    d.inverted ? undefined : "distance must be a similarity (PML's SoftTripleLoss asserts it)",
  options: {
    numClasses: numClassesSpec,
    centersPerClass: opt.integer(10, { min: 1 }),
    la: opt.positive(20),
    gamma: opt.positive(0.1),
    margin: opt.number(0.01),
    fc: opt.parameter({
      shape: (o, d) => [d, (o.numClasses as number) * (o.centersPerClass as number)],
      init: inits.kaimingUniformSqrt5,
      regularize: (w) => tf.transpose(w) as tf.Tensor2D,
    }),
  },
  compute(ctx, o) {
    const C = o.numClasses, K = o.centersPerClass;
    checkClassLabels(ctx.fn, ctx.labels, C);
    const weights = tf.tensor1d(minerWeights(ctx.indices, ctx.n));
    const sim = tf.reshape(
      ctx.distances(ctx.embeddings, tf.transpose(o.fc) as tf.Tensor2D),
      [ctx.n, C, K],
    );
    const prob = tf.softmax(tf.mul(sim, 1 / o.gamma));
    const simToClasses = tf.sum(tf.mul(prob, sim), 2) as tf.Tensor2D;
    const mask = oneHotMask(ctx.labels, C);
    const logits = tf.mul(tf.sub(simToClasses, tf.mul(mask, o.margin)), o.la) as tf.Tensor2D;
    return { loss: { kind: "element", losses: tf.mul(crossEntropy(logits, mask), weights) } };
  },
});

// ---------------------------------------------------------------------------------------------
// The trainable forms

/**
 * {@linkcode proxyAnchorLoss} owning its `proxies` `[numClasses, embeddingSize]` as a
 * `tf.Variable`, initialised as PML does (Kaiming normal, fan-out: N(0, 2/numClasses)); PML's
 * `ProxyAnchorLoss` module. The paper trains the proxies 100× faster than the network:
 * `train({ ..., loss, lossLearningRateMultiplier: 100 })`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { ProxyAnchorLoss } from "./proxies.ts";
 * const loss = new ProxyAnchorLoss({ numClasses: 3, embeddingSize: 2, seed: 0 });
 * assert.deepEqual(loss.proxies.shape, [3, 2]);
 * const [value] = loss.call(tf.tensor2d([[1, 0], [0, 1]]), [0, 2]).dataSync();
 * assert.ok(Math.abs(value - 21.5686) < 1e-3); // seed 0
 * loss.dispose();
 * ```
 */
export class ProxyAnchorLoss extends TrainableLoss<ProxyAnchorLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<ProxyAnchorLossOptions, "proxies">) {
    super(proxyAnchorLoss, options);
  }
  /** The proxies `[C, d]` (PML's `proxies`). */
  get proxies(): tf.Variable {
    return this.variables.proxies;
  }
}

/**
 * {@linkcode proxyNcaLoss} owning its `proxies` `[numClasses, embeddingSize]` (N(0, 1), as PML);
 * PML's `ProxyNCALoss` module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProxyNCALoss } from "./proxies.ts";
 * const loss = new ProxyNCALoss({ numClasses: 10, embeddingSize: 64 });
 * assert.deepEqual(loss.proxies.shape, [10, 64]);
 * loss.dispose();
 * ```
 */
export class ProxyNCALoss extends TrainableLoss<ProxyNcaLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<ProxyNcaLossOptions, "proxies">) {
    super(proxyNcaLoss, options);
  }
  /** The proxies `[C, d]` (PML's `proxies`). */
  get proxies(): tf.Variable {
    return this.variables.proxies;
  }
}

/**
 * {@linkcode softTripleLoss} owning its centers `fc` `[embeddingSize,
 * numClasses·centersPerClass]`, initialised as PML does (Kaiming uniform with a = √5:
 * U(±1/√(numClasses·centersPerClass))); PML's `SoftTripleLoss` module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SoftTripleLoss } from "./proxies.ts";
 * const loss = new SoftTripleLoss({ numClasses: 10, embeddingSize: 64 });
 * assert.deepEqual(loss.fc.shape, [64, 100]); // 10 classes × 10 centers
 * loss.dispose();
 * ```
 */
export class SoftTripleLoss extends TrainableLoss<SoftTripleLossOptions> {
  /** @param options the loss's options with `numClasses`, `embeddingSize` and `seed` */
  constructor(options: TrainableOptions<SoftTripleLossOptions, "fc">) {
    super(softTripleLoss, options);
  }
  /** The centers `[d, C·K]` (PML's `fc`). */
  get fc(): tf.Variable {
    return this.variables.fc;
  }
}
