/**
 * Images listed by a layout (an image folder, CUB-200-2011, Cars196, Stanford Online Products,
 * In-Shop) become float32 tensors in [0, 1]: all at once in memory ({@linkcode loadImages}), or
 * streamed as seeded mini-batches decoded ahead by worker threads while the training step runs
 * ({@linkcode imageBatches}).
 *
 * **Memory.** With `n` listed images, output `[h, w, c]`, batch `b`, `p` prefetched batches and
 * `k` workers:
 *
 * - `loadImages`: `n·h·w·c·4` bytes for the result, plus at most `2k` chunks of `chunkSize`
 *   images in flight as 8-bit samples (`2k·chunkSize·h·w·c`), plus per worker its V8 isolate with
 *   the decoders and one decoded source image (about 30 MiB here for small images; add
 *   `W·H·11` bytes for the largest source `W × H`), plus the list (`n` paths).
 * - `imageBatches`: independent of `n` except for the list and one permutation
 *   (`n·(2·path length + 12)` bytes): `(p + 2)·b·h·w·c·4` bytes of decoded batches (the prefetched
 *   ones, the one consumed and its tensor), plus the workers as above.
 * - Both: the JavaScript and WebAssembly heaps grow, and decoded buffers wait for the garbage
 *   collector, by up to about 128 MiB (the allowance of the check).
 *
 * Measured on a generated folder of 20,000 32×32 JPEG files (output 32×32×3, b = 128, p = 2,
 * k = 1), each in a fresh process (peak resident set growth): streaming one epoch 130 MiB, four
 * epochs 147 MiB (levelling off: nothing accumulates), 2,000 images 63 MiB; loading all 20,000
 * in memory 338 MiB, of which 234 MiB are the result.
 *
 * `deno task bench data --parts memory` repeats the check.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import { createProgress, type ProgressOptions } from "../io/progress.ts";
import type { AsyncSampler, Batch, SamplerState } from "./batches.ts";
import { checkSamplerState } from "./batches.ts";
import { createRng } from "./random.ts";
import { classIndex } from "./pairs.ts";
import { mPerClassIndices } from "./samplers.ts";
import {
  DataError,
  DatasetLayoutError,
  ImageDecodeError,
  ImageSizeError,
  type OnError,
  type SkippedFile,
} from "./errors.ts";
import {
  IMAGE_TRANSFORM_KEYS,
  type ImageTransformOptions,
  resolveImageTransform,
} from "./images.ts";
import { defaultWorkers, ImagePool, type PoolResult, scaleInto } from "./_image_pool.ts";

/**
 * A list of labelled image files, as a layout describes them (no pixels yet).
 *
 * @example
 * ```ts
 * const list: ImageList = {
 *   dataset: "folder", root: "/data/pets", subset: "all",
 *   paths: ["/data/pets/cat/1.jpg", "/data/pets/dog/1.jpg"],
 *   labels: Int32Array.from([0, 1]), classNames: ["cat", "dog"],
 * };
 * ```
 */
export interface ImageList {
  /** Which layout: `"folder"`, `"cub200"`, `"cars196"`, `"sop"`, `"inshop"`. */
  dataset: string;
  /** The data set's root folder. */
  root: string;
  /** `"all"`, `"train"`, `"test"`, or for In-Shop `"query"` / `"gallery"`. */
  subset: string;
  /** One file per image. */
  paths: string[];
  /** Class index per image, `[n]`, indexing `classNames`. */
  labels: Int32Array;
  /** Class names; a label indexes this list (the whole data set's classes, not only the subset's). */
  classNames: string[];
}

/**
 * A loaded image set.
 *
 * @example
 * ```ts
 * const ds: ImageDataset = {
 *   dataset: "folder", root: "/d", subset: "all", paths: ["/d/a/1.png", "/d/a/2.png"],
 *   labels: Int32Array.from([0, 0]), classNames: ["a"], images: new Float32Array(2 * 4 * 4 * 3),
 *   n: 2, shape: [2, 4, 4, 3], skipped: [],
 * };
 * ```
 */
