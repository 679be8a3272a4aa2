/**
 * Showing figures: in Deno's Jupyter kernel a figure displays as the Plotly MIME type
 * (`application/vnd.plotly.v1+json`, rendered by JupyterLab and VS Code) with a `text/html`
 * fallback that carries plotly.js itself (for the classic notebook and exported HTML). plotly.js
 * (about 4.8 MB) is inlined in the first figure of a kernel session only; later figures hold a div
 * and a `Plotly.newPlot` call that waits for it. Outside Jupyter, `show()` writes a self-contained
 * HTML page and returns its path.
 *
 * Figures whose points carry image data URIs in `customdata` (see `projectionScatter`) get a side
 * panel in their HTML that shows the hovered point's image: Plotly's own hover labels cannot show
 * images.
 *
 * @module
 */
import type { PlotlyFigure } from "./figures.ts";
import { plotlyJs } from "./_plotly.ts";
import { formatNumber } from "./format.ts";
import { houseStyle } from "./style.ts";
import { writeTextAtomic } from "../io/atomic.ts";

/**
 * The MIME type of Plotly figures in Jupyter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLOTLY_MIME } from "./display.ts";
 * const bundle = { [PLOTLY_MIME]: { data: [], layout: {} } };
 * assert.ok("application/vnd.plotly.v1+json" in bundle);
 * ```
 */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

interface JupyterApi {
  display(bundle: Record<string, unknown>, options?: { raw?: boolean }): Promise<void>;
}

function jupyter(): JupyterApi | undefined {
  try {
    // Outside `deno jupyter`, reading `Deno.jupyter` throws.
    const j = (Deno as unknown as { jupyter?: JupyterApi }).jupyter;
    return j && typeof j.display === "function" ? j : undefined;
  } catch {
    return undefined;
  }
}

/** JSON safe to place inside an HTML `<script>` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function hasHoverImages(figure: PlotlyFigure): boolean {
  return figure.data.some((t) =>
    Array.isArray(t.customdata) && typeof t.customdata[0] === "string" &&
    (t.customdata[0] as string).startsWith("data:image/")
  );
}

/**
 * plotly.js wrapped so that it defines `window.Plotly` even where require.js is loaded (the
 * classic notebook), where the bundle would otherwise register itself as an AMD module.
 */
async function plotlyScript(): Promise<string> {
  const src = (await plotlyJs()).replace(/<\/script/gi, "<\\/script");
  return `<script>(function(){var define=undefined;var module=undefined;var exports=undefined;\n${src}\n}).call(window);</script>`;
}

let divCounter = 0;

/**
 * Options of {@linkcode figureHtmlFragment}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { figureHtmlFragment, type FragmentOptions } from "./display.ts";
 * const options: FragmentOptions = { id: "fig", plotlySrc: "plotly.min.js" };
 * const html = await figureHtmlFragment({ data: [], layout: {} }, options);
 * assert.ok(html.includes('src="plotly.min.js"'));
 * ```
 */
export interface FragmentOptions {
  /** Inline plotly.js before the figure (once per page). Default false. */
  includePlotly?: boolean;
  /** Element id of the figure's div; default a fresh one. */
  id?: string;
  /** Load plotly.js from this URL (relative or absolute) instead of inlining it. */
  plotlySrc?: string;
}

/**
 * An HTML fragment that draws `figure` in the house style (`houseStyle`): a div and a script
 * calling `Plotly.newPlot` once plotly.js is present (optionally inlined first), plus a hover image
 * panel for figures with thumbnails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { figureHtmlFragment } from "./display.ts";
 * const html = await figureHtmlFragment({ data: [], layout: {} }, { id: "f1" });
 * assert.ok(html.includes('id="f1"'));
 * ```
 */
