/**
 * PML's `UniformHistogramMiner`: pairs sampled evenly across the range of distances.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Labels, PairIndices } from "../losses/mod.ts";
import type { Rng } from "../data/random.ts";
import { checkOptionKeys } from "../validate.ts";
import { allPairs, checkNumber, MINER_OPTION_KEYS, minerBatch, minerRng } from "./_common.ts";
import { histogramBins, histogramEdges } from "./_histogram.ts";
import type { MinerOptions, SamplingMinerOptions } from "./types.ts";

/**
 * Options of {@linkcode uniformHistogramMiner}; names and defaults are PML's
 * `UniformHistogramMiner`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UniformHistogramMinerOptions } from "./uniform_histogram.ts";
 * const o: UniformHistogramMinerOptions = { numBins: 20, posPerBin: 5, negPerBin: 5 };
 * assert.equal(o.numBins, 20);
 * ```
 */
export interface UniformHistogramMinerOptions extends MinerOptions, SamplingMinerOptions {
  /** Number of equal-width bins between the smallest and largest value; integer ≥ 1. Default 100. */
  numBins?: number;
  /** Positive pairs drawn from each non-empty bin; integer ≥ 1. Default 10. */
  posPerBin?: number;
  /** Negative pairs drawn from each non-empty bin; integer ≥ 1. Default 10. */
  negPerBin?: number;
}

/** `perBin` draws (uniform, with replacement) from each non-empty bin, bin by bin. */
function uniformlyDistributed(
  values: Float32Array,
  anchors: Int32Array,
  others: Int32Array,
  numBins: number,
  perBin: number,
  rng: Rng,
): [Int32Array, Int32Array] {
  if (values.length === 0) return [anchors, others];
  const bins = histogramBins(values, histogramEdges(values, numBins)).filter((b) => b.length);
  const a = new Int32Array(bins.length * perBin), o = new Int32Array(bins.length * perBin);
  let k = 0;
  for (const members of bins) {
    for (let t = 0; t < perBin; t++, k++) {
      const pick = members[rng.nextInt(members.length)];
      a[k] = anchors[pick], o[k] = others[pick];
    }
  }
  return [a, o];
}

/**
 * PML's `UniformHistogramMiner` (PML's own miner; no paper): splits the values (distances or similarities) of the positive
 * pairs into `numBins` equal-width bins from their smallest to their largest value, and draws
 * `posPerBin` pairs uniformly with replacement from every non-empty bin; the same for the
 * negative pairs with `negPerBin`. So each kind returns `perBin × (non-empty bins)` pairs,
 * grouped bin by bin from the smallest values up. The bins are PML's exactly (float32
 * `torch.linspace` edges, bin `i` = `[edge_i, edge_{i+1})`, the last one closed); the draws come
 * from `options.rng`, not PyTorch's generator, so PML's exact samples cannot be reproduced.
 * A kind with no pairs (a batch without positives or negatives, or an empty batch) stays empty.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options `numBins` (default 100), `posPerBin`, `negPerBin` (default 10), `rng`, and the
 *   distance (default `"euclidean"` on normalised embeddings) and reference set of
 *   {@linkcode MinerOptions}
 * @returns pairs; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError when `numBins`, `posPerBin` or `negPerBin` is not an integer ≥ 1; Error for
 *   an unknown option, mismatched shapes or labels, non-finite distances.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { uniformHistogramMiner } from "./uniform_histogram.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.9, 0.2], [0.6, 0.8]]);
 * const { a1, a2 } = uniformHistogramMiner(e, [0, 0, 1, 1], {
 *   numBins: 4,
 *   posPerBin: 3,
 *   negPerBin: 2,
 * });
 * // Positive pairs lie at 0.69 and 1.41: the first and the last bin, 3 draws each.
 * // Negative pairs lie at 0.22, 0.63, 0.89, 1.25: one in each of the 4 bins, 2 draws each.
 * assert.equal(a1.length, 6);
 * assert.equal(a2.length, 8);
 * ```
 */
export function uniformHistogramMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: UniformHistogramMinerOptions = {},
): PairIndices {
  const fn = "uniformHistogramMiner";
  const known = [...MINER_OPTION_KEYS, "numBins", "posPerBin", "negPerBin", "rng"];
  checkOptionKeys(fn, options, known);
  const { numBins = 100, posPerBin = 10, negPerBin = 10 } = options;
  checkNumber(fn, "numBins", numBins, { min: 1, integer: true });
  checkNumber(fn, "posPerBin", posPerBin, { min: 1, integer: true });
  checkNumber(fn, "negPerBin", negPerBin, { min: 1, integer: true });
  const rng = minerRng(fn, options.rng);
  const b = minerBatch(fn, embeddings, labels, options, known, "euclidean");
  const pairs = allPairs(b);
  const values = (x: Int32Array, y: Int32Array) =>
    Float32Array.from(x, (i, t) => b.mat[i * b.m + y[t]]);
  const [a1, p] = uniformlyDistributed(
    values(pairs.a1, pairs.p),
    pairs.a1,
    pairs.p,
    numBins,
    posPerBin,
    rng,
  );
  const [a2, n] = uniformlyDistributed(
    values(pairs.a2, pairs.n),
    pairs.a2,
    pairs.n,
    numBins,
    negPerBin,
    rng,
  );
  return { a1, p, a2, n };
}
