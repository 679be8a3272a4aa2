import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  binaryCrossEntropyWithLogits,
  classificationHead,
  marginRankingLoss,
  meanSquaredErrorLoss,
  rankingHead,
  regressionHead,
} from "../lib/heads/mod.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { pairSampler, tripletSampler } from "../lib/data/samplers.ts";
import { gradedPairs, labelledPairs, tripletIndices } from "../lib/data/pairs.ts";
import { createRng } from "../lib/data/random.ts";
import { train } from "../lib/train.ts";
import { fileSystemHandler } from "../lib/io/export.ts";

await tf.setBackend("cpu");

/** Four Gaussian classes in 8-d; super-categories {0, 1} and {2, 3}. */
function blobs(n: number, seed: number) {
  const rng = createRng(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
  const v = new Float32Array(n * 8);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    for (let j = 0; j < 8; j++) {
      // class direction plus a shared super-category direction
      const mean = (j === c ? 2 : 0) + (j === 4 + (c >> 1) ? 1.5 : 0);
      v[i * 8 + j] = mean + 0.6 * rng.normal();
    }
  }
  return { x: tf.tensor2d(v, [n, 8]), labels };
}
const SUPER = [0, 0, 1, 1];

function gatherRows(x: tf.Tensor, idx: Int32Array) {
  return tf.gather(x, tf.tensor1d(idx, "int32"));
}

const encoder = (seed: number) =>
  mlpEncoder({ inputShape: [8], hidden: [16], embeddingDim: 4, seed });

Deno.test("losses: MSE, BCE on logits and margin ranking against hand-computed values", async () => {
  const mse = meanSquaredErrorLoss(tf.tensor2d([[1], [0.5]]), tf.tensor1d([0, 0.5]));
  assert.equal((await mse.data())[0], 0.5);
  // BCE: y=1, z=2 → log(1+e^-2); y=0, z=2 → 2 + log(1+e^-2)
  const bce = binaryCrossEntropyWithLogits(tf.tensor1d([2, 2, -100]), tf.tensor1d([1, 0, 0]));
  const want =
    (Math.log1p(Math.exp(-2)) + 2 + Math.log1p(Math.exp(-2)) + Math.log1p(Math.exp(-100))) / 3;
  assert.ok(Math.abs((await bce.data())[0] - want) < 1e-6);
  const rank = marginRankingLoss(tf.tensor1d([0.9, 0.5, 0.1]), tf.tensor1d([0.1, 0.4, 0.5]), 0.2);
  // terms: max(0, .2-.8)=0, max(0,.2-.1)=.1, max(0,.2+.4)=.6 → mean .7/3
  assert.ok(Math.abs((await rank.data())[0] - 0.7 / 3) < 1e-6);
  assert.throws(() => meanSquaredErrorLoss(tf.ones([2, 2]), tf.ones([2])), /\[n\] or \[n, 1\]/);
  assert.throws(() => meanSquaredErrorLoss(tf.ones([3]), tf.ones([2])), /3 predictions for 2/);
});

Deno.test("regression head: learns graded similarity to test MSE < 0.04 (untrained > 0.04)", async () => {
  const train_ = blobs(400, 1), test = blobs(200, 2);
  const head = regressionHead(encoder(1));
  const p = gradedPairs(test.labels, { count: 300, superCategories: SUPER, rng: 7 });
  const testMse = async () => {
    const y = await head.similarity(gatherRows(test.x, p.left), gatherRows(test.x, p.right)).data();
    let se = 0;
    for (let i = 0; i < y.length; i++) se += (y[i] - p.target[i]) ** 2;
    return se / y.length;
  };
  const before = await testMse();
  await train({
    model: head.model,
    objective: head.loss,
    sampler: pairSampler(train_.x, train_.labels, {
      batchSize: 48,
      targets: "graded",
      superCategories: SUPER,
      seed: 1,
    }),
    steps: 150,
    optimizer: tf.train.adam(0.01),
    progress: false,
  });
  const mse = await testMse();
  console.log(`regression head test MSE ${before.toFixed(4)} before, ${mse.toFixed(4)} after`);
  assert.ok(before > 0.04, `untrained MSE ${before} is already small: the task is too easy`);
  assert.ok(mse < 0.04, `test MSE ${mse}`);
});

