/**
 * Comparisons (`Equal`, `NotEqual`, `Greater`, `GreaterEqual`, `Less`, `LessEqual`) and `Select`
 * for the wasm backend, as plain loops over the heap. The backend's own kernels walk a broadcast
 * element by element through index arithmetic: `Equal` of `[128, 128]` against `[128, 1]`,
 * which the gradient of every `tf.max`/`tf.min` over rows computes, took about 2 ms (a fifth of a
 * SupCon step), `Greater` against a scalar 0.18 ms. Here the last axis is the inner loop and the
 * broadcast is a zero stride: about 20 µs. Results are exact (IEEE comparisons, NaN unequal to
 * everything), the same as the backend's. Float32 or int32 operands of one dtype; anything else
 * (bool, complex) goes to the backend's own kernel.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { runWasmKernel, sizeOf, type WasmBackendLike } from "./wasm_util.ts";

type Typed = Float32Array | Int32Array | Uint8Array;

/** A typed view of `t`'s elements on the heap (float32, int32 or bool). */
function view(be: WasmBackendLike, t: TensorInfo): Typed {
  const d = be.dataIdMap.get(t.dataId);
  if (d === undefined) throw new Error("compare: tensor is not on the wasm backend");
  const n = sizeOf(t.shape);
  const buf = be.wasm.HEAPU8.buffer;
  if (t.dtype === "float32") return new Float32Array(buf, d.memoryOffset, n);
  if (t.dtype === "int32") return new Int32Array(buf, d.memoryOffset, n);
  return new Uint8Array(buf, d.memoryOffset, n);
}

/**
 * Calls `body(o, i, j, len, si, sj)` for each run of the last axis of the broadcast of shapes
 * `a` and `b`: output offset `o`, operand offsets `i`, `j`, `len` elements, operand strides
 * along the run `si`, `sj` (0 where broadcast). Returns the output shape.
 */
function broadcastRuns(
  a: readonly number[],
  b: readonly number[],
  body: (o: number, i: number, j: number, len: number, si: number, sj: number) => void,
): number[] {
  const out = tf.backend_util.assertAndGetBroadcastShape([...a], [...b]);
  const r = out.length;
  const pad = (s: readonly number[]) => [...new Array(r - s.length).fill(1), ...s];
  const pa = pad(a), pb = pad(b);
  const strides = (s: number[]) => {
    const st = new Array(r).fill(0);
    let acc = 1;
    for (let k = r - 1; k >= 0; k--) {
      st[k] = s[k] === 1 ? 0 : acc;
      acc *= s[k];
    }
    return st;
  };
  const sa = strides(pa), sb = strides(pb);
  const total = sizeOf(out);
  if (total === 0) return out;
  if (r === 0) {
    body(0, 0, 0, 1, 0, 0);
    return out;
  }
  const len = out[r - 1];
  const idx = new Array(r).fill(0);
  let i = 0, j = 0;
  for (let o = 0; o < total; o += len) {
    body(o, i, j, len, sa[r - 1], sb[r - 1]);
    // Next run: advance the counters of the outer axes.
    for (let k = r - 2; k >= 0; k--) {
      idx[k]++;
      i += sa[k], j += sb[k];
      if (idx[k] < out[k]) break;
      i -= sa[k] * out[k], j -= sb[k] * out[k];
      idx[k] = 0;
    }
  }
  return out;
}

/** One run of a comparison: `z[o + k] = x[i + k·si] ⋄ y[j + k·sj]` for `k < len`. */
type Run = (
  z: Uint8Array,
  o: number,
  x: Typed,
  i: number,
  y: Typed,
  j: number,
  len: number,
  si: number,
  sj: number,
) => void;

