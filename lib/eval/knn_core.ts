/**
 * The inner loop of exact k-nearest-neighbour search, shared by the main thread and the worker
 * threads of {@linkcode ./knn.ts}: a running top-k per row, and the scan of distance blocks
 * computed by matrix products. It imports only `@tensorflow/tfjs-core` so that a worker starts
 * quickly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { simdFilter } from "./knn_simd.ts";

/**
 * A running top-k of many rows at once: for row i, the k smallest keys seen so far, sorted
 * ascending, ties by smaller index. Keys are in `keys[i*k .. i*k+k)`, indices alongside.
 */
export class TopK {
  /** Keys, `[rows * k]`, sorted ascending within a row; `Infinity` for empty slots. */
  readonly keys: Float32Array;
  /** Indices, `[rows * k]`; −1 for empty slots. */
  readonly indices: Int32Array;
  /** The current worst kept key of each row, `[rows]` (what a candidate must beat). */
  readonly worst: Float32Array;

  /**
   * @param rows number of rows
   * @param k kept per row
   * @example
   * ```ts
   * import { TopK } from "./knn.ts";
   * const top = new TopK(1, 2);
   * top.push(0, 3, 7); top.push(0, 1, 8); top.push(0, 2, 9);
   * console.log([...top.indices]); // [8, 9]
   * ```
   */
  constructor(readonly rows: number, readonly k: number) {
    this.keys = new Float32Array(rows * k).fill(Infinity);
    this.indices = new Int32Array(rows * k).fill(-1);
    this.worst = new Float32Array(rows).fill(Infinity);
  }

  /**
   * Offers `(key, index)` to row `row`; kept when it beats the row's worst (smaller key, or equal
   * key and smaller index).
   *
   * @example
   * ```ts
   * import { TopK } from "./knn.ts";
   * const top = new TopK(1, 1);
   * top.push(0, 5, 3); top.push(0, 5, 1);
   * console.log(top.indices[0]); // 1
   * ```
   */
  push(row: number, key: number, index: number): void {
    const k = this.k, keys = this.keys, idx = this.indices;
    const base = row * k;
    let p = base + k - 1;
    if (key > keys[p] || (key === keys[p] && idx[p] >= 0 && index > idx[p])) return;
    // Shift larger entries right, then insert.
    while (p > base && (keys[p - 1] > key || (keys[p - 1] === key && idx[p - 1] > index))) {
      keys[p] = keys[p - 1];
      idx[p] = idx[p - 1];
      p--;
    }
    keys[p] = key;
    idx[p] = index;
    this.worst[row] = keys[base + k - 1];
  }
}

/**
 * The values of a float32 tensor, without a copy when the backend is `wasm` (the view is valid
 * until the next allocation on the wasm heap).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readFloat32 } from "./knn_core.ts";
 * readFloat32(tf.tensor1d([1, 2])); // [1, 2]
 * ```
 */
export function readFloat32(t: tf.Tensor): Float32Array {
  // deno-lint-ignore no-explicit-any
  const backend = tf.backend() as any;
  if (tf.getBackend() === "wasm" && typeof backend.typedArrayFromHeap === "function") {
    return backend.typedArrayFromHeap(t) as Float32Array;
  }
  return t.dataSync() as Float32Array;
}

/**
 * Rows scaled to unit L2 norm (zero rows stay zero), `[rows * d]`.
 *
 * @example
 * ```ts
 * import { normalizeRows } from "./knn_core.ts";
 * normalizeRows(new Float32Array([3, 4]), 1, 2); // [0.6, 0.8]
 * ```
 */
export function normalizeRows(data: Float32Array, rows: number, d: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += data[i * d + c] * data[i * d + c];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let c = 0; c < d; c++) out[i * d + c] = data[i * d + c] * inv;
  }
  return out;
}

/**
 * Squared L2 norm of each row, `[rows]`.
 *
 * @example
 * ```ts
 * import { squaredNorms } from "./knn_core.ts";
 * squaredNorms(new Float32Array([3, 4]), 1, 2); // [25]
 * ```
 */
export function squaredNorms(data: Float32Array, rows: number, d: number): Float32Array {
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += data[i * d + c] * data[i * d + c];
    out[i] = s;
  }
  return out;
}

