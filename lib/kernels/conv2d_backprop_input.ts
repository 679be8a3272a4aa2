/**
 * `Conv2DBackpropInput` for the wasm backend. Where the engine has relaxed SIMD: `dx =
 * col2im(dy · Wᵀ)` with our kernels (`simd_ops.ts`). Otherwise as a forward convolution (the
 * backend's fast XNNPACK `Conv2D`): with stride 1, `dx = conv2d(dy, W̃)` where `W̃[i, j, o, c] =
 * W[fh−1−i, fw−1−j, c, o]` (the filter rotated by 180° with its channel axes swapped), dilation
 * `d` and explicit padding `(fh−1)·dh − pt` on top, `(fw−1)·dw − pl` on the left. A stride `s > 1`
 * first spreads `dy` out with `s − 1` zeros between neighbours. Paddings that would be negative
 * (explicit pads wider than the filter) fall back to a direct loop.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import {
  checkFloat,
  f32View,
  runWasmKernel,
  sizeOf,
  type WasmBackendLike,
  withShape,
} from "./wasm_util.ts";
import { conv2dBackpropInputSimd, geometryOf, heapOffset, simdFor } from "./simd_ops.ts";

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** Attributes read by {@link conv2DBackpropInputWasm}; `dilations` is an extension (default 1). */
export interface Conv2DBackpropInputWasmAttrs {
  /** Strides `[sh, sw]` or one number for both. */
  strides: [number, number] | number;
  /** Padding of the forward convolution. */
  pad: Pad;
  /** Layout of `dy` and of the result. */
  dataFormat?: "NHWC" | "NCHW";
  /** Rounding of the output size when `pad` is a number. */
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** Shape of the forward convolution's input (the result), `[n, h, w, ci]` (or NCHW). */
  inputShape: [number, number, number, number];
  /** Dilations `[dh, dw]` or one number (tfjs's gradient never passes them; default 1). */
  dilations?: [number, number] | number;
}

/**
 * Direct loop for `dx` (NHWC, `[n, h, w, ci]`) from `dy` (`[n, oh, ow, co]`) and `W`
 * (`[fh, fw, ci, co]`); used for geometries the convolution route cannot express.
 *
 * @example
 * ```ts
 * import { conv2dBackpropInputLoop } from "./conv2d_backprop_input.ts";
 * const dx = new Float32Array(4); // x [1, 2, 2, 1], 1x1 filter of weight 2, 'valid'
 * conv2dBackpropInputLoop(Float32Array.of(1, 2, 3, 4), Float32Array.of(2), dx, {
 *   batchSize: 1, inHeight: 2, inWidth: 2, inChannels: 1, outHeight: 2, outWidth: 2,
 *   outChannels: 1, filterHeight: 1, filterWidth: 1, strideHeight: 1, strideWidth: 1,
 *   dilationHeight: 1, dilationWidth: 1, padTop: 0, padLeft: 0,
 * }); // dx = [2, 4, 6, 8]
 * ```
 */
