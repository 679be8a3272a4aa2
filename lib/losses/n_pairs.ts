/**
 * The N-pair loss (Sohn 2016), as pytorch-metric-learning (PML) defines it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions } from "./_template.ts";
import type { PairIndices } from "./_tuples.ts";

/**
 * The positive pairs the N-pair loss uses: for each distinct anchor label (ascending), the first
 * positive pair listed with an anchor of that label (PML's `convert_to_pos_pairs_with_unique_labels`).
 */
function nPairsSelection(
  labels: ArrayLike<number>,
  pairs: PairIndices,
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

/** Options of {@linkcode nPairsLoss}: only the common ones (no `refEmbeddings`, as in PML). */
export type NPairsLossOptions = LossOptions;

/**
 * N-pair loss (Sohn 2016), PML's `NPairsLoss`: one positive pair `(a_k, p_k)` per class — for
 * each distinct anchor label (ascending), the first positive pair listed with an anchor of that
 * label (PML's `convert_to_pos_pairs_with_unique_labels`); each anchor must pick its own positive
 * among all `N` positives by softmax cross-entropy over similarities,
 *
 *   ℓ(k) = −log( exp(s(a_k, p_k)) / Σ_j exp(s(a_k, p_j)) ),
 *
 * averaged over the `N` pairs (default `"mean"`, PML's `MeanReducer`). Default similarity: dot
 * product of L2-normalised embeddings (PML's `DotProductSimilarity` normalises by default), i.e.
 * cosine similarity; for a distance, `s = −d`. No positive pair gives 0. A separate reference set
 * is not supported (as in PML).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` a `[N]` tensor, one loss per selected pair
 * @throws Error for `refEmbeddings` or an unknown option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { nPairsLoss } from "./n_pairs.ts";
 * const v = nPairsLoss(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]), [0, 0, 1, 1]);
 * assert.ok(Math.abs(v.dataSync()[0] - 0.3460) < 1e-4);
 * ```
 */
export const nPairsLoss: Loss<NPairsLossOptions> = defineLoss<NPairsLossOptions>({
  name: "nPairsLoss",
  distance: "dot",
  reduction: "mean",
  ref: false,
  options: {},
  compute(ctx) {
    const { anchors, positives } = nPairsSelection(ctx.labels, ctx.pairs());
    if (anchors.length === 0) return ctx.zero();
    const e = ctx.embeddings;
    const a = tf.gather(e, tf.tensor1d(anchors, "int32")) as tf.Tensor2D;
    const p = tf.gather(e, tf.tensor1d(positives, "int32")) as tf.Tensor2D;
    const sim = ctx.distances(a, p);
    const logits = ctx.distance.inverted ? sim : tf.neg(sim);
    const diag = tf.sum(tf.mul(logits, tf.eye(anchors.length)), 1);
    const losses = tf.sub(tf.logSumExp(logits, 1), diag);
    return { loss: { kind: "element", losses, anchors: Int32Array.from(anchors) } };
  },
});
