/**
 * `deno task bench kernel-gain`: the speed-up of the default experiment's training step that the
 * project's wasm kernels bring. It trains the reference CNN with the contrastive loss (batch 128,
 * the default experiment's loop and sampler) twice in one process:
 *
 * 1. "before": stock tfjs-backend-wasm plus only a correct `Conv2DBackpropFilter` on the backend's
 *    XNNPACK route — the least that lets a CNN train on wasm (the state before the CPU-speed work);
 * 2. "after": every kernel `initBackend("wasm")` registers.
 *
 * and prints images/s of both and their ratio.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import "@tensorflow/tfjs-backend-wasm";
import { conv2DBackpropFilterConfig } from "../lib/kernels/conv2d_backprop_filter.ts";
import { registerWasmTrainingKernels, setSimdDisabled } from "../lib/kernels/mod.ts";
import { loadExperimentData } from "../lib/experiment.ts";
import { referenceCnn } from "../lib/models/mod.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { train } from "../lib/train.ts";
import { initBackend } from "../lib/backend.ts";
import { type ConvAlgorithm, type ConvPass, setConvAlgorithm } from "../lib/kernels/winograd.ts";

async function imagesPerSecond(
  x: tf.Tensor,
  labels: Int32Array,
  steps: number,
): Promise<number> {
  const model = referenceCnn({ seed: 0 });
  const optimizer = tf.train.adam(1e-3);
  const sampler = shuffledBatches(x, labels, { batchSize: 128, seed: 0 });
  await train({ model, loss: contrastiveLoss, steps: 3, sampler, optimizer, progress: false });
  const r = await train({
    model,
    loss: contrastiveLoss,
    steps,
    sampler,
    optimizer,
    progress: false,
  });
  model.dispose();
  optimizer.dispose();
  return r.imagesPerSecond;
}

/**
 * Runs the comparison; `--steps N` timed steps after the fast kernels (default 100; the slow
 * baseline takes a third of that).
 *
 * @example
 * ```ts
 * import { runKernelGain } from "./kernel_gain.ts";
 * await runKernelGain(["--steps", "30"]);
 * ```
 */
export async function runKernelGain(args: string[]): Promise<void> {
  const i = args.indexOf("--steps");
  const steps = i >= 0 ? Number(args[i + 1]) : 100;
  if (!Number.isInteger(steps) || steps < 3) throw new Error(`--steps: expected an integer ≥ 3`);
  await tf.setBackend("wasm");
  await tf.ready();
  const data = await loadExperimentData({ trainLimit: 10000, testLimit: 1 }, () => {});
  setSimdDisabled(true);
  tf.registerKernel(conv2DBackpropFilterConfig);
  const before = await imagesPerSecond(data.train.x, data.trainSet.labels, Math.ceil(steps / 3));
  setSimdDisabled(false);
  registerWasmTrainingKernels();
  const after = await imagesPerSecond(data.train.x, data.trainSet.labels, steps);
  data.dispose();
  console.log("reference CNN, contrastive loss, batch 128, wasm, one thread");
  console.log(`before (Conv2DBackpropFilter only, XNNPACK route): ${before.toFixed(0)} images/s`);
  console.log(`after  (all project kernels):                      ${after.toFixed(0)} images/s`);
  console.log(`speed-up: ${(after / before).toFixed(1)}x`);
}

if (import.meta.main) await runKernelGain(Deno.args);

