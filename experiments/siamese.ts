/**
 * The default experiment: a Siamese network (the reference CNN, shared weights, L2-normalised
 * 64-d output) trained with the contrastive loss on Fashion-MNIST, with retrieval measured on the
 * test split before and after training.
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
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { evaluate, type Evaluation } from "../lib/eval/mod.ts";
import { train } from "../lib/train.ts";
import { writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { embeddingFigure, writeRunReport } from "../lib/viz/mod.ts";

const DEFAULTS = {
  seed: 0,
  steps: 300,
  batchSize: 128,
  learningRate: 1e-3,
  embeddingDim: 64,
  posMargin: 0,
  negMargin: 1,
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

/** The default experiment's settings (`deno task figures` draws its Siamese figures with them). */
export const siameseDefaults: Readonly<typeof DEFAULTS> = DEFAULTS;

/** Test images shown in the run report's scatter (each with its image on hover). */
const REPORT_POINTS = 2000;

function row(name: string, m: Evaluation): string {
  return `${name.padEnd(8)} ${m.mapAtR.toFixed(4).padStart(8)} ${
    m.rPrecision.toFixed(4).padStart(12)
  } ${m.precisionAt1.toFixed(4).padStart(8)}`;
}

/** The Siamese network + contrastive loss experiment. */
export const experiment: Experiment = {
  name: "siamese",
  description:
    "Siamese reference CNN + contrastive loss on Fashion-MNIST; retrieval before/after (default)",
  async run(args) {
    const first = parseOptions(args, DEFAULTS);
    if (first.resume) args = await resumeArgs("siamese", first.resume, args);
    const options = parseOptions(args, DEFAULTS);
    if (!Number.isInteger(options.checkpointEvery) || options.checkpointEvery < 0) {
      throw new Error(
        `--checkpointEvery: expected a non-negative integer, got ${options.checkpointEvery}`,
      );
    }
    const run = await startRun("siamese", args, options, {
      root: options.resultsRoot,
      resumeDir: options.resume || undefined,
    });
    const data = await loadExperimentData(options);
    const { trainSet, testSet, train: trainTensors, test: testTensors } = data;
    const model = referenceCnn({ embeddingDim: options.embeddingDim, seed: options.seed });

    const before = await evaluate(model, testTensors.x, testSet.labels);
    const checkpointDir = `${run.dir}/checkpoints`;
    const interrupt = onInterrupt();
    const optimizer = tf.train.adam(options.learningRate);
    let result;
    try {
      result = await train({
        model,
        loss: contrastiveLoss.with({ posMargin: options.posMargin, negMargin: options.negMargin }),
        sampler: shuffledBatches(trainTensors.x, trainSet.labels, {
          batchSize: options.batchSize,
          seed: options.seed,
        }),
        steps: options.steps,
        optimizer,
        checkpointDir,
        checkpointEvery: options.checkpointEvery,
        resume: options.resume !== "",
        signal: interrupt.signal,
      });
    } finally {
      interrupt.dispose();
      optimizer.dispose(); // its slot variables (Adam: 2 per weight + 2) would otherwise leak
    }
    await writeTextAtomic(
      `${run.dir}/history.jsonl`,
      result.history.map((r) => JSON.stringify(r)).join("\n") + "\n",
    );
    if (result.stopped === "aborted") {
      data.dispose();
      model.dispose();
      throw new Interrupted(
        `interrupted after step ${result.step} of ${options.steps}; checkpoint: ${result.checkpoint}\n` +
          `resume with: deno task experiment siamese --resume ${run.dir}`,
      );
    }
    const after = await evaluate(model, testTensors.x, testSet.labels);

    await writeJsonAtomic(`${run.dir}/metrics.json`, {
      before,
      after,
      train: { seconds: result.seconds, imagesPerSecond: result.imagesPerSecond },
      data: { source: trainSet.source, train: trainSet.n, test: testSet.n },
    });
    // The run report: config, data, before/after metrics, embeddings with images, loss curve.
    const shown = Math.min(testSet.n, REPORT_POINTS);
    const embeddings = embed(model, testTensors.x.slice(0, shown));
    const scatter = await embeddingFigure(embeddings, testSet.labels.subarray(0, shown), {
      method: shown >= 10 ? "umap" : "pca",
      seed: options.seed,
      images: testSet.images.subarray(0, shown * 784),
      classNames: testSet.classNames,
      title: `Test embeddings after ${options.steps} steps (UMAP of ${shown} test images)`,
    });
    embeddings.dispose();
    await writeRunReport(`${run.dir}/embeddings.html`, {
      experiment: "siamese",
      runId: run.dir.split("/").at(-1)!,
      config: options,
      data: {
        source: `${trainSet.source.kind} (${trainSet.source.dir})`,
        train: trainSet.n,
        test: testSet.n,
      },
      metrics: { before, after },
      history: result.history,
      reduction: "avgNonZero",
      scatter,
      summary: `trained ${options.steps} steps in ${result.seconds.toFixed(1)} s ` +
        `(${result.imagesPerSecond.toFixed(0)} images/s) on ${run.backend.backend}`,
    });
    data.dispose();
    model.dispose();

    console.log(
      `\ntrained ${options.steps} steps in ${result.seconds.toFixed(1)} s ` +
        `(${result.imagesPerSecond.toFixed(0)} images/s)`,
    );
    console.log(
      `\n${"".padEnd(8)} ${"MAP@R".padStart(8)} ${"R-precision".padStart(12)} ${"P@1".padStart(8)}`,
    );
    console.log(row("before", before));
    console.log(row("after", after));
    console.log(`\nresults: ${run.dir}/`);
  },
};
