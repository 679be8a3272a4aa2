/**
 * The data a training experiment can take, chosen by one option:
 *
 * ```text
 * --data fashion-mnist            the default: Fashion-MNIST, 28×28 grey (--dataSource: its folder)
 * --data folder:<path>            an image folder, one sub-folder per class (torchvision's ImageFolder)
 * --data cub200:<path>            CUB-200-2011        (classes 1–100 train, 101–200 test)
 * --data cars196:<path>           Cars196             (classes 1–98 train, 99–196 test)
 * --data sop:<path>               Stanford Online Products (Ebay_train.txt / Ebay_test.txt)
 * --data inshop:<path>            In-Shop             (train; test = query against gallery)
 * ```
 *
 * with `--imageSize` (default 64) and `--channels` (3 or 1) for image data. The specification is
 * checked before any work starts — an unknown kind, a path that does not exist or is not a folder,
 * or a folder the process may not read (Deno's permissions: `ReadPermissionError`, which makes
 * the runner print the exact command that allows it) is a usage error, exit code 2, no run
 * directory; so is a folder whose layout is wrong (its `DataError`'s message).
 *
 * Image data are split as metric learning does it — the classes of the training split are never
 * seen in testing (a folder: the first ⌊C/2⌋ sorted classes train, the rest test; the benchmark
 * data sets: their published splits). The training split is **streamed** from the files
 * (`imageBatches`: decoded by worker threads, two batches ahead, while the step runs), so a
 * folder of any size trains in bounded memory; the test split is decoded into memory once
 * (`n·h·w·c·4` bytes; `--testLimit` bounds it). `trainLimit` / `testLimit` keep an evenly spread
 * subset of a split's images (image `⌊i·n/limit⌋` for i < limit, so every class keeps its share),
 * while for Fashion-MNIST they keep the first images, as they always did.
 *
 * Each split's provenance (recorded in `config.json`, compared on `--resume`) has a fingerprint of
 * exactly the files and labels used: {@linkcode fingerprintFiles} over the split's image files
 * (relative paths, sizes and, up to {@linkcode CONTENT_HASH_LIMIT} bytes per split, contents;
 * above it paths and sizes only, which the provenance says), combined with the labels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { nearestName, option, type OptionSpecs, pathProblem, UsageError } from "./cli.ts";
import {
  type ExperimentData,
  type ExperimentDataSet,
  FASHION_MNIST_OPTIONS,
  loadExperimentData,
} from "./experiment.ts";
import { type Batch, type Sampler, shuffledBatches } from "./data/batches.ts";
import { mPerClassSampler } from "./data/samplers.ts";
import { DataError } from "./data/errors.ts";
import { IMAGE_DATA_KINDS, scanImageData } from "./data/image_benchmarks.ts";
import {
  type AsyncBatchSampler,
  imageBatches,
  type ImageList,
  imageTensors,
  loadImages,
} from "./data/image_loader.ts";
import { type DataProvenance, fingerprintArrays, fingerprintFiles } from "./data/fingerprint.ts";
import { embed } from "./models/encoders.ts";
import { encoderFor } from "./models/resnet.ts";
import { evaluate, evaluateEmbeddings, type EvaluateOptions, type Evaluation } from "./eval/mod.ts";

/** The value of `--data` that selects Fashion-MNIST (the default). */
export const FASHION_MNIST_DATA = "fashion-mnist";

/**
 * Above this many bytes of image files in a split (1 GiB), its fingerprint covers the files'
 * paths and sizes only, not their contents. Hashing contents means reading every byte before the
 * run starts: SHA-256 runs at about 1.4 GB/s here, plus the reads (measured under load: 20,000
 * JPEG files, 30 MB, in 1.7–2.8 s with contents, 0.7–1.4 s paths and sizes only); a split of
 * gigabytes on a slow disk would wait tens of seconds. By the archives' sizes, CUB-200-2011
 * (1.1 GB in all), Cars196 (1.9 GB) and In-Shop have their splits hashed whole, Stanford Online
 * Products (2.9 GB, about 1.5 GB per split) by paths and sizes — blind to an edit that keeps a
 * file's size, which the provenance's `fingerprintOf` says.
 */
