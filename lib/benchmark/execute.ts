/**
 * The runs themselves: data of a setting as tensors, training and evaluating the reference CNN
 * (or, for image data sets, the encoder a setting names) for the untrained and deep methods,
 * fitting and evaluating the linear metrics.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AsyncSampler, type Batch, type Sampler, shuffledBatches } from "../data/batches.ts";
import { createRng } from "../data/random.ts";
import { embed } from "../models/encoders.ts";
import { evaluateEmbeddings, type Evaluation } from "../eval/evaluate.ts";
import { fitPca } from "../linear/pca.ts";
import type { LinearMetricLearner } from "../linear/base.ts";
import { type Initializer, referenceCnn } from "../models/encoders.ts";
import { train } from "../train.ts";
import type { ProgressOptions } from "../io/progress.ts";
import type { BenchmarkMethod } from "./methods.ts";
import {
  type BenchmarkConfig,
  type LabelledImages,
  selectClasses,
  SETTING_CLASSES,
  type SettingId,
  stepsFor,
} from "./protocol.ts";
import type { RunMeasurements } from "./runner.ts";

/**
 * A setting's data: the training split as seeded batches and as pixels by index, the test split
 * as a tensor `[n, h, w, c]`, and the encoder of the deep runs. {@linkcode prepareSetting} makes
 * it for Fashion-MNIST (in memory, the reference CNN); image data sets stream their training
 * batches from the files (`experiments/benchmark.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareSetting, type SettingData } from "./execute.ts";
 * const split = { images: new Float32Array(4 * 784), labels: Int32Array.of(0, 0, 1, 1), n: 4 };
 * const data: SettingData = prepareSetting("seen", split, split);
 * assert.deepEqual(data.inputShape, [28, 28, 1]);
 * assert.deepEqual(data.testX.shape, [4, 28, 28, 1]);
 * data.dispose();
 * ```
 */
export interface SettingData {
  /** The setting. */
  setting: SettingId;
  /** `[h, w, c]` of every image (`[28, 28, 1]` for Fashion-MNIST). */
  inputShape: readonly [number, number, number];
  /** The training split of the setting's training classes: size and labels `[n]`. */
  train: { n: number; labels: Int32Array };
  /** The test split of the setting's test classes: size and labels `[n]`. */
  test: { n: number; labels: Int32Array };
  /** Test images `[n, h, w, c]`. */
  testX: tf.Tensor4D;
  /**
   * With a query/gallery protocol (In-Shop): the first `queries` test images are the queries,
   * ranked against the rest (the gallery). Default: each test image against all others.
   */
  queries?: number;
  /** Seeded shuffled training batches (`shuffledBatches`' order); closed after the run if async. */
  trainBatches(
    batchSize: number,
    seed: number,
  ): Sampler<Batch> | (AsyncSampler<Batch> & { close?(): Promise<void> });
  /** Training images by index, `[k, h·w·c]` values in [0, 1] (the linear methods' features). */
  trainPixels(indices: Int32Array): Promise<Float32Array>;
  /**
   * The encoder of the untrained and deep runs, initialised with `seed` (and `initializer`, the
   * protocol's `BenchmarkConfig.initializer`, where the encoder supports it).
   */
  encoder(seed: number, embeddingDim: number, initializer?: Initializer): tf.LayersModel;
  /** Frees the tensors. */
  dispose(): void;
}

/**
 * Restricts the train and test splits to a setting's classes and uploads them as tensors.
 *
 * @param train the (possibly limited) train split
 * @param test the (possibly limited) test split
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareSetting } from "./execute.ts";
 * const img = new Float32Array(4 * 784);
 * const split = { images: img, labels: Int32Array.of(0, 5, 1, 6), n: 4 };
 * const d = prepareSetting("unseen", split, split);
 * assert.equal(d.train.n, 2); // classes 0–4 train
 * assert.equal(d.test.n, 2); // classes 5–9 test
 * d.dispose();
 * ```
 */
