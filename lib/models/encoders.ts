/**
 * Encoders that map inputs to embeddings: the reference CNN of the project, a configurable CNN and
 * an MLP. Every encoder is a `tf.Sequential` from `[n, ...inputShape]` to `[n, embeddingDim]`,
 * optionally ending in {@linkcode L2Normalization}, with weights fixed by `seed`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { L2Normalization } from "./layers.ts";

/**
 * Options shared by the encoders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EncoderOptions, mlpEncoder } from "./encoders.ts";
 * const options: EncoderOptions = { embeddingDim: 32, normalize: true, seed: 1 };
 * assert.deepEqual(mlpEncoder({ ...options, inputShape: [4] }).outputs[0].shape, [null, 32]);
 * ```
 */
export interface EncoderOptions {
  /** Embedding size. Default 64. */
  embeddingDim?: number;
  /** End with an L2-normalisation layer. Default true. */
  normalize?: boolean;
  /** Seed of the weight initialisers; the same seed gives the same initial weights. Default 0. */
  seed?: number;
  /**
   * How weights start: `"glorot"` (Keras' default: Glorot-uniform kernels, zero biases) or
   * `"pytorch"` (PyTorch's `Conv2d`/`Linear` default: kernels Kaiming-uniform with a = √5 and
   * biases uniform, both in ±1/√fanIn, fanIn = inputs per output unit). Default `"glorot"`.
   */
  initializer?: Initializer;
}

/** The encoders' weight initialisations (see {@linkcode EncoderOptions.initializer}). */
export type Initializer = "glorot" | "pytorch";

const INITIALIZERS: readonly Initializer[] = ["glorot", "pytorch"];

function checkInitializer(fn: string, value: unknown): Initializer {
  if (value === undefined) return "glorot";
  if (!INITIALIZERS.includes(value as Initializer)) {
    throw new Error(
      `${fn}: initializer must be "glorot" or "pytorch", got ${JSON.stringify(value)}`,
    );
  }
  return value as Initializer;
}

/**
 * Re-draws the kernel and bias of every dense and convolution layer as PyTorch initialises
 * `nn.Linear` and `nn.Conv2d`: both uniform in ±1/√fanIn (`kaiming_uniform_(a=√5)` for the
 * weights, `uniform_(−bound, bound)` for the biases), fanIn = the product of the kernel's
 * dimensions but the last (inputs × kernel area). Seeded per layer, so `seed` fixes the draw.
 */
function pytorchInit(model: tf.LayersModel, seed: number): void {
  let layer = 0;
  for (const l of model.layers) {
    const weights = l.getWeights();
    if (weights.length === 0) continue;
    layer++;
    const kernel = weights[0];
    const fanIn = kernel.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    const fresh = weights.map((w, i) =>
      tf.randomUniform(w.shape, -bound, bound, "float32", seed * 1000 + layer * 10 + i + 7)
    );
    l.setWeights(fresh);
    tf.dispose(fresh);
  }
}

function seeded(seed: number, layer: number) {
  return {
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + layer }),
    biasInitializer: "zeros" as const,
  };
}

/**
 * The reference CNN: conv3×3(32)-relu-maxpool2, conv3×3(64)-relu-maxpool2, dense(128)-relu,
 * dense(embeddingDim), then L2-normalisation. Input `[n, 28, 28, 1]`, output `[n, embeddingDim]`.
 * `initializer: "pytorch"` starts it as PyTorch starts the same network (the benchmark's
 * protocol, so that it compares losses with PyTorch + PML rather than initialisers).
 *
 * @throws Error for an unknown `initializer`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceCnn } from "./encoders.ts";
 * const model = referenceCnn({ seed: 1 });
 * assert.deepEqual(model.outputs[0].shape, [null, 64]);
 * const torchLike = referenceCnn({ seed: 1, initializer: "pytorch" });
 * const bias = torchLike.layers[0].getWeights()[1].dataSync(); // uniform in ±1/√9, not zeros
 * assert.ok(bias.every((b) => Math.abs(b) <= 1 / 3) && bias.some((b) => b !== 0));
 * ```
 */
