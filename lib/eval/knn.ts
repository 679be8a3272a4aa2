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
 * With `threads > 1` the block pairs are shared among worker threads (each with its own `wasm`
 * backend and its own top-k of every row); the main thread merges their lists.
 *
 * The matrix-product families multiply by a pre-transposed reference block rather than calling
 * {@linkcode pairwiseDistances}: on the `wasm` backend `matMul(a, b, false, true)` is several
 * times slower than `matMul(a, bᵀ)`, and ranking needs only the keys above, not the distances.
 *
 * Measured (`bench/knn.ts`, 10,000 × 64 float32, exact 11-NN against itself, same run, 2 shared
 * cores under load): 2 threads ≈ 0.65–0.7 × faiss `IndexFlatL2` time with 2 OpenMP threads;
 * 1 thread ≈ 2.3 × faiss with 1 thread (the wasm SIMD matrix product runs at about 26 GFLOP/s).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
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
   * worker threads (kept for later calls; stop them with {@linkcode terminateKnnWorkers}), each
   * with its own TensorFlow.js `wasm` backend. Default 1.
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

function checkFinite(data: Float32Array, name: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(`knn: ${name} has a non-finite value (${data[i]}) at flat index ${i}`);
    }
  }
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
  const top = new TopK(n, k);

  if (family === "generic") {
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

  // Matrix-product families. Keys: euclidean/sqeuclidean ‖r‖² − 2 q·r; cosine/dot −q·r.
  let q = query, r = self ? query : reference!;
  if (family === "cosine" || family === "cosineSimilarity") {
    q = normalizeRows(q, n, d);
    r = self ? q : normalizeRows(r, m, d);
  }
  const job: ScanJob = {
    q,
    r: self ? null : r,
    n,
    m,
    d,
    k,
    family,
    excludeSelf,
    block,
    simd: options.simd,
  };
  const threads = Math.max(1, Math.floor(options.threads ?? 1));
  const pairs = blockPairs(job).length;
  if (threads > 1 && pairs > 1) {
    const parts = await runInWorkers(job, Math.min(threads, pairs));
    for (const part of parts) {
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < k; t++) {
          const idx = part.indices[i * k + t];
          if (idx >= 0) top.push(i, part.keys[i * k + t], idx);
        }
      }
    }
  } else {
    scanBlocks(job, top, 0, 1);
  }
  return finish(job, top);
}

function finish(job: ScanJob, top: TopK): KnnResult {
  const { n, k, d, q } = job;
  const qNorm = job.family === "euclidean" || job.family === "sqeuclidean"
    ? squaredNorms(q, n, d)
    : new Float32Array(n);
  const distances = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const key = top.keys[i * k + t];
      let v: number;
      switch (job.family) {
        case "euclidean":
          v = Math.sqrt(Math.max(0, qNorm[i] + key));
          break;
        case "sqeuclidean":
          v = Math.max(0, qNorm[i] + key);
          break;
        case "cosine":
          v = 1 + key;
          break;
        default: // cosineSimilarity, dot
          v = -key;
      }
      distances[i * k + t] = v;
    }
  }
  return { indices: top.indices, distances, k };
}

/**
 * Streams ranking keys of `query` against `reference` in row blocks: `callback(keys, start, rows)`
 * receives a row-major `[rows, m]` Float32Array in which, within each row, a smaller key means a
 * nearer reference. Keys are the metric's value (negated for similarities), except for the
 * matrix-product families where they drop the per-row constant: `‖r‖² − 2q·r` for
 * `euclidean`/`sqeuclidean`, `−q·r` for `dot` and (on normalised rows) for the cosine pair; these
 * are the keys {@linkcode knn} ranks by. `keys` is reused between calls.
 *
 * @param query `[n * d]` row-major
 * @param reference `[m * d]` row-major
 * @example
 * ```ts
 * import { forEachKeyBlock } from "./knn.ts";
 * const q = new Float32Array([0]), r = new Float32Array([3, 1]);
 * await forEachKeyBlock(q, r, 1, 2, 1, "euclidean", 1, (keys) => console.log([...keys])); // [9, 1]
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
  if (family === "cosine" || family === "cosineSimilarity") {
    q = normalizeRows(q, n, d);
    r = normalizeRows(r, m, d);
  }
  const l2 = family === "euclidean" || family === "sqeuclidean";
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

let pool: Worker[] = [];

function getPool(size: number): Worker[] {
  while (pool.length < size) {
    pool.push(new Worker(new URL("./knn_worker.ts", import.meta.url).href, { type: "module" }));
  }
  return pool.slice(0, size);
}

/**
 * Stops the worker threads that {@linkcode knn} starts when `threads > 1`; a later call starts
 * new ones. Call it before a program exits or when a test ends.
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

function runNow(job: ScanJob, threads: number): Promise<WorkerPart[]> {
  const workers = getPool(threads);
  return Promise.all(workers.map((worker, part) =>
    new Promise<WorkerPart>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        if (e.data.error) reject(new Error(`knn worker: ${e.data.error}`));
        else resolve(e.data as WorkerPart);
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(`knn worker: ${e.message}`));
      };
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
  checkFinite(q, "query");
  let r: Float32Array | null = null;
  if (reference !== undefined) {
    r = await reference.data() as Float32Array;
    checkFinite(r, "reference");
  }
  return knnArrays(q, r, n, d, k, { ...options, m, excludeSelf });
}
