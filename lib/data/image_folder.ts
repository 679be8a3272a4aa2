/**
 * Image folders in torchvision's `ImageFolder` convention: one sub-folder per class under a root,
 * images anywhere below it.
 *
 * ```text
 * root/cat/001.jpg
 * root/cat/more/002.png
 * root/dog/001.jpg
 * ```
 *
 * As torchvision does it: the classes are the sub-folders' names sorted by code point (label `i`
 * is the `i`-th), images are collected per class in sorted order by walking the class folder
 * (folders sorted by path, files sorted by name, symbolic links followed), and a file counts as an
 * image by its extension (`IMG_EXTENSIONS`, case-insensitive). Differences, each reported rather
 * than silent: names starting with `.` (`.ipynb_checkpoints`, `.DS_Store`) are ignored;
 * a file with another extension inside a class folder is an error (`onError: "skip"` skips and
 * reports it) instead of being passed over; a class needs `minPerClass` images (default 2, as
 * retrieval needs a second image of the class); files directly under the root are ignored, as in
 * torchvision.
 *
 * Splits: `"classes"` — the metric-learning convention: the first half of the sorted classes
 * (`⌊C/2⌋`) for training, the rest for testing, so the test classes are never seen in training;
 * `"images"` — within every class, a seeded `testFraction` of its images for testing.
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { DatasetLayoutError, type OnError, type SkippedFile } from "./errors.ts";
import { createRng } from "./random.ts";
import { encodeImage, type ImageFileFormat } from "./images.ts";
import {
  type ImageDataset,
  type ImageList,
  LOAD_IMAGES_KEYS,
  loadImages,
  type LoadImagesOptions,
} from "./image_loader.ts";

/**
 * torchvision's `IMG_EXTENSIONS`: the file extensions that count as images. Files of the formats
 * the decoders do not read (`.bmp`, `.ppm`, `.pgm`, `.tif`, `.tiff`, `.webp`) are listed and then
 * fail to decode with an error naming the format.
 *
 * @example
 * ```ts
 * IMG_EXTENSIONS.includes(".png"); // true
 * ```
 */
export const IMG_EXTENSIONS: readonly string[] = Object.freeze([
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
]);

/**
 * Compares strings by Unicode code point, as Python's `sorted` does (JavaScript's `<` compares
 * UTF-16 code units, which orders characters above U+FFFF differently).
 *
 * @example
 * ```ts
 * import { compareCodePoints } from "./image_folder.ts";
 * ["b", "B", "a"].sort(compareCodePoints); // ["B", "a", "b"]
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator](), ib = b[Symbol.iterator]();
  while (true) {
    const x = ia.next(), y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const cx = x.value.codePointAt(0)!, cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/**
 * Which part of a folder to list, and how it is split (see the module documentation).
 *
 * @example
 * ```ts
 * const s: ImageSplitOptions = { subset: "test", split: "images", testFraction: 0.2, seed: 1 };
 * ```
 */
export interface ImageSplitOptions {
  /** `"all"` (default), `"train"` or `"test"`. */
  subset?: "all" | "train" | "test";
  /** `"classes"` (default; class-disjoint, the first ⌊C/2⌋ classes train) or `"images"`. */
  split?: "classes" | "images";
  /** With `split: "images"`: the fraction of each class's images for testing. Default 0.2. */
  testFraction?: number;
  /** With `split: "images"`: the seed of the per-class draw. Default 0. */
  seed?: number;
}

/**
 * Options of {@linkcode scanImageFolder}.
 *
 * @example
 * ```ts
 * const o: ScanImageFolderOptions = { subset: "train", extensions: [".png"], onError: "skip" };
 * ```
 */