export const CONTENT_HASH_LIMIT = 1 << 30;

/**
 * What is wrong with a `--data` value, or `undefined` when it can be used: `fashion-mnist`, or
 * `<kind>:<path>` with a known kind and a readable folder.
 *
 * @throws ReadPermissionError when the process may not read the folder.
 * @example
 * ```ts
 * import { dataSpecProblem } from "./experiment_data.ts";
 * dataSpecProblem("fashion-mnist"); // undefined
 * dataSpecProblem("folders:/data/pets"); // "expected fashion-mnist or <kind>:<path> … (did you mean folder?)"
 * ```
 */
export function dataSpecProblem(spec: string): string | undefined {
  if (spec === FASHION_MNIST_DATA) return undefined;
  const at = spec.indexOf(":");
  const kind = at > 0 ? spec.slice(0, at) : spec;
  if (!IMAGE_DATA_KINDS.includes(kind)) {
    const near = nearestName(kind, [FASHION_MNIST_DATA, ...IMAGE_DATA_KINDS]);
    return `expected ${FASHION_MNIST_DATA} or <kind>:<path> with kind one of ${
      IMAGE_DATA_KINDS.join(", ")
    }${near && near !== kind ? ` (did you mean ${near}?)` : ""}`;
  }
  const root = at > 0 ? spec.slice(at + 1) : "";
  if (root === "") return `expected ${kind}:<path>, the path of the data set's folder`;
  return pathProblem("data", root, "directory");
}

/**
 * The data options of a training experiment: `--data`, `--imageSize`, `--channels`, and
 * Fashion-MNIST's `--dataSource`.
 *
 * @example
 * ```ts
 * import { DATA_OPTIONS } from "./experiment_data.ts";
 * console.log(DATA_OPTIONS.data.default); // "fashion-mnist"
 * ```
 */
export const DATA_OPTIONS = {
  data: option.string(
    FASHION_MNIST_DATA,
    "the data: fashion-mnist, or <kind>:<path> with kind folder (one sub-folder per class), " +
      "cub200, cars196, sop or inshop",
    { placeholder: "spec", check: dataSpecProblem },
  ),
  imageSize: option.integer(
    64,
    "image data: images are resized and centre-cropped to this side",
    { min: 8, max: 512 },
  ),
  channels: option.choice(["3", "1"], "3", "image data: 3 (RGB) or 1 (grey)"),
  ...FASHION_MNIST_OPTIONS,
} as const satisfies OptionSpecs;

/** The values of {@linkcode DATA_OPTIONS} (and the limits, when an experiment has them). */
export interface DataOptionValues {
  /** `fashion-mnist` or `<kind>:<path>`. */
  data: string;
  /** Side of image data. */
  imageSize: number;
  /** `"3"` or `"1"`. */
  channels: string;
  /** Fashion-MNIST's folder (empty: the loader's order). */
  dataSource: string;
  /** Train images kept (0: all). */
  trainLimit?: number;
  /** Test images kept (0: all). */
  testLimit?: number;
}

/**
 * Whether `--data` names Fashion-MNIST.
 *
 * @example
 * ```ts
 * import { isFashionMnist } from "./experiment_data.ts";
 * isFashionMnist({ data: "folder:/x" }); // false
 * ```
 */
export function isFashionMnist(o: { data: string }): boolean {
  return o.data === FASHION_MNIST_DATA;
}

/**
 * Refuses data options given for the other kind of data: `--imageSize` or `--channels` with
 * Fashion-MNIST (always 28×28 grey), `--dataSource` with image data. For an experiment's
 * `resolve` (it sees which options were given).
 *
 * @throws UsageError naming the options.
 * @example
 * ```ts
 * import { checkDataOptions } from "./experiment_data.ts";
 * checkDataOptions({ data: "folder:/x", imageSize: 64, channels: "3", dataSource: "" }, ["data"]);
 * ```
 */
