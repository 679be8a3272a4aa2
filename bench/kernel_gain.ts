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
import "@tensorflow/tfjs-backend-wasm";
import { conv2DBackpropFilterConfig } from "../lib/kernels/conv2d_backprop_filter.ts";
import { registerWasmTrainingKernels, setSimdDisabled } from "../lib/kernels/mod.ts";
import { loadExperimentData } from "../lib/experiment.ts";
import { referenceCnn } from "../lib/models/mod.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { train } from "../lib/train.ts";

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
