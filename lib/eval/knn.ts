/**
 * Exact k-nearest-neighbour search, computed in blocks so that memory stays bounded whatever the
 * sizes of the query and reference sets.
 *
 * For the Euclidean family and the inner-product family the distances of a block come from one
 * matrix product on the active TensorFlow.js backend (`wasm` is fastest on CPUs): with
 * `g = q · rᵀ`, squared Euclidean distance is `‖q‖² + ‖r‖² − 2g`, and only `‖r‖² − 2g` is needed
 * to rank the references of one query. A running top-k per query (a sorted buffer) is kept in plain
 * JavaScript; the square root is taken only for the k kept. When the query set is its own
 * reference set (`reference` omitted) the distance matrix is symmetric and only the blocks on
 * and above the diagonal are computed, each serving both its rows and its columns. Other metrics
 * go through {@linkcode pairwiseDistances} block by block.
 *
 * Ties are broken by the smaller reference index, as faiss and a stable sort do.
 *
 * **Exact ranking far from the origin.** In float32 the expansion `‖q‖² + ‖r‖² − 2q·r` loses every
 * digit of a distance that is small next to the norms (points near `[1000, 1000]` a quarter apart
 * come out at distance 0). So the Euclidean family first centres both sets on the mean of the
 * reference set (distances are translation invariant), keeps a few more candidates than asked
 * (`k + 4`) from the matrix products, and then re-ranks those candidates by their exact distances,
 * recomputed in float64 from the original coordinates (as scikit-learn computes float32 distances
 * in float64 since its PR 13410). A per-row bound on the float32 rounding error certifies that no
 * reference outside the candidates can be nearer; a row without that certificate (tied or
 * near-tied distances beyond the candidates) is searched again exactly, in float64, against every
 * reference. The reported values are therefore the exact distances (rounded to float32) and the
 * order is the exact order, ties by smaller index. The cosine and inner-product families are
 * re-ranked the same way.
 *
 * With `threads > 1` (default: `navigator.hardwareConcurrency`, every core, as faiss uses every
 * core by default) the block pairs are shared among worker threads (each with its own `wasm`
 * backend and its own top-k of every row); the main thread merges their lists. Worker threads do
 * not keep a program alive: it exits when its own work is done, without
 * {@linkcode terminateKnnWorkers}. A search of a single block (at most `blockSize` queries and
 * references) always runs in the calling thread.
 *
 * The matrix-product families multiply by a pre-transposed reference block rather than calling
 * {@linkcode pairwiseDistances}: on the `wasm` backend `matMul(a, b, false, true)` is several
 * times slower than `matMul(a, bᵀ)`, and ranking needs only the keys above, not the distances.
 *
 * Measured: `deno task bench knn` (`bench/knn.ts`) runs this and faiss's `IndexFlatL2` side by
 * side, each with its default thread count, and prints the ratio.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Worker as NodeWorker } from "node:worker_threads";
import { checkFiniteValues, checkOptionKeys } from "../validate.ts";
import {
  type Metric,
  type MetricSpec,
  pairwiseDistances,
  prepareMetric,
  resolveMetric,
} from "../distances.ts";
import {
  blockPairs,
  normalizeRows,
  readFloat32,
  scanBlocks,
  type ScanJob,
  squaredNorms,
  TopK,
  transposedRows,
} from "./knn_core.ts";

export { scanBlocks, type ScanJob, TopK } from "./knn_core.ts";

/** Options of {@linkcode knn}. */
export interface KnnOptions {
  /** The distance (or similarity) to rank by. Default `"euclidean"`. */
  metric?: MetricSpec | Metric;
  /**
   * Leave out, for query i, reference i (its own entry). Default: true when `reference` is
   * omitted (the query set is its own reference set), else false. Requires as many references
   * as queries.
   */
  excludeSelf?: boolean;
  /** Rows (and columns) per distance block; memory is about `blockSize²` floats. Default 1024. */
  blockSize?: number;
  /**
   * Threads for the matrix-product metrics: 1 computes in this thread; more start that many
   * worker threads (kept for later calls, without keeping the program alive; stop them with
   * {@linkcode terminateKnnWorkers}), each with its own TensorFlow.js `wasm` backend. Used only
   * when there is more than one block. Default `navigator.hardwareConcurrency` (every core).
   */
  threads?: number;
  /**
   * Filter candidates with the WebAssembly SIMD kernels of `knn_simd.ts` (where the runtime
   * supports SIMD); false scans every entry in JavaScript. Same results either way. Default true.
   */
  simd?: boolean;
}

