/**
 * The N-pair loss (Sohn 2016), as pytorch-metric-learning (PML) defines it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Labels } from "./pairs.ts";
import type { TupleLossOptions } from "./contrastive.ts";
import {
  checkEmbeddings,
  checkOptions,
  checkReduction,
  l2NormalizeIf,
  labelsArray,
  reduceWeighted,
  resolveLossDistance,
  toPairs,
  zeroLoss,
} from "./tuples.ts";
import { pairwiseDistances } from "../distances.ts";

/**
 * The positive pairs the N-pair loss uses: for each distinct anchor label (ascending), the first
 * positive pair listed with an anchor of that label (PML's `convert_to_pos_pairs_with_unique_labels`).
 *
 * @example
 * ```ts
 * import { nPairsSelection } from "./n_pairs.ts";
 * nPairsSelection([1, 0, 0, 1]); // { anchors: [1, 0], positives: [2, 3] }
 * ```
 */
export function nPairsSelection(
  labels: ArrayLike<number>,
  pairs = toPairs("nPairsLoss", labels),
): { anchors: number[]; positives: number[] } {
  const first = new Map<number, number>();
  for (let i = 0; i < pairs.a1.length; i++) {
    const label = labels[pairs.a1[i]];
    if (!first.has(label)) first.set(label, i);
  }
  const sorted = [...first.keys()].sort((x, y) => x - y);
  return {
    anchors: sorted.map((l) => pairs.a1[first.get(l)!]),
    positives: sorted.map((l) => pairs.p[first.get(l)!]),
  };
}

/**
 * N-pair loss (Sohn 2016), PML's `NPairsLoss`: one positive pair `(a_k, p_k)` per class
 * (see {@linkcode nPairsSelection}); each anchor must pick its own positive among all `N`
 * positives by softmax cross-entropy over similarities,
 *
 *   ℓ(k) = −log( exp(s(a_k, p_k)) / Σ_j exp(s(a_k, p_j)) ),
 *
 * averaged over the `N` pairs (default `"mean"`, PML's `MeanReducer`). Default similarity: dot
 * product of L2-normalised embeddings (PML's `DotProductSimilarity` normalises by default), i.e.
 * cosine similarity; for a distance, `s = −d`. No positive pair gives 0.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (`reduction: "none"`: `[N]`)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { nPairsLoss } from "./n_pairs.ts";
 * nPairsLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]), [0, 0, 1, 1]).print();
 * ```
 */
export function nPairsLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: TupleLossOptions = {},
): tf.Scalar {
  const fn = "nPairsLoss";
  checkOptions(fn, options, ["distance", "normalizeEmbeddings", "indices", "reduction"]);
  const { distance = "dot", normalizeEmbeddings = true, reduction = "mean", indices } = options;
  checkReduction(fn, reduction);
  const n = checkEmbeddings(fn, embeddings);
  const y = labelsArray(labels, n, fn);
  const resolved = resolveLossDistance(fn, distance);
  const { anchors, positives } = nPairsSelection(y, toPairs(fn, y, indices));
  if (anchors.length === 0) {
    return (reduction === "none" ? tf.zeros([0]) : zeroLoss(embeddings)) as tf.Scalar;
  }
  return tf.tidy(() => {
    const e = l2NormalizeIf(embeddings, normalizeEmbeddings);
    const a = tf.gather(e, tf.tensor1d(anchors, "int32")) as tf.Tensor2D;
    const p = tf.gather(e, tf.tensor1d(positives, "int32")) as tf.Tensor2D;
    const d = pairwiseDistances(a, p, resolved.metric, { checkFinite: false });
    const logits = resolved.inverted ? d : tf.neg(d);
    const k = anchors.length;
    const diag = tf.sum(tf.mul(logits, tf.eye(k)), 1);
    const losses = tf.sub(tf.logSumExp(logits, 1), diag);
    return reduceWeighted(losses, tf.onesLike(losses), reduction) as tf.Scalar;
  });
}
