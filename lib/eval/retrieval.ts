/**
 * Retrieval metrics with the semantics of pytorch-metric-learning's `AccuracyCalculator`:
 * Precision@1, R-precision and MAP@R, where R is the number of references sharing the query's label.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type MetricSpec, pairwiseDistances, resolveMetric } from "../distances.ts";

/** Retrieval scores, each a mean over queries that have at least one relevant reference. */
export interface RetrievalMetrics {
  /** Fraction of queries whose nearest reference shares their label. */
  precisionAt1: number;
  /** Mean over queries of (relevant among the R nearest) / R. */
  rPrecision: number;
  /** Mean over queries of MAP@R (Musgrave et al. 2020). */
  mapAtR: number;
  /** Queries scored (those with R ≥ 1). */
  queries: number;
}

/** Options of {@linkcode retrievalMetrics}. */
export interface RetrievalOptions {
  /** The distance used to rank references. Default `"euclidean"`. */
  metric?: MetricSpec;
  /** Queries per distance block; bounds memory at `blockSize × m` floats. Default 256. */
  blockSize?: number;
}

/** The k-th smallest value (0-based) of `values`, found in expected linear time. */
function kthSmallest(values: Float32Array, k: number): number {
  const a = Float32Array.from(values);
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/**
 * Indices of the `count` best entries of `row` (smallest, or largest for similarities), best
 * first, ties broken by index; entry `skip` is left out.
 */
function topOrder(row: Float32Array, count: number, descending: boolean, skip: number): number[] {
  const keys = new Float32Array(row.length);
  for (let j = 0; j < row.length; j++) keys[j] = descending ? -row[j] : row[j];
  if (skip >= 0) keys[skip] = Infinity;
  const threshold = kthSmallest(keys, Math.min(count, keys.length) - 1);
  const idx: number[] = [];
  for (let j = 0; j < keys.length; j++) if (keys[j] <= threshold && j !== skip) idx.push(j);
  idx.sort((x, y) => keys[x] - keys[y] || x - y);
  return idx.slice(0, count);
}

/**
 * Precision@1, R-precision and MAP@R of `query` against `reference`.
 *
 * When `reference` is omitted the query set is its own reference and each query's own entry is
 * excluded. Queries with no relevant reference (R = 0) are not scored.
 *
 * @param query `[n, d]`
 * @param queryLabels `[n]`
 * @param reference `[m, d]` (default: `query`)
 * @param referenceLabels `[m]` (default: `queryLabels`)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { retrievalMetrics } from "./retrieval.ts";
 * const x = tf.tensor2d([[0], [0.1], [5], [5.1]]);
 * const m = await retrievalMetrics(x, [0, 0, 1, 1]);
 * console.log(m.mapAtR); // 1
 * ```
 */
export async function retrievalMetrics(
  query: tf.Tensor2D,
  queryLabels: readonly number[] | Int32Array,
  reference?: tf.Tensor2D,
  referenceLabels?: readonly number[] | Int32Array,
  options: RetrievalOptions = {},
): Promise<RetrievalMetrics> {
  const self = reference === undefined;
  const ref = reference ?? query;
  const refLabels = referenceLabels ?? queryLabels;
  if (queryLabels.length !== query.shape[0]) {
    throw new Error(
      `retrievalMetrics: queryLabels has ${queryLabels.length} labels for ${
        query.shape[0]
      } queries`,
    );
  }
  if (refLabels.length !== ref.shape[0]) {
    throw new Error(
      `retrievalMetrics: referenceLabels has ${refLabels.length} labels for ${
        ref.shape[0]
      } references`,
    );
  }
  const metric = resolveMetric(options.metric ?? "euclidean");
  const blockSize = options.blockSize ?? 256;
  const n = query.shape[0];
  const m = ref.shape[0];
  const countByLabel = new Map<number, number>();
  for (const l of refLabels) countByLabel.set(l, (countByLabel.get(l) ?? 0) + 1);

  let sumP1 = 0, sumRP = 0, sumMap = 0, scored = 0;
  for (let start = 0; start < n; start += blockSize) {
    const end = Math.min(n, start + blockSize);
    const block = tf.tidy(() =>
      pairwiseDistances(query.slice([start, 0], [end - start, -1]), ref, metric)
    );
    const values = await block.data() as Float32Array;
    block.dispose();
    for (let q = start; q < end; q++) {
      const label = queryLabels[q];
      const r = (countByLabel.get(label) ?? 0) - (self ? 1 : 0);
      if (r < 1) continue;
      const row = values.subarray((q - start) * m, (q - start + 1) * m);
      const order = topOrder(row, r, metric.isSimilarity, self ? q : -1);
      let hits = 0, ap = 0;
      for (let i = 0; i < order.length; i++) {
        if (refLabels[order[i]] === label) {
          hits++;
          ap += hits / (i + 1);
        }
      }
      sumP1 += refLabels[order[0]] === label ? 1 : 0;
      sumRP += hits / r;
      sumMap += ap / r;
      scored++;
    }
  }
  const denom = Math.max(scored, 1);
  return {
    precisionAt1: sumP1 / denom,
    rPrecision: sumRP / denom,
    mapAtR: sumMap / denom,
    queries: scored,
  };
}
