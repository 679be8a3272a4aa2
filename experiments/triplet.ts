/**
 * A triplet network trained with the triplet margin loss, once per way of
 * choosing the triplets of a batch: all triplets of the batch (no miner), and the miners
 * `tripletMarginMiner` with type `all` (margin violators), `hard` and `semihard`, and
 * `batchHardMiner` (hardest positive and negative per anchor). Every run starts from the same
 * encoder weights and sees the same M-per-class batches (`m` examples of `batchSize / m` classes).
 *
 * Mining triplets inside an embedded batch is a triplet network with shared weights: each mined
 * `(a, p, n)` is the encoder applied to three inputs, the embeddings being computed once per batch.
 *
 * The encoders are compared on the test split with retrieval and clustering (`evaluate`) and
 * pair-verification ROC-AUC of the embeddings' cosine similarity.
 *
 * The data are Fashion-MNIST (the default; the encoder is an MLP) or, with `--data
 * <kind>:<path>`, an image folder or a benchmark data set (`lib/experiment_data.ts`): the encoder
 * is then `encoderFor` the images' shape, the M-per-class batches are streamed from the files, and
 * the test split holds classes the training never saw (In-Shop: queries against the gallery).
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
import { labelledPairs } from "../lib/data/pairs.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { tripletMarginLoss } from "../lib/losses/mod.ts";
import { batchHardMiner, tripletMarginMiner } from "../lib/miners/mod.ts";
import { type Evaluation, rocAuc } from "../lib/eval/mod.ts";
import { cosinePairScores } from "./similarity-kinds.ts";

type Mining = "none (all triplets)" | "all" | "hard" | "semihard" | "batch-hard";
const MININGS: Mining[] = ["none (all triplets)", "all", "hard", "semihard", "batch-hard"];

interface Row {
  mining: string;
  evaluation: Evaluation;
  aucCosine: number;
  triplets: number;
  finalLoss: number;
  seconds: number;
}

function fmt(v: number, digits = 4): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "-";
}

/** Unit names of the trainings (checkpoint folders). */
const UNIT: Record<Mining, string> = {
  "none (all triplets)": "no-miner",
  all: "miner-all",
  hard: "miner-hard",
  semihard: "miner-semihard",
  "batch-hard": "batch-hard",
};

/**
 * The triplet-network × miners experiment.
 *
 * @example
 * ```ts
 * console.log(experiment.name); // deno task experiment triplet --steps 20
 * ```
 */
