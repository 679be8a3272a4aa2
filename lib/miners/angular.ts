/**
 * PML's `AngularMiner`: the triplets whose angle at the negative exceeds a threshold.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Labels, TripletIndices } from "../losses/mod.ts";
import { checkFiniteValues, checkOptionKeys } from "../validate.ts";
import {
  checkNumber,
  f32,
  MINER_OPTION_KEYS,
  minerBatch,
  requireNormalizedEuclidean,
  tripletsOf,
} from "./_common.ts";
import type { MinerOptions } from "./types.ts";

/**
 * Options of {@linkcode angularMiner}; names and defaults are PML's `AngularMiner`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AngularMinerOptions } from "./angular.ts";
 * const o: AngularMinerOptions = { angle: 30 };
 * assert.equal(o.angle, 30);
 * ```
 */
export interface AngularMinerOptions extends MinerOptions {
  /** Threshold angle in degrees, in [0, 90]. Default 20. */
  angle?: number;
}

/** PyTorch's `pairwise_distance` adds this to every coordinate difference. */
const PAIRWISE_EPS = 1e-6;

/**
 * PML's `AngularMiner` (Wang, Zhou, Wen, Liu & Lin, "Deep Metric Learning with Angular Loss",
 * ICCV 2017): among all triplets `(a, p, n)` (PML's order: anchor, positive, negative ascending),
 * keeps those whose angle at the negative,
 *
 * ```text
 * ∠ = atan( ‖x_a − x_p‖ / (2 ‖x_n − c‖) ),  c = (x_a + x_p) / 2,
 * ```
 *
 * is greater than `angle` (degrees). As in PML, the angle is computed on the embeddings **as
 * given** (PML's `LpDistance.pairwise_distance` does not normalise) with PyTorch's
 * `pairwise_distance`, which adds 1e-6 to each coordinate difference; PML still requires its
 * distance to be the default normalised Euclidean one, so `distance` may only be `"euclidean"`
 * and `normalizeEmbeddings` only `true`. An empty batch, or one without positives or negatives,
 * gives no triplet.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]` integer class labels
 * @param options `angle` (default 20) and the reference set of {@linkcode MinerOptions}
 * @returns triplets; `p` and `n` index `refEmbeddings` when given
 * @throws RangeError when `angle` is not a finite number in [0, 90]; Error for another distance,
 *   `normalizeEmbeddings: false`, an unknown option, mismatched shapes or labels, non-finite
 *   embeddings.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { angularMiner } from "./angular.ts";
 * // Anchor 0 and positive 1 are 2 apart; negative 2 sits 1 from their centre: ∠ = atan(1) = 45°.
 * const e = tf.tensor2d([[-1, 0], [1, 0], [0, 1]]);
 * assert.equal(angularMiner(e, [0, 0, 1], { angle: 44 }).a.length, 2);
 * assert.equal(angularMiner(e, [0, 0, 1], { angle: 46 }).a.length, 0);
 * ```
 */
export function angularMiner(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: AngularMinerOptions = {},
): TripletIndices {
  const fn = "angularMiner";
  const known = [...MINER_OPTION_KEYS, "angle"];
  checkOptionKeys(fn, options, known);
  const { angle = 20 } = options;
  checkNumber(fn, "angle", angle, { min: 0, max: 90 });
  requireNormalizedEuclidean(fn, options);
  const b = minerBatch(fn, embeddings, labels, options, known, "euclidean", false);
  const { n, m, d, y, yRef, self } = b;
  const out: [number[], number[], number[]] = [[], [], []];
  if (n === 0 || m === 0) return tripletsOf(...out);
  const x = embeddings.dataSync();
  const r = self ? x : options.refEmbeddings!.dataSync();
  checkFiniteValues(fn, "embeddings", x, d);
  if (!self) checkFiniteValues(fn, "refEmbeddings", r, d);
  const threshold = f32(angle * Math.PI / 180);
  const center = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (y[i] !== yRef[j] || (self && i === j)) continue;
      let ap = 0;
      for (let k = 0; k < d; k++) {
        const a = x[i * d + k], p = r[j * d + k];
        ap += f32(f32(a - p) + PAIRWISE_EPS) ** 2;
        center[k] = f32(f32(a + p) / 2);
      }
      const apDist = f32(Math.sqrt(ap));
      for (let q = 0; q < m; q++) {
        if (yRef[q] === y[i]) continue;
        let nc = 0;
        for (let k = 0; k < d; k++) nc += f32(f32(r[q * d + k] - center[k]) + PAIRWISE_EPS) ** 2;
        const ncDist = f32(Math.sqrt(nc));
        if (f32(Math.atan(f32(apDist / f32(2 * ncDist)))) > threshold) {
          out[0].push(i), out[1].push(j), out[2].push(q);
        }
      }
    }
  }
  return tripletsOf(...out);
}
