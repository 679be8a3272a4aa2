/**
 * Pair losses with margins: the contrastive loss (Hadsell, Chopra & LeCun 2006) as
 * pytorch-metric-learning (PML) defines it, the loss on positive pairs alone (which collapses the
 * embedding), and the ring loss (positives inside a radius, negatives beyond an outer radius).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Labels } from "./pairs.ts";
import {
  checkEmbeddings,
  checkMargins,
  checkOptions,
  checkReduction,
  labelsArray,
  type LossDistance,
  lossDistanceMatrix,
  marginOf,
  pairWeights,
  reduceWeighted,
  resolveLossDistance,
  toPairs,
  type TupleIndices,
  zeroLoss,
} from "./tuples.ts";
import type { Reduction } from "./reducers.ts";

/** Options every pair or triplet loss accepts. */
export interface TupleLossOptions {
  /**
   * `"euclidean"` (PML's `LpDistance`), `"sqeuclidean"`, `"cosine"` (cosine *similarity*, larger is
   * closer, PML's `CosineSimilarity`), `"dot"`, or a `Metric`. The default is PML's per loss.
   */
  distance?: LossDistance;
  /** Scale embeddings to unit L2 norm first, as PML's distances do by default. Default true. */
  normalizeEmbeddings?: boolean;
  /** Tuples from a miner; default all pairs / all triplets of the batch. */
  indices?: TupleIndices;
  /** Override the loss's default reduction (PML's reducer). */
  reduction?: Reduction;
}

const COMMON = ["distance", "normalizeEmbeddings", "indices", "reduction"] as const;

/** What {@linkcode pairSetup} returns: everything in `[n, n]` matrix form. */
export interface PairSetup {
  /** Batch size. */
  n: number;
  /** Labels `[n]`. */
  labels: Int32Array;
  /** Distances or similarities `[n, n]`. */
  mat: tf.Tensor2D;
  /** True for a similarity. */
  inverted: boolean;
  /** Multiplicity of each positive pair `[n, n]`. */
  pos: tf.Tensor2D;
  /** Multiplicity of each negative pair `[n, n]`. */
  neg: tf.Tensor2D;
  /** Number of positive pairs (with repeats). */
  numPos: number;
  /** Number of negative pairs (with repeats). */
  numNeg: number;
  /** PML's shortcut: every index array has length ≤ 1. */
  trivial: boolean;
}

/**
 * Shared preamble of pair-based losses: checks, labels, the `[n, n]` matrix and the pair
 * multiplicities. Call inside `tf.tidy`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { pairSetup } from "./contrastive.ts";
 * const s = tf.tidy(() => pairSetup("f", tf.tensor2d([[1, 0], [0, 1]]), [0, 0], "euclidean", true).numPos);
 * console.log(s); // 2
 * ```
 */
export function pairSetup(
  fn: string,
  embeddings: tf.Tensor2D,
  labels: Labels,
  distance: LossDistance,
  normalize: boolean,
  indices?: TupleIndices,
): PairSetup {
  const n = checkEmbeddings(fn, embeddings);
  const y = labelsArray(labels, n, fn);
  const resolved = resolveLossDistance(fn, distance);
  const pairs = toPairs(fn, y, indices);
  const w = pairWeights(pairs, n);
  return {
    n,
    labels: y,
    mat: lossDistanceMatrix(embeddings, resolved, normalize),
    inverted: resolved.inverted,
    pos: tf.tensor2d(w.pos, [n, n]),
    neg: tf.tensor2d(w.neg, [n, n]),
    numPos: w.numPos,
    numNeg: w.numNeg,
    trivial: w.trivial,
  };
}

/** Options of {@linkcode contrastiveLoss}; defaults are PML's `ContrastiveLoss`. */
export interface ContrastiveLossOptions extends TupleLossOptions {
  /** Positive pairs are penalised beyond this distance (below this similarity). Default 0. */
  posMargin?: number;
  /** Negative pairs are penalised within this distance (above this similarity). Default 1. */
  negMargin?: number;
  /** Square the hinge terms, the classic Hadsell et al. form ½d², ½max(0, m − d)². Default false. */
  squared?: boolean;
}

/**
 * Contrastive loss over pairs (PML's `ContrastiveLoss`): a positive pair pays
 * `relu(d − posMargin)`, a negative pair `relu(negMargin − d)` (for a similarity `s`:
 * `relu(posMargin − s)` and `relu(s − negMargin)`). Each of the two terms is reduced over its pairs
 * (default `"avgNonZero"`, PML's `AvgNonZeroReducer`) and the two are summed. With `squared` the
 * hinges become ½·hinge², the form of Hadsell, Chopra & LeCun (2006). Defaults: Euclidean
 * distance on L2-normalised embeddings, all pairs.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` class labels
 * @returns a scalar (for `reduction: "none"`: `[n, n]` per-pair losses times pair multiplicity)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { contrastiveLoss } from "./contrastive.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * contrastiveLoss(e, [0, 0, 1]).print();
 * ```
 */
