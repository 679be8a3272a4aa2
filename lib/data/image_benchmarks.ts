/**
 * The layouts of the image data sets metric-learning papers report on, read as published, into
 * {@linkcode ImageList}s (paths, labels, class names; decode them with `loadImages` or stream them
 * with `imageBatches`). The data cannot be downloaded by this library: `data/README.md` says
 * where to get each and under which licence, and `deno task data <name> <root>` checks a copy.
 *
 * | data set | layout read | train / test (metric-learning convention) |
 * | --- | --- | --- |
 * | CUB-200-2011 (`cub200`) | `images.txt`, `image_class_labels.txt`, `classes.txt`, `images/` | classes 1–100 / 101–200 |
 * | Cars196 (`cars196`) | `cars_annos.mat` + `car_ims/`, or the devkit: `devkit/cars_meta.mat`, `devkit/cars_train_annos.mat` + `cars_train/`, `cars_test_annos_withlabels.mat` + `cars_test/` | classes 1–98 / 99–196 |
 * | Stanford Online Products (`sop`) | `Ebay_train.txt`, `Ebay_test.txt` | the two files (11,318 / 11,316 classes) |
 * | In-Shop Clothes Retrieval (`inshop`) | `list_eval_partition.txt` (or `Eval/…`), `img/` (or `Img/img/`) | `train` / `query` + `gallery` |
 *
 * For CUB and Cars the train classes are the first ⌊C/2⌋ class ids (100 of 200, 98 of 196), so a
 * small replica of a layout splits the same way. Labels are class ids − 1 (CUB, Cars, SOP) or the
 * index of the item id in sorted order (In-Shop). Every file a layout names is checked to exist
 * (`checkFiles`, default true): a missing image is a {@link DatasetLayoutError} naming it, before
 * anything is decoded.
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import { DatasetLayoutError, type OnError, type SkippedFile } from "./errors.ts";
import type { ImageList } from "./image_loader.ts";
import { type MatValue, readMat5 } from "./_mat5.ts";
import { scanImageFolder, type ScanImageFolderOptions } from "./image_folder.ts";

/** The benchmark data sets with a layout reader. */
export type BenchmarkDataset = "cub200" | "cars196" | "sop" | "inshop";

/**
 * Published sizes of each data set's subsets (images and classes), against which
 * `deno task data <name>` checks a copy.
 *
 * @example
 * ```ts
 * PUBLISHED_COUNTS.cub200.train; // { images: 5864, classes: 100 }
 * ```
 */
export const PUBLISHED_COUNTS: Readonly<
  Record<BenchmarkDataset, Readonly<Record<string, { images: number; classes: number }>>>
> = Object.freeze({
  cub200: {
    all: { images: 11788, classes: 200 },
    train: { images: 5864, classes: 100 },
    test: { images: 5924, classes: 100 },
  },
  cars196: {
    all: { images: 16185, classes: 196 },
    train: { images: 8054, classes: 98 },
    test: { images: 8131, classes: 98 },
  },
  sop: {
    all: { images: 120053, classes: 22634 },
    train: { images: 59551, classes: 11318 },
    test: { images: 60502, classes: 11316 },
  },
  inshop: {
    all: { images: 52712, classes: 7982 },
    train: { images: 25882, classes: 3997 },
    query: { images: 14218, classes: 3985 },
    gallery: { images: 12612, classes: 3985 },
  },
});

/**
 * Options of the layout readers.
 *
 * @example
 * ```ts
 * const o: ScanBenchmarkOptions = { subset: "test", checkFiles: true };
 * ```
 */
export interface ScanBenchmarkOptions {
  /**
   * `"all"` (default), `"train"`, `"test"`; In-Shop also `"query"` and `"gallery"` (its
   * `"test"` is query + gallery).
   */
  subset?: string;
  /** Check that every listed image exists. Default true. */
  checkFiles?: boolean;
  /** A missing image: throw (default) or skip and report. */
  onError?: OnError;
  /** Where skip reports go. Default `console.warn`. */
  log?: (line: string) => void;
}

/** A layout's list, with the files skipped (missing, with `onError: "skip"`). */
export interface BenchmarkImageList extends ImageList {
  /** Listed files that were missing (only with `onError: "skip"`). */
  skipped: SkippedFile[];
}