export function checkDataOptions(o: DataOptionValues, given: readonly string[]): void {
  if (isFashionMnist(o)) {
    const wrong = ["imageSize", "channels"].filter((k) => given.includes(k));
    if (wrong.length) {
      throw new UsageError(
        `${wrong.map((k) => "--" + k).join(" and ")} apply to image data ` +
          `(--data <kind>:<path>); Fashion-MNIST is 28×28 grey`,
      );
    }
  } else if (given.includes("dataSource")) {
    throw new UsageError(
      `--dataSource is Fashion-MNIST's folder; with --data ${o.data} leave it out`,
    );
  }
}

/**
 * The input shape `[h, w, c]` the options give: `[28, 28, 1]` for Fashion-MNIST, else
 * `[imageSize, imageSize, channels]`.
 *
 * @example
 * ```ts
 * import { dataShape } from "./experiment_data.ts";
 * dataShape({ data: "folder:/x", imageSize: 64, channels: "3", dataSource: "" }); // [64, 64, 3]
 * ```
 */
export function dataShape(o: DataOptionValues): [number, number, number] {
  return isFashionMnist(o) ? [28, 28, 1] : [o.imageSize, o.imageSize, Number(o.channels)];
}

/**
 * What `encoderFor` builds for the options' input shape, for `config.json`.
 *
 * @example
 * ```ts
 * import { encoderForDescription } from "./experiment_data.ts";
 * encoderForDescription([64, 64, 3], 64).name; // "resnetEncoder"
 * ```
 */
export function encoderForDescription(
  shape: readonly [number, number, number],
  embeddingDim: number,
): Record<string, unknown> {
  const [h, w, c] = shape;
  return c === 1 && Math.max(h, w) <= 32
    ? {
      name: "cnnEncoder (encoderFor)",
      inputShape: shape,
      embeddingDim,
      layers: "conv3x3(32)-relu-maxpool2, conv3x3(64)-relu-maxpool2, dense(128)-relu, dense, L2",
    }
    : {
      name: "resnetEncoder (encoderFor)",
      inputShape: shape,
      embeddingDim,
      width: 16,
      depth: [1, 1, 1],
      layers:
        "conv3x3 stem-BN-ReLU, 3 stages of basic blocks (16, 32, 64 channels), GAP, dense, L2",
    };
}

/**
 * A training experiment's data, whatever `--data` names: the training split as seeded batches
 * (in memory for Fashion-MNIST, streamed from the files for image data), the test split in
 * memory, and their provenance.
 *
 * @example
 * ```ts
 * import type { ExperimentImages } from "./experiment_data.ts";
 * const describe = (d: ExperimentImages) => `${d.dataset}: ${d.train.n} train, ${d.test.n} test`;
 * ```
 */
export interface ExperimentImages extends ExperimentDataSet {
  /** `fashion-mnist`, `folder`, `cub200`, `cars196`, `sop` or `inshop`. */
  dataset: string;
  /** Where the data were read from (for Fashion-MNIST: `<kind> (<dir>)`). */
  source: string;
  /** `[h, w, c]` of every image. */
  inputShape: [number, number, number];
  /** Class names, indexed by label. */
  classNames: string[];
  /** The training split: size, labels `[n]` and number of classes. */
  train: { n: number; labels: Int32Array; classes: number };
  /**
   * The test split in memory: images `x` `[n, h, w, c]`, labels `[n]`; for In-Shop the first
   * `queries` rows are the query images and the rest the gallery.
   */
  test: { x: tf.Tensor4D; labels: Int32Array; n: number; classes: number; queries?: number };
  /** For Fashion-MNIST: the loaded splits as `loadExperimentData` gives them. */
  fashionMnist?: ExperimentData;
  /**
   * Seeded training batches: shuffled (as `shuffledBatches`), or `m` per class (as
   * `mPerClassSampler`). Image data: an asynchronous sampler streaming the files; the runner's
   * `dispose` ends its decoding workers, `close()` does it earlier.
   */
  batches(
    options: { batchSize: number; seed: number; m?: number },
  ): Sampler<Batch> | AsyncBatchSampler;
  /** Training images by index, as float32 `[k, h, w, c]` values in [0, 1]. */
  trainImages(indices: Int32Array): Promise<Float32Array>;
  /**
   * Retrieval and clustering of `model` on the test split: each image against all others, or
   * (In-Shop) each query against the gallery.
   */
  evaluate(model: tf.LayersModel, options?: EvaluateOptions): Promise<Evaluation>;
  /** Frees the tensors and ends streaming workers. */
  dispose(): void;
}

