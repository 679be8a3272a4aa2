/**
 * Input checks and conversions shared by the linear learners (internal; not re-exported by
 * `mod.ts`): points, labels and tuples (pairs, triplets, quadruplets) in every form the learners
 * accept, read into float64 and checked as metric-learn's `check_input` checks them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkFiniteValues } from "../validate.ts";

/**
 * Points `[n, d]`: a tensor or nested arrays (rows).
 *
 * @example
 * ```ts
 * import type { MatrixInput } from "./_internal.ts";
 * const x: MatrixInput = [[0, 1], [2, 3]];
 * ```
 */
export type MatrixInput = tf.Tensor2D | ArrayLike<ArrayLike<number>>;

/**
 * Labels or targets `[n]`.
 *
 * @example
 * ```ts
 * import type { LabelInput } from "./_internal.ts";
 * const y: LabelInput = Int32Array.of(0, 1);
 * ```
 */
export type LabelInput = ArrayLike<number> | tf.Tensor1D;

/**
 * Tuples of points: `[n, t, d]` formed tuples (a rank-3 tensor or nested arrays), or `[n, t]`
 * indices into the learner's `preprocessor` points (a rank-2 int tensor or nested arrays), as
 * metric-learn accepts them.
 *
 * @example
 * ```ts
 * import type { TupleInput } from "./_internal.ts";
 * const pairs: TupleInput = [[[0, 0], [1, 1]], [[0, 0], [5, 5]]];
 * const indexPairs: TupleInput = [[0, 1], [0, 2]]; // with a preprocessor
 * ```
 */
export type TupleInput =
  | tf.Tensor3D
  | tf.Tensor2D
  | ArrayLike<ArrayLike<ArrayLike<number>>>
  | ArrayLike<ArrayLike<number>>;

/**
 * Points read into float64, row-major.
 *
 * @example
 * ```ts
 * import type { Points } from "./_internal.ts";
 * const p: Points = { data: Float64Array.of(0, 1), n: 1, d: 2 };
 * ```
 */
export interface Points {
  /** `[n·d]` row-major. */
  data: Float64Array;
  /** Rows. */
  n: number;
  /** Features. */
  d: number;
}

/**
 * Tuples read into float64: `[n, t, d]` row-major.
 *
 * @example
 * ```ts
 * import type { Tuples } from "./_internal.ts";
 * const t: Tuples = { data: new Float64Array(8), n: 2, t: 2, d: 2 };
 * ```
 */
export interface Tuples {
  /** `[n·t·d]` row-major. */
  data: Float64Array;
  /** Tuples. */
  n: number;
  /** Points per tuple. */
  t: number;
  /** Features. */
  d: number;
}

/**
 * Reads `[n, d]` points into float64, refusing a wrong rank, ragged rows, fewer than `minRows`
 * rows, no feature, and NaN/±Infinity (naming the first bad row).
 *
 * @example
 * ```ts
 * import { readPoints } from "./_internal.ts";
 * const p = await readPoints("demo", "x", [[0, 1], [2, 3]]);
 * console.log(p.n, p.d); // 2 2
 * ```
 */
export async function readPoints(
  fn: string,
  name: string,
  x: MatrixInput,
  minRows = 1,
): Promise<Points> {
  let data: Float64Array, n: number, d: number;
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2) throw new Error(`${fn}: ${name} must be [n, d], got shape [${x.shape}]`);
    [n, d] = x.shape;
    data = Float64Array.from(await x.data());
  } else {
    if (!x || typeof x.length !== "number" || typeof x === "string") {
      throw new Error(`${fn}: ${name} must be a tf.Tensor2D or an array of rows`);
    }
    n = x.length;
    d = n > 0 ? x[0]?.length ?? -1 : 0;
    if (n > 0 && !(d >= 0)) throw new Error(`${fn}: ${name} must be [n, d]: row 0 is not an array`);
    data = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const row = x[i];
      if (!row || typeof row.length !== "number" || row.length !== d) {
        throw new Error(`${fn}: ${name} row ${i} has ${row?.length} values, row 0 has ${d}`);
      }
      for (let j = 0; j < d; j++) data[i * d + j] = row[j];
    }
  }
  if (n < minRows) {
    throw new Error(
      `${fn}: ${name} needs at least ${minRows} sample${minRows > 1 ? "s" : ""}, got ${n}`,
    );
  }
  if (d < 1) throw new Error(`${fn}: ${name} has no feature (shape [${n}, ${d}])`);
  checkFiniteValues(fn, name, data, d);
  return { data, n, d };
}

