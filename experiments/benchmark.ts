/**
 * `deno task experiment benchmark`: the reality-check benchmark. Every loss (and the learned
 * linear metrics) on Fashion-MNIST under one protocol (`lib/benchmark/protocol.ts`), in two
 * settings (seen and unseen classes), several seeds, with Student-t 95% confidence intervals.
 *
 * Each finished (setting, method, seed) run is written atomically to `--runsDir` (default
 * `results/benchmark/runs`); a restart skips finished runs. The table is written to `--out`
 * (default `figures/`) as `benchmark.json`, `.md`, `.csv` and `.html`. `--aggregate` rebuilds
 * the table from the run records without training. `--quick` runs a small slice with few steps
 * and one seed (about a minute), written under the run directory in `results/benchmark/`.
 *
 * Records carry the fingerprints of the data they were made on: a runs directory holding records
 * of other data (another source, another limit) is refused instead of mixed into one table.
 *
 * `--data <kind>:<path>` runs the same protocol on an image folder or a benchmark data set
 * (`lib/experiment_data.ts`): only the class-disjoint setting (`unseen`: the data set's training
 * classes, tested on its test classes; In-Shop: queries against the gallery), the encoder
 * `encoderFor` the images' shape, training batches streamed from the files; the linear metrics
 * only when the images have at most {@linkcode LINEAR_MAX_PIXELS} values (PCA starts from a d×d
 * covariance). Its records and table go to the run directory unless `--runsDir`/`--out` say
 * otherwise (the committed `figures/benchmark.*` are Fashion-MNIST's).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  defineExperiment,
  type ExperimentDataSet,
  fashionMnistProvenance,
  option,
  type OptionValues,
  RUN_OPTIONS,
  UsageError,
} from "../lib/experiment.ts";
import {
  checkDataOptions,
  DATA_OPTIONS,
  dataShape,
  encoderForDescription,
  type ExperimentImages,
  isFashionMnist,
  loadExperimentImages,
} from "../lib/experiment_data.ts";
import { encoderFor } from "../lib/models/resnet.ts";
import { parseOptionArgs } from "../lib/cli.ts";
import { type FashionMnist, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import type { DataProvenance } from "../lib/data/fingerprint.ts";
import { writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { formatDuration } from "../lib/io/progress.ts";
import { gitState } from "../lib/io/run_dir.ts";
import { writeFigureHtml } from "../lib/viz/html.ts";
import {
  aggregateRuns,
  BENCHMARK_METHODS,
  type BenchmarkConfig,
  benchmarkCsv,
  benchmarkFigure,
  benchmarkMarkdown,
  type BenchmarkMethod,
  type BenchmarkTable,
  compareCrossCheck,
  configKey,
  DEFAULT_CONFIG,
  describeProtocol,
  executeRun,
  prepareSetting,
  readCrossCheck,
  readRunRecords,
  runBenchmark,
  runFileName,
  type RunRecord,
  type RunSpec,
  selectMethods,
  type SettingData,
  type SettingId,
  SETTINGS,
} from "../lib/benchmark/mod.ts";

/** The command-line options and their defaults (the full protocol). */
export const BENCHMARK_OPTIONS = {
  quick: {
    ...option.flag("a small slice, few steps, one seed: about a minute (see QUICK_OVERRIDES)"),
    conflicts: ["aggregate"],
  },
  methods: option.strings([], "method ids (default: all)", {
    choices: BENCHMARK_METHODS.map((m) => m.id),
    allowEmpty: true,
  }),
  settings: option.strings(["seen", "unseen"], "settings", { choices: SETTINGS }),
  seeds: option.integers([0, 1, 2], "seeds", { min: 0, unique: true }),
  epochs: { ...option.number(DEFAULT_CONFIG.epochs, "epochs per deep run", { above: 0 }) },
  steps: {
    ...option.integer(
      DEFAULT_CONFIG.steps,
      "steps per deep run instead of epochs (0: use epochs)",
      {
        min: 0,
      },
    ),
    conflicts: ["epochs"],
  },
  batchSize: option.integer(DEFAULT_CONFIG.batchSize, "images per training batch", { min: 2 }),
  runsDir: option.string(
    "",
    "directory of the per-run records (default <resultsRoot>/benchmark/runs; quick: the run dir)",
    { placeholder: "dir", defaultLabel: "see description" },
  ),
  out: option.string(
    "",
    "directory of the table and figure (default figures; quick: the run dir)",
    {
      placeholder: "dir",
      defaultLabel: "see description",
    },
  ),
  aggregate: {
    ...option.flag("rebuild the table from the run records in --runsDir, without training"),
    conflicts: ["shard"],
  },
  trainLimit: option.integer(
    DEFAULT_CONFIG.trainLimit,
    "first N train-split images only (0: all)",
    {
      min: 0,
    },
  ),
  testLimit: option.integer(DEFAULT_CONFIG.testLimit, "first N test-split images only (0: all)", {
    min: 0,
  }),
  linearSamples: option.integer(
    DEFAULT_CONFIG.linearSamples,
    "train images the linear metrics are fitted on (per seed)",
    { min: 2 },
  ),
  pcaDim: option.integer(
    DEFAULT_CONFIG.pcaDim,
    "PCA dimension before the linear metrics (at most the pixels per image)",
    { min: 1 },
  ),
  linearIterations: option.integer(
    DEFAULT_CONFIG.linearIterations,
    "steps of the linear learners (0: their defaults)",
    { min: 0 },
  ),
  shard: option.string(
    "",
    "k/n: run only every n-th run starting at the k-th (0-based), for n processes sharing --runsDir",
    {
      placeholder: "k/n",
      check: (v) => {
        try {
          parseShard(v);
          return undefined;
        } catch {
          return "expected k/n with integers 0 ≤ k < n";
        }
      },
    },
  ),
  ...DATA_OPTIONS,
};