export async function figureHtmlFragment(
  figure: PlotlyFigure,
  options: FragmentOptions = {},
): Promise<string> {
  const id = options.id ??
    `simlearn-fig-${++divCounter}-${Math.random().toString(36).slice(2, 8)}`;
  figure = houseStyle(figure);
  const images = hasHoverImages(figure);
  const hover = images
    ? `gd.on("plotly_hover",function(ev){var p=ev.points&&ev.points[0];` +
      `if(p&&typeof p.customdata==="string"&&p.customdata.indexOf("data:image/")===0){` +
      `var im=document.getElementById(${scriptJson(id + "-img")});im.src=p.customdata;` +
      `im.style.visibility="visible";document.getElementById(${
        scriptJson(id + "-cap")
      }).textContent=(p.data.name||"")+" "+(p.text||"");}});`
    : "";
  const panel = images
    ? `<div style="width:140px;padding-top:60px;text-align:center;font:12px sans-serif">` +
      `<img id="${id}-img" alt="hovered image" width="112" height="112" ` +
      `style="image-rendering:pixelated;border:1px solid #ccc;visibility:hidden">` +
      `<div id="${id}-cap">hover a point</div></div>`
    : "";
  const draw = `(function(){var fig=${scriptJson(figure)};function draw(){` +
    `if(!window.Plotly){return setTimeout(draw,50);}var gd=document.getElementById(${
      scriptJson(id)
    });` +
    `window.Plotly.newPlot(gd,fig.data,fig.layout,fig.config).then(function(){${hover}});}` +
    `draw();})();`;
  const library = options.plotlySrc
    ? `<script src="${options.plotlySrc.replace(/"/g, "&quot;")}"></script>`
    : options.includePlotly
    ? await plotlyScript()
    : "";
  return library +
    `<div style="display:flex;align-items:flex-start"><div id="${id}"></div>${panel}</div>` +
    `<script>${draw}</script>`;
}

/**
 * A complete HTML page for `figure`, self-contained (plotly.js inlined; opens offline) unless
 * `plotlySrc` names a script to load instead; with a hover image panel when the figure has
 * thumbnails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { figureHtmlPage } from "./display.ts";
 * const page = await figureHtmlPage({ data: [], layout: {} }, "demo");
 * assert.ok(page.startsWith("<!DOCTYPE html>"));
 * ```
 */
export async function figureHtmlPage(
  figure: PlotlyFigure,
  title = "figure",
  options: { plotlySrc?: string } = {},
): Promise<string> {
  const escaped = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = await figureHtmlFragment(figure, {
    includePlotly: true,
    plotlySrc: options.plotlySrc,
    id: "figure",
  });
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escaped}</title></head>\n` +
    `<body>${body}</body></html>\n`;
}

/**
 * The MIME bundle Jupyter gets for `figure`: the Plotly JSON (in the house style, with its
 * `config`), an HTML fallback, and plain text.
 *
 * @param options `includePlotly`: inline plotly.js in the HTML fallback
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mimeBundle, PLOTLY_MIME } from "./display.ts";
 * const bundle = await mimeBundle({ data: [], layout: {} });
 * assert.ok(PLOTLY_MIME in bundle);
 * ```
 */
export async function mimeBundle(
  figure: PlotlyFigure,
  options: { includePlotly?: boolean } = {},
): Promise<Record<string, unknown>> {
  const title = (figure.layout.title as { text?: string } | undefined)?.text ?? "";
  return {
    [PLOTLY_MIME]: houseStyle(figure),
    "text/html": await figureHtmlFragment(figure, { includePlotly: options.includePlotly }),
    "text/plain": `Plotly figure: ${figure.data.length} trace(s)${title ? ` — ${title}` : ""}`,
  };
}

let plotlySent = false;

/**
 * Displays a bundle, then waits a moment in proportion to its size. Deno's kernel sends display
 * messages asynchronously, and a message still in flight when the cell finishes can reach the
 * client after the cell's "idle" status, which clients (nbclient, JupyterLab) then drop: seen with
 * the first figure (plotly.js, about 5 MB) and under load with later ones.
 */
