/**
 * Images in figures: a small grayscale PNG encoder (zlib stream from `CompressionStream("deflate")`,
 * chunk CRC-32 computed here), data URIs of 28×28 images, and a retrieval gallery figure (each
 * query followed by its top-k neighbours, wrong ones framed in red).
 *
 * @module
 */
import type { PlotlyFigure } from "./figures.ts";

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
 * import { crc32 } from "./gallery.ts";
 * crc32(new TextEncoder().encode("123456789")).toString(16); // "cbf43926"
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
 * import { PNG_SIGNATURE } from "./gallery.ts";
 * const isPng = (b: Uint8Array) => PNG_SIGNATURE.every((v, i) => b[i] === v);
 * ```
 */
export const PNG_SIGNATURE: readonly number[] = [137, 80, 78, 71, 13, 10, 26, 10];

/**
 * Encodes an 8-bit grayscale image as PNG (colour type 0, no interlace, filter 0 on every row).
 *
 * @param pixels `width·height` bytes, row-major, 0 = black
 * @example
 * ```ts
 * import { encodeGrayPng } from "./gallery.ts";
 * const png = await encodeGrayPng(new Uint8Array(28 * 28).fill(255), 28, 28);
 * console.log(png.slice(1, 4)); // "PNG" in ASCII
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
 * import { imageDataUri, type ImageUriOptions } from "./gallery.ts";
 * const options: ImageUriOptions = { side: 28, invert: false };
 * await imageDataUri(new Float32Array(784), options);
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
 * import { imageDataUri } from "./gallery.ts";
 * const uri = await imageDataUri(new Float32Array(784));
 * uri.startsWith("data:image/png;base64,"); // true
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
 * import { imageDataUris } from "./gallery.ts";
 * const uris = await imageDataUris(new Float32Array(2 * 784), [1]);
 * console.log(uris.length); // 1
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
 * import { retrievalGallery, type RetrievalGalleryOptions } from "./gallery.ts";
 * const options: RetrievalGalleryOptions = {
 *   images: new Float32Array(2 * 784), labels: [0, 1], queries: [0], neighbours: [1], k: 1,
 * };
 * await retrievalGallery(options);
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
 * import { retrievalGallery } from "./gallery.ts";
 * const fig = await retrievalGallery({
 *   images: new Float32Array(3 * 784), labels: [0, 0, 1],
 *   queries: [0], neighbours: [1, 2], k: 2,
 * });
 * console.log((fig.layout.images as unknown[]).length); // 3
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
        line: { color: isQuery ? "#333333" : correct ? "#2ca02c" : "#d62728", width: 2 },
      });
      const dist = !isQuery && options.distances
        ? ` ${Number(options.distances[r * k + col - 1]).toFixed(2)}`
        : "";
      annotations.push({
        xref: "x",
        yref: "y",
        x: x0 + 0.5,
        y: y + ROW - 0.98,
        yanchor: "top",
        showarrow: false,
        text: isQuery ? `<b>${name(labels[q])}</b>` : `${name(labels[row[col]])}${dist}`,
        font: { color: isQuery ? "#000000" : correct ? "#1b6e1b" : "#b01e1e" },
      });
    }
  }
  const width = cell(k) + 1;
  return {
    data: [{ type: "scatter", x: [0, width], y: [0, queries.length], mode: "markers", opacity: 0 }],
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
      width: Math.round(70 * width + 40),
      height: Math.round(70 * ROW * queries.length + 70),
      margin: { l: 10, r: 10, t: 50, b: 10 },
    },
  };
}

/**
 * A row of images with captions (e.g. two images, their pixel average, and the images nearest to
 * midpoints in two spaces).
 *
 * @param images each `side²` values in [0, 1]
 * @example
 * ```ts
 * import { imageStripFigure } from "./gallery.ts";
 * const fig = await imageStripFigure([new Float32Array(784)], ["blank"]);
 * console.log((fig.layout.images as unknown[]).length); // 1
 * ```
 */
export async function imageStripFigure(
  images: readonly ArrayLike<number>[],
  captions: readonly string[],
  options: { title?: string; side?: number } = {},
): Promise<PlotlyFigure> {
  if (captions.length !== images.length) {
    throw new Error(`imageStripFigure: ${captions.length} captions for ${images.length} images`);
  }
  const side = options.side ?? 28;
  const entries: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  for (let i = 0; i < images.length; i++) {
    entries.push({
      source: await imageDataUri(images[i], { side }),
      xref: "x",
      yref: "y",
      x: i * 1.2,
      y: 1,
      sizex: 1,
      sizey: 1,
      xanchor: "left",
      yanchor: "top",
      sizing: "stretch",
      layer: "above",
    });
    annotations.push({
      xref: "x",
      yref: "y",
      x: i * 1.2 + 0.5,
      y: 0,
      yanchor: "top",
      showarrow: false,
      text: captions[i],
    });
  }
  const width = images.length * 1.2 - 0.2;
  return {
    data: [{ type: "scatter", x: [0, width], y: [0, 1], mode: "markers", opacity: 0 }],
    layout: {
      title: { text: options.title ?? "" },
      xaxis: { visible: false, range: [-0.05, width + 0.05], fixedrange: true },
      yaxis: { visible: false, range: [-0.45, 1.02], scaleanchor: "x", fixedrange: true },
      images: entries,
      annotations,
      showlegend: false,
      hovermode: false,
      plot_bgcolor: "#ffffff",
      width: Math.round(130 * images.length + 40),
      height: 250,
      margin: { l: 10, r: 10, t: options.title ? 50 : 10, b: 10 },
    },
  };
}
