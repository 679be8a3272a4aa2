/**
 * Measures the memory of exact kNN and of retrieval evaluation over many embeddings, against the
 * bound each documents:
 *
 * - `knn(x, undefined, k, { threads: 1 })` (self-search, one thread): linear in n, never an n × m
 *   matrix — up to four n·d·4-byte copies of the inputs (read back from the backend, centred on
 *   their mean, row norms and transposed blocks, garbage awaiting collection), two blocks of keys
 *   (`2 · blockSize² · 4` bytes, the SIMD filter's wasm memory included), the running top-k of the
 *   k + 2 candidates re-ranked exactly (`n·(k + 2)·8`) and the results (`n·k·8`). An n² matrix
 *   would need 40 GB at n = 100,000.
 * - `retrievalMetrics(x, labels)`: the inputs read back (`n·d·4`), one block of ranking keys
 *   (`blockSize · m · 4`, `blockSize = min(1024, 2^23 / m)`, i.e. ≤ 32 MiB), and per-query results.
 *
 * The measured growth is the process's peak resident set (Linux `VmHWM`, plus `rss` sampled every
 * 20 ms) minus the resident set before the call; TensorFlow.js memory (`tf.memory().numBytes`) is
 * sampled the same way. An allowance of 96 MiB covers V8 and wasm heap growth.
 *
 * ```sh
 * deno run --allow-read=.,/proc/self/status --allow-env tools/memory_bound.ts --n 100000 --d 64 --k 10
 * ```
 *
 * Measured on the 2-core development machine (shared with other jobs, tfjs `cpu` backend for
 * the tensors; the kNN scan is the library's own blocked JavaScript/SIMD code):
 *
 * | run | time | peak rss growth | bound |
 * | --- | --- | --- | --- |
 * | knn 100,000 × 64, k = 10 | 727 s (under load) | 158.2 MiB | 189 MiB |
 * | knn 50,000 × 64, k = 10 | 151 s (under load) | 127.9 MiB | 147 MiB |
 * | knn 20,000 × 64, k = 10 | 25 s | < 1 MiB | 121 MiB |
 * | retrievalMetrics 20,000 × 64, 100 classes | 44 s | 23.8 MiB | 167 MiB |
 *
 * `tests/memory_test.ts` checks a 10,000-point kNN and a 5,000-point retrieval.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { knn } from "../lib/eval/knn.ts";
import { retrievalMetrics } from "../lib/eval/retrieval.ts";
import { createRng } from "../lib/data/random.ts";

/**
 * One measurement.
 *
 * @example
 * ```ts
 * import type { MemoryMeasurement } from "./memory_bound.ts";
 * const m: MemoryMeasurement = { label: "knn", seconds: 1, peakRssGrowth: 0, peakTfGrowth: 0, bound: 1 };
 * ```
 */
export interface MemoryMeasurement {
  /** What ran. */
  label: string;
  /** Seconds it took. */
  seconds: number;
  /** Peak resident-set growth over the call, bytes. */
  peakRssGrowth: number;
  /** Peak TensorFlow.js bytes allocated during the call minus before. */
  peakTfGrowth: number;
  /** The documented bound, bytes (including the fixed allowance). */
  bound: number;
}

/**
 * Allowance for V8, wasm-heap and allocator growth, bytes.
 *
 * @example
 * ```ts
 * import { ALLOWANCE } from "./memory_bound.ts";
 * console.log(ALLOWANCE / 2 ** 20); // 96
 * ```
 */
export const ALLOWANCE = 96 * 2 ** 20;

function peakRss(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = status.match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux, or no read permission: the sampled rss is used alone
  }
  return 0;
}

/**
 * Runs `fn`, sampling memory every 20 ms, and returns the peak growth over the baseline.
 *
 * @example
 * ```ts
 * import { measure } from "./memory_bound.ts";
 * const m = await measure("noop", 0, async () => {});
 * console.log(m.peakRssGrowth >= 0);
 * ```
 */
export async function measure(
  label: string,
  bound: number,
  fn: () => Promise<unknown>,
): Promise<MemoryMeasurement> {
  const rss0 = Deno.memoryUsage().rss;
  const tf0 = tf.memory().numBytes;
  let maxRss = rss0, maxTf = tf0;
  const sample = () => {
    maxRss = Math.max(maxRss, Deno.memoryUsage().rss);
    maxTf = Math.max(maxTf, tf.memory().numBytes);
  };
  const timer = setInterval(sample, 20);
  const began = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  sample();
  const seconds = (performance.now() - began) / 1000;
  maxRss = Math.max(maxRss, peakRss());
  return {
    label,
    seconds,
    peakRssGrowth: maxRss - rss0,
    peakTfGrowth: maxTf - tf0,
    bound: bound + ALLOWANCE,
  };
}

