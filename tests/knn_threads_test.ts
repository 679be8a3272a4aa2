/**
 * Fault 8 of issue 13: `knn(x, x, 11)` used one thread unless told otherwise (about twice faiss's
 * time, faiss using every core by default). The default is `navigator.hardwareConcurrency`, and
 * the worker threads must never keep a program from exiting.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { defaultKnnThreads, knn, knnWorkerCount, terminateKnnWorkers } from "../lib/eval/knn.ts";
import { createRng } from "../lib/data/random.ts";

await tf.setBackend("cpu");

function data(n: number, d: number): tf.Tensor2D {
  const rng = createRng(4);
  return tf.tensor2d(Float32Array.from({ length: n * d }, () => rng.normal()), [n, d]);
}

Deno.test("the default thread count is navigator.hardwareConcurrency", () => {
  assert.equal(defaultKnnThreads(), navigator.hardwareConcurrency);
});

Deno.test("knn with default options starts one worker per core when there are several blocks", async () => {
  const x = data(300, 4);
  terminateKnnWorkers();
  try {
    const one = await knn(x, undefined, 5, { blockSize: 64, threads: 1 });
    assert.equal(knnWorkerCount(), 0, "threads: 1 starts no worker");
    const dflt = await knn(x, undefined, 5, { blockSize: 64 });
    // 5 blocks → 15 block pairs: as many workers as cores (none on a single core).
    const cores = navigator.hardwareConcurrency;
    assert.equal(knnWorkerCount(), cores > 1 ? Math.min(cores, 15) : 0);
    assert.deepEqual([...dflt.indices], [...one.indices]);
    assert.deepEqual([...dflt.distances], [...one.distances]);
  } finally {
    terminateKnnWorkers();
    x.dispose();
  }
});

Deno.test("a program that uses knn's worker threads exits without terminateKnnWorkers", async () => {
  const script = new URL("./_knn_exit_child.ts", import.meta.url).pathname;
  const own = Deno.permissions.querySync({ name: "run", command: Deno.execPath() });
  const deno = own.state === "granted" ? Deno.execPath() : "deno";
  const child = new Deno.Command(deno, {
    args: ["run", "--allow-read", "--allow-env", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `child failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  assert.match(text, /workers: [1-9]/);
  assert.match(text, /done/);
});
