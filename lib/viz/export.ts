/**
 * Static export of Plotly figures to SVG and PNG with headless Chromium (Debian's `chromium`):
 * a temporary page loads plotly.js, calls `Plotly.toImage` for each figure and writes the data
 * URLs into the DOM; `chromium --headless --dump-dom` prints that DOM, which is parsed here. One
 * Chromium process exports a whole batch of figures.
 *
 * Sizes for a paper: {@linkcode paperStyle} sets a figure's size in inches and its fonts in
 * points (CSS pixels are 1/96 in); a PNG exported at `scale = dpi / 96` then has the right pixel
 * count (3.5 in at 300 dpi: 1050 px wide).
 *
 * @module
 */
import type { PlotlyFigure } from "./figures.ts";
import { houseStyle } from "./style.ts";
import { plotlyJsUrl } from "./_plotly.ts";
import { writeFileAtomic } from "../io/atomic.ts";

/**
 * Static image formats.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ImageFormat } from "./export.ts";
 * const format: ImageFormat = "svg";
 * assert.equal(format, "svg");
 * ```
 */
export type ImageFormat = "svg" | "png";

/**
 * One figure to export.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExportItem, exportFigures } from "./export.ts";
 * const item: ExportItem = { figure: { data: [], layout: {} }, format: "png", scale: 300 / 96 };
 * const [png] = await exportFigures([item]);
 * assert.deepEqual(Array.from(png.subarray(1, 4)), [0x50, 0x4e, 0x47]); // "PNG"
 * ```
 */
export interface ExportItem {
  /** The figure; its `layout.width`/`height` set the size unless given here. */
  figure: PlotlyFigure;
  /** Output format. */
  format: ImageFormat;
  /** Width in CSS pixels (default the layout's, else 700). */
  width?: number;
  /** Height in CSS pixels (default the layout's, else 500). */
  height?: number;
  /** Pixel scale of PNG output (e.g. 300 / 96 for 300 dpi). Default 1. */
  scale?: number;
}

/**
 * The Chromium binary to use: `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH, else
 * `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findChromium } from "./export.ts";
 * const chromium = await findChromium(); // "/usr/bin/chromium" or undefined
 * assert.ok(chromium === undefined || chromium.startsWith("/"));
 * ```
 */
