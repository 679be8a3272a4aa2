/**
 * 3×3 stride-1 convolutions and their gradients by Winograd's F(4×4, 3×3) (Lavin & Gray, CVPR
 * 2016): 36 products per 4×4 output tile and channel pair instead of 144 (F(2×2, 3×3): 64), as
 * 36 matrix products over blocks of tiles, with the transforms of `simd_winograd4.ts`.
 *
 * - forward: `U = G·g·Gᵀ` (6×6 per channel pair), `V = Bᵀ·d·B`, `M_p = V_p·U_p`, `Y = Aᵀ·M·A`
 *   (then the fused layers' bias and Relu);
 * - filter gradient: `dU_p = Σ_tiles V_pᵀ·Z_p` with `Z = A·dY·Aᵀ`, summed in parts fixed by the
 *   tile count and added in order, then `dg = Gᵀ·dU·G`;
 * - input gradient: the adjoint of the forward pass, `dV_p = Z_p·U_pᵀ`, `dd = B·dV·Bᵀ` added
 *   onto the input's 6×6 patches (which overlap: each image is one task's, tiles in order).
 *
 * Results are the same numbers whatever the thread count. Against F(2×2, 3×3) the transforms
 * multiply by constants up to 8 and 1/24, so rounding errors are somewhat larger (still of the
 * order of float32's precision times the sums' sizes).
 *
 * @module
 */
import type { ConvGeometry, Epilogue } from "./simd_ops.ts";
import { NO_EPILOGUE, reductionParts, Scratch, tasksFor } from "./simd_ops.ts";
import { GEMM_MR } from "./simd_module.ts";
import { type Parallel, parallelFor, Program, splitRange } from "./parallel.ts";
import type { WasmBackendLike } from "./wasm_util.ts";

const F = 4;
/** Positions of a transformed tile. */
const P36 = 36;

/** `G` of F(4×4, 3×3), 6×3. */
const G = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];

/**
 * `U = G·g·Gᵀ` of a `[3, 3, ci, co]` filter, as `[36, ci, co]` (position-major), or with
 * `transposed` as `[36, co, ci]` (the input gradient's `U_pᵀ`). Computed in float64: the
 * reference for the kernels' `wino4Filter` (float32, on the heap).
 *
 * @example
 * ```ts
 * import { filterTransform4 } from "./winograd4.ts";
 * const u = filterTransform4(Float32Array.of(0, 0, 0, 0, 1, 0, 0, 0, 0), 1, 1, false);
 * u[0]; // 0: the corner of G·g·Gᵀ for a centre tap
 * ```
 */
export function filterTransform4(
  w: Float32Array,
  ci: number,
  co: number,
  transposed: boolean,
): Float32Array {
  const u = new Float32Array(P36 * ci * co);
  const gv = new Float64Array(9);
  const t = new Float64Array(18); // G·g: 6×3
  const n = ci * co;
  for (let c = 0; c < ci; c++) {
    for (let o = 0; o < co; o++) {
      for (let k = 0; k < 9; k++) gv[k] = w[k * n + c * co + o];
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 3; j++) {
          t[i * 3 + j] = G[i][0] * gv[j] + G[i][1] * gv[3 + j] + G[i][2] * gv[6 + j];
        }
      }
      const at = transposed ? o * ci + c : c * co + o;
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) {
          u[(i * 6 + j) * n + at] = t[i * 3] * G[j][0] + t[i * 3 + 1] * G[j][1] +
            t[i * 3 + 2] * G[j][2];
        }
      }
    }
  }
  return u;
}

/**
 * `dg = Gᵀ·dU·G` from `dU` (`[36, ci, co]`) into a `[3, 3, ci, co]` filter gradient, in float64:
 * the reference for the kernels' `wino4FilterGrad`.
 *
 * @example
 * ```ts
 * import { filterGradientTransform4 } from "./winograd4.ts";
 * const du = new Float32Array(36);
 * du[35] = 1; // position (5, 5)
 * const dg = new Float32Array(9);
 * filterGradientTransform4(du, dg, 1, 1);
 * dg[8]; // 1: G[5] = [0, 0, 1]
 * ```
 */