export interface ImageDataset extends ImageList {
  /** Values in [0, 1], row-major `[n, h, w, c]`. */
  images: Float32Array;
  /** Number of images. */
  n: number;
  /** `[n, h, w, c]`. */
  shape: [number, number, number, number];
  /** Files left out (only with `onError: "skip"`), with the reason. */
  skipped: SkippedFile[];
}

/**
 * Options of {@linkcode loadImages} (and of `loadImageFolder`, with the scan's options).
 *
 * @example
 * ```ts
 * const o: LoadImagesOptions = { size: 64, channels: 3, onError: "skip", workers: 2 };
 * ```
 */
export interface LoadImagesOptions extends ImageTransformOptions {
  /** What to do with an undecodable image or one of another size: throw (default) or skip. */
  onError?: OnError;
  /** Classes with fewer images than this after skipping are an error (or skipped). Default 2. */
  minPerClass?: number;
  /** Decoding workers; 0 decodes on this thread. Default: the cores, 1 to 4. */
  workers?: number;
  /** Images per job sent to a worker. Default 16. */
  chunkSize?: number;
  /** Largest image accepted, in megapixels. Default 100. */
  maxMegapixels?: number;
  /** Progress display (label `decode`); `false` for none. */
  progress?: false | ProgressOptions;
  /** Where skip reports go. Default `console.warn`. */
  log?: (line: string) => void;
}

/** The option names of {@linkcode loadImages}. */
export const LOAD_IMAGES_KEYS: readonly string[] = [
  ...IMAGE_TRANSFORM_KEYS,
  "onError",
  "minPerClass",
  "workers",
  "chunkSize",
  "maxMegapixels",
  "progress",
  "log",
];

function checkOnError(fn: string, onError: unknown): OnError {
  if (onError === undefined) return "throw";
  if (onError !== "throw" && onError !== "skip") {
    throw new TypeError(`${fn}: onError must be "throw" or "skip", got ${JSON.stringify(onError)}`);
  }
  return onError;
}

