/**
 * Plotly figure builders. Each returns a plain Plotly figure object (`{ data, layout }`) that can
 * be displayed in Jupyter, written to HTML, or exported to SVG/PNG.
 *
 * @module
 */

/** A Plotly figure: traces and layout, as plain JSON. */
export interface PlotlyFigure {
  /** Traces. */
  data: Record<string, unknown>[];
  /** Layout. */
  layout: Record<string, unknown>;
}

/** A categorical palette (Tableau 10) so that class colours agree across figures. */
export const CLASS_COLORS: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/**
 * A 2-D scatter of projected embeddings, one trace per class.
 *
 * @param points `[n, 2]` row-major
 * @param labels `[n]`
 * @param classNames names indexed by label
 * @example
 * ```ts
 * import { embeddingScatter } from "./figures.ts";
 * const fig = embeddingScatter(new Float32Array([0, 0, 1, 1]), [0, 1], ["a", "b"], "demo");
 * console.log(fig.data.length); // 2
 * ```
 */
export function embeddingScatter(
  points: Float32Array | number[],
  labels: ArrayLike<number>,
  classNames: readonly string[],
  title = "Embeddings",
): PlotlyFigure {
  if (points.length !== labels.length * 2) {
    throw new Error(`embeddingScatter: ${points.length} coordinates for ${labels.length} labels`);
  }
  const byClass = new Map<number, { x: number[]; y: number[] }>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!byClass.has(c)) byClass.set(c, { x: [], y: [] });
    const t = byClass.get(c)!;
    t.x.push(Number(points[2 * i].toFixed(5)));
    t.y.push(Number(points[2 * i + 1].toFixed(5)));
  }
  const data = [...byClass.keys()].sort((a, b) => a - b).map((c) => ({
    type: "scattergl",
    mode: "markers",
    name: classNames[c] ?? String(c),
    x: byClass.get(c)!.x,
    y: byClass.get(c)!.y,
    marker: { size: 4, opacity: 0.7, color: CLASS_COLORS[c % CLASS_COLORS.length] },
  }));
  return {
    data,
    layout: {
      title: { text: title },
      xaxis: { title: { text: "component 1" }, zeroline: false },
      yaxis: { title: { text: "component 2" }, zeroline: false },
      legend: { itemsizing: "constant" },
      width: 720,
      height: 560,
    },
  };
}
