/**
 * The models, loss and synthetic data of the training benchmarks, with no dependency but
 * TensorFlow.js, so that the GPU check (`gpu_check.ts`) bundles small: the reference CNN and the
 * MLP encoder, PyTorch-metric-learning's default contrastive loss written out, and seeded
 * synthetic images.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The two encoders of the benchmark. */
export type ModelKind = "cnn" | "mlp";

/**
 * Builds an encoder: the reference CNN (conv3x3(32, valid)-relu-maxpool2, conv3x3(64)-relu-
 * maxpool2, flatten, dense(128)-relu, dense(64)) or the MLP (784-256-128-64), input
 * `[n, 28, 28, 1]`, output `[n, 64]` (the loss L2-normalises).
 *
 * @example
 * ```ts
 * import { buildModel } from "./train_models.ts";
 * const m = buildModel("mlp");
 * console.log(m.outputs[0].shape); // [null, 64]
 * ```
 */
export function buildModel(kind: ModelKind): tf.Sequential {
  if (kind === "cnn") {
    return tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [28, 28, 1],
          filters: 32,
          kernelSize: 3,
          activation: "relu",
        }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 128, activation: "relu" }),
        tf.layers.dense({ units: 64 }),
      ],
    });
  }
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 256, activation: "relu" }),
      tf.layers.dense({ units: 128, activation: "relu" }),
      tf.layers.dense({ units: 64 }),
    ],
  });
}

/** A loss of embeddings `[n, d]` and labels `[n]`. */
export type PairLoss = (embeddings: tf.Tensor2D, labels: Int32Array) => tf.Scalar;

/**
 * PML's default contrastive loss written out (used only when `lib/losses` cannot be loaded):
 * Euclidean distances of L2-normalised embeddings, `relu(d)` on positive pairs, `relu(1 − d)` on
 * negative pairs, each averaged over its non-zero terms, summed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { localContrastiveLoss } from "./train_models.ts";
 * localContrastiveLoss(tf.tensor2d([[1, 0], [0, 1]]), Int32Array.of(0, 1)).print(); // 0
 * ```
 */
export const localContrastiveLoss: PairLoss = (embeddings, labels) =>
  tf.tidy(() => {
    const n = labels.length;
    const e = tf.div(embeddings, tf.add(tf.norm(embeddings, 2, 1, true), 1e-12));
    const sq = tf.relu(tf.sub(2, tf.mul(2, tf.matMul(e, e, false, true))));
    const pos = new Float32Array(n * n);
    const neg = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (labels[i] === labels[j]) pos[i * n + j] = i === j ? 0 : 1;
        else neg[i * n + j] = 1;
      }
    }
    // Off the diagonal sq > 0 almost surely; the mask keeps sqrt's gradient finite there.
    const eye = tf.eye(n);
    const d = tf.sqrt(tf.add(sq, eye));
    const pl = tf.mul(d, tf.tensor2d(pos, [n, n]));
    const nl = tf.mul(tf.relu(tf.sub(1, d)), tf.tensor2d(neg, [n, n]));
    const avg = (t: tf.Tensor) => tf.div(tf.sum(t), tf.maximum(tf.sum(tf.sign(t)), 1));
    return tf.add(avg(pl), avg(nl)) as tf.Scalar;
  });

/**
 * Seeded uniform numbers in [0, 1) (mulberry32).
 *
 * @example
 * ```ts
 * import { rng } from "./train_models.ts";
 * const r = rng(1);
 * console.log(r() < 1); // true
 * ```
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` synthetic 28×28 images in [0, 1] (ten noisy class prototypes) and their labels, the same
 * for the same `seed`.
 *
 * @example
 * ```ts
 * import { syntheticImages } from "./train_models.ts";
 * const { images, labels } = syntheticImages(4, 42);
 * console.log(images.length, labels.length); // 3136 4
 * ```
 */
export function syntheticImages(
  n: number,
  seed: number,
): { images: Float32Array; labels: Int32Array } {
  const r = rng(seed);
  const protos = Array.from({ length: 10 }, () => Float32Array.from({ length: 784 }, r));
  const images = new Float32Array(n * 784);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = Math.floor(r() * 10);
    const p = protos[labels[i]];
    for (let j = 0; j < 784; j++) {
      images[i * 784 + j] = Math.min(1, Math.max(0, p[j] + 0.3 * (r() - 0.5)));
    }
  }
  return { images, labels };
}
