/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747; MIT licence, © 2017 Zalando SE):
 * 70,000 grey 28×28 images of Zalando articles in 10 classes, as IDX files.
 *
 * {@link loadFashionMnist} finds the files in this order, first found wins:
 *
 * 1. the `source` option (a directory; throws if the files are not there);
 * 2. the `FASHION_MNIST_DIR` environment variable (same; throws if the files are not there);
 * 3. Debian's `dataset-fashion-mnist` package: `/usr/share/datasets/fashion-mnist`;
 * 4. `data/fashion-mnist-full/` in this repository (what `deno task data` downloads);
 * 5. the embedded, committed, class-balanced subset `data/fashion-mnist-subset/`
 *    (1,000 train and 200 test images per class; see `data/README.md`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import { type IdxArray, parseIdx } from "./idx.ts";
import { type Fingerprint, fingerprintArrays } from "./fingerprint.ts";

/**
 * The ten Fashion-MNIST class names, indexed by label.
 *
 * @example
 * ```ts
 * FASHION_MNIST_CLASSES[9]; // "Ankle boot"
 * ```
 */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]);

/** A Fashion-MNIST split: the 60,000 training images or the 10,000 test images. */
export type FashionMnistSplit = "train" | "test";

/** Where {@link loadFashionMnist} found its files. */
export type FashionMnistSourceKind = "option" | "env" | "debian" | "downloaded" | "embedded";

/**
 * One of the four official files: its name (gzip-compressed, as published), the MD5 of the
 * official `.gz` file (from the upstream README), and the SHA-256 and byte length of the
 * decompressed IDX content.
 *
 * The content SHA-256 values were computed from Debian's `dataset-fashion-mnist` files after
 * checking that their decompressed MD5s equal the published ones. Debian recompressed the files,
 * so the `.gz` bytes (and MD5s) differ from upstream's; the content is identical. Verifying the
 * decompressed content therefore checks both sources.
 *
 * @example
 * ```ts
 * const f: FashionMnistFile = FASHION_MNIST_FILES[0];
 * ```
 */
export interface FashionMnistFile {
  /** Split the file belongs to. */
  split: FashionMnistSplit;
  /** Images (`[n, 28, 28]` uint8) or labels (`[n]` uint8). */
  kind: "images" | "labels";
  /** File name without `.gz`, e.g. `train-images-idx3-ubyte`. */
  name: string;
  /** MD5 (hex) of the official upstream `<name>.gz`. */
  gzMd5: string;
  /** SHA-256 (hex) of the decompressed IDX file. */
  sha256: string;
  /** Byte length of the decompressed IDX file. */
  bytes: number;
}

/**
 * The four official Fashion-MNIST files with their checksums (see {@link FashionMnistFile}).
 *
 * @example
 * ```ts
 * FASHION_MNIST_FILES.map((f) => f.name + ".gz"); // the four upstream file names
 * ```
 */
export const FASHION_MNIST_FILES: readonly FashionMnistFile[] = Object.freeze([
  {
    split: "train",
    kind: "images",
    name: "train-images-idx3-ubyte",
    gzMd5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    bytes: 47040016,
  },
  {
    split: "train",
    kind: "labels",
    name: "train-labels-idx1-ubyte",
    gzMd5: "25c81989df183df01b3e8a0aad5dffbe",
    sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    bytes: 60008,
  },
  {
    split: "test",
    kind: "images",
    name: "t10k-images-idx3-ubyte",
    gzMd5: "bef4ecab320f06d8554ea6380940ec79",
    sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    bytes: 7840016,
  },
  {
    split: "test",
    kind: "labels",
    name: "t10k-labels-idx1-ubyte",
    gzMd5: "bb300cfdad3c16e7a12a480ee83cd310",
    sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    bytes: 10008,
  },
]);

/** Debian's install location of the `dataset-fashion-mnist` package. */
export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

