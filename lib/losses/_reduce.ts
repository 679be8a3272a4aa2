/**
 * The reducers of `reducers.ts` at work: a loss's `compute` returns its sub-losses as
 * {@linkcode LossTerm}s (PML's `loss_dict`: losses, the indices they belong to, a reduction type);
 * {@linkcode resolveReducer} checks a `reduction` option once, and {@linkcode reduceTerms} turns
 * the terms into the scalar (or, for `"none"`, the per-element tensor) the loss returns.
 *
 * Pair terms may be dense `[n, m]` matrices with a multiplicity per pair (a pair listed twice by a
 * miner has weight 2): every PML reducer is a sum over the listed elements, so weighting by
 * multiplicity gives PML's value exactly (PerAnchor, which counts each distinct pair once, uses
 * the 0/1 pattern of the weights).
 *
 * Internal.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ReducerSpec } from "./reducers.ts";

/**
 * One sub-loss of a loss, PML's `{"losses", "indices", "reduction_type"}`:
 *
 * - `zero`: PML's `zero_loss()` (no tuples: the reducer gives 0, connected to the embeddings);
 * - `reduced`: a scalar already reduced (PML's `"already_reduced"`): every reducer passes it on;
 * - `element`: one loss per element, `anchors[k]` the batch row of element `k` (default `k`);
 * - `pair`: pair losses, either a dense `[n, m]` matrix with `weights` (multiplicities, 0 = not a
 *   pair; the row is the anchor) or a flat `[k]` list with `anchors` and `others`;
 * - `triplet`: one loss per triplet, `anchors` = the triplets' anchors.
 *
 * `divisor` is what PML's `DivisorReducer` divides the sum by.
 */
export type LossTerm =
  | { kind: "zero" }
  | { kind: "reduced"; value: tf.Scalar }
  | {
    kind: "element" | "pair" | "triplet";
    /** Per-element losses: `[k]`, or `[n, m]` for a dense pair term. */
    losses: tf.Tensor;
    /** Multiplicities, same shape as `losses` (dense pair terms). */
    weights?: tf.Tensor;
    /** The batch row of each element of a flat term. */
    anchors?: Int32Array;
    /** The reference row of each pair of a flat pair term. */
    others?: Int32Array;
    /** PML's `divisor` for the DivisorReducer. */
    divisor?: number;
  };

/** A loss's sub-losses by name (PML's `loss_dict`), e.g. `{ posLoss, negLoss }`. */
export type LossTerms = Record<string, LossTerm>;

/** A checked reducer. */
export type Reducer =
  | { name: "mean" }
  | { name: "sum" }
  | { name: "none" }
  | { name: "threshold"; low?: number; high?: number }
  | { name: "classWeighted"; weights: Float64Array }
  | { name: "divisor" }
  | { name: "perAnchor"; reducer: Reducer }
  | { name: "multiple"; reducers: Record<string, Reducer>; default: Reducer };

const NAMES = [
  "mean",
  "sum",
  "avgNonZero",
  "none",
  "threshold",
  "classWeighted",
  "divisor",
  "perAnchor",
  "multiple",
];

function finite(fn: string, where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`${fn}: ${where} must be a finite number, got ${String(v)}`);
  }
  return v;
}

function keys(fn: string, where: string, spec: object, known: string[]): void {
  for (const k of Object.keys(spec)) {
    if (!known.includes(k)) {
      throw new Error(`${fn}: unknown option "${where}.${k}"; known: ${known.join(", ")}`);
    }
  }
}

/**
 * Checks a `reduction` option and returns it resolved (`"avgNonZero"` becomes
 * `threshold { low: 0 }`, as PML defines it).
 *
 * @param fn the loss's name, for messages
 * @param spec the option
 * @param subLosses the loss's sub-loss names, for `"multiple"`
 * @param where the option's path, for messages
 * @throws Error naming the loss, the option path and the problem.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveReducer } from "./_reduce.ts";
 * assert.deepEqual(resolveReducer("f", "avgNonZero", ["loss"]), { name: "threshold", low: 0 });
 * ```
 */
