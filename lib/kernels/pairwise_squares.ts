/**
 * `SimlearnPairwiseSquares`: all squared differences `Σₖ (aᵢₖ − bⱼₖ)²` of the rows of `a`
 * (`[n, d]`) against the rows of `b` (`[m, d]`), optionally weighted (`Σₖ (aᵢₖ − bⱼₖ)²·wₖ`),
 * as one kernel instead of tfjs's `Sub` of broadcast rows, `Square`, (`Multiply`,) `Sum` over
 * the last axis: no `[n, m, d]` tensor, one engine call. Each value has the bits of those ops on
 * the wasm backend (every sum in `k` order in float32, no fused multiply-add), so the exact
 * distances of `_squared_distances.ts` are unchanged, only cheaper. Registered on `wasm` by
 * `registerWasmTrainingKernels`; elsewhere {@link pairwiseSquares} takes tfjs's ops.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { f32View, type WasmBackendLike } from "./wasm_util.ts";
import { heapOffset, simdFor, tasksFor } from "./simd_ops.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";

/** Name of the kernel (inputs `a` `[n, d]`, `b` `[m, d]`, optional `w` `[d]`; output `[n, m]`). */
export const PAIRWISE_SQUARES_KERNEL = "SimlearnPairwiseSquares";

/** Checks the inputs; returns `[n, m, d]`. */
function dims(a: TensorInfo, b: TensorInfo, w: TensorInfo | undefined): [number, number, number] {
  const ok = (t: TensorInfo) => t.dtype === "float32";
  if (
    !ok(a) || !ok(b) || a.shape.length !== 2 || b.shape.length !== 2 ||
    a.shape[1] !== b.shape[1] ||
    (w !== undefined && (!ok(w) || w.shape.length !== 1 || w.shape[0] !== a.shape[1]))
  ) {
    throw new TypeError(
      `${PAIRWISE_SQUARES_KERNEL}: a [n, d], b [m, d] and w [d] must be float32, got a ` +
        `[${a.shape}] ${a.dtype}, b [${b.shape}] ${b.dtype}` +
        (w === undefined ? "" : `, w [${w.shape}] ${w.dtype}`),
    );
  }
  return [a.shape[0], b.shape[0], a.shape[1]];
}

/**
 * The same sums in JavaScript, rounding every operation to float32 as the SIMD lanes do (the
 * route without relaxed SIMD).
 */
function pairSquaresLoop(
  a: Float32Array,
  bt: Float32Array,
  out: Float32Array,
  n: number,
  d: number,
  m: number,
  w: Float32Array | undefined,
): void {
  const f = Math.fround;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let acc = 0;
      for (let k = 0; k < d; k++) {
        const diff = f(a[i * d + k] - bt[k * m + j]);
        const sq = f(diff * diff);
        acc = f(acc + (w === undefined ? sq : f(sq * w[k])));
      }
      out[i * m + j] = acc;
    }
  }
}

/**
 * Kernel function of {@link PAIRWISE_SQUARES_KERNEL} for the wasm backend: rows split between
 * the kernel threads (the same bits at any thread count), in SIMD where the engine has it.
 *
 * @throws TypeError when the inputs are not float32 `a [n, d]`, `b [m, d]` (and `w [d]`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { PAIRWISE_SQUARES_KERNEL } from "./pairwise_squares.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const a = tf.tensor2d([[0, 0], [1, 1]]);
 * const b = tf.tensor2d([[3, 4]]);
 * const d2 = tf.engine().runKernel(PAIRWISE_SQUARES_KERNEL, { a, b }) as tf.Tensor;
 * assert.deepEqual(d2.arraySync(), [[25], [13]]);
 * ```
 */
export const pairwiseSquaresWasm: KernelFunc = ({ inputs, backend }) => {
  const be = backend as WasmBackendLike;
  const { a, b, w } = inputs;
  if (a === undefined || b === undefined) {
    throw new TypeError(`${PAIRWISE_SQUARES_KERNEL}: inputs a and b are required`);
  }
  const [n, m, d] = dims(a, b, w);
  const out = be.makeOutput([n, m], "float32");
  if (n === 0 || m === 0) return out;
  // b transposed, so that four columns j are one vector load for each k.
  const bt = be.makeOutput([d, m], "float32");
  try {
    {
      const src = f32View(be, b);
      const dst = f32View(be, bt);
      for (let j = 0; j < m; j++) {
        for (let k = 0; k < d; k++) dst[k * m + j] = src[j * d + k];
      }
    }
    const par = simdFor(be) === undefined ? undefined : parallelFor(be);
    if (par === undefined) {
      pairSquaresLoop(
        f32View(be, a),
        f32View(be, bt),
        f32View(be, out),
        n,
        d,
        m,
        w === undefined ? undefined : f32View(be, w),
      );
      return out;
    }
    const fn = par.fn("pairSquares");
    const [ap, btp, op] = [heapOffset(be, a), heapOffset(be, bt), heapOffset(be, out)];
    const wp = w === undefined ? 0 : heapOffset(be, w);
    par.run(
      splitRange(n, tasksFor(par, n * m * d, n)).filter(([r0, r1]) => r1 > r0).map(([r0, r1]) =>
        new Program().call(fn, ap + r0 * d * 4, btp, op + r0 * m * 4, r1 - r0, d, m, wp)
      ),
    );
    return out;
  } finally {
    be.disposeData(bt.dataId);
  }
};

/**
 * Kernel registration record of {@link pairwiseSquaresWasm}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { pairwiseSquaresConfig } from "./pairwise_squares.ts";
 * tf.registerKernel(pairwiseSquaresConfig);
 * assert.equal(tf.getKernel("SimlearnPairwiseSquares", "wasm"), pairwiseSquaresConfig);
 * ```
 */
export const pairwiseSquaresConfig: KernelConfig = {
  kernelName: PAIRWISE_SQUARES_KERNEL,
  backendName: "wasm",
  kernelFunc: pairwiseSquaresWasm,
};

/**
 * `Σₖ (aᵢₖ − bⱼₖ)²` (times `wₖ` inside the sum when `w` is given) for every row `i` of `a` and
 * `j` of `b` as one {@link PAIRWISE_SQUARES_KERNEL} call, where the current backend has the
 * kernel (`wasm` after `registerWasmTrainingKernels`) and the inputs are float32; otherwise
 * `undefined`, and the caller takes tfjs's ops (`_squared_distances.ts` does, in row blocks).
 * No gradient: callers wrap it in their own.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @param w `[d]` weights, optional
 * @returns `[n, m]`, or `undefined` where the kernel is not available
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * import { pairwiseSquares } from "./pairwise_squares.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * registerWasmTrainingKernels();
 * const d2 = pairwiseSquares(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0], [4, 6]]), tf.tensor1d([1, 2]));
 * assert.deepEqual(d2?.arraySync(), [[8, 41]]);
 * await initBackend("cpu");
 * assert.equal(pairwiseSquares(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0]])), undefined);
 * ```
 */
export function pairwiseSquares(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  w?: tf.Tensor1D,
): tf.Tensor2D | undefined {
  if (
    a.dtype !== "float32" || b.dtype !== "float32" || (w !== undefined && w.dtype !== "float32") ||
    tf.getKernel(PAIRWISE_SQUARES_KERNEL, tf.getBackend()) === undefined
  ) {
    return undefined;
  }
  const inputs: tf.NamedTensorMap = w === undefined ? { a, b } : { a, b, w };
  return tf.engine().runKernel(PAIRWISE_SQUARES_KERNEL, inputs) as tf.Tensor2D;
}