/** The k nearest references of each query, nearest first. */
export interface KnnResult {
  /** Reference indices, `[n * k]` row-major: neighbour j of query i is at `i * k + j`. */
  indices: Int32Array;
  /**
   * The metric's values for those neighbours, `[n * k]`: distances for distances (ascending),
   * similarities for similarities such as `"dot"` (descending).
   */
  distances: Float32Array;
  /** Neighbours per query. */
  k: number;
}

type Family = "euclidean" | "sqeuclidean" | "cosine" | "cosineSimilarity" | "dot" | "generic";

function familyOf(metric: Metric): Family {
  switch (metric.name) {
    case "euclidean":
    case "sqeuclidean":
    case "cosine":
    case "cosineSimilarity":
    case "dot":
      return metric.name;
    default:
      return "generic";
  }
}

/**
 * Candidates kept beyond k for the exact float64 re-ranking: near-ties at the k-th place that
 * float32 rounding may have swapped are then still among the candidates.
 */
const RERANK_EXTRA = Number(Deno.env.get("XTRA") ?? 4);

/** Unit round-off of float32. */
const U32 = 2 ** -24;

/**
 * The default thread count of {@linkcode knn}: `navigator.hardwareConcurrency` (every core), 1
 * where the runtime does not report it.
 *
 * @example
 * ```ts
 * import { defaultKnnThreads } from "./knn.ts";
 * defaultKnnThreads() >= 1; // true
 * ```
 */
