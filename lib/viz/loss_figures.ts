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
 * import * as tf from "@tensorflow/tfjs";
 * import { pairDistanceSamples } from "./loss_figures.ts";
 * const s = await pairDistanceSamples(tf.tensor2d([[0, 0], [3, 4], [0, 1]]), [0, 0, 1]);
 * console.log(s.positive); // [5]
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
 * import * as tf from "@tensorflow/tfjs";
 * import { embeddingSpread } from "./loss_figures.ts";
 * embeddingSpread(tf.tensor2d([[1, 0], [-1, 0]])); // { meanDistanceToCentroid: 1, covarianceTrace: 1 }
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
 * import { spreadOverTrainingFigure } from "./loss_figures.ts";
 * const fig = spreadOverTrainingFigure([{ name: "a", steps: [0, 1], values: [1, 0.5] }]);
 * console.log(fig.data.length); // 1
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
 * import { densityHistogram } from "./loss_figures.ts";
 * densityHistogram([0.1, 0.1, 0.3], 0, 0.4, 0.2).density; // [3.333, 1.667]
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
 * import { pairDistanceHistogramFigure } from "./loss_figures.ts";
 * const fig = pairDistanceHistogramFigure([{ name: "a", positive: [0.1], negative: [1.2] }]);
 * console.log(fig.data.length); // 2
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