export function referenceCnn(
  options: EncoderOptions & { inputShape?: number[] } = {},
): tf.Sequential {
  const { embeddingDim = 64, normalize = true, seed = 0, inputShape = [28, 28, 1] } = options;
  const initializer = checkInitializer("referenceCnn", options.initializer);
  const model = tf.sequential({ name: "reference_cnn" });
  model.add(
    tf.layers.conv2d({
      inputShape,
      filters: 32,
      kernelSize: 3,
      activation: "relu",
      ...seeded(seed, 1),
    }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(
    tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu", ...seeded(seed, 2) }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 128, activation: "relu", ...seeded(seed, 3) }));
  model.add(tf.layers.dense({ units: embeddingDim, ...seeded(seed, 4) }));
  if (normalize) model.add(new L2Normalization({ name: "l2_normalize" }));
  if (initializer === "pytorch") pytorchInit(model, seed);
  return model;
}

/**
 * Options of {@linkcode cnnEncoder}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cnnEncoder, type CnnEncoderOptions } from "./encoders.ts";
 * const options: CnnEncoderOptions = { filters: [16, 32], kernelSizes: [5, 3], dense: [64] };
 * assert.equal(cnnEncoder(options).outputs[0].shape[1], 64); // embeddingDim defaults to 64
 * ```
 */
export interface CnnEncoderOptions extends EncoderOptions {
  /** Input shape without the batch axis. Default `[28, 28, 1]`. */
  inputShape?: number[];
  /** Filters of each convolution block (conv-relu-maxpool). Default `[32, 64]`. */
  filters?: number[];
  /** Kernel size of each block: one number for all, or one per block. Default 3. */
  kernelSizes?: number | number[];
  /** Max-pooling size after each block (1 = no pooling). Default 2. */
  poolSize?: number;
  /** Sizes of the ReLU dense layers between the convolutions and the embedding. Default `[128]`. */
  dense?: number[];
}

/**
 * A configurable CNN: for each block `convK×K(filters)-relu-maxpool(poolSize)`, then flatten,
 * ReLU dense layers, a linear `dense(embeddingDim)` and optionally L2-normalisation. With the
 * defaults it has the architecture of {@linkcode referenceCnn}. Input `[n, ...inputShape]`, output
 * `[n, embeddingDim]`.
 *
 * @throws Error when a size is not a positive integer or `kernelSizes` has the wrong length.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cnnEncoder } from "./encoders.ts";
 * const model = cnnEncoder({ filters: [8], kernelSizes: [5], dense: [], embeddingDim: 16 });
 * assert.deepEqual(model.outputs[0].shape, [null, 16]);
 * ```
 */
export function cnnEncoder(options: CnnEncoderOptions = {}): tf.Sequential {
  const {
    embeddingDim = 64,
    normalize = true,
    seed = 0,
    inputShape = [28, 28, 1],
    filters = [32, 64],
    kernelSizes = 3,
    poolSize = 2,
    dense = [128],
  } = options;
  const initializer = checkInitializer("cnnEncoder", options.initializer);
  const kernels = typeof kernelSizes === "number" ? filters.map(() => kernelSizes) : kernelSizes;
  if (kernels.length !== filters.length) {
    throw new Error(
      `cnnEncoder: kernelSizes has ${kernels.length} entries for ${filters.length} filters`,
    );
  }
  const positive = (name: string, values: number[]) => {
    for (const v of values) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`cnnEncoder: ${name} must hold positive integers, got ${v}`);
      }
    }
  };
  positive("filters", filters);
  positive("kernelSizes", kernels);
  positive("dense", dense);
  positive("poolSize", [poolSize]);
  positive("embeddingDim", [embeddingDim]);
  const model = tf.sequential({ name: "cnn_encoder" });
  let layer = 0;
  filters.forEach((f, i) => {
    model.add(tf.layers.conv2d({
      ...(i === 0 ? { inputShape } : {}),
      filters: f,
      kernelSize: kernels[i],
      activation: "relu",
      ...seeded(seed, ++layer),
    }));
    if (poolSize > 1) model.add(tf.layers.maxPooling2d({ poolSize }));
  });
  if (filters.length === 0) model.add(tf.layers.inputLayer({ inputShape }));
  model.add(tf.layers.flatten());
  for (const units of dense) {
    model.add(tf.layers.dense({ units, activation: "relu", ...seeded(seed, ++layer) }));
  }
  model.add(tf.layers.dense({ units: embeddingDim, ...seeded(seed, ++layer) }));
  if (normalize) model.add(new L2Normalization({ name: "l2_normalize" }));
  if (initializer === "pytorch") pytorchInit(model, seed);
  return model;
}

/**
 * An MLP encoder: flatten, dense layers with ReLU, a linear embedding layer, then
 * L2-normalisation. Input any shape whose product is the feature count.
 *
 * @param options `hidden` sizes (default `[256, 128]`), `inputShape` (default `[28, 28, 1]`)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlpEncoder } from "./encoders.ts";
 * const model = mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 });
 * assert.deepEqual(model.outputs[0].shape, [null, 2]);
 * ```
 */
export function mlpEncoder(
  options: EncoderOptions & { hidden?: number[]; inputShape?: number[] } = {},
): tf.Sequential {
  const {
    embeddingDim = 64,
    normalize = true,
    seed = 0,
    hidden = [256, 128],
    inputShape = [28, 28, 1],
  } = options;
  const initializer = checkInitializer("mlpEncoder", options.initializer);
  const model = tf.sequential({ name: "mlp_encoder" });
  // Flatten needs a rank ≥ 3 input ([n, a, b, ...]); a flat [n, f] input goes straight to Dense.
  if (inputShape.length > 1) model.add(tf.layers.flatten({ inputShape }));
  const first = inputShape.length > 1 ? {} : { inputShape };
  hidden.forEach((units, i) =>
    model.add(
      tf.layers.dense({
        ...(i === 0 ? first : {}),
        units,
        activation: "relu",
        ...seeded(seed, i + 1),
      }),
    )
  );
  model.add(
    tf.layers.dense({
      ...(hidden.length === 0 ? first : {}),
      units: embeddingDim,
      ...seeded(seed, hidden.length + 1),
    }),
  );
  if (normalize) model.add(new L2Normalization({ name: "l2_normalize" }));
  if (initializer === "pytorch") pytorchInit(model, seed);
  return model;
}

/**
 * Embeds `x` in batches without building a graph for gradients.
 *
 * @param model an encoder
 * @param x `[n, ...inputShape]`
 * @returns `[n, embeddingDim]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { embed, mlpEncoder } from "./encoders.ts";
 * const e = embed(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 }), tf.ones([3, 4]));
 * assert.deepEqual(e.shape, [3, 2]);
 * ```
 */
export function embed(model: tf.LayersModel, x: tf.Tensor, batchSize = 512): tf.Tensor2D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const parts: tf.Tensor[] = [];
    for (let s = 0; s < n; s += batchSize) {
      const size = Math.min(batchSize, n - s);
      const begin = x.shape.map((_, i) => (i === 0 ? s : 0));
      const sz = x.shape.map((d, i) => (i === 0 ? size : d));
      parts.push(model.predict(tf.slice(x, begin, sz)) as tf.Tensor);
    }
    return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor2D;
  });
}
