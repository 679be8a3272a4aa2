/**
 * The one loss template. {@linkcode defineLoss} turns a definition — a name, its options with
 * their defaults and checks, and a `compute` — into a loss function
 * `(embeddings [n, d], labels [n], options?) => tf.Scalar`, and owns everything losses share, in
 * the roles of pytorch-metric-learning's (PML) `BaseMetricLossFunction` and `GenericPairLoss`:
 *
 * 1. unknown-option rejection, defaults, and the check of every option (each numeric option
 *    finite and in range, named in the error);
 * 2. the embeddings and labels checks, the reference set (`refEmbeddings`, `refLabels`: PML's
 *    `ref_emb`, `ref_labels`) and tuple indices from a miner (`indices`);
 * 3. the distance (any metric of `distances.ts`, PML's `normalize_embeddings`, similarity or
 *    distance) and the `[n, m]` matrix, computed once on demand;
 * 4. `tf.tidy`, PML's zero loss for an empty batch or reference set (or a named Error where PML
 *    gives NaN or fails) and its trivial-batch shortcut of pair losses, the reduction
 *    (`reducers.ts`) and the regularizers (`embeddingRegularizer`, and `weightRegularizer` for
 *    losses with parameters);
 * 5. learnable parameters: a loss declaring `opt.parameter` options takes the tensor as an
 *    option (functional form) or owns it as a `tf.Variable` in a {@linkcode TrainableLoss}.
 *
 * Internal; `mod.ts` re-exports the public part (`defineLoss`, `opt`, the types).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import {
  type LossDistance,
  lossDistanceMatrix,
  lpNormalize,
  marginOf,
  type ResolvedDistance,
  resolveLossDistance,
} from "./_distance.ts";
import {
  checkIndices,
  type Labels,
  labelsArray,
  type PairIndices,
  pairWeights,
  toPairs,
  toTriplets,
  type TripletIndices,
  type TupleIndices,
} from "./_tuples.ts";
import {
  type LossTerm,
  type LossTerms,
  type Reducer,
  reducerOf,
  reduceTerms,
  resolveReducer,
} from "./_reduce.ts";
import type { ReducerSpec } from "./reducers.ts";

export type { LossTerm, LossTerms, Reducer };

/**
 * A regularizer (see `regularizers.ts`): a function of a `[k, d]` matrix (the embeddings, or a
 * loss's class weights) returning a scalar penalty, already reduced by its own reducer.
 */
export interface Regularizer {
  /** The penalty of the rows of `x` (`[k, d]`). */
  (x: tf.Tensor2D): tf.Scalar;
  /** Its name, e.g. `"lpRegularizer"`. */
  readonly regularizerName: string;
}

/**
 * Options every loss accepts (a loss documents which it does not support).
 */
export interface LossOptions {
  /**
   * The distance: `"euclidean"`, `"sqeuclidean"`, `"cosine"` (cosine *similarity*), `"dot"`, or any
   * metric of `distances.ts` by name, spec or object. The default is PML's for the loss.
   */
  distance?: LossDistance;
  /** Scale embeddings to unit norm first (PML's `normalize_embeddings`). Default: the loss's. */
  normalizeEmbeddings?: boolean;
  /** Tuples from a miner (anchors index `embeddings`, the others `refEmbeddings`). */
  indices?: TupleIndices;
  /** A separate reference set `[m, d]` (PML's `ref_emb`): tuples pair batch rows with its rows. */
  refEmbeddings?: tf.Tensor2D;
  /**
   * Labels `[m]` of `refEmbeddings` (PML's `ref_labels`). The batch's own labels object (the very
   * array or tensor passed as `labels`) keeps the self-pairs `(i, i)` out, as PML's
   * `ref_labels is labels` does; pass a copy to keep them.
   */
  refLabels?: Labels;
  /** The reducer (see `reducers.ts`); default: the loss's (PML's). */
  reduction?: ReducerSpec;
  /** A regularizer of the embeddings, added to the loss (PML's `embedding_regularizer`). */
  embeddingRegularizer?: Regularizer;
  /** Its weight (PML's `embedding_reg_weight`). Default 1. */
  embeddingRegWeight?: number;
}

/** Options of losses with learnable parameters (class weights, proxies). */
export interface ParametrizedLossOptions extends LossOptions {
  /** A regularizer of the loss's weights (PML's `weight_regularizer`). */
  weightRegularizer?: Regularizer;
  /** Its weight (PML's `weight_reg_weight`). Default 1. */
  weightRegWeight?: number;
}

const COMMON_KEYS = [
  "distance",
  "normalizeEmbeddings",
  "indices",
  "refEmbeddings",
  "refLabels",
  "reduction",
  "embeddingRegularizer",
  "embeddingRegWeight",
] as const;

type OwnKeys<O> = Exclude<keyof O, keyof ParametrizedLossOptions>;

