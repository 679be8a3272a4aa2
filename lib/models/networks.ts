/**
 * Siamese and triplet networks: one encoder, its weights shared, applied to two or three inputs
 * (Bromley et al. 1993; Hoffer & Ailon 2015). The wrappers are `tf.model` functional models, so
 * they train, save and reload like any other `tf.LayersModel`, and training them trains the
 * encoder itself.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { L2Normalization } from "./layers.ts";

/**
 * Options of {@linkcode siameseNetwork} and {@linkcode tripletNetwork}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const options: TupleNetworkOptions = { normalize: true, name: "siamese" };
 * assert.equal(options.name, "siamese");
 * ```
 */
export interface TupleNetworkOptions {
  /** Add an L2-normalisation after the shared encoder (shared too). Default false. */
  normalize?: boolean;
  /** Model name. */
  name?: string;
}

/**
 * The `[...inputShape]` (without batch axis) of `encoder`'s single input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlpEncoder } from "./encoders.ts";
 * assert.deepEqual(encoderInputShape(mlpEncoder({ inputShape: [4], hidden: [8] })), [4]);
 * ```
 */
export function encoderInputShape(encoder: tf.LayersModel): number[] {
  if (encoder.inputs.length !== 1) {
    throw new Error(`encoder: expected one input, got ${encoder.inputs.length}`);
  }
  const shape = encoder.inputs[0].shape.slice(1);
  if (shape.some((d) => d === null)) {
    throw new Error(`encoder: input shape [${encoder.inputs[0].shape}] has unknown dimensions`);
  }
  return shape as number[];
}

function tupleNetwork(
  encoder: tf.LayersModel,
  names: string[],
  options: TupleNetworkOptions,
  defaultName: string,
): tf.LayersModel {
  const shape = encoderInputShape(encoder);
  const inputs = names.map((name) => tf.input({ shape, name: `${defaultName}_${name}` }));
  const norm = options.normalize ? new L2Normalization() : undefined;
  const outputs = inputs.map((input) => {
    const e = encoder.apply(input) as tf.SymbolicTensor;
    return norm ? norm.apply(e) as tf.SymbolicTensor : e;
  });
  return tf.model({ inputs, outputs, name: options.name ?? defaultName });
}

/**
 * A Siamese network: `[x1, x2] → [encoder(x1), encoder(x2)]` with one set of weights.
 * Inputs `[n, ...inputShape]` ×2, outputs `[n, d]` ×2.
 *
 * @param encoder any single-input encoder (its weights are shared, not copied)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder, siameseNetwork } from "./mod.ts";
 * const encoder = mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 });
 * const siamese = siameseNetwork(encoder);
 * const [e1, e2] = siamese.predict([tf.ones([3, 4]), tf.zeros([3, 4])]) as tf.Tensor[];
 * assert.deepEqual(e1.shape, [3, 2]);
 * assert.deepEqual(e2.shape, [3, 2]);
 * ```
 */
export function siameseNetwork(
  encoder: tf.LayersModel,
  options: TupleNetworkOptions = {},
): tf.LayersModel {
  return tupleNetwork(encoder, ["left", "right"], options, "siamese");
}

/**
 * A triplet network: `[anchor, positive, negative] → [e_a, e_p, e_n]` with one set of weights.
 * Inputs `[n, ...inputShape]` ×3, outputs `[n, d]` ×3.
 *
 * @param encoder any single-input encoder (its weights are shared, not copied)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder, tripletNetwork } from "./mod.ts";
 * const net = tripletNetwork(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 }));
 * const out = net.predict([tf.ones([3, 4]), tf.ones([3, 4]), tf.zeros([3, 4])]) as tf.Tensor[];
 * assert.equal(out.length, 3);
 * ```
 */
export function tripletNetwork(
  encoder: tf.LayersModel,
  options: TupleNetworkOptions = {},
): tf.LayersModel {
  return tupleNetwork(encoder, ["anchor", "positive", "negative"], options, "triplet");
}
