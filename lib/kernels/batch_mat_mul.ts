/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend. The backend multiplies fast (XNNPACK)
 * only when neither operand is transposed and there is one matrix per operand; otherwise it
 * falls back to a loop ten times slower. Back-propagation through a dense layer asks for exactly
 * those products (`dy·Wᵀ`, `xᵀ·dy`). `BatchMatMul` runs on our SIMD matrix kernel where the
 * engine has relaxed SIMD (`Aᵀ` read through strides, `Bᵀ` copied; rows split between the
 * kernel threads); otherwise, and always for
 * `_FusedMatMul`, we transpose the operands explicitly (a memory-bound copy), fold a broadcast
 * batch into rows, and run the backend's fast path once per matrix.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";
import {
  f32View,
  reshapeInfo,
  runWasmKernel,
  type WasmBackendLike,
  withShape,
} from "./wasm_util.ts";
import {
  type Epilogue,
  gemmParallel,
  heapOffset,
  NO_EPILOGUE,
  simdFor,
  tasksFor,
} from "./simd_ops.ts";
import { GEMM_MR, type SimdKernels } from "./simd_module.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";

/**
 * Writes the transpose of each of `batch` row-major `[rows, cols]` matrices of `src` into `dst`
 * (`[batch, cols, rows]`), in cache-friendly tiles.
 *
 * @example
 * ```ts
 * import { transposeMatrices } from "./batch_mat_mul.ts";
 * const dst = new Float32Array(6);
 * transposeMatrices(Float32Array.of(1, 2, 3, 4, 5, 6), dst, 1, 2, 3); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transposeMatrices(
  src: Float32Array,
  dst: Float32Array,
  batch: number,
  rows: number,
  cols: number,
): void {
  const T = 32;
  for (let b = 0; b < batch; b++) {
    const off = b * rows * cols;
    for (let i0 = 0; i0 < rows; i0 += T) {
      const i1 = Math.min(rows, i0 + T);
      for (let j0 = 0; j0 < cols; j0 += T) {
        const j1 = Math.min(cols, j0 + T);
        for (let i = i0; i < i1; i++) {
          let s = off + i * cols + j0;
          let d = off + j0 * rows + i;
          for (let j = j0; j < j1; j++) {
            dst[d] = src[s++];
            d += rows;
          }
        }
      }
    }
  }
}

/** Operand of a product as rank 3 `[batch, rows, cols]`, transposed if asked; caller disposes. */
function asPlain(
  be: WasmBackendLike,
  t: TensorInfo,
  transpose: boolean,
): TensorInfo {
  const r = t.shape.length;
  const rows = t.shape[r - 2];
  const cols = t.shape[r - 1];
  let batch = 1;
  for (let i = 0; i < r - 2; i++) batch *= t.shape[i];
  if (!transpose) return reshapeInfo(be, t, [batch, rows, cols]);
  const out = be.makeOutput([batch, cols, rows], "float32");
  transposeMatrices(f32View(be, t), f32View(be, out), batch, rows, cols);
  return out;
}

/** Throws unless `a·b` (with the transposes) is a valid float32 product. */
function checkProduct(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean) {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`BatchMatMul: operands must be float32, got ${a.dtype} and ${b.dtype}`);
  }
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new Error(`BatchMatMul: operands must have rank >= 2, got [${a.shape}] and [${b.shape}]`);
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const kA = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  if (kA !== kB) {
    throw new Error(
      `BatchMatMul: inner dimensions differ: a [${a.shape}] (transposeA ${transposeA}) and ` +
        `b [${b.shape}] (transposeB ${transposeB})`,
    );
  }
}

interface Product {
  out: TensorInfo;
  outShape: number[];
}

/**
 * `a·b` (with transposes) through the backend's untransposed fast path; caller disposes.
 */
