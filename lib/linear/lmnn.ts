/**
 * Large Margin Nearest Neighbor (Weinberger and Saul, 2009): ranking similarity from triplets
 * (x_i, x_j, x_l) — x_j one of the k nearest same-class "target neighbours" of x_i, x_l an
 * "impostor" of another class — learning L so that every target neighbour is closer than every
 * impostor by a margin: minimise (1 − μ) Σ ‖L(x_i − x_j)‖² + μ Σ [1 + ‖L(x_i − x_j)‖² −
 * ‖L(x_i − x_l)‖²]₊.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { LinearLearnerBase, type LinearLearnerOptions, type SupervisedLearner } from "./base.ts";
import {
  checkInteger,
  classCounts,
  type LabelInput,
  type MatrixInput,
  readLabels,
  readPoints,
  requireTwoClasses,
} from "./_internal.ts";

/**
 * Options of {@linkcode LMNN}.
 *
 * @example
 * ```ts
 * import { LMNN } from "./lmnn.ts";
 * const lmnn = new LMNN({ k: 3, regularization: 0.5, batchSize: 256, impostors: 512 });
 * ```
 */
export interface LmnnOptions extends LinearLearnerOptions {
  /** Target neighbours per point (metric-learn's `n_neighbors`, default 3). */
  k?: number;
  /** Weight μ of the push (impostor) term against the pull term (metric-learn default 0.5). */
  regularization?: number;
  /** Anchors per stochastic step (default 256). */
  batchSize?: number;
  /** Candidate impostors drawn per step (default 512). */
  impostors?: number;
}

/**
 * The k nearest same-class "target neighbours" of every point (Euclidean, excluding the point
 * itself; ties go to the lower index), `[n·k]` row-major, as metric-learn's `LMNN` selects them.
 *
 * @param x `[n, d]`
 * @param labels `[n]`
 * @param k neighbours per point
 * @throws Error `targetNeighbours: not enough class labels for specified k (smallest class has m)`
 * when a class has k or fewer points: a point needs k others of its class. (metric-learn 0.7
 * checks k > m, one short: with k = m a point becomes its own target neighbour.)
 * @example
 * ```ts
 * import { targetNeighbours } from "./lmnn.ts";
 * await targetNeighbours([[0], [1], [5], [9], [10]], [0, 0, 0, 1, 1], 1); // [1, 0, 1, 4, 3]
 * ```
 */
export async function targetNeighbours(
  x: MatrixInput,
  labels: LabelInput,
  k: number,
  fn = "targetNeighbours",
): Promise<Int32Array> {
  checkInteger(fn, "k", k, 1);
  const { data, n, d } = await readPoints(fn, "x", x, 2);
  const y = await readLabels(fn, labels, n);
  const counts = classCounts(y);
  const smallest = Math.min(...counts.values());
  if (k >= smallest) {
    throw new Error(
      `${fn}: not enough class labels for specified k (smallest class has ${smallest}; ` +
        `k = ${k} target neighbours need ${k + 1} points per class)`,
    );
  }
  const out = new Int32Array(n * k);
  for (const label of counts.keys()) {
    const members = y.flatMap((v, i) => (v === label ? [i] : []));
    for (const i of members) {
      const cand = members.filter((j) => j !== i).map((j) => {
        let s = 0;
        for (let c = 0; c < d; c++) s += (data[i * d + c] - data[j * d + c]) ** 2;
        return [s, j] as [number, number];
      });
      cand.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
      for (let t = 0; t < k; t++) out[i * k + t] = cand[t][1];
    }
  }
  return out;
}

/**
 * LMNN. Defaults follow metric-learn's `LMNN` (`n_neighbors = 3`, `regularization = 0.5`,
 * identity initialisation) with Adam (learning rate 0.01, 200 steps) on minibatches of anchors
 * and sampled impostor candidates instead of metric-learn's full-gradient descent. The
 * objective in `history` is the minibatch loss per anchor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LMNN } from "./lmnn.ts";
 * const lmnn = new LMNN({ k: 1, iterations: 30 });
 * await lmnn.fit(tf.tensor2d([[0, 0], [0, 3], [1, 0], [1, 3]]), [0, 0, 1, 1]);
 * ```
 */
