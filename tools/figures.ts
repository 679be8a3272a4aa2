/**
 * `deno task figures`: regenerates every write-up figure into `figures/` as SVG, PNG (300 dpi)
 * and HTML, from small fixed-budget, fixed-seed runs of the experiments' library calls on the
 * embedded Fashion-MNIST subset (so that every machine draws the same figures), and writes
 * `figures/manifest.json` recording for each figure its experiment, configuration, seed, backend,
 * metric values and the git commit.
 *
 * Options: `--out DIR` (default `figures`), `--only name,name`, `--backend wasm|cpu|webgpu|auto`
 * (default `wasm`, so that numbers do not depend on the machine's GPU), `--fast` (tiny budgets,
 * for tests), `--no-static` (HTML only, when Chromium is missing), `--allow-dirty`.
 *
 * The figures must come from a commit anyone can check out: the task refuses to start when the
 * working tree has uncommitted changes or untracked files (other than the figure files it is
 * about to rewrite in `--out`), listing them. `--allow-dirty` runs anyway and records in the
 * manifest `gitCommit: "<sha>+dirty"`, `git.dirty: true`, the dirty paths and `git.diffSha256`
 * (SHA-256 of `git diff HEAD --binary` plus the untracked files), so the tree is still named.
 *
 * Sizes fit a paper: one column is 3.5 in wide (1050 px at 300 dpi), two columns 7 in; body fonts
 * 10 pt. The HTML files load plotly.js from the project's `node_modules` (present after any
 * `deno task`), keeping them small; their embedding scatters show each point's image on hover.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, parseBackendName } from "../lib/backend.ts";
import {
  EMBEDDED_FASHION_MNIST_DIR,
  loadFashionMnist,
  toTensors,
} from "../lib/data/fashion_mnist.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { embed, referenceCnn } from "../lib/models/mod.ts";
import { contrastiveLoss, positivePairLoss } from "../lib/losses/mod.ts";
import { retrievalMetrics } from "../lib/eval/retrieval.ts";
import { knn } from "../lib/eval/knn.ts";
import { train } from "../lib/train.ts";
import { type GitState, gitState } from "../lib/io/run_dir.ts";
import { writeFileAtomic, writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { metricNames, resolveMetric } from "../lib/distances.ts";
import { checkMetricAxioms } from "../lib/axioms.ts";
import {
  distanceConcentration,
  embeddingSpread,
  exportFigures,
  figureHtmlPage,
  findChromium,
  imageDataUris,
  imageStripFigure,
  pairDistanceHistogramFigure,
  pairDistanceSamples,
  paperStyle,
  PLOTLY_VERSION,
  type PlotlyFigure,
  precisionThresholdFigure,
  project,
  projectionScatter,
  relativeContrastFigure,
  retrievalGallery,
  rocFigure,
  spreadOverTrainingFigure,
  tableFigure,
  thresholdSweep,
  trainingCurves,
} from "../lib/viz/mod.ts";
import { benchmarkFigure, type BenchmarkTable } from "../lib/benchmark/mod.ts";

/** One write-up figure and its provenance. */
interface FigureEntry {
  name: string;
  /** What it shows, one sentence. */
  caption: string;
  experiment: string;
  config: Record<string, unknown>;
  seed: number;
  metrics: Record<string, unknown>;
  figure: PlotlyFigure;
  /** Print size. */
  widthIn: number;
  heightIn: number;
  /** Whether SVG/PNG are exported (3-D WebGL scenes are HTML only). */
  static: boolean;
}

const DPI = 300;

