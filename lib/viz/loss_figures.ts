/**
 * Diagnostics and figures for metric-learning losses: positive and negative pair distances,
 * the spread of an embedding (to see collapse), and Plotly figures of both.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { pairwiseDistances } from "../distances.ts";
import { CLASS_COLORS, type PlotlyFigure } from "./figures.ts";
import { COLORS, FIGURE_MAX_WIDTH } from "./style.ts";

/** Distances of positive pairs (same label) and negative pairs (different labels). */
export interface PairDistanceSamples {
  /** Distances of the unordered positive pairs `i < j`. */
  positive: number[];
  /** Distances of the unordered negative pairs `i < j`. */
  negative: number[];
}

/**
 * Euclidean distances of all unordered positive and negative pairs of a set of embeddings
 * (through `distances.ts`), for histograms.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairDistanceSamples } from "./loss_figures.ts";
 * const s = await pairDistanceSamples(tf.tensor2d([[0, 0], [3, 4], [0, 1]]), [0, 0, 1]);
 * assert.deepEqual(Array.from(s.positive), [5]);
 * ```
 */
export async function pairDistanceSamples(
  embeddings: tf.Tensor2D,
  labels: ArrayLike<number>,
): Promise<PairDistanceSamples> {
  const n = embeddings.shape[0];
  if (labels.length !== n) {
    throw new Error(`pairDistanceSamples: ${labels.length} labels for ${n} embeddings`);
  }
  const d = tf.tidy(() => pairwiseDistances(embeddings, embeddings, "euclidean"));
  const values = await d.data();
  d.dispose();
  const positive: number[] = [], negative: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      (labels[i] === labels[j] ? positive : negative).push(values[i * n + j]);
    }
  }
  return { positive, negative };
}

/** How spread out an embedding is. */
export interface EmbeddingSpread {
  /** Mean Euclidean distance of the embeddings to their centroid. */
  meanDistanceToCentroid: number;
  /** Trace of the covariance matrix (total variance). */
  covarianceTrace: number;
}

/**
 * The spread of a set of embeddings: mean distance to the centroid and total variance. Both go to
 * 0 when the embedding collapses to one point.
 *
 * @param embeddings `[n, d]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { embeddingSpread } from "./loss_figures.ts";
 * const spread = embeddingSpread(tf.tensor2d([[1, 0], [-1, 0]]));
 * assert.deepEqual(spread, { meanDistanceToCentroid: 1, covarianceTrace: 1 });
 * ```
 */
export function embeddingSpread(embeddings: tf.Tensor2D): EmbeddingSpread {
  const [m, v] = tf.tidy(() => {
    const centroid = tf.mean(embeddings, 0, true) as tf.Tensor2D;
    const dist = pairwiseDistances(embeddings, centroid, "euclidean");
    const variance = tf.sum(tf.mean(tf.square(tf.sub(embeddings, centroid)), 0));
    return [tf.mean(dist), variance];
  });
  const out = { meanDistanceToCentroid: m.dataSync()[0], covarianceTrace: v.dataSync()[0] };
  tf.dispose([m, v]);
  return out;
}

/** How the class centres of an embedding sit relative to each other. */
export interface CentroidGeometry {
  /** Mean cosine between the directions of two different class centres (0: orthogonal). */
  meanCosine: number;
  /** Smallest such cosine. */
  minCosine: number;
  /** Largest such cosine (the two most similar classes). */
  maxCosine: number;
}

/**
 * The angles between class centres: each class's mean embedding, normalised to unit length, and
 * the cosines between every two of them. On a unit sphere, orthogonal directions (cosine 0) are
 * √2 ≈ 1.414 apart, and ten directions as far apart as possible (a regular simplex, cosine −1/9)
 * are √(20/9) ≈ 1.491 apart.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @throws Error for fewer than two classes or mismatched lengths.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { centroidGeometry } from "./loss_figures.ts";
 * const g = await centroidGeometry(tf.tensor2d([[1, 0], [0.9, 0.1], [0, 1]]), [0, 0, 1]);
 * assert.equal(g.meanCosine.toFixed(3), "0.053");
 * ```
 */
