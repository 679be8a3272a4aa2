/**
 * The work every miner shares (private): option and input checks, the reference set, the
 * distance matrix read back to the CPU, empty tuples and the random source of the sampling miners.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { l2Normalize, pairwiseDistances } from "../distances.ts";
import { createRng, type Rng } from "../data/random.ts";
import type { LossDistance, PairIndices, TripletIndices } from "../losses/mod.ts";
import { type Labels, labelsArray } from "../losses/_tuples.ts";
import { resolveLossDistance } from "../losses/_distance.ts";
import { checkFiniteValues, checkOptionKeys } from "../validate.ts";
import type { MinerOptions } from "./types.ts";

/** The option names every distance-based miner reads. */
export const MINER_OPTION_KEYS = [
  "distance",
  "normalizeEmbeddings",
  "refEmbeddings",
  "refLabels",
] as const;

/** A batch ready for mining: labels and the `[n, m]` query × reference matrix on the CPU. */
export interface MinerBatch {
  /** Query rows (the embeddings). */
  n: number;
  /** Reference rows (`refEmbeddings`, else the embeddings again). */
  m: number;
  /** Embedding dimension. */
  d: number;
  /** Query labels `[n]`. */
  y: Int32Array;
  /** Reference labels `[m]` (the same array as `y` without a reference set). */
  yRef: Int32Array;
  /** Row-major `[n, m]` distances (similarities when `inverted`); empty when `n·m = 0`. */
  mat: Float32Array;
  /** True for similarities (larger is closer), PML's `is_inverted`. */
  inverted: boolean;
  /** True without a separate reference set: `(i, i)` is then never a pair, as in PML. */
  self: boolean;
}

/**
 * Checks the options' keys, the embeddings, labels and optional reference set, and computes the
 * query × reference distance matrix (PML's `self.distance(embeddings, ref_emb)`).
 *
 * An empty batch (0 rows) is accepted: `n = 0` and an empty matrix; each miner then does what
 * PML's does (returns empty tuples or throws).
 *
 * @throws Error naming `fn` for unknown options, a bad shape, a label count that differs, a
 *   reference set given without its labels (or the reverse), or a non-finite distance.
 */
export function minerBatch(
  fn: string,
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: MinerOptions,
  known: readonly string[],
  defaultDistance: LossDistance,
  computeMatrix = true,
): MinerBatch {
  checkOptionKeys(fn, options, known);
  const { distance = defaultDistance, normalizeEmbeddings = true, refEmbeddings, refLabels } =
    options;
  if (typeof normalizeEmbeddings !== "boolean") {
    throw new TypeError(
      `${fn}: normalizeEmbeddings must be true or false, got ${String(normalizeEmbeddings)}`,
    );
  }
  const [n, d] = checkMatrix(fn, "embeddings", embeddings);
  const y = labelsArray(labels, n, fn);
  if ((refEmbeddings === undefined) !== (refLabels === undefined)) {
    throw new Error(
      `${fn}: refEmbeddings and refLabels go together; got ${
        refEmbeddings === undefined ? "refLabels" : "refEmbeddings"
      } alone`,
    );
  }
  let m = n, yRef = y;
  // The batch itself given as its reference set (the same objects) is no reference set, as in
  // PML, whose checks are `ref_emb is embeddings`, `ref_labels is labels`.
  const self = refEmbeddings === undefined ||
    (refEmbeddings === embeddings && refLabels === labels);
  if (!self) {
    const [mr, dr] = checkMatrix(fn, "refEmbeddings", refEmbeddings);
    if (dr !== d) {
      throw new Error(
        `${fn}: refEmbeddings have dimension ${dr}, embeddings ${d}; they must match`,
      );
    }
    m = mr;
    yRef = labelsArray(refLabels!, m, `${fn} (refLabels)`);
  }
  const resolved = resolveLossDistance(fn, distance);
  let mat: Float32Array = new Float32Array(0);
  if (computeMatrix && n > 0 && m > 0) {
    const t = tf.tidy(() => {
      const q = normalizeEmbeddings ? l2Normalize(embeddings) : embeddings;
      const r = self ? q : normalizeEmbeddings ? l2Normalize(refEmbeddings!) : refEmbeddings!;
      return pairwiseDistances(q, r, resolved.metric, { checkFinite: false });
    });
    mat = t.dataSync() as Float32Array;
    t.dispose();
    for (let k = 0; k < mat.length; k++) {
      if (!Number.isFinite(mat[k])) {
        // Name the first non-finite embedding row when there is one (read only on failure).
        checkFiniteValues(fn, "embeddings", embeddings.dataSync(), d);
        if (!self) checkFiniteValues(fn, "refEmbeddings", refEmbeddings!.dataSync(), d);
        const i = Math.floor(k / m), j = k % m;
        throw new Error(
          `${fn}: the ${resolved.metric.name} value between embeddings row ${i} and ${
            self ? "embeddings" : "refEmbeddings"
          } row ${j} is ${mat[k]}; the distance must be finite`,
        );
      }
    }
  }
  return {
    n,
    m,
    d,
    y,
    yRef,
    mat,
    inverted: resolved.inverted,
    self,
  };
}