/**
 * Rows [start, end) of a row-major `[rows, d]` array, transposed to `[d, end − start]`.
 *
 * @example
 * ```ts
 * import { transposedRows } from "./knn_core.ts";
 * transposedRows(new Float32Array([1, 2, 3, 4]), 2, 0, 2); // [1, 3, 2, 4]
 * ```
 */
export function transposedRows(
  data: Float32Array,
  d: number,
  start: number,
  end: number,
): Float32Array {
  const w = end - start;
  const out = new Float32Array(d * w);
  for (let i = 0; i < w; i++) {
    const src = (start + i) * d;
    for (let c = 0; c < d; c++) out[c * w + i] = data[src + c];
  }
  return out;
}

/** A matrix-product search, as sent to a worker: plain data only. */
export interface ScanJob {
  /** Queries `[n * d]` (already normalised for cosine families). */
  q: Float32Array;
  /** References `[m * d]`, or `null` when the queries are their own references. */
  r: Float32Array | null;
  /** Queries. */
  n: number;
  /** References. */
  m: number;
  /** Dimension. */
  d: number;
  /** Neighbours per query. */
  k: number;
  /** Metric family (not `"generic"`). */
  family: string;
  /** Leave out reference i for query i. */
  excludeSelf: boolean;
  /** Block size. */
  block: number;
  /** Filter candidates with the WebAssembly SIMD kernels where available. Default true. */
  simd?: boolean;
  /**
   * The original queries when `q` was centred or normalised (for the exact keys of
   * {@linkcode exactKeys}); absent: `q` itself.
   */
  query?: Float32Array;
  /** The original references when `r` was centred or normalised; absent: `r` (or the queries). */
  ref?: Float32Array;
}

/**
 * Squared L2 norm of row i of a row-major array, in float64.
 *
 * @example
 * ```ts
 * import { rowNorm2 } from "./knn_core.ts";
 * rowNorm2(new Float32Array([0, 0, 3, 4]), 1, 2); // 25
 * ```
 */
export function rowNorm2(x: Float32Array, i: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += x[i * d + t] * x[i * d + t];
  return s;
}

/**
 * The exact ranking key of reference j for query i, in float64 from the original coordinates:
 * the squared distance (Euclidean family), 1 − cos (`cosine`), −cos (`cosineSimilarity`) or −q·r
 * (`dot`). `qn` and `rn[j]` are the squared norms (cosine only). A zero row has cosine 0 with
 * everything, as {@linkcode normalizeRows} makes it.
 *
 * @example
 * ```ts
 * import { exactKey } from "./knn_core.ts";
 * exactKey("euclidean", new Float32Array([1000, 1000]), new Float32Array([1000.0625, 1000]), 0, 0, 2, 0, new Float64Array()); // 0.00390625
 * ```
 */
export function exactKey(
  family: string,
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
    let s0 = 0, s1 = 0, c = 0;
    for (; c + 1 < d; c += 2) {
      const u0 = query[a + c] - ref[b + c], u1 = query[a + c + 1] - ref[b + c + 1];
      s0 += u0 * u0;
      s1 += u1 * u1;
    }
    if (c < d) {
      const u = query[a + c] - ref[b + c];
      s0 += u * u;
    }
    return s0 + s1;
  }
  let dot = 0;
  for (let t = 0; t < d; t++) dot += query[a + t] * ref[b + t];
  if (family === "dot") return -dot;
  const cos = qn > 0 && rn[j] > 0 ? dot / Math.sqrt(qn * rn[j]) : 0;
  return family === "cosine" ? 1 - cos : -cos;
}

/**
 * A bound on |float32 scanned key − exact key| for query row i: the dot product's rounding
 * (γ_d ‖q‖‖r‖, twice), the rounding of ‖r‖², of the key to float32 and of the centred
 * coordinates, each at most a few units of u·(‖q‖ + ‖r‖)² (u = 2⁻²⁴). `qs` is the query's scanned
 * squared norm, `maxR` the largest scanned reference norm.
 *
 * @example
 * ```ts
 * import { scanBound } from "./knn_core.ts";
 * scanBound("euclidean", 64, 1, 1) > 0; // true
 * ```
 */
