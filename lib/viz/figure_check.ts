/**
 * Checks that figures really draw, in the real browser: every figure is rendered in headless
 * Chromium (Debian's `chromium`, as `export.ts` uses) exactly as a notebook or an HTML page shows
 * it (through {@linkcode figureHtmlFragment}, hover image panel included), on a page of a given
 * width (default 1,200 CSS px), all figures in one browser session. For each figure it reports:
 *
 * - **marks**: for every visible trace, the marks it drew inside its plot area — points and line
 *   segments of scatter traces, bars of bar charts and histograms, the image of a heatmap, the cells
 *   of a table, and for WebGL traces (`scatter3d`, `scattergl`) the pixels that change when the trace
 *   is shown; and every layout image (image strips, galleries) drawn inside the plot area. A trace
 *   whose data its axes cannot place (category labels on a numeric axis) draws nothing and fails;
 * - **fit**: the figure (with its hover panel) fits the page width, and its legend, colour bar and
 *   title lie inside the figure;
 * - **style**: the Plotly toolbar does not cover the title; a log axis labels decades only.
 *
 * @module
 */
import type { PlotlyFigure } from "./figures.ts";
import { figureHtmlFragment } from "./display.ts";
import { chromiumDumpDom } from "./export.ts";
import { plotlyJsUrl } from "./_plotly.ts";

/**
 * A figure to check, with a name for the report.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NamedFigure } from "./figure_check.ts";
 * const item: NamedFigure = { name: "loss", figure: { data: [], layout: {} } };
 * assert.equal(item.figure.data.length, 0);
 * ```
 */
export interface NamedFigure {
  /** Shown in problems, e.g. `"03_siamese_contrastive.ipynb #4"`. */
  name: string;
  /** The figure as displayed. */
  figure: PlotlyFigure;
  /** Render it as a static export does (`staticPlot`: no toolbar, no interaction). */
  static?: boolean;
}

/**
 * What one trace drew.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TraceMarks } from "./figure_check.ts";
 * const t: TraceMarks = { index: 0, type: "bar", name: "MAP@R", marks: 4 };
 * assert.equal(t.marks, 4);
 * ```
 */
export interface TraceMarks {
  /** Trace index in `figure.data`. */
  index: number;
  /** Trace type. */
  type: string;
  /** Trace name. */
  name: string;
  /** Marks drawn inside the plot area (points, segments, bars, images, cells, changed pixels). */
  marks: number;
}

/**
 * The check of one figure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FigureReport } from "./figure_check.ts";
 * const r: FigureReport = { name: "f", ok: true, problems: [], width: 640, traces: [], images: 0 };
 * assert.equal(r.ok, r.problems.length === 0);
 * ```
 */
export interface FigureReport {
  /** The figure's name. */
  name: string;
  /** True when there is no problem. */
  ok: boolean;
  /** What is wrong, one sentence each. */
  problems: string[];
  /** Width taken on the page, CSS px (figure and hover panel). */
  width: number;
  /** Per visible trace, its marks. */
  traces: TraceMarks[];
  /** Layout images drawn inside the plot area. */
  images: number;
}

/**
 * Options of {@linkcode checkFigures}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CheckFiguresOptions } from "./figure_check.ts";
 * const options: CheckFiguresOptions = { pageWidth: 1200, timeoutMs: 120_000 };
 * assert.equal(options.pageWidth, 1200);
 * ```
 */
export interface CheckFiguresOptions {
  /** Page width in CSS px. Default 1200. */
  pageWidth?: number;
  /** Chromium binary; default `findChromium()`. */
  chromium?: string;
  /** Virtual-time budget of the page, ms. Default 120,000. */
  timeoutMs?: number;
}

function plotlyScriptUrl(): string {
  return plotlyJsUrl().href;
}

