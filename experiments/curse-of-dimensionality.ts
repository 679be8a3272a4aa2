/**
 * The curse of dimensionality, measured: the relative contrast (max − min)/min of the distances
 * from a query to a sample (Beyer et al., 1999; Aggarwal, Hinneburg and Keim, 2001) as the
 * dimension grows, for uniform and Gaussian data under several metrics; then Fashion-MNIST raw
 * pixels (784-d) against lower-dimensional representations — PCA and a learned linear metric
 * (NCA on PCA), and the reference CNN trained briefly with the contrastive loss (`--trainSteps`,
 * default 150 steps of 128 images; 0 skips it). Alongside the contrast, the 5-NN label
 * agreement says whether the nearest neighbours mean anything.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  defineExperiment,
  type ExperimentDataSet,
  FASHION_MNIST_OPTIONS,
  fashionMnistProvenance,
  option,
} from "../lib/experiment.ts";
import { type FashionMnist, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { createRng } from "../lib/data/random.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { forEachDistanceBlock, metricNames, type MetricSpec } from "../lib/distances.ts";
import { type ContrastSeries, relativeContrastFigure } from "../lib/viz/metric_figures.ts";
import { fitPca, NCA, standardizer } from "../lib/linear/mod.ts";
import { embed, referenceCnn } from "../lib/models/mod.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";

const OPTIONS = {
  seed: option.integer(0, "seed of the synthetic data, NCA and the CNN", { min: 0 }),
  samples: option.integer(1000, "sample points per synthetic data set", { min: 2 }),
  queries: option.integer(50, "queries per synthetic data set", { min: 1 }),
  dims: option.integers(
    [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    "dimensions of the synthetic data",
    {
      min: 1,
      unique: true,
    },
  ),
  metrics: option.strings(
    ["euclidean", "cityblock", "chebyshev", "cosine"],
    "distance metrics",
    { choices: metricNames() },
  ),
  fashionSamples: option.integer(2000, "Fashion-MNIST sample (train split)", { min: 6 }),
  fashionQueries: option.integer(200, "Fashion-MNIST queries (test split)", { min: 1 }),
  pcaDim: option.integer(50, "PCA dimension of the pixels (also the input of NCA)", {
    min: 1,
    max: 784,
  }),
  ncaIterations: option.integer(100, "NCA steps on the PCA features", { min: 1 }),
  trainSteps: option.integer(
    150,
    "train the reference CNN (batch 128, contrastive loss) this many steps (0: skip)",
    { min: 0 },
  ),
  ...FASHION_MNIST_OPTIONS,
};

/** The Fashion-MNIST parts: the whole train split when the CNN trains, else the sample. */
interface CurseData extends ExperimentDataSet {
  train: FashionMnist;
  test: FashionMnist;
}

/** The first `n` images of a split. */
function firstImages(
  ds: FashionMnist,
  n: number,
): { images: Float32Array; labels: Int32Array; n: number } {
  const m = Math.min(n, ds.n);
  return { images: ds.images.subarray(0, m * 784), labels: ds.labels.subarray(0, m), n: m };
}

/**
 * Contrast statistics of one (data, metric) cell.
 *
 * @example
 * ```ts
 * import type { ContrastStats } from "./curse-of-dimensionality.ts";
 * const s: ContrastStats = { meanContrast: 0.12, medianContrast: 0.11, meanMinDistance: 12 };
 * ```
 */
export interface ContrastStats {
  /** Mean over queries of (max − min)/min. */
  meanContrast: number;
  /** Median over queries. */
  medianContrast: number;
  /** Mean over queries of the smallest distance. */
  meanMinDistance: number;
  /** Fraction of each query's 5 nearest sample points that share its label (labelled data). */
  knnLabelAgreement?: number;
}

async function contrast(
  queries: tf.Tensor2D,
  sample: tf.Tensor2D,
  metric: MetricSpec,
  queryLabels?: ArrayLike<number>,
  sampleLabels?: ArrayLike<number>,
): Promise<ContrastStats> {
  const m = sample.shape[0];
  const contrasts: number[] = [];
  let minSum = 0, agree = 0;
  await forEachDistanceBlock(queries, sample, metric, 64, (values, start, rows) => {
    for (let r = 0; r < rows; r++) {
      const row = values.subarray(r * m, (r + 1) * m);
      let lo = Infinity, hi = -Infinity;
      for (const v of row) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (lo > 0 && Number.isFinite(hi)) contrasts.push((hi - lo) / lo);
      minSum += lo;
      if (queryLabels && sampleLabels) {
        const order = Array.from({ length: m }, (_, j) => j).sort((a, b) => row[a] - row[b]);
        for (let t = 0; t < 5; t++) if (sampleLabels[order[t]] === queryLabels[start + r]) agree++;
      }
    }
  });
  const sorted = [...contrasts].sort((a, b) => a - b);
  const n = queries.shape[0];
  return {
    meanContrast: contrasts.reduce((s, v) => s + v, 0) / Math.max(1, contrasts.length),
    medianContrast: sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN,
    meanMinDistance: minSum / n,
    ...(queryLabels ? { knnLabelAgreement: agree / (5 * n) } : {}),
  };
}

