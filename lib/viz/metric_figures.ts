/**
 * Figures for the metric experiments: the relative contrast of distances against the dimension
 * (curse of dimensionality) and kNN accuracy of learned metrics against Euclidean.
 *
 * @module
 */
import { CLASS_COLORS, type PlotlyFigure } from "./figures.ts";
import { formatNumber } from "./format.ts";

/**
 * One curve of {@linkcode relativeContrastFigure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ContrastSeries } from "./metric_figures.ts";
 * const s: ContrastSeries = { name: "pixels", dims: [784], contrast: [3.4], mode: "markers" };
 * assert.equal(s.dims.length, s.contrast.length);
 * ```
 */
export interface ContrastSeries {
  /** Legend entry, e.g. `"uniform · euclidean"`. */
  name: string;
  /** Dimensions (x axis). */
  dims: number[];
  /** Relative contrast (max − min)/min at each dimension (y axis). */
  contrast: number[];
  /** Colour group (series with the same group share a colour), e.g. the metric. */
  group?: string;
  /** `"lines+markers"` (default) or `"markers"` for single points such as real data sets. */
  mode?: "lines+markers" | "markers";
  /** Plotly dash style, e.g. `"dot"` for a second distribution. */
  dash?: string;
  /** Marker symbol, e.g. `"diamond"`. */
  symbol?: string;
}

/**
 * Relative contrast (max − min)/min of distances from a query to a sample against the dimension,
 * both axes logarithmic: the curse of dimensionality as a falling curve.
 *
 * @param series curves and points
 * @param title figure title
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relativeContrastFigure } from "./metric_figures.ts";
 * const fig = relativeContrastFigure([{ name: "uniform · euclidean", dims: [2, 4], contrast: [30, 5] }]);
 * assert.equal(fig.data.length, 1);
 * ```
 */
export function relativeContrastFigure(
  series: readonly ContrastSeries[],
  title = "Relative contrast of distances vs dimension",
): PlotlyFigure {
  const groups = [...new Set(series.map((s) => s.group ?? s.name))];
  const data = series.map((s) => {
    if (s.dims.length !== s.contrast.length) {
      throw new Error(
        `relativeContrastFigure: series "${s.name}" has ${s.dims.length} dims and ${s.contrast.length} values`,
      );
    }
    const color = CLASS_COLORS[groups.indexOf(s.group ?? s.name) % CLASS_COLORS.length];
    return {
      type: "scatter",
      mode: s.mode ?? "lines+markers",
      name: s.name,
      x: s.dims,
      y: s.contrast.map((v) => Number(v.toPrecision(5))),
      line: { color, dash: s.dash ?? "solid" },
      marker: { color, size: s.mode === "markers" ? 11 : 6, symbol: s.symbol ?? "circle" },
    };
  });
  return {
    data,
    layout: {
      title: { text: title },
      xaxis: { title: { text: "dimension d" }, type: "log" },
      yaxis: { title: { text: "(max − min) / min distance" }, type: "log" },
      legend: { font: { size: 10 } },
      width: 900,
      height: 560,
    },
  };
}

/**
 * One bar of {@linkcode knnAccuracyFigure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KnnAccuracyRow } from "./metric_figures.ts";
 * const row: KnnAccuracyRow = { dataset: "wine", method: "euclidean", accuracy: 0.96 };
 * assert.ok(row.accuracy >= 0 && row.accuracy <= 1);
 * ```
 */
export interface KnnAccuracyRow {
  /** Data set (x-axis group). */
  dataset: string;
  /** Metric, e.g. `"euclidean"`, `"nca"` (one colour each). */
  method: string;
  /** Accuracy in [0, 1]. */
  accuracy: number;
}

/**
 * Grouped bars of kNN accuracy: one group per data set, one bar per metric.
 *
 * @param rows accuracies
 * @param title figure title
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { knnAccuracyFigure } from "./metric_figures.ts";
 * const fig = knnAccuracyFigure([{ dataset: "wine", method: "nca", accuracy: 0.97 }]);
 * assert.equal(fig.data.length, 1);
 * ```
 */
export function knnAccuracyFigure(
  rows: readonly KnnAccuracyRow[],
  title = "kNN accuracy: learned linear metrics vs Euclidean",
): PlotlyFigure {
  const methods = [...new Set(rows.map((r) => r.method))];
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  const data = methods.map((method, i) => ({
    type: "bar",
    name: method,
    x: datasets,
    y: datasets.map((ds) =>
      rows.find((r) => r.dataset === ds && r.method === method)?.accuracy ?? null
    ),
    text: datasets.map((ds) => {
      const r = rows.find((r) => r.dataset === ds && r.method === method);
      return r ? formatNumber(r.accuracy) : "";
    }),
    textposition: "outside",
    marker: { color: CLASS_COLORS[i % CLASS_COLORS.length] },
  }));
  const finite = rows.map((r) => r.accuracy).filter(Number.isFinite);
  const low = finite.length ? Math.max(0, Math.min(...finite) - 0.1) : 0;
  return {
    data,
    layout: {
      title: { text: title },
      barmode: "group",
      xaxis: { type: "category" },
      yaxis: { title: { text: "accuracy" }, range: [low, 1.02] },
      width: 820,
      height: 480,
    },
  };
}