type Options = OptionValues<typeof BENCHMARK_OPTIONS>;

/**
 * The most values per image (h·w·c) the linear metrics run on: their PCA starts from the d×d
 * covariance of the pixels (4,096² floats = 64 MB; 64×64 RGB would be 12,288², 604 MB, and an
 * n·d² product of 4.5·10¹¹ operations).
 */
export const LINEAR_MAX_PIXELS = 4096;

function pixelsOf(o: Options): number {
  const [h, w, c] = dataShape(o);
  return h * w * c;
}

/** The option values `--quick` changes, unless given explicitly. */
export const QUICK_OVERRIDES: Partial<Options> = {
  seeds: [0],
  steps: 3,
  trainLimit: 2560,
  testLimit: 1000,
  linearSamples: 300,
  linearIterations: 10,
};

/**
 * `--quick`'s overrides applied to the options not given on the command line; with image data the
 * settings default to `unseen` (the only one they have).
 */
function applyQuick(options: Options, given: readonly string[]): Options {
  checkDataOptions(options, given);
  const out = { ...options } as Record<string, unknown>;
  if (!isFashionMnist(options) && !given.includes("settings")) out.settings = ["unseen"];
  if (!options.quick) return out as Options;
  for (const [k, v] of Object.entries(QUICK_OVERRIDES)) if (!given.includes(k)) out[k] = v;
  return out as Options;
}

/** Checks across options: the settings and linear metrics image data allow, the PCA size. */
function validateBenchmark(o: Options): void {
  if (o.aggregate) return;
  const pixels = pixelsOf(o);
  if (o.pcaDim > pixels) {
    throw new UsageError(`--pcaDim ${o.pcaDim} is more than the ${pixels} values per image`);
  }
  if (isFashionMnist(o)) return;
  if ((o.settings as string[]).includes("seen")) {
    throw new UsageError(
      `--settings seen needs Fashion-MNIST; --data ${o.data} has the class-disjoint split ` +
        `only (--settings unseen)`,
    );
  }
  const linear = selectMethods(o.methods.join(",")).filter((m) => m.family === "linear");
  if (o.methods.length > 0 && linear.length > 0 && pixels > LINEAR_MAX_PIXELS) {
    throw new UsageError(
      `--methods ${linear.map((m) => m.id).join(",")}: the linear metrics run on at most ` +
        `${LINEAR_MAX_PIXELS} values per image, --imageSize ${o.imageSize} --channels ` +
        `${o.channels} gives ${pixels} (try --imageSize 32, or --imageSize 64 --channels 1)`,
    );
  }
}

