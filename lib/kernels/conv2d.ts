/**
 * Forward `Conv2D` for the wasm backend with our SIMD kernels (`simd_ops.ts`): im2col in cached
 * chunks times the filter, with fused multiply-add. Falls back to the backend's own (XNNPACK)
 * kernel where the engine lacks relaxed SIMD or for NCHW data.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";
import { checkFloat, runWasmKernel, type WasmBackendLike } from "./wasm_util.ts";
import { conv2dForwardSimd, geometryOf, heapOffset, simdFor } from "./simd_ops.ts";

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** Attributes of `Conv2D`. */
export interface Conv2DWasmAttrs {
  /** Strides `[sh, sw]` or one number. */
  strides: [number, number] | number;
  /** Padding. */
  pad: Pad;
  /** Layout of `x` and of the result. */
  dataFormat?: "NHWC" | "NCHW";
  /** Dilations `[dh, dw]` or one number. */
  dilations?: [number, number] | number;
  /** Rounding of the output size when `pad` is a number. */
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/**
 * Kernel function of `Conv2D` for the wasm backend: `x` (`[n, h, w, ci]`) and `filter`
 * (`[fh, fw, ci, co]`) give `[n, oh, ow, co]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const y = tf.conv2d(tf.ones([1, 5, 5, 3]) as tf.Tensor4D, tf.ones([3, 3, 3, 8]) as tf.Tensor4D,
 *   1, "valid"); // [1, 3, 3, 8], all 27
 * ```
 */
export const conv2DWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const a = attrs as unknown as Conv2DWasmAttrs;
  const x = checkFloat(inputs.x, 4, "Conv2D: x");
  const filter = checkFloat(inputs.filter, 4, "Conv2D: filter");
  const simd = simdFor(be);
  if (simd === undefined || (a.dataFormat ?? "NHWC") !== "NHWC") {
    return runWasmKernel(be, "Conv2D", { x, filter }, attrs ?? {});
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
  );
  const y = be.makeOutput([...info.outShape], "float32");
  conv2dForwardSimd(
    be,
    simd,
    heapOffset(be, x),
    heapOffset(be, filter),
    heapOffset(be, y),
    geometryOf(info),
  );
  return y;
};

/**
 * Kernel registration record of {@link conv2DWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2DConfig } from "./conv2d.ts";
 * tf.registerKernel(conv2DConfig);
 * ```
 */
export const conv2DConfig: KernelConfig = {
  kernelName: "Conv2D",
  backendName: "wasm",
  kernelFunc: conv2DWasm,
};