function checkCount(fn: string, name: string, v: unknown, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new TypeError(`${fn}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Checks an {@linkcode ImageList}: as many labels as paths, every label an index of
 * `classNames`.
 *
 * @throws TypeError naming `fn` and the first problem.
 * @example
 * ```ts
 * import { checkImageList } from "./image_loader.ts";
 * checkImageList("f", { dataset: "folder", root: "/d", subset: "all", paths: ["/d/a/1.png"], labels: Int32Array.from([0]), classNames: ["a"] });
 * ```
 */
export function checkImageList(fn: string, list: ImageList): void {
  if (list === null || typeof list !== "object" || !Array.isArray(list.paths)) {
    throw new TypeError(`${fn}: list must be an ImageList ({ paths, labels, classNames, ... })`);
  }
  if (!(list.labels instanceof Int32Array) || list.labels.length !== list.paths.length) {
    throw new TypeError(
      `${fn}: list has ${list.paths.length} paths but ${list.labels?.length} labels (Int32Array)`,
    );
  }
  const c = list.classNames.length;
  for (let i = 0; i < list.labels.length; i++) {
    if (list.labels[i] < 0 || list.labels[i] >= c) {
      throw new TypeError(
        `${fn}: list.labels[${i}] = ${list.labels[i]} is not a class index (0..${c - 1})`,
      );
    }
  }
}

/** Re-creates a worker's error as the named error it was. */
function errorOf(r: Extract<PoolResult, { ok: false }>, fn: string): DataError {
  const message = r.message.startsWith(fn) ? r.message : `${fn}: ${r.message}`;
  if (r.name === "ImageSizeError") return new ImageSizeError(message, r.path);
  return new ImageDecodeError(message, r.path);
}

function sizeText(shape: readonly number[]): string {
  return `${shape[1]}×${shape[0]}×${shape[2]}`;
}

/**
 * Decodes every image of `list` into one float32 array `[n, h, w, c]` in [0, 1], with worker
 * threads, printing a progress bar. Without `size`, all images must share the first one's size.
 *
 * Nothing is half-loaded: with `onError: "throw"` (default) the first bad file stops the load with
 * its named error; with `"skip"` bad files (and then classes left with fewer than `minPerClass`
 * images) are left out, one line is printed per file, and the result lists them in `skipped`.
 *
 * @param list the files and labels (from `scanImageFolder`, `scanCub200`, …)
 * @param options transform, error policy, workers, progress
 * @returns the images, labels and class names, and what was skipped
 * @throws ImageDecodeError for an unreadable or corrupt file, ImageSizeError for a size that
 * differs (without `size`), DatasetLayoutError for a class left with too few images, TypeError
 * for bad options.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeImageFolder, scanImageFolder } from "./image_folder.ts";
 * import { loadImages } from "./image_loader.ts";
 * const root = await Deno.makeTempDir();
 * await writeImageFolder(root, new Float32Array(4 * 8 * 8).fill(0.5), [0, 0, 1, 1], ["a", "b"], { shape: [8, 8, 1] });
 * const ds = await loadImages(await scanImageFolder(root), { size: 4, channels: 1, workers: 0, progress: false });
 * assert.deepEqual(ds.shape, [4, 4, 4, 1]);
 * assert.ok(Math.abs(ds.images[0] - 128 / 255) < 1e-6);
 * ```
 */
export async function loadImages(
  list: ImageList,
  options: LoadImagesOptions = {},
): Promise<ImageDataset> {
  const fn = "loadImages";
  checkOptionKeys(fn, options, LOAD_IMAGES_KEYS);
  checkImageList(fn, list);
  const transform = resolveImageTransform(fn, options);
  const onError = checkOnError(fn, options.onError);
  const minPerClass = checkCount(fn, "minPerClass", options.minPerClass, 1, 2);
  const workers = checkCount(fn, "workers", options.workers, 0, defaultWorkers(false));
  const chunkSize = checkCount(fn, "chunkSize", options.chunkSize, 1, 16);
  const maxMegapixels = options.maxMegapixels ?? 100;
  const log = options.log ?? ((line: string) => console.warn(line));
  const n = list.paths.length;
  if (n === 0) {
    throw new DatasetLayoutError(
      `${fn}: the list of ${list.root} (${list.subset}) is empty`,
      list.root,
    );
  }
  const pool = new ImagePool(workers);
  const progress = options.progress === false
    ? undefined
    : createProgress(n, { label: "decode", ...options.progress });
  const skipped: SkippedFile[] = [];
  const keep: number[] = [];
  let images: Float32Array | undefined;
  let shape: [number, number, number] | undefined;
  let firstPath = "";
  const perImage = () => shape![0] * shape![1] * shape![2];
  if (transform.size) {
    shape = [transform.size[0], transform.size[1], transform.channels];
    images = new Float32Array(n * perImage());
  }
  const skip = (path: string, error: Error) => {
    const reason = `${error.name}: ${error.message}`;
    skipped.push({ path, reason });
    log(`${fn}: skipped ${path} (${reason})`);
  };
  const chunks: number[][] = [];
  for (let s = 0; s < n; s += chunkSize) {
    chunks.push(Array.from({ length: Math.min(chunkSize, n - s) }, (_, i) => s + i));
  }
  const inFlight = Math.max(1, 2 * workers);
  const tasks: Promise<PoolResult[]>[] = [];
  const submit = (c: number) => {
    const promise = pool.run(chunks[c].map((i) => list.paths[i]), transform, maxMegapixels);
    promise.catch(() => {}); // awaited in order below
    tasks[c] = promise;
  };
  try {
    for (let c = 0; c < Math.min(inFlight, chunks.length); c++) submit(c);
    let done = 0;
    for (let c = 0; c < chunks.length; c++) {
      const results = await tasks[c];
      delete tasks[c];
      if (c + inFlight < chunks.length) submit(c + inFlight);
      for (let j = 0; j < results.length; j++) {
        const r = results[j];
        const index = chunks[c][j];
        if (!r.ok) {
          const error = errorOf(r, fn);
          if (onError === "throw") throw error;
          skip(r.path, error);
          continue;
        }
        if (shape === undefined) {
          shape = r.shape;
          firstPath = r.path;
          images = new Float32Array(n * perImage());
        } else if (r.shape.some((v, k) => v !== shape![k])) {
          const error = new ImageSizeError(
            `${fn}: ${r.path} is ${sizeText(r.shape)} but ${firstPath} is ${
              sizeText(shape)
            }; pass size to resize every image`,
            r.path,
          );
          if (onError === "throw") throw error;
          skip(r.path, error);
          continue;
        }
        scaleInto(images!, keep.length * perImage(), r.samples);
        keep.push(index);
      }
      done += results.length;
      progress?.update({ done });
    }
  } finally {
    progress?.finish();
    await pool.close();
  }
  // Classes that fell below minPerClass after skipping.
  const counts = new Map<number, number>();
  for (const i of keep) counts.set(list.labels[i], (counts.get(list.labels[i]) ?? 0) + 1);
  const small = [...counts].filter(([, k]) => k < minPerClass).map(([c]) => c);
  let kept = keep;
  let pixels = images!;
  if (small.length > 0) {
    const names = small.map((c) => `"${list.classNames[c]}" (${counts.get(c)})`).join(", ");
    if (onError === "throw") {
      throw new DatasetLayoutError(
        `${fn}: classes ${names} have fewer than minPerClass = ${minPerClass} images; retrieval needs at least 2 per class`,
        list.root,
      );
    }
    const drop = new Set(small);
    const per = perImage();
    const compact: number[] = [];
    for (let k = 0; k < keep.length; k++) {
      if (drop.has(list.labels[keep[k]])) {
        skip(
          list.paths[keep[k]],
          new DatasetLayoutError(
            `its class has fewer than minPerClass = ${minPerClass} images`,
            list.paths[keep[k]],
          ),
        );
        continue;
      }
      pixels.copyWithin(compact.length * per, k * per, (k + 1) * per);
      compact.push(keep[k]);
    }
    kept = compact;
  }
  if (kept.length === 0) {
    throw new DatasetLayoutError(`${fn}: every image of ${list.root} was skipped`, list.root);
  }
  const per = perImage();
  if (kept.length < n) pixels = pixels.subarray(0, kept.length * per);
  if (skipped.length > 0) log(`${fn}: skipped ${skipped.length} of ${n} files`);
  return {
    dataset: list.dataset,
    root: list.root,
    subset: list.subset,
    paths: kept.map((i) => list.paths[i]),
    labels: Int32Array.from(kept, (i) => list.labels[i]),
    classNames: list.classNames,
    images: pixels,
    n: kept.length,
    shape: [kept.length, shape![0], shape![1], shape![2]],
    skipped,
  };
}

/**
 * Wraps a loaded set as tensors: `x` float32 `[n, h, w, c]`, `y` int32 `[n]` (the caller disposes
 * them).
 *
 * @example
 * ```ts
 * import { imageTensors } from "./image_loader.ts";
 * const { x, y } = imageTensors({
 *   dataset: "folder", root: "/d", subset: "all", paths: ["/d/a/1.png"], labels: Int32Array.from([0]),
 *   classNames: ["a"], images: new Float32Array(4 * 4 * 3), n: 1, shape: [1, 4, 4, 3], skipped: [],
 * });
 * console.log(x.shape, y.shape); // [1, 4, 4, 3] [1]
 * ```
 */
export function imageTensors(ds: ImageDataset): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.tensor4d(ds.images, ds.shape, "float32"),
    y: tf.tensor1d(ds.labels, "int32"),
  };
}

