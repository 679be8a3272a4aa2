/**
 * Non-linear projections for plotting embeddings (exact t-SNE, UMAP through `umap-js`), both
 * seeded with the project's {@linkcode createRng}, one entry point for PCA/t-SNE/UMAP in 2-D or
 * 3-D, and a scatter builder for 2-D and 3-D projections coloured by class with image thumbnails
 * on hover.
 *
 * Hover thumbnails: each point carries a PNG data URI in `customdata`. Plotly's hover labels
 * render only a few text tags (no `<img>`), so the hover label shows the class and index, and
 * {@linkcode figureHtmlPage} (used by `show()` and the exported HTML) adds a small script that
 * shows the hovered point's image in a panel beside the plot.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { UMAP } from "umap-js";
import { createRng } from "../data/random.ts";
import { pairwiseDistances } from "../distances.ts";
import { checkFiniteTensor, checkFiniteValues } from "../validate.ts";
import { CLASS_COLORS, type PlotlyFigure } from "./figures.ts";
import { pca } from "./projection.ts";
import { imageDataUris } from "./gallery.ts";

/**
 * Options of {@linkcode tsne}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { tsne, type TsneOptions } from "./projections.ts";
 * const options: TsneOptions = { components: 3, perplexity: 10, iterations: 300, seed: 1 };
 * const y = await tsne(tf.randomNormal([40, 8]) as tf.Tensor2D, options);
 * assert.equal(y.length, 40 * 3);
 * ```
 */
export interface TsneOptions {
  /** Output dimension (2 or 3). Default 2. */
  components?: number;
  /** Perplexity (effective number of neighbours). Default 30 (capped at (n − 1) / 3). */
  perplexity?: number;
  /** Gradient-descent iterations. Default 500. */
  iterations?: number;
  /** Seed of the initial layout. Default 0. */
  seed?: number;
  /** Learning rate; default max(n / 12 / 4, 50), scikit-learn's `"auto"`. */
  learningRate?: number;
}

/**
 * Largest input {@linkcode tsne} accepts: exact t-SNE costs O(n²) per iteration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TSNE_MAX_POINTS } from "./projections.ts";
 * assert.equal(Math.min(5000, TSNE_MAX_POINTS), 2000);
 * ```
 */
export const TSNE_MAX_POINTS = 2000;

function toRows(
  x: tf.Tensor2D | Float32Array,
  dims?: number,
): { data: Float32Array; n: number; d: number } {
  if (x instanceof Float32Array) {
    if (!dims) throw new Error("projection: the dimension is needed with a Float32Array");
    return { data: x, n: x.length / dims, d: dims };
  }
  return { data: x.dataSync() as Float32Array, n: x.shape[0], d: x.shape[1] };
}

/**
 * Exact t-SNE (van der Maaten & Hinton, 2008): Gaussian affinities calibrated by binary search to
 * the perplexity, symmetrised; Student-t affinities in the output; gradient descent with momentum
 * (0.5, then 0.8), per-coordinate gains, and early exaggeration (12) for the first 250 iterations.
 * For at most {@linkcode TSNE_MAX_POINTS} points.
 *
 * @param x `[n, d]`
 * @returns `[n, components]` row-major
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { tsne } from "./projections.ts";
 * const y = await tsne(tf.randomNormal([50, 8], 0, 1, "float32", 1) as tf.Tensor2D, { iterations: 100 });
 * assert.equal(y.length, 100); // 50 points × 2 components
 * ```
 */
