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
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Experiment, parseOptions, startRun } from "../lib/experiment.ts";
import { loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { writeJsonAtomic, writeTextAtomic } from "../lib/io/atomic.ts";
import { formatDuration } from "../lib/io/progress.ts";
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
  parseSetting,
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
export const BENCHMARK_DEFAULTS = {
  /** A small slice, few steps, one seed: about a minute (see {@linkcode QUICK_OVERRIDES}). */
  quick: false,
  /** Comma-separated method ids (default: all). */
  methods: "",
  /** Comma-separated settings. */
  settings: "seen,unseen",
  /** Comma-separated seeds. */
  seeds: "0,1,2",
  /** Epochs per deep run. */
  epochs: DEFAULT_CONFIG.epochs,
  /** Steps per deep run instead of epochs (0: use epochs). */
  steps: DEFAULT_CONFIG.steps,
  /** Directory of the per-run records (default `results/benchmark/runs`; quick: the run dir). */
  runsDir: "",
  /** Directory of the table and figure (default `figures`; quick: the run dir). */
  out: "",
  /** Rebuild the table from the run records in --runsDir, without training. */
  aggregate: false,
  /** A Fashion-MNIST directory (default: the loader's source order). */
  dataSource: "",
  /** First N train-split images only (0: all). */
  trainLimit: DEFAULT_CONFIG.trainLimit,
  /** First N test-split images only (0: all). */
  testLimit: DEFAULT_CONFIG.testLimit,
  /** Train images the linear metrics are fitted on (per seed). */
  linearSamples: DEFAULT_CONFIG.linearSamples,
  /** PCA dimension before the linear metrics. */
  pcaDim: DEFAULT_CONFIG.pcaDim,
  /** Steps of the linear learners (0: their defaults). */
  linearIterations: DEFAULT_CONFIG.linearIterations,
  /**
   * `k/n`: run only every n-th run starting at the k-th (0-based), so that n processes sharing
   * one --runsDir split the work (one per core); the table is written once all runs exist.
   */
  shard: "",
  /** Root of the run directories (`<root>/benchmark/<run-id>/`). */
  resultsRoot: "results",
};

/** The option values `--quick` changes, unless given explicitly. */
export const QUICK_OVERRIDES: Partial<typeof BENCHMARK_DEFAULTS> = {
  seeds: "0",
  steps: 3,
  trainLimit: 2560,
  testLimit: 1000,
  linearSamples: 300,
  linearIterations: 10,
};

type Options = typeof BENCHMARK_DEFAULTS;

function given(args: readonly string[], key: string): boolean {
  return args.some((a) => a === `--${key}` || a.startsWith(`--${key}=`));
}

function parseSeeds(text: string): number[] {
  const seeds = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(`--seeds must be comma-separated non-negative integers, got "${text}"`);
  }
  if (new Set(seeds).size !== seeds.length) throw new Error(`--seeds lists a seed twice: ${text}`);
  return seeds;
}

function parseSettings(text: string): SettingId[] {
  const list = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(parseSetting);
  if (!list.length) throw new Error("--settings is empty");
  return SETTINGS.filter((s) => list.includes(s));
}

/**
 * The options of a command line with `--quick`'s overrides applied to the options not given.
 *
 * @example
 * ```ts
 * import { resolveBenchmarkOptions } from "./benchmark.ts";
 * resolveBenchmarkOptions(["--quick", "--seeds", "0,1"]).seeds; // "0,1"
 * ```
 */
export function resolveBenchmarkOptions(args: readonly string[]): Options {
  const options = parseOptions(args, BENCHMARK_DEFAULTS);
  if (options.quick) {
    for (const [k, v] of Object.entries(QUICK_OVERRIDES)) {
      if (!given(args, k)) (options as Record<string, unknown>)[k] = v;
    }
  }
  return options;
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
  for (
    const key of [
      "epochs",
      "steps",
      "trainLimit",
      "testLimit",
      "linearSamples",
      "pcaDim",
      "linearIterations",
    ] as const
  ) {
    if (!(o[key] >= 0)) throw new Error(`--${key} must be ≥ 0, got ${o[key]}`);
  }
  if (o.pcaDim < 1) throw new Error(`--pcaDim must be ≥ 1`);
  if (o.steps === 0 && !(o.epochs > 0)) throw new Error("--epochs must be > 0 (or give --steps)");
  return {
    ...DEFAULT_CONFIG,
    epochs: o.epochs,
    steps: o.steps,
    trainLimit: o.trainLimit,
    testLimit: o.testLimit,
    linearSamples: o.linearSamples,
    pcaDim: o.pcaDim,
    linearIterations: o.linearIterations,
  };
}

function tableProtocol(
  config: BenchmarkConfig,
  methods: readonly BenchmarkMethod[],
  records: readonly RunRecord[],
): Record<string, unknown> {
  const distinct = (key: string) => [
    ...new Set(records.map((r) => r.extra?.[key]).filter((v) => v !== undefined)),
  ];
  return {
    ...describeProtocol(config),
    methods: Object.fromEntries(methods.map((m) => [m.id, m.description])),
    backends: distinct("backend"),
    dataSources: distinct("dataSource"),
  };
}