/**
 * Labels (or regression targets) as a plain array, checked against the number of rows and for
 * finiteness.
 *
 * @example
 * ```ts
 * import { readLabels } from "./_internal.ts";
 * await readLabels("demo", [0, 1, 1], 3); // [0, 1, 1]
 * ```
 */
export async function readLabels(
  fn: string,
  y: LabelInput,
  n: number,
  name = "y",
): Promise<number[]> {
  const arr = y instanceof tf.Tensor ? Array.from(await y.data()) : Array.from(y ?? []);
  if (arr.length !== n) {
    throw new Error(`${fn}: ${arr.length} ${name === "y" ? "labels" : name} for ${n} rows`);
  }
  for (let i = 0; i < arr.length; i++) {
    if (typeof arr[i] !== "number" || !Number.isFinite(arr[i])) {
      throw new Error(`${fn}: ${name}[${i}] is ${arr[i]}; labels must be finite numbers`);
    }
  }
  return arr;
}

/**
 * Class sizes by label, in ascending label order.
 *
 * @example
 * ```ts
 * import { classCounts } from "./_internal.ts";
 * console.log(classCounts([1, 0, 1])); // Map { 0 => 1, 1 => 2 }
 * ```
 */
export function classCounts(labels: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  return new Map([...counts].sort((a, b) => a[0] - b[0]));
}

/**
 * Throws unless the labels hold at least two classes.
 *
 * @example
 * ```ts
 * import { requireTwoClasses } from "./_internal.ts";
 * requireTwoClasses("demo", [0, 1]); // fine
 * ```
 */
export function requireTwoClasses(fn: string, labels: ArrayLike<number>): void {
  const counts = classCounts(labels);
  if (counts.size < 2) {
    throw new Error(
      `${fn}: needs at least 2 classes, got ${counts.size} (label ${[...counts.keys()][0]})`,
    );
  }
}

/**
 * metric-learn's `_check_n_components`: `nComponents` in [1, d], or d when undefined.
 *
 * @example
 * ```ts
 * import { checkNComponents } from "./_internal.ts";
 * console.log(checkNComponents("demo", undefined, 4)); // 4
 * ```
 */
export function checkNComponents(fn: string, nComponents: number | undefined, d: number): number {
  if (nComponents === undefined) return d;
  if (!Number.isInteger(nComponents) || nComponents < 1 || nComponents > d) {
    throw new Error(`${fn}: invalid nComponents ${nComponents}, must be in [1, ${d}]`);
  }
  return nComponents;
}

/**
 * Throws unless `v` is an integer ≥ `min`.
 *
 * @example
 * ```ts
 * import { checkInteger } from "./_internal.ts";
 * checkInteger("demo", "maxIter", 10, 1); // fine
 * ```
 */
