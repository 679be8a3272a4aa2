/**
 * `deno task experiment proxy-loss`: the reference CNN trained with a loss that learns its own
 * parameters — class weights (ArcFace, CosFace, normalized softmax), proxies (ProxyNCA,
 * ProxyAnchor), SoftTriple's centers, or MarginLoss's per-class β — chosen by the benchmark's
 * method id, with its hyper-parameters and learning-rate multiplier; retrieval on the test split
 * before and after. Checkpoints carry the loss's parameters with the network's: Ctrl-C and
 * `--resume <run-dir>` end with the same metrics as an uninterrupted run.
 *
 * Writes `<run-dir>/metrics.json`, `history.jsonl`, `encoder/` (the encoder alone, for
 * `loadEncoder` and `experiment index`), `loss-parameters.json` (the learned tensors) and
 * `embeddings.html` (the test embeddings, PCA).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type Experiment,
  Interrupted,
  loadExperimentData,
  onInterrupt,
  parseOptions,
  resumeArgs,
  startRun,
} from "../lib/experiment.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { embed, referenceCnn } from "../lib/models/mod.ts";
import { evaluate, type Evaluation } from "../lib/eval/mod.ts";
import { train } from "../lib/train.ts";
import { writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { saveEncoder } from "../lib/io/export.ts";
import { embeddingScatter, pca, writeFigureHtml } from "../lib/viz/mod.ts";
import { BENCHMARK_METHODS } from "../lib/benchmark/methods.ts";

const DEFAULTS = {
  /** A benchmark method with a trainable loss (see --help: arcface, proxy-anchor, …). */
  method: "arcface",
  seed: 0,
  steps: 300,
  batchSize: 128,
  learningRate: 1e-3,
  embeddingDim: 64,
  /** Test images evaluated (0 = the whole test split). */
  testLimit: 0,
  /** Train images used (0 = the whole train split). */
  trainLimit: 0,
  dataSource: "",
  /** Steps between checkpoints in `<run-dir>/checkpoints/` (0: only at the end or on Ctrl-C). */
  checkpointEvery: 0,
  /** Where run directories are created. */
  resultsRoot: "results",
  /** A run directory to continue (its config.json fixes every other option). */
  resume: "",
};

/** The benchmark's methods whose loss owns learnable parameters. */
export const PROXY_LOSS_METHODS: readonly string[] = BENCHMARK_METHODS
  .filter((m) => m.trainableLoss).map((m) => m.id);

function row(name: string, m: Evaluation): string {
  return `${name.padEnd(8)} ${m.mapAtR.toFixed(4).padStart(8)} ${
    m.rPrecision.toFixed(4).padStart(12)
  } ${m.precisionAt1.toFixed(4).padStart(8)}`;
}

function check(options: typeof DEFAULTS): void {
  if (!PROXY_LOSS_METHODS.includes(options.method)) {
    throw new Error(
      `--method: "${options.method}" is not a method with a trainable loss; use one of ${
        PROXY_LOSS_METHODS.join(", ")
      }`,
    );
  }
  for (const key of ["steps", "batchSize", "embeddingDim"] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 1) {
      throw new Error(`--${key}: expected an integer ≥ 1, got ${options[key]}`);
    }
  }
  for (const key of ["checkpointEvery", "trainLimit", "testLimit", "seed"] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 0) {
      throw new Error(`--${key}: expected a non-negative integer, got ${options[key]}`);
    }
  }
  if (!(options.learningRate > 0)) {
    throw new Error(`--learningRate: expected a number > 0, got ${options.learningRate}`);
  }
}

