/**
 * Metric Learning for Kernel Regression (Weinberger and Tesauro, 2007): regression similarity
 * from real-valued targets. L is learned so that the leave-one-out Nadaraya–Watson estimate
 * ŷ_i = Σ_{j≠i} y_j k_ij / Σ_{j≠i} k_ij with k_ij = exp(−‖L(x_i − x_j)‖²) predicts y_i:
 * minimise Σ (y_i − ŷ_i)².
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { squaredEuclideanMatrix } from "../distances.ts";
import { LinearLearnerBase, type LinearLearnerOptions, type SupervisedLearner } from "./base.ts";
import { type LabelInput, type MatrixInput, readLabels, readPoints } from "./_internal.ts";
import { neighbourProbabilities } from "./nca.ts";

/**
 * Options of {@linkcode MLKR}.
 *
 * @example
 * ```ts
 * import { MLKR } from "./mlkr.ts";
 * const mlkr = new MLKR({ batchSize: 256, iterations: 100 });
 * ```
 */
export interface MlkrOptions extends LinearLearnerOptions {
  /** Points per stochastic step (default 512; the whole set when smaller). */
  batchSize?: number;
}

/**
 * MLKR. Defaults follow metric-learn's `MLKR` (identity-like initialisation) with Adam (learning
 * rate 0.05, 200 steps) on minibatches instead of L-BFGS. The objective in `history` is the mean
 * squared leave-one-out error on the minibatch.
 *
 * @example
 * ```ts
 * import { MLKR } from "./mlkr.ts";
 * const mlkr = new MLKR({ iterations: 30 });
 * await mlkr.fit([[0, 5], [1, -2], [2, 7], [3, 0]], [0, 1, 2, 3]);
 * ```
 */
export class MLKR extends LinearLearnerBase implements SupervisedLearner {
  readonly name = "MLKR";
  private readonly batchSize: number;

  constructor(options: MlkrOptions = {}) {
    super("MLKR", options, ["batchSize"], 200, 0.05);
    this.batchSize = options.batchSize ?? 512;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 2) {
      throw new Error(`MLKR: batchSize must be an integer ≥ 2, got ${this.batchSize}`);
    }
  }

  /**
   * Fits L to points with real-valued targets.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param y `[n]` real targets
   * @throws Error for fewer than 2 samples, NaN/±Infinity in x or y, a target count that differs
   * from n (metric-learn's "data and label lengths mismatch"), or nComponents outside [1, d].
   */
  async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "MLKR.fit";
    const points = await readPoints(fn, "x", x, 2);
    const targets = await readLabels(fn, y, points.n, "targets");
    const n = points.n;
    const L = this.initL(points.d);
    const yAll = tf.tensor1d(targets, "float32");
    const xAll = tf.tensor2d(Float32Array.from(points.data), [n, points.d]);
    try {
      await this.optimize(() => {
        const i = tf.tensor1d(this.sample(n, this.batchSize), "int32");
        const yb = tf.gather(yAll, i);
        const z = tf.matMul(tf.gather(xAll, i), L, false, true) as tf.Tensor2D;
        const w = neighbourProbabilities(squaredEuclideanMatrix(z, z));
        const yHat = tf.squeeze(tf.matMul(w, tf.expandDims(yb, 1)), [1]);
        return tf.mean(tf.square(tf.sub(yb, yHat))) as tf.Scalar;
      });
      await this.finish();
    } finally {
      tf.dispose([yAll, xAll]);
    }
    return this;
  }
}