export interface ScanImageFolderOptions extends ImageSplitOptions {
  /** File extensions that count as images (lower case, with the dot). Default {@link IMG_EXTENSIONS}. */
  extensions?: readonly string[];
  /** Classes (in the chosen subset) need this many images. Default 2. */
  minPerClass?: number;
  /** Non-image files and too-small classes: throw (default) or skip and report. */
  onError?: OnError;
  /** Where skip reports go. Default `console.warn`. */
  log?: (line: string) => void;
}

const SCAN_KEYS = [
  "subset",
  "split",
  "testFraction",
  "seed",
  "extensions",
  "minPerClass",
  "onError",
  "log",
];

/** An {@linkcode ImageList} from a scan, with the files the scan skipped. */
export interface ScannedImageList extends ImageList {
  /** Files and classes left out (only with `onError: "skip"`). */
  skipped: SkippedFile[];
}

function join(a: string, b: string): string {
  return a.endsWith("/") ? a + b : `${a}/${b}`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** Every file under `dir` (links followed), in torchvision's order: folders by path, files by name. */
async function walk(dir: string, seen: Set<string>): Promise<string[]> {
  const groups: { dir: string; files: string[] }[] = [];
  const visit = async (d: string) => {
    let real: string;
    try {
      real = await Deno.realPath(d);
    } catch {
      real = d;
    }
    if (seen.has(real)) return; // a link cycle
    seen.add(real);
    const files: string[] = [];
    const subdirs: string[] = [];
    for await (const e of Deno.readDir(d)) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      const directory = e.isDirectory || (e.isSymlink && await isDirectory(p));
      if (directory) subdirs.push(p);
      else files.push(e.name);
    }
    files.sort(compareCodePoints);
    groups.push({ dir: d, files });
    for (const s of subdirs) await visit(s);
  };
  await visit(dir);
  groups.sort((a, b) => compareCodePoints(a.dir, b.dir));
  return groups.flatMap((g) => g.files.map((f) => join(g.dir, f)));
}

function checkSplit(fn: string, options: ImageSplitOptions) {
  const { subset = "all", split = "classes", testFraction = 0.2, seed = 0 } = options;
  if (subset !== "all" && subset !== "train" && subset !== "test") {
    throw new TypeError(
      `${fn}: subset must be "all", "train" or "test", got ${JSON.stringify(subset)}`,
    );
  }
  if (split !== "classes" && split !== "images") {
    throw new TypeError(`${fn}: split must be "classes" or "images", got ${JSON.stringify(split)}`);
  }
  if (typeof testFraction !== "number" || !(testFraction > 0 && testFraction < 1)) {
    throw new TypeError(
      `${fn}: testFraction must be in (0, 1), got ${JSON.stringify(testFraction)}`,
    );
  }
  if (!Number.isInteger(seed)) {
    throw new TypeError(`${fn}: seed must be an integer, got ${JSON.stringify(seed)}`);
  }
  return { subset, split, testFraction, seed };
}

/**
 * Selects a subset of per-class file lists: class-disjoint (first ⌊C/2⌋ classes train) or a
 * seeded per-class draw of `round(testFraction · n_c)` test images (at least 1, at most n_c − 1;
 * one RNG seeded with `seed`, classes in label order, each class's indices shuffled by
 * Fisher–Yates and the first ones taken). Files keep their sorted order.
 */
function selectSubset(
  perClass: string[][],
  split: ReturnType<typeof checkSplit>,
): { paths: string[]; labels: number[] } {
  const paths: string[] = [];
  const labels: number[] = [];
  const c = perClass.length;
  const trainClasses = Math.floor(c / 2);
  const rng = createRng(split.seed);
  perClass.forEach((files, label) => {
    let chosen: boolean[];
    if (split.subset === "all") chosen = files.map(() => true);
    else if (split.split === "classes") {
      const inTrain = label < trainClasses;
      chosen = files.map(() => inTrain === (split.subset === "train"));
    } else {
      const k = files.length;
      const testCount = Math.min(k - 1, Math.max(1, Math.round(split.testFraction * k)));
      const order = rng.shuffle(Array.from({ length: k }, (_, i) => i));
      const isTest = new Array<boolean>(k).fill(false);
      for (let i = 0; i < testCount; i++) isTest[order[i]] = true;
      chosen = isTest.map((t) => t === (split.subset === "test"));
    }
    files.forEach((f, i) => {
      if (chosen[i]) {
        paths.push(f);
        labels.push(label);
      }
    });
  });
  return { paths, labels };
}

