/**
 * Constraints built from class labels, as metric-learn's `Constraints` builds them for the
 * `_Supervised` learners: positive and negative pairs (ITML, MMC, SDML, and LSML's quadruplets),
 * chunklets (RCA) and k-nearest-neighbour triplets (SCML). Negative labels mark unlabelled points,
 * which take part in no constraint (metric-learn's partial labels, −1 = unknown). Seeded by our own
 * generator: the same seed gives the same constraints, not numpy's.
 *
 * @module
 */
import { createRng } from "../data/random.ts";
import { checkInteger } from "./_internal.ts";

/**
 * Index arrays of positive pairs (a_i, b_i) (same label) and negative pairs (c_i, d_i)
 * (different labels).
 *
 * @example
 * ```ts
 * import { positiveNegativePairs } from "./constraints.ts";
 * const { a, b, c, d } = positiveNegativePairs([0, 0, 1, 1], 2);
 * console.log(a.length, c.length); // 2 2
 * ```
 */
export interface PositiveNegativePairs {
  /** First points of the positive pairs. */
  a: Int32Array;
  /** Second points of the positive pairs (same label as `a`). */
  b: Int32Array;
  /** First points of the negative pairs. */
  c: Int32Array;
  /** Second points of the negative pairs (another label than `c`). */
  d: Int32Array;
}

function drawPairs(
  labels: ArrayLike<number>,
  count: number,
  sameLabel: boolean,
  rng: ReturnType<typeof createRng>,
): [Int32Array, Int32Array] {
  const known: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] >= 0) known.push(i);
  const m = known.length;
  const seen = new Set<number>();
  const first: number[] = [], second: number[] = [];
  for (let it = 0; it < 10 && first.length < count; it++) {
    const nc = count - first.length;
    for (let t = 0; t < nc; t++) {
      const ai = rng.nextInt(m);
      const la = labels[known[ai]];
      const choices: number[] = [];
      for (let j = 0; j < m; j++) {
        if (sameLabel ? (j !== ai && labels[known[j]] === la) : labels[known[j]] !== la) {
          choices.push(j);
        }
      }
      if (!choices.length) continue;
      const bi = choices[rng.nextInt(choices.length)];
      const key = ai * m + bi;
      if (seen.has(key)) continue;
      seen.add(key);
      first.push(known[ai]);
      second.push(known[bi]);
    }
  }
  return [Int32Array.from(first.slice(0, count)), Int32Array.from(second.slice(0, count))];
}

/**
 * Draws up to `nConstraints` distinct positive pairs (two different points of one label) and as
 * many distinct negative pairs (points of different labels), metric-learn's
 * `Constraints.positive_negative_pairs`: each round draws the missing number of first points
 * uniformly and a partner uniformly among the eligible points, duplicates dropped, for at most 10
 * rounds. Fewer pairs come back when the labels do not allow more (the caller reports it, as
 * metric-learn warns).
 *
 * @param labels `[n]` class labels (negative: unlabelled)
 * @param nConstraints pairs of each kind wanted (≥ 1)
 * @param options `sameLength`: cut both kinds to the shorter (default false); `seed` (default 0)
 * @throws Error when `nConstraints` is not a positive integer.
 * @example
 * ```ts
 * import { positiveNegativePairs } from "./constraints.ts";
 * const { a, b, c, d } = positiveNegativePairs([0, 0, 1, 1, 2], 3, { seed: 1 });
 * console.log([...a].every((i, t) => [0, 0, 1, 1, 2][i] === [0, 0, 1, 1, 2][b[t]])); // true
 * ```
 */
export function positiveNegativePairs(
  labels: ArrayLike<number>,
  nConstraints: number,
  options: { sameLength?: boolean; seed?: number } = {},
): PositiveNegativePairs {
  checkInteger("positiveNegativePairs", "nConstraints", nConstraints, 1);
  const rng = createRng(options.seed ?? 0);
  let [a, b] = drawPairs(labels, nConstraints, true, rng);
  let [c, d] = drawPairs(labels, nConstraints, false, rng);
  if (options.sameLength && a.length !== c.length) {
    const n = Math.min(a.length, c.length);
    [a, b, c, d] = [a.slice(0, n), b.slice(0, n), c.slice(0, n), d.slice(0, n)];
  }
  return { a, b, c, d };
}