/** What an option check sees besides the value. */
export interface CheckEnv {
  /** The loss's name. */
  fn: string;
  /** The option's name. */
  name: string;
  /** The loss's resolved distance (margins may be negative only with a similarity). */
  distance: ResolvedDistance;
}

/** How a learnable parameter of a loss is shaped, initialised and regularised. */
export interface ParameterSpec {
  /** Its shape for the resolved options and the embedding size `d`. */
  shape(options: Record<string, unknown>, embeddingSize: number): number[];
  /**
   * PML's initialisation, seeded; `options` are the loss's resolved options (a parameter option
   * that also accepts a number, such as `marginLoss`'s `beta`, holds its initial value there).
   */
  init(shape: number[], seed: number | undefined, options: Record<string, unknown>): tf.Tensor;
  /** The `[k, d]` view the `weightRegularizer` sees (PML passes e.g. `W.t()`); default as is. */
  regularize?(value: tf.Tensor): tf.Tensor2D;
}

/** The default and the check of one option. */
export interface OptionSpec<T> {
  /** Default value; `undefined` with `required` means the caller must give it. */
  readonly default: T | undefined;
  /** True when there is no default and the option must be given. */
  readonly required?: boolean;
  /** Throws an Error naming `env.fn` and `env.name` when `value` is not acceptable. */
  check(value: unknown, env: CheckEnv): void;
  /** Present when the option is a learnable parameter. */
  readonly parameter?: ParameterSpec;
}

/** One {@linkcode OptionSpec} for every loss-specific option of `O`. */
export type OptionSchema<O> = {
  readonly [K in OwnKeys<O>]-?: OptionSpec<Exclude<O[K], undefined>>;
};

/** The loss-specific options with defaults applied, as `compute` receives them. */
export type ResolvedOptions<O> = { readonly [K in OwnKeys<O>]-?: Exclude<O[K], undefined> };

function fail(env: CheckEnv, what: string, value: unknown): never {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  throw new Error(`${env.fn}: ${env.name} must be ${what}, got ${shown}`);
}

interface Range {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
  /** Exclusive upper bound. */
  lt?: number;
}

function rangeText(r: Range): string {
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`≥ ${r.min}`);
  if (r.gt !== undefined) parts.push(`> ${r.gt}`);
  if (r.max !== undefined) parts.push(`≤ ${r.max}`);
  if (r.lt !== undefined) parts.push(`< ${r.lt}`);
  return parts.join(" and ");
}

function inRange(v: number, r: Range): boolean {
  return (r.min === undefined || v >= r.min) && (r.gt === undefined || v > r.gt) &&
    (r.max === undefined || v <= r.max) && (r.lt === undefined || v < r.lt);
}

/**
 * Option specs for {@linkcode LossDefinition.options}: each gives a default and the check the
 * template runs, with the loss's and the option's names in the message.
 *
 * @example
 * ```ts
 * import { opt } from "./_template.ts";
 * const spec = opt.number(0.5, { min: 0, max: 1 });
 * spec.check(0.2, { fn: "myLoss", name: "alpha", distance: undefined as never }); // fine
 * ```
 */
export const opt = {
  /** A finite number, optionally within a range (`min`/`max` inclusive, `gt`/`lt` exclusive). */
  number(defaultValue: number | undefined, range: Range = {}): OptionSpec<number> {
    const what = `a finite number${Object.keys(range).length ? " " + rangeText(range) : ""}`;
    return {
      default: defaultValue,
      required: defaultValue === undefined,
      check(v, env) {
        if (typeof v !== "number" || !Number.isFinite(v) || !inRange(v, range)) {
          fail(env, what, v);
        }
      },
    };
  },
  /** A finite number > 0 (temperatures, scales, α, β, γ). */
  positive(defaultValue: number | undefined): OptionSpec<number> {
    return opt.number(defaultValue, { gt: 0 });
  },
  /** An integer within a range; `undefined` default with `optional` means "absent is fine". */
  integer(
    defaultValue: number | undefined,
    range: Range = {},
    optional = false,
  ): OptionSpec<number> {
    const what = `an integer${Object.keys(range).length ? " " + rangeText(range) : ""}`;
    return {
      default: defaultValue,
      required: defaultValue === undefined && !optional,
      check(v, env) {
        if (typeof v !== "number" || !Number.isInteger(v) || !inRange(v, range)) {
          fail(env, what, v);
        }
      },
    };
  },
  /**
   * A margin: finite, and ≥ 0 when the loss uses a distance (with a similarity such as cosine,
   * PML's margins may be negative).
   */
  margin(defaultValue: number): OptionSpec<number> {
    return {
      default: defaultValue,
      check(v, env) {
        if (typeof v !== "number" || !Number.isFinite(v)) fail(env, "a finite number", v);
        if (!env.distance.inverted && v < 0) fail(env, "≥ 0 with a distance", v);
      },
    };
  },
  /** `true` or `false`. */
  boolean(defaultValue: boolean): OptionSpec<boolean> {
    return {
      default: defaultValue,
      check(v, env) {
        if (typeof v !== "boolean") fail(env, "true or false", v);
      },
    };
  },
  /** One of the given strings. */
  oneOf<T extends string>(values: readonly T[], defaultValue: T): OptionSpec<T> {
    return {
      default: defaultValue,
      check(v, env) {
        if (!values.includes(v as T)) {
          throw new Error(
            `${env.fn}: unknown ${env.name} ${JSON.stringify(v)}; use ${
              values.map((x) => JSON.stringify(x)).join(", ")
            }`,
          );
        }
      },
    };
  },
  /** Any value with a hand-written check (throw an Error naming `env.fn` and `env.name`). */
  custom<T>(
    defaultValue: T | undefined,
    check: (value: unknown, env: CheckEnv) => void,
  ): OptionSpec<T> {
    return { default: defaultValue, check };
  },
  /**
   * A learnable tensor (class weights `W`, `proxies`, …): required in the functional form, owned as
   * a `tf.Variable` by a {@linkcode TrainableLoss}. The template checks its shape.
   */
  parameter(spec: ParameterSpec): OptionSpec<tf.Tensor> {
    return {
      default: undefined,
      required: true,
      parameter: spec,
      check(v, env) {
        if (!(v instanceof tf.Tensor)) fail(env, "a tf.Tensor", v);
      },
    };
  },
};

