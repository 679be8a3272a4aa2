/**
 * The runs themselves: data of a setting as tensors, training and evaluating the reference CNN
 * for the untrained and deep methods, fitting and evaluating the linear metrics.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { shuffledBatches } from "../data/batches.ts";
import { createRng } from "../data/random.ts";
import { evaluate, evaluateEmbeddings } from "../eval/evaluate.ts";
import { fitPca } from "../linear/pca.ts";
import type { LinearMetricLearner } from "../linear/base.ts";
import { referenceCnn } from "../models/encoders.ts";
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

const PIXELS = 784;

/**
 * A setting's images, on the host and as tensors `[n, 28, 28, 1]`.
 *
 * @example
 * ```ts
 * import { prepareSetting } from "./execute.ts";
 * declare const train: import("./protocol.ts").LabelledImages, test: typeof train;
 * const data = prepareSetting("unseen", train, test);
 * data.dispose();
 * ```
 */
export interface SettingData {
  /** The setting. */
  setting: SettingId;
  /** Training images of the setting's training classes. */
  train: LabelledImages;
  /** Test images of the setting's test classes. */
  test: LabelledImages;
  /** `train.images` as `[n, 28, 28, 1]`. */
  trainX: tf.Tensor4D;
  /** `test.images` as `[n, 28, 28, 1]`. */
  testX: tf.Tensor4D;
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
 * import { prepareSetting } from "./execute.ts";
 * const img = new Float32Array(4 * 784);
 * const split = { images: img, labels: Int32Array.of(0, 5, 1, 6), n: 4 };
 * const d = prepareSetting("unseen", split, split);
 * console.log(d.train.n, d.test.n); // 2 2
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
  return {
    setting,
    train: tr,
    test: te,
    trainX,
    testX,
    dispose: () => tf.dispose([trainX, testX]),
  };
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
 * import { executeRun, prepareSetting } from "./execute.ts";
 * import { BENCHMARK_METHODS } from "./methods.ts";
 * import { DEFAULT_CONFIG } from "./protocol.ts";
 * declare const data: ReturnType<typeof prepareSetting>;
 * const m = await executeRun(BENCHMARK_METHODS[0], data, 0, DEFAULT_CONFIG);
 * console.log(m.mapAtR);
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
  const model = referenceCnn({
    embeddingDim: config.embeddingDim,
    seed,
    initializer: config.initializer,
  });
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
      const result = await train({
        model,
        loss,
        ...(method.lossLearningRateMultiplier !== undefined &&
            method.lossLearningRateMultiplier !== 1
          ? { lossLearningRateMultiplier: method.lossLearningRateMultiplier }
          : {}),
        sampler: shuffledBatches(data.trainX, data.train.labels, {
          batchSize: config.batchSize,
          seed,
        }),
        steps,
        optimizer,
        progress: options.progress === undefined
          ? { label: `${data.setting} ${method.id} seed ${seed}` }
          : options.progress,
      });
      optimizer.dispose();
      trainSeconds = result.seconds;
      rate = result.imagesPerSecond;
    }
    const e = await evaluate(model, data.testX, data.test.labels, { clustering: false });
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
  const m = Math.min(config.linearSamples, tr.n);
  const idx = createRng(seed).shuffle(Int32Array.from({ length: tr.n }, (_, i) => i))
    .subarray(0, m);
  const pixels = new Float32Array(m * PIXELS);
  idx.forEach((r, i) => pixels.set(tr.images.subarray(r * PIXELS, (r + 1) * PIXELS), i * PIXELS));
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
    const e = await evaluateEmbeddings(embeddings, te.labels, { clustering: false });
    embeddings.dispose();
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
