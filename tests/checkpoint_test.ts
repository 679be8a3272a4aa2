import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { latestCheckpoint, restoreCheckpoint, saveCheckpoint } from "../lib/io/checkpoint.ts";
import { fileSystemHandler } from "../lib/io/export.ts";
import { mlpEncoder } from "../lib/models/mod.ts";

await tf.setBackend("cpu");

const make = (seed: number) => mlpEncoder({ inputShape: [3], hidden: [4], embeddingDim: 2, seed });

async function flat(ts: { tensor: tf.Tensor }[] | tf.Tensor[]): Promise<number[][]> {
  return await Promise.all(
    ts.map(async (t) => Array.from(await ("tensor" in t ? t.tensor : t).data())),
  );
}

/** One Adam step on a fixed batch, so that the optimizer has state. */
function step(model: tf.LayersModel, optimizer: tf.Optimizer) {
  optimizer.minimize(() =>
    tf.sum(tf.square(model.apply(tf.ones([2, 3]), { training: true }) as tf.Tensor)) as tf.Scalar
  );
}

Deno.test("saveCheckpoint / restoreCheckpoint: weights, optimizer state and JSON state", async () => {
  const root = await Deno.makeTempDir({ prefix: "ckpt-" });
  assert.equal(await latestCheckpoint(root), undefined);
  const model = make(1);
  const optimizer = tf.train.adam(0.01);
  for (let i = 0; i < 3; i++) step(model, optimizer);
  const dir = await saveCheckpoint(root, {
    model,
    optimizer,
    state: { step: 3, sampler: { epoch: 0, batch: 3, rngState: 42 }, note: "hi" },
  });
  assert.match(dir, /ckpt-00000003-[0-9a-f]{8}$/);
  const latest = await latestCheckpoint(root);
  assert.equal(latest?.step, 3);
  assert.equal(latest?.dir, dir);
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
    ["model.json", "optimizer.bin", "optimizer.json", "state.json", "weights.bin"],
  );
  // The model part is a plain TensorFlow.js model.
  const loaded = await tf.loadLayersModel(fileSystemHandler(dir));
  assert.deepEqual(await flat(loaded.getWeights()), await flat(model.getWeights()));

  const other = make(2);
  const otherOpt = tf.train.adam(0.01);
  const state = await restoreCheckpoint(root, { model: other, optimizer: otherOpt });
  assert.equal(state?.step, 3);
  assert.equal(state?.note, "hi");
  assert.deepEqual(state?.sampler, { epoch: 0, batch: 3, rngState: 42 });
  assert.deepEqual(await flat(other.getWeights()), await flat(model.getWeights()));
  assert.deepEqual(
    await flat(await otherOpt.getWeights()),
    await flat(await optimizer.getWeights()),
  );
  // One more step on both gives bit-equal weights (β powers restored exactly too).
  step(model, optimizer);
  step(other, otherOpt);
  assert.deepEqual(await flat(other.getWeights()), await flat(model.getWeights()));
  await Deno.remove(root, { recursive: true });
});

Deno.test("saveCheckpoint: keeps the newest `keep`, leaves no temporary directory", async () => {
  const root = await Deno.makeTempDir({ prefix: "ckpt-" });
  const model = make(1);
  for (const s of [1, 2, 3, 4]) {
    await saveCheckpoint(root, { model, state: { step: s } }, { keep: 2 });
  }
  const names = [...Deno.readDirSync(root)].map((e) => e.name).sort();
  assert.equal(names.length, 3);
  assert.match(names[0], /^ckpt-00000003-/);
  assert.match(names[1], /^ckpt-00000004-/);
  assert.equal(names[2], "latest.json");
  assert.equal((await latestCheckpoint(root))?.step, 4);
  await Deno.remove(root, { recursive: true });
});

Deno.test("saveCheckpoint: a failed write leaves the previous checkpoint current and no debris", async () => {
  const root = await Deno.makeTempDir({ prefix: "ckpt-" });
  const model = make(1);
  const good = await saveCheckpoint(root, { model, state: { step: 5 } });
  // NaN is refused by the JSON writer, half-way through the checkpoint.
  await assert.rejects(
    saveCheckpoint(root, { model, state: { step: 6, bad: NaN } }),
    /"bad" is NaN/,
  );
  assert.equal((await latestCheckpoint(root))?.dir, good);
  const names = [...Deno.readDirSync(root)].map((e) => e.name).sort();
  assert.equal(names.length, 2, `unexpected entries: ${names}`);
  await Deno.remove(root, { recursive: true });
});

Deno.test("restoreCheckpoint: a different architecture is refused clearly", async () => {
  const root = await Deno.makeTempDir({ prefix: "ckpt-" });
  await saveCheckpoint(root, { model: make(1), state: { step: 1 } });
  const wrong = mlpEncoder({ inputShape: [3], hidden: [5], embeddingDim: 2 });
  await assert.rejects(
    restoreCheckpoint(root, { model: wrong }),
    /weight 0 .* is \[3,4\], the model's .* is \[3,5\]/,
  );
  await assert.rejects(
    saveCheckpoint(root, { model: wrong, state: { step: -1 } }),
    /state.step must be a non-negative integer/,
  );
  await Deno.remove(root, { recursive: true });
});
