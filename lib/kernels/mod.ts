/**
 * Training kernels for TensorFlow.js's `wasm` backend.
 *
 * tfjs-backend-wasm 4.22 lacks `Conv2DBackpropFilter` (tfjs issue #8474), so a CNN cannot train
 * on it, and several of its backward kernels are slow. {@link registerWasmTrainingKernels}
 * registers our replacements; nothing changes until it is called.
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

export { conv2DBackpropFilterWasm } from "./conv2d_backprop_filter.ts";
export { conv2DBackpropInputWasm } from "./conv2d_backprop_input.ts";
export { maxPoolGradWasm } from "./max_pool_grad.ts";
export { batchMatMulWasm, fusedMatMulWasm } from "./batch_mat_mul.ts";
export { sumWasm } from "./sum.ts";

/** Our kernels, in registration order. */
const configs: KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  sumConfig,
];

/**
 * Names of the kernels that {@link registerWasmTrainingKernels} registers on `wasm`.
 *
 * @example
 * ```ts
 * import { wasmTrainingKernelNames } from "./mod.ts";
 * console.log(wasmTrainingKernelNames()); // ["Conv2DBackpropFilter", ...]
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
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * await tf.setBackend("wasm");
 * await tf.ready();
 * const names = registerWasmTrainingKernels(); // ["Conv2DBackpropFilter", ...]
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
  return names;
}