export function conv2dBackpropInputLoop(
  dy: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  g: {
    batchSize: number;
    inHeight: number;
    inWidth: number;
    inChannels: number;
    outHeight: number;
    outWidth: number;
    outChannels: number;
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
  const ci = g.inChannels;
  const co = g.outChannels;
  dx.fill(0);
  for (let b = 0; b < g.batchSize; b++) {
    for (let r = 0; r < g.outHeight; r++) {
      for (let s = 0; s < g.outWidth; s++) {
        const dyOff = ((b * g.outHeight + r) * g.outWidth + s) * co;
        for (let i = 0; i < g.filterHeight; i++) {
          const y = r * g.strideHeight + i * g.dilationHeight - g.padTop;
          if (y < 0 || y >= g.inHeight) continue;
          for (let j = 0; j < g.filterWidth; j++) {
            const x = s * g.strideWidth + j * g.dilationWidth - g.padLeft;
            if (x < 0 || x >= g.inWidth) continue;
            const dxOff = ((b * g.inHeight + y) * g.inWidth + x) * ci;
            const wOff = (i * g.filterWidth + j) * ci * co;
            for (let c = 0; c < ci; c++) {
              let acc = 0;
              const wc = wOff + c * co;
              for (let o = 0; o < co; o++) acc += dy[dyOff + o] * w[wc + o];
              dx[dxOff + c] += acc;
            }
          }
        }
      }
    }
  }
}

/**
 * Kernel function of `Conv2DBackpropInput` for the wasm backend: inputs `dy`
 * (`[n, oh, ow, co]`) and `filter` (`[fh, fw, ci, co]`), output `dx` of shape `inputShape`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const dy = tf.randomNormal([2, 3, 3, 4]) as tf.Tensor4D;
 * const w = tf.randomNormal([3, 3, 5, 4]) as tf.Tensor4D;
 * const dx = tf.conv2dTranspose(dy, w, [2, 5, 5, 5], 1, "valid"); // [2, 5, 5, 5]
 * ```
 */
export const conv2DBackpropInputWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const a = attrs as unknown as Conv2DBackpropInputWasmAttrs;
  const dy0 = checkFloat(inputs.dy, 4, "Conv2DBackpropInput: dy");
  const filter = checkFloat(inputs.filter, 4, "Conv2DBackpropInput: filter");
  const inShape = a.inputShape;
  if (
    !Array.isArray(inShape) || inShape.length !== 4 ||
    inShape.some((d) => !Number.isInteger(d) || d < 1)
  ) {
    throw new Error(`Conv2DBackpropInput: inputShape must be 4 positive integers, got ${inShape}`);
  }
  const dataFormat = a.dataFormat ?? "NHWC";
  if (dataFormat !== "NHWC" && dataFormat !== "NCHW") {
    throw new Error(`Conv2DBackpropInput: dataFormat must be 'NHWC' or 'NCHW', got ${dataFormat}`);
  }
  const nchw = dataFormat === "NCHW";
  const info = tf.backend_util.computeConv2DInfo(
    inShape,
    filter.shape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  const expectDy = nchw
    ? [info.batchSize, info.outChannels, info.outHeight, info.outWidth]
    : [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dy0.shape.some((d, i) => d !== expectDy[i])) {
    throw new Error(
      `Conv2DBackpropInput: dy has shape [${dy0.shape}], expected [${expectDy}] for ` +
        `inputShape [${inShape}] and filter [${filter.shape}]`,
    );
  }
  const temps: TensorInfo[] = [];
  const dy = nchw ? runWasmKernel(be, "Transpose", { x: dy0 }, { perm: [0, 2, 3, 1] }) : dy0;
  if (nchw) temps.push(dy);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  // Geometry of the equivalent stride-1 convolution over the spread-out dy.
  const ohD = (oh - 1) * sh + 1;
  const owD = (ow - 1) * sw + 1;
  const padT = (fh - 1) * dh - info.padInfo.top;
  const padL = (fw - 1) * dw - info.padInfo.left;
  const padB = h - ohD + info.padInfo.top;
  const padR = w - owD + info.padInfo.left;
  const nhwcShape = [n, h, w, ci];
  let dx: TensorInfo;
  const simd = simdFor(be);
  if (simd !== undefined) {
    dx = be.makeOutput(nhwcShape, "float32");
    conv2dBackpropInputSimd(
      be,
      simd,
      heapOffset(be, dy),
      heapOffset(be, filter),
      heapOffset(be, dx),
      geometryOf(info),
    );
  } else if (padT < 0 || padL < 0 || padB < 0 || padR < 0) {
    dx = be.makeOutput(nhwcShape, "float32");
    conv2dBackpropInputLoop(f32View(be, dy), f32View(be, filter), f32View(be, dx), {
      batchSize: n,
      inHeight: h,
      inWidth: w,
      inChannels: ci,
      outHeight: oh,
      outWidth: ow,
      outChannels: co,
      filterHeight: fh,
      filterWidth: fw,
      strideHeight: sh,
      strideWidth: sw,
      dilationHeight: dh,
      dilationWidth: dw,
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
    });
  } else {
    const wt = be.makeOutput([fh, fw, co, ci], "float32");
    temps.push(wt);
    let dyS = dy;
    if (sh > 1 || sw > 1) {
      dyS = be.makeOutput([n, ohD, owD, co], "float32");
      temps.push(dyS);
    }
    // Views after the last allocation.
    const wv = f32View(be, filter);
    const wtv = f32View(be, wt);
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        const src = ((fh - 1 - i) * fw + (fw - 1 - j)) * ci * co;
        const dst = (i * fw + j) * co * ci;
        for (let c = 0; c < ci; c++) {
          for (let o = 0; o < co; o++) wtv[dst + o * ci + c] = wv[src + c * co + o];
        }
      }
    }
    if (dyS !== dy) {
      const src = f32View(be, dy);
      const dst = f32View(be, dyS);
      dst.fill(0);
      for (let b = 0; b < n; b++) {
        for (let r = 0; r < oh; r++) {
          for (let s = 0; s < ow; s++) {
            const from = ((b * oh + r) * ow + s) * co;
            const to = ((b * ohD + r * sh) * owD + s * sw) * co;
            dst.set(src.subarray(from, from + co), to);
          }
        }
      }
    }
    dx = runWasmKernel(be, "Conv2D", { x: dyS, filter: wt }, {
      strides: [1, 1],
      pad: [[0, 0], [padT, padB], [padL, padR], [0, 0]],
      dataFormat: "NHWC",
      dilations: [dh, dw],
      dimRoundingMode: "floor",
    });
    if (dx.shape.some((d, i) => d !== nhwcShape[i])) {
      throw new Error(`Conv2DBackpropInput: internal shape error [${dx.shape}] vs [${nhwcShape}]`);
    }
  }
  if (nchw) {
    const t = runWasmKernel(be, "Transpose", { x: dx }, { perm: [0, 3, 1, 2] });
    be.disposeData(dx.dataId);
    dx = t;
  }
  for (const t of temps) be.disposeData(t.dataId);
  return withShape(be, dx, sizeOf(dx.shape) === sizeOf(inShape) ? [...inShape] : dx.shape);
};

/**
 * Kernel registration record of {@link conv2DBackpropInputWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2DBackpropInputConfig } from "./conv2d_backprop_input.ts";
 * tf.registerKernel(conv2DBackpropInputConfig);
 * ```
 */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: "Conv2DBackpropInput",
  backendName: "wasm",
  kernelFunc: conv2DBackpropInputWasm,
};