function usage(e: unknown): never {
  if (e instanceof DataError || e instanceof TypeError) {
    throw new UsageError(`--data: ${(e as Error).message}`);
  }
  throw e;
}

/** An evenly spread subset of `limit` images (image ⌊i·n/limit⌋), or the list itself. */
function limitList<T extends ImageList>(list: T, limit: number | undefined): T {
  const n = list.paths.length;
  if (!limit || limit >= n) return list;
  const idx = Array.from({ length: limit }, (_, i) => Math.floor((i * n) / limit));
  return {
    ...list,
    paths: idx.map((i) => list.paths[i]),
    labels: Int32Array.from(idx, (i) => list.labels[i]),
  };
}

function classCount(labels: Int32Array): number {
  return new Set(labels).size;
}

/**
 * The provenance of one split of an image list: {@linkcode fingerprintFiles} of its files
 * (contents when they hold at most `contentHashLimit` bytes, default
 * {@linkcode CONTENT_HASH_LIMIT}; else paths and sizes only) combined with its labels.
 *
 * @example
 * ```ts
 * import { imageListProvenance } from "./experiment_data.ts";
 * import { scanImageFolder, writeImageFolder } from "./data/image_folder.ts";
 * const root = await Deno.makeTempDir();
 * await writeImageFolder(root, new Uint8Array(4 * 4 * 4), [0, 0, 1, 1], ["a", "b"], { shape: [4, 4, 1] });
 * const p = await imageListProvenance(await scanImageFolder(root), "all");
 * console.log(p.count, p.fingerprint.startsWith("sha256:")); // 4 true
 * ```
 */
export async function imageListProvenance(
  list: ImageList,
  split: string,
  contentHashLimit: number = CONTENT_HASH_LIMIT,
): Promise<DataProvenance> {
  const root = list.root.replace(/\/+$/, "") || "/";
  const prefix = root.endsWith("/") ? root : root + "/";
  const relative = list.paths.map((p) => {
    if (!p.startsWith(prefix)) {
      throw new Error(`imageListProvenance: ${p} is not under the data set's root ${list.root}`);
    }
    return p.slice(prefix.length);
  });
  const sized = await fingerprintFiles(root, relative, { contents: false });
  const contents = sized.bytes <= contentHashLimit;
  const files = contents ? await fingerprintFiles(root, relative) : sized;
  const fingerprint = fingerprintArrays([
    ["files", new TextEncoder().encode(files.fingerprint)],
    ["labels", list.labels],
  ]);
  return {
    dataset: list.dataset,
    split,
    source: list.root,
    sourceKind: "--data",
    count: list.paths.length,
    fingerprint,
    fingerprintOf: `the ${list.paths.length} image files (${
      contents
        ? "paths, sizes and contents"
        : `paths and sizes only: over ${contentHashLimit} bytes`
    }, fingerprintFiles: ${files.fingerprint}; ${files.bytes} bytes) and their labels int32 [n]`,
  };
}

