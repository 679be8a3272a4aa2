/**
 * `deno task figures`: regenerates every write-up figure into `figures/` as SVG, PNG (300 dpi)
 * and HTML, from small fixed-budget, fixed-seed runs of the experiments' library calls on the
 * embedded Fashion-MNIST subset (so that every machine draws the same figures), and writes
 * `figures/manifest.json` recording for each figure its experiment, configuration, seed, backend,
 * metric values and the git commit.
 *
 * Options: `--out DIR` (default `figures`), `--only name,name` (the other figures and their
 * manifest entries stay as they are; each entry names the commit that drew it), `--backend
 * wasm|cpu|webgpu|auto` (default `wasm`, so that numbers do not depend on the machine's GPU),
 * `--fast` (tiny budgets, for tests), `--no-static` (HTML only, when Chromium is missing),
 * `--allow-dirty`.
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
import { train } from "../lib/train.ts";
import { historySummary, pairStepMetrics, probeRecorder } from "../lib/train_recorder.ts";
import { type GitState, gitState } from "../lib/io/run_dir.ts";
import { writeFileAtomic, writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { metricNames, resolveMetric } from "../lib/distances.ts";
import { checkMetricAxioms } from "../lib/axioms.ts";
import {
  classRepresentative,
  distanceConcentration,
  exportFigures,
  figureHtmlPage,
  findChromium,
  imageDataUris,
  latentWalk,
  lossDiagnosticsFigure,
  neighbourGallery,
  pairDistanceHistogramFigure,
  pairDistanceSamples,
  paperStyle,
  PLOTLY_VERSION,
  type PlotlyFigure,
  precisionThresholdFigure,
  project,
  projectionScatter,
  relativeContrastFigure,
  rocFigure,
  spreadOverTrainingFigure,
  tableFigure,
  thresholdSweep,
  walkFigure,
} from "../lib/viz/mod.ts";
import { experiment as siamese } from "../experiments/siamese.ts";

/** The default experiment's option values (its declared defaults). */
const siameseDefaults = Object.fromEntries(
  Object.entries(siamese.options).map(([k, spec]) => [k, spec.default]),
) as { [K in keyof typeof siamese.options]: (typeof siamese.options)[K]["default"] };
import { benchmarkFigure, type BenchmarkTable } from "../lib/benchmark/mod.ts";