function draw(kind: "uniform" | "gaussian", n: number, d: number, seed: number): tf.Tensor2D {
  const rng = createRng(seed);
  const values = new Float32Array(n * d);
  for (let i = 0; i < values.length; i++) {
    values[i] = kind === "uniform" ? rng.next() : rng.normal();
  }
  return tf.tensor2d(values, [n, d]);
}

/**
 * The curse-of-dimensionality experiment. The synthetic part and the linear representations are
 * stages of the run, the CNN a checkpointed training: an interrupted run resumes from there.
 *
 * @example
 * ```ts
 * import { experiment } from "./curse-of-dimensionality.ts";
 * console.log(experiment.name); // run it with `deno task experiment curse-of-dimensionality`
 * ```
 */
export const experiment = defineExperiment({
  name: "curse-of-dimensionality",
  description:
    "relative contrast of distances vs dimension; Fashion-MNIST pixels vs PCA and learned",
  options: OPTIONS,
  encoder: (o) => ({
    representations: ["pixels", `PCA-${o.pcaDim}`, `NCA on PCA-${o.pcaDim}`].concat(
      o.trainSteps > 0 ? ["referenceCnn (64-d, contrastive)"] : [],
    ),
  }),
  async data(o, log): Promise<CurseData> {
    const source = o.dataSource || undefined;
    const train = await loadFashionMnist({
      split: "train",
      source,
      limit: o.trainSteps > 0 ? undefined : o.fashionSamples,
    });
    const test = await loadFashionMnist({ split: "test", source, limit: o.fashionQueries });
    log(
      `data: ${train.source.kind} (${train.source.dir}): ${train.n} train, ${test.n} test images`,
    );
    return {
      train,
      test,
      provenance: [fashionMnistProvenance(train, "train"), fashionMnistProvenance(test, "test")],
    };
  },
  async run(ctx) {
    const options = ctx.options;
    const { dims, metrics } = options;
    const t0 = performance.now();

    // 1. Synthetic data.
    type Synthetic = Record<string, Record<string, Record<number, ContrastStats>>>;
    const synthetic = await ctx.stage("synthetic", async (): Promise<Synthetic> => {
      const synthetic: Synthetic = {};
      for (const kind of ["uniform", "gaussian"] as const) {
        synthetic[kind] = {};
        for (const metric of metrics) synthetic[kind][metric] = {};
        for (const d of dims) {
          const sample = draw(kind, options.samples, d, options.seed * 7919 + d);
          const queries = draw(kind, options.queries, d, options.seed * 7919 + d + 104729);
          for (const metric of metrics) {
            synthetic[kind][metric][d] = await contrast(queries, sample, metric);
          }
          tf.dispose([sample, queries]);
        }
      }
      return synthetic;
    });
    ctx.log(
      `\nmean relative contrast (max − min)/min, ${options.queries} queries × ${options.samples} points`,
    );
    ctx.log(
      ["data", "metric", ...dims.map((d) => `d=${d}`)].map((s, i) => s.padStart(i < 2 ? 10 : 9))
        .join(""),
    );
    for (const kind of ["uniform", "gaussian"]) {
      for (const metric of metrics) {
        const cells = dims.map((d) => synthetic[kind][metric][d].meanContrast);
        ctx.log(
          [
            kind.padStart(10),
            metric.padStart(10),
            ...cells.map((v) => v.toPrecision(3).padStart(9)),
          ].join(""),
        );
      }
    }

    // 2. Fashion-MNIST: pixels against lower-dimensional and learned representations.
    const trainSet = firstImages(ctx.data.train, options.fashionSamples);
    const testSet = ctx.data.test;
    type Results = Record<string, { dim: number; metrics: Record<string, ContrastStats> }>;
    const contrasts = async (r: { sample: tf.Tensor2D; queries: tf.Tensor2D; dim: number }) => {
      const out: Record<string, ContrastStats> = {};
      for (const metric of metrics) {
        out[metric] = await contrast(r.queries, r.sample, metric, testSet.labels, trainSet.labels);
      }
      return { dim: r.dim, metrics: out };
    };
    const linear = await ctx.stage("linear", async (): Promise<Results> => {
      const pixels = tf.tensor2d(trainSet.images, [trainSet.n, 784]);
      const pixelQueries = tf.tensor2d(testSet.images, [testSet.n, 784]);
      const pca = await fitPca(pixels, options.pcaDim);
      const pcaSample = pca.transform(pixels), pcaQueries = pca.transform(pixelQueries);
      pca.dispose();
      // NCA on standardised PCA features: a learned linear metric (same dimension as PCA).
      const scale = standardizer(await pcaSample.data(), options.pcaDim);
      const stdSample = tf.tensor2d(scale(await pcaSample.data()), pcaSample.shape);
      const stdQueries = tf.tensor2d(scale(await pcaQueries.data()), pcaQueries.shape);
      const nca = new NCA({ iterations: options.ncaIterations, seed: options.seed });
      await nca.fit(stdSample, trainSet.labels);
      const ncaSample = nca.transform(stdSample), ncaQueries = nca.transform(stdQueries);
      nca.dispose();
      const out: Results = {
        pixels: await contrasts({ dim: 784, sample: pixels, queries: pixelQueries }),
        [`PCA-${options.pcaDim}`]: await contrasts({
          dim: options.pcaDim,
          sample: pcaSample,
          queries: pcaQueries,
        }),
        [`NCA on PCA-${options.pcaDim}`]: await contrasts({
          dim: options.pcaDim,
          sample: ncaSample,
          queries: ncaQueries,
        }),
      };
      tf.dispose([
        pixels,
        pixelQueries,
        pcaSample,
        pcaQueries,
        stdSample,
        stdQueries,
        ncaSample,
        ncaQueries,
      ]);
      return out;
    });
    const fashion: Results = { ...linear };
    let learnedNote =
      `learned embeddings: NCA (a learned linear metric) on PCA-${options.pcaDim} features; ` +
      "no CNN trained (--trainSteps 0)";
    let cnnSeconds: number | null = null;
    if (options.trainSteps > 0) {
      const all = ctx.data.train;
      const x = tf.tensor4d(all.images, [all.n, 28, 28, 1]);
      const model = ctx.keep(referenceCnn({ seed: options.seed }));
      let result;
      try {
        result = await ctx.train("cnn", {
          model,
          loss: (e, y) => contrastiveLoss(e, y),
          sampler: shuffledBatches(x, all.labels, { batchSize: 128, seed: options.seed }),
          steps: options.trainSteps,
          optimizer: tf.train.adam(1e-3),
        });
      } finally {
        x.dispose();
      }
      const xs = tf.tensor4d(trainSet.images, [trainSet.n, 28, 28, 1]);
      const xq = tf.tensor4d(testSet.images, [testSet.n, 28, 28, 1]);
      const sample = embed(model, xs) as tf.Tensor2D, queries = embed(model, xq) as tf.Tensor2D;
      fashion["reference CNN (contrastive)"] = await contrasts({ dim: 64, sample, queries });
      tf.dispose([xs, xq, sample, queries]);
      learnedNote =
        `learned embeddings: NCA on PCA-${options.pcaDim}, and the reference CNN trained ` +
        `${options.trainSteps} steps with the contrastive loss`;
      cnnSeconds = result.seconds;
    }

    ctx.log(
      `\nFashion-MNIST (${testSet.source.kind}): ${testSet.n} test queries × ${trainSet.n} train images`,
    );
    ctx.log(
      `${"representation".padEnd(36)}${"metric".padStart(10)}${"contrast".padStart(10)}${
        "5-NN agree".padStart(12)
      }`,
    );
    for (const [name, r] of Object.entries(fashion)) {
      for (const metric of metrics) {
        const s = r.metrics[metric];
        ctx.log(
          `${`${name} (${r.dim}-d)`.padEnd(36)}${metric.padStart(10)}${
            s.meanContrast.toPrecision(3).padStart(10)
          }${(s.knnLabelAgreement ?? NaN).toFixed(3).padStart(12)}`,
        );
      }
    }
    ctx.log(learnedNote);

    const series: ContrastSeries[] = [];
    for (const kind of ["uniform", "gaussian"]) {
      for (const metric of metrics) {
        series.push({
          name: `${kind} · ${metric}`,
          group: metric,
          dims,
          contrast: dims.map((d) => synthetic[kind][metric][d].meanContrast),
          dash: kind === "uniform" ? "solid" : "dot",
        });
      }
    }
    const symbols = ["diamond", "square", "star", "triangle-up"];
    Object.entries(fashion).forEach(([name, r], i) => {
      for (const metric of metrics) {
        series.push({
          name: `Fashion-MNIST ${name} · ${metric}`,
          group: metric,
          dims: [r.dim],
          contrast: [r.metrics[metric].meanContrast],
          mode: "markers",
          symbol: symbols[i % symbols.length],
        });
      }
    });
    await ctx.writeFigure(
      "relative_contrast.html",
      relativeContrastFigure(series, "Curse of dimensionality: relative contrast of distances"),
      "curse-of-dimensionality",
    );
    ctx.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return {
      definition:
        "relative contrast = (max − min)/min of the distances from one query to the sample, averaged over queries",
      synthetic: { samples: options.samples, queries: options.queries, dims, results: synthetic },
      fashionMnist: {
        source: testSet.source,
        samples: trainSet.n,
        queries: testSet.n,
        learned: learnedNote,
        cnnTrainSeconds: cnnSeconds,
        results: fashion,
      },
      seconds: (performance.now() - t0) / 1000,
    };
  },
});
