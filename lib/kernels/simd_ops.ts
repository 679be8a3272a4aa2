/**
 * Convolution passes on the wasm backend's heap with our SIMD kernels (`simd_module.ts`), in
 * row chunks that stay in cache:
 *
 * - forward: `y = im2col(x) · W` (`[n·oh·ow, fh·fw·ci] · [fh·fw·ci, co]`), rows split between
 *   the threads;
 * - filter gradient: `dW = im2col(x)ᵀ · dy`, the rows `n·oh·ow` cut into a number of parts that
 *   depends on the shape only, each part's product accumulated chunk by chunk, the parts then
 *   added in a fixed order (the same numbers whatever the thread count);
 * - input gradient: `dx = col2im(dy · Wᵀ)` (no multiplications by inserted zeros, any stride),
 *   images split between the threads.
 *
 * Pointers are byte offsets into the heap; channel counts that are not multiples of 4 go through
 * zero-padded copies (exact, only slower). Work runs on the threads of `parallel.ts`.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { TensorInfo } from "@tensorflow/tfjs";
import { GEMM_MR, type SimdKernels } from "./simd_module.ts";
import type { WasmBackendLike } from "./wasm_util.ts";
import { instanceFor, type Parallel, parallelFor, Program, splitRange } from "./parallel.ts";
import {
  conv2dBackpropFilterWinograd,
  conv2dBackpropInputWinograd,
  conv2dForwardWinograd,
  convAlgorithm,
} from "./winograd.ts";
import {
  conv2dBackpropFilterWinograd4,
  conv2dBackpropInputWinograd4,
  conv2dForwardWinograd4,
} from "./winograd4.ts";

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
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const k = simdFor(tf.backend() as unknown as WasmBackendLike);
 * console.log(k !== undefined);
 * ```
 */
