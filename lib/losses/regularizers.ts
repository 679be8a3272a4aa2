/**
 * Regularizers, as pytorch-metric-learning (PML) defines them: penalties on the rows of a matrix
 * — the embeddings (attach with a loss's `embeddingRegularizer`/`embeddingRegWeight`) or a loss's
 * class weights (`weightRegularizer`/`weightRegWeight`, for losses with learnable parameters) —
 * each reduced by its own reducer (`reduction`, default `"mean"`, as PML's `BaseRegularizer`).
 * Called directly, a regularizer returns its penalty: `lpRegularizer()(x)`.
 *
 * | factory | PML | per-row penalty |
 * | --- | --- | --- |
 * | `lpRegularizer({ p, power })` | `LpRegularizer` | ‖x_i‖_p^power |
 * | `zeroMeanRegularizer()` | `ZeroMeanRegularizer` | \|Σ_j x_ij\| |
 * | `centerInvariantRegularizer()` | `CenterInvariantRegularizer` | (‖x_i‖² − mean_k ‖x_k‖²)² / 4 |
 * | `regularFaceRegularizer()` | `RegularFaceRegularizer` | max_{j ≠ i} cos(x_i, x_j) |
 * | `sparseCentersRegularizer({ numClasses, centersPerClass })` | `SparseCentersRegularizer` | √(2 − min(2cos(c_a, c_b), 2)) per pair of centres of one class, summed over 2 × their number |
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import {
  type LossDistance,
  lossDistanceMatrix,
  type ResolvedDistance,
  resolveLossDistance,
} from "./_distance.ts";
import type { CheckEnv, OptionSpec, Regularizer } from "./_template.ts";
import { opt } from "./_template.ts";
import { type LossTerm, reduceTerms, resolveReducer } from "./_reduce.ts";
import type { ReducerSpec } from "./reducers.ts";
import { stopGradient } from "./_ops.ts";

/** Options every regularizer accepts. */
export interface RegularizerOptions {
  /** Its reducer (see `reducers.ts`); default `"mean"` (`"divisor"` for SparseCenters). */
  reduction?: ReducerSpec;
}

interface RegularizerDefinition<O> {
  name: string;
  reduction: ReducerSpec;
  options: Record<string, OptionSpec<unknown>>;
  /** The distance option, when the regularizer has one: its default and its requirement. */
  distance?: { default: LossDistance; check(d: ResolvedDistance): string | undefined };
  compute(x: tf.Tensor2D, o: O, distance: ResolvedDistance | undefined): LossTerm;
}

/** Builds a regularizer: checks the options once, then reduces `compute`'s term per call. */
function makeRegularizer<O>(
  def: RegularizerDefinition<O>,
  options: Record<string, unknown> | undefined,
): Regularizer {
  const fn = def.name;
  const known = ["reduction", ...(def.distance ? ["distance"] : []), ...Object.keys(def.options)];
  checkOptionKeys(fn, options, known);
  const given = options ?? {};
  const distance = def.distance
    ? resolveLossDistance(fn, (given.distance as LossDistance) ?? def.distance.default)
    : undefined;
  const bad = distance && def.distance!.check(distance);
  if (bad) throw new Error(`${fn}: ${bad}`);
  const env: CheckEnv = {
    fn,
    name: "",
    distance: distance ?? resolveLossDistance(fn, "euclidean"),
  };
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(def.options)) {
    const value = given[name] ?? spec.default;
    if (value === undefined) throw new Error(`${fn}: option ${name} is required`);
    spec.check(value, { ...env, name });
    resolved[name] = value;
  }
  const reducer = resolveReducer(fn, (given.reduction as ReducerSpec) ?? def.reduction, ["loss"]);
  if (reducer.name === "none") throw new Error(`${fn}: reduction "none" is not supported`);
  const o = resolved as O;
  const regularize = (x: tf.Tensor2D): tf.Scalar => {
    if (!(x instanceof tf.Tensor) || x.rank !== 2 || x.shape[0] === 0) {
      throw new Error(`${fn}: expected a non-empty [k, d] tensor`);
    }
    return tf.tidy(() => {
      const k = x.shape[0];
      const term = def.compute(x, o, distance);
      const labels = Int32Array.from({ length: k }, (_, i) => i);
      const zero = () => tf.mul(tf.sum(x), 0) as tf.Scalar;
      return reduceTerms({ loss: term }, reducer, { fn, labels, n: k, zero }) as tf.Scalar;
    });
  };
  Object.defineProperty(regularize, "name", { value: fn });
  Object.defineProperty(regularize, "regularizerName", { value: fn, enumerable: true });
  return regularize as Regularizer;
}

