/**
 * A triplet network on Fashion-MNIST trained with the triplet margin loss, once per way of
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
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Experiment, loadExperimentData, parseOptions, startRun } from "../lib/experiment.ts";
import { mPerClassSampler } from "../lib/data/samplers.ts";
import { labelledPairs } from "../lib/data/pairs.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { tripletMarginLoss } from "../lib/losses/mod.ts";
import { batchHardMiner, tripletMarginMiner } from "../lib/miners/mod.ts";
import { evaluate, type Evaluation, rocAuc } from "../lib/eval/mod.ts";
import { train } from "../lib/train.ts";
import { writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { writeFigureHtml } from "../lib/viz/mod.ts";
import { cosinePairScores } from "./similarity-kinds.ts";

const DEFAULTS = {
  seed: 0,
  steps: 200,
  batchSize: 32,
  /** Examples per class in a batch. */
  m: 4,
  margin: 0.2,
  learningRate: 1e-3,
  embeddingDim: 64,
  /** Hidden sizes of the MLP encoder, comma-separated. */
  hidden: "128",
  /** Balanced test pairs for verification ROC-AUC. */
  verificationPairs: 2000,
  trainLimit: 6000,
  testLimit: 1000,
  dataSource: "",
};

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

/**
 * The triplet-network × miners experiment.
 *
 * @example
 * ```ts
 * await experiment.run(["--steps", "20"]); // or: deno task experiment triplet --steps 20
 * ```
 */
export const experiment: Experiment = {
  name: "triplet",
  description:
    "triplet network + triplet margin loss with each miner (all, hard, semi-hard, batch-hard); one table",
  async run(args) {
    const options = parseOptions(args, DEFAULTS);
    const hidden = options.hidden.split(",").filter((s) => s.trim()).map(Number);
    const run = await startRun("triplet", args, options);
    const data = await loadExperimentData(options);
    const { trainSet, testSet, train: trainT, test: testT } = data;
    const makeEncoder = () =>
      mlpEncoder({ hidden, embeddingDim: options.embeddingDim, seed: options.seed });
    const pairs = labelledPairs(testSet.labels, {
      count: options.verificationPairs,
      rng: options.seed + 12345,
    });
    const auc = async (encoder: tf.LayersModel) =>
      rocAuc(
        await cosinePairScores(encoder, testT.x, pairs.left, pairs.right),
        pairs.target,
      );

    const rows: Row[] = [];
    {
      const encoder = makeEncoder();
      rows.push({
        mining: "untrained",
        evaluation: await evaluate(encoder, testT.x, testSet.labels),
        aucCosine: await auc(encoder),
        triplets: NaN,
        finalLoss: NaN,
        seconds: 0,
      });
      encoder.dispose();
    }
    const histories: Record<string, { loss: number[]; triplets: number[] }> = {};
    const { margin } = options;
    for (const mining of MININGS) {
      const encoder = makeEncoder();
      const counts: number[] = [];
      const optimizer = tf.train.adam(options.learningRate);
      const result = await train({
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
        sampler: mPerClassSampler(trainT.x, trainSet.labels, {
          m: options.m,
          batchSize: options.batchSize,
          seed: options.seed,
        }),
        steps: options.steps,
        optimizer,
        progress: { label: mining },
      });
      optimizer.dispose();
      const losses = result.history.map((h) => h.loss);
      histories[mining] = { loss: losses, triplets: counts };
      rows.push({
        mining,
        evaluation: await evaluate(encoder, testT.x, testSet.labels),
        aucCosine: await auc(encoder),
        triplets: counts.length ? counts.reduce((a, b) => a + b, 0) / counts.length : NaN,
        finalLoss: losses.slice(-20).reduce((a, b) => a + b, 0) / Math.min(20, losses.length),
        seconds: result.seconds,
      });
      encoder.dispose();
    }
    data.dispose();

    await writeJsonAtomic(`${run.dir}/metrics.json`, {
      rows: rows.map((r) => ({
        ...r,
        triplets: Number.isFinite(r.triplets) ? r.triplets : null,
        finalLoss: Number.isFinite(r.finalLoss) ? r.finalLoss : null,
      })),
      data: { source: trainSet.source, train: trainSet.n, test: testSet.n },
      aucMethod: "rocAuc (lib/eval/verification.ts; ties count 1/2)",
    });
    await writeTextAtomic(
      `${run.dir}/history.jsonl`,
      Object.entries(histories).map(([mining, h]) => JSON.stringify({ mining, ...h })).join("\n") +
        "\n",
    );
    await writeFigureHtml(
      `${run.dir}/loss.html`,
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
    await writeTextAtomic(`${run.dir}/table.txt`, text + "\n");
    console.log(
      `\n${options.steps} steps, batches of ${options.batchSize} (${options.m} per class), margin ${margin}; ` +
        `test: ${testSet.n} images, ${options.verificationPairs} verification pairs`,
    );
    console.log(text);
    console.log(`\nresults: ${run.dir}/`);
  },
};
