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

/**
 * Builds the benchmark figure from a table (as written to `figures/benchmark.json`): methods on
 * the x axis in table order, one trace per setting, the chosen metric's mean as bar height and
 * its 95% CI half-width as a symmetric error bar (none for a single seed).
 *
 * @param table the aggregated table
 * @param options `metric` (default `"mapAtR"`), `title`
 * @returns a plain Plotly figure (`{ data, layout }`)
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
  const data = settings.map((setting, i) => {
    const rows = methods.map((m) =>
      table.rows.find((r) => r.setting === setting && r.method === m)
    );
    return {
      type: "bar",
      name: setting,
      x: methods,
      y: rows.map((r) => (r ? r[metric].mean : null)),
      error_y: {
        type: "data",
        array: rows.map((r) => (r ? r[metric].ci95 ?? 0 : 0)),
        visible: true,
        thickness: 1.5,
        width: 4,
      },
      marker: { color: SETTING_COLORS[setting] ?? FALLBACK[i % FALLBACK.length] },
      customdata: rows.map((r) => (r ? r.seeds.length : 0)),
      hovertemplate: `%{x} (${setting}): ${LABELS[metric]} %{y:.4f} ± %{error_y.array:.4f}` +
        ` (%{customdata} seeds)<extra></extra>`,
    };
  });
  return {
    data,
    layout: {
      title: {
        text: options.title ??
          `Fashion-MNIST retrieval, ${LABELS[metric]} (mean and 95% CI over seeds)`,
      },
      barmode: "group",
      xaxis: { title: { text: "method" }, tickangle: -35, automargin: true },
      yaxis: { title: { text: LABELS[metric] }, range: [0, 1] },
      legend: { title: { text: "setting" } },
      margin: { t: 60, b: 120 },
    },
  };
}
