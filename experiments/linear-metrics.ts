/**
 * Learned linear metrics d(x, y) = ‖L(x − y)‖ against plain Euclidean distance: kNN accuracy
 * (k = 5, brute force) of every learner of `lib/linear` (metric-learn's eleven, in the settings of
 * `LINEAR_LEARNERS`: the pair, quadruplet, chunklet and triplet learners through their
 * `_Supervised` forms, which draw their constraints from the class labels), on Fashion-MNIST
 * pixels reduced by PCA and on the wine data set (k-fold cross-validation), features standardised
 * on the training part. A learner that throws is reported as failed (with its message) instead of
 * ending the run.
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
  type OptionValues,
  UsageError,
} from "../lib/experiment.ts";
import { type FashionMnist, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { type DataProvenance, fingerprintArrays } from "../lib/data/fingerprint.ts";
import { createRng } from "../lib/data/random.ts";
import { knnAccuracyFigure, type KnnAccuracyRow } from "../lib/viz/metric_figures.ts";
import {
  fitPca,
  knnClassificationAccuracy,
  LINEAR_LEARNERS,
  loadTabular,
  standardizer,
  TABULAR_DIR,
  type TabularDataset,
} from "../lib/linear/mod.ts";

const OPTIONS = {
  seed: option.integer(0, "seed of the folds, the pairs and the learners", { min: 0 }),
  trainSize: option.integer(3000, "Fashion-MNIST training images (train split, file order)", {
    min: 10,
  }),
  testSize: option.integer(1000, "Fashion-MNIST test images (test split, file order)", { min: 1 }),
  pcaDim: option.integer(30, "PCA dimension of the pixels", { min: 1, max: 784 }),
  k: option.integer(5, "neighbours of the kNN classifier", { min: 1 }),
  folds: option.integer(5, "cross-validation folds for the tabular set", { min: 2 }),
  tabular: option.choice(["wine", "iris"], "wine", "the tabular data set"),
  iterations: option.integer(0, "optimisation steps of every learner (0: each one's default)", {
    min: 0,
  }),
  skipFashion: {
    ...option.flag("skip Fashion-MNIST (tabular only)"),
    conflicts: ["trainSize", "testSize", "pcaDim", "dataSource"],
  },
  ...FASHION_MNIST_OPTIONS,
};

type Options = OptionValues<typeof OPTIONS>;

/** What the experiment loads. */
interface LinearData extends ExperimentDataSet {
  fashion?: { train: FashionMnist; test: FashionMnist };
  tabular: TabularDataset;
}

/** Runs `work` as the stage `name` of the run (its result kept for a resume). */
type Stage = <T>(name: string, work: () => Promise<T>) => Promise<T>;

/** Accuracy and fitting time of each method on one split (`null` accuracy and `error` when it failed). */
type SplitResult = Record<
  string,
  { accuracy: number | null; fitSeconds: number; error?: string; warnings?: string[] }
>;

/** One data set's results. */
interface DatasetResult {
  name: string;
  protocol: string;
  methods: SplitResult;
}

/** Methods in table order: Euclidean, then every learner of `LINEAR_LEARNERS`. */
const METHODS = ["euclidean", ...LINEAR_LEARNERS.map((l) => l.id)];

async function evaluateSplit(
  xTrain: tf.Tensor2D,
  yTrain: Int32Array,
  xTest: tf.Tensor2D,
  yTest: Int32Array,
  options: Options,
  stage: Stage,
  prefix: string,
): Promise<SplitResult> {
  const out: SplitResult = {};
  out.euclidean = await stage(`${prefix}-euclidean`, async () => ({
    accuracy: await knnClassificationAccuracy(xTrain, yTrain, xTest, yTest, options.k, "euclidean"),
    fitSeconds: 0,
  }));
  for (const spec of LINEAR_LEARNERS) {
    out[spec.id] = await stage(`${prefix}-${spec.id}`, async () => {
      const t0 = performance.now();
      const learner = spec.create({
        seed: options.seed,
        iterations: options.iterations,
        labels: yTrain,
      });
      try {
        await learner.fit(xTrain, yTrain);
        const fitSeconds = (performance.now() - t0) / 1000;
        const accuracy = await knnClassificationAccuracy(
          xTrain,
          yTrain,
          xTest,
          yTest,
          options.k,
          learner.getMetric(),
        );
        return { accuracy, fitSeconds, warnings: learner.warnings };
      } catch (e) {
        const error = (e as Error).message;
        console.log(`  ${spec.id} failed: ${error}`);
        return { accuracy: null, fitSeconds: (performance.now() - t0) / 1000, error };
      } finally {
        learner.dispose();
      }
    });
  }
  return out;
}

