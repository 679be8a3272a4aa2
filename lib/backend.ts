/**
 * Backend selection for TensorFlow.js: WebGPU on a real GPU, else the WebAssembly backend with the
 * project's training kernels, else the pure-JavaScript `cpu` backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  availableThreads,
  registerWasmTrainingKernels,
  setKernelThreads,
  shareWasmHeap,
} from "./kernels/mod.ts";

/** Backend names accepted by {@linkcode initBackend}. */
export type BackendName = "auto" | "webgpu" | "wasm" | "cpu";

/** The backends {@linkcode initBackend} accepts, in the order `"auto"` tries them. */
export const BACKEND_NAMES: readonly BackendName[] = ["auto", "webgpu", "wasm", "cpu"];

/** What {@linkcode initBackend} chose. */
export interface BackendInfo {
  /** The active tfjs backend: `"webgpu"`, `"wasm"` or `"cpu"`. */
  backend: string;
  /** A description of the GPU adapter when the backend is WebGPU. */
  adapter?: string;
  /** Kernels the project registered for this backend (for example `Conv2DBackpropFilter`). */
  kernels: string[];
  /**
   * CPU threads the training kernels run on: on `wasm` the calling thread plus worker threads
   * sharing the backend's heap; 1 on `cpu` (single-threaded) and on `webgpu` (the GPU computes).
   */
  threads: number;
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /**
   * Threads for the wasm training kernels, the calling thread included: a positive integer, at
   * most 64. Default: all cores (`navigator.hardwareConcurrency`). Results are the same numbers
   * whatever the count.
   */
  threads?: number;
}

/** The facts about a WebGPU adapter that backend selection depends on. */
export interface AdapterProbe {
  /** True for software adapters such as Mesa llvmpipe. */
  isFallbackAdapter: boolean;
  /** Vendor, architecture and device, as far as the adapter reports them. */
  description: string;
}

/**
 * Decides whether an adapter is a real GPU that `"auto"` may choose. Software (fallback)
 * adapters such as llvmpipe are never chosen: they are slower than the wasm backend.
 *
 * @example
 * ```ts
 * import { isUsableGpu } from "./backend.ts";
 * isUsableGpu({ isFallbackAdapter: true, description: "llvmpipe" }); // false
 * ```
 */
export function isUsableGpu(probe: AdapterProbe | undefined): boolean {
  if (!probe) return false;
  if (probe.isFallbackAdapter) return false;
  // Some drivers do not set the flag on software rasterisers; catch the known names.
  return !/llvmpipe|lavapipe|swiftshader|softpipe/i.test(probe.description);
}

// deno-lint-ignore no-explicit-any
type AnyAdapter = any;

/**
 * Asks the runtime for a WebGPU adapter and describes it, or returns `undefined` when WebGPU is
 * absent (no `navigator.gpu`, no adapter, or an error while asking).
 *
 * @example
 * ```ts
 * import { probeWebGpuAdapter } from "./backend.ts";
 * const probe = await probeWebGpuAdapter();
 * console.log(probe?.description ?? "no WebGPU adapter");
 * ```
 */
export async function probeWebGpuAdapter(): Promise<AdapterProbe | undefined> {
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return undefined;
  let adapter: AnyAdapter;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return undefined;
  }
  if (!adapter) return undefined;
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) =>
    typeof s === "string" && s.length > 0
  );
  return {
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    description: parts.join(" ") || "unknown adapter",
  };
}

/**
 * Chooses the backend that `"auto"` resolves to, given what is available.
 *
 * @param probe The WebGPU adapter, if any.
 * @param wasmAvailable Whether the wasm backend could be initialised.
 * @returns `"webgpu"` on a real GPU, else `"wasm"`, else `"cpu"`.
 * @example
 * ```ts
 * import { chooseAutoBackend } from "./backend.ts";
 * chooseAutoBackend({ isFallbackAdapter: true, description: "llvmpipe" }, true); // "wasm"
 * ```
 */
export function chooseAutoBackend(
  probe: AdapterProbe | undefined,
  wasmAvailable: boolean,
): "webgpu" | "wasm" | "cpu" {
  if (isUsableGpu(probe)) return "webgpu";
  return wasmAvailable ? "wasm" : "cpu";
}

