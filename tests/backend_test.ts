import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
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