function checkMatrix(fn: string, name: string, x: unknown): [number, number] {
  if (!(x instanceof tf.Tensor) || x.rank !== 2) {
    throw new TypeError(
      `${fn}: ${name} must be a [n, d] tensor, got ${
        x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x
      }`,
    );
  }
  if (x.shape[1] === 0) throw new Error(`${fn}: ${name} have dimension 0`);
  return [x.shape[0], x.shape[1]];
}

/**
 * Throws unless the miner runs with PML's default Euclidean distance on L2-normalised embeddings,
 * which PML's `AngularMiner` and `DistanceWeightedMiner` assert (`LpDistance(p=2, power=1,
 * normalize_embeddings=True)`).
 */
export function requireNormalizedEuclidean(fn: string, options: MinerOptions): void {
  const { distance = "euclidean", normalizeEmbeddings = true } = options;
  const name = typeof distance === "string"
    ? distance
    : distance && typeof distance === "object" && "name" in distance
    ? (distance as { name: string }).name
    : String(distance);
  if (name !== "euclidean") {
    throw new Error(
      `${fn}: distance must be "euclidean" (PML's class requires LpDistance(p=2, power=1)), got ${name}`,
    );
  }
  if (normalizeEmbeddings !== true) {
    throw new Error(
      `${fn}: normalizeEmbeddings must be true (PML's class requires normalize_embeddings=True), got ${
        String(normalizeEmbeddings)
      }`,
    );
  }
}

/** Bounds for {@linkcode checkNumber}. */
export interface NumberRange {
  /** Smallest allowed value (inclusive unless `minOpen`). */
  min?: number;
  /** Largest allowed value (inclusive unless `maxOpen`). */
  max?: number;
  /** Exclude `min` itself. */
  minOpen?: boolean;
  /** Exclude `max` itself. */
  maxOpen?: boolean;
  /** Require an integer. */
  integer?: boolean;
}

/**
 * Checks a numeric option: a finite number (an integer when asked) inside the range.
 *
 * @throws TypeError when it is not a number; RangeError when it is NaN, infinite, not an integer
 *   or outside the range; the message names the function, the option and the value.
 */
export function checkNumber(fn: string, name: string, value: unknown, range: NumberRange = {}) {
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: ${name} must be a number, got ${typeof value} ${String(value)}`);
  }
  if (!Number.isFinite(value)) throw new RangeError(`${fn}: ${name} must be finite, got ${value}`);
  if (range.integer && !Number.isInteger(value)) {
    throw new RangeError(`${fn}: ${name} must be an integer, got ${value}`);
  }
  const { min, max, minOpen = false, maxOpen = false } = range;
  const low = min !== undefined && (minOpen ? value <= min : value < min);
  const high = max !== undefined && (maxOpen ? value >= max : value > max);
  if (low || high) {
    const lo = min === undefined ? "(-∞" : `${minOpen ? "(" : "["}${min}`;
    const hi = max === undefined ? "∞)" : `${max}${maxOpen ? ")" : "]"}`;
    throw new RangeError(`${fn}: ${name} must be in ${lo}, ${hi}, got ${value}`);
  }
}

/** The random source of a sampling miner: `options.rng`, else a fresh mulberry32 seeded with 0. */
export function minerRng(fn: string, rng: unknown): Rng {
  if (rng === undefined) return createRng(0);
  if (
    rng === null || typeof rng !== "object" ||
    typeof (rng as Rng).nextInt !== "function" || typeof (rng as Rng).next !== "function"
  ) {
    throw new TypeError(`${fn}: rng must be a generator from createRng(seed), got ${String(rng)}`);
  }
  return rng as Rng;
}

/** Builds `PairIndices` from plain arrays. */
export function pairsOf(a1: number[], p: number[], a2: number[], n: number[]): PairIndices {
  return {
    a1: Int32Array.from(a1),
    p: Int32Array.from(p),
    a2: Int32Array.from(a2),
    n: Int32Array.from(n),
  };
}

/** Builds `TripletIndices` from plain arrays. */
export function tripletsOf(a: number[], p: number[], n: number[]): TripletIndices {
  return { a: Int32Array.from(a), p: Int32Array.from(p), n: Int32Array.from(n) };
}

/**
 * All positive pairs `(i, j)` (same label; `i ≠ j` without a reference set) and all negative
 * pairs (different labels), row-major as PML's `get_all_pairs_indices(labels, ref_labels)`.
 */
export function allPairs(b: MinerBatch): PairIndices {
  const a1: number[] = [], p: number[] = [], a2: number[] = [], ng: number[] = [];
  for (let i = 0; i < b.n; i++) {
    for (let j = 0; j < b.m; j++) {
      if (b.y[i] === b.yRef[j]) {
        if (!(b.self && i === j)) a1.push(i), p.push(j);
      } else {
        a2.push(i), ng.push(j);
      }
    }
  }
  return pairsOf(a1, p, a2, ng);
}

/** Float32 rounding, for comparisons made as PyTorch makes them in float32. */
export const f32: (x: number) => number = Math.fround;
