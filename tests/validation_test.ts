/**
 * Hostile inputs: every public function rejects bad arguments with an Error that names the
 * function, the argument and the problem. One table, one row per case: the call and a regex the
 * message must match. A case whose call does not throw, or throws another message, fails.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { pairwiseDistances, resolveMetric } from "../lib/distances.ts";
import {
  circleLoss,
  contrastiveLoss,
  instanceLoss,
  multiSimilarityLoss,
  nPairsLoss,
  ntXentLoss,
  supConLoss,
  tripletMarginLoss,
} from "../lib/losses/mod.ts";
import {
  batchHardMiner,
  multiSimilarityMiner,
  pairMarginMiner,
  tripletMarginMiner,
} from "../lib/miners/mod.ts";
import {
  ami,
  calibrateThreshold,
  evaluateEmbeddings,
  Index,
  kMeans,
  knn,
  nmi,
  retrievalMetrics,
  rocAuc,
  rocCurve,
} from "../lib/eval/mod.ts";
import { encodeIdx, parseIdx } from "../lib/data/idx.ts";
import { loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { mPerClassSampler, pairSampler, tripletSampler } from "../lib/data/samplers.ts";
import { createRng } from "../lib/data/random.ts";
import { classificationHead, rankingHead, regressionHead } from "../lib/heads/mod.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { ITML, LMNN, MLKR, MMC, NCA } from "../lib/linear/mod.ts";
import { train } from "../lib/train.ts";
import { option, parseOptionArgs } from "../lib/cli.ts";

await tf.setBackend("cpu");

const x4 = () => tf.tensor2d([[0, 0], [0, 1], [5, 0], [5, 1]]);
const y4 = [0, 0, 1, 1];
const withNaN = () => tf.tensor2d([[0, 0], [0, NaN], [5, 0], [5, 1]]);
const withInf = () => tf.tensor2d([[0, 0], [0, Infinity], [5, 0], [5, 1]]);
const encoder = () => mlpEncoder({ inputShape: [2], hidden: [4], embeddingDim: 2 });

/** A valid 2×2 uint8 IDX file. */
const idx = () => encodeIdx({ dtype: "uint8", shape: [2, 2], data: new Uint8Array([1, 2, 3, 4]) });
const gzip = async (bytes: Uint8Array) =>
  new Uint8Array(
    await new Response(
      new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new CompressionStream("gzip")),
    )
      .arrayBuffer(),
  );

/** Writes a Fashion-MNIST directory (train split) into a new temp dir. */
async function fakeDataset(
  files: Partial<Record<"images" | "labels", Uint8Array>>,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "simlearn-validation-" });
  const images = files.images ??
    encodeIdx({ dtype: "uint8", shape: [2, 28, 28], data: new Uint8Array(2 * 784) });
  const labels = files.labels ??
    encodeIdx({ dtype: "uint8", shape: [2], data: new Uint8Array([0, 1]) });
  await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, images);
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, labels);
  return dir;
}

type Case = [name: string, call: () => unknown, message: RegExp];

