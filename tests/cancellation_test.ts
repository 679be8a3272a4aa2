/**
 * Fault 7 of issue 13, as a kind: in float32, ‖x‖² + ‖y‖² − 2x·y loses every digit of a distance
 * that is small next to the norms. Every path that uses the expansion — `knn` (one thread and
 * worker threads), `retrievalMetrics`, `pairwiseDistances`, the flat and HNSW index — must rank
 * and report distances right for data far from the origin.
 *
 * The example: `knn([[1000, 1000]], [[1000.25, 1000], [1000.0625, 1000]], 2)` returned
 * order [0, 1] with distances [0, 0]; the right answer is [1, 0] with [0.0625, 0.25].
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Index, knn, retrievalMetrics, terminateKnnWorkers } from "../lib/eval/mod.ts";
import { pairwiseDistances } from "../lib/distances.ts";
import { createRng } from "../lib/data/random.ts";

await tf.setBackend("cpu");

const OFFSETS = [1000, -1000, 1e5, 1e6];

/** Exact k nearest (float64 differences of the float32 values), ties by smaller index. */
function brute(
  q: Float32Array,
  r: Float32Array,
  d: number,
  k: number,
  excludeSelf: boolean,
): { idx: number[][]; dist: number[][] } {
  const n = q.length / d, m = r.length / d;
  const idx: number[][] = [], dist: number[][] = [];
  for (let i = 0; i < n; i++) {
    const all: [number, number][] = [];
    for (let j = 0; j < m; j++) {
      if (excludeSelf && i === j) continue;
      let s = 0;
      for (let t = 0; t < d; t++) s += (q[i * d + t] - r[j * d + t]) ** 2;
      all.push([Math.sqrt(s), j]);
    }
    all.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    idx.push(all.slice(0, k).map((e) => e[1]));
    dist.push(all.slice(0, k).map((e) => e[0]));
  }
  return { idx, dist };
}

/** A small cloud (spread `spread`) around `offset` in every coordinate, as float32. */
function cloud(seed: number, n: number, d: number, offset: number, spread: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n * d }, () => offset + spread * rng.normal());
}

Deno.test("the issue's example: knn returns [1, 0] with distances [0.0625, 0.25]", async () => {
  for (const offset of [1000, ...OFFSETS]) {
    const q = tf.tensor2d([[offset, offset]]);
    const r = tf.tensor2d([[offset + 0.25, offset], [offset + 0.0625, offset]]);
    const res = await knn(q, r, 2);
    assert.deepEqual([...res.indices], [1, 0], `offset ${offset}`);
    assert.deepEqual([...res.distances], [0.0625, 0.25], `offset ${offset}`);
    for (const metric of ["sqeuclidean"] as const) {
      const sq = await knn(q, r, 2, { metric });
      assert.deepEqual([...sq.distances], [0.0625 ** 2, 0.25 ** 2]);
    }
    q.dispose();
    r.dispose();
  }
});

Deno.test("knn far from the origin equals exact search (self, separate, several blocks, threads)", async () => {
  try {
    for (const offset of OFFSETS) {
      const d = 5, spread = Math.abs(offset) * 1e-5;
      const x = cloud(1, 70, d, offset, spread);
      const y = cloud(2, 45, d, offset, spread);
      const xt = tf.tensor2d(x, [70, d]), yt = tf.tensor2d(y, [45, d]);
      const cases = [
        {
          res: await knn(xt, undefined, 4, { blockSize: 16, threads: 1 }),
          exp: brute(x, x, d, 4, true),
        },
        {
          res: await knn(xt, undefined, 4, { blockSize: 16, threads: 2 }),
          exp: brute(x, x, d, 4, true),
        },
        { res: await knn(xt, yt, 3, { blockSize: 8 }), exp: brute(x, y, d, 3, false) },
        { res: await knn(yt, xt, 5, { threads: 1 }), exp: brute(y, x, d, 5, false) },
      ];
      for (const [c, { res, exp }] of cases.entries()) {
        const k = res.k;
        exp.idx.forEach((row, i) => {
          assert.deepEqual(
            [...res.indices.subarray(i * k, (i + 1) * k)],
            row,
            `offset ${offset} case ${c} row ${i}`,
          );
          row.forEach((_, t) =>
            assert.ok(
              Math.abs(res.distances[i * k + t] - exp.dist[i][t]) <= 1e-6 * exp.dist[i][t] + 1e-30,
              `offset ${offset} case ${c}: ${res.distances[i * k + t]} vs ${exp.dist[i][t]}`,
            )
          );
        });
      }
      xt.dispose();
      yt.dispose();
    }
  } finally {
    terminateKnnWorkers();
  }
});

Deno.test("retrievalMetrics far from the origin ranks as exact distances do", async () => {
  for (const offset of OFFSETS) {
    const spread = Math.abs(offset) * 1e-5;
    // Two tight classes a few spreads apart, far from the origin: P@1 = MAP@R = 1 exactly.
    const n = 24, d = 3;
    const x = cloud(3, n, d, offset, spread * 0.05);
    const labels = Array.from({ length: n }, (_, i) => i % 2);
    for (let i = 0; i < n; i++) x[i * d] += labels[i] * spread;
    const m = await retrievalMetrics(tf.tensor2d(x, [n, d]), labels, undefined, undefined, {
      ks: [1],
    });
    assert.equal(m.precisionAt1, 1, `offset ${offset}`);
    assert.equal(m.mapAtR, 1, `offset ${offset}`);
  }
});

Deno.test("pairwiseDistances far from the origin reports the distances (self and separate)", () => {
  for (const offset of OFFSETS) {
    const a = tf.tensor2d([[offset, offset, 7]]);
    const b = tf.tensor2d([[offset + 0.25, offset, 7], [offset + 0.0625, offset, 7]]);
    for (
      const [metric, expect] of [["euclidean", [0.25, 0.0625]], ["sqeuclidean", [
        0.0625,
        0.0625 ** 2,
      ]]] as const
    ) {
      const got = pairwiseDistances(a, b, metric).dataSync();
      assert.deepEqual([...got], [...expect], `${metric} offset ${offset}`);
      const both = tf.concat([a, b]) as tf.Tensor2D;
      const self = pairwiseDistances(both, both, metric).arraySync() as number[][];
      assert.deepEqual(self[0].slice(1), [...expect], `${metric} self, offset ${offset}`);
      assert.equal(self[1][1], 0);
      both.dispose();
    }
    a.dispose();
    b.dispose();
  }
});

Deno.test("the flat and HNSW index far from the origin report exact neighbours and distances", async () => {
  for (const offset of OFFSETS) {
    const d = 4, spread = Math.abs(offset) * 1e-5;
    const x = cloud(5, 300, d, offset, spread), q = cloud(6, 12, d, offset, spread);
    const exp = brute(q, x, d, 5, false);
    for (const kind of ["flat", "hnsw"] as const) {
      const index = new Index({ dim: d, kind, hnsw: { seed: 3 } });
      index.add(x);
      const res = await index.search(q, 5, { efSearch: 300 });
      exp.idx.forEach((row, i) => {
        assert.deepEqual(
          [...res.indices.subarray(i * 5, i * 5 + 5)],
          row,
          `${kind} offset ${offset} row ${i}`,
        );
        row.forEach((_, t) =>
          assert.ok(
            Math.abs(res.distances[i * 5 + t] - exp.dist[i][t]) <= 1e-6 * exp.dist[i][t],
            `${kind} offset ${offset}: ${res.distances[i * 5 + t]} vs ${exp.dist[i][t]}`,
          )
        );
      });
    }
  }
});
