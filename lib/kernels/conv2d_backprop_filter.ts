/**
 * `Conv2DBackpropFilter` for the wasm backend (missing from tfjs-backend-wasm 4.22, tfjs issue
 * #8474): the filter gradient of a 2-D convolution,
 * `dW[i, j, c, o] = Σ_{b, r, s} x[b, r·sh + i·dh − pt, s·sw + j·dw − pl, c] · dy[b, r, s, o]`,
 * computed as the matrix product `im2col(x)ᵀ · dy` (`[fh·fw·ci, n·oh·ow] · [n·oh·ow, co]`):
 * with our SIMD kernels (`simd_ops.ts`) where the engine has relaxed SIMD, else with the transposed
 * im2col matrix built here and the backend's own (XNNPACK) matrix multiplication.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";
import {
  checkFloat,
  f32View,
  reshapeInfo,
  runWasmKernel,
  type WasmBackendLike,
  withShape,
} from "./wasm_util.ts";
import { conv2dBackpropFilterSimd, geometryOf, heapOffset, simdFor } from "./simd_ops.ts";

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** Attributes read by {@link conv2DBackpropFilterWasm}; `dilations` is an extension (default 1). */
export interface Conv2DBackpropFilterWasmAttrs {
  /** Strides `[sh, sw]` or one number for both. */
  strides: [number, number] | number;
  /** Padding: 'same', 'valid', a number for all sides, or explicit `[[0,0],[t,b],[l,r],[0,0]]`. */
  pad: Pad;
  /** Layout of `x` and `dy`. */
  dataFormat?: "NHWC" | "NCHW";
  /** Rounding of the output size when `pad` is a number. */
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** Shape of the filter, `[fh, fw, ci, co]`. */
  filterShape: [number, number, number, number];
  /** Dilations `[dh, dw]` or one number (tfjs's gradient never passes them; default 1). */
  dilations?: [number, number] | number;
}

/**
 * Fills `colsT` (`[fh·fw·ci, n·oh·ow]`, row-major) with the transposed im2col matrix of the
 * NHWC input `x` (`[n, h, w, ci]`); taps that fall into the padding get 0.
 *
 * @example
 * ```ts
 * import { im2colTransposed } from "./conv2d_backprop_filter.ts";
 * const x = Float32Array.from([1, 2, 3, 4]); // [1, 2, 2, 1]
 * const cols = new Float32Array(4 * 1); // 2x2 filter, 'valid' -> one output pixel
 * im2colTransposed(x, cols, {
 *   batchSize: 1, inHeight: 2, inWidth: 2, inChannels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1,
 *   dilationHeight: 1, dilationWidth: 1, padTop: 0, padLeft: 0,
 * });
 * // cols = [1, 2, 3, 4]
 * ```
 */
export function im2colTransposed(
  x: Float32Array,
  colsT: Float32Array,
  g: {
    batchSize: number;
    inHeight: number;
    inWidth: number;
    inChannels: number;
    outHeight: number;
    outWidth: number;
    filterHeight: number;
    filterWidth: number;
    strideHeight: number;
    strideWidth: number;
    dilationHeight: number;
    dilationWidth: number;
    padTop: number;
    padLeft: number;
  },
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = g;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = g;
  const m = batchSize * outHeight * outWidth;
  const xRow = inWidth * inChannels;
  const xBatch = inHeight * xRow;
  const xCol = sw * inChannels;
  for (let i = 0; i < g.filterHeight; i++) {
    const rowOff = i * dh - g.padTop; // input row = r*sh + rowOff
    const rMin = Math.max(0, Math.ceil(-rowOff / sh));
    const rMax = Math.min(outHeight, Math.ceil((inHeight - rowOff) / sh));
    for (let j = 0; j < g.filterWidth; j++) {
      const colOff = j * dw - g.padLeft;
      const sMin = Math.min(outWidth, Math.max(0, Math.ceil(-colOff / sw)));
      const sMax = Math.max(sMin, Math.min(outWidth, Math.ceil((inWidth - colOff) / sw)));
      for (let c = 0; c < inChannels; c++) {
        const k = (i * g.filterWidth + j) * inChannels + c;
        const base = k * m;
        for (let b = 0; b < batchSize; b++) {
          for (let r = 0; r < outHeight; r++) {
            const o = base + (b * outHeight + r) * outWidth;
            if (r < rMin || r >= rMax) {
              colsT.fill(0, o, o + outWidth);
              continue;
            }
            if (sMin > 0) colsT.fill(0, o, o + sMin);
            let xi = b * xBatch + (r * sh + rowOff) * xRow + (sMin * sw + colOff) * inChannels + c;
            for (let s = sMin; s < sMax; s++) {
              colsT[o + s] = x[xi];
              xi += xCol;
            }
            if (sMax < outWidth) colsT.fill(0, o + sMax, o + outWidth);
          }
        }
      }
    }
  }
}

