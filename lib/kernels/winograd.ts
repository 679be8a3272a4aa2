/**
 * 3×3 stride-1 convolutions and their gradients by Winograd's minimal filtering F(2×2, 3×3)
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): each 2×2
 * output tile costs 16 multiplications per channel pair instead of 36, as 16 matrix products.
 *
 * - forward: `U = G·g·Gᵀ` (filter, 4×4 per channel pair), `V = Bᵀ·d·B` (4×4 input patches),
 *   `M_p = V_p·U_p` for the 16 positions `p`, `Y = Aᵀ·M·A`;
 * - input gradient: the forward algorithm on `dy` with the filter rotated by 180° and its
 *   channel axes swapped, padded by `2 − pad`;
 * - filter gradient: `dU_p = V_pᵀ·(A·dY·Aᵀ)_p` summed over the tiles (in parts fixed by the tile
 *   count, added in order, as the im2col route does), then `dg = Gᵀ·dU·G`.
 *
 * Tiles go in blocks that keep `V` and `M` in the L2 cache; blocks are split between the kernel
 * threads. Which route (`im2col`, `winograd` = F(2×2, 3×3) here, or `winograd4` = F(4×4, 3×3) in
 * `winograd4.ts`) a convolution takes is decided per shape by {@link convAlgorithm}, from
 * measurements (`deno task bench conv-table`).
 *
 * @module
 */
import type { ConvGeometry } from "./simd_ops.ts";
import { GEMM_MR } from "./simd_module.ts";
import { type Parallel, parallelFor, Program, splitRange } from "./parallel.ts";
import { type Epilogue, NO_EPILOGUE, reductionParts, Scratch, tasksFor } from "./simd_ops.ts";
import type { WasmBackendLike } from "./wasm_util.ts";

const F = 4;

/** A convolution pass. */
export type ConvPass = "forward" | "filter" | "input";

/** The routes of a convolution pass: im2col, Winograd F(2×2, 3×3) or F(4×4, 3×3). */
export type ConvAlgorithm = "im2col" | "winograd" | "winograd4";

let forced: ConvAlgorithm | undefined;

/**
 * Forces every convolution to one route (`"im2col"` or `"winograd"` where it applies), or back
 * to the per-shape choice (`undefined`); for tests and measurements. Returns the previous value.
 *
 * @example
 * ```ts
 * import { setConvAlgorithm } from "./winograd.ts";
 * const old = setConvAlgorithm("im2col");
 * setConvAlgorithm(old);
 * ```
 */
export function setConvAlgorithm(algorithm: ConvAlgorithm | undefined): ConvAlgorithm | undefined {
  if (
    algorithm !== undefined && algorithm !== "im2col" && algorithm !== "winograd" &&
    algorithm !== "winograd4"
  ) {
    throw new RangeError(
      `setConvAlgorithm: expected "im2col", "winograd", "winograd4" or undefined, got ${algorithm}`,
    );
  }
  const old = forced;
  forced = algorithm;
  return old;
}

/**
 * Whether Winograd (F(2×2, 3×3) or F(4×4, 3×3)) applies: a 3×3 filter, stride 1, dilation 1,
 * channel counts multiples of 4.
 *
 * @example
 * ```ts
 * import { winogradApplies } from "./winograd.ts";
 * winogradApplies({ n: 1, h: 5, w: 5, ci: 4, oh: 3, ow: 3, co: 8, fh: 3, fw: 3, sh: 1, sw: 1,
 *   dh: 1, dw: 1, pt: 0, pl: 0 }); // true
 * ```
 */
export function winogradApplies(g: ConvGeometry): boolean {
  return g.fh === 3 && g.fw === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1 &&
    g.ci % 4 === 0 && g.co % 4 === 0 && g.n * g.oh * g.ow > 0;
}

