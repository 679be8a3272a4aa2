/**
 * Clustering quality of embeddings: k-means (k-means++ initialisation, Lloyd iterations, several
 * seeded restarts) and the information-theoretic agreement scores NMI and AMI with
 * scikit-learn's definitions (`normalized_mutual_info_score`, `adjusted_mutual_info_score`, both
 * with the default arithmetic-mean normalisation; natural logarithms).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng, type Rng } from "../data/random.ts";
import { checkFiniteValues, checkIntegerLabels, checkOptionKeys } from "../validate.ts";

/** Options of {@linkcode kMeans}. */
export interface KMeansOptions {
  /** Independent restarts; the one with the lowest inertia is returned. Default 3. */
  nInit?: number;
  /** Lloyd iterations per restart at most. Default 300. */
  maxIter?: number;
  /**
   * Relative tolerance: a restart stops when the total squared centroid shift is at most
   * `tol × mean per-feature variance of x` (scikit-learn's rule). Default 1e-4.
   */
  tol?: number;
  /** Seed of the initialisations. Default 0. */
  seed?: number;
}

/** The result of {@linkcode kMeans}. */
export interface KMeansResult {
  /** Cluster of each row, `[n]`, in 0..k−1. */
  labels: Int32Array;
  /** Centroids, `[k * d]` row-major. */
  centroids: Float32Array;
  /** Sum of squared distances of rows to their centroid. */
  inertia: number;
  /** Lloyd iterations of the returned restart. */
  iterations: number;
}

function sqDist(x: Float32Array, i: number, c: Float64Array, j: number, d: number): number {
  let s = 0;
  const a = i * d, b = j * d;
  for (let t = 0; t < d; t++) {
    const u = x[a + t] - c[b + t];
    s += u * u;
  }
  return s;
}

/** Greedy k-means++ (Arthur & Vassilvitskii 2007), 2 + ⌊ln k⌋ candidates per step as scikit-learn. */
function kMeansPlusPlus(x: Float32Array, n: number, d: number, k: number, rng: Rng): Float64Array {
  const centers = new Float64Array(k * d);
  const first = rng.nextInt(n);
  for (let t = 0; t < d; t++) centers[t] = x[first * d + t];
  const closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = sqDist(x, i, centers, 0, d);
  const trials = 2 + Math.floor(Math.log(k));
  const cand = new Float64Array(d);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += closest[i];
    let best = -1, bestPot = Infinity;
    let bestDist: Float64Array | null = null;
    for (let trial = 0; trial < trials; trial++) {
      // Sample a point with probability proportional to its squared distance.
      let r = rng.next() * total, pick = n - 1;
      if (total > 0) {
        for (let i = 0; i < n; i++) {
          r -= closest[i];
          if (r < 0) {
            pick = i;
            break;
          }
        }
      } else pick = rng.nextInt(n);
      for (let t = 0; t < d; t++) cand[t] = x[pick * d + t];
      const dist = new Float64Array(n);
      let pot = 0;
      for (let i = 0; i < n; i++) {
        const v = Math.min(closest[i], sqDist(x, i, cand, 0, d));
        dist[i] = v;
        pot += v;
      }
      if (pot < bestPot) {
        bestPot = pot;
        best = pick;
        bestDist = dist;
      }
    }
    for (let t = 0; t < d; t++) centers[c * d + t] = x[best * d + t];
    closest.set(bestDist!);
  }
  return centers;
}

function assign(
  x: Float32Array,
  n: number,
  d: number,
  k: number,
  centers: Float64Array,
  labels: Int32Array,
  dist: Float64Array,
): number {
  let inertia = 0;
  for (let i = 0; i < n; i++) {
    let best = 0, bestD = Infinity;
    for (let c = 0; c < k; c++) {
      const v = sqDist(x, i, centers, c, d);
      if (v < bestD) {
        bestD = v;
        best = c;
      }
    }
    labels[i] = best;
    dist[i] = bestD;
    inertia += bestD;
  }
  return inertia;
}