function standardized(
  train: Float32Array,
  test: Float32Array,
  d: number,
): [Float32Array, Float32Array] {
  const f = standardizer(train, d);
  return [f(train), f(test)];
}

async function fashion(
  options: Options,
  data: { train: FashionMnist; test: FashionMnist },
  stage: Stage,
): Promise<DatasetResult> {
  const { train, test } = data;
  const xTr = tf.tensor2d(train.images, [train.n, 784]);
  const xTe = tf.tensor2d(test.images, [test.n, 784]);
  const pca = await fitPca(xTr, options.pcaDim);
  const zTr = pca.transform(xTr), zTe = pca.transform(xTe);
  const [sTr, sTe] = standardized(
    await zTr.data() as Float32Array,
    await zTe.data() as Float32Array,
    options.pcaDim,
  );
  tf.dispose([xTr, xTe, zTr, zTe]);
  const explained = pca.explainedVarianceRatio.reduce((s, v) => s + v, 0);
  pca.dispose();
  const a = tf.tensor2d(sTr, [train.n, options.pcaDim]);
  const b = tf.tensor2d(sTe, [test.n, options.pcaDim]);
  const result = await evaluateSplit(a, train.labels, b, test.labels, options, stage, "fashion");
  tf.dispose([a, b]);
  return {
    name: `fashion-mnist (PCA ${options.pcaDim})`,
    protocol:
      `${train.n} train / ${test.n} test images (${train.source.kind}), PCA to ${options.pcaDim}-d ` +
      `(${(100 * explained).toFixed(1)}% of the pixel variance), standardised`,
    methods: result,
  };
}

async function tabular(
  options: Options,
  ds: TabularDataset,
  stage: Stage,
): Promise<DatasetResult> {
  const name = options.tabular;
  const order = createRng(options.seed).shuffle(Int32Array.from({ length: ds.n }, (_, i) => i));
  const folds = options.folds;
  const correct: Record<string, number> = {}, seconds: Record<string, number> = {};
  const errors: Record<string, string> = {};
  for (let f = 0; f < folds; f++) {
    const testIdx = order.filter((_, i) => i % folds === f);
    const trainIdx = order.filter((_, i) => i % folds !== f);
    const pick = (idx: Int32Array) => {
      const x = new Float32Array(idx.length * ds.d);
      idx.forEach((r, i) => x.set(ds.x.subarray(r * ds.d, (r + 1) * ds.d), i * ds.d));
      return { x, y: Int32Array.from(idx, (r) => ds.labels[r]) };
    };
    const tr = pick(trainIdx), te = pick(testIdx);
    const [sTr, sTe] = standardized(tr.x, te.x, ds.d);
    const a = tf.tensor2d(sTr, [trainIdx.length, ds.d]);
    const b = tf.tensor2d(sTe, [testIdx.length, ds.d]);
    const result = await evaluateSplit(a, tr.y, b, te.y, options, stage, `${name}-fold${f}`);
    tf.dispose([a, b]);
    for (const [m, r] of Object.entries(result)) {
      correct[m] = (correct[m] ?? 0) + (r.accuracy ?? NaN) * testIdx.length;
      seconds[m] = (seconds[m] ?? 0) + r.fitSeconds;
      if (r.error) errors[m] ??= `fold ${f + 1}: ${r.error}`;
    }
  }
  const methods: SplitResult = {};
  for (const m of Object.keys(correct)) {
    methods[m] = {
      accuracy: errors[m] ? null : correct[m] / ds.n,
      fitSeconds: seconds[m],
      ...(errors[m] ? { error: errors[m] } : {}),
    };
  }
  return {
    name,
    protocol:
      `${ds.n} rows × ${ds.d} features, ${folds}-fold cross-validation (seed ${options.seed}), ` +
      `standardised per fold`,
    methods,
  };
}

/**
 * The learned-linear-metrics experiment. Each (data set, fold, method) result is a stage of the
 * run: an interrupted run resumes after the last finished fit.
 *
 * @example
 * ```ts
 * import { experiment } from "./linear-metrics.ts";
 * console.log(experiment.name); // run it with `deno task experiment linear-metrics`
 * ```
 */