/**
 * The smallest side of a convolution's output image (`min(oh, ow)`, for all three passes) from
 * which Winograd F(4×4, 3×3) is chosen; below it, im2col. Measured by `deno task bench
 * conv-table` (one thread, process CPU time, the fastest of 7; 2026-12, AMD EPYC, under load from
 * other jobs), milliseconds:
 *
 * | shape (3×3, valid)   | side | forward: im2col / F(2,3) / F(4,3) | filter            | input             |
 * | -------------------- | ---- | --------------------------------- | ----------------- | ----------------- |
 * | [128,13,13,32] → 64  | 11   | 17.4 / 12.2 / 8.7                 | 19.3 / 15.2 / 11.2 | 18.0 / 16.7 / 8.9 |
 * | [128,28,28,4] → 8    | 26   | 5.0 / 4.3 / 3.5                   | 5.3 / 4.6 / 3.3   | 5.8 / 5.7 / 3.7   |
 * | [64,28,28,16] → 16   | 26   | 8.1 / 6.2 / 4.9                   | 8.7 / 6.4 / 4.7   | 9.9 / 7.1 / 5.0   |
 * | [32,14,14,32] → 32   | 12   | 2.9 / 2.0 / 1.4                   | 3.0 / 2.9 / 1.8   | 3.1 / 2.8 / 1.4   |
 * | [16,28,28,64] → 64   | 26   | 24.0 / 13.7 / 10.6                | 28.7 / 17.4 / 13.9 | 24.4 / 15.2 / 10.6 |
 * | [32,13,13,64] → 64   | 11   | 8.2 / 6.2 / 4.2                   | 9.9 / 8.2 / 5.7   | 9.0 / 8.4 / 4.3   |
 * | [16,14,14,128] → 128 | 12   | 22.6 / 14.4 / 9.8                 | 24.5 / 21.7 / 17.4 | 21.1 / 19.0 / 10.5 |
 * | [32,11,11,32] → 32   | 9    | 1.5 / 1.5 / 1.3                   | 1.6 / 1.6 / 1.7   | 1.7 / 1.9 / 1.3   |
 * | [32,9,9,32] → 32     | 7    | 0.9 / 1.0 / 0.7                   | 1.0 / 1.2 / 0.9   | 1.0 / 1.4 / 0.7   |
 * | [16,8,8,64] → 64     | 6    | 1.2 / 1.7 / 1.5                   | 1.5 / 2.5 / 2.5   | 1.3 / 2.3 / 1.6   |
 * | [64,7,7,16] → 16     | 5    | 0.3 / 0.4 / 0.4                   | 0.3 / 0.4 / 0.4   | 0.4 / 0.5 / 0.4   |
 * | [32,7,7,64] → 64     | 5    | 1.7 / 2.5 / 2.3                   | 2.0 / 3.2 / 3.5   | 1.8 / 3.4 / 2.3   |
 * | [16,7,7,128] → 128   | 5    | 4.2 / 7.2 / 5.9                   | 4.3 / 10.6 / 11.3 | 4.1 / 9.4 / 6.7   |
 *
 * F(4×4, 3×3) wins from 7×7 outputs up (its input gradient, the adjoint of the forward pass,
 * most); small images lose, their tiles overhang the image (a 6×6 output takes 2×2 tiles, 8×8
 * outputs) and the transforms cost more than the products save. F(2×2, 3×3) is never faster
 * than one of the two; it stays available through {@link setConvAlgorithm}.
 */
export const WINOGRAD4_MIN_SIDE = 7;

/**
 * The route a convolution pass takes for geometry `g`: Winograd F(4×4, 3×3) where it applies
 * and the measured table ({@link WINOGRAD4_MIN_SIDE}) says it pays, else im2col (or the route
 * forced by {@link setConvAlgorithm}). A function of the shape only, so a given shape always
 * gives the same numbers.
 *
 * @example
 * ```ts
 * import { convAlgorithm } from "./winograd.ts";
 * convAlgorithm("forward", { n: 128, h: 13, w: 13, ci: 32, oh: 11, ow: 11, co: 64, fh: 3,
 *   fw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 }); // "winograd4"
 * ```
 */
export function convAlgorithm(_pass: ConvPass, g: ConvGeometry): ConvAlgorithm {
  if (!winogradApplies(g)) return "im2col";
  if (forced !== undefined) return forced;
  return Math.min(g.oh, g.ow) >= WINOGRAD4_MIN_SIDE ? "winograd4" : "im2col";
}

/**
 * `U = G·g·Gᵀ` of a `[3, 3, ci, co]` filter, as `[16, ci, co]` (position-major). With `flip`, of
 * the filter rotated by 180° with its channel axes swapped (`[16, co, ci]`): the input gradient's
 * filter.
 *
 * @example
 * ```ts
 * import { filterTransform } from "./winograd.ts";
 * const u = filterTransform(new Float32Array(9).fill(1), 1, 1, false);
 * u[5]; // 2.25: the centre of G·1·Gᵀ
 * ```
 */
