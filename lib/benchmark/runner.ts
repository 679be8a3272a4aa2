/**
 * Resumable execution of the benchmark's runs and their aggregation into a table.
 *
 * Each finished run (one method, one setting, one seed) is written atomically as its own JSON
 * record, `<runsDir>/<setting>-<method>-seed<k>.json`; {@linkcode runBenchmark} skips the runs
 * whose record exists, so an interruption loses at most the run in progress. The table is
 * rebuilt from the records alone ({@linkcode aggregateRuns}).
 *
 * @module
 */
import { writeJsonAtomic } from "../io/atomic.ts";
import { formatDuration } from "../io/progress.ts";
import { meanCi95 } from "./stats.ts";
import type { CrossCheckComparison } from "./crosscheck.ts";

/**
 * One run of the benchmark.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const spec: RunSpec = { setting: "seen", method: "contrastive", seed: 0 };
 * assert.equal(runFileName(spec), "seen-contrastive-seed0.json");
 * ```
 */
export interface RunSpec {
  /** `"seen"` or `"unseen"`. */
  setting: string;
  /** Method id. */
  method: string;
  /** Seed of the initialisation, the shuffling and the linear subsample. */
  seed: number;
}

/**
 * What a run measures.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const m: RunMeasurements = {
 *   mapAtR: 0.5, rPrecision: 0.6, precisionAt1: 0.8, trainImagesPerSecond: 900, trainSeconds: 130,
 *   steps: 936, trainImages: 60000, testImages: 10000,
 * };
 * assert.ok(Math.abs(m.trainImages * 2 / m.trainSeconds - 923.08) < 0.01); // two epochs
 * ```
 */
export interface RunMeasurements {
  /** MAP@R on the test images. */
  mapAtR: number;
  /** R-precision. */
  rPrecision: number;
  /** Precision@1. */
  precisionAt1: number;
  /** Training throughput (images through the network per second); `null` without training. */
  trainImagesPerSecond: number | null;
  /** Seconds spent training or fitting. */
  trainSeconds: number;
  /** Optimisation steps. */
  steps: number;
  /** Training images available to the run (or fitted, for linear methods). */
  trainImages: number;
  /** Test images evaluated. */
  testImages: number;
  /** Anything else worth keeping (backend, data source, ...). */
  extra?: Record<string, unknown>;
}

/**
 * The JSON record of a finished run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const r: RunRecord = {
 *   setting: "seen", method: "contrastive", seed: 0, configKey: "e2-…",
 *   mapAtR: 0.5, rPrecision: 0.6, precisionAt1: 0.8, trainImagesPerSecond: 900, trainSeconds: 130,
 *   steps: 936, trainImages: 60000, testImages: 10000, seconds: 140,
 *   finishedAt: "2026-11-28T12:00:00Z",
 * };
 * assert.equal(aggregateRuns([r]).rows[0].mapAtR.mean, 0.5);
 * ```
 */
export interface RunRecord extends RunSpec, RunMeasurements {
  /** The configuration it was made under ({@linkcode configKey} of `protocol.ts`). */
  configKey: string;
  /** Wall-clock seconds of the whole run (data preparation, training, evaluation). */
  seconds: number;
  /** ISO time it finished. */
  finishedAt: string;
}

/**
 * The file name of a run's record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runFileName } from "./runner.ts";
 * const name = runFileName({ setting: "seen", method: "contrastive", seed: 0 });
 * assert.equal(name, "seen-contrastive-seed0.json");
 * ```
 */
export function runFileName(spec: RunSpec): string {
  return `${spec.setting}-${spec.method}-seed${spec.seed}.json`;
}

const METRICS = ["mapAtR", "rPrecision", "precisionAt1"] as const;

function checkRecord(value: unknown, where: string): RunRecord {
  const r = value as RunRecord;
  const bad = (what: string) => new Error(`${where}: not a benchmark run record (${what})`);
  if (typeof r !== "object" || r === null) throw bad("not an object");
  for (const key of ["setting", "method", "configKey"] as const) {
    if (typeof r[key] !== "string") throw bad(`${key} missing`);
  }
  if (!Number.isInteger(r.seed)) throw bad("seed missing");
  for (const key of METRICS) {
    if (typeof r[key] !== "number" || !Number.isFinite(r[key])) throw bad(`${key} missing`);
  }
  if (r.trainImagesPerSecond !== null && typeof r.trainImagesPerSecond !== "number") {
    throw bad("trainImagesPerSecond missing");
  }
  return r;
}