export async function tsne(x: tf.Tensor2D, options: TsneOptions = {}): Promise<Float32Array> {
  const n = x.shape[0];
  const k = options.components ?? 2;
  checkFiniteTensor("tsne", "x", x);
  if (n < 4) throw new Error(`tsne: need at least 4 points, got ${n}`);
  if (n > TSNE_MAX_POINTS) {
    throw new Error(`tsne: exact t-SNE takes at most ${TSNE_MAX_POINTS} points, got ${n}`);
  }
  const perplexity = Math.min(options.perplexity ?? 30, (n - 1) / 3);
  const iterations = options.iterations ?? 500;
  const exaggeration = 12;
  const eta = options.learningRate ?? Math.max(n / exaggeration / 4, 50);
  const sq = pairwiseDistances(x, x, "sqeuclidean");
  const dist = new Float64Array(await sq.data());
  sq.dispose();

  // Conditional affinities p_{j|i} with the bandwidth set by the perplexity.
  const p = new Float64Array(n * n);
  const target = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    let beta = 1;
    let lo = 0;
    let hi = Infinity;
    const row = dist.subarray(i * n, (i + 1) * n);
    let minD = Infinity;
    for (let j = 0; j < n; j++) if (j !== i && row[j] < minD) minD = row[j];
    for (let it = 0; it < 64; it++) {
      let sum = 0;
      let weighted = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const e = Math.exp(-(row[j] - minD) * beta);
        p[i * n + j] = e;
        sum += e;
        weighted += (row[j] - minD) * e;
      }
      const entropy = Math.log(sum) + beta * weighted / sum;
      for (let j = 0; j < n; j++) p[i * n + j] /= sum;
      const diff = entropy - target;
      if (Math.abs(diff) < 1e-5) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
  }
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      P[i * n + j] = Math.max((p[i * n + j] + p[j * n + i]) / (2 * n), 1e-12);
    }
  }

  const rng = createRng(options.seed ?? 0);
  const y = new Float64Array(n * k).map(() => rng.normal() * 1e-4);
  const update = new Float64Array(n * k);
  const gains = new Float64Array(n * k).fill(1);
  const num = new Float64Array(n * n);
  const grad = new Float64Array(n * k);
  for (let it = 0; it < iterations; it++) {
    const exag = it < 250 ? exaggeration : 1;
    const momentum = it < 250 ? 0.5 : 0.8;
    let sumNum = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let d2 = 0;
        for (let c = 0; c < k; c++) {
          const t = y[i * k + c] - y[j * k + c];
          d2 += t * t;
        }
        const v = 1 / (1 + d2);
        num[i * n + j] = v;
        num[j * n + i] = v;
        sumNum += 2 * v;
      }
    }
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const v = num[i * n + j];
        const mult = (exag * P[i * n + j] - v / sumNum) * v;
        for (let c = 0; c < k; c++) grad[i * k + c] += 4 * mult * (y[i * k + c] - y[j * k + c]);
      }
    }
    for (let t = 0; t < n * k; t++) {
      gains[t] = Math.sign(grad[t]) !== Math.sign(update[t]) ? gains[t] + 0.2 : gains[t] * 0.8;
      if (gains[t] < 0.01) gains[t] = 0.01;
      update[t] = momentum * update[t] - eta * gains[t] * grad[t];
      y[t] += update[t];
    }
    // Keep the layout centred.
    for (let c = 0; c < k; c++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += y[i * k + c];
      mean /= n;
      for (let i = 0; i < n; i++) y[i * k + c] -= mean;
    }
    if (it % 50 === 49) await new Promise((r) => setTimeout(r, 0)); // stay responsive
  }
  return Float32Array.from(y);
}

/**
 * Options of {@linkcode umap}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { umap, type UmapOptions } from "./projections.ts";
 * const options: UmapOptions = { neighbors: 10, minDist: 0.2, epochs: 100, seed: 3 };
 * const y = await umap(tf.randomNormal([40, 8]) as tf.Tensor2D, options);
 * assert.equal(y.length, 40 * 2);
 * ```
 */
export interface UmapOptions {
  /** Output dimension. Default 2. */
  components?: number;
  /** Neighbours of the fuzzy graph. Default 15. */
  neighbors?: number;
  /** Minimum distance between embedded points. Default 0.1. */
  minDist?: number;
  /** Optimisation epochs; default umap-js's choice (by data size). */
  epochs?: number;
  /** Seed for every random choice umap-js makes. Default 0. */
  seed?: number;
}

/**
 * UMAP (McInnes et al., 2018) through the `umap-js` package, its randomness drawn from
 * {@linkcode createRng}, so that a seed fixes the layout.
 *
 * @param x `[n, d]`
 * @returns `[n, components]` row-major
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { umap } from "./projections.ts";
 * const y = await umap(tf.randomNormal([60, 8], 0, 1, "float32", 1) as tf.Tensor2D, { epochs: 50 });
 * assert.equal(y.length, 120); // 60 points × 2 components
 * ```
 */
export async function umap(x: tf.Tensor2D, options: UmapOptions = {}): Promise<Float32Array> {
  const { data, n, d } = toRows(x);
  checkFiniteValues("umap", "x", data, d);
  const k = options.components ?? 2;
  const rng = createRng(options.seed ?? 0);
  const neighbors = Math.min(options.neighbors ?? 15, n - 1);
  if (n < 3) throw new Error(`umap: need at least 3 points, got ${n}`);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(data.subarray(i * d, (i + 1) * d)));
  const model = new UMAP({
    nComponents: k,
    nNeighbors: neighbors,
    minDist: options.minDist ?? 0.1,
    nEpochs: options.epochs,
    random: () => rng.next(),
  });
  const out = await model.fitAsync(rows);
  return Float32Array.from(out.flat());
}