export const experiment = defineExperiment({
  name: "linear-metrics",
  description:
    "every learned linear metric (metric-learn's eleven) vs Euclidean: 5-NN accuracy, Fashion-MNIST (PCA), wine",
  options: OPTIONS,
  trains: false,
  encoder: (o) => ({
    name: `linear Mahalanobis metrics (${LINEAR_LEARNERS.map((l) => l.id).join(", ")})`,
    input: o.skipFashion ? "standardised features" : `PCA-${o.pcaDim} of the pixels, standardised`,
  }),
  async data(o, log): Promise<LinearData> {
    const tabularSet = await loadTabular(o.tabular);
    if (o.folds > tabularSet.n) {
      throw new UsageError(`--folds ${o.folds} exceeds the ${tabularSet.n} rows of ${o.tabular}`);
    }
    const provenance: DataProvenance[] = [{
      dataset: o.tabular,
      split: "all",
      source: `${TABULAR_DIR}${o.tabular}.csv`,
      count: tabularSet.n,
      fingerprint: fingerprintArrays({ x: tabularSet.x, labels: tabularSet.labels }),
      fingerprintOf: "features float32 [n,d] and labels int32 [n], as parsed",
    }];
    let fashionData: LinearData["fashion"];
    if (!o.skipFashion) {
      const source = o.dataSource || undefined;
      const train = await loadFashionMnist({ split: "train", limit: o.trainSize, source });
      const test = await loadFashionMnist({ split: "test", limit: o.testSize, source });
      if (o.pcaDim > train.n) {
        throw new UsageError(`--pcaDim ${o.pcaDim} exceeds the ${train.n} train images`);
      }
      log(
        `data: ${train.source.kind} (${train.source.dir}): ${train.n} train, ${test.n} test images`,
      );
      provenance.push(fashionMnistProvenance(train, "train"), fashionMnistProvenance(test, "test"));
      fashionData = { train, test };
    }
    return { tabular: tabularSet, fashion: fashionData, provenance };
  },
  async run(ctx) {
    const options = ctx.options;
    const stage: Stage = (name, work) => ctx.stage(name, work);
    const t0 = performance.now();
    const datasets: DatasetResult[] = [];
    if (ctx.data.fashion) datasets.push(await fashion(options, ctx.data.fashion, stage));
    datasets.push(await tabular(options, ctx.data.tabular, stage));

    ctx.log(`\n${options.k}-NN accuracy (fit seconds in brackets)`);
    ctx.log(["method".padEnd(18), ...datasets.map((d) => d.name.padStart(26))].join(" "));
    for (const m of METHODS) {
      const cells = datasets.map((d) => {
        const r = d.methods[m];
        if (r.accuracy === null) return `failed (${r.fitSeconds.toFixed(1)} s)`.padStart(26);
        const mark = m !== "euclidean" && r.accuracy > d.methods.euclidean.accuracy! ? "+" : " ";
        return `${r.accuracy.toFixed(4)}${mark} (${r.fitSeconds.toFixed(1)} s)`.padStart(26);
      });
      ctx.log([m.padEnd(18), ...cells].join(" "));
    }
    ctx.log("(+ = beats Euclidean on that data set)");
    for (const d of datasets) ctx.log(`${d.name}: ${d.protocol}`);
    const beats = Object.fromEntries(
      METHODS.filter((m) => m !== "euclidean").map((
        m,
      ) => [
        m,
        datasets.filter((d) => (d.methods[m].accuracy ?? -1) > d.methods.euclidean.accuracy!).map((
          d,
        ) => d.name),
      ]),
    );
    const rows: KnnAccuracyRow[] = datasets.flatMap((d) =>
      METHODS.filter((m) => d.methods[m].accuracy !== null).map((m) => ({
        dataset: d.name,
        method: m,
        accuracy: d.methods[m].accuracy!,
      }))
    );
    await ctx.writeFigure(
      "knn_accuracy.html",
      knnAccuracyFigure(rows, `${options.k}-NN accuracy: learned linear metrics vs Euclidean`),
      "linear-metrics",
    );
    ctx.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return {
      k: options.k,
      datasets,
      beatsEuclidean: beats,
      seconds: (performance.now() - t0) / 1000,
    };
  },
});