/** The methods a run includes: all (or `--methods`), less the linear ones images too large for. */
function runMethods(o: Options, log: (line: string) => void): BenchmarkMethod[] {
  const methods = selectMethods(o.methods.join(","));
  if (isFashionMnist(o) || pixelsOf(o) <= LINEAR_MAX_PIXELS) return methods;
  const kept = methods.filter((m) => m.family !== "linear");
  if (kept.length < methods.length) {
    log(
      `note: the linear metrics are left out: ${pixelsOf(o)} values per image, more than ` +
        `${LINEAR_MAX_PIXELS} (--imageSize 32, or --channels 1, brings them in)`,
    );
  }
  return kept;
}

/**
 * The options of a command line with `--quick`'s overrides applied to the options not given.
 *
 * @throws UsageError as the command line would.
 * @example
 * ```ts
 * import { resolveBenchmarkOptions } from "./benchmark.ts";
 * resolveBenchmarkOptions(["--quick", "--seeds", "0,1"]).seeds; // [0, 1]
 * ```
 */
export function resolveBenchmarkOptions(args: readonly string[]): Options {
  const parsed = parseOptionArgs<typeof BENCHMARK_OPTIONS>("benchmark", "", [
    { heading: "Options:", options: BENCHMARK_OPTIONS },
    { heading: "Run options:", options: RUN_OPTIONS },
  ], args);
  if (parsed.help !== undefined) throw new UsageError("--help is not an option set");
  return applyQuick(parsed.values, parsed.given);
}

/**
 * Parses `--shard k/n` (empty: the whole benchmark, `{ index: 0, count: 1 }`).
 *
 * @throws Error unless 0 ≤ k < n are integers.
 * @example
 * ```ts
 * import { parseShard } from "./benchmark.ts";
 * parseShard("1/2"); // { index: 1, count: 2 }
 * ```
 */
export function parseShard(text: string): { index: number; count: number } {
  if (text.trim() === "") return { index: 0, count: 1 };
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!(count >= 1 && index >= 0 && index < count)) {
    throw new Error(`--shard must be k/n with 0 ≤ k < n, got "${text}"`);
  }
  return { index, count };
}

function configOf(o: Options): BenchmarkConfig {
  return {
    ...DEFAULT_CONFIG,
    epochs: o.epochs,
    steps: o.steps,
    batchSize: o.batchSize,
    trainLimit: o.trainLimit,
    testLimit: o.testLimit,
    linearSamples: o.linearSamples,
    pcaDim: o.pcaDim,
    linearIterations: o.linearIterations,
  };
}

/** The protocol's data and model paragraphs for image data (`--data <kind>:<path>`). */
function imageProtocol(o: Options, config: BenchmarkConfig): Record<string, string> {
  const [h, w, c] = dataShape(o);
  const encoder = encoderForDescription([h, w, c], config.embeddingDim);
  return {
    data:
      `${o.data}: images resized and centre-cropped to ${h}×${w}, ${
        c === 3 ? "RGB" : "grey"
      }, values / 255, no augmentation; the data set's class-disjoint split (a folder: the first ` +
      `half of its sorted classes train, the rest test; In-Shop: queries against the gallery)` +
      (config.trainLimit ? `; ${config.trainLimit} train images evenly spread` : "") +
      (config.testLimit ? `; ${config.testLimit} test images evenly spread` : "") +
      `; the training images streamed from the files.`,
    seen: "not run: image data sets have the class-disjoint split only.",
    unseen: "train on the training classes; test on the test classes, never seen in training.",
    model: `${encoder.name}: ${encoder.layers}, L2-normalised ${config.embeddingDim}-d output, ` +
      `initialised with the run's seed` +
      (encoder.name !== "cnnEncoder (encoderFor)"
        ? ` as Keras does (Glorot-uniform kernels, zero biases; batch normalisation at scale 1, ` +
          `offset 0).`
        : config.initializer === "pytorch"
        ? ` as PyTorch initialises Conv2d/Linear (weights and biases uniform in ±1/√fan_in).`
        : ` as Keras does (Glorot-uniform weights, zero biases).`),
  };
}

function tableProtocol(
  config: BenchmarkConfig,
  methods: readonly BenchmarkMethod[],
  records: readonly RunRecord[],
  options?: Options,
): Record<string, unknown> {
  const distinct = (key: string) => [
    ...new Set(records.map((r) => r.extra?.[key]).filter((v) => v !== undefined)),
  ];
  return {
    ...describeProtocol(config),
    ...(options && !isFashionMnist(options) ? imageProtocol(options, config) : {}),
    methods: Object.fromEntries(methods.map((m) => [m.id, m.description])),
    backends: distinct("backend"),
    dataSources: distinct("dataSource"),
    commits: recordCommits(records),
    versions: distinct("versions").map((v) => JSON.stringify(v)),
  };
}