const SCAN_KEYS = ["subset", "checkFiles", "onError", "log"];

function join(...parts: string[]): string {
  return parts.map((p, i) => (i === 0 ? p.replace(/\/+$/, "") : p.replace(/^\/+|\/+$/g, "")))
    .join("/");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readText(fn: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new DatasetLayoutError(`${fn}: cannot read ${path}: ${(e as Error).message}`, path, {
      cause: e,
    });
  }
}

/** Non-empty lines with their 1-based numbers, split on whitespace. */
function rows(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  text.split(/\r?\n/).forEach((l, i) => {
    const t = l.trim();
    if (t !== "") out.push({ line: i + 1, fields: t.split(/\s+/) });
  });
  return out;
}

function intField(fn: string, path: string, line: number, value: string, what: string): number {
  if (!/^\d+$/.test(value)) {
    throw new DatasetLayoutError(
      `${fn}: ${path} line ${line}: ${what} ${JSON.stringify(value)} is not a positive integer`,
      path,
    );
  }
  return Number(value);
}

function checkSubset(fn: string, subset: string, allowed: readonly string[]): string {
  if (!allowed.includes(subset)) {
    throw new TypeError(
      `${fn}: subset must be one of ${allowed.map((s) => `"${s}"`).join(", ")}, got ${
        JSON.stringify(subset)
      }`,
    );
  }
  return subset;
}

/** Checks existence of every path (a few at a time); returns the missing ones' indices. */
async function missingFiles(paths: string[]): Promise<Set<number>> {
  const missing = new Set<number>();
  const width = 32;
  for (let s = 0; s < paths.length; s += width) {
    const found = await Promise.all(paths.slice(s, s + width).map(exists));
    found.forEach((ok, k) => {
      if (!ok) missing.add(s + k);
    });
  }
  return missing;
}

/** Applies the subset, checks files, builds the list. */
async function finish(
  fn: string,
  dataset: BenchmarkDataset,
  root: string,
  subset: string,
  entries: { path: string; label: number; part: string }[],
  classNames: string[],
  options: ScanBenchmarkOptions,
  source: string,
): Promise<BenchmarkImageList> {
  const parts = subset === "all"
    ? null
    : dataset === "inshop" && subset === "test"
    ? ["query", "gallery"]
    : [subset];
  const chosen = parts === null ? entries : entries.filter((e) => parts.includes(e.part));
  const skipped: SkippedFile[] = [];
  let kept = chosen;
  if (options.checkFiles ?? true) {
    const missing = await missingFiles(chosen.map((e) => e.path));
    if (missing.size > 0) {
      const first = chosen[[...missing][0]].path;
      if ((options.onError ?? "throw") === "throw") {
        throw new DatasetLayoutError(
          `${fn}: ${source} names ${missing.size} image${
            missing.size === 1 ? "" : "s"
          } that do not exist, the first ${first}`,
          first,
        );
      }
      const log = options.log ?? ((line: string) => console.warn(line));
      for (const i of missing) {
        skipped.push({
          path: chosen[i].path,
          reason: `DatasetLayoutError: listed in ${source} but missing`,
        });
        log(`${fn}: skipped ${chosen[i].path} (listed in ${source} but missing)`);
      }
      kept = chosen.filter((_, i) => !missing.has(i));
    }
  }
  if (kept.length === 0) {
    throw new DatasetLayoutError(`${fn}: ${root} has no images in subset "${subset}"`, root);
  }
  return {
    dataset,
    root,
    subset,
    paths: kept.map((e) => e.path),
    labels: Int32Array.from(kept, (e) => e.label),
    classNames,
    skipped,
  };
}

function firstHalf(classCount: number, label: number): string {
  return label < Math.floor(classCount / 2) ? "train" : "test";
}

/**
 * Lists CUB-200-2011 (Wah et al. 2011) from its published layout: `images.txt`
 * (`<image id> <path under images/>`), `image_class_labels.txt` (`<image id> <class id>`),
 * `classes.txt` (`<class id> <name>`). Train = classes 1–100, test = 101–200 (the first ⌊C/2⌋
 * classes), the metric-learning convention (not the data set's own `train_test_split.txt`).
 *
 * @param root the `CUB_200_2011` folder
 * @throws DatasetLayoutError naming the file and line of a malformed or inconsistent line, or a
 * listed image that does not exist.
 * @example
 * ```ts
 * import { scanCub200 } from "./image_benchmarks.ts";
 * const train = await scanCub200("data/CUB_200_2011", { subset: "train" }).catch(() => undefined);
 * ```
 */
