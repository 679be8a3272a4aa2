/**
 * Reducers: how a loss turns its per-element losses (one per pair, triplet or anchor) into the
 * scalar it returns — pytorch-metric-learning's (PML) nine reducers, chosen with every loss's
 * `reduction` option, by name or with options:
 *
 * | `reduction` | PML | value |
 * | --- | --- | --- |
 * | `"mean"` | `MeanReducer` | mean over the elements (a pair listed twice counts twice) |
 * | `"sum"` | `SumReducer` | sum over the elements |
 * | `"avgNonZero"` | `AvgNonZeroReducer` | mean over the elements > 0; 0 when none is |
 * | `"none"` | `DoNothingReducer` | the per-element tensor itself (shape documented per loss) |
 * | `{ name: "threshold", low?, high? }` | `ThresholdReducer` | mean over the elements with `low < ℓ < high`; 0 when none is |
 * | `{ name: "classWeighted", weights }` | `ClassWeightedReducer` | mean of `ℓ · weights[label of the element's anchor]` |
 * | `{ name: "divisor" }` | `DivisorReducer` | sum divided by the divisor the loss reports (0 when it is 0) |
 * | `{ name: "perAnchor", reducer? }` | `PerAnchorReducer` | pair losses averaged per anchor, then `reducer` (default `"mean"`) over the batch |
 * | `{ name: "multiple", reducers, default? }` | `MultipleReducers` | one reducer per sub-loss (by name), `default` (`"mean"`) for the others |
 *
 * A loss made of several sub-losses (the contrastive loss's `posLoss` and `negLoss`, and
 * `embeddingRegLoss` when a regularizer is attached) reduces each with the chosen reducer and
 * returns their sum, as PML does. Reducer counts and filters carry no gradient.
 *
 * @module
 */

/** The reducers that take no options. `"none"` returns the per-element losses unreduced. */
export type ReducerName = "mean" | "sum" | "avgNonZero" | "none";

/**
 * PML's `ThresholdReducer`: the mean of the elements strictly between `low` and `high` (either may
 * be omitted, not both), 0 when none is. `"avgNonZero"` is `{ name: "threshold", low: 0 }`.
 */
export interface ThresholdReducer {
  /** Reducer name. */
  name: "threshold";
  /** Keep elements > low. */
  low?: number;
  /** Keep elements < high. */
  high?: number;
}

/**
 * PML's `ClassWeightedReducer`: the mean of `ℓ_k · weights[labels[anchor_k]]` over the elements,
 * where `anchor_k` is the batch row the element belongs to (the anchor of a pair or triplet).
 */
export interface ClassWeightedReducer {
  /** Reducer name. */
  name: "classWeighted";
  /** One finite weight per class label (`weights[label]`); every label of the batch needs one. */
  weights: readonly number[] | Float32Array | Float64Array;
}

/**
 * PML's `DivisorReducer`: the sum of the elements divided by the `divisor` that the loss reports
 * with them (losses such as ProxyAnchor and Margin, and the SparseCenters regularizer, report one);
 * 0 when the divisor is 0.
 */
export interface DivisorReducer {
  /** Reducer name. */
  name: "divisor";
}

/**
 * PML's `PerAnchorReducer`: pair losses are first averaged per anchor (over the distinct pairs of
 * each batch row; rows without pairs give 0), and the resulting `[n]` losses reduced by `reducer`
 * (default `"mean"`). Per-element losses go straight to `reducer`. Not defined for triplet
 * losses (PML raises `NotImplementedError`; here an Error).
 */
export interface PerAnchorReducer {
  /** Reducer name. */
  name: "perAnchor";
  /** The reducer of the per-anchor losses; default `"mean"`. Not `"none"`. */
  reducer?: ReducerSpec;
}

/**
 * PML's `MultipleReducers`: `reducers[subLoss]` reduces that sub-loss (names: `"loss"`, or the
 * loss's own such as `"posLoss"`/`"negLoss"`, and `"embeddingRegLoss"`/`"weightRegLoss"`);
 * the others use `default` (`"mean"`, PML's default — not the loss's own default). The results
 * are summed.
 */
export interface MultipleReducers {
  /** Reducer name. */
  name: "multiple";
  /** Reducer per sub-loss name. */
  reducers: Readonly<Record<string, ReducerSpec>>;
  /** Reducer of the sub-losses not named in `reducers`; default `"mean"`. */
  default?: ReducerSpec;
}

/**
 * A loss's `reduction` option: a reducer by name (`"mean"`) or with its options
 * (`{ name: "threshold", low: 0.1 }`). See the module documentation for the table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReducerSpec } from "./reducers.ts";
 * const r: ReducerSpec = { name: "perAnchor", reducer: { name: "threshold", low: 0 } };
 * assert.equal(r.name, "perAnchor");
 * ```
 */
export type ReducerSpec =
  | ReducerName
  | { name: "mean" | "sum" | "avgNonZero" }
  | ThresholdReducer
  | ClassWeightedReducer
  | DivisorReducer
  | PerAnchorReducer
  | MultipleReducers;