/** CPU milliseconds of the process (`getrusage`: precise, unlike `/proc` schedstat). */
function cpuClock(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** One row of {@link runConvTable}. */
export interface ConvTableRow {
  /** Pass measured. */
  pass: ConvPass;
  /** `[n, h, w, ci] → co`. */
  shape: string;
  /** `ci·co`. */
  channels: number;
  /** Milliseconds of the im2col route (fastest of the repeats). */
  im2col: number;
  /** Milliseconds of the Winograd F(2×2, 3×3) route. */
  winograd: number;
  /** Milliseconds of the Winograd F(4×4, 3×3) route. */
  winograd4: number;
}

/**
 * `deno task bench conv-table`: each 3×3 stride-1 convolution pass of a set of shapes (the
 * reference CNN's second convolution and neighbours) by the im2col route and by Winograd
 * F(2×2, 3×3) and F(4×4, 3×3), on one thread, timed by the process's CPU time (robust to other
 * load); prints the table behind `WINOGRAD4_MIN_SIDE` in `lib/kernels/winograd.ts`.
 *
 * @example
 * ```ts
 * import { runConvTable } from "./kernel_gain.ts";
 * const rows = await runConvTable(["--repeats", "2"]);
 * ```
 */
export async function runConvTable(args: string[]): Promise<ConvTableRow[]> {
  const i = args.indexOf("--repeats");
  const repeats = i >= 0 ? Number(args[i + 1]) : 7;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error("--repeats: a positive integer");
  tf.env().set("PROD", true);
  const info = await initBackend("wasm", { threads: 1 });
  const clock = cpuClock;
  const shapes: [number, number, number, number, number][] = [
    [128, 13, 13, 32, 64], // the reference CNN's second convolution
    [128, 28, 28, 4, 8],
    [64, 28, 28, 16, 16],
    [32, 14, 14, 32, 32],
    [16, 28, 28, 64, 64],
    [32, 13, 13, 64, 64],
    [64, 7, 7, 16, 16],
    [32, 7, 7, 64, 64],
    [16, 14, 14, 128, 128],
    [16, 7, 7, 128, 128],
    [32, 11, 11, 32, 32],
    [32, 9, 9, 32, 32],
    [16, 8, 8, 64, 64],
  ];
  const rows: ConvTableRow[] = [];
  console.log(
    `conv table: wasm, ${info.threads} thread, 3x3 stride 1 'valid', fastest of ${repeats} ` +
      `(process CPU ms)`,
  );
  console.log(
    "pass      shape                     ci*co    im2col   F(2,3)   F(4,3)  speed-up of F(4,3)",
  );
  for (const [n, h, w, ci, co] of shapes) {
    const x = tf.randomNormal([n, h, w, ci], 0, 1, "float32", 1) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, ci, co], 0, 1, "float32", 2) as tf.Tensor4D;
    const dy = tf.randomNormal([n, h - 2, w - 2, co], 0, 1, "float32", 3) as tf.Tensor4D;
    const passes: [ConvPass, () => tf.Tensor][] = [
      ["forward", () => tf.conv2d(x, f, 1, "valid")],
      ["filter", () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          strides: 1,
          pad: "valid",
          dataFormat: "NHWC",
          filterShape: [3, 3, ci, co],
        }) as tf.Tensor],
      ["input", () => tf.conv2dTranspose(dy, f, [n, h, w, ci], 1, "valid")],
    ];
    for (const [pass, run] of passes) {
      const ms: Record<ConvAlgorithm, number> = {
        im2col: Infinity,
        winograd: Infinity,
        winograd4: Infinity,
      };
      for (let r = 0; r < repeats + 1; r++) {
        for (const algo of ["im2col", "winograd", "winograd4"] as ConvAlgorithm[]) {
          const old = setConvAlgorithm(algo);
          try {
            const t0 = clock();
            const y = run();
            const t = clock() - t0;
            y.dispose();
            if (r > 0) ms[algo] = Math.min(ms[algo], t);
          } finally {
            setConvAlgorithm(old);
          }
        }
      }
      const row: ConvTableRow = {
        pass,
        shape: `[${n},${h},${w},${ci}]->${co}`,
        channels: ci * co,
        im2col: ms.im2col,
        winograd: ms.winograd,
        winograd4: ms.winograd4,
      };
      rows.push(row);
      console.log(
        `${pass.padEnd(8)}  ${row.shape.padEnd(24)} ${String(ci * co).padStart(6)}  ` +
          `${ms.im2col.toFixed(2).padStart(8)} ${ms.winograd.toFixed(2).padStart(8)} ` +
          `${ms.winograd4.toFixed(2).padStart(8)}  ` +
          `${(Math.min(ms.im2col, ms.winograd) / ms.winograd4).toFixed(2).padStart(8)}x`,
      );
    }
    tf.dispose([x, f, dy]);
  }
  return rows;
}
