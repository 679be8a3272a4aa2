/**
 * The three formulations of similarity learning side by side: a regression head (graded pair
 * similarity, mean squared error), a classification head (similar / dissimilar pairs, binary
 * cross-entropy on `[|e1 − e2|, e1 ⊙ e2]`) and a ranking head (triplets, margin ranking loss on
 * the cosine score), each on a fresh copy of the same encoder (same architecture, same initial
 * weights) with the same budget: the same number of steps and the same number of images per step
 * (pairs batches of `imagesPerStep / 2`, triplet batches of `imagesPerStep / 3`).
 *
 * All three encoders are then measured the same way on the test split: retrieval (MAP@R,
 * R-precision, Precision@1) and clustering (NMI) via `evaluate`, and pair-verification ROC-AUC on
 * a fixed set of balanced test pairs, scored both by the cosine similarity of the embeddings
 * (comparable across heads) and by each head's own similarity.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Experiment, loadExperimentData, parseOptions, startRun } from "../lib/experiment.ts";
import { pairSampler, tripletSampler } from "../lib/data/samplers.ts";
import { gradedPairs, labelledPairs } from "../lib/data/pairs.ts";
import type { PairBatch, TripletBatch } from "../lib/data/batches.ts";
import { embed, mlpEncoder } from "../lib/models/mod.ts";
import {
  classificationHead,
  rankingHead,
  regressionHead,
  type SimilarityHead,
} from "../lib/heads/mod.ts";
import { evaluate, type Evaluation, rocAuc } from "../lib/eval/mod.ts";
import { train } from "../lib/train.ts";
import { writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { writeFigureHtml } from "../lib/viz/mod.ts";

const DEFAULTS = {
  seed: 0,
  steps: 120,
  /** Images through the encoder per step, for every head (divisible by 6). */
  imagesPerStep: 192,
  learningRate: 1e-3,
  embeddingDim: 64,
  /** Hidden sizes of the MLP encoder, comma-separated. */
  hidden: "128",
  /** Steps between test MAP@R measurements during training (0 = none). */
  evaluateEvery: 30,
  /** Margin of the ranking head. */
  margin: 0.2,
  /** Balanced test pairs for verification ROC-AUC. */
  verificationPairs: 2000,
  /** Train images used (0 = the whole train split). */
  trainLimit: 6000,
  /** Test images evaluated (0 = the whole test split). */
  testLimit: 1000,
  dataSource: "",
};

/**
 * Cosine similarity of the embeddings of each pair, `[p]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder } from "../lib/models/mod.ts";
 * const encoder = mlpEncoder({ inputShape: [4], hidden: [8] });
 * const s = await cosinePairScores(encoder, tf.randomNormal([3, 4]), Int32Array.of(0), Int32Array.of(1));
 * ```
 */
export async function cosinePairScores(
  encoder: tf.LayersModel,
  x: tf.Tensor,
  left: Int32Array,
  right: Int32Array,
): Promise<Float32Array> {
  const e = embed(encoder, x);
  const s = tf.tidy(() => {
    const n = tf.div(e, tf.maximum(tf.norm(e, "euclidean", 1, true), 1e-12));
    const a = tf.gather(n, tf.tensor1d(left, "int32"));
    const b = tf.gather(n, tf.tensor1d(right, "int32"));
    return tf.sum(tf.mul(a, b), 1);
  });
  const out = await s.data() as Float32Array;
  tf.dispose([e, s]);
  return out;
}

interface Row {
  name: string;
  evaluation: Evaluation;
  aucCosine: number;
  aucHead: number;
  /** MSE of the head's ŷ against graded targets of test pairs (regression only). */
  gradedMse: number;
  seconds: number;
  finalLoss: number;
}

function fmt(v: number, digits = 4): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "-";
}

/**
 * The similarity-kinds experiment.
 *
 * @example
 * ```ts
 * await experiment.run(["--steps", "20"]); // or: deno task experiment similarity-kinds --steps 20
 * ```
 */