/**
 * Lists an image folder (see the module documentation for the convention and the splits) without
 * decoding anything: paths, labels and class names.
 *
 * @param root the folder holding one sub-folder per class
 * @param options subset and split, extensions, error policy
 * @returns the list, and what was skipped
 * @throws DatasetLayoutError when `root` is missing or not a folder, has no class folders, a class
 * has no image, a class folder holds a non-image file, or a class of the subset has fewer than
 * `minPerClass` images (each naming the folder or file; with `onError: "skip"` the last three
 * are skipped and reported instead); TypeError for bad options.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanImageFolder, writeImageFolder } from "./image_folder.ts";
 * const root = await Deno.makeTempDir();
 * await writeImageFolder(root, new Uint8Array(6 * 4), [1, 0, 1, 0, 2, 2], ["b", "a", "c"], { shape: [2, 2, 1] });
 * const list = await scanImageFolder(root, { subset: "train" });
 * assert.deepEqual(list.classNames, ["a", "b", "c"]); // sorted, as torchvision does
 * assert.deepEqual([...list.labels], [0, 0]); // ⌊3/2⌋ = 1 training class
 * ```
 */
export async function scanImageFolder(
  root: string,
  options: ScanImageFolderOptions = {},
): Promise<ScannedImageList> {
  const fn = "scanImageFolder";
  checkOptionKeys(fn, options, SCAN_KEYS);
  const split = checkSplit(fn, options);
  const extensions = (options.extensions ?? IMG_EXTENSIONS).map((e) => e.toLowerCase());
  const minPerClass = options.minPerClass ?? 2;
  if (!Number.isInteger(minPerClass) || minPerClass < 1) {
    throw new TypeError(`${fn}: minPerClass must be a positive integer, got ${minPerClass}`);
  }
  const onError = options.onError ?? "throw";
  if (onError !== "throw" && onError !== "skip") {
    throw new TypeError(`${fn}: onError must be "throw" or "skip", got ${JSON.stringify(onError)}`);
  }
  const log = options.log ?? ((line: string) => console.warn(line));
  if (typeof root !== "string" || root === "") {
    throw new TypeError(`${fn}: root must be a folder path, got ${JSON.stringify(root)}`);
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root);
  } catch (e) {
    throw new DatasetLayoutError(`${fn}: cannot read ${root}: ${(e as Error).message}`, root, {
      cause: e,
    });
  }
  if (!info.isDirectory) throw new DatasetLayoutError(`${fn}: ${root} is not a folder`, root);
  const classDirs: string[] = [];
  let looseImages = 0;
  for await (const e of Deno.readDir(root)) {
    if (e.name.startsWith(".")) continue;
    const p = join(root, e.name);
    if (e.isDirectory || (e.isSymlink && await isDirectory(p))) classDirs.push(e.name);
    else if (extensions.some((x) => e.name.toLowerCase().endsWith(x))) looseImages++;
  }
  classDirs.sort(compareCodePoints);
  if (classDirs.length === 0) {
    throw new DatasetLayoutError(
      `${fn}: ${root} has no class folders` +
        (looseImages > 0
          ? ` (it holds ${looseImages} images directly; put each class's images in a sub-folder named after the class)`
          : " (it is empty)"),
      root,
    );
  }
  const skipped: SkippedFile[] = [];
  const skip = (path: string, reason: string) => {
    skipped.push({ path, reason });
    log(`${fn}: skipped ${path} (${reason})`);
  };
  const perClass: string[][] = [];
  const seen = new Set<string>();
  for (const name of classDirs) {
    const dir = join(root, name);
    const files: string[] = [];
    for (const f of await walk(dir, seen)) {
      if (extensions.some((x) => f.toLowerCase().endsWith(x))) files.push(f);
      else {
        const reason = `not an image file (extensions: ${extensions.join(" ")})`;
        if (onError === "throw") {
          throw new DatasetLayoutError(
            `${fn}: ${f} is ${reason}; remove it or pass onError: "skip"`,
            f,
          );
        }
        skip(f, `DatasetLayoutError: ${reason}`);
      }
    }
    if (files.length === 0) {
      if (onError === "throw") {
        throw new DatasetLayoutError(
          `${fn}: class folder ${dir} holds no image (extensions: ${extensions.join(" ")})`,
          dir,
        );
      }
      skip(dir, "DatasetLayoutError: class folder without images");
    }
    perClass.push(files);
  }
  const { paths, labels } = selectSubset(perClass, split);
  // Classes of the subset with too few images.
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const small = new Set([...counts].filter(([, k]) => k < minPerClass).map(([c]) => c));
  let keepPaths = paths, keepLabels = labels;
  if (small.size > 0) {
    const described = [...small].map((c) => `${join(root, classDirs[c])} (${counts.get(c)})`);
    if (onError === "throw") {
      throw new DatasetLayoutError(
        `${fn}: ${described.join(", ")} ${
          small.size === 1 ? "has" : "have"
        } fewer than minPerClass = ${minPerClass} images (${split.subset}); retrieval needs at least 2 images per class`,
        join(root, classDirs[[...small][0]]),
      );
    }
    for (const c of small) {
      skip(join(root, classDirs[c]), `DatasetLayoutError: fewer than ${minPerClass} images`);
    }
    keepPaths = paths.filter((_, i) => !small.has(labels[i]));
    keepLabels = labels.filter((l) => !small.has(l));
  }
  if (keepPaths.length === 0) {
    throw new DatasetLayoutError(`${fn}: ${root} has no images in subset "${split.subset}"`, root);
  }
  return {
    dataset: "folder",
    root,
    subset: split.subset,
    paths: keepPaths,
    labels: Int32Array.from(keepLabels),
    classNames: classDirs,
    skipped,
  };
}

