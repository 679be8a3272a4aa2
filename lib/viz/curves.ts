/**
 * Generic figure builders for curves and distributions: line charts, training curves, histograms,
 * ROC and precision-against-threshold curves, heatmaps, tables, and the distance-concentration
 * curves of the curse of dimensionality. (Histograms of positive against negative pair distances
 * and the embedding spread of a collapse are in `loss_figures.ts`.)
 *
 * Every builder returns a plain {@linkcode PlotlyFigure}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type MetricSpec, pairwiseDistances, resolveMetric } from "../distances.ts";
import { createRng } from "../data/random.ts";
import { CLASS_COLORS, type PlotlyFigure } from "./figures.ts";
import { formatNumber } from "./format.ts";
import { COLORS } from "./style.ts";

/**
 * One line of a {@linkcode lineFigure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineFigure, type LineSeries } from "./curves.ts";
 * const s: LineSeries = { name: "loss", x: [1, 2, 3], y: [1, 0.6, 0.4], dash: "dot" };
 * assert.equal(lineFigure([s]).data.length, 1);
 * ```
 */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** Abscissae. */
  x: ArrayLike<number>;
  /** Ordinates. */
  y: ArrayLike<number>;
  /** Optional error bars (one standard deviation, say). */
  error?: ArrayLike<number>;
  /** Line dash: `"solid"`, `"dash"`, `"dot"`. */
  dash?: string;
  /** Colour; default from {@linkcode CLASS_COLORS} by position. */
  color?: string;
  /** `"lines"`, `"markers"` or `"lines+markers"` (default). */
  mode?: string;
}

/**
 * Axis titles and scales shared by the builders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AxesOptions, lineFigure } from "./curves.ts";
 * const axes: AxesOptions = { title: "t", xTitle: "d", yTitle: "ratio", logX: true };
 * const fig = lineFigure([{ name: "a", x: [1, 10], y: [2, 1] }], axes);
 * assert.equal((fig.layout.xaxis as { type: string }).type, "log");
 * ```
 */
export interface AxesOptions {
  /** Figure title. */
  title?: string;
  /** x-axis title. */
  xTitle?: string;
  /** y-axis title. */
  yTitle?: string;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Width in CSS pixels. Default 640. */
  width?: number;
  /** Height in CSS pixels. Default 420. */
  height?: number;
}

const round = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)) : null);
const arr = (a: ArrayLike<number>) => Array.from(a, round);

/** Indices of at most `max` evenly spaced points of `n`, first and last included. */
function thinned(n: number, max = 400): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
}
const pick = (a: ArrayLike<number>, idx: number[]) => idx.map((i) => round(a[i]));

/**
 * The axes of a builder. An axis holding category labels (bar groups) is a `category` axis; the
 * others are `log` or `linear` as asked. (A numeric axis given labels draws nothing: Plotly cannot
 * place them.)
 */
function axesLayout(
  o: AxesOptions,
  kinds: { x?: "category"; y?: "category" } = {},
): Record<string, unknown> {
  const type = (kind: "category" | undefined, log: boolean | undefined) =>
    kind ?? (log ? "log" : "linear");
  return {
    title: { text: o.title ?? "" },
    xaxis: { title: { text: o.xTitle ?? "" }, type: type(kinds.x, o.logX), zeroline: false },
    yaxis: { title: { text: o.yTitle ?? "" }, type: type(kinds.y, o.logY), zeroline: false },
    width: o.width ?? 640,
    height: o.height ?? 420,
    legend: { itemsizing: "constant" },
  };
}

/**
 * A line chart of several series.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineFigure } from "./curves.ts";
 * const fig = lineFigure([{ name: "a", x: [1, 2], y: [3, 4] }], { xTitle: "d" });
 * assert.equal(fig.data.length, 1);
 * ```
 */
