/**
 * `GatherV2` (`tf.gather`) for the wasm backend as one loop over the heap. The backend's own
 * kernel first checks every index through a call that builds a closure per index, which made a
 * triplet loss's gathers (about 177,000 indices at batch 128) take 0.8 ms each. Same results
 * (a copy), same error for an index outside the axis, any dtype of 1 or 4 bytes, `axis` and
 * `batchDims` as tfjs defines them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { runWasmKernel, sizeOf, type WasmBackendLike } from "./wasm_util.ts";

/** A view of `t`'s elements: 4-byte dtypes as Int32Array (a bit copy), bool as Uint8Array. */
function view(be: WasmBackendLike, t: TensorInfo): Int32Array | Uint8Array {
  const d = be.dataIdMap.get(t.dataId);
  if (d === undefined) throw new Error("GatherV2: tensor is not on the wasm backend");
  const n = sizeOf(t.shape);
  const buf = be.wasm.HEAPU8.buffer;
  return t.dtype === "bool"
    ? new Uint8Array(buf, d.memoryOffset, n)
    : new Int32Array(buf, d.memoryOffset, n);
}

/**
 * Kernel function of `GatherV2` for the wasm backend (inputs `x`, `indices` int32; attributes
 * `axis`, `batchDims`).
 *
 * @throws Error `GatherV2: the index value … is not in [0, …]` as tfjs's kernels do.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
 * assert.deepEqual(tf.gather(x, tf.tensor1d([2, 0, 2], "int32")).arraySync(), [[5, 6], [1, 2], [5, 6]]);
 * assert.deepEqual(tf.gather(x, tf.tensor1d([1], "int32"), 1).arraySync(), [[2], [4], [6]]);
 * ```
 */
export const gatherV2Wasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const { x, indices } = inputs;
  if (x === undefined || indices === undefined) {
    throw new Error("GatherV2: inputs x and indices are required");
  }
  const a = attrs as unknown as { axis: number; batchDims?: number };
  if (
    indices.dtype !== "int32" ||
    !(x.dtype === "float32" || x.dtype === "int32" || x.dtype === "bool")
  ) {
    return runWasmKernel(be, "GatherV2", { x, indices }, attrs ?? {});
  }
  const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
    x as tf.Tensor,
    indices as tf.Tensor,
    axis,
    a.batchDims ?? 0,
  );
  const { batchSize, outerSize, dimSize, sliceSize, outputShape } = info;
  const idx = view(be, indices) as Int32Array;
  for (let k = 0; k < idx.length; k++) {
    const index = idx[k];
    if (!(index <= dimSize - 1 && index >= 0)) {
      throw new Error(`GatherV2: the index value ${index} is not in [0, ${dimSize - 1}]`);
    }
  }
  const out = be.makeOutput(outputShape, x.dtype);
  if (sizeOf(x.shape) === 0 || sizeOf(outputShape) === 0) return out;
  // Views after the last allocation (the heap may have grown).
  const src = view(be, x), dst = view(be, out), ind = view(be, indices) as Int32Array;
  const perBatch = ind.length / batchSize;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < outerSize; r++) {
      const base = (b * outerSize + r) * dimSize;
      if (sliceSize === 1) {
        for (let i = 0; i < perBatch; i++) dst[o++] = src[base + ind[b * perBatch + i]];
      } else {
        for (let i = 0; i < perBatch; i++) {
          const from = (base + ind[b * perBatch + i]) * sliceSize;
          dst.set(src.subarray(from, from + sliceSize), o);
          o += sliceSize;
        }
      }
    }
  }
  return out;
};

/**
 * Kernel registration record of {@link gatherV2Wasm}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { gatherV2Config } from "./gather.ts";
 * tf.registerKernel(gatherV2Config);
 * assert.equal(tf.getKernel("GatherV2", "wasm"), gatherV2Config);
 * ```
 */
export const gatherV2Config: KernelConfig = {
  kernelName: "GatherV2",
  backendName: "wasm",
  kernelFunc: gatherV2Wasm,
};
