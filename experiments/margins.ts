/**
 * Margins: what the positive and negative margins of the contrastive loss (hinged or squared as
 * in Hadsell et al.) and the radii of the ring loss do to the distances between held-out positive
 * and negative pairs. One encoder per setting, same initial weights and batches; histograms of
 * pair distances after training, with the margins marked.
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
import { contrastiveLoss, ringLoss } from "../lib/losses/mod.ts";
import { evaluateEmbeddings } from "../lib/eval/evaluate.ts";
import {
  pairDistanceHistogramFigure,
  type PairDistancePanel,
  pairDistanceSamples,
} from "../lib/viz/loss_figures.ts";

/** Per-class inner radii for the last setting: the four upper-body garment classes, which look
 * alike (T-shirt/top, pullover, coat, shirt), get a wider ball than the others. */
const WIDE = new Set([0, 2, 4, 6]);
const PER_CLASS_INNER = Array.from({ length: 10 }, (_, c) => (WIDE.has(c) ? 0.6 : 0.3));

interface Setting {
  name: string;
  /** Checkpoint unit name. */
  unit: string;
  loss: (e: tf.Tensor2D, y: tf.Tensor1D) => tf.Scalar;
  /** [positive threshold per class, negative threshold] used for the summary fractions. */
  pos: (label: number) => number;
  neg: number;
  markers: { x: number; label: string }[];
}

const SETTINGS: Setting[] = [
  {
    name: "contrastive m+ 0, m− 0.5",
    unit: "contrastive-neg0.5",
    loss: (e, y) => contrastiveLoss(e, y, { posMargin: 0, negMargin: 0.5 }),
    pos: () => 0,
    neg: 0.5,
    markers: [{ x: 0.5, label: "m−" }],
  },
  {
    name: "contrastive m+ 0, m− 1 (PML default)",
    unit: "contrastive-default",
    loss: (e, y) => contrastiveLoss(e, y),
    pos: () => 0,
    neg: 1,
    markers: [{ x: 1, label: "m−" }],
  },
  {
    name: "contrastive m+ 0.4, m− 1",
    unit: "contrastive-pos0.4",
    loss: (e, y) => contrastiveLoss(e, y, { posMargin: 0.4, negMargin: 1 }),
    pos: () => 0.4,
    neg: 1,
    markers: [{ x: 0.4, label: "m+" }, { x: 1, label: "m−" }],
  },
  {
    name: "contrastive squared m+ 0, m− 1",
    unit: "contrastive-squared",
    loss: (e, y) => contrastiveLoss(e, y, { squared: true }),
    pos: () => 0,
    neg: 1,
    markers: [{ x: 1, label: "m−" }],
  },
  {
    name: "ring r_in 0.4, r_out 1.2",
    unit: "ring",
    loss: (e, y) => ringLoss(e, y, { innerRadius: 0.4, outerRadius: 1.2 }),
    pos: () => 0.4,
    neg: 1.2,
    markers: [{ x: 0.4, label: "r_in" }, { x: 1.2, label: "r_out" }],
  },
  {
    name: "ring, per-class r_in 0.3 / 0.6, r_out 1.2",
    unit: "ring-per-class",
    loss: (e, y) => ringLoss(e, y, { innerRadius: PER_CLASS_INNER, outerRadius: 1.2 }),
    pos: (c) => PER_CLASS_INNER[c],
    neg: 1.2,
    markers: [{ x: 0.3, label: "r_in" }, { x: 0.6, label: "r_in" }, { x: 1.2, label: "r_out" }],
  },
];

