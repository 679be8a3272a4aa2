/**
 * The retrieval gallery from store results: each query image followed by the images of the rows
 * a store search returned ({@linkcode retrievalGallery} draws it).
 *
 * @module
 */
import type { PlotlyFigure } from "../viz/figures.ts";
import { retrievalGallery } from "../viz/gallery.ts";
import type { SearchHit } from "./types.ts";

/** Input of {@linkcode lookupGallery}. */
export interface LookupGalleryOptions {
  /** Query images `[n, side, side]`, values in [0, 1]. */
  queryImages: Float32Array;
  /** Their labels `[n]`. */
  queryLabels: ArrayLike<number>;
  /** The search results, one list per query (as `search` or `lookup` return them). */
  hits: readonly (readonly SearchHit[])[];
  /** The indexed images `[m, side, side]`, from which the hits' images are taken. */
  images: Float32Array;
  /** The row of `images` of a hit. Default `Number(hit.id)` (the ids `index()` gives). */
  imageOf?: (hit: SearchHit) => number;
  /** Neighbours shown per query. Default: the shortest hit list. */
  k?: number;
  /** Names indexed by label. */
  classNames?: readonly string[];
  /** Title. */
  title?: string;
  /** Side of the images. Default 28. */
  side?: number;
}

/**
 * A gallery figure of store results: one row per query, its image then its neighbours' images,
 * each framed green when the neighbour's stored label is the query's and red when not, with the
 * distance under each.
 *
 * @throws RangeError when a hit's image row is outside `images`, or a hit has no label.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lookupGallery } from "./gallery.ts";
 * const fig = await lookupGallery({
 *   queryImages: new Float32Array(784), queryLabels: [1],
 *   hits: [[{ id: "0", distance: 0.5, label: 1, metadata: {} }]],
 *   images: new Float32Array(784),
 * });
 * assert.equal((fig.layout.images as unknown[]).length, 2);
 * ```
 */
export async function lookupGallery(options: LookupGalleryOptions): Promise<PlotlyFigure> {
  const fn = "lookupGallery";
  const side = options.side ?? 28;
  const size = side * side;
  const { queryImages, queryLabels, hits, images } = options;
  const n = queryImages.length / size;
  if (!Number.isInteger(n) || n !== hits.length || queryLabels.length !== n) {
    throw new RangeError(
      `${fn}: ${
        queryImages.length / size
      } query images, ${queryLabels.length} labels and ${hits.length} hit lists must agree`,
    );
  }
  const k = options.k ?? Math.min(...hits.map((h) => h.length));
  if (!Number.isInteger(k) || k < 1 || hits.some((h) => h.length < k)) {
    throw new RangeError(`${fn}: k must be in [1, the shortest hit list], got ${k}`);
  }
  const imageOf = options.imageOf ?? ((h: SearchHit) => Number(h.id));
  const m = images.length / size;
  const stack = new Float32Array((n + n * k) * size);
  stack.set(queryImages.subarray(0, n * size));
  const labels: number[] = Array.from({ length: n }, (_, i) => queryLabels[i]);
  const neighbours: number[] = [], distances: number[] = [];
  hits.forEach((row, i) => {
    for (let t = 0; t < k; t++) {
      const h = row[t];
      const j = imageOf(h);
      if (!Number.isInteger(j) || j < 0 || j >= m) {
        throw new RangeError(
          `${fn}: hit ${JSON.stringify(h.id)} maps to image ${j}, not in [0, ${m})`,
        );
      }
      if (h.label === null) throw new RangeError(`${fn}: hit ${JSON.stringify(h.id)} has no label`);
      const slot = n + i * k + t;
      stack.set(images.subarray(j * size, (j + 1) * size), slot * size);
      labels[slot] = h.label;
      neighbours.push(slot);
      distances.push(h.distance);
    }
  });
  return await retrievalGallery({
    images: stack,
    labels,
    queries: Array.from({ length: n }, (_, i) => i),
    neighbours,
    k,
    distances,
    classNames: options.classNames,
    title: options.title,
    side,
  });
}