/**
 * Kernel function of `Conv2DBackpropFilter` for the wasm backend: inputs `x` (`[n, h, w, ci]`,
 * or NCHW) and `dy` (`[n, oh, ow, co]`), output `dW` (`[fh, fw, ci, co]`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const x = tf.randomNormal([2, 5, 5, 3]) as tf.Tensor4D;
 * const dy = tf.randomNormal([2, 3, 3, 4]) as tf.Tensor4D;
 * const dW = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
 *   strides: 1,
 *   pad: "valid",
 *   dataFormat: "NHWC",
 *   filterShape: [3, 3, 3, 4],
 * }) as tf.Tensor4D; // [3, 3, 3, 4]
 * ```
 */
export const conv2DBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const a = attrs as unknown as Conv2DBackpropFilterWasmAttrs;
  const x0 = checkFloat(inputs.x, 4, "Conv2DBackpropFilter: x");
  const dy0 = checkFloat(inputs.dy, 4, "Conv2DBackpropFilter: dy");
  const fs = a.filterShape;
  if (!Array.isArray(fs) || fs.length !== 4 || fs.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`Conv2DBackpropFilter: filterShape must be 4 positive integers, got ${fs}`);
  }
  const dataFormat = a.dataFormat ?? "NHWC";
  if (dataFormat !== "NHWC" && dataFormat !== "NCHW") {
    throw new Error(`Conv2DBackpropFilter: dataFormat must be 'NHWC' or 'NCHW', got ${dataFormat}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x0.shape as [number, number, number, number],
    fs,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  const nchw = dataFormat === "NCHW";
  const expectDy = nchw
    ? [info.batchSize, info.outChannels, info.outHeight, info.outWidth]
    : [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dy0.shape.some((d, i) => d !== expectDy[i])) {
    throw new Error(
      `Conv2DBackpropFilter: dy has shape [${dy0.shape}], expected [${expectDy}] for x ` +
        `[${x0.shape}] and filterShape [${fs}]`,
    );
  }
  const temps: TensorInfo[] = [];
  let x = x0;
  let dy = dy0;
  if (nchw) {
    x = runWasmKernel(be, "Transpose", { x: x0 }, { perm: [0, 2, 3, 1] });
    dy = runWasmKernel(be, "Transpose", { x: dy0 }, { perm: [0, 2, 3, 1] });
    temps.push(x, dy);
  }
  const simd = simdFor(be);
  if (simd !== undefined) {
    const dw = be.makeOutput([...fs], "float32");
    conv2dBackpropFilterSimd(
      be,
      simd,
      heapOffset(be, x),
      heapOffset(be, dy),
      heapOffset(be, dw),
      geometryOf(info),
    );
    for (const t of temps) be.disposeData(t.dataId);
    return dw;
  }
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const colsT = be.makeOutput([1, k, m], "float32");
  temps.push(colsT);
  // Views after the last allocation (makeOutput may grow and detach the heap).
  im2colTransposed(f32View(be, x), f32View(be, colsT), {
    batchSize: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  });
  const dy2 = reshapeInfo(be, dy, [1, m, info.outChannels]);
  temps.push(dy2);
  const prod = runWasmKernel(be, "BatchMatMul", { a: colsT, b: dy2 }, {
    transposeA: false,
    transposeB: false,
  } as NamedAttrMap);
  for (const t of temps) be.disposeData(t.dataId);
  return withShape(be, prod, [...fs]);
};

/**
 * Kernel registration record of {@link conv2DBackpropFilterWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
 * tf.registerKernel(conv2DBackpropFilterConfig);
 * ```
 */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: "Conv2DBackpropFilter",
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilterWasm,
};
