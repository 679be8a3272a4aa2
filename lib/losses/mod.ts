/**
 * Deep metric learning losses, built as pytorch-metric-learning (PML) builds them: tuples (pairs
 * or triplets) × a distance from `distances.ts` × a reducer, plus regularizers and wrappers.
 * Every loss is `(embeddings [n, d], labels [n], options?) => tf.Scalar`, differentiable; with
 * `reduction: "none"` it returns its per-element losses (the shape is documented per loss).
 *
 * A list of different losses has no common overload: type it `Loss[]` (the common options), and
 * bind each loss's own options with `loss.with({ … })`.
 *
 * Options every loss shares ({@linkcode LossOptions}): `distance`, `normalizeEmbeddings`,
 * `indices` (tuples from a miner), `refEmbeddings`/`refLabels` (PML's `ref_emb`/`ref_labels`),
 * `reduction` (see `reducers.ts`), `embeddingRegularizer`/`embeddingRegWeight` (see
 * `regularizers.ts`). Losses with learnable parameters also take `weightRegularizer`/
 * `weightRegWeight`, and their parameter tensors as options (see {@linkcode TrainableLoss}).
 *
 * Layout: `_template.ts` (the one definition mechanism, {@linkcode defineLoss}), `_tuples.ts`
 * (indices), `_distance.ts`, `_reduce.ts` (the reducers at work), `_ops.ts` (masked log-sum-exp,
 * gradient stop), and one short file per loss family.
 *
 * ## How to add a loss
 *
 * A loss is its options, their defaults and checks, and its `compute`; the template does the
 * rest (unknown options, defaults, range checks with the option's name in the message, the
 * embeddings/labels/indices/reference-set checks, `tf.tidy`, the distance matrix, PML's
 * empty-batch and trivial-batch zero, the reducer, the regularizers). To add PML's `FooLoss`:
 *
 * 1. In the family's file (or a new `foo.ts`), declare `FooLossOptions extends LossOptions` with
 *    PML's option names in camelCase, each documented with its default.
 * 2. `export const fooLoss: Loss<FooLossOptions> = defineLoss<FooLossOptions>({ ... })` with:
 *    `name` (the export's name), PML's defaults for `distance` (`get_default_distance`), `reduction`
 *    (`get_default_reducer`) and `normalizeEmbeddings`; `options`, one {@linkcode opt} spec per own
 *    option (`opt.margin`, `opt.positive`, `opt.number(default, { min, max })`, `opt.integer`,
 *    `opt.boolean`, `opt.oneOf`, `opt.custom`, `opt.parameter` for a learnable tensor — the type
 *    system requires one for every option of the interface); `subLosses` when PML's
 *    `_sub_loss_names` has several; `pairLoss: true` for a PML `GenericPairLoss`; `ref: false` /
 *    `indices: false` when PML refuses them; `wrappers` as in PML's supported lists of
 *    `SelfSupervisedLoss` / `CrossBatchMemory`; `checkDistance` when PML asserts a distance type;
 *    `refuseEmpty` when PML returns NaN or fails on an empty batch or reference set
 *    (`tests/fixtures/empty_batches.json` holds PML's answer for each of its losses).
 * 3. `compute(ctx, o)` returns one {@linkcode LossTerm} per sub-loss — PML's `loss_dict`:
 *    `{ kind: "element", losses: [k], anchors? }` (PML's `"element"`, `anchors` = its `indices`),
 *    `{ kind: "pair", losses: [n, m], weights: pos }` (PML's `"pos_pair"`/`"neg_pair"`, dense:
 *    entries outside the pairs must be finite), `{ kind: "triplet", losses: [t], anchors }`,
 *    `{ kind: "reduced", value }` (PML's `"already_reduced"`), `ctx.zero()` (PML's
 *    `zero_losses()`); add `divisor` where PML gives one. Use `ctx.mat()` (the `[n, m]` matrix
 *    against the reference set), `ctx.margin(x, y)` (PML's `distance.margin`),
 *    `ctx.pairMatrices()`, `ctx.triplets()`, `ctx.labels`/`ctx.refLabels`,
 *    `ctx.distances(a, b)` for other rows (proxies), and `_ops.ts`. Never build an `[n, n, n]`
 *    tensor unless the formula ranks every pair against every query (then say so).
 * 4. Document the formula, shapes, defaults, what it throws, the paper and PML's class, with an
 *    `@example` that asserts its value; export it from this file.
 * 5. Test it: a fixture case in `bench/fixture_sections/` (PML computing the value for the
 *    defaults and a non-default setting, with `refEmbeddings` and `indices`), a finite-difference
 *    gradient check, and its bad options; `deno task bench losses` times it automatically.
 *
 * @example A worked example: the contrastive loss, exactly as `contrastive.ts` defines it
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { contrastiveLoss, defineLoss, type Loss, type LossOptions, opt } from "./mod.ts";
 *
 * // 1. The options: PML's names in camelCase, each with its default.
 * interface MyContrastiveLossOptions extends LossOptions {
 *   // Positive pairs are penalised beyond this distance. Default 0.
 *   posMargin?: number;
 *   // Negative pairs are penalised within this distance. Default 1.
 *   negMargin?: number;
 * }
 *
 * // 2. The definition: PML's defaults, one checked spec per option, and the compute.
 * const myContrastiveLoss: Loss<MyContrastiveLossOptions> = defineLoss<MyContrastiveLossOptions>({
 *   name: "myContrastiveLoss",
 *   distance: "euclidean", // PML's LpDistance
 *   reduction: "avgNonZero", // PML's get_default_reducer
 *   subLosses: ["posLoss", "negLoss"], // PML's _sub_loss_names
 *   pairLoss: true, // a GenericPairLoss: trivial batches give PML's zero
 *   options: { posMargin: opt.margin(0), negMargin: opt.margin(1) },
 *   // 3. The loss: one term per sub-loss, PML's loss_dict.
 *   compute(ctx, o) {
 *     const { pos, neg } = ctx.pairMatrices(); // [n, m] multiplicities
 *     const mat = ctx.mat(); // [n, m] distances to the reference set
 *     return {
 *       posLoss: { kind: "pair", losses: tf.relu(ctx.margin(mat, o.posMargin)), weights: pos },
 *       negLoss: { kind: "pair", losses: tf.relu(ctx.margin(o.negMargin, mat)), weights: neg },
 *     };
 *   },
 * });
 *
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]);
 * const mine = myContrastiveLoss(e, [0, 0, 1]).dataSync()[0];
 * assert.equal(mine, contrastiveLoss(e, [0, 0, 1]).dataSync()[0]);
 * assert.ok(Math.abs(mine - 0.7380) < 1e-4);
 * // Everything else comes from the template: checks, reducers, reference sets, regularizers.
 * assert.throws(() => myContrastiveLoss(e, [0, 0, 1], { negMargin: -1 }), /negMargin must be ≥ 0/);
 * const perAnchor = myContrastiveLoss(e, [0, 0, 1], { reduction: { name: "perAnchor" } });
 * assert.ok(perAnchor.dataSync()[0] > 0);
 * ```
 *
 * @module
 */