/** The proxy-loss experiment. */
export const experiment: Experiment = {
  name: "proxy-loss",
  description:
    "reference CNN + a loss with learned class vectors (ArcFace, ProxyAnchor, …); resumable",
  async run(args) {
    const first = parseOptions(args, DEFAULTS);
    if (first.resume) args = await resumeArgs("proxy-loss", first.resume, args);
    const options = parseOptions(args, DEFAULTS);
    check(options);
    const method = BENCHMARK_METHODS.find((m) => m.id === options.method)!;
    const run = await startRun("proxy-loss", args, options, {
      root: options.resultsRoot,
      resumeDir: options.resume || undefined,
    });
    const data = await loadExperimentData(options);
    const { trainSet, testSet, train: trainTensors, test: testTensors } = data;
    const numClasses = trainSet.labels.reduce((m, y) => Math.max(m, y), -1) + 1;
    const model = referenceCnn({
      embeddingDim: options.embeddingDim,
      seed: options.seed,
      initializer: "pytorch",
    });
    const loss = method.trainableLoss!({
      numClasses,
      embeddingSize: options.embeddingDim,
      seed: options.seed,
    });
    console.log(`loss: ${method.description}`);
    const before = await evaluate(model, testTensors.x, testSet.labels);
    const interrupt = onInterrupt();
    const optimizer = tf.train.adam(options.learningRate);
    let result;
    try {
      result = await train({
        model,
        loss,
        ...(method.lossLearningRateMultiplier && method.lossLearningRateMultiplier !== 1
          ? { lossLearningRateMultiplier: method.lossLearningRateMultiplier }
          : {}),
        sampler: shuffledBatches(trainTensors.x, trainSet.labels, {
          batchSize: options.batchSize,
          seed: options.seed,
        }),
        steps: options.steps,
        optimizer,
        checkpointDir: `${run.dir}/checkpoints`,
        checkpointEvery: options.checkpointEvery,
        resume: options.resume !== "",
        signal: interrupt.signal,
      });
    } finally {
      interrupt.dispose();
      optimizer.dispose();
    }
    await writeTextAtomic(
      `${run.dir}/history.jsonl`,
      result.history.map((r) => JSON.stringify(r)).join("\n") + "\n",
    );
    if (result.stopped === "aborted") {
      data.dispose();
      model.dispose();
      loss.dispose();
      throw new Interrupted(
        `interrupted after step ${result.step} of ${options.steps}; checkpoint: ${result.checkpoint}\n` +
          `resume with: deno task experiment proxy-loss --resume ${run.dir}`,
      );
    }
    const after = await evaluate(model, testTensors.x, testSet.labels);
    const parameters: Record<string, { shape: number[]; values: number[] }> = {};
    (loss.trainableWeights ?? []).forEach((v, i) => {
      parameters[`${i}`] = { shape: v.shape, values: Array.from(v.dataSync()) };
    });
    await writeJsonAtomic(`${run.dir}/loss-parameters.json`, { method: method.id, parameters });
    await saveEncoder(model, `${run.dir}/encoder`);
    const embeddings = embed(model, testTensors.x);
    const projection = await pca(embeddings, 2);
    embeddings.dispose();
    await writeFigureHtml(
      `${run.dir}/embeddings.html`,
      embeddingScatter(
        projection.points,
        testSet.labels,
        testSet.classNames,
        `${method.id}: test embeddings after ${options.steps} steps (PCA)`,
      ),
      `proxy-loss: ${method.id}`,
    );
    // metrics.json last: its presence marks a finished run.
    await writeJsonAtomic(`${run.dir}/metrics.json`, {
      method: method.id,
      before,
      after,
      train: { seconds: result.seconds, imagesPerSecond: result.imagesPerSecond },
      data: { source: trainSet.source, train: trainSet.n, test: testSet.n, numClasses },
    });
    data.dispose();
    model.dispose();
    loss.dispose();
    console.log(
      `\n${"".padEnd(8)} ${"MAP@R".padStart(8)} ${"R-precision".padStart(12)} ${"P@1".padStart(8)}`,
    );
    console.log(row("before", before));
    console.log(row("after", after));
    console.log(`\nresults: ${run.dir}/`);
  },
};