export async function scanCub200(
  root: string,
  options: ScanBenchmarkOptions = {},
): Promise<BenchmarkImageList> {
  const fn = "scanCub200";
  checkOptionKeys(fn, options, SCAN_KEYS);
  const subset = checkSubset(fn, options.subset ?? "all", ["all", "train", "test"]);
  const classesPath = join(root, "classes.txt");
  const classRows = rows(await readText(fn, classesPath));
  const classNames: string[] = [];
  for (const { line, fields } of classRows) {
    if (fields.length < 2) {
      throw new DatasetLayoutError(
        `${fn}: ${classesPath} line ${line}: expected "<class id> <name>"`,
        classesPath,
      );
    }
    const id = intField(fn, classesPath, line, fields[0], "class id");
    if (id !== classNames.length + 1) {
      throw new DatasetLayoutError(
        `${fn}: ${classesPath} line ${line}: class id ${id}, expected ${classNames.length + 1}`,
        classesPath,
      );
    }
    classNames.push(fields.slice(1).join(" "));
  }
  const imagesPath = join(root, "images.txt");
  const labelsPath = join(root, "image_class_labels.txt");
  const imageRows = rows(await readText(fn, imagesPath));
  const labelRows = rows(await readText(fn, labelsPath));
  const labelOf = new Map<number, number>();
  for (const { line, fields } of labelRows) {
    if (fields.length !== 2) {
      throw new DatasetLayoutError(
        `${fn}: ${labelsPath} line ${line}: expected "<image id> <class id>"`,
        labelsPath,
      );
    }
    const id = intField(fn, labelsPath, line, fields[0], "image id");
    const cls = intField(fn, labelsPath, line, fields[1], "class id");
    if (cls < 1 || cls > classNames.length) {
      throw new DatasetLayoutError(
        `${fn}: ${labelsPath} line ${line}: class id ${cls} is not in classes.txt (1..${classNames.length})`,
        labelsPath,
      );
    }
    if (labelOf.has(id)) {
      throw new DatasetLayoutError(
        `${fn}: ${labelsPath} line ${line}: image id ${id} repeated`,
        labelsPath,
      );
    }
    labelOf.set(id, cls - 1);
  }
  const entries: { path: string; label: number; part: string }[] = [];
  const seen = new Set<number>();
  for (const { line, fields } of imageRows) {
    if (fields.length !== 2) {
      throw new DatasetLayoutError(
        `${fn}: ${imagesPath} line ${line}: expected "<image id> <path>"`,
        imagesPath,
      );
    }
    const id = intField(fn, imagesPath, line, fields[0], "image id");
    if (seen.has(id)) {
      throw new DatasetLayoutError(
        `${fn}: ${imagesPath} line ${line}: image id ${id} repeated`,
        imagesPath,
      );
    }
    seen.add(id);
    const label = labelOf.get(id);
    if (label === undefined) {
      throw new DatasetLayoutError(
        `${fn}: ${imagesPath} line ${line}: image id ${id} has no line in image_class_labels.txt`,
        labelsPath,
      );
    }
    entries.push({
      path: join(root, "images", fields[1]),
      label,
      part: firstHalf(classNames.length, label),
    });
  }
  if (labelOf.size !== seen.size) {
    throw new DatasetLayoutError(
      `${fn}: image_class_labels.txt has ${labelOf.size} images, images.txt ${seen.size}`,
      labelsPath,
    );
  }
  return await finish(fn, "cub200", root, subset, entries, classNames, options, "images.txt");
}

function matString(v: MatValue | undefined): string | undefined {
  return v?.kind === "char" ? v.text.join("") : undefined;
}

function matNumber(v: MatValue | undefined): number | undefined {
  return v?.kind === "numeric" && v.data.length === 1 ? v.data[0] : undefined;
}

async function readMatFile(fn: string, path: string): Promise<Record<string, MatValue>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DatasetLayoutError(`${fn}: cannot read ${path}: ${(e as Error).message}`, path, {
      cause: e,
    });
  }
  try {
    return await readMat5(bytes, path);
  } catch (e) {
    throw new DatasetLayoutError(`${fn}: ${(e as Error).message}`, path, { cause: e });
  }
}