export function scanBound(family: string, d: number, qs: number, maxR: number): number {
  const slack = (2 * d + 16) * 2 ** -24;
  const qNorm = Math.sqrt(qs);
  if (family === "euclidean" || family === "sqeuclidean") return slack * (qNorm + maxR) ** 2;
  if (family === "dot") return slack * (qNorm * maxR + 1e-30);
  return slack * 4; // unit vectors
}

/**
 * An exact key in the units of the scanned keys, which drop a per-row constant: ‖q‖² for the
 * Euclidean family (`qs`, the scanned squared norm), 1 for `cosine`.
 *
 * @example
 * ```ts
 * import { toScanUnits } from "./knn_core.ts";
 * toScanUnits("euclidean", 5, 4); // 1
 * ```
 */
export function toScanUnits(family: string, key: number, qs: number): number {
  if (family === "euclidean" || family === "sqeuclidean") return key - qs;
  return family === "cosine" ? key - 1 : key;
}

/**
 * The exact keys ({@linkcode exactKey}) of the candidates held in `top` after a scan of `job`,
 * aligned with its slots: the worker threads compute them in parallel. Per row, the first `k`
 * always, then each further candidate only while its scanned key minus {@linkcode scanBound}
 * does not exceed the largest exact key so far (later ones cannot reach the top k); NaN for the
 * others and for empty slots.
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs"; // a backend
 * import { exactKeys, scanBlocks, TopK } from "./knn_core.ts";
 * const job = { q: new Float32Array([0, 1, 3]), r: null, n: 3, m: 3, d: 1, k: 1,
 *   family: "euclidean", excludeSelf: true, block: 2 };
 * const top = new TopK(3, 1);
 * scanBlocks(job, top, 0, 1);
 * console.log([...exactKeys(job, top, 1)]); // [1, 1, 4]
 * ```
 */
export function exactKeys(
  job: ScanJob,
  top: TopK,
  k: number,
  norms?: ScanNorms,
): Float64Array {
  const { d, family } = job;
  const query = job.query ?? job.q;
  const ref = job.ref ?? job.r ?? query;
  const scannedQ = job.q;
  const cosine = family === "cosine" || family === "cosineSimilarity";
  const rn = new Float64Array(cosine ? ref.length / d : 0);
  for (let j = 0; j < rn.length; j++) rn[j] = rowNorm2(ref, j, d);
  const { qSq, rSq } = norms ?? scanNorms(scannedQ, job.r, job.n, job.m, d);
  let maxR = 0;
  for (let j = 0; j < rSq.length; j++) maxR = Math.max(maxR, rSq[j]);
  maxR = Math.sqrt(maxR);
  const out = new Float64Array(top.keys.length).fill(NaN);
  const kk = top.k;
  for (let i = 0; i < top.rows; i++) {
    const qn = cosine ? rowNorm2(query, i, d) : 0;
    const qs = qSq[i];
    const bound = scanBound(family, d, qs, maxR);
    let largest = -Infinity;
    for (let t = 0; t < kk; t++) {
      const j = top.indices[i * kk + t];
      if (j < 0 || (t >= k && top.keys[i * kk + t] - bound > largest)) break;
      const e = exactKey(family, query, ref, i, j, d, qn, rn);
      out[i * kk + t] = e;
      const u = toScanUnits(family, e, qs);
      if (u > largest) largest = u;
    }
  }
  return out;
}

/**
 * The (query block, reference block) pairs of a job; only J ≥ I when the queries are their own
 * references (the distance matrix is symmetric).
 *
 * @example
 * ```ts
 * import { blockPairs } from "./knn_core.ts";
 * blockPairs({ q: new Float32Array(3), r: null, n: 3, m: 3, d: 1, k: 1, family: "dot",
 *   excludeSelf: true, block: 2 }); // [[0, 0], [0, 1], [1, 1]]
 * ```
 */
export function blockPairs(job: ScanJob): [number, number][] {
  const nb = Math.ceil(job.n / job.block), mb = Math.ceil(job.m / job.block);
  const pairs: [number, number][] = [];
  for (let bi = 0; bi < nb; bi++) {
    for (let bj = job.r === null ? bi : 0; bj < mb; bj++) pairs.push([bi, bj]);
  }
  return pairs;
}