/**
 * The commits the records were made at (`git rev-parse HEAD` of the run, `+dirty` with uncommitted
 * library changes), each with its number of runs; records older than the field count as
 * `"not recorded"`.
 */
function recordCommits(records: readonly RunRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) {
    const commit = typeof r.extra?.commit === "string" ? r.extra.commit : "not recorded";
    counts[commit] = (counts[commit] ?? 0) + 1;
  }
  return counts;
}

/** Paths whose changes can change a run's numbers: the library, the experiments, the pins. */
const changesRuns = (path: string) =>
  path.startsWith("lib/") || path.startsWith("experiments/") || path === "deno.json" ||
  path === "deno.lock";

/**
 * What each run record keeps of where it was made: the git commit (with `+dirty` when the library,
 * the experiments or the dependency pins differ from it; records, tables and other files do not
 * count) and the runtime's versions.
 */
async function recordProvenance(): Promise<{ commit: string; versions: Record<string, string> }> {
  const state = await gitState({ ignore: (path) => !changesRuns(path) });
  return {
    commit: state.dirty ? `${state.commit}+dirty` : state.commit,
    versions: { tfjs: tf.version.tfjs, deno: Deno.version.deno, v8: Deno.version.v8 },
  };
}

/** The PyTorch + PML runs `bench/torch_protocol.py --record` appends next to the table. */
export const CROSSCHECK_FILE = "benchmark-crosscheck.jsonl";

async function writeOutputs(
  dir: string,
  table: BenchmarkTable,
  title: string,
  records: readonly RunRecord[],
): Promise<void> {
  const runs = await readCrossCheck(`${dir}/${CROSSCHECK_FILE}`);
  if (runs.length) {
    table.crossCheck = compareCrossCheck(runs, records, BENCHMARK_METHODS.map((m) => m.id));
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
    await writeJsonAtomic(`${dir}/benchmark.json`, table);
  } catch (e) {
    const denied = e instanceof Error && /NotCapable|PermissionDenied|Requires write/i.test(
      `${e.name} ${e.message}`,
    );
    if (denied) {
      throw new Error(
        `cannot write ${dir}/ (${e.message}); the experiment task may write only results/: ` +
          `pass --out results/benchmark, or allow writing "${dir}"`,
      );
    }
    throw e;
  }
  await writeTextAtomic(
    `${dir}/benchmark.md`,
    benchmarkMarkdown(table, {
      title,
      note: "Protocol: `protocol` in benchmark.json, and the README's benchmark section.",
    }),
  );
  await writeTextAtomic(`${dir}/benchmark.csv`, benchmarkCsv(table));
  await writeFigureHtml(
    `${dir}/benchmark.html`,
    benchmarkFigure(table, {
      title: `${title.replace(/ benchmark$/, "")} retrieval, MAP@R (mean and 95% CI over seeds)`,
    }),
    title,
  );
}

function titleOf(o: Options): string {
  return isFashionMnist(o) ? "Fashion-MNIST benchmark" : `${o.data} benchmark`;
}

/** The two splits, unless only aggregating (Fashion-MNIST as arrays, image data as loaded). */
interface BenchmarkData extends ExperimentDataSet {
  train?: FashionMnist;
  test?: FashionMnist;
  images?: ExperimentImages;
}

/** The `unseen` setting of image data: the data set's own class-disjoint split. */
function imageSetting(images: ExperimentImages): SettingData {
  const shape = images.inputShape;
  return {
    setting: "unseen",
    inputShape: shape,
    train: images.train,
    test: images.test,
    testX: images.test.x,
    queries: images.test.queries,
    trainBatches: (batchSize, seed) => images.batches({ batchSize, seed }),
    trainPixels: (indices) => images.trainImages(indices),
    encoder: (seed, embeddingDim, initializer) =>
      encoderFor(shape, { embeddingDim, seed, initializer }),
    dispose: () => {}, // the data own the tensors
  };
}