/**
 * A loss's definition: only what is specific to it. The template does the rest (see the module
 * documentation); `mod.ts` shows a worked example.
 */
export interface LossDefinition<O extends LossOptions> {
  /** The exported name, used in every message (`"contrastiveLoss"`). */
  name: string;
  /** Default distance (PML's `get_default_distance`). Default `"euclidean"`. */
  distance?: LossDistance;
  /** Default of `normalizeEmbeddings`. Default true (PML's distances normalise). */
  normalizeEmbeddings?: boolean;
  /** Default reducer (PML's `get_default_reducer`). Default `"mean"`. */
  reduction?: ReducerSpec;
  /** The loss's own options: a default and a check each. */
  options: OptionSchema<O>;
  /** Names of the sub-losses `compute` returns (PML's `_sub_loss_names`). Default `["loss"]`. */
  subLosses?: readonly string[];
  /**
   * A PML `GenericPairLoss`: when every list of pairs has at most one entry the loss is PML's
   * zero without calling `compute` (unless the reduction is `"none"`).
   */
  pairLoss?: boolean;
  /**
   * True when the formula ranks every pair against every query (PML's SmoothAP, PNP): an
   * `[n, n, n]` tensor is then inherent, and `deno task bench losses` allows it (and 3× the
   * contrastive step instead of 1.5×). Every other loss must stay within `[n, n]`-sized blocks.
   */
  cubic?: boolean;
  /**
   * Why the loss refuses an empty batch (`batch`: `embeddings` of 0 rows) or an empty reference
   * set (`ref`: `refEmbeddings` of 0 rows), where PML's loss returns NaN or fails. Without a
   * reason the template gives PML's answer, its `zero_loss`: a 0 connected to the embeddings
   * (gradient zeros) for every reduction, and with `reduction: "none"` the loss's empty
   * per-element tensor (e.g. `[0, m]` or `[0]`). `tests/empty_batches_test.ts` holds each loss to
   * PML's answer (`tests/fixtures/empty_batches.json`).
   */
  refuseEmpty?: { batch?: string; ref?: string };
  /** Whether `indices` is accepted (default true). */
  indices?: boolean;
  /** Whether `refEmbeddings`/`refLabels` are accepted (default true); PML's `ref_not_supported`. */
  ref?: boolean;
  /**
   * False for a loss that takes no labels (PML's `labels_not_supported`, e.g. VICReg): it is
   * called with `labels` undefined, labels given are refused, and `refLabels` is no option.
   */
  labels?: boolean;
  /** Whether PML's `SelfSupervisedLoss` and `CrossBatchMemory` wrappers support the loss. */
  wrappers?: { selfSupervised?: boolean; crossBatchMemory?: boolean };
  /** A message when the distance does not suit the loss (e.g. a similarity is required). */
  checkDistance?(distance: ResolvedDistance, normalize: boolean): string | undefined;
  /** Cross-option checks, after each option's own check (throw an Error naming the loss). */
  validate?(options: ResolvedOptions<O>, env: { fn: string; distance: ResolvedDistance }): void;
  /** The loss itself: per-element losses as terms, inside `tf.tidy`. */
  compute(ctx: LossContext, options: ResolvedOptions<O>): LossTerms;
}

