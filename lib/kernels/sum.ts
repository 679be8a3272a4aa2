/**
 * `Sum` for the wasm backend when the reduced axes are the leading ones (the bias gradient of a
 * convolution or dense layer: `[n, h, w, c]` summed to `[c]`). The backend transposes the
 * reduced axes to the end first; a single pass over rows with per-column accumulators avoids
 * the copy (in WebAssembly SIMD when the column count is a multiple of 4). Other reductions go to
 * the backend's own kernel.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";
import { f32View, runWasmKernel, type WasmBackendLike } from "./wasm_util.ts";
import { heapOffset, simdFor, tasksFor } from "./simd_ops.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";

/** Rows summed in float32 before the float64 total takes them. */
const BLOCK = 64;

/**
 * Column sums of a row-major `[rows, cols]` matrix `src` into `dst` (`[cols]`), accumulated in
 * float64.
 *
 * @example
 * ```ts
 * import { sumRows } from "./sum.ts";
 * const dst = new Float32Array(2);
 * sumRows(Float32Array.of(1, 2, 3, 4, 5, 6), dst, 3, 2); // [9, 12]
 * ```
 */
export function sumRows(src: Float32Array, dst: Float32Array, rows: number, cols: number): void {
  if (cols === 1) {
    let acc = 0;
    for (let i = 0; i < rows; i++) acc += src[i];
    dst[0] = acc;
    return;
  }
  const acc = new Float64Array(cols);
  let p = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) acc[j] += src[p++];
  }
  for (let j = 0; j < cols; j++) dst[j] = acc[j];
}

/**
 * Kernel function of `Sum` for the wasm backend (input `x`, attributes `axis`, `keepDims`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const s = tf.sum(tf.ones([4, 3, 2]), [0, 1]); // [2], all 12
 * ```
 */
export const sumWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const x = inputs.x;
  if (x === undefined) throw new Error("Sum: input x is required");
  const rank = x.shape.length;
  const axisAttr = attrs?.axis as number | number[] | undefined;
  const axes = tf.util.parseAxisParam(axisAttr ?? [], x.shape).sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.every((ax, i) => ax === i);
  if (x.dtype !== "float32" || !leading || rank === 0) {
    return runWasmKernel(be, "Sum", { x }, attrs ?? {});
  }
  const k = axes.length;
  let rows = 1;
  for (let i = 0; i < k; i++) rows *= x.shape[i];
  let cols = 1;
  for (let i = k; i < rank; i++) cols *= x.shape[i];
  const keepDims = Boolean(attrs?.keepDims);
  const outShape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const out = be.makeOutput(outShape, "float32");
  const par = simdFor(be) === undefined ? undefined : parallelFor(be);
  if (par !== undefined && cols % 4 === 0 && rows > BLOCK) {
    // SIMD column sums of blocks of rows in float32 (blocks split between the threads), the
    // blocks then added up in float64 in order.
    const blocks = Math.ceil(rows / BLOCK);
    const part = be.makeOutput([blocks * cols], "float32");
    try {
      const src = heapOffset(be, x);
      const dst = heapOffset(be, part);
      const fn = par.fn("colSum");
      par.run(
        splitRange(blocks, tasksFor(par, rows * cols, blocks)).filter(([p, q]) => q > p).map(
          ([b0, b1]) => {
            const p = new Program();
            for (let k = b0; k < b1; k++) {
              const r0 = k * BLOCK;
              p.call(fn, src + r0 * cols * 4, dst + k * cols * 4, Math.min(BLOCK, rows - r0), cols);
            }
            return p;
          },
        ),
      );
      const acc = new Float64Array(cols);
      const pv = f32View(be, part);
      for (let k = 0; k < blocks; k++) {
        for (let j = 0; j < cols; j++) acc[j] += pv[k * cols + j];
      }
      const o = f32View(be, out);
      for (let j = 0; j < cols; j++) o[j] = acc[j];
    } finally {
      be.disposeData(part.dataId);
    }
    return out;
  }
  sumRows(f32View(be, x), f32View(be, out), rows, cols);
  return out;
};

/**
 * Kernel registration record of {@link sumWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { sumConfig } from "./sum.ts";
 * tf.registerKernel(sumConfig);
 * ```
 */
export const sumConfig: KernelConfig = {
  kernelName: "Sum",
  backendName: "wasm",
  kernelFunc: sumWasm,
};
