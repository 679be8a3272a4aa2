/**
 * One call that evaluates an encoder on a labelled set, used by the training loop and experiments.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { embed } from "../models/encoders.ts";
import type { MetricSpec } from "../distances.ts";
import { type RetrievalMetrics, retrievalMetrics } from "./retrieval.ts";

/** Everything {@linkcode evaluate} measures. */
export type Evaluation = RetrievalMetrics;

/**
 * Embeds `x` with `model` and measures retrieval with each item queried against all others.
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
 * console.log(result.mapAtR);
 * ```
 */
export async function evaluate(
  model: tf.LayersModel,
  x: tf.Tensor,
  labels: readonly number[] | Int32Array,
  options: { metric?: MetricSpec } = {},
): Promise<Evaluation> {
  const embeddings = embed(model, x);
  try {
    return await retrievalMetrics(embeddings, labels, undefined, undefined, options);
  } finally {
    embeddings.dispose();
  }
}
