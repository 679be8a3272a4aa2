/**
 * The WebGPU check that `tools/gpu_check.sh` bundles for a GPU machine (one JavaScript file from
 * `deno bundle`, run by a plain `deno run`):
 *
 * 1. **Correctness**: the loss and every gradient of one training step of the reference CNN
 *    (contrastive loss) on `webgpu` against the `cpu` backend, same weights, same batch; reads are
 *    asynchronous (`await t.data()`: `dataSync` fails on webgpu under Deno).
 * 2. **Speed**: the reference CNN trained on `webgpu` (Adam, the loss read every step, as
 *    `lib/train.ts` does) at each batch size, and PyTorch's `bench/train_torch.py` on CUDA (or
 *    on the CPU where CUDA is missing) on the same images; images/s and the ratio.
 *
 * Options: `--batches 128,512`, `--steps 60`, `--seconds 20`, `--warmup 5`, `--check-batch 32`,
 * `--tolerance 1e-3`, `--torch <train_torch.py>` (no PyTorch run without it), `--python python3`,
 * `--json <file>` (the results as JSON).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { buildModel, localContrastiveLoss, syntheticImages } from "./train_models.ts";

/** One variable's gradient on both backends. */
export interface GradientDiff {
  /** Variable name on the webgpu model. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** Largest `|webgpu − cpu|`. */
  maxAbsDiff: number;
  /** Largest `|cpu|` (the scale of the gradient). */
  scale: number;
  /** `maxAbsDiff / scale`. */
  relError: number;
}

/** What {@link checkWebGpuAgainstCpu} found. */
export interface GradientCheck {
  /** The adapter (vendor, architecture, device, description). */
  adapter: string;
  /** True for software adapters (llvmpipe). */
  fallbackAdapter: boolean;
  /** The loss on webgpu. */
  lossWebGpu: number;
  /** The loss on cpu. */
  lossCpu: number;
  /** Per-variable gradient differences, in the model's order. */
  gradients: GradientDiff[];
  /** The largest relative error, loss included. */
  maxRelError: number;
  /** Whether `maxRelError ≤ tolerance`. */
  ok: boolean;
}

/** The WebGPU adapter, or an Error saying why there is none. */
async function adapterInfo(): Promise<{ description: string; fallback: boolean }> {
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) throw new Error("no navigator.gpu in this runtime");
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new Error(
      "no WebGPU adapter (on Linux Deno needs the Vulkan loader libvulkan.so.1 and a driver)",
    );
  }
  const info = adapter.info ?? {};
  const description = [info.vendor, info.architecture, info.device, info.description]
    .filter((s: unknown) => typeof s === "string" && s.length > 0).join(" ") ||
    "adapter without a description";
  return { description, fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) };
}

async function useWebGpu(): Promise<{ description: string; fallback: boolean }> {
  const info = await adapterInfo();
  if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') failed");
  await tf.ready();
  return info;
}

/** Loss and gradients (in the model's variable order) of one step, read asynchronously. */
async function lossAndGradients(
  model: tf.LayersModel,
  images: Float32Array,
  labels: Int32Array,
): Promise<{ loss: number; grads: Float32Array[] }> {
  const x = tf.tensor4d(images, [labels.length, 28, 28, 1]);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(
    () => localContrastiveLoss(model.apply(x, { training: true }) as tf.Tensor2D, labels),
    vars,
  );
  const loss = (await value.data())[0];
  const out: Float32Array[] = [];
  for (const v of vars) out.push(Float32Array.from(await grads[v.name].data()));
  tf.dispose([x, value, ...Object.values(grads)]);
  return { loss, grads: out };
}

/**
 * One training step of the reference CNN (contrastive loss, a seeded synthetic batch of
 * `batch` images) on `webgpu` and on `cpu` with the same weights; compares the loss and the
 * gradients (relative to each gradient's largest magnitude). Leaves the `cpu` backend active.
 *
 * @throws Error when WebGPU is missing.
 * @example
 * ```ts
 * import { checkWebGpuAgainstCpu } from "./gpu_check.ts";
 * const r = await checkWebGpuAgainstCpu({ batch: 8 });
 * console.log(r.ok, r.maxRelError);
 * ```
 */