/**
 * Reads the record of `spec` from `runsDir`, or `undefined` when there is none.
 *
 * @throws Error when the file exists but is not a run record for `spec`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRunRecord } from "./runner.ts";
 * const dir = await Deno.makeTempDir();
 * const r = await readRunRecord(dir, { setting: "seen", method: "contrastive", seed: 0 });
 * assert.equal(r, undefined); // not run yet
 * await Deno.remove(dir);
 * ```
 */
export async function readRunRecord(
  runsDir: string,
  spec: RunSpec,
): Promise<RunRecord | undefined> {
  const path = `${runsDir}/${runFileName(spec)}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const r = checkRecord(JSON.parse(text), path);
  if (r.setting !== spec.setting || r.method !== spec.method || r.seed !== spec.seed) {
    throw new Error(
      `${path}: holds ${r.setting}/${r.method}/seed ${r.seed}, not what its name says`,
    );
  }
  return r;
}

/**
 * Reads every run record (`*.json`) in `runsDir`, sorted by file name; none when the directory
 * does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRunRecords } from "./runner.ts";
 * const records = await readRunRecords("figures/benchmark-runs");
 * assert.ok(records.every((r) => Number.isFinite(r.mapAtR) && r.configKey.length > 0));
 * assert.deepEqual(await readRunRecords("figures/no-such-dir"), []);
 * ```
 */
export async function readRunRecords(runsDir: string): Promise<RunRecord[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(runsDir)) {
      if (e.isFile && e.name.endsWith(".json") && !e.name.startsWith(".")) names.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  names.sort();
  const out: RunRecord[] = [];
  for (const name of names) {
    const path = `${runsDir}/${name}`;
    out.push(checkRecord(JSON.parse(await Deno.readTextFile(path)), path));
  }
  return out;
}

/** Options of {@linkcode runBenchmark}. */
export interface RunBenchmarkOptions {
  /** The runs, in execution order. */
  specs: readonly RunSpec[];
  /** Where records are read and written (created if missing). */
  runsDir: string;
  /** The configuration's key; a record with another key stops the benchmark. */
  configKey: string;
  /** Performs one run. */
  execute: (spec: RunSpec) => Promise<RunMeasurements>;
  /**
   * Runs with equal cost keys are expected to take equally long (default: setting and method
   * family are unknown here, so the setting); the estimate of the time left uses the mean
   * duration of finished runs with the same key, else of all finished runs.
   */
  costKey?: (spec: RunSpec) => string;
  /** Where progress lines go. Default `console.log`. */
  log?: (line: string) => void;
  /** Clock in seconds (for tests). Default `performance.now() / 1000`. */
  now?: () => number;
}

/**
 * What {@linkcode runBenchmark} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BenchmarkRunResult } from "./runner.ts";
 * const result: BenchmarkRunResult = { records: [], ran: 0, skipped: 0 };
 * assert.equal(`${result.ran} run, ${result.skipped} already done`, "0 run, 0 already done");
 * ```
 */
export interface BenchmarkRunResult {
  /** The records of every spec, in spec order (read or freshly written). */
  records: RunRecord[];
  /** Runs executed in this call. */
  ran: number;
  /** Runs skipped because their record existed. */
  skipped: number;
}

/**
 * Estimates the seconds left for `remaining` runs from the durations of finished ones: each
 * remaining run counts as the mean duration of finished runs with its cost key, else the mean of
 * all finished runs; `NaN` when nothing has finished.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateSecondsLeft } from "./runner.ts";
 * const done = [{ setting: "seen", method: "a", seed: 0, seconds: 100 }];
 * const todo = [{ setting: "seen", method: "b", seed: 0 }];
 * assert.equal(estimateSecondsLeft(done, todo, (s) => s.setting), 100);
 * ```
 */
export function estimateSecondsLeft(
  finished: readonly (RunSpec & { seconds: number })[],
  remaining: readonly RunSpec[],
  costKey: (spec: RunSpec) => string,
): number {
  if (finished.length === 0) return remaining.length === 0 ? 0 : NaN;
  const byKey = new Map<string, { sum: number; n: number }>();
  let sum = 0;
  for (const f of finished) {
    const k = costKey(f);
    const e = byKey.get(k) ?? { sum: 0, n: 0 };
    e.sum += f.seconds;
    e.n++;
    byKey.set(k, e);
    sum += f.seconds;
  }
  const overall = sum / finished.length;
  return remaining.reduce((s, r) => {
    const e = byKey.get(costKey(r));
    return s + (e ? e.sum / e.n : overall);
  }, 0);
}

/**
 * Runs every spec whose record is missing from `runsDir`, writing each record atomically as
 * soon as its run finishes, with a progress line per run (metrics, duration, estimated time
 * left).
 *
 * @throws Error when an existing record was made under another configuration (use another
 * `runsDir`), or whatever `execute` throws (the records written so far stay).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runBenchmark } from "./runner.ts";
 * const result = await runBenchmark({
 *   specs: [{ setting: "seen", method: "fake", seed: 0 }],
 *   runsDir: "/tmp/bench-runs-demo",
 *   configKey: "demo",
 *   execute: () => Promise.resolve({
 *     mapAtR: 0.5, rPrecision: 0.5, precisionAt1: 0.5, trainImagesPerSecond: null,
 *     trainSeconds: 0, steps: 0, trainImages: 0, testImages: 10,
 *   }),
 * });
 * assert.equal(result.ran + result.skipped, 1); // skipped when a record is already there
 * ```
 */
export async function runBenchmark(options: RunBenchmarkOptions): Promise<BenchmarkRunResult> {
  const { specs, runsDir, configKey } = options;
  const log = options.log ?? console.log;
  const now = options.now ?? (() => performance.now() / 1000);
  const costKey = options.costKey ?? ((s: RunSpec) => s.setting);
  const seen = new Set<string>();
  for (const s of specs) {
    const name = runFileName(s);
    if (seen.has(name)) throw new Error(`runBenchmark: run ${name} is listed twice`);
    seen.add(name);
  }
  await Deno.mkdir(runsDir, { recursive: true });
  const records: (RunRecord | undefined)[] = [];
  const finished: RunRecord[] = [];
  for (const spec of specs) {
    const r = await readRunRecord(runsDir, spec);
    if (r && r.configKey !== configKey) {
      throw new Error(
        `${runsDir}/${runFileName(spec)} was made under configuration "${r.configKey}", not ` +
          `"${configKey}"; use another --runsDir or remove the old records`,
      );
    }
    records.push(r);
    if (r) finished.push(r);
  }
  const skipped = finished.length;
  const todo = specs.filter((_, i) => !records[i]);
  const total = specs.length;
  if (skipped > 0) log(`${skipped}/${total} runs already done in ${runsDir}; skipping them`);
  const began = now();
  let ran = 0;
  for (let i = 0; i < specs.length; i++) {
    if (records[i]) continue;
    const spec = specs[i];
    const start = now();
    const m = await options.execute(spec);
    for (const key of METRICS) {
      if (!Number.isFinite(m[key])) {
        throw new Error(`run ${runFileName(spec)}: ${key} is ${m[key]}`);
      }
    }
    const record: RunRecord = {
      setting: spec.setting,
      method: spec.method,
      seed: spec.seed,
      configKey,
      ...m,
      seconds: now() - start,
      finishedAt: new Date().toISOString(),
    };
    await writeJsonAtomic(`${runsDir}/${runFileName(spec)}`, record);
    records[i] = record;
    finished.push(record);
    ran++;
    const left = estimateSecondsLeft(finished, todo.slice(ran), costKey);
    log(
      `[${skipped + ran}/${total}] ${spec.setting} ${spec.method} seed ${spec.seed}: ` +
        `MAP@R ${m.mapAtR.toFixed(4)}  R-prec ${m.rPrecision.toFixed(4)}  ` +
        `P@1 ${m.precisionAt1.toFixed(4)}` +
        (m.trainImagesPerSecond !== null ? `  ${m.trainImagesPerSecond.toFixed(0)} img/s` : "") +
        `  (${formatDuration(record.seconds)}; elapsed ${formatDuration(now() - began)}, ` +
        `eta ${formatDuration(left)})`,
    );
  }
  return { records: records as RunRecord[], ran, skipped };
}

/**
 * A metric of a row: mean over seeds and the 95% confidence half-width (`null` for one seed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMeanCi } from "./tables.ts";
 * const s: MetricSummary = { mean: 0.61, ci95: 0.02 };
 * assert.equal(formatMeanCi(s), "0.6100 ± 0.0200");
 * ```
 */
export interface MetricSummary {
  /** Mean over seeds. */
  mean: number;
  /** Student-t 95% half-width; `null` with a single seed. */
  ci95: number | null;
}

/**
 * One row of the table: a method in a setting, over its seeds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const row: BenchmarkRow = {
 *   setting: "seen", method: "contrastive", seeds: [0, 1, 2],
 *   mapAtR: { mean: 0.5, ci95: 0.01 }, rPrecision: { mean: 0.6, ci95: 0.01 },
 *   precisionAt1: { mean: 0.8, ci95: 0.01 }, trainImagesPerSecond: 900,
 * };
 * assert.equal(row.seeds.length, 3);
 * ```
 */
export interface BenchmarkRow {
  /** Setting. */
  setting: string;
  /** Method id. */
  method: string;
  /** Seeds aggregated, ascending. */
  seeds: number[];
  /** MAP@R. */
  mapAtR: MetricSummary;
  /** R-precision. */
  rPrecision: MetricSummary;
  /** Precision@1. */
  precisionAt1: MetricSummary;
  /** Mean training throughput over the seeds; `null` for methods without network training. */
  trainImagesPerSecond: number | null;
}

/**
 * The benchmark's result: the protocol and the rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchmarkCsv } from "./tables.ts";
 * const table: BenchmarkTable = { protocol: { data: "Fashion-MNIST" }, rows: [] };
 * assert.equal(benchmarkCsv(table).trim().split("\n").length, 1); // the header only
 * ```
 */
export interface BenchmarkTable {
  /** The protocol (see `describeProtocol`), plus anything the writer adds. */
  protocol: Record<string, unknown>;
  /** Rows, settings in order, methods in registry order. */
  rows: BenchmarkRow[];
  /** PyTorch + PML's runs of the same protocol beside ours (see `crosscheck.ts`), if any. */
  crossCheck?: CrossCheckComparison[];
}

/** Options of {@linkcode aggregateRuns}. */
export interface AggregateOptions {
  /** Written as the table's `protocol`. */
  protocol?: Record<string, unknown>;
  /** Order of settings (others follow, sorted). */
  settingOrder?: readonly string[];
  /** Order of methods (others follow, sorted). */
  methodOrder?: readonly string[];
}

function orderOf(order: readonly string[] | undefined, values: Iterable<string>): string[] {
  const all = [...new Set(values)];
  const known = (order ?? []).filter((v) => all.includes(v));
  return [...known, ...all.filter((v) => !known.includes(v)).sort()];
}

/**
 * Groups run records by (setting, method) into rows: the mean and Student-t 95% confidence
 * interval of each metric over the seeds, and the mean training throughput.
 *
 * @throws Error when two records share setting, method and seed, or records of different
 * configurations are mixed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aggregateRuns } from "./runner.ts";
 * const base = { setting: "seen", method: "m", configKey: "k", rPrecision: 0.5, precisionAt1: 0.5,
 *   trainImagesPerSecond: null, trainSeconds: 0, steps: 0, trainImages: 0, testImages: 10,
 *   seconds: 1, finishedAt: "" };
 * const table = aggregateRuns([{ ...base, seed: 0, mapAtR: 0.5 }, { ...base, seed: 1, mapAtR: 0.7 }]);
 * const { mean, ci95 } = table.rows[0].mapAtR; // { mean: 0.6, ci95: 1.2706… }
 * assert.ok(Math.abs(mean - 0.6) < 1e-12 && Math.abs(ci95! - 1.27062) < 1e-5);
 * ```
 */
export function aggregateRuns(
  records: readonly RunRecord[],
  options: AggregateOptions = {},
): BenchmarkTable {
  const keys = [...new Set(records.map((r) => r.configKey))];
  if (keys.length > 1) {
    throw new Error(`aggregateRuns: records of different configurations: ${keys.join(", ")}`);
  }
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = `${r.setting}\u0000${r.method}`;
    const g = groups.get(k) ?? [];
    if (g.some((o) => o.seed === r.seed)) {
      throw new Error(`aggregateRuns: two records for ${r.setting}/${r.method}/seed ${r.seed}`);
    }
    g.push(r);
    groups.set(k, g);
  }
  const settings = orderOf(options.settingOrder, records.map((r) => r.setting));
  const methods = orderOf(options.methodOrder, records.map((r) => r.method));
  const rows: BenchmarkRow[] = [];
  for (const setting of settings) {
    for (const method of methods) {
      const g = groups.get(`${setting}\u0000${method}`);
      if (!g) continue;
      g.sort((a, b) => a.seed - b.seed);
      const summary = (key: (typeof METRICS)[number]): MetricSummary => {
        const s = meanCi95(g.map((r) => r[key]));
        return { mean: s.mean, ci95: s.ci95 };
      };
      const rates = g.map((r) => r.trainImagesPerSecond).filter((v): v is number => v !== null);
      rows.push({
        setting,
        method,
        seeds: g.map((r) => r.seed),
        mapAtR: summary("mapAtR"),
        rPrecision: summary("rPrecision"),
        precisionAt1: summary("precisionAt1"),
        trainImagesPerSecond: rates.length ? rates.reduce((s, v) => s + v, 0) / rates.length : null,
      });
    }
  }
  return {
    protocol: { ...(options.protocol ?? {}), ...(keys.length ? { configKey: keys[0] } : {}) },
    rows,
  };
}