function moduleDir(relative: string): string {
  const url = new URL(relative, import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

/** `data/fashion-mnist-full/` of this repository (written by `deno task data`). */
export const FULL_FASHION_MNIST_DIR: string = moduleDir("../../data/fashion-mnist-full");

/** `data/fashion-mnist-subset/` of this repository (the committed, class-balanced subset). */
export const EMBEDDED_FASHION_MNIST_DIR: string = moduleDir("../../data/fashion-mnist-subset");

/**
 * Options of {@link loadFashionMnist}.
 *
 * @example
 * ```ts
 * const opts: LoadFashionMnistOptions = { split: "test", limit: 500 };
 * ```
 */
export interface LoadFashionMnistOptions {
  /** `"train"` (files `train-*`) or `"test"` (files `t10k-*`). */
  split: FashionMnistSplit;
  /** A directory holding the IDX files (plain or `.gz`). Overrides every other source. */
  source?: string;
  /** Keep only the first `limit` images (in file order). A positive integer. */
  limit?: number;
  /**
   * Overrides of the fallback directories (for tests; `null` skips that candidate). Defaults:
   * {@link DEBIAN_FASHION_MNIST_DIR}, {@link FULL_FASHION_MNIST_DIR},
   * {@link EMBEDDED_FASHION_MNIST_DIR}.
   */
  fallbackDirs?: { debian?: string | null; downloaded?: string | null; embedded?: string | null };
}

/**
 * A loaded Fashion-MNIST split.
 *
 * @example
 * ```ts
 * const ds: FashionMnist = await loadFashionMnist({ split: "test" });
 * console.log(`${ds.n} images from ${ds.source.kind} (${ds.source.dir})`);
 * ```
 */
export interface FashionMnist {
  /** Pixels scaled to [0, 1] (uint8 / 255), row-major `[n, 28, 28, 1]`, length `n·784`. */
  images: Float32Array;
  /** Class labels in 0..9, `[n]`. */
  labels: Int32Array;
  /** Number of images. */
  n: number;
  /** `[n, 28, 28, 1]` (NHWC, one channel). */
  shape: [number, 28, 28, 1];
  /** {@link FASHION_MNIST_CLASSES}. */
  classNames: readonly string[];
  /** Which source the files came from, and the directory. */
  source: { kind: FashionMnistSourceKind; dir: string };
  /**
   * Content fingerprint of what was loaded: `fingerprintArrays({ images, labels })` (see
   * `fingerprint.ts`): equal for equal data from any source, different after any change or limit.
   */
  fingerprint: Fingerprint;
}

const IMAGE_SIDE = 28;

function fileNames(split: FashionMnistSplit): { images: string; labels: string } {
  const prefix = split === "train" ? "train" : "t10k";
  return { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
}

function isPermissionError(e: unknown): boolean {
  const errors = Deno.errors as unknown as Record<string, unknown>;
  for (const name of ["NotCapable", "PermissionDenied"]) {
    const ctor = errors[name];
    if (typeof ctor === "function" && e instanceof (ctor as ErrorConstructor)) return true;
  }
  return false;
}

/** `"found"`, `"missing"` or `"denied"` for a plain file path. */
async function probe(path: string): Promise<"found" | "missing" | "denied"> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? "found" : "missing";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "missing";
    if (isPermissionError(e)) return "denied";
    // Any other failure (e.g. ENOTDIR) means the file is not usable there.
    return "missing";
  }
}

interface Located {
  images: string;
  labels: string;
}

/**
 * Looks for the split's two files in `dir` (`<name>.gz` preferred over `<name>`). Returns the
 * paths, or the list of problems (missing or unreadable files).
 */
async function locate(
  dir: string,
  split: FashionMnistSplit,
): Promise<{ found: Located } | { problems: string[]; denied: boolean }> {
  const names = fileNames(split);
  const found: Partial<Located> = {};
  const problems: string[] = [];
  let denied = false;
  for (const key of ["images", "labels"] as const) {
    const base = `${dir.replace(/\/+$/, "")}/${names[key]}`;
    let hit: string | undefined;
    for (const candidate of [`${base}.gz`, base]) {
      const state = await probe(candidate);
      if (state === "found") {
        hit = candidate;
        break;
      }
      if (state === "denied") denied = true;
    }
    if (hit === undefined) problems.push(`${names[key]}(.gz)`);
    else found[key] = hit;
  }
  if (problems.length > 0) return { problems, denied };
  return { found: found as Located };
}

async function readMaybeGzip(path: string): Promise<Uint8Array> {
  if (!path.endsWith(".gz")) return await Deno.readFile(path);
  const file = await Deno.open(path, { read: true });
  try {
    const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`loadFashionMnist: cannot decompress ${path}: ${(e as Error).message}`);
  }
}