export function defaultKnnThreads(): number {
  const n = typeof navigator === "undefined" ? 1 : Number(navigator.hardwareConcurrency);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/**
 * A centre for the rows of a row-major `[rows, d]` array: each column's mean rounded to a multiple
 * of a power of two `s` (at least the spacing of float32 numbers at the column's largest
 * magnitude, at most its spread), so that `x − centre` is exact in float32 for the values
 * near the centre: data on a grid (say multiples of 1/4) stays on it, and exactly tied distances
 * stay tied in the centred float32 keys.
 */
function centreOf(data: Float32Array, rows: number, d: number): Float64Array {
  const centre = new Float64Array(d);
  for (let t = 0; t < d; t++) {
    let sum = 0, big = 0;
    for (let i = 0; i < rows; i++) {
      const v = data[i * d + t];
      sum += v;
      big = Math.max(big, Math.abs(v));
    }
    const mean = sum / Math.max(rows, 1);
    let spread = 0;
    for (let i = 0; i < rows; i++) spread = Math.max(spread, Math.abs(data[i * d + t] - mean));
    if (spread === 0 || big === 0) {
      centre[t] = rows > 0 ? data[t] : 0;
      continue;
    }
    const ulp = 2 ** (Math.floor(Math.log2(big)) - 23);
    const s = Math.max(2 ** Math.floor(Math.log2(spread)), ulp);
    centre[t] = Math.round(mean / s) * s;
  }
  return centre;
}

/** `data − centre` row by row, rounded to float32. */
function centred(data: Float32Array, rows: number, d: number, centre: Float64Array): Float32Array {
  const out = new Float32Array(rows * d);
  for (let i = 0; i < rows; i++) {
    for (let t = 0; t < d; t++) out[i * d + t] = data[i * d + t] - centre[t];
  }
  return out;
}

/**
 * The core of {@linkcode knn} on plain arrays: exact k nearest rows of `reference` for each row
 * of `query`, by matrix products on the active backend.
 *
 * @param query `[n * d]` row-major
 * @param reference `[m * d]` row-major, or `null` for "the query set itself" (symmetric, self excluded)
 * @example
 * ```ts
 * import { knnArrays } from "./knn.ts";
 * const x = new Float32Array([0, 1, 3]);
 * const r = await knnArrays(x, null, 3, 1, 1, { metric: "euclidean" });
 * console.log([...r.indices]); // [1, 0, 1]
 * ```
 */
export async function knnArrays(
  query: Float32Array,
  reference: Float32Array | null,
  n: number,
  d: number,
  k: number,
  options: KnnOptions & { m?: number } = {},
): Promise<KnnResult> {
  const metric = resolveMetric(options.metric ?? "euclidean");
  const family = familyOf(metric);
  const self = reference === null;
  const m = self ? n : options.m ?? reference!.length / d;
  const excludeSelf = options.excludeSelf ?? self;
  const block = Math.max(1, Math.floor(options.blockSize ?? 1024));

  if (family === "generic") {
    const top = new TopK(n, k);
    const qT = tf.tensor2d(query, [n, d]);
    const rT = self ? qT : tf.tensor2d(reference!, [m, d]);
    const sign = metric.isSimilarity ? -1 : 1;
    // Data-dependent parameters (seuclidean's V, mahalanobis' VI) from the full sets, not a block.
    const prepared = prepareMetric(metric, qT, rT);
    try {
      for (let i0 = 0; i0 < n; i0 += block) {
        const i1 = Math.min(n, i0 + block);
        for (let j0 = 0; j0 < m; j0 += block) {
          const j1 = Math.min(m, j0 + block);
          const t = tf.tidy(() =>
            pairwiseDistances(
              qT.slice([i0, 0], [i1 - i0, d]),
              rT.slice([j0, 0], [j1 - j0, d]),
              prepared,
              { checkFinite: false },
            )
          );
          const v = await t.data() as Float32Array;
          t.dispose();
          const w = j1 - j0;
          for (let i = i0; i < i1; i++) {
            const row = (i - i0) * w;
            const worst = top.worst;
            for (let j = j0; j < j1; j++) {
              const key = sign * v[row + j - j0];
              if (key <= worst[i] && !(excludeSelf && i === j)) top.push(i, key, j);
            }
          }
        }
      }
    } finally {
      qT.dispose();
      if (!self) rT.dispose();
    }
    const distances = new Float32Array(n * k);
    for (let t = 0; t < n * k; t++) distances[t] = sign * top.keys[t];
    return { indices: top.indices, distances, k };
  }

  // Matrix-product families. Keys: euclidean/sqeuclidean ‖r‖² − 2 q·r on rows centred on the
  // reference mean; cosine/dot −q·r. The candidates are then re-ranked exactly (see the module
  // documentation).
  const ref = self ? query : reference!;
  const available = m - (excludeSelf ? 1 : 0);
  const kept = Math.min(available, k + RERANK_EXTRA);
  let q = query, r = ref;
  if (family === "euclidean" || family === "sqeuclidean") {
    const centre = centreOf(ref, m, d);
    q = centred(query, n, d, centre);
    r = self ? q : centred(ref, m, d, centre);
  } else if (family === "cosine" || family === "cosineSimilarity") {
    q = normalizeRows(q, n, d);
    r = self ? q : normalizeRows(r, m, d);
  }
  const top = new TopK(n, kept);
  const job: ScanJob = {
    q,
    r: self ? null : r,
    n,
    m,
    d,
    k: kept,
    family,
    excludeSelf,
    block,
    simd: options.simd,
  };
  const threads = Math.max(1, Math.floor(options.threads ?? defaultKnnThreads()));
  const pairs = blockPairs(job).length;
  if (threads > 1 && pairs > 1) {
    const tw = performance.now();
    const parts = await runInWorkers(job, Math.min(threads, pairs));
    if (Deno.env.get("KNN_PROF")) console.log("workers ms", performance.now() - tw);
    for (const part of parts) {
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < kept; t++) {
          const idx = part.indices[i * kept + t];
          if (idx >= 0) top.push(i, part.keys[i * kept + t], idx);
        }
      }
    }
  } else {
    scanBlocks(job, top, 0, 1);
  }
  const t1 = performance.now();
  const out = rerank({ query, ref, r, n, m, d, k, kept, family, excludeSelf, top, q });
  if (Deno.env.get("KNN_PROF")) {
    console.log("rerank ms", performance.now() - t1, "fallbacks", FALLBACKS);
  }
  FALLBACKS = 0;
  return out;
}