/** The in-page checker: runs after every fragment has been inserted. */
const CHECKER = String.raw`
(async () => {
  const PAGE = __PAGE__;
  const N = __N__;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const inside = (r, box) => {
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    return cx >= box.left - 1 && cx <= box.right + 1 && cy >= box.top - 1 && cy <= box.bottom + 1;
  };
  const overlaps = (a, b) =>
    a.right > a.left && b.right > b.left && a.left < b.right && b.left < a.right &&
    a.top < b.bottom && b.top < a.bottom;
  const finite = (v) => Number.isFinite(v);
  // Pixels differing between two PNG data URLs inside a box (figure coordinates).
  const load = (src) => new Promise((res, rej) => {
    const im = new Image();
    im.onload = () => res(im);
    im.onerror = () => rej(new Error("image did not load"));
    im.src = src;
  });
  const pixels = async (src, w, h) => {
    const im = await load(src);
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    const ctx = c.getContext("2d");
    ctx.drawImage(im, 0, 0, w, h);
    return ctx.getImageData(0, 0, w, h).data;
  };
  // WebGL traces: pixels that change when only this trace is shown. A 3-D scene is rendered on
  // its own (the scene's snapshot: fast, and without the legend); other WebGL traces through
  // Plotly.toImage, inside their box, legend symbols left out. The first renders after a restyle
  // differ slightly from later ones, so one round is drawn first; then each trace's render is
  // compared with the all-hidden render.
  const glMarks = async (gd, indices, boxes, sceneName) => {
    const fl = gd._fullLayout;
    const scene = sceneName && fl[sceneName] && fl[sceneName]._scene;
    const saved = gd.data.map((t) => (t.opacity === undefined ? 1 : t.opacity));
    let w = fl.width, h = fl.height;
    const render = async () => {
      if (scene && scene.toImage) {
        const im = await load(scene.toImage("png"));
        w = im.width;
        h = im.height;
        return await pixels(im.src, w, h);
      }
      return await pixels(await Plotly.toImage(gd, { format: "png", width: w, height: h }), w, h);
    };
    const shot = async (visible) => {
      await Plotly.restyle(gd, { opacity: saved.map((o, i) => (visible === i ? o : 0)) });
      return await render();
    };
    const g = gd.getBoundingClientRect();
    const skip = scene ? [] : [...gd.querySelectorAll(".legend, .colorbar")].map((el) => {
      const r = el.getBoundingClientRect();
      return { left: r.left - g.left, right: r.right - g.left, top: r.top - g.top, bottom: r.bottom - g.top };
    });
    const skipped = (x, y) =>
      skip.some((r) => x >= r.left - 2 && x <= r.right + 2 && y >= r.top - 2 && y <= r.bottom + 2);
    await shot(indices[0]);
    const base = await shot(-1);
    const out = [];
    for (let j = 0; j < indices.length; j++) {
      const one = await shot(indices[j]);
      const box = scene ? { left: 0, top: 0, right: w, bottom: h } : boxes[j];
      // Changed pixels; isolated ones (anti-aliasing of the scene's text) do not count: a pixel
      // counts when at least two of its four neighbours changed too.
      const mask = new Uint8Array(w * h);
      for (let y = Math.max(0, Math.floor(box.top)); y < Math.min(h, box.bottom); y++) {
        for (let x = Math.max(0, Math.floor(box.left)); x < Math.min(w, box.right); x++) {
          const k = 4 * (y * w + x);
          if (skipped(x, y)) continue;
          if (Math.abs(base[k] - one[k]) + Math.abs(base[k + 1] - one[k + 1]) +
              Math.abs(base[k + 2] - one[k + 2]) > 30) mask[y * w + x] = 1;
        }
      }
      let changed = 0;
      for (let y = 1; y < h - 1; y++) {
        for (let x = 1; x < w - 1; x++) {
          const p = y * w + x;
          if (mask[p] && mask[p - 1] + mask[p + 1] + mask[p - w] + mask[p + w] >= 2) changed++;
        }
      }
      out.push(changed);
    }
    await Plotly.restyle(gd, { opacity: saved });
    return out;
  };
  const reports = [];
  for (let i = 0; i < N; i++) {
    const problems = [];
    const traces = [];
    let images = 0;
    let width = 0;
    const gd = document.getElementById("fig" + i);
    try {
      for (let t = 0; t < 2000 && !(gd && gd._fullLayout && gd.querySelector(".main-svg")); t++) {
        await sleep(20);
      }
      if (!gd || !gd._fullLayout) throw new Error("the figure was not drawn");
      await sleep(50);
      const fl = gd._fullLayout;
      const g = gd.getBoundingClientRect();
      const rel = (r) => ({
        left: r.left - g.left, right: r.right - g.left, top: r.top - g.top,
        bottom: r.bottom - g.top, width: r.width, height: r.height,
      });
      // --- fit
      const wrapper = gd.parentElement;
      let right = g.right;
      for (const c of wrapper.children) right = Math.max(right, c.getBoundingClientRect().right);
      width = Math.round(right - g.left);
      if (right > PAGE + 0.5) {
        problems.push("is " + Math.round(right) + " px wide: does not fit a " + PAGE + " px page");
      }
      const box = { left: 0, top: 0, right: fl.width, bottom: fl.height };
      for (const [sel, what] of [[".legend", "legend"], [".colorbar", "colour bar"], [".gtitle", "title"]]) {
        for (const el of gd.querySelectorAll(sel)) {
          const r = rel(el.getBoundingClientRect());
          if (r.width === 0) continue;
          if (r.left < -1 || r.right > fl.width + 1 || r.top < -1 || r.bottom > fl.height + 1) {
            problems.push("its " + what + " reaches outside the figure (" +
              [r.left, r.top, r.right, r.bottom].map(Math.round).join(", ") + " in " +
              fl.width + " × " + fl.height + ")");
          }
        }
      }
      const title = gd.querySelector(".gtitle");
      const bar = gd.querySelector(".modebar");
      if (title && title.textContent && bar) {
        const a = rel(title.getBoundingClientRect()), b = rel(bar.getBoundingClientRect());
        if (overlaps(a, b)) problems.push("the Plotly toolbar covers the title");
      }
      // --- log axes: labels at powers of ten only
      for (const key of Object.keys(fl)) {
        const ax = fl[key];
        if (!/^[xy]axis\d*$/.test(key) || !ax || ax.type !== "log" || !ax._vals) continue;
        const bad = ax._vals.filter((v) =>
          !v.minor && typeof v.text === "string" && v.text !== "" &&
          Math.abs(v.x - Math.round(v.x)) > 1e-6
        );
        if (bad.length) {
          problems.push(key + " (log) labels " + bad.map((v) => '"' + v.text + '"').join(", ") +
            ": label decades only");
        }
      }
      // --- layout images
      const imgs = fl.images || [];
      if (imgs.length) {
        for (const el of gd.querySelectorAll(".imagelayer image")) {
          const w = parseFloat(el.getAttribute("width")), h = parseFloat(el.getAttribute("height"));
          if (!finite(w) || !finite(h) || w <= 0 || h <= 0) continue;
          if (inside(rel(el.getBoundingClientRect()), box)) images++;
        }
        if (images < imgs.length) {
          problems.push("drew " + images + " of its " + imgs.length + " images inside the figure");
        }
      }
      // --- traces
      const gl = [];
      for (const t of gd._fullData) {
        if (t.visible !== true) continue;
        const index = t.index;
        const name = (gd.data[t.index] && gd.data[t.index].name) || "";
        let marks = 0;
        const cd = gd.calcdata[index];
        const node = cd && cd[0] && cd[0].node3 ? cd[0].node3.node() : null;
        let area = box;
        if (t.xaxis && t.yaxis && fl[t.xaxis.replace("x", "xaxis")]) {
          const xa = fl[t.xaxis.replace("x", "xaxis")], ya = fl[t.yaxis.replace("y", "yaxis")];
          area = { left: xa._offset, right: xa._offset + xa._length, top: ya._offset, bottom: ya._offset + ya._length };
        }
        if (t.type === "table") {
          marks = [...gd.querySelectorAll(".table .cell-text")].filter((el) => el.textContent !== "").length;
        } else if (t.type === "heatmap" || t.type === "histogram2d" || t.type === "contour") {
          if (node) {
            for (const el of node.querySelectorAll("image, path")) {
              const r = rel(el.getBoundingClientRect());
              const w = parseFloat(el.getAttribute("width") || String(r.width));
              const h = parseFloat(el.getAttribute("height") || String(r.height));
              if (finite(w) && finite(h) && w > 0 && h > 0 && overlaps(r, area)) marks++;
            }
          }
        } else if (/gl|3d/.test(t.type)) {
          let sceneBox = box;
          if (t.scene && fl[t.scene]) {
            const d = fl[t.scene].domain, s = fl._size;
            sceneBox = {
              left: s.l + d.x[0] * s.w, right: s.l + d.x[1] * s.w,
              top: s.t + (1 - d.y[1]) * s.h, bottom: s.t + (1 - d.y[0]) * s.h,
            };
          } else {
            sceneBox = area;
          }
          gl.push({ index, box: sceneBox, entry: traces.length, scene: t.scene });
        } else if (node) {
          const els = node.querySelectorAll("path.point, path.js-line, path.js-fill, .points path, text.textpoint");
          for (const el of els) {
            const d = el.getAttribute("d");
            if (el.tagName === "path" && (!d || d === "M0,0Z" || /NaN/.test(d))) continue;
            const r = rel(el.getBoundingClientRect());
            // A point or bar has an area (a zero-height bar is no mark); a line may be flat.
            const drawn = el.classList.contains("point") ? r.width > 0 && r.height > 0
              : r.width > 0 || r.height > 0;
            if (drawn && (inside(r, area) || overlaps(r, area))) marks++;
          }
        }
        traces.push({ index, type: t.type, name, marks });
      }
      for (const sceneName of new Set(gl.map((g) => g.scene))) {
        const group = gl.filter((g) => g.scene === sceneName);
        const counts = await glMarks(gd, group.map((g) => g.index), group.map((g) => g.box), sceneName);
        group.forEach((g, j) => (traces[g.entry].marks = counts[j]));
      }
      for (const t of traces) {
        if (t.marks === 0) {
          problems.push("trace " + t.index + " (" + t.type + (t.name ? ' "' + t.name + '"' : "") +
            ") drew nothing inside its plot area");
        }
      }
    } catch (e) {
      problems.push("could not be checked: " + (e && e.message ? e.message : String(e)));
    }
    reports.push({ problems, traces, images, width });
  }
  const out = document.createElement("pre");
  out.id = "simlearn-figure-check";
  out.textContent = JSON.stringify(reports);
  document.body.appendChild(out);
})();
`;