export function resolveReducer(
  fn: string,
  spec: ReducerSpec,
  subLosses: readonly string[],
  where = "reduction",
): Reducer {
  const name = typeof spec === "string" ? spec : spec?.name;
  if (typeof name !== "string" || !NAMES.includes(name)) {
    throw new Error(
      `${fn}: unknown reduction ${JSON.stringify(name ?? spec)} in ${where}; use "mean", "sum", ` +
        `"avgNonZero", "none" or { name: "threshold" | "classWeighted" | "divisor" | ` +
        `"perAnchor" | "multiple", ... }`,
    );
  }
  const s = (typeof spec === "string" ? { name } : spec) as Record<string, unknown>;
  switch (name) {
    case "mean":
    case "sum":
    case "none":
    case "divisor":
      keys(fn, where, s, ["name"]);
      return { name } as Reducer;
    case "avgNonZero":
      keys(fn, where, s, ["name"]);
      return { name: "threshold", low: 0 };
    case "threshold": {
      keys(fn, where, s, ["name", "low", "high"]);
      if (s.low === undefined && s.high === undefined) {
        throw new Error(`${fn}: ${where} "threshold" needs low or high (or both)`);
      }
      const low = s.low === undefined ? undefined : finite(fn, `${where}.low`, s.low);
      const high = s.high === undefined ? undefined : finite(fn, `${where}.high`, s.high);
      if (low !== undefined && high !== undefined && !(low < high)) {
        throw new Error(`${fn}: ${where}.low (${low}) must be < ${where}.high (${high})`);
      }
      return { name: "threshold", low, high };
    }
    case "classWeighted": {
      keys(fn, where, s, ["name", "weights"]);
      const w = s.weights as ArrayLike<number> | undefined;
      if (w === undefined || w === null || typeof w !== "object" || !("length" in w)) {
        throw new Error(`${fn}: ${where}.weights must be an array of class weights`);
      }
      const weights = new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) weights[i] = finite(fn, `${where}.weights[${i}]`, w[i]);
      return { name: "classWeighted", weights };
    }
    case "perAnchor": {
      keys(fn, where, s, ["name", "reducer"]);
      const inner = resolveReducer(
        fn,
        (s.reducer ?? "mean") as ReducerSpec,
        ["loss"],
        `${where}.reducer`,
      );
      if (inner.name === "none" || inner.name === "multiple" || inner.name === "divisor") {
        throw new Error(`${fn}: ${where}.reducer cannot be "${inner.name}"`);
      }
      return { name: "perAnchor", reducer: inner };
    }
    default: {
      keys(fn, where, s, ["name", "reducers", "default"]);
      const given = s.reducers as Record<string, ReducerSpec> | undefined;
      if (given === undefined || given === null || typeof given !== "object") {
        throw new Error(`${fn}: ${where}.reducers must map sub-loss names to reducers`);
      }
      const reducers: Record<string, Reducer> = {};
      for (const [k, v] of Object.entries(given)) {
        if (!subLosses.includes(k)) {
          throw new Error(
            `${fn}: ${where}.reducers names "${k}", not a sub-loss of ${fn} ` +
              `(${subLosses.join(", ")})`,
          );
        }
        reducers[k] = resolveReducer(fn, v, ["loss"], `${where}.reducers.${k}`);
      }
      const def = resolveReducer(fn, (s.default ?? "mean") as ReducerSpec, ["loss"], where);
      for (const r of [...Object.values(reducers), def]) {
        if (r.name === "none" || r.name === "multiple") {
          throw new Error(`${fn}: ${where} cannot contain "${r.name}"`);
        }
      }
      return { name: "multiple", reducers, default: def };
    }
  }
}

/** The reducer that reduces sub-loss `name` (through `"multiple"`). */
export function reducerOf(reducer: Reducer, name: string): Reducer {
  return reducer.name === "multiple" ? reducer.reducers[name] ?? reducer.default : reducer;
}

/** What reducing needs besides the terms. */
export interface ReduceEnv {
  /** The loss's name, for messages. */
  fn: string;
  /** Labels of the batch rows (ClassWeighted). */
  labels?: Int32Array;
  /** Batch size `n` (PerAnchor). */
  n: number;
  /** PML's `zero_loss`: a 0 connected to the embeddings. */
  zero: () => tf.Scalar;
}

type ElementTerm = Extract<LossTerm, { losses: tf.Tensor }>;

