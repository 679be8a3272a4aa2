/**
 * Convolution passes on the wasm backend's heap with our SIMD kernels (`simd_module.ts`), in
 * row chunks that stay in cache:
 *
 * - forward: `y = im2col(x) · W` (`[n·oh·ow, fh·fw·ci] · [fh·fw·ci, co]`);
 * - filter gradient: `dW = im2col(x)ᵀ · dy`, accumulated chunk by chunk;
 * - input gradient: `dx = col2im(dy · Wᵀ)` (no multiplications by inserted zeros, any stride).
 *
 * Pointers are byte offsets into the heap; channel counts that are not multiples of 4 go through
 * zero-padded copies (exact, only slower).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { TensorInfo } from "@tensorflow/tfjs";
import { GEMM_MR, type SimdKernels, simdKernels } from "./simd_module.ts";
import type { WasmBackendLike } from "./wasm_util.ts";

/** Geometry of a 2-D convolution over an NHWC batch (all NHWC, filter `[fh, fw, ci, co]`). */
export interface ConvGeometry {
  /** Batch size. */
  n: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Input channels. */
  ci: number;
  /** Output height. */
  oh: number;
  /** Output width. */
  ow: number;
  /** Output channels. */
  co: number;
  /** Filter height. */
  fh: number;
  /** Filter width. */
  fw: number;
  /** Vertical stride. */
  sh: number;
  /** Horizontal stride. */
  sw: number;
  /** Vertical dilation. */
  dh: number;
  /** Horizontal dilation. */
  dw: number;
  /** Padding on top. */
  pt: number;
  /** Padding on the left. */
  pl: number;
}

/**
 * The {@link ConvGeometry} of a tfjs convolution description (as from
 * `tf.backend_util.computeConv2DInfo`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { geometryOf } from "./simd_ops.ts";
 * const info = tf.backend_util.computeConv2DInfo([1, 5, 5, 2], [3, 3, 2, 4], 1, 1, "same");
 * geometryOf(info).pt; // 1
 * ```
 */
