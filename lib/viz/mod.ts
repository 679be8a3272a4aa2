/**
 * Figures: projections (PCA, t-SNE, UMAP), Plotly figure builders (scatters, curves, histograms,
 * galleries, tables), display in Jupyter, self-contained HTML, and SVG/PNG export via Chromium.
 *
 * @module
 */
export * from "./projection.ts";
export * from "./projections.ts";
export * from "./figures.ts";
export * from "./curves.ts";
export * from "./loss_figures.ts";
export * from "./metric_figures.ts";
export * from "./sphere.ts";
export * from "./gallery.ts";
export * from "./html.ts";
export * from "./display.ts";
export * from "./export.ts";
