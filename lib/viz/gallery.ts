/**
 * Images in figures: a small grayscale PNG encoder (zlib stream from `CompressionStream("deflate")`,
 * chunk CRC-32 computed here), data URIs of 28×28 images, a retrieval gallery figure (each query
 * followed by its top-k neighbours, wrong ones framed in red), and image grids and strips with
 * captions. The images are Plotly layout images (no traces), sized to stay within
 * `FIGURE_MAX_WIDTH`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { PlotlyFigure } from "./figures.ts";
import { formatNumber } from "./format.ts";
import { knn } from "../eval/knn.ts";
import { COLORS, FIGURE_MAX_WIDTH } from "./style.ts";

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (ISO-HDLC, the polynomial PNG and zlib's `crc32` use) of `bytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "./gallery.ts";
 * assert.equal(crc32(new TextEncoder().encode("123456789")).toString(16), "cbf43926");
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * The eight bytes every PNG file starts with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeGrayPng, PNG_SIGNATURE } from "./gallery.ts";
 * const isPng = (b: Uint8Array) => PNG_SIGNATURE.every((v, i) => b[i] === v);
 * assert.ok(isPng(await encodeGrayPng(new Uint8Array(4), 2, 2)));
 * ```
 */
export const PNG_SIGNATURE: readonly number[] = [137, 80, 78, 71, 13, 10, 26, 10];

/**
 * Encodes an 8-bit grayscale image as PNG (colour type 0, no interlace, filter 0 on every row).
 *
 * @param pixels `width·height` bytes, row-major, 0 = black
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeGrayPng } from "./gallery.ts";
 * const png = await encodeGrayPng(new Uint8Array(28 * 28).fill(255), 28, 28);
 * assert.equal(new TextDecoder().decode(png.slice(1, 4)), "PNG");
 * ```
 */
