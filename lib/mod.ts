/**
 * simlearn: similarity and metric learning for Deno and TypeScript. The public API, re-exported
 * from the modules under `lib/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { contrastiveLoss, initBackend, referenceCnn } from "./mod.ts";
 * const { backend } = await initBackend("auto");
 * assert.ok(["webgpu", "wasm", "cpu"].includes(backend));
 * const model = referenceCnn(); // 28×28×1 images → 64-d embeddings
 * assert.deepEqual(model.outputs[0].shape, [null, 64]);
 * const embeddings = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor2D;
 * assert.ok(contrastiveLoss(embeddings, [0, 1]).dataSync()[0] >= 0);
 * ```
 *
 * @module
 */
export * from "./backend.ts";
export * from "./distances.ts";
export * from "./axioms.ts";
export * from "./linear/mod.ts";
export * from "./data/mod.ts";
export * from "./losses/mod.ts";
export * from "./miners/mod.ts";
export * from "./eval/mod.ts";
export * from "./store/mod.ts";
export * from "./benchmark/mod.ts";
export * from "./models/mod.ts";
export * from "./heads/mod.ts";
export * from "./viz/mod.ts";
export * from "./io/mod.ts";
export * from "./train.ts";
export * from "./train_recorder.ts";
export * from "./experiment.ts";