/** Options of {@linkcode lpRegularizer}; defaults are PML's `LpRegularizer`. */
export interface LpRegularizerOptions extends RegularizerOptions {
  /** The norm's order p (> 0, or `Infinity`). Default 2. */
  p?: number;
  /** The power the norm is raised to. Default 1. */
  power?: number;
}

/**
 * PML's `LpRegularizer`: the penalty of row `i` is `‖x_i‖_p^power`, reduced by `reduction`
 * (default `"mean"`): with the defaults, the mean L2 norm of the rows.
 *
 * @param options `p` (default 2), `power` (default 1), `reduction`
 * @returns a regularizer, `(x [k, d]) => tf.Scalar`
 * @throws Error for an unknown option, `p` not > 0, a non-finite `power`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { lpRegularizer } from "./regularizers.ts";
 * const v = lpRegularizer()(tf.tensor2d([[3, 4], [0, 1]])).dataSync()[0];
 * assert.ok(Math.abs(v - 3) < 1e-6); // (5 + 1) / 2
 * ```
 */
export function lpRegularizer(options?: LpRegularizerOptions): Regularizer {
  return makeRegularizer<{ p: number; power: number }>({
    name: "lpRegularizer",
    reduction: "mean",
    options: {
      p: opt.custom(2, (v, env) => {
        if (typeof v !== "number" || !(v > 0) || Number.isNaN(v)) {
          throw new Error(`${env.fn}: p must be a number > 0 (or Infinity), got ${v}`);
        }
      }),
      power: opt.number(1),
    },
    compute(x, { p, power }) {
      const a = tf.abs(x);
      let norm = p === Infinity
        ? tf.max(a, 1)
        : p === 1
        ? tf.sum(a, 1)
        : tf.pow(tf.sum(tf.pow(a, p), 1), 1 / p);
      if (power !== 1) norm = tf.pow(norm, power);
      return { kind: "element", losses: norm };
    },
  }, options as Record<string, unknown>);
}

/**
 * PML's `ZeroMeanRegularizer`: the penalty of row `i` is `|Σ_j x_ij|`, reduced by `reduction`
 * (default `"mean"`).
 *
 * @param options `reduction`
 * @returns a regularizer, `(x [k, d]) => tf.Scalar`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { zeroMeanRegularizer } from "./regularizers.ts";
 * const v = zeroMeanRegularizer()(tf.tensor2d([[1, -3], [2, 2]])).dataSync()[0];
 * assert.ok(Math.abs(v - 3) < 1e-6); // (|−2| + |4|) / 2
 * ```
 */
export function zeroMeanRegularizer(options?: RegularizerOptions): Regularizer {
  return makeRegularizer<Record<string, never>>({
    name: "zeroMeanRegularizer",
    reduction: "mean",
    options: {},
    compute: (x) => ({ kind: "element", losses: tf.abs(tf.sum(x, 1)) }),
  }, options as Record<string, unknown>);
}

/**
 * PML's `CenterInvariantRegularizer` (Wu et al. 2017, "Deep features for face recognition
 * under-represented classes"): with `s_i = ‖x_i‖²` (rows not normalised), the penalty of row `i`
 * is `(s_i − mean_k s_k)² / 4`, reduced by `reduction` (default `"mean"`). Meant for class
 * weights: it keeps their norms equal.
 *
 * @param options `reduction`
 * @returns a regularizer, `(x [k, d]) => tf.Scalar`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { centerInvariantRegularizer } from "./regularizers.ts";
 * const v = centerInvariantRegularizer()(tf.tensor2d([[1, 0], [0, 3]])).dataSync()[0];
 * assert.ok(Math.abs(v - 4) < 1e-5); // s = (1, 9), deviations ∓4, (16/4 + 16/4) / 2
 * ```
 */
export function centerInvariantRegularizer(options?: RegularizerOptions): Regularizer {
  return makeRegularizer<Record<string, never>>({
    name: "centerInvariantRegularizer",
    reduction: "mean",
    options: {},
    compute(x) {
      const s = tf.sum(tf.square(x), 1);
      return { kind: "element", losses: tf.div(tf.square(tf.sub(s, tf.mean(s))), 4) };
    },
  }, options as Record<string, unknown>);
}

/** Options of {@linkcode regularFaceRegularizer}. */
export interface RegularFaceRegularizerOptions extends RegularizerOptions {
  /**
   * A similarity (PML asserts `is_inverted`), of L2-normalised rows (PML's distances normalise by
   * default). Default `"cosine"` (PML's `CosineSimilarity`).
   */
  distance?: LossDistance;
}

