import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { checkWebGpuAgainstCpu } from "../bench/gpu_check.ts";
import {
  backendFromArgs,
  chooseAutoBackend,
  initBackend,
  isUsableGpu,
  parseBackendName,
  probeWebGpuAdapter,
} from "../lib/backend.ts";

Deno.test("a fallback adapter is never usable, whatever it calls itself", () => {
  assert.equal(isUsableGpu({ isFallbackAdapter: true, description: "NVIDIA H100" }), false);
  assert.equal(isUsableGpu({ isFallbackAdapter: false, description: "mesa llvmpipe" }), false);
  assert.equal(isUsableGpu({ isFallbackAdapter: false, description: "Google SwiftShader" }), false);
  assert.equal(isUsableGpu(undefined), false);
  assert.equal(isUsableGpu({ isFallbackAdapter: false, description: "nvidia hopper H200" }), true);
});

Deno.test("auto picks webgpu only on a real adapter, else wasm, else cpu", () => {
  const real = { isFallbackAdapter: false, description: "amd rdna3" };
  const fallback = { isFallbackAdapter: true, description: "llvmpipe (LLVM 15.0.6, 256 bits)" };
  assert.equal(chooseAutoBackend(real, true), "webgpu");
  assert.equal(chooseAutoBackend(fallback, true), "wasm");
  assert.equal(chooseAutoBackend(undefined, true), "wasm");
  assert.equal(chooseAutoBackend(fallback, false), "cpu");
  assert.equal(chooseAutoBackend(undefined, false), "cpu");
});

Deno.test("backend names are validated", () => {
  assert.equal(parseBackendName("wasm"), "wasm");
  assert.throws(() => parseBackendName("webgl"), /unknown backend "webgl"/);
  assert.equal(backendFromArgs(["--steps", "3", "--backend", "cpu"]), "cpu");
  assert.equal(backendFromArgs(["--backend=wasm"]), "wasm");
  assert.throws(() => backendFromArgs(["--backend"]), /missing value/);
  assert.throws(() => backendFromArgs(["--backend", "gpu"]), /unknown backend/);
});

Deno.test("SIMLEARN_BACKEND is read when --backend is absent", () => {
  const old = Deno.env.get("SIMLEARN_BACKEND");
  try {
    Deno.env.set("SIMLEARN_BACKEND", "cpu");
    assert.equal(backendFromArgs([]), "cpu");
    assert.equal(backendFromArgs(["--backend", "wasm"]), "wasm");
    Deno.env.set("SIMLEARN_BACKEND", "tpu");
    assert.throws(() => backendFromArgs([]), /unknown backend "tpu"/);
  } finally {
    if (old === undefined) Deno.env.delete("SIMLEARN_BACKEND");
    else Deno.env.set("SIMLEARN_BACKEND", old);
  }
});

Deno.test("initBackend activates the requested backend and registers the wasm kernels", async () => {
  const cpu = await initBackend("cpu");
  assert.equal(cpu.backend, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  const wasm = await initBackend("wasm");
  assert.equal(wasm.backend, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.ok(wasm.kernels.includes("Conv2DBackpropFilter"));
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"));
});

Deno.test("auto never lands on a software WebGPU adapter", async () => {
  const probe = await probeWebGpuAdapter();
  const chosen = await initBackend("auto");
  if (isUsableGpu(probe)) {
    assert.equal(chosen.backend, "webgpu");
  } else {
    assert.notEqual(chosen.backend, "webgpu");
    assert.equal(chosen.backend, "wasm");
  }
  await initBackend("cpu");
});

Deno.test("initBackend: threads are validated, reported, and used by the wasm kernels", async () => {
  await assert.rejects(() => initBackend("wasm", { threads: 0 }), /options.threads must be/);
  await assert.rejects(() => initBackend("wasm", { threads: 1.5 }), /options.threads must be/);
  const one = await initBackend("wasm", { threads: 1 });
  assert.equal(one.threads, 1);
  const two = await initBackend("wasm", { threads: 2 });
  assert.equal(two.threads, 2, "the heap is shared, so a second thread starts");
  assert.equal((await initBackend("cpu", { threads: 2 })).threads, 1);
  const auto = await initBackend("wasm");
  assert.equal(auto.threads, navigator.hardwareConcurrency, "default: all cores");
  await initBackend("cpu");
});

Deno.test("a seeded training run gives the same numbers at 1 and 2 threads", async () => {
  const { referenceCnn } = await import("../lib/models/mod.ts");
  const { shuffledBatches } = await import("../lib/data/batches.ts");
  const { contrastiveLoss } = await import("../lib/losses/mod.ts");
  const { train } = await import("../lib/train.ts");
  const images = new Float32Array(96 * 28 * 28);
  const labels = new Int32Array(96);
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    images[i] = (s >>> 8) / 16777216;
  }
  for (let i = 0; i < labels.length; i++) labels[i] = i % 6;
  const run = async (threads: number) => {
    const info = await initBackend("wasm", { threads });
    assert.equal(info.threads, threads);
    const x = tf.tensor4d(images, [96, 28, 28, 1]);
    const model = referenceCnn({ seed: 3 });
    const result = await train({
      model,
      loss: contrastiveLoss,
      steps: 3,
      progress: false,
      sampler: shuffledBatches(x, labels, { batchSize: 32, seed: 5 }),
    });
    const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
    model.dispose();
    x.dispose();
    return { losses: result.history.map((h) => h.loss), weights };
  };
  const one = await run(1);
  const two = await run(2);
  assert.deepEqual(two.losses, one.losses, "losses at 2 threads = at 1 thread");
  two.weights.forEach((w, i) => {
    for (let k = 0; k < w.length; k++) {
      if (!Object.is(w[k], one.weights[i][k])) {
        assert.fail(`weight ${i}[${k}]: ${w[k]} at 2 threads, ${one.weights[i][k]} at 1`);
      }
    }
  });
  await initBackend("cpu");
});

const webgpu = await probeWebGpuAdapter();

Deno.test({
  name: "WebGPU: the reference CNN step's loss and gradients equal the cpu backend's",
  // Needs a WebGPU adapter: here Mesa's software one (tools/setup.sh test installs it).
  ignore: webgpu === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const r = await checkWebGpuAgainstCpu({ batch: 8, tolerance: 1e-4 });
    assert.equal(r.gradients.length, 8, "8 variables: 2 convolutions, 2 dense layers");
    for (const g of r.gradients) {
      assert.ok(g.scale > 0, `${g.name}: the gradient is not zero`);
      assert.ok(g.relError <= 1e-4, `${g.name}: relative error ${g.relError}`);
    }
    assert.ok(Math.abs(r.lossWebGpu - r.lossCpu) <= 1e-4 * Math.abs(r.lossCpu));
    assert.ok(r.ok);
    await initBackend("cpu");
  },
});