export {
  type CheckEnv,
  defineLoss,
  isLoss,
  type Loss,
  type LossContext,
  type LossDefinition,
  type LossOptions,
  type LossTerm,
  type LossTerms,
  opt,
  type OptionSchema,
  type OptionSpec,
  type PairMatrices,
  type ParameterSpec,
  type ParametrizedLossOptions,
  type Reducer,
  type Regularizer,
  type ResolvedOptions,
  TrainableLoss,
} from "./_template.ts";
export type { LossDistance, ResolvedDistance } from "./_distance.ts";
export type { Labels, PairIndices, TripletIndices, TupleIndices } from "./_tuples.ts";
export * from "./reducers.ts";
export * from "./contrastive.ts";
export * from "./triplet.ts";
export * from "./ntxent.ts";
export * from "./pair_weighting.ts";
export * from "./n_pairs.ts";
export * from "./soft_nn.ts";
export * from "./angular.ts";
export * from "./margin.ts";
export * from "./pair_statistics.ts";
export * from "./snr_contrastive.ts";
export * from "./soft_margin.ts";
export * from "./nca.ts";
export * from "./average_precision.ts";
export * from "./histogram.ts";
export * from "./ranked_list.ts";
export * from "./vicreg.ts";
export * from "./manifold.ts";
export * from "./regularizers.ts";
export * from "./wrappers.ts";
export * from "./classification.ts";
export * from "./proxies.ts";