/**
 * A projection method for {@linkcode project}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProjectionMethod } from "./projections.ts";
 * const methods: ProjectionMethod[] = ["pca", "tsne", "umap"];
 * assert.equal(methods.length, 3);
 * ```
 */
export type ProjectionMethod = "pca" | "tsne" | "umap";

/**
 * Projects `[n, d]` embeddings to `components` (2 or 3) dimensions with PCA, t-SNE or UMAP.
 *
 * @returns `[n, components]` row-major
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { project } from "./projections.ts";
 * const y = await project(tf.randomNormal([20, 5]) as tf.Tensor2D, "pca", 3);
 * assert.equal(y.length, 60);
 * ```
 */
export async function project(
  x: tf.Tensor2D,
  method: ProjectionMethod = "pca",
  components = 2,
  options: { seed?: number; iterations?: number; perplexity?: number; neighbors?: number } = {},
): Promise<Float32Array> {
  if (components !== 2 && components !== 3) {
    throw new Error(`project: components must be 2 or 3, got ${components}`);
  }
  checkFiniteTensor("project", "x", x);
  switch (method) {
    case "pca":
      return (await pca(x, Math.min(components, x.shape[1]))).points;
    case "tsne":
      return await tsne(x, { components, ...options });
    case "umap":
      return await umap(x, { components, seed: options.seed, neighbors: options.neighbors });
    default:
      throw new Error(`project: unknown method "${method}"; use pca, tsne or umap`);
  }
}

/**
 * Options of {@linkcode projectionScatter}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { projectionScatter, type ProjectionScatterOptions } from "./projections.ts";
 * const options: ProjectionScatterOptions = { classNames: ["a", "b"], title: "demo" };
 * const fig = projectionScatter([0, 0, 1, 1], 2, [0, 1], options);
 * assert.deepEqual(fig.data.map((t) => t.name), ["a", "b"]);
 * ```
 */
export interface ProjectionScatterOptions {
  /** Names indexed by label. */
  classNames?: readonly string[];
  /** Title. */
  title?: string;
  /** PNG data URIs, one per point (see `imageDataUris`), shown beside the plot on hover. */
  thumbnails?: readonly string[];
  /** Axis titles; default "component 1", "component 2", "component 3". */
  axisTitles?: readonly string[];
  /** Marker size. Default 5 (2-D) or 3 (3-D). */
  markerSize?: number;
}

/**
 * A scatter of projected points, one trace per class in the shared class colours, in 2-D
 * (`scatter`) or 3-D (`scatter3d`) according to `components`. With `thumbnails`, each point's
 * `customdata` is its image's data URI (hover shows it in HTML output; see the module notes).
 *
 * @param points `[n, components]` row-major
 * @param labels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { projectionScatter } from "./projections.ts";
 * const fig = projectionScatter(new Float32Array([0, 0, 0, 1, 1, 1]), 3, [0, 1]);
 * assert.equal(fig.data[0].type, "scatter3d");
 * ```
 */