/** What {@linkcode rerank} needs: the original and the scanned (centred/normalised) rows. */
interface Rerank {
  /** Original queries `[n * d]`. */
  query: Float32Array;
  /** Original references `[m * d]`. */
  ref: Float32Array;
  /** Scanned queries (centred or normalised). */
  q: Float32Array;
  /** Scanned references. */
  r: Float32Array;
  n: number;
  m: number;
  d: number;
  k: number;
  /** Candidates per row in `top`. */
  kept: number;
  family: Family;
  excludeSelf: boolean;
  top: TopK;
}

/** Squared L2 norm of row i of a row-major array, in float64. */
function rowNorm2(x: Float32Array, i: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += x[i * d + t] * x[i * d + t];
  return s;
}

/**
 * The exact ranking key of reference j for query i, in float64 from the original coordinates:
 * the squared distance (Euclidean family), 1 − cos (cosine), −cos (cosineSimilarity) or −q·r
 * (dot). A zero row has cosine 0 with everything, as {@linkcode normalizeRows} makes it.
 */
function exactKey(
  family: Family,
  query: Float32Array,
  ref: Float32Array,
  i: number,
  j: number,
  d: number,
  qn: number,
  rn: Float64Array,
): number {
  const a = i * d, b = j * d;
  if (family === "euclidean" || family === "sqeuclidean") {
    let s = 0;
    for (let t = 0; t < d; t++) {
      const u = query[a + t] - ref[b + t];
      s += u * u;
    }
    return s;
  }
  let dot = 0;
  for (let t = 0; t < d; t++) dot += query[a + t] * ref[b + t];
  if (family === "dot") return -dot;
  const cos = qn > 0 && rn[j] > 0 ? dot / Math.sqrt(qn * rn[j]) : 0;
  return family === "cosine" ? 1 - cos : -cos;
}

/**
 * Re-ranks the kept candidates of each row by their exact keys and keeps k; a row whose
 * candidates cannot be certified (see the module documentation) is searched exactly against
 * every reference.
 */
function rerank(job: Rerank): KnnResult {
  const { query, ref, q, r, n, m, d, k, kept, family, excludeSelf, top } = job;
  const l2 = family === "euclidean" || family === "sqeuclidean";
  const cosineLike = family === "cosine" || family === "cosineSimilarity";
  // Original squared norms (for the exact cosine); the largest scanned reference norm (for the
  // rounding bound).
  const rn = new Float64Array(cosineLike ? m : 0);
  for (let j = 0; j < rn.length; j++) rn[j] = rowNorm2(ref, j, d);
  let maxR = 0;
  for (let j = 0; j < m; j++) maxR = Math.max(maxR, rowNorm2(r, j, d));
  maxR = Math.sqrt(maxR);
  // |float32 key − exact key| ≤ slack · (‖q‖ + ‖r‖)² for the scanned rows: the dot product's
  // rounding (γ_d ‖q‖‖r‖, twice), the rounding of ‖r‖², of the key to float32 and of the
  // centred coordinates, each at most a few units of u·(‖q‖ + ‖r‖)².
  const slack = (2 * d + 16) * U32;
  const everything = kept === m - (excludeSelf ? 1 : 0);
  const indices = new Int32Array(n * k), distances = new Float32Array(n * k);
  const candKey = new Float64Array(kept), candIdx = new Int32Array(kept);
  const exact = new TopKExact(k);
  for (let i = 0; i < n; i++) {
    const qn = cosineLike ? rowNorm2(query, i, d) : 0;
    // Insertion sort by (exact key, index) of the few candidates.
    for (let t = 0; t < kept; t++) {
      const j = top.indices[i * kept + t];
      const key = exactKey(family, query, ref, i, j, d, qn, rn);
      let p = t;
      while (p > 0 && (candKey[p - 1] > key || (candKey[p - 1] === key && candIdx[p - 1] > j))) {
        candKey[p] = candKey[p - 1];
        candIdx[p] = candIdx[p - 1];
        p--;
      }
      candKey[p] = key;
      candIdx[p] = j;
    }
    // Certificate: a reference outside the candidates has a scanned key ≥ the worst kept one,
    // hence an exact key ≥ worst − bound; the k-th exact key (in scanned-key units) must be
    // below that.
    let certain = everything;
    if (!certain) {
      const worst = top.keys[i * kept + kept - 1];
      const kth = candKey[k - 1];
      const qs = l2 || family === "dot" ? rowNorm2(q, i, d) : 1;
      const inScanUnits = l2 ? kth - qs : family === "cosine" ? kth - 1 : kth;
      const qNorm = Math.sqrt(qs);
      const bound = l2
        ? slack * (qNorm + maxR) ** 2
        : family === "dot"
        ? slack * (qNorm * maxR + 1e-30)
        : slack * 4;
      certain = inScanUnits < worst - bound;
    }
    if (!certain) FALLBACKS++;
    if (certain) {
      for (let t = 0; t < k; t++) {
        indices[i * k + t] = candIdx[t];
        distances[i * k + t] = reported(family, candKey[t]);
      }
      continue;
    }
    // Exact search of this row against every reference.
    exact.reset();
    for (let j = 0; j < m; j++) {
      if (excludeSelf && j === i) continue;
      exact.push(exactKey(family, query, ref, i, j, d, qn, rn), j);
    }
    for (let t = 0; t < k; t++) {
      indices[i * k + t] = exact.indices[t];
      distances[i * k + t] = reported(family, exact.keys[t]);
    }
  }
  return { indices, distances, k };
}