function product(
  be: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  run: (a3: TensorInfo, b3: TensorInfo) => TensorInfo,
): Product {
  checkProduct(a, b, transposeA, transposeB);
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const kA = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  const outShape = [...outer, m, n];
  const a3 = asPlain(be, a, transposeA);
  const b3 = asPlain(be, b, transposeB);
  const batchA = a3.shape[0];
  const batchB = b3.shape[0];
  let out: TensorInfo;
  try {
    if (batchB === 1) {
      // A broadcast right operand: stack the left matrices into one tall matrix.
      const aTall = reshapeInfo(be, a3, [1, batchA * m, kA]);
      out = run(aTall, b3);
      be.disposeData(aTall.dataId);
    } else {
      const aOuter = a.shape.slice(0, -2);
      const bOuter = b.shape.slice(0, -2);
      out = perMatrix(
        be,
        a3,
        b3,
        m,
        kA,
        n,
        outer,
        (o) => [broadcastIndex(o, outer, aOuter), broadcastIndex(o, outer, bOuter)],
        run,
      );
    }
  } finally {
    be.disposeData(a3.dataId);
    be.disposeData(b3.dataId);
  }
  return { out, outShape };
}

/**
 * One fast product per matrix of the batch, copied in and out of single-matrix buffers. The
 * buffers are fresh for every matrix: the backend caches packed right operands by tensor id, so
 * refilling one buffer would reuse stale packed data.
 */
function perMatrix(
  be: WasmBackendLike,
  a3: TensorInfo,
  b3: TensorInfo,
  m: number,
  k: number,
  n: number,
  outer: number[],
  sources: (o: number) => [number, number],
  run: (a: TensorInfo, b: TensorInfo) => TensorInfo,
): TensorInfo {
  const batch = outer.reduce((p, d) => p * d, 1);
  const out = be.makeOutput([batch, m, n], "float32");
  for (let i = 0; i < batch; i++) {
    const [ia, ib] = sources(i);
    const ai = be.makeOutput([1, m, k], "float32");
    const bi = be.makeOutput([1, k, n], "float32");
    try {
      f32View(be, ai).set(f32View(be, a3).subarray(ia * m * k, (ia + 1) * m * k));
      f32View(be, bi).set(f32View(be, b3).subarray(ib * k * n, (ib + 1) * k * n));
      const ci = run(ai, bi);
      f32View(be, out).set(f32View(be, ci), i * m * n);
      be.disposeData(ci.dataId);
    } finally {
      be.disposeData(ai.dataId);
      be.disposeData(bi.dataId);
    }
  }
  return out;
}

/** Batch index of a `src` operand with outer dims `srcOuter` for output batch `o` of `outer`. */
function broadcastIndex(o: number, outer: number[], srcOuter: number[]): number {
  let idx = 0;
  let stride = 1;
  let rest = o;
  for (let d = outer.length - 1; d >= 0; d--) {
    const coord = rest % outer[d];
    rest = Math.floor(rest / outer[d]);
    const sd = d - (outer.length - srcOuter.length);
    if (sd >= 0) {
      if (srcOuter[sd] !== 1) idx += coord * stride;
      stride *= srcOuter[sd];
    }
  }
  return idx;
}

/** Multiply-adds of one matrix product below which a batch takes {@link smallProducts}. */
const SMALL_PRODUCT = 4096;

/**
 * A batch of small products `out[o] = a[ia]·b[ib]` (transposes read through indices) in plain
 * loops over the heap, each sum accumulated in float64 in order, then rounded.
 */
function smallProducts(
  be: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  out: TensorInfo,
  m: number,
  kk: number,
  n: number,
  transposeA: boolean,
  transposeB: boolean,
  outer: number[],
  aOuter: number[],
  bOuter: number[],
): void {
  // Views after the last allocation.
  const av = f32View(be, a);
  const bv = f32View(be, b);
  const ov = f32View(be, out);
  const batch = outer.reduce((p, d) => p * d, 1);
  // A(i, p) at aAt + i·ai + p·ap; B(p, j) at bAt + p·bp + j·bj
  const [ai, ap] = transposeA ? [1, m] : [kk, 1];
  const [bp, bj] = transposeB ? [1, kk] : [n, 1];
  for (let o = 0; o < batch; o++) {
    const aAt = broadcastIndex(o, outer, aOuter) * m * kk;
    const bAt = broadcastIndex(o, outer, bOuter) * kk * n;
    const oAt = o * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < kk; p++) acc += av[aAt + i * ai + p * ap] * bv[bAt + p * bp + j * bj];
        ov[oAt + i * n + j] = acc;
      }
    }
  }
}