export function prepareSetting(
  setting: SettingId,
  train: LabelledImages,
  test: LabelledImages,
): SettingData {
  const classes = SETTING_CLASSES[setting];
  const tr = selectClasses(train, classes.train);
  const te = selectClasses(test, classes.test);
  if (tr.n === 0 || te.n === 0) {
    throw new Error(
      `setting ${setting}: no ${tr.n === 0 ? "train" : "test"} images of its classes`,
    );
  }
  const trainX = tf.tensor4d(tr.images, [tr.n, 28, 28, 1]);
  const testX = tf.tensor4d(te.images, [te.n, 28, 28, 1]);
  const pixels = 784;
  return {
    setting,
    inputShape: [28, 28, 1],
    train: tr,
    test: te,
    testX,
    trainBatches: (batchSize, seed) => shuffledBatches(trainX, tr.labels, { batchSize, seed }),
    trainPixels(indices) {
      const out = new Float32Array(indices.length * pixels);
      indices.forEach((r, i) =>
        out.set(tr.images.subarray(r * pixels, (r + 1) * pixels), i * pixels)
      );
      return Promise.resolve(out);
    },
    encoder: (seed, embeddingDim, initializer) => referenceCnn({ embeddingDim, seed, initializer }),
    dispose: () => tf.dispose([trainX, testX]),
  };
}

/** Retrieval of embeddings of the test split (each against all others, or queries against the gallery). */
async function testRetrieval(
  embeddings: tf.Tensor2D,
  data: SettingData,
): Promise<Evaluation> {
  if (data.queries === undefined) {
    return await evaluateEmbeddings(embeddings, data.test.labels, { clustering: false });
  }
  const q = data.queries;
  const query = tf.slice(embeddings, [0, 0], [q, -1]) as tf.Tensor2D;
  const gallery = tf.slice(embeddings, [q, 0], [-1, -1]) as tf.Tensor2D;
  try {
    return await evaluateEmbeddings(query, data.test.labels.subarray(0, q), {
      clustering: false,
      reference: gallery,
      referenceLabels: data.test.labels.subarray(q),
    });
  } finally {
    tf.dispose([query, gallery]);
  }
}

/** Options of {@linkcode executeRun}. */
export interface ExecuteOptions {
  /** Progress display of training (`false`: none). */
  progress?: false | ProgressOptions;
}

/**
 * Performs one run of `method` on `data` with `seed` under `config` and measures retrieval on the
 * setting's test images (each against all others).
 *
 * - `baseline`: the reference CNN initialised with `seed`, evaluated untrained;
 * - `deep`: the same network trained with the method's loss (Adam, shuffled batches seeded by
 *   `seed`, {@linkcode stepsFor} steps); a trainable loss is made for the setting's training
 *   classes with `seed` and its parameters trained in the same run;
 * - `linear`: `config.linearSamples` training images drawn with `seed`, PCA to `config.pcaDim`
 *   fitted on them, one global scale (mean squared norm = `pcaDim`), the learner, then the test
 *   images mapped the same way and ranked by Euclidean distance.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { executeRun, prepareSetting } from "./execute.ts";
 * import { BENCHMARK_METHODS } from "./methods.ts";
 * import { DEFAULT_CONFIG } from "./protocol.ts";
 * const split = { images: new Float32Array(4 * 784), labels: Int32Array.of(0, 0, 1, 1), n: 4 };
 * const data = prepareSetting("seen", split, split);
 * const m = await executeRun(BENCHMARK_METHODS[0], data, 0, DEFAULT_CONFIG); // untrained
 * assert.equal(m.testImages, 4);
 * assert.equal(m.steps, 0);
 * data.dispose();
 * ```
 */