/**
 * The asynchronous sampler of {@linkcode imageBatches}: batches decoded from files while the
 * training step runs (`train` awaits `next()`), with the files skipped and a way to end the
 * workers.
 *
 * @example
 * ```ts
 * import type { Batch } from "./batches.ts";
 * async function firstBatch(s: AsyncBatchSampler): Promise<Batch> {
 *   const batch = await s.next();
 *   await s.close();
 *   return batch;
 * }
 * ```
 */
export interface AsyncBatchSampler extends AsyncSampler<Batch> {
  /** Files skipped so far (with `onError: "skip"`). */
  readonly skipped: SkippedFile[];
  /** Ends the decoding workers (idle workers never keep the process alive, so this is optional). */
  close(): Promise<void>;
}

/**
 * Options of {@linkcode imageBatches}.
 *
 * @example
 * ```ts
 * const o: ImageBatchesOptions = { size: 64, batchSize: 64, seed: 1, prefetch: 2 };
 * ```
 */
export interface ImageBatchesOptions extends ImageTransformOptions {
  /** Batch size, 1..n. */
  batchSize: number;
  /** Shuffling seed. Default 0. */
  seed?: number;
  /**
   * M-per-class batches instead of shuffled ones: `batchSize / m` classes and `m` images of each,
   * the batches of `mPerClassSampler` with the same `m`, `batchSize` and `seed` (an epoch is
   * ⌊n / batchSize⌋ batches). Default: shuffled batches.
   */
  m?: number;
  /** Batches decoded ahead of the one consumed. Default 2. */
  prefetch?: number;
  /** Decoding workers; 0 decodes on this thread (no overlap with training). Default: cores − 1, 1 to 4. */
  workers?: number;
  /** What to do with a bad file: throw from `next()` (default) or skip it (a smaller batch). */
  onError?: OnError;
  /** Largest image accepted, in megapixels. Default 100. */
  maxMegapixels?: number;
  /** Where skip reports go. Default `console.warn`. */
  log?: (line: string) => void;
}