// One function per comparison, so that each inner loop stays monomorphic.
const RUNS: Record<string, Run> = {
  Equal: (z, o, x, i, y, j, len, si, sj) => {
    for (let k = 0; k < len; k++, i += si, j += sj) z[o + k] = x[i] === y[j] ? 1 : 0;
  },
  NotEqual: (z, o, x, i, y, j, len, si, sj) => {
    for (let k = 0; k < len; k++, i += si, j += sj) z[o + k] = x[i] !== y[j] ? 1 : 0;
  },
  Greater: (z, o, x, i, y, j, len, si, sj) => {
    for (let k = 0; k < len; k++, i += si, j += sj) z[o + k] = x[i] > y[j] ? 1 : 0;
  },
  GreaterEqual: (z, o, x, i, y, j, len, si, sj) => {
    for (let k = 0; k < len; k++, i += si, j += sj) z[o + k] = x[i] >= y[j] ? 1 : 0;
  },
  Less: (z, o, x, i, y, j, len, si, sj) => {
    for (let k = 0; k < len; k++, i += si, j += sj) z[o + k] = x[i] < y[j] ? 1 : 0;
  },
  LessEqual: (z, o, x, i, y, j, len, si, sj) => {
    for (let k = 0; k < len; k++, i += si, j += sj) z[o + k] = x[i] <= y[j] ? 1 : 0;
  },
};

/** The comparison kernel `name`. */
function comparison(name: string): KernelFunc {
  const loop = RUNS[name];
  return ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackendLike;
    const { a, b } = inputs;
    if (a === undefined || b === undefined) throw new Error(`${name}: inputs a and b are required`);
    if (a.dtype !== b.dtype || (a.dtype !== "float32" && a.dtype !== "int32")) {
      return runWasmKernel(be, name, { a, b }, attrs ?? {});
    }
    const shape = tf.backend_util.assertAndGetBroadcastShape([...a.shape], [...b.shape]);
    const out = be.makeOutput(shape, "bool");
    // Views after the last allocation (the heap may have grown).
    const x = view(be, a), y = view(be, b), z = view(be, out) as Uint8Array;
    broadcastRuns(a.shape, b.shape, (o, i, j, len, si, sj) => loop(z, o, x, i, y, j, len, si, sj));
    return out;
  };
}

/**
 * Kernel functions of the comparisons for the wasm backend (inputs `a`, `b` of one dtype,
 * float32 or int32, broadcast as NumPy does; output bool).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const x = tf.tensor2d([[1, 5], [NaN, 2]]);
 * assert.deepEqual(tf.equal(x, tf.max(x, 1, true)).arraySync(), [[0, 1], [0, 0]]); // NaN ≠ NaN
 * assert.deepEqual(tf.greater(x, 1).arraySync(), [[0, 1], [0, 1]]);
 * ```
 */
export const comparisonWasm: Readonly<Record<string, KernelFunc>> = Object.fromEntries(
  Object.keys(RUNS).map((name) => [name, comparison(name)]),
);

/**
 * Kernel function of `Select` (`tf.where`) for the wasm backend: a bool `condition` of the
 * shape of `t` and `e` (which tfjs broadcasts before the kernel), float32 or int32 values, in one
 * loop; other cases (a rank-1 condition choosing rows) go to the backend's own kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const c = tf.tensor1d([1, 0, 1], "bool");
 * assert.deepEqual(tf.where(c, tf.tensor1d([1, 2, 3]), tf.tensor1d([-1, -2, -3])).arraySync(), [1, -2, 3]);
 * ```
 */
export const selectWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const { condition, t, e } = inputs;
  if (condition === undefined || t === undefined || e === undefined) {
    throw new Error("Select: inputs condition, t and e are required");
  }
  const n = sizeOf(t.shape);
  if (
    condition.dtype !== "bool" || t.dtype !== e.dtype ||
    (t.dtype !== "float32" && t.dtype !== "int32") || sizeOf(condition.shape) !== n ||
    sizeOf(e.shape) !== n || condition.shape.length !== t.shape.length
  ) {
    return runWasmKernel(be, "Select", { condition, t, e }, attrs ?? {});
  }
  const out = be.makeOutput([...t.shape], t.dtype);
  const c = view(be, condition), x = view(be, t), y = view(be, e), z = view(be, out);
  for (let k = 0; k < n; k++) z[k] = c[k] ? x[k] : y[k];
  return out;
};

/** Registration records of this module's kernels. */
export const compareConfigs: KernelConfig[] = [
  ...Object.entries(comparisonWasm).map(([kernelName, kernelFunc]) => ({
    kernelName,
    backendName: "wasm",
    kernelFunc,
  })),
  { kernelName: "Select", backendName: "wasm", kernelFunc: selectWasm },
];