export function filterGradientTransform4(
  du: Float32Array,
  dg: Float32Array,
  ci: number,
  co: number,
): void {
  const n = ci * co;
  const e = new Float64Array(18); // Gᵀ·dU: 3×6
  for (let k = 0; k < n; k++) {
    for (let nu = 0; nu < 6; nu++) {
      for (let i = 0; i < 3; i++) {
        let s = 0;
        for (let xi = 0; xi < 6; xi++) s += G[xi][i] * du[(xi * 6 + nu) * n + k];
        e[i * 6 + nu] = s;
      }
    }
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let nu = 0; nu < 6; nu++) s += e[i * 6 + nu] * G[nu][j];
        dg[(i * 3 + j) * n + k] = s;
      }
    }
  }
}

/** Tiles per block so that a block's two transformed arrays (36 positions each) fit `budget`. */
function tilesPerBlock(a: number, b: number, budget: number): number {
  const perTile = P36 * (a + b) * F;
  return Math.max(
    GEMM_MR,
    Math.min(16 * GEMM_MR, Math.floor(budget / perTile / GEMM_MR) * GEMM_MR),
  );
}

function parallelOf(be: WasmBackendLike): Parallel {
  const par = parallelFor(be);
  if (par === undefined) throw new Error("winograd4: the SIMD kernels are not available");
  return par;
}

/**
 * `U = G·g·Gᵀ` of the filter at `w` into scratch, `[36, ci, co]` (or with `transposed`,
 * `[36, co, ci]`: the filter's channel axes swapped first), by `wino4Filter` on the threads;
 * returns its byte offset.
 */
function transformedFilter(
  par: Parallel,
  scratch: Scratch,
  w: number,
  g: ConvGeometry,
  transposed: boolean,
): number {
  const n = g.ci * g.co;
  const u = scratch.alloc(P36 * n);
  let src = w;
  if (transposed) {
    src = scratch.alloc(9 * n);
    const transpose = par.fn("transpose");
    const p = new Program();
    for (let k = 0; k < 9; k++) {
      p.call(transpose, w + k * n * F, g.ci, g.co, 0, g.co, src + k * n * F, g.ci * F);
    }
    par.run([p]);
  }
  const fn = par.fn("wino4Filter");
  par.run(
    splitRange(n / 4, tasksFor(par, P36 * n * 4, Math.ceil(n / 256))).filter(([a, b]) => b > a)
      .map(([a, b]) => new Program().call(fn, src, u, n, 4 * a, 4 * b)),
  );
  return u;
}

/** `dg = Gᵀ·dU·G` from `dU` at `du` into the filter gradient at `dg`, on the threads. */
function filterGradient(par: Parallel, du: number, dg: number, n: number): void {
  const fn = par.fn("wino4FilterGrad");
  par.run(
    splitRange(n / 4, tasksFor(par, P36 * n * 4, Math.ceil(n / 256))).filter(([a, b]) => b > a)
      .map(([a, b]) => new Program().call(fn, du, dg, n, 4 * a, 4 * b)),
  );
}

/**
 * Forward convolution `y = conv(x, w)` by F(4×4, 3×3) at heap offsets `x` (`[n, h, w, ci]`), `w`
 * (`[3, 3, ci, co]`) and `y` (`[n, oh, ow, co]`), then the `epilogue` (bias, Relu) as outputs
 * are written; `g` must satisfy `winogradApplies`. Blocks of tiles are split between the threads.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dForwardWinograd4 } from "./winograd4.ts";
 * import { heapOffset } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const x = tf.ones([1, 6, 6, 4]);
 * const w = tf.ones([3, 3, 4, 4]);
 * const y = be.makeOutput([1, 4, 4, 4], "float32");
 * conv2dForwardWinograd4(be, heapOffset(be, x), heapOffset(be, w), heapOffset(be, y), {
 *   n: 1, h: 6, w: 6, ci: 4, oh: 4, ow: 4, co: 4, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
 *   pt: 0, pl: 0,
 * }); // y ≈ 36 everywhere
 * ```
 */
