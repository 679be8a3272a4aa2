/**
 * `MaxPoolGrad` for the wasm backend in one pass: for every pooling window the position of the
 * first maximum of `x` (row-major order inside the window, as the `cpu` backend picks it) gets
 * the window's `dy`; windows that overlap add up. Four channels at a time in WebAssembly SIMD
 * where the channel count allows, else a JavaScript loop.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";
import { checkFloat, f32View, type WasmBackendLike } from "./wasm_util.ts";
import { heapOffset, simdFor, tasksFor } from "./simd_ops.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** Attributes of `MaxPoolGrad`. */
export interface MaxPoolGradWasmAttrs {
  /** Window size `[fh, fw]` or one number. */
  filterSize: [number, number] | number;
  /** Strides `[sh, sw]` or one number. */
  strides: [number, number] | number;
  /** Padding of the forward pooling. */
  pad: Pad;
  /** Rounding of the output size when `pad` is a number. */
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/**
 * Scatters `dy` (`[n, oh, ow, c]`) to the first arg-max of each window of `x` (`[n, h, w, c]`),
 * writing `dx` (`[n, h, w, c]`, overwritten).
 *
 * @example
 * ```ts
 * import { maxPoolGradLoop } from "./max_pool_grad.ts";
 * const dx = new Float32Array(4);
 * // x [1, 2, 2, 1] = [1, 5, 5, 2], 2x2 window: the first 5 takes the gradient
 * maxPoolGradLoop(Float32Array.of(1, 5, 5, 2), Float32Array.of(7), dx, {
 *   batchSize: 1, inHeight: 2, inWidth: 2, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0,
 * }); // dx = [0, 7, 0, 0]
 * ```
 */
export function maxPoolGradLoop(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  g: {
    batchSize: number;
    inHeight: number;
    inWidth: number;
    channels: number;
    outHeight: number;
    outWidth: number;
    filterHeight: number;
    filterWidth: number;
    strideHeight: number;
    strideWidth: number;
    padTop: number;
    padLeft: number;
  },
): void {
  const { inHeight: h, inWidth: w, channels: c, outHeight: oh, outWidth: ow } = g;
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  dx.fill(0);
  for (let b = 0; b < g.batchSize; b++) {
    const xb = b * h * w * c;
    for (let r = 0; r < oh; r++) {
      const y0 = r * g.strideHeight - g.padTop;
      const yLo = Math.max(0, y0);
      const yHi = Math.min(h, y0 + g.filterHeight);
      for (let s = 0; s < ow; s++) {
        const x0 = s * g.strideWidth - g.padLeft;
        const xLo = Math.max(0, x0);
        const xHi = Math.min(w, x0 + g.filterWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let y = yLo; y < yHi; y++) {
          for (let xx = xLo; xx < xHi; xx++) {
            const p = xb + (y * w + xx) * c;
            for (let k = 0; k < c; k++) {
              const v = x[p + k];
              if (v > best[k]) {
                best[k] = v;
                where[k] = p + k;
              }
            }
          }
        }
        const q = ((b * oh + r) * ow + s) * c;
        for (let k = 0; k < c; k++) {
          const at = where[k];
          if (at >= 0) dx[at] += dy[q + k];
        }
      }
    }
  }
}

/**
 * Kernel function of `MaxPoolGrad` for the wasm backend: inputs `dy` (`[n, oh, ow, c]`),
 * `input` (`[n, h, w, c]`) and `output` (unused), output `dx` (`[n, h, w, c]`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const x = tf.randomNormal([1, 4, 4, 3]) as tf.Tensor4D;
 * const g = tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 2, 2, "valid").sum())(x);
 * // g: [1, 4, 4, 3]
 * ```
 */
export const maxPoolGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const a = attrs as unknown as MaxPoolGradWasmAttrs;
  const dy = checkFloat(inputs.dy, 4, "MaxPoolGrad: dy");
  const x = checkFloat(inputs.input, 4, "MaxPoolGrad: input");
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const expectDy = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dy.shape.some((d, i) => d !== expectDy[i])) {
    throw new Error(
      `MaxPoolGrad: dy has shape [${dy.shape}], expected [${expectDy}] for input [${x.shape}]`,
    );
  }
  const dx = be.makeOutput([...x.shape], "float32");
  const simd = simdFor(be);
  const twoByTwo = info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 &&
    info.strideWidth === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
    info.outHeight * 2 <= info.inHeight && info.outWidth * 2 <= info.inWidth;
  const par = simd === undefined ? undefined : parallelFor(be);
  if (par !== undefined && info.inChannels % 4 === 0) {
    // Images split between the threads (windows never cross images).
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ch } = info;
    const { outHeight: oh, outWidth: ow } = info;
    const T = tasksFor(par, n * h * w * ch, n);
    const fn = par.fn(twoByTwo ? "maxPoolGrad2x2" : "maxPoolGrad");
    const [xp, dyp, dxp] = [heapOffset(be, x), heapOffset(be, dy), heapOffset(be, dx)];
    const xImage = h * w * ch * 4;
    const dyImage = oh * ow * ch * 4;
    par.run(
      splitRange(n, T).map(([b0, b1]) => {
        const p = new Program();
        if (b1 === b0) return p;
        const at = [
          xp + b0 * xImage,
          dyp + b0 * dyImage,
          dxp + b0 * xImage,
          b1 - b0,
          h,
          w,
          ch,
          oh,
          ow,
        ];
        if (twoByTwo) p.call(fn, ...at);
        else {
          p.call(
            fn,
            ...at,
            info.filterHeight,
            info.filterWidth,
            info.strideHeight,
            info.strideWidth,
            info.padInfo.top,
            info.padInfo.left,
          );
        }
        return p;
      }),
    );
    return dx;
  }
  maxPoolGradLoop(f32View(be, x), f32View(be, dy), f32View(be, dx), {
    batchSize: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    channels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  });
  return dx;
};

/**
 * Kernel registration record of {@link maxPoolGradWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maxPoolGradConfig } from "./max_pool_grad.ts";
 * tf.registerKernel(maxPoolGradConfig);
 * ```
 */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: "MaxPoolGrad",
  backendName: "wasm",
  kernelFunc: maxPoolGradWasm,
};
