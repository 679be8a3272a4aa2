/**
 * `UnsortedSegmentSum` for the wasm backend, which tfjs 4.22 lacks. It is the gradient of
 * `tf.gather`, so without it the losses that take mined tuples (the triplet loss with a miner, the
 * N-pair loss) cannot train on wasm ("Kernel 'UnsortedSegmentSum' not registered for backend
 * 'wasm'").
 *
 * @module
 */
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";
import { f32View, type WasmBackendLike } from "./wasm_util.ts";

/**
 * `out[s, :] = Σ_{i : ids[i] = s} x[i, :]` for `s` in `[0, numSegments)`; ids outside that range
 * are dropped (TensorFlow's rule). `x` is `[rows, inner]` row-major; accumulates in float32, in
 * row order, as tfjs's cpu backend does.
 *
 * @example
 * ```ts
 * import { segmentSum } from "./unsorted_segment_sum.ts";
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
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
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

/** Registration record of {@linkcode unsortedSegmentSumWasm}. */
export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: "UnsortedSegmentSum",
  backendName: "wasm",
  kernelFunc: unsortedSegmentSumWasm,
};