/**
 * PML's `RegularFaceRegularizer` (Zhao et al. 2019, "RegularFace: Deep Face Recognition via
 * Exclusive Regularization"): the penalty of row `i` is its largest similarity to another row,
 * `max_{j ≠ i} s(x_i, x_j)` (the argmax carries no gradient), reduced by `reduction` (default
 * `"mean"`). Meant for class weights: it spreads the class centres apart.
 *
 * @param options `distance` (a similarity; default cosine), `reduction`
 * @returns a regularizer, `(x [k, d]) => tf.Scalar`
 * @throws Error for a distance that is not a similarity.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { regularFaceRegularizer } from "./regularizers.ts";
 * const v = regularFaceRegularizer()(tf.tensor2d([[1, 0], [0, 1], [1, 1]])).dataSync()[0];
 * assert.ok(Math.abs(v - Math.SQRT1_2) < 1e-6); // each row's nearest other row is at 45°
 * ```
 */
export function regularFaceRegularizer(options?: RegularFaceRegularizerOptions): Regularizer {
  return makeRegularizer<Record<string, never>>({
    name: "regularFaceRegularizer",
    reduction: "mean",
    options: {},
    distance: {
      default: "cosine",
      check: (d) => d.inverted ? undefined : "distance must be a similarity (PML asserts it)",
    },
    compute(x, _o, distance) {
      const k = x.shape[0];
      const cos = lossDistanceMatrix(x, distance!, true);
      const masked = tf.where(
        tf.cast(tf.eye(k), "bool"),
        tf.fill([k, k], -3.4028234663852886e38),
        cos,
      );
      const nearest = tf.argMax(stopGradient(masked), 1) as tf.Tensor1D;
      const mask = tf.oneHot(nearest, k);
      return { kind: "element", losses: tf.sum(tf.mul(cos, mask), 1) };
    },
  }, options as Record<string, unknown>);
}

/** Options of {@linkcode sparseCentersRegularizer}; PML's `SparseCentersRegularizer`. */
export interface SparseCentersRegularizerOptions extends RegularizerOptions {
  /** Number of classes. Required. */
  numClasses?: number;
  /** Centres per class (> 1); rows `c·centersPerClass … (c+1)·centersPerClass − 1` are class c's. */
  centersPerClass?: number;
}

/**
 * PML's `SparseCentersRegularizer` (Qian et al. 2019, "SoftTriple Loss"): for class weights with
 * `centersPerClass` centres per class (`[numClasses·centersPerClass, d]`, class by class), each
 * pair `a < b` of centres of one class pays `√(2 + ε − min(2 cos(c_a, c_b), 2))`; the default
 * reducer `"divisor"` divides their sum by twice the number of such pairs
 * (`numClasses·C·(C − 1)`), PML's value.
 *
 * @param options `numClasses`, `centersPerClass` (> 1), `reduction` (default `"divisor"`)
 * @returns a regularizer, `(x [numClasses·centersPerClass, d]) => tf.Scalar`
 * @throws Error for missing or bad counts, or when `x` has another number of rows.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { sparseCentersRegularizer } from "./regularizers.ts";
 * const reg = sparseCentersRegularizer({ numClasses: 1, centersPerClass: 2 });
 * const v = reg(tf.tensor2d([[1, 0], [0, 1]])).dataSync()[0];
 * assert.ok(Math.abs(v - Math.SQRT2 / 2) < 1e-6); // one pair at 90°: √2, over 2 × 1
 * ```
 */
export function sparseCentersRegularizer(options?: SparseCentersRegularizerOptions): Regularizer {
  return makeRegularizer<{ numClasses: number; centersPerClass: number }>({
    name: "sparseCentersRegularizer",
    reduction: { name: "divisor" },
    options: {
      numClasses: opt.integer(undefined, { min: 1 }),
      centersPerClass: opt.integer(undefined, { min: 2 }),
    },
    distance: {
      default: "cosine",
      check: (d) =>
        d.metric.name === "cosineSimilarity"
          ? undefined
          : `distance must be "cosine" (PML asserts CosineSimilarity)`,
    },
    compute(x, { numClasses, centersPerClass: c }, distance) {
      const total = numClasses * c;
      if (x.shape[0] !== total) {
        throw new Error(
          `sparseCentersRegularizer: expected ${total} rows (numClasses × centersPerClass), ` +
            `got ${x.shape[0]}`,
        );
      }
      const rows: number[] = [], cols: number[] = [];
      for (let k = 0; k < numClasses; k++) {
        for (let a = 0; a < c; a++) {
          for (let b = a + 1; b < c; b++) rows.push(k * c + a), cols.push(k * c + b);
        }
      }
      const sim = tf.reshape(lossDistanceMatrix(x, distance!, true), [-1]);
      const picked = tf.gather(sim, rows.map((r, i) => r * total + cols[i]));
      const clamped = tf.minimum(tf.mul(picked, 2), 2);
      const losses = tf.sqrt(tf.sub(2 + 1.1754943508222875e-38, clamped));
      return { kind: "element", losses, divisor: 2 * rows.length };
    },
  }, options as Record<string, unknown>);
}
