/**
 * A small ResNet-style encoder for colour images of 32–128 pixels (He et al. 2016, "Deep Residual
 * Learning for Image Recognition", the basic block of ResNet-18/34 and the CIFAR variants):
 *
 * ```text
 * stem      conv3×3(width, stride s) - BN - ReLU   [s = 1 up to 32 px, 2 up to 64 px,
 *                                                   2 then max-pool 2 above]
 * stage i   depth[i] basic blocks of width·2^i channels, the first with stride 2 (i > 0):
 *           conv3×3 - BN - ReLU - conv3×3 - BN, + shortcut (identity, or conv1×1 - BN when the
 *           shape changes), ReLU
 * head      global average pooling - dense(embeddingDim) - L2-normalisation
 * ```
 *
 * Batch normalisation (momentum 0.9, ε = 1e-5, PyTorch's defaults) uses the batch's statistics in
 * training and the moving averages in inference (`embed`, `predict`). Convolution kernels are
 * He-normal with seeds derived from `seed`, so the same seed gives the same initial weights.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { L2Normalization } from "./layers.ts";
import { cnnEncoder, type EncoderOptions } from "./encoders.ts";

/**
 * Options of {@linkcode resnetEncoder}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resnetEncoder, type ResNetEncoderOptions } from "./resnet.ts";
 * const o: ResNetEncoderOptions = { inputShape: [32, 32, 3], width: 8, depth: [1, 1] };
 * assert.deepEqual(resnetEncoder(o).outputs[0].shape, [null, 64]); // embeddingDim defaults to 64
 * ```
 */
export interface ResNetEncoderOptions extends EncoderOptions {
  /** `[height, width, channels]`. Default `[64, 64, 3]`. */
  inputShape?: readonly [number, number, number];
  /** Channels of the stem and the first stage (doubled at each later stage). Default 16. */
  width?: number;
  /** Basic blocks per stage: one number per stage, or one number for 3 stages. Default `[1, 1, 1]`. */
  depth?: number | readonly number[];
}

/**
 * Builds the ResNet-style encoder (see the module documentation). Input `[n, h, w, c]`, output
 * `[n, embeddingDim]`.
 *
 * @throws TypeError when a size is not a positive integer or the input is smaller than 8 pixels.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resnetEncoder } from "./resnet.ts";
 * const model = resnetEncoder({ inputShape: [32, 32, 3], width: 8, depth: [1, 1], embeddingDim: 16 });
 * assert.deepEqual(model.outputs[0].shape, [null, 16]);
 * ```
 */
export function resnetEncoder(options: ResNetEncoderOptions = {}): tf.LayersModel {
  const fn = "resnetEncoder";
  const {
    embeddingDim = 64,
    normalize = true,
    seed = 0,
    inputShape = [64, 64, 3],
    width = 16,
    depth = [1, 1, 1],
  } = options;
  const depths = typeof depth === "number" ? [depth, depth, depth] : [...depth];
  const positive = (name: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new TypeError(`${fn}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
    }
  };
  positive("embeddingDim", embeddingDim);
  positive("width", width);
  if (depths.length === 0) throw new TypeError(`${fn}: depth must name at least one stage`);
  depths.forEach((d, i) => positive(`depth[${i}]`, d));
  if (!Array.isArray(inputShape) || inputShape.length !== 3) {
    throw new TypeError(
      `${fn}: inputShape must be [height, width, channels], got ${JSON.stringify(inputShape)}`,
    );
  }
  inputShape.forEach((v, i) => positive(`inputShape[${i}]`, v));
  const side = Math.min(inputShape[0], inputShape[1]);
  if (side < 8) throw new TypeError(`${fn}: images of ${side} px are too small (at least 8)`);

  let layerSeed = 0;
  const conv = (filters: number, kernelSize: number, strides: number, name: string) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: "same",
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: seed * 1000 + ++layerSeed }),
      name,
    });
  const bn = (name: string) => tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name });
  const relu = (name: string) => tf.layers.activation({ activation: "relu", name });

  const input = tf.input({ shape: [...inputShape] });
  const stemStride = side <= 32 ? 1 : 2;
  let x = conv(width, 3, stemStride, "stem_conv").apply(input) as tf.SymbolicTensor;
  x = bn("stem_bn").apply(x) as tf.SymbolicTensor;
  x = relu("stem_relu").apply(x) as tf.SymbolicTensor;
  if (side > 64) {
    x = tf.layers.maxPooling2d({ poolSize: 2, name: "stem_pool" }).apply(x) as tf.SymbolicTensor;
  }
  let channels = width;
  depths.forEach((blocks, stage) => {
    const filters = width * 2 ** stage;
    for (let k = 0; k < blocks; k++) {
      const stride = stage > 0 && k === 0 ? 2 : 1;
      const p = `s${stage + 1}b${k + 1}`;
      let y = conv(filters, 3, stride, `${p}_conv1`).apply(x) as tf.SymbolicTensor;
      y = bn(`${p}_bn1`).apply(y) as tf.SymbolicTensor;
      y = relu(`${p}_relu1`).apply(y) as tf.SymbolicTensor;
      y = conv(filters, 3, 1, `${p}_conv2`).apply(y) as tf.SymbolicTensor;
      y = bn(`${p}_bn2`).apply(y) as tf.SymbolicTensor;
      let shortcut = x;
      if (stride !== 1 || channels !== filters) {
        shortcut = conv(filters, 1, stride, `${p}_proj`).apply(x) as tf.SymbolicTensor;
        shortcut = bn(`${p}_proj_bn`).apply(shortcut) as tf.SymbolicTensor;
      }
      x = tf.layers.add({ name: `${p}_add` }).apply([y, shortcut]) as tf.SymbolicTensor;
      x = relu(`${p}_relu2`).apply(x) as tf.SymbolicTensor;
      channels = filters;
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({
    units: embeddingDim,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + ++layerSeed }),
    name: "embedding",
  }).apply(x) as tf.SymbolicTensor;
  if (normalize) x = new L2Normalization({ name: "l2_normalize" }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: "resnet_encoder" });
}

/**
 * An encoder that fits an input shape: the reference CNN's architecture (`cnnEncoder`) for small
 * greyscale images (up to 32 px, one channel, such as Fashion-MNIST's 28×28), else
 * {@linkcode resnetEncoder} — what experiments use to pick a model for `--data`.
 *
 * @param inputShape `[h, w, c]`
 * @param options embedding size, normalisation, seed, and the ResNet's width and depth;
 *   `initializer` applies to the small CNN only (the ResNet starts with Keras' initialisers:
 *   Glorot-uniform kernels, batch normalisation at scale 1 and offset 0)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encoderFor } from "./resnet.ts";
 * assert.equal(encoderFor([28, 28, 1]).name, "cnn_encoder");
 * assert.equal(encoderFor([64, 64, 3]).name, "resnet_encoder");
 * ```
 */
export function encoderFor(
  inputShape: readonly [number, number, number],
  options: Omit<ResNetEncoderOptions, "inputShape"> = {},
): tf.LayersModel {
  const [h, w, c] = inputShape;
  if (c === 1 && Math.max(h, w) <= 32) {
    const { embeddingDim, normalize, seed, initializer } = options;
    return cnnEncoder({ inputShape: [h, w, c], embeddingDim, normalize, seed, initializer });
  }
  return resnetEncoder({ ...options, inputShape });
}
