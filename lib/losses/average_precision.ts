/**
 * Losses that optimise average precision (AP) directly, through a smooth rank: FastAP (Cakir et
 * al. 2019, a histogram of distances), Smooth-AP (Brown et al. 2020, a sigmoid in place of the
 * rank's step function) and PNP (Li et al. 2022, penalising the negatives ranked before each
 * positive), as pytorch-metric-learning (PML) 2.9 defines them.
 *
 * Smooth-AP and PNP rank every member of a query's class against the whole batch: a
 * `[n, g, n]` tensor (`g` the largest class in the batch), cubic when one class fills the batch;
 * PML builds the full `[n, n, n]`. FastAP stays within `[n, n]` (its histograms are segment sums).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossOptions, opt } from "./_template.ts";
import type { ResolvedDistance } from "./_distance.ts";
import { classMembers, memberDifferences, minerWeights, segmentHistogram } from "./_ranking.ts";

const cosineOnly = (d: ResolvedDistance) =>
  d.metric.name === "cosineSimilarity"
    ? undefined
    : `distance must be "cosine" (PML's CosineSimilarity), got ${JSON.stringify(d.metric.name)}`;

/** Losses that refuse PML's `ref_emb`. */
type NoRefOptions = Omit<LossOptions, "refEmbeddings" | "refLabels">;

/** Options of {@linkcode fastAPLoss}; defaults are PML's `FastAPLoss`. */
export interface FastAPLossOptions extends NoRefOptions {
  /** Number of histogram bins over the distance range [0, 2^power]. An integer ≥ 1; default 10. */
  numBins?: number;
}

/**
 * FastAP (Cakir, He, Xia, Kulis & Sclaroff 2019, "Deep Metric Learning to Rank"), PML's
 * `FastAPLoss`: average precision of each query's ranking of the batch, computed from histograms
 * of its distances. With `δ = 2^power / numBins` and nodes `t·δ` (`t = 0 … numBins`), each
 * distance `d_qj` adds the triangular pulse `max(0, 1 − |d_qj − tδ|/δ)` to node `t`; `h⁺_q(t)`
 * sums it over the query's positives, `h_q(t)` over positives and negatives, `H⁺`, `H` are the
 * cumulative sums, and
 *
 *   FastAP(q) = (1/|P(q)|) Σ_t h⁺_q(t) H⁺_q(t) / H_q(t),   ℓ(q) = (1 − FastAP(q)) · w_q,
 *
 * summed over the nodes where `h⁺H⁺ > 0` and `H > 0`, for the queries that have a positive
 * (PML's `safe_N`), averaged (default `"mean"`). `w_q` is 1, or with `indices` PML's miner
 * weight: how often row `q` appears in the tuples over the largest such count (the tuples only
 * weight the queries; every pair of the batch is ranked). The distance is the squared Euclidean
 * distance between normalised embeddings by default (`power` 2, range [0, 4]); `"euclidean"` is
 * `power` 1, range [0, 2].
 *
 * Cost: the histograms are segment sums over the `[n, n]` distances (`2n²` values), not PML's
 * `[numBins + 1, n, n]` pulse tensor.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[k]` losses of the `k` queries that have a
 *   positive, in row order
 * @throws Error for `numBins` not an integer ≥ 1, a distance other than `"sqeuclidean"` or
 *   `"euclidean"` on normalised embeddings (PML asserts `LpDistance(p=2, normalize_embeddings)`),
 *   `refEmbeddings` (PML's `ref_not_supported`), or missing labels. A batch without positive
 *   pairs gives 0, as in PML.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { fastAPLoss } from "./average_precision.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]]);
 * const v = fastAPLoss(e, [0, 0, 1, 1]).dataSync()[0];
 * assert.ok(Math.abs(v - 0.38333) < 1e-4); // PML 2.9.0: 0.383333
 * ```
 */