/** Dense pair multiplicities `[n, m]` (0 = not a pair) and counts. */
export interface PairMatrices {
  /** Multiplicity of each positive pair `[n, m]`. */
  pos: tf.Tensor2D;
  /** Multiplicity of each negative pair `[n, m]`. */
  neg: tf.Tensor2D;
  /** Number of positive pairs (with repeats). */
  numPos: number;
  /** Number of negative pairs (with repeats). */
  numNeg: number;
  /** PML's shortcut: every index array has length ≤ 1. */
  trivial: boolean;
}

/**
 * What a loss's `compute` works with: the batch, the reference set, the distance, the tuples,
 * and builders of its terms. Tensors it returns are disposed with the call's `tf.tidy`.
 */
export interface LossContext {
  /** The loss's name, for messages. */
  readonly fn: string;
  /** The batch `[n, d]` as given (not normalised). */
  readonly embeddings: tf.Tensor2D;
  /** The reference set `[m, d]`: `refEmbeddings`, or the batch itself. */
  readonly ref: tf.Tensor2D;
  /** True when a separate reference set was given. */
  readonly hasRef: boolean;
  /**
   * True when the pairs `(i, i)` are not tuples: without a separate reference set, or when
   * `refLabels` is the very `labels` object (PML's `ref_labels is labels`); then `n = m`.
   */
  readonly excludeSelf: boolean;
  /** Batch size. */
  readonly n: number;
  /** Reference-set size (`n` without a separate one). */
  readonly m: number;
  /** Embedding dimension. */
  readonly d: number;
  /** Labels of the batch `[n]` (throws when the loss was called without). */
  readonly labels: Int32Array;
  /** Labels of the reference set `[m]`. */
  readonly refLabels: Int32Array;
  /** Tuples from a miner, checked. */
  readonly indices: TupleIndices | undefined;
  /** The resolved distance. */
  readonly distance: ResolvedDistance;
  /** PML's `normalize_embeddings`. */
  readonly normalize: boolean;
  /** True when the reduction is `"none"`: return full-shape per-element losses. */
  readonly none: boolean;
  /** The reducer of a sub-loss, for losses that fuse the reduction into their computation. */
  reducerFor(subLoss: string): Reducer;
  /** The `[n, m]` distance (or similarity) matrix between batch and reference set, cached. */
  mat(): tf.Tensor2D;
  /** Pairwise distances `[k, l]` between any rows with the loss's distance and normalisation. */
  distances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D;
  /** Rows normalised as the distance normalises them (identity when `normalize` is false). */
  normalized(x: tf.Tensor2D): tf.Tensor2D;
  /** PML's `distance.margin(x, y)`: `x − y` for a distance, `y − x` for a similarity. */
  margin(x: tf.Tensor | number, y: tf.Tensor | number): tf.Tensor;
  /** The pairs (PML's `convert_to_pairs`), cached. */
  pairs(): PairIndices;
  /** The pairs as dense `[n, m]` multiplicities, cached. */
  pairMatrices(): PairMatrices;
  /** The triplets (PML's `convert_to_triplets`, all of them), cached. */
  triplets(): TripletIndices;
  /** PML's `zero_losses()`: every sub-loss zero. */
  zero(): LossTerms;
}

/**
 * A loss function made by {@linkcode defineLoss}: `(embeddings [n, d], labels [n], options?)`,
 * returning a scalar, or with `reduction: "none"` the per-element losses (shape documented per
 * loss).
 */
export interface Loss<O extends LossOptions = LossOptions> {
  /** The per-element losses (`reduction: "none"`). */
  (
    embeddings: tf.Tensor2D,
    labels: Labels | undefined,
    options: O & { reduction: "none" },
  ): tf.Tensor;
  /**
   * The loss, a scalar. `labels` are required by every loss that uses them (the error names the
   * loss, as PML's `labels_required`); the label-free losses take `undefined`.
   */
  (embeddings: tf.Tensor2D, labels: Labels | undefined, options?: O): tf.Scalar;
  /** The exported name (`"contrastiveLoss"`). */
  readonly lossName: string;
  /** Its definition (for wrappers and benches). */
  readonly definition: LossDefinition<O>;
  /** Options bound to this loss (set by {@linkcode Loss.with}). */
  readonly boundOptions: Readonly<O>;
  /** The same loss with some options fixed (later call options override them). */
  with(options: O): Loss<O>;
}

function checkEmbeddings(fn: string, name: string, x: unknown): [number, number] {
  if (!(x instanceof tf.Tensor) || x.rank !== 2) {
    throw new Error(
      `${fn}: ${name} must be a [n, d] tensor, got ${
        x instanceof tf.Tensor ? `rank ${x.rank}` : typeof x
      }`,
    );
  }
  if (x.shape[1] === 0) throw new Error(`${fn}: ${name} have dimension 0`);
  return [x.shape[0], x.shape[1]];
}

