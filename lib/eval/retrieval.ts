/**
 * Retrieval metrics with the semantics of pytorch-metric-learning's `AccuracyCalculator`
 * (Musgrave, Belongie & Lim 2020): Precision@1, R-precision, MAP@R and mean average precision,
 * plus Recall@K (fraction of queries with at least one relevant item among the K nearest) and the
 * mean reciprocal rank.
 *
 * Rules, as in `AccuracyCalculator`:
 * - A reference is relevant to a query when their labels are equal.
 * - When `reference` is omitted the query set is its own reference set and each query's own
 *   entry is removed from its ranking (`embeddings_come_from_same_source`); R, the number of
 *   relevant references of a query, is then the count of its label minus one.
 * - Queries with no relevant reference ("lone" queries, R = 0) are left out of every mean and
 *   counted in `loneQueries`. When every query is lone no metric is defined and every metric is
 *   **NaN** (PML ≥ 2.0 returns NaN and logs "None of the query labels are in the reference
 *   set"); a 0 would read as "everything retrieved the wrong class".
 * - `k` (default: every reference) is the length of the retrieved ranking; the reciprocal rank
 *   and the average precisions only see the first k. R-precision looks at the first min(R, k)
 *   and divides by min(R, k) (PML's `relevance_mask` cannot reach beyond the k retrieved
 *   columns); MAP@R and mean average precision divide by R itself, the number of relevant
 *   references, whatever k (PML's `count_per_query`): with k < R they cannot reach 1.
 * - Ties in distance are ordered by the smaller reference index (what faiss and a stable sort
 *   do).
 *
 * Ranking keys come from {@linkcode forEachKeyBlock} (for the Euclidean family ‖r‖² − 2q·r on
 * rows centred on the reference mean, which orders references as the distance does and keeps
 * its digits for data far from the origin). The whole ranking
 * of each query is never sorted: entries are counting-sorted into buckets by key and only the
 * buckets holding relevant references are ordered, so scoring 10,000 embeddings against each
 * other takes a few seconds.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Metric, type MetricSpec, resolveMetric } from "../distances.ts";
import { forEachKeyBlock } from "./knn.ts";
import { checkFiniteValues, checkOptionKeys } from "../validate.ts";

/**
 * Retrieval scores, each a mean over the queries that have at least one relevant reference; NaN
 * when no query has one.
 */
export interface RetrievalMetrics {
  /** Fraction of queries whose nearest reference shares their label. */
  precisionAt1: number;
  /** Mean over queries of (relevant among the R nearest) / R. */
  rPrecision: number;
  /** Mean over queries of MAP@R (Musgrave et al. 2020): Σ_{i ≤ min(R, k), rel(i)} P@i / R. */
  mapAtR: number;
  /** Recall@K for each K of `ks`: fraction of queries with ≥ 1 relevant among the K nearest. */
  recallAtK: Record<number, number>;
  /** Mean reciprocal rank of the first relevant reference (0 when none within k). */
  mrr: number;
  /**
   * Mean average precision over the ranking of length k (PML's `mean_average_precision`):
   * Σ_{i ≤ k, rel(i)} P@i / R, divided by R, the number of relevant references (not by the
   * hits found within k).
   */
  meanAveragePrecision: number;
  /** Queries scored (those with R ≥ 1). When 0, every metric above is NaN. */
  queries: number;
  /** Queries left out of every mean because no reference shares their label ("lone"). */
  loneQueries: number;
  /** Length of the ranking each query was scored on. */
  k: number;
}