export function simdFor(backend: WasmBackendLike): SimdKernels | undefined {
  if (disabled) return undefined;
  const memory = backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  return instanceFor(memory)?.kernels;
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
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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

/**
 * What a fused layer applies to a product's outputs as they are written: `+ bias[c]` (the byte
 * offset of a `[co]` vector on the heap; 0: none), then Relu if `relu`.
 */
export interface Epilogue {
  /** Byte offset of the bias vector, or 0 for none. */
  bias: number;
  /** Apply Relu (NaN stays NaN). */
  relu: boolean;
}

/** No bias, no activation. */
export const NO_EPILOGUE: Epilogue = { bias: 0, relu: false };

/** Temporary heap buffers of one kernel call, released together. */
export class Scratch {
  private readonly infos: TensorInfo[] = [];
  /** @param be the backend whose heap the buffers live on */
  constructor(private readonly be: WasmBackendLike) {}
  /** Allocates `floats` floats; returns the byte offset (valid until {@link Scratch.free}). */
  alloc(floats: number): number {
    const t = this.be.makeOutput([Math.max(1, floats)], "float32");
    this.infos.push(t);
    return heapOffset(this.be, t);
  }
  /** Releases everything. */
  free(): void {
    for (const t of this.infos) this.be.disposeData(t.dataId);
    this.infos.length = 0;
  }
}

/** Rows per chunk so that a chunk of `floatsPerRow` floats a row stays near `budget` floats. */
function chunkRows(floatsPerRow: number, budget: number, total: number): number {
  const r = Math.max(GEMM_MR, Math.floor(budget / floatsPerRow / GEMM_MR) * GEMM_MR);
  return Math.min(r, Math.max(GEMM_MR, Math.ceil(total / GEMM_MR) * GEMM_MR));
}

/** Default of {@link setParallelThreshold}: 2¹⁸ multiply-adds (or elements), about 10 µs. */
export const PARALLEL_MIN_WORK = 1 << 18;

let minWork = PARALLEL_MIN_WORK;

/**
 * Sets the work (multiply-adds, or elements for memory-bound kernels) below which a kernel stays
 * on one thread (waking a thread costs some microseconds); 0 splits every kernel, which the
 * tests use to exercise the splits on small shapes. Returns the previous value.
 *
 * @example
 * ```ts
 * import { setParallelThreshold } from "./simd_ops.ts";
 * const old = setParallelThreshold(0);
 * setParallelThreshold(old);
 * ```
 */
export function setParallelThreshold(work: number): number {
  if (!Number.isFinite(work) || work < 0) {
    throw new RangeError(`setParallelThreshold: expected a non-negative number, got ${work}`);
  }
  const old = minWork;
  minWork = work;
  return old;
}

/**
 * Threads worth using for `work` multiply-adds (or elements).
 *
 * @example
 * ```ts
 * import { threadsFor } from "./simd_ops.ts";
 * threadsFor({ threads: 2, fn: () => 0, run: () => {} }, 1e9); // 2
 * ```
 */
export function threadsFor(par: Parallel, work: number): number {
  return work < minWork ? 1 : par.threads;
}

/** Tasks a thread gets on average when a kernel splits its work (for balance under load). */
export const TASKS_PER_THREAD = 4;

/**
 * How many tasks to cut `work` into: 1 when it stays on one thread (see {@link threadsFor}),
 * else {@link TASKS_PER_THREAD} per thread, at most `units` (the indivisible pieces).
 *
 * @example
 * ```ts
 * import { tasksFor } from "./simd_ops.ts";
 * tasksFor({ threads: 2, fn: () => 0, run: () => {} }, 1e9, 100); // 8
 * ```
 */
export function tasksFor(par: Parallel, work: number, units: number): number {
  const t = threadsFor(par, work);
  return Math.max(1, Math.min(units, t === 1 ? 1 : t * TASKS_PER_THREAD));
}

/**
 * Appends to `p` the calls of `gemm` in cache blocks: the inner dimension in chunks of {@link KC}
 * (so that a register tile's strip of `B` stays in L1 across neighbouring tiles), accumulating
 * into `C`; same arguments as {@link SimdKernels.gemm} (`n` a multiple of 4).
 *
 * @example
 * ```ts
 * import { gemmCalls } from "./simd_ops.ts";
 * import { Program } from "./parallel.ts";
 * const p = new Program();
 * gemmCalls(p, 0, 1024, 12, 4, 72, 2048, 16, 4096, 16, 2, 4, 3, 0);
 * console.log(p.length); // 1
 * ```
 */
export function gemmCalls(
  p: Program,
  gemm: number,
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
  epilogue?: { gemmEpi: number; bias: number; relu: boolean },
): void {
  if (m === 0 || n === 0) return;
  const blocks: [number, number][] = [];
  if (kk <= KC + KC / 2) blocks.push([0, kk]);
  else for (let k0 = 0; k0 < kk; k0 += KC) blocks.push([k0, Math.min(KC, kk - k0)]);
  blocks.forEach(([k0, depth], i) => {
    const args = [a + k0 * aStep, aRow, aStep, aBlock, b + k0 * bStep, bStep, c, ldc, m, n];
    const accumulate = k0 > 0 ? 1 : acc;
    // The epilogue with the last block of the inner dimension.
    if (epilogue !== undefined && i === blocks.length - 1) {
      p.call(epilogue.gemmEpi, ...args, depth, accumulate, epilogue.bias, +epilogue.relu);
    } else p.call(gemm, ...args, depth, accumulate);
  });
}

/**
 * `C (+)= A·B` as {@link gemmCalls}, its rows split between the threads of `par` (in multiples of
 * the register tile's rows; each row's sums are the same whatever the split), with the
 * `epilogue` (bias, Relu) applied as the tiles are stored.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gemmParallel, heapOffset } from "./simd_ops.ts";
 * import { parallelFor } from "./parallel.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const a = tf.ones([2, 3]);
 * const b = tf.ones([3, 4]);
 * const c = be.makeOutput([2, 4], "float32");
 * gemmParallel(parallelFor(be)!, heapOffset(be, a), 12, 4, 6 * 12, heapOffset(be, b), 16,
 *   heapOffset(be, c), 16, 2, 4, 3, 0); // c = 3 everywhere
 * ```
 */
export function gemmParallel(
  par: Parallel,
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
  { bias, relu }: Epilogue = NO_EPILOGUE,
): void {
  const tasks = tasksFor(par, m * n * kk, Math.ceil(m / GEMM_MR));
  const gemm = par.fn("gemm");
  const epilogue = bias !== 0 || relu ? { gemmEpi: par.fn("gemmEpi"), bias, relu } : undefined;
  par.run(
    splitRange(m, tasks, GEMM_MR).filter(([r0, r1]) => r1 > r0).map(([r0, r1]) => {
      const p = new Program();
      const blocks = r0 / GEMM_MR;
      gemmCalls(
        p,
        gemm,
        a + blocks * aBlock,
        aRow,
        aStep,
        aBlock,
        b,
        bStep,
        c + r0 * ldc,
        ldc,
        r1 - r0,
        n,
        kk,
        acc,
        epilogue,
      );
      return p;
    }),
  );
}

/**
 * `gemm` in cache blocks on the calling thread (see {@link gemmCalls}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gemmBlocked, heapOffset, simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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

function parOf(be: WasmBackendLike): Parallel {
  const par = parallelFor(be);
  if (par === undefined) throw new Error("simd_ops: the SIMD kernels are not available");
  return par;
}

/** The im2col call of rows `r0 .. r0+nr−1` of geometry `g` into the thread's scratch at `dst`. */
function im2colCall(
  p: Program,
  fn: number,
  x: number,
  g: ConvGeometry,
  r0: number,
  nr: number,
  dst: number,
): void {
  const { h, w, ci, oh, ow, fh, fw, sh, sw, dh, dw, pt, pl } = g;
  p.callScratch(fn, 1 << 16, x, h, w, ci, oh, ow, fh, fw, sh, sw, dh, dw, pt, pl, r0, nr, dst);
}

/**
 * Whether the first-layer kernels of `simd_conv1.ts` apply: one input channel, a 3×3 filter,
 * stride 1, no padding, output channels a multiple of 4.
 */
function firstLayerDirect(g: ConvGeometry): boolean {
  return g.ci === 1 && g.fh === 3 && g.fw === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 &&
    g.dw === 1 && g.pt === 0 && g.pl === 0 && g.co % 4 === 0 && g.oh === g.h - 2 &&
    g.ow === g.w - 2;
}

/** Bytes after an im2col chunk that the one-channel copy may overwrite (`im2col1`). */
const IM2COL_SLACK = 16;

/** The im2col function for `ci` channels: scalar copies below 4 channels, else vectors. */
function im2colFn(par: Parallel, ci: number): number {
  return par.fn(ci < 4 ? `im2col${ci}` : "im2col");
}

/**
 * Forward convolution `y[n·oh·ow, co] = im2col(x) · W` at heap offsets `x`, `w` (`[fh, fw, ci,
 * co]`) and `y` (`[n, oh, ow, co]`) (or by Winograd where {@link convAlgorithm} says so), then the
 * `epilogue` (bias, Relu) on each chunk of outputs while it is in cache.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dForwardSimd, heapOffset, simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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
  epilogue: Epilogue = NO_EPILOGUE,
): void {
  const algorithm = convAlgorithm("forward", g);
  if (algorithm === "winograd4") return conv2dForwardWinograd4(be, x, w, y, g, epilogue);
  if (algorithm === "winograd") return conv2dForwardWinograd(be, x, w, y, g, epilogue);
  const { bias, relu } = epilogue;
  const fused = bias !== 0 || relu;
  if (firstLayerDirect(g)) {
    // One input channel, 3×3, valid: tiles read the image directly (no im2col copy).
    const par = parOf(be);
    const rows = g.n * g.oh;
    const fn = par.fn("conv1x3x3");
    par.run(
      splitRange(rows, tasksFor(par, rows * g.ow * 9 * g.co, rows)).filter(([a, b]) => b > a)
        .map(([a, b]) =>
          new Program().call(fn, x, w, y, g.h, g.w, g.oh, g.ow, g.co, a, b - a, bias, +relu)
        ),
    );
    return;
  }
  const par = parOf(be);
  const kk = g.fh * g.fw * g.ci;
  const m = g.n * g.oh * g.ow;
  const co4 = ceil4(g.co);
  const padded = co4 !== g.co;
  const tasks = tasksFor(par, m * kk * g.co, Math.ceil(m / GEMM_MR));
  const rows = chunkRows(kk + co4, 96 * 1024, Math.ceil(m / tasks));
  // Per thread: the im2col chunk, then (padded) the product chunk.
  const colsAt = 0;
  const outAt = rows * kk * F + IM2COL_SLACK;
  const perThread = outAt + (padded ? rows * co4 * F : 0);
  const scratch = new Scratch(be);
  try {
    const area = scratch.alloc(par.threads * perThread / F);
    let wp = w;
    if (padded) {
      wp = scratch.alloc(kk * co4);
      k.copy2d(w, g.co * F, wp, co4 * F, kk, g.co * F, (co4 - g.co) * F);
    }
    const [im2col, gemm, copy2d] = [im2colFn(par, g.ci), par.fn("gemm"), par.fn("copy2d")];
    const [biasAct, gemmEpi] = [par.fn("biasAct"), par.fn("gemmEpi")];
    par.run(
      splitRange(m, tasks, GEMM_MR).filter(([a, b]) => b > a).map(([a, b]) => {
        const p = new Program();
        for (let r0 = a; r0 < b; r0 += rows) {
          const nr = Math.min(rows, b - r0);
          im2colCall(p, im2col, x, g, r0, nr, colsAt);
          if (!padded) {
            // The epilogue (if any) as the tiles are stored.
            const c = y + r0 * g.co * F;
            const args = [colsAt, kk * F, F, GEMM_MR * kk * F, wp, g.co * F, c, g.co * F, nr];
            if (fused) p.callScratch(gemmEpi, 1, ...args, g.co, kk, 0, bias, +relu);
            else p.callScratch(gemm, 1, ...args, g.co, kk, 0);
          } else {
            p.callScratch(
              gemm,
              0b1000001,
              colsAt,
              kk * F,
              F,
              GEMM_MR * kk * F,
              wp,
              co4 * F,
              outAt,
              co4 * F,
              nr,
              co4,
              kk,
              0,
            );
            p.callScratch(copy2d, 1, outAt, co4 * F, y + r0 * g.co * F, g.co * F, nr, g.co * F, 0);
            // The chunk's outputs are still in cache.
            if (fused) p.call(biasAct, y + r0 * g.co * F, bias, nr, g.co, +relu);
          }
        }
        return p;
      }),
      area,
      perThread,
    );
  } finally {
    scratch.free();
  }
}

/**
 * Parts the rows `n·oh·ow` of a filter gradient (or a Winograd gradient's tiles) are cut into, a
 * power of two up to `maxParts` with at least `minRows` rows a part: a function of the shape only
 * (never of the thread count), so that the order of the additions is fixed.
 *
 * @example
 * ```ts
 * import { reductionParts } from "./simd_ops.ts";
 * reductionParts(15488); // 8
 * reductionParts(100); // 1
 * reductionParts(1152, 64, 8); // 8: Winograd tiles
 * ```
 */
export function reductionParts(rows: number, minRows = 1024, maxParts = 16): number {
  let parts = 1;
  while (parts < maxParts && rows / (parts * 2) >= minRows) parts *= 2;
  return parts;
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
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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
  const algorithm = convAlgorithm("filter", g);
  if (algorithm === "winograd4") return conv2dBackpropFilterWinograd4(be, x, dy, dw, g);
  if (algorithm === "winograd") return conv2dBackpropFilterWinograd(be, x, dy, dw, g);
  const par = parOf(be);
  const kk = g.fh * g.fw * g.ci;
  const m = g.n * g.oh * g.ow;
  const co4 = ceil4(g.co);
  const padded = co4 !== g.co;
  if (m === 0) {
    k.zero(dw, kk * g.co * F);
    return;
  }
  if (firstLayerDirect(g)) {
    // One input channel, 3×3, valid: dW summed in registers straight from the image, over parts
    // of output rows fixed by the shape, added in order.
    const rows = g.n * g.oh;
    const P = reductionParts(m, 1024, 16);
    const size = kk * g.co;
    const scratch = new Scratch(be);
    try {
      const parts = P === 1 ? dw : scratch.alloc(P * size);
      const fn = par.fn("conv1x3x3Filter");
      const tasks = splitRange(rows, P).map(([a, b], part) =>
        new Program().call(
          fn,
          x,
          dy,
          parts + part * size * F,
          g.h,
          g.w,
          g.oh,
          g.ow,
          g.co,
          a,
          b - a,
          0,
        )
      );
      par.run(threadsFor(par, m * size) === 1 ? [joinTasks(tasks)] : tasks);
      if (P > 1) {
        const sumParts = par.fn("sumParts");
        par.run([new Program().call(sumParts, dw, parts, size * F, P, size)]);
      }
    } finally {
      scratch.free();
    }
    return;
  }
  const P = reductionParts(m);
  const rows = chunkRows(kk + co4, 96 * 1024, Math.ceil(m / P));
  const colsAt = 0;
  const dysAt = rows * kk * F + IM2COL_SLACK;
  const perThread = dysAt + (padded ? rows * co4 * F : 0);
  const scratch = new Scratch(be);
  try {
    const area = scratch.alloc(par.threads * perThread / F);
    const size = kk * co4; // floats of one (padded) gradient
    // One part writes straight to the result (unless padded); several go through partials.
    const direct = P === 1 && !padded;
    const parts = direct ? dw : scratch.alloc(P * size);
    const [im2col, gemm, copy2d] = [im2colFn(par, g.ci), par.fn("gemm"), par.fn("copy2d")];
    // One task per part whatever the thread count: the parts fix the order of the additions.
    const tasks = splitRange(m, P).map(([a, b], part) => {
      const p = new Program();
      const out = parts + part * size * F;
      if (a === b) p.call(par.fn("zero"), out, size * F);
      for (let r0 = a; r0 < b; r0 += rows) {
        const nr = Math.min(rows, b - r0);
        im2colCall(p, im2col, x, g, r0, nr, colsAt);
        if (padded) {
          p.callScratch(
            copy2d,
            0b100,
            dy + r0 * g.co * F,
            g.co * F,
            dysAt,
            co4 * F,
            nr,
            g.co * F,
            (co4 - g.co) * F,
          );
          p.callScratch(
            gemm,
            0b10001,
            colsAt,
            F,
            kk * F,
            GEMM_MR * F,
            dysAt,
            co4 * F,
            out,
            co4 * F,
            kk,
            co4,
            nr,
            r0 > a ? 1 : 0,
          );
        } else {
          p.callScratch(
            gemm,
            1,
            colsAt,
            F,
            kk * F,
            GEMM_MR * F,
            dy + r0 * g.co * F,
            co4 * F,
            out,
            co4 * F,
            kk,
            co4,
            nr,
            r0 > a ? 1 : 0,
          );
        }
      }
      return p;
    });
    par.run(
      P === 1 || threadsFor(par, m * kk * g.co) === 1 ? [joinTasks(tasks)] : tasks,
      area,
      perThread,
    );
    if (direct) return;
    // Add the parts in order; the result goes to dw (or to a padded buffer first).
    const sum = padded ? scratch.alloc(size) : dw;
    const sumParts = par.fn("sumParts");
    par.run(
      splitRange(size, tasksFor(par, P * size * 8, Math.ceil(size / 64)), 4)
        .filter(([a, b]) => b > a).map(([a, b]) =>
          new Program().call(sumParts, sum + a * F, parts + a * F, size * F, P, b - a)
        ),
    );
    if (padded) k.copy2d(sum, co4 * F, dw, g.co * F, kk, g.co * F, 0);
  } finally {
    scratch.free();
  }
}

/** One program doing `tasks` in order. */
function joinTasks(tasks: Program[]): Program {
  const p = new Program();
  for (const t of tasks) {
    p.code.push(...t.code);
    p.length += t.length;
  }
  return p;
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
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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
  _k: SimdKernels,
  dy: number,
  w: number,
  dx: number,
  g: ConvGeometry,
): void {
  const algorithm = convAlgorithm("input", g);
  if (algorithm === "winograd4") return conv2dBackpropInputWinograd4(be, dy, w, dx, g);
  if (algorithm === "winograd") return conv2dBackpropInputWinograd(be, dy, w, dx, g);
  const par = parOf(be);
  const kk = g.fh * g.fw * g.ci;
  const kk4 = ceil4(kk);
  const m = g.n * g.oh * g.ow;
  const img = g.oh * g.ow; // rows per image
  const tasks = tasksFor(par, m * kk * g.co, g.n);
  const rows = chunkRows(kk4 + g.co, 96 * 1024, Math.ceil(m / tasks));
  const perThread = rows * kk4 * F;
  const scratch = new Scratch(be);
  try {
    const wt = scratch.alloc(g.co * kk4); // Wᵀ: [co, kk4]
    const area = scratch.alloc(par.threads * perThread / F);
    // Views after the last allocation.
    const src = new Float32Array(be.wasm.HEAPU8.buffer, w, kk * g.co);
    const dst = new Float32Array(be.wasm.HEAPU8.buffer, wt, g.co * kk4);
    dst.fill(0);
    for (let p = 0; p < kk; p++) {
      for (let o = 0; o < g.co; o++) dst[o * kk4 + p] = src[p * g.co + o];
    }
    const [gemm, col2im, zero] = [par.fn("gemm"), par.fn("col2im"), par.fn("zero")];
    const imageBytes = g.h * g.w * g.ci * F;
    // Images split between tasks: col2im adds only within an image, in row order.
    par.run(
      splitRange(g.n, tasks).filter(([b0, b1]) => b1 > b0).map(([b0, b1]) => {
        const p = new Program();
        p.call(zero, dx + b0 * imageBytes, (b1 - b0) * imageBytes);
        const end = b1 * img;
        for (let r0 = b0 * img; r0 < end; r0 += rows) {
          const nr = Math.min(rows, end - r0);
          const a = dy + r0 * g.co * F;
          p.callScratch(
            gemm,
            1 << 6,
            a,
            g.co * F,
            F,
            GEMM_MR * g.co * F,
            wt,
            kk4 * F,
            0,
            kk4 * F,
            nr,
            kk4,
            g.co,
            0,
          );
          p.callScratch(
            col2im,
            1 << 16,
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
            0,
            kk4 * F,
          );
        }
        return p;
      }),
      area,
      perThread,
    );
  } finally {
    scratch.free();
  }
}
