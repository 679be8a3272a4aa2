/**
 * "Halfway between two images", as the source document meant it: a walk from image `a` to image
 * `b` in pixel space and in a learned embedding space, with the real images nearest to each point
 * of the path, and how far those are.
 *
 * In pixel space the path is `(1 − t)·x_a + t·x_b`: every inner point is a ghostly superposition of
 * the two garments (yet, distances concentrating in 784 dimensions, about as close to some real
 * image as real images are to each other). In the learned space the path runs along the unit
 * sphere (the embeddings are L2-normalised): `normalise((1 − t)·e_a + t·e_b)`; the real images
 * nearest to its points are real garments, and the distances say whether the path runs through
 * the data (below the typical distance) or through empty space between classes (above it).
 *
 * Distances are reported against a **typical distance** of each space: the median distance from a
 * real image to its nearest other real image. A ratio near 1 means "as close as real images are to
 * each other"; much above 1 means "nowhere near any real image".
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { knn } from "../eval/knn.ts";
import type { PlotlyFigure } from "./figures.ts";
import { formatNumber } from "./format.ts";
import { imageGridFigure } from "./gallery.ts";

/**
 * Options of {@linkcode latentWalk}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { WalkOptions } from "./walk.ts";
 * const options: WalkOptions = {
 *   pixels: tf.zeros([4, 784]) as tf.Tensor2D, embeddings: tf.eye(4) as tf.Tensor2D, a: 0, b: 1,
 * };
 * assert.deepEqual(options.embeddings.shape, [4, 4]);
 * ```
 */
export interface WalkOptions {
  /** The real images, flattened, `[n, p]` (the candidates for "nearest real image"). */
  pixels: tf.Tensor2D;
  /** Their embeddings `[n, d]` (L2-normalised, as the encoder outputs them). */
  embeddings: tf.Tensor2D;
  /** Index of the first image. */
  a: number;
  /** Index of the last image. */
  b: number;
  /** Points on the path, ends included. Default 7 (t = 0, 1/6, ..., 1). */
  steps?: number;
}

/**
 * One point of a {@linkcode Walk}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WalkPoint } from "./walk.ts";
 * const p: WalkPoint = {
 *   t: 0.5, pixels: new Float32Array(784), pixelNearest: 3, pixelDistance: 8.1,
 *   learnedNearest: 7, learnedDistance: 0.2,
 * };
 * assert.equal(p.pixels.length, 784);
 * ```
 */
export interface WalkPoint {
  /** Position on the path, 0 at `a`, 1 at `b`. */
  t: number;
  /** The pixel-space path point `(1 − t)·x_a + t·x_b`. */
  pixels: Float32Array;
  /** The real image nearest to the pixel path point (not `a` or `b` inside the path). */
  pixelNearest: number;
  /** Its Euclidean distance in pixel space. */
  pixelDistance: number;
  /** The real image nearest to the learned path point (not `a` or `b` inside the path). */
  learnedNearest: number;
  /** Its Euclidean distance in the learned space. */
  learnedDistance: number;
}

/**
 * What {@linkcode latentWalk} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Walk } from "./walk.ts";
 * const ratio = (w: Walk) => w.points[3].pixelDistance / w.pixelScale;
 * assert.equal(typeof ratio, "function");
 * ```
 */
export interface Walk {
  /** First image. */
  a: number;
  /** Last image. */
  b: number;
  /** The path, `steps` points. */
  points: WalkPoint[];
  /** Typical distance in pixel space: median distance of a real image to its nearest other one. */
  pixelScale: number;
  /** The same in the learned space. */
  learnedScale: number;
  /** Mean over the inner points of (distance to the nearest real image) / typical distance. */
  pixelRatio: number;
  /** The same in the learned space. */
  learnedRatio: number;
}