export const experiment: Experiment = {
  name: "similarity-kinds",
  description:
    "regression vs classification vs ranking similarity heads on one encoder and budget; retrieval + ROC-AUC",
  async run(args) {
    const options = parseOptions(args, DEFAULTS);
    if (options.imagesPerStep % 6 !== 0 || options.imagesPerStep < 6) {
      throw new Error(
        `--imagesPerStep must be a positive multiple of 6, got ${options.imagesPerStep}`,
      );
    }
    const hidden = options.hidden.split(",").filter((s) => s.trim()).map(Number);
    const run = await startRun("similarity-kinds", args, options);
    const data = await loadExperimentData(options);
    const { trainSet, testSet, train: trainT, test: testT } = data;
    const makeEncoder = () =>
      mlpEncoder({ hidden, embeddingDim: options.embeddingDim, seed: options.seed });
    const verification = labelledPairs(testSet.labels, {
      count: options.verificationPairs,
      rng: options.seed + 12345,
    });
    const graded = gradedPairs(testSet.labels, {
      count: options.verificationPairs,
      rng: options.seed + 777,
    });

    const headScores = async (
      head: SimilarityHead<unknown>,
      left: Int32Array,
      right: Int32Array,
    ) => {
      const a = tf.gather(testT.x, tf.tensor1d(left, "int32"));
      const b = tf.gather(testT.x, tf.tensor1d(right, "int32"));
      const s = head.similarity(a, b);
      const out = await s.data() as Float32Array;
      tf.dispose([a, b, s]);
      return out;
    };

    const rows: Row[] = [];
    const histories: Record<string, number[]> = {};
    const curves: Record<string, { step: number; mapAtR: number }[]> = {};
    {
      const encoder = makeEncoder();
      rows.push({
        name: "untrained",
        evaluation: await evaluate(encoder, testT.x, testSet.labels),
        aucCosine: rocAuc(
          await cosinePairScores(encoder, testT.x, verification.left, verification.right),
          verification.target,
        ),
        aucHead: NaN,
        gradedMse: NaN,
        seconds: 0,
        finalLoss: NaN,
      });
      encoder.dispose();
    }
    const pairBatch = options.imagesPerStep / 2;
    const tripletBatch = options.imagesPerStep / 3;
    const kinds = ["regression", "classification", "ranking"] as const;
    for (const kind of kinds) {
      const encoder = makeEncoder();
      const seed = options.seed;
      let head: SimilarityHead<PairBatch> | SimilarityHead<TripletBatch>;
      let result;
      curves[kind] = [];
      const common = {
        steps: options.steps,
        optimizer: tf.train.adam(options.learningRate),
        progress: { label: kind },
        // Test MAP@R during training, through the loop's evaluation hook.
        evaluateEvery: options.evaluateEvery,
        evaluate: options.evaluateEvery > 0
          ? async () => ({
            mapAtR:
              (await evaluate(encoder, testT.x, testSet.labels, { clustering: false })).mapAtR,
          })
          : undefined,
        onEvaluate: (r: { step: number; metrics: Record<string, number> }) =>
          curves[kind].push({ step: r.step, mapAtR: r.metrics.mapAtR }),
      };
      if (kind === "ranking") {
        const h = rankingHead(encoder, { margin: options.margin, seed });
        head = h;
        result = await train({
          ...common,
          model: h.model,
          objective: h.loss,
          sampler: tripletSampler(trainT.x, trainSet.labels, { batchSize: tripletBatch, seed }),
        });
      } else {
        const h = kind === "regression"
          ? regressionHead(encoder, { seed })
          : classificationHead(encoder, { seed });
        head = h;
        result = await train({
          ...common,
          model: h.model,
          objective: h.loss,
          sampler: pairSampler(trainT.x, trainSet.labels, {
            batchSize: pairBatch,
            targets: kind === "regression" ? "graded" : "binary",
            seed,
          }),
        });
      }
      common.optimizer.dispose();
      histories[kind] = result.history.map((h) => h.loss);
      let gradedMse = NaN;
      if (kind === "regression") {
        const y = await headScores(head as SimilarityHead<unknown>, graded.left, graded.right);
        gradedMse = y.reduce((s, v, i) => s + (v - graded.target[i]) ** 2, 0) / y.length;
      }
      rows.push({
        name: kind,
        evaluation: await evaluate(encoder, testT.x, testSet.labels),
        aucCosine: rocAuc(
          await cosinePairScores(encoder, testT.x, verification.left, verification.right),
          verification.target,
        ),
        aucHead: rocAuc(
          await headScores(head as SimilarityHead<unknown>, verification.left, verification.right),
          verification.target,
        ),
        gradedMse,
        seconds: result.seconds,
        finalLoss: result.history.slice(-20).reduce((s, h) => s + h.loss, 0) /
          Math.min(20, result.history.length),
      });
      head.model.dispose();
    }

    await writeJsonAtomic(`${run.dir}/metrics.json`, {
      rows: rows.map((r) => ({
        ...r,
        evaluation: { ...r.evaluation, nmi: r.evaluation.nmi, ami: r.evaluation.ami },
        aucHead: Number.isFinite(r.aucHead) ? r.aucHead : null,
        gradedMse: Number.isFinite(r.gradedMse) ? r.gradedMse : null,
        finalLoss: Number.isFinite(r.finalLoss) ? r.finalLoss : null,
      })),
      budget: {
        steps: options.steps,
        imagesPerStep: options.imagesPerStep,
        pairBatch,
        tripletBatch,
      },
      data: { source: trainSet.source, train: trainSet.n, test: testSet.n },
      verificationPairs: options.verificationPairs,
      aucMethod: "rocAuc (lib/eval/verification.ts; ties count 1/2)",
      mapAtRDuringTraining: curves,
    });
    await writeTextAtomic(
      `${run.dir}/history.jsonl`,
      Object.entries(histories).map(([kind, losses]) => JSON.stringify({ kind, losses })).join(
        "\n",
      ) + "\n",
    );
    const metricsShown = [
      ["MAP@R", (r: Row) => r.evaluation.mapAtR],
      ["P@1", (r: Row) => r.evaluation.precisionAt1],
      ["NMI", (r: Row) => r.evaluation.nmi],
      ["ROC-AUC (cosine)", (r: Row) => r.aucCosine],
    ] as const;
    await writeFigureHtml(
      `${run.dir}/comparison.html`,
      {
        data: rows.map((r) => ({
          type: "bar",
          name: r.name,
          x: metricsShown.map(([m]) => m),
          y: metricsShown.map(([, f]) => Number(fmt(f(r)))),
        })),
        layout: {
          title: {
            text:
              `Similarity heads on one encoder, ${options.steps} steps × ${options.imagesPerStep} images`,
          },
          barmode: "group",
          yaxis: { title: { text: "score (test split)" }, range: [0, 1] },
          width: 800,
          height: 480,
        },
      },
      "similarity-kinds: comparison",
    );
    if (options.evaluateEvery > 0) {
      const untrainedMap = rows[0].evaluation.mapAtR;
      await writeFigureHtml(
        `${run.dir}/map-at-r.html`,
        {
          data: Object.entries(curves).map(([kind, points]) => ({
            type: "scatter",
            mode: "lines+markers",
            name: kind,
            x: [0, ...points.map((p) => p.step)],
            y: [untrainedMap, ...points.map((p) => p.mapAtR)].map((v) => Number(v.toFixed(4))),
          })),
          layout: {
            title: { text: "Test MAP@R of the shared encoder during training" },
            xaxis: { title: { text: "step" } },
            yaxis: { title: { text: "MAP@R" } },
            width: 800,
            height: 480,
          },
        },
        "similarity-kinds: MAP@R during training",
      );
    }
    data.dispose();

    const header = [
      "head",
      "MAP@R",
      "R-prec",
      "P@1",
      "NMI",
      "AUC cos",
      "AUC head",
      "graded MSE",
      "loss",
      "train s",
    ];
    const table = [
      header,
      ...rows.map((r) => [
        r.name,
        fmt(r.evaluation.mapAtR),
        fmt(r.evaluation.rPrecision),
        fmt(r.evaluation.precisionAt1),
        fmt(r.evaluation.nmi),
        fmt(r.aucCosine),
        fmt(r.aucHead),
        fmt(r.gradedMse),
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
      `\n${options.steps} steps × ${options.imagesPerStep} images per head (pairs ${pairBatch}, triplets ` +
        `${tripletBatch}); test: ${testSet.n} images, ${options.verificationPairs} verification pairs`,
    );
    console.log(text);
    console.log(`\nresults: ${run.dir}/`);
  },
};