/**
 * `a·b` (`[..., m, k] · [..., k, n]`, either transposed, batch dimensions broadcast) with our
 * SIMD matrix kernel, one call per matrix of the batch, then the `epilogue` (bias, Relu) on the
 * outputs; `Aᵀ` is read in place through strides, `Bᵀ` and column counts that are not multiples
 * of 4 go through a scratch copy; batches of tiny products (at most 4096 multiply-adds each) go
 * through plain loops. Returns a new float32 tensor on `be`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { matMulSimd } from "./batch_mat_mul.ts";
 * import { simdFor } from "./simd_ops.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const be = tf.backend() as unknown as WasmBackendLike;
 * const c = matMulSimd(be, simdFor(be)!, tf.ones([2, 3]), tf.ones([3, 4]), false, false);
 * be.disposeData(c.dataId); // c was [2, 4], all 3
 * ```
 */
export function matMulSimd(
  be: WasmBackendLike,
  _k: SimdKernels,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  epilogue: Epilogue = NO_EPILOGUE,
): TensorInfo {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const kk = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(aOuter, bOuter);
  const batch = outer.reduce((p, d) => p * d, 1);
  const n4 = (n + 3) & ~3;
  const par = parallelFor(be);
  if (par === undefined) throw new Error("BatchMatMul: the SIMD kernels are not available");
  const out = be.makeOutput([...outer, m, n], "float32");
  if (batch > 1 && m * n * kk <= SMALL_PRODUCT && epilogue.bias === 0 && !epilogue.relu) {
    // Many tiny products (a loss's per-row dot products): plain loops, no per-matrix set-up.
    smallProducts(be, a, b, out, m, kk, n, transposeA, transposeB, outer, aOuter, bOuter);
    return out;
  }
  const copyB = transposeB || n4 !== n;
  const bs = copyB ? be.makeOutput([Math.max(1, kk * n4)], "float32") : undefined;
  const cs = n4 !== n ? be.makeOutput([Math.max(1, m * n4)], "float32") : undefined;
  try {
    const F = 4;
    const aBase = heapOffset(be, a);
    const bBase = heapOffset(be, b);
    const outBase = heapOffset(be, out);
    const aRow = transposeA ? F : kk * F;
    const aStep = transposeA ? m * F : F;
    const aBlock = GEMM_MR * aRow;
    let lastB = -1;
    for (let o = 0; o < batch; o++) {
      const ia = broadcastIndex(o, outer, aOuter);
      const ib = broadcastIndex(o, outer, bOuter);
      const aPtr = aBase + ia * m * kk * F;
      let bPtr = bBase + ib * kk * n * F;
      let bStep = n * F;
      if (bs !== undefined) {
        const bsPtr = heapOffset(be, bs);
        if (ib !== lastB) {
          const src = new Float32Array(be.wasm.HEAPU8.buffer, bPtr, kk * n);
          const dst = new Float32Array(be.wasm.HEAPU8.buffer, bsPtr, kk * n4);
          if (n4 !== n) dst.fill(0);
          if (transposeB) {
            // b is [n, kk]: dst[p, j] = src[j, p]; columns of b split between the threads.
            const fn = par.fn("transpose");
            par.run(
              splitRange(kk, tasksFor(par, kk * n, Math.ceil(kk / 8))).filter(([p0, p1]) => p1 > p0)
                .map(([p0, p1]) => new Program().call(fn, bPtr, n, kk, p0, p1, bsPtr, n4 * F)),
            );
          } else {
            for (let p = 0; p < kk; p++) dst.set(src.subarray(p * n, (p + 1) * n), p * n4);
          }
          lastB = ib;
        }
        bPtr = bsPtr;
        bStep = n4 * F;
      }
      const cPtr = cs === undefined ? outBase + o * m * n * F : heapOffset(be, cs);
      const direct = cs === undefined;
      gemmParallel(
        par,
        aPtr,
        aRow,
        aStep,
        aBlock,
        bPtr,
        bStep,
        cPtr,
        n4 * F,
        m,
        n4,
        kk,
        0,
        direct ? epilogue : NO_EPILOGUE,
      );
      if (!direct) {
        const src = new Float32Array(be.wasm.HEAPU8.buffer, cPtr, m * n4);
        const dst = new Float32Array(be.wasm.HEAPU8.buffer, outBase + o * m * n * F, m * n);
        for (let i = 0; i < m; i++) dst.set(src.subarray(i * n4, i * n4 + n), i * n);
        if (epilogue.bias !== 0 || epilogue.relu) {
          par.run([
            new Program().call(
              par.fn("biasAct"),
              outBase + o * m * n * F,
              epilogue.bias,
              m,
              n,
              +epilogue.relu,
            ),
          ]);
        }
      }
    }
  } finally {
    if (bs !== undefined) be.disposeData(bs.dataId);
    if (cs !== undefined) be.disposeData(cs.dataId);
  }
  return out;
}