export async function centroidGeometry(
  embeddings: tf.Tensor2D,
  labels: ArrayLike<number>,
): Promise<CentroidGeometry> {
  const n = embeddings.shape[0];
  if (labels.length !== n) {
    throw new Error(`centroidGeometry: ${labels.length} labels for ${n} embeddings`);
  }
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  if (classes.length < 2) throw new Error("centroidGeometry: needs at least two classes");
  const cos = tf.tidy(() => {
    const centres = tf.stack(classes.map((c) => {
      const idx: number[] = [];
      for (let i = 0; i < n; i++) if (labels[i] === c) idx.push(i);
      const m = tf.mean(tf.gather(embeddings, idx), 0);
      return tf.div(m, tf.maximum(tf.norm(m), 1e-12));
    })) as tf.Tensor2D;
    return tf.matMul(centres, centres, false, true);
  });
  const v = await cos.data();
  cos.dispose();
  const k = classes.length;
  const off: number[] = [];
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j) off.push(v[i * k + j]);
  return {
    meanCosine: off.reduce((a, b) => a + b, 0) / off.length,
    minCosine: Math.min(...off),
    maxCosine: Math.max(...off),
  };
}

/** One curve of {@linkcode spreadOverTrainingFigure}. */
export interface SpreadSeries {
  /** Legend name. */
  name: string;
  /** Training steps. */
  steps: number[];
  /** Spread at each step. */
  values: number[];
}

/**
 * Line chart of an embedding's spread over training, one line per loss.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spreadOverTrainingFigure } from "./loss_figures.ts";
 * const fig = spreadOverTrainingFigure([{ name: "a", steps: [0, 1], values: [1, 0.5] }]);
 * assert.equal(fig.data.length, 1);
 * ```
 */
export function spreadOverTrainingFigure(
  series: readonly SpreadSeries[],
  title = "Embedding spread over training",
  yTitle = "mean distance to centroid",
): PlotlyFigure {
  return {
    data: series.map((s, i) => ({
      type: "scatter",
      mode: "lines+markers",
      name: s.name,
      x: s.steps,
      y: s.values.map((v) => Number(v.toPrecision(5))),
      line: { color: CLASS_COLORS[i % CLASS_COLORS.length] },
      marker: { color: CLASS_COLORS[i % CLASS_COLORS.length], size: 5 },
    })),
    layout: {
      title: { text: title },
      xaxis: { title: { text: "training step" } },
      yaxis: { title: { text: yTitle }, rangemode: "tozero" },
      width: 760,
      height: 480,
    },
  };
}

/**
 * A histogram normalised to probability density (bars integrate to 1), bins `[start, end)` of
 * width `width`; values outside are clamped into the end bins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { densityHistogram } from "./loss_figures.ts";
 * const { density } = densityHistogram([0.1, 0.1, 0.3], 0, 0.4, 0.2);
 * assert.deepEqual(density, [3.3333, 1.6667]); // 5 significant digits
 * ```
 */
export function densityHistogram(
  values: readonly number[],
  start: number,
  end: number,
  width: number,
): { centers: number[]; density: number[] } {
  if (!(width > 0) || !(end > start)) {
    throw new Error(
      `densityHistogram: need end > start and width > 0, got ${start}, ${end}, ${width}`,
    );
  }
  const bins = Math.ceil((end - start) / width);
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    counts[Math.min(bins - 1, Math.max(0, Math.floor((v - start) / width)))]++;
  }
  const total = Math.max(values.length, 1);
  return {
    centers: counts.map((_, i) => Number((start + (i + 0.5) * width).toFixed(6))),
    density: counts.map((c) => Number((c / (total * width)).toPrecision(5))),
  };
}

/** One panel of {@linkcode pairDistanceHistogramFigure}. */
export interface PairDistancePanel extends PairDistanceSamples {
  /** Panel title. */
  name: string;
  /** Vertical lines to draw (e.g. margins), with labels. */
  markers?: { x: number; label: string }[];
}

/**
 * Histograms of positive versus negative pair distances, one panel per trained model (e.g. per
 * loss or margin setting), binned here (width 0.025) and normalised to probability density so
 * that panels compare; optional dotted lines mark margins or radii. At most
 * `FIGURE_MAX_WIDTH` (1,000 px) wide whatever the number of columns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pairDistanceHistogramFigure } from "./loss_figures.ts";
 * const fig = pairDistanceHistogramFigure([{ name: "a", positive: [0.1], negative: [1.2] }]);
 * assert.equal(fig.data.length, 2);
 * ```
 */