/**
 * Loads the data `--data` names (see the module documentation): Fashion-MNIST through
 * `loadExperimentData`, image data by scanning the layout (the metric-learning split), decoding
 * the test split and preparing the training split for streaming, with each split's provenance.
 * Prints one line naming the data, the sizes and the image shape.
 *
 * @throws UsageError for a layout that cannot be used (the loader's `DataError` message), or
 * limits that are not integers ≥ 0; ImageDecodeError for a bad test image.
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * import { loadExperimentImages } from "./experiment_data.ts";
 * import { writeImageFolder } from "./data/image_folder.ts";
 * await initBackend("cpu");
 * const root = await Deno.makeTempDir();
 * const labels = [0, 0, 1, 1, 2, 2, 3, 3];
 * await writeImageFolder(root, new Uint8Array(8 * 8 * 8 * 3), labels, ["a", "b", "c", "d"], { shape: [8, 8, 3] });
 * const data = await loadExperimentImages(
 *   { data: `folder:${root}`, imageSize: 8, channels: "3", dataSource: "" },
 *   () => {},
 * );
 * console.log(data.train.n, data.test.x.shape); // 4 [4, 8, 8, 3]
 * data.dispose();
 * ```
 */
export async function loadExperimentImages(
  o: DataOptionValues,
  log: (line: string) => void = console.log,
): Promise<ExperimentImages> {
  for (const key of ["trainLimit", "testLimit"] as const) {
    const v = o[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
      throw new UsageError(`--${key}: expected an integer ≥ 0, got ${v}`);
    }
  }
  if (isFashionMnist(o)) return fromFashionMnist(await loadExperimentData(o, log));
  const problem = dataSpecProblem(o.data);
  if (problem) throw new UsageError(`--data: ${problem}, got ${JSON.stringify(o.data)}`);
  const kind = o.data.slice(0, o.data.indexOf(":"));
  const root = o.data.slice(o.data.indexOf(":") + 1);
  const [size, , channels] = dataShape(o);
  const scan = (subset: string) =>
    scanImageData(o.data, { subset, log }).catch(usage) as Promise<ImageList>;
  const trainList = limitList(await scan("train"), o.trainLimit);
  let testList: ImageList;
  let queries: number | undefined;
  if (kind === "inshop") {
    const q = limitList(await scan("query"), o.testLimit);
    const g = limitList(await scan("gallery"), o.testLimit);
    queries = q.paths.length;
    testList = {
      ...q,
      subset: "test",
      paths: [...q.paths, ...g.paths],
      labels: Int32Array.from([...q.labels, ...g.labels]),
    };
  } else {
    testList = limitList(await scan("test"), o.testLimit);
  }
  const provenance = [await imageListProvenance(trainList, "train")];
  if (queries === undefined) provenance.push(await imageListProvenance(testList, "test"));
  else {
    const part = (from: number, to: number, subset: string): ImageList => ({
      ...testList,
      subset,
      paths: testList.paths.slice(from, to),
      labels: testList.labels.slice(from, to),
    });
    provenance.push(
      await imageListProvenance(part(0, queries, "query"), "query"),
      await imageListProvenance(part(queries, testList.paths.length, "gallery"), "gallery"),
    );
  }
  const transform = { size, channels: channels as 1 | 3 };
  const tested = await loadImages(testList, { ...transform, progress: { label: "test images" } })
    .catch(usage);
  const { x: testX, y } = imageTensors(tested);
  y.dispose();
  const samplers: AsyncBatchSampler[] = [];
  const shape: [number, number, number] = [size, size, channels];
  const trainClasses = classCount(trainList.labels);
  const testClasses = classCount(tested.labels);
  log(
    `data: ${kind} (${root}): ${trainList.paths.length} train images (${trainClasses} classes), ` +
      `${tested.n} test images (${testClasses} classes${
        queries !== undefined
          ? `; ${queries} queries against a gallery of ${tested.n - queries}`
          : ""
      }), ${size}×${size}×${channels}; the train images are streamed from the files`,
  );
  return {
    dataset: kind,
    source: root,
    inputShape: shape,
    classNames: trainList.classNames,
    train: { n: trainList.paths.length, labels: trainList.labels, classes: trainClasses },
    test: { x: testX, labels: tested.labels, n: tested.n, classes: testClasses, queries },
    provenance,
    batches({ batchSize, seed, m }) {
      const sampler = imageBatches(trainList, { ...transform, batchSize, seed, m, prefetch: 2 });
      samplers.push(sampler);
      return sampler;
    },
    async trainImages(indices) {
      const list = {
        ...trainList,
        paths: Array.from(indices, (i) => trainList.paths[i]),
        labels: Int32Array.from(indices, (i) => trainList.labels[i]),
      };
      return (await loadImages(list, { ...transform, progress: false })).images;
    },
    evaluate: (model, options = {}) => evaluateTest(model, testX, tested.labels, queries, options),
    dispose() {
      testX.dispose();
      for (const s of samplers) s.close().catch(() => {});
    },
  };
}

