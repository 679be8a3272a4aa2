/**
 * Mahalanobis Metric for Clustering (Xing, Ng, Jordan and Russell, 2002): learns L from pairs
 * labelled similar (+1) or dissimilar (−1), making similar pairs close while keeping dissimilar
 * pairs apart: minimise Σ_S ‖L(a − b)‖² − log Σ_D ‖L(a − b)‖ (the unconstrained form of
 * "min Σ_S d² subject to Σ_D d ≥ 1" that Xing et al. give; M = LᵀL is positive semi-definite by
 * construction, so no projection step is needed).
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import * as tf from "@tensorflow/tfjs";
import { createRng } from "../data/random.ts";
import { safeSqrt } from "../distances.ts";
import { LinearLearnerBase, type LinearLearnerOptions } from "./base.ts";
import { checkX, labelArray } from "./_internal.ts";

/**
 * Options of {@linkcode MMC}.
 *
 * @example
 * ```ts
 * import { MMC } from "./mmc.ts";
 * const mmc = new MMC({ diagonal: true, iterations: 100 });
 * ```
 */
export interface MmcOptions extends LinearLearnerOptions {
  /** Learn a diagonal L (feature weights), metric-learn's `diagonal=True` (default false). */
  diagonal?: boolean;
}

/**
 * MMC, classification similarity from labelled pairs. Defaults follow metric-learn's `MMC`
 * (`max_iter = 100`, identity initialisation) with Adam (learning rate 0.01) on all pairs. The
 * objective in `history` uses means instead of sums (the same minimiser up to scale):
 * mean_S ‖L(a − b)‖² − log mean_D ‖L(a − b)‖.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MMC } from "./mmc.ts";
 * const mmc = new MMC({ iterations: 50 });
 * const a = tf.tensor2d([[0, 0], [0, 0], [0, 0]]);
 * const b = tf.tensor2d([[0, 3], [1, 0], [1, 3]]);
 * await mmc.fit(a, b, [1, -1, -1]);
 * ```
 */
export class MMC extends LinearLearnerBase {
  readonly name = "mmc";
  private readonly diagonal: boolean;

  constructor(options: MmcOptions = {}) {
    super(
      (checkOptionKeys("MMC", options, [
        "components",
        "init",
        "seed",
        "iterations",
        "learningRate",
        "onStep",
        "diagonal",
      ]),
        options),
      100,
    );
    this.diagonal = options.diagonal ?? false;
  }

  /**
   * Fits L to pairs (a_i, b_i) with labels y_i = +1 (similar) or −1 (dissimilar).
   *
   * @param a `[p, d]` first points of the pairs
   * @param b `[p, d]` second points
   * @param y `[p]` +1 / −1
   */
  async fit(a: tf.Tensor2D, b: tf.Tensor2D, y: ArrayLike<number> | tf.Tensor1D): Promise<void> {
    checkX(a, "MMC.fit", 1);
    checkX(b, "MMC.fit", 1);
    if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
      throw new Error(`MMC.fit: a is [${a.shape}] and b is [${b.shape}]; they must match`);
    }
    const labels = labelArray(y, a.shape[0], "MMC.fit");
    if (labels.some((v) => v !== 1 && v !== -1)) throw new Error("MMC.fit: y must be +1 or −1");
    const sim = labels.flatMap((v, i) => (v === 1 ? [i] : []));
    const dis = labels.flatMap((v, i) => (v === -1 ? [i] : []));
    if (!sim.length || !dis.length) {
      throw new Error("MMC.fit: needs at least one similar (+1) and one dissimilar (−1) pair");
    }
    const L = this.initL(a.shape[1]);
    const mask = this.diagonal ? tf.eye(a.shape[1]) : null;
    const diff = tf.sub(a, b) as tf.Tensor2D;
    const dS = tf.gather(diff, tf.tensor1d(sim, "int32")) as tf.Tensor2D;
    const dD = tf.gather(diff, tf.tensor1d(dis, "int32")) as tf.Tensor2D;
    diff.dispose();
    try {
      await this.optimize(() => {
        const eff = mask ? tf.mul(L, mask) as tf.Tensor2D : L;
        const sq = (t: tf.Tensor2D) => tf.sum(tf.square(tf.matMul(t, eff, false, true)), 1);
        const pull = tf.mean(sq(dS));
        const spread = tf.mean(safeSqrt(sq(dD)));
        return tf.sub(pull, tf.log(tf.add(spread, 1e-12))) as tf.Scalar;
      });
    } finally {
      tf.dispose([dS, dD]);
      mask?.dispose();
    }
    if (mask) {
      const diag = tf.mul(L, tf.eye(a.shape[1]));
      L.assign(diag as tf.Tensor2D);
      diag.dispose();
    }
  }
}

/**
 * Pairs drawn from labelled points: `count` similar and `count` dissimilar, seeded.
 *
 * @example
 * ```ts
 * import { pairsFromLabels } from "./mmc.ts";
 * const pairs = pairsFromLabels([0, 1, 0, 1], 3, 0);
 * console.log(pairs.first.length); // 6
 * ```
 */
export interface LabelledPairs {
  /** Indices of the first points, `[2·count]`. */
  first: Int32Array;
  /** Indices of the second points, `[2·count]`. */
  second: Int32Array;
  /** +1 (same label) or −1 (different labels), `[2·count]`. */
  y: Int32Array;
}

/**
 * Draws `count` similar (same label) and `count` dissimilar pairs of distinct points, seeded — the
 * input of pair learners such as {@linkcode MMC} when only class labels are known.
 *
 * @param labels `[n]`
 * @param count pairs of each kind
 * @param seed seed
 * @example
 * ```ts
 * import { pairsFromLabels } from "./mmc.ts";
 * const { first, second, y } = pairsFromLabels([0, 0, 1, 1], 2, 0);
 * console.log(y); // Int32Array [1, 1, -1, -1]
 * ```
 */
export function pairsFromLabels(labels: ArrayLike<number>, count: number, seed = 0): LabelledPairs {
  const n = labels.length;
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`pairsFromLabels: count must be a positive integer, got ${count}`);
  }
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    byLabel.set(labels[i], [...(byLabel.get(labels[i]) ?? []), i]);
  }
  const groups = [...byLabel.values()].filter((g) => g.length >= 2);
  if (!groups.length) throw new Error("pairsFromLabels: no label has two points");
  if (byLabel.size < 2) throw new Error("pairsFromLabels: need at least two distinct labels");
  const rng = createRng(seed);
  const first = new Int32Array(2 * count),
    second = new Int32Array(2 * count),
    y = new Int32Array(2 * count);
  for (let t = 0; t < count; t++) {
    // A random point whose class has a second member, then another member of that class.
    let i: number;
    do i = rng.nextInt(n); while ((byLabel.get(labels[i])!.length) < 2);
    const g = byLabel.get(labels[i])!;
    let j: number;
    do j = g[rng.nextInt(g.length)]; while (j === i);
    first[t] = i, second[t] = j, y[t] = 1;
  }
  for (let t = count; t < 2 * count; t++) {
    const i = rng.nextInt(n);
    let j: number;
    do j = rng.nextInt(n); while (labels[j] === labels[i]);
    first[t] = i, second[t] = j, y[t] = -1;
  }
  return { first, second, y };
}
