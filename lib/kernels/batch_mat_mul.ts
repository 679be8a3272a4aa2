/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend. The backend multiplies fast (XNNPACK)
 * only when neither operand is transposed and there is one matrix per operand; otherwise it
 * falls back to a loop ten times slower. Back-propagation through a dense layer asks for exactly
 * those products (`dy·Wᵀ`, `xᵀ·dy`). We transpose the operands explicitly (a memory-bound copy),
 * fold a broadcast batch into rows, and run the fast path once per matrix.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";
import { f32View, reshapeInfo, runWasmKernel, type WasmBackendLike, withShape } from "./wasm_util.ts";

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

interface Product {
  out: TensorInfo;
  outShape: number[];
}

/**
 * `a·b` (with transposes) through the backend's untransposed fast path; caller disposes.
 * Returns `undefined` for batch broadcasts other than "one side has a single matrix" or "both
 * sides have the same batch shape" (the caller then runs the backend's own kernel).
 */
function product(
  be: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  run: (a3: TensorInfo, b3: TensorInfo) => TensorInfo,
): Product | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`BatchMatMul: operands must be float32, got ${a.dtype} and ${b.dtype}`);
  }
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new Error(`BatchMatMul: operands must have rank >= 2, got [${a.shape}] and [${b.shape}]`);
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const kA = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (kA !== kB) {
    throw new Error(
      `BatchMatMul: inner dimensions differ: a [${a.shape}] (transposeA ${transposeA}) and ` +
        `b [${b.shape}] (transposeB ${transposeB})`,
    );
  }
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  const outShape = [...outer, m, n];
  const sameOuter = (s: number[]) =>
    s.length - 2 === outer.length && outer.every((d, i) => d === s[i]);
  const single = (s: number[]) => s.slice(0, -2).every((d) => d === 1);
  if (!(single(b.shape) || single(a.shape) || (sameOuter(a.shape) && sameOuter(b.shape)))) {
    return undefined;
  }
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
    } else if (batchA === 1 && batchB > 1) {
      out = perMatrix(be, a3, b3, m, kA, n, batchB, run);
    } else {
      out = perMatrix(be, a3, b3, m, kA, n, batchA, run);
    }
  } finally {
    be.disposeData(a3.dataId);
    be.disposeData(b3.dataId);
  }
  return { out, outShape };
}

/** One fast product per matrix of the batch, copied in and out of single-matrix buffers. */
function perMatrix(
  be: WasmBackendLike,
  a3: TensorInfo,
  b3: TensorInfo,
  m: number,
  k: number,
  n: number,
  batch: number,
  run: (a: TensorInfo, b: TensorInfo) => TensorInfo,
): TensorInfo {
  const out = be.makeOutput([batch, m, n], "float32");
  const ai = be.makeOutput([1, m, k], "float32");
  const bi = be.makeOutput([1, k, n], "float32");
  try {
    for (let i = 0; i < batch; i++) {
      const ia = a3.shape[0] === 1 ? 0 : i;
      const ib = b3.shape[0] === 1 ? 0 : i;
      f32View(be, ai).set(f32View(be, a3).subarray(ia * m * k, (ia + 1) * m * k));
      f32View(be, bi).set(f32View(be, b3).subarray(ib * k * n, (ib + 1) * k * n));
      const ci = run(ai, bi);
      f32View(be, out).set(f32View(be, ci), i * m * n);
      be.disposeData(ci.dataId);
    }
  } finally {
    be.disposeData(ai.dataId);
    be.disposeData(bi.dataId);
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
 * // after `await tf.setBackend("wasm")`:
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
  const plain = { transposeA: false, transposeB: false } as NamedAttrMap;
  const p = product(
    be,
    a,
    b,
    transposeA,
    transposeB,
    (a3, b3) => runWasmKernel(be, "BatchMatMul", { a: a3, b: b3 }, plain),
  );
  if (p === undefined) return runWasmKernel(be, "BatchMatMul", { a, b }, attrs ?? {});
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
 * // after `await tf.setBackend("wasm")`:
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
  if (p === undefined) {
    return runWasmKernel(be, "_FusedMatMul", { a, b, ...extra }, attrs ?? {});
  }
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