const cases: Case[] = [
  // ---- distances
  [
    "unknown metric name",
    () => pairwiseDistances(x4(), x4(), "euclidian"),
    /unknown metric "euclidian"/,
  ],
  [
    "unknown metric param",
    () => resolveMetric({ name: "minkowski", q: 3 } as never),
    /minkowski.*"q"/,
  ],
  ["minkowski p ≤ 0", () => resolveMetric({ name: "minkowski", p: -1 }), /minkowski.*p/],
  [
    "distances: dimension mismatch",
    () => pairwiseDistances(x4(), tf.zeros([2, 3]) as tf.Tensor2D),
    /pairwiseDistances: .*dimensions differ/,
  ],
  [
    "distances: rank 1",
    () => pairwiseDistances(tf.zeros([4]) as never, x4()),
    /pairwiseDistances: a and b must be rank 2/,
  ],
  [
    "distances: NaN input",
    () => pairwiseDistances(withNaN(), x4()),
    /pairwiseDistances: a row \d+ holds (NaN|-?Infinity)/,
  ],
  [
    "distances: infinite input",
    () => pairwiseDistances(x4(), withInf()),
    /pairwiseDistances: b row \d+ holds (NaN|-?Infinity)/,
  ],

  // ---- losses
  [
    "contrastive: typo option",
    () => contrastiveLoss(x4(), y4, { negMarign: 1 } as never),
    /contrastiveLoss: unknown option "negMarign"/,
  ],
  [
    "contrastive: label count",
    () => contrastiveLoss(x4(), [0, 1]),
    /contrastiveLoss: expected 4 labels \(one per embedding\), got 2/,
  ],
  [
    "contrastive: non-integer labels",
    () => contrastiveLoss(x4(), [0, 0.5, 1, 1]),
    /contrastiveLoss: label 1 is 0\.5, not an integer/,
  ],
  [
    "contrastive: rank 1 embeddings",
    () => contrastiveLoss(tf.zeros([4]) as never, y4),
    /contrastiveLoss: embeddings must be a \[n, d\]/,
  ],
  [
    // PML's InstanceLoss returns NaN there; every loss's answer: tests/empty_batches_test.ts.
    "instanceLoss: empty batch",
    () => instanceLoss(tf.zeros([0, 2]) as tf.Tensor2D, []),
    /instanceLoss: embeddings is an empty batch \(0 rows\): .*NaN/,
  ],
  [
    "contrastive: negative margin",
    () => contrastiveLoss(x4(), y4, { negMargin: -1 }),
    /contrastiveLoss: negMargin must be ≥ 0 with a distance, got -1/,
  ],
  [
    "contrastive: unknown distance",
    () => contrastiveLoss(x4(), y4, { distance: "manhatten" as never }),
    /contrastiveLoss: .*distance/,
  ],
  [
    "triplet: negative margin",
    () => tripletMarginLoss(x4(), y4, { margin: -0.1 }),
    /tripletMarginLoss: margin must be ≥ 0 with a distance, got -0\.1/,
  ],
  [
    "triplet: typo option",
    () => tripletMarginLoss(x4(), y4, { margn: 1 } as never),
    /tripletMarginLoss: unknown option "margn"/,
  ],
  [
    "ntxent: temperature 0",
    () => ntXentLoss(x4(), y4, { temperature: 0 }),
    /ntXentLoss: temperature/,
  ],
  [
    "supcon: temperature < 0",
    () => supConLoss(x4(), y4, { temperature: -1 }),
    /supConLoss: temperature/,
  ],
  [
    "multiSimilarity: typo",
    () => multiSimilarityLoss(x4(), y4, { alfa: 2 } as never),
    /multiSimilarityLoss: unknown option "alfa"/,
  ],
  [
    "circle: typo",
    () => circleLoss(x4(), y4, { gama: 2 } as never),
    /circleLoss: unknown option "gama"/,
  ],
  [
    "tripletMarginMiner: type",
    () => tripletMarginMiner(x4(), y4, { type: "hardest" as never }),
    /tripletMarginMiner: unknown type "hardest"/,
  ],
  [
    "batchHardMiner: label count",
    () => batchHardMiner(x4(), [0, 1, 1]),
    /batchHardMiner: expected 4 labels \(one per embedding\), got 3/,
  ],
  [
    "multiSimilarityMiner: typo",
    () => multiSimilarityMiner(x4(), y4, { epsilom: 0.1 } as never),
    /multiSimilarityMiner: unknown option "epsilom"/,
  ],

  [
    "nPairsLoss: unknown option",
    () => nPairsLoss(x4(), y4, { temperature: 1 } as never),
    /nPairsLoss: unknown option "temperature"/,
  ],
  [
    "pairMarginMiner: typo",
    () => pairMarginMiner(x4(), y4, { negMarign: 1 } as never),
    /pairMarginMiner: unknown option "negMarign"/,
  ],
  [
    "pairwiseDistances: typo option",
    () => pairwiseDistances(x4(), x4(), "euclidean", { checkFinit: false } as never),
    /pairwiseDistances: unknown option "checkFinit"/,
  ],
  // ---- retrieval, knn, index
  [
    "retrieval: label count",
    () => retrievalMetrics(x4(), [0, 1]),
    /retrievalMetrics: .*queryLabels/,
  ],
  ["retrieval: NaN", () => retrievalMetrics(withNaN(), y4), /retrievalMetrics: .*NaN/],
  [
    "retrieval: typo option",
    () => retrievalMetrics(x4(), y4, undefined, undefined, { kk: 1 } as never),
    /retrievalMetrics: unknown option "kk"/,
  ],
  [
    "retrieval: k = 0",
    () => retrievalMetrics(x4(), y4, undefined, undefined, { k: 0 }),
    /retrievalMetrics: .*k/,
  ],
  [
    "retrieval: unknown metric",
    () => retrievalMetrics(x4(), y4, undefined, undefined, { metric: "cosin" }),
    /unknown metric "cosin"/,
  ],
  [
    "retrieval: non-integer labels",
    () => retrievalMetrics(x4(), [0, 0.5, 1, 1]),
    /retrievalMetrics: queryLabels.*integer/,
  ],
  [
    "evaluateEmbeddings: typo",
    () => evaluateEmbeddings(x4(), y4, { clusterng: false } as never),
    /evaluateEmbeddings: unknown option "clusterng"/,
  ],
  ["knn: k = 0", () => knn(x4(), undefined, 0), /knn: k must be/],
  ["knn: k > references", () => knn(x4(), undefined, 4), /knn: k must be.*3/],
  [
    "knn: dimension mismatch",
    () => knn(x4(), tf.zeros([3, 3]) as tf.Tensor2D, 1),
    /knn: query has dimension 2 but reference has dimension 3/,
  ],
  ["knn: infinite", () => knn(withInf(), undefined, 1), /knn: .*(NaN|infinite|Infinity)/],
  [
    "knn: typo option",
    () => knn(x4(), undefined, 1, { excludeSef: true } as never),
    /knn: unknown option "excludeSef"/,
  ],
  [
    "knn: empty query",
    () => knn(tf.zeros([0, 2]) as tf.Tensor2D, x4(), 1),
    /knn: query is empty \(0 rows\)/,
  ],
  ["Index: dim 0", () => new Index({ dim: 0 }), /Index: dim must be a positive integer/],
  [
    "Index: typo option",
    () => new Index({ dim: 2, metrc: "cosine" } as never),
    /Index: unknown option "metrc"/,
  ],
  [
    "Index: hnsw typo",
    () => new Index({ dim: 2, kind: "hnsw", hnsw: { efSerch: 3 } as never }),
    /Index: unknown option "hnsw\.efSerch"/,
  ],
  [
    "Index: wrong dimension add",
    () => new Index({ dim: 3 }).add([[1, 2]]),
    /Index\.add: row 0 has 2 values, not 3/,
  ],
  [
    "Index: NaN add",
    () => new Index({ dim: 2 }).add([[1, NaN]]),
    /Index\.add: vectors row 0 holds NaN \(column 1\)/,
  ],

  // ---- clustering, verification
  ["kMeans: k = 0", () => kMeans(x4(), 0), /kMeans: k must be an integer in \[1, 4\]/],
  ["kMeans: k > n", () => kMeans(x4(), 5), /kMeans: k must be an integer in \[1, 4\]/],
  ["kMeans: NaN", () => kMeans(withNaN(), 2), /kMeans: x row 1 holds NaN \(column 1\)/],
  [
    "kMeans: typo option",
    () => kMeans(x4(), 2, { nInits: 2 } as never),
    /kMeans: unknown option "nInits"/,
  ],
  [
    "nmi: length mismatch",
    () => nmi([0, 1], [0, 1, 1]),
    /nmi: trueLabels has 2 entries but predLabels has 3/,
  ],
  [
    "ami: non-integer labels",
    () => ami([0, 1.5], [0, 1]),
    /ami: trueLabels\[1\] is 1\.5, not an integer/,
  ],
  [
    "rocAuc: one class",
    () => rocAuc([0.1, 0.2], [1, 1]),
    /rocCurve: isSame must hold both classes/,
  ],
  [
    "rocCurve: length mismatch",
    () => rocCurve([0.1, 0.2], [1]),
    /rocCurve: scores has 2 entries but isSame has 1/,
  ],
  ["rocAuc: NaN score", () => rocAuc([0.1, NaN], [1, 0]), /rocCurve: .*(NaN|finite)/],
  [
    "rocAuc: typo option",
    () => rocAuc([0.1, 0.2], [1, 0], { scoretype: "distance" } as never),
    /rocAuc: unknown option "scoretype"/,
  ],
  [
    "calibrateThreshold: typo",
    () => calibrateThreshold([0.1, 0.2], [1, 0], { targt: 0.5 } as never),
    /calibrateThreshold: unknown option "targt"/,
  ],

  // ---- samplers
  [
    "shuffledBatches: label count",
    () => shuffledBatches(x4(), [0, 1], { batchSize: 2 }),
    /shuffledBatches: 2 labels for 4 inputs/,
  ],
  [
    "shuffledBatches: batchSize 0",
    () => shuffledBatches(x4(), y4, { batchSize: 0 }),
    /shuffledBatches: batchSize must be/,
  ],
  [
    "shuffledBatches: typo",
    () => shuffledBatches(x4(), y4, { batchSize: 2, sed: 1 } as never),
    /shuffledBatches: unknown option "sed"/,
  ],
  [
    "mPerClassSampler: m = 0",
    () => mPerClassSampler(x4(), y4, { m: 0, batchSize: 2 }),
    /mPerClassSampler: m must be a positive integer/,
  ],
  [
    "mPerClassSampler: typo",
    () => mPerClassSampler(x4(), y4, { m: 2, batchSize: 4, batchsize: 2 } as never),
    /mPerClassSampler: unknown option "batchsize"/,
  ],
  [
    "pairSampler: typo",
    () => pairSampler(x4(), y4, { batchSize: 2, seeed: 1 } as never),
    /pairSampler: unknown option "seeed"/,
  ],
  [
    "tripletSampler: one class",
    () => tripletSampler(x4(), [0, 0, 0, 0], { batchSize: 2 }),
    /tripletSampler: .*class/,
  ],
  ["createRng: non-integer seed", () => createRng(0.5), /seed/],

  // ---- heads
  [
    "regressionHead: typo",
    () => regressionHead(encoder(), { scor: "cosine" } as never),
    /regressionHead: unknown option "scor"/,
  ],
  [
    "classificationHead: typo",
    () => classificationHead(encoder(), { hiden: [2] } as never),
    /classificationHead: unknown option "hiden"/,
  ],
  [
    "rankingHead: negative margin",
    () => rankingHead(encoder(), { margin: -1 }),
    /rankingHead: margin/,
  ],
  [
    "rankingHead: unknown score",
    () => rankingHead(encoder(), { score: "dot" as never }),
    /score: must be "cosine" or "learned", got "dot"/,
  ],

  // ---- linear learners
  ["NCA: typo option", () => new NCA({ iteratons: 3 } as never), /NCA: unknown option "iteratons"/],
  [
    "LMNN: typo option",
    () => new LMNN({ k: 3, regularisation: 1 } as never),
    /LMNN: unknown option "regularisation"/,
  ],
  ["ITML: typo option", () => new ITML({ gama: 1 } as never), /ITML: unknown option "gama"/],
  ["MMC: typo option", () => new MMC({ diagonl: true } as never), /MMC: unknown option "diagonl"/],
  [
    "MLKR: typo option",
    () => new MLKR({ learningrate: 1 } as never),
    /MLKR: unknown option "learningrate"/,
  ],
  [
    "NCA: fit label count",
    () => new NCA({ iterations: 1 }).fit(x4(), [0, 1]),
    /NCA\.fit: 2 labels for 4 rows/,
  ],
  [
    "NCA: fit NaN",
    () => new NCA({ iterations: 1 }).fit(withNaN(), y4),
    /NCA\.fit: x row \d+ holds (NaN|-?Infinity)/,
  ],

  // ---- train
  [
    "train: typo option",
    () =>
      train(
        {
          model: encoder(),
          loss: contrastiveLoss,
          steps: 1,
          progress: false,
          sampler: shuffledBatches(x4(), y4, { batchSize: 2 }),
          checkpointEvry: 1,
        } as never,
      ),
    /train: unknown option "checkpointEvry"/,
  ],
  [
    "train: negative steps",
    () =>
      train({
        model: encoder(),
        loss: contrastiveLoss,
        steps: -1,
        sampler: shuffledBatches(x4(), y4, { batchSize: 2 }),
      }),
    /train: steps must be a non-negative integer/,
  ],
  [
    "train: NaN embeddings into a loss (the NaN guard)",
    () =>
      train({
        model: encoder(),
        loss: (e, y) => contrastiveLoss(tf.mul(e, NaN) as tf.Tensor2D, y),
        steps: 2,
        progress: false,
        sampler: shuffledBatches(x4(), y4, { batchSize: 4 }),
      }),
    /train: the loss became NaN at step 1/,
  ],
  [
    "train: NaN loss",
    () =>
      train({
        model: encoder(),
        loss: (e) => tf.mul(tf.sum(e), NaN) as tf.Scalar,
        steps: 2,
        progress: false,
        sampler: shuffledBatches(x4(), y4, { batchSize: 2 }),
      }),
    /train: the loss became NaN at step 1/,
  ],

  // ---- experiment options
  [
    "parseOptionArgs: unknown option",
    () =>
      parseOptionArgs("demo", "", [{
        heading: "Options:",
        options: { negMargin: option.number(1, "m−") },
      }], ["--negMarign", "1"]),
    /unknown option --negMarign \(did you mean --negMargin\?\)/,
  ],
  [
    "parseOptionArgs: not a number",
    () =>
      parseOptionArgs("demo", "", [{
        heading: "Options:",
        options: { steps: option.integer(1, "steps") },
      }], ["--steps", "ten"]),
    /--steps: expected an integer, got "ten"/,
  ],

  // ---- IDX
  [
    "parseIdx: bad magic",
    () => parseIdx(new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0])),
    /parseIdx: bad magic/,
  ],
  [
    "parseIdx: unknown dtype",
    () => parseIdx(new Uint8Array([0, 0, 0x07, 1, 0, 0, 0, 1, 0])),
    /parseIdx: unknown dtype code 0x07/,
  ],
  [
    "parseIdx: truncated header",
    () => parseIdx(idx().slice(0, 6)),
    /parseIdx: .*(truncated|header)/,
  ],
  [
    "parseIdx: truncated body",
    () => parseIdx(idx().slice(0, -1)),
    /parseIdx: .*(truncated|expected \d+ bytes)/,
  ],
  [
    "parseIdx: trailing bytes",
    () => parseIdx(new Uint8Array([...idx(), 0])),
    /parseIdx: .*(trailing|extra|expected \d+ bytes)/,
  ],
  ["parseIdx: empty input", () => parseIdx(new Uint8Array(0)), /parseIdx: /],

  // ---- datasets
  [
    "loadFashionMnist: unknown split",
    () => loadFashionMnist({ split: "validation" as never }),
    /loadFashionMnist: .*split/,
  ],
  [
    "loadFashionMnist: missing directory",
    () => loadFashionMnist({ split: "train", source: "/nonexistent/fmnist" }),
    /loadFashionMnist: source directory \/nonexistent\/fmnist lacks/,
  ],
  [
    "loadFashionMnist: typo option",
    () => loadFashionMnist({ split: "train", limt: 3 } as never),
    /loadFashionMnist: unknown option "limt"/,
  ],
  ["loadFashionMnist: corrupt gzip", async () => {
    const dir = await fakeDataset({});
    await Deno.remove(`${dir}/train-images-idx3-ubyte`);
    const gz = await gzip(
      encodeIdx({ dtype: "uint8", shape: [2, 28, 28], data: new Uint8Array(1568) }),
    );
    gz[gz.length - 6] ^= 0xff; // breaks the CRC
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte.gz`, gz.slice(0, gz.length - 2));
    try {
      return await loadFashionMnist({ split: "train", source: dir });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, /loadFashionMnist: cannot decompress .*train-images-idx3-ubyte\.gz/],
  ["loadFashionMnist: image/label count mismatch", async () => {
    const dir = await fakeDataset({
      labels: encodeIdx({ dtype: "uint8", shape: [3], data: new Uint8Array(3) }),
    });
    try {
      return await loadFashionMnist({ split: "train", source: dir });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, /loadFashionMnist: .*2 images.*3 labels|loadFashionMnist: .*3 labels.*2 images/],
  ["loadFashionMnist: bad magic in file", async () => {
    const bad = idx();
    bad[0] = 9;
    const dir = await fakeDataset({ images: bad });
    try {
      return await loadFashionMnist({ split: "train", source: dir });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, /parseIdx: bad magic/],
  ["loadFashionMnist: label out of range", async () => {
    const dir = await fakeDataset({
      labels: encodeIdx({ dtype: "uint8", shape: [2], data: new Uint8Array([0, 12]) }),
    });
    try {
      return await loadFashionMnist({ split: "train", source: dir });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, /loadFashionMnist: .*label/],
];

Deno.test(`validation: ${cases.length} hostile inputs, each rejected with a named message`, async (t) => {
  assert.ok(cases.length >= 40);
  for (const [name, call, message] of cases) {
    await t.step(name, async () => {
      let error: unknown;
      try {
        await call();
      } catch (e) {
        error = e;
      }
      assert.ok(error !== undefined, `${name}: did not throw`);
      assert.ok(error instanceof Error, `${name}: threw a non-Error ${String(error)}`);
      assert.match(error.message, message);
    });
  }
});
