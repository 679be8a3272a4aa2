/**
 * One call that evaluates an encoder on a labelled set, used by the training loop and experiments:
 * retrieval (each item queried against all others, `AccuracyCalculator`'s rules) and clustering
 * (k-means with k = the number of classes, scored by NMI and AMI against the labels).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { embed } from "../models/encoders.ts";
import { ami, kMeans, type KMeansOptions, nmi } from "./clustering.ts";
import {
  RETRIEVAL_OPTION_KEYS,
  type RetrievalMetrics,
  retrievalMetrics,
  type RetrievalOptions,
} from "./retrieval.ts";
import { checkOptionKeys } from "../validate.ts";

/** Everything {@linkcode evaluate} measures. */
export interface Evaluation extends RetrievalMetrics {
  /** NMI of k-means clusters (k = number of classes) against the labels; NaN when skipped. */
  nmi: number;
  /** AMI of the same clusters; NaN when skipped. */
  ami: number;
}

/** Options of {@linkcode evaluate} and {@linkcode evaluateEmbeddings}. */
export interface EvaluateOptions extends RetrievalOptions {
  /** Run k-means and report NMI/AMI. Default true. */
  clustering?: boolean;
  /** k-means settings. Default `{ nInit: 1, seed: 0 }`. */
  kMeans?: KMeansOptions;
  /**
   * A separate reference set (a gallery) `[m, d]`: the queries are ranked against it instead of
   * against each other (In-Shop's query/gallery protocol), and clustering runs on queries and
   * references together. Default: none (each query against all other queries).
   */
  reference?: tf.Tensor2D;
  /** Labels `[m]` of `reference` (required with it). */
  referenceLabels?: readonly number[] | Int32Array;
}

/**
 * Retrieval and clustering scores of embeddings `[n, d]` with labels `[n]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { evaluateEmbeddings } from "./evaluate.ts";
 * const e = await evaluateEmbeddings(tf.tensor2d([[0], [0.1], [5], [5.1]]), [0, 0, 1, 1]);
 * console.log(e.mapAtR, e.nmi); // 1 1
 * ```
 */
export async function evaluateEmbeddings(
  embeddings: tf.Tensor2D,
  labels: readonly number[] | Int32Array,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  checkOptionKeys("evaluateEmbeddings", options, [
    ...RETRIEVAL_OPTION_KEYS,
    "clustering",
    "kMeans",
    "reference",
    "referenceLabels",
  ]);
  const {
    clustering: _c,
    kMeans: _k,
    reference,
    referenceLabels,
    ...retrievalOptions
  } = options;
  if ((reference === undefined) !== (referenceLabels === undefined)) {
    throw new TypeError("evaluateEmbeddings: reference and referenceLabels go together");
  }
  const retrieval = await retrievalMetrics(
    embeddings,
    labels,
    reference,
    referenceLabels,
    retrievalOptions,
  );
  let nmiValue = NaN, amiValue = NaN;
  if (options.clustering ?? true) {
    const all = reference ? tf.concat([embeddings, reference], 0) as tf.Tensor2D : embeddings;
    const allLabels = referenceLabels ? [...labels, ...referenceLabels] : labels;
    try {
      const classes = new Set(allLabels).size;
      const { labels: clusters } = kMeans(all, classes, { nInit: 1, ...options.kMeans });
      nmiValue = nmi(allLabels, clusters);
      amiValue = ami(allLabels, clusters);
    } finally {
      if (all !== embeddings) all.dispose();
    }
  }
  return { ...retrieval, nmi: nmiValue, ami: amiValue };
}

/**
 * Embeds `x` with `model`, then measures retrieval (each item against all others) and clustering
 * (see {@linkcode evaluateEmbeddings}).
 *
 * @param model encoder
 * @param x inputs `[n, ...]`
 * @param labels `[n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { evaluate } from "./evaluate.ts";
 * import { mlpEncoder } from "../models/encoders.ts";
 * const model = mlpEncoder({ inputShape: [2], hidden: [4], embeddingDim: 2 });
 * const result = await evaluate(model, tf.randomNormal([20, 2]), Array.from({ length: 20 }, (_, i) => i % 2));
 * console.log(result.mapAtR, result.nmi);
 * ```
 */
export async function evaluate(
  model: tf.LayersModel,
  x: tf.Tensor,
  labels: readonly number[] | Int32Array,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const embeddings = embed(model, x);
  try {
    return await evaluateEmbeddings(embeddings, labels, options);
  } finally {
    embeddings.dispose();
  }
}

/**
 * A flat `Record<string, number>` of an evaluation (what the training loop's `evaluate` callback
 * returns): Recall@K becomes `recallAt1`, `recallAt2`, …
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { evaluateEmbeddings, flattenEvaluation } from "./evaluate.ts";
 * const e = await evaluateEmbeddings(tf.tensor2d([[0], [0.1], [5], [5.1]]), [0, 0, 1, 1]);
 * console.log(flattenEvaluation(e).recallAt1); // 1
 * ```
 */
export function flattenEvaluation(
  e: RetrievalMetrics & Partial<Evaluation>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(e)) {
    if (typeof value === "number") out[key] = value;
  }
  for (const [k, v] of Object.entries(e.recallAtK)) out[`recallAt${k}`] = v;
  return out;
}
