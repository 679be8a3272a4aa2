import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { retrievalMetrics } from "../lib/eval/retrieval.ts";
import { createRng } from "../lib/data/random.ts";

await tf.setBackend("cpu");

/**
 * Brute force with AccuracyCalculator's rules: full ranking by (distance, index) with a
 * comparator sort, relevance by label, self removed, lone queries skipped, R-precision over
 * min(R, k), both average precisions divided by R itself (PML's `count_per_query`), NaN when no
 * query is defined. (tests/retrieval_fixtures_test.ts compares with PML itself.)
 * Distances are exact (double precision; the test data are multiples of 1/4, so equal distances
 * are exactly equal).
 */
function bruteForce(
  q: number[][],
  ql: number[],
  r: number[][] | null,
  rl: number[] | null,
  k: number | undefined,
  ks: number[],
  dist: (a: number[], b: number[]) => number = (a, b) =>
    Math.sqrt(a.reduce((s, x, t) => s + (x - b[t]) ** 2, 0)),
) {
  const self = r === null;
  const ref = r ?? q, refl = rl ?? ql;
  let p1 = 0, rp = 0, mapr = 0, map = 0, mrr = 0, n = 0;
  const rec = ks.map(() => 0);
  for (let i = 0; i < q.length; i++) {
    const d = ref.map((v) => dist(q[i], v));
    const order = ref.map((_, j) => j).filter((j) => !(self && j === i));
    order.sort((a, b) => d[a] - d[b] || a - b);
    const kk = k ?? order.length;
    const ranked = order.slice(0, kk).map((j) => refl[j] === ql[i]);
    const total = order.filter((j) => refl[j] === ql[i]).length;
    if (total === 0) continue;
    n++;
    const R = Math.min(total, kk);
    p1 += ranked[0] ? 1 : 0;
    let hits = 0, apR = 0, ap = 0, hitsR = 0, first = 0;
    ranked.forEach((rel, t) => {
      if (!rel) return;
      hits++;
      if (!first) first = t + 1;
      ap += hits / (t + 1);
      if (t < R) {
        hitsR++;
        apR += hits / (t + 1);
      }
    });
    rp += hitsR / R;
    mapr += apR / total;
    map += ap / total;
    mrr += first ? 1 / first : 0;
    ks.forEach((K, s) => (rec[s] += first && first <= K ? 1 : 0));
  }
  const z = n > 0 ? n : NaN;
  return {
    precisionAt1: p1 / z,
    rPrecision: rp / z,
    mapAtR: mapr / z,
    meanAveragePrecision: map / z,
    mrr: mrr / z,
    recallAtK: Object.fromEntries(ks.map((K, s) => [K, rec[s] / z])),
    queries: n,
  };
}

function close(actual: Record<string, unknown>, expected: Record<string, unknown>) {
  for (const [key, v] of Object.entries(expected)) {
    if (typeof v === "number") {
      assert.ok(Math.abs((actual[key] as number) - v) < 1e-9, `${key}: ${actual[key]} vs ${v}`);
    } else close(actual[key] as Record<string, unknown>, v as Record<string, unknown>);
  }
}

Deno.test("hand-worked: one query, ranking [rel, irr, rel]", async () => {
  // Query 0 at 0; refs: 1 (label a) at 1, 2 (label b) at 2, 3 (label a) at 3.
  const x = tf.tensor2d([[0], [1], [2], [3]]);
  const labels = [0, 0, 1, 0];
  const m = await retrievalMetrics(x, labels);
  // Query 0: R = 2, ranking a b a → P@1 1, RP 1/2, MAP@R (1/1)/2 = 0.5, AP (1 + 2/3)/2.
  // Query 1 (label 0): neighbours 0 (d1, tie with 2 at d1 → index 0 first), 2, 3 → a b a:
  //   same as query 0. Query 3: neighbours 2 (b), 1 (a), 0 (a): P@1 0, RP 1/2 (one a in top 2),
  //   MAP@R (1/2)/2 = 0.25, AP (1/2 + 2/3)/2, RR 1/2. Query 2 (label 1) is lone.
  assert.equal(m.queries, 3);
  assert.equal(m.loneQueries, 1);
  assert.ok(Math.abs(m.precisionAt1 - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.rPrecision - 0.5) < 1e-12);
  assert.ok(Math.abs(m.mapAtR - (0.5 + 0.5 + 0.25) / 3) < 1e-12);
  assert.ok(Math.abs(m.meanAveragePrecision - ((5 / 3) / 2 * 2 + (7 / 6) / 2) / 3) < 1e-12);
  assert.ok(Math.abs(m.mrr - (1 + 1 + 0.5) / 3) < 1e-12);
  assert.ok(Math.abs(m.recallAtK[1] - 2 / 3) < 1e-12);
  x.dispose();
});

