/**
 * The histogram loss (Ustinova & Lempitsky 2016, "Learning Deep Embeddings with Histogram Loss"),
 * as pytorch-metric-learning (PML) 2.9 defines it: the probability that a random negative pair is
 * more similar than a random positive pair, estimated from two histograms of similarities.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions, opt } from "./_template.ts";
import { segmentHistogram } from "./_ranking.ts";

/** Options of {@linkcode histogramLoss}; defaults are PML's `HistogramLoss`. */
export interface HistogramLossOptions extends Omit<LossOptions, "refEmbeddings" | "refLabels"> {
  /** Number of bins over [−1, 1]. An integer ≥ 1; default 100 (when `delta` is not given). */
  nBins?: number;
  /** Bin width; `delta = 2 / nBins` must hold when both are given. Default `2 / nBins`. */
  delta?: number;
}

/**
 * Histogram loss, PML's `HistogramLoss`: with `P` the distinct unordered anchor-positive pairs and
 * `N` the distinct unordered anchor-negative pairs of the triplets (all triplets of the batch, or
 * those of `indices`; PML's `convert_to_triplets` then its `filter_pairs`), each similarity `s`
 * spreads one unit over the two nearest of the nodes `−1 + tδ` (`t = 0 … 2/δ`) by linear
 * interpolation, giving the densities `p⁺ = hist(P)/|P|` and `p⁻ = hist(N)/|N|`, and
 *
 *   L = Σ_t p⁻(t) · Φ⁺(t),   Φ⁺(t) = Σ_{u ≤ t} p⁺(u),
 *
 * the estimated probability that a negative pair is more similar than a positive one. The value
 * is already reduced (PML's `"already_reduced"`): reducers pass it on, `reduction: "none"` is
 * refused. Defaults: cosine similarity on normalised embeddings, 100 bins.
 *
 * Similarities outside [−1, 1] (possible only with another distance, or `normalizeEmbeddings:
 * false` with `"dot"`) count in the first or last node; PML fails there with an index error, and
 * also at a similarity of exactly 1 (two coincident rows), which here is simply the last node.
 *
 * Cost: two segment sums over the `[n, n]` similarities (`2n²` values), not a `[pairs, bins]`
 * matrix.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar
 * @throws Error for `nBins` not an integer ≥ 1, `delta` not a finite number in (0, 2] or
 *   `delta ≠ 2 / nBins` (PML asserts it), `refEmbeddings` (PML's `ref_not_supported`), missing
 *   labels, or `reduction: "none"`. No triplet (no positive or no negative pair) gives 0, as in
 *   PML.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { histogramLoss } from "./histogram.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]]);
 * const v = histogramLoss(e, [0, 0, 1, 1], { nBins: 10 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.55) < 1e-4); // PML 2.9.0: 0.550000
 * ```
 */
export const histogramLoss: Loss<HistogramLossOptions> = defineLoss<HistogramLossOptions>({
  name: "histogramLoss",
  distance: "cosine",
  reduction: "mean",
  ref: false,
  options: {
    nBins: opt.integer(undefined, { min: 1 }, true),
    delta: opt.custom<number>(
      undefined,
      (v, env) => opt.number(1, { gt: 0, max: 2 }).check(v, env),
    ),
  },
  validate(o, { fn }) {
    if (o.nBins !== undefined && o.delta !== undefined && o.delta !== 2 / o.nBins) {
      throw new Error(
        `${fn}: delta and nBins must satisfy delta = 2 / nBins, got delta ${o.delta} and nBins ${o.nBins}`,
      );
    }
  },
  compute(ctx, o) {
    const n = ctx.n;
    const delta = o.delta ?? 2 / (o.nBins ?? 100);
    const nodes = Math.round(1 + 2 / delta);
    // Distinct unordered pairs of the triplets, as upper-triangle masks.
    const pos = new Float32Array(n * n), neg = new Float32Array(n * n);
    const mark = (mask: Float32Array, i: number, j: number) =>
      mask[Math.min(i, j) * n + Math.max(i, j)] = 1;
    if (ctx.indices === undefined) {
      const y = ctx.labels;
      const count = new Map<number, number>();
      for (const c of y) count.set(c, (count.get(c) ?? 0) + 1);
      // An anchor has triplets when its class has another row and is not the whole batch.
      const anchor = (i: number) => count.get(y[i])! >= 2 && count.get(y[i])! < n;
      for (let i = 0; i < n; i++) {
        if (!anchor(i)) continue;
        for (let j = 0; j < n; j++) {
          if (j === i) continue;
          mark(y[j] === y[i] ? pos : neg, i, j);
        }
      }
    } else {
      const t = ctx.triplets();
      for (let k = 0; k < t.a.length; k++) mark(pos, t.a[k], t.p[k]), mark(neg, t.a[k], t.n[k]);
    }
    let numPos = 0, numNeg = 0;
    for (let k = 0; k < n * n; k++) numPos += pos[k], numNeg += neg[k];
    if (numPos === 0 || numNeg === 0) return ctx.zero();
    // PML's bin arithmetic: r = ⌊(s + 1)/δ⌋, weights (s + 1 − rδ)/δ to node r + 1 and
    // ((r + 1)δ − 1 − s)/δ to node r; s kept within [−1, 1] and r within [0, nodes − 2].
    const shifted = tf.add(tf.clipByValue(tf.reshape(ctx.mat(), [1, n * n]), -1, 1), 1);
    const rf = tf.clipByValue(tf.floor(tf.div(shifted, delta)), 0, nodes - 2);
    const r = tf.cast(rf, "int32") as tf.Tensor2D;
    const upper = tf.div(tf.sub(shifted, tf.mul(rf, delta)), delta);
    const lower = tf.div(tf.sub(tf.mul(tf.add(rf, 1), delta), shifted), delta);
    const hist = segmentHistogram(
      tf.concat([r, r]) as tf.Tensor2D,
      tf.mul(tf.concat([lower, lower]), tf.tensor2d([...pos, ...neg], [2, n * n])) as tf.Tensor2D,
      tf.mul(tf.concat([upper, upper]), tf.tensor2d([...pos, ...neg], [2, n * n])) as tf.Tensor2D,
      nodes,
    );
    const [hPos, hNeg] = tf.split(hist, 2);
    const phi = tf.cumsum(tf.div(hPos, numPos), 1);
    const value = tf.sum(tf.mul(tf.div(hNeg, numNeg), phi)) as tf.Scalar;
    return { loss: { kind: "reduced", value } };
  },
});