async function displayAndSettle(
  j: JupyterApi,
  bundle: Record<string, unknown>,
  bytes: number,
): Promise<void> {
  await j.display(bundle, { raw: true });
  const ms = Math.min(2000, 60 + bytes / 4000);
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Options of {@linkcode show}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { show, type ShowOptions } from "./display.ts";
 * const options: ShowOptions = { path: "/tmp/figure.html", title: "demo" };
 * const path = await show({ data: [], layout: {} }, options);
 * assert.equal(path, "/tmp/figure.html"); // outside Jupyter (undefined inside)
 * ```
 */
export interface ShowOptions {
  /** Outside Jupyter: where to write the HTML page (default a new file under the temp dir). */
  path?: string;
  /** Page title outside Jupyter. */
  title?: string;
}

/**
 * Shows a figure. In Deno's Jupyter kernel it is displayed (Plotly MIME + HTML fallback, plotly.js
 * inlined in the session's first figure) and `undefined` is returned; elsewhere a self-contained
 * HTML page is written and its path returned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { show } from "./display.ts";
 * const path = await show({ data: [{ type: "scatter", x: [1, 2], y: [3, 1] }], layout: {} });
 * // e.g. /tmp/simlearn-figure-1a2b.html (undefined in Jupyter)
 * assert.ok(path === undefined || (await Deno.readTextFile(path)).includes("Plotly.newPlot"));
 * ```
 */
export async function show(
  figure: PlotlyFigure,
  options: ShowOptions = {},
): Promise<string | undefined> {
  const j = jupyter();
  if (j) {
    const first = !plotlySent;
    const bundle = await mimeBundle(figure, { includePlotly: first });
    plotlySent = true;
    await displayAndSettle(j, bundle, first ? 5_000_000 : JSON.stringify(figure).length);
    return undefined;
  }
  const path = options.path ??
    await Deno.makeTempFile({ prefix: "simlearn-figure-", suffix: ".html" });
  await writeTextAtomic(path, await figureHtmlPage(figure, options.title));
  return path;
}

/**
 * Options of {@linkcode showTable}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showTable, tableCell, type TableOptions } from "./display.ts";
 * const options: TableOptions = { digits: 3, units: { time: "s" } };
 * await showTable([{ n: 500, time: 0.0123 }], options);
 * assert.equal(tableCell(0.0123, "time", options), "0.0123 s");
 * ```
 */
export interface TableOptions {
  /** Significant digits of non-integer numbers. Default 3. */
  digits?: number;
  /** A unit per column, written after each number of that column (`{ time: "s" }`). */
  units?: Record<string, string>;
}

/**
 * Text of one table cell: numbers through `formatNumber` (integers in full, others to `digits`
 * significant digits, with the column's unit), anything else as a string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tableCell } from "./display.ts";
 * assert.equal(tableCell(9.0257, "time", { units: { time: "s" } }), "9.03 s");
 * ```
 */
export function tableCell(value: unknown, column: string, options: TableOptions = {}): string {
  if (typeof value === "number") {
    return formatNumber(value, { digits: options.digits ?? 3, unit: options.units?.[column] });
  }
  return String(value ?? "");
}

/**
 * Shows a table of rows (objects with the same keys) as HTML in Jupyter, or prints it as text.
 * Numbers are formatted by {@linkcode tableCell} (3 significant digits, units per column).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showTable } from "./display.ts";
 * const printed: unknown[] = [], log = console.log;
 * console.log = (...args: unknown[]) => printed.push(...args); // outside Jupyter it prints
 * await showTable([{ metric: "euclidean", value: 1.5 }]);
 * console.log = log;
 * assert.equal(printed[0], "metric     value\neuclidean  1.5  ");
 * ```
 */
export async function showTable(
  rows: readonly Record<string, unknown>[],
  options: TableOptions = {},
): Promise<void> {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (r: Record<string, unknown>, k: string) => tableCell(r[k], k, options);
  const esc = (s: string) => s.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => cell(r, k).length)));
  const text = [
    keys.map((k, i) => k.padEnd(widths[i])).join("  "),
    ...rows.map((r) => keys.map((k, i) => cell(r, k).padEnd(widths[i])).join("  ")),
  ].join("\n");
  const j = jupyter();
  if (!j) {
    console.log(text);
    return;
  }
  const numeric = (k: string) => rows.some((r) => typeof r[k] === "number");
  const align = (k: string) => (numeric(k) ? ' style="text-align:right"' : "");
  const html =
    `<table><thead><tr>${keys.map((k) => `<th${align(k)}>${esc(k)}</th>`).join("")}</tr></thead>` +
    `<tbody>${
      rows.map((r) =>
        `<tr>${keys.map((k) => `<td${align(k)}>${esc(cell(r, k))}</td>`).join("")}</tr>`
      ).join("")
    }</tbody></table>`;
  await displayAndSettle(j, { "text/html": html, "text/plain": text }, html.length);
}

/**
 * Shows Markdown (e.g. a results table) in Jupyter, or prints it outside.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showMarkdown } from "./display.ts";
 * const printed: unknown[] = [], log = console.log;
 * console.log = (...args: unknown[]) => printed.push(...args); // outside Jupyter it prints
 * await showMarkdown("| a | b |\n|---|---|\n| 1 | 2 |");
 * console.log = log;
 * assert.deepEqual(printed, ["| a | b |\n|---|---|\n| 1 | 2 |"]);
 * ```
 */
export async function showMarkdown(markdown: string): Promise<void> {
  const j = jupyter();
  if (!j) {
    console.log(markdown);
    return;
  }
  await displayAndSettle(j, { "text/markdown": markdown, "text/plain": markdown }, markdown.length);
}