export async function executeRun(
  method: BenchmarkMethod,
  data: SettingData,
  seed: number,
  config: BenchmarkConfig,
  options: ExecuteOptions = {},
): Promise<RunMeasurements> {
  if (method.family === "linear") return await executeLinear(method, data, seed, config);
  const model = data.encoder(seed, config.embeddingDim, config.initializer);
  let owned: { dispose(): void } | undefined;
  try {
    let trainSeconds = 0, rate: number | null = null, steps = 0;
    if (method.family === "deep") {
      if (!method.loss && !method.trainableLoss) {
        throw new Error(`method ${method.id}: a deep method needs a loss or a trainableLoss`);
      }
      steps = stepsFor(config, data.train.n);
      if (data.train.n < config.batchSize) {
        throw new Error(
          `${data.setting}: ${data.train.n} training images, fewer than a batch of ${config.batchSize}`,
        );
      }
      const numClasses = data.train.labels.reduce((m, y) => Math.max(m, y), -1) + 1;
      const loss = method.trainableLoss
        ? (owned = method.trainableLoss({
          numClasses,
          embeddingSize: config.embeddingDim,
          seed,
        }))
        : method.loss!;
      const optimizer = tf.train.adam(config.learningRate);
      const sampler = data.trainBatches(config.batchSize, seed);
      let result;
      try {
        result = await train({
          model,
          loss,
          ...(method.lossLearningRateMultiplier !== undefined &&
              method.lossLearningRateMultiplier !== 1
            ? { lossLearningRateMultiplier: method.lossLearningRateMultiplier }
            : {}),
          sampler,
          steps,
          optimizer,
          progress: options.progress === undefined
            ? { label: `${data.setting} ${method.id} seed ${seed}` }
            : options.progress,
        });
      } finally {
        optimizer.dispose();
        if ("close" in sampler) await sampler.close?.();
      }
      trainSeconds = result.seconds;
      rate = result.imagesPerSecond;
    }
    const embeddings = embed(model, data.testX);
    let e: Evaluation;
    try {
      e = await testRetrieval(embeddings, data);
    } finally {
      embeddings.dispose();
    }
    return {
      mapAtR: e.mapAtR,
      rPrecision: e.rPrecision,
      precisionAt1: e.precisionAt1,
      trainImagesPerSecond: rate,
      trainSeconds,
      steps,
      trainImages: data.train.n,
      testImages: data.test.n,
    };
  } finally {
    owned?.dispose();
    model.dispose();
  }
}

async function executeLinear(
  method: BenchmarkMethod,
  data: SettingData,
  seed: number,
  config: BenchmarkConfig,
): Promise<RunMeasurements> {
  if (!method.fitLinear) throw new Error(`method ${method.id}: a linear method needs fitLinear`);
  const { train: tr, test: te } = data;
  const PIXELS = data.inputShape[0] * data.inputShape[1] * data.inputShape[2];
  const m = Math.min(config.linearSamples, tr.n);
  const idx = createRng(seed).shuffle(Int32Array.from({ length: tr.n }, (_, i) => i))
    .subarray(0, m);
  const pixels = await data.trainPixels(idx);
  const labels = Int32Array.from(idx, (r) => tr.labels[r]);
  const t0 = performance.now();
  const xRaw = tf.tensor2d(pixels, [m, PIXELS]);
  const pca = await fitPca(xRaw, Math.min(config.pcaDim, PIXELS, m - 1));
  const k = pca.components.shape[0];
  const zRaw = pca.transform(xRaw);
  xRaw.dispose();
  const meanSqT = tf.tidy(() => tf.mean(tf.sum(tf.square(zRaw), 1)));
  const meanSq = (await meanSqT.data())[0];
  meanSqT.dispose();
  const scale = meanSq > 0 ? Math.sqrt(k / meanSq) : 1;
  const x = tf.tidy(() => tf.mul(zRaw, scale) as tf.Tensor2D);
  zRaw.dispose();
  let learner: LinearMetricLearner | null = null;
  try {
    learner = await method.fitLinear({
      x,
      labels,
      seed,
      iterations: config.linearIterations,
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    const fitted = learner;
    const embeddings = tf.tidy(() => {
      const z = tf.mul(pca.transform(tf.reshape(data.testX, [te.n, PIXELS])), scale) as tf.Tensor2D;
      return fitted ? fitted.transform(z) : z;
    });
    let e: Evaluation;
    try {
      e = await testRetrieval(embeddings, data);
    } finally {
      embeddings.dispose();
    }
    return {
      mapAtR: e.mapAtR,
      rPrecision: e.rPrecision,
      precisionAt1: e.precisionAt1,
      trainImagesPerSecond: null,
      trainSeconds,
      steps: learner?.history.length ?? 0,
      trainImages: m,
      testImages: te.n,
    };
  } finally {
    learner?.dispose();
    x.dispose();
    pca.dispose();
  }
}
