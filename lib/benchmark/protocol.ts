/**
 * The benchmark's protocol: the two data settings, the training recipe and the evaluation, as
 * data (written into every result file) and as functions that select a setting's images.
 *
 * @module
 */
import type { Initializer } from "../models/encoders.ts";

/** The two data settings: all classes, or training and test on disjoint classes. */
export type SettingId = "seen" | "unseen";

/** The settings, in table order. */
export const SETTINGS: readonly SettingId[] = Object.freeze(["seen", "unseen"] as SettingId[]);

/**
 * Which classes a setting trains and tests on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SETTING_CLASSES } from "./protocol.ts";
 * assert.deepEqual(SETTING_CLASSES.unseen.test, [5, 6, 7, 8, 9]);
 * ```
 */
export const SETTING_CLASSES: Readonly<
  Record<SettingId, { train: readonly number[]; test: readonly number[] }>
> = Object.freeze({
  seen: { train: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], test: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
  unseen: { train: [0, 1, 2, 3, 4], test: [5, 6, 7, 8, 9] },
});

/**
 * Checks a setting name.
 *
 * @throws Error naming the allowed settings.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSetting } from "./protocol.ts";
 * assert.equal(parseSetting("unseen"), "unseen");
 * ```
 */
export function parseSetting(value: string): SettingId {
  if ((SETTINGS as readonly string[]).includes(value)) return value as SettingId;
  throw new Error(`unknown setting "${value}"; expected one of ${SETTINGS.join(", ")}`);
}

/**
 * The images and labels of one split restricted to some classes, in their original order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LabelledImages } from "./protocol.ts";
 * const d: LabelledImages = { images: new Float32Array(784), labels: Int32Array.of(3), n: 1 };
 * assert.equal(d.images.length, d.n * 28 * 28);
 * ```
 */
export interface LabelledImages {
  /** Pixels `[n, 28, 28, 1]` row-major in [0, 1]. */
  images: Float32Array;
  /** Labels `[n]`. */
  labels: Int32Array;
  /** Number of images. */
  n: number;
}

/**
 * Keeps the images whose label is in `classes`, in their original order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectClasses } from "./protocol.ts";
 * const all = { images: new Float32Array(4), labels: Int32Array.of(0, 7, 2, 9), n: 4 };
 * const d = selectClasses(all, [7, 9], 1);
 * assert.equal(d.n, 2);
 * assert.deepEqual(d.labels, Int32Array.of(7, 9));
 * ```
 * @param pixels values per image (784 for Fashion-MNIST)
 */
export function selectClasses(
  data: LabelledImages,
  classes: readonly number[],
  pixels = 784,
): LabelledImages {
  const keep = new Set(classes);
  const idx: number[] = [];
  for (let i = 0; i < data.n; i++) if (keep.has(data.labels[i])) idx.push(i);
  if (idx.length === data.n) return data;
  const images = new Float32Array(idx.length * pixels);
  idx.forEach((r, i) => images.set(data.images.subarray(r * pixels, (r + 1) * pixels), i * pixels));
  return { images, labels: Int32Array.from(idx, (r) => data.labels[r]), n: idx.length };
}

/**
 * The training recipe and the linear-metric recipe of one benchmark (what a run record was
 * produced with; records made under another configuration are not mixed into the same table).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG, stepsFor } from "./protocol.ts";
 * const quick = { ...DEFAULT_CONFIG, steps: 4, trainLimit: 2560 };
 * assert.equal(stepsFor(quick, 60000), 4); // steps overrides epochs
 * ```
 */
export interface BenchmarkConfig {
  /** Epochs over the setting's training images (ignored when `steps` > 0). */
  epochs: number;
  /** Fixed number of steps per run instead of epochs (0: use `epochs`). */
  steps: number;
  /** Mini-batch size. */
  batchSize: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Embedding dimension (L2-normalised). */
  embeddingDim: number;
  /** The network's initialisation (see `referenceCnn`): PyTorch's, to compare with PyTorch + PML. */
  initializer: Initializer;
  /** Keep only the first `trainLimit` train-split images before class selection (0: all). */
  trainLimit: number;
  /** Keep only the first `testLimit` test-split images before class selection (0: all). */
  testLimit: number;
  /** Train images subsampled (seeded, per seed) to fit the linear metrics. */
  linearSamples: number;
  /** PCA dimension of the pixels before the linear metrics. */
  pcaDim: number;
  /** Optimisation steps of the linear learners (0: each learner's default). */
  linearIterations: number;
}

/**
 * The protocol's configuration: 2 epochs, batch 128, Adam 1e-3, 64-d; linear metrics fitted on
 * 3,000 train images reduced to 32 PCA dimensions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./protocol.ts";
 * assert.equal(DEFAULT_CONFIG.epochs, 2);
 * ```
 */
export const DEFAULT_CONFIG: Readonly<BenchmarkConfig> = Object.freeze({
  epochs: 2,
  steps: 0,
  batchSize: 128,
  learningRate: 1e-3,
  embeddingDim: 64,
  initializer: "pytorch",
  trainLimit: 0,
  testLimit: 0,
  linearSamples: 3000,
  pcaDim: 32,
  linearIterations: 0,
});

