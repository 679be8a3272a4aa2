/**
 * Self-contained HTML for Plotly figures (plotly.js inlined, works offline).
 *
 * @module
 */
import plotlyPackage from "plotly.js-dist-min/package.json" with { type: "json" };
import type { PlotlyFigure } from "./figures.ts";
import { writeTextAtomic } from "../io/atomic.ts";

let plotlySource: string | undefined;

/**
 * The plotly.js bundle's source, read once from the project's `node_modules`.
 *
 * @example
 * ```ts
 * import { plotlyJs } from "./html.ts";
 * (await plotlyJs()).length > 1_000_000; // true
 * ```
 */
export async function plotlyJs(): Promise<string> {
  if (plotlySource === undefined) {
    const url = new URL("../../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url);
    plotlySource = await Deno.readTextFile(url);
  }
  return plotlySource;
}

/** The plotly.js version that HTML output embeds. */
export const PLOTLY_VERSION: string = plotlyPackage.version;

/**
 * A complete HTML page that renders `figure` with plotly.js inlined.
 *
 * @example
 * ```ts
 * import { figureToHtml } from "./html.ts";
 * const html = await figureToHtml({ data: [], layout: {} }, "empty");
 * html.includes("Plotly.newPlot"); // true
 * ```
 */
export async function figureToHtml(figure: PlotlyFigure, title = "figure"): Promise<string> {
  const json = JSON.stringify(figure).replace(/</g, "\\u003c");
  const escapedTitle = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapedTitle}</title>
<script>${await plotlyJs()}</script></head>
<body><div id="figure"></div>
<script>const fig = ${json}; Plotly.newPlot("figure", fig.data, fig.layout, {responsive: true});</script>
</body></html>
`;
}

/**
 * Writes `figure` as a self-contained HTML file (atomically).
 *
 * @example
 * ```ts
 * import { writeFigureHtml } from "./html.ts";
 * await writeFigureHtml("/tmp/fig.html", { data: [], layout: {} });
 * ```
 */
export async function writeFigureHtml(
  path: string,
  figure: PlotlyFigure,
  title?: string,
): Promise<void> {
  await writeTextAtomic(path, await figureToHtml(figure, title));
}