/** Options of {@linkcode retrievalMetrics}. */
export interface RetrievalOptions {
  /** The distance used to rank references. Default `"euclidean"`. */
  metric?: MetricSpec | Metric;
  /** The K of Recall@K. Default `[1, 2, 4, 8]`. */
  ks?: number[];
  /**
   * Length of the retrieved ranking (PML's `k`). Default: all references (minus self), PML's
   * `k=None`.
   */
  k?: number;
  /**
   * Queries per distance block; bounds memory at about `blockSize × m` floats. Default: as many
   * as keep a block within 8M floats (at most 1024).
   */
  blockSize?: number;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
const TWO_21 = 2097152;

/** A float64 that orders as (key, index) does, for index < 2^21 (key rounded to float32). */
function composite(key: number, index: number): number {
  F32[0] = key + 0; // −0 → +0
  const bits = U32[0];
  const ordered = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
  return ordered * TWO_21 + index;
}

/** Scratch buffers of {@linkcode relevantPositions}, sized for m references. */
interface Scratch {
  bucketOf: Int32Array;
  count: Int32Array;
  relCount: Int32Array;
  start: Int32Array;
  order: Int32Array;
  comp: Float64Array;
}

function makeScratch(m: number): Scratch {
  const buckets = Math.max(1, m >> 1);
  return {
    bucketOf: new Int32Array(m),
    count: new Int32Array(buckets + 1),
    relCount: new Int32Array(buckets + 1),
    start: new Int32Array(buckets + 1),
    order: new Int32Array(m),
    comp: new Float64Array(m),
  };
}

/**
 * Positions (1-based, in the ranking by (key, index) of all entries but `skip`) of the entries
 * with `codes[j] === code`, ascending; `count` is how many there are (besides `skip`).
 *
 * Linear in m: entries are counting-sorted into buckets by key, and only the buckets that hold a
 * relevant entry are ordered (insertion sort when small, a native sort otherwise).
 */
function relevantPositions(
  keys: Float32Array,
  codes: Int32Array,
  code: number,
  skip: number,
  count: number,
  s: Scratch,
): Int32Array {
  const m = keys.length;
  let lo = Infinity, hi = -Infinity;
  for (let j = 0; j < m; j++) {
    if (j === skip) continue;
    const x = keys[j];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const buckets = s.count.length - 1;
  const scale = hi > lo ? (buckets - 1) / (hi - lo) : 0;
  const { bucketOf, count: cnt, relCount, start, order, comp } = s;
  cnt.fill(0);
  relCount.fill(0);
  for (let j = 0; j < m; j++) {
    if (j === skip) {
      bucketOf[j] = -1;
      continue;
    }
    let b = ((keys[j] - lo) * scale) | 0;
    if (b >= buckets) b = buckets - 1;
    bucketOf[j] = b;
    cnt[b]++;
    if (codes[j] === code) relCount[b]++;
  }
  let acc = 0;
  for (let b = 0; b < buckets; b++) {
    start[b] = acc;
    acc += cnt[b];
  }
  start[buckets] = acc;
  // Counting sort of the entries of the buckets that hold relevant entries.
  const fill = cnt; // reused as the write cursor of each bucket
  for (let b = 0; b < buckets; b++) fill[b] = start[b];
  for (let j = 0; j < m; j++) {
    const b = bucketOf[j];
    if (b >= 0 && relCount[b] > 0) order[fill[b]++] = j;
  }
  const pos = new Int32Array(count);
  let t = 0;
  for (let b = 0; b < buckets && t < count; b++) {
    const rc = relCount[b];
    if (rc === 0) continue;
    const a0 = start[b], a1 = start[b + 1];
    if (a1 - a0 > 1) {
      if (a1 - a0 <= 32) {
        for (let i = a0 + 1; i < a1; i++) {
          const j = order[i], x = keys[j];
          let p = i - 1;
          while (p >= a0 && (keys[order[p]] > x || (keys[order[p]] === x && order[p] > j))) {
            order[p + 1] = order[p];
            p--;
          }
          order[p + 1] = j;
        }
      } else {
        const c = comp.subarray(a0, a1);
        for (let i = a0; i < a1; i++) c[i - a0] = composite(keys[order[i]], order[i]);
        c.sort();
        for (let i = a0; i < a1; i++) order[i] = c[i - a0] % TWO_21;
      }
    }
    // start[b] counts the entries of the lower buckets (`skip` is in none).
    let before = a0;
    for (let i = a0; i < a1; i++) {
      const j = order[i];
      if (codes[j] === code) pos[t++] = before + 1;
      before++;
    }
  }
  return pos;
}

/** Running sums of the per-query scores. */
interface Sums {
  p1: number;
  rp: number;
  mapR: number;
  map: number;
  rr: number;
  scored: number;
  lone: number;
  hitsAt: Float64Array;
}

/** Scores the queries [start, end) from their distance rows `values` (synchronous, so that V8 optimises it). */
function scoreBlock(
  blockKeys: Float32Array,
  start: number,
  end: number,
  m: number,
  self: boolean,
  queryCodes: Int32Array,
  refCodes: Int32Array,
  countByCode: Int32Array,
  k: number,
  ks: number[],
  scratch: Scratch,
  sums: Sums,
): void {
  for (let q = start; q < end; q++) {
    const code = queryCodes[q];
    const count = (code >= 0 ? countByCode[code] : 0) - (self ? 1 : 0);
    if (count < 1) {
      sums.lone++;
      continue;
    }
    const keys = blockKeys.subarray((q - start) * m, (q - start + 1) * m);
    const pos = relevantPositions(keys, refCodes, code, self ? q : -1, count, scratch);
    addQuery(sums, pos, count, k, ks);
  }
}

/**
 * Adds one query's scores to `sums`: `pos` are the 1-based ranks of its relevant references,
 * ascending (at least those within k), `count` is R, the number of relevant references.
 */
function addQuery(sums: Sums, pos: ArrayLike<number>, count: number, k: number, ks: number[]) {
  const r = Math.min(count, k);
  let inR = 0, apR = 0, ap = 0;
  for (let t = 0; t < pos.length; t++) {
    const p = pos[t];
    if (p > k) break;
    ap += (t + 1) / p;
    if (p <= r) {
      inR++;
      apR += (t + 1) / p;
    }
  }
  const first = pos.length > 0 ? pos[0] : Infinity;
  sums.p1 += first === 1 ? 1 : 0;
  sums.rp += inR / r;
  // PML divides both average precisions by R itself (`count_per_query`), not by min(R, k)
  // nor by the hits found.
  sums.mapR += apR / count;
  sums.map += ap / count;
  sums.rr += first <= k ? 1 / first : 0;
  for (let s = 0; s < ks.length; s++) if (first <= ks[s]) sums.hitsAt[s]++;
  sums.scored++;
}

function emptySums(ks: number[]): Sums {
  return {
    p1: 0,
    rp: 0,
    mapR: 0,
    map: 0,
    rr: 0,
    scored: 0,
    lone: 0,
    hitsAt: new Float64Array(ks.length),
  };
}

/** The metrics from the sums: means over the scored queries, NaN when none is. */
function finish(sums: Sums, ks: number[], k: number): RetrievalMetrics {
  const { p1, rp, mapR, map, rr, scored, lone, hitsAt } = sums;
  // No query defined: NaN, as PML ≥ 2.0 (0 would read as "all wrong").
  const denom = scored > 0 ? scored : NaN;
  const recallAtK: Record<number, number> = {};
  ks.forEach((K, s) => (recallAtK[K] = hitsAt[s] / denom));
  return {
    precisionAt1: p1 / denom,
    rPrecision: rp / denom,
    mapAtR: mapR / denom,
    recallAtK,
    mrr: rr / denom,
    meanAveragePrecision: map / denom,
    queries: scored,
    loneQueries: lone,
    k,
  };
}

/**
 * The retrieval metrics of {@linkcode retrievalMetrics}, with the same rules, from rankings made
 * elsewhere (an index, a database): for each query, the labels of its k nearest references,
 * nearest first, and R, the number of references that share its label. A query with R = 0 is
 * lone (left out, counted); with no scored query every metric is NaN.
 *
 * @param ranked per query, the labels of the retrieved references, nearest first (the first k
 *   are read; a shorter list counts the missing places as not relevant; `null`, an unlabelled
 *   reference, is never relevant)
 * @param queryLabels `[n]`
 * @param relevant `[n]`, R of each query: the references with its label (all of them, not only
 *   the retrieved ones)
 * @param options `k` (default: the longest list) and `ks` (default `[1, 2, 4, 8]` up to k)
 * @throws Error when the lengths differ, R is not a non-negative integer, or k / ks are out of
 *   range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retrievalFromRankings } from "./retrieval.ts";
 * // One query of label 0, R = 2, retrieved labels [0, 1] with k = 2: MAP = (1/1) / 2.
 * const m = retrievalFromRankings([[0, 1]], [0], [2], { k: 2 });
 * assert.equal(m.meanAveragePrecision, 0.5);
 * assert.ok(Number.isNaN(retrievalFromRankings([[1]], [0], [0], { k: 1 }).mapAtR));
 * ```
 */
export function retrievalFromRankings(
  ranked: readonly ArrayLike<number | null>[],
  queryLabels: ArrayLike<number>,
  relevant: ArrayLike<number>,
  options: { k?: number; ks?: number[] } = {},
): RetrievalMetrics {
  const fn = "retrievalFromRankings";
  checkOptionKeys(fn, options, ["k", "ks"]);
  const n = queryLabels.length;
  if (ranked.length !== n || relevant.length !== n) {
    throw new Error(
      `${fn}: ${ranked.length} rankings and ${relevant.length} counts for ${n} query labels`,
    );
  }
  const longest = ranked.reduce((a, r) => Math.max(a, r.length), 0);
  const k = options.k ?? longest;
  if (!Number.isInteger(k) || k < 1) throw new Error(`${fn}: k must be an integer ≥ 1, got ${k}`);
  const ks = options.ks ?? [1, 2, 4, 8].filter((x) => x <= k);
  for (const K of ks) {
    if (!Number.isInteger(K) || K < 1 || K > k) {
      throw new Error(`${fn}: each of ks must be an integer in [1, ${k}], got ${K}`);
    }
  }
  const sums = emptySums(ks);
  for (let i = 0; i < n; i++) {
    const count = relevant[i];
    if (!Number.isInteger(count) || count < 0) {
      throw new Error(`${fn}: relevant[${i}] must be an integer ≥ 0, got ${count}`);
    }
    if (count < 1) {
      sums.lone++;
      continue;
    }
    const pos: number[] = [];
    const row = ranked[i];
    for (let t = 0; t < Math.min(k, row.length); t++) {
      if (row[t] === queryLabels[i]) pos.push(t + 1);
    }
    addQuery(sums, pos, count, k, ks);
  }
  return finish(sums, ks, k);
}

function checkLabels(labels: ArrayLike<number>, rows: number, name: string): void {
  if (labels.length !== rows) {
    throw new Error(`retrievalMetrics: ${name} has ${labels.length} labels for ${rows} rows`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i])) {
      throw new Error(`retrievalMetrics: ${name}[${i}] is ${labels[i]}, not an integer`);
    }
  }
}