/**
 * k-means clustering of the rows of `x` into `k` clusters: k-means++ seeding, Lloyd iterations,
 * `nInit` seeded restarts, the restart with the lowest inertia kept. An emptied cluster is moved
 * to the point farthest from its centroid. Labels are those of a final assignment step.
 *
 * @param x `[n, d]` tensor or row-major `[n * d]` array with `d` given in `dims`
 * @param k clusters, 1 ≤ k ≤ n
 * @throws Error when k is out of range or x holds NaN, Infinity or −Infinity (naming the first
 *   bad row).
 * @example
 * ```ts
 * import { kMeans } from "./clustering.ts";
 * const x = new Float32Array([0, 0, 0, 1, 10, 10, 10, 11]);
 * const { labels, inertia } = kMeans({ data: x, n: 4, d: 2 }, 2, { seed: 1 });
 * console.log(labels[0] === labels[1], labels[0] !== labels[2], inertia); // true true 1
 * ```
 */
export function kMeans(
  x: tf.Tensor2D | { data: Float32Array; n: number; d: number },
  k: number,
  options: KMeansOptions = {},
): KMeansResult {
  checkOptionKeys("kMeans", options, ["nInit", "maxIter", "tol", "seed"]);
  const { data, n, d } = x instanceof tf.Tensor
    ? { data: x.dataSync() as Float32Array, n: x.shape[0], d: x.shape[1] }
    : x;
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new Error(`kMeans: k must be an integer in [1, ${n}] (the number of rows), got ${k}`);
  }
  checkFiniteValues("kMeans", "x", data, d);
  const { nInit = 3, maxIter = 300, tol = 1e-4, seed = 0 } = options;
  if (!Number.isInteger(nInit) || nInit < 1) {
    throw new Error(`kMeans: nInit must be ≥ 1, got ${nInit}`);
  }
  // Absolute tolerance: tol × mean of per-feature variances.
  let varSum = 0;
  for (let t = 0; t < d; t++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = data[i * d + t];
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    varSum += Math.max(0, s2 / n - mean * mean);
  }
  const tolAbs = d > 0 ? tol * varSum / d : 0;
  const rng = createRng(seed);
  let best: KMeansResult | undefined;
  const labels = new Int32Array(n), dist = new Float64Array(n);
  for (let run = 0; run < nInit; run++) {
    const centers = kMeansPlusPlus(data, n, d, k, rng);
    let iterations = 0;
    const sums = new Float64Array(k * d), counts = new Int32Array(k);
    for (let it = 0; it < maxIter; it++) {
      iterations = it + 1;
      assign(data, n, d, k, centers, labels, dist);
      sums.fill(0);
      counts.fill(0);
      for (let i = 0; i < n; i++) {
        const c = labels[i];
        counts[c]++;
        for (let t = 0; t < d; t++) sums[c * d + t] += data[i * d + t];
      }
      for (let c = 0; c < k; c++) {
        if (counts[c] > 0) continue;
        // Empty cluster: take the point farthest from its centroid.
        let far = 0;
        for (let i = 1; i < n; i++) if (dist[i] > dist[far]) far = i;
        const old = labels[far];
        counts[old]--;
        for (let t = 0; t < d; t++) sums[old * d + t] -= data[far * d + t];
        labels[far] = c;
        dist[far] = 0;
        counts[c] = 1;
        for (let t = 0; t < d; t++) sums[c * d + t] = data[far * d + t];
      }
      let shift = 0;
      for (let c = 0; c < k; c++) {
        for (let t = 0; t < d; t++) {
          const v = sums[c * d + t] / counts[c];
          const u = v - centers[c * d + t];
          shift += u * u;
          centers[c * d + t] = v;
        }
      }
      if (shift <= tolAbs) break;
    }
    const finalLabels = new Int32Array(n);
    const inertia = assign(data, n, d, k, centers, finalLabels, dist);
    if (!best || inertia < best.inertia) {
      best = { labels: finalLabels, centroids: Float32Array.from(centers), inertia, iterations };
    }
  }
  return best!;
}

/** Dense relabelling of arbitrary labels to 0..c−1 (in order of first appearance). */
function encode(labels: ArrayLike<number>): { codes: Int32Array; count: number } {
  const map = new Map<number, number>();
  const codes = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (typeof l !== "number" || Number.isNaN(l)) {
      throw new Error(`labels: entry ${i} is not a number (${l})`);
    }
    let c = map.get(l);
    if (c === undefined) {
      c = map.size;
      map.set(l, c);
    }
    codes[i] = c;
  }
  return { codes, count: map.size };
}

interface Contingency {
  n: number;
  rows: number;
  cols: number;
  /** `[rows * cols]` counts. */
  table: Float64Array;
  a: Float64Array;
  b: Float64Array;
}