function median(values: ArrayLike<number>): number {
  const s = Array.from(values).sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median distance of a real point to its nearest other point. */
async function typicalDistance(x: tf.Tensor2D): Promise<number> {
  const r = await knn(x, undefined, 1);
  return median(r.distances);
}

/** Nearest rows of `ref` to each query row, skipping `skip[i]` (indices) for query `i`. */
async function nearestSkipping(
  queries: tf.Tensor2D,
  ref: tf.Tensor2D,
  skip: readonly (readonly number[])[],
): Promise<{ index: number; distance: number }[]> {
  const k = 3;
  const r = await knn(queries, ref, k);
  return skip.map((s, i) => {
    for (let j = 0; j < k; j++) {
      const index = r.indices[i * k + j];
      if (!s.includes(index)) return { index, distance: r.distances[i * k + j] };
    }
    throw new Error("latentWalk: no candidate left (need at least 3 real images)");
  });
}

/**
 * A walk from image `a` to image `b` in pixel space and in the learned space, with the nearest
 * real images along both paths and their distances against each space's typical distance (see the
 * module documentation).
 *
 * @throws RangeError for indices out of range, `a === b`, mismatched row counts, or fewer than 3
 *   steps.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { latentWalk } from "./walk.ts";
 * const pixels = tf.tensor2d([[0, 0], [4, 0], [2, 0.1], [9, 9]]);
 * const embeddings = tf.tensor2d([[1, 0], [0, 1], [0.7071, 0.7071], [-1, 0]]);
 * const walk = await latentWalk({ pixels, embeddings, a: 0, b: 1, steps: 3 });
 * assert.equal(walk.points[1].learnedNearest, 2);
 * assert.ok(walk.points[1].learnedDistance < 1e-3);
 * ```
 */
export async function latentWalk(options: WalkOptions): Promise<Walk> {
  const { pixels, embeddings, a, b } = options;
  const steps = options.steps ?? 7;
  const n = pixels.shape[0];
  if (embeddings.shape[0] !== n) {
    throw new RangeError(`latentWalk: ${n} images but ${embeddings.shape[0]} embeddings`);
  }
  for (const [name, i] of [["a", a], ["b", b]] as const) {
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`latentWalk: ${name} must be an index in [0, ${n}), got ${i}`);
    }
  }
  if (a === b) throw new RangeError(`latentWalk: a and b are the same image (${a})`);
  if (!Number.isInteger(steps) || steps < 3) {
    throw new RangeError(`latentWalk: steps must be an integer ≥ 3, got ${steps}`);
  }
  const ts = Array.from({ length: steps }, (_, i) => i / (steps - 1));
  const [pixelPath, learnedPath] = tf.tidy(() => {
    const t = tf.tensor2d(ts, [steps, 1]);
    const mix = (x: tf.Tensor2D) =>
      tf.add(
        tf.mul(tf.sub(1, t), tf.gather(x, [a])),
        tf.mul(t, tf.gather(x, [b])),
      ) as tf.Tensor2D;
    const learned = mix(embeddings);
    const norm = tf.maximum(tf.norm(learned, "euclidean", 1, true), 1e-12);
    return [mix(pixels), tf.div(learned, norm) as tf.Tensor2D];
  });
  try {
    const skip = ts.map((t) => (t === 0 || t === 1 ? [] : [a, b]));
    const pixelNearest = await nearestSkipping(pixelPath, pixels, skip);
    const learnedNearest = await nearestSkipping(learnedPath, embeddings, skip);
    const values = await pixelPath.data() as Float32Array;
    const p = pixels.shape[1];
    const pixelScale = await typicalDistance(pixels);
    const learnedScale = await typicalDistance(embeddings);
    const points = ts.map((t, i) => ({
      t,
      pixels: values.slice(i * p, (i + 1) * p),
      pixelNearest: pixelNearest[i].index,
      pixelDistance: pixelNearest[i].distance,
      learnedNearest: learnedNearest[i].index,
      learnedDistance: learnedNearest[i].distance,
    }));
    const inner = points.slice(1, -1);
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    return {
      a,
      b,
      points,
      pixelScale,
      learnedScale,
      pixelRatio: mean(inner.map((q) => q.pixelDistance / pixelScale)),
      learnedRatio: mean(inner.map((q) => q.learnedDistance / learnedScale)),
    };
  } finally {
    tf.dispose([pixelPath, learnedPath]);
  }
}