function readEnvDir(): string | undefined {
  try {
    const v = Deno.env.get("FASHION_MNIST_DIR");
    return v === undefined || v === "" ? undefined : v;
  } catch (e) {
    if (isPermissionError(e)) return undefined;
    throw e;
  }
}

async function resolveSource(
  options: LoadFashionMnistOptions,
): Promise<{ kind: FashionMnistSourceKind; dir: string; files: Located }> {
  const { split } = options;
  if (options.source !== undefined) {
    if (typeof options.source !== "string" || options.source === "") {
      throw new Error("loadFashionMnist: source must be a non-empty directory path");
    }
    const r = await locate(options.source, split);
    if ("found" in r) return { kind: "option", dir: options.source, files: r.found };
    throw new Error(
      `loadFashionMnist: source directory ${options.source} lacks ${r.problems.join(" and ")}` +
        (r.denied ? " (read permission denied)" : ""),
    );
  }
  const envDir = readEnvDir();
  if (envDir !== undefined) {
    const r = await locate(envDir, split);
    if ("found" in r) return { kind: "env", dir: envDir, files: r.found };
    throw new Error(
      `loadFashionMnist: FASHION_MNIST_DIR=${envDir} lacks ${r.problems.join(" and ")}` +
        (r.denied ? " (read permission denied)" : ""),
    );
  }
  const fb = options.fallbackDirs ?? {};
  const candidates: [FashionMnistSourceKind, string | null][] = [
    ["debian", fb.debian === undefined ? DEBIAN_FASHION_MNIST_DIR : fb.debian],
    ["downloaded", fb.downloaded === undefined ? FULL_FASHION_MNIST_DIR : fb.downloaded],
    ["embedded", fb.embedded === undefined ? EMBEDDED_FASHION_MNIST_DIR : fb.embedded],
  ];
  const tried: string[] = [];
  for (const [kind, dir] of candidates) {
    if (dir === null) continue;
    const r = await locate(dir, split);
    if ("found" in r) return { kind, dir, files: r.found };
    tried.push(`${kind} ${dir}${r.denied ? " (read permission denied)" : ""}`);
  }
  throw new Error(
    `loadFashionMnist: no Fashion-MNIST ${split} files found; tried ${tried.join(", ")}. ` +
      "Run `deno task data`, set FASHION_MNIST_DIR, or pass { source }.",
  );
}

function checkDecoded(images: IdxArray, labels: IdxArray, files: Located): void {
  if (images.dtype !== "uint8") {
    throw new Error(`loadFashionMnist: ${files.images}: images must be uint8, got ${images.dtype}`);
  }
  if (
    images.shape.length !== 3 || images.shape[1] !== IMAGE_SIDE || images.shape[2] !== IMAGE_SIDE
  ) {
    throw new Error(
      `loadFashionMnist: ${files.images}: images must have shape [n, 28, 28], got [${
        images.shape.join(", ")
      }]`,
    );
  }
  if (labels.dtype !== "uint8") {
    throw new Error(`loadFashionMnist: ${files.labels}: labels must be uint8, got ${labels.dtype}`);
  }
  if (labels.shape.length !== 1) {
    throw new Error(
      `loadFashionMnist: ${files.labels}: labels must have shape [n], got [${
        labels.shape.join(", ")
      }]`,
    );
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new Error(
      `loadFashionMnist: image and label counts differ: ${images.shape[0]} images in ` +
        `${files.images}, ${labels.shape[0]} labels in ${files.labels}`,
    );
  }
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    if (data[i] > 9) {
      throw new Error(
        `loadFashionMnist: ${files.labels}: label ${data[i]} at index ${i} is outside 0..9`,
      );
    }
  }
}