async function evaluateTest(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: Int32Array,
  queries: number | undefined,
  options: EvaluateOptions,
): Promise<Evaluation> {
  if (queries === undefined) return await evaluate(model, x, labels, options);
  const e = embed(model, x);
  const q = tf.slice(e, [0, 0], [queries, -1]) as tf.Tensor2D;
  const g = tf.slice(e, [queries, 0], [-1, -1]) as tf.Tensor2D;
  try {
    return await evaluateEmbeddings(q, labels.subarray(0, queries), {
      ...options,
      reference: g,
      referenceLabels: labels.subarray(queries),
    });
  } finally {
    tf.dispose([e, q, g]);
  }
}

function fromFashionMnist(data: ExperimentData): ExperimentImages {
  const { trainSet, testSet } = data;
  return {
    dataset: FASHION_MNIST_DATA,
    source: `${trainSet.source.kind} (${trainSet.source.dir})`,
    inputShape: [28, 28, 1],
    classNames: [...trainSet.classNames],
    train: { n: trainSet.n, labels: trainSet.labels, classes: classCount(trainSet.labels) },
    test: {
      x: data.test.x,
      labels: testSet.labels,
      n: testSet.n,
      classes: classCount(testSet.labels),
    },
    fashionMnist: data,
    provenance: data.provenance,
    batches: ({ batchSize, seed, m }) =>
      m === undefined
        ? shuffledBatches(data.train.x, trainSet.labels, { batchSize, seed })
        : mPerClassSampler(data.train.x, trainSet.labels, { m, batchSize, seed }),
    trainImages(indices) {
      const out = new Float32Array(indices.length * 784);
      indices.forEach((r, i) => out.set(trainSet.images.subarray(r * 784, (r + 1) * 784), i * 784));
      return Promise.resolve(out);
    },
    evaluate: (model, options = {}) => evaluate(model, data.test.x, testSet.labels, options),
    dispose: () => data.dispose(),
  };
}

/**
 * The encoder for the data: `fashionMnist()` (the experiment's own model) for Fashion-MNIST, else
 * `encoderFor(inputShape)` (the ResNet-style CNN for colour or larger images).
 *
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * import { experimentEncoder } from "./experiment_data.ts";
 * import { referenceCnn } from "./models/mod.ts";
 * await initBackend("cpu");
 * const data = { dataset: "folder", inputShape: [32, 32, 3] as [number, number, number] };
 * const model = experimentEncoder(data, { embeddingDim: 16, seed: 0 }, () => referenceCnn());
 * console.log(model.name); // "resnet_encoder"
 * ```
 */
export function experimentEncoder(
  data: Pick<ExperimentImages, "dataset" | "inputShape">,
  options: { embeddingDim: number; seed: number },
  fashionMnist: () => tf.LayersModel,
): tf.LayersModel {
  return data.dataset === FASHION_MNIST_DATA
    ? fashionMnist()
    : encoderFor(data.inputShape, { embeddingDim: options.embeddingDim, seed: options.seed });
}