function parseArgs(args: string[]) {
  const opts = {
    out: "figures",
    only: [] as string[],
    backend: "wasm",
    fast: false,
    static: true,
    allowDirty: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new Error(`${a}: missing value`);
      return args[++i];
    };
    if (a === "--out") opts.out = value();
    else if (a === "--only") opts.only = value().split(",").filter(Boolean);
    else if (a === "--backend") opts.backend = value();
    else if (a === "--fast") opts.fast = true;
    else if (a === "--no-static") opts.static = false;
    else if (a === "--allow-dirty") opts.allowDirty = true;
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

const cellColour = (value: string, column: number) =>
  column === 0 ? "#ffffff" : value === "✓" || value === "yes" ? "#e6f4ea" : "#fde8e8";
const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / (v.length || 1);
const r4 = (v: number) => Number(v.toFixed(4));

/** Figures computed directly from the distance module (no training). */
async function metricFigures(fast: boolean): Promise<FigureEntry[]> {
  const out: FigureEntry[] = [];
  const AXIOMS = ["nonNegativity", "identity", "symmetry", "triangleInequality"] as const;
  const names = metricNames().filter((n) => {
    try {
      return resolveMetric(n).name === n;
    } catch {
      return false;
    }
  });
  const rows: string[][] = [];
  const found: Record<string, unknown> = {};
  const count = fast ? 12 : 40;
  for (const n of names) {
    const report = await checkMetricAxioms(n, undefined, { count, seed: 0 });
    const failed = AXIOMS.filter((a) => !report.results[a].holds);
    found[n] = { violated: failed, agreesWithDeclaration: report.agreesWithDeclaration };
    rows.push([
      n,
      ...AXIOMS.map((a) => (report.results[a].holds ? "✓" : "✗")),
      failed.length ? "no" : "yes",
    ]);
  }
  const header = ["measure", "d ≥ 0", "identity", "symmetric", "triangle", "metric"];
  out.push({
    name: "metric_axioms",
    caption:
      "Metric axioms checked on random and adversarial points (✗: a counter-example was found).",
    experiment: "axioms (checkMetricAxioms)",
    config: { metrics: names, points: count, dim: 4 },
    seed: 0,
    metrics: found,
    figure: tableFigure(header, rows, {
      cellColors: header.map((_, j) => rows.map((r) => cellColour(r[j], j))),
      columnWidths: [1.9, 1, 1.1, 1.35, 1.15, 1],
    }),
    widthIn: 5,
    heightIn: (12 + 25 * (rows.length + 1)) / 96,
    static: true,
  });

  const dims = fast ? [2, 16, 128, 784] : [2, 4, 8, 16, 32, 64, 128, 256, 784, 2048];
  const n = fast ? 100 : 500;
  const conc = await distanceConcentration(dims, { n, seed: 0 });
  out.push({
    name: "curse_of_dimensionality",
    caption: "Distances concentrate as the dimension grows (uniform points in the unit cube).",
    experiment: "curse-of-dimensionality (distanceConcentration)",
    config: { dims, points: n, distribution: "uniform [0,1]^d", metric: "euclidean" },
    seed: 0,
    metrics: Object.fromEntries(conc.map((p) => [
      `d=${p.dimension}`,
      {
        relativeContrast: r4(p.relativeContrast),
        coefficientOfVariation: r4(p.coefficientOfVariation),
      },
    ])),
    figure: relativeContrastFigure([
      { name: "(max − min) / min", dims, contrast: conc.map((p) => p.relativeContrast) },
      {
        name: "std / mean",
        dims,
        contrast: conc.map((p) => p.coefficientOfVariation),
        dash: "dash",
      },
    ], "Distance concentration"),
    widthIn: 3.5,
    heightIn: 2.6,
    static: true,
  });
  return out;
}

/** Siamese network + contrastive loss, and the collapse runs. */
async function trainedFigures(fast: boolean, backend: string): Promise<FigureEntry[]> {
  const out: FigureEntry[] = [];
  const seed = 0;
  const config = {
    encoder: "referenceCnn",
    embeddingDim: 64,
    loss: "contrastiveLoss { posMargin: 0, negMargin: 1 }",
    optimizer: "adam 1e-3",
    batchSize: 64,
    steps: fast ? 6 : 150,
    trainImages: fast ? 1000 : 10000,
    testImages: fast ? 200 : 1000,
  };
  // The embedded subset, whatever else is installed: the same figures on every machine.
  const source = EMBEDDED_FASHION_MNIST_DIR;
  const trainSet = await loadFashionMnist({ split: "train", limit: config.trainImages, source });
  const testSet = await loadFashionMnist({ split: "test", limit: config.testImages, source });
  const dataInfo = {
    source: "embedded subset (data/fashion-mnist-subset)",
    train: trainSet.n,
    test: testSet.n,
  };
  const trainT = toTensors(trainSet);
  const testT = toTensors(testSet);
  const pixels = tf.reshape(testT.x, [testSet.n, 784]) as tf.Tensor2D;

  // --- Siamese + contrastive, with pair-distance snapshots.
  const model = referenceCnn({ embeddingDim: config.embeddingDim, seed });
  const snapshotSteps = [0, Math.round(config.steps / 5), config.steps];
  const panels: Parameters<typeof pairDistanceHistogramFigure>[0][number][] = [];
  const snapshot = async (step: number) => {
    const e = embed(model, testT.x);
    const s = await pairDistanceSamples(e, testSet.labels);
    e.dispose();
    panels.push({ name: `step ${step}`, ...s, markers: [{ x: 1, label: "m−" }] });
  };
  await snapshot(0);
  const before = await retrievalMetrics(embed(model, testT.x), testSet.labels);
  const result = await train({
    model,
    loss: (e, y) => contrastiveLoss(e, y, { posMargin: 0, negMargin: 1 }),
    sampler: shuffledBatches(trainT.x, trainSet.labels, { batchSize: config.batchSize, seed }),
    steps: config.steps,
    optimizer: tf.train.adam(1e-3),
    evaluate: async ({ step }) => {
      if (snapshotSteps.includes(step) && step > 0) await snapshot(step);
      return {};
    },
    evaluateEvery: snapshotSteps[1],
    progress: false,
  });
  const emb = embed(model, testT.x);
  const after = await retrievalMetrics(emb, testSet.labels);
  const pixelMetrics = await retrievalMetrics(pixels, testSet.labels);
  const retrieval = (m: typeof after) => ({
    precisionAt1: r4(m.precisionAt1),
    rPrecision: r4(m.rPrecision),
    mapAtR: r4(m.mapAtR),
  });
  const common = { experiment: "siamese", config: { ...config, data: dataInfo }, seed };
  const retrievalSummary = {
    pixels: retrieval(pixelMetrics),
    before: retrieval(before),
    after: retrieval(after),
  };

  out.push({
    name: "siamese_training_loss",
    caption: "Contrastive loss of the Siamese reference CNN per batch, and its moving average.",
    ...common,
    metrics: {
      firstLoss: r4(result.history[0].loss),
      lastLoss: r4(result.history.at(-1)!.loss),
    },
    figure: trainingCurves({ contrastive: result.history }, { title: "Training loss" }),
    widthIn: 3.5,
    heightIn: 2.4,
    static: true,
  });

  out.push({
    name: "siamese_pair_distances",
    caption:
      "Positive and negative pair distances of test images during training: the margin opens up.",
    ...common,
    metrics: Object.fromEntries(panels.map((p) => [p.name, {
      meanPositive: r4(mean(p.positive)),
      meanNegative: r4(mean(p.negative)),
    }])),
    figure: pairDistanceHistogramFigure(panels, "Pair distances during training", 3),
    widthIn: 7,
    heightIn: 2.4,
    static: true,
  });

  const nShow = Math.min(testSet.n, fast ? 200 : 1000);
  const points = await project(tf.slice(emb, [0, 0], [nShow, -1]) as tf.Tensor2D, "umap", 2, {
    seed,
  });
  const thumbs = await imageDataUris(testSet.images, Array.from({ length: nShow }, (_, i) => i));
  const labels = testSet.labels.subarray(0, nShow);
  const scatter = (withThumbs: boolean) =>
    projectionScatter(points, 2, labels, {
      classNames: testSet.classNames,
      thumbnails: withThumbs ? thumbs : undefined,
      title: "Test embeddings after training (UMAP)",
      axisTitles: ["UMAP 1", "UMAP 2"],
      markerSize: 3,
    });
  out.push({
    name: "siamese_embeddings_umap",
    caption: "Test embeddings of the trained Siamese CNN, UMAP to 2-D, coloured by class.",
    ...common,
    metrics: { ...retrievalSummary, projected: nShow },
    figure: scatter(true),
    widthIn: 7,
    heightIn: 4.2,
    static: true,
  });

  const pca3 = await project(tf.slice(emb, [0, 0], [nShow, -1]) as tf.Tensor2D, "pca", 3);
  out.push({
    name: "siamese_embeddings_3d",
    caption: "Test embeddings, PCA to 3-D (interactive HTML only).",
    ...common,
    metrics: { projected: nShow },
    figure: projectionScatter(pca3, 3, labels, {
      classNames: testSet.classNames,
      thumbnails: thumbs,
      title: "Test embeddings (PCA, 3-D)",
      axisTitles: ["PCA 1", "PCA 2", "PCA 3"],
    }),
    widthIn: 7,
    heightIn: 5,
    static: false,
  });

  const queries = [0, 1, 2, 3, 4, 5];
  const k = 5;
  const nn = await knn(tf.gather(emb, queries) as tf.Tensor2D, emb, k + 1);
  const neighbours = queries.flatMap((q, i) =>
    Array.from(nn.indices.subarray(i * (k + 1), (i + 1) * (k + 1))).filter((j) => j !== q).slice(
      0,
      k,
    )
  );
  const gallery = await retrievalGallery({
    images: testSet.images,
    labels: testSet.labels,
    queries,
    neighbours,
    k,
    classNames: testSet.classNames,
  });
  const wrong =
    neighbours.filter((j, i) => testSet.labels[j] !== testSet.labels[queries[Math.floor(i / k)]])
      .length;
  out.push({
    name: "siamese_retrieval_gallery",
    caption:
      "Queries (left) and their five nearest test images in the learned space; red: another class.",
    ...common,
    metrics: { queries, k, wrong, ...retrievalSummary.after },
    figure: gallery,
    widthIn: 5,
    heightIn: 6.4,
    static: true,
  });

  const curves: Record<string, ReturnType<typeof thresholdSweep>> = {};
  for (const [name, x] of [["pixels", pixels], ["learned", emb]] as const) {
    const { positive, negative } = await pairDistanceSamples(x, testSet.labels);
    curves[name] = thresholdSweep([...positive, ...negative], [
      ...positive.map(() => 1),
      ...negative.map(() => 0),
    ]);
  }
  out.push({
    name: "siamese_roc",
    caption:
      "Same-class verification of test pairs by thresholding the distance: pixels vs learned.",
    ...common,
    metrics: { aucPixels: r4(curves.pixels.auc), aucLearned: r4(curves.learned.auc) },
    figure: rocFigure(curves, { title: "ROC of same-class pairs" }),
    widthIn: 3.5,
    heightIn: 3.2,
    static: true,
  });
  out.push({
    name: "siamese_precision_threshold",
    caption: "Precision and recall of same-class verification against the distance threshold.",
    ...common,
    metrics: { aucLearned: r4(curves.learned.auc) },
    figure: precisionThresholdFigure({ learned: curves.learned }),
    widthIn: 3.5,
    heightIn: 2.6,
    static: true,
  });

  // Midpoints: pixel average against the image nearest to the embedding midpoint.
  const firstOf = (c: number) => testSet.labels.findIndex((l) => l === c);
  const [a, b] = [firstOf(7), firstOf(9)];
  const img = (i: number) => testSet.images.subarray(i * 784, (i + 1) * 784);
  const name = (i: number) => testSet.classNames[testSet.labels[i]];
  const pixelMid = tf.tidy(() =>
    tf.div(tf.add(tf.gather(pixels, [a]), tf.gather(pixels, [b])), 2)
  ) as tf.Tensor2D;
  const embMid = tf.tidy(() =>
    tf.div(tf.add(tf.gather(emb, [a]), tf.gather(emb, [b])), 2)
  ) as tf.Tensor2D;
  const nearest = async (q: tf.Tensor2D, ref: tf.Tensor2D) =>
    Array.from((await knn(q, ref, 3)).indices).find((j) => j !== a && j !== b)!;
  const np = await nearest(pixelMid, pixels);
  const ne = await nearest(embMid, emb);
  out.push({
    name: "midpoint_pixels_vs_learned",
    caption:
      "Two images, their pixel average, and the real images nearest to the midpoint in pixel and learned space.",
    ...common,
    metrics: { a, b, nearestToPixelMidpoint: np, nearestToEmbeddingMidpoint: ne },
    figure: await imageStripFigure(
      [img(a), img(b), await pixelMid.data(), img(np), img(ne)],
      [name(a), name(b), "pixel average", `≈ pixels: ${name(np)}`, `≈ learned: ${name(ne)}`],
    ),
    widthIn: 7,
    heightIn: 1.9,
    static: true,
  });
  tf.dispose([pixelMid, embMid, emb]);
  model.dispose();

  // --- Collapse: positive term only against the contrastive loss.
  const collapseSteps = fast ? 4 : 60;
  const every = fast ? 2 : 10;
  const series: { name: string; steps: number[]; values: number[] }[] = [];
  for (
    const [runName, loss] of [
      ["positive term only", (e: tf.Tensor2D, y: tf.Tensor1D) => positivePairLoss(e, y)],
      ["contrastive", (e: tf.Tensor2D, y: tf.Tensor1D) => contrastiveLoss(e, y)],
    ] as const
  ) {
    const m = referenceCnn({ embeddingDim: 64, seed });
    const s = { name: runName, steps: [] as number[], values: [] as number[] };
    const record = (step: number) => {
      const e = embed(m, testT.x);
      s.steps.push(step);
      s.values.push(r4(embeddingSpread(e).meanDistanceToCentroid));
      e.dispose();
    };
    record(0);
    await train({
      model: m,
      loss,
      sampler: shuffledBatches(trainT.x, trainSet.labels, { batchSize: 64, seed }),
      steps: collapseSteps,
      optimizer: tf.train.adam(1e-3),
      evaluate: ({ step }) => (record(step), {}),
      evaluateEvery: every,
      progress: false,
    });
    series.push(s);
    m.dispose();
  }
  out.push({
    name: "collapse_spread",
    caption:
      "Spread of test embeddings during training: pulling positives only collapses the embedding.",
    experiment: "collapse",
    config: {
      encoder: "referenceCnn",
      embeddingDim: 64,
      steps: collapseSteps,
      every,
      batchSize: 64,
      losses: ["positivePairLoss", "contrastiveLoss { posMargin: 0, negMargin: 1 }"],
      data: dataInfo,
    },
    seed,
    metrics: Object.fromEntries(series.map((s) => [s.name, { finalSpread: s.values.at(-1) }])),
    figure: spreadOverTrainingFigure(series, "Embedding spread over training"),
    widthIn: 3.5,
    heightIn: 2.6,
    static: true,
  });

  tf.dispose([trainT.x, trainT.y, testT.x, testT.y, pixels]);
  for (const f of out) (f.config as Record<string, unknown>).backend = backend;
  return out;
}

/** Layout tweaks for print: compact legends. */
function forPrint(entry: FigureEntry): PlotlyFigure {
  const fig = paperStyle(entry.figure, {
    widthIn: entry.widthIn,
    heightIn: entry.heightIn,
    fontPt: 10,
  });
  const layout = fig.layout;
  if (entry.name === "siamese_embeddings_umap") {
    layout.legend = { itemsizing: "constant", font: { size: 11 } };
    layout.margin = { l: 45, r: 10, t: 36, b: 40 };
  }
  if (entry.name === "siamese_roc") {
    layout.legend = { x: 0.98, xanchor: "right", y: 0.05, yanchor: "bottom", font: { size: 11 } };
  }
  if (entry.name === "siamese_precision_threshold") {
    layout.legend = { x: 0.02, xanchor: "left", y: 0.68, yanchor: "middle", font: { size: 11 } };
  }
  if (entry.name === "curse_of_dimensionality") {
    layout.legend = { x: 0.98, xanchor: "right", y: 0.98, yanchor: "top", font: { size: 11 } };
  }
  if (entry.name === "collapse_spread") {
    layout.legend = { x: 0.98, xanchor: "right", y: 0.55, yanchor: "middle", font: { size: 11 } };
  }
  if (entry.name === "siamese_training_loss") layout.showlegend = false;
  if (entry.name === "siamese_pair_distances") {
    layout.title = { text: "" };
    layout.legend = { x: 0.13, xanchor: "left", y: 0.8, yanchor: "top", font: { size: 11 } };
    layout.margin = { l: 50, r: 10, t: 24, b: 42 };
  }
  if (entry.name === "siamese_retrieval_gallery") {
    for (const a of layout.annotations as { font?: Record<string, unknown> }[]) {
      a.font = { ...a.font, size: 11 };
    }
  }
  if (entry.name === "metric_axioms") layout.margin = { l: 4, r: 4, t: 4, b: 4 };
  return fig;
}

/** The benchmark's MAP@R chart, from the committed table (none when it has not been run). */
async function benchmarkFigures(out: string): Promise<FigureEntry[]> {
  let table: BenchmarkTable;
  try {
    table = JSON.parse(await Deno.readTextFile(`${out}/benchmark.json`)) as BenchmarkTable;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.log(`no ${out}/benchmark.json yet: run \`deno task experiment benchmark\` first`);
      return [];
    }
    throw error;
  }
  return [{
    name: "benchmark",
    caption: "MAP@R of every method under one protocol (mean and 95% CI over seeds).",
    experiment: "benchmark",
    config: { protocol: table.protocol },
    seed: 0,
    metrics: Object.fromEntries(
      table.rows.map((r) => [`${r.setting}/${r.method}`, { mapAtR: r.mapAtR }]),
    ),
    figure: benchmarkFigure(table, { title: "" }),
    widthIn: 7,
    heightIn: 3,
    static: true,
  }];
}

