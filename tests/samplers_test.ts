import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { mPerClassSampler, pairSampler, tripletSampler } from "../lib/data/samplers.ts";
import {
  classIndex,
  FASHION_MNIST_SUPER_CATEGORIES,
  gradedPairs,
  gradedSimilarity,
  labelledPairs,
  tripletIndices,
} from "../lib/data/pairs.ts";
import { shuffledBatches } from "../lib/data/batches.ts";

await tf.setBackend("cpu");

// x[i] = i, so that gathered batches reveal the indices drawn.
const N = 103;
// Class sizes 20, 20, 20, 20, 20, 3 (class 5 is smaller than m = 4).
const LABELS = Int32Array.from({ length: N }, (_, i) => (i < 100 ? i % 5 : 5));
const X = tf.tensor2d(Float32Array.from({ length: N }, (_, i) => i), [N, 1]);

async function indices(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

Deno.test("mPerClassSampler: each batch has batchSize/m distinct classes, m examples each", async () => {
  const s = mPerClassSampler(X, LABELS, { m: 4, batchSize: 12, seed: 1 });
  assert.equal(s.batchesPerEpoch, Math.floor(N / 12));
  const chosen = new Map<number, number>();
  for (let b = 0; b < 300; b++) {
    const { x, y } = s.next();
    const idx = await indices(x);
    const lab = await indices(y);
    assert.equal(idx.length, 12);
    const byClass = new Map<number, number[]>();
    idx.forEach((i, k) => {
      assert.equal(LABELS[i], lab[k], "y matches the label of x");
      if (!byClass.has(lab[k])) byClass.set(lab[k], []);
      byClass.get(lab[k])!.push(i);
    });
    assert.equal(byClass.size, 3);
    for (const [c, members] of byClass) {
      assert.equal(members.length, 4);
      chosen.set(c, (chosen.get(c) ?? 0) + 1);
      // Without replacement when the class has at least m examples.
      if (c !== 5) assert.equal(new Set(members).size, 4, `class ${c} repeated an example`);
    }
  }
  // Classes drawn uniformly: 300 batches × 3 classes / 6 classes = 150 each (±5 sd ≈ ±45).
  for (let c = 0; c < 6; c++) {
    const count = chosen.get(c) ?? 0;
    assert.ok(Math.abs(count - 150) < 45, `class ${c} chosen ${count} times`);
  }
});

Deno.test("mPerClassSampler: seeded, reproducible, resumable; clear errors", async () => {
  const draw = async (seed: number, k: number) => {
    const s = mPerClassSampler(X, LABELS, { m: 2, batchSize: 6, seed });
    const out: number[][] = [];
    for (let i = 0; i < k; i++) {
      const b = s.next();
      out.push(await indices(b.x));
      b.y.dispose();
    }
    return out;
  };
  assert.deepEqual(await draw(7, 5), await draw(7, 5));
  assert.notDeepEqual(await draw(7, 5), await draw(8, 5));
  const s = mPerClassSampler(X, LABELS, { m: 2, batchSize: 6, seed: 7, lengthBeforeNewIter: 18 });
  for (let i = 0; i < 4; i++) tf.dispose(s.next() as unknown as tf.TensorContainer);
  const saved = s.state();
  assert.deepEqual({ epoch: saved.epoch, batch: saved.batch }, { epoch: 1, batch: 1 });
  const next = await indices(s.next().x);
  s.setState(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual(await indices(s.next().x), next);
  assert.throws(() => mPerClassSampler(X, LABELS, { m: 4, batchSize: 10 }), /not a multiple of m/);
  assert.throws(() => mPerClassSampler(X, LABELS, { m: 2, batchSize: 14 }), /7 classes per batch/);
  assert.throws(
    () => mPerClassSampler(X, LABELS.slice(1), { m: 2, batchSize: 4 }),
    /102 labels for 103/,
  );
  assert.throws(() => s.setState({ epoch: 0, batch: -1, rngState: 0 }), /state.batch/);
});

Deno.test("pairSampler: binary pairs are balanced and their targets match the labels", async () => {
  const s = pairSampler(X, LABELS, { batchSize: 20, seed: 3 });
  for (let b = 0; b < 20; b++) {
    const { inputs, target } = s.next();
    const left = await indices(inputs[0]);
    const right = await indices(inputs[1]);
    const t = await indices(target);
    assert.equal(t.filter((v) => v === 1).length, 10);
    t.forEach((v, k) => {
      assert.equal(v, LABELS[left[k]] === LABELS[right[k]] ? 1 : 0);
      assert.notEqual(left[k], right[k]);
    });
  }
  const a = pairSampler(X, LABELS, { batchSize: 8, seed: 3 });
  const saved = a.state();
  const first = await indices(a.next().inputs[0]);
  a.setState(saved);
  assert.deepEqual(await indices(a.next().inputs[0]), first);
});

Deno.test("pairSampler graded / gradedPairs: thirds of 1, 0.5, 0 matching gradedSimilarity", async () => {
  const labels = Int32Array.from({ length: 200 }, (_, i) => i % 10);
  const x = tf.tensor2d(Float32Array.from({ length: 200 }, (_, i) => i), [200, 1]);
  const s = pairSampler(x, labels, { batchSize: 30, targets: "graded", seed: 4 });
  const { inputs, target } = s.next();
  const left = await indices(inputs[0]);
  const right = await indices(inputs[1]);
  const t = await indices(target);
  for (const level of [1, 0.5, 0]) assert.equal(t.filter((v) => v === level).length, 10);
  t.forEach((v, k) => assert.equal(v, gradedSimilarity(labels[left[k]], labels[right[k]])));
  x.dispose();
  // The levels need their pairs: bottoms and bags alone have no same-super-category pair.
  assert.throws(() => gradedPairs([1, 1, 8, 8], { count: 3 }), /no same-super-category pair/);
});

Deno.test("gradedSimilarity: the Fashion-MNIST super-categories (Dress is a top)", () => {
  assert.deepEqual([...FASHION_MNIST_SUPER_CATEGORIES], [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]);
  assert.equal(gradedSimilarity(3, 3), 1);
  assert.equal(gradedSimilarity(3, 4), 0.5); // Dress, Coat
  assert.equal(gradedSimilarity(0, 6), 0.5); // T-shirt, Shirt
  assert.equal(gradedSimilarity(5, 9), 0.5); // Sandal, Ankle boot
  assert.equal(gradedSimilarity(3, 1), 0); // Dress, Trouser
  assert.equal(gradedSimilarity(8, 7), 0); // Bag, Sneaker
  assert.throws(() => gradedSimilarity(0, 12), /no super-category for label 12/);
});

Deno.test("tripletSampler / tripletIndices: anchor~positive share a class, negative does not", async () => {
  const s = tripletSampler(X, LABELS, { batchSize: 50, seed: 5 });
  const [a, p, n] = await Promise.all(s.next().inputs.map(indices));
  for (let k = 0; k < 50; k++) {
    assert.equal(LABELS[a[k]], LABELS[p[k]]);
    assert.notEqual(a[k], p[k]);
    assert.notEqual(LABELS[a[k]], LABELS[n[k]]);
  }
  assert.deepEqual(
    tripletIndices(LABELS, { count: 9, rng: 2 }),
    tripletIndices(LABELS, { count: 9, rng: 2 }),
  );
  assert.throws(() => tripletIndices([0, 1, 2], { count: 1 }), /need a class with two examples/);
});

Deno.test("labelledPairs and classIndex", () => {
  const p = labelledPairs(LABELS, { count: 9, positiveFraction: 1 / 3, rng: 1 });
  assert.equal([...p.target].filter((v) => v === 1).length, 3);
  assert.throws(() => labelledPairs([0, 0], { count: 2 }), /single class/);
  assert.throws(() => labelledPairs([0, 1], { count: 2 }), /no class has two examples/);
  assert.deepEqual([...classIndex([2, 0, 2]).members.get(2)!], [0, 2]);
});

Deno.test("shuffledBatches: setState restores the position across an epoch boundary", async () => {
  const s = shuffledBatches(X, LABELS, { batchSize: 40, seed: 2 });
  tf.dispose(s.next() as unknown as tf.TensorContainer);
  tf.dispose(s.next() as unknown as tf.TensorContainer);
  const saved = s.state();
  const want = await indices(s.next().x); // first batch of epoch 2
  s.next();
  s.setState(saved);
  assert.deepEqual(await indices(s.next().x), want);
});
