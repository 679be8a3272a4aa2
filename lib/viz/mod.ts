/**
 * Figures: projections (PCA, t-SNE, UMAP), Plotly figure builders (scatters, curves, histograms,
 * galleries, tables), one house style and number format, display in Jupyter, self-contained HTML,
 * SVG/PNG export via Chromium, and a Chromium check that every figure draws and fits the page.
 *
 * @module
 */
export * from "./projection.ts";
export * from "./projections.ts";
export * from "./figures.ts";
export * from "./style.ts";
export * from "./format.ts";
export * from "./curves.ts";
export * from "./loss_figures.ts";
export * from "./metric_figures.ts";
export * from "./sphere.ts";
export * from "./gallery.ts";
export * from "./html.ts";
export * from "./display.ts";
export * from "./export.ts";
export * from "./figure_check.ts";
export * from "./report.ts";
export * from "./walk.ts";
