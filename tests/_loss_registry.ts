/**
 * Every loss the library exports, in one list, for the sweeps that must cover them all (finite
 * gradients at coincident points, `tests/gradients_test.ts`). Adding a loss to `lib/` means adding
 * it here; the losses' own module may later export a registry that replaces this one.
 *
 * Only the public API (`lib/mod.ts`) is used.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as lib from "../lib/mod.ts";
import {
  binaryCrossEntropyWithLogits,
  circleLoss,
  contrastiveLoss,
  generalizedLiftedStructureLoss,
  liftedStructureLoss,
  type LossDistance,
  marginRankingLoss,
  meanSquaredErrorLoss,
  multipleLosses,
  multiSimilarityLoss,
  nPairsLoss,
  ntXentLoss,
  positivePairLoss,
  ringLoss,
  selfSupervisedLoss,
  softNearestNeighborLoss,
  supConLoss,
  tripletMarginLoss,
} from "../lib/mod.ts";

/** Options passed through to a loss (its own option names). */
export type LossOptions = Record<string, unknown>;

/** One loss of the library. */
export interface LossEntry {
  /** The exported function's name. */
  name: string;
  /**
   * The loss of `embeddings` `[n, d]` with `labels` `[n]` and `options`; the score losses of
   * `lib/heads` read their scores from the embeddings' columns.
   */
  loss: (embeddings: tf.Tensor2D, labels: number[], options: LossOptions) => tf.Scalar;
  /**
   * The `distance` options it accepts: `"any"` (every name and `Metric`), `"distances"` (not
   * similarities), `"cosine"` (cosine similarity only), `"none"` (no `distance` option).
   */
  distances: "any" | "distances" | "cosine" | "none";
  /** Non-default option sets worth sweeping too (each is used with the default distance). */
  variants: LossOptions[];
  /**
   * Listed automatically (a loss made by the losses' template that has no entry above): a
   * `distance` it refuses by a named Error is skipped, not failed.
   */
  auto?: boolean;
}

// deno-lint-ignore no-explicit-any
const call = (f: (e: tf.Tensor2D, y: number[], o: any) => tf.Scalar) =>
(
  e: tf.Tensor2D,
  y: number[],
  o: LossOptions,
) => f(e, y, o);

/** Scores from embedding columns: the score losses see the same coincident inputs. */
const column = (e: tf.Tensor2D, j: number) =>
  tf.reshape(tf.slice(e, [0, j % e.shape[1]], [-1, 1]), [-1]);

/**
 * The losses exported by `lib/mod.ts` today.
 *
 * @example
 * ```ts
 * import { LOSSES } from "./_loss_registry.ts";
 * LOSSES.map((l) => l.name);
 * ```
 */