export const fastAPLoss: Loss<FastAPLossOptions> = defineLoss<FastAPLossOptions>({
  name: "fastAPLoss",
  distance: "sqeuclidean",
  reduction: "mean",
  ref: false,
  checkDistance: (d, normalize) =>
    (d.metric.name === "sqeuclidean" || d.metric.name === "euclidean") && normalize
      ? undefined
      : `distance must be "sqeuclidean" or "euclidean" on normalised embeddings (PML's ` +
        `LpDistance with p = 2 and normalize_embeddings), got ${
          JSON.stringify(d.metric.name)
        } with normalizeEmbeddings ${normalize}`,
  options: { numBins: opt.integer(10, { min: 1 }) },
  compute(ctx, o) {
    const n = ctx.n, y = ctx.labels;
    const pos = new Float32Array(n * n), neg = new Float32Array(n * n);
    const numPos = new Float32Array(n);
    const safe: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (y[i] !== y[j]) neg[i * n + j] = 1;
        else if (i !== j) pos[i * n + j] = 1, numPos[i]++;
      }
      if (numPos[i] > 0) safe.push(i);
    }
    if (safe.length === 0) return ctx.zero();
    const power = ctx.distance.metric.name === "sqeuclidean" ? 2 : 1;
    const bins = o.numBins, delta = 2 ** power / bins, nodes = bins + 1;
    const d = ctx.mat();
    // Lower node of each distance, within [0, bins − 1]; the two pulses that can be non-zero.
    const r = tf.cast(tf.clipByValue(tf.floor(tf.div(d, delta)), 0, bins - 1), "int32");
    const below = tf.mul(tf.cast(r, "float32"), delta);
    const pulse = (node: tf.Tensor) => tf.relu(tf.sub(1, tf.div(tf.abs(tf.sub(d, node)), delta)));
    const lower = pulse(below), upper = pulse(tf.add(below, delta));
    const posW = tf.tensor2d(pos, [n, n]), negW = tf.tensor2d(neg, [n, n]);
    const hist = segmentHistogram(
      tf.concat([r, r]) as tf.Tensor2D,
      tf.concat([tf.mul(lower, posW), tf.mul(lower, negW)]) as tf.Tensor2D,
      tf.concat([tf.mul(upper, posW), tf.mul(upper, negW)]) as tf.Tensor2D,
      nodes,
    );
    const [hPos, hNeg] = tf.split(hist, 2);
    // Cumulative sums along the nodes as one product with an upper-triangular matrix of ones.
    const tri = tf.tensor2d(
      Float32Array.from(
        { length: nodes * nodes },
        (_, k) => Math.floor(k / nodes) <= k % nodes ? 1 : 0,
      ),
      [nodes, nodes],
    );
    const cumPos = tf.matMul(hPos, tri), cumAll = tf.matMul(tf.add(hPos, hNeg), tri);
    const product = tf.mul(hPos, cumPos);
    // PML's safe_H (h⁺H⁺ > 0 and H > 0) as a 0/1 mask (step: no gradient, as PML's indexing).
    const ok = tf.mul(tf.step(product), tf.step(cumAll));
    const ratio = tf.mul(tf.div(product, tf.add(cumAll, tf.sub(1, ok))), ok);
    const safeIdx = tf.tensor1d(Int32Array.from(safe), "int32");
    const ap = tf.div(
      tf.gather(tf.sum(ratio, 1), safeIdx),
      tf.gather(tf.tensor1d(numPos), safeIdx),
    );
    const w = tf.gather(tf.tensor1d(minerWeights(ctx.indices, n)), safeIdx);
    const losses = tf.mul(tf.sub(1, ap), w);
    return { loss: { kind: "element", losses, anchors: Int32Array.from(safe) } };
  },
});

/** Options of {@linkcode smoothAPLoss}; defaults are PML's `SmoothAPLoss`. */
export interface SmoothAPLossOptions extends NoRefOptions {
  /** Temperature τ of the sigmoid that replaces the rank's step function. Default 0.01. */
  temperature?: number;
}

