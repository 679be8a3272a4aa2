/**
 * Benchmark: exact 11-NN of 10,000 × 64 float32 (seeded standard normal) against itself, ours
 * ({@linkcode knn} on the `wasm` backend, in this process) and faiss's `IndexFlatL2` (through
 * `/usr/bin/python3 bench/knn_faiss.py`). Without `--threads` each side runs with its default
 * thread count (ours: `navigator.hardwareConcurrency`; faiss: OpenMP's default, every core);
 * `--threads N` holds both to N. Prints the median times of a few repeats (warm-up excluded),
 * their ratio, and the agreement of the neighbour sets.
 *
 * Both sides search the matrix against itself including self (faiss's convention), so each
 * point is its own first neighbour.
 *
 * Run: `deno run --allow-read --allow-run=/usr/bin/python3 --allow-write=/tmp bench/knn.ts
 * [--n 10000] [--d 64] [--k 11] [--threads N] [--repeats 5] [--no-faiss]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "../lib/data/random.ts";
import { defaultKnnThreads, knn, terminateKnnWorkers } from "../lib/eval/knn.ts";
import { ami, kMeans, nmi } from "../lib/eval/clustering.ts";
import { retrievalMetrics } from "../lib/eval/retrieval.ts";
import { rocAuc } from "../lib/eval/verification.ts";

/** Settings of {@linkcode runKnnBench}. */
export interface KnnBenchOptions {
  n: number;
  d: number;
  k: number;
  /** Threads of both sides; 0: each side's default. */
  threads: number;
  repeats: number;
  seed: number;
  faiss: boolean;
}

