/**
 * Test data shared by the training tests: four Gaussian classes in 6-d, deterministic.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng } from "../lib/data/random.ts";

/**
 * `n` points `[n, 6]` of four classes (label `i % 4`): class c centred at 2 on axis c, noise
 * N(0, 0.5²) from `createRng(seed)`; the same numbers for the same `n` and `seed`.
 */
export function fourBlobs(n = 96, seed = 5): { x: tf.Tensor2D; labels: Int32Array } {
  const rng = createRng(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
  const values = new Float32Array(n * 6);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 6; j++) values[i * 6 + j] = (j === labels[i] ? 2 : 0) + 0.5 * rng.normal();
  }
  return { x: tf.tensor2d(values, [n, 6]), labels };
}
