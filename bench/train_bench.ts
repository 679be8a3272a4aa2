/**
 * The TensorFlow.js side of `deno task bench train`: the reference CNN and the MLP encoder, the
 * data both sides train on, a timed training loop per backend, a per-kernel profile of one step,
 * and the PyTorch comparator (`train_torch.py`, spawned with `/usr/bin/python3`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import process from "node:process";
import { setSimdDisabled } from "../lib/kernels/mod.ts";
import { applyGradients } from "../lib/kernels/adam.ts";
import { initBackend } from "../lib/backend.ts";
import {
  buildModel,
  localContrastiveLoss,
  type ModelKind,
  type PairLoss,
  syntheticImages,
} from "./train_models.ts";

export { buildModel, localContrastiveLoss, type ModelKind, type PairLoss };

/** Backends the benchmark knows: three of tfjs, and PyTorch on the CPU. */
export type BenchBackend = "wasm" | "torch" | "cpu" | "webgpu";

/** Images and labels both frameworks train on. */
export interface BenchData {
  /** `[n, 28, 28]` row-major, values in [0, 1]. */
  images: Float32Array;
  /** `[n]` class labels 0..9. */
  labels: Int32Array;
  /** Number of images. */
  n: number;
  /** Where the images come from. */
  source: string;
}

/** One measured configuration. */
export interface BenchResult {
  /** Backend measured. */
  backend: BenchBackend;
  /** Encoder trained. */
  model: ModelKind;
  /** Batch size. */
  batch: number;
  /** Timed steps. */
  steps: number;
  /** Wall time of the timed steps, seconds. */
  seconds: number;
  /** Training throughput (wall time). */
  imagesPerSecond: number;
  /** CPU time of the process during the timed steps, seconds. */
  cpuSeconds: number;
  /** Training throughput per CPU second (robust to other processes on a shared machine). */
  imagesPerCpuSecond: number;
  /** Mean wall time of a step, ms. */
  msPerStep: number;
  /** Loss of the first step (warm-up included). */
  lossFirst: number;
  /** Loss of the last step. */
  lossLast: number;
  /** CPU threads the framework trained on (tfjs: the wasm kernels' threads). */
  threads?: number;
  /** Free-form remarks (batch changes, versions). */
  note?: string;
}

/** Options of a timed run. */
export interface RunOptions {
  /** Encoder. */
  model: ModelKind;
  /** Batch size. */
  batch: number;
  /** Untimed steps first. */
  warmup: number;
  /** At most this many timed steps. */
  steps: number;
  /** Stop timing after this many seconds (at least one step). */
  seconds: number;
  /** Profiled steps whose per-kernel mean {@link profileStep} reports (default 5). */
  profileRuns?: number;
}

/**
 * The contrastive loss of `lib/losses` (PML defaults) when it loads, else
 * {@link localContrastiveLoss}; `source` says which.
 *
 * @example
 * ```ts
 * import { resolveLoss } from "./train_bench.ts";
 * const { source } = await resolveLoss();
 * console.log(source);
 * ```
 */
export async function resolveLoss(): Promise<{ loss: PairLoss; source: string }> {
  try {
    const mod = await import("../lib/losses/mod.ts");
    const fn = (mod as Record<string, unknown>).contrastiveLoss;
    if (typeof fn === "function") {
      const loss = fn as (e: tf.Tensor2D, l: Int32Array) => tf.Scalar;
      return { loss: (e, l) => loss(e, l), source: "lib/losses contrastiveLoss" };
    }
  } catch {
    // fall through to the local copy
  }
  return { loss: localContrastiveLoss, source: "bench-local contrastive loss" };
}

async function gunzip(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path);
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * `n` training images: the first `n` of Fashion-MNIST's training set when the Debian package
 * `dataset-fashion-mnist` is installed (`dir`), else synthetic images (ten noisy class
 * prototypes).
 *
 * @example
 * ```ts
 * import { loadBenchData } from "./train_bench.ts";
 * const d = await loadBenchData(256);
 * console.log(d.source, d.images.length); // ..., 200704
 * ```
 */
export async function loadBenchData(
  n: number,
  dir = "/usr/share/datasets/fashion-mnist",
): Promise<BenchData> {
  try {
    const img = await gunzip(`${dir}/train-images-idx3-ubyte.gz`);
    const lab = await gunzip(`${dir}/train-labels-idx1-ubyte.gz`);
    const view = new DataView(img.buffer);
    if (view.getUint32(0) !== 2051 || view.getUint32(8) !== 28 || view.getUint32(4) < n) {
      throw new Error("unexpected IDX header");
    }
    const images = new Float32Array(n * 784);
    for (let i = 0; i < n * 784; i++) images[i] = img[16 + i] / 255;
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = lab[8 + i];
    return { images, labels, n, source: `Fashion-MNIST train[0:${n}] (${dir})` };
  } catch {
    const { images, labels } = syntheticImages(n, 42);
    return { images, labels, n, source: `synthetic (${dir} not found)` };
  }
}

