/**
 * Two forward kernels of a CNN layer for the wasm backend, in WebAssembly SIMD: `MaxPool` for 2×2
 * windows with stride 2 and no padding (tf.layers' default pooling), and `Add` of a per-channel
 * vector to every row (a layer's bias). Every other case goes to the backend's own kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { runWasmKernel, sizeOf, type WasmBackendLike } from "./wasm_util.ts";
import { heapOffset, simdFor, tasksFor } from "./simd_ops.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";
import { addSameShape } from "./elementwise.ts";

/**
 * Kernel function of `MaxPool` for the wasm backend: 2×2/stride-2/unpadded pooling of a float32
 * NHWC tensor with a multiple of 4 channels in SIMD (a window's maximum ignores NaN, as the cpu
 * backend's does), else the backend's own kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const y = tf.maxPool(tf.ones([1, 4, 4, 4]) as tf.Tensor4D, 2, 2, "valid"); // [1, 2, 2, 4]
 * ```
 */
export const maxPoolWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const x = inputs.x;
  if (x === undefined) throw new Error("MaxPool: input x is required");
  const simd = simdFor(be);
  if (simd !== undefined && x.dtype === "float32" && x.shape.length === 4) {
    const a = attrs as unknown as {
      filterSize: [number, number] | number;
      strides: [number, number] | number;
      pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
      dimRoundingMode?: "floor" | "round" | "ceil";
    };
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    if (
      info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 &&
      info.strideWidth === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
      info.outHeight * 2 <= info.inHeight && info.outWidth * 2 <= info.inWidth &&
      info.inChannels % 4 === 0
    ) {
      const y = be.makeOutput([...info.outShape], "float32");
      const par = parallelFor(be);
      if (par === undefined) throw new Error("MaxPool: the SIMD kernels are not available");
      const { batchSize: n, inHeight: h, inWidth: w, inChannels: ch } = info;
      const { outHeight: oh, outWidth: ow } = info;
      const T = tasksFor(par, n * h * w * ch, n);
      const fn = par.fn("maxPool2x2");
      const [xp, yp] = [heapOffset(be, x), heapOffset(be, y)];
      par.run(
        splitRange(n, T).map(([b0, b1]) => {
          const p = new Program();
          if (b1 > b0) {
            p.call(
              fn,
              xp + b0 * h * w * ch * 4,
              yp + b0 * oh * ow * ch * 4,
              b1 - b0,
              h,
              w,
              ch,
              oh,
              ow,
            );
          }
          return p;
        }),
      );
      return y;
    }
  }
  return runWasmKernel(be, "MaxPool", { x }, attrs ?? {});
};

/** The operand that is a vector along the other's last axis, if the pair is such a case. */
function rowVectorCase(a: TensorInfo, b: TensorInfo): [TensorInfo, TensorInfo] | undefined {
  const isRow = (v: TensorInfo, m: TensorInfo) =>
    m.shape.length >= 1 && v.shape.length >= 1 && v.shape.length <= m.shape.length &&
    v.shape[v.shape.length - 1] === m.shape[m.shape.length - 1] &&
    v.shape.slice(0, -1).every((d) => d === 1) && sizeOf(m.shape) > sizeOf(v.shape);
  if (isRow(b, a)) return [a, b];
  if (isRow(a, b)) return [b, a];
  return undefined;
}

/**
 * Kernel function of `Add` for the wasm backend: two float32 tensors of one shape, or a float32
 * tensor plus a vector along its last axis (a bias; channels a multiple of 4), in SIMD on the
 * kernel threads; else the backend's own kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const y = tf.add(tf.zeros([2, 4]), tf.tensor1d([1, 2, 3, 4])); // [[1, 2, 3, 4], [1, 2, 3, 4]]
 * ```
 */
export const addWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const { a, b } = inputs;
  if (a === undefined || b === undefined) throw new Error("Add: inputs a and b are required");
  const par = simdFor(be) === undefined ? undefined : parallelFor(be);
  if (par !== undefined && a.dtype === "float32" && b.dtype === "float32") {
    const same = addSameShape(be, a, b);
    if (same !== undefined) return same;
    const pair = rowVectorCase(a, b);
    if (pair !== undefined) {
      const [m, v] = pair;
      const cols = m.shape[m.shape.length - 1];
      if (cols % 4 === 0) {
        const out = be.makeOutput([...m.shape], "float32");
        const rows = sizeOf(m.shape) / cols;
        const [mp, vp, op] = [heapOffset(be, m), heapOffset(be, v), heapOffset(be, out)];
        const fn = par.fn("addRow");
        // Rows split between the threads.
        par.run(
          splitRange(rows, tasksFor(par, rows * cols, Math.ceil(rows * cols / 16384)))
            .filter(([r0, r1]) => r1 > r0).map(([r0, r1]) =>
              new Program().call(fn, mp + r0 * cols * 4, vp, op + r0 * cols * 4, r1 - r0, cols)
            ),
        );
        return out;
      }
    }
  }
  return runWasmKernel(be, "Add", { a, b }, attrs ?? {});
};

/**
 * Kernel registration record of {@link maxPoolWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maxPoolConfig } from "./pool_add.ts";
 * tf.registerKernel(maxPoolConfig);
 * ```
 */
export const maxPoolConfig: KernelConfig = {
  kernelName: "MaxPool",
  backendName: "wasm",
  kernelFunc: maxPoolWasm,
};

/**
 * Kernel registration record of {@link addWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { addConfig } from "./pool_add.ts";
 * tf.registerKernel(addConfig);
 * ```
 */
export const addConfig: KernelConfig = {
  kernelName: "Add",
  backendName: "wasm",
  kernelFunc: addWasm,
};
