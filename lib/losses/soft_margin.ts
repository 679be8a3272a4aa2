/**
 * The dynamic soft margin loss (Zhang & Rusinkiewicz, "Learning Local Descriptors with a
 * CDF-Based Dynamic Soft Margin", ICCV 2019) as pytorch-metric-learning (PML) defines it, with the
 * histogram PML keeps between calls as an explicit state object.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type CheckEnv, defineLoss, type Loss, type LossOptions, opt } from "./_template.ts";
import { tripletBlocks } from "./_triplet_blocks.ts";

/**
 * The histogram a {@linkcode dynamicSoftMarginLoss} keeps between calls (PML's `hist_`): the
 * distribution of `d(a,p) − d(a,n)` over the triplets seen, blended with momentum. Starts empty
 * (all zeros): the first call then uses its own batch alone, as PML's does.
 *
 * @example
 * ```ts
 * import { DynamicSoftMarginHistogram } from "./soft_margin.ts";
 * const h = new DynamicSoftMarginHistogram(10);
 * h.bins.every((b) => b === 0); // true
 * h.set(h.bins.map((_, i) => (i === 3 ? 1 : 0)));
 * h.reset();
 * ```
 */
export class DynamicSoftMarginHistogram {
  /** Number of bins (the loss's `numBins` must match). */
  readonly numBins: number;
  #bins: Float32Array;

  /**
   * @param numBins the number of bins, an integer ≥ 1 (PML's default 10)
   * @throws Error for a bad `numBins`.
   */
  constructor(numBins = 10) {
    if (!Number.isInteger(numBins) || numBins < 1) {
      throw new Error(`DynamicSoftMarginHistogram: numBins must be an integer ≥ 1, got ${numBins}`);
    }
    this.numBins = numBins;
    this.#bins = new Float32Array(numBins);
  }

  /** A copy of the bins (sum 1 once updated, all 0 before). */
  get bins(): Float32Array {
    return this.#bins.slice();
  }

  /**
   * Replaces the bins (for checkpoints: save `bins`, restore with `set`).
   *
   * @throws Error for a wrong length or negative or non-finite entries.
   */
  set(bins: ArrayLike<number>): void {
    if (bins.length !== this.numBins) {
      throw new Error(
        `DynamicSoftMarginHistogram: expected ${this.numBins} bins, got ${bins.length}`,
      );
    }
    for (let i = 0; i < bins.length; i++) {
      if (!(bins[i] >= 0) || !Number.isFinite(bins[i])) {
        throw new Error(
          `DynamicSoftMarginHistogram: bin ${i} is ${bins[i]}, not a finite number ≥ 0`,
        );
      }
    }
    this.#bins = Float32Array.from(bins);
  }

  /** Back to the empty histogram. */
  reset(): void {
    this.#bins.fill(0);
  }
}

/** Options of {@linkcode dynamicSoftMarginLoss}; defaults are PML's `DynamicSoftMarginLoss`. */
export interface DynamicSoftMarginLossOptions extends LossOptions {
  /** Lower end of the histogram's range of `d(a,p) − d(a,n)`, which is [minVal, −minVal]. Default −2. */
  minVal?: number;
  /** Number of bins. Default 10. */
  numBins?: number;
  /** Weight of the current batch's histogram against the kept one. Default 0.01. */
  momentum?: number;
  /**
   * The histogram kept between calls (updated in place by every call). Default: none, every call
   * starts from an empty histogram (PML's first call).
   */
  histogram?: DynamicSoftMarginHistogram;
}

/** One chunk of triplet values `x = d(a,p) − d(a,n)` with 0/1 weights (`undefined`: all 1). */
interface Chunk {
  x: tf.Tensor;
  w?: tf.Tensor;
}