export const LOSSES: LossEntry[] = [
  {
    name: "contrastiveLoss",
    loss: call(contrastiveLoss),
    distances: "any",
    variants: [
      { squared: true },
      { posMargin: 0.1, negMargin: 0.5, reduction: "mean" },
      { reduction: "sum" },
      { normalizeEmbeddings: false },
    ],
  },
  {
    name: "positivePairLoss",
    loss: call(positivePairLoss),
    distances: "any",
    variants: [{ squared: true }, { posMargin: 0.2, reduction: "avgNonZero" }],
  },
  {
    name: "ringLoss",
    loss: call(ringLoss),
    distances: "distances",
    variants: [{ squared: true }, { innerRadius: [0.1, 0.2], outerRadius: 1.5 }],
  },
  {
    name: "tripletMarginLoss",
    loss: call(tripletMarginLoss),
    distances: "any",
    variants: [
      { swap: true },
      { smoothLoss: true },
      { margin: 0.3, reduction: "mean" },
      { reduction: "sum", anchorsPerBlock: 1 },
      { normalizeEmbeddings: false },
    ],
  },
  {
    name: "ntXentLoss",
    loss: call(ntXentLoss),
    distances: "any",
    variants: [{ temperature: 0.5 }, { reduction: "sum" }],
  },
  {
    name: "supConLoss",
    loss: call(supConLoss),
    distances: "any",
    variants: [{ temperature: 0.5 }, { reduction: "mean" }],
  },
  {
    name: "multiSimilarityLoss",
    loss: call(multiSimilarityLoss),
    distances: "any",
    variants: [{ alpha: 1, beta: 10, base: 0.2 }],
  },
  {
    name: "circleLoss",
    loss: call(circleLoss),
    distances: "cosine",
    variants: [{ m: 0.25, gamma: 32 }],
  },
  {
    name: "liftedStructureLoss",
    loss: call(liftedStructureLoss),
    distances: "any",
    variants: [{ negMargin: 0.5, posMargin: 0.1 }],
  },
  {
    name: "generalizedLiftedStructureLoss",
    loss: call(generalizedLiftedStructureLoss),
    distances: "any",
    variants: [{ negMargin: 0.5, posMargin: 0.1 }],
  },
  {
    name: "nPairsLoss",
    loss: call(nPairsLoss),
    distances: "any",
    variants: [{ normalizeEmbeddings: false }],
  },
  {
    name: "softNearestNeighborLoss",
    loss: call(softNearestNeighborLoss),
    distances: "any",
    variants: [{ temperature: 0.1 }, { normalizeEmbeddings: true }],
  },
  {
    // Required options: margin and Tn.
    name: "rankedListLoss",
    loss: (e, y, o) => lib.rankedListLoss(e, y, { margin: 0.4, Tn: 10, ...o }),
    distances: "any",
    variants: [{ Tp: 2, imbalance: 0.3 }],
    auto: true,
  },
  {
    // No labels; required option: the proxies (a TrainableLoss owns them when training).
    name: "manifoldLoss",
    loss: (e, _y, o) =>
      lib.manifoldLoss(e, undefined, {
        K: 3,
        proxies: tf.randomNormal([3, e.shape[1]], 0, 1, "float32", 7),
        ...o,
      }),
    distances: "any",
    variants: [],
    auto: true,
  },
  {
    // No labels; the second view is the batch itself (every pair of views coincident).
    name: "vicRegLoss",
    loss: (e) => lib.vicRegLoss(e, undefined, { refEmbeddings: tf.add(e, 0) as tf.Tensor2D }),
    distances: "none",
    variants: [],
  },
  {
    // The second view is the batch itself: every (i, i) pair is coincident.
    name: "selfSupervisedLoss",
    loss: (e) => selfSupervisedLoss(ntXentLoss)(e, tf.add(e, 0) as tf.Tensor2D),
    distances: "none",
    variants: [],
  },
  {
    name: "multipleLosses",
    loss: (e, y) =>
      multipleLosses([contrastiveLoss, tripletMarginLoss], { weights: [1, 0.5] })(e, y),
    distances: "none",
    variants: [],
  },
  {
    name: "meanSquaredErrorLoss",
    loss: (e) => meanSquaredErrorLoss(column(e, 0), column(e, 1)),
    distances: "none",
    variants: [],
  },
  {
    name: "binaryCrossEntropyWithLogits",
    loss: (e, y) => binaryCrossEntropyWithLogits(column(e, 0), tf.tensor1d(y.map((v) => v % 2))),
    distances: "none",
    variants: [],
  },
  {
    name: "marginRankingLoss",
    loss: (e) => marginRankingLoss(column(e, 0), column(e, 1)),
    distances: "none",
    variants: [],
  },
];

/** The number of classes given to a loss that requires `numClasses` (PML's `num_classes`). */
export const NUM_CLASSES = 3;

/** The seed of the learnable parameters made for a loss's functional form. */
export const PARAMETER_SEED = 0;

/**
 * `loss` with its required arguments filled in, as PML's constructors take them: `numClasses`
 * {@linkcode NUM_CLASSES} when it is required, and each required learnable parameter (`W`,
 * `proxies`, `fc`, `weight`) made by the loss's own shape and PML initialisation for the
 * embeddings' size, seeded with {@linkcode PARAMETER_SEED}. Options given override them.
 */
export function withRequired(loss: lib.Loss<never>): LossEntry["loss"] {
  const specs = loss.definition.options as unknown as Record<string, lib.OptionSpec<unknown>>;
  const parameters = Object.entries(specs).filter(([, s]) => s.parameter && s.required);
  const numClasses = specs.numClasses?.required ? { numClasses: NUM_CLASSES } : {};
  if (parameters.length === 0 && !specs.numClasses?.required) return call(loss as never);
  return (e, y, o) => {
    const resolved: Record<string, unknown> = {
      ...Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, s.default])),
      ...numClasses,
      ...o,
    };
    const made = Object.fromEntries(
      parameters.filter(([k]) => o[k] === undefined).map(([k, s]) => [
        k,
        s.parameter!.init(s.parameter!.shape(resolved, e.shape[1]), PARAMETER_SEED, resolved),
      ]),
    );
    return (loss as unknown as LossEntry["loss"])(e, y, { ...numClasses, ...made, ...o });
  };
}

/**
 * Losses without an entry of their own: every template loss `lib/mod.ts` exports, with its
 * required arguments ({@linkcode withRequired}).
 */
const listed = new Set(LOSSES.map((l) => l.name));
for (const [name, value] of Object.entries(lib)) {
  if (listed.has(name) || !lib.isLoss(value)) continue;
  LOSSES.push({
    name,
    loss: withRequired(value as never),
    distances: "any",
    variants: [],
    auto: true,
  });
}

/** The `distance` values a loss of kind `kind` accepts, from the given candidates. */
export function acceptedDistances(
  kind: LossEntry["distances"],
  candidates: { label: string; distance: LossDistance }[],
): { label: string; distance: LossDistance }[] {
  switch (kind) {
    case "any":
      return candidates;
    case "distances":
      return candidates.filter((c) =>
        typeof c.distance === "string"
          ? c.distance !== "cosine" && c.distance !== "dot"
          : !c.distance.isSimilarity
      );
    case "cosine":
      return candidates.filter((c) => c.distance === "cosine");
    default:
      return [];
  }
}