export async function checkWebGpuAgainstCpu(
  options: { batch?: number; seed?: number; tolerance?: number } = {},
): Promise<GradientCheck> {
  const { batch = 32, seed = 7, tolerance = 1e-3 } = options;
  const { images, labels } = syntheticImages(batch, seed);
  const info = await useWebGpu();
  const gpuModel = buildModel("cnn");
  const weights: { shape: number[]; values: Float32Array }[] = [];
  for (const w of gpuModel.getWeights()) {
    weights.push({ shape: w.shape, values: Float32Array.from(await w.data()) });
  }
  const names = gpuModel.trainableWeights.map((w) => w.name);
  const gpu = await lossAndGradients(gpuModel, images, labels);
  gpuModel.dispose();
  await tf.setBackend("cpu");
  await tf.ready();
  const cpuModel = buildModel("cnn");
  const ts = weights.map((w) => tf.tensor(w.values, w.shape));
  cpuModel.setWeights(ts);
  tf.dispose(ts);
  const cpu = await lossAndGradients(cpuModel, images, labels);
  cpuModel.dispose();
  const gradients = cpu.grads.map((want, i): GradientDiff => {
    const got = gpu.grads[i];
    let maxAbsDiff = 0;
    let scale = 0;
    for (let k = 0; k < want.length; k++) {
      const d = Math.abs(got[k] - want[k]);
      maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
      scale = Math.max(scale, Math.abs(want[k]));
    }
    return {
      name: names[i],
      shape: [...weights[i].shape],
      maxAbsDiff,
      scale,
      relError: maxAbsDiff / Math.max(scale, 1e-12),
    };
  });
  const lossRel = Math.abs(gpu.loss - cpu.loss) / Math.max(Math.abs(cpu.loss), 1e-12);
  const maxRelError = Math.max(lossRel, ...gradients.map((g) => g.relError));
  return {
    adapter: info.description,
    fallbackAdapter: info.fallback,
    lossWebGpu: gpu.loss,
    lossCpu: cpu.loss,
    gradients,
    maxRelError,
    ok: maxRelError <= tolerance,
  };
}

/** Throughput of a training run. */
export interface Throughput {
  /** Batch size. */
  batch: number;
  /** Timed steps. */
  steps: number;
  /** Images per second over the timed steps. */
  imagesPerSecond: number;
  /** Loss of the first and the last timed step. */
  loss: [number, number];
}

/**
 * Trains the reference CNN on `webgpu` (Adam 1e-3, contrastive loss, seeded synthetic data,
 * `batches`·`batch` images cycled), `warmup` untimed steps then timed steps until `steps` or
 * `seconds`; the loss is read every step (asynchronously), as `lib/train.ts` does.
 *
 * @example
 * ```ts
 * import { trainWebGpu } from "./gpu_check.ts";
 * const r = await trainWebGpu({ batch: 16, steps: 2, seconds: 5, warmup: 1 });
 * console.log(r.imagesPerSecond);
 * ```
 */
export async function trainWebGpu(
  options: { batch: number; steps: number; seconds: number; warmup: number; batches?: number },
): Promise<Throughput> {
  const { batch, steps, seconds, warmup, batches = 4 } = options;
  await useWebGpu();
  const { images, labels } = syntheticImages(batch * batches, 42);
  const model = buildModel("cnn");
  const optimizer = tf.train.adam(1e-3);
  const xAll = tf.tensor4d(images, [batch * batches, 28, 28, 1]);
  const step = async (i: number) => {
    const b = i % batches;
    const y = labels.subarray(b * batch, (b + 1) * batch);
    const { value, grads } = optimizer.computeGradients(() => {
      const x = tf.slice(xAll, [b * batch, 0, 0, 0], [batch, 28, 28, 1]);
      return localContrastiveLoss(model.apply(x, { training: true }) as tf.Tensor2D, y);
    });
    const v = (await value.data())[0];
    value.dispose();
    optimizer.applyGradients(grads as Record<string, tf.Variable>);
    tf.dispose(grads);
    return v;
  };
  try {
    for (let i = 0; i < warmup; i++) await step(i);
    let done = 0;
    let first = NaN;
    let last = NaN;
    const t0 = performance.now();
    while (done < steps && (done === 0 || performance.now() - t0 < seconds * 1000)) {
      last = await step(warmup + done);
      if (done === 0) first = last;
      done++;
    }
    const elapsed = (performance.now() - t0) / 1000;
    return { batch, steps: done, imagesPerSecond: (done * batch) / elapsed, loss: [first, last] };
  } finally {
    model.dispose();
    optimizer.dispose();
    xAll.dispose();
  }
}

/** PyTorch's result for one batch size. */
interface TorchResult extends Throughput {
  /** `cuda` or `cpu`. */
  device: string;
  /** torch version and device name. */
  note: string;
}

