/**
 * A kernel the wasm backend of tfjs 4.22 lacks and the benchmark needs: `UnsortedSegmentSum`,
 * the gradient of `tf.gather` (used by the losses that take mined tuples, e.g. the triplet loss
 * with a miner and the N-pair loss). Without it, training those losses on `wasm` fails with
 * "Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'".
 *
 * This belongs with the project's wasm kernels (`lib/kernels/`); it lives here until it moves
 * there, and {@linkcode ensureWasmSegmentSum} registers it only when the backend has none.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelFunc } from "@tensorflow/tfjs";
import { f32View, type WasmBackendLike } from "../kernels/wasm_util.ts";

/**
 * `out[s, :] = Σ_{i : ids[i] = s} x[i, :]` for `s` in `[0, numSegments)`; ids outside that range
 * are dropped (TensorFlow's rule). `x` is `[rows, inner]` row-major; accumulates in float32, in
 * row order, as tfjs's cpu backend does.
 *
 * @example
 * ```ts
 * import { segmentSum } from "./wasm_gaps.ts";
 * const out = new Float32Array(4);
 * segmentSum(Float32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(1, 0, 1), 2, out); // [3, 4, 6, 8]
 * ```
 */
export function segmentSum(
  x: Float32Array,
  ids: ArrayLike<number>,
  inner: number,
  out: Float32Array,
): void {
  out.fill(0);
  const segments = out.length / inner;
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= segments) continue;
    const src = i * inner, dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

/**
 * Kernel function of `UnsortedSegmentSum` for the wasm backend (inputs `x` float32 and
 * `segmentIds` int32 whose shape is a prefix of `x`'s, attribute `numSegments`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ensureWasmSegmentSum } from "./wasm_gaps.ts";
 * // after `await tf.setBackend("wasm")`:
 * ensureWasmSegmentSum();
 * tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3]), tf.tensor1d([1, 0, 1], "int32"), 2); // [2, 4]
 * ```
 */
export const unsortedSegmentSumWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike & { readSync(dataId: object): ArrayLike<number> };
  const { x, segmentIds } = inputs;
  if (!x || !segmentIds) throw new Error("UnsortedSegmentSum: inputs x and segmentIds required");
  if (x.dtype !== "float32") {
    throw new Error(`UnsortedSegmentSum (wasm): only float32 x is supported, got ${x.dtype}`);
  }
  const numSegments = Number(attrs?.numSegments);
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer`);
  }
  const idRank = segmentIds.shape.length;
  if (segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] is not a prefix of x [${x.shape}]`,
    );
  }
  const rest = x.shape.slice(idRank);
  const inner = rest.reduce((p, d) => p * d, 1);
  const ids = Int32Array.from(be.readSync(segmentIds.dataId));
  const out = be.makeOutput([numSegments, ...rest], "float32");
  // Views after the last allocation (makeOutput may grow the heap).
  segmentSum(f32View(be, x), ids, inner, f32View(be, out));
  return out;
};

/**
 * Registers {@linkcode unsortedSegmentSumWasm} on `wasm` when that backend is active and has no
 * `UnsortedSegmentSum` of its own (or of the project's); otherwise does nothing. Idempotent.
 *
 * @returns whether the kernel is (now) ours.
 * @example
 * ```ts
 * import { ensureWasmSegmentSum } from "./wasm_gaps.ts";
 * ensureWasmSegmentSum(); // false unless the wasm backend is active
 * ```
 */
export function ensureWasmSegmentSum(): boolean {
  if (tf.getBackend() !== "wasm") return false;
  const existing = tf.getKernel("UnsortedSegmentSum", "wasm");
  if (existing) return existing.kernelFunc === unsortedSegmentSumWasm;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: unsortedSegmentSumWasm,
  });
  return true;
}