export function checkInteger(fn: string, name: string, v: unknown, min: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new Error(`${fn}: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
}

/**
 * Throws unless `v` is a finite number > 0 (or ≥ 0 with `allowZero`).
 *
 * @example
 * ```ts
 * import { checkPositive } from "./_internal.ts";
 * checkPositive("demo", "tol", 1e-3); // fine
 * ```
 */
export function checkPositive(fn: string, name: string, v: unknown, allowZero = false): void {
  if (typeof v !== "number" || !Number.isFinite(v) || (allowZero ? v < 0 : v <= 0)) {
    throw new Error(`${fn}: ${name} must be a finite number ${allowZero ? "≥" : ">"} 0, got ${v}`);
  }
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return v !== null && typeof v === "object" &&
    typeof (v as { length?: unknown }).length === "number";
}

/**
 * Reads tuples of `t` points: formed tuples `[n, t, d]`, or index tuples `[n, t]` into
 * `preprocessor` (metric-learn's preprocessor). Refuses a wrong tuple size ("Tuples of t
 * element(s) expected"), index tuples without a preprocessor, indices out of range, no tuple, and
 * NaN/±Infinity (naming the first bad tuple).
 *
 * @example
 * ```ts
 * import { readTuples } from "./_internal.ts";
 * const pairs = await readTuples("demo", "pairs", [[0, 1]], 2, { data: Float64Array.of(0, 0, 3, 4), n: 2, d: 2 });
 * console.log(pairs.data); // [0, 0, 3, 4]
 * ```
 */
export async function readTuples(
  fn: string,
  name: string,
  tuples: TupleInput,
  t: number,
  preprocessor?: Points,
): Promise<Tuples> {
  const kind = t === 2 ? "pairs" : t === 3 ? "triplets" : t === 4 ? "quadruplets" : "tuples";
  let indices: { values: ArrayLike<number>; n: number; t: number } | null = null;
  let out: Tuples | null = null;
  if (tuples instanceof tf.Tensor) {
    if (tuples.rank === 3) {
      const [n, tt, d] = tuples.shape as number[];
      out = { data: Float64Array.from(await tuples.data()), n, t: tt, d };
    } else if (tuples.rank === 2) {
      indices = { values: await tuples.data(), n: tuples.shape[0], t: tuples.shape[1] };
    } else {
      throw new Error(
        `${fn}: ${name} must be [n, ${t}, d] ${kind} or [n, ${t}] indices, got shape [${tuples.shape}]`,
      );
    }
  } else {
    if (!isArrayLike(tuples)) throw new Error(`${fn}: ${name} must be an array of ${kind}`);
    const n = tuples.length;
    const first = n > 0 ? (tuples[0] as ArrayLike<unknown>) : undefined;
    if (n > 0 && !isArrayLike(first)) {
      throw new Error(`${fn}: ${name}[0] must be a tuple (an array of ${t} points or indices)`);
    }
    const tt = first ? first.length : t;
    if (first && tt > 0 && typeof first[0] === "number") {
      const values = new Float64Array(n * tt);
      for (let i = 0; i < n; i++) {
        const row = tuples[i] as ArrayLike<number>;
        if (!isArrayLike(row) || row.length !== tt) {
          throw new Error(`${fn}: ${name}[${i}] has ${row?.length} elements, ${name}[0] has ${tt}`);
        }
        for (let j = 0; j < tt; j++) values[i * tt + j] = row[j];
      }
      indices = { values, n, t: tt };
    } else {
      const d = first && tt > 0 ? (first[0] as ArrayLike<number>)?.length ?? 0 : 0;
      const data = new Float64Array(n * tt * d);
      for (let i = 0; i < n; i++) {
        const tuple = tuples[i] as ArrayLike<ArrayLike<number>>;
        if (!isArrayLike(tuple) || tuple.length !== tt) {
          throw new Error(
            `${fn}: ${name}[${i}] has ${tuple?.length} points, ${name}[0] has ${tt}`,
          );
        }
        for (let j = 0; j < tt; j++) {
          const p = tuple[j];
          if (!isArrayLike(p) || p.length !== d) {
            throw new Error(`${fn}: ${name}[${i}][${j}] must be a point of ${d} features`);
          }
          for (let c = 0; c < d; c++) data[(i * tt + j) * d + c] = p[c];
        }
      }
      out = { data, n, t: tt, d };
    }
  }
  if (indices) {
    if (indices.t !== t) {
      throw new Error(
        `${fn}: tuples of ${t} element(s) expected in ${name}, got tuples of ${indices.t} element(s)`,
      );
    }
    if (!preprocessor) {
      throw new Error(
        `${fn}: ${name} are [n, ${t}] indices; give the points they index as the \`preprocessor\` option, or pass formed ${kind} [n, ${t}, d]`,
      );
    }
    const { n } = indices, d = preprocessor.d;
    const data = new Float64Array(n * t * d);
    for (let i = 0; i < n * t; i++) {
      const v = indices.values[i];
      if (!Number.isInteger(v) || v < 0 || v >= preprocessor.n) {
        throw new Error(
          `${fn}: ${name}[${Math.floor(i / t)}] holds index ${v}, outside [0, ${preprocessor.n})`,
        );
      }
      data.set(preprocessor.data.subarray(v * d, (v + 1) * d), i * d);
    }
    out = { data, n, t, d };
  }
  const r = out!;
  if (r.t !== t) {
    throw new Error(
      `${fn}: tuples of ${t} element(s) expected in ${name}, got tuples of ${r.t} element(s)`,
    );
  }
  if (r.n < 1) throw new Error(`${fn}: ${name} is empty: at least one of the ${kind} is needed`);
  if (r.d < 1) throw new Error(`${fn}: ${name} have no feature`);
  checkFiniteValues(fn, name, r.data, t * r.d);
  return r;
}

/**
 * The rows of `[n, d]` points picked by `idx`, `[idx.length, d]`.
 *
 * @example
 * ```ts
 * import { gatherRows } from "./_internal.ts";
 * console.log(gatherRows(Float64Array.of(1, 2, 3), 1, [2, 0])); // [3, 1]
 * ```
 */
export function gatherRows(x: Float64Array, d: number, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) out.set(x.subarray(idx[i] * d, (idx[i] + 1) * d), i * d);
  return out;
}

/**
 * Yields to the event loop (so that long fits do not starve timers and Ctrl-C handlers).
 *
 * @example
 * ```ts
 * import { yieldNow } from "./_internal.ts";
 * await yieldNow();
 * ```
 */
export function yieldNow(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