function contingency(
  trueLabels: ArrayLike<number>,
  predLabels: ArrayLike<number>,
  fn: string,
): Contingency {
  if (trueLabels.length !== predLabels.length) {
    throw new Error(
      `${fn}: trueLabels has ${trueLabels.length} entries but predLabels has ${predLabels.length}`,
    );
  }
  checkIntegerLabels(fn, "trueLabels", trueLabels);
  checkIntegerLabels(fn, "predLabels", predLabels);
  const t = encode(trueLabels), p = encode(predLabels);
  const table = new Float64Array(t.count * p.count);
  const a = new Float64Array(t.count), b = new Float64Array(p.count);
  for (let i = 0; i < t.codes.length; i++) {
    table[t.codes[i] * p.count + p.codes[i]]++;
    a[t.codes[i]]++;
    b[p.codes[i]]++;
  }
  return { n: trueLabels.length, rows: t.count, cols: p.count, table, a, b };
}

function entropyOf(counts: Float64Array, n: number): number {
  if (counts.length <= 1) return 0;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * (Math.log(c) - Math.log(n));
  return h;
}

const EPS = 2.220446049250313e-16;

function mutualInfo(ct: Contingency): number {
  const { n, rows, cols, table, a, b } = ct;
  // A labelling with a single class carries no information (scikit-learn returns exactly 0).
  if (rows <= 1 || cols <= 1) return 0;
  let mi = 0;
  const logN = Math.log(n);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const nij = table[i * cols + j];
      if (nij === 0) continue;
      // Same grouping of terms as scikit-learn's mutual_info_score, which also zeroes terms
      // below the float64 epsilon in magnitude.
      const p = nij / n;
      const term = p * (Math.log(nij) - logN) + p * (-Math.log(a[i] * b[j]) + logN + logN);
      if (Math.abs(term) >= EPS) mi += term;
    }
  }
  return Math.max(0, mi);
}

/**
 * True when the two labellings are the same partition up to a renaming of the labels (each
 * class meets exactly one cluster and vice versa): NMI and AMI are then exactly 1, also where
 * AMI's formula is 0/0 (all singletons, n = 2).
 */
function samePartition(ct: Contingency): boolean {
  if (ct.rows !== ct.cols) return false;
  let nonZero = 0;
  for (const v of ct.table) if (v > 0) nonZero++;
  return nonZero === ct.rows;
}

/**
 * Natural logarithm of the gamma function for x > 0: Stirling's series for x ≥ 10 (error below
 * 1e-15 relative), shifted there by the recurrence Γ(x + 1) = x Γ(x) for smaller x.
 *
 * @example
 * ```ts
 * import { logGamma } from "./clustering.ts";
 * logGamma(5); // ln 24 = 3.1780538303479458
 * ```
 */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new Error(`logGamma: x must be > 0, got ${x}`);
  let shift = 0;
  while (x < 10) {
    shift += Math.log(x);
    x += 1;
  }
  const z = 1 / (x * x);
  const series = (1 / x) *
    (1 / 12 - z * (1 / 360 - z * (1 / 1260 - z * (1 / 1680 - z * (1 / 1188)))));
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

/**
 * Mutual information between two labellings, in nats (scikit-learn's `mutual_info_score`).
 *
 * @example
 * ```ts
 * import { mutualInformation } from "./clustering.ts";
 * mutualInformation([0, 0, 1, 1], [1, 1, 0, 0]); // ln 2 = 0.6931...
 * ```
 */
export function mutualInformation(
  trueLabels: ArrayLike<number>,
  predLabels: ArrayLike<number>,
): number {
  return mutualInfo(contingency(trueLabels, predLabels, "mutualInformation"));
}

/**
 * Normalised mutual information, MI / ((H(U) + H(V)) / 2), as scikit-learn's
 * `normalized_mutual_info_score` with `average_method="arithmetic"` (scikit-learn 1.9), including
 * its degenerate cases: the same partition (identical labellings up to renaming, all singletons
 * included) scores 1; both labellings a single cluster, or both empty, score 1; otherwise
 * MI = 0 (for instance one side a single cluster) scores 0.
 *
 * @param trueLabels `[n]`
 * @param predLabels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nmi } from "./clustering.ts";
 * assert.equal(nmi([0, 0, 1, 1], [5, 5, 7, 7]), 1);
 * assert.equal(nmi([0, 0, 0], [0, 1, 2]), 0); // one cluster against singletons
 * ```
 */