function parseArgs(args: string[]): KnnBenchOptions {
  const o: KnnBenchOptions = {
    n: 10000,
    d: 64,
    k: 11,
    threads: 0,
    repeats: 5,
    seed: 0,
    faiss: true,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--no-faiss") o.faiss = false;
    else if (a.startsWith("--") && a.slice(2) in o) {
      const v = Number(args[++i]);
      if (!Number.isFinite(v)) throw new Error(`bench knn: ${a} needs a number, got ${args[i]}`);
      (o as unknown as Record<string, number>)[a.slice(2)] = v;
    } else throw new Error(`bench knn: unknown argument ${a}`);
  }
  return o;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Runs the k-NN benchmark and prints its table; `args` as on the command line.
 *
 * @example
 * ```ts
 * import { runKnnBench } from "./knn.ts";
 * await runKnnBench(["--n", "2000", "--no-faiss"]);
 * ```
 */
export async function runKnnBench(args: string[]): Promise<void> {
  const o = parseArgs(args);
  await tf.setBackend("wasm");
  await tf.ready();
  const rng = createRng(o.seed);
  const data = new Float32Array(o.n * o.d);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  const x = tf.tensor2d(data, [o.n, o.d]);

  const threads = o.threads > 0 ? `${o.threads} thread(s) each` : `default threads ` +
    `(ours: navigator.hardwareConcurrency = ${defaultKnnThreads()}; faiss: OpenMP default)`;
  console.log(
    `exact ${o.k}-NN of ${o.n} x ${o.d} float32 against itself, ${threads}, ` +
      `median of ${o.repeats} (warm-up excluded); backend ${tf.getBackend()}`,
  );
  let ours: Int32Array | undefined;
  const times: number[] = [];
  try {
    for (let r = 0; r <= o.repeats; r++) {
      const t0 = performance.now();
      const res = await knn(
        x,
        undefined,
        o.k,
        o.threads > 0 ? { excludeSelf: false, threads: o.threads } : { excludeSelf: false },
      );
      const ms = performance.now() - t0;
      if (r > 0) times.push(ms);
      ours = res.indices;
    }
  } finally {
    terminateKnnWorkers();
    x.dispose();
  }
  const oursMs = median(times);
  console.log(
    `ours   ${oursMs.toFixed(1)} ms  (runs: ${times.map((t) => t.toFixed(0)).join(", ")})`,
  );
  if (!o.faiss) return;

  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "knn_bench_" });
  try {
    const dataPath = `${dir}/x.f32`, outPath = `${dir}/ids.i32`;
    await Deno.writeFile(dataPath, new Uint8Array(data.buffer));
    const script = new URL("./knn_faiss.py", import.meta.url).pathname;
    const cmd = new Deno.Command("/usr/bin/python3", {
      args: [
        script,
        dataPath,
        `${o.n}`,
        `${o.d}`,
        `${o.k}`,
        `${o.threads}`,
        `${o.repeats}`,
        outPath,
      ],
      // With --threads, the BLAS under faiss may keep its own thread pool: hold it to the same
      // count. Deno passes these without --allow-env (they are the child's environment).
      env: o.threads > 0
        ? {
          OMP_NUM_THREADS: `${o.threads}`,
          OPENBLAS_NUM_THREADS: `${o.threads}`,
          MKL_NUM_THREADS: `${o.threads}`,
        }
        : {},
      stdout: "piped",
      stderr: "piped",
    });
    const out = await cmd.output();
    if (!out.success) {
      throw new Error(`bench knn: faiss script failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const report = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    const faissIds = new Int32Array((await Deno.readFile(outPath)).buffer);
    const faissMs = report.median_ms as number;
    console.log(
      `faiss  ${
        faissMs.toFixed(1)
      } ms  (IndexFlatL2, faiss ${report.faiss}, ${report.threads} threads, runs: ${
        (report.times_ms as number[]).map((t) => t.toFixed(0)).join(", ")
      })`,
    );
    console.log(`ratio  ours / faiss = ${(oursMs / faissMs).toFixed(2)}`);
    // Agreement: per query, the fraction of our k ids found among faiss's k ids.
    let agree = 0, exact = 0;
    for (let i = 0; i < o.n; i++) {
      const theirs = new Set(faissIds.subarray(i * o.k, (i + 1) * o.k));
      let same = 0;
      for (let t = 0; t < o.k; t++) if (theirs.has(ours![i * o.k + t])) same++;
      agree += same / o.k;
      let ordered = true;
      for (let t = 0; t < o.k; t++) {
        if (faissIds[i * o.k + t] !== ours![i * o.k + t]) ordered = false;
      }
      if (ordered) exact++;
    }
    console.log(
      `agreement  neighbour sets ${(agree / o.n * 100).toFixed(3)}%, identical ordered lists ${
        (exact / o.n * 100).toFixed(2)
      }%`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Cross-check of the metrics against scikit-learn and a numpy transcription of
 * AccuracyCalculator (`bench/sklearn_metrics.py`) on seeded Gaussian blobs (2,000 × 16, 10
 * classes); prints ours, theirs and the absolute difference.
 *
 * @example
 * ```ts
 * import { runMetricsCrossCheck } from "./knn.ts";
 * await runMetricsCrossCheck();
 * ```
 */
export async function runMetricsCrossCheck(n = 2000, d = 16, classes = 10): Promise<void> {
  await tf.setBackend("wasm");
  await tf.ready();
  const rng = createRng(42);
  const centres = Array.from({ length: classes * d }, () => rng.normal());
  const labels = Int32Array.from({ length: n }, () => rng.nextInt(classes));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < d; t++) {
      x[i * d + t] = 0.7 * centres[labels[i] * d + t] + rng.normal() * 0.8;
    }
  }
  const scores = Float32Array.from({ length: 3000 }, () => Math.round(rng.normal() * 8) / 8);
  const same = Int32Array.from(scores, (s) => (rng.next() < 1 / (1 + Math.exp(-s)) ? 1 : 0));
  const xt = tf.tensor2d(x, [n, d]);
  const ours = await retrievalMetrics(xt, labels);
  const km = kMeans(xt, classes, { nInit: 3, seed: 0 });
  xt.dispose();
  const mine: Record<string, number> = {
    precisionAt1: ours.precisionAt1,
    rPrecision: ours.rPrecision,
    mapAtR: ours.mapAtR,
    meanAveragePrecision: ours.meanAveragePrecision,
    mrr: ours.mrr,
    nmi: nmi(labels, km.labels),
    ami: ami(labels, km.labels),
    rocAuc: rocAuc(scores, same),
    kmeansInertia: km.inertia,
  };
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "metrics_check_" });
  try {
    const w = (name: string, a: Float32Array | Int32Array) =>
      Deno.writeFile(`${dir}/${name}`, new Uint8Array(a.buffer));
    await w("x.f32", x);
    await w("labels.i32", labels);
    await w("clusters.i32", km.labels);
    await w("scores.f32", scores);
    await w("same.i32", same);
    const script = new URL("./sklearn_metrics.py", import.meta.url).pathname;
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [script, dir, `${n}`, `${d}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`bench metrics: python failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const theirs = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    console.log(`metric                ours                  peer                  |diff|`);
    for (const [key, v] of Object.entries(mine)) {
      const p = theirs[key] as number;
      console.log(
        `${key.padEnd(21)} ${v.toPrecision(17).padEnd(21)} ${p.toPrecision(17).padEnd(21)} ${
          Math.abs(v - p).toExponential(2)
        }`,
      );
    }
    console.log(
      `(peer: scikit-learn ${theirs.sklearn}; retrieval peer = numpy AccuracyCalculator formulas on ` +
        `faiss search; k-means inertia peer = sklearn KMeans(n_init=3), different seeds, ` +
        `sklearn's own NMI ${(theirs.kmeansNmi as number).toFixed(4)})`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--metrics")) await runMetricsCrossCheck();
  else await runKnnBench(Deno.args);
}
