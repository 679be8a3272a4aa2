/**
 * The house style every displayed or exported figure gets ({@linkcode houseStyle}): one palette
 * (Tableau 10, {@linkcode CLASS_COLORS}), titles left-aligned below the Plotly toolbar (which
 * therefore never covers them) and broken into lines that fit the figure's width, a lean toolbar
 * without the logo, three-significant-digit hover
 * labels, and log axes labelled at powers of ten only (minor ticks between, unlabelled). Widths
 * are the builders' own: every builder keeps a figure within {@linkcode FIGURE_MAX_WIDTH} so that
 * it fits a 1,200 px page with its hover image panel.
 *
 * `show()`, the HTML pages and fragments, the Jupyter MIME bundle and `paperStyle` (static
 * export) all apply it, so figures made by hand in a notebook get it too.
 *
 * @module
 */
import { CLASS_COLORS, type PlotlyFigure } from "./figures.ts";
import { plotlyFormat } from "./format.ts";

/**
 * The widest figure a builder makes, CSS px: with the 140 px hover image panel and a notebook's
 * margins it still fits a 1,200 px page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FIGURE_MAX_WIDTH } from "./style.ts";
 * assert.equal(Math.min(1500, FIGURE_MAX_WIDTH), 1000);
 * ```
 */
export const FIGURE_MAX_WIDTH = 1000;

/**
 * Width of the hover image panel that HTML output adds beside figures with image thumbnails, px.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FIGURE_MAX_WIDTH, HOVER_PANEL_WIDTH } from "./style.ts";
 * assert.equal(FIGURE_MAX_WIDTH - HOVER_PANEL_WIDTH, 860);
 * ```
 */
export const HOVER_PANEL_WIDTH = 140;

/**
 * Named colours of the one palette: pairs (positive blue, negative red), verdicts (correct
 * green, wrong red) and a neutral grey for references such as the chance line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COLORS } from "./style.ts";
 * const marker = { color: COLORS.positive };
 * assert.match(marker.color, /^#[0-9a-f]{6}$/i);
 * ```
 */
export const COLORS: Readonly<{
  positive: string;
  negative: string;
  correct: string;
  wrong: string;
  neutral: string;
}> = {
  positive: CLASS_COLORS[0],
  negative: CLASS_COLORS[2],
  correct: CLASS_COLORS[4],
  wrong: CLASS_COLORS[2],
  neutral: "#79706e",
};

/**
 * The Plotly `config` of interactive figures: responsive, no Plotly logo, and only the toolbar
 * buttons a reader needs (download, zoom, pan, reset).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLOT_CONFIG } from "./style.ts";
 * assert.equal(PLOT_CONFIG.displaylogo, false);
 * ```
 */
export const PLOT_CONFIG: Readonly<Record<string, unknown>> = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: [
    "select2d",
    "lasso2d",
    "autoScale2d",
    "zoomIn2d",
    "zoomOut2d",
    "toggleSpikelines",
    "hoverClosestCartesian",
    "hoverCompareCartesian",
    "hoverClosest3d",
    "resetCameraLastSave3d",
    "sendDataToCloud",
  ],
};

/** Space above a title for the toolbar (about 25 px high), px. */
const TITLE_PAD = 30;

type Layout = Record<string, unknown>;

/**
 * A title broken into lines (`<br>`) at spaces so that each fits `width` px at `fontSize` px
 * (average glyph width about 0.5 em); a title already broken is kept as it is.
 */
function wrapTitle(text: string, width: number, fontSize: number): string {
  if (text.includes("<br>")) return text;
  const perLine = Math.max(12, Math.floor(width / (0.5 * fontSize)));
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && (line + " " + word).replace(/<[^>]*>/g, "").length > perLine) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join("<br>");
}
type Axis = Record<string, unknown>;

