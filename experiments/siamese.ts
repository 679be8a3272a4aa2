/**
 * The default experiment: a Siamese network (shared weights, L2-normalised 64-d output) trained
 * with the contrastive loss, with retrieval measured on the test split before and after training.
 * On Fashion-MNIST (the default) the encoder is the reference CNN; with `--data <kind>:<path>`
 * (an image folder or a benchmark data set, `lib/experiment_data.ts`) it is `encoderFor` the
 * images' shape (the ResNet-style CNN for colour images), trained on batches streamed from the
 * files and tested on the classes the training never saw.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineExperiment, option, UsageError } from "../lib/experiment.ts";
import {
  checkDataOptions,
  DATA_OPTIONS,
  dataShape,
  encoderForDescription,
  experimentEncoder,
  isFashionMnist,
  loadExperimentImages,
} from "../lib/experiment_data.ts";
import { embed, referenceCnn } from "../lib/models/mod.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import type { Evaluation } from "../lib/eval/mod.ts";
import { embeddingFigure } from "../lib/viz/mod.ts";

/** Test images shown in the run report's scatter. */
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
    "Siamese network + contrastive loss on Fashion-MNIST or your images (--data); retrieval before/after",
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
    ...DATA_OPTIONS,
  },
  resolve(o, given) {
    checkDataOptions(o, given);
    return o;
  },
  validate(o) {
    if (o.posMargin >= o.negMargin) {
      throw new UsageError(
        `--posMargin (${o.posMargin}) must be below --negMargin (${o.negMargin})`,
      );
    }
  },
  encoder: (o) =>
    isFashionMnist(o)
      ? {
        name: "referenceCnn",
        embeddingDim: o.embeddingDim,
        layers: "conv3x3(32)-relu-maxpool2, conv3x3(64)-relu-maxpool2, dense(128)-relu, dense, L2",
      }
      : encoderForDescription(dataShape(o), o.embeddingDim),
  data: async (o, log) => {
    const data = await loadExperimentImages(o, log);
    if (data.train.n < o.batchSize) {
      data.dispose();
      throw new UsageError(
        `--batchSize ${o.batchSize} is larger than the ${data.train.n} train images`,
      );
    }
    return data;
  },
  async run(ctx) {
    const { options, data } = ctx;
    const model = ctx.keep(
      experimentEncoder(
        data,
        options,
        () => referenceCnn({ embeddingDim: options.embeddingDim, seed: options.seed }),
      ),
    );
    if (!isFashionMnist(options)) {
      ctx.log(
        `encoder: ${model.name} for ${data.inputShape.join("×")}, ${model.countParams()} weights`,
      );
    }
    const before = await ctx.stage("before", () => data.evaluate(model));
    const sampler = data.batches({ batchSize: options.batchSize, seed: options.seed });
    const result = await ctx.train("train", {
      model,
      loss: contrastiveLoss.with({ posMargin: options.posMargin, negMargin: options.negMargin }),
      sampler,
      steps: options.steps,
      optimizer: tf.train.adam(options.learningRate),
    });
    if ("close" in sampler) await sampler.close();
    ctx.log("evaluating the trained encoder on the test split");
    const after = await data.evaluate(model);

    // The run report: the test embeddings (with their images on hover for Fashion-MNIST, whose
    // thumbnails are 28×28 grey; image data of any size would make the page tens of megabytes),
    // beside what the runner knows.
    const shown = Math.min(data.test.n, REPORT_POINTS);
    const embeddings = tf.tidy(() => embed(model, data.test.x.slice(0, shown)));
    const testImages = data.fashionMnist?.testSet.images;
    const scatter = await embeddingFigure(embeddings, data.test.labels.subarray(0, shown), {
      method: shown >= 10 ? "umap" : "pca",
      seed: options.seed,
      ...(testImages ? { images: testImages.subarray(0, shown * 784) } : {}),
      classNames: data.classNames,
      title: `Test embeddings after ${options.steps} steps (${
        shown >= 10 ? "UMAP" : "PCA"
      } of ${shown} test images)`,
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
      data: isFashionMnist(options)
        ? { source: data.fashionMnist!.trainSet.source, train: data.train.n, test: data.test.n }
        : {
          dataset: data.dataset,
          source: data.source,
          inputShape: data.inputShape,
          train: data.train.n,
          test: data.test.n,
          ...(data.test.queries !== undefined ? { queries: data.test.queries } : {}),
        },
    };
  },
});
