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
import {
  defineExperiment,
  FASHION_MNIST_OPTIONS,
  loadExperimentData,
  option,
  UsageError,
} from "../lib/experiment.ts";
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

/**
 * Cosine similarity of the embeddings of each pair, `[p]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder } from "../lib/models/mod.ts";
 * await tf.setBackend("cpu");
 * const encoder = mlpEncoder({ inputShape: [4], hidden: [8] });
 * const s = await cosinePairScores(encoder, tf.randomNormal([3, 4]), Int32Array.of(0), Int32Array.of(1));
 * console.log(s.length); // 1
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
 * console.log(experiment.name); // deno task experiment similarity-kinds --steps 20
 * ```
 */
export const experiment = defineExperiment({
  name: "similarity-kinds",
  description:
    "regression vs classification vs ranking similarity heads on one encoder and budget; retrieval + ROC-AUC",
  options: {
    seed: option.integer(0, "seed of the initial weights, batches and test pairs", { min: 0 }),
    steps: option.integer(120, "optimisation steps per head", { min: 1 }),
    imagesPerStep: option.integer(
      192,
      "images through the encoder per step, for every head (a multiple of 6)",
      { min: 6 },
    ),
    learningRate: option.number(1e-3, "Adam's learning rate", { above: 0 }),
    embeddingDim: option.integer(64, "embedding dimension", { min: 1 }),
    hidden: option.integers([128], "hidden layer sizes of the MLP encoder", { min: 1 }),
    evaluateEvery: option.integer(30, "steps between test MAP@R measurements (0: none)", {
      min: 0,
    }),
    margin: option.number(0.2, "margin of the ranking head", { above: 0 }),
    verificationPairs: option.integer(2000, "balanced test pairs for verification ROC-AUC", {
      min: 2,
    }),
    trainLimit: option.integer(6000, "train images used (0: the whole train split)", { min: 0 }),
    testLimit: option.integer(1000, "test images evaluated (0: the whole test split)", { min: 0 }),
    ...FASHION_MNIST_OPTIONS,
  },
  validate(o) {
    if (o.imagesPerStep % 6 !== 0) {
      throw new UsageError(
        `--imagesPerStep: expected a positive multiple of 6, got ${o.imagesPerStep}`,
      );
    }
  },
  encoder: (o) => ({ name: "mlpEncoder", hidden: o.hidden, embeddingDim: o.embeddingDim }),
  data: (o, log) => loadExperimentData(o, log),
  async run(ctx) {
    const options = ctx.options;
    const hidden = options.hidden;
    const { trainSet, testSet, train: trainT, test: testT } = ctx.data;
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
    const curves: Record<string, { step: number; mapAtR: number }[]> = {};
    rows.push(
      await ctx.stage("untrained", async () => {
        const encoder = makeEncoder();
        try {
          return {
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
          };
        } finally {
          encoder.dispose();
        }
      }),
    );
    const pairBatch = options.imagesPerStep / 2;
    const tripletBatch = options.imagesPerStep / 3;
    const kinds = ["regression", "classification", "ranking"] as const;
    for (const kind of kinds) {
      const encoder = makeEncoder();
      const seed = options.seed;
      let head: SimilarityHead<PairBatch> | SimilarityHead<TripletBatch>;
      let result;
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
      };
      if (kind === "ranking") {
        const h = rankingHead(encoder, { margin: options.margin, seed });
        ctx.keep(h.model);
        head = h;
        result = await ctx.train(kind, {
          ...common,
          model: h.model,
          objective: h.loss,
          sampler: tripletSampler(trainT.x, trainSet.labels, { batchSize: tripletBatch, seed }),
        });
      } else {
        const h = kind === "regression"
          ? regressionHead(encoder, { seed })
          : classificationHead(encoder, { seed });
        ctx.keep(h.model);
        head = h;
        result = await ctx.train(kind, {
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
      // From the result, so that evaluations of a resumed run's earlier part are included.
      curves[kind] = result.evaluations.map((r) => ({ step: r.step, mapAtR: r.metrics.mapAtR }));
      ctx.log(`evaluating ${kind}`);
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
    }

    const metricsShown = [
      ["MAP@R", (r: Row) => r.evaluation.mapAtR],
      ["P@1", (r: Row) => r.evaluation.precisionAt1],
      ["NMI", (r: Row) => r.evaluation.nmi],
      ["ROC-AUC (cosine)", (r: Row) => r.aucCosine],
    ] as const;
    await ctx.writeFigure(
      "comparison.html",
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
      await ctx.writeFigure(
        "map-at-r.html",
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
    await ctx.writeText("table.txt", text + "\n");
    ctx.log(
      `\n${options.steps} steps × ${options.imagesPerStep} images per head (pairs ${pairBatch}, triplets ` +
        `${tripletBatch}); test: ${testSet.n} images, ${options.verificationPairs} verification pairs`,
    );
    ctx.log(text);
    return {
      rows: rows.map((r) => ({
        ...r,
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
    };
  },
});