/**
 * An empty batch (`batchEmpty`) or reference set: refused where the definition gives a reason
 * (PML's NaN or failure), and with an embedding regularizer (PML's regularizers average over the
 * rows: NaN for none); otherwise the caller returns PML's zero.
 */
function checkEmpty<O extends LossOptions>(
  def: LossDefinition<O>,
  batchEmpty: boolean,
  regularizer: Regularizer | undefined,
): void {
  const what = batchEmpty
    ? "embeddings is an empty batch (0 rows)"
    : "refEmbeddings is an empty reference set (0 rows)";
  const why = batchEmpty ? def.refuseEmpty?.batch : def.refuseEmpty?.ref;
  if (why !== undefined) throw new Error(`${def.name}: ${what}: ${why}`);
  if (batchEmpty && regularizer !== undefined) {
    throw new Error(
      `${def.name}: ${what}: the embeddingRegularizer ${regularizer.regularizerName} of no rows ` +
        `is undefined (PML's regularizers average over the rows and return NaN)`,
    );
  }
}

function checkRegularizer(fn: string, name: string, r: unknown): void {
  if (typeof r !== "function" || typeof (r as Regularizer).regularizerName !== "string") {
    throw new Error(
      `${fn}: ${name} must be a regularizer (e.g. lpRegularizer()), got ${String(r)}`,
    );
  }
}

/** Everything resolved from one call's options, before any tensor work. */
interface Resolved<O> {
  own: ResolvedOptions<O>;
  distance: ResolvedDistance;
  normalize: boolean;
  reducer: Reducer;
  subLosses: string[];
}

function resolveOptions<O extends LossOptions>(
  def: LossDefinition<O>,
  options: O,
): Resolved<O> {
  const fn = def.name;
  const specs = def.options as unknown as Record<string, OptionSpec<unknown>>;
  const hasParameters = Object.values(specs).some((s) => s.parameter);
  const known: string[] = [
    ...COMMON_KEYS.filter((k) =>
      (def.indices !== false || k !== "indices") &&
      (def.ref !== false || (k !== "refEmbeddings" && k !== "refLabels")) &&
      (def.labels !== false || k !== "refLabels")
    ),
    ...(hasParameters ? ["weightRegularizer", "weightRegWeight"] : []),
    ...Object.keys(specs),
  ];
  checkOptionKeys(fn, options, known);
  const o = (options ?? {}) as LossOptions & ParametrizedLossOptions & Record<string, unknown>;
  const distance = resolveLossDistance(fn, o.distance ?? def.distance ?? "euclidean");
  const normalize = o.normalizeEmbeddings ?? def.normalizeEmbeddings ?? true;
  if (typeof normalize !== "boolean") {
    throw new Error(`${fn}: normalizeEmbeddings must be true or false, got ${normalize}`);
  }
  const bad = def.checkDistance?.(distance, normalize);
  if (bad) throw new Error(`${fn}: ${bad}`);
  const own: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = o[name] ?? spec.default;
    if (value === undefined) {
      if (spec.required) throw new Error(`${fn}: option ${name} is required`);
    } else {
      spec.check(value, { fn, name, distance });
    }
    own[name] = value;
  }
  def.validate?.(own as ResolvedOptions<O>, { fn, distance });
  const subLosses = [...(def.subLosses ?? ["loss"])];
  if (o.embeddingRegularizer !== undefined) {
    checkRegularizer(fn, "embeddingRegularizer", o.embeddingRegularizer);
    subLosses.push("embeddingRegLoss");
  }
  if (o.weightRegularizer !== undefined) {
    checkRegularizer(fn, "weightRegularizer", o.weightRegularizer);
    subLosses.push("weightRegLoss");
  }
  for (const w of ["embeddingRegWeight", "weightRegWeight"] as const) {
    if (o[w] !== undefined && (typeof o[w] !== "number" || !Number.isFinite(o[w]))) {
      throw new Error(`${fn}: ${w} must be a finite number, got ${o[w]}`);
    }
  }
  const reducer = resolveReducer(fn, o.reduction ?? def.reduction ?? "mean", subLosses);
  return { own: own as ResolvedOptions<O>, distance, normalize, reducer, subLosses };
}

class Context implements LossContext {
  readonly n: number;
  readonly m: number;
  readonly d: number;
  readonly none: boolean;
  #labels?: Int32Array;
  #refLabels?: Int32Array;
  #mat?: tf.Tensor2D;
  #pairs?: PairIndices;
  #pairMatrices?: PairMatrices;
  #triplets?: TripletIndices;
  #normalizedBatch?: tf.Tensor2D;

