/**
 * Neighbourhood Components Analysis (Goldberger, Roweis, Hinton and Salakhutdinov, 2004): learns L
 * from class labels by maximising the expected leave-one-out accuracy of a stochastic nearest
 * neighbour classifier, p_ij ∝ exp(−‖L(x_i − x_j)‖²), p_ii = 0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { squaredEuclideanMatrix } from "../distances.ts";
import { LinearLearnerBase, type LinearLearnerOptions, type SupervisedLearner } from "./base.ts";
import {
  type LabelInput,
  type MatrixInput,
  readLabels,
  readPoints,
  requireTwoClasses,
} from "./_internal.ts";

/**
 * Options of {@linkcode NCA}.
 *
 * @example
 * ```ts
 * import { NCA } from "./nca.ts";
 * const nca = new NCA({ batchSize: 256 });
 * ```
 */
export interface NcaOptions extends LinearLearnerOptions {
  /** Points per stochastic step (default 512; the whole set when smaller). */
  batchSize?: number;
}

/**
 * Row-wise softmax of `−D` with the diagonal excluded: the stochastic-neighbour probabilities
 * shared by NCA and MLKR. `[b, b]` → `[b, b]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { neighbourProbabilities } from "./nca.ts";
 * neighbourProbabilities(tf.tensor2d([[0, 1, 4], [1, 0, 1], [4, 1, 0]])).print(); // rows sum to 1, zero diagonal
 * ```
 */
export function neighbourProbabilities(sqDist: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const b = sqDist.shape[0];
    const logits = tf.sub(tf.neg(sqDist), tf.mul(tf.eye(b), 1e9));
    return tf.softmax(logits) as tf.Tensor2D;
  });
}

/**
 * NCA, classification similarity from class labels. Defaults follow metric-learn's `NCA`
 * (`max_iter = 100`) with Adam (learning rate 0.01) on minibatches instead of L-BFGS, and the
 * identity as initialisation. The objective recorded in `history` is −(mean p_i), p_i the
 * probability that point i is classified correctly.
 *
 * @example
 * ```ts
 * import { NCA } from "./nca.ts";
 * const nca = new NCA({ iterations: 50, seed: 1 });
 * await nca.fit([[0, 0], [0, 3], [1, 0], [1, 3]], [0, 0, 1, 1]);
 * console.log(nca.history[0] > nca.history.at(-1)!); // true
 * ```
 */
export class NCA extends LinearLearnerBase implements SupervisedLearner {
  readonly name = "NCA";
  private readonly batchSize: number;

  constructor(options: NcaOptions = {}) {
    super("NCA", options, ["batchSize"], 100);
    this.batchSize = options.batchSize ?? 512;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 2) {
      throw new Error(`NCA: batchSize must be an integer ≥ 2, got ${this.batchSize}`);
    }
  }

  /**
   * Fits L to labelled points.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param labels `[n]` class labels, at least 2 classes
   * @throws Error for fewer than 2 samples or classes, NaN/±Infinity, a label count that differs
   * from n, or nComponents outside [1, d].
   */
  async fit(x: MatrixInput, labels: LabelInput): Promise<this> {
    const fn = "NCA.fit";
    const points = await readPoints(fn, "x", x, 2);
    const y = await readLabels(fn, labels, points.n);
    requireTwoClasses(fn, y);
    const n = points.n;
    const L = this.initL(points.d);
    const yAll = tf.tensor1d(y, "float32");
    const xAll = tf.tensor2d(Float32Array.from(points.data), [n, points.d]);
    try {
      await this.optimize(() => {
        const i = tf.tensor1d(this.sample(n, this.batchSize), "int32");
        const yb = tf.gather(yAll, i);
        const same = tf.cast(tf.equal(tf.expandDims(yb, 1), tf.expandDims(yb, 0)), "float32");
        const z = tf.matMul(tf.gather(xAll, i), L, false, true) as tf.Tensor2D;
        const p = neighbourProbabilities(squaredEuclideanMatrix(z, z));
        return tf.neg(tf.mean(tf.sum(tf.mul(p, same), 1))) as tf.Scalar;
      });
      await this.finish();
    } finally {
      tf.dispose([yAll, xAll]);
    }
    return this;
  }
}