export let FALLBACKS = 0;
/** The reported value of an exact key: a distance, or the similarity for the similarity families. */
function reported(family: Family, key: number): number {
  switch (family) {
    case "euclidean":
      return Math.sqrt(key);
    case "cosineSimilarity":
    case "dot":
      return -key;
    default: // sqeuclidean, cosine
      return key;
  }
}

/** A float64 top-k of one row, ties by smaller index (for the exact fallback search). */
class TopKExact {
  readonly keys: Float64Array;
  readonly indices: Int32Array;
  private size = 0;
  constructor(readonly k: number) {
    this.keys = new Float64Array(k);
    this.indices = new Int32Array(k);
  }
  reset(): void {
    this.size = 0;
  }
  /** Offers (key, index); indices must arrive in ascending order (ties keep the earlier). */
  push(key: number, index: number): void {
    const { k, keys, indices } = this;
    if (this.size === k && !(key < keys[k - 1])) return;
    let p = this.size < k ? this.size++ : k - 1;
    while (p > 0 && keys[p - 1] > key) {
      keys[p] = keys[p - 1];
      indices[p] = indices[p - 1];
      p--;
    }
    keys[p] = key;
    indices[p] = index;
  }
}

/**
 * Streams ranking keys of `query` against `reference` in row blocks: `callback(keys, start, rows)`
 * receives a row-major `[rows, m]` Float32Array in which, within each row, a smaller key means a
 * nearer reference. Keys are the metric's value (negated for similarities), except for the
 * matrix-product families where they drop the per-row constant: `‖r‖² − 2q·r` for
 * `euclidean`/`sqeuclidean` (on rows centred on the mean of `reference`, so that the float32 keys
 * keep their digits for data far from the origin), `−q·r` for `dot` and (on normalised rows) for
 * the cosine pair; these are the keys {@linkcode knn} scans by. `keys` is reused between calls.
 *
 * @param query `[n * d]` row-major
 * @param reference `[m * d]` row-major
 * @example
 * ```ts
 * import { forEachKeyBlock } from "./knn.ts";
 * const q = new Float32Array([0]), r = new Float32Array([3, 1]);
 * // Centred on the reference mean 2: ‖r − 2‖² − 2(q − 2)(r − 2) = [5, −3] (distance² − 4).
 * await forEachKeyBlock(q, r, 1, 2, 1, "euclidean", 1, (keys) => console.log([...keys])); // [5, -3]
 * ```
 */