export async function encodeGrayPng(
  pixels: Uint8Array,
  width: number,
  height: number,
): Promise<Uint8Array> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`encodeGrayPng: bad size ${width}×${height}`);
  }
  if (pixels.length !== width * height) {
    throw new Error(`encodeGrayPng: ${pixels.length} pixels for ${width}×${height}`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, grayscale, deflate, filter method 0, no interlace
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter type None
    raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const parts = [
    new Uint8Array(PNG_SIGNATURE),
    chunk("IHDR", ihdr),
    chunk("IDAT", await deflate(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * Options of {@linkcode imageDataUri}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageDataUri, type ImageUriOptions } from "./gallery.ts";
 * const options: ImageUriOptions = { side: 28, invert: false };
 * assert.ok((await imageDataUri(new Float32Array(784), options)).startsWith("data:image/png"));
 * ```
 */
export interface ImageUriOptions {
  /** Side of the square image. Default 28. */
  side?: number;
  /** Draw dark-on-light (255 − v), as garments look on paper. Default true. */
  invert?: boolean;
}

/**
 * A `data:image/png;base64,...` URI of one square grayscale image with values in [0, 1].
 *
 * @param pixels `side²` values in [0, 1] (or 0..255 when a `Uint8Array`)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageDataUri } from "./gallery.ts";
 * const uri = await imageDataUri(new Float32Array(784));
 * assert.ok(uri.startsWith("data:image/png;base64,"));
 * ```
 */
export async function imageDataUri(
  pixels: ArrayLike<number>,
  options: ImageUriOptions = {},
): Promise<string> {
  const side = options.side ?? 28;
  const invert = options.invert ?? true;
  const scale = pixels instanceof Uint8Array ? 1 : 255;
  const bytes = new Uint8Array(side * side);
  for (let i = 0; i < bytes.length; i++) {
    const value = Math.max(0, Math.min(255, Math.round(pixels[i] * scale)));
    bytes[i] = invert ? 255 - value : value;
  }
  return `data:image/png;base64,${base64(await encodeGrayPng(bytes, side, side))}`;
}

/**
 * Data URIs of images `indices` of a row-major stack `[n, side, side]` (for hover thumbnails and
 * galleries).
 *
 * @param images `n·side²` values in [0, 1]
 * @param indices which images (default: all)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageDataUris } from "./gallery.ts";
 * const uris = await imageDataUris(new Float32Array(2 * 784), [1]);
 * assert.equal(uris.length, 1);
 * ```
 */
export async function imageDataUris(
  images: Float32Array,
  indices?: ArrayLike<number>,
  options: ImageUriOptions = {},
): Promise<string[]> {
  const size = (options.side ?? 28) ** 2;
  const which = indices ?? Array.from({ length: images.length / size }, (_, i) => i);
  const out: string[] = [];
  for (let j = 0; j < which.length; j++) {
    const i = which[j];
    if (!Number.isInteger(i) || i < 0 || (i + 1) * size > images.length) {
      throw new Error(`imageDataUris: image ${i} is out of range`);
    }
    out.push(await imageDataUri(images.subarray(i * size, (i + 1) * size), options));
  }
  return out;
}

/**
 * Input of {@linkcode retrievalGallery}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retrievalGallery, type RetrievalGalleryOptions } from "./gallery.ts";
 * const options: RetrievalGalleryOptions = {
 *   images: new Float32Array(2 * 784), labels: [0, 1], queries: [0], neighbours: [1], k: 1,
 * };
 * const fig = await retrievalGallery(options);
 * assert.equal((fig.layout.images as unknown[]).length, 2); // the query and its neighbour
 * ```
 */
export interface RetrievalGalleryOptions {
  /** Image stack `[n, 28, 28]` (or `[n, 28, 28, 1]`), values in [0, 1]. */
  images: Float32Array;
  /** Labels of the images, `[n]`. */
  labels: ArrayLike<number>;
  /** Indices of the query images. */
  queries: readonly number[];
  /** Neighbour indices, `[queries.length * k]` row-major, nearest first (as `knn` returns). */
  neighbours: ArrayLike<number>;
  /** Neighbours per query. */
  k: number;
  /** Names indexed by label. */
  classNames?: readonly string[];
  /** Distances of the neighbours (same layout as `neighbours`), shown under each image. */
  distances?: ArrayLike<number>;
  /** Title. */
  title?: string;
  /** Side of the images. Default 28. */
  side?: number;
}

/**
 * A retrieval gallery: one row per query, the query image first, then its top-k neighbours; each
 * neighbour is framed green when its class matches the query's and red when it does not. The
 * images are Plotly `layout.images` holding PNG data URIs, so the figure is self-contained.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retrievalGallery } from "./gallery.ts";
 * const fig = await retrievalGallery({
 *   images: new Float32Array(3 * 784), labels: [0, 0, 1],
 *   queries: [0], neighbours: [1, 2], k: 2,
 * });
 * assert.equal((fig.layout.images as unknown[]).length, 3);
 * ```
 */
export async function retrievalGallery(options: RetrievalGalleryOptions): Promise<PlotlyFigure> {
  const { images, labels, queries, neighbours, k } = options;
  const side = options.side ?? 28;
  if (neighbours.length !== queries.length * k) {
    throw new Error(
      `retrievalGallery: ${neighbours.length} neighbours for ${queries.length} queries × k = ${k}`,
    );
  }
  const name = (c: number) => options.classNames?.[c] ?? String(c);
  const imageEntries: Record<string, unknown>[] = [];
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const ROW = 1.35; // row pitch: the image (1) and its caption
  const gap = 0.5; // extra space between the query column and its neighbours
  const cell = (col: number) => (col === 0 ? 0 : col + gap);
  let wrong = 0;
  for (let r = 0; r < queries.length; r++) {
    const q = queries[r];
    const row = [q, ...Array.from({ length: k }, (_, j) => neighbours[r * k + j])];
    const uris = await imageDataUris(images, row, { side });
    const y = (queries.length - 1 - r) * ROW;
    for (let col = 0; col < row.length; col++) {
      const x0 = cell(col);
      imageEntries.push({
        source: uris[col],
        xref: "x",
        yref: "y",
        x: x0 + 0.05,
        y: y + ROW - 0.05,
        sizex: 0.9,
        sizey: 0.9,
        xanchor: "left",
        yanchor: "top",
        layer: "above",
        sizing: "stretch",
      });
      const isQuery = col === 0;
      const correct = !isQuery && labels[row[col]] === labels[q];
      if (!isQuery && !correct) wrong++;
      shapes.push({
        type: "rect",
        xref: "x",
        yref: "y",
        x0: x0 + 0.03,
        x1: x0 + 0.97,
        y0: y + ROW - 0.97,
        y1: y + ROW - 0.03,
        line: { color: isQuery ? "#333333" : correct ? COLORS.correct : COLORS.wrong, width: 2 },
      });
      const dist = !isQuery && options.distances
        ? ` ${formatNumber(Number(options.distances[r * k + col - 1]))}`
        : "";
      annotations.push({
        xref: "x",
        yref: "y",
        x: x0 + 0.5,
        y: y + ROW - 0.98,
        yanchor: "top",
        showarrow: false,
        text: isQuery ? `<b>${name(labels[q])}</b>` : `${name(labels[row[col]])}${dist}`,
        font: { color: isQuery ? "#000000" : correct ? "#3b7a34" : "#b8383a" },
      });
    }
  }
  const width = cell(k) + 1;
  const pitch = Math.min(70, Math.floor((FIGURE_MAX_WIDTH - 40) / width));
  return {
    data: [],
    layout: {
      title: {
        text: options.title ?? `Top-${k} retrieval: ${wrong} of ${queries.length * k} wrong (red)`,
      },
      xaxis: { visible: false, range: [-0.05, width + 0.05], fixedrange: true },
      yaxis: {
        visible: false,
        range: [-0.05, queries.length * ROW + 0.05],
        scaleanchor: "x",
        fixedrange: true,
      },
      images: imageEntries,
      shapes,
      annotations,
      showlegend: false,
      hovermode: false,
      plot_bgcolor: "#ffffff",
      width: Math.round(pitch * width + 40),
      height: Math.round(pitch * ROW * queries.length + 84),
      margin: { l: 10, r: 10, t: 64, b: 10 },
    },
  };
}

/**
 * One row of an {@linkcode imageGridFigure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ImageRow } from "./gallery.ts";
 * const row: ImageRow = { label: "pixels", images: [new Float32Array(784)], captions: ["t = 0"] };
 * assert.equal(row.images.length, row.captions?.length);
 * ```
 */
export interface ImageRow {
  /** Shown left of the row (optional). */
  label?: string;
  /** The images, each `side²` values in [0, 1]. */
  images: readonly ArrayLike<number>[];
  /** One caption per image, under it (may hold `<br>`). */
  captions: readonly string[];
  /** An optional frame colour per image. */
  frames?: readonly (string | undefined)[];
}

/**
 * Options of {@linkcode imageGridFigure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ImageGridOptions } from "./gallery.ts";
 * const options: ImageGridOptions = { title: "a walk", cellPx: 90 };
 * assert.equal(options.cellPx, 90);
 * ```
 */
export interface ImageGridOptions {
  /** Title. */
  title?: string;
  /** Side of the images. Default 28. */
  side?: number;
  /** Size of one image on screen, px; default the largest (at most 110) that fits 1,000 px. */
  cellPx?: number;
}

/**
 * A grid of images with captions, one row per {@linkcode ImageRow} (rows may differ in length),
 * optional row labels on the left and frames. At most `FIGURE_MAX_WIDTH` (1,000 px) wide.
 *
 * @throws Error when a row's captions or frames do not match its images.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageGridFigure } from "./gallery.ts";
 * const img = new Float32Array(784);
 * const fig = await imageGridFigure([
 *   { label: "a", images: [img, img], captions: ["1", "2"] },
 *   { label: "b", images: [img], captions: ["3"] },
 * ]);
 * assert.equal((fig.layout.images as unknown[]).length, 3);
 * ```
 */
export async function imageGridFigure(
  rows: readonly ImageRow[],
  options: ImageGridOptions = {},
): Promise<PlotlyFigure> {
  const side = options.side ?? 28;
  for (const [r, row] of rows.entries()) {
    if (row.captions.length !== row.images.length) {
      throw new Error(
        `imageGridFigure: row ${r} has ${row.captions.length} captions for ${row.images.length} images`,
      );
    }
    if (row.frames && row.frames.length !== row.images.length) {
      throw new Error(
        `imageGridFigure: row ${r} has ${row.frames.length} frames for ${row.images.length} images`,
      );
    }
  }
  const columns = Math.max(1, ...rows.map((r) => r.images.length));
  const labelled = rows.some((r) => r.label);
  const labelUnits = labelled ? 1.5 : 0;
  const PITCH = 1.15; // image (1) and the gap to the next
  const lines = Math.max(
    1,
    ...rows.flatMap((r) => r.captions.map((c) => c.split("<br>").length)),
  );
  const ROW = 1 + 0.05 + 0.2 * lines + 0.15; // image, caption lines, gap
  const widthUnits = labelUnits + columns * PITCH - 0.15;
  const heightUnits = rows.length * ROW;
  const margin = { l: 10, r: 10, t: options.title ? 64 : 10, b: 10 };
  const cellPx = options.cellPx ??
    Math.min(110, Math.floor((FIGURE_MAX_WIDTH - margin.l - margin.r) / widthUnits));
  const images: Record<string, unknown>[] = [];
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  for (const [r, row] of rows.entries()) {
    const top = heightUnits - r * ROW;
    if (row.label) {
      annotations.push({
        xref: "x",
        yref: "y",
        x: labelUnits - 0.1,
        y: top - 0.5,
        xanchor: "right",
        showarrow: false,
        text: `<b>${row.label}</b>`,
        align: "right",
      });
    }
    for (let j = 0; j < row.images.length; j++) {
      const x0 = labelUnits + j * PITCH;
      images.push({
        source: await imageDataUri(row.images[j], { side }),
        xref: "x",
        yref: "y",
        x: x0,
        y: top,
        sizex: 1,
        sizey: 1,
        xanchor: "left",
        yanchor: "top",
        sizing: "stretch",
        layer: "above",
      });
      const frame = row.frames?.[j];
      if (frame) {
        shapes.push({
          type: "rect",
          xref: "x",
          yref: "y",
          x0: x0 - 0.02,
          x1: x0 + 1.02,
          y0: top - 1.02,
          y1: top + 0.02,
          line: { color: frame, width: 2 },
        });
      }
      annotations.push({
        xref: "x",
        yref: "y",
        x: x0 + 0.5,
        y: top - 1.04,
        yanchor: "top",
        showarrow: false,
        text: row.captions[j],
        font: { size: 11 },
      });
    }
  }
  return {
    data: [],
    layout: {
      title: { text: options.title ?? "" },
      xaxis: { visible: false, range: [-0.05, widthUnits + 0.05], fixedrange: true },
      yaxis: {
        visible: false,
        range: [-0.05, heightUnits + 0.05],
        scaleanchor: "x",
        fixedrange: true,
      },
      images,
      shapes,
      annotations,
      showlegend: false,
      hovermode: false,
      plot_bgcolor: "#ffffff",
      width: Math.round(cellPx * (widthUnits + 0.1) + margin.l + margin.r),
      height: Math.round(cellPx * (heightUnits + 0.1) + margin.t + margin.b),
      margin,
    },
  };
}

/**
 * A strip of images with captions (e.g. examples of each class), wrapped into rows of at most
 * `columns` images (default: all in one row up to 8 images, else rows of equal length) so that it
 * fits 1,000 px.
 *
 * @param images each `side²` values in [0, 1]
 * @throws Error when captions and images differ in number.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageStripFigure } from "./gallery.ts";
 * const fig = await imageStripFigure([new Float32Array(784)], ["blank"]);
 * assert.equal((fig.layout.images as unknown[]).length, 1);
 * ```
 */
export async function imageStripFigure(
  images: readonly ArrayLike<number>[],
  captions: readonly string[],
  options: { title?: string; side?: number; columns?: number } = {},
): Promise<PlotlyFigure> {
  if (captions.length !== images.length) {
    throw new Error(`imageStripFigure: ${captions.length} captions for ${images.length} images`);
  }
  const n = images.length;
  const columns = options.columns ?? (n <= 8 ? Math.max(1, n) : Math.ceil(n / Math.ceil(n / 8)));
  if (!Number.isInteger(columns) || columns < 1) {
    throw new RangeError(`imageStripFigure: columns must be a positive integer, got ${columns}`);
  }
  const rows: ImageRow[] = [];
  for (let i = 0; i < n; i += columns) {
    rows.push({ images: images.slice(i, i + columns), captions: captions.slice(i, i + columns) });
  }
  return await imageGridFigure(rows, { title: options.title, side: options.side });
}

/**
 * Options of {@linkcode neighbourGallery}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NeighbourGalleryOptions } from "./gallery.ts";
 * const options: NeighbourGalleryOptions = { k: 5, title: "Pixel space" };
 * assert.equal(options.k, 5);
 * ```
 */
export interface NeighbourGalleryOptions {
  /** Neighbours per query. Default 5. */
  k?: number;
  /** Names indexed by label. */
  classNames?: readonly string[];
  /** Title (default: the count of wrong neighbours). */
  title?: string;
  /** Show each neighbour's distance under it. Default false. */
  distances?: boolean;
}

/**
 * Finds each query's `k` nearest other items by Euclidean distance in `points` (the query itself
 * left out) and draws them with {@linkcode retrievalGallery}.
 *
 * @param points `[n, d]` the space to search (pixels or embeddings)
 * @param images `[n, 28, 28(, 1)]` the images behind the points, in [0, 1]
 * @param labels `[n]`
 * @param queries row indices of the queries
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { neighbourGallery } from "./gallery.ts";
 * const points = tf.tensor2d([[0], [1], [5], [6]]);
 * const fig = await neighbourGallery(points, new Float32Array(4 * 784), [0, 0, 1, 1], [0, 2], { k: 1 });
 * assert.equal((fig.layout.images as unknown[]).length, 4);
 * ```
 */
export async function neighbourGallery(
  points: tf.Tensor2D,
  images: Float32Array,
  labels: ArrayLike<number>,
  queries: readonly number[],
  options: NeighbourGalleryOptions = {},
): Promise<PlotlyFigure> {
  const k = options.k ?? 5;
  const q = tf.gather(points, queries) as tf.Tensor2D;
  let r;
  try {
    r = await knn(q, points, k + 1);
  } finally {
    q.dispose();
  }
  const neighbours: number[] = [];
  const distances: number[] = [];
  queries.forEach((query, i) => {
    let taken = 0;
    for (let j = 0; j < k + 1 && taken < k; j++) {
      const index = r.indices[i * (k + 1) + j];
      if (index === query) continue;
      neighbours.push(index);
      distances.push(r.distances[i * (k + 1) + j]);
      taken++;
    }
  });
  return await retrievalGallery({
    images,
    labels,
    queries: [...queries],
    neighbours,
    k,
    classNames: options.classNames,
    title: options.title,
    distances: options.distances ? distances : undefined,
  });
}
