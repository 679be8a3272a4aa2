/**
 * Figures: projections, Plotly figure builders, HTML output.
 *
 * @module
 */
export * from "./projection.ts";
export * from "./figures.ts";
export * from "./html.ts";