/** The data fingerprints a record carries (`extra.data`). */
function dataTag(provenance: readonly DataProvenance[]): Record<string, string> {
  return Object.fromEntries(provenance.map((p) => [p.split, p.fingerprint]));
}

function recordData(r: RunRecord): string | undefined {
  const tag = r.extra?.data as Record<string, string> | undefined;
  return tag ? JSON.stringify(tag) : undefined;
}

/** Refuses records made on other data than `tag` (or, for old records, another source). */
function checkRecordsData(
  runsDir: string,
  records: readonly RunRecord[],
  tag: Record<string, string>,
  source: string,
): void {
  const want = JSON.stringify(tag);
  const other = records.find((r) => {
    const have = recordData(r);
    return have !== undefined ? have !== want : r.extra?.dataSource !== source;
  });
  if (other) {
    throw new Error(
      `${runsDir}/${runFileName(other)} was made on other data (${
        recordData(other) ?? other.extra?.dataSource
      }) than this run's (${want}, ${source}); use another --runsDir, or remove the old records`,
    );
  }
}

async function aggregate(
  options: Options,
  runsDir: string,
  log: (line: string) => void,
): Promise<BenchmarkTable> {
  const config = configOf(options);
  const key = configKey(config);
  const methods = runMethods(options, log);
  const methodOrder = methods.map((m) => m.id);
  const all = await readRunRecords(runsDir);
  const records = all.filter((r) =>
    methodOrder.includes(r.method) && (options.settings as string[]).includes(r.setting) &&
    options.seeds.includes(r.seed)
  );
  if (!records.length) throw new Error(`no run records to aggregate in ${runsDir}`);
  const keys = [...new Set(records.map((r) => r.configKey))];
  if (keys.length > 1) {
    throw new Error(
      `${runsDir} mixes configurations ${keys.join(", ")}; aggregate one at a time`,
    );
  }
  const datas = [...new Set(records.map((r) => recordData(r) ?? String(r.extra?.dataSource)))];
  if (datas.length > 1) {
    throw new Error(`${runsDir} mixes records made on different data (${datas.join("; ")})`);
  }
  const used = keys[0] === key ? config : undefined;
  if (!used) log(`note: records were made under ${keys[0]}, options say ${key}`);
  const table = aggregateRuns(records, {
    protocol: used ? tableProtocol(config, methods, records, options) : {
      note: `configuration ${keys[0]}`,
      ...tableProtocol(config, methods, records, options),
    },
    settingOrder: SETTINGS,
    methodOrder: BENCHMARK_METHODS.map((m) => m.id),
  });
  const out = options.out || "figures";
  await writeOutputs(out, table, titleOf(options), records);
  log(benchmarkMarkdown({ protocol: {}, rows: table.rows }));
  log(`aggregated ${records.length} runs from ${runsDir} into ${out}/benchmark.{json,md,csv,html}`);
  return table;
}

