/**
 * The default experiment: a Siamese network (the reference CNN, shared weights, L2-normalised
 * 64-d output) trained with the contrastive loss on Fashion-MNIST, with retrieval measured on the
 * test split before and after training.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  defineExperiment,
  FASHION_MNIST_OPTIONS,
  loadExperimentData,
  option,
  UsageError,
} from "../lib/experiment.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { embed, referenceCnn } from "../lib/models/mod.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { evaluate, type Evaluation } from "../lib/eval/mod.ts";
import { embeddingFigure } from "../lib/viz/mod.ts";

/** Test images shown in the run report's scatter (each with its image on hover). */
const REPORT_POINTS = 2000;

function row(name: string, m: Evaluation): string {
  return `${name.padEnd(8)} ${m.mapAtR.toFixed(4).padStart(8)} ${
    m.rPrecision.toFixed(4).padStart(12)
  } ${m.precisionAt1.toFixed(4).padStart(8)}`;
}

/** The Siamese network + contrastive loss experiment. */
export const experiment = defineExperiment({
  name: "siamese",
  description:
    "Siamese reference CNN + contrastive loss on Fashion-MNIST; retrieval before/after (default)",
  options: {
    seed: option.integer(0, "seed of the initial weights and the batch order", { min: 0 }),
    steps: option.integer(300, "optimisation steps", { min: 1 }),
    batchSize: option.integer(128, "images per batch", { min: 2 }),
    learningRate: option.number(1e-3, "Adam's learning rate", { above: 0 }),
    embeddingDim: option.integer(64, "embedding dimension", { min: 1 }),
    posMargin: option.number(0, "contrastive loss: positive margin m+", { min: 0 }),
    negMargin: option.number(1, "contrastive loss: negative margin m−", { min: 0 }),
    trainLimit: option.integer(0, "train images used (0: the whole train split)", { min: 0 }),
    testLimit: option.integer(0, "test images evaluated (0: the whole test split)", { min: 0 }),
    ...FASHION_MNIST_OPTIONS,
  },
  validate(o) {
    if (o.posMargin >= o.negMargin) {
      throw new UsageError(
        `--posMargin (${o.posMargin}) must be below --negMargin (${o.negMargin})`,
      );
    }
  },
  encoder: (o) => ({
    name: "referenceCnn",
    embeddingDim: o.embeddingDim,
    layers: "conv3x3(32)-relu-maxpool2, conv3x3(64)-relu-maxpool2, dense(128)-relu, dense, L2",
  }),
  data: async (o, log) => {
    const data = await loadExperimentData(o, log);
    if (data.trainSet.n < o.batchSize) {
      data.dispose();
      throw new UsageError(
        `--batchSize ${o.batchSize} is larger than the ${data.trainSet.n} train images`,
      );
    }
    return data;
  },
  async run(ctx) {
    const { options, data } = ctx;
    const model = ctx.keep(
      referenceCnn({ embeddingDim: options.embeddingDim, seed: options.seed }),
    );
    const before = await ctx.stage(
      "before",
      () => evaluate(model, data.test.x, data.testSet.labels),
    );
    const result = await ctx.train("train", {
      model,
      loss: contrastiveLoss.with({ posMargin: options.posMargin, negMargin: options.negMargin }),
      sampler: shuffledBatches(data.train.x, data.trainSet.labels, {
        batchSize: options.batchSize,
        seed: options.seed,
      }),
      steps: options.steps,
      optimizer: tf.train.adam(options.learningRate),
    });
    ctx.log("evaluating the trained encoder on the test split");
    const after = await evaluate(model, data.test.x, data.testSet.labels);

    // The run report: the test embeddings with their images, beside what the runner knows.
    const shown = Math.min(data.testSet.n, REPORT_POINTS);
    const embeddings = tf.tidy(() => embed(model, data.test.x.slice(0, shown)));
    const scatter = await embeddingFigure(embeddings, data.testSet.labels.subarray(0, shown), {
      method: shown >= 10 ? "umap" : "pca",
      seed: options.seed,
      images: data.testSet.images.subarray(0, shown * 784),
      classNames: data.testSet.classNames,
      title: `Test embeddings after ${options.steps} steps (UMAP of ${shown} test images)`,
    });
    embeddings.dispose();
    await ctx.writeReport("embeddings.html", {
      metrics: { before, after },
      scatter,
      reduction: "avgNonZero",
      summary: `trained ${options.steps} steps (${result.imagesPerSecond.toFixed(0)} images/s)`,
    });
    if (result.resumedFrom < options.steps) {
      ctx.log(
        `\ntrained ${options.steps - result.resumedFrom} steps in ${result.seconds.toFixed(1)} s ` +
          `(${result.imagesPerSecond.toFixed(0)} images/s)`,
      );
    }
    ctx.log(
      `\n${"".padEnd(8)} ${"MAP@R".padStart(8)} ${"R-precision".padStart(12)} ${"P@1".padStart(8)}`,
    );
    ctx.log(row("before", before));
    ctx.log(row("after", after));
    return {
      before,
      after,
      train: { seconds: result.seconds, imagesPerSecond: result.imagesPerSecond },
      data: { source: data.trainSet.source, train: data.trainSet.n, test: data.testSet.n },
    };
  },
});