/**
 * A short, stable string naming a configuration, stored in every run record; resuming refuses
 * records made under a different key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configKey, DEFAULT_CONFIG } from "./protocol.ts";
 * assert.equal(
 *   configKey(DEFAULT_CONFIG),
 *   "e2-s0-b128-lr0.001-d64-tr0-te0-ls3000-pca32-li0-initpytorch",
 * );
 * ```
 */
export function configKey(config: BenchmarkConfig): string {
  const c = config;
  return `e${c.epochs}-s${c.steps}-b${c.batchSize}-lr${c.learningRate}-d${c.embeddingDim}` +
    `-tr${c.trainLimit}-te${c.testLimit}-ls${c.linearSamples}-pca${c.pcaDim}-li${c.linearIterations}` +
    (c.initializer === "glorot" ? "" : `-init${c.initializer}`);
}

/**
 * Training steps of one run: `config.steps` when positive, else `epochs × ⌊n / batchSize⌋`
 * (the last partial batch of every epoch is dropped, as `shuffledBatches` does).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG, stepsFor } from "./protocol.ts";
 * assert.equal(stepsFor(DEFAULT_CONFIG, 60000), 936); // 2 epochs × ⌊60000 / 128⌋
 * ```
 */
export function stepsFor(config: BenchmarkConfig, trainImages: number): number {
  if (config.steps > 0) return config.steps;
  return Math.max(1, Math.round(config.epochs * Math.floor(trainImages / config.batchSize)));
}

/**
 * The protocol in words, written into `figures/benchmark.json` and the README.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG, describeProtocol } from "./protocol.ts";
 * const { training } = describeProtocol(DEFAULT_CONFIG);
 * assert.ok(training.startsWith("Adam, learning rate 0.001, batch 128"));
 * ```
 */
export function describeProtocol(config: BenchmarkConfig): Record<string, string> {
  const c = config;
  const limits = (c.trainLimit ? `first ${c.trainLimit} train-split images; ` : "") +
    (c.testLimit ? `first ${c.testLimit} test-split images; ` : "");
  return {
    data: "Fashion-MNIST (Xiao et al. 2017), pixels / 255, no augmentation; " + limits +
      "the full data set from the loader's source order (FASHION_MNIST_DIR, Debian's " +
      "dataset-fashion-mnist, data/fashion-mnist-full, else the embedded subset).",
    seen: "train on the train split, all 10 classes (60,000 images); test on the test split, all " +
      "10 classes (10,000 images).",
    unseen: "train on the train split, classes 0-4 (30,000 images); test on the test split, " +
      "classes 5-9 (5,000 images): retrieval of classes never seen in training.",
    model: `the reference CNN (conv3x3(32)-relu-maxpool2, conv3x3(64)-relu-maxpool2, ` +
      `dense(128)-relu, dense(${c.embeddingDim})), L2-normalised ${c.embeddingDim}-d output, ` +
      `initialised with the run's seed ` +
      (c.initializer === "pytorch"
        ? `as PyTorch initialises Conv2d/Linear (weights and biases uniform in ±1/√fan_in), so ` +
          `that the rows compare with PyTorch + pytorch-metric-learning's.`
        : `as Keras does (Glorot-uniform weights, zero biases).`),
    training: `Adam, learning rate ${c.learningRate}, batch ${c.batchSize}, shuffled with the ` +
      `run's seed, ` +
      (c.steps > 0 ? `${c.steps} steps` : `${c.epochs} epochs (the last partial batch dropped)`) +
      `; losses and miners with pytorch-metric-learning's defaults unless the method says ` +
      `otherwise; a loss's own parameters (class weights, proxies, centers: as PML ` +
      `initialises them, seeded by the run) in the same Adam, at the network's learning rate ` +
      `times the method's multiplier.`,
    linear: `learned linear metrics on pixels: ${c.linearSamples} train images drawn per seed ` +
      `(without replacement, from the setting's training classes), PCA to ${c.pcaDim} ` +
      `dimensions fitted on them, one global scale so that the mean squared feature norm is ` +
      `${c.pcaDim} (rankings unchanged), then the learner (` +
      (c.linearIterations > 0 ? `${c.linearIterations} steps` : "its default steps") +
      `); the test images go through the same PCA, scale and learned map L, and are ranked by ` +
      `Euclidean distance there (= the learned Mahalanobis distance).`,
    untrained: "the baseline row: the initial network of each seed, evaluated without training.",
    metrics: "on the setting's test images, each image queried against all the others " +
      "(pytorch-metric-learning's AccuracyCalculator rules): MAP@R, R-precision, P@1, " +
      "Euclidean distance between embeddings.",
    statistics: "one run per (setting, method, seed); each row reports the mean over seeds and " +
      "a 95% confidence interval mean ± t_{0.975,n-1}·s/√n (Student t, n seeds, s the sample " +
      "standard deviation; t = 12.706, 4.303, 3.182, 2.776 for n = 2, 3, 4, 5). " +
      "trainImagesPerSecond is the mean training throughput of the runs (null without training).",
  };
}