export function filterTransform(
  w: Float32Array,
  ci: number,
  co: number,
  flip: boolean,
): Float32Array {
  const [rows, cols] = flip ? [co, ci] : [ci, co];
  const u = new Float32Array(16 * rows * cols);
  const gv = new Float64Array(9);
  const t = new Float64Array(12);
  for (let c = 0; c < ci; c++) {
    for (let o = 0; o < co; o++) {
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const [si, sj] = flip ? [2 - i, 2 - j] : [i, j];
          gv[i * 3 + j] = w[((si * 3 + sj) * ci + c) * co + o];
        }
      }
      // t = G·g (4×3)
      for (let j = 0; j < 3; j++) {
        const [a, b, d] = [gv[j], gv[3 + j], gv[6 + j]];
        t[j] = a;
        t[3 + j] = (a + b + d) / 2;
        t[6 + j] = (a - b + d) / 2;
        t[9 + j] = d;
      }
      // U = t·Gᵀ (4×4)
      const at = flip ? o * cols + c : c * cols + o;
      const stride = rows * cols;
      for (let xi = 0; xi < 4; xi++) {
        const [a, b, d] = [t[xi * 3], t[xi * 3 + 1], t[xi * 3 + 2]];
        u[(xi * 4 + 0) * stride + at] = a;
        u[(xi * 4 + 1) * stride + at] = (a + b + d) / 2;
        u[(xi * 4 + 2) * stride + at] = (a - b + d) / 2;
        u[(xi * 4 + 3) * stride + at] = d;
      }
    }
  }
  return u;
}

/**
 * `dg = Gᵀ·dU·G` from `dU` (`[16, ci, co]`) into a `[3, 3, ci, co]` filter gradient.
 *
 * @example
 * ```ts
 * import { filterGradientTransform } from "./winograd.ts";
 * const dg = new Float32Array(9);
 * filterGradientTransform(new Float32Array(16).fill(1), dg, 1, 1);
 * dg[4]; // 1: Σ over the middle column of Gᵀ·1·G
 * ```
 */
export function filterGradientTransform(
  du: Float32Array,
  dg: Float32Array,
  ci: number,
  co: number,
): void {
  const n = ci * co;
  const e = new Float64Array(12); // Gᵀ·dU: 3×4
  for (let k = 0; k < n; k++) {
    for (let nu = 0; nu < 4; nu++) {
      const [a, b, c, d] = [0, 1, 2, 3].map((xi) => du[(xi * 4 + nu) * n + k]);
      // Gᵀ rows: [1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]
      e[nu] = a + (b + c) / 2;
      e[4 + nu] = (b - c) / 2;
      e[8 + nu] = (b + c) / 2 + d;
    }
    for (let i = 0; i < 3; i++) {
      const [a, b, c, d] = [e[i * 4], e[i * 4 + 1], e[i * 4 + 2], e[i * 4 + 3]];
      dg[(i * 3 + 0) * n + k] = a + (b + c) / 2;
      dg[(i * 3 + 1) * n + k] = (b - c) / 2;
      dg[(i * 3 + 2) * n + k] = (b + c) / 2 + d;
    }
  }
}

/** Tiles per block so that a block's `V` and `M` (16 positions each) fit `budget` bytes. */
function tilesPerBlock(ci: number, co: number, budget: number): number {
  const perTile = 16 * (ci + co) * F;
  return Math.max(
    GEMM_MR,
    Math.min(20 * GEMM_MR, Math.floor(budget / perTile / GEMM_MR) * GEMM_MR),
  );
}

/**
 * Forward convolution by Winograd F(2×2, 3×3) at heap offsets `x`, `u` (`[16, ci, co]`, from
 * {@link filterTransform}) and `y`; geometry `g` (3×3, stride 1, `ci`, `co` multiples of 4).
 */