export function geometryOf(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    co: info.outChannels,
    fh: info.filterHeight,
    fw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * Our SIMD kernels bound to `backend`'s heap, or `undefined` when the engine lacks relaxed SIMD
 * or the backend does not expose its memory (callers then use the backend's own kernels).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * // after `await tf.setBackend("wasm")`:
 * const k = simdFor(tf.backend() as unknown as WasmBackendLike);
 * console.log(k !== undefined);
 * ```
 */
export function simdFor(backend: WasmBackendLike): SimdKernels | undefined {
  if (disabled) return undefined;
  const memory = backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  return simdKernels(memory);
}

let disabled = false;

/**
 * Turns the SIMD route off (`true`) or on again, e.g. to compare against the fallback route.
 *
 * @example
 * ```ts
 * import { setSimdDisabled } from "./simd_ops.ts";
 * setSimdDisabled(true); // kernels now use the backend's XNNPACK routes
 * setSimdDisabled(false);
 * ```
 */
export function setSimdDisabled(off: boolean): void {
  disabled = off;
}

/**
 * Byte offset of tensor `t` in the heap.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { heapOffset } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * const at = heapOffset(tf.backend() as unknown as WasmBackendLike, tf.zeros([2]));
 * ```
 */
export function heapOffset(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (d === undefined) throw new Error("heapOffset: tensor is not on the wasm backend");
  return d.memoryOffset;
}

const F = 4; // bytes per float
const ceil4 = (v: number) => (v + 3) & ~3;

/** Temporary heap buffers of one kernel call, released together. */
class Scratch {
  private readonly infos: TensorInfo[] = [];
  constructor(private readonly be: WasmBackendLike) {}
  /** Allocates `floats` floats; returns the tensor info (offset via {@link heapOffset}). */
  alloc(floats: number): TensorInfo {
    const t = this.be.makeOutput([Math.max(1, floats)], "float32");
    this.infos.push(t);
    return t;
  }
  /** Releases everything. */
  free(): void {
    for (const t of this.infos) this.be.disposeData(t.dataId);
    this.infos.length = 0;
  }
}

function heapF32(be: WasmBackendLike, byteOffset: number, floats: number): Float32Array {
  return new Float32Array(be.wasm.HEAPU8.buffer, byteOffset, floats);
}

/** Copies `rows` rows of `cols` floats between row strides (in floats). */
function copyRows(
  be: WasmBackendLike,
  src: number,
  srcStride: number,
  dst: number,
  dstStride: number,
  rows: number,
  cols: number,
  zeroPad = false,
): void {
  const s = heapF32(be, src, (rows - 1) * srcStride + cols);
  const d = heapF32(be, dst, (rows - 1) * dstStride + (zeroPad ? dstStride : cols));
  for (let r = 0; r < rows; r++) {
    d.set(s.subarray(r * srcStride, r * srcStride + cols), r * dstStride);
    if (zeroPad) d.fill(0, r * dstStride + cols, (r + 1) * dstStride);
  }
}

/** Rows per chunk so that a chunk of `floatsPerRow` floats a row stays near `budget` floats. */
function chunkRows(floatsPerRow: number, budget: number, total: number): number {
  const r = Math.max(GEMM_MR, Math.floor(budget / floatsPerRow / GEMM_MR) * GEMM_MR);
  return Math.min(r, Math.max(GEMM_MR, Math.ceil(total / GEMM_MR) * GEMM_MR));
}

/**
 * `gemm` in cache blocks: the inner dimension in chunks of {@link KC} (so that a register tile's
 * strip of `B` stays in L1 across neighbouring tiles), accumulating into `C`; same arguments as
 * {@link SimdKernels.gemm} (`n` a multiple of 4).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gemmBlocked, heapOffset, simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const a = tf.ones([2, 3]);
 * const b = tf.ones([3, 4]);
 * const c = be.makeOutput([2, 4], "float32");
 * gemmBlocked(simdFor(be)!, heapOffset(be, a), 12, 4, 6 * 12, heapOffset(be, b), 16,
 *   heapOffset(be, c), 16, 2, 4, 3, 0); // c = 3 everywhere
 * ```
 */
export function gemmBlocked(
  k: SimdKernels,
  a: number,
  aRow: number,
  aStep: number,
  aBlock: number,
  b: number,
  bStep: number,
  c: number,
  ldc: number,
  m: number,
  n: number,
  kk: number,
  acc: number,
): void {
  if (kk <= KC + KC / 2) {
    k.gemm(a, aRow, aStep, aBlock, b, bStep, c, ldc, m, n, kk, acc);
    return;
  }
  for (let k0 = 0; k0 < kk; k0 += KC) {
    const depth = Math.min(KC, kk - k0);
    k.gemm(
      a + k0 * aStep,
      aRow,
      aStep,
      aBlock,
      b + k0 * bStep,
      bStep,
      c,
      ldc,
      m,
      n,
      depth,
      k0 > 0 ? 1 : acc,
    );
  }
}

/** Inner-dimension chunk of {@link gemmBlocked}. */
export const KC = 256;

/**
 * Forward convolution `y[n·oh·ow, co] = im2col(x) · W` at heap offsets `x`, `w` (`[fh, fw, ci,
 * co]`) and `y` (`[n, oh, ow, co]`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dForwardSimd, heapOffset, simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const x = tf.ones([1, 3, 3, 4]);
 * const w = tf.ones([3, 3, 4, 8]);
 * const y = be.makeOutput([1, 1, 1, 8], "float32");
 * conv2dForwardSimd(be, simdFor(be)!, heapOffset(be, x), heapOffset(be, w), heapOffset(be, y), {
 *   n: 1, h: 3, w: 3, ci: 4, oh: 1, ow: 1, co: 8, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
 *   pt: 0, pl: 0,
 * }); // y = 36 everywhere
 * ```
 */
export function conv2dForwardSimd(
  be: WasmBackendLike,
  k: SimdKernels,
  x: number,
  w: number,
  y: number,
  g: ConvGeometry,
): void {
  const kk = g.fh * g.fw * g.ci;
  const m = g.n * g.oh * g.ow;
  const co4 = ceil4(g.co);
  const rows = chunkRows(kk + co4, 96 * 1024, m);
  const scratch = new Scratch(be);
  try {
    const colsT = scratch.alloc(rows * kk);
    let wp = w;
    let outT: TensorInfo | undefined;
    if (co4 !== g.co) {
      const wT = scratch.alloc(kk * co4);
      outT = scratch.alloc(rows * co4);
      wp = heapOffset(be, wT);
      copyRows(be, w, g.co, wp, co4, kk, g.co, true);
    }
    const cols = heapOffset(be, colsT);
    const out = outT === undefined ? 0 : heapOffset(be, outT);
    for (let r0 = 0; r0 < m; r0 += rows) {
      const nr = Math.min(rows, m - r0);
      k.im2col(
        x,
        g.h,
        g.w,
        g.ci,
        g.oh,
        g.ow,
        g.fh,
        g.fw,
        g.sh,
        g.sw,
        g.dh,
        g.dw,
        g.pt,
        g.pl,
        r0,
        nr,
        cols,
      );
      if (outT === undefined) {
        const c = y + r0 * g.co * F;
        k.gemm(cols, kk * F, F, GEMM_MR * kk * F, wp, g.co * F, c, g.co * F, nr, g.co, kk, 0);
      } else {
        k.gemm(cols, kk * F, F, GEMM_MR * kk * F, wp, co4 * F, out, co4 * F, nr, co4, kk, 0);
        copyRows(be, out, co4, y + r0 * g.co * F, g.co, nr, g.co);
      }
    }
  } finally {
    scratch.free();
  }
}

/**
 * Filter gradient `dW[fh·fw·ci, co] = im2col(x)ᵀ · dy` at heap offsets `x` (`[n, h, w, ci]`),
 * `dy` (`[n, oh, ow, co]`) and `dw` (`[fh, fw, ci, co]`, overwritten).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dBackpropFilterSimd, heapOffset, simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const x = tf.ones([1, 3, 3, 4]);
 * const dy = tf.ones([1, 1, 1, 8]);
 * const dw = be.makeOutput([3, 3, 4, 8], "float32");
 * conv2dBackpropFilterSimd(be, simdFor(be)!, heapOffset(be, x), heapOffset(be, dy),
 *   heapOffset(be, dw), { n: 1, h: 3, w: 3, ci: 4, oh: 1, ow: 1, co: 8, fh: 3, fw: 3,
 *   sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 }); // dw = 1 everywhere
 * ```
 */
export function conv2dBackpropFilterSimd(
  be: WasmBackendLike,
  k: SimdKernels,
  x: number,
  dy: number,
  dw: number,
  g: ConvGeometry,
): void {
  const kk = g.fh * g.fw * g.ci;
  const m = g.n * g.oh * g.ow;
  const co4 = ceil4(g.co);
  const rows = chunkRows(kk + co4, 96 * 1024, m);
  const scratch = new Scratch(be);
  try {
    const colsT = scratch.alloc(rows * kk);
    const padded = co4 !== g.co;
    const dyT = padded ? scratch.alloc(rows * co4) : undefined;
    const dwT = padded ? scratch.alloc(kk * co4) : undefined;
    const cols = heapOffset(be, colsT);
    const dyp = dyT === undefined ? 0 : heapOffset(be, dyT);
    const out = dwT === undefined ? dw : heapOffset(be, dwT);
    if (m === 0) heapF32(be, dw, kk * g.co).fill(0);
    for (let r0 = 0; r0 < m; r0 += rows) {
      const nr = Math.min(rows, m - r0);
      k.im2col(
        x,
        g.h,
        g.w,
        g.ci,
        g.oh,
        g.ow,
        g.fh,
        g.fw,
        g.sh,
        g.sw,
        g.dh,
        g.dw,
        g.pt,
        g.pl,
        r0,
        nr,
        cols,
      );
      let b = dy + r0 * g.co * F;
      if (padded) {
        copyRows(be, b, g.co, dyp, co4, nr, g.co, true);
        b = dyp;
      }
      k.gemm(cols, F, kk * F, GEMM_MR * F, b, co4 * F, out, co4 * F, kk, co4, nr, r0 > 0 ? 1 : 0);
    }
    if (padded) copyRows(be, out, co4, dw, g.co, kk, g.co);
  } finally {
    scratch.free();
  }
}

/**
 * Input gradient `dx = col2im(dy · Wᵀ)` at heap offsets `dy` (`[n, oh, ow, co]`), `w`
 * (`[fh, fw, ci, co]`) and `dx` (`[n, h, w, ci]`, overwritten).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dBackpropInputSimd, heapOffset, simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const dy = tf.ones([1, 1, 1, 8]);
 * const w = tf.ones([3, 3, 4, 8]);
 * const dx = be.makeOutput([1, 3, 3, 4], "float32");
 * conv2dBackpropInputSimd(be, simdFor(be)!, heapOffset(be, dy), heapOffset(be, w),
 *   heapOffset(be, dx), { n: 1, h: 3, w: 3, ci: 4, oh: 1, ow: 1, co: 8, fh: 3, fw: 3,
 *   sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 }); // dx = 8 everywhere
 * ```
 */
export function conv2dBackpropInputSimd(
  be: WasmBackendLike,
  k: SimdKernels,
  dy: number,
  w: number,
  dx: number,
  g: ConvGeometry,
): void {
  const kk = g.fh * g.fw * g.ci;
  const kk4 = ceil4(kk);
  const m = g.n * g.oh * g.ow;
  const rows = chunkRows(kk4 + g.co, 96 * 1024, m);
  const scratch = new Scratch(be);
  try {
    const wtT = scratch.alloc(g.co * kk4); // Wᵀ: [co, kk4]
    const colsT = scratch.alloc(rows * kk4);
    const wt = heapOffset(be, wtT);
    const cols = heapOffset(be, colsT);
    // Views after the last allocation.
    const src = heapF32(be, w, kk * g.co);
    const dst = heapF32(be, wt, g.co * kk4);
    dst.fill(0);
    for (let p = 0; p < kk; p++) {
      for (let o = 0; o < g.co; o++) dst[o * kk4 + p] = src[p * g.co + o];
    }
    heapF32(be, dx, g.n * g.h * g.w * g.ci).fill(0);
    for (let r0 = 0; r0 < m; r0 += rows) {
      const nr = Math.min(rows, m - r0);
      const a = dy + r0 * g.co * F;
      k.gemm(a, g.co * F, F, GEMM_MR * g.co * F, wt, kk4 * F, cols, kk4 * F, nr, kk4, g.co, 0);
      k.col2im(
        dx,
        g.h,
        g.w,
        g.ci,
        g.oh,
        g.ow,
        g.fh,
        g.fw,
        g.sh,
        g.sw,
        g.dh,
        g.dw,
        g.pt,
        g.pl,
        r0,
        nr,
        cols,
        kk4 * F,
      );
    }
  } finally {
    scratch.free();
  }
}
