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
  RUN_OPTIONS,
  UsageError,
} from "../lib/experiment.ts";
import { parseOptionArgs } from "../lib/cli.ts";
import { type FashionMnist, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import type { DataProvenance } from "../lib/data/fingerprint.ts";
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
  configKey,
  DEFAULT_CONFIG,
  describeProtocol,
  executeRun,
  prepareSetting,
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
  pcaDim: option.integer(DEFAULT_CONFIG.pcaDim, "PCA dimension before the linear metrics", {
    min: 1,
    max: 784,
  }),
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
  ...FASHION_MNIST_OPTIONS,
};

type Options = OptionValues<typeof BENCHMARK_OPTIONS>;

/** The option values `--quick` changes, unless given explicitly. */
export const QUICK_OVERRIDES: Partial<Options> = {
  seeds: [0],
  steps: 3,
  trainLimit: 2560,
  testLimit: 1000,
  linearSamples: 300,
  linearIterations: 10,
};

/** `--quick`'s overrides applied to the options not given on the command line. */
function applyQuick(options: Options, given: readonly string[]): Options {
  if (!options.quick) return options;
  const out = { ...options } as Record<string, unknown>;
  for (const [k, v] of Object.entries(QUICK_OVERRIDES)) if (!given.includes(k)) out[k] = v;
  return out as Options;
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

async function writeOutputs(dir: string, table: BenchmarkTable): Promise<void> {
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

/** The two splits, unless only aggregating. */
interface BenchmarkData extends ExperimentDataSet {
  train?: FashionMnist;
  test?: FashionMnist;
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
  const methods = selectMethods(options.methods.join(","));
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
    protocol: used
      ? tableProtocol(config, methods, records)
      : { note: `configuration ${keys[0]}`, ...tableProtocol(config, methods, records) },
    settingOrder: SETTINGS,
    methodOrder: BENCHMARK_METHODS.map((m) => m.id),
  });
  const out = options.out || "figures";
  await writeOutputs(out, table);
  log(benchmarkMarkdown({ protocol: {}, rows: table.rows }));
  log(`aggregated ${records.length} runs from ${runsDir} into ${out}/benchmark.{json,md,csv,html}`);
  return table;
}

/** The benchmark experiment. */
export const experiment = defineExperiment({
  name: "benchmark",
  description:
    "every loss and linear metric on Fashion-MNIST, seen/unseen classes, 3 seeds, 95% CIs (resumable)",
  options: BENCHMARK_OPTIONS,
  trains: false,
  resolve: applyQuick,
  encoder: () => ({
    deep: "referenceCnn (64-d, L2-normalised), Adam 1e-3, batch 128",
    linear: "Mahalanobis metrics on PCA features",
  }),
  async data(o, log): Promise<BenchmarkData> {
    if (o.aggregate) return { provenance: [] };
    const config = configOf(o);
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
    const methods = selectMethods(options.methods.join(","));
    const settings = SETTINGS.filter((s) => (options.settings as string[]).includes(s));
    const seeds = options.seeds;
    const runsDir = options.runsDir || (options.quick ? `${ctx.dir}/runs` : defaultRunsDir);
    const out = options.out || (options.quick ? ctx.dir : "figures");
    const trainSplit = ctx.data.train!, testSplit = ctx.data.test!;
    const began = performance.now();
    const dataSource = `${trainSplit.source.kind} (${trainSplit.source.dir})`;
    const tag = dataTag(ctx.data.provenance);
    checkRecordsData(runsDir, await readRunRecords(runsDir), tag, dataSource);
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
          ctx.checkInterrupt();
          if (current?.setting !== spec.setting) {
            current?.dispose();
            current = undefined;
            current = prepareSetting(spec.setting as SettingId, trainSplit, testSplit);
          }
          const m = await executeRun(byId.get(spec.method)!, current, spec.seed, config, {
            progress: options.quick ? false : undefined,
          });
          return { ...m, extra: { backend: ctx.backend.backend, dataSource, data: tag } };
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
      protocol: tableProtocol(config, methods, records),
      settingOrder: SETTINGS,
      methodOrder: BENCHMARK_METHODS.map((m) => m.id),
    });
    await writeOutputs(out, table);
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