/** Anchors of each element of a term, flattened (rows of a dense `[n, m]` term). */
function anchorsOf(term: ElementTerm): Int32Array {
  if (term.anchors) return term.anchors;
  const shape = term.losses.shape;
  if (shape.length === 2 && term.kind === "pair") {
    const [n, m] = shape;
    const out = new Int32Array(n * m);
    for (let i = 0; i < n; i++) out.fill(i, i * m, (i + 1) * m);
    return out;
  }
  return Int32Array.from({ length: term.losses.size }, (_, i) => i);
}

/**
 * Σ w·ℓ·mask / max(Σ w·mask, 1) (0 when nothing is kept), the mask keeping the ℓ with
 * `low < ℓ < high` (either bound optional). The weights, the mask and the count carry no gradient:
 * ∂/∂ℓ = w·mask / max(Σ w·mask, 1), the bits autograd gives through tfjs's ops. One custom
 * gradient, so that the mask, the sums and the division are not on the tape (a training step
 * records two operations here instead of about thirty).
 *
 * @param l losses, any shape
 * @param w multiplicities, the shape of `l` (no gradient), optional
 * @param low keep `ℓ > low` (optional)
 * @param high keep `ℓ < high` (optional)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { weightedMean } from "./_reduce.ts";
 * const l = tf.tensor1d([0, 2, 4]);
 * assert.equal(weightedMean(l, undefined, 0).dataSync()[0], 3); // the non-zero ones
 * const g = tf.grad((x: tf.Tensor) => weightedMean(x, tf.tensor1d([1, 1, 2]), 0))(l);
 * assert.deepEqual(g.arraySync(), [0, Math.fround(1 / 3), Math.fround(2 / 3)]); // w / Σ w
 * ```
 */
export function weightedMean(
  l: tf.Tensor,
  w: tf.Tensor | undefined,
  low?: number,
  high?: number,
): tf.Scalar {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (x: any, save: any) => {
      let mask: tf.Tensor | undefined;
      if (low !== undefined) mask = tf.step(tf.sub(x, low));
      if (high !== undefined) {
        const below = tf.step(tf.sub(high, x));
        mask = mask ? tf.mul(mask, below) : below;
      }
      const keep = w && mask ? tf.mul(w, mask) : (w ?? mask);
      const num = tf.sum(keep ? tf.mul(x, keep) : x);
      const den = tf.maximum(keep ? tf.sum(keep) : tf.scalar(x.size), 1);
      save(keep ? [den, keep] : [den]);
      return {
        value: tf.div(num, den),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const g = tf.div(dy, saved[0]);
          return saved.length > 1 ? tf.mul(g, saved[1]) : tf.mul(g, tf.onesLike(x));
        },
      };
    },
  );
  return f(l) as tf.Scalar;
}

function reduceOne(term: LossTerm, r: Reducer, env: ReduceEnv, sub: string): tf.Scalar {
  if (term.kind === "zero") return env.zero();
  if (term.kind === "reduced") return term.value;
  const l = term.losses, w = term.weights;
  switch (r.name) {
    case "mean":
      return weightedMean(l, w);
    case "sum":
      return tf.sum(w ? tf.mul(l, w) : l) as tf.Scalar;
    case "threshold":
      return weightedMean(l, w, r.low, r.high);
    case "classWeighted": {
      if (!env.labels) throw new Error(`${env.fn}: classWeighted reduction needs labels`);
      const anchors = anchorsOf(term);
      const cw = new Float32Array(anchors.length);
      for (let k = 0; k < anchors.length; k++) {
        const label = env.labels[anchors[k]];
        if (!(label >= 0 && label < r.weights.length)) {
          throw new Error(
            `${env.fn}: reduction classWeighted has no weight for class ${label} ` +
              `(weights has ${r.weights.length} entries)`,
          );
        }
        cw[k] = r.weights[label];
      }
      const weighted = tf.mul(l, tf.tensor(cw, l.shape));
      return weightedMean(weighted, w);
    }
    case "divisor": {
      if (term.divisor === undefined) {
        throw new Error(
          `${env.fn}: reduction "divisor" needs a loss that reports a divisor; ` +
            `the sub-loss "${sub}" of ${env.fn} does not`,
        );
      }
      if (term.divisor === 0) return env.zero();
      return tf.div(tf.sum(w ? tf.mul(l, w) : l), term.divisor) as tf.Scalar;
    }
    case "perAnchor":
      return reduceOne(perAnchor(term, env), r.reducer, env, sub);
    default:
      throw new Error(`${env.fn}: reduction "${r.name}" is not valid for a sub-loss`);
  }
}

