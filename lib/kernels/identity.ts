/**
 * `Identity` and same-type `Cast` for the wasm backend without a copy. The backend copies the
 * tensor, and tfjs calls `Identity` for every tensor it saves for back-propagation (it clones
 * them); tfjs tensors are immutable, so the output can share the input's storage, as the `cpu`
 * backend does. Other casts and string tensors go to the backend's own kernels. And `Slice` of a
 * contiguous run (a batch cut from a data set) as one copy.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
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
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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

/**
 * Kernel function of `Slice` for the wasm backend: a slice that is one contiguous run of memory
 * (leading-axis slices, such as a batch cut from a data set) is one copy; other slices go to the
 * backend's own kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * tf.slice(tf.tensor2d([[1, 2], [3, 4], [5, 6]]), [1, 0], [2, 2]); // [[3, 4], [5, 6]]
 * ```
 */
export const sliceWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const x = inputs.x;
  if (x === undefined) throw new Error("Slice: input x is required");
  const bytes = x.dtype === "float32" || x.dtype === "int32" ? 4 : x.dtype === "bool" ? 1 : 0;
  if (bytes > 0) {
    const [begin, size] = tf.slice_util.parseSliceParams(
      x,
      attrs?.begin as number | number[],
      attrs?.size as number | number[],
    );
    if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
      const strides = tf.util.computeStrides(x.shape);
      const offset = tf.slice_util.computeFlatOffset(begin, strides);
      let n = 1;
      for (const d of size) n *= d;
      const out = be.makeOutput([...size], x.dtype);
      if (n > 0) {
        // Offsets after the last allocation.
        const src = be.dataIdMap.get(x.dataId)?.memoryOffset ?? 0;
        const dst = be.dataIdMap.get(out.dataId)?.memoryOffset ?? 0;
        const from = src + offset * bytes;
        be.wasm.HEAPU8.copyWithin(dst, from, from + n * bytes);
      }
      return out;
    }
  }
  return runWasmKernel(be, "Slice", { x }, attrs ?? {});
};

/**
 * Kernel registration record of {@link sliceWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { sliceConfig } from "./identity.ts";
 * tf.registerKernel(sliceConfig);
 * ```
 */
export const sliceConfig: KernelConfig = {
  kernelName: "Slice",
  backendName: "wasm",
  kernelFunc: sliceWasm,
};