async function trainTorchOn(
  python: string,
  script: string,
  batch: number,
  options: { steps: number; seconds: number; warmup: number; batches?: number },
): Promise<TorchResult> {
  const batches = options.batches ?? 4;
  const n = batch * batches;
  const { images, labels } = syntheticImages(n, 42);
  const path = await Deno.makeTempFile({ prefix: "gpu_check_", suffix: ".bin" });
  try {
    const bytes = new Uint8Array(n * 784 * 4 + n * 4);
    bytes.set(new Uint8Array(images.buffer), 0);
    bytes.set(new Uint8Array(labels.buffer), n * 784 * 4);
    await Deno.writeFile(path, bytes);
    const out = await new Deno.Command(python, {
      args: [
        script,
        path,
        "--n",
        String(n),
        "--batch",
        String(batch),
        "--model",
        "cnn",
        "--warmup",
        String(options.warmup),
        "--steps",
        String(options.steps),
        "--seconds",
        String(options.seconds),
        "--device",
        "auto",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`${script} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "{}");
    return {
      batch,
      steps: r.steps,
      imagesPerSecond: r.imagesPerSecond,
      loss: [r.lossFirst, r.lossLast],
      device: r.device,
      note: `torch ${r.version} on ${r.deviceName}`,
    };
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`gpu_check: ${name} needs a value`);
  return v;
}

function positive(name: string, v: string): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x <= 0) {
    throw new Error(`gpu_check: ${name} must be positive, got ${v}`);
  }
  return x;
}

/**
 * Runs the check and the benchmark (see the module documentation); returns the exit code (0
 * when the gradients agree, 1 when they do not).
 *
 * @example
 * ```ts
 * import { runGpuCheck } from "./gpu_check.ts";
 * const code = await runGpuCheck(["--batches", "16", "--steps", "2", "--check-batch", "8"]);
 * ```
 */
export async function runGpuCheck(args: string[]): Promise<number> {
  const known = [
    "--batches",
    "--steps",
    "--seconds",
    "--warmup",
    "--check-batch",
    "--tolerance",
    "--torch",
    "--python",
    "--json",
  ];
  for (let i = 0; i < args.length; i += 2) {
    if (!known.includes(args[i])) throw new Error(`gpu_check: unknown option ${args[i]}`);
  }
  const batches = option(args, "--batches", "128,512").split(",").map((b) =>
    Math.round(positive("--batches", b))
  );
  const steps = Math.round(positive("--steps", option(args, "--steps", "60")));
  const seconds = positive("--seconds", option(args, "--seconds", "20"));
  const warmup = Math.round(Number(option(args, "--warmup", "5")));
  const checkBatch = Math.round(positive("--check-batch", option(args, "--check-batch", "32")));
  const tolerance = positive("--tolerance", option(args, "--tolerance", "1e-3"));
  const torchScript = option(args, "--torch", "");
  const python = option(args, "--python", "python3");
  const jsonPath = option(args, "--json", "");
  tf.env().set("PROD", true);
  console.log(`gpu_check: Deno ${Deno.version.deno}, tfjs ${tf.version.tfjs}`);

  const check = await checkWebGpuAgainstCpu({ batch: checkBatch, tolerance });
  console.log(
    `adapter: ${check.adapter}${check.fallbackAdapter ? " (software fallback adapter)" : ""}`,
  );
  console.log(
    `\ncorrectness: reference CNN, contrastive loss, batch ${checkBatch}, webgpu vs cpu`,
  );
  console.log(
    `loss: webgpu ${check.lossWebGpu.toPrecision(8)}  cpu ${check.lossCpu.toPrecision(8)}`,
  );
  for (const g of check.gradients) {
    console.log(
      `  ${g.name.padEnd(28)} [${g.shape}]`.padEnd(52) +
        `max |diff| ${g.maxAbsDiff.toExponential(2)}  scale ${g.scale.toExponential(2)}  ` +
        `rel ${g.relError.toExponential(2)}`,
    );
  }
  console.log(
    `largest relative error ${check.maxRelError.toExponential(2)} (tolerance ${tolerance}): ` +
      (check.ok ? "OK" : "FAILED"),
  );

  console.log(`\nspeed: reference CNN, contrastive loss, Adam(1e-3), the loss read every step`);
  const rows: { batch: number; webgpu?: Throughput; torch?: TorchResult; error?: string }[] = [];
  for (const batch of batches) {
    const row: (typeof rows)[number] = { batch };
    try {
      row.webgpu = await trainWebGpu({ batch, steps, seconds, warmup });
    } catch (e) {
      row.error = `webgpu: ${(e as Error).message}`;
    }
    if (torchScript) {
      try {
        row.torch = await trainTorchOn(python, torchScript, batch, { steps, seconds, warmup });
      } catch (e) {
        row.error = `${row.error ?? ""} torch: ${(e as Error).message}`.trim();
      }
    }
    rows.push(row);
    const w = row.webgpu?.imagesPerSecond;
    const t = row.torch?.imagesPerSecond;
    console.log(
      `batch ${String(batch).padStart(4)}:  tfjs webgpu ${w === undefined ? "-" : w.toFixed(0)} ` +
        `images/s (${row.webgpu?.steps ?? 0} steps)` +
        (row.torch
          ? `   PyTorch ${row.torch.device} ${t!.toFixed(0)} images/s (${row.torch.note})` +
            (w !== undefined ? `   ratio webgpu/PyTorch ${(w / t!).toFixed(2)}x` : "")
          : "") +
        (row.error ? `   (${row.error})` : ""),
    );
  }
  if (jsonPath) {
    await Deno.writeTextFile(jsonPath, JSON.stringify({ check, rows }, null, 2) + "\n");
  }
  return check.ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await runGpuCheck(Deno.args));