export class LMNN extends LinearLearnerBase implements SupervisedLearner {
  readonly name = "LMNN";
  private readonly k: number;
  private readonly mu: number;
  private readonly batchSize: number;
  private readonly impostors: number;

  constructor(options: LmnnOptions = {}) {
    super("LMNN", options, ["k", "regularization", "batchSize", "impostors"], 200);
    this.k = options.k ?? 3;
    this.mu = options.regularization ?? 0.5;
    this.batchSize = options.batchSize ?? 256;
    this.impostors = options.impostors ?? 512;
    if (!Number.isInteger(this.k) || this.k < 1) {
      throw new Error(`LMNN: k must be a positive integer, got ${this.k}`);
    }
    if (!(this.mu >= 0 && this.mu <= 1)) {
      throw new Error(`LMNN: regularization must be in [0, 1], got ${this.mu}`);
    }
    for (
      const [key, v] of [["batchSize", this.batchSize], ["impostors", this.impostors]] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(
          `LMNN: ${key} must be a positive integer, got ${v}`,
        );
      }
    }
  }

  /**
   * Fits L to labelled points (triplets are formed from target neighbours and impostors).
   *
   * @param x `[n, d]`, n ≥ 2
   * @param labels `[n]`, at least 2 classes, each with more than k points
   * @throws Error for fewer than 2 samples or classes, NaN/±Infinity, a label count that differs
   * from n, a class with k or fewer points ("not enough class labels for specified k"), or
   * nComponents outside [1, d].
   */
  async fit(x: MatrixInput, labels: LabelInput): Promise<this> {
    const fn = "LMNN.fit";
    const points = await readPoints(fn, "x", x, 2);
    const y = await readLabels(fn, labels, points.n);
    requireTwoClasses(fn, y);
    const n = points.n, k = this.k;
    const targets = await targetNeighbours(x, y, k, fn);
    const L = this.initL(points.d);
    const yAll = tf.tensor1d(y, "float32");
    const xAll = tf.tensor2d(Float32Array.from(points.data), [n, points.d]);
    try {
      await this.optimize(() => {
        const anchors = this.sample(n, this.batchSize);
        const b = anchors.length;
        const tIdx = new Int32Array(b * k);
        for (let r = 0; r < b; r++) {
          for (let t = 0; t < k; t++) tIdx[r * k + t] = targets[anchors[r] * k + t];
        }
        const cand = this.sample(n, this.impostors);
        const ai = tf.tensor1d(anchors, "int32");
        const za = tf.matMul(tf.gather(xAll, ai), L, false, true); // [b, k']
        const zt = tf.reshape(
          tf.matMul(tf.gather(xAll, tf.tensor1d(tIdx, "int32")), L, false, true),
          [
            b,
            k,
            -1,
          ],
        );
        const zc = tf.matMul(tf.gather(xAll, tf.tensor1d(cand, "int32")), L, false, true); // [c, k']
        const dTarget = tf.sum(tf.square(tf.sub(tf.expandDims(za, 1), zt)), 2); // [b, k]
        const dCand = tf.relu(tf.sub(
          tf.add(tf.sum(tf.square(za), 1, true), tf.reshape(tf.sum(tf.square(zc), 1), [1, -1])),
          tf.mul(tf.matMul(za, zc, false, true), 2),
        )); // [b, c]
        const differs = tf.cast(
          tf.notEqual(
            tf.expandDims(tf.gather(yAll, ai), 1),
            tf.expandDims(tf.gather(yAll, tf.tensor1d(cand, "int32")), 0),
          ),
          "float32",
        ); // [b, c]
        // hinge[r, t, c] = [1 + d(i, j_t) − d(i, l_c)]₊ over impostors l_c of another class
        const hinge = tf.mul(
          tf.relu(tf.sub(tf.add(tf.expandDims(dTarget, 2), 1), tf.expandDims(dCand, 1))),
          tf.expandDims(differs, 1),
        );
        const pull = tf.sum(dTarget);
        const push = tf.sum(hinge);
        return tf.div(tf.add(tf.mul(pull, 1 - this.mu), tf.mul(push, this.mu)), b) as tf.Scalar;
      });
      await this.finish();
    } finally {
      tf.dispose([yAll, xAll]);
    }
    return this;
  }
}
