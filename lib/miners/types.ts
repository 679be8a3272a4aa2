/**
 * Options shared by the miners.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Rng } from "../data/random.ts";
import type { Labels, LossDistance } from "../losses/mod.ts";

/**
 * Options every distance-based miner accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MinerOptions } from "./types.ts";
 * const o: MinerOptions = { distance: "cosine", normalizeEmbeddings: true };
 * assert.equal(o.distance, "cosine");
 * ```
 */
export interface MinerOptions {
  /**
   * `"euclidean"` (PML's `LpDistance`), `"sqeuclidean"` (`LpDistance(power=2)`), `"cosine"`
   * (PML's `CosineSimilarity`: a *similarity*), `"dot"` (`DotProductSimilarity`) or any `Metric`
   * from `distances.ts`, the same option the losses take. Default: PML's per miner.
   */
  distance?: LossDistance;
  /** L2-normalise embeddings (and reference embeddings) first, as PML's distances do. Default true. */
  normalizeEmbeddings?: boolean;
  /**
   * A separate reference set `[m, d]` (PML's `ref_emb`): anchors come from `embeddings`,
   * positives and negatives from `refEmbeddings`, so returned `p`/`n` index `refEmbeddings`.
   * Then `(i, i)` is an ordinary pair (PML removes self-pairs only without a reference set).
   * Needs `refLabels`. The batch itself given again (the same tensor and the same labels
   * object) counts as no reference set, as in PML.
   */
  refEmbeddings?: tf.Tensor2D;
  /** Labels `[m]` of `refEmbeddings` (PML's `ref_labels`). Needs `refEmbeddings`. */
  refLabels?: Labels;
}

/**
 * Options of the miners that sample (PML draws from PyTorch's global generator).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRng } from "../data/random.ts";
 * import type { SamplingMinerOptions } from "./types.ts";
 * const o: SamplingMinerOptions = { rng: createRng(1) };
 * assert.ok(o.rng !== undefined);
 * ```
 */
export interface SamplingMinerOptions {
  /**
   * The random source, a generator from `createRng(seed)` (`data/random.ts`); it advances, so
   * one generator made outside the training step gives fresh draws at every step. Default: a new
   * generator seeded with 0 at each call (the same draws for the same input). The draws follow
   * PML's distributions but are not PyTorch's random numbers: PML's exact samples cannot be
   * reproduced.
   */
  rng?: Rng;
}
