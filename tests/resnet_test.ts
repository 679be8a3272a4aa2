/**
 * The ResNet-style encoder (`lib/models/resnet.ts`): hand-counted parameters, shapes for 32–128 px,
 * batch normalisation in training and inference, training on wasm-free `cpu`, save/load.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { embed, encoderFor, loadEncoder, resnetEncoder } from "../lib/models/mod.ts";
import { saveEncoder } from "../lib/io/export.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { train } from "../lib/train.ts";

await tf.setBackend("cpu");

Deno.test("resnetEncoder: parameters counted by hand, unit-norm output, seeded weights", async () => {
  const m = resnetEncoder({
    inputShape: [32, 32, 3],
    width: 4,
    depth: [1, 1],
    embeddingDim: 8,
    seed: 3,
  });
  // stem conv 3·3·3·4 = 108 + BN 4·4; stage 1: 2 × (3·3·4·4 + 16) = 320; stage 2 (stride 2):
  // 3·3·4·8 + 32 + 3·3·8·8 + 32 + projection 1·1·4·8 + 32 = 992; dense 8·8 + 8 = 72.
  assert.equal(m.countParams(), 108 + 16 + 320 + 992 + 72);
  // Moving means and variances are not trainable: 2·(4 + 4 + 4 + 8 + 8 + 8) = 72 values.
  const trainable = m.trainableWeights.reduce(
    (s, w) => s + w.shape.reduce((a, b) => a! * b!, 1)!,
    0,
  );
  assert.equal(trainable, 1508 - 72);
  assert.deepEqual(m.outputs[0].shape, [null, 8]);
  const e = embed(m, tf.randomUniform([5, 32, 32, 3], 0, 1, "float32", 1));
  (await tf.norm(e, "euclidean", 1).array() as number[]).forEach((v) =>
    assert.ok(Math.abs(v - 1) < 1e-5)
  );
  const again = resnetEncoder({
    inputShape: [32, 32, 3],
    width: 4,
    depth: [1, 1],
    embeddingDim: 8,
    seed: 3,
  });
  const other = resnetEncoder({
    inputShape: [32, 32, 3],
    width: 4,
    depth: [1, 1],
    embeddingDim: 8,
    seed: 4,
  });
  assert.deepEqual(await m.getWeights()[0].data(), await again.getWeights()[0].data());
  assert.notDeepEqual(await m.getWeights()[0].data(), await other.getWeights()[0].data());
});

Deno.test("resnetEncoder: the stem adapts to 32, 64 and 128 px; width and depth are configurable", () => {
  for (const [side, after] of [[32, 32], [64, 32], [128, 32], [96, 24]]) {
    const m = resnetEncoder({ inputShape: [side, side, 3], width: 4, depth: 1 });
    assert.deepEqual((m.getLayer("s1b1_conv1").input as tf.SymbolicTensor).shape, [
      null,
      after,
      after,
      4,
    ], `${side} px`);
    assert.deepEqual((m.getLayer("pool").input as tf.SymbolicTensor).shape, [
      null,
      after / 4,
      after / 4,
      16,
    ]);
  }
  const deep = resnetEncoder({ inputShape: [32, 32, 3], width: 8, depth: [2, 2, 2, 2] });
  assert.ok(deep.layers.some((l) => l.name === "s4b2_add"));
  assert.ok(
    deep.countParams() >
      resnetEncoder({ inputShape: [32, 32, 3], width: 8, depth: [1, 1, 1, 1] }).countParams(),
  );
  assert.throws(() => resnetEncoder({ width: 0 }), /width must be a positive integer/);
  assert.throws(() => resnetEncoder({ depth: [1, 1.5] }), /depth\[1\] must be a positive integer/);
  assert.throws(() => resnetEncoder({ inputShape: [4, 4, 3] }), /too small/);
  assert.equal(encoderFor([28, 28, 1]).name, "cnn_encoder");
  assert.equal(encoderFor([32, 32, 3], { width: 4 }).name, "resnet_encoder");
});

Deno.test("resnetEncoder: batch norm uses batch statistics in training, moving averages in inference; it trains", async () => {
  const m = resnetEncoder({
    inputShape: [8, 8, 3],
    width: 4,
    depth: [1],
    embeddingDim: 4,
    seed: 1,
  });
  // Two well-separated classes of images.
  const n = 32;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const x = tf.tidy(() =>
    tf.add(
      tf.randomUniform([n, 8, 8, 3], 0, 0.3, "float32", 2),
      tf.reshape(tf.tensor1d(Array.from(labels, (l) => 0.7 * l)), [n, 1, 1, 1]),
    )
  );
  const batch = tf.slice(x, [0, 0, 0, 0], [8, 8, 8, 3]);
  const inTraining = m.apply(batch, { training: true }) as tf.Tensor;
  const inInference = m.apply(batch, { training: false }) as tf.Tensor;
  assert.notDeepEqual(await inTraining.data(), await inInference.data());
  const meanBefore = await m.getLayer("stem_bn").getWeights()[2].data();
  const result = await train({
    model: m,
    loss: (e, y) => contrastiveLoss(e, y),
    sampler: shuffledBatches(x, labels, { batchSize: 16, seed: 1 }),
    steps: 12,
    optimizer: tf.train.adam(0.01),
    progress: false,
  });
  const meanAfter = await m.getLayer("stem_bn").getWeights()[2].data();
  assert.notDeepEqual(meanAfter, meanBefore);
  const first = result.history.slice(0, 3).reduce((s, r) => s + r.loss, 0);
  const last = result.history.slice(-3).reduce((s, r) => s + r.loss, 0);
  assert.ok(last < first, `loss ${first / 3} → ${last / 3}`);
  // Saved and reloaded: the same inference embeddings (moving statistics included).
  const dir = await Deno.makeTempDir();
  await saveEncoder(m, dir);
  const back = await loadEncoder(dir);
  assert.deepEqual(await embed(back, x).data(), await embed(m, x).data());
});
