/**
 * Miners against brute-force float64 loops written here from pytorch-metric-learning's
 * definitions, on random batches and a hand-worked one.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  batchHardMiner,
  multiSimilarityMiner,
  pairMarginMiner,
  tripletMarginMiner,
} from "../lib/miners/mod.ts";
import { contrastiveLoss, tripletMarginLoss } from "../lib/losses/mod.ts";

await tf.setBackend("cpu");

type M = number[][];
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const randn = (n: number, d: number, seed: number): M => {
  const r = rng(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: d }, () => {
      const u = Math.max(r(), 1e-9), v = r();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }));
};
const unit = (x: M) =>
  x.map((r) => {
    const s = Math.sqrt(r.reduce((a, v) => a + v * v, 0));
    return r.map((v) => v / s);
  });
const dist = (x: M, cos: boolean): M => {
  const u = unit(x);
  return u.map((a) =>
    u.map((b) =>
      cos
        ? a.reduce((s, v, k) => s + v * b[k], 0)
        : Math.sqrt(a.reduce((s, v, k) => s + (v - b[k]) ** 2, 0))
    )
  );
};
const triples = (t: { a: Int32Array; p: Int32Array; n: Int32Array }) =>
  Array.from(t.a, (a, i) => `${a},${t.p[i]},${t.n[i]}`);
const pairs = (a: Int32Array, b: Int32Array) => Array.from(a, (x, i) => `${x},${b[i]}`);
const sorted = (v: string[]) => [...v].sort();
/** Runs a miner on a fresh tensor and disposes it. */
function mine<T>(x: M, f: (e: tf.Tensor2D) => T): T {
  const e = tf.tensor2d(x);
  try {
    return f(e);
  } finally {
    e.dispose();
  }
}

const BATCHES = [
  { x: randn(12, 4, 5), y: [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2] },
  { x: randn(10, 3, 9), y: [4, 4, 4, 1, 1, 7, 7, 7, 7, 9] },
];

Deno.test("tripletMarginMiner equals a brute-force loop, in PML's order", () => {
  for (const { x, y } of BATCHES) {
    for (const cos of [false, true]) {
      const d = dist(x, cos);
      for (const type of ["all", "hard", "semihard", "easy"] as const) {
        const margin = cos ? 0.3 : 0.4;
        const expected: string[] = [];
        for (let a = 0; a < y.length; a++) {
          for (let p = 0; p < y.length; p++) {
            if (p === a || y[p] !== y[a]) continue;
            for (let n = 0; n < y.length; n++) {
              if (y[n] === y[a]) continue;
              const m = cos ? d[a][p] - d[a][n] : d[a][n] - d[a][p];
              const keep = type === "easy"
                ? m > margin
                : type === "hard"
                ? m <= 0
                : type === "semihard"
                ? m > 0 && m <= margin
                : m <= margin;
              if (keep) expected.push(`${a},${p},${n}`);
            }
          }
        }
        const got = mine(x, (e) =>
          tripletMarginMiner(e, y, {
            type,
            margin,
            distance: cos ? "cosine" : "euclidean",
          }));
        assert.deepEqual(triples(got), expected, `${type} cos=${cos}`);
        assert.ok(expected.length > 0 || type === "hard", `vacuous case ${type}`);
      }
    }
  }
});

Deno.test("batchHardMiner picks the farthest positive and the closest negative", () => {
  for (const { x, y } of BATCHES) {
    for (const cos of [false, true]) {
      const d = dist(x, cos);
      const expected: string[] = [];
      for (let a = 0; a < y.length; a++) {
        const ps = y.map((_, k) => k).filter((k) => k !== a && y[k] === y[a]);
        const ns = y.map((_, k) => k).filter((k) => y[k] !== y[a]);
        if (!ps.length || !ns.length) continue;
        const key = (k: number) => (cos ? -d[a][k] : d[a][k]);
        const p = ps.reduce((b, k) => (key(k) > key(b) ? k : b));
        const n = ns.reduce((b, k) => (key(k) < key(b) ? k : b));
        expected.push(`${a},${p},${n}`);
      }
      const got = mine(x, (e) => batchHardMiner(e, y, { distance: cos ? "cosine" : "euclidean" }));
      assert.deepEqual(triples(got), expected);
    }
  }
  // Hand-worked: label 9 (sample 9) has no positive, so it is not an anchor.
  const got = mine(BATCHES[1].x, (e) => batchHardMiner(e, BATCHES[1].y));
  assert.ok(!Array.from(got.a).includes(9));
  assert.equal(got.a.length, 9);
});