/**
 * The option names {@linkcode retrievalMetrics} reads (any other key is an error).
 *
 * @example
 * ```ts
 * import { RETRIEVAL_OPTION_KEYS } from "./retrieval.ts";
 * RETRIEVAL_OPTION_KEYS.includes("ks"); // true
 * ```
 */
export const RETRIEVAL_OPTION_KEYS: readonly string[] = ["metric", "ks", "k", "blockSize"];

/**
 * Precision@1, R-precision, MAP@R, Recall@K, MRR and mean average precision of `query` against
 * `reference`, with `AccuracyCalculator`'s rules (see the module documentation).
 *
 * @param query `[n, d]`
 * @param queryLabels `[n]`
 * @param reference `[m, d]` (default: `query`, each query's own entry excluded)
 * @param referenceLabels `[m]` (default: `queryLabels`)
 * @returns the metrics, each NaN when no query has a relevant reference (`queries` 0); the
 *   lone queries left out are counted in `loneQueries`
 * @throws Error on a label count that does not match its rows, an embedding holding NaN,
 *   Infinity or −Infinity (naming the argument and the first bad row), or a K (or k) outside
 *   [1, references available].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { retrievalMetrics } from "./retrieval.ts";
 * const x = tf.tensor2d([[0], [0.1], [5], [5.1]]);
 * const m = await retrievalMetrics(x, [0, 0, 1, 1], undefined, undefined, { ks: [1, 2] });
 * assert.equal(m.mapAtR, 1);
 * assert.equal(m.recallAtK[1], 1);
 * // No query label among the references: nothing is defined, every metric is NaN.
 * const none = await retrievalMetrics(tf.tensor2d([[0], [1]]), [7, 8], tf.tensor2d([[0], [1]]), [1, 2]);
 * assert.ok(Number.isNaN(none.precisionAt1) && none.loneQueries === 2);
 * ```
 */