export async function findChromium(): Promise<string | undefined> {
  const fromEnv = Deno.env.get("CHROMIUM");
  const candidates = fromEnv ? [fromEnv] : [];
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin").split(":")) {
    if (!dir) continue;
    candidates.push(`${dir}/chromium`, `${dir}/chromium-browser`);
  }
  for (const c of candidates) {
    try {
      const info = await Deno.stat(c);
      if (info.isFile) return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Fonts used by {@linkcode paperStyle}: metric-compatible with Arial, shipped by Debian.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAPER_FONT } from "./export.ts";
 * const layout = { font: { family: PAPER_FONT, size: 13.33 } };
 * assert.ok(layout.font.family.endsWith("sans-serif"));
 * ```
 */
export const PAPER_FONT = "Liberation Sans, Arial, Helvetica, DejaVu Sans, sans-serif";

/**
 * Options of {@linkcode paperStyle}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paperStyle, type PaperStyleOptions } from "./export.ts";
 * const options: PaperStyleOptions = { widthIn: 7, heightIn: 3, fontPt: 9 };
 * assert.equal(paperStyle({ data: [], layout: {} }, options).layout.width, 672);
 * ```
 */
export interface PaperStyleOptions {
  /** Width in inches. Default 3.5 (one column). */
  widthIn?: number;
  /** Height in inches. Default 0.75 × width. */
  heightIn?: number;
  /** Body font size in points. Default 10 (titles +1). */
  fontPt?: number;
  /** Keep the title. Default true. */
  title?: boolean;
}

/**
 * A copy of `figure` in the house style (`houseStyle`: palette, decade-labelled log axes) sized for
 * print: width/height from inches, fonts in points, tight margins, a centred title, white
 * background, and deterministic trace ids (so exported SVG is byte-stable).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paperStyle } from "./export.ts";
 * const fig = paperStyle({ data: [], layout: {} }, { widthIn: 3.5 });
 * assert.equal(fig.layout.width, 336);
 * ```
 */
export function paperStyle(figure: PlotlyFigure, options: PaperStyleOptions = {}): PlotlyFigure {
  const widthIn = options.widthIn ?? 3.5;
  const heightIn = options.heightIn ?? widthIn * 0.75;
  const px = (pt: number) => Math.round((pt * 96) / 72 * 100) / 100;
  const fontPt = options.fontPt ?? 10;
  const copy = structuredClone(houseStyle(figure)) as PlotlyFigure;
  // The figure's own margins (the house style's room for the toolbar is not needed on paper).
  const ownMargin = figure.layout.margin as object | undefined;
  copy.data = copy.data.map((t, i) => ({ ...t, uid: `trace${i}` }));
  const layout = copy.layout;
  const title = layout.title as { text?: string } | undefined;
  layout.width = Math.round(widthIn * 96);
  layout.height = Math.round(heightIn * 96);
  layout.font = { family: PAPER_FONT, size: px(fontPt), color: "#000000" };
  layout.paper_bgcolor = "#ffffff";
  if (options.title === false || !title?.text) {
    layout.title = { text: "" };
    layout.margin = { l: 50, r: 10, b: 42, ...(ownMargin ?? {}), t: 12 };
  } else {
    layout.title = { text: title.text, font: { size: px(fontPt + 1) }, x: 0.5, xanchor: "center" };
    layout.margin = { l: 50, r: 10, t: 36, b: 42, ...(ownMargin ?? {}) };
  }
  return copy;
}

function plotlyScriptUrl(): string {
  return plotlyJsUrl().href;
}

function decodeDataUrl(url: string): Uint8Array {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0) throw new Error("export: not a data URL");
  const header = url.slice(5, comma);
  const body = url.slice(comma + 1);
  if (header.endsWith(";base64")) {
    const bin = atob(body);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  return new TextEncoder().encode(decodeURIComponent(body));
}

function unescapeHtml(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

/**
 * Loads an HTML page in headless Chromium, lets its scripts run (virtual time budget), and returns
 * the resulting DOM as HTML (`chromium --dump-dom`).
 *
 * @throws Error when Chromium is missing or exits without output.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chromiumDumpDom } from "./export.ts";
 * const dom = await chromiumDumpDom("<p id=x></p><script>x.textContent = 1 + 1</script>");
 * assert.ok(dom.includes('<p id="x">2</p>'));
 * ```
 */
export async function chromiumDumpDom(
  html: string,
  options: {
    chromium?: string;
    timeoutMs?: number;
    dir?: string;
    /** Window size in CSS px, `[width, height]` (Chromium's default otherwise). */
    windowSize?: [number, number];
  } = {},
): Promise<string> {
  const chromium = options.chromium ?? await findChromium();
  if (!chromium) {
    throw new Error(
      "export: chromium not found (install it: apt-get install -y chromium, or `bash tools/setup.sh figures`)",
    );
  }
  const tmp = options.dir ?? await Deno.makeTempDir({ prefix: "simlearn-chromium-" });
  try {
    const pagePath = `${tmp}/page.html`;
    await Deno.writeTextFile(pagePath, html);
    const budget = options.timeoutMs ?? 60_000;
    const args = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      "--hide-scrollbars",
      "--mute-audio",
      "--allow-file-access-from-files",
      `--user-data-dir=${tmp}/profile`,
      `--virtual-time-budget=${budget}`,
      ...(options.windowSize ? [`--window-size=${options.windowSize.join(",")}`] : []),
      "--dump-dom",
      `file://${pagePath}`,
    ];
    const child = new Deno.Command(chromium, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, budget + 60_000);
    const result = await child.output();
    clearTimeout(timer);
    const dom = new TextDecoder().decode(result.stdout);
    if (!dom.includes("<html")) {
      const err = new TextDecoder().decode(result.stderr).split("\n").slice(-8).join("\n");
      throw new Error(`chromium exited ${result.code} without a DOM:\n${err}`);
    }
    return dom;
  } finally {
    if (!options.dir) await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * Renders figures to SVG or PNG bytes in one headless Chromium run.
 *
 * @throws Error when Chromium is missing, fails, or Plotly reports an error for a figure.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportFigures } from "./export.ts";
 * const [svg] = await exportFigures([{ figure: { data: [], layout: {} }, format: "svg" }]);
 * assert.ok(new TextDecoder().decode(svg).startsWith("<svg"));
 * ```
 */
export async function exportFigures(
  items: readonly ExportItem[],
  options: { chromium?: string; timeoutMs?: number } = {},
): Promise<Uint8Array[]> {
  if (items.length === 0) return [];
  const chromium = options.chromium ?? await findChromium();
  if (!chromium) {
    throw new Error(
      "export: chromium not found (install it: apt-get install -y chromium, or `bash tools/setup.sh figures`)",
    );
  }
  const jobs = items.map((it) => ({
    figure: it.figure,
    opts: {
      format: it.format,
      width: it.width ?? (it.figure.layout.width as number | undefined) ?? 700,
      height: it.height ?? (it.figure.layout.height as number | undefined) ?? 500,
      scale: it.format === "png" ? (it.scale ?? 1) : 1,
    },
  }));
  const tmp = await Deno.makeTempDir({ prefix: "simlearn-export-" });
  try {
    const page = `<!DOCTYPE html><html><head><meta charset="utf-8">
<script>
// Plotly draws element ids (clip paths, gradients) from Math.random: a seeded generator, reset
// before each figure, makes the SVG output byte-identical from run to run.
let seed = 1;
Math.random = function () {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
</script>
<script src="${plotlyScriptUrl()}"></script></head><body><div id="work"></div><script>
const jobs = ${JSON.stringify(jobs).replace(/</g, "\\u003c")};
(async () => {
  const work = document.getElementById("work");
  for (let i = 0; i < jobs.length; i++) {
    const out = document.createElement("pre");
    out.id = "out" + i;
    seed = 1;
    try {
      const gd = document.createElement("div");
      work.appendChild(gd);
      await Plotly.newPlot(gd, jobs[i].figure.data, jobs[i].figure.layout, {staticPlot: true});
      out.textContent = await Plotly.toImage(gd, jobs[i].opts);
      Plotly.purge(gd);
      gd.remove();
    } catch (e) {
      out.textContent = "ERROR " + (e && e.message ? e.message : String(e));
    }
    document.body.appendChild(out);
  }
  const done = document.createElement("pre");
  done.id = "done";
  document.body.appendChild(done);
})();
</script></body></html>`;
    const dom = await chromiumDumpDom(page, { chromium, timeoutMs: options.timeoutMs, dir: tmp });
    if (!dom.includes('id="done"')) throw new Error("export: the export page did not finish");
    return jobs.map((_, i) => {
      const m = dom.match(new RegExp(`<pre id="out${i}">([^<]*)</pre>`));
      if (!m) throw new Error(`export: no output for figure ${i}`);
      const text = unescapeHtml(m[1]);
      if (text.startsWith("ERROR")) throw new Error(`export: figure ${i}: ${text}`);
      const bytes = decodeDataUrl(text);
      if (jobs[i].opts.format !== "svg") return bytes;
      // The root element's empty style attribute lands before or after viewBox from run to run:
      // drop it, so that the same figure always gives the same bytes.
      const svg = new TextDecoder().decode(bytes).replace(/^(<svg[^>]*?) style=""/, "$1");
      return new TextEncoder().encode(svg);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * Writes one figure as SVG or PNG (format from the file extension).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pngSize, writeFigureImage } from "./export.ts";
 * await writeFigureImage("/tmp/fig.png", { data: [], layout: { width: 336, height: 252 } }, {
 *   scale: 300 / 96,
 * });
 * assert.deepEqual(pngSize(await Deno.readFile("/tmp/fig.png")), { width: 1050, height: 787 });
 * ```
 */
export async function writeFigureImage(
  path: string,
  figure: PlotlyFigure,
  options: { scale?: number; width?: number; height?: number } = {},
): Promise<void> {
  const format: ImageFormat = path.toLowerCase().endsWith(".svg") ? "svg" : "png";
  const [bytes] = await exportFigures([{ figure, format, ...options }]);
  await writeFileAtomic(path, bytes);
}

/**
 * Width and height of a PNG from its IHDR chunk (after checking the signature).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pngSize } from "./export.ts";
 * import { encodeGrayPng } from "./gallery.ts";
 * assert.deepEqual(pngSize(await encodeGrayPng(new Uint8Array(6), 3, 2)), { width: 3, height: 2 });
 * ```
 */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 24 || sig.some((b, i) => bytes[i] !== b)) throw new Error("not a PNG");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") throw new Error("PNG: no IHDR");
  return { width: v.getUint32(16), height: v.getUint32(20) };
}