Deno.test("ties are ordered by reference index", async () => {
  // Query at 0; references at −1 (label 1, index 0) and +1 (label 0, index 1): equal distance.
  const q = tf.tensor2d([[0]]);
  const r = tf.tensor2d([[-1], [1]]);
  const m1 = await retrievalMetrics(q, [0], r, [1, 0]);
  assert.equal(m1.precisionAt1, 0); // index 0 (irrelevant) wins the tie
  assert.equal(m1.mrr, 0.5);
  const m2 = await retrievalMetrics(q, [0], r, [0, 1]);
  assert.equal(m2.precisionAt1, 1);
  q.dispose();
  r.dispose();
});

Deno.test("R larger than k: R-precision over min(R, k), MAP@R and MAP divided by R; lone queries skipped", async () => {
  const x = tf.tensor2d([[0], [1], [2], [3], [10]]);
  const labels = [0, 0, 0, 0, 1];
  const m = await retrievalMetrics(x, labels, undefined, undefined, { k: 2, ks: [1] });
  // Label 0 has R = 3 but k = 2: every label-0 query finds two label-0 references in its top 2.
  // R-precision: 2 / min(3, 2) = 1. MAP@R and MAP: (1/1 + 2/2) / R = 2/3 (PML divides by R).
  assert.equal(m.rPrecision, 1);
  assert.ok(Math.abs(m.mapAtR - 2 / 3) < 1e-15, `${m.mapAtR}`);
  assert.ok(Math.abs(m.meanAveragePrecision - 2 / 3) < 1e-15);
  assert.equal(m.queries, 4);
  assert.equal(m.loneQueries, 1);
  x.dispose();
});

Deno.test("fault 1 (issue 13): MAP@k divides by the relevant references, not by the hits in k", async () => {
  // PML 2.9 gives mean_average_precision 0.5 here (R = 2, one hit at rank 1, k = 1).
  const q = tf.tensor2d([[0]]), r = tf.tensor2d([[1], [2], [3]]);
  for (const k of [1, 2, 3]) {
    const m = await retrievalMetrics(q, [0], r, [0, 1, 0], { k, ks: [1] });
    // Ranking: 1 (label 0), 2 (label 1), 3 (label 0); R = 2.
    const expected = k === 1 ? 0.5 : k === 2 ? 0.5 : (1 + 2 / 3) / 2;
    assert.ok(
      Math.abs(m.meanAveragePrecision - expected) < 1e-15,
      `k=${k}: ${m.meanAveragePrecision}`,
    );
  }
  q.dispose();
  r.dispose();
});

Deno.test("fault 2 (issue 13): no query defined gives NaN for every metric, with the lone count", async () => {
  // PML ≥ 2.0 returns NaN for every k-NN metric when no query label is in the reference set.
  const q = tf.tensor2d([[0], [1]]), r = tf.tensor2d([[0], [1]]);
  const none = await retrievalMetrics(q, [7, 8], r, [1, 2], { ks: [1, 2] });
  assert.equal(none.queries, 0);
  assert.equal(none.loneQueries, 2);
  for (
    const v of [
      none.precisionAt1,
      none.rPrecision,
      none.mapAtR,
      none.mrr,
      none.meanAveragePrecision,
    ]
  ) {
    assert.ok(Number.isNaN(v), `expected NaN, got ${v}`);
  }
  assert.ok(Number.isNaN(none.recallAtK[1]) && Number.isNaN(none.recallAtK[2]));
  // Self layout where every class is a singleton: the same.
  const self = await retrievalMetrics(tf.tensor2d([[0], [1], [5]]), [1, 2, 3]);
  assert.ok(Number.isNaN(self.mapAtR) && self.loneQueries === 3);
  // One defined query: lone ones are left out of the mean, not counted as 0.
  const some = await retrievalMetrics(tf.tensor2d([[0], [1], [9]]), [1, 2, 3], r, [1, 2]);
  assert.equal(some.queries, 2);
  assert.equal(some.loneQueries, 1);
  assert.equal(some.precisionAt1, 1);
  q.dispose();
  r.dispose();
});