export async function retrievalMetrics(
  query: tf.Tensor2D,
  queryLabels: readonly number[] | Int32Array,
  reference?: tf.Tensor2D,
  referenceLabels?: readonly number[] | Int32Array,
  options: RetrievalOptions = {},
): Promise<RetrievalMetrics> {
  checkOptionKeys("retrievalMetrics", options, RETRIEVAL_OPTION_KEYS);
  const self = reference === undefined;
  const ref = reference ?? query;
  const refLabels = referenceLabels ?? queryLabels;
  if (query.rank !== 2 || ref.rank !== 2) {
    throw new Error(`retrievalMetrics: query and reference must be rank 2`);
  }
  if (ref.shape[1] !== query.shape[1]) {
    throw new Error(
      `retrievalMetrics: query has dimension ${query.shape[1]} but reference has dimension ${
        ref.shape[1]
      }`,
    );
  }
  checkLabels(queryLabels, query.shape[0], "queryLabels");
  checkLabels(refLabels, ref.shape[0], "referenceLabels");
  const metric = resolveMetric(options.metric ?? "euclidean");
  const n = query.shape[0];
  const m = ref.shape[0];
  const available = m - (self ? 1 : 0);
  const k = options.k ?? available;
  if (!Number.isInteger(k) || k < 1 || k > available) {
    throw new Error(
      `retrievalMetrics: k must be an integer in [1, ${available}] (references${
        self ? " minus self" : ""
      }), got ${k}`,
    );
  }
  const ks = options.ks ?? [1, 2, 4, 8].filter((x) => x <= k);
  for (const K of ks) {
    if (!Number.isInteger(K) || K < 1 || K > k) {
      throw new Error(
        `retrievalMetrics: each of ks must be an integer in [1, ${k}] (the ranking length k), got ${K}`,
      );
    }
  }
  if (m >= TWO_21) throw new Error(`retrievalMetrics: at most ${TWO_21 - 1} references, got ${m}`);
  const blockSize = options.blockSize ?? Math.max(1, Math.min(1024, Math.floor(8_388_608 / m)));

  // Labels as dense codes of the reference labels; a query label absent there gets −1.
  const codeOf = new Map<number, number>();
  const refCodes = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    let c = codeOf.get(refLabels[j]);
    if (c === undefined) codeOf.set(refLabels[j], c = codeOf.size);
    refCodes[j] = c;
  }
  const countByCode = new Int32Array(codeOf.size);
  for (let j = 0; j < m; j++) countByCode[refCodes[j]]++;
  const queryCodes = new Int32Array(n);
  for (let i = 0; i < n; i++) queryCodes[i] = codeOf.get(queryLabels[i]) ?? -1;
  const scratch = makeScratch(m);
  const sums = emptySums(ks);
  const qData = await query.data() as Float32Array;
  const rData = self ? qData : await ref.data() as Float32Array;
  checkFiniteValues("retrievalMetrics", "query", qData, query.shape[1]);
  if (!self) checkFiniteValues("retrievalMetrics", "reference", rData, ref.shape[1]);
  await forEachKeyBlock(
    qData,
    rData,
    n,
    m,
    query.shape[1],
    metric,
    blockSize,
    (keys, start, rows) =>
      scoreBlock(
        keys,
        start,
        start + rows,
        m,
        self,
        queryCodes,
        refCodes,
        countByCode,
        k,
        ks,
        scratch,
        sums,
      ),
  );
  return finish(sums, ks, k);
}
