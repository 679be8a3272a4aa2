/**
 * `deno task experiment proxy-loss`: the reference CNN trained with a loss that learns its own
 * parameters — class weights (ArcFace, CosFace, normalized softmax), proxies (ProxyNCA,
 * ProxyAnchor), SoftTriple's centers, or MarginLoss's per-class β — chosen by the benchmark's
 * method id, with its hyper-parameters and learning-rate multiplier; retrieval on the test split
 * before and after. Checkpoints carry the loss's parameters (and their optimiser's state) with
 * the network's: Ctrl-C or a kill, then `--resume <run-dir>`, end with the same metrics as an
 * uninterrupted run.
 *
 * Writes, besides the runner's files, `encoder/` (the encoder alone, for `loadEncoder` and
 * `experiment index`), `loss-parameters.json` (the learned tensors) and `embeddings.html` (the
 * test embeddings, PCA).
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
import { evaluate, type Evaluation } from "../lib/eval/mod.ts";
import { saveEncoder } from "../lib/io/export.ts";
import { embeddingScatter, pca } from "../lib/viz/mod.ts";
import { BENCHMARK_METHODS } from "../lib/benchmark/methods.ts";

/** The benchmark's methods whose loss owns learnable parameters. */
export const PROXY_LOSS_METHODS: readonly string[] = BENCHMARK_METHODS
  .filter((m) => m.trainableLoss).map((m) => m.id);

function row(name: string, m: Evaluation): string {
  return `${name.padEnd(8)} ${m.mapAtR.toFixed(4).padStart(8)} ${
    m.rPrecision.toFixed(4).padStart(12)
  } ${m.precisionAt1.toFixed(4).padStart(8)}`;
}

/** The proxy-loss experiment. */
export const experiment = defineExperiment({
  name: "proxy-loss",
  description:
    "reference CNN + a loss with learned class vectors (ArcFace, ProxyAnchor, …); resumable",
  options: {
    method: option.choice(
      PROXY_LOSS_METHODS,
      "arcface",
      "the benchmark method (its loss, hyper-parameters and learning-rate multiplier)",
    ),
    seed: option.integer(
      0,
      "seed of the initial weights, the loss's parameters and the batch order",
      {
        min: 0,
      },
    ),
    steps: option.integer(300, "optimisation steps", { min: 1 }),
    batchSize: option.integer(128, "images per batch", { min: 2 }),
    learningRate: option.number(1e-3, "Adam's learning rate (the network's)", { above: 0 }),
    embeddingDim: option.integer(64, "embedding dimension", { min: 1 }),
    trainLimit: option.integer(0, "train images used (0: the whole train split)", { min: 0 }),
    testLimit: option.integer(0, "test images evaluated (0: the whole test split)", { min: 0 }),
    ...FASHION_MNIST_OPTIONS,
  },
  encoder: (o) => ({
    name: "referenceCnn",
    embeddingDim: o.embeddingDim,
    initializer: "pytorch",
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
    const method = BENCHMARK_METHODS.find((m) => m.id === options.method)!;
    const numClasses = data.trainSet.labels.reduce((m, y) => Math.max(m, y), -1) + 1;
    const model = ctx.keep(
      referenceCnn({
        embeddingDim: options.embeddingDim,
        seed: options.seed,
        initializer: "pytorch",
      }),
    );
    const loss = ctx.keep(
      method.trainableLoss!({
        numClasses,
        embeddingSize: options.embeddingDim,
        seed: options.seed,
      }),
    );
    ctx.log(`loss: ${method.description}`);
    const before = await ctx.stage(
      "before",
      () => evaluate(model, data.test.x, data.testSet.labels),
    );
    const multiplier = method.lossLearningRateMultiplier ?? 1;
    const result = await ctx.train("train", {
      model,
      loss,
      ...(multiplier !== 1 ? { lossLearningRateMultiplier: multiplier } : {}),
      sampler: shuffledBatches(data.train.x, data.trainSet.labels, {
        batchSize: options.batchSize,
        seed: options.seed,
      }),
      steps: options.steps,
      optimizer: tf.train.adam(options.learningRate),
    });
    ctx.log("evaluating the trained encoder on the test split");
    const after = await evaluate(model, data.test.x, data.testSet.labels);
    const parameters: Record<string, { shape: number[]; values: number[] }> = {};
    for (const [i, v] of (loss.trainableWeights ?? []).entries()) {
      parameters[`${i}`] = { shape: v.shape, values: Array.from(await v.data()) };
    }
    await ctx.writeJson("loss-parameters.json", { method: method.id, parameters });
    await saveEncoder(model, `${ctx.dir}/encoder`);
    const embeddings = embed(model, data.test.x);
    const projection = await pca(embeddings, 2);
    embeddings.dispose();
    await ctx.writeFigure(
      "embeddings.html",
      embeddingScatter(
        projection.points,
        data.testSet.labels,
        data.testSet.classNames,
        `${method.id}: test embeddings after ${options.steps} steps (PCA)`,
      ),
      `proxy-loss: ${method.id}`,
    );
    ctx.log(
      `\n${"".padEnd(8)} ${"MAP@R".padStart(8)} ${"R-precision".padStart(12)} ${"P@1".padStart(8)}`,
    );
    ctx.log(row("before", before));
    ctx.log(row("after", after));
    return {
      method: method.id,
      before,
      after,
      train: { seconds: result.seconds, imagesPerSecond: result.imagesPerSecond },
      data: {
        source: data.trainSet.source,
        train: data.trainSet.n,
        test: data.testSet.n,
        numClasses,
      },
    };
  },
});
