/**
 * The contrastive loss (Hadsell, Chopra & LeCun 2006) as pytorch-metric-learning defines it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { l2Normalize, type MetricSpec, pairwiseDistances, resolveMetric } from "../distances.ts";
import { type Labels, labelsTensor, pairMasks } from "./pairs.ts";
import { reduce, type Reduction } from "./reducers.ts";

/** Options of {@linkcode contrastiveLoss}; defaults are pytorch-metric-learning's. */
export interface ContrastiveLossOptions {
  /** Positive pairs are penalised beyond this distance. Default 0. */
  posMargin?: number;
  /** Negative pairs are penalised within this distance. Default 1. */
  negMargin?: number;
  /** `"euclidean"` (default) or `"cosine"` (cosine *similarity*, larger is closer). */
  distance?: "euclidean" | "cosine";
  /** Scale embeddings to unit length first. Default true. */
  normalizeEmbeddings?: boolean;
  /** Square the hinge terms, the classic Hadsell et al. form ½d², ½max(0, m − d)². Default false. */
  squared?: boolean;
  /** Default `"avgNonZero"` for each of the positive and negative terms, which are then summed. */
  reduction?: Reduction;
}

const KNOWN = new Set([
  "posMargin",
  "negMargin",
  "distance",
  "normalizeEmbeddings",
  "squared",
  "reduction",
]);

/**
 * Contrastive loss over all pairs of the batch: positive pairs pay `relu(d − posMargin)`, negative
 * pairs `relu(negMargin − d)` (reversed for a similarity), each term averaged over its non-zero
 * pairs and the two averages summed, as pytorch-metric-learning's `ContrastiveLoss`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` class labels
 * @returns a scalar, differentiable with respect to `embeddings`
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
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new Error(`contrastiveLoss: unknown option "${key}"`);
  }
  const {
    posMargin = 0,
    negMargin = 1,
    distance = "euclidean",
    normalizeEmbeddings = true,
    squared = false,
    reduction = "avgNonZero",
  } = options;
  if (embeddings.rank !== 2) {
    throw new Error(`contrastiveLoss: embeddings must be [n, d], got rank ${embeddings.rank}`);
  }
  const metric = resolveMetric(distance === "cosine" ? "cosineSimilarity" : "euclidean");
  return tf.tidy(() => {
    const n = embeddings.shape[0];
    const y = labelsTensor(labels, n);
    const e = normalizeEmbeddings ? l2Normalize(embeddings) : embeddings;
    const d = pairwiseDistances(e, e, metric as unknown as MetricSpec);
    const { positive, negative } = pairMasks(y);
    let posTerm = metric.isSimilarity
      ? tf.relu(tf.sub(posMargin, d))
      : tf.relu(tf.sub(d, posMargin));
    let negTerm = metric.isSimilarity
      ? tf.relu(tf.sub(d, negMargin))
      : tf.relu(tf.sub(negMargin, d));
    if (squared) {
      posTerm = tf.mul(tf.square(posTerm), 0.5);
      negTerm = tf.mul(tf.square(negTerm), 0.5);
    }
    const pos = reduce(posTerm, reduction, positive);
    const neg = reduce(negTerm, reduction, negative);
    return tf.add(pos, neg) as tf.Scalar;
  });
}
