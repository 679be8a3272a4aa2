/**
 * The benchmark figure: a grouped bar chart, one bar group per method, one bar per setting, with
 * the 95% confidence intervals as error bars.
 *
 * @module
 */
import type { PlotlyFigure } from "../viz/figures.ts";
import type { BenchmarkTable } from "./runner.ts";

/** A metric of the table. */
export type BenchmarkMetric = "mapAtR" | "rPrecision" | "precisionAt1";

const LABELS: Record<BenchmarkMetric, string> = {
  mapAtR: "MAP@R",
  rPrecision: "R-precision",
  precisionAt1: "P@1",
};

const SETTING_COLORS: Record<string, string> = { seen: "#4e79a7", unseen: "#f28e2b" };
const FALLBACK = ["#59a14f", "#e15759", "#76b7b2", "#edc948"];

/** Height of one method's row of bars, in pixels (the figure grows with the method count). */
const ROW_PX = 22;

/**
 * Builds the benchmark figure from a table (as written to `figures/benchmark.json`): horizontal
 * bars, one row per method in table order from the top (every method labelled, however many),
 * one trace per setting, the chosen metric's mean as bar length and its 95% CI half-width as a
 * symmetric error bar (none for a single seed); where the table has an `untrained` row, a dotted
 * line per setting marks its mean, the level a trained method has to beat. The layout's `height`
 * grows with the method count (22 px a row).
 *
 * @param table the aggregated table
 * @param options `metric` (default `"mapAtR"`), `title`
 * @returns a plain Plotly figure (`{ data, layout }`)
 * @throws Error for an unknown `metric`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchmarkFigure } from "./figure.ts";
 * const fig = benchmarkFigure({ protocol: {}, rows: [] });
 * assert.equal(fig.data.length, 0);
 * ```
 */
export function benchmarkFigure(
  table: BenchmarkTable,
  options: { metric?: BenchmarkMetric; title?: string } = {},
): PlotlyFigure {
  const metric = options.metric ?? "mapAtR";
  if (!(metric in LABELS)) throw new Error(`benchmarkFigure: unknown metric "${metric}"`);
  const methods: string[] = [];
  const settings: string[] = [];
  for (const r of table.rows) {
    if (!methods.includes(r.method)) methods.push(r.method);
    if (!settings.includes(r.setting)) settings.push(r.setting);
  }
  const color = (setting: string, i: number) =>
    SETTING_COLORS[setting] ?? FALLBACK[i % FALLBACK.length];
  const data = settings.map((setting, i) => {
    const rows = methods.map((m) =>
      table.rows.find((r) => r.setting === setting && r.method === m)
    );
    return {
      type: "bar",
      orientation: "h",
      name: setting,
      y: methods,
      x: rows.map((r) => (r ? r[metric].mean : null)),
      error_x: {
        type: "data",
        array: rows.map((r) => (r ? r[metric].ci95 ?? 0 : 0)),
        visible: true,
        thickness: 1.2,
        width: 2,
      },
      marker: { color: color(setting, i) },
      customdata: rows.map((r) => (r ? r.seeds.length : 0)),
      hovertemplate: `%{y} (${setting}): ${LABELS[metric]} %{x:.4f} ± %{error_x.array:.4f}` +
        ` (%{customdata} seeds)<extra></extra>`,
    };
  });
  const shapes = settings.flatMap((setting, i) => {
    const untrained = table.rows.find((r) => r.setting === setting && r.method === "untrained");
    return untrained
      ? [{
        type: "line",
        xref: "x",
        yref: "paper",
        x0: untrained[metric].mean,
        x1: untrained[metric].mean,
        y0: 0,
        y1: 1,
        line: { color: color(setting, i), width: 1.5, dash: "dot" },
      }]
      : [];
  });
  return {
    data,
    layout: {
      title: {
        text: options.title ??
          `Fashion-MNIST retrieval, ${
            LABELS[metric]
          } (mean and 95% CI over seeds; dotted: untrained)`,
      },
      barmode: "group",
      bargap: 0.25,
      height: 140 + ROW_PX * Math.max(methods.length, 1),
      xaxis: { title: { text: LABELS[metric] }, range: [0, 1] },
      yaxis: { title: { text: "method" }, autorange: "reversed", automargin: true, dtick: 1 },
      legend: { title: { text: "setting" }, orientation: "h", y: 1.02, yanchor: "bottom" },
      shapes,
      margin: { t: 80, b: 50 },
    },
  };
}
