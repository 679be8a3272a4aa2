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

Deno.test("checkpoints carry extra named variables and train's extraState, restored on resume", async () => {
  const root = await Deno.makeTempDir({ prefix: "ckpt-extra-" });
  try {
    const model = make(3);
    const scale = tf.variable(tf.tensor1d([1.5, -2]), true, "scale");
    const proxies = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, "proxies");
    await saveCheckpoint(root, { model, variables: { scale, proxies }, state: { step: 1 } });
    const names = [...Deno.readDirSync((await latestCheckpoint(root))!.dir)].map((e) => e.name);
    assert.ok(names.includes("variables.bin") && names.includes("variables.json"));

    const scale2 = tf.variable(tf.zeros([2]));
    const proxies2 = tf.variable(tf.zeros([2, 2]));
    await restoreCheckpoint(root, {
      model: make(4),
      variables: { scale: scale2, proxies: proxies2 },
    });
    assert.deepEqual(Array.from(await scale2.data()), [1.5, -2]);
    assert.deepEqual(Array.from(await proxies2.data()), [1, 2, 3, 4]);
    await assert.rejects(
      restoreCheckpoint(root, { model: make(4), variables: { scale: scale2 } }),
      /holds variables not given to restore: proxies/,
    );
    await assert.rejects(
      restoreCheckpoint(root, {
        model: make(4),
        variables: { scale: scale2, proxies: proxies2, w: scale2 },
      }),
      /holds no variable "w"/,
    );
    await assert.rejects(
      restoreCheckpoint(root, {
        model: make(4),
        variables: { scale: proxies2, proxies: proxies2 },
      }),
      /variable "scale" is \[2\] in .*, \[2,2\] here/,
    );
    tf.dispose([scale, proxies, scale2, proxies2]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train's extraState is saved with every checkpoint and handed back on resume", async () => {
  const { train } = await import("../lib/train.ts");
  const { shuffledBatches } = await import("../lib/data/batches.ts");
  const { contrastiveLoss } = await import("../lib/losses/mod.ts");
  const root = await Deno.makeTempDir({ prefix: "ckpt-state-" });
  try {
    const x = tf.randomNormal([32, 3], 0, 1, "float32", 7);
    const labels = Int32Array.from({ length: 32 }, (_, i) => i % 4);
    const run = async (steps: number, counter: { seen: number[] }) => {
      const result = await train({
        model: make(5),
        loss: contrastiveLoss,
        sampler: shuffledBatches(x, labels, { batchSize: 8, seed: 1 }),
        steps,
        progress: false,
        checkpointDir: root,
        checkpointEvery: 2,
        resume: true,
        onStep: (r) => counter.seen.push(r.step),
        extraState: {
          save: () => counter.seen,
          restore: (saved) => counter.seen = [...(saved as number[])],
        },
      });
      return result;
    };
    const first = { seen: [] as number[] };
    await run(4, first);
    assert.deepEqual(first.seen, [1, 2, 3, 4]);
    const second = { seen: [] as number[] };
    await run(6, second);
    assert.deepEqual(second.seen, [1, 2, 3, 4, 5, 6], "steps 1-4 come back from the checkpoint");
    x.dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
