/**
 * Bounded resources: exact kNN and retrieval evaluation run in blocks within their documented
 * memory bounds (see tools/memory_bound.ts, which measures the 100,000-point case), and a whole
 * small experiment leaves no TensorFlow.js tensors behind.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { measureAll } from "../tools/memory_bound.ts";
import { experiment as siamese } from "../experiments/siamese.ts";
import { runExperiment } from "../lib/experiment.ts";

await tf.setBackend("cpu");

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

Deno.test("knn over 10,000 × 64 (k = 10) and retrieval over 5,000 stay within their memory bounds", async () => {
  const [knnRun] = await measureAll({ n: 10_000, d: 64, k: 10, retrieval: false });
  const [, retrievalRun] = await measureAll({ n: 5_000, d: 64, k: 10, retrieval: true });
  for (const m of [knnRun, retrievalRun]) {
    console.log(
      `${m.label}: ${m.seconds.toFixed(1)} s, peak rss +${MiB(m.peakRssGrowth)}, ` +
        `peak tf +${MiB(m.peakTfGrowth)}, bound ${MiB(m.bound)}`,
    );
    assert.ok(
      m.peakRssGrowth <= m.bound,
      `${m.label}: peak rss growth ${MiB(m.peakRssGrowth)} > bound ${MiB(m.bound)}`,
    );
  }
  // A quadratic implementation would need n² floats: 381 MiB for 10,000 points, more than twice
  // the bound (the 100,000-point case is tools/memory_bound.ts's).
  assert.ok(knnRun.bound < (10_000 ** 2 * 4) / 2, `bound ${MiB(knnRun.bound)}`);
});

Deno.test("a whole small siamese run leaves no tensors behind", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-leak-" });
  const args = [
    "--steps",
    "3",
    "--batchSize",
    "16",
    "--trainLimit",
    "200",
    "--testLimit",
    "100",
    "--checkpointEvery",
    "2",
    "--backend",
    "wasm",
    "--resultsRoot",
    root,
  ];
  const log = console.log;
  try {
    console.log = () => {};
    assert.equal(await runExperiment(siamese, args, { log: () => {} }), 0);
    const afterFirst = tf.memory().numTensors;
    assert.equal(await runExperiment(siamese, args, { log: () => {} }), 0);
    const afterSecond = tf.memory().numTensors;
    console.log = log;
    assert.equal(afterSecond, afterFirst, `tensors leaked: ${afterFirst} → ${afterSecond}`);
  } finally {
    console.log = log;
    await Deno.remove(root, { recursive: true });
  }
});
