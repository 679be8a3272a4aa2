/**
 * What every figure builder shares: the Plotly figure type (`{ data, layout, config }`, plain JSON
 * that can be displayed in Jupyter, written to HTML, or exported to SVG/PNG) and the class palette.
 *
 * @module
 */

/** A Plotly figure: traces and layout, as plain JSON. */
export interface PlotlyFigure {
  /** Traces. */
  data: Record<string, unknown>[];
  /** Layout. */
  layout: Record<string, unknown>;
  /** Plotly `config` (toolbar, responsiveness); the house style supplies the default. */
  config?: Record<string, unknown>;
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