/**
 * Kernel function of `BatchMatMul` for the wasm backend: `a` (`[..., m, k]`, or `[..., k, m]`
 * with `transposeA`) times `b` (`[..., k, n]`, or `[..., n, k]` with `transposeB`), `[..., m, n]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const c = tf.matMul(tf.ones([5, 3]), tf.ones([4, 3]), false, true); // [5, 4], all 3
 * ```
 */
export const batchMatMulWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const { a, b } = inputs;
  if (a === undefined || b === undefined) throw new Error("BatchMatMul: inputs a and b required");
  const transposeA = Boolean(attrs?.transposeA);
  const transposeB = Boolean(attrs?.transposeB);
  const simd = simdFor(be);
  if (simd !== undefined) {
    checkProduct(a, b, transposeA, transposeB);
    return matMulSimd(be, simd, a, b, transposeA, transposeB);
  }
  const plain = { transposeA: false, transposeB: false } as NamedAttrMap;
  const p = product(
    be,
    a,
    b,
    transposeA,
    transposeB,
    (a3, b3) => runWasmKernel(be, "BatchMatMul", { a: a3, b: b3 }, plain),
  );
  return withShape(be, p.out, p.outShape);
};

/**
 * Kernel function of `_FusedMatMul` (product, bias, activation) for the wasm backend; the
 * product goes through the untransposed fast path, the epilogue through the backend's own kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const y = tf.fused.matMul({
 *   a: tf.ones([2, 3]),
 *   b: tf.ones([4, 3]),
 *   transposeB: true,
 *   bias: tf.ones([4]),
 *   activation: "relu",
 * }); // [2, 4], all 4
 * ```
 */
export const fusedMatMulWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const { a, b, bias, preluActivationWeights } = inputs;
  if (a === undefined || b === undefined) throw new Error("_FusedMatMul: inputs a and b required");
  const transposeA = Boolean(attrs?.transposeA);
  const transposeB = Boolean(attrs?.transposeB);
  const fusedAttrs = { ...(attrs ?? {}), transposeA: false, transposeB: false } as NamedAttrMap;
  const extra: Record<string, TensorInfo> = {};
  if (bias !== undefined) extra.bias = bias;
  if (preluActivationWeights !== undefined) {
    extra.preluActivationWeights = preluActivationWeights;
  }
  const p = product(
    be,
    a,
    b,
    transposeA,
    transposeB,
    (a3, b3) => runWasmKernel(be, "_FusedMatMul", { a: a3, b: b3, ...extra }, fusedAttrs),
  );
  return withShape(be, p.out, p.outShape);
};

/**
 * Kernel registration record of {@link batchMatMulWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { batchMatMulConfig } from "./batch_mat_mul.ts";
 * tf.registerKernel(batchMatMulConfig);
 * ```
 */
export const batchMatMulConfig: KernelConfig = {
  kernelName: "BatchMatMul",
  backendName: "wasm",
  kernelFunc: batchMatMulWasm,
};

/**
 * Kernel registration record of {@link fusedMatMulWasm}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fusedMatMulConfig } from "./batch_mat_mul.ts";
 * tf.registerKernel(fusedMatMulConfig);
 * ```
 */
export const fusedMatMulConfig: KernelConfig = {
  kernelName: "_FusedMatMul",
  backendName: "wasm",
  kernelFunc: fusedMatMulWasm,
};