/** Finite positive values of `field` in the traces on axis `id` (`"x"`, `"y2"`, ...). */
function positiveExtent(data: PlotlyFigure["data"], letter: "x" | "y", id: string) {
  let lo = Infinity, hi = -Infinity;
  for (const t of data) {
    if ((t[`${letter}axis`] ?? letter) !== id) continue;
    const values = t[letter];
    if (!Array.isArray(values)) continue;
    for (const v of values) {
      if (typeof v === "number" && Number.isFinite(v) && v > 0) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  return Number.isFinite(lo) ? { lo, hi } : undefined;
}

/** A log axis labelled at powers of ten only, its range widened to whole decades. */
function decadeAxis(axis: Axis, extent: { lo: number; hi: number } | undefined): Axis {
  const out: Axis = { ...axis };
  if (out.dtick === undefined && out.tickvals === undefined) {
    out.dtick = 1;
    out.tick0 = 0;
  }
  if (out.range === undefined && extent) {
    const lo = Math.floor(Math.log10(extent.lo) + 1e-9);
    let hi = Math.ceil(Math.log10(extent.hi) - 1e-9);
    if (hi <= lo) hi = lo + 1;
    out.range = [lo, hi];
    if (out.exponentformat === undefined) {
      // 0.001 … 100,000 written out in full; beyond, as powers of ten.
      Object.assign(
        out,
        lo < -3 || hi > 5 ? { exponentformat: "power" } : {
          exponentformat: "none",
          separatethousands: true,
        },
      );
    }
  }
  if (out.minor === undefined) out.minor = { ticks: "outside", ticklen: 3, dtick: "D1" };
  return out;
}

/**
 * A copy of `figure` in the house style (see the module documentation). Settings the figure
 * already has are kept; applying it twice changes nothing more.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { houseStyle } from "./style.ts";
 * const fig = houseStyle({
 *   data: [{ type: "scatter", x: [500, 8000], y: [0.01, 2] }],
 *   layout: { title: { text: "knn" }, xaxis: { type: "log" } },
 * });
 * assert.deepEqual((fig.layout.xaxis as { range: number[] }).range, [2, 4]); // 100 to 10,000
 * assert.equal((fig.layout.title as { xanchor: string }).xanchor, "left");
 * ```
 */
export function houseStyle(figure: PlotlyFigure): PlotlyFigure {
  const layout: Layout = { ...figure.layout };
  layout.colorway ??= [...CLASS_COLORS];
  const title = layout.title as { text?: string; x?: number; y?: number } | string | undefined;
  const titleObject = typeof title === "string" ? { text: title } : title;
  if (titleObject?.text) {
    const fontSize = (titleObject as { font?: { size?: number } }).font?.size ?? 17;
    const text = typeof layout.width === "number"
      ? wrapTitle(titleObject.text, layout.width - 20, fontSize)
      : titleObject.text;
    layout.title = titleObject.x === undefined && titleObject.y === undefined
      ? {
        x: 0.01,
        xref: "container",
        xanchor: "left",
        y: 1,
        yref: "container",
        yanchor: "top",
        pad: { t: TITLE_PAD },
        ...titleObject,
        text,
      }
      : { ...titleObject, text };
    const lines = text.split("<br>").length;
    const need = TITLE_PAD + 34 + (lines - 1) * Math.round(fontSize * 1.3);
    const margin = (layout.margin ?? {}) as Record<string, number>;
    if (margin.t === undefined || margin.t < need) {
      layout.margin = { ...margin, t: Math.max(margin.t ?? 0, need) };
      if (typeof layout.height === "number" && margin.t !== undefined) {
        layout.height += need - margin.t; // keep the plot area's height
      }
    }
  }
  const cartesian = figure.data.length === 0 ||
    figure.data.some((t) => !/3d|table|pie|sunburst|treemap|parcoords/.test(String(t.type)));
  const axisIds = new Set<string>();
  for (const key of Object.keys(layout)) if (/^[xy]axis\d*$/.test(key)) axisIds.add(key);
  if (cartesian) {
    for (const t of figure.data) {
      if (/3d|table/.test(String(t.type))) continue;
      axisIds.add(String(t.xaxis ?? "x").replace("x", "xaxis"));
      axisIds.add(String(t.yaxis ?? "y").replace("y", "yaxis"));
    }
  }
  for (const key of axisIds) {
    let axis: Axis = { ...(layout[key] as Axis | undefined ?? {}) };
    if (axis.type === "log") {
      const letter = key[0] as "x" | "y";
      axis = decadeAxis(axis, positiveExtent(figure.data, letter, key.replace("axis", "")));
    }
    if (axis.type !== "category" && axis.hoverformat === undefined) {
      axis.hoverformat = plotlyFormat(3);
    }
    layout[key] = axis;
  }
  const config = { ...PLOT_CONFIG, ...(figure.config ?? {}) };
  return { ...figure, layout, config };
}