/**
 * Smooth-AP (Brown, Xie, Kalogeiton & Zisserman 2020, "Smooth-AP: Smoothing the Path Towards
 * Large-Scale Image Retrieval"), PML's `SmoothAPLoss`: for query `q` with class `C(q)` (`q`
 * included, `|C(q)| = g_q`) and cosine similarities `s`,
 *
 *   R⁺(q, a) = 1 + Σ_{b ∈ C(q), b ≠ a} σ((s_qb − s_qa)/τ),   R(q, a) = 1 + Σ_{b ≠ a} σ((s_qb − s_qa)/τ),
 *   AP(q) = (1/g_q) Σ_{a ∈ C(q)} R⁺(q, a) / R(q, a),   ℓ(q) = (1 − AP(q)) · w_q,
 *
 * averaged over the batch (default `"mean"`); `w_q` is 1, or with `indices` PML's miner weight
 * (row `q`'s count in the tuples over the largest count). As in PML the query itself is one of
 * its class's ranked members.
 *
 * PML requires every class of the batch to have the same number of rows `g` (else it raises),
 * and then ranks positional blocks: it reshapes the batch into `g` consecutive blocks of `n / g`
 * rows and takes each block as a class. Those blocks are the labels' classes only when the batch
 * is sorted by class and has as many classes as rows per class (its documented example, 3 × 3);
 * otherwise PML silently ranks the wrong rows. Here the classes come from the labels: any batch
 * works (classes of any sizes, any order), and the value equals PML's wherever PML's blocks are
 * the classes.
 *
 * Memory: a `[n, g, n]` tensor (`g` the largest class in the batch; `[n, n, n]` only when one
 * class fills the batch) instead of PML's `[n, n, n]` ones. Measured for one forward and backward
 * pass of the loss alone on 10-class Fashion-MNIST batches (`deno task bench losses`): peak
 * 10.9 MB at n = 128 (g = 16) and 78 MB at n = 256 (g = 30); PML's `SmoothAPLoss` grows its
 * process by 41 MiB and 324 MiB for batches of classes of 16 (measured with `ru_maxrss`).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n]` losses
 * @throws Error for a temperature that is not a finite number > 0, a distance other than
 *   `"cosine"`, `refEmbeddings`, or missing labels. A batch of singletons gives ≈ 0 (each query's
 *   only member is itself), as in PML.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { smoothAPLoss } from "./average_precision.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]]);
 * const v = smoothAPLoss(e, [0, 0, 1, 1], { temperature: 0.1 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.20449) < 1e-4); // PML 2.9.0: 0.204491
 * ```
 */
export const smoothAPLoss: Loss<SmoothAPLossOptions> = defineLoss<SmoothAPLossOptions>({
  name: "smoothAPLoss",
  refuseEmpty: {
    batch: "PML's SmoothAPLoss fails there (its classes must all have the same number of rows)",
  },
  distance: "cosine",
  reduction: "mean",
  ref: false,
  cubic: true,
  checkDistance: cosineOnly,
  options: { temperature: opt.positive(0.01) },
  compute(ctx, o) {
    const n = ctx.n, members = classMembers(ctx.labels), g = members.width;
    const sig = tf.sigmoid(tf.div(memberDifferences(ctx.mat(), members), o.temperature));
    // Σ over b ≠ a: the b = a term is σ(0) = ½ exactly.
    const all = tf.sub(tf.sum(sig, 2), 0.5);
    const same = tf.tensor3d(members.same, [n, n, 1]);
    const inClass = tf.sub(tf.reshape(tf.matMul(sig, same), [n, g]), 0.5);
    const ratio = tf.mul(
      tf.div(tf.add(inClass, 1), tf.add(all, 1)),
      tf.tensor2d(members.valid, [n, g]),
    );
    const ap = tf.div(tf.sum(ratio, 1), tf.tensor1d(members.size));
    const losses = tf.mul(tf.sub(1, ap), tf.tensor1d(minerWeights(ctx.indices, n)));
    return { loss: { kind: "element", losses } };
  },
});

const PNP_VARIANTS = ["Ds", "Dq", "Iu", "Ib", "O"] as const;

/** Options of {@linkcode pnpLoss}; defaults are PML's `PNPLoss`. */
export interface PNPLossOptions extends Omit<NoRefOptions, "indices"> {
  /** `b` of the `"Ib"` variant. A finite number > 0; default 2. */
  b?: number;
  /** Exponent α of the `"Dq"` variant. A finite number > 0; default 1. */
  alpha?: number;
  /** Temperature of the sigmoid ranking the negatives. A finite number > 0; default 0.01. */
  anneal?: number;
  /**
   * How the count of negatives ranked before a positive is penalised: `"Ds"` log(1 + r),
   * `"Dq"` 1/(1 + r)^α (its loss is 1 − the mean), `"Iu"` (1 + r)·log(1 + r),
   * `"Ib"` (b·r − log(1 + b·r))/b², `"O"` r itself. Default `"O"`.
   */
  variant?: (typeof PNP_VARIANTS)[number];
}