Deno.test("fault 7 (issue 13): ranking is right for data far from the origin", async () => {
  // Float32 ‖x‖² + ‖y‖² − 2x·y loses both distances here (both come out 0, order [0, 1]).
  for (const offset of [1000, 1e5, -3e6]) {
    const q = tf.tensor2d([[offset, offset]]);
    const r = tf.tensor2d([[offset + 0.25, offset], [offset + 0.0625, offset]]);
    const m = await retrievalMetrics(q, [0], r, [1, 0], { ks: [1] });
    assert.equal(m.precisionAt1, 1, `offset ${offset}`);
    // Self layout, three points on a line: the nearest of 0 is 1.
    const x = tf.tensor2d([[offset, 7], [offset + 0.0625, 7], [offset + 0.5, 7]]);
    const s = await retrievalMetrics(x, [0, 0, 1], undefined, undefined, { ks: [1] });
    assert.equal(s.precisionAt1, 1, `self, offset ${offset}`);
    q.dispose();
    r.dispose();
    x.dispose();
  }
});

Deno.test("random sets match a brute-force AccuracyCalculator (self and separate reference)", async () => {
  const rng = createRng(11);
  const rand = (n: number, d: number) =>
    Array.from(
      { length: n },
      () => Array.from({ length: d }, () => Math.round(rng.normal() * 4) / 4),
    );
  // Coarse values make many exact ties.
  const q = rand(60, 3), r = rand(45, 3);
  const ql = q.map(() => rng.nextInt(5)), rl = r.map(() => rng.nextInt(6));
  let ties = 0;
  for (const a of q) {
    const row = r.map((b) => b.reduce((s, x, t) => s + (x - a[t]) ** 2, 0));
    ties += row.length - new Set(row).size;
  }
  assert.ok(ties > 20, `the data should have ties, got ${ties}`);
  for (const k of [undefined, 5]) {
    const ks = k ? [1, 3, 5] : [1, 3, 10];
    const self = await retrievalMetrics(tf.tensor2d(q), ql, undefined, undefined, { ks, k });
    close(self as unknown as Record<string, unknown>, bruteForce(q, ql, null, null, k, ks));
    const sep = await retrievalMetrics(tf.tensor2d(q), ql, tf.tensor2d(r), rl, { ks, k });
    close(sep as unknown as Record<string, unknown>, bruteForce(q, ql, r, rl, k, ks));
  }
});

Deno.test("errors name the argument", async () => {
  const x = tf.tensor2d([[0], [1], [2]]);
  await assert.rejects(() => retrievalMetrics(x, [0, 1]), /queryLabels has 2 labels for 3 rows/);
  await assert.rejects(
    () => retrievalMetrics(x, [0, 1, 1], undefined, undefined, { ks: [0] }),
    /ks must be an integer in \[1, 2\]/,
  );
  await assert.rejects(
    () => retrievalMetrics(x, [0, 1, 1], undefined, undefined, { k: 3 }),
    /k must be an integer in \[1, 2\]/,
  );
  const bad = tf.tensor2d([[0], [NaN], [2]]);
  await assert.rejects(() => retrievalMetrics(bad, [0, 0, 0]), /NaN/);
  // Fault 3 (issue 13): ±Infinity is refused as NaN is, naming the argument and the first bad row.
  const inf = tf.tensor2d([[0, 0], [Infinity, 1], [2, 2]]);
  await assert.rejects(
    () => retrievalMetrics(inf, [0, 0, 1]),
    /retrievalMetrics: query row 1 holds Infinity \(column 0\)/,
  );
  const ninf = tf.tensor2d([[0, 0], [1, 1], [2, -Infinity]]);
  await assert.rejects(
    () => retrievalMetrics(tf.tensor2d([[0, 0]]), [0], ninf, [0, 0, 1]),
    /retrievalMetrics: reference row 2 holds -Infinity \(column 1\)/,
  );
  await assert.rejects(
    () => retrievalMetrics(tf.tensor2d([[0, 0]]), [0], tf.tensor2d([[0], [1]]), [0, 0]),
    /query has dimension 2 but reference has dimension 1/,
  );
  x.dispose();
  bad.dispose();
  inf.dispose();
  ninf.dispose();
});

Deno.test("evaluateEmbeddings adds k-means NMI/AMI to the retrieval record", async () => {
  const { evaluateEmbeddings, flattenEvaluation } = await import("../lib/eval/evaluate.ts");
  // Three tight, far-apart groups: perfect retrieval and clustering.
  const rows: number[][] = [], labels: number[] = [];
  for (let i = 0; i < 30; i++) {
    const c = i % 3;
    rows.push([c * 10 + (i % 5) * 0.01, -c * 10]);
    labels.push(c);
  }
  const x = tf.tensor2d(rows);
  const e = await evaluateEmbeddings(x, labels);
  assert.equal(e.mapAtR, 1);
  assert.equal(e.precisionAt1, 1);
  assert.ok(Math.abs(e.nmi - 1) < 1e-12 && Math.abs(e.ami - 1) < 1e-12);
  const flat = flattenEvaluation(e);
  assert.equal(flat.recallAt1, 1);
  assert.equal(flat.nmi, e.nmi);
  assert.equal(typeof (flat as Record<string, unknown>).recallAtK, "undefined");
  const skipped = await evaluateEmbeddings(x, labels, { clustering: false });
  assert.ok(Number.isNaN(skipped.nmi));
  x.dispose();
});