/**
 * Switches tfjs to `backend` (registering our wasm kernels; `simd` false selects their
 * XNNPACK-based fallback route); returns a description, or throws when the backend cannot start.
 *
 * @example
 * ```ts
 * import { useBackend } from "./train_bench.ts";
 * console.log(await useBackend("wasm")); // "wasm + lib/kernels (SIMD)"
 * ```
 */
export async function useBackend(
  backend: Exclude<BenchBackend, "torch">,
  simd = true,
  threads?: number,
): Promise<string> {
  if (backend === "webgpu") {
    // deno-lint-ignore no-explicit-any
    const gpu = (globalThis.navigator as any)?.gpu;
    if (!gpu) throw new Error("no navigator.gpu in this runtime");
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error("no WebGPU adapter");
    await import("@tensorflow/tfjs-backend-webgpu");
    const info = adapter.info ?? {};
    const desc = [info.vendor, info.architecture, info.device, info.description]
      .filter((s: unknown) => typeof s === "string" && s.length > 0).join(" ");
    if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') failed");
    await tf.ready();
    return `webgpu (${desc || "adapter without a description"}${
      adapter.isFallbackAdapter ? ", fallback adapter" : ""
    })`;
  }
  if (backend === "wasm") {
    const info = await initBackend("wasm", { threads });
    setSimdDisabled(!simd);
    return `wasm + lib/kernels (${simd ? "SIMD route" : "XNNPACK route"}, ${info.threads} ` +
      `thread${info.threads === 1 ? "" : "s"})`;
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
  return backend;
}

/** A model, its optimizer and a step function on the current backend. */
interface Trainer {
  step: (i: number) => Promise<number>;
  dispose: () => void;
}

function trainer(data: BenchData, opts: RunOptions, loss: PairLoss): Trainer {
  const model = buildModel(opts.model);
  const optimizer = tf.train.adam(1e-3);
  const xAll = tf.tensor4d(data.images, [data.n, 28, 28, 1]);
  const batches = Math.floor(data.n / opts.batch);
  if (batches < 1) throw new Error(`bench: ${data.n} images are fewer than one batch`);
  const step = async (i: number) => {
    const b = i % batches;
    const y = data.labels.subarray(b * opts.batch, (b + 1) * opts.batch);
    // The step of lib/train.ts: gradients, the loss read, the (fused) update.
    const { value, grads } = optimizer.computeGradients(() => {
      const x = tf.slice(xAll, [b * opts.batch, 0, 0, 0], [opts.batch, 28, 28, 1]);
      return loss(model.apply(x, { training: true }) as tf.Tensor2D, y);
    });
    // An asynchronous read: webgpu under Deno cannot read synchronously (no 2-D canvas).
    const v = (await value.data())[0];
    value.dispose();
    applyGradients(optimizer, grads);
    tf.dispose(grads);
    return v;
  };
  return {
    step,
    dispose: () => {
      model.dispose();
      optimizer.dispose();
      xAll.dispose();
    },
  };
}

/**
 * Trains on the current tfjs backend: `warmup` untimed steps, then timed steps until `steps` or
 * `seconds` (at least one).
 *
 * @example
 * ```ts
 * import { loadBenchData, resolveLoss, trainTfjs, useBackend } from "./train_bench.ts";
 * await useBackend("wasm");
 * const r = await trainTfjs("wasm", await loadBenchData(256), {
 *   model: "mlp", batch: 128, warmup: 1, steps: 5, seconds: 2,
 * }, (await resolveLoss()).loss);
 * console.log(r.imagesPerSecond);
 * ```
 */
export async function trainTfjs(
  backend: Exclude<BenchBackend, "torch">,
  data: BenchData,
  opts: RunOptions,
  loss: PairLoss,
): Promise<BenchResult> {
  const t = trainer(data, opts, loss);
  try {
    let first = Number.NaN;
    let last = Number.NaN;
    for (let i = 0; i < opts.warmup; i++) {
      last = await t.step(i);
      if (i === 0) first = last;
    }
    let done = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    while (done < opts.steps && (done === 0 || performance.now() - t0 < opts.seconds * 1000)) {
      last = await t.step(opts.warmup + done);
      if (Number.isNaN(first)) first = last;
      done++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return {
      backend,
      model: opts.model,
      batch: opts.batch,
      steps: done,
      seconds,
      imagesPerSecond: (done * opts.batch) / seconds,
      cpuSeconds,
      imagesPerCpuSecond: (done * opts.batch) / cpuSeconds,
      msPerStep: (1000 * seconds) / done,
      lossFirst: first,
      lossLast: last,
    };
  } finally {
    t.dispose();
  }
}

/** One row of a per-kernel profile. */
export interface KernelTime {
  /** Kernel name. */
  name: string;
  /** Input shapes of the calls, when grouped by shape. */
  shapes?: string;
  /** Calls in a step. */
  calls: number;
  /** Process CPU time (all threads) in these calls, ms per step. */
  cpuMs: number;
  /** Wall time in these calls, ms per step. */
  ms: number;
}

/** What {@link profileStep} measured, per training step (means over the profiled steps). */
export interface StepProfile {
  /** Fastest unprofiled step, wall ms. */
  stepMs: number;
  /** Process CPU time of a profiled step (all threads), ms. */
  stepCpuMs: number;
  /** Wall time of a profiled step, ms. */
  stepWallMs: number;
  /** CPU time inside kernels, ms (the rest, `stepCpuMs − kernelCpuMs`, is engine and JS work). */
  kernelCpuMs: number;
  /** Wall time inside kernels, ms. */
  kernelMs: number;
  /** Kernel calls in a step. */
  calls: number;
  /** By kernel name, most CPU time first. */
  byName: KernelTime[];
  /** By kernel name and input shapes, most CPU time first. */
  byShape: KernelTime[];
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Profiles training steps on the current backend (after `warmup` steps): every kernel of the
 * backend is wrapped to record the process CPU time (all threads: `getrusage`, robust to other
 * load) and the wall time of each outermost kernel call, grouped by kernel name and by name and
 * input shapes, averaged over `profileRuns` steps (default 5); what is not in kernels is the
 * engine's and the model's and loss's JavaScript (the wrappers' own clock reads, about 2 µs a
 * call, land there too). `stepMs` is the fastest of three unprofiled steps.
 *
 * @example
 * ```ts
 * import { loadBenchData, profileStep, resolveLoss, useBackend } from "./train_bench.ts";
 * await useBackend("wasm");
 * const p = await profileStep(await loadBenchData(256), {
 *   model: "cnn", batch: 128, warmup: 2, steps: 1, seconds: 1,
 * }, (await resolveLoss()).loss);
 * console.log(p.byName[0]);
 * ```
 */
export async function profileStep(
  data: BenchData,
  opts: RunOptions,
  loss: PairLoss,
): Promise<StepProfile> {
  const t = trainer(data, opts, loss);
  const backend = tf.getBackend();
  const wrapped = tf.getKernelsForBackend(backend);
  try {
    for (let i = 0; i < Math.max(1, opts.warmup); i++) await t.step(i);
    let stepMs = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      await t.step(opts.warmup);
      stepMs = Math.min(stepMs, performance.now() - t0);
    }
    const byName = new Map<string, KernelTime>();
    const byShape = new Map<string, KernelTime>();
    let depth = 0;
    for (const k of wrapped) {
      const fn = k.kernelFunc;
      tf.unregisterKernel(k.kernelName, backend);
      tf.registerKernel({
        ...k,
        kernelFunc: (args) => {
          if (depth++ > 0) {
            try {
              return fn(args);
            } finally {
              depth--;
            }
          }
          const c0 = cpuMs();
          const w0 = performance.now();
          try {
            return fn(args);
          } finally {
            const cpu = cpuMs() - c0;
            const wall = performance.now() - w0;
            depth--;
            const shapes = JSON.stringify(Object.values(args.inputs).map((x) => x?.shape ?? null));
            for (
              const [map, key, row] of [
                [byName, k.kernelName, { name: k.kernelName, calls: 0, cpuMs: 0, ms: 0 }],
                [byShape, `${k.kernelName} ${shapes}`, {
                  name: k.kernelName,
                  shapes,
                  calls: 0,
                  cpuMs: 0,
                  ms: 0,
                }],
              ] as [Map<string, KernelTime>, string, KernelTime][]
            ) {
              const r = map.get(key) ?? row;
              r.calls++;
              r.cpuMs += cpu;
              r.ms += wall;
              map.set(key, r);
            }
          }
        },
      });
    }
    const runs = Math.max(1, opts.profileRuns ?? 5);
    const c0 = cpuMs();
    const w0 = performance.now();
    for (let rep = 0; rep < runs; rep++) await t.step(opts.warmup + 1 + rep);
    const stepCpuMs = (cpuMs() - c0) / runs;
    const stepWallMs = (performance.now() - w0) / runs;
    const perStep = (m: Map<string, KernelTime>) =>
      [...m.values()].map((r) => ({
        ...r,
        calls: r.calls / runs,
        cpuMs: r.cpuMs / runs,
        ms: r.ms / runs,
      })).sort((p, q) => q.cpuMs - p.cpuMs);
    const names = perStep(byName);
    return {
      stepMs,
      stepCpuMs,
      stepWallMs,
      kernelCpuMs: names.reduce((a, r) => a + r.cpuMs, 0),
      kernelMs: names.reduce((a, r) => a + r.ms, 0),
      calls: names.reduce((a, r) => a + r.calls, 0),
      byName: names,
      byShape: perStep(byShape),
    };
  } finally {
    for (const k of wrapped) {
      tf.unregisterKernel(k.kernelName, backend);
      tf.registerKernel(k);
    }
    t.dispose();
  }
}

/** Where `train_torch.py` lives. */
export const TORCH_SCRIPT: string = new URL("./train_torch.py", import.meta.url).pathname;

/** The Python interpreter the comparator runs under (Debian's, which has `python3-torch`). */
export const PYTHON = "/usr/bin/python3";

/**
 * Writes `data` as the comparator reads it (float32 images, then int32 labels) to a temporary
 * file; returns its path.
 *
 * @example
 * ```ts
 * import { loadBenchData, writeBenchData } from "./train_bench.ts";
 * const path = await writeBenchData(await loadBenchData(128));
 * await Deno.remove(path);
 * ```
 */
export async function writeBenchData(data: BenchData): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "bench_train_", suffix: ".bin" });
  const bytes = new Uint8Array(data.n * 784 * 4 + data.n * 4);
  bytes.set(new Uint8Array(data.images.buffer, data.images.byteOffset, data.n * 784 * 4), 0);
  bytes.set(
    new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.n * 4),
    data.n * 784 * 4,
  );
  await Deno.writeFile(path, bytes);
  return path;
}