export async function forEachKeyBlock(
  query: Float32Array,
  reference: Float32Array,
  n: number,
  m: number,
  d: number,
  metricSpec: MetricSpec | Metric,
  blockRows: number,
  callback: (keys: Float32Array, start: number, rows: number) => void,
): Promise<void> {
  const metric = resolveMetric(metricSpec);
  const family = familyOf(metric);
  const out = new Float32Array(Math.min(n, blockRows) * m);
  if (family === "generic") {
    const qT = tf.tensor2d(query, [n, d]);
    const rT = tf.tensor2d(reference, [m, d]);
    const sign = metric.isSimilarity ? -1 : 1;
    const prepared = prepareMetric(metric, qT, rT);
    try {
      for (let start = 0; start < n; start += blockRows) {
        const rows = Math.min(blockRows, n - start);
        const t = tf.tidy(() =>
          pairwiseDistances(qT.slice([start, 0], [rows, d]), rT, prepared, { checkFinite: false })
        );
        const v = await t.data() as Float32Array;
        t.dispose();
        for (let t2 = 0; t2 < rows * m; t2++) {
          const x = v[t2];
          if (x !== x) {
            throw new Error(
              `${metric.name}: distance of query ${start + Math.floor(t2 / m)} to reference ${
                t2 % m
              } is NaN`,
            );
          }
          out[t2] = sign * x;
        }
        callback(out.subarray(0, rows * m), start, rows);
      }
    } finally {
      qT.dispose();
      rT.dispose();
    }
    return;
  }
  let q = query, r = reference;
  const l2 = family === "euclidean" || family === "sqeuclidean";
  if (l2) {
    // Centred on the reference mean: the keys keep their digits far from the origin.
    const centre = centreOf(reference, m, d);
    q = centred(query, n, d, centre);
    r = query === reference ? q : centred(reference, m, d, centre);
  } else if (family === "cosine" || family === "cosineSimilarity") {
    q = normalizeRows(q, n, d);
    r = normalizeRows(r, m, d);
  }
  const rNorm = l2 ? squaredNorms(r, m, d) : new Float32Array(m);
  const f = l2 ? 2 : 1;
  const rT = tf.tensor2d(transposedRows(r, d, 0, m), [d, m]);
  try {
    for (let start = 0; start < n; start += blockRows) {
      const rows = Math.min(blockRows, n - start);
      const qb = tf.tensor2d(q.subarray(start * d, (start + rows) * d), [rows, d]);
      const g = tf.matMul(qb, rT);
      try {
        const v = readFloat32(g);
        for (let i = 0; i < rows; i++) {
          const off = i * m;
          for (let j = 0; j < m; j++) out[off + j] = rNorm[j] - f * v[off + j];
        }
      } finally {
        g.dispose();
        qb.dispose();
      }
      callback(out.subarray(0, rows * m), start, rows);
      await Promise.resolve();
    }
  } finally {
    rT.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Worker pool: each worker runs scanBlocks on its share of block pairs with its own top-k of all
// rows; the main thread merges the shares.

interface WorkerPart {
  keys: Float32Array;
  indices: Int32Array;
}

let pool: NodeWorker[] = [];

function getPool(size: number): NodeWorker[] {
  while (pool.length < size) {
    const worker = new NodeWorker(new URL("./knn_worker.ts", import.meta.url));
    // An idle worker does not keep the program alive; it is ref'd while it works.
    worker.unref();
    pool.push(worker);
  }
  return pool.slice(0, size);
}

/**
 * Stops the worker threads that {@linkcode knn} starts when `threads > 1`; a later call starts
 * new ones. Idle workers do not keep a program alive, so this is needed only to free their memory
 * (or at the end of a test).
 *
 * @example
 * ```ts
 * import { terminateKnnWorkers } from "./knn.ts";
 * terminateKnnWorkers();
 * ```
 */
export function terminateKnnWorkers(): void {
  for (const w of pool) w.terminate();
  pool = [];
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs `job` on the pool; calls are serialised (each worker serves one job at a time). */
function runInWorkers(job: ScanJob, threads: number): Promise<WorkerPart[]> {
  const run = queue.then(() => runNow(job, threads));
  queue = run.catch(() => undefined);
  return run;
}

let webPool: Worker[] = [];
function runWeb(job: ScanJob, threads: number): Promise<WorkerPart[]> {
  while (webPool.length < threads) {
    webPool.push(
      new Worker(new URL("./knn_worker_web.ts", import.meta.url).href, { type: "module" }),
    );
  }
  return Promise.all(
    webPool.slice(0, threads).map((worker, part) =>
      new Promise<WorkerPart>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent) => {
          if (e.data.error) reject(new Error(`knn worker: ${e.data.error}`));
          else resolve(e.data as WorkerPart);
        };
        worker.postMessage({ job, part, parts: threads });
      })
    ),
  );
}
export function killWeb() {
  for (const w of webPool) w.terminate();
  webPool = [];
}
function runNow(job: ScanJob, threads: number): Promise<WorkerPart[]> {
  if (Deno.env.get("WEBW")) return runWeb(job, threads);
  const workers = getPool(threads);
  return Promise.all(workers.map((worker, part) =>
    new Promise<WorkerPart>((resolve, reject) => {
      const done = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.unref();
      };
      const onMessage = (data: WorkerPart & { error?: string }) => {
        done();
        if (data.error) reject(new Error(`knn worker: ${data.error}`));
        else resolve(data);
      };
      const onError = (e: Error) => {
        done();
        pool = pool.filter((w) => w !== worker);
        reject(new Error(`knn worker: ${e?.message ?? e}`));
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.ref();
      worker.postMessage({ job, part, parts: threads });
    })
  ));
}

