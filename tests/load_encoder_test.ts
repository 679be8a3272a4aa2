/**
 * `loadEncoder(pathOrUrl, options)` (`lib/models/load.ts`): a model the test builds and saves
 * (a small classifier with batch norm standing for a converted pretrained backbone) loaded as
 * saved, and as the trunk of a new embedding head, frozen or not.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { embed, loadEncoder } from "../lib/models/mod.ts";
import { saveEncoder } from "../lib/io/export.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { train } from "../lib/train.ts";

await tf.setBackend("cpu");

/** A "pretrained" backbone: conv - BN - ReLU - global pool - softmax classifier (10 classes). */
function backbone(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.conv2d({
    filters: 6,
    kernelSize: 3,
    padding: "same",
    name: "conv",
    kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
  }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: "bn" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: "relu", name: "relu" }).apply(x) as tf.SymbolicTensor;
  const features = tf.layers.globalAveragePooling2d({ name: "features" }).apply(
    x,
  ) as tf.SymbolicTensor;
  const logits = tf.layers.dense({
    units: 10,
    activation: "softmax",
    name: "classifier",
    kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
  }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: "backbone" });
}

const dir = await Deno.makeTempDir({ prefix: "load_encoder_test_" });
const original = backbone();
// Non-trivial moving statistics, as a trained backbone has.
original.getLayer("bn").setWeights([
  tf.fill([6], 1.5),
  tf.fill([6], 0.1),
  tf.fill([6], 0.2),
  tf.fill([6], 2),
]);
await saveEncoder(original, `${dir}/backbone`);
const x = tf.randomUniform([16, 12, 12, 3], 0, 1, "float32", 3) as tf.Tensor4D;
const labels = Int32Array.from({ length: 16 }, (_, i) => i % 4);

Deno.test("loadEncoder: as saved, from a folder, a model.json path or a file:// URL", async () => {
  const expected = await (original.predict(x) as tf.Tensor).data();
  for (
    const target of [
      `${dir}/backbone`,
      `${dir}/backbone/`,
      `${dir}/backbone/model.json`,
      `file://${dir}/backbone`,
    ]
  ) {
    const m = await loadEncoder(target);
    assert.deepEqual(await (m.predict(x) as tf.Tensor).data(), expected, target);
  }
  await assert.rejects(
    loadEncoder(`${dir}/nothing`),
    /loadEncoder: cannot load a layers model from .*nothing: .*cannot read .*nothing\/model\.json/,
  );
  await assert.rejects(loadEncoder(""), TypeError);
});

Deno.test("loadEncoder: a trunk with a new head — pooled features, dense(d), L2-normalised", async () => {
  const m = await loadEncoder(`${dir}/backbone`, {
    embeddingDim: 5,
    trunkLayer: "features",
    seed: 1,
  });
  assert.deepEqual(m.outputs[0].shape, [null, 5]);
  assert.ok(!m.layers.some((l) => l.name === "classifier"));
  const e = embed(m, x);
  (await tf.norm(e, "euclidean", 1).array() as number[]).forEach((v) =>
    assert.ok(Math.abs(v - 1) < 1e-5)
  );
  // On a feature map the head pools first.
  const fromMap = await loadEncoder(`${dir}/backbone`, {
    embeddingDim: 3,
    trunkLayer: "relu",
    normalize: false,
  });
  assert.ok(fromMap.layers.some((l) => l.name === "head_pool"));
  assert.equal(fromMap.layers.at(-1)!.name, "head_embedding");
  await assert.rejects(
    loadEncoder(`${dir}/backbone`, { embeddingDim: 3, trunkLayer: "pool5" }),
    /no layer "pool5"; its layers: .*conv, bn, relu, features, classifier/,
  );
  await assert.rejects(
    loadEncoder(`${dir}/backbone`, { freeze: true }),
    /trunkLayer and freeze need embeddingDim/,
  );
  await assert.rejects(
    loadEncoder(`${dir}/backbone`, { embeddingDim: 0 }),
    /embeddingDim must be a positive integer/,
  );
  await assert.rejects(
    loadEncoder(`${dir}/backbone`, { embedingDim: 3 } as never),
    /unknown option "embedingDim"/,
  );
});

async function snapshot(m: tf.LayersModel, names: string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const n of names) {
    for (const w of m.getLayer(n).getWeights()) out.push(await w.data() as Float32Array);
  }
  return out;
}

Deno.test("loadEncoder freeze: only the head trains; the trunk's weights and batch-norm statistics stay", async () => {
  const frozen = await loadEncoder(`${dir}/backbone`, {
    embeddingDim: 4,
    trunkLayer: "features",
    freeze: true,
  });
  assert.deepEqual(
    frozen.trainableWeights.map((w) => w.name.replace(/_\d+$/, "")).sort(),
    ["head_embedding/bias", "head_embedding/kernel"],
  );
  const trunkBefore = await snapshot(frozen, ["conv", "bn"]);
  const headBefore = await snapshot(frozen, ["head_embedding"]);
  await train({
    model: frozen,
    loss: (e, y) => contrastiveLoss(e, y),
    sampler: shuffledBatches(x, labels, { batchSize: 8, seed: 1 }),
    steps: 3,
    optimizer: tf.train.sgd(0.5),
    progress: false,
  });
  assert.deepEqual(await snapshot(frozen, ["conv", "bn"]), trunkBefore);
  assert.notDeepEqual(await snapshot(frozen, ["head_embedding"]), headBefore);

  // Not frozen: the trunk trains and batch norm updates its moving statistics.
  const open = await loadEncoder(`${dir}/backbone`, { embeddingDim: 4, trunkLayer: "features" });
  const before = await snapshot(open, ["conv", "bn"]);
  await train({
    model: open,
    loss: (e, y) => contrastiveLoss(e, y),
    sampler: shuffledBatches(x, labels, { batchSize: 8, seed: 1 }),
    steps: 3,
    optimizer: tf.train.sgd(0.5),
    progress: false,
  });
  const after = await snapshot(open, ["conv", "bn"]);
  assert.notDeepEqual(after[0], before[0]); // conv kernel
  assert.notDeepEqual(after[4], before[4]); // moving mean
});

Deno.test("loadEncoder: a trunk + head encoder saves and loads back to the same embeddings", async () => {
  const m = await loadEncoder(`${dir}/backbone`, {
    embeddingDim: 4,
    trunkLayer: "features",
    seed: 5,
  });
  await saveEncoder(m, `${dir}/with_head`);
  const back = await loadEncoder(`${dir}/with_head`);
  assert.deepEqual(await embed(back, x).data(), await embed(m, x).data());
});

Deno.test("loadEncoder: an http(s) URL is fetched (model.json, then the weights beside it)", async () => {
  // No network in tests: a fetch that serves the saved files for one made-up host.
  const realFetch = globalThis.fetch;
  const requested: string[] = [];
  globalThis.fetch = (async (input: RequestInfo | URL) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    requested.push(url.pathname);
    assert.equal(url.host, "models.example");
    return new Response(
      await Deno.readFile(`${dir}/backbone${url.pathname.slice("/backbone".length)}`),
    );
  }) as typeof fetch;
  try {
    const m = await loadEncoder("https://models.example/backbone/model.json", {
      embeddingDim: 3,
      trunkLayer: "features",
    });
    assert.deepEqual(m.outputs[0].shape, [null, 3]);
    assert.deepEqual(requested, ["/backbone/model.json", "/backbone/weights.bin"]);
  } finally {
    globalThis.fetch = realFetch;
  }
});