let webgpuLoaded = false;
async function loadWebGpu(): Promise<void> {
  if (webgpuLoaded) return;
  await import("@tensorflow/tfjs-backend-webgpu");
  webgpuLoaded = true;
}

async function activate(name: "webgpu" | "wasm" | "cpu"): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * Validates a backend name from a command line or environment variable.
 *
 * @throws Error naming the allowed values when `value` is not one of them.
 * @example
 * ```ts
 * import { parseBackendName } from "./backend.ts";
 * parseBackendName("wasm"); // "wasm"
 * ```
 */
export function parseBackendName(value: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(
    `backend: unknown backend "${value}"; expected one of ${BACKEND_NAMES.join(", ")}`,
  );
}

/**
 * Initialises TensorFlow.js on the requested backend and registers the project's kernels.
 *
 * `"auto"` (the default) picks WebGPU only on a real GPU adapter (never a fallback adapter such as
 * llvmpipe), else wasm, else cpu. An explicit name that cannot be initialised throws.
 *
 * On wasm the training kernels run on `options.threads` threads (default: all cores) that share
 * the backend's heap; this needs the heap to be set up before the wasm backend is first
 * initialised, which `initBackend` does — if something initialised the wasm backend earlier, the
 * kernels run on one thread and `threads` says 1. Calling `initBackend` again changes the count.
 *
 * @param name `"auto" | "webgpu" | "wasm" | "cpu"`.
 * @param options `threads` for the wasm kernels.
 * @returns The backend in use, the adapter for WebGPU, the kernels registered and the threads.
 * @throws RangeError when `options.threads` is not an integer in [1, 64].
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * const { backend, threads } = await initBackend("wasm", { threads: 2 });
 * console.log(backend, threads); // "wasm" 2 (1 if the wasm heap could not be shared)
 * ```
 */
export async function initBackend(
  name: BackendName = "auto",
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  parseBackendName(name);
  const threads = options.threads ?? availableThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new RangeError(
      `initBackend: options.threads must be an integer from 1 to 64, got ${options.threads}`,
    );
  }
  // Before anything can initialise the wasm backend: give it a heap that threads can share.
  shareWasmHeap();
  let target: "webgpu" | "wasm" | "cpu";
  let probe: AdapterProbe | undefined;
  if (name === "auto" || name === "webgpu") {
    probe = await probeWebGpuAdapter();
  }
  if (name === "auto") {
    target = chooseAutoBackend(probe, true);
  } else {
    target = name;
  }
  if (target === "webgpu") {
    if (!probe) throw new Error("backend: webgpu requested but no WebGPU adapter is available");
    await loadWebGpu();
    if (!(await activate("webgpu"))) {
      if (name === "webgpu") throw new Error("backend: the webgpu backend failed to initialise");
      target = "wasm";
    } else {
      return { backend: "webgpu", adapter: probe.description, kernels: [], threads: 1 };
    }
  }
  if (target === "wasm") {
    if (await activate("wasm")) {
      const kernels = registerWasmTrainingKernels();
      return { backend: "wasm", kernels, threads: await setKernelThreads(threads) };
    }
    if (name === "wasm") throw new Error("backend: the wasm backend failed to initialise");
  }
  if (!(await activate("cpu"))) throw new Error("backend: the cpu backend failed to initialise");
  return { backend: "cpu", kernels: [], threads: 1 };
}

/**
 * Reads the backend to use from `--backend` in `args` or the `SIMLEARN_BACKEND` environment
 * variable, defaulting to `"auto"`.
 *
 * @example
 * ```ts
 * import { backendFromArgs } from "./backend.ts";
 * backendFromArgs(["--backend", "cpu"]); // "cpu"
 * ```
 */
export function backendFromArgs(args: readonly string[]): BackendName {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--backend") {
      if (i + 1 >= args.length) throw new Error("--backend: missing value");
      return parseBackendName(args[i + 1]);
    }
    if (args[i].startsWith("--backend=")) return parseBackendName(args[i].slice(10));
  }
  let env: string | undefined;
  try {
    env = Deno.env.get("SIMLEARN_BACKEND");
  } catch {
    env = undefined;
  }
  return env ? parseBackendName(env) : "auto";
}