export function projectionScatter(
  points: ArrayLike<number>,
  components: number,
  labels: ArrayLike<number>,
  options: ProjectionScatterOptions = {},
): PlotlyFigure {
  if (components !== 2 && components !== 3) {
    throw new Error(`projectionScatter: components must be 2 or 3, got ${components}`);
  }
  const n = labels.length;
  if (points.length !== n * components) {
    throw new Error(
      `projectionScatter: ${points.length} coordinates for ${n} labels × ${components}`,
    );
  }
  if (options.thumbnails && options.thumbnails.length !== n) {
    throw new Error(`projectionScatter: ${options.thumbnails.length} thumbnails for ${n} points`);
  }
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const axisNames = options.axisTitles ?? ["component 1", "component 2", "component 3"];
  const is3d = components === 3;
  const data = classes.map((c) => {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (labels[i] === c) idx.push(i);
    const coord = (j: number) =>
      idx.map((i) => Number(Number(points[i * components + j]).toFixed(4)));
    const name = options.classNames?.[c] ?? String(c);
    return {
      type: is3d ? "scatter3d" : "scatter",
      mode: "markers",
      name,
      x: coord(0),
      y: coord(1),
      ...(is3d ? { z: coord(2) } : {}),
      text: idx.map((i) => `#${i}`),
      ...(options.thumbnails ? { customdata: idx.map((i) => options.thumbnails![i]) } : {}),
      hovertemplate: `${name} %{text}<extra></extra>`,
      marker: {
        size: options.markerSize ?? (is3d ? 3 : 5),
        opacity: 0.75,
        color: CLASS_COLORS[c % CLASS_COLORS.length],
      },
    };
  });
  const axis = (t: string) => ({ title: { text: t }, zeroline: false });
  const layout: Record<string, unknown> = {
    title: { text: options.title ?? "Embeddings" },
    legend: { itemsizing: "constant" },
    hovermode: "closest",
    width: 720,
    height: 560,
  };
  if (is3d) {
    layout.scene = {
      xaxis: axis(axisNames[0]),
      yaxis: axis(axisNames[1]),
      zaxis: axis(axisNames[2]),
    };
    layout.margin = { l: 0, r: 0, t: 50, b: 0 };
  } else {
    layout.xaxis = axis(axisNames[0]);
    layout.yaxis = axis(axisNames[1]);
  }
  if (options.thumbnails) layout.meta = { hoverImages: true };
  return { data, layout };
}

/**
 * Options of {@linkcode embeddingFigure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EmbeddingFigureOptions } from "./projections.ts";
 * const options: EmbeddingFigureOptions = { method: "tsne", components: 2, seed: 0 };
 * assert.equal(options.method, "tsne");
 * ```
 */
export interface EmbeddingFigureOptions {
  /** Projection. Default `"pca"`. */
  method?: ProjectionMethod;
  /** 2 or 3. Default 2. */
  components?: number;
  /** Seed of t-SNE/UMAP. Default 0. */
  seed?: number;
  /** The images `[n, 28, 28(, 1)]` behind the embeddings, for hover thumbnails. */
  images?: Float32Array;
  /** Names indexed by label. */
  classNames?: readonly string[];
  /** Title; default names the projection. */
  title?: string;
  /** t-SNE iterations (default 500). */
  iterations?: number;
}

/**
 * Embeddings → projection (PCA, t-SNE or UMAP, 2-D or 3-D) → scatter coloured by class, with the
 * images as hover thumbnails when given.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { embeddingFigure } from "./projections.ts";
 * const fig = await embeddingFigure(tf.randomNormal([30, 4]) as tf.Tensor2D, Array(30).fill(0), {
 *   method: "umap",
 *   components: 3,
 * });
 * assert.equal(fig.data[0].type, "scatter3d");
 * ```
 */
export async function embeddingFigure(
  embeddings: tf.Tensor2D,
  labels: ArrayLike<number>,
  options: EmbeddingFigureOptions = {},
): Promise<PlotlyFigure> {
  const method = options.method ?? "pca";
  const components = options.components ?? 2;
  const points = await project(embeddings, method, components, {
    seed: options.seed,
    iterations: options.iterations,
  });
  const n = embeddings.shape[0];
  let thumbnails: string[] | undefined;
  if (options.images) {
    thumbnails = await imageDataUris(options.images, Array.from({ length: n }, (_, i) => i));
  }
  const name = { pca: "PCA", tsne: "t-SNE", umap: "UMAP" }[method];
  return projectionScatter(points, components, labels, {
    classNames: options.classNames,
    thumbnails,
    title: options.title ?? `Embeddings (${name}, ${components}-D)`,
    axisTitles: [1, 2, 3].map((i) => `${name} ${i}`),
  });
}

/**
 * A 2-D scatter of projected embeddings, one trace per class (the same figure as
 * `projectionScatter(points, 2, labels, ...)`, with component axes).
 *
 * @param points `[n, 2]` row-major
 * @param labels `[n]`
 * @param classNames names indexed by label
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingScatter } from "./projections.ts";
 * const fig = embeddingScatter(new Float32Array([0, 0, 1, 1]), [0, 1], ["a", "b"], "demo");
 * assert.equal(fig.data.length, 2);
 * ```
 */
export function embeddingScatter(
  points: Float32Array | number[],
  labels: ArrayLike<number>,
  classNames: readonly string[],
  title = "Embeddings",
): PlotlyFigure {
  if (points.length !== labels.length * 2) {
    throw new Error(`embeddingScatter: ${points.length} coordinates for ${labels.length} labels`);
  }
  return projectionScatter(points, 2, labels, { classNames, title, markerSize: 4 });
}