/**
 * Seeded uniform embeddings `[n, d]` and labels `i mod classes`.
 *
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "./memory_bound.ts";
 * const { data, labels } = syntheticEmbeddings(10, 4, 2);
 * console.log(data.length, labels.length); // 40 10
 * ```
 */
export function syntheticEmbeddings(
  n: number,
  d: number,
  classes: number,
  seed = 0,
): { data: Float32Array; labels: Int32Array } {
  const rng = createRng(seed);
  const data = new Float32Array(n * d);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2 - 1;
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  return { data, labels };
}

/**
 * The documented bound of `knn(x, undefined, k)`, bytes, without the allowance.
 *
 * @example
 * ```ts
 * import { knnBound } from "./memory_bound.ts";
 * knnBound(20000, 64, 10); // ≈ 33 MB
 * ```
 */
export function knnBound(n: number, d: number, k: number, blockSize = 1024): number {
  return 4 * n * d * 4 + 2 * blockSize * blockSize * 4 + n * (k + 2) * 8 + n * k * 8 + 2 * n * 4;
}

/**
 * The documented bound of `retrievalMetrics(x, labels)` (self-retrieval), bytes, without the
 * allowance.
 *
 * @example
 * ```ts
 * import { retrievalBound } from "./memory_bound.ts";
 * retrievalBound(20000, 64);
 * ```
 */
export function retrievalBound(n: number, d: number): number {
  const block = Math.max(1, Math.min(1024, Math.floor(8_388_608 / n)));
  return n * d * 4 + 2 * block * n * 4 + 16 * n * 8;
}

/**
 * Measures `knn` (self-search) and, unless `retrieval` is false, `retrievalMetrics` on `n`
 * synthetic `d`-dimensional embeddings.
 *
 * @example
 * ```ts
 * import { measureAll } from "./memory_bound.ts";
 * const [m] = await measureAll({ n: 2000, d: 16, k: 5, retrieval: false });
 * console.log(m.peakRssGrowth <= m.bound);
 * ```
 */
export async function measureAll(
  options: { n: number; d: number; k: number; retrieval?: boolean; classes?: number },
): Promise<MemoryMeasurement[]> {
  const { n, d, k, retrieval = true, classes = 100 } = options;
  const { data, labels } = syntheticEmbeddings(n, d, classes);
  const x = tf.tensor2d(data, [n, d]);
  const out: MemoryMeasurement[] = [];
  // Warm-up: one-time costs (SIMD module compilation, JIT) are not part of the bound.
  const warm = tf.tensor2d(data.subarray(0, 256 * d), [256, d]);
  await knn(warm, undefined, Math.min(k, 255), { threads: 1 });
  await retrievalMetrics(warm, labels.subarray(0, 256));
  warm.dispose();
  try {
    out.push(
      await measure(`knn ${n}×${d}, k=${k}`, knnBound(n, d, k), async () => {
        const r = await knn(x, undefined, k, { threads: 1 });
        if (r.indices.length !== n * k) throw new Error("knn: wrong result size");
      }),
    );
    if (retrieval) {
      out.push(
        await measure(
          `retrievalMetrics ${n}×${d}, ${classes} classes`,
          retrievalBound(n, d),
          () => retrievalMetrics(x, labels),
        ),
      );
    }
  } finally {
    x.dispose();
  }
  return out;
}

if (import.meta.main) {
  const args = Object.fromEntries(
    Deno.args.join(" ").split("--").filter((s) => s.trim()).map((s) => s.trim().split(/\s+/)),
  );
  const n = Number(args.n ?? 100_000), d = Number(args.d ?? 64), k = Number(args.k ?? 10);
  const retrieval = args.retrieval !== "false";
  const classes = Number(args.classes ?? 100);
  const MiB = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8) + " MiB";
  console.log(`backend: ${tf.getBackend()}`);
  for (const m of await measureAll({ n, d, k, retrieval, classes })) {
    console.log(
      `${m.label.padEnd(40)} ${m.seconds.toFixed(1).padStart(7)} s  peak rss +${
        MiB(m.peakRssGrowth)
      }  peak tf +${MiB(m.peakTfGrowth)}  bound ${MiB(m.bound)}  ${
        m.peakRssGrowth <= m.bound ? "within" : "EXCEEDED"
      }`,
    );
  }
}
