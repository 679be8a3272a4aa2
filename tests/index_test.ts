import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Index } from "../lib/eval/index.ts";
import { createRng } from "../lib/data/random.ts";

await tf.setBackend("cpu");

function data(seed: number, n: number, d: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
}

/** Exact k nearest by brute force (double precision, ties by index). */
function brute(q: number[], x: number[][], k: number): number[] {
  const d = x.map((v) => v.reduce((s, a, t) => s + (a - q[t]) ** 2, 0));
  return x.map((_, j) => j).sort((a, b) => d[a] - d[b] || a - b).slice(0, k);
}

Deno.test("flat index equals brute force and reports Euclidean distances", async () => {
  const x = data(1, 120, 6), q = data(2, 10, 6);
  const index = new Index({ dim: 6 });
  index.add(x.slice(0, 50));
  index.add(x.slice(50)); // ids continue
  assert.equal(index.size, 120);
  const r = await index.search(q, 4);
  q.forEach((row, i) => {
    const exp = brute(row, x, 4);
    assert.deepEqual([...r.indices.subarray(i * 4, i * 4 + 4)], exp);
    const d0 = Math.sqrt(x[exp[0]].reduce((s, a, t) => s + (a - row[t]) ** 2, 0));
    assert.ok(Math.abs(r.distances[i * 4] - d0) < 1e-4);
  });
  assert.equal(await index.recall(q, 4), 1);
});

Deno.test("HNSW reaches recall@10 ≥ 0.9 and is deterministic for a seed", async () => {
  const x = data(3, 1500, 16), q = data(4, 50, 16);
  const build = () => {
    const index = new Index({
      dim: 16,
      kind: "hnsw",
      hnsw: { M: 12, efConstruction: 80, efSearch: 40, seed: 7 },
    });
    index.add(x);
    return index;
  };
  const index = build();
  const recall = await index.recall(q, 10);
  // Recall computed independently from brute force as well.
  const r = await index.search(q, 10);
  let hits = 0;
  q.forEach((row, i) => {
    const truth = new Set(brute(row, x, 10));
    for (let t = 0; t < 10; t++) if (truth.has(r.indices[i * 10 + t])) hits++;
  });
  assert.ok(Math.abs(hits / 500 - recall) < 1e-12, `${hits / 500} vs ${recall}`);
  assert.ok(recall >= 0.9, `HNSW recall@10 ${recall}`);
  const again = await build().search(q, 10);
  assert.deepEqual([...again.indices], [...r.indices]);
});

Deno.test("save/load round trip keeps vectors, graph and answers (flat, hnsw, cosine)", async () => {
  const x = data(5, 300, 8), q = data(6, 20, 8);
  for (
    const opts of [
      { dim: 8 },
      { dim: 8, kind: "hnsw" as const, hnsw: { M: 8, efConstruction: 40, seed: 3 } },
      { dim: 8, kind: "hnsw" as const, metric: "cosine" as const, hnsw: { M: 6, seed: 1 } },
    ]
  ) {
    const index = new Index(opts);
    index.add(x);
    const path = await Deno.makeTempFile({ dir: "/tmp", suffix: ".index" });
    try {
      await index.save(path);
      const loaded = await Index.load(path);
      assert.equal(loaded.size, 300);
      assert.equal(loaded.kind, index.kind);
      assert.equal(loaded.metric, index.metric);
      const a = await index.search(q, 5), b = await loaded.search(q, 5);
      assert.deepEqual([...b.indices], [...a.indices]);
      assert.deepEqual([...b.distances], [...a.distances]);
      // Adding after loading continues the same way as adding to the original.
      const extra = data(7, 10, 8);
      index.add(extra);
      loaded.add(extra);
      const c = await index.search(q, 5), e = await loaded.search(q, 5);
      assert.deepEqual([...e.indices], [...c.indices]);
    } finally {
      await Deno.remove(path);
    }
  }
});

Deno.test("index errors", async () => {
  assert.throws(() => new Index({ dim: 0 }), /dim must be a positive integer/);
  const index = new Index({ dim: 2 });
  assert.throws(() => index.add([[1, 2, 3]]), /row 0 has 3 values, not 2/);
  assert.throws(() => index.add([[NaN, 1]]), /Index\.add: vectors row 0 holds NaN/);
  index.add([[0, 0]]);
  await assert.rejects(() => index.search([[0, 0]], 2), /k must be an integer in \[1, 1\]/);
  assert.throws(() => Index.deserialize(new Uint8Array(16)), /bad magic/);
});