/**
 * Loads one split of Fashion-MNIST from the first source found (see the module documentation for
 * the order). Files may be gzip-compressed (`.gz`, preferred when both exist) or plain.
 *
 * Throws an `Error` naming the problem when: `split` is unknown; `limit` is not a positive
 * integer; `source` or `FASHION_MNIST_DIR` is given but lacks the files; no source has the
 * files; a file is not valid IDX; shapes are not `[n, 28, 28]` / `[n]`; image and label counts
 * differ; a label is outside 0..9. A missing permission to read the environment variable or a
 * fallback directory counts as "not found".
 *
 * @param options split, optional source directory and limit
 * @returns images `[n, 28, 28, 1]` in [0, 1], labels `[n]`, and the source used
 * @example
 * ```ts
 * import { loadFashionMnist } from "./fashion_mnist.ts";
 * const test = await loadFashionMnist({ split: "test", limit: 1000 });
 * console.log(`Fashion-MNIST test: ${test.n} images from ${test.source.kind} ${test.source.dir}`);
 * ```
 */
export async function loadFashionMnist(options: LoadFashionMnistOptions): Promise<FashionMnist> {
  checkOptionKeys("loadFashionMnist", options, ["split", "source", "limit", "fallbackDirs"]);
  const split = options?.split;
  if (split !== "train" && split !== "test") {
    throw new Error(
      `loadFashionMnist: unknown split ${JSON.stringify(split)} (expected "train" or "test")`,
    );
  }
  const limit = options.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new Error(`loadFashionMnist: limit must be a positive integer, got ${String(limit)}`);
  }
  const { kind, dir, files } = await resolveSource(options);
  const parse = async (path: string): Promise<IdxArray> => {
    try {
      return parseIdx(await readMaybeGzip(path));
    } catch (e) {
      throw new Error(`loadFashionMnist: ${path}: ${(e as Error).message}`);
    }
  };
  const images = await parse(files.images);
  const labels = await parse(files.labels);
  checkDecoded(images, labels, files);

  const total = images.shape[0];
  const n = limit === undefined ? total : Math.min(limit, total);
  const pixels = n * IMAGE_SIDE * IMAGE_SIDE;
  const out = new Float32Array(pixels);
  const src = images.data;
  for (let i = 0; i < pixels; i++) out[i] = src[i] / 255;
  const labelsOut = Int32Array.from(labels.data.subarray(0, n));
  return {
    images: out,
    labels: labelsOut,
    n,
    shape: [n, IMAGE_SIDE, IMAGE_SIDE, 1],
    classNames: FASHION_MNIST_CLASSES,
    source: { kind, dir },
    fingerprint: fingerprintArrays({ images: out, labels: labelsOut }),
  };
}

/**
 * Wraps a loaded split as tensors: `x` float32 `[n, 28, 28, 1]`, `y` int32 `[n]`. The caller owns
 * the tensors (dispose them, or create them inside `tf.tidy`).
 *
 * @param ds a split from {@link loadFashionMnist}
 * @returns `{ x, y }`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const { x, y } = toTensors(await loadFashionMnist({ split: "test", limit: 64 }));
 * // x.shape = [64, 28, 28, 1], y.dtype = "int32"
 * tf.dispose([x, y]);
 * ```
 */
export function toTensors(ds: FashionMnist): { x: tf.Tensor4D; y: tf.Tensor1D } {
  if (ds.images.length !== ds.n * IMAGE_SIDE * IMAGE_SIDE || ds.labels.length !== ds.n) {
    throw new Error(
      `toTensors: ds has n = ${ds.n} but ${ds.images.length} pixels and ${ds.labels.length} labels`,
    );
  }
  return {
    x: tf.tensor4d(ds.images, [ds.n, IMAGE_SIDE, IMAGE_SIDE, 1], "float32"),
    y: tf.tensor1d(ds.labels, "int32"),
  };
}