export function nmi(trueLabels: ArrayLike<number>, predLabels: ArrayLike<number>): number {
  const ct = contingency(trueLabels, predLabels, "nmi");
  if ((ct.rows === 1 && ct.cols === 1) || (ct.rows === 0 && ct.cols === 0)) return 1;
  if (samePartition(ct)) return 1;
  const mi = mutualInfo(ct);
  if (mi === 0) return 0;
  const norm = (entropyOf(ct.a, ct.n) + entropyOf(ct.b, ct.n)) / 2;
  return mi / norm;
}

/**
 * Expected mutual information of two labellings with the margins of `trueLabels` ×
 * `predLabels` under the hypergeometric model of random labellings (Vinh, Epps & Bailey 2010).
 *
 * @example
 * ```ts
 * import { expectedMutualInformation } from "./clustering.ts";
 * expectedMutualInformation([0, 0, 1, 1], [0, 1, 0, 1]); // 0.2310...
 * ```
 */
export function expectedMutualInformation(
  trueLabels: ArrayLike<number>,
  predLabels: ArrayLike<number>,
): number {
  return emiOf(contingency(trueLabels, predLabels, "expectedMutualInformation"));
}

function emiOf(ct: Contingency): number {
  const { n, a, b } = ct;
  if (a.length === 1 || b.length === 1) return 0;
  // lgf[x] = ln Γ(x + 1) = ln x!, each computed directly (no accumulated round-off).
  const lgf = new Float64Array(n + 1);
  let fact = 1;
  for (let x = 0; x <= n; x++) {
    if (x > 0) fact *= x;
    lgf[x] = x <= 170 ? Math.log(fact) : logGamma(x + 1);
  }
  const logN = Math.log(n);
  let emi = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < b.length; j++) {
      const ai = a[i], bj = b[j];
      const start = Math.max(1, ai - n + bj), end = Math.min(ai, bj);
      const fixed = lgf[ai] + lgf[bj] + lgf[n - ai] + lgf[n - bj] - lgf[n];
      for (let nij = start; nij <= end; nij++) {
        const term2 = logN + Math.log(nij) - Math.log(ai) - Math.log(bj);
        const gln = fixed - lgf[nij] - lgf[ai - nij] - lgf[bj - nij] - lgf[n - ai - bj + nij];
        emi += (nij / n) * term2 * Math.exp(gln);
      }
    }
  }
  return emi;
}

/**
 * Adjusted mutual information, (MI − E[MI]) / (mean(H(U), H(V)) − E[MI]), as scikit-learn's
 * `adjusted_mutual_info_score` (arithmetic mean, scikit-learn 1.9): 1 for identical partitions
 * (up to renaming of the labels, all singletons and n = 2 included, where the formula is 0/0),
 * about 0 for independent ones, possibly negative. Degenerate cases as scikit-learn: both
 * labellings a single cluster, or both empty, score 1; exactly one of them a single cluster
 * scores 0. As scikit-learn, the numerator and the denominator are each kept at least one
 * float64 epsilon away from 0 (with their sign).
 *
 * @param trueLabels `[n]`
 * @param predLabels `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ami } from "./clustering.ts";
 * assert.equal(ami([0, 0, 1, 1], [0, 0, 1, 1]), 1);
 * assert.equal(ami([1, 0], [1, 0]), 1); // identical partitions, even where MI = E[MI]
 * assert.equal(ami([0, 0, 0], [0, 1, 2]), 0); // one cluster against singletons
 * ```
 */
export function ami(trueLabels: ArrayLike<number>, predLabels: ArrayLike<number>): number {
  const ct = contingency(trueLabels, predLabels, "ami");
  if ((ct.rows === 1 && ct.cols === 1) || (ct.rows === 0 && ct.cols === 0)) return 1;
  if (ct.rows === 1 || ct.cols === 1) return 0;
  if (samePartition(ct)) return 1;
  const mi = mutualInfo(ct);
  const emi = emiOf(ct);
  const norm = (entropyOf(ct.a, ct.n) + entropyOf(ct.b, ct.n)) / 2;
  let den = norm - emi;
  den = den < 0 ? Math.min(den, -EPS) : Math.max(den, EPS);
  let num = mi - emi;
  num = num < 0 ? Math.min(num, -EPS) : Math.max(num, EPS);
  return num / den;
}