/**
 * PNP loss (Li, Zhang, Kang, Chen, Liu & Chen 2022, "Rethinking the Optimization of Average
 * Precision: Only Penalizing Negative Instances before Positive Ones is Enough"), PML's
 * `PNPLoss`: for query `q` with class `C(q)` (`q` included, `g_q = |C(q)| ≥ 2`), negatives `N(q)`
 * and cosine similarities `s`, the smooth count of negatives ranked before member `i`
 *
 *   r(q, i) = Σ_{j ∈ N(q)} σ(clip((s_qj − s_qi)/anneal, −50, 50)),
 *
 * is penalised by the variant's `f` (see `variant`) and
 *
 *   L = (1/|Q|) Σ_{q ∈ Q} (1/g_q) Σ_{i ∈ C(q)} f(r(q, i))     (`"Dq"`: 1 − that),
 *
 * over the queries `Q` that have a positive. The result is already reduced (PML's
 * `"already_reduced"`): every reducer returns it unchanged, and `reduction: "none"` is refused.
 * The clip is PML's, so sigmoids beyond ±50 carry no gradient as in PML.
 *
 * Memory: like Smooth-AP, a `[n, g, n]` tensor (`g` the largest class in the batch) instead of
 * PML's `[n, n, n]` ones. Measured for one forward and backward pass of the loss alone on 10-class
 * Fashion-MNIST batches (`deno task bench losses`): peak 11.8 MB at n = 128 (g = 16) and 85 MB at
 * n = 256 (g = 30); PML's `PNPLoss` grows its process by 97 MiB and 578 MiB for batches of
 * classes of 16 (measured with `ru_maxrss`).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar
 * @throws Error for `b`, `alpha` or `anneal` not finite > 0, an unknown `variant`, a distance
 *   other than `"cosine"`, `indices` or `refEmbeddings` (PML refuses both), missing labels, or
 *   `reduction: "none"`. A batch without positives gives 0, as in PML.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pnpLoss } from "./average_precision.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]]);
 * const v = pnpLoss(e, [0, 0, 1, 1], { anneal: 0.1 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.61654) < 1e-4); // PML 2.9.0: 0.616537
 * ```
 */
export const pnpLoss: Loss<PNPLossOptions> = defineLoss<PNPLossOptions>({
  name: "pnpLoss",
  distance: "cosine",
  reduction: "mean",
  ref: false,
  indices: false,
  cubic: true,
  checkDistance: cosineOnly,
  options: {
    b: opt.positive(2),
    alpha: opt.positive(1),
    anneal: opt.positive(0.01),
    variant: opt.oneOf(PNP_VARIANTS, "O"),
  },
  compute(ctx, o) {
    const n = ctx.n, members = classMembers(ctx.labels), g = members.width;
    const queries = new Float32Array(n);
    let count = 0;
    for (let q = 0; q < n; q++) if (members.size[q] >= 2) queries[q] = 1, count++;
    if (count === 0) return ctx.zero();
    const z = tf.clipByValue(tf.div(memberDifferences(ctx.mat(), members), o.anneal), -50, 50);
    const negatives = tf.sub(1, tf.tensor3d(members.same, [n, n, 1]));
    const r = tf.reshape(tf.matMul(tf.sigmoid(z), negatives), [n, g]);
    let f: tf.Tensor;
    switch (o.variant) {
      case "Ds":
        f = tf.log1p(r);
        break;
      case "Dq":
        f = tf.pow(tf.add(r, 1), -o.alpha);
        break;
      case "Iu":
        f = tf.mul(tf.add(r, 1), tf.log1p(r));
        break;
      case "Ib":
        f = tf.div(tf.sub(tf.mul(r, o.b), tf.log1p(tf.mul(r, o.b))), o.b * o.b);
        break;
      default:
        f = r;
    }
    const perQuery = tf.div(
      tf.sum(tf.mul(f, tf.tensor2d(members.valid, [n, g])), 1),
      tf.tensor1d(members.size),
    );
    const mean = tf.div(tf.sum(tf.mul(perQuery, tf.tensor1d(queries))), count);
    const value = (o.variant === "Dq" ? tf.sub(1, mean) : mean) as tf.Scalar;
    return { loss: { kind: "reduced", value } };
  },
});
