/**
 * Self-contained HTML for Plotly figures (plotly.js inlined, works offline), written atomically.
 * The page is {@linkcode figureHtmlPage}'s: house style, hover image panel for thumbnails.
 *
 * @module
 */
import type { PlotlyFigure } from "./figures.ts";
import { figureHtmlPage } from "./display.ts";
import { writeTextAtomic } from "../io/atomic.ts";

export { PLOTLY_VERSION, plotlyJs } from "./_plotly.ts";

/**
 * A complete HTML page that renders `figure` with plotly.js inlined (see
 * {@linkcode figureHtmlPage}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { figureToHtml } from "./html.ts";
 * const html = await figureToHtml({ data: [], layout: {} }, "empty");
 * assert.ok(html.includes("Plotly.newPlot"));
 * ```
 */
export async function figureToHtml(figure: PlotlyFigure, title = "figure"): Promise<string> {
  return await figureHtmlPage(figure, title);
}

/**
 * Writes `figure` as a self-contained HTML file (atomically).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFigureHtml } from "./html.ts";
 * await writeFigureHtml("/tmp/fig.html", { data: [], layout: {} });
 * assert.ok((await Deno.readTextFile("/tmp/fig.html")).includes("Plotly.newPlot"));
 * ```
 */
export async function writeFigureHtml(
  path: string,
  figure: PlotlyFigure,
  title?: string,
): Promise<void> {
  await writeTextAtomic(path, await figureToHtml(figure, title));
}