/** One write-up figure and its provenance. */
export interface FigureEntry {
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

/**
 * The Siamese network + contrastive loss under the default experiment's settings (the declared
 * defaults of `experiments/siamese.ts`: steps, batch size, learning rate, embedding size, margins,
 * seed) on
 * the embedded subset (all of its 10,000 train and 2,000 test images), and the collapse run (the
 * positive term alone, same settings).
 */
async function trainedFigures(fast: boolean, backend: string): Promise<FigureEntry[]> {
  const out: FigureEntry[] = [];
  const d = siameseDefaults;
  const seed = d.seed;
  const steps = fast ? 6 : d.steps;
  const config = {
    experiment: "siamese (default settings)",
    encoder: "referenceCnn",
    embeddingDim: d.embeddingDim,
    loss: `contrastiveLoss { posMargin: ${d.posMargin}, negMargin: ${d.negMargin} } (avgNonZero)`,
    optimizer: `adam ${d.learningRate}`,
    batchSize: d.batchSize,
    steps,
    trainImages: fast ? 1000 : "all (10,000)",
    testImages: fast ? 200 : "all (2,000)",
    probeImages: fast ? 200 : 1000,
  };
  // The embedded subset, whatever else is installed: the same figures on every machine.
  const source = EMBEDDED_FASHION_MNIST_DIR;
  const trainSet = await loadFashionMnist({
    split: "train",
    source,
    limit: fast ? 1000 : undefined,
  });
  const testSet = await loadFashionMnist({ split: "test", source, limit: fast ? 200 : undefined });
  const dataInfo = {
    source: "embedded subset (data/fashion-mnist-subset)",
    train: trainSet.n,
    test: testSet.n,
  };
  const trainT = toTensors(trainSet);
  const testT = toTensors(testSet);
  const pixels = tf.reshape(testT.x, [testSet.n, 784]) as tf.Tensor2D;
  const probeN = Math.min(testSet.n, config.probeImages);
  const probeX = tf.slice(testT.x, [0, 0, 0, 0], [probeN, -1, -1, -1]);
  const probeLabels = testSet.labels.subarray(0, probeN);

  // --- Siamese + contrastive, with the recorders: pair-distance snapshots and spread of the probe
  // images, and the per-step pair metrics that explain the loss curve.
  const loss = contrastiveLoss.with({ posMargin: d.posMargin, negMargin: d.negMargin });
  const snapshotSteps = [0, Math.round(steps / 5), steps];
  const every = fast ? 2 : 20;
  const runSiamese = async (lossFn: typeof loss | typeof positivePairLoss) => {
    const model = referenceCnn({ embeddingDim: d.embeddingDim, seed });
    const probe = probeRecorder(probeX, probeLabels, { every, snapshotSteps });
    const optimizer = tf.train.adam(d.learningRate);
    const result = await train({
      model,
      loss: lossFn,
      sampler: shuffledBatches(trainT.x, trainSet.labels, { batchSize: d.batchSize, seed }),
      steps,
      optimizer,
      recorders: [probe, pairStepMetrics({ posMargin: d.posMargin, negMargin: d.negMargin })],
      progress: false,
    });
    optimizer.dispose();
    return { model, probe, result };
  };
  const untrained = referenceCnn({ embeddingDim: d.embeddingDim, seed });
  const before = await retrievalMetrics(embed(untrained, testT.x), testSet.labels);
  untrained.dispose();
  const { model, probe, result } = await runSiamese(loss);
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
  const window = fast ? 2 : 20;
  const summary = Object.fromEntries(
    historySummary(result.history, window).map((r) => [r.quantity, {
      firstSteps: r4(r.first),
      lastSteps: r4(r.last),
    }]),
  );

  out.push({
    name: "siamese_training_loss",
    caption:
      "Contrastive loss as trained (avgNonZero) with its two terms, the loss over all pairs, the " +
      "fraction of active pairs and the mean pair distances, per step (moving averages): the " +
      "avgNonZero loss stays level while the active negatives fall.",
    ...common,
    metrics: { window, ...summary },
    figure: lossDiagnosticsFigure(result.history, {
      reduction: "avgNonZero",
      posMargin: d.posMargin,
      negMargin: d.negMargin,
      title: "Contrastive loss during training, and what it averages",
    }),
    widthIn: 7,
    heightIn: 3.4,
    static: true,
  });

  const panels = probe.snapshots.map((s) => ({
    name: `step ${s.step}`,
    positive: s.positive,
    negative: s.negative,
    markers: [{ x: d.negMargin, label: "m−" }],
  }));
  out.push({
    name: "siamese_pair_distances",
    caption:
      "Positive and negative pair distances of test images during training: the negatives move " +
      "past the margin and settle near √2, the distance of orthogonal unit vectors.",
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
  const shown = tf.slice(emb, [0, 0], [nShow, -1]) as tf.Tensor2D;
  const points = await project(shown, "umap", 2, { seed });
  const thumbs = await imageDataUris(testSet.images, Array.from({ length: nShow }, (_, i) => i));
  const labels = testSet.labels.subarray(0, nShow);
  out.push({
    name: "siamese_embeddings_umap",
    caption: "Test embeddings of the trained Siamese CNN, UMAP to 2-D, coloured by class.",
    ...common,
    metrics: { ...retrievalSummary, projected: nShow },
    figure: projectionScatter(points, 2, labels, {
      classNames: testSet.classNames,
      thumbnails: thumbs,
      title: "Test embeddings after training (UMAP)",
      axisTitles: ["UMAP 1", "UMAP 2"],
      markerSize: 3,
    }),
    widthIn: 7,
    heightIn: 4.2,
    static: true,
  });

  const pca3 = await project(shown, "pca", 3);
  shown.dispose();
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
  const gallery = await neighbourGallery(emb, testSet.images, testSet.labels, queries, {
    k,
    classNames: testSet.classNames,
  });
  const wrong = Number(
    ((gallery.layout.title as { text: string }).text.match(/: (\d+) of/) ?? [])[1] ?? NaN,
  );
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

  // Walking from a typical sneaker to a typical ankle boot, in pixel space and in the learned one.
  const [a, b] = [
    await classRepresentative(emb, testSet.labels, 7),
    await classRepresentative(emb, testSet.labels, 9),
  ];
  const walk = await latentWalk({ pixels, embeddings: emb, a, b, steps: 7 });
  const className = (i: number) => testSet.classNames[testSet.labels[i]];
  out.push({
    name: "midpoint_pixels_vs_learned",
    caption:
      "A walk from a sneaker to an ankle boot: the pixel-space path (ghostly superpositions), the " +
      "real image nearest to each of its points, and the real image nearest to each point of the " +
      "learned path; distances as multiples of the typical nearest-neighbour distance of each space.",
    ...common,
    metrics: {
      a,
      b,
      pixelRatio: r4(walk.pixelRatio),
      learnedRatio: r4(walk.learnedRatio),
      pixelScale: r4(walk.pixelScale),
      learnedScale: r4(walk.learnedScale),
      learnedPath: walk.points.map((p) => className(p.learnedNearest)),
      pixelPath: walk.points.map((p) => className(p.pixelNearest)),
    },
    figure: await walkFigure(walk, testSet.images, testSet.labels, testSet.classNames),
    widthIn: 7,
    heightIn: 3.6,
    static: true,
  });
  emb.dispose();
  model.dispose();

  // --- Collapse: the positive term alone, same settings, against the contrastive run above.
  const collapsed = await runSiamese(positivePairLoss);
  collapsed.model.dispose();
  const series = [
    { name: "positive term only", ...collapsed.probe.spread },
    { name: "contrastive", ...probe.spread },
  ];
  out.push({
    name: "collapse_spread",
    caption:
      "Spread of test embeddings during training: pulling positives only collapses the embedding.",
    experiment: "collapse",
    config: {
      ...config,
      losses: ["positivePairLoss", config.loss],
      every,
      data: dataInfo,
    },
    seed,
    metrics: Object.fromEntries(
      series.map((s) => [s.name, { finalSpread: r4(s.values.at(-1)!) }]),
    ),
    figure: spreadOverTrainingFigure(series, "Embedding spread over training"),
    widthIn: 3.5,
    heightIn: 2.6,
    static: true,
  });

  tf.dispose([trainT.x, trainT.y, testT.x, testT.y, pixels, probeX]);
  for (const f of out) (f.config as Record<string, unknown>).backend = backend;
  return out;
}

/** Layout tweaks for print: compact legends. */
export function forPrint(entry: FigureEntry): PlotlyFigure {
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
  if (entry.name === "siamese_training_loss") {
    // Three panels in one column width of print: room for each y title, short titles, the
    // legend in three columns below the panels.
    const axis = (key: string, domain: [number, number], title?: string) => {
      const a = { ...(layout[key] as Record<string, unknown>), domain };
      layout[key] = title === undefined ? a : { ...a, title: { text: title, standoff: 2 } };
    };
    axis("xaxis", [0.07, 0.29]);
    axis("xaxis2", [0.43, 0.65]);
    axis("xaxis3", [0.78, 1]);
    axis("yaxis", [0, 1], "loss");
    axis("yaxis2", [0, 1], "fraction of pairs");
    axis("yaxis3", [0, 1], "distance");
    layout.legend = { orientation: "h", x: 0, y: -0.36, yanchor: "top", font: { size: 10 } };
    layout.margin = { l: 36, r: 10, t: 30, b: 118 };
  }
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
    // A labelled row per method: a full page's height for the whole method set.
    heightIn: Math.min(9, 1 + 0.17 * new Set(table.rows.map((r) => r.method)).size),
    static: true,
  }];
}

/**
 * Every write-up figure with its provenance, computed (not written): the metric figures, the
 * Siamese figures (default experiment settings; tiny budgets with `fast`) and the benchmark chart
 * from `<out>/benchmark.json`. The figure test renders them all in Chromium.
 */
export async function computeFigures(
  options: { fast: boolean; backend: string; out: string },
): Promise<FigureEntry[]> {
  return [
    ...await metricFigures(options.fast),
    ...await trainedFigures(options.fast, options.backend),
    ...await benchmarkFigures(options.out),
  ];
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

/** One figure's entry in `manifest.json`. */
export interface ManifestFigure {
  /** The figure's name (its files are `<name>.html`, `.svg`, `.png`). */
  name: string;
  /** The commit that drew it (`+dirty` with uncommitted changes). */
  gitCommit?: string;
  [key: string]: unknown;
}

/** The parts of `manifest.json` that {@linkcode mergeManifestFigures} reads. */
export interface Manifest {
  /** The commit of the run that wrote the manifest. */
  gitCommit?: string;
  /** The figures. */
  figures?: ManifestFigure[];
}

/** The manifest at `path`, or `undefined` when there is none. */
async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Manifest;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * The manifest's figure list after a run that drew `drawn`: with `--only`, the figures of the
 * `previous` manifest that were not drawn again stay (in their place, each with the commit that
 * drew it: its own `gitCommit`, else the previous manifest's), the drawn ones replace their old
 * entries and new ones follow. Without a previous manifest (or without `--only`), `drawn` alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeManifestFigures } from "./figures.ts";
 * const previous = { gitCommit: "aaa", figures: [{ name: "roc" }, { name: "benchmark" }] };
 * const merged = mergeManifestFigures(previous, [{ name: "benchmark", gitCommit: "bbb" }]);
 * assert.deepEqual(merged, [
 *   { name: "roc", gitCommit: "aaa" },
 *   { name: "benchmark", gitCommit: "bbb" },
 * ]);
 * ```
 */
export function mergeManifestFigures(
  previous: Manifest | undefined,
  drawn: ManifestFigure[],
): ManifestFigure[] {
  if (!previous?.figures) return drawn;
  const byName = new Map(drawn.map((f) => [f.name, f]));
  const kept = previous.figures.map((f) => {
    const commit = f.gitCommit ?? previous.gitCommit;
    return byName.get(f.name) ?? (commit === undefined ? f : { ...f, gitCommit: commit });
  });
  const old = new Set(previous.figures.map((f) => f.name));
  return [...kept, ...drawn.filter((f) => !old.has(f.name))];
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
  const entries = (await computeFigures({ fast: opts.fast, backend: info.backend, out: opts.out }))
    .filter((e) => opts.only.length === 0 || opts.only.includes(e.name));
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
    figures: mergeManifestFigures(
      opts.only.length ? await readManifest(`${opts.out}/manifest.json`) : undefined,
      entries.map((e) => ({
        name: e.name,
        caption: e.caption,
        files: files[e.name].sort(),
        experiment: e.experiment,
        config: e.config,
        seed: e.seed,
        backend: info.backend,
        gitCommit: git.dirty ? `${git.commit}+dirty` : git.commit,
        size: { widthIn: Number(e.widthIn.toFixed(2)), heightIn: Number(e.heightIn.toFixed(2)) },
        metrics: e.metrics,
      })),
    ),
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