/** Squared norms of the scanned rows (`rSq` is `qSq` when the queries are the references). */
export interface ScanNorms {
  /** `[n]` */
  qSq: Float32Array;
  /** `[m]` */
  rSq: Float32Array;
}

function scanNorms(
  q: Float32Array,
  r: Float32Array | null,
  n: number,
  m: number,
  d: number,
): ScanNorms {
  const qSq = squaredNorms(q, n, d);
  return { qSq, rSq: r === null ? qSq : squaredNorms(r, m, d) };
}

/**
 * Scans the block pairs `part, part + parts, …` of `job` into `top` (the work of one thread);
 * returns the squared norms of the scanned rows (for {@linkcode exactKeys}).
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs"; // a backend
 * import { scanBlocks, TopK } from "./knn_core.ts";
 * const top = new TopK(3, 1);
 * const job = { q: new Float32Array([0, 1, 3]), r: null, n: 3, m: 3, d: 1, k: 1,
 *   family: "sqeuclidean", excludeSelf: true, block: 2 };
 * scanBlocks(job, top, 0, 1);
 * console.log([...top.indices]); // [1, 0, 1]
 * ```
 */
export function scanBlocks(job: ScanJob, top: TopK, part: number, parts: number): ScanNorms {
  const { q, n, m, d, block, excludeSelf } = job;
  const self = job.r === null;
  const r = job.r ?? q;
  const l2 = job.family === "euclidean" || job.family === "sqeuclidean";
  const { qSq, rSq } = scanNorms(q, job.r, n, m, d);
  const qNorm = l2 ? qSq : new Float32Array(n);
  const rNorm = l2 ? rSq : new Float32Array(m);
  const worst = top.worst;
  // Bound on |‖r‖²|, |‖q‖²| and |f·q·r| for the SIMD filter's rounding slack.
  let maxQ = 0, maxR = 0;
  for (let i = 0; i < n; i++) maxQ = Math.max(maxQ, qSq[i]);
  for (let j = 0; j < rSq.length; j++) maxR = Math.max(maxR, rSq[j]);
  const scale = maxQ + maxR + 2 * Math.sqrt(maxQ * maxR);
  const pairs = blockPairs(job).filter((_, p) => p % parts === part);
  const refBlocks = new Map<number, tf.Tensor2D>();
  const queryBlocks = new Map<number, tf.Tensor2D>();
  try {
    for (const [bi, bj] of pairs) {
      const i0 = bi * block, i1 = Math.min(n, i0 + block);
      const j0 = bj * block, j1 = Math.min(m, j0 + block), w = j1 - j0;
      let qBlock = queryBlocks.get(bi);
      if (!qBlock) {
        for (const t of queryBlocks.values()) t.dispose();
        queryBlocks.clear();
        qBlock = tf.tensor2d(q.subarray(i0 * d, i1 * d), [i1 - i0, d]);
        queryBlocks.set(bi, qBlock);
      }
      let rBlock = refBlocks.get(bj);
      if (!rBlock) {
        rBlock = tf.tensor2d(transposedRows(r, d, j0, j1), [d, w]);
        refBlocks.set(bj, rBlock);
      }
      const g = tf.matMul(qBlock, rBlock);
      try {
        const v = readFloat32(g);
        // With a symmetric matrix, block (I, J) for J > I serves rows I and columns J.
        const both = self && bj !== bi;
        const diagonal = excludeSelf && j0 < i1 && i0 < j1;
        const f = l2 ? 2 : 1;
        const kernels = job.simd === false || w < 8 ? undefined : simdFilter();
        if (kernels) {
          scanWithSimd(kernels, v, i0, i1, j0, j1, f, both, diagonal, qNorm, rNorm, top, scale);
          continue;
        }
        for (let i = i0; i < i1; i++) {
          const off = (i - i0) * w - j0;
          let wi = worst[i];
          for (let j = j0; j < j1; j++) {
            const key = rNorm[j] - f * v[off + j];
            if (key <= wi && !(diagonal && i === j)) {
              top.push(i, key, j);
              wi = worst[i];
            }
          }
          if (both) {
            // Column side: query j sees reference i with key ‖x_i‖² − 2g (or −g).
            const qi = qNorm[i];
            for (let j = j0; j < j1; j++) {
              const key2 = qi - f * v[off + j];
              if (key2 <= worst[j]) top.push(j, key2, i);
            }
          }
        }
      } finally {
        g.dispose();
      }
    }
  } finally {
    for (const t of refBlocks.values()) t.dispose();
    for (const t of queryBlocks.values()) t.dispose();
  }
  return { qSq, rSq };
}