export function lineFigure(series: readonly LineSeries[], options: AxesOptions = {}): PlotlyFigure {
  return {
    data: series.map((s, i) => ({
      type: "scatter",
      mode: s.mode ?? "lines+markers",
      name: s.name,
      x: arr(s.x),
      y: arr(s.y),
      line: { color: s.color ?? CLASS_COLORS[i % CLASS_COLORS.length], dash: s.dash ?? "solid" },
      marker: { size: 5 },
      ...(s.error ? { error_y: { type: "data", array: arr(s.error), visible: true } } : {}),
    })),
    layout: axesLayout(options),
  };
}

/**
 * A trailing moving average (the first values average what is available).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { movingAverage } from "./curves.ts";
 * assert.deepEqual(movingAverage([1, 3, 5], 2), [1, 2, 4]);
 * ```
 */
export function movingAverage(values: ArrayLike<number>, window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

/**
 * A training run's loss history, as `train()` records it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LossPoint, trainingCurves } from "./curves.ts";
 * const history: LossPoint[] = [{ step: 1, loss: 0.9 }, { step: 2, loss: 0.7 }];
 * assert.equal(trainingCurves({ run: history }).data.length, 2);
 * ```
 */
export interface LossPoint {
  /** 1-based step. */
  step: number;
  /** Loss of that step's batch. */
  loss: number;
}

/**
 * Training curves: per run, the raw batch loss (faint) and its moving average (solid).
 *
 * @param runs run name → its history
 * @param options `smooth`: moving-average window in steps (default: about a twentieth of the run)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainingCurves } from "./curves.ts";
 * const fig = trainingCurves({ run: [{ step: 1, loss: 1 }, { step: 2, loss: 0.5 }] });
 * assert.equal(fig.data.length, 2); // raw and smoothed
 * ```
 */
export function trainingCurves(
  runs: Record<string, readonly LossPoint[]>,
  options: AxesOptions & { smooth?: number } = {},
): PlotlyFigure {
  const data: Record<string, unknown>[] = [];
  Object.entries(runs).forEach(([name, history], i) => {
    const color = CLASS_COLORS[i % CLASS_COLORS.length];
    const steps = history.map((h) => h.step);
    const losses = history.map((h) => h.loss);
    const window = options.smooth ?? Math.max(1, Math.round(history.length / 20));
    data.push({
      type: "scatter",
      mode: "lines",
      name: `${name} (batch)`,
      x: steps,
      y: arr(losses),
      line: { color, width: 1 },
      opacity: 0.3,
      showlegend: false,
      legendgroup: name,
    });
    data.push({
      type: "scatter",
      mode: "lines",
      name,
      x: steps,
      y: arr(movingAverage(losses, window)),
      line: { color, width: 2 },
      legendgroup: name,
    });
  });
  return {
    data,
    layout: axesLayout({
      title: "Training loss",
      xTitle: "step",
      yTitle: "loss",
      ...options,
    }),
  };
}

/**
 * A histogram figure of several groups of values, overlaid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { histogramFigure } from "./curves.ts";
 * const fig = histogramFigure([{ name: "a", values: [1, 2, 2] }], { xTitle: "value" });
 * assert.equal(fig.data[0].type, "histogram");
 * ```
 */
export function histogramFigure(
  groups: readonly { name: string; values: ArrayLike<number>; color?: string }[],
  options: AxesOptions & { bins?: number; normalize?: boolean } = {},
): PlotlyFigure {
  const all = groups.flatMap((g) => Array.from(g.values));
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const size = (hi - lo) / (options.bins ?? 40) || 1;
  return {
    data: groups.map((g, i) => ({
      type: "histogram",
      name: g.name,
      x: arr(g.values),
      opacity: 0.6,
      histnorm: options.normalize === false ? "" : "probability density",
      xbins: { start: lo, end: hi + size, size },
      marker: { color: g.color ?? CLASS_COLORS[i % CLASS_COLORS.length] },
    })),
    layout: {
      ...axesLayout({ yTitle: options.normalize === false ? "count" : "density", ...options }),
      barmode: "overlay",
    },
  };
}

/**
 * Verification curves over thresholds; see {@linkcode thresholdSweep}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ThresholdCurves, thresholdSweep } from "./curves.ts";
 * const c: ThresholdCurves = thresholdSweep([0.2, 0.8], [true, false]);
 * assert.equal(c.auc, 1);
 * ```
 */
export interface ThresholdCurves {
  /** Thresholds, ascending for distances (descending for similarities). */
  thresholds: number[];
  /** True-positive rate (recall) at each threshold. */
  tpr: number[];
  /** False-positive rate at each threshold. */
  fpr: number[];
  /** Precision at each threshold (1 where nothing is accepted). */
  precision: number[];
  /** Area under the ROC curve (trapezoids). */
  auc: number;
}

/**
 * Sweeps a decision threshold over pair scores: a pair is called "same" when its distance is at
 * most the threshold (or its similarity at least it, with `similarity: true`). Returns TPR, FPR
 * and precision at every distinct score, and the ROC AUC.
 *
 * @param scores a distance (or similarity) per pair
 * @param same whether each pair really is of the same class
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { thresholdSweep } from "./curves.ts";
 * const c = thresholdSweep([0.1, 0.4, 0.35, 0.8], [true, false, true, false]);
 * assert.equal(c.auc, 1); // both same-class pairs are nearer than both others
 * ```
 */
export function thresholdSweep(
  scores: ArrayLike<number>,
  same: ArrayLike<boolean | number>,
  options: { similarity?: boolean } = {},
): ThresholdCurves {
  const n = scores.length;
  if (same.length !== n) throw new Error(`thresholdSweep: ${n} scores, ${same.length} labels`);
  const sign = options.similarity ? -1 : 1;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    sign * (scores[a] - scores[b])
  );
  let positives = 0;
  for (let i = 0; i < n; i++) if (same[i]) positives++;
  const negatives = n - positives;
  const out: ThresholdCurves = {
    thresholds: [],
    tpr: [0],
    fpr: [0],
    precision: [1],
    auc: 0,
  };
  out.thresholds.push(n ? scores[order[0]] - sign * 1e-9 : 0);
  let tp = 0;
  let fp = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    if (same[i]) tp++;
    else fp++;
    if (r + 1 < n && scores[order[r + 1]] === scores[i]) continue; // ties: one point
    out.thresholds.push(scores[i]);
    out.tpr.push(positives ? tp / positives : 0);
    out.fpr.push(negatives ? fp / negatives : 0);
    out.precision.push(tp / (tp + fp));
  }
  for (let i = 1; i < out.tpr.length; i++) {
    out.auc += (out.fpr[i] - out.fpr[i - 1]) * (out.tpr[i] + out.tpr[i - 1]) / 2;
  }
  return out;
}