export function pairDistanceHistogramFigure(
  panels: readonly PairDistancePanel[],
  title = "Pair distances after training",
  columns = 2,
): PlotlyFigure {
  const rows = Math.ceil(panels.length / columns);
  const data: Record<string, unknown>[] = [];
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {};
  const binWidth = 0.025;
  const largest = (v: readonly number[]) => v.reduce((a, b) => Math.max(a, b), 0);
  const binEnd = Math.max(2, ...panels.flatMap((p) => [largest(p.positive), largest(p.negative)]));
  panels.forEach((p, i) => {
    const k = i === 0 ? "" : String(i + 1);
    const kinds = [
      ["positive", p.positive, COLORS.positive],
      ["negative", p.negative, COLORS.negative],
    ] as const;
    for (const [kind, values, color] of kinds) {
      const h = densityHistogram(values, 0, binEnd, binWidth);
      data.push({
        type: "bar",
        name: `${kind} pairs`,
        legendgroup: kind,
        showlegend: i === 0,
        x: h.centers,
        y: h.density,
        width: binWidth,
        opacity: 0.6,
        marker: { color, line: { width: 0 } },
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
    }
    for (const m of p.markers ?? []) {
      shapes.push({
        type: "line",
        xref: `x${k}`,
        yref: `y${k} domain`,
        x0: m.x,
        x1: m.x,
        y0: 0,
        y1: 1,
        line: { dash: "dot", width: 1, color: "#333" },
      });
      annotations.push({
        xref: `x${k}`,
        yref: `y${k} domain`,
        x: m.x,
        y: 1,
        text: m.label,
        showarrow: false,
        yanchor: "bottom",
        font: { size: 10 },
      });
    }
    layout[`xaxis${k}`] = { title: { text: `distance — ${p.name}` }, range: [0, binEnd + 0.05] };
    layout[`yaxis${k}`] = { title: { text: i % columns === 0 ? "density" : "" } };
  });
  return {
    data,
    layout: {
      ...layout,
      title: { text: title },
      grid: { rows, columns, pattern: "independent", ygap: 0.35 },
      barmode: "overlay",
      shapes,
      annotations,
      width: Math.min(FIGURE_MAX_WIDTH, 520 * columns),
      height: 330 * rows + 80,
    },
  };
}

/**
 * Options of {@linkcode lossDiagnosticsFigure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LossDiagnosticsOptions } from "./loss_figures.ts";
 * const options: LossDiagnosticsOptions = { reduction: "avgNonZero", negMargin: 1, smooth: 15 };
 * assert.equal(options.smooth, 15);
 * ```
 */
export interface LossDiagnosticsOptions {
  /** The reduction of the trained loss, named in the legend. Default `"avgNonZero"`. */
  reduction?: string;
  /** Positive margin, drawn on the distance panel when > 0. */
  posMargin?: number;
  /** Negative margin, drawn on the distance panel. Default 1. */
  negMargin?: number;
  /** Moving-average window, steps. Default about a twentieth of the run. */
  smooth?: number;
  /** Title. */
  title?: string;
}

/**
 * Why a contrastive loss curve looks the way it does, from a history recorded with the
 * `pairStepMetrics` recorder (each step's `metrics`): three panels side by side, each a moving
 * average over steps —
 *
 * 1. the loss as trained (e.g. `avgNonZero`: each term the mean over its *active* pairs only), its
 *    positive and negative terms (when recorded), and the same loss averaged over *all* pairs
 *    (`lossAllPairs`);
 * 2. the fraction of positive and of negative pairs still active (inside their margin);
 * 3. the mean positive and negative pair distance, with the margins.
 *
 * When training succeeds the active fraction of negatives falls, while the `avgNonZero` loss can
 * stay level or rise: its negative term averages an ever smaller set of ever harder pairs, and with
 * `posMargin = 0` its positive term is the mean positive distance, which grows as the embedding
 * spreads out over the sphere.
 *
 * @param history steps with `metrics.activePositive`, `activeNegative`, `meanPositive`,
 *   `meanNegative`, `lossAllPairs`
 * @throws Error when the history has no such metrics.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossDiagnosticsFigure } from "./loss_figures.ts";
 * const m = { activePositive: 1, activeNegative: 0.2, meanPositive: 0.5, meanNegative: 1.2, lossAllPairs: 0.6 };
 * const fig = lossDiagnosticsFigure([{ step: 1, loss: 0.7, metrics: m }, { step: 2, loss: 0.72, metrics: m }]);
 * assert.equal(fig.data.length, 6);
 * ```
 */
export function lossDiagnosticsFigure(
  history: readonly { step: number; loss: number; metrics?: Record<string, number> }[],
  options: LossDiagnosticsOptions = {},
): PlotlyFigure {
  const keys = ["activePositive", "activeNegative", "meanPositive", "meanNegative", "lossAllPairs"];
  const rows = history.filter((h) => h.metrics && keys.every((k) => k in h.metrics!));
  if (rows.length === 0) {
    throw new Error(
      "lossDiagnosticsFigure: the history has no pair metrics (train with recorders: [pairStepMetrics()])",
    );
  }
  const window = options.smooth ?? Math.max(1, Math.round(rows.length / 20));
  const smooth = (v: number[]) => {
    const out: number[] = [];
    let sum = 0;
    for (let i = 0; i < v.length; i++) {
      sum += v[i];
      if (i >= window) sum -= v[i - window];
      out.push(Number((sum / Math.min(i + 1, window)).toPrecision(5)));
    }
    return out;
  };
  const steps = rows.map((h) => h.step);
  const metric = (k: string) => smooth(rows.map((h) => h.metrics![k]));
  const line = (name: string, y: number[], color: string, axis: number, dash = "solid") => ({
    type: "scatter",
    mode: "lines",
    name,
    x: steps,
    y,
    line: { color, dash, width: 2 },
    xaxis: axis === 1 ? "x" : `x${axis}`,
    yaxis: axis === 1 ? "y" : `y${axis}`,
    legendgroup: String(axis),
  });
  const reduction = options.reduction ?? "avgNonZero";
  const has = (k: string) => rows.every((h) => k in h.metrics!);
  const data = [
    line(`loss as trained (${reduction})`, smooth(rows.map((h) => h.loss)), "#333333", 1),
    ...(has("positiveTerm")
      ? [line("its positive term", metric("positiveTerm"), COLORS.positive, 1, "dot")]
      : []),
    ...(has("negativeTerm")
      ? [
        line("its negative term (active pairs)", metric("negativeTerm"), COLORS.negative, 1, "dot"),
      ]
      : []),
    line("loss over all pairs (mean)", metric("lossAllPairs"), CLASS_COLORS[6], 1, "dash"),
    line("active positive pairs", metric("activePositive"), COLORS.positive, 2),
    line("active negative pairs", metric("activeNegative"), COLORS.negative, 2),
    line("mean positive distance", metric("meanPositive"), COLORS.positive, 3),
    line("mean negative distance", metric("meanNegative"), COLORS.negative, 3),
  ];
  const negMargin = options.negMargin ?? 1;
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  for (const [m, label] of [[negMargin, "m−"], [options.posMargin ?? 0, "m+"]] as const) {
    if (!(m > 0)) continue;
    shapes.push({
      type: "line",
      xref: "x3 domain",
      yref: "y3",
      x0: 0,
      x1: 1,
      y0: m,
      y1: m,
      line: { dash: "dot", width: 1, color: "#333" },
    });
    annotations.push({
      xref: "x3 domain",
      yref: "y3",
      x: 1,
      y: m,
      xanchor: "right",
      yanchor: "bottom",
      text: label,
      showarrow: false,
      font: { size: 11 },
    });
  }
  const axis = (title: string, domain: [number, number]) => ({ title: { text: title }, domain });
  return {
    data,
    layout: {
      title: { text: options.title ?? "What the loss curve averages" },
      xaxis: axis("step", [0, 0.27]),
      xaxis2: axis("step", [0.365, 0.635]),
      xaxis3: axis("step", [0.73, 1]),
      yaxis: { title: { text: "loss" }, rangemode: "tozero", anchor: "x" },
      yaxis2: { title: { text: "fraction of pairs" }, range: [0, 1.02], anchor: "x2" },
      yaxis3: { title: { text: "Euclidean distance" }, rangemode: "tozero", anchor: "x3" },
      legend: { orientation: "h", x: 0, xanchor: "left", y: -0.22, yanchor: "top" },
      shapes,
      annotations,
      width: FIGURE_MAX_WIDTH,
      height: 440,
      margin: { l: 60, r: 20, t: 70, b: 110 },
    },
  };
}