function classNamesOf(fn: string, path: string, mat: Record<string, MatValue>): string[] {
  const v = mat.class_names;
  if (v?.kind !== "cell") {
    throw new DatasetLayoutError(`${fn}: ${path} has no cell array class_names`, path);
  }
  return v.cells.map((c, i) => {
    const s = matString(c);
    if (s === undefined) {
      throw new DatasetLayoutError(`${fn}: ${path}: class_names{${i + 1}} is not text`, path);
    }
    return s;
  });
}

function annotationsOf(
  fn: string,
  path: string,
  mat: Record<string, MatValue>,
  pathField: string,
  classCount: number,
): { file: string; label: number; test?: number }[] {
  const v = mat.annotations;
  if (v?.kind !== "struct") {
    throw new DatasetLayoutError(`${fn}: ${path} has no structure array annotations`, path);
  }
  return v.elements.map((e, i) => {
    const file = matString(e[pathField]);
    const cls = matNumber(e.class);
    if (file === undefined || cls === undefined || !Number.isInteger(cls)) {
      throw new DatasetLayoutError(
        `${fn}: ${path}: annotations(${i + 1}) lacks a text ${pathField} or an integer class`,
        path,
      );
    }
    if (cls < 1 || cls > classCount) {
      throw new DatasetLayoutError(
        `${fn}: ${path}: annotations(${i + 1}).class = ${cls} is outside 1..${classCount}`,
        path,
      );
    }
    return { file, label: cls - 1, test: matNumber(e.test) };
  });
}

/**
 * Lists Cars196 (Stanford Cars, Krause et al. 2013) from the annotation files of its release:
 * `cars_annos.mat` (fields `relative_im_path`, `class`; `class_names`) with `car_ims/`, or the
 * devkit's `devkit/cars_meta.mat` (`class_names`), `devkit/cars_train_annos.mat` (fields `fname`,
 * `class`) with `cars_train/`, and `cars_test_annos_withlabels.mat` (at the root or in `devkit/`)
 * with `cars_test/`. Train = classes 1–98, test = 99–196 (the first ⌊C/2⌋ classes).
 *
 * @param root the folder holding `cars_annos.mat` or `devkit/`
 * @throws DatasetLayoutError for a missing or malformed annotation file or a missing image.
 * @example
 * ```ts
 * import { scanCars196 } from "./image_benchmarks.ts";
 * const test = await scanCars196("data/cars196", { subset: "test" }).catch(() => undefined);
 * ```
 */
export async function scanCars196(
  root: string,
  options: ScanBenchmarkOptions = {},
): Promise<BenchmarkImageList> {
  const fn = "scanCars196";
  checkOptionKeys(fn, options, SCAN_KEYS);
  const subset = checkSubset(fn, options.subset ?? "all", ["all", "train", "test"]);
  const entries: { path: string; label: number; part: string }[] = [];
  let classNames: string[];
  let source: string;
  const annos = join(root, "cars_annos.mat");
  if (await exists(annos)) {
    const mat = await readMatFile(fn, annos);
    classNames = classNamesOf(fn, annos, mat);
    for (const a of annotationsOf(fn, annos, mat, "relative_im_path", classNames.length)) {
      entries.push({
        path: join(root, a.file),
        label: a.label,
        part: firstHalf(classNames.length, a.label),
      });
    }
    source = "cars_annos.mat";
  } else {
    const meta = join(root, "devkit", "cars_meta.mat");
    if (!(await exists(meta))) {
      throw new DatasetLayoutError(
        `${fn}: ${root} has neither cars_annos.mat nor devkit/cars_meta.mat`,
        root,
      );
    }
    classNames = classNamesOf(fn, meta, await readMatFile(fn, meta));
    const trainPath = join(root, "devkit", "cars_train_annos.mat");
    let testPath = join(root, "cars_test_annos_withlabels.mat");
    if (!(await exists(testPath))) {
      testPath = join(root, "devkit", "cars_test_annos_withlabels.mat");
    }
    for (const [path, folder] of [[trainPath, "cars_train"], [testPath, "cars_test"]]) {
      const mat = await readMatFile(fn, path);
      for (const a of annotationsOf(fn, path, mat, "fname", classNames.length)) {
        entries.push({
          path: join(root, folder, a.file),
          label: a.label,
          part: firstHalf(classNames.length, a.label),
        });
      }
    }
    source = "the devkit's annotations";
  }
  return await finish(fn, "cars196", root, subset, entries, classNames, options, source);
}