Deno.test("multiSimilarityMiner equals a brute-force loop", () => {
  for (const { x, y } of BATCHES) {
    for (const cos of [true, false]) {
      const d = dist(x, cos);
      const eps = 0.1;
      const pos: string[] = [], neg: string[] = [];
      for (let a = 0; a < y.length; a++) {
        const ps = y.map((_, k) => k).filter((k) => k !== a && y[k] === y[a]);
        const ns = y.map((_, k) => k).filter((k) => y[k] !== y[a]);
        if (!ps.length || !ns.length) continue;
        const pv = ps.map((k) => d[a][k]), nv = ns.map((k) => d[a][k]);
        for (const p of ps) {
          if (cos ? d[a][p] - eps < Math.max(...nv) : d[a][p] + eps > Math.min(...nv)) {
            pos.push(`${a},${p}`);
          }
        }
        for (const n of ns) {
          if (cos ? d[a][n] + eps > Math.min(...pv) : d[a][n] - eps < Math.max(...pv)) {
            neg.push(`${a},${n}`);
          }
        }
      }
      const got = mine(
        x,
        (e) => multiSimilarityMiner(e, y, { distance: cos ? "cosine" : "euclidean" }),
      );
      assert.deepEqual(sorted(pairs(got.a1, got.p)), sorted(pos));
      assert.deepEqual(sorted(pairs(got.a2, got.n)), sorted(neg));
      assert.ok(pos.length > 0 && neg.length > 0);
      // Within an anchor, PML's sort order: ascending value.
      for (let i = 1; i < got.a1.length; i++) {
        if (got.a1[i] === got.a1[i - 1]) {
          assert.ok(d[got.a1[i]][got.p[i]] >= d[got.a1[i]][got.p[i - 1]] - 1e-6);
        }
      }
    }
  }
  // No negatives at all → nothing mined.
  const none = mine(randn(4, 3, 1), (e) => multiSimilarityMiner(e, [1, 1, 1, 1]));
  assert.equal(none.a1.length + none.a2.length, 0);
});

Deno.test("pairMarginMiner equals a brute-force loop, in all-pairs order", () => {
  for (const { x, y } of BATCHES) {
    for (const cos of [false, true]) {
      const d = dist(x, cos);
      const [pm, nm] = cos ? [0.5, 0.1] : [0.9, 1.3];
      const pos: string[] = [], neg: string[] = [];
      for (let i = 0; i < y.length; i++) {
        for (let j = 0; j < y.length; j++) {
          if (i === j) continue;
          if (y[i] === y[j] && (cos ? d[i][j] < pm : d[i][j] > pm)) pos.push(`${i},${j}`);
          if (y[i] !== y[j] && (cos ? d[i][j] > nm : d[i][j] < nm)) neg.push(`${i},${j}`);
        }
      }
      const got = mine(x, (e) =>
        pairMarginMiner(e, y, {
          posMargin: pm,
          negMargin: nm,
          distance: cos ? "cosine" : "euclidean",
        }));
      assert.deepEqual(pairs(got.a1, got.p), pos);
      assert.deepEqual(pairs(got.a2, got.n), neg);
      assert.ok(pos.length > 0 && neg.length > 0);
    }
  }
});

Deno.test("mined tuples feed the losses; options are checked", () => {
  const { x, y } = BATCHES[0];
  const e = tf.tensor2d(x);
  const hard = batchHardMiner(e, y);
  // Batch-hard triplet loss by hand from the mined triplets.
  const d = dist(x, false);
  const v = Array.from(hard.a, (a, i) => Math.max(0, d[a][hard.p[i]] - d[a][hard.n[i]] + 0.2));
  const nz = v.filter((z) => z > 0);
  const expected = nz.length ? nz.reduce((s, z) => s + z) / nz.length : 0;
  const got = tf.tidy(() => tripletMarginLoss(e, y, { indices: hard, margin: 0.2 }).dataSync()[0]);
  assert.ok(Math.abs(got - expected) < 1e-4, `${got} vs ${expected}`);
  const pm = pairMarginMiner(e, y);
  const c = tf.tidy(() => contrastiveLoss(e, y, { indices: pm }).dataSync()[0]);
  assert.ok(Number.isFinite(c) && c > 0);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => tripletMarginMiner(e, y, { typ: "hard" } as any), /unknown option "typ"/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => tripletMarginMiner(e, y, { type: "medium" as any }), /unknown type/);
  assert.throws(() => pairMarginMiner(e, [0, 1]), /expected 12 labels/);
  e.dispose();
});