interface Planned {
  epoch: number;
  batch: number;
  restore: number;
  indices: Int32Array;
  decoded: Promise<{ data: Float32Array; labels: Int32Array; failures: PoolResult[] }>;
}

/**
 * Streams seeded, shuffled mini-batches of `list`'s images, decoded by worker threads while the
 * training step runs (`prefetch` batches ahead). The batches are those of
 * {@linkcode shuffledBatches} with the same `batchSize` and `seed` over the loaded images (same
 * permutation per epoch, the last partial batch dropped), or with `m` those of `mPerClassSampler`,
 * so training on a folder and on the same images in memory sees the same data in the same order.
 * Memory does not grow with the number of images beyond the list (see the module documentation).
 * `size` is required.
 *
 * @param list the files and labels
 * @param options transform, batch size, seed, prefetch, workers, error policy
 * @throws TypeError for bad options; `next()` rejects with ImageDecodeError for a bad file
 * (with `onError: "throw"`).
 * @example
 * ```ts
 * import { writeImageFolder, scanImageFolder } from "./image_folder.ts";
 * import { imageBatches } from "./image_loader.ts";
 * const root = await Deno.makeTempDir();
 * await writeImageFolder(root, new Float32Array(8 * 8 * 8 * 3), [0, 0, 0, 0, 1, 1, 1, 1], ["a", "b"], { shape: [8, 8, 3] });
 * const batches = imageBatches(await scanImageFolder(root), { size: 4, batchSize: 4, seed: 1 });
 * const { x, y } = await batches.next();
 * console.log(x.shape, y.shape); // [4, 4, 4, 3] [4]
 * x.dispose();
 * y.dispose();
 * await batches.close();
 * ```
 */