/**
 * Lists Stanford Online Products (Oh Song et al. 2016) from `Ebay_train.txt` and `Ebay_test.txt`
 * (a header line, then `<image id> <class id> <super class id> <path>`). Labels are class ids − 1
 * (train classes 1–11,318, test 11,319–22,634); a class name is its id.
 *
 * @param root the `Stanford_Online_Products` folder
 * @throws DatasetLayoutError for a malformed line or a missing image.
 * @example
 * ```ts
 * import { scanSop } from "./image_benchmarks.ts";
 * const test = await scanSop("data/Stanford_Online_Products", { subset: "test" }).catch(() => undefined);
 * ```
 */
export async function scanSop(
  root: string,
  options: ScanBenchmarkOptions = {},
): Promise<BenchmarkImageList> {
  const fn = "scanSop";
  checkOptionKeys(fn, options, SCAN_KEYS);
  const subset = checkSubset(fn, options.subset ?? "all", ["all", "train", "test"]);
  const entries: { path: string; label: number; part: string }[] = [];
  let maxClass = 0;
  for (const part of ["train", "test"]) {
    const path = join(root, `Ebay_${part}.txt`);
    const lines = rows(await readText(fn, path));
    const header = lines.shift();
    if (header === undefined || header.fields[0] !== "image_id") {
      throw new DatasetLayoutError(
        `${fn}: ${path} line 1: expected the header "image_id class_id super_class_id path"`,
        path,
      );
    }
    for (const { line, fields } of lines) {
      if (fields.length !== 4) {
        throw new DatasetLayoutError(
          `${fn}: ${path} line ${line}: ${fields.length} fields, expected 4 (image_id class_id super_class_id path)`,
          path,
        );
      }
      const cls = intField(fn, path, line, fields[1], "class_id");
      intField(fn, path, line, fields[2], "super_class_id");
      if (cls < 1) throw new DatasetLayoutError(`${fn}: ${path} line ${line}: class_id 0`, path);
      maxClass = Math.max(maxClass, cls);
      entries.push({ path: join(root, fields[3]), label: cls - 1, part });
    }
  }
  const classNames = Array.from({ length: maxClass }, (_, i) => String(i + 1));
  return await finish(fn, "sop", root, subset, entries, classNames, options, "Ebay_*.txt");
}

/**
 * Lists In-Shop Clothes Retrieval (DeepFashion, Liu et al. 2016) from
 * `list_eval_partition.txt` (at the root or in `Eval/`: a count line, a header line, then
 * `<image name> <item id> <train|query|gallery>`); images are looked up under the root, or under
 * `Img/` when the root has no `img/`. Labels index the sorted item ids. Subsets: `"train"`,
 * `"query"`, `"gallery"`, `"test"` (query + gallery), `"all"`.
 *
 * @param root the In-Shop folder
 * @throws DatasetLayoutError for a malformed line, a count that disagrees with the first line,
 * or a missing image.
 * @example
 * ```ts
 * import { scanInShop } from "./image_benchmarks.ts";
 * const query = await scanInShop("data/inshop", { subset: "query" }).catch(() => undefined);
 * ```
 */