Deno.test("classification head: verification accuracy ≥ 0.95 on fresh pairs", async () => {
  const train_ = blobs(400, 3), test = blobs(200, 4);
  const head = classificationHead(encoder(2));
  const p = labelledPairs(test.labels, { count: 400, rng: 8 });
  const testAccuracy = async () => {
    const prob = await head.similarity(gatherRows(test.x, p.left), gatherRows(test.x, p.right))
      .data();
    assert.ok([...prob].every((v) => v >= 0 && v <= 1));
    let correct = 0;
    for (let i = 0; i < prob.length; i++) {
      correct += (prob[i] > 0.5 ? 1 : 0) === p.target[i] ? 1 : 0;
    }
    return correct / prob.length;
  };
  const before = await testAccuracy();
  await train({
    model: head.model,
    objective: head.loss,
    sampler: pairSampler(train_.x, train_.labels, { batchSize: 48, seed: 2 }),
    steps: 150,
    optimizer: tf.train.adam(0.01),
    progress: false,
  });
  const accuracy = await testAccuracy();
  console.log(
    `classification head accuracy ${before.toFixed(4)} before, ${accuracy.toFixed(4)} after`,
  );
  assert.ok(before < 0.8, `untrained accuracy ${before}: the task is too easy`);
  assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
});

for (const score of ["cosine", "learned"] as const) {
  Deno.test(`ranking head (${score} score): triplet accuracy ≥ 0.95 on fresh triplets`, async () => {
    const train_ = blobs(400, 5), test = blobs(200, 6);
    const head = rankingHead(encoder(3), { score, margin: 0.3, hidden: [8] });
    const t = tripletIndices(test.labels, { count: 400, rng: 9 });
    const tripletAccuracy = async () => {
      const a = gatherRows(test.x, t.anchor);
      const sp = await head.similarity(a, gatherRows(test.x, t.positive)).data();
      const sn = await head.similarity(a, gatherRows(test.x, t.negative)).data();
      let ok = 0;
      for (let i = 0; i < sp.length; i++) ok += sp[i] > sn[i] ? 1 : 0;
      return ok / sp.length;
    };
    const before = await tripletAccuracy();
    await train({
      model: head.model,
      objective: head.loss,
      sampler: tripletSampler(train_.x, train_.labels, { batchSize: 48, seed: 3 }),
      steps: 150,
      optimizer: tf.train.adam(0.01),
      progress: false,
    });
    const accuracy = await tripletAccuracy();
    console.log(
      `ranking (${score}) triplet accuracy ${before.toFixed(4)} before, ${
        accuracy.toFixed(4)
      } after`,
    );
    assert.ok(before < 0.9, `untrained accuracy ${before}: the task is too easy`);
    assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
  });
}

Deno.test("heads: the head model saves and reloads with tf.loadLayersModel, same outputs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "head-" });
  const heads = [
    classificationHead(encoder(4), { hidden: [5] }),
    regressionHead(encoder(5), { score: "learned", hidden: [3] }),
    rankingHead(encoder(6), { score: "learned" }),
  ];
  const x = tf.randomNormal([5, 8], 0, 1, "float32", 1);
  const z = tf.randomNormal([5, 8], 0, 1, "float32", 2);
  for (const head of heads) {
    await head.model.save(fileSystemHandler(`${dir}/${head.kind}`));
    const again = await tf.loadLayersModel(fileSystemHandler(`${dir}/${head.kind}`));
    const inputs = head.kind === "ranking" ? [x, z, tf.neg(x)] : [x, z];
    const want = await (head.model.predict(inputs) as tf.Tensor).data();
    const got = await (again.predict(inputs) as tf.Tensor).data();
    assert.deepEqual(got, want, head.kind);
  }
  // The classification head is symmetric in its pair (pair features are symmetric).
  const h = heads[0];
  assert.deepEqual(await h.similarity(x, z).data(), await h.similarity(z, x).data());
  await Deno.remove(dir, { recursive: true });
});