/** The PyTorch + PML runs `bench/torch_protocol.py --record` appends next to the table. */
export const CROSSCHECK_FILE = "benchmark-crosscheck.jsonl";

async function writeOutputs(
  dir: string,
  table: BenchmarkTable,
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
      title: "Fashion-MNIST benchmark",
      note: "Protocol: `protocol` in benchmark.json, and the README's benchmark section.",
    }),
  );
  await writeTextAtomic(`${dir}/benchmark.csv`, benchmarkCsv(table));
  await writeFigureHtml(`${dir}/benchmark.html`, benchmarkFigure(table), "Fashion-MNIST benchmark");
}

/**
 * Runs the benchmark command line (see the module documentation); returns the table written.
 *
 * @example
 * ```ts
 * import { runBenchmarkCommand } from "./benchmark.ts";
 * const table = await runBenchmarkCommand(["--quick", "--methods", "untrained", "--resultsRoot", "/tmp/r"]);
 * console.log(table.rows.length);
 * ```
 */
export async function runBenchmarkCommand(
  args: readonly string[],
  log: (line: string) => void = console.log,
): Promise<BenchmarkTable> {
  const options = resolveBenchmarkOptions(args);
  const config = configOf(options);
  const key = configKey(config);
  const methods = selectMethods(options.methods);
  const settings = parseSettings(options.settings);
  const seeds = parseSeeds(options.seeds);
  const methodOrder = methods.map((m) => m.id);
  const defaultRunsDir = `${options.resultsRoot}/benchmark/runs`;

  if (options.aggregate) {
    const runsDir = options.runsDir || defaultRunsDir;
    const all = await readRunRecords(runsDir);
    const records = all.filter((r) =>
      methodOrder.includes(r.method) && (settings as string[]).includes(r.setting) &&
      (!given(args, "seeds") || seeds.includes(r.seed))
    );
    if (!records.length) throw new Error(`no run records to aggregate in ${runsDir}`);
    const keys = [...new Set(records.map((r) => r.configKey))];
    if (keys.length > 1) {
      throw new Error(
        `${runsDir} mixes configurations ${keys.join(", ")}; aggregate one at a time`,
      );
    }
    const used = keys[0] === key ? config : undefined;
    if (!used) log(`note: records were made under ${keys[0]}, options say ${key}`);
    const table = aggregateRuns(records, {
      protocol: used
        ? tableProtocol(config, methods, records)
        : { note: `configuration ${keys[0]}`, ...tableProtocol(config, methods, records) },
      settingOrder: SETTINGS,
      methodOrder: BENCHMARK_METHODS.map((m) => m.id),
    });
    const out = options.out || "figures";
    await writeOutputs(out, table, records);
    log(benchmarkMarkdown({ protocol: {}, rows: table.rows }));
    log(
      `aggregated ${records.length} runs from ${runsDir} into ${out}/benchmark.{json,md,csv,html}`,
    );
    return table;
  }

  const run = await startRun("benchmark", args, { ...options, configKey: key }, {
    root: options.resultsRoot,
  });
  const runsDir = options.runsDir || (options.quick ? `${run.dir}/runs` : defaultRunsDir);
  const out = options.out || (options.quick ? run.dir : "figures");
  const source = options.dataSource || undefined;
  const began = performance.now();
  const trainSplit = await loadFashionMnist({
    split: "train",
    source,
    limit: config.trainLimit || undefined,
  });
  const testSplit = await loadFashionMnist({
    split: "test",
    source,
    limit: config.testLimit || undefined,
  });
  const dataSource = `${trainSplit.source.kind} (${trainSplit.source.dir})`;
  log(`data: ${dataSource}: ${trainSplit.n} train, ${testSplit.n} test images`);
  log(`configuration ${key}; runs in ${runsDir}`);

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
        if (current?.setting !== spec.setting) {
          current?.dispose();
          current = undefined;
          current = prepareSetting(spec.setting as SettingId, trainSplit, testSplit);
        }
        const m = await executeRun(byId.get(spec.method)!, current, spec.seed, config, {
          progress: options.quick ? false : undefined,
        });
        return { ...m, extra: { backend: run.backend.backend, dataSource } };
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
      return aggregateRuns(records, { settingOrder: SETTINGS, methodOrder: methodOrder });
    }
    records = allSpecs.map((s) => done.get(runFileName(s))!);
  }
  const table = aggregateRuns(records, {
    protocol: tableProtocol(config, methods, records),
    settingOrder: SETTINGS,
    methodOrder: BENCHMARK_METHODS.map((m) => m.id),
  });
  await writeOutputs(out, table, records);
  log("");
  log(benchmarkMarkdown({ protocol: {}, rows: table.rows }));
  log(
    `${result.ran} runs in ${formatDuration((performance.now() - began) / 1000)} ` +
      `(${result.skipped} already done); tensors alive: ${tf.memory().numTensors}`,
  );
  log(`table: ${out}/benchmark.{json,md,csv,html}; runs: ${runsDir}`);
  return table;
}

/** The benchmark experiment. */
export const experiment: Experiment = {
  name: "benchmark",
  description:
    "every loss and linear metric on Fashion-MNIST, seen/unseen classes, 3 seeds, 95% CIs (resumable)",
  async run(args) {
    await runBenchmarkCommand(args);
  },
};