  constructor(
    readonly fn: string,
    readonly embeddings: tf.Tensor2D,
    readonly ref: tf.Tensor2D,
    readonly hasRef: boolean,
    readonly excludeSelf: boolean,
    labels: Int32Array | undefined,
    refLabels: Int32Array | undefined,
    readonly indices: TupleIndices | undefined,
    readonly distance: ResolvedDistance,
    readonly normalize: boolean,
    private readonly reducer: Reducer,
    private readonly subLosses: readonly string[],
  ) {
    this.n = embeddings.shape[0];
    this.m = ref.shape[0];
    this.d = embeddings.shape[1];
    this.none = reducer.name === "none";
    this.#labels = labels;
    this.#refLabels = refLabels;
  }
  get labels(): Int32Array {
    if (!this.#labels) throw new Error(`${this.fn}: labels are required`);
    return this.#labels;
  }
  get refLabels(): Int32Array {
    if (!this.#refLabels) throw new Error(`${this.fn}: refLabels are required`);
    return this.#refLabels;
  }
  reducerFor(subLoss: string): Reducer {
    return reducerOf(this.reducer, subLoss);
  }
  normalized(x: tf.Tensor2D): tf.Tensor2D {
    if (!this.normalize) return x;
    if (x === this.embeddings) {
      return this.#normalizedBatch ??= lpNormalize(x, this.distance.normP);
    }
    return lpNormalize(x, this.distance.normP);
  }
  mat(): tf.Tensor2D {
    return this.#mat ??= this.distances(this.embeddings, this.ref);
  }
  distances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
    return lossDistanceMatrix(
      this.normalized(a),
      this.distance,
      false,
      b === a ? undefined : this.normalized(b),
    );
  }
  margin(x: tf.Tensor | number, y: tf.Tensor | number): tf.Tensor {
    return marginOf(this.distance.inverted, x, y);
  }
  pairs(): PairIndices {
    return this.#pairs ??= toPairs(
      this.labels,
      this.indices,
      this.hasRef ? this.refLabels : undefined,
      this.excludeSelf,
    );
  }
  pairMatrices(): PairMatrices {
    if (!this.#pairMatrices) {
      const w = pairWeights(this.pairs(), this.n, this.m);
      this.#pairMatrices = {
        pos: tf.tensor2d(w.pos, [this.n, this.m]),
        neg: tf.tensor2d(w.neg, [this.n, this.m]),
        numPos: w.numPos,
        numNeg: w.numNeg,
        trivial: w.trivial,
      };
    }
    return this.#pairMatrices;
  }
  triplets(): TripletIndices {
    return this.#triplets ??= toTriplets(
      this.labels,
      this.indices,
      this.hasRef ? this.refLabels : undefined,
      this.excludeSelf,
    );
  }
  zero(): LossTerms {
    return Object.fromEntries(this.subLosses.map((k) => [k, { kind: "zero" } as LossTerm]));
  }
}