/** PML's PerAnchorReducer step: pair losses averaged per batch row → `[n]` element losses. */
function perAnchor(term: ElementTerm, env: ReduceEnv): LossTerm {
  if (term.kind === "element") return term;
  if (term.kind === "triplet") {
    throw new Error(
      `${env.fn}: reduction "perAnchor" is not defined for triplet losses (as in PML)`,
    );
  }
  const l = term.losses;
  let sums: tf.Tensor, counts: tf.Tensor;
  if (!term.anchors) {
    const has = term.weights ? tf.cast(tf.greater(term.weights, 0), "float32") : tf.onesLike(l);
    sums = tf.sum(tf.mul(l, has), 1);
    counts = tf.sum(has, 1);
  } else {
    if (!term.others) throw new Error(`${env.fn}: perAnchor needs the pairs' other indices`);
    // Each distinct (anchor, other) cell counts once, with its last listed value (PML assigns
    // new_array[anchors, others] = losses).
    const seen = new Set<number>();
    const keep = new Float32Array(term.anchors.length);
    let m = 1;
    for (const o of term.others) m = Math.max(m, o + 1);
    for (let k = term.anchors.length - 1; k >= 0; k--) {
      const cell = term.anchors[k] * m + term.others[k];
      if (!seen.has(cell)) seen.add(cell), keep[k] = 1;
    }
    const keepT = tf.tensor1d(keep);
    const seg = tf.tensor1d(term.anchors, "int32");
    sums = tf.unsortedSegmentSum(tf.mul(tf.reshape(l, [-1]), keepT), seg, env.n);
    counts = tf.unsortedSegmentSum(keepT, seg, env.n);
  }
  const any = tf.greater(counts, 0);
  const losses = tf.where(any, tf.div(sums, tf.maximum(counts, 1)), tf.zerosLike(sums));
  return { kind: "element", losses };
}

/**
 * Reduces a loss's terms with a resolved reducer: each sub-loss with its reducer, summed. With
 * `"none"`, the per-element losses (times multiplicity) of the sub-losses, summed when they share
 * a shape; an empty `[0]` tensor when every term is zero.
 *
 * @throws Error for `"none"` with an already-reduced term (a regularizer) or sub-losses of
 *   different shapes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { reduceTerms } from "./_reduce.ts";
 * const env = { fn: "f", n: 3, zero: () => tf.scalar(0) };
 * const terms = { loss: { kind: "element" as const, losses: tf.tensor1d([0, 2, 4]) } };
 * assert.equal(reduceTerms(terms, { name: "threshold", low: 0 }, env).dataSync()[0], 3);
 * ```
 */
export function reduceTerms(terms: LossTerms, reducer: Reducer, env: ReduceEnv): tf.Tensor {
  if (reducer.name === "none") {
    const parts: tf.Tensor[] = [];
    for (const [name, t] of Object.entries(terms)) {
      if (t.kind === "zero") continue;
      if (t.kind === "reduced") {
        throw new Error(
          `${env.fn}: reduction "none" cannot return the sub-loss "${name}", which is ` +
            `already a scalar (drop the regularizer or choose another reduction)`,
        );
      }
      parts.push(t.weights ? tf.mul(t.losses, t.weights) : t.losses);
    }
    if (parts.length === 0) return tf.zeros([0]);
    const shape = parts[0].shape.join(",");
    if (parts.some((p) => p.shape.join(",") !== shape)) {
      throw new Error(
        `${env.fn}: reduction "none" is not defined: its sub-losses have different shapes`,
      );
    }
    return parts.length === 1 ? tf.clone(parts[0]) : tf.addN(parts);
  }
  const values = Object.entries(terms).map(([name, t]) =>
    reduceOne(t, reducerOf(reducer, name), env, name)
  );
  return values.length === 1 ? values[0] : tf.addN(values);
}