/**
 * Exact k nearest neighbours of each query row among the reference rows.
 *
 * When `reference` is omitted, the query set is searched against itself and each query's own
 * entry is excluded (unless `excludeSelf: false`, which returns each point as its own nearest
 * neighbour, as faiss does when an index is searched with its own vectors). Memory stays bounded (blocks of `blockSize × blockSize` distances plus the
 * inputs and `n × k` results), so 100,000 × 100,000 searches run in a few hundred MiB.
 *
 * @param query `[n, d]`
 * @param reference `[m, d]` (default: `query`, with `excludeSelf`)
 * @param k neighbours per query, 1 ≤ k ≤ m (m − 1 when excluding self)
 * @returns indices and distances, each `[n * k]` row-major, nearest first
 * @throws Error when k is out of range, dimensions differ, or an input holds NaN or ±Infinity.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { knn } from "./knn.ts";
 * const x = tf.tensor2d([[0], [1], [3]]);
 * const { indices, distances } = await knn(x, undefined, 1);
 * console.log([...indices], [...distances]); // [1, 0, 1] [1, 1, 2]
 * ```
 */
export async function knn(
  query: tf.Tensor2D,
  reference: tf.Tensor2D | undefined,
  k: number,
  options: KnnOptions = {},
): Promise<KnnResult> {
  checkOptionKeys("knn", options, ["metric", "excludeSelf", "blockSize", "threads", "simd"]);
  if (query.rank !== 2) throw new Error(`knn: query must be [n, d], got shape [${query.shape}]`);
  const [n, d] = query.shape;
  if (n === 0) throw new Error("knn: query is empty (0 rows)");
  if (d === 0) throw new Error("knn: query has dimension 0");
  if (reference !== undefined) {
    if (reference.rank !== 2) {
      throw new Error(`knn: reference must be [m, d], got shape [${reference.shape}]`);
    }
    if (reference.shape[1] !== d) {
      throw new Error(
        `knn: query has dimension ${d} but reference has dimension ${reference.shape[1]}`,
      );
    }
  }
  const m = reference === undefined ? n : reference.shape[0];
  const excludeSelf = options.excludeSelf ?? reference === undefined;
  if (excludeSelf && reference !== undefined && m !== n) {
    throw new Error(`knn: excludeSelf needs as many references as queries, got ${m} and ${n}`);
  }
  const available = m - (excludeSelf ? 1 : 0);
  if (!Number.isInteger(k) || k < 1 || k > available) {
    throw new Error(
      `knn: k must be an integer in [1, ${available}] (references${
        excludeSelf ? " minus self" : ""
      }), got ${k}`,
    );
  }
  const q = await query.data() as Float32Array;
  checkFiniteValues("knn", "query", q, d);
  let r: Float32Array | null = null;
  if (reference !== undefined) {
    r = await reference.data() as Float32Array;
    checkFiniteValues("knn", "reference", r, d);
  }
  return knnArrays(q, r, n, d, k, { ...options, m, excludeSelf });
}
