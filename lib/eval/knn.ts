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
 * **Right far from the origin.** In float32 the expansion `‖q‖² + ‖r‖² − 2q·r` loses every digit
 * of a distance that is small next to the norms (points near `[1000, 1000]` a quarter apart come
 * out at distance 0). So the Euclidean family first centres both sets on (about) the mean of the
 * reference set — distances are translation invariant; the mean is rounded to a power of two of
 * the data's scale, so that centring is exact in float32 and data on a grid stay on it — and the
 * float32 keys then carry the digits of the data's spread, not of its offset. The scan keeps a few
 * more candidates than asked (`k + 2`), and those are re-ranked by their exact distances,
 * recomputed in float64 from the original coordinates (as scikit-learn computes float32 distances
 * in float64 since its PR 13410; with worker threads, each computes the exact distances of its own
 * candidates): the reported values are the exact distances (rounded to float32) and the order
 * among the candidates is the exact order, ties by smaller index. The candidates themselves come
 * from the float32 scan: a reference whose distance is within float32 rounding of the k-th (a
 * near-tie at the precision of the centred data) can fall on either side of the cut, as in faiss.
 * The cosine and inner-product families are re-ranked the same way.
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
 * side, each with its default thread count, and prints the ratio: 0.51–0.72 × faiss's time on the
 * 2-core development machine, measured under load (faiss 1.7.3, 2 threads each; neighbour sets
 * 100% equal). The centring and exact re-ranking cost about 3–9% against the plain float32 scan
 * (old and new interleaved in one process, medians of 15 paired runs, under load).
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
  exactKey,
  normalizeRows,
  readFloat32,
  rowNorm2,
  scanBlocks,
  scanBound,
  type ScanJob,
  type ScanNorms,
  squaredNorms,
  TopK,
  toScanUnits,
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
const RERANK_EXTRA = 2;

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
  if (rows === 0) return centre;
  const sum = new Float64Array(d);
  const lo = data.slice(0, d), hi = data.slice(0, d);
  for (let i = 0, o = 0; i < rows; i++, o += d) {
    for (let t = 0; t < d; t++) {
      const v = data[o + t];
      sum[t] += v;
      if (v < lo[t]) lo[t] = v;
      else if (v > hi[t]) hi[t] = v;
    }
  }
  for (let t = 0; t < d; t++) {
    const mean = sum[t] / rows;
    const spread = Math.max(hi[t] - mean, mean - lo[t]);
    const big = Math.max(Math.abs(lo[t]), Math.abs(hi[t]));
    if (!(spread > 0) || big === 0) {
      centre[t] = data[t];
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
 * @throws Error when a value is NaN, Infinity or −Infinity (naming the argument and the row).
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
  checkFiniteValues("knnArrays", "query", query.subarray(0, n * d), d);
  if (!self) checkFiniteValues("knnArrays", "reference", reference!.subarray(0, m * d), d);
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
    // Data already around the origin get a centre of exactly 0 (the mean rounded to the scale of
    // the spread): no copy then.
    const centre = centreOf(ref, m, d);
    if (centre.some((c) => c !== 0)) {
      q = centred(query, n, d, centre);
      r = self ? q : centred(ref, m, d, centre);
    }
  } else if (family === "cosine" || family === "cosineSimilarity") {
    q = normalizeRows(q, n, d);
    r = self ? q : normalizeRows(r, m, d);
  }
  const top = new TopK(n, kept);
  let exactIn: Float64Array | undefined;
  let norms: ScanNorms | undefined;
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
    // The originals, for the exact keys the workers compute (when the scanned rows differ).
    query: q === query ? undefined : query,
    ref: self || r === ref ? undefined : ref,
  };
  const threads = Math.max(1, Math.floor(options.threads ?? defaultKnnThreads()));
  const pairs = blockPairs(job).length;
  if (threads > 1 && pairs > 1) {
    const parts = await runInWorkers(job, Math.min(threads, pairs), k);
    exactIn = new Float64Array(n * kept);
    mergeParts(parts, top, exactIn);
  } else {
    norms = scanBlocks(job, top, 0, 1);
  }
  return rerank({ query, ref, r, n, m, d, k, kept, family, top, q, exactIn, norms });
}

/**
 * Merges the workers' sorted top lists (each row ascending by (key, index), −1 for empty
 * slots; a (row, reference) pair appears in one part only) into `top`, row by row.
 */
function mergeParts(parts: WorkerPart[], top: TopK, exact: Float64Array): void {
  const { rows, k } = top;
  const p = parts.length;
  const cursor = new Int32Array(p);
  for (let i = 0; i < rows; i++) {
    const base = i * k;
    cursor.fill(0);
    for (let t = 0; t < k; t++) {
      let best = -1, bestKey = Infinity, bestIdx = -1, bestExact = NaN;
      for (let s = 0; s < p; s++) {
        const c = cursor[s];
        if (c >= k) continue;
        const idx = parts[s].indices[base + c];
        if (idx < 0) continue;
        const key = parts[s].keys[base + c];
        if (best < 0 || key < bestKey || (key === bestKey && idx < bestIdx)) {
          best = s, bestKey = key, bestIdx = idx, bestExact = parts[s].exact[base + c];
        }
      }
      if (best < 0) break;
      cursor[best]++;
      top.keys[base + t] = bestKey;
      top.indices[base + t] = bestIdx;
      exact[base + t] = bestExact;
    }
    top.worst[i] = top.keys[base + k - 1];
  }
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
  top: TopK;
  /** Exact keys of the slots of `top`, when the worker threads computed them. */
  exactIn?: Float64Array;
  /** Squared norms of the scanned rows, when this thread scanned them. */
  norms?: ScanNorms;
}