/**
 * Checks that `/usr/bin/python3` can import torch; returns its version and the CPU model (read by
 * Python: Deno needs full access for `/proc/cpuinfo`), or a message saying how to install it.
 *
 * @example
 * ```ts
 * import { probeTorch } from "./train_bench.ts";
 * const p = await probeTorch();
 * console.log(p.ok ? `torch ${p.version} on ${p.cpu}` : p.message);
 * ```
 */
export async function probeTorch(): Promise<
  { ok: true; version: string; cpu: string } | { ok: false; message: string }
> {
  const install = "install it with `apt-get install -y python3-torch` (Debian 12)";
  const code = [
    "import torch",
    "print(torch.__version__)",
    "cpu = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]",
    "print(cpu[0] if cpu else 'unknown CPU')",
  ].join("\n");
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      return { ok: false, message: `PyTorch is not importable by ${PYTHON}: ${install}` };
    }
    const [version = "?", cpu = "unknown CPU"] = new TextDecoder().decode(out.stdout).trim()
      .split("\n");
    return { ok: true, version, cpu };
  } catch (e) {
    return { ok: false, message: `cannot run ${PYTHON} (${(e as Error).message}): ${install}` };
  }
}

/**
 * Runs the PyTorch comparator on the data file `path` with `threads` CPU threads (default 1).
 *
 * @example
 * ```ts
 * import { loadBenchData, trainTorch, writeBenchData } from "./train_bench.ts";
 * const data = await loadBenchData(256);
 * const path = await writeBenchData(data);
 * const r = await trainTorch(path, data.n, { model: "cnn", batch: 128, warmup: 2, steps: 5, seconds: 2 });
 * console.log(r.imagesPerSecond);
 * ```
 */
export async function trainTorch(
  path: string,
  n: number,
  opts: RunOptions,
  threads = 1,
): Promise<BenchResult> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      TORCH_SCRIPT,
      path,
      "--n",
      String(n),
      "--batch",
      String(opts.batch),
      "--model",
      opts.model,
      "--warmup",
      String(opts.warmup),
      "--steps",
      String(opts.steps),
      "--seconds",
      String(opts.seconds),
      "--threads",
      String(threads),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`train_torch.py failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  const r = JSON.parse(text.split("\n").pop() ?? "{}");
  return {
    backend: "torch",
    model: opts.model,
    batch: r.batch,
    steps: r.steps,
    seconds: r.seconds,
    imagesPerSecond: r.imagesPerSecond,
    cpuSeconds: r.cpuSeconds,
    imagesPerCpuSecond: r.imagesPerCpuSecond,
    msPerStep: r.msPerStep,
    lossFirst: r.lossFirst,
    lossLast: r.lossLast,
    threads: r.threads,
    note: `torch ${r.version}, ${r.threads} thread${r.threads === 1 ? "" : "s"}`,
  };
}
