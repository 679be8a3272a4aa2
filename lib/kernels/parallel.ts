/**
 * The thread count of our wasm kernels and the object kernels split their work through.
 *
 * {@link setKernelThreads} starts (or stops) the worker threads on the backend's shared heap;
 * {@link parallelFor} gives a kernel the number of threads, the indices of the module's
 * functions and a `run` that executes a list of tasks ({@link Program}s) on the threads. Without
 * a shared heap (the wasm backend was initialised before `shareWasmHeap()`), or with one thread,
 * `run` executes the tasks one after another on the calling thread — same tasks, same results.
 *
 * @module
 */
import { MAX_THREADS, Program, runTasksHere, ThreadPool } from "./threads.ts";
import { type SimdInstance, simdInstance } from "./simd_module.ts";
import { MAX_HEAP_PAGES, sharedWasmHeap } from "./shared_heap.ts";
import type { WasmBackendLike } from "./wasm_util.ts";

export { Program };

let pool: ThreadPool | undefined;
let poolMemory: WebAssembly.Memory | undefined;
let requested = 1;

/**
 * The number of threads available to the machine (`navigator.hardwareConcurrency`, at least 1).
 *
 * @example
 * ```ts
 * import { availableThreads } from "./parallel.ts";
 * console.log(availableThreads()); // 2 on a two-core machine
 * ```
 */
export function availableThreads(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)
    ?.hardwareConcurrency;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 1;
}

/** The kernels on `memory`, choosing the shared-memory variant where needed. */
export function instanceFor(memory: WebAssembly.Memory): SimdInstance | undefined {
  return simdInstance(
    memory,
    memory.buffer instanceof SharedArrayBuffer ? MAX_HEAP_PAGES : undefined,
  );
}

/**
 * Sets the number of threads our wasm kernels use (the calling thread included) and starts or
 * stops worker threads accordingly; returns the number now in use, which is 1 when the backend's
 * heap is not shared (see `shareWasmHeap`) or the engine lacks relaxed SIMD.
 *
 * @param threads An integer from 1 to 64 (default: all cores, {@link availableThreads}).
 * @throws RangeError when `threads` is not such an integer.
 * @example
 * ```ts
 * import { setKernelThreads } from "./parallel.ts";
 * // after initBackend("wasm"):
 * const used = await setKernelThreads(2); // 2 where the heap is shared, else 1
 * ```
 */
export async function setKernelThreads(threads: number = availableThreads()): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(
      `setKernelThreads: threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`,
    );
  }
  requested = threads;
  const memory = sharedWasmHeap();
  if (pool !== undefined && (pool.size !== threads || poolMemory !== memory)) {
    pool.close();
    pool = undefined;
    poolMemory = undefined;
  }
  if (threads === 1 || memory === undefined) return 1;
  if (pool !== undefined) return pool.size;
  const inst = instanceFor(memory);
  if (inst === undefined) return 1;
  pool = await ThreadPool.start(threads, memory, inst.module, inst.instance, inst.names);
  poolMemory = memory;
  return pool.size;
}

/**
 * The number of threads our wasm kernels use now (1 without worker threads).
 *
 * @example
 * ```ts
 * import { kernelThreads } from "./parallel.ts";
 * console.log(kernelThreads());
 * ```
 */
export function kernelThreads(): number {
  return pool?.size ?? 1;
}

/**
 * The thread count last asked for with {@link setKernelThreads} (1 before any call).
 *
 * @example
 * ```ts
 * import { requestedKernelThreads } from "./parallel.ts";
 * console.log(requestedKernelThreads());
 * ```
 */
export function requestedKernelThreads(): number {
  return requested;
}

/** How a kernel runs work on the threads. */
export interface Parallel {
  /** Threads that may take the kernel's tasks (1: everything on the calling thread). */
  threads: number;
  /** Index of the module function `name`, for {@link Program.call}. */
  fn(name: string): number;
  /**
   * Runs every task once, on whichever thread takes it; thread `t`'s scratch area (for the
   * arguments marked by {@link Program.callScratch}) starts at byte `scratch + t·scratchBytes`.
   */
  run(tasks: Program[], scratch?: number, scratchBytes?: number): void;
}

const indexCache = new WeakMap<SimdInstance, Map<string, number>>();
const fnsCache = new WeakMap<SimdInstance, ((...a: number[]) => void)[]>();

/**
 * The {@link Parallel} for the backend's heap, or `undefined` without SIMD kernels.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { parallelFor } from "./parallel.ts";
 * import type { WasmBackendLike } from "./wasm_util.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const par = parallelFor(tf.backend() as unknown as WasmBackendLike);
 * console.log(par?.threads);
 * ```
 */
export function parallelFor(be: WasmBackendLike): Parallel | undefined {
  const memory = be.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  const inst = instanceFor(memory);
  if (inst === undefined) return undefined;
  let index = indexCache.get(inst);
  if (index === undefined) {
    index = new Map(inst.names.map((n, i) => [n, i]));
    indexCache.set(inst, index);
  }
  const idx = index;
  const fn = (name: string) => {
    const i = idx.get(name);
    if (i === undefined) throw new Error(`parallelFor: no kernel function '${name}'`);
    return i;
  };
  let fns = fnsCache.get(inst);
  if (fns === undefined) {
    fns = inst.names.map((n) => inst.instance.exports[n] as (...a: number[]) => void);
    fnsCache.set(inst, fns);
  }
  const here = fns;
  const p = pool;
  if (p !== undefined && poolMemory === memory) {
    return {
      threads: p.size,
      fn,
      // A single task runs here directly: no need to wake the workers.
      run: (tasks, scratch = 0, bytes) =>
        tasks.length <= 1 ? runTasksHere(tasks, here, scratch) : p.run(tasks, scratch, bytes),
    };
  }
  return { threads: 1, fn, run: (tasks, scratch = 0) => runTasksHere(tasks, here, scratch) };
}

/**
 * Splits `[0, total)` into `parts` contiguous ranges, the `i`-th being
 * `[⌊total·i/parts⌋, ⌊total·(i+1)/parts⌋)`, each boundary rounded down to a multiple of `align`
 * (the last range ends at `total`).
 *
 * @example
 * ```ts
 * import { splitRange } from "./parallel.ts";
 * splitRange(10, 2, 1); // [[0, 5], [5, 10]]
 * splitRange(10, 2, 6); // [[0, 0], [0, 10]]
 * ```
 */
export function splitRange(total: number, parts: number, align = 1): [number, number][] {
  const out: [number, number][] = [];
  let prev = 0;
  for (let i = 1; i <= parts; i++) {
    let end = i === parts ? total : Math.floor((total * i) / parts / align) * align;
    if (end < prev) end = prev;
    out.push([prev, end]);
    prev = end;
  }
  return out;
}
