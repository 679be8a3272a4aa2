/**
 * The dynamic soft margin loss (Zhang & Rusinkiewicz, "Learning Local Descriptors with a
 * CDF-Based Dynamic Soft Margin", ICCV 2019) as pytorch-metric-learning (PML) defines it, with the
 * histogram PML keeps between calls as an explicit state object.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type CheckEnv,
  defineLoss,
  type Loss,
  type LossContext,
  type LossOptions,
  opt,
} from "./_template.ts";

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
 * constant. All triplets, or `indices`; the triplets are visited in plain loops over the `[n, m]`
 * distances read back from the backend (a few microseconds per thousand triplets), so no tensor
 * beyond `[n, m]` is built.
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
    const triplets = tripletsOf(ctx);
    if (triplets.count === 0) return ctx.zero();
    const B = o.numBins, delta = (2 * Math.abs(o.minVal)) / B;
    const old = o.histogram?.bins ?? new Float32Array(B);
    const mu = old.some((b) => b !== 0) ? o.momentum : 1;
    const { n, m } = ctx;
    const min32 = Math.fround(o.minVal), delta32 = Math.fround(delta);
    /** PML's bin of x (computed in float32, as PML does), clamped to the bins, and its weight. */
    const binOf = (x: number): { idx: number; alpha: number; interior: boolean } => {
      const raw = Math.fround(Math.fround(x - min32) / delta32);
      const u = Math.min(Math.max(raw, 0), B - 1);
      const idx = Math.floor(u);
      return { idx, alpha: u - idx, interior: raw > 0 && raw < B - 1 };
    };
    const loss = tf.customGrad(
      // deno-lint-ignore no-explicit-any
      (mat: any) => {
        const d = (mat as tf.Tensor2D).dataSync();
        // The batch's counts c (interpolated) and, per bin, Σ x (the gradient through c needs it).
        const counts = new Float64Array(B), sums = new Float64Array(B);
        triplets.forEach((ap, an) => {
          const x = Math.fround(d[ap] - d[an]);
          const { idx, alpha } = binOf(x);
          counts[idx] += 1 - alpha;
          if (idx + 1 < B) counts[idx + 1] += alpha;
          sums[idx] += x;
        });
        let z = 0;
        const hist = new Float64Array(B);
        for (let b = 0; b < B; b++) z += hist[b] = (1 - mu) * old[b] + mu * counts[b];
        const cdf = new Float64Array(B);
        let value = 0;
        for (let b = 0, acc = 0; b < B; b++) {
          hist[b] /= z;
          cdf[b] = acc += hist[b];
          value += cdf[b] * sums[b]; // Σ_t CDF[bin(x_t)]·x_t
        }
        o.histogram?.set(hist);
        const total = triplets.count, kappa = mu / (delta * z);
        return {
          value: tf.scalar(value / total),
          gradFunc: (dy: tf.Tensor) => {
            // dL/dx_t = (CDF[b_t] − κ·[x_t inside the bins]·S[b_t]) / T; x_t = d_ap − d_an.
            const g = new Float32Array(n * m);
            triplets.forEach((ap, an) => {
              const x = Math.fround(d[ap] - d[an]);
              const { idx, interior } = binOf(x);
              const slope = (cdf[idx] - (interior ? kappa * sums[idx] : 0)) / total;
              g[ap] += slope;
              g[an] -= slope;
            });
            return tf.mul(tf.tensor2d(g, [n, m]), dy);
          },
        };
      },
    );
    return { loss: { kind: "reduced", value: loss(ctx.mat()) as tf.Scalar } };
  },
});

/**
 * The triplets of a loss call as flat positions `a·m + p` and `a·m + n` in the `[n, m]` distance
 * matrix: the listed ones (`indices`), or all of them in PML's order, visited without building a
 * list (`n·k·(m − k)` for classes of `k`).
 */
function tripletsOf(ctx: LossContext): {
  count: number;
  forEach(visit: (ap: number, an: number) => void): void;
} {
  const m = ctx.m;
  if (ctx.indices !== undefined) {
    const t = ctx.triplets();
    return {
      count: t.a.length,
      forEach(visit) {
        for (let i = 0; i < t.a.length; i++) visit(t.a[i] * m + t.p[i], t.a[i] * m + t.n[i]);
      },
    };
  }
  const y = ctx.labels, ry = ctx.hasRef ? ctx.refLabels : y;
  const pos: Int32Array[] = [], neg: Int32Array[] = [];
  let count = 0;
  for (let i = 0; i < ctx.n; i++) {
    const p: number[] = [], q: number[] = [];
    for (let j = 0; j < m; j++) {
      if (y[i] !== ry[j]) q.push(j);
      else if (ctx.hasRef || i !== j) p.push(j);
    }
    pos.push(Int32Array.from(p)), neg.push(Int32Array.from(q));
    count += p.length * q.length;
  }
  return {
    count,
    forEach(visit) {
      for (let i = 0; i < ctx.n; i++) {
        const row = i * m, p = pos[i], q = neg[i];
        for (const j of p) for (const k of q) visit(row + j, row + k);
      }
    },
  };
}