function runLoss<O extends LossOptions>(
  def: LossDefinition<O>,
  embeddings: tf.Tensor2D,
  labels: Labels | undefined,
  options: O,
): tf.Tensor {
  const fn = def.name;
  const r = resolveOptions(def, options);
  const o = (options ?? {}) as ParametrizedLossOptions & Record<string, unknown>;
  const [n, d] = checkEmbeddings(fn, "embeddings", embeddings);
  if (def.labels === false && labels !== undefined) {
    throw new Error(`${fn}: takes no labels (PML's labels_not_supported); pass undefined`);
  }
  const y = labels === undefined ? undefined : labelsArray(labels, n, fn);
  let ref = embeddings, m = n, refY = y;
  const hasRef = o.refEmbeddings !== undefined;
  if (hasRef) {
    const [rm, rd] = checkEmbeddings(fn, "refEmbeddings", o.refEmbeddings);
    if (rd !== d) {
      throw new Error(
        `${fn}: refEmbeddings have dimension ${rd}, the embeddings ${d}; they must match`,
      );
    }
    ref = o.refEmbeddings!, m = rm;
    if (o.refLabels === undefined) {
      if (y !== undefined) throw new Error(`${fn}: refEmbeddings need refLabels`);
      refY = undefined;
    } else {
      refY = labelsArray(o.refLabels, m, fn, "refLabels");
    }
  } else if (o.refLabels !== undefined) {
    throw new Error(`${fn}: refLabels were given without refEmbeddings`);
  }
  if (o.indices !== undefined) checkIndices(fn, o.indices, n, m);
  if (n === 0 || m === 0) checkEmpty(def, n === 0, o.embeddingRegularizer);
  const specs = def.options as unknown as Record<string, OptionSpec<unknown>>;
  for (const [name, spec] of Object.entries(specs)) {
    // A parameter option may also take a plain number (a fixed value): only tensors are shaped.
    if (!spec.parameter || !((r.own as Record<string, unknown>)[name] instanceof tf.Tensor)) {
      continue;
    }
    const want = spec.parameter.shape(r.own as Record<string, unknown>, d);
    const got = (r.own as Record<string, tf.Tensor>)[name].shape;
    if (want.length !== got.length || want.some((s, i) => s !== got[i])) {
      throw new Error(`${fn}: ${name} must have shape [${want}], got [${got}]`);
    }
  }
  return tf.tidy(() => {
    const ctx = new Context(
      fn,
      embeddings,
      ref,
      hasRef,
      !hasRef || (labels !== undefined && o.refLabels === labels),
      y,
      refY,
      o.indices,
      r.distance,
      r.normalize,
      r.reducer,
      def.subLosses ?? ["loss"],
    );
    // PML's zero_losses: an empty batch or reference set, or a pair loss's trivial batch.
    const zero = !ctx.none && (n === 0 || m === 0 || (def.pairLoss && ctx.pairMatrices().trivial));
    const terms = zero ? ctx.zero() : def.compute(ctx, r.own);
    const names = def.subLosses ?? ["loss"];
    const got = Object.keys(terms);
    if (got.length !== names.length || names.some((k) => !(k in terms))) {
      throw new Error(`${fn}: compute returned sub-losses [${got}], expected [${names}]`);
    }
    if (o.embeddingRegularizer) {
      const value = o.embeddingRegularizer(embeddings);
      terms.embeddingRegLoss = {
        kind: "reduced",
        value: tf.mul(value, o.embeddingRegWeight ?? 1) as tf.Scalar,
      };
    }
    if (o.weightRegularizer) {
      const parts: tf.Tensor[] = [];
      for (const [name, spec] of Object.entries(specs)) {
        if (!spec.parameter) continue;
        const w = (r.own as Record<string, tf.Tensor>)[name];
        parts.push(o.weightRegularizer(spec.parameter.regularize?.(w) ?? (w as tf.Tensor2D)));
      }
      terms.weightRegLoss = {
        kind: "reduced",
        value: tf.mul(tf.addN(parts), o.weightRegWeight ?? 1) as tf.Scalar,
      };
    }
    const zeroLoss = () => tf.mul(tf.sum(embeddings), 0) as tf.Scalar;
    return reduceTerms(terms, r.reducer, { fn, labels: y, n, zero: zeroLoss });
  });
}

/**
 * Makes a loss from its definition (see the module documentation of `mod.ts` for a worked
 * example). The returned function checks its options, runs `compute` inside `tf.tidy` and reduces.
 *
 * @param def the loss's name, defaults, option specs and compute
 * @returns the loss function, with `lossName`, `definition` and `with(options)`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { defineLoss, opt } from "./_template.ts";
 * import type { LossOptions } from "./_template.ts";
 * interface MeanDistanceOptions extends LossOptions {
 *   scale?: number;
 * }
 * const meanPositiveDistance = defineLoss<MeanDistanceOptions>({
 *   name: "meanPositiveDistance",
 *   options: { scale: opt.positive(1) },
 *   compute(ctx, o) {
 *     const { pos } = ctx.pairMatrices();
 *     return { loss: { kind: "pair", losses: tf.mul(ctx.mat(), o.scale), weights: pos } };
 *   },
 * });
 * meanPositiveDistance(tf.tensor2d([[1, 0], [0, 1]]), [0, 0]).print(); // 1.4142
 * ```
 */
export function defineLoss<O extends LossOptions>(
  def: LossDefinition<O>,
  bound: O = {} as O,
): Loss<O> {
  const loss = ((embeddings: tf.Tensor2D, labels: Labels | undefined, options?: O) => {
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new Error(`${def.name}: options must be an object, got ${String(options)}`);
    }
    const merged = { ...bound, ...(options ?? {}) } as O;
    return runLoss(def, embeddings, labels, merged);
  }) as Loss<O>;
  Object.defineProperty(loss, "name", { value: def.name });
  Object.defineProperties(loss, {
    lossName: { value: def.name, enumerable: true },
    definition: { value: def, enumerable: true },
    boundOptions: { value: Object.freeze({ ...bound }), enumerable: true },
    with: { value: (options: O) => defineLoss(def, { ...bound, ...options }) },
  });
  return loss;
}

/**
 * True when `f` was made by {@linkcode defineLoss}.
 *
 * @example
 * ```ts
 * import { isLoss } from "./_template.ts";
 * isLoss(() => 0); // false
 * ```
 */
export function isLoss(f: unknown): f is Loss<LossOptions> {
  return typeof f === "function" && "definition" in f && "lossName" in f;
}