/**
 * Options of {@linkcode loadImageFolder}: the scan's and the loader's.
 *
 * @example
 * ```ts
 * const o: LoadImageFolderOptions = { size: 64, subset: "train", split: "classes" };
 * ```
 */
export type LoadImageFolderOptions = ScanImageFolderOptions & LoadImagesOptions;

/**
 * Scans an image folder ({@linkcode scanImageFolder}) and decodes its images
 * ({@linkcode loadImages}): float32 `[n, h, w, c]` in [0, 1], labels and class names as
 * torchvision's `ImageFolder` gives them (`subset`/`split` select a class-disjoint or per-class
 * part). Skipped files of both steps are in `skipped`.
 *
 * @param root the folder holding one sub-folder per class
 * @throws DatasetLayoutError, ImageDecodeError, ImageSizeError (see the two steps).
 * @example
 * ```ts
 * import { loadImageFolder, writeImageFolder } from "./image_folder.ts";
 * const root = await Deno.makeTempDir();
 * await writeImageFolder(root, new Float32Array(4 * 16 * 16 * 3), [0, 0, 1, 1], ["x", "y"], { shape: [16, 16, 3] });
 * const ds = await loadImageFolder(root, { size: 8, progress: false });
 * console.log(ds.shape, ds.classNames); // [4, 8, 8, 3] ["x", "y"]
 * ```
 */
