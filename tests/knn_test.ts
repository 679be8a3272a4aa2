import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { knn, terminateKnnWorkers, TopK } from "../lib/eval/knn.ts";
import { createRng } from "../lib/data/random.ts";

await tf.setBackend("cpu");

/** Brute force: every distance in double precision, stable sort by (distance, index). */
function brute(
  q: number[][],
  r: number[][],
  k: number,
  excludeSelf: boolean,
  dist: (a: number[], b: number[]) => number,
) {
  return q.map((a, i) => {
    const order = r.map((_, j) => j).filter((j) => !(excludeSelf && j === i));
    const d = r.map((b) => dist(a, b));
    order.sort((x, y) => d[x] - d[y] || x - y);
    return order.slice(0, k).map((j) => ({ j, d: d[j] }));
  });
}
const euclid = (a: number[], b: number[]) =>
  Math.sqrt(a.reduce((s, x, t) => s + (x - b[t]) ** 2, 0));
const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((s, x, t) => s + x * b[t], 0);
  const na = Math.hypot(...a), nb = Math.hypot(...b);
  return 1 - dot / (na * nb);
};

function rows(rng: ReturnType<typeof createRng>, n: number, d: number, step = 0) {
  return Array.from(
    { length: n },
    () =>
      Array.from({ length: d }, () => step ? Math.round(rng.normal() / step) * step : rng.normal()),
  );
}

function assertMatches(
  res: { indices: Int32Array; distances: Float32Array },
  expected: { j: number; d: number }[][],
  k: number,
  tol: number,
) {
  expected.forEach((row, i) => {
    row.forEach(({ j, d }, t) => {
      assert.ok(
        Math.abs(res.distances[i * k + t] - d) < tol,
        `query ${i} rank ${t}: distance ${res.distances[i * k + t]} vs ${d}`,
      );
      // Ids must agree except where the brute-force distances tie within tolerance.
      if (res.indices[i * k + t] !== j) {
        const other = row.find((e) => e.j === res.indices[i * k + t]);
        assert.ok(
          other && Math.abs(other.d - d) < tol,
          `query ${i} rank ${t}: id ${res.indices[i * k + t]} vs ${j}`,
        );
      }
    });
  });
}

Deno.test("TopK keeps the k smallest, ties by smaller index", () => {
  const top = new TopK(1, 3);
  for (const [key, id] of [[5, 0], [1, 1], [5, 2], [0, 3], [5, 4], [1, 5]]) top.push(0, key, id);
  assert.deepEqual([...top.indices], [3, 1, 5]);
  const tie = new TopK(1, 2);
  for (const id of [4, 2, 3, 0]) tie.push(0, 7, id);
  assert.deepEqual([...tie.indices], [0, 2]);
});

Deno.test("self search with excludeSelf matches brute force (several blocks, symmetric path)", async () => {
  const rng = createRng(5);
  const x = rows(rng, 70, 5);
  const res = await knn(tf.tensor2d(x), undefined, 4, { blockSize: 16 });
  assertMatches(res, brute(x, x, 4, true, euclid), 4, 1e-4);
  // The plain JavaScript scan (no SIMD filter) gives the same answer; block 18 leaves a
  // 2-column tail after the 4-column chunks of the SIMD path.
  const js = await knn(tf.tensor2d(x), undefined, 4, { blockSize: 16, simd: false });
  assert.deepEqual([...js.indices], [...res.indices]);
  const tail = await knn(tf.tensor2d(x), undefined, 4, { blockSize: 18 });
  assertMatches(tail, brute(x, x, 4, true, euclid), 4, 1e-4);
  for (let i = 0; i < 70; i++) assert.ok(!res.indices.subarray(i * 4, i * 4 + 4).includes(i));
});

Deno.test("self search including self returns each point first", async () => {
  const rng = createRng(6);
  const x = rows(rng, 40, 3);
  const res = await knn(tf.tensor2d(x), undefined, 3, { blockSize: 7, excludeSelf: false });
  for (let i = 0; i < 40; i++) assert.equal(res.indices[i * 3], i);
  assertMatches(res, brute(x, x, 3, false, euclid), 3, 1e-3);
});

Deno.test("separate reference, exact ties broken by index, other metrics", async () => {
  const rng = createRng(7);
  // Coarse 1-D grid values: many exactly tied distances.
  const q = rows(rng, 30, 1, 1), r = rows(rng, 50, 1, 1);
  const res = await knn(tf.tensor2d(q), tf.tensor2d(r), 5, { blockSize: 8 });
  const exp = brute(q, r, 5, false, euclid);
  exp.forEach((row, i) =>
    assert.deepEqual([...res.indices.subarray(i * 5, i * 5 + 5)], row.map((e) => e.j))
  );
  const q2 = rows(rng, 20, 4), r2 = rows(rng, 33, 4);
  const cos = await knn(tf.tensor2d(q2), tf.tensor2d(r2), 3, { metric: "cosine", blockSize: 10 });
  assertMatches(cos, brute(q2, r2, 3, false, cosine), 3, 1e-5);
  const sq = await knn(tf.tensor2d(q2), tf.tensor2d(r2), 3, { metric: "sqeuclidean" });
  assertMatches(sq, brute(q2, r2, 3, false, (a, b) => euclid(a, b) ** 2), 3, 1e-4);
  // A metric outside the matrix-product families goes through pairwiseDistances.
  const l1 = await knn(tf.tensor2d(q2), tf.tensor2d(r2), 3, { metric: "cityblock", blockSize: 9 });
  assertMatches(
    l1,
    brute(q2, r2, 3, false, (a, b) => a.reduce((s, x, t) => s + Math.abs(x - b[t]), 0)),
    3,
    1e-4,
  );
  // excludeSelf with an explicit reference of the same size.
  const ex = await knn(tf.tensor2d(q2), tf.tensor2d(q2), 2, { excludeSelf: true });
  assertMatches(ex, brute(q2, q2, 2, true, euclid), 2, 1e-4);
});

Deno.test("knn errors name the argument", async () => {
  const x = tf.tensor2d([[0], [1], [2]]);
  await assert.rejects(() => knn(x, undefined, 0), /k must be an integer in \[1, 2\]/);
  await assert.rejects(() => knn(x, undefined, 3), /k must be an integer in \[1, 2\]/);
  await assert.rejects(() => knn(x, tf.tensor2d([[0, 1]]), 1), /dimension/);
  await assert.rejects(
    () => knn(tf.tensor2d([[NaN]]), x, 1),
    /knn: query row 0 holds NaN \(column 0\)/,
  );
  await assert.rejects(() => knn(x, tf.tensor2d([[0]]), 1, { excludeSelf: true }), /excludeSelf/);
});

Deno.test("worker threads give the same neighbours as one thread", async () => {
  const rng = createRng(9);
  const x = tf.tensor2d(rows(rng, 90, 6));
  try {
    const one = await knn(x, undefined, 5, { blockSize: 16 });
    const two = await knn(x, undefined, 5, { blockSize: 16, threads: 2 });
    assert.deepEqual([...two.indices], [...one.indices]);
    const r = tf.tensor2d(rows(rng, 40, 6));
    const sep1 = await knn(x, r, 3, { blockSize: 16, metric: "cosine" });
    const sep2 = await knn(x, r, 3, { blockSize: 16, metric: "cosine", threads: 3 });
    assert.deepEqual([...sep2.indices], [...sep1.indices]);
    for (let t = 0; t < one.distances.length; t++) {
      assert.ok(Math.abs(two.distances[t] - one.distances[t]) < 1e-5);
    }
  } finally {
    terminateKnnWorkers();
  }
});