/**
 * Dynamic soft margin loss (Zhang & Rusinkiewicz 2019), PML's `DynamicSoftMarginLoss`: for the
 * triplets' `x = d(a,p) − d(a,n)`, a histogram `h` over `numBins` bins of width
 * `δ = 2|minVal|/numBins` starting at `minVal` (each `x` split between its bin and the next by
 * linear interpolation) is blended into the kept one, `h ← normalise((1 − μ) h + μ c)` with `c`
 * the batch's counts (μ = `momentum`, or 1 while the kept histogram is empty), and
 *
 *   L = mean_t CDF_h(bin(x_t)) · x_t,
 *
 * the cumulative histogram weighting each triplet: the soft margin grows with the share of
 * triplets it is harder than. Already reduced, as in PML. As in PML the gradient includes the
 * batch's own effect on the histogram (through the interpolation weights); the kept histogram is a
 * constant. All triplets (in blocks of one class's anchors: never `[n, n, n]`), or `indices`.
 *
 * PML's differences kept out: PML's histogram holds the autograd graph of the previous batch, so a
 * second backward pass fails ("Trying to backward through the graph a second time"); and PML
 * indexes past its bins (an index error) for `x ≥ minVal + (numBins − 1)·δ` or `x < minVal`: here
 * such `x` count in the last or the first bin. PML's label-free mode (row `i` of the batch and of
 * `refEmbeddings` as the positive pairs) is not offered.
 *
 * Keep the histogram across training steps with a {@linkcode DynamicSoftMarginHistogram}:
 * `dynamicSoftMarginLoss.with({ histogram: new DynamicSoftMarginHistogram(10) })`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (already reduced: `reduction: "none"` throws)
 * @throws Error for `minVal` not < 0, `numBins` not an integer ≥ 1, `momentum` outside [0, 1], a
 *   histogram of another `numBins`, a distance other than `"euclidean"`/`"sqeuclidean"` or
 *   `normalizeEmbeddings: false` (PML asserts `LpDistance(p=2, normalize_embeddings=True)`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { DynamicSoftMarginHistogram, dynamicSoftMarginLoss } from "./soft_margin.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * // triplets (0, 1, 2): x = 0.63246 − 1.41421 = −0.78176, at 3.0456 bins from −2 (width 0.4);
 * // (1, 0, 2): x = 0.63246 − 0.89443 = −0.26197, at 4.3451. Histogram (0.9544, 0.0456 + 0.6549,
 * // 0.3451)/2 in bins 3, 4, 5; CDF 0.4772 (bin 3), 0.8275 (bin 4):
 * // (0.4772·(−0.78176) + 0.8275·(−0.26197))/2 = −0.29491 (PML 2.9.0: −0.2949125)
 * const v = dynamicSoftMarginLoss(e, [0, 0, 1]).dataSync()[0];
 * assert.ok(Math.abs(v - -0.2949125) < 1e-5);
 * const h = new DynamicSoftMarginHistogram();
 * dynamicSoftMarginLoss(e, [0, 0, 1], { histogram: h });
 * assert.ok(Math.abs(h.bins[3] - 0.4772) < 1e-4); // kept for the next call
 * ```
 */
export const dynamicSoftMarginLoss: Loss<DynamicSoftMarginLossOptions> = defineLoss<
  DynamicSoftMarginLossOptions