/**
 * ROC curves (TPR against FPR) of several scorers, with the chance diagonal; AUC in the legend.
 * Takes {@linkcode thresholdSweep}'s curves or `rocCurve`'s (from `eval/verification.ts`) with an
 * `auc` added.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rocFigure, thresholdSweep } from "./curves.ts";
 * const fig = rocFigure({ learned: thresholdSweep([0.1, 0.9], [true, false]) });
 * assert.equal(fig.data.length, 2);
 * ```
 */
export function rocFigure(
  curves: Record<string, { fpr: ArrayLike<number>; tpr: ArrayLike<number>; auc?: number }>,
  options: AxesOptions = {},
): PlotlyFigure {
  const data: Record<string, unknown>[] = Object.entries(curves).map(([name, c], i) => ({
    type: "scatter",
    mode: "lines",
    name: c.auc === undefined ? name : `${name} (AUC ${formatNumber(c.auc)})`,
    x: pick(c.fpr, thinned(c.fpr.length)),
    y: pick(c.tpr, thinned(c.fpr.length)),
    line: { color: CLASS_COLORS[i % CLASS_COLORS.length], width: 2 },
  }));
  data.push({
    type: "scatter",
    mode: "lines",
    name: "chance",
    x: [0, 1],
    y: [0, 1],
    line: { color: COLORS.neutral, dash: "dot", width: 1 },
    showlegend: false,
  });
  const layout = axesLayout({
    title: "ROC: same-class pairs by distance",
    xTitle: "false-positive rate",
    yTitle: "true-positive rate",
    width: 480,
    height: 440,
    ...options,
  });
  (layout.xaxis as Record<string, unknown>).range = [0, 1];
  (layout.yaxis as Record<string, unknown>).range = [0, 1.02];
  layout.legend = { x: 0.98, xanchor: "right", y: 0.02, yanchor: "bottom" };
  return { data, layout };
}

