/**
 * The PyTorch + pytorch-metric-learning cross-check of the benchmark: `bench/torch_protocol.py`
 * runs the same protocol with PML's own losses and appends one JSON line per run to
 * `benchmark-crosscheck.jsonl` (next to the table); these functions read the lines and set them
 * beside our runs of the same setting, method and seed.
 *
 * @module
 */
import type { RunRecord } from "./runner.ts";

/**
 * One PyTorch + PML run, as `bench/torch_protocol.py --record` writes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const row: CrossCheckRun = {
 *   setting: "seen", method: "arcface", seed: 0, init: "pytorch", framework: "torch 1.13",
 *   mapAtR: 0.74, rPrecision: 0.79, precisionAt1: 0.86, steps: 936,
 * };
 * assert.deepEqual(compareCrossCheck([row], [])[0].ours, null); // no record of ours yet
 * ```
 */
export interface CrossCheckRun {
  /** `"seen"` or `"unseen"`. */
  setting: string;
  /** The benchmark's method id. */
  method: string;
  /** Seed. */
  seed: number;
  /** The network's initialisation (`"pytorch"` or `"glorot"`). */
  init: string;
  /** PyTorch, PML and thread count. */
  framework: string;
  /** MAP@R. */
  mapAtR: number;
  /** R-precision. */
  rPrecision: number;
  /** Precision@1. */
  precisionAt1: number;
  /** Training steps. */
  steps: number;
  /** Adam's ε. */
  eps?: number;
}

/**
 * One line of the comparison: our run and PyTorch + PML's of the same setting, method and seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const c: CrossCheckComparison = {
 *   setting: "seen", method: "arcface", seed: 0, init: "pytorch", ours: 0.75, pml: 0.74,
 *   framework: "torch 1.13",
 * };
 * assert.ok(Math.abs(c.ours! - c.pml - 0.01) < 1e-9);
 * ```
 */
export interface CrossCheckComparison {
  /** Setting. */
  setting: string;
  /** Method id. */
  method: string;
  /** Seed. */
  seed: number;
  /** The network's initialisation of PyTorch's run. */
  init: string;
  /** Our MAP@R for the same setting, method and seed (`null` without a run record). */
  ours: number | null;
  /** PyTorch + PML's MAP@R. */
  pml: number;
  /** PyTorch, PML and thread count. */
  framework: string;
}

/**
 * Reads `path` (JSON lines of {@linkcode CrossCheckRun}); a later line replaces an earlier one
 * with the same setting, method, seed, initialisation and ε. A missing file gives `[]`.
 *
 * @throws Error naming the file and line when a line is not a cross-check run.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCrossCheck } from "./crosscheck.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * const run = { setting: "seen", method: "arcface", seed: 0, init: "pytorch", mapAtR: 0.74 };
 * await Deno.writeTextFile(path, JSON.stringify(run) + "\n" + JSON.stringify(run) + "\n");
 * assert.equal((await readCrossCheck(path)).length, 1); // repeated runs: the last one counts
 * assert.deepEqual(await readCrossCheck(path + ".absent"), []);
 * await Deno.remove(path);
 * ```
 */
export async function readCrossCheck(path: string): Promise<CrossCheckRun[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const byKey = new Map<string, CrossCheckRun>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: CrossCheckRun;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    const ok = typeof r?.setting === "string" && typeof r.method === "string" &&
      Number.isInteger(r.seed) && Number.isFinite(r.mapAtR);
    if (!ok) {
      throw new Error(`${path}:${i + 1}: not a cross-check run (setting, method, seed, mapAtR)`);
    }
    byKey.set(`${r.setting}/${r.method}/${r.seed}/${r.init}/${r.eps ?? ""}`, r);
  });
  return [...byKey.values()];
}

/**
 * Sets each PyTorch + PML run beside our record of the same setting, method and seed (`null`
 * when there is none, or when PyTorch's run used another initialisation than the protocol's
 * `initializer`), in the order of `methodOrder` (then by setting, seed and initialisation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareCrossCheck } from "./crosscheck.ts";
 * assert.deepEqual(compareCrossCheck([], []), []);
 * ```
 */
export function compareCrossCheck(
  runs: readonly CrossCheckRun[],
  records: readonly RunRecord[],
  methodOrder: readonly string[] = [],
  initializer = "pytorch",
): CrossCheckComparison[] {
  const ours = new Map(records.map((r) => [`${r.setting}/${r.method}/${r.seed}`, r.mapAtR]));
  const rank = (m: string) => {
    const i = methodOrder.indexOf(m);
    return i < 0 ? methodOrder.length : i;
  };
  return runs
    .map((r) => ({
      setting: r.setting,
      method: r.method,
      seed: r.seed,
      init: r.init ?? "pytorch",
      ours: (r.init ?? "pytorch") === initializer
        ? ours.get(`${r.setting}/${r.method}/${r.seed}`) ?? null
        : null,
      pml: r.mapAtR,
      framework: r.framework,
    }))
    .sort((a, b) =>
      a.setting.localeCompare(b.setting) || rank(a.method) - rank(b.method) ||
      a.method.localeCompare(b.method) || a.seed - b.seed || a.init.localeCompare(b.init)
    );
}