export function conv2dForwardWinograd4(
  be: WasmBackendLike,
  x: number,
  w: number,
  y: number,
  g: ConvGeometry,
  { bias, relu }: Epilogue = NO_EPILOGUE,
): void {
  const par = parallelOf(be);
  const th = Math.ceil(g.oh / 4);
  const tw = Math.ceil(g.ow / 4);
  const tiles = g.n * th * tw;
  const tb = tilesPerBlock(g.ci, g.co, 256 * 1024);
  const vStride = tb * g.ci * F;
  const mStride = tb * g.co * F;
  const mAt = P36 * vStride;
  const perThread = mAt + P36 * mStride;
  const blocks = Math.ceil(tiles / tb);
  const tasks = tasksFor(par, tiles * P36 * g.ci * g.co, blocks);
  const scratch = new Scratch(be);
  try {
    const u = transformedFilter(par, scratch, w, g, false);
    const area = scratch.alloc(par.threads * perThread / F);
    const [input, gemmMany, output] = ["wino4Input", "gemmMany", "wino4Output"].map(par.fn);
    par.run(
      splitRange(blocks, tasks).filter(([a, b]) => b > a).map(([b0, b1]) => {
        const p = new Program();
        for (let blk = b0; blk < b1; blk++) {
          const t0 = blk * tb;
          const nt = Math.min(tb, tiles - t0);
          p.callScratch(input, 1 << 10, x, g.h, g.w, g.ci, th, tw, g.pt, g.pl, t0, nt, 0, vStride);
          // M_p[nt, co] = V_p[nt, ci] · U_p[ci, co] for the 36 positions p
          p.callScratch(
            gemmMany,
            (1 << 4) | (1 << 10),
            P36,
            vStride,
            g.ci * g.co * F,
            mStride,
            0,
            g.ci * F,
            F,
            GEMM_MR * g.ci * F,
            u,
            g.co * F,
            mAt,
            g.co * F,
            nt,
            g.co,
            g.ci,
            0,
          );
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

/**
 * Filter gradient `dW` by F(4×4, 3×3) at heap offsets `x` (`[n, h, w, ci]`), `dy`
 * (`[n, oh, ow, co]`) and `dw` (`[3, 3, ci, co]`, overwritten).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dBackpropFilterWinograd4 } from "./winograd4.ts";
 * import { heapOffset } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const x = tf.ones([1, 6, 6, 4]);
 * const dy = tf.ones([1, 4, 4, 4]);
 * const dw = be.makeOutput([3, 3, 4, 4], "float32");
 * conv2dBackpropFilterWinograd4(be, heapOffset(be, x), heapOffset(be, dy), heapOffset(be, dw), {
 *   n: 1, h: 6, w: 6, ci: 4, oh: 4, ow: 4, co: 4, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
 *   pt: 0, pl: 0,
 * }); // dw ≈ 16 everywhere
 * ```
 */
export function conv2dBackpropFilterWinograd4(
  be: WasmBackendLike,
  x: number,
  dy: number,
  dw: number,
  g: ConvGeometry,
): void {
  const par = parallelOf(be);
  const th = Math.ceil(g.oh / 4);
  const tw = Math.ceil(g.ow / 4);
  const tiles = g.n * th * tw;
  const tb = tilesPerBlock(g.ci, g.co, 256 * 1024);
  const vStride = tb * g.ci * F;
  const zStride = tb * g.co * F;
  const zAt = P36 * vStride;
  const perThread = zAt + P36 * zStride;
  const size = P36 * g.ci * g.co; // floats of one dU
  // Parts of at least 64 tiles (a part's tiles are one task): enough tasks for the threads.
  const P = reductionParts(tiles, 64, 8);
  const scratch = new Scratch(be);
  try {
    const area = scratch.alloc(par.threads * perThread / F);
    const parts = scratch.alloc(P * size);
    const sum = scratch.alloc(size);
    const [input, gradOut, gemmMany] = ["wino4Input", "wino4GradOutput", "gemmMany"].map(par.fn);
    // One task per part whatever the thread count: the parts fix the order of the additions.
    const tasks = splitRange(tiles, P).map(([a, b], part) => {
      const p = new Program();
      const out = parts + part * size * F;
      if (a === b) p.call(par.fn("zero"), out, size * F);
      for (let t0 = a; t0 < b; t0 += tb) {
        const nt = Math.min(tb, b - t0);
        p.callScratch(input, 1 << 10, x, g.h, g.w, g.ci, th, tw, g.pt, g.pl, t0, nt, 0, vStride);
        p.callScratch(gradOut, 1 << 8, dy, g.oh, g.ow, g.co, th, tw, t0, nt, zAt, zStride);
        // dU_p[ci, co] (+)= V_p[nt, ci]ᵀ · Z_p[nt, co]
        p.callScratch(
          gemmMany,
          (1 << 4) | (1 << 8),
          P36,
          vStride,
          zStride,
          g.ci * g.co * F,
          0,
          F,
          g.ci * F,
          GEMM_MR * F,
          zAt,
          g.co * F,
          out,
          g.co * F,
          g.ci,
          g.co,
          nt,
          t0 > a ? 1 : 0,
        );
      }
      return p;
    });
    par.run(
      tasksFor(par, tiles * P36 * g.ci * g.co, P) === 1 ? [join(tasks)] : tasks,
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
    filterGradient(par, sum, dw, g.ci * g.co);
  } finally {
    scratch.free();
  }
}

/**
 * Input gradient `dx` by the adjoint of F(4×4, 3×3) at heap offsets `dy` (`[n, oh, ow, co]`),
 * `w` (`[3, 3, ci, co]`) and `dx` (`[n, h, w, ci]`, overwritten). Images are split between the
 * threads (their patches overlap).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dBackpropInputWinograd4 } from "./winograd4.ts";
 * import { heapOffset } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const dy = tf.ones([1, 1, 1, 4]);
 * const w = tf.ones([3, 3, 4, 4]);
 * const dx = be.makeOutput([1, 3, 3, 4], "float32");
 * conv2dBackpropInputWinograd4(be, heapOffset(be, dy), heapOffset(be, w), heapOffset(be, dx), {
 *   n: 1, h: 3, w: 3, ci: 4, oh: 1, ow: 1, co: 4, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
 *   pt: 0, pl: 0,
 * }); // dx ≈ 4 everywhere
 * ```
 */
export function conv2dBackpropInputWinograd4(
  be: WasmBackendLike,
  dy: number,
  w: number,
  dx: number,
  g: ConvGeometry,
): void {
  const par = parallelOf(be);
  const th = Math.ceil(g.oh / 4);
  const tw = Math.ceil(g.ow / 4);
  const perImage = th * tw;
  const tb = tilesPerBlock(g.co, g.ci, 256 * 1024);
  const zStride = tb * g.co * F;
  const vStride = tb * g.ci * F;
  const vAt = P36 * zStride;
  const perThread = vAt + P36 * vStride;
  const tasks = tasksFor(par, g.n * perImage * P36 * g.ci * g.co, g.n);
  const imageBytes = g.h * g.w * g.ci * F;
  const scratch = new Scratch(be);
  try {
    const ut = transformedFilter(par, scratch, w, g, true); // [36, co, ci]
    const area = scratch.alloc(par.threads * perThread / F);
    const [gradOut, gemmMany, adjoint, zero] = [
      "wino4GradOutput",
      "gemmMany",
      "wino4InputAdjoint",
      "zero",
    ].map(par.fn);
    par.run(
      splitRange(g.n, tasks).filter(([a, b]) => b > a).map(([b0, b1]) => {
        const p = new Program();
        p.call(zero, dx + b0 * imageBytes, (b1 - b0) * imageBytes);
        const end = b1 * perImage;
        for (let t0 = b0 * perImage; t0 < end; t0 += tb) {
          const nt = Math.min(tb, end - t0);
          p.callScratch(gradOut, 1 << 8, dy, g.oh, g.ow, g.co, th, tw, t0, nt, 0, zStride);
          // dV_p[nt, ci] = Z_p[nt, co] · U_pᵀ[co, ci]
          p.callScratch(
            gemmMany,
            (1 << 4) | (1 << 10),
            P36,
            zStride,
            g.ci * g.co * F,
            vStride,
            0,
            g.co * F,
            F,
            GEMM_MR * g.co * F,
            ut,
            g.ci * F,
            vAt,
            g.ci * F,
            nt,
            g.ci,
            g.co,
            0,
          );
          p.callScratch(
            adjoint,
            1,
            vAt,
            vStride,
            dx,
            g.h,
            g.w,
            g.ci,
            th,
            tw,
            g.pt,
            g.pl,
            t0,
            nt,
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

function join(tasks: Program[]): Program {
  const p = new Program();
  for (const t of tasks) {
    p.code.push(...t.code);
    p.length += t.length;
  }
  return p;
}
