/**
 * Collapse: an encoder trained only to pull positive pairs together maps every input to nearly
 * the same point, while the contrastive loss — the same positive term plus a margin term for
 * negative pairs — keeps the embedding spread out. Both runs start from the same weights and see
 * the same batches; the spread of held-out embeddings (mean distance to their centroid) is
 * recorded during training.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Experiment, loadExperimentData, parseOptions, startRun } from "../lib/experiment.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { embed, mlpEncoder, referenceCnn } from "../lib/models/mod.ts";
import { contrastiveLoss, positivePairLoss } from "../lib/losses/mod.ts";
import { train } from "../lib/train.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import { writeFigureHtml } from "../lib/viz/html.ts";
import {
  embeddingSpread,
  pairDistanceHistogramFigure,
  type PairDistancePanel,
  pairDistanceSamples,
  spreadOverTrainingFigure,
} from "../lib/viz/loss_figures.ts";

const DEFAULTS = {
  seed: 0,
  steps: 300,
  batchSize: 128,
  learningRate: 1e-3,
  embeddingDim: 32,
  /** `mlp` (fast) or `cnn` (the reference CNN). */
  model: "mlp",
  /** Train images used (0 = all of the chosen source). */
  trainLimit: 10000,
  /** Held-out test images whose spread is tracked. */
  probe: 500,
  /** Record the spread every this many steps. */
  every: 10,
  dataSource: "",
};

interface Track {
  steps: number[];
  meanDistanceToCentroid: number[];
  covarianceTrace: number[];
  /** Batch loss at the step (null before training). */
  loss: (number | null)[];
}

/** The collapse experiment. */
export const experiment: Experiment = {
  name: "collapse",
  description: "positive-pairs-only loss collapses the embedding; the contrastive loss does not",
  async run(args) {
    const options = parseOptions(args, DEFAULTS);
    if (options.model !== "mlp" && options.model !== "cnn") {
      throw new Error(`--model must be "mlp" or "cnn", got "${options.model}"`);
    }
    const run = await startRun("collapse", args, options);
    const data = await loadExperimentData({
      dataSource: options.dataSource,
      trainLimit: options.trainLimit,
      testLimit: options.probe,
    });
    const { trainSet, testSet: probeSet, train: trainT, test: probeT } = data;

    const losses = {
      "positive pairs only": (e: tf.Tensor2D, y: tf.Tensor1D) => positivePairLoss(e, y),
      "contrastive (m+ = 0, m− = 1)": (e: tf.Tensor2D, y: tf.Tensor1D) => contrastiveLoss(e, y),
    };
    const tracks: Record<string, Track> = {};
    const panels: PairDistancePanel[] = [];
    const final: Record<string, unknown> = {};
    for (const [name, loss] of Object.entries(losses)) {
      const build = options.model === "cnn" ? referenceCnn : mlpEncoder;
      const model = build({ embeddingDim: options.embeddingDim, seed: options.seed });
      const track: Track = { steps: [], meanDistanceToCentroid: [], covarianceTrace: [], loss: [] };
      const record = (step: number, lossValue: number | null) => {
        const e = embed(model, probeT.x);
        const s = embeddingSpread(e);
        e.dispose();
        track.steps.push(step);
        track.meanDistanceToCentroid.push(s.meanDistanceToCentroid);
        track.covarianceTrace.push(s.covarianceTrace);
        track.loss.push(lossValue);
      };
      record(0, null);
      console.log(`\n${name}`);
      const result = await train({
        model,
        loss,
        sampler: shuffledBatches(trainT.x, trainSet.labels, {
          batchSize: options.batchSize,
          seed: options.seed,
        }),
        steps: options.steps,
        optimizer: tf.train.adam(options.learningRate),
        onStep: (r) => {
          if (r.step % options.every === 0 || r.step === options.steps) record(r.step, r.loss);
        },
      });
      tracks[name] = track;
      const e = embed(model, probeT.x);
      const distances = await pairDistanceSamples(e, probeSet.labels);
      e.dispose();
      panels.push({ name, ...distances });
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(v.length, 1);
      final[name] = {
        meanDistanceToCentroid: track.meanDistanceToCentroid.at(-1),
        covarianceTrace: track.covarianceTrace.at(-1),
        meanPositiveDistance: mean(distances.positive),
        meanNegativeDistance: mean(distances.negative),
        trainSeconds: result.seconds,
      };
      model.dispose();
    }
    data.dispose();

    await writeJsonAtomic(`${run.dir}/metrics.json`, { final, tracks });
    await writeFigureHtml(
      `${run.dir}/spread.html`,
      spreadOverTrainingFigure(
        Object.entries(tracks).map(([name, t]) => ({
          name,
          steps: t.steps,
          values: t.meanDistanceToCentroid,
        })),
        `Spread of ${probeSet.n} held-out embeddings during training`,
      ),
      "collapse: spread over training",
    );
    await writeFigureHtml(
      `${run.dir}/pair_distances.html`,
      pairDistanceHistogramFigure(panels, "Held-out pair distances after training"),
      "collapse: pair distances",
    );

    console.log(
      `\n${"loss".padEnd(30)} ${"spread start".padStart(13)} ${"spread end".padStart(11)}`,
    );
    for (const [name, t] of Object.entries(tracks)) {
      console.log(
        `${name.padEnd(30)} ${t.meanDistanceToCentroid[0].toFixed(4).padStart(13)} ${
          t.meanDistanceToCentroid.at(-1)!.toFixed(4).padStart(11)
        }`,
      );
    }
    console.log(`(spread = mean distance of held-out embeddings to their centroid)`);
    console.log(`\nresults: ${run.dir}/`);
  },
};