/**
 * Precision and recall against the decision threshold, per scorer (recall dashed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { precisionThresholdFigure, thresholdSweep } from "./curves.ts";
 * const fig = precisionThresholdFigure({ a: thresholdSweep([0.1, 0.9], [true, false]) });
 * assert.equal(fig.data.length, 2); // precision and recall
 * ```
 */
export function precisionThresholdFigure(
  curves: Record<string, ThresholdCurves>,
  options: AxesOptions = {},
): PlotlyFigure {
  const data: Record<string, unknown>[] = [];
  Object.entries(curves).forEach(([name, c], i) => {
    const color = CLASS_COLORS[i % CLASS_COLORS.length];
    const idx = thinned(c.thresholds.length - 1).map((i) => i + 1);
    const x = pick(c.thresholds, idx);
    data.push({
      type: "scatter",
      mode: "lines",
      name: `${name}: precision`,
      x,
      y: pick(c.precision, idx),
      line: { color, width: 2 },
    });
    data.push({
      type: "scatter",
      mode: "lines",
      name: `${name}: recall`,
      x,
      y: pick(c.tpr, idx),
      line: { color, width: 2, dash: "dash" },
    });
  });
  const layout = axesLayout({
    title: "Precision and recall against the threshold",
    xTitle: "distance threshold",
    yTitle: "",
    ...options,
  });
  (layout.yaxis as Record<string, unknown>).range = [0, 1.02];
  return { data, layout };
}

/**
 * A table figure (Plotly `table` trace): a header row and body rows of text or numbers (numbers
 * shown with `formatNumber`: 3 significant digits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tableFigure } from "./curves.ts";
 * const fig = tableFigure(["metric", "symmetric"], [["euclidean", "yes"]]);
 * assert.equal(fig.data[0].type, "table");
 * ```
 */
export function tableFigure(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  options: {
    title?: string;
    width?: number;
    height?: number;
    cellColors?: string[][];
    /** Relative column widths; default 2 for the first column, 1 for the others. */
    columnWidths?: number[];
  } = {},
): PlotlyFigure {
  const columns = header.map((_, j) =>
    rows.map((r) => (typeof r[j] === "number" ? formatNumber(r[j] as number) : r[j]))
  );
  return {
    data: [{
      type: "table",
      header: {
        values: header.map((h) => `<b>${h}</b>`),
        align: "left",
        fill: { color: "#e8e8e8" },
        line: { color: "#bbbbbb" },
      },
      cells: {
        values: columns,
        align: "left",
        line: { color: "#dddddd" },
        ...(options.cellColors ? { fill: { color: options.cellColors } } : {}),
        height: 24,
      },
      columnwidth: options.columnWidths ?? header.map((_, j) => (j === 0 ? 2 : 1)),
    }],
    layout: {
      title: { text: options.title ?? "" },
      width: options.width ?? 640,
      height: options.height ?? 90 + 26 * rows.length,
      margin: { l: 10, r: 10, t: options.title ? 50 : 10, b: 10 },
    },
  };
}

/**
 * A heatmap of a matrix (e.g. pairwise distances), rows top to bottom. Rows and columns sit at
 * positions 0, 1, ... of numeric axes whose ticks carry the labels, so that repeated labels (two
 * images of one class) stay apart.
 *
 * @param values `[rows * cols]` row-major
 * @throws Error when `values` does not hold `rows · cols` numbers or a label list has the wrong
 *   length.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heatmapFigure } from "./curves.ts";
 * const fig = heatmapFigure([0, 1, 1, 0], 2, 2, { labels: ["a", "b"] });
 * assert.equal(fig.data[0].type, "heatmap");
 * ```
 */
