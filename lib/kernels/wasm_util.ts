/**
 * Shared plumbing for the kernels we register on TensorFlow.js's `wasm` backend: a structural
 * type for the backend object, typed views on its heap, calls into the backend's own kernels,
 * and a few checks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { DataType, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";

/** The part of one entry of the wasm backend's `dataIdMap` that our kernels read. */
export interface WasmTensorData {
  /** Integer id the C++ side knows the tensor by. */
  id: number;
  /** Byte offset of the tensor's first element in the wasm heap. */
  memoryOffset: number;
  /** Shape recorded by the backend. */
  shape: number[];
  /** Element type. */
  dtype: DataType;
  /** Reference count kept by the backend. */
  refCount: number;
}

/**
 * The members of `@tensorflow/tfjs-backend-wasm`'s `BackendWasm` that our kernels use, typed
 * structurally so that this module does not import (and thereby register) the wasm backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const backend = tf.backend() as unknown as WasmBackendLike;
 * console.log(backend.wasm.HEAPU8.length);
 * ```
 */
export interface WasmBackendLike {
  /**
   * The Emscripten module; `HEAPU8` is replaced when the heap grows; `asm.memory` is the
   * `WebAssembly.Memory` behind it.
   */
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: unknown } };
  /** Book-keeping of tensors living on the wasm heap. */
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  /** Allocates an output tensor of `shape` on the wasm heap (uninitialised memory). */
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  /** Adds a reference to the storage of `dataId`. */
  incRef(dataId: object): void;
  /** Releases a tensor created with `makeOutput` or returned by a kernel. */
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * A `Float32Array` view on the wasm heap for the float32 tensor `t`, `[size(t.shape)]`.
 * The view is detached when the heap grows: take it after the last allocation.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { f32View, type WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const backend = tf.backend() as unknown as WasmBackendLike;
 * const t = tf.tensor1d([1, 2, 3]);
 * console.log(f32View(backend, t)[1]); // 2
 * ```
 */
export function f32View(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error("f32View: tensor is not on the wasm backend");
  if (data.dtype !== "float32") {
    throw new Error(`f32View: expected a float32 tensor, got ${data.dtype}`);
  }
  let size = 1;
  for (const d of t.shape) size *= d;
  return new Float32Array(backend.wasm.HEAPU8.buffer, data.memoryOffset, size);
}

/**
 * Same storage as `t`, seen with another `shape` of equal size (the backend's Reshape does the
 * same: it shares the data id). The caller must dispose the result (it holds a reference).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { reshapeInfo, type WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const backend = tf.backend() as unknown as WasmBackendLike;
 * const t = tf.zeros([2, 3]);
 * const r = reshapeInfo(backend, t, [3, 2]); // shape [3, 2]
 * backend.disposeData(r.dataId);
 * ```
 */
export function reshapeInfo(
  backend: WasmBackendLike,
  t: TensorInfo,
  shape: number[],
): TensorInfo {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error("reshapeInfo: tensor is not on the wasm backend");
  data.refCount++;
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/**
 * Records `shape` for an output created by this module, both in the returned info and in the
 * backend's book-keeping (some wasm kernels read the shape from there).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { withShape, type WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const backend = tf.backend() as unknown as WasmBackendLike;
 * const out = withShape(backend, backend.makeOutput([6], "float32"), [2, 3]); // shape [2, 3]
 * backend.disposeData(out.dataId);
 * ```
 */
export function withShape(backend: WasmBackendLike, t: TensorInfo, shape: number[]): TensorInfo {
  const data = backend.dataIdMap.get(t.dataId);
  if (data !== undefined) data.shape = shape;
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Kernel functions of the wasm backend as they were before we replaced any, by kernel name. */
const originals = new Map<string, KernelFunc>();

/**
 * Remembers the backend's own kernel function for `kernelName` (called once, before replacing).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { rememberOriginal } from "./wasm_util.ts";
 * const k = tf.getKernel("Transpose", "wasm");
 * if (k) rememberOriginal("Transpose", k.kernelFunc);
 * ```
 */
export function rememberOriginal(kernelName: string, fn: KernelFunc): void {
  if (!originals.has(kernelName)) originals.set(kernelName, fn);
}

/**
 * Runs the wasm backend's own kernel `kernelName` (the one it shipped with, even if we replaced
 * it) on tensor infos living on `backend`; returns its output, which the caller owns.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { runWasmKernel, type WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const backend = tf.backend() as unknown as WasmBackendLike;
 * const a = tf.ones([1, 2, 3]);
 * const b = tf.ones([1, 3, 4]);
 * const c = runWasmKernel(backend, "BatchMatMul", { a, b }, {
 *   transposeA: false,
 *   transposeB: false,
 * }); // shape [1, 2, 4]
 * backend.disposeData(c.dataId);
 * ```
 */
export function runWasmKernel(
  backend: WasmBackendLike,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  let fn = originals.get(kernelName);
  if (fn === undefined) {
    const k = tf.getKernel(kernelName, "wasm");
    if (k === undefined) throw new Error(`wasm kernel '${kernelName}' is not registered`);
    fn = k.kernelFunc;
  }
  const out = fn({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`kernel '${kernelName}' returned several outputs`);
  return out;
}

/**
 * Product of a shape's dimensions.
 *
 * @example
 * ```ts
 * import { sizeOf } from "./wasm_util.ts";
 * sizeOf([2, 3, 4]); // 24
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Throws unless `t` is a float32 tensor of rank `rank`; `what` names the kernel and argument.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkFloat } from "./wasm_util.ts";
 * checkFloat(tf.zeros([1, 2, 2, 1]), 4, "Conv2DBackpropFilter: x"); // ok
 * ```
 */
export function checkFloat(t: TensorInfo | undefined, rank: number, what: string): TensorInfo {
  if (t === undefined) throw new Error(`${what} is missing`);
  if (t.dtype !== "float32") throw new Error(`${what} must be float32, got ${t.dtype}`);
  if (t.shape.length !== rank) {
    throw new Error(`${what} must have rank ${rank}, got shape [${t.shape}]`);
  }
  return t;
}
