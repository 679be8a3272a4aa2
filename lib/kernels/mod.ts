/**
 * Training kernels for TensorFlow.js's `wasm` backend.
 *
 * tfjs-backend-wasm 4.22 lacks `Conv2DBackpropFilter` (tfjs issue #8474), so a CNN cannot train
 * on it, and several of its backward kernels are slow. {@link registerWasmTrainingKernels}
 * registers our replacements; nothing changes until it is called.
 *
 * Where the engine has WebAssembly relaxed SIMD (Deno 2 / V8 does), the heavy kernels run on our
 * own SIMD code, generated at run time (`wasm_asm.ts`, `simd_module.ts`) and instantiated on the
 * backend's heap so that it reads and writes tensors in place: a fused-multiply-add matrix kernel
 * (`6 × 8` register tiles) behind `Conv2D`, `Conv2DBackpropFilter` (`im2col(x)ᵀ·dy`),
 * `Conv2DBackpropInput` (`col2im(dy·Wᵀ)`) and `BatchMatMul` (transposes read through strides);
 * max pooling and its gradient; all squared differences of two sets of rows (the exact distances
 * of a loss batch, `SimlearnPairwiseSquares`); comparisons and `Select` as plain loops (the
 * backend's broadcast them element by element) and `GatherV2` (the backend's checks each index
 * through a closure); column sums (`Sum` over leading axes: bias gradients); bias
 * `Add`. `Identity` and same-type `Cast` share storage instead of copying (tfjs clones every
 * tensor it saves for back-propagation). Without relaxed SIMD the kernels use routes through the
 * backend's XNNPACK kernels (`setSimdDisabled(true)` selects them for comparison). Each kernel
 * delegates cases it does not cover to the backend's own kernel.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig } from "@tensorflow/tfjs";
import { rememberOriginal } from "./wasm_util.ts";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
import { conv2DBackpropInputConfig } from "./conv2d_backprop_input.ts";
import { maxPoolGradConfig } from "./max_pool_grad.ts";
import { batchMatMulConfig, fusedMatMulConfig } from "./batch_mat_mul.ts";
import { sumConfig } from "./sum.ts";
import { conv2DConfig } from "./conv2d.ts";
import { castConfig, identityConfig, sliceConfig } from "./identity.ts";
import { addConfig, maxPoolConfig } from "./pool_add.ts";
import { unsortedSegmentSumConfig } from "./unsorted_segment_sum.ts";
import { elementwiseConfigs, registerReluGradient } from "./elementwise.ts";
import { registerAdamKernels } from "./adam.ts";
import { installFusedOps } from "./fused.ts";
import { pairwiseSquaresConfig } from "./pairwise_squares.ts";
import { compareConfigs } from "./compare.ts";
import { gatherV2Config } from "./gather.ts";

export { conv2DBackpropFilterWasm } from "./conv2d_backprop_filter.ts";
export { conv2DBackpropInputWasm } from "./conv2d_backprop_input.ts";
export { maxPoolGradWasm } from "./max_pool_grad.ts";
export { batchMatMulWasm, fusedMatMulWasm } from "./batch_mat_mul.ts";
export { sumWasm } from "./sum.ts";
export { conv2DWasm } from "./conv2d.ts";
export { castWasm, identityWasm, sliceWasm } from "./identity.ts";
export { addWasm, maxPoolWasm } from "./pool_add.ts";
export { segmentSum, unsortedSegmentSumWasm } from "./unsorted_segment_sum.ts";
export {
  addSameShape,
  multiplyWasm,
  RELU_GRAD_KERNEL,
  reluGradWasm,
  reluWasm,
  SQRT_GRAD_KERNEL,
  sqrtGradient,
  sqrtGradWasm,
  stepWasm,
} from "./elementwise.ts";
export { ADAM_KERNEL, adamLoop, applyGradients } from "./adam.ts";
export {
  BIAS_ACT_GRAD_KERNEL,
  biasActGradWasm,
  FUSED_CONV2D_KERNEL,
  FUSED_MATMUL_KERNEL,
  fusedLayerConv2DWasm,
  fusedLayerMatMulWasm,
  installFusedOps,
  setFusedOps,
} from "./fused.ts";
export {
  PAIRWISE_SQUARES_KERNEL,
  pairwiseSquares,
  pairwiseSquaresWasm,
} from "./pairwise_squares.ts";
export { comparisonWasm, selectWasm } from "./compare.ts";
export { gatherV2Wasm } from "./gather.ts";
export { setSimdDisabled } from "./simd_ops.ts";
export {
  availableThreads,
  kernelThreads,
  requestedKernelThreads,
  setKernelThreads,
} from "./parallel.ts";
export { sharedWasmHeap, shareWasmHeap } from "./shared_heap.ts";

/** Our kernels, in registration order. */
const configs: KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  sumConfig,
  conv2DConfig,
  identityConfig,
  castConfig,
  maxPoolConfig,
  addConfig,
  unsortedSegmentSumConfig,
  ...elementwiseConfigs,
  sliceConfig,
  pairwiseSquaresConfig,
  ...compareConfigs,
  gatherV2Config,
];

/**
 * Names of the kernels that {@link registerWasmTrainingKernels} registers on `wasm`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmTrainingKernelNames } from "./mod.ts";
 * assert.ok(wasmTrainingKernelNames().includes("Conv2DBackpropFilter"));
 * ```
 */
export function wasmTrainingKernelNames(): string[] {
  return configs.map((c) => c.kernelName);
}

/**
 * Registers our training kernels on the `wasm` backend (replacing the backend's own kernel of the
 * same name, whose setup function is kept and whose kernel function stays reachable to ours).
 * Idempotent. Call it after `@tensorflow/tfjs-backend-wasm` has been imported (typically right
 * after `await tf.setBackend("wasm")`); it throws if the wasm backend's kernels are not loaded.
 *
 * @returns the names of the kernels now registered by us, `string[]`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * await tf.setBackend("wasm");
 * await tf.ready();
 * const names = registerWasmTrainingKernels();
 * assert.ok(names.includes("Conv2DBackpropFilter"));
 * ```
 */
export function registerWasmTrainingKernels(): string[] {
  if (tf.getKernel("Conv2D", "wasm") === undefined) {
    throw new Error(
      "registerWasmTrainingKernels: the wasm backend is not loaded; " +
        'import "@tensorflow/tfjs-backend-wasm" first',
    );
  }
  const names: string[] = [];
  for (const config of configs) {
    const existing = tf.getKernel(config.kernelName, "wasm");
    if (existing !== undefined && existing.kernelFunc === config.kernelFunc) {
      names.push(config.kernelName);
      continue;
    }
    let setupFunc = config.setupFunc;
    if (existing !== undefined) {
      rememberOriginal(config.kernelName, existing.kernelFunc);
      setupFunc = existing.setupFunc;
      tf.unregisterKernel(config.kernelName, "wasm");
    }
    tf.registerKernel({ ...config, setupFunc });
    names.push(config.kernelName);
  }
  registerReluGradient();
  registerAdamKernels();
  installFusedOps();
  return names;
}