export async function loadImageFolder(
  root: string,
  options: LoadImageFolderOptions = {},
): Promise<ImageDataset> {
  checkOptionKeys("loadImageFolder", options, [...new Set([...SCAN_KEYS, ...LOAD_IMAGES_KEYS])]);
  const scanOptions: Record<string, unknown> = {};
  const loadOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (SCAN_KEYS.includes(k)) scanOptions[k] = v;
    if (LOAD_IMAGES_KEYS.includes(k)) loadOptions[k] = v;
  }
  const list = await scanImageFolder(root, scanOptions as ScanImageFolderOptions);
  const ds = await loadImages(list, loadOptions as LoadImagesOptions);
  return { ...ds, skipped: [...list.skipped, ...ds.skipped] };
}

/**
 * Options of {@linkcode writeImageFolder}.
 *
 * @example
 * ```ts
 * const o: WriteImageFolderOptions = { shape: [28, 28, 1], format: "png" };
 * ```
 */
export interface WriteImageFolderOptions {
  /** Each image's `[h, w, c]`, c = 1 or 3. */
  shape: readonly [number, number, number];
  /** `"png"` (default) or `"jpeg"`. */
  format?: ImageFileFormat;
  /** JPEG quality. Default 90. */
  quality?: number;
}

/**
 * Writes labelled images as an image folder: `root/<class name>/<index>.<png|jpg>` (the index
 * zero-padded, so that file order is image order), each file written atomically. Class names
 * must be usable as folder names (no `/`, not `.`-prefixed). Used by notebook 09 to turn the
 * embedded Fashion-MNIST subset into a folder, and by the tests.
 *
 * @param images `[n, h, w, c]` values in [0, 1] (`Float32Array`) or 0..255 (`Uint8Array`)
 * @param labels `[n]`, indices of `classNames`
 * @returns the paths written, in image order
 * @throws TypeError for a bad shape, label or class name.
 * @example
 * ```ts
 * import { writeImageFolder } from "./image_folder.ts";
 * const root = await Deno.makeTempDir();
 * const paths = await writeImageFolder(root, new Uint8Array(2 * 4 * 4), [0, 1], ["cat", "dog"], { shape: [4, 4, 1] });
 * console.log(paths.map((p) => p.slice(root.length))); // ["/cat/0.png", "/dog/1.png"]
 * ```
 */
export async function writeImageFolder(
  root: string,
  images: Float32Array | Uint8Array,
  labels: ArrayLike<number>,
  classNames: readonly string[],
  options: WriteImageFolderOptions,
): Promise<string[]> {
  const fn = "writeImageFolder";
  checkOptionKeys(fn, options, ["shape", "format", "quality"]);
  const [h, w, c] = options.shape ?? [];
  if (c !== 1 && c !== 3) {
    throw new TypeError(`${fn}: shape[2] (channels) must be 1 or 3, got ${c}`);
  }
  const per = h * w * c;
  const n = labels.length;
  if (!(per > 0) || images.length !== n * per) {
    throw new TypeError(`${fn}: ${images.length} values for ${n} images of [${options.shape}]`);
  }
  for (const name of classNames) {
    if (typeof name !== "string" || name === "" || name.includes("/") || name.startsWith(".")) {
      throw new TypeError(`${fn}: class name ${JSON.stringify(name)} cannot be a folder name`);
    }
  }
  const format = options.format ?? "png";
  const ext = format === "jpeg" ? "jpg" : "png";
  const digits = String(Math.max(0, n - 1)).length;
  const paths: string[] = [];
  const made = new Set<number>();
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= classNames.length) {
      throw new TypeError(`${fn}: labels[${i}] = ${label} is not a class index`);
    }
    const dir = join(root, classNames[label]);
    if (!made.has(label)) {
      await Deno.mkdir(dir, { recursive: true });
      made.add(label);
    }
    const bytes = encodeImage(images.subarray(i * per, (i + 1) * per), {
      width: w,
      height: h,
      channels: c,
      format,
      quality: options.quality,
    });
    const path = join(dir, `${String(i).padStart(digits, "0")}.${ext}`);
    await writeFileAtomic(path, bytes);
    paths.push(path);
  }
  return paths;
}