export function heatmapFigure(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  options: AxesOptions & {
    labels?: readonly string[];
    colLabels?: readonly string[];
    colorTitle?: string;
  } = {},
): PlotlyFigure {
  if (values.length !== rows * cols) {
    throw new Error(`heatmapFigure: ${values.length} values for ${rows}×${cols}`);
  }
  const rowLabels = options.labels ?? Array.from({ length: rows }, (_, i) => String(i));
  const colLabels = options.colLabels ?? options.labels ??
    Array.from({ length: cols }, (_, i) => String(i));
  if (rowLabels.length !== rows || colLabels.length !== cols) {
    throw new Error(
      `heatmapFigure: ${rowLabels.length} row and ${colLabels.length} column labels for ${rows}×${cols}`,
    );
  }
  const z = Array.from(
    { length: rows },
    (_, r) => arr(Array.from(values).slice(r * cols, (r + 1) * cols)),
  );
  const layout = axesLayout({ width: 560, height: 480, ...options });
  const ticks = (labels: readonly string[]) => ({
    tickmode: "array",
    tickvals: labels.map((_, i) => i),
    ticktext: [...labels],
    showgrid: false,
  });
  layout.xaxis = { ...(layout.xaxis as object), ...ticks(colLabels), tickangle: -45 };
  layout.yaxis = { ...(layout.yaxis as object), ...ticks(rowLabels), autorange: "reversed" };
  return {
    data: [{
      type: "heatmap",
      z,
      x: colLabels.map((_, i) => i),
      y: rowLabels.map((_, i) => i),
      text: rowLabels.map((r) => colLabels.map((c) => `${r} · ${c}`)),
      hovertemplate: "%{text}: %{z:.3~g}<extra></extra>",
      colorscale: "Viridis",
      colorbar: { title: { text: options.colorTitle ?? "" } },
    }],
    layout,
  };
}

/**
 * One dimension's measurements from {@linkcode distanceConcentration}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConcentrationPoint, distanceConcentration } from "./curves.ts";
 * const [p]: ConcentrationPoint[] = await distanceConcentration([10], { n: 50 });
 * assert.ok(p.relativeContrast > 0);
 * ```
 */
export interface ConcentrationPoint {
  /** Dimension of the space. */
  dimension: number;
  /** Mean over queries of (max − min) / min distance to the other points. */
  relativeContrast: number;
  /** Standard deviation over mean of all pairwise distances. */
  coefficientOfVariation: number;
}

/**
 * The concentration of distances as the dimension grows (the curse of dimensionality): for
 * `n` points drawn uniformly from the unit cube in each dimension, the relative contrast between
 * the farthest and nearest neighbour, and the spread of all pairwise distances relative to their
 * mean. Both fall towards 0: in high dimensions all points are about equally far apart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { distanceConcentration } from "./curves.ts";
 * const pts = await distanceConcentration([2, 1000], { n: 100 });
 * assert.ok(pts[0].relativeContrast > pts[1].relativeContrast);
 * ```
 */
export async function distanceConcentration(
  dimensions: readonly number[],
  options: { n?: number; seed?: number; metric?: MetricSpec } = {},
): Promise<ConcentrationPoint[]> {
  const n = options.n ?? 200;
  const rng = createRng(options.seed ?? 0);
  const out: ConcentrationPoint[] = [];
  for (const d of dimensions) {
    const x = tf.tensor2d(Float32Array.from({ length: n * d }, () => rng.next()), [n, d]);
    const dist = pairwiseDistances(x, x, resolveMetric(options.metric ?? "euclidean"));
    const v = await dist.data();
    tf.dispose([x, dist]);
    let contrast = 0;
    let queries = 0; // points with a duplicate (distance 0 after round-off) are left out
    let sum = 0;
    let sumSq = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      let lo = Infinity;
      let hi = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const t = v[i * n + j];
        lo = Math.min(lo, t);
        hi = Math.max(hi, t);
        if (j > i) {
          sum += t;
          sumSq += t * t;
          count++;
        }
      }
      if (lo > 0) {
        contrast += (hi - lo) / lo;
        queries++;
      }
    }
    const mean = sum / count;
    out.push({
      dimension: d,
      relativeContrast: queries ? contrast / queries : Infinity,
      coefficientOfVariation: Math.sqrt(Math.max(0, sumSq / count - mean * mean)) / mean,
    });
  }
  return out;
}