export function contrastiveLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: ContrastiveLossOptions = {},
): tf.Scalar {
  const fn = "contrastiveLoss";
  checkOptions(fn, options, [...COMMON, "posMargin", "negMargin", "squared"]);
  const {
    posMargin = 0,
    negMargin = 1,
    distance = "euclidean",
    normalizeEmbeddings = true,
    squared = false,
    reduction = "avgNonZero",
    indices,
  } = options;
  checkReduction(fn, reduction);
  checkMargins(fn, distance, { posMargin, negMargin });
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (s.trivial && reduction !== "none") return zeroLoss(embeddings);
    let posTerm = tf.relu(marginOf(s.inverted, s.mat, posMargin));
    let negTerm = tf.relu(marginOf(s.inverted, negMargin, s.mat));
    if (squared) {
      posTerm = tf.mul(tf.square(posTerm), 0.5);
      negTerm = tf.mul(tf.square(negTerm), 0.5);
    }
    const pos = reduceWeighted(posTerm, s.pos, reduction);
    const neg = reduceWeighted(negTerm, s.neg, reduction);
    return tf.add(pos, neg) as tf.Scalar;
  });
}

/** Options of {@linkcode positivePairLoss}. */
export interface PositivePairLossOptions extends TupleLossOptions {
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
 * @returns a scalar (`reduction: "none"`: `[n, n]`)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { positivePairLoss } from "./contrastive.ts";
 * positivePairLoss(tf.tensor2d([[1, 0], [0, 1]]), [0, 0]).print(); // 1.4142
 * ```
 */
export function positivePairLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: PositivePairLossOptions = {},
): tf.Scalar {
  const fn = "positivePairLoss";
  checkOptions(fn, options, [...COMMON, "posMargin", "squared"]);
  const {
    posMargin = 0,
    distance = "euclidean",
    normalizeEmbeddings = true,
    squared = false,
    reduction = "mean",
    indices,
  } = options;
  checkReduction(fn, reduction);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    let term = tf.relu(marginOf(s.inverted, s.mat, posMargin));
    if (squared) term = tf.mul(tf.square(term), 0.5);
    return reduceWeighted(term, s.pos, reduction) as tf.Scalar;
  });
}

/** Options of {@linkcode ringLoss}. */
export interface RingLossOptions extends TupleLossOptions {
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

function radiusPerAnchor(
  fn: string,
  name: string,
  r: number | readonly number[],
  labels: Int32Array,
): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = typeof r === "number" ? r : r[labels[i]];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new Error(
        typeof r === "number"
          ? `${fn}: ${name} must be a finite number ≥ 0, got ${r}`
          : `${fn}: ${name}[${
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
 * @returns a scalar (`reduction: "none"`: `[n, n]`)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ringLoss } from "./contrastive.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * ringLoss(e, [0, 0, 1], { innerRadius: [0.1, 0.3], outerRadius: 1.5 }).print();
 * ```
 */
export function ringLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: RingLossOptions = {},
): tf.Scalar {
  const fn = "ringLoss";
  checkOptions(fn, options, [...COMMON, "innerRadius", "outerRadius", "squared"]);
  const {
    innerRadius = 0.5,
    outerRadius = 1.2,
    distance = "euclidean",
    normalizeEmbeddings = true,
    squared = false,
    reduction = "avgNonZero",
    indices,
  } = options;
  checkReduction(fn, reduction);
  return tf.tidy(() => {
    const s = pairSetup(fn, embeddings, labels, distance, normalizeEmbeddings, indices);
    if (s.inverted) throw new Error(`${fn}: distance must be a distance, not a similarity`);
    const rin = radiusPerAnchor(fn, "innerRadius", innerRadius, s.labels);
    const rout = radiusPerAnchor(fn, "outerRadius", outerRadius, s.labels);
    for (let i = 0; i < s.n; i++) {
      if (rout[i] < rin[i]) {
        throw new Error(
          `${fn}: outerRadius (${rout[i]}) is smaller than innerRadius (${rin[i]}) for class ${
            s.labels[i]
          }`,
        );
      }
    }
    if (s.trivial && reduction !== "none") return zeroLoss(embeddings);
    let posTerm = tf.relu(tf.sub(s.mat, tf.tensor2d(rin, [s.n, 1])));
    let negTerm = tf.relu(tf.sub(tf.tensor2d(rout, [s.n, 1]), s.mat));
    if (squared) {
      posTerm = tf.mul(tf.square(posTerm), 0.5);
      negTerm = tf.mul(tf.square(negTerm), 0.5);
    }
    return tf.add(
      reduceWeighted(posTerm, s.pos, reduction),
      reduceWeighted(negTerm, s.neg, reduction),
    ) as tf.Scalar;
  });
}