/**
 * Renders `figures` in one headless Chromium session, as they are displayed (HTML fragment with
 * hover panel, on a page `pageWidth` px wide), and reports for each whether every trace drew marks
 * inside its plot area, whether it fits the page, and whether its title, legend and log axes are
 * in order (see the module documentation).
 *
 * @throws Error when Chromium is missing or the page does not finish.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFigures } from "./figure_check.ts";
 * import { barFigure } from "./curves.ts";
 * const [report] = await checkFigures([
 *   { name: "bars", figure: barFigure(["a", "b"], { score: [0.4, 0.6] }) },
 * ]);
 * assert.equal(report.ok, true);
 * assert.equal(report.traces[0].marks, 2);
 * ```
 */
export async function checkFigures(
  figures: readonly NamedFigure[],
  options: CheckFiguresOptions = {},
): Promise<FigureReport[]> {
  if (figures.length === 0) return [];
  const page = options.pageWidth ?? 1200;
  const fragments: string[] = [];
  for (const [i, f] of figures.entries()) {
    fragments.push(
      `<section style="margin:0 0 16px 0">` +
        (await figureHtmlFragment(
          f.static ? { ...f.figure, config: { ...f.figure.config, staticPlot: true } } : f.figure,
          {
            id: `fig${i}`,
            plotlySrc: i === 0 ? plotlyScriptUrl() : undefined,
          },
        )) + `</section>`,
    );
  }
  const checker = CHECKER.replace("__PAGE__", String(page)).replace(
    "__N__",
    String(figures.length),
  );
  const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}</style>` +
    `</head><body>${fragments.join("\n")}<script>${checker}</script></body></html>`;
  const dom = await chromiumDumpDom(html, {
    chromium: options.chromium,
    timeoutMs: options.timeoutMs ?? 120_000,
    windowSize: [page, 900],
  });
  const m = dom.match(/<pre id="simlearn-figure-check">([^<]*)<\/pre>/);
  if (!m) throw new Error("checkFigures: the check page did not finish");
  const text = m[1].replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, "&");
  const raw = JSON.parse(text) as Omit<FigureReport, "name" | "ok">[];
  return raw.map((r, i) => ({ name: figures[i].name, ok: r.problems.length === 0, ...r }));
}

/**
 * The problems of failed reports, one line each (`name: problem`), for an assertion message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { figureProblems } from "./figure_check.ts";
 * const problems = figureProblems([
 *   { name: "f", ok: false, problems: ["is 1340 px wide"], width: 1340, traces: [], images: 0 },
 * ]);
 * assert.deepEqual(problems, ["f: is 1340 px wide"]);
 * ```
 */
export function figureProblems(reports: readonly FigureReport[]): string[] {
  return reports.flatMap((r) => r.problems.map((p) => `${r.name}: ${p}`));
}