>({
  name: "dynamicSoftMarginLoss",
  distance: "euclidean",
  reduction: "mean",
  checkDistance: (d, normalize) =>
    d.metric.name !== "euclidean" && d.metric.name !== "sqeuclidean"
      ? `distance must be "euclidean" or "sqeuclidean" (PML's DynamicSoftMarginLoss requires ` +
        `LpDistance(p=2))`
      : !normalize
      ? "normalizeEmbeddings must be true (PML's DynamicSoftMarginLoss requires it)"
      : undefined,
  options: {
    minVal: opt.number(-2, { lt: 0 }),
    numBins: opt.integer(10, { min: 1 }),
    momentum: opt.number(0.01, { min: 0, max: 1 }),
    histogram: opt.custom<DynamicSoftMarginHistogram>(undefined, (v: unknown, env: CheckEnv) => {
      if (!(v instanceof DynamicSoftMarginHistogram)) {
        throw new Error(
          `${env.fn}: ${env.name} must be a DynamicSoftMarginHistogram, got ${String(v)}`,
        );
      }
    }),
  },
  validate(o, { fn }) {
    if (o.histogram !== undefined && o.histogram.numBins !== o.numBins) {
      throw new Error(
        `${fn}: the histogram has ${o.histogram.numBins} bins, numBins is ${o.numBins}`,
      );
    }
  },
  compute(ctx, o) {
    const B = o.numBins, delta = (2 * Math.abs(o.minVal)) / B;
    const old = o.histogram?.bins ?? new Float32Array(B);
    const oldSum = old.reduce((a, b) => a + b, 0);
    const mu = oldSum !== 0 ? o.momentum : 1;
    const { n, m } = ctx;
    const listed = ctx.indices !== undefined;
    const t = listed ? ctx.triplets() : undefined;
    const layout = listed
      ? undefined
      : tripletBlocks(ctx.labels, ctx.hasRef ? ctx.refLabels : undefined);
    const total = t ? t.a.length : layout!.total;
    if (total === 0) return ctx.zero();
    const flatIndex = (rows: Int32Array, cols: Int32Array) =>
      tf.tensor1d(rows.map((r, i) => r * m + cols[i]), "int32");
    // The chunks of triplet values of a distance matrix (listed triplets: one chunk).
    const chunksOf = (mat: tf.Tensor2D): Chunk[] => {
      if (t) {
        const flat = tf.reshape(mat, [-1]);
        return [{
          x: tf.sub(tf.gather(flat, flatIndex(t.a, t.p)), tf.gather(flat, flatIndex(t.a, t.n))),
        }];
      }
      const dp = layout!.permute(mat);
      return layout!.blocks.map((b) => {
        const { ap, an, mask } = layout!.block(dp, b);
        const x = tf.sub(ap, an);
        return { x, w: tf.broadcastTo(mask, x.shape) };
      });
    };
    // Bin position of each value, clamped to the bins: index, interpolation weight, interior.
    const position = (x: tf.Tensor) => {
      const raw = tf.div(tf.sub(x, o.minVal), delta);
      const u = tf.clipByValue(raw, 0, B - 1);
      const idx = tf.cast(tf.floor(u), "int32");
      const alpha = tf.sub(u, tf.floor(u));
      const interior = tf.mul(tf.step(raw), tf.step(tf.sub(B - 1, raw)));
      return {
        idx: tf.reshape(idx, [-1]) as tf.Tensor1D,
        alpha: tf.reshape(alpha, [-1]),
        interior,
      };
    };
    const loss = tf.customGrad(
      // deno-lint-ignore no-explicit-any
      (mat: any, save: any) => {
        // Pass 1: the batch's counts c and, per bin, Σ x (for the gradient through c).
        let counts: tf.Tensor = tf.zeros([B]), sums: tf.Tensor = tf.zeros([B]);
        for (const ch of chunksOf(mat as tf.Tensor2D)) {
          const [c2, s2] = tf.tidy(() => {
            const { idx, alpha } = position(ch.x);
            const w = ch.w ? tf.reshape(ch.w, [-1]) : tf.onesLike(alpha);
            const x = tf.reshape(ch.x, [-1]);
            const low = tf.unsortedSegmentSum(tf.mul(tf.sub(1, alpha), w), idx, B);
            const high = tf.slice(
              tf.unsortedSegmentSum(
                tf.mul(alpha, w),
                tf.add(idx, tf.scalar(1, "int32")) as tf.Tensor1D,
                B + 1,
              ),
              0,
              B,
            );
            return [
              tf.add(counts, tf.add(low, high)),
              tf.add(sums, tf.unsortedSegmentSum(tf.mul(x, w), idx, B)),
            ];
          });
          tf.dispose([counts, sums, ch.x, ch.w]);
          counts = c2, sums = s2;
        }
        const blended = tf.add(tf.mul(tf.tensor1d(old), 1 - mu), tf.mul(counts, mu));
        const z = tf.sum(blended);
        const hist = tf.div(blended, z);
        const cdf = tf.cumsum(hist);
        // Pass 2: Σ CDF[bin(x)]·x / T.
        let value: tf.Tensor = tf.scalar(0);
        for (const ch of chunksOf(mat as tf.Tensor2D)) {
          const next = tf.tidy(() => {
            const { idx } = position(ch.x);
            const w = ch.w ? tf.reshape(ch.w, [-1]) : undefined;
            const term = tf.mul(tf.gather(cdf, idx), tf.reshape(ch.x, [-1]));
            return tf.add(value, tf.sum(w ? tf.mul(term, w) : term));
          });
          tf.dispose([value, ch.x, ch.w]);
          value = next;
        }
        const kappa = tf.div(mu / delta, z);
        if (o.histogram) o.histogram.set(hist.dataSync());
        save([mat, cdf, sums, kappa]);
        tf.dispose([counts, blended, z, hist]);
        const out = tf.div(value, total);
        value.dispose();
        return {
          value: out,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [mt, cdfS, sumsS, kap] = saved;
            return tf.tidy(() => {
              const scale = tf.div(dy, total);
              // dL/dx_t = (CDF[b_t] − κ·interior_t·S[b_t]) / T.
              const slope = (x: tf.Tensor, w?: tf.Tensor) => {
                const { idx, interior } = position(x);
                const g = tf.sub(
                  tf.gather(cdfS, idx),
                  tf.mul(tf.mul(kap, tf.reshape(interior, [-1])), tf.gather(sumsS, idx)),
                );
                const gw = w ? tf.mul(g, tf.reshape(w, [-1])) : g;
                return tf.reshape(tf.mul(gw, scale), x.shape);
              };
              const chunks = chunksOf(mt as tf.Tensor2D);
              if (t) {
                const g = slope(chunks[0].x);
                const pos = tf.unsortedSegmentSum(g, flatIndex(t.a, t.p), n * m);
                const negs = tf.unsortedSegmentSum(g, flatIndex(t.a, t.n), n * m);
                return tf.reshape(tf.sub(pos, negs), [n, m]);
              }
              const parts = chunks.map((ch) => {
                const g = slope(ch.x, ch.w); // [rows, k, m − k]
                return { gAp: tf.sum(g, 2), gAn: tf.neg(tf.sum(g, 1)) };
              });
              return layout!.assemble(parts);
            });
          },
        };
      },
    );
    return { loss: { kind: "reduced", value: loss(ctx.mat()) as tf.Scalar } };
  },
});
