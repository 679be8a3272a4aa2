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
import {
  defineExperiment,
  FASHION_MNIST_OPTIONS,
  loadExperimentData,
  option,
} from "../lib/experiment.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { embed, mlpEncoder, referenceCnn } from "../lib/models/mod.ts";
import { contrastiveLoss, positivePairLoss } from "../lib/losses/mod.ts";
import {
  embeddingSpread,
  pairDistanceHistogramFigure,
  type PairDistancePanel,
  pairDistanceSamples,
  spreadOverTrainingFigure,
} from "../lib/viz/loss_figures.ts";

interface Track {
  steps: number[];
  meanDistanceToCentroid: number[];
  covarianceTrace: number[];
  /** Batch loss at the step (null before training). */
  loss: (number | null)[];
}

/** The two losses compared, with their checkpoint unit names. */
const LOSSES = [
  {
    name: "positive pairs only",
    unit: "positive-only",
    loss: (e: tf.Tensor2D, y: tf.Tensor1D) => positivePairLoss(e, y),
  },
  {
    name: "contrastive (m+ = 0, m− = 1)",
    unit: "contrastive",
    loss: (e: tf.Tensor2D, y: tf.Tensor1D) => contrastiveLoss(e, y),
  },
];

/** The collapse experiment. */
export const experiment = defineExperiment({
  name: "collapse",
  description: "positive-pairs-only loss collapses the embedding; the contrastive loss does not",
  options: {
    seed: option.integer(0, "seed of the initial weights and the batch order", { min: 0 }),
    steps: option.integer(300, "optimisation steps per loss", { min: 1 }),
    batchSize: option.integer(128, "images per batch", { min: 2 }),
    learningRate: option.number(1e-3, "Adam's learning rate", { above: 0 }),
    embeddingDim: option.integer(32, "embedding dimension", { min: 1 }),
    model: option.choice(["mlp", "cnn"], "mlp", "encoder: mlp (fast) or cnn (the reference CNN)"),
    trainLimit: option.integer(10000, "train images used (0: all of the chosen source)", {
      min: 0,
    }),
    probe: option.integer(500, "held-out test images whose spread is tracked", { min: 2 }),
    every: option.integer(10, "record the spread every this many steps", { min: 1 }),
    ...FASHION_MNIST_OPTIONS,
  },
  encoder: (o) => ({
    name: o.model === "cnn" ? "referenceCnn" : "mlpEncoder",
    embeddingDim: o.embeddingDim,
  }),
  data: (o, log) =>
    loadExperimentData(
      { dataSource: o.dataSource, trainLimit: o.trainLimit, testLimit: o.probe },
      log,
    ),
  async run(ctx) {
    const options = ctx.options;
    const { trainSet, testSet: probeSet, train: trainT, test: probeT } = ctx.data;
    const tracks: Record<string, Track> = {};
    const panels: PairDistancePanel[] = [];
    const final: Record<string, unknown> = {};
    for (const { name, unit, loss } of LOSSES) {
      const build = options.model === "cnn" ? referenceCnn : mlpEncoder;
      const model = ctx.keep(build({ embeddingDim: options.embeddingDim, seed: options.seed }));
      let track: Track = { steps: [], meanDistanceToCentroid: [], covarianceTrace: [], loss: [] };
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
      ctx.log(`\n${name}`);
      const result = await ctx.train(unit, {
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
        // The spread recorded so far travels with the checkpoints.
        extraState: { save: () => track, restore: (saved) => track = saved as Track },
      });
      tracks[name] = track;
      ctx.log(`measuring ${name}`);
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
    }

    await ctx.writeFigure(
      "spread.html",
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
    await ctx.writeFigure(
      "pair_distances.html",
      pairDistanceHistogramFigure(panels, "Held-out pair distances after training"),
      "collapse: pair distances",
    );

    ctx.log(
      `\n${"loss".padEnd(30)} ${"spread start".padStart(13)} ${"spread end".padStart(11)}`,
    );
    for (const [name, t] of Object.entries(tracks)) {
      ctx.log(
        `${name.padEnd(30)} ${t.meanDistanceToCentroid[0].toFixed(4).padStart(13)} ${
          t.meanDistanceToCentroid.at(-1)!.toFixed(4).padStart(11)
        }`,
      );
    }
    ctx.log(`(spread = mean distance of held-out embeddings to their centroid)`);
    return { final, tracks };
  },
});