/**
 * The row index of the image of class `c` nearest to its class's mean embedding (a typical
 * member, to start or end a walk).
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @throws RangeError when no image has label `c`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { classRepresentative } from "./walk.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.2], [0.9, 0.1], [0, 1]]);
 * assert.equal(await classRepresentative(e, [0, 0, 0, 1], 0), 2); // row 2 is the class-0 mean
 * ```
 */
export async function classRepresentative(
  embeddings: tf.Tensor2D,
  labels: ArrayLike<number>,
  c: number,
): Promise<number> {
  const members: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === c) members.push(i);
  if (members.length === 0) throw new RangeError(`classRepresentative: no image of class ${c}`);
  const center = tf.tidy(() => tf.mean(tf.gather(embeddings, members), 0, true) as tf.Tensor2D);
  const member = tf.gather(embeddings, members) as tf.Tensor2D;
  try {
    const r = await knn(center, member, 1);
    return members[r.indices[0]];
  } finally {
    tf.dispose([center, member]);
  }
}

/**
 * The walk as an image grid: the pixel-space path (ghostly superpositions), the real image nearest
 * to each of its points, and the real image nearest to each point of the learned path; captions
 * give the class and the distance as a multiple of the space's typical distance.
 *
 * @param images the real images `[n, 28, 28(, 1)]` in [0, 1] (the rows of `pixels`)
 * @param labels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { latentWalk, walkFigure } from "./walk.ts";
 * const images = new Float32Array(4 * 784).map((_, i) => (i % 7) / 7);
 * const pixels = tf.tensor2d(images, [4, 784]);
 * const embeddings = tf.tensor2d([[1, 0], [0, 1], [0.7071, 0.7071], [-1, 0]]);
 * const walk = await latentWalk({ pixels, embeddings, a: 0, b: 1, steps: 3 });
 * const fig = await walkFigure(walk, images, [0, 1, 2, 3], ["a", "b", "c", "d"]);
 * assert.equal((fig.layout.images as unknown[]).length, 9);
 * ```
 */
export async function walkFigure(
  walk: Walk,
  images: Float32Array,
  labels: ArrayLike<number>,
  classNames: readonly string[],
  options: { title?: string } = {},
): Promise<PlotlyFigure> {
  const img = (i: number) => images.subarray(i * 784, (i + 1) * 784);
  const name = (i: number) => classNames[labels[i]] ?? String(labels[i]);
  const ratio = (d: number, scale: number) => `${formatNumber(d / scale, { digits: 2 })}×`;
  const ends = (i: number) => i === 0 || i === walk.points.length - 1;
  return await imageGridFigure([
    {
      label: "pixel path",
      images: walk.points.map((p) => p.pixels),
      captions: walk.points.map((p) => `t = ${formatNumber(p.t, { digits: 2 })}`),
    },
    {
      label: "nearest real<br>(pixels)",
      images: walk.points.map((p) => img(p.pixelNearest)),
      captions: walk.points.map((p, i) =>
        ends(i)
          ? name(p.pixelNearest)
          : `${name(p.pixelNearest)}<br>${ratio(p.pixelDistance, walk.pixelScale)}`
      ),
    },
    {
      label: "nearest real<br>(learned)",
      images: walk.points.map((p) => img(p.learnedNearest)),
      captions: walk.points.map((p, i) =>
        ends(i)
          ? name(p.learnedNearest)
          : `${name(p.learnedNearest)}<br>${ratio(p.learnedDistance, walk.learnedScale)}`
      ),
    },
  ], {
    title: options.title ??
      `${name(walk.a)} → ${name(walk.b)}: nearest real images along each path, distance × typical`,
  });
}