/**
 * The stateful form of a loss with learnable parameters: it creates and owns one `tf.Variable`
 * per `opt.parameter` option (shaped for `embeddingSize`, initialised as PML initialises it,
 * seeded), and calls the loss with them. Train them with the model's weights:
 * `optimizer.minimize(() => l.call(model.apply(x), y), false, [...modelVars, ...l.trainableWeights])`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { defineLoss, opt, TrainableLoss } from "./_template.ts";
 * import type { ParametrizedLossOptions } from "./_template.ts";
 * interface CentreLossOptions extends ParametrizedLossOptions {
 *   numClasses?: number;
 *   centres?: tf.Tensor;
 * }
 * const centreLoss = defineLoss<CentreLossOptions>({
 *   name: "centreLoss",
 *   normalizeEmbeddings: false,
 *   options: {
 *     numClasses: opt.integer(undefined, { min: 1 }),
 *     centres: opt.parameter({
 *       shape: (o, d) => [o.numClasses as number, d],
 *       init: (shape, seed) => tf.randomNormal(shape, 0, 1, "float32", seed),
 *     }),
 *   },
 *   compute(ctx, o) {
 *     const c = tf.gather(o.centres, tf.tensor1d(ctx.labels, "int32"));
 *     return { loss: { kind: "element", losses: tf.sum(tf.square(tf.sub(ctx.embeddings, c)), 1) } };
 *   },
 * });
 * const trainable = new TrainableLoss(centreLoss, { numClasses: 3, embeddingSize: 2, seed: 1 });
 * trainable.trainableWeights.length; // 1
 * trainable.call(tf.tensor2d([[0, 1], [1, 0]]), [0, 2]).print();
 * trainable.dispose();
 * ```
 */
export class TrainableLoss<O extends ParametrizedLossOptions> {
  /** The loss function. */
  readonly loss: Loss<O>;
  /** The variables, by option name. */
  readonly variables: Readonly<Record<string, tf.Variable>>;
  readonly #options: O;

  /**
   * @param loss a loss with `opt.parameter` options
   * @param options the loss's options (without the parameters), `embeddingSize` and `seed`
   * @throws Error when the loss has no parameters, or an option is invalid.
   */
  constructor(loss: Loss<O>, options: O & { embeddingSize: number; seed?: number }) {
    const { embeddingSize, seed, ...rest } = options;
    const fn = loss.lossName;
    if (!Number.isInteger(embeddingSize) || embeddingSize < 1) {
      throw new Error(`${fn}: embeddingSize must be an integer ≥ 1, got ${embeddingSize}`);
    }
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new Error(`${fn}: seed must be an integer, got ${seed}`);
    }
    const specs = Object.entries(
      loss.definition.options as unknown as Record<string, OptionSpec<unknown>>,
    ).filter(([, s]) => s.parameter);
    if (specs.length === 0) throw new Error(`${fn} has no learnable parameters`);
    for (const [name] of specs) {
      if ((rest as Record<string, unknown>)[name] instanceof tf.Tensor) {
        throw new Error(`${fn}: ${name} is owned by the TrainableLoss; do not pass it`);
      }
    }
    // Resolve the other options (defaults and checks) with placeholder parameters; a parameter
    // given as a plain value (where its check allows one, e.g. a number) is its initial value.
    const placeholder = tf.zeros([0]);
    const probe = { ...loss.boundOptions, ...rest } as Record<string, unknown>;
    const initial: Record<string, unknown> = {};
    for (const [name] of specs) {
      if (probe[name] !== undefined && !(probe[name] instanceof tf.Tensor)) {
        initial[name] = probe[name];
      }
      probe[name] = placeholder;
    }
    let resolved: Record<string, unknown>;
    try {
      const r = resolveOptions(loss.definition, probe as O);
      for (const [name, s] of specs) {
        if (name in initial) s.check(initial[name], { fn, name, distance: r.distance });
      }
      resolved = { ...(r.own as Record<string, unknown>), ...initial };
    } finally {
      placeholder.dispose();
    }
    const variables: Record<string, tf.Variable> = {};
    specs.forEach(([name, s], i) => {
      const shape = s.parameter!.shape(resolved, embeddingSize);
      const init = tf.tidy(() =>
        s.parameter!.init(shape, seed === undefined ? undefined : seed + i, resolved)
      );
      variables[name] = tf.variable(init, true);
      init.dispose();
    });
    this.loss = loss;
    this.variables = variables;
    this.#options = { ...rest, ...variables } as unknown as O;
  }

  /** The variables in declaration order (for the optimiser's variable list). */
  get trainableWeights(): tf.Variable[] {
    return Object.values(this.variables);
  }

  /** The loss with the owned parameters; `options` override the constructor's. */
  call(embeddings: tf.Tensor2D, labels: Labels | undefined, options?: O): tf.Scalar {
    return this.loss(embeddings, labels, { ...this.#options, ...(options ?? {}) } as O);
  }

  /** Disposes the variables. */
  dispose(): void {
    for (const v of Object.values(this.variables)) v.dispose();
  }
}
