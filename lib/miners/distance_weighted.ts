/**
 * PML's `DistanceWeightedMiner`: negatives sampled with weights that undo the concentration of
 * distances on the hypersphere.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Labels, TripletIndices } from "../losses/mod.ts";
import { checkOptionKeys } from "../validate.ts";
import {
  checkNumber,
  MINER_OPTION_KEYS,
  minerBatch,
  minerRng,
  requireNormalizedEuclidean,
  tripletsOf,
} from "./_common.ts";
import { distanceWeights } from "./_distance_weights.ts";
import type { MinerOptions, SamplingMinerOptions } from "./types.ts";

/**
 * Options of {@linkcode distanceWeightedMiner}; names and defaults are PML's
 * `DistanceWeightedMiner`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DistanceWeightedMinerOptions } from "./distance_weighted.ts";
 * const o: DistanceWeightedMinerOptions = { cutoff: 0.5, nonzeroLossCutoff: 1.4 };
 * assert.equal(o.cutoff, 0.5);
 * ```
 */
export interface DistanceWeightedMinerOptions extends MinerOptions, SamplingMinerOptions {
  /** Distances below it count as `cutoff` when weighting, in [0, 2). Default 0.5. */
  cutoff?: number;
  /** Negatives at this distance or farther are never sampled; finite, > 0. Default 1.4. */
  nonzeroLossCutoff?: number;
}

/**
 * PML's `DistanceWeightedMiner` (Wu, Manmatha, Smola & Krähenbühl, "Sampling Matters in Deep
 * Embedding Learning", ICCV 2017, section 4): samples triplets whose negatives are drawn with
 * probability proportional to the inverse of the density of distances between uniform points on
 * the unit sphere in `d` dimensions,
 *
 * ```text
 * q(D)⁻¹ ∝ D^(2−d) · (1 − D²/4)^(−(d−3)/2),  D = max(‖x_a − x_n‖, cutoff),
 * ```
 *
 * restricted to `D < nonzeroLossCutoff` (weights as PML computes them, in float32). The triplets
 * follow PML's `get_random_triplet_indices`: for each label in ascending order that has at least
 * two members (one in the reference set when `refEmbeddings` is given) and at least one
 * negative, each anchor of that label in index order gets `k` triplets, `k` the label's size in
 * the reference set; each triplet draws its positive uniformly (with replacement) among the
 * anchor's same-label samples other than itself, and its negative from the weights. Anchors
 * whose negatives all have weight 0 are left out. So the anchor sequence `a` is exactly PML's;
 * `p` and `n` are random draws with PML's distributions, from `options.rng`, not PyTorch's
 * generator: the same draws as PML's cannot be produced.
 *
 * Only PML's distance is allowed: Euclidean on L2-normalised embeddings (PML asserts it). An
 * empty batch throws, as PML's fails there; a batch without positives or negatives gives no
 * triplet.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options `cutoff` (default 0.5), `nonzeroLossCutoff` (default 1.4), `rng`, and the
 *   reference set of {@linkcode MinerOptions}
 * @returns triplets; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError for a `cutoff` outside [0, 2) or a `nonzeroLossCutoff` that is not finite
 *   and > 0; Error for an empty batch, another distance, `normalizeEmbeddings: false`, an unknown
 *   option, mismatched shapes or labels, non-finite embeddings.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { createRng } from "../data/random.ts";
 * import { distanceWeightedMiner } from "./distance_weighted.ts";
 * const e = tf.tensor2d([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1], [0.5, 0.5, 0.7]]);
 * const { a, p, n } = distanceWeightedMiner(e, [0, 0, 1, 1, 2], { rng: createRng(3) });
 * // Labels 0 and 1 have two members: two triplets for each of their four anchors.
 * assert.deepEqual([...a], [0, 0, 1, 1, 2, 2, 3, 3]);
 * assert.deepEqual([...p], [1, 1, 0, 0, 3, 3, 2, 2]);
 * assert.ok([...n].every((k, i) => [0, 0, 1, 1, 2][k] !== [0, 0, 1, 1, 2][a[i]]));
 * ```
 */
export function distanceWeightedMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: DistanceWeightedMinerOptions = {},
): TripletIndices {
  const fn = "distanceWeightedMiner";
  const known = [...MINER_OPTION_KEYS, "cutoff", "nonzeroLossCutoff", "rng"];
  checkOptionKeys(fn, options, known);
  const { cutoff = 0.5, nonzeroLossCutoff = 1.4 } = options;
  checkNumber(fn, "cutoff", cutoff, { min: 0, max: 2, maxOpen: true });
  checkNumber(fn, "nonzeroLossCutoff", nonzeroLossCutoff, { min: 0, minOpen: true });
  requireNormalizedEuclidean(fn, options);
  const rng = minerRng(fn, options.rng);
  const b = minerBatch(fn, embeddings, labels, options, known, "euclidean");
  const { n, m, y, yRef, self } = b;
  const weights = n > 0 && m > 0 ? distanceWeights(b, cutoff, nonzeroLossCutoff) : undefined;
  if (!weights) {
    throw new Error(
      n === 0 || m === 0
        ? `${fn}: no ${n === 0 ? "embeddings" : "refEmbeddings"} (0 rows); PML's ` +
          `DistanceWeightedMiner fails on an empty batch`
        : `${fn}: no pair has a finite weight (every distance is 2); PML's DistanceWeightedMiner fails here`,
    );
  }
  const a: number[] = [], p: number[] = [], ng: number[] = [];
  const uniqueLabels = [...new Set(y)].sort((u, v) => u - v);
  for (const label of uniqueLabels) {
    const pInds: number[] = [], nInds: number[] = [];
    for (let j = 0; j < m; j++) (yRef[j] === label ? pInds : nInds).push(j);
    const aInds = self ? pInds : Array.from(y.keys()).filter((i) => y[i] === label);
    if (pInds.length < (self ? 2 : 1) || nInds.length === 0) continue;
    const k = pInds.length;
    const cumulative = new Float64Array(nInds.length);
    for (const anchor of aInds) {
      let total = 0;
      nInds.forEach((j, t) => cumulative[t] = total += weights[anchor * m + j]);
      if (!(total > 0)) continue; // all-zero (NaN) row: PML drops the anchor
      const others = self ? pInds.filter((j) => j !== anchor) : pInds;
      for (let t = 0; t < k; t++) {
        a.push(anchor);
        p.push(others[rng.nextInt(others.length)]);
        ng.push(nInds[sampleIndex(cumulative, total, rng.next())]);
      }
    }
  }
  return tripletsOf(a, p, ng);
}

/** The first index whose cumulative weight exceeds `u · total` (binary search). */
function sampleIndex(cumulative: Float64Array, total: number, u: number): number {
  const target = u * total;
  let lo = 0, hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