/** The margins experiment. */
export const experiment = defineExperiment({
  name: "margins",
  description:
    "contrastive margins (hinged/squared) and ring radii: held-out pair-distance histograms",
  options: {
    seed: option.integer(0, "seed of the initial weights and the batch order", { min: 0 }),
    steps: option.integer(200, "optimisation steps per setting", { min: 1 }),
    batchSize: option.integer(128, "images per batch", { min: 2 }),
    learningRate: option.number(1e-3, "Adam's learning rate", { above: 0 }),
    embeddingDim: option.integer(32, "embedding dimension", { min: 1 }),
    model: option.choice(["mlp", "cnn"], "mlp", "encoder: mlp (fast) or cnn (the reference CNN)"),
    trainLimit: option.integer(10000, "train images used (0: all of the chosen source)", {
      min: 0,
    }),
    probe: option.integer(1000, "held-out test images whose pair distances are plotted", {
      min: 2,
    }),
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
    const build = options.model === "cnn" ? referenceCnn : mlpEncoder;
    const labels = Array.from(probeSet.labels);

    const panels: PairDistancePanel[] = [];
    const summary: Record<string, unknown>[] = [];
    const measure = async (name: string, model: tf.LayersModel, setting?: Setting) => {
      const e = embed(model, probeT.x);
      const d = await pairDistanceSamples(e, labels);
      const evaluation = await evaluateEmbeddings(e, labels, { clustering: false });
      e.dispose();
      panels.push({ name, ...d, markers: setting?.markers });
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(v.length, 1);
      // Fractions of pairs on the right side of the setting's thresholds.
      let posInside = 0, posCount = 0;
      const n = labels.length;
      if (setting) {
        for (let i = 0, k = 0; i < n; i++) {
          for (let j = i + 1; j < n; j++) {
            if (labels[i] !== labels[j]) continue;
            posCount++;
            if (d.positive[k++] <= Math.max(setting.pos(labels[i]), 1e-9)) posInside++;
          }
        }
      }
      const row = {
        setting: name,
        meanPositiveDistance: mean(d.positive),
        meanNegativeDistance: mean(d.negative),
        positivesWithinMargin: setting ? posInside / Math.max(posCount, 1) : null,
        negativesBeyondMargin: setting
          ? d.negative.filter((v) => v >= setting.neg).length / Math.max(d.negative.length, 1)
          : null,
        precisionAt1: evaluation.precisionAt1,
        mapAtR: evaluation.mapAtR,
      };
      summary.push(row);
      return row;
    };

    const initial = build({ embeddingDim: options.embeddingDim, seed: options.seed });
    await measure("untrained", initial);
    initial.dispose();
    for (const setting of SETTINGS) {
      ctx.log(`\n${setting.name}`);
      const model = ctx.keep(build({ embeddingDim: options.embeddingDim, seed: options.seed }));
      await ctx.train(setting.unit, {
        model,
        loss: setting.loss,
        sampler: shuffledBatches(trainT.x, trainSet.labels, {
          batchSize: options.batchSize,
          seed: options.seed,
        }),
        steps: options.steps,
        optimizer: tf.train.adam(options.learningRate),
      });
      ctx.log(`measuring ${setting.name}`);
      await measure(setting.name, model, setting);
    }

    await ctx.writeFigure(
      "pair_distances.html",
      pairDistanceHistogramFigure(
        panels,
        `Distances of held-out pairs (${probeSet.n} test images) after ${options.steps} steps`,
      ),
      "margins: pair distances",
    );

    const f = (v: unknown) => (typeof v === "number" ? v.toFixed(3) : "  —  ").padStart(8);
    ctx.log(
      `\n${"setting".padEnd(42)} ${"mean d+".padStart(8)} ${"mean d−".padStart(8)} ${
        "d+≤m+".padStart(8)
      } ${"d−≥m−".padStart(8)} ${"P@1".padStart(8)}`,
    );
    for (const r of summary) {
      ctx.log(
        `${String(r.setting).padEnd(42)} ${f(r.meanPositiveDistance)} ${
          f(r.meanNegativeDistance)
        } ${f(r.positivesWithinMargin)} ${f(r.negativesBeyondMargin)} ${f(r.precisionAt1)}`,
      );
    }
    return { settings: summary };
  },
});