export function imageBatches(list: ImageList, options: ImageBatchesOptions): AsyncBatchSampler {
  const fn = "imageBatches";
  checkOptionKeys(fn, options, [
    ...IMAGE_TRANSFORM_KEYS,
    "batchSize",
    "seed",
    "m",
    "prefetch",
    "workers",
    "onError",
    "maxMegapixels",
    "log",
  ]);
  checkImageList(fn, list);
  const transform = resolveImageTransform(fn, options);
  if (transform.size === undefined) {
    throw new TypeError(`${fn}: size is required (every streamed image is resized to it)`);
  }
  const n = list.paths.length;
  const { batchSize, seed = 0 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) {
    throw new TypeError(`${fn}: batchSize must be an integer in [1, ${n}], got ${batchSize}`);
  }
  const m = options.m;
  let byClass: ReturnType<typeof classIndex> | undefined;
  if (m !== undefined) {
    if (!Number.isInteger(m) || m < 1 || batchSize % m !== 0) {
      throw new TypeError(
        `${fn}: m must be a positive integer that divides batchSize ${batchSize}, got ${m}`,
      );
    }
    byClass = classIndex(list.labels);
    if (batchSize / m > byClass.classes.length) {
      throw new TypeError(
        `${fn}: batchSize / m = ${
          batchSize / m
        } classes per batch, but the list holds ${byClass.classes.length}`,
      );
    }
  }
  const prefetch = checkCount(fn, "prefetch", options.prefetch, 0, 2);
  const workers = checkCount(fn, "workers", options.workers, 0, defaultWorkers(true));
  const onError = checkOnError(fn, options.onError);
  const maxMegapixels = options.maxMegapixels ?? 100;
  const log = options.log ?? ((line: string) => console.warn(line));
  const [h, w] = transform.size;
  const per = h * w * transform.channels;
  const pool = new ImagePool(workers);
  const skipped: SkippedFile[] = [];
  const perEpoch = Math.floor(n / batchSize);

  // The planner runs ahead of the consumer by the prefetched batches. A planned batch carries
  // the RNG state that restores the position after it: for shuffled batches the state at the
  // start of its epoch, for M-per-class batches the state after drawing it.
  const rng = createRng(seed);
  let pEpoch = 0, pBatch = 0, pStart = rng.state();
  let order = new Int32Array(n);
  const reshuffle = () => {
    pStart = rng.state();
    order = Int32Array.from({ length: n }, (_, i) => i);
    rng.shuffle(order);
  };
  if (!byClass) reshuffle();
  let consumed: SamplerState = { epoch: 0, batch: 0, rngState: pStart };
  let queue: Planned[] = [];

  const decode = async (indices: Int32Array) => {
    const parts = Math.max(1, Math.min(workers, indices.length));
    const size = Math.ceil(indices.length / parts);
    const jobs: Promise<PoolResult[]>[] = [];
    for (let s = 0; s < indices.length; s += size) {
      const paths = Array.from(indices.subarray(s, s + size), (i) => list.paths[i]);
      jobs.push(pool.run(paths, transform, maxMegapixels));
    }
    const results = (await Promise.all(jobs)).flat();
    const data = new Float32Array(indices.length * per);
    const labels: number[] = [];
    const failures: PoolResult[] = [];
    results.forEach((r, j) => {
      if (!r.ok) {
        failures.push(r);
        return;
      }
      scaleInto(data, labels.length * per, r.samples);
      labels.push(list.labels[indices[j]]);
    });
    return {
      data: data.subarray(0, labels.length * per),
      labels: Int32Array.from(labels),
      failures,
    };
  };

  const plan = () => {
    if (pBatch >= perEpoch) {
      pEpoch++;
      pBatch = 0;
      if (!byClass) reshuffle();
    }
    const indices = byClass
      ? mPerClassIndices(byClass, m!, batchSize, rng)
      : order.slice(pBatch * batchSize, (pBatch + 1) * batchSize);
    const restore = byClass ? rng.state() : pStart;
    const decoded = decode(indices);
    decoded.catch(() => {}); // awaited by next()
    queue.push({ epoch: pEpoch, batch: pBatch, restore, indices, decoded });
    pBatch++;
  };

  return {
    batchesPerEpoch: perEpoch,
    get skipped() {
      return skipped;
    },
    async next(): Promise<Batch> {
      while (queue.length < prefetch + 1) plan();
      const item = queue.shift()!;
      while (queue.length < prefetch) plan();
      const { data, labels, failures } = await item.decoded;
      consumed = { epoch: item.epoch, batch: item.batch + 1, rngState: item.restore };
      for (const f of failures) {
        if (f.ok) continue;
        const error = errorOf(f, fn);
        if (onError === "throw") throw error;
        skipped.push({ path: f.path, reason: `${error.name}: ${error.message}` });
        log(`${fn}: skipped ${f.path} (${error.name}: ${error.message})`);
      }
      if (labels.length === 0) {
        throw new DatasetLayoutError(
          `${fn}: every image of batch ${item.batch} (epoch ${item.epoch}) was skipped`,
          list.root,
        );
      }
      return {
        x: tf.tensor4d(data, [labels.length, h, w, transform.channels], "float32"),
        y: tf.tensor1d(labels, "int32"),
      };
    },
    state: () => ({ ...consumed }),
    setState(state: SamplerState) {
      checkSamplerState(state, fn);
      queue = []; // in-flight decodes finish and are dropped
      rng.setState(state.rngState);
      if (!byClass) reshuffle();
      pEpoch = state.epoch;
      pBatch = state.batch;
      consumed = { ...state };
    },
    close: () => pool.close(),
  };
}
