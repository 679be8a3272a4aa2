/**
 * `Identity` and same-type `Cast` for the wasm backend without a copy. The backend copies the
 * tensor, and tfjs calls `Identity` for every tensor it saves for back-propagation (it clones
 * them); tfjs tensors are immutable, so the output can share the input's storage, as the `cpu`
 * backend does. Other casts and string tensors go to the backend's own kernels.
 *
 * @module
 */
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { runWasmKernel, type WasmBackendLike } from "./wasm_util.ts";

function share(be: WasmBackendLike, x: TensorInfo): TensorInfo {
  be.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * Kernel function of `Identity` for the wasm backend: the input's storage, one more reference.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * // after `await tf.setBackend("wasm")`:
 * registerWasmTrainingKernels();
 * const y = tf.clone(tf.tensor1d([1, 2])); // [1, 2], no copy
 * ```
 */
export const identityWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const x = inputs.x;
  if (x === undefined) throw new Error("Identity: input x is required");
  if (x.dtype === "string") return runWasmKernel(be, "Identity", { x }, attrs ?? {});
  return share(be, x);
};

/**
 * Kernel function of `Cast` for the wasm backend: shares storage when the type does not change,
 * else runs the backend's own kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * // after `await tf.setBackend("wasm")`:
 * registerWasmTrainingKernels();
 * const y = tf.cast(tf.tensor1d([1.5]), "float32"); // [1.5], no copy
 * ```
 */
export const castWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const x = inputs.x;
  if (x === undefined) throw new Error("Cast: input x is required");
  if (x.dtype !== "string" && attrs?.dtype === x.dtype) return share(be, x);
  return runWasmKernel(be, "Cast", { x }, attrs ?? {});
};

/**
 * Kernel registration record of {@link identityWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { identityConfig } from "./identity.ts";
 * tf.registerKernel(identityConfig);
 * ```
 */
export const identityConfig: KernelConfig = {
  kernelName: "Identity",
  backendName: "wasm",
  kernelFunc: identityWasm,
};

/**
 * Kernel registration record of {@link castWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { castConfig } from "./identity.ts";
 * tf.registerKernel(castConfig);
 * ```
 */
export const castConfig: KernelConfig = {
  kernelName: "Cast",
  backendName: "wasm",
  kernelFunc: castWasm,
};