/**
 * Re-ranks the kept candidates of each row by their exact keys (computed here, or by the worker
 * threads in `exactIn`) and keeps k.
 */
function rerank(job: Rerank): KnnResult {
  const { query, ref, q, r, n, m, d, k, kept, family, top, exactIn, norms } = job;
  const cosineLike = family === "cosine" || family === "cosineSimilarity";
  // Original squared norms (for the exact cosine); the largest scanned reference norm (for the
  // rounding bound).
  const rn = new Float64Array(cosineLike ? m : 0);
  for (let j = 0; j < rn.length; j++) rn[j] = rowNorm2(ref, j, d);
  const rSq = norms?.rSq ?? squaredNorms(r, m, d);
  const qSq = norms?.qSq ?? squaredNorms(q, n, d);
  let maxR = 0;
  for (let j = 0; j < m; j++) maxR = Math.max(maxR, rSq[j]);
  maxR = Math.sqrt(maxR);
  const indices = new Int32Array(n * k), distances = new Float32Array(n * k);
  const candKey = new Float64Array(kept), candIdx = new Int32Array(kept);
  for (let i = 0; i < n; i++) {
    const qn = cosineLike ? rowNorm2(query, i, d) : 0;
    const qs = qSq[i];
    const bound = scanBound(family, d, qs, maxR);
    // The first k candidates (in scanned order) always, then each further one while its scanned
    // key could still hide an exact key below the largest exact key so far.
    const base = i * kept;
    let count = 0, largest = -Infinity;
    for (let t = 0; t < kept; t++) {
      // The scanned keys ascend: once one is beyond reach, so are the later ones.
      if (t >= k && top.keys[base + t] - bound > largest) break;
      const j = top.indices[base + t];
      const given = exactIn ? exactIn[base + t] : NaN;
      const key = given === given ? given : exactKey(family, query, ref, i, j, d, qn, rn);
      const u = toScanUnits(family, key, qs);
      if (u > largest) largest = u;
      // Insertion sort by (exact key, index).
      let p = count++;
      while (p > 0 && (candKey[p - 1] > key || (candKey[p - 1] === key && candIdx[p - 1] > j))) {
        candKey[p] = candKey[p - 1];
        candIdx[p] = candIdx[p - 1];
        p--;
      }
      candKey[p] = key;
      candIdx[p] = j;
    }
    for (let t = 0; t < k; t++) {
      indices[i * k + t] = candIdx[t];
      distances[i * k + t] = reported(family, candKey[t]);
    }
  }
  return { indices, distances, k };
}

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
    if (centre.some((c) => c !== 0)) {
      q = centred(query, n, d, centre);
      r = query === reference ? q : centred(reference, m, d, centre);
    }
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
  /** Exact keys of the same slots (float64). */
  exact: Float64Array;
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

/**
 * The number of worker threads {@linkcode knn} holds now (started by earlier calls with more
 * than one thread; 0 after {@linkcode terminateKnnWorkers}).
 *
 * @example
 * ```ts
 * import { knnWorkerCount, terminateKnnWorkers } from "./knn.ts";
 * terminateKnnWorkers();
 * console.log(knnWorkerCount()); // 0
 * ```
 */
export function knnWorkerCount(): number {
  return pool.length;
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs `job` on the pool; calls are serialised (each worker serves one job at a time). */
function runInWorkers(job: ScanJob, threads: number, k: number): Promise<WorkerPart[]> {
  const run = queue.then(() => runNow(job, threads, k));
  queue = run.catch(() => undefined);
  return run;
}

/** The bytes of a typed array, as an ArrayBuffer of its own (a copy only for a partial view). */
function bytesOf(a: Float32Array): ArrayBuffer {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength
    ? a.buffer as ArrayBuffer
    : a.slice().buffer as ArrayBuffer;
}

function runNow(job: ScanJob, threads: number, k: number): Promise<WorkerPart[]> {
  const workers = getPool(threads);
  // Typed arrays cross `node:worker_threads` slowly under Deno (tens of ms per MB), plain
  // ArrayBuffers fast: the job travels as buffers, and the worker answers with buffers.
  const message = {
    ...job,
    q: bytesOf(job.q),
    r: job.r ? bytesOf(job.r) : null,
    query: job.query ? bytesOf(job.query) : undefined,
    ref: job.ref ? bytesOf(job.ref) : undefined,
  };
  return Promise.all(workers.map((worker, part) =>
    new Promise<WorkerPart>((resolve, reject) => {
      const done = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.unref();
      };
      const onMessage = (
        data: { keys: ArrayBuffer; indices: ArrayBuffer; exact: ArrayBuffer; error?: string },
      ) => {
        done();
        if (data.error) reject(new Error(`knn worker: ${data.error}`));
        else {
          resolve({
            keys: new Float32Array(data.keys),
            indices: new Int32Array(data.indices),
            exact: new Float64Array(data.exact),
          });
        }
      };
      const onError = (e: Error) => {
        done();
        pool = pool.filter((w) => w !== worker);
        reject(new Error(`knn worker: ${e?.message ?? e}`));
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.ref();
      worker.postMessage({ job: message, part, parts: threads, k });
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
