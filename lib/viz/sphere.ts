/**
 * Embeddings on the unit circle or sphere with a loss's learned class vectors (proxies, class
 * weight columns, SoftTriple's centers): what classification and proxy losses shape.
 *
 * @module
 */
import { CLASS_COLORS, type PlotlyFigure } from "./figures.ts";

/** Options of {@linkcode sphereFigure}. */
export interface SphereFigureOptions {
  /** Class vectors `[k, dim]` row-major (drawn as rays from the origin to the unit sphere). */
  proxies?: ArrayLike<number>;
  /** The class of each proxy (default: row `i` is class `i`). */
  proxyLabels?: ArrayLike<number>;
  /** Names indexed by label. */
  classNames?: readonly string[];
  /** Title. */
  title?: string;
  /** Width and height in CSS pixels. Default 620. */
  size?: number;
}

const r5 = (v: number) => Number(v.toFixed(5));

/** Rows of `[n, dim]` scaled to unit length (a zero row stays 0). */
function unitRows(values: ArrayLike<number>, dim: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < values.length / dim; i++) {
    const row = Array.from({ length: dim }, (_, j) => values[i * dim + j]);
    const norm = Math.hypot(...row);
    rows.push(row.map((v) => r5(norm > 0 ? v / norm : 0)));
  }
  return rows;
}

/**
 * A scatter of embeddings scaled to the unit circle (`dim` 2) or sphere (`dim` 3), one colour
 * per class, with the unit circle (or a wire sphere) and, when given, the loss's class vectors
 * as rays from the origin ending in a diamond of the class's colour.
 *
 * @param embeddings `[n, dim]` row-major
 * @param labels `[n]`
 * @param dim 2 or 3
 * @throws Error for another `dim`, or lengths that do not match.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sphereFigure } from "./sphere.ts";
 * const fig = sphereFigure([1, 0, 0, 2], [0, 1], 2, { proxies: [0.9, 0.1, 0.1, 0.9] });
 * assert.equal(fig.data.length, 5); // circle + 2 classes + 2 proxies
 * ```
 */
export function sphereFigure(
  embeddings: ArrayLike<number>,
  labels: ArrayLike<number>,
  dim: 2 | 3,
  options: SphereFigureOptions = {},
): PlotlyFigure {
  if (dim !== 2 && dim !== 3) throw new Error(`sphereFigure: dim must be 2 or 3, got ${dim}`);
  if (embeddings.length !== labels.length * dim) {
    throw new Error(
      `sphereFigure: ${embeddings.length} values for ${labels.length} labels of dimension ${dim}`,
    );
  }
  const proxies = options.proxies ? unitRows(options.proxies, dim) : [];
  if (options.proxies && options.proxies.length % dim !== 0) {
    throw new Error(`sphereFigure: proxies have ${options.proxies.length} values, not k × ${dim}`);
  }
  const proxyLabels = options.proxyLabels ?? proxies.map((_, i) => i);
  if (proxyLabels.length !== proxies.length) {
    throw new Error(
      `sphereFigure: ${proxyLabels.length} proxy labels for ${proxies.length} proxies`,
    );
  }
  const names = options.classNames ?? [];
  const points = unitRows(embeddings, dim);
  const type = dim === 2 ? "scatter" : "scatter3d";
  const axis = ["x", "y", "z"].slice(0, dim);
  const coords = (rows: number[][]) =>
    Object.fromEntries(axis.map((a, j) => [a, rows.map((r) => r[j])]));
  const data: Record<string, unknown>[] = [];
  // The unit circle, or three great circles of the unit sphere.
  const t = Array.from({ length: 73 }, (_, i) => (i * 2 * Math.PI) / 72);
  const circle = (f: (a: number) => number[]) => coords(t.map((a) => f(a).map(r5)));
  const rings = dim === 2 ? [circle((a) => [Math.cos(a), Math.sin(a)])] : [
    circle((a) => [Math.cos(a), Math.sin(a), 0]),
    circle((a) => [Math.cos(a), 0, Math.sin(a)]),
    circle((a) => [0, Math.cos(a), Math.sin(a)]),
  ];
  rings.forEach((xyz, i) =>
    data.push({
      type,
      mode: "lines",
      ...xyz,
      name: dim === 2 ? "unit circle" : "unit sphere",
      showlegend: i === 0,
      hoverinfo: "skip",
      line: { color: "#bbbbbb", width: 1 },
    })
  );
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  for (const c of classes) {
    const rows = points.filter((_, i) => labels[i] === c);
    data.push({
      type,
      mode: "markers",
      name: names[c] ?? `class ${c}`,
      ...coords(rows),
      marker: {
        size: dim === 2 ? 5 : 2.5,
        opacity: 0.6,
        color: CLASS_COLORS[c % CLASS_COLORS.length],
      },
    });
  }
  proxies.forEach((p, i) => {
    const c = proxyLabels[i];
    data.push({
      type,
      mode: "lines+markers",
      name: `${names[c] ?? `class ${c}`} (learned)`,
      legendgroup: "proxies",
      showlegend: i === 0 || proxyLabels[i - 1] !== c,
      ...coords([p.map(() => 0), p]),
      line: { color: CLASS_COLORS[c % CLASS_COLORS.length], width: 4 },
      marker: {
        size: [0, dim === 2 ? 14 : 6],
        symbol: "diamond",
        color: CLASS_COLORS[c % CLASS_COLORS.length],
        line: { color: "black", width: 1 },
      },
    });
  });
  const size = options.size ?? 620;
  const range = [-1.15, 1.15];
  const layout: Record<string, unknown> = {
    title: { text: options.title ?? "" },
    width: size + 120,
    height: size,
    legend: { itemsizing: "constant" },
  };
  if (dim === 2) {
    layout.xaxis = { range, zeroline: false, title: { text: "e₁ / ‖e‖" } };
    layout.yaxis = { range, zeroline: false, scaleanchor: "x", title: { text: "e₂ / ‖e‖" } };
  } else {
    layout.scene = {
      aspectmode: "cube",
      xaxis: { range },
      yaxis: { range },
      zaxis: { range },
    };
  }
  return { data, layout };
}