Deno.test("evaluateEmbeddings with a reference set: queries against the gallery, clustering on both", async () => {
  const { evaluateEmbeddings } = await import("../lib/eval/evaluate.ts");
  const { kMeans, nmi } = await import("../lib/eval/clustering.ts");
  const rng = createRng(5);
  const point = (c: number) => [c * 3 + rng.normal(), rng.normal()];
  const ql = [0, 1, 2, 0, 1], gl = [0, 0, 1, 1, 2, 2, 2, 3];
  const q = tf.tensor2d(ql.map(point)), g = tf.tensor2d(gl.map(point));
  const e = await evaluateEmbeddings(q, ql, { reference: g, referenceLabels: gl });
  const want = await retrievalMetrics(q, ql, g, gl);
  assert.equal(e.mapAtR, want.mapAtR);
  assert.equal(e.queries, 5); // R counts gallery items only (2 each), not the other queries
  const both = tf.concat([q, g]) as tf.Tensor2D;
  const clusters = kMeans(both, 4, { nInit: 1 }).labels;
  assert.equal(e.nmi, nmi([...ql, ...gl], clusters));
  await assert.rejects(
    evaluateEmbeddings(q, ql, { reference: g }),
    /reference and referenceLabels go together/,
  );
  tf.dispose([q, g, both]);
});

Deno.test("other metrics rank by their own distance (cosine, cityblock)", async () => {
  const rng = createRng(21);
  const q = Array.from({ length: 40 }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const ql = q.map(() => rng.nextInt(4));
  const cosine = (a: number[], b: number[]) =>
    1 - a.reduce((s, x, t) => s + x * b[t], 0) / (Math.hypot(...a) * Math.hypot(...b));
  const cityblock = (a: number[], b: number[]) => a.reduce((s, x, t) => s + Math.abs(x - b[t]), 0);
  for (const [metric, dist] of [["cosine", cosine], ["cityblock", cityblock]] as const) {
    const m = await retrievalMetrics(tf.tensor2d(q), ql, undefined, undefined, {
      metric,
      ks: [1, 5],
    });
    close(
      m as unknown as Record<string, unknown>,
      bruteForce(q, ql, null, null, undefined, [1, 5], dist),
    );
  }
});

Deno.test("retrievalFromRankings (rankings made elsewhere, e.g. a store) applies the same rules", async () => {
  const { retrievalFromRankings } = await import("../lib/eval/retrieval.ts");
  // Fault 1 through this path: R = 2, one hit at rank 1, k = 1 → MAP 0.5 (PML).
  const one = retrievalFromRankings([[0]], [0], [2], { k: 1, ks: [1] });
  assert.equal(one.meanAveragePrecision, 0.5);
  assert.equal(one.mapAtR, 0.5);
  assert.equal(one.rPrecision, 1);
  // Fault 2: no query defined → NaN, with the lone count.
  const none = retrievalFromRankings([[1, 2], [2, 1]], [7, 8], [0, 0], { k: 2 });
  assert.ok(Number.isNaN(none.precisionAt1) && Number.isNaN(none.recallAtK[1]));
  assert.equal(none.loneQueries, 2);
  // Equal to retrievalMetrics on the same data (separate reference set, k = 3).
  const rng = createRng(31);
  const q = Array.from({ length: 12 }, () => [rng.normal(), rng.normal()]);
  const r = Array.from({ length: 20 }, () => [rng.normal(), rng.normal()]);
  const ql = q.map(() => rng.nextInt(3)), rl = r.map(() => rng.nextInt(3));
  const ranked = q.map((a) =>
    r.map((b, j) => [Math.hypot(a[0] - b[0], a[1] - b[1]), j] as const)
      .sort((x, y) => x[0] - y[0] || x[1] - y[1]).slice(0, 3).map(([, j]) => rl[j])
  );
  const counts = ql.map((l) => rl.filter((x) => x === l).length);
  const got = retrievalFromRankings(ranked, ql, counts, { k: 3, ks: [1, 3] });
  const want = await retrievalMetrics(tf.tensor2d(q), ql, tf.tensor2d(r), rl, { k: 3, ks: [1, 3] });
  close(got as unknown as Record<string, unknown>, want as unknown as Record<string, unknown>);
  assert.throws(() => retrievalFromRankings([[0]], [0, 1], [1]), /1 rankings and 1 counts for 2/);
});
