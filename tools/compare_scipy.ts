/**
 * One-off cross-check of `pairwiseDistances` against `scipy.spatial.distance.cdist`: writes random
 * inputs (plus edge cases: zero rows, identical rows, constant rows, d = 1, integer and 0/1
 * inputs), runs `/usr/bin/python3 bench/scipy_distances.py`, and prints the largest relative
 * error per metric (|ours − scipy| / max(|scipy|, 1e-3 · the case's largest |scipy|); NaN and ∞ must match exactly).
 *
 * Usage: `deno run -A tools/compare_scipy.ts [--python /usr/bin/python3]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng } from "../lib/data/random.ts";
import { pairwiseDistances } from "../lib/distances.ts";

/**
 * One comparison case.
 *
 * @example
 * ```ts
 * import type { ScipyCase } from "./compare_scipy.ts";
 * const c: ScipyCase = { name: "demo", metric: "cosine", a: [[1, 0]], b: [[0, 1]] };
 * ```
 */
export interface ScipyCase {
  /** Label printed in the table. */
  name: string;
  /** scipy metric name. */
  metric: string;
  /** Extra cdist keyword arguments. */
  params?: Record<string, unknown>;
  /** `[n, d]` */
  a: number[][];
  /** `[m, d]` */
  b: number[][];
}

function matrix(n: number, d: number, draw: () => number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: d }, draw));
}

/**
 * The cases compared: every metric on random data and on edge cases.
 *
 * @example
 * ```ts
 * import { scipyCases } from "./compare_scipy.ts";
 * console.log(scipyCases(0).length);
 * ```
 */
export function scipyCases(seed: number): ScipyCase[] {
  const rng = createRng(seed);
  const normal = () => rng.normal();
  const pos = () => rng.next() * 3;
  const bit = () => (rng.next() < 0.4 ? 1 : 0);
  const int = () => rng.nextInt(5) - 2;
  const cases: ScipyCase[] = [];
  const real = [
    "euclidean",
    "sqeuclidean",
    "cityblock",
    "chebyshev",
    "minkowski",
    "cosine",
    "correlation",
    "canberra",
    "seuclidean",
    "mahalanobis",
    "hamming",
  ];
  const nonneg = ["braycurtis", "jensenshannon"];
  const binary = ["hamming", "jaccard", "dice"];
  for (const metric of [...real, ...nonneg]) {
    const draw = nonneg.includes(metric) ? pos : normal;
    const a = matrix(30, 12, draw);
    const b = matrix(25, 12, draw);
    // Edge rows: zero row, a copy of a row of b, a scaled copy, a constant row.
    a[0] = new Array(12).fill(0);
    a[1] = [...b[0]];
    a[2] = b[1].map((v) => 2 * v);
    a[3] = new Array(12).fill(1.5);
    cases.push({ name: `${metric} random+edges`, metric, a, b });
    cases.push({ name: `${metric} integer`, metric, a: matrix(20, 6, int), b: matrix(20, 6, int) });
  }
  for (const p of [0.5, 1, 3, Infinity]) {
    if (p === Infinity) continue; // JSON cannot carry Infinity to scipy; covered by chebyshev
    cases.push({
      name: `minkowski p=${p}`,
      metric: "minkowski",
      params: { p },
      a: matrix(20, 7, normal),
      b: matrix(20, 7, normal),
    });
  }
  for (const metric of binary) {
    const a = matrix(30, 10, bit);
    const b = matrix(30, 10, bit);
    a[0] = new Array(10).fill(0);
    b[0] = new Array(10).fill(0);
    cases.push({ name: `${metric} 0/1`, metric, a, b });
  }
  for (
    const metric of [
      ...real.filter((m) => m !== "mahalanobis" && m !== "correlation"),
      ...nonneg,
      ...binary,
    ]
  ) {
    const draw = nonneg.includes(metric) ? pos : binary.includes(metric) ? bit : normal;
    cases.push({ name: `${metric} d=1`, metric, a: matrix(8, 1, draw), b: matrix(8, 1, draw) });
  }
  cases.push({
    name: "seuclidean V given",
    metric: "seuclidean",
    params: { V: [0.5, 1, 2, 4] },
    a: matrix(10, 4, normal),
    b: matrix(10, 4, normal),
  });
  return cases;
}

function decode(v: number | string): number {
  return typeof v === "number" ? v : Number(v);
}

async function main(): Promise<void> {
  const python = Deno.args.includes("--python")
    ? Deno.args[Deno.args.indexOf("--python") + 1]
    : "/usr/bin/python3";
  await tf.setBackend("cpu");
  const cases = scipyCases(7);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.json`, JSON.stringify({ cases }));
  const script = new URL("../bench/scipy_distances.py", import.meta.url).pathname;
  const out = await new Deno.Command(python, {
    args: [script, `${dir}/in.json`, `${dir}/out.json`],
  })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const ref = JSON.parse(await Deno.readTextFile(`${dir}/out.json`));
  console.log(`scipy ${ref.scipy}`);
  const worst = new Map<string, { err: number; mismatch: number }>();
  for (let c = 0; c < cases.length; c++) {
    const cs = cases[c];
    const expected: number[][] = ref.results[c].values.map((r: (number | string)[]) =>
      r.map(decode)
    );
    const a = tf.tensor2d(cs.a);
    const b = tf.tensor2d(cs.b);
    const got = pairwiseDistances(a, b, { name: cs.metric, ...(cs.params ?? {}) });
    const values = await got.array();
    tf.dispose([a, b, got]);
    let err = 0, mismatch = 0, scale = 0;
    for (const row of expected) {
      for (const e of row) if (Number.isFinite(e)) scale = Math.max(scale, Math.abs(e));
    }
    const floor = Math.max(1e-3 * scale, 1e-12);
    for (let i = 0; i < expected.length; i++) {
      for (let j = 0; j < expected[i].length; j++) {
        const e = expected[i][j], g = values[i][j];
        if (!Number.isFinite(e) || !Number.isFinite(g)) {
          if (!Object.is(e, g) && !(Number.isNaN(e) && Number.isNaN(g))) {
            if (mismatch++ === 0) {
              console.log(`  first mismatch [${i}, ${j}]: scipy ${e}, ours ${g}`);
            }
          }
          continue;
        }
        err = Math.max(err, Math.abs(g - e) / Math.max(Math.abs(e), floor));
      }
    }
    console.log(
      `${cs.name.padEnd(28)} max rel err ${
        err.toExponential(2)
      }  non-finite mismatches ${mismatch}`,
    );
    const w = worst.get(cs.metric) ?? { err: 0, mismatch: 0 };
    worst.set(cs.metric, { err: Math.max(w.err, err), mismatch: w.mismatch + mismatch });
  }
  console.log("\nper metric:");
  for (const [metric, w] of worst) {
    console.log(`${metric.padEnd(14)} ${w.err.toExponential(2)}  ${w.mismatch}`);
  }
}

if (import.meta.main) await main();