/**
 * The git state for the manifest; throws (before any work) when the tree is dirty and
 * `allowDirty` is not set. The figure files this task rewrites in `out` (`*.svg`, `*.png`,
 * `*.html` and `manifest.json` directly in it) do not count; every other change does, including
 * `benchmark.json` (an input) and anything under `figures/benchmark-runs/`.
 */
export async function checkCleanTree(
  out: string,
  allowDirty: boolean,
  cwd?: string,
): Promise<GitState> {
  const prefix = out.replace(/^\.\//, "").replace(/\/+$/, "") + "/";
  const state = await gitState({
    cwd,
    ignore: (path) => {
      if (!path.startsWith(prefix)) return false;
      const name = path.slice(prefix.length);
      return !name.includes("/") && (/\.(svg|png|html)$/.test(name) || name === "manifest.json");
    },
  });
  if (state.dirty && !allowDirty) {
    const shown = state.dirtyPaths.slice(0, 10).join(", ") +
      (state.dirtyPaths.length > 10 ? `, … (${state.dirtyPaths.length} in all)` : "");
    throw new Error(
      `the working tree has uncommitted changes (${shown}): figures must come from a commit ` +
        `anyone can check out. Commit first, or pass --allow-dirty to record the tree as ` +
        `${state.commit.slice(0, 12)}+dirty with the hash of the changes`,
    );
  }
  return state;
}

async function main(args: string[]): Promise<void> {
  const opts = parseArgs(args);
  const git = await checkCleanTree(opts.out, opts.allowDirty);
  if (git.dirty) {
    console.log(
      `working tree dirty (${git.dirtyPaths.length} paths): recording ${git.commit}+dirty, ` +
        `changes ${git.diffSha256}`,
    );
  }
  const info = await initBackend(parseBackendName(opts.backend));
  console.log(`backend: ${info.backend}${opts.fast ? " (fast mode)" : ""}`);
  const chromium = opts.static ? await findChromium() : undefined;
  if (opts.static && !chromium) {
    throw new Error(
      "chromium is missing: run `bash tools/setup.sh figures` (as root), or pass --no-static",
    );
  }
  const t0 = performance.now();
  const entries = [
    ...await metricFigures(opts.fast),
    ...await trainedFigures(opts.fast, info.backend),
    ...await benchmarkFigures(opts.out),
  ].filter((e) => opts.only.length === 0 || opts.only.includes(e.name));
  console.log(
    `computed ${entries.length} figures in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  await Deno.mkdir(opts.out, { recursive: true });
  const printed = entries.map(forPrint);
  const staticItems = entries.flatMap((e, i) =>
    e.static && chromium
      ? [
        { index: i, format: "svg" as const, figure: printed[i] },
        { index: i, format: "png" as const, figure: printed[i] },
      ]
      : []
  );
  const images = await exportFigures(
    staticItems.map((s) => ({ figure: s.figure, format: s.format, scale: DPI / 96 })),
    { chromium },
  );
  const plotlySrc = new URL("../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url);
  const outUrl = new URL(`${opts.out.replace(/\/$/, "")}/`, `file://${Deno.cwd()}/`);
  const relPlotly = relativeUrl(outUrl, plotlySrc);
  const files: Record<string, string[]> = {};
  for (const [i, e] of entries.entries()) {
    const html = `${opts.out}/${e.name}.html`;
    await writeTextAtomic(
      html,
      await figureHtmlPage(e.figure, e.caption, { plotlySrc: relPlotly }),
    );
    files[e.name] = [`${e.name}.html`];
    staticItems.forEach((s) => {
      if (s.index === i) files[e.name].push(`${e.name}.${s.format}`);
    });
  }
  await Promise.all(
    staticItems.map((s, j) =>
      writeFileAtomic(`${opts.out}/${entries[s.index].name}.${s.format}`, images[j])
    ),
  );
  const manifest = {
    generatedBy: `deno task figures${args.length ? " " + args.join(" ") : ""}`,
    gitCommit: git.dirty ? `${git.commit}+dirty` : git.commit,
    git: git.dirty
      ? { commit: git.commit, dirty: true, dirtyPaths: git.dirtyPaths, diffSha256: git.diffSha256 }
      : { commit: git.commit, dirty: false },
    versions: { tfjs: tf.version.tfjs, plotly: PLOTLY_VERSION, deno: Deno.version.deno },
    backend: info.backend,
    png: { dpi: DPI, note: "width = widthIn × dpi" },
    figures: entries.map((e) => ({
      name: e.name,
      caption: e.caption,
      files: files[e.name].sort(),
      experiment: e.experiment,
      config: e.config,
      seed: e.seed,
      backend: info.backend,
      size: { widthIn: Number(e.widthIn.toFixed(2)), heightIn: Number(e.heightIn.toFixed(2)) },
      metrics: e.metrics,
    })),
  };
  await writeJsonAtomic(`${opts.out}/manifest.json`, manifest);
  console.log(
    `wrote ${entries.length} figures (${staticItems.length} SVG/PNG files) to ${opts.out}/`,
  );
}

/** `to` relative to the directory URL `from` (both file URLs). */
function relativeUrl(from: URL, to: URL): string {
  const a = from.pathname.split("/").filter(Boolean);
  const b = to.pathname.split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`figures: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