/**
 * Splits labelled points into `nChunks` chunklets of `chunkSize` points of one class each, every
 * point in at most one chunklet (metric-learn's `Constraints.chunks`): repeatedly a class is drawn
 * uniformly among those with at least `chunkSize` unused points, and `chunkSize` of its unused
 * points are drawn without replacement.
 *
 * metric-learn 0.7 draws the class with `randint(0, n_classes − 1)`, which never picks the last
 * class while another remains; here every eligible class is equally likely.
 *
 * @param labels `[n]` class labels (negative: unlabelled)
 * @returns `[n]` chunklet index of each point, −1 for points in no chunklet
 * @throws Error when `chunkSize` < 2 or `nChunks` < 1, or when the classes cannot supply
 * `nChunks` chunklets ("not enough possible chunklets", with the maximum).
 * @example
 * ```ts
 * import { chunks } from "./constraints.ts";
 * const c = chunks([0, 0, 0, 0, 1, 1], { nChunks: 3, chunkSize: 2 });
 * console.log(Math.max(...c)); // 2
 * ```
 */
export function chunks(
  labels: ArrayLike<number>,
  options: { nChunks?: number; chunkSize?: number; seed?: number } = {},
): Int32Array {
  const { nChunks = 100, chunkSize = 2, seed = 0 } = options;
  checkInteger("chunks", "nChunks", nChunks, 1);
  checkInteger("chunks", "chunkSize", chunkSize, 2);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0) continue;
    byClass.set(labels[i], [...(byClass.get(labels[i]) ?? []), i]);
  }
  const pools = [...byClass.entries()].sort((p, q) => p[0] - q[0]).map(([, v]) => v);
  const maxChunks = pools.reduce((s, p) => s + Math.floor(p.length / chunkSize), 0);
  if (maxChunks < nChunks) {
    throw new Error(
      `chunks: not enough possible chunklets of ${chunkSize} points in each class to form ${nChunks} chunklets; the maximum is ${maxChunks}`,
    );
  }
  const rng = createRng(seed);
  const out = new Int32Array(labels.length).fill(-1);
  let eligible = pools.filter((p) => p.length >= chunkSize);
  for (let idx = 0; idx < nChunks; idx++) {
    const pool = eligible[rng.nextInt(eligible.length)];
    for (let t = 0; t < chunkSize; t++) {
      const j = rng.nextInt(pool.length);
      out[pool[j]] = idx;
      pool[j] = pool[pool.length - 1];
      pool.pop();
    }
    eligible = eligible.filter((p) => p.length >= chunkSize);
  }
  return out;
}

/** Indices of the k nearest rows of `pool` to row `i` of x (squared Euclidean, ties by index). */
function nearest(
  x: Float64Array,
  d: number,
  from: Float64Array,
  pool: readonly number[],
  k: number,
  exclude: number,
): number[] {
  const cand: [number, number][] = [];
  for (const j of pool) {
    if (j === exclude) continue;
    let s = 0;
    for (let c = 0; c < d; c++) {
      const v = from[c] - x[j * d + c];
      s += v * v;
    }
    cand.push([s, j]);
  }
  cand.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  return cand.slice(0, k).map((p) => p[1]);
}