function winogradForward(
  be: WasmBackendLike,
  par: Parallel,
  x: number,
  u: number,
  y: number,
  g: ConvGeometry,
  { bias, relu }: Epilogue = NO_EPILOGUE,
): void {
  const th = Math.ceil(g.oh / 2);
  const tw = Math.ceil(g.ow / 2);
  const tiles = g.n * th * tw;
  const tb = tilesPerBlock(g.ci, g.co, 192 * 1024);
  const vStride = tb * g.ci * F;
  const mStride = tb * g.co * F;
  const mAt = 16 * vStride;
  const perThread = mAt + 16 * mStride;
  const blocks = Math.ceil(tiles / tb);
  const tasks = tasksFor(par, tiles * 16 * g.ci * g.co, blocks);
  const scratch = new Scratch(be);
  try {
    const area = scratch.alloc(par.threads * perThread / F);
    const [input, gemm, output] = [par.fn("winoInput"), par.fn("gemm"), par.fn("winoOutput")];
    par.run(
      splitRange(blocks, tasks).filter(([a, b]) => b > a).map(([b0, b1]) => {
        const p = new Program();
        for (let blk = b0; blk < b1; blk++) {
          const t0 = blk * tb;
          const nt = Math.min(tb, tiles - t0);
          p.callScratch(input, 1 << 10, x, g.h, g.w, g.ci, th, tw, g.pt, g.pl, t0, nt, 0, vStride);
          for (let q = 0; q < 16; q++) {
            p.callScratch(
              gemm,
              1 | (1 << 6),
              q * vStride,
              g.ci * F,
              F,
              GEMM_MR * g.ci * F,
              u + q * g.ci * g.co * F,
              g.co * F,
              mAt + q * mStride,
              g.co * F,
              nt,
              g.co,
              g.ci,
              0,
            );
          }
          p.callScratch(output, 1, mAt, mStride, y, g.oh, g.ow, g.co, th, tw, t0, nt, bias, +relu);
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

function heapF32(be: WasmBackendLike, at: number, n: number): Float32Array {
  return new Float32Array(be.wasm.HEAPU8.buffer, at, n);
}

/**
 * Forward convolution `y = conv(x, w)` by Winograd at heap offsets `x` (`[n, h, w, ci]`), `w`
 * (`[3, 3, ci, co]`) and `y` (`[n, oh, ow, co]`), then the `epilogue` (bias, Relu) on each
 * output as it is written; `g` must satisfy {@link winogradApplies}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dForwardWinograd } from "./winograd.ts";
 * import { heapOffset } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const x = tf.ones([1, 4, 4, 4]);
 * const w = tf.ones([3, 3, 4, 4]);
 * const y = be.makeOutput([1, 2, 2, 4], "float32");
 * conv2dForwardWinograd(be, heapOffset(be, x), heapOffset(be, w), heapOffset(be, y), {
 *   n: 1, h: 4, w: 4, ci: 4, oh: 2, ow: 2, co: 4, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
 *   pt: 0, pl: 0,
 * }); // y = 36 everywhere
 * ```
 */
export function conv2dForwardWinograd(
  be: WasmBackendLike,
  x: number,
  w: number,
  y: number,
  g: ConvGeometry,
  epilogue: Epilogue = NO_EPILOGUE,
): void {
  const par = parallelOf(be);
  const scratch = new Scratch(be);
  try {
    const uT = filterTransform(heapF32(be, w, 9 * g.ci * g.co), g.ci, g.co, false);
    const u = scratch.alloc(uT.length);
    heapF32(be, u, uT.length).set(uT);
    winogradForward(be, par, x, u, y, g, epilogue);
  } finally {
    scratch.free();
  }
}

/**
 * Input gradient `dx` by Winograd at heap offsets `dy` (`[n, oh, ow, co]`), `w`
 * (`[3, 3, ci, co]`) and `dx` (`[n, h, w, ci]`, overwritten): the forward algorithm on `dy`
 * with the flipped filter.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dBackpropInputWinograd } from "./winograd.ts";
 * import { heapOffset } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const dy = tf.ones([1, 1, 1, 4]);
 * const w = tf.ones([3, 3, 4, 4]);
 * const dx = be.makeOutput([1, 3, 3, 4], "float32");
 * conv2dBackpropInputWinograd(be, heapOffset(be, dy), heapOffset(be, w), heapOffset(be, dx), {
 *   n: 1, h: 3, w: 3, ci: 4, oh: 1, ow: 1, co: 4, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
 *   pt: 0, pl: 0,
 * }); // dx = 4 everywhere
 * ```
 */
export function conv2dBackpropInputWinograd(
  be: WasmBackendLike,
  dy: number,
  w: number,
  dx: number,
  g: ConvGeometry,
): void {
  const par = parallelOf(be);
  const scratch = new Scratch(be);
  try {
    const uT = filterTransform(heapF32(be, w, 9 * g.ci * g.co), g.ci, g.co, true);
    const u = scratch.alloc(uT.length);
    heapF32(be, u, uT.length).set(uT);
    winogradForward(be, par, dy, u, dx, {
      ...g,
      h: g.oh,
      w: g.ow,
      ci: g.co,
      oh: g.h,
      ow: g.w,
      co: g.ci,
      pt: 2 - g.pt,
      pl: 2 - g.pl,
    });
  } finally {
    scratch.free();
  }
}

/**
 * Filter gradient `dW` by Winograd at heap offsets `x` (`[n, h, w, ci]`), `dy`
 * (`[n, oh, ow, co]`) and `dw` (`[3, 3, ci, co]`, overwritten).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dBackpropFilterWinograd } from "./winograd.ts";
 * import { heapOffset } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const x = tf.ones([1, 3, 3, 4]);
 * const dy = tf.ones([1, 1, 1, 4]);
 * const dw = be.makeOutput([3, 3, 4, 4], "float32");
 * conv2dBackpropFilterWinograd(be, heapOffset(be, x), heapOffset(be, dy), heapOffset(be, dw), {
 *   n: 1, h: 3, w: 3, ci: 4, oh: 1, ow: 1, co: 4, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
 *   pt: 0, pl: 0,
 * }); // dw = 1 everywhere
 * ```
 */
export function conv2dBackpropFilterWinograd(
  be: WasmBackendLike,
  x: number,
  dy: number,
  dw: number,
  g: ConvGeometry,
): void {
  const par = parallelOf(be);
  const th = Math.ceil(g.oh / 2);
  const tw = Math.ceil(g.ow / 2);
  const tiles = g.n * th * tw;
  const tb = tilesPerBlock(g.ci, g.co, 192 * 1024);
  const vStride = tb * g.ci * F;
  const zStride = tb * g.co * F;
  const zAt = 16 * vStride;
  const perThread = zAt + 16 * zStride;
  const size = 16 * g.ci * g.co; // floats of one dU
  // Parts of at least 256 tiles (a part's tiles are one task): enough tasks for the threads.
  const P = reductionParts(tiles, 256, 8);
  const scratch = new Scratch(be);
  try {
    const area = scratch.alloc(par.threads * perThread / F);
    const parts = scratch.alloc(P * size);
    const sum = scratch.alloc(size);
    const [input, gradOut, gemm] = [
      par.fn("winoInput"),
      par.fn("winoGradOutput"),
      par.fn("gemm"),
    ];
    // One task per part whatever the thread count: the parts fix the order of the additions.
    const tasks = splitRange(tiles, P).map(([a, b], part) => {
      const p = new Program();
      const out = parts + part * size * F;
      if (a === b) p.call(par.fn("zero"), out, size * F);
      for (let t0 = a; t0 < b; t0 += tb) {
        const nt = Math.min(tb, b - t0);
        p.callScratch(input, 1 << 10, x, g.h, g.w, g.ci, th, tw, g.pt, g.pl, t0, nt, 0, vStride);
        p.callScratch(gradOut, 1 << 8, dy, g.oh, g.ow, g.co, th, tw, t0, nt, zAt, zStride);
        for (let q = 0; q < 16; q++) {
          p.callScratch(
            gemm,
            1 | (1 << 4),
            q * vStride,
            F,
            g.ci * F,
            GEMM_MR * F,
            zAt + q * zStride,
            g.co * F,
            out + q * g.ci * g.co * F,
            g.co * F,
            g.ci,
            g.co,
            nt,
            t0 > a ? 1 : 0,
          );
        }
      }
      return p;
    });
    par.run(
      tasksFor(par, tiles * 16 * g.ci * g.co, P) === 1 ? [join(tasks)] : tasks,
      area,
      perThread,
    );
    const sumParts = par.fn("sumParts");
    par.run(
      splitRange(size, tasksFor(par, P * size * 8, Math.ceil(size / 64)), 4)
        .filter(([a, b]) => b > a).map(([a, b]) =>
          new Program().call(sumParts, sum + a * F, parts + a * F, size * F, P, b - a)
        ),
    );
    filterGradientTransform(heapF32(be, sum, size), heapF32(be, dw, 9 * g.ci * g.co), g.ci, g.co);
  } finally {
    scratch.free();
  }
}

function join(tasks: Program[]): Program {
  const p = new Program();
  for (const t of tasks) {
    p.code.push(...t.code);
    p.length += t.length;
  }
  return p;
}

function parallelOf(be: WasmBackendLike): Parallel {
  const par = parallelFor(be);
  if (par === undefined) throw new Error("winograd: the SIMD kernels are not available");
  return par;
}