export const experiment = defineExperiment({
  name: "triplet",
  description:
    "triplet network + triplet margin loss with each miner (all, hard, semi-hard, batch-hard); one table; --data",
  options: {
    seed: option.integer(0, "seed of the initial weights, batches and test pairs", { min: 0 }),
    steps: option.integer(200, "optimisation steps per miner", { min: 1 }),
    batchSize: option.integer(32, "images per batch (a multiple of m)", { min: 2 }),
    m: option.integer(4, "examples per class in a batch", { min: 2 }),
    margin: option.number(0.2, "margin of the triplet loss and the miners", { above: 0 }),
    learningRate: option.number(1e-3, "Adam's learning rate", { above: 0 }),
    embeddingDim: option.integer(64, "embedding dimension", { min: 1 }),
    hidden: option.integers([128], "hidden layer sizes of the MLP encoder (Fashion-MNIST)", {
      min: 1,
    }),
    verificationPairs: option.integer(2000, "balanced test pairs for verification ROC-AUC", {
      min: 2,
    }),
    trainLimit: option.integer(6000, "train images used (0: the whole train split)", { min: 0 }),
    testLimit: option.integer(1000, "test images evaluated (0: the whole test split)", { min: 0 }),
    ...DATA_OPTIONS,
  },
  resolve(o, given) {
    checkDataOptions(o, given);
    return o;
  },
  validate(o) {
    if (o.batchSize % o.m !== 0) {
      throw new UsageError(`--batchSize ${o.batchSize} is not a multiple of --m ${o.m}`);
    }
    if (isFashionMnist(o) && o.batchSize / o.m > 10) {
      throw new UsageError(
        `--batchSize / --m = ${o.batchSize / o.m} classes per batch; Fashion-MNIST has 10`,
      );
    }
  },
  encoder: (o) =>
    isFashionMnist(o)
      ? { name: "mlpEncoder", hidden: o.hidden, embeddingDim: o.embeddingDim }
      : encoderForDescription(dataShape(o), o.embeddingDim),
  data: async (o, log) => {
    const data = await loadExperimentImages(o, log);
    const problem = data.train.n < o.batchSize
      ? `--batchSize ${o.batchSize} is larger than the ${data.train.n} train images`
      : o.batchSize / o.m > data.train.classes
      ? `--batchSize / --m = ${
        o.batchSize / o.m
      } classes per batch; the train split has ${data.train.classes}`
      : undefined;
    if (problem) {
      data.dispose();
      throw new UsageError(problem);
    }
    return data;
  },
  async run(ctx) {
    const { options, data } = ctx;
    const testX = data.test.x, testLabels = data.test.labels;
    const makeEncoder = () =>
      experimentEncoder(data, options, () =>
        mlpEncoder({
          hidden: options.hidden,
          embeddingDim: options.embeddingDim,
          seed: options.seed,
        }));
    const pairs = labelledPairs(testLabels, {
      count: options.verificationPairs,
      rng: options.seed + 12345,
    });
    const auc = async (encoder: tf.LayersModel) =>
      rocAuc(
        await cosinePairScores(encoder, testX, pairs.left, pairs.right),
        pairs.target,
      );

    const rows: Row[] = [];
    rows.push(
      await ctx.stage("untrained", async () => {
        const encoder = makeEncoder();
        try {
          return {
            mining: "untrained",
            evaluation: await data.evaluate(encoder),
            aucCosine: await auc(encoder),
            triplets: NaN,
            finalLoss: NaN,
            seconds: 0,
          };
        } finally {
          encoder.dispose();
        }
      }),
    );
    const histories: Record<string, { loss: number[]; triplets: number[] }> = {};
    const { margin } = options;
    for (const mining of MININGS) {
      const encoder = ctx.keep(makeEncoder());
      let counts: number[] = [];
      const sampler = data.batches({
        batchSize: options.batchSize,
        seed: options.seed,
        m: options.m,
      });
      const result = await ctx.train(UNIT[mining], {
        model: encoder,
        loss: (e, y) => {
          if (mining === "none (all triplets)") {
            return tripletMarginLoss(e, y, { margin });
          }
          const indices = mining === "batch-hard"
            ? batchHardMiner(e, y)
            : tripletMarginMiner(e, y, { margin, type: mining });
          counts.push(indices.a.length);
          return tripletMarginLoss(e, y, { margin, indices });
        },
        // The mined-triplet counts so far travel with the checkpoints.
        extraState: {
          save: () => counts,
          restore: (saved) => counts = [...(saved as number[])],
        },
        sampler,
        steps: options.steps,
        optimizer: tf.train.adam(options.learningRate),
        progress: { label: mining },
      });
      if ("close" in sampler) await sampler.close();
      const losses = result.history.map((h) => h.loss);
      histories[mining] = { loss: losses, triplets: counts };
      ctx.log(`evaluating ${mining}`);
      rows.push({
        mining,
        evaluation: await data.evaluate(encoder),
        aucCosine: await auc(encoder),
        triplets: counts.length ? counts.reduce((a, b) => a + b, 0) / counts.length : NaN,
        finalLoss: losses.slice(-20).reduce((a, b) => a + b, 0) / Math.min(20, losses.length),
        seconds: result.seconds,
      });
    }

    await ctx.writeText(
      "triplets.jsonl",
      Object.entries(histories).map(([mining, h]) => JSON.stringify({ mining, ...h })).join("\n") +
        "\n",
    );
    await ctx.writeFigure(
      "loss.html",
      {
        data: Object.entries(histories).map(([mining, h]) => ({
          type: "scatter",
          mode: "lines",
          name: mining,
          y: h.loss.map((v) => Number(v.toFixed(5))),
        })),
        layout: {
          title: { text: `Triplet margin loss (margin ${margin}) per step, by triplet selection` },
          xaxis: { title: { text: "step" } },
          yaxis: { title: { text: "loss (avg over non-zero triplets)" } },
          width: 800,
          height: 480,
        },
      },
      "triplet: training loss",
    );

    const header = [
      "mining",
      "triplets/batch",
      "MAP@R",
      "R-prec",
      "P@1",
      "NMI",
      "AUC cos",
      "loss",
      "train s",
    ];
    const table = [
      header,
      ...rows.map((r) => [
        r.mining,
        fmt(r.triplets, 0),
        fmt(r.evaluation.mapAtR),
        fmt(r.evaluation.rPrecision),
        fmt(r.evaluation.precisionAt1),
        fmt(r.evaluation.nmi),
        fmt(r.aucCosine),
        fmt(r.finalLoss),
        fmt(r.seconds, 1),
      ]),
    ];
    const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
    const text = table.map((row) =>
      row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ")
    ).join("\n");
    await ctx.writeText("table.txt", text + "\n");
    ctx.log(
      `\n${options.steps} steps, batches of ${options.batchSize} (${options.m} per class), margin ${margin}; ` +
        `test: ${data.test.n} images, ${options.verificationPairs} verification pairs`,
    );
    ctx.log(text);
    return {
      rows: rows.map((r) => ({
        ...r,
        triplets: Number.isFinite(r.triplets) ? r.triplets : null,
        finalLoss: Number.isFinite(r.finalLoss) ? r.finalLoss : null,
      })),
      data: isFashionMnist(options)
        ? { source: data.fashionMnist!.trainSet.source, train: data.train.n, test: data.test.n }
        : {
          dataset: data.dataset,
          source: data.source,
          inputShape: data.inputShape,
          train: data.train.n,
          test: data.test.n,
        },
      aucMethod: "rocAuc (lib/eval/verification.ts; ties count 1/2)",
    };
  },
});