/**
 * Triplets (a, b, c) from labelled points, metric-learn's `Constraints.generate_knntriplets`: for
 * every labelled point a, each of its `kGenuine` nearest points of the same class b and each of its
 * `kImpostor` nearest points of the other classes c (Euclidean; ties go to the lower index), in the
 * order a, then b, then c. A class too small for `kGenuine` (or whose complement is too small for
 * `kImpostor`) uses as many as it has, reported in `warnings` as metric-learn warns.
 *
 * @param x `[n, d]` row-major points
 * @param labels `[n]` (negative: unlabelled, left out)
 * @returns triplets `[m·3]` row-major (indices into x) and the warnings
 * @throws Error when `kGenuine`/`kImpostor` are not positive integers, or no triplet can be formed.
 * @example
 * ```ts
 * import { knnTriplets } from "./constraints.ts";
 * const { triplets } = knnTriplets(Float64Array.of(0, 1, 10, 11), 1, [0, 0, 1, 1], 1, 1);
 * console.log([...triplets.slice(0, 3)]); // [0, 1, 2]
 * ```
 */
export function knnTriplets(
  x: Float64Array,
  d: number,
  labels: ArrayLike<number>,
  kGenuine: number,
  kImpostor: number,
): { triplets: Int32Array; warnings: string[] } {
  checkInteger("knnTriplets", "kGenuine", kGenuine, 1);
  checkInteger("knnTriplets", "kImpostor", kImpostor, 1);
  const known: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] >= 0) known.push(i);
  const byClass = new Map<number, number[]>();
  for (const i of known) byClass.set(labels[i], [...(byClass.get(labels[i]) ?? []), i]);
  const warnings: string[] = [];
  const out: number[] = [];
  for (const [label, members] of [...byClass.entries()].sort((p, q) => p[0] - q[0])) {
    const others = known.filter((i) => labels[i] !== label);
    let kg = kGenuine, ki = kImpostor;
    if (kGenuine + 1 > members.length) {
      kg = members.length - 1;
      warnings.push(
        `class ${label} has ${members.length} elements, too few for ${kGenuine} genuine neighbours; using ${kg}`,
      );
    }
    if (kImpostor > others.length) {
      ki = others.length;
      warnings.push(
        `class ${label} has ${others.length} elements of other classes, too few for ${kImpostor} impostors; using ${ki}`,
      );
    }
    for (const a of members) {
      const from = x.subarray(a * d, (a + 1) * d);
      const genuine = nearest(x, d, from, members, kg, a);
      const impostors = nearest(x, d, from, others, ki, -1);
      for (const b of genuine) for (const c of impostors) out.push(a, b, c);
    }
  }
  if (!out.length) {
    throw new Error(
      "knnTriplets: no triplet can be formed: every class needs 2 points and another class",
    );
  }
  return { triplets: Int32Array.from(out), warnings };
}

/**
 * Labelled pairs from class labels, metric-learn's `positive_negative_pairs` followed by
 * `wrap_pairs`: up to `nConstraints` similar pairs (label +1) then up to as many dissimilar ones
 * (−1), as index pairs `[m·2]`; `short` describes a shortfall (metric-learn warns).
 *
 * @example
 * ```ts
 * import { supervisedPairs } from "./constraints.ts";
 * const { pairs, y } = supervisedPairs([0, 0, 1, 1], 2, 0);
 * console.log(pairs.length, y); // 8 [1, 1, -1, -1]
 * ```
 */
export function supervisedPairs(
  labels: ArrayLike<number>,
  nConstraints: number,
  seed = 0,
): { pairs: Int32Array; y: number[]; short?: string } {
  const { a, b, c, d } = positiveNegativePairs(labels, nConstraints, { seed });
  const pairs = new Int32Array(2 * (a.length + c.length));
  const y: number[] = [];
  for (let i = 0; i < a.length; i++) {
    pairs.set([a[i], b[i]], 2 * i);
    y.push(1);
  }
  for (let i = 0; i < c.length; i++) {
    pairs.set([c[i], d[i]], 2 * (a.length + i));
    y.push(-1);
  }
  const short = a.length < nConstraints || c.length < nConstraints
    ? `only ${a.length} similar and ${c.length} dissimilar pairs could be drawn (requested ${nConstraints} each)`
    : undefined;
  return { pairs, y, short };
}