export async function scanInShop(
  root: string,
  options: ScanBenchmarkOptions = {},
): Promise<BenchmarkImageList> {
  const fn = "scanInShop";
  checkOptionKeys(fn, options, SCAN_KEYS);
  const subset = checkSubset(fn, options.subset ?? "all", [
    "all",
    "train",
    "test",
    "query",
    "gallery",
  ]);
  let path = join(root, "list_eval_partition.txt");
  if (!(await exists(path))) path = join(root, "Eval", "list_eval_partition.txt");
  const lines = rows(await readText(fn, path));
  const countLine = lines.shift();
  const header = lines.shift();
  if (
    countLine === undefined || !/^\d+$/.test(countLine.fields[0]) || countLine.fields.length !== 1
  ) {
    throw new DatasetLayoutError(`${fn}: ${path} line 1: expected the number of images`, path);
  }
  if (header === undefined || header.fields[0] !== "image_name") {
    throw new DatasetLayoutError(
      `${fn}: ${path} line 2: expected the header "image_name item_id evaluation_status"`,
      path,
    );
  }
  const count = Number(countLine.fields[0]);
  if (lines.length !== count) {
    throw new DatasetLayoutError(
      `${fn}: ${path} lists ${lines.length} images but its first line says ${count}`,
      path,
    );
  }
  const base = (await exists(join(root, "img"))) || !(await exists(join(root, "Img")))
    ? root
    : join(root, "Img");
  const raw: { file: string; item: string; part: string }[] = [];
  for (const { line, fields } of lines) {
    if (fields.length !== 3) {
      throw new DatasetLayoutError(
        `${fn}: ${path} line ${line}: ${fields.length} fields, expected 3 (image_name item_id evaluation_status)`,
        path,
      );
    }
    if (!["train", "query", "gallery"].includes(fields[2])) {
      throw new DatasetLayoutError(
        `${fn}: ${path} line ${line}: evaluation_status ${
          JSON.stringify(fields[2])
        } is not train, query or gallery`,
        path,
      );
    }
    raw.push({ file: fields[0], item: fields[1], part: fields[2] });
  }
  const classNames = [...new Set(raw.map((r) => r.item))].sort();
  const index = new Map(classNames.map((c, i) => [c, i]));
  const entries = raw.map((r) => ({
    path: join(base, r.file),
    label: index.get(r.item)!,
    part: r.part,
  }));
  return await finish(
    fn,
    "inshop",
    root,
    subset,
    entries,
    classNames,
    options,
    "list_eval_partition.txt",
  );
}

/**
 * The data set names of {@linkcode scanImageData}'s specifications.
 *
 * @example
 * ```ts
 * IMAGE_DATA_KINDS.includes("cub200"); // true
 * ```
 */
export const IMAGE_DATA_KINDS: readonly string[] = ["folder", "cub200", "cars196", "sop", "inshop"];

/**
 * Parses a data specification `<kind>:<path>` (kind: `folder`, `cub200`, `cars196`, `sop`,
 * `inshop`), as experiments' `--data` option takes it.
 *
 * @throws TypeError for an unknown kind or an empty path.
 * @example
 * ```ts
 * import { parseImageDataSpec } from "./image_benchmarks.ts";
 * parseImageDataSpec("cub200:/data/CUB_200_2011"); // { kind: "cub200", root: "/data/CUB_200_2011" }
 * ```
 */
export function parseImageDataSpec(spec: string): { kind: string; root: string } {
  const at = typeof spec === "string" ? spec.indexOf(":") : -1;
  const kind = at > 0 ? spec.slice(0, at) : "";
  const root = at > 0 ? spec.slice(at + 1) : "";
  if (!IMAGE_DATA_KINDS.includes(kind) || root === "") {
    throw new TypeError(
      `parseImageDataSpec: expected <kind>:<path> with kind one of ${
        IMAGE_DATA_KINDS.join(", ")
      }, got ${JSON.stringify(spec)}`,
    );
  }
  return { kind, root };
}

/**
 * Lists the images of a data specification (see {@linkcode parseImageDataSpec}): an image folder
 * (`folder:`; `subset` train/test is the class-disjoint split) or one of the benchmark layouts.
 *
 * @param spec `<kind>:<path>`
 * @param options the subset and the error policy (and, for folders, the scan's options)
 * @example
 * ```ts
 * import { scanImageData } from "./image_benchmarks.ts";
 * const list = await scanImageData("folder:/data/pets", { subset: "test" }).catch(() => undefined);
 * ```
 */
export async function scanImageData(
  spec: string,
  options: ScanBenchmarkOptions & Omit<ScanImageFolderOptions, "subset"> = {},
): Promise<BenchmarkImageList> {
  const { kind, root } = parseImageDataSpec(spec);
  if (kind === "folder") {
    const { checkFiles: _c, ...rest } = options;
    return await scanImageFolder(root, rest as ScanImageFolderOptions);
  }
  const scan = { cub200: scanCub200, cars196: scanCars196, sop: scanSop, inshop: scanInShop }[
    kind as BenchmarkDataset
  ];
  return await scan(root, options as ScanBenchmarkOptions); // folder-only options are refused
}