/**
 * A threshold a little above `t`, so that float32 rounding of `base + f·g` in the kernel (at most
 * half an ulp of a value bounded by `scale`) never drops a candidate.
 */
function loosen(t: number, scale: number): number {
  return t + (Math.abs(t) + scale) * 1e-6 + 1e-30;
}

/**
 * The block scan of {@linkcode scanBlocks} with the SIMD filter: the kernels list the 4-column
 * chunks that may hold a key within a threshold, and only those (plus the ≤ 3 tail columns) are
 * checked exactly here. The column side runs in slices of rows so that its thresholds tighten.
 */
function scanWithSimd(
  k: NonNullable<ReturnType<typeof simdFilter>>,
  v: Float32Array,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  f: number,
  both: boolean,
  diagonal: boolean,
  qNorm: Float32Array,
  rNorm: Float32Array,
  top: TopK,
  scale: number,
): void {
  const rows = i1 - i0, w = j1 - j0, chunks = w >> 2, tail = chunks << 2;
  const worst = top.worst;
  // Layout (bytes): g | rBase (w) | qBase (rows) | thrRows (rows) | thrCols (w) | out.
  const gBytes = rows * w * 4;
  const rBase = gBytes, qBase = rBase + w * 4, thrRows = qBase + rows * 4;
  const thrCols = thrRows + rows * 4, out = thrCols + w * 4;
  k.reserve(out + rows * chunks * 4 + 16);
  const mem = new Float32Array(k.memory.buffer);
  const outs = new Int32Array(k.memory.buffer);
  mem.set(v.subarray(0, rows * w), 0);
  mem.set(rNorm.subarray(j0, j1), rBase >> 2);
  mem.set(qNorm.subarray(i0, i1), qBase >> 2);
  for (let i = 0; i < rows; i++) mem[(thrRows >> 2) + i] = loosen(worst[i0 + i], scale);
  // Row side.
  const count = k.rows(0, rows, chunks, w, rBase, thrRows, -f, out);
  for (let t = 0; t < count; t++) {
    const o = outs[(out >> 2) + t];
    const il = (o / w) | 0, c = o - il * w, i = i0 + il;
    for (let j = j0 + c; j < j0 + c + 4; j++) {
      const key = rNorm[j] - f * v[o + j - j0 - c];
      if (key <= worst[i] && !(diagonal && i === j)) top.push(i, key, j);
    }
  }
  if (tail < w) {
    for (let i = i0; i < i1; i++) {
      const off = (i - i0) * w - j0;
      for (let j = j0 + tail; j < j1; j++) {
        const key = rNorm[j] - f * v[off + j];
        if (key <= worst[i] && !(diagonal && i === j)) top.push(i, key, j);
      }
    }
  }
  if (!both) return;
  // Column side, 32 rows at a time.
  for (let r0 = 0; r0 < rows; r0 += 32) {
    const r1 = Math.min(rows, r0 + 32);
    for (let j = 0; j < w; j++) mem[(thrCols >> 2) + j] = loosen(worst[j0 + j], scale);
    const cnt = k.cols(r0 * w * 4, r1 - r0, chunks, w, qBase + r0 * 4, thrCols, -f, out);
    for (let t = 0; t < cnt; t++) {
      const o = outs[(out >> 2) + t] + r0 * w;
      const il = (o / w) | 0, c = o - il * w, i = i0 + il;
      const qi = qNorm[i];
      for (let j = j0 + c; j < j0 + c + 4; j++) {
        const key2 = qi - f * v[o + j - j0 - c];
        if (key2 <= worst[j]) top.push(j, key2, i);
      }
    }
    if (tail < w) {
      for (let i = i0 + r0; i < i0 + r1; i++) {
        const off = (i - i0) * w - j0, qi = qNorm[i];
        for (let j = j0 + tail; j < j1; j++) {
          const key2 = qi - f * v[off + j];
          if (key2 <= worst[j]) top.push(j, key2, i);
        }
      }
    }
  }
}
