/**
 * Encoders from disk or the web: a TensorFlow.js layers model (`model.json` + weight files, as
 * `saveEncoder` writes it or as `tensorflowjs_converter --output_format tfjs_layers_model` makes
 * it from a Keras model) loaded as it was saved, or used as a **trunk** under a new embedding
 * head — the usual way to start metric learning from a pretrained backbone — optionally frozen.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fileSystemHandler } from "../io/export.ts";
import { checkOptionKeys } from "../validate.ts";
import { L2Normalization } from "./layers.ts";

/**
 * Options of {@linkcode loadEncoder}.
 *
 * @example
 * ```ts
 * const o: LoadEncoderOptions = { embeddingDim: 128, trunkLayer: "pool", freeze: true, seed: 1 };
 * ```
 */
export interface LoadEncoderOptions {
  /**
   * Add a new head of this size: the trunk's output (global-average-pooled when it is a feature
   * map `[n, h, w, c]`, flattened when of higher rank), then `dense(embeddingDim)` and, by
   * default, L2-normalisation. Default: no head, the model as saved.
   */
  embeddingDim?: number;
  /** End the head with L2-normalisation. Default true. */
  normalize?: boolean;
  /** The trunk ends at the output of this layer (by name). Default: the model's output. */
  trunkLayer?: string;
  /**
   * Freeze the trunk: its weights are not trained, and its batch-normalisation layers run in
   * inference mode (moving statistics, not updated), as Keras freezes them. Default false.
   */
  freeze?: boolean;
  /** Seed of the head's initial weights. Default 0. */
  seed?: number;
}

function toLoadTarget(pathOrUrl: string): string | tf.io.IOHandler {
  if (/^https?:\/\//i.test(pathOrUrl)) return pathOrUrl;
  const path = pathOrUrl.startsWith("file://")
    ? decodeURIComponent(new URL(pathOrUrl).pathname)
    : pathOrUrl;
  return fileSystemHandler(path.replace(/\/+$/, ""));
}

/** Makes a batch-normalisation layer run in inference mode whatever `training` says. */
function inferenceOnly(layer: tf.layers.Layer): void {
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
}

/**
 * Loads a TensorFlow.js layers model as an encoder.
 *
 * - `pathOrUrl`: a folder holding `model.json` (and its weights), the path of a model JSON file,
 *   a `file://` URL, or an `http(s)://` URL of a `model.json` (fetched; weights beside it).
 * - Without `embeddingDim` the model is returned as saved (`saveEncoder` / `loadEncoder` give the
 *   same embeddings; the project's custom layers such as `L2Normalization` are registered).
 * - With `embeddingDim` the model (up to `trunkLayer`) becomes the trunk of a new encoder with a
 *   fresh head (see {@linkcode LoadEncoderOptions}); `freeze` keeps the trunk as loaded.
 *
 * @returns a layers model from `[n, ...inputShape]` to `[n, d]`
 * @throws Error naming the path for a missing or unreadable model; TypeError for bad options or
 * a `trunkLayer` the model does not have (the message lists its layers).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlpEncoder } from "./encoders.ts";
 * import { saveEncoder } from "../io/export.ts";
 * import { loadEncoder } from "./load.ts";
 * const dir = await Deno.makeTempDir();
 * await saveEncoder(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 }), dir);
 * const encoder = await loadEncoder(dir, { embeddingDim: 3, trunkLayer: "dense_Dense1", freeze: true });
 * assert.deepEqual(encoder.outputs[0].shape, [null, 3]);
 * assert.equal(encoder.trainableWeights.length, 2); // only the new head's kernel and bias
 * ```
 */
export async function loadEncoder(
  pathOrUrl: string,
  options: LoadEncoderOptions = {},
): Promise<tf.LayersModel> {
  const fn = "loadEncoder";
  checkOptionKeys(fn, options, ["embeddingDim", "normalize", "trunkLayer", "freeze", "seed"]);
  if (typeof pathOrUrl !== "string" || pathOrUrl === "") {
    throw new TypeError(
      `${fn}: pathOrUrl must be a folder, file or URL, got ${JSON.stringify(pathOrUrl)}`,
    );
  }
  const { embeddingDim, normalize = true, trunkLayer, freeze = false, seed = 0 } = options;
  if (embeddingDim === undefined && (trunkLayer !== undefined || freeze)) {
    throw new TypeError(`${fn}: trunkLayer and freeze need embeddingDim (a new head)`);
  }
  if (embeddingDim !== undefined && (!Number.isInteger(embeddingDim) || embeddingDim < 1)) {
    throw new TypeError(`${fn}: embeddingDim must be a positive integer, got ${embeddingDim}`);
  }
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(toLoadTarget(pathOrUrl));
  } catch (e) {
    throw new Error(
      `${fn}: cannot load a layers model from ${pathOrUrl}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (embeddingDim === undefined) return model;

  let features: tf.SymbolicTensor;
  if (trunkLayer !== undefined) {
    const names = model.layers.map((l) => l.name);
    if (!names.includes(trunkLayer)) {
      throw new TypeError(
        `${fn}: the model has no layer "${trunkLayer}"; its layers: ${names.join(", ")}`,
      );
    }
    features = model.getLayer(trunkLayer).output as tf.SymbolicTensor;
  } else {
    if (model.outputs.length !== 1) {
      throw new TypeError(
        `${fn}: the model has ${model.outputs.length} outputs; name the trunk's end with trunkLayer`,
      );
    }
    features = model.outputs[0];
  }
  if (freeze) {
    for (const layer of model.layers) {
      layer.trainable = false;
      if (layer.getClassName() === "BatchNormalization") inferenceOnly(layer);
    }
  }
  let h = features;
  if (h.rank === 4) {
    h = tf.layers.globalAveragePooling2d({ name: "head_pool" }).apply(h) as tf.SymbolicTensor;
  } else if (h.rank > 2) {
    h = tf.layers.flatten({ name: "head_flatten" }).apply(h) as tf.SymbolicTensor;
  }
  h = tf.layers.dense({
    units: embeddingDim,
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    name: "head_embedding",
  }).apply(h) as tf.SymbolicTensor;
  if (normalize) {
    h = new L2Normalization({ name: "head_l2_normalize" }).apply(h) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: model.inputs, outputs: h, name: `${model.name}_with_head` });
}