/** The benchmark experiment. */
export const experiment = defineExperiment({
  name: "benchmark",
  description:
    "every loss and linear metric on Fashion-MNIST (or --data), seen/unseen classes, 3 seeds, 95% CIs (resumable)",
  options: BENCHMARK_OPTIONS,
  trains: false,
  resolve: applyQuick,
  validate: validateBenchmark,
  encoder: (o) => ({
    deep: isFashionMnist(o)
      ? `referenceCnn (64-d, L2-normalised), Adam 1e-3, batch ${o.batchSize}`
      : {
        ...encoderForDescription(dataShape(o), DEFAULT_CONFIG.embeddingDim),
        training: `Adam 1e-3, batch ${o.batchSize}`,
      },
    linear: "Mahalanobis metrics on PCA features",
  }),
  async data(o, log): Promise<BenchmarkData> {
    if (o.aggregate) return { provenance: [] };
    const config = configOf(o);
    if (!isFashionMnist(o)) {
      const images = await loadExperimentImages(
        { ...o, trainLimit: config.trainLimit, testLimit: config.testLimit },
        log,
      );
      if (images.train.n < config.batchSize) {
        images.dispose();
        throw new UsageError(
          `${o.data}: ${images.train.n} train images, fewer than a batch of ${config.batchSize}`,
        );
      }
      return { images, provenance: images.provenance, dispose: () => images.dispose() };
    }
    const source = o.dataSource || undefined;
    const train = await loadFashionMnist({
      split: "train",
      source,
      limit: config.trainLimit || undefined,
    });
    const test = await loadFashionMnist({
      split: "test",
      source,
      limit: config.testLimit || undefined,
    });
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
    const log = ctx.log;
    const defaultRunsDir = `${ctx.dir.replace(/\/[^/]+$/, "")}/runs`;
    if (options.aggregate) {
      const runsDir = options.runsDir || defaultRunsDir;
      const table = await aggregate(options, runsDir, log);
      return { aggregatedFrom: runsDir, out: options.out || "figures", rows: table.rows.length };
    }
    const config = configOf(options);
    const key = configKey(config);
    const methods = runMethods(options, log);
    const settings = SETTINGS.filter((s) => (options.settings as string[]).includes(s));
    const seeds = options.seeds;
    const ownRun = options.quick || !isFashionMnist(options);
    const runsDir = options.runsDir || (ownRun ? `${ctx.dir}/runs` : defaultRunsDir);
    const out = options.out || (ownRun ? ctx.dir : "figures");
    const { train: trainSplit, test: testSplit, images } = ctx.data;
    const began = performance.now();
    const dataSource = images
      ? `${images.dataset} (${images.source})`
      : `${trainSplit!.source.kind} (${trainSplit!.source.dir})`;
    const tag = dataTag(ctx.data.provenance);
    checkRecordsData(runsDir, await readRunRecords(runsDir), tag, dataSource);
    log(`configuration ${key}; runs in ${runsDir}`);
    const made = await recordProvenance();

    const byId = new Map(methods.map((m) => [m.id, m]));
    const allSpecs: RunSpec[] = [];
    for (const setting of settings) {
      for (const m of methods) {
        for (const seed of seeds) allSpecs.push({ setting, method: m.id, seed });
      }
    }
    const shard = parseShard(options.shard);
    const specs = allSpecs.filter((_, i) => i % shard.count === shard.index);
    if (shard.count > 1) {
      log(`shard ${shard.index}/${shard.count}: ${specs.length} of ${allSpecs.length} runs`);
    }
    let current: SettingData | undefined;
    let result;
    try {
      result = await runBenchmark({
        specs,
        runsDir,
        configKey: key,
        costKey: (s) => `${s.setting}:${byId.get(s.method)?.family}`,
        log,
        execute: async (spec) => {
          ctx.checkInterrupt();
          if (current?.setting !== spec.setting) {
            current?.dispose();
            current = undefined;
            current = images
              ? imageSetting(images)
              : prepareSetting(spec.setting as SettingId, trainSplit!, testSplit!);
          }
          const m = await executeRun(byId.get(spec.method)!, current, spec.seed, config, {
            progress: options.quick ? false : undefined,
          });
          return {
            ...m,
            extra: { backend: ctx.backend.backend, dataSource, data: tag, ...made },
          };
        },
      });
    } finally {
      current?.dispose();
    }
    let records = result.records;
    if (shard.count > 1) {
      const done = new Map((await readRunRecords(runsDir)).map((r) => [runFileName(r), r]));
      const missing = allSpecs.filter((s) => !done.has(runFileName(s)));
      if (missing.length) {
        log(
          `shard ${shard.index}/${shard.count} done: ${result.ran} runs; ${missing.length} runs of ` +
            `other shards still missing, so no table yet (the last shard writes it, or --aggregate)`,
        );
        return { runsDir, ran: result.ran, skipped: result.skipped, table: null };
      }
      records = allSpecs.map((s) => done.get(runFileName(s))!);
    }
    const table = aggregateRuns(records, {
      protocol: tableProtocol(config, methods, records, options),
      settingOrder: SETTINGS,
      methodOrder: BENCHMARK_METHODS.map((m) => m.id),
    });
    await writeOutputs(out, table, titleOf(options), records);
    log("");
    log(benchmarkMarkdown({ protocol: {}, rows: table.rows }));
    log(
      `${result.ran} runs in ${formatDuration((performance.now() - began) / 1000)} ` +
        `(${result.skipped} already done); tensors alive: ${tf.memory().numTensors}`,
    );
    log(`table: ${out}/benchmark.{json,md,csv,html}; runs: ${runsDir}`);
    return { runsDir, ran: result.ran, skipped: result.skipped, table: `${out}/benchmark.json` };
  },
});