/**
 * A grouped bar chart: one bar group per category (on a `category` axis), one colour per series.
 *
 * @param categories the x-axis categories (distinct)
 * @param series name → one value per category
 * @throws Error when a series has the wrong length or a category repeats.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { barFigure } from "./curves.ts";
 * const fig = barFigure(["a", "b"], { "MAP@R": [0.4, 0.5] }, { yTitle: "score" });
 * assert.equal(fig.data[0].type, "bar");
 * assert.equal((fig.layout.xaxis as { type: string }).type, "category");
 * ```
 */
export function barFigure(
  categories: readonly string[],
  series: Record<string, ArrayLike<number>>,
  options: AxesOptions = {},
): PlotlyFigure {
  const repeated = categories.find((c, i) => categories.indexOf(c) !== i);
  if (repeated !== undefined) {
    throw new Error(`barFigure: category "${repeated}" repeats (bars would merge)`);
  }
  return {
    data: Object.entries(series).map(([name, values], i) => {
      if (values.length !== categories.length) {
        throw new Error(
          `barFigure: "${name}" has ${values.length} values for ${categories.length} categories`,
        );
      }
      return {
        type: "bar",
        name,
        x: [...categories],
        y: arr(values),
        marker: { color: CLASS_COLORS[i % CLASS_COLORS.length] },
        hovertemplate: `${name}: %{x}: %{y:.3~g}<extra></extra>`,
      };
    }),
    layout: { ...axesLayout(options, { x: "category" }), barmode: "group" },
  };
}

/**
 * A table found by {@linkcode jsonTables}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JsonTable, jsonTables } from "./curves.ts";
 * const [t]: JsonTable[] = jsonTables([{ a: 1 }]);
 * assert.deepEqual(t.columns, ["a"]);
 * ```
 */
export interface JsonTable {
  /** Where in the JSON value it was found, e.g. `"results.train"` (`""` for the root). */
  path: string;
  /** Column names (union of the rows' keys, first-seen order). */
  columns: string[];
  /** Rows, cells as strings or numbers (nested values as JSON). */
  rows: (string | number)[][];
}

/**
 * The tables in a JSON value (such as a benchmark's results file): every array of objects, at any
 * depth, becomes a table of its objects' fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonTables } from "./curves.ts";
 * assert.deepEqual(jsonTables({ runs: [{ backend: "wasm", imagesPerSecond: 600 }] }), [
 *   { path: "runs", columns: ["backend", "imagesPerSecond"], rows: [["wasm", 600]] },
 * ]);
 * ```
 */
export function jsonTables(value: unknown, path = ""): JsonTable[] {
  const out: JsonTable[] = [];
  if (Array.isArray(value)) {
    const objects = value.filter((v) => v !== null && typeof v === "object" && !Array.isArray(v));
    if (objects.length > 0 && objects.length === value.length) {
      const columns = [...new Set(objects.flatMap((o) => Object.keys(o as object)))];
      const cell = (v: unknown): string | number =>
        typeof v === "number"
          ? Number(v.toPrecision(6))
          : typeof v === "string"
          ? v
          : JSON.stringify(v) ?? "";
      out.push({
        path,
        columns,
        rows: objects.map((o) => columns.map((c) => cell((o as Record<string, unknown>)[c]))),
      });
      return out;
    }
    value.forEach((v, i) => out.push(...jsonTables(v, `${path}[${i}]`)));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(...jsonTables(v, path ? `${path}.${k}` : k));
    }
  }
  return out;
}
