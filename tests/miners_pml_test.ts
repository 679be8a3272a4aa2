/**
 * Every miner against pytorch-metric-learning 2.9.0 itself (`tests/fixtures/miners_pml.json`,
 * written by `bench/fixture_sections/miners_pml.py`): exact tuples for the deterministic miners,
 * PML's errors where PML fails, and for the two sampling miners PML's own weights and bins, the
 * deterministic part of the output, and a two-sample comparison of the draws.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { createRng } from "../lib/data/random.ts";
import type { TupleIndices } from "../lib/losses/mod.ts";
import {
  angularMiner,
  batchEasyHardMiner,
  batchHardMiner,
  distanceWeightedMiner,
  embeddingsAlreadyPackagedAsTriplets,
  hdcMiner,
  multiSimilarityMiner,
  pairMarginMiner,
  tripletMarginMiner,
  uniformHistogramMiner,
} from "../lib/miners/mod.ts";
import { minerBatch } from "../lib/miners/_common.ts";
import { distanceWeights } from "../lib/miners/_distance_weights.ts";
import { histogramEdges } from "../lib/miners/_histogram.ts";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";

await tf.setBackend("cpu");

interface Batch {
  embeddings: number[][];
  labels: number[];
  refEmbeddings?: number[][];
  refLabels?: number[];
}
interface ExactCase {
  miner: string;
  batch: string;
  options: Record<string, unknown>;
  pml: string;
  indices?: number[][];
  output?: number[][];
  error?: string;
}
interface SamplingCase {
  miner: "distanceWeightedMiner" | "uniformHistogramMiner";
  batch: string;
  options: Record<string, unknown>;
  pml: string;
  weights?: number[][];
  posEdges?: number[];
  negEdges?: number[];
  matrix: number[][];
  output: number[][];
  runs: number;
  posCounts: number[][];
  negCounts: number[][];
}
const fx = loadFixture<{
  batches: Record<string, Batch>;
  cases: ExactCase[];
  sampling: SamplingCase[];
}>("miners_pml").cases;

// deno-lint-ignore no-explicit-any
type AnyMiner = (e: tf.Tensor2D, y: number[], o?: any) => TupleIndices;
const MINERS: Record<string, AnyMiner> = {
  angularMiner,
  batchEasyHardMiner,
  distanceWeightedMiner,
  hdcMiner,
  uniformHistogramMiner,
  embeddingsAlreadyPackagedAsTriplets,
  tripletMarginMiner,
  batchHardMiner,
  multiSimilarityMiner,
  pairMarginMiner,
};
const SAMPLING = new Set(["distanceWeightedMiner", "uniformHistogramMiner"]);

const matrix = (rows: number[][]) =>
  rows.length ? tf.tensor2d(rows) : tf.zeros([0, 4]) as tf.Tensor2D;

/** Runs `f` on the batch's tensors (and reference set, as options), then disposes them. */
function withBatch<T>(
  name: string,
  options: Record<string, unknown>,
  f: (e: tf.Tensor2D, y: number[], o: Record<string, unknown>) => T,
): T {
  const b = fx.batches[name];
  const e = matrix(b.embeddings);
  const ref = b.refEmbeddings ? matrix(b.refEmbeddings) : undefined;
  const o = ref ? { ...options, refEmbeddings: ref, refLabels: b.refLabels } : { ...options };
  try {
    return f(e, b.labels, o);
  } finally {
    e.dispose();
    ref?.dispose();
  }
}

const asLists = (t: TupleIndices): number[][] =>
  "a1" in t ? [[...t.a1], [...t.p], [...t.a2], [...t.n]] : [[...t.a], [...t.p], [...t.n]];

/**
 * HDC keeps the top fraction of each kind sorted by value; without a reference set every pair
 * (i, j) ties with (j, i), and `torch.topk` orders tied pairs arbitrarily, so the cut may take
 * either member. Same sequence of unordered pairs, and the directed pairs differ only by such
 * swaps (at most one: at the cut).
 */
function assertSameTopPairs(got: number[][], want: number[][], self: boolean, where: string) {
  for (const [a, o] of [[0, 1], [2, 3]]) {
    const key = (x: number[][], t: number) =>
      self
        ? `${Math.min(x[a][t], x[o][t])},${Math.max(x[a][t], x[o][t])}`
        : `${x[a][t]},${x[o][t]}`;
    const keys = (x: number[][]) => x[a].map((_, t) => key(x, t));
    assert.deepEqual(keys(got), keys(want), `${where}: pairs in value order`);
    const dir = (x: number[][]) => new Set(x[a].map((v, t) => `${v},${x[o][t]}`));
    const g = dir(got), w = dir(want);
    const onlyGot = [...g].filter((s) => !w.has(s)), onlyWant = [...w].filter((s) => !g.has(s));
    assert.ok(onlyGot.length <= 1, `${where}: directed pairs ${onlyGot} vs ${onlyWant}`);
    assert.deepEqual(onlyGot.map((s) => s.split(",").reverse().join(",")), onlyWant, where);
  }
}

Deno.test("deterministic miners give PML 2.9.0's tuples; they fail where PML fails", () => {
  let compared = 0, errors = 0;
  for (const c of fx.cases) {
    const where = `${c.pml} on ${c.batch}`;
    const options: Record<string, unknown> = { ...c.options };
    if (c.indices) {
      options.indices = c.indices.length === 4
        ? {
          a1: Int32Array.from(c.indices[0]),
          p: Int32Array.from(c.indices[1]),
          a2: Int32Array.from(c.indices[2]),
          n: Int32Array.from(c.indices[3]),
        }
        : {
          a: Int32Array.from(c.indices[0]),
          p: Int32Array.from(c.indices[1]),
          n: Int32Array.from(c.indices[2]),
        };
    }
    const run = () => withBatch(c.batch, options, (e, y, o) => MINERS[c.miner](e, y, o));
    if (c.error) {
      assert.throws(run, Error, `${where}: PML raised ${c.error}`);
      errors++;
      continue;
    }
    const got = asLists(run());
    const want = c.output!;
    if (SAMPLING.has(c.miner)) {
      assert.deepEqual(got.map((x) => x.length), want.map((x) => x.length), where);
    } else if (c.miner === "hdcMiner") {
      assertSameTopPairs(got, want, !fx.batches[c.batch].refEmbeddings, where);
    } else {
      assert.deepEqual(got, want, where);
    }
    compared++;
  }
  assert.equal(compared + errors, fx.cases.length);
  console.log(`${compared} outputs equal to PML's, ${errors} PML failures reproduced`);
});

/** Two-sample check of count tables: per cell and as a whole (χ² on the pooled counts). */
function assertSameDistribution(got: number[][], want: number[][], where: string) {
  let chi2 = 0, df = 0;
  got.forEach((row, i) =>
    row.forEach((g, j) => {
      const w = want[i][j];
      if (g + w === 0) return;
      assert.ok(w > 0 || g === 0, `${where}: (${i}, ${j}) drawn ${g} times, never by PML`);
      assert.ok(g > 0 || w < 30, `${where}: (${i}, ${j}) never drawn, ${w} times by PML`);
      const z = Math.abs(g - w) / Math.sqrt(g + w);
      assert.ok(z < 5.5, `${where}: (${i}, ${j}) drawn ${g} times, PML ${w} (z ${z.toFixed(1)})`);
      chi2 += (g - w) ** 2 / (g + w), df++;
    })
  );
  const limit = df + 6 * Math.sqrt(2 * df);
  assert.ok(chi2 <= limit, `${where}: χ² ${chi2.toFixed(1)} over ${df} cells (limit ${limit})`);
}

function countDraws(
  c: SamplingCase,
  draw: (o: Record<string, unknown>) => number[][],
): { pos: number[][]; neg: number[][] } {
  const n = c.posCounts.length, m = c.posCounts[0].length;
  const pos = Array.from({ length: n }, () => new Array(m).fill(0));
  const neg = Array.from({ length: n }, () => new Array(m).fill(0));
  const rng = createRng(11);
  for (let r = 0; r < c.runs; r++) {
    const out = draw({ ...c.options, rng });
    const [a1, p, a2, ng] = out.length === 3 ? [out[0], out[1], out[0], out[2]] : out;
    a1.forEach((i, t) => pos[i][p[t]]++);
    a2.forEach((i, t) => neg[i][ng[t]]++);
  }
  return { pos, neg };
}

Deno.test("distanceWeightedMiner: PML's weights and anchors; draws distributed as PML's", () => {
  for (const c of fx.sampling.filter((s) => s.miner === "distanceWeightedMiner")) {
    const where = `${c.pml} on ${c.batch}`;
    const { cutoff = 0.5, nonzeroLossCutoff = 1.4 } = c.options as Record<string, number>;
    const w = withBatch(c.batch, {}, (e, y, o) => {
      const b = minerBatch("t", e, y, o, Object.keys(o), "euclidean");
      assertCloseTo(
        Array.from({ length: b.n }, (_, i) => Array.from(b.mat.subarray(i * b.m, (i + 1) * b.m))),
        c.matrix,
        { rtol: 1e-5, atol: 2e-6 },
        `${where}: distances`,
      );
      return distanceWeights(b, cutoff, nonzeroLossCutoff)!;
    });
    const m = c.weights![0].length;
    const rows = c.weights!.map((_, i) => Array.from(w.subarray(i * m, (i + 1) * m)));
    assertCloseTo(rows, c.weights, { rtol: 1e-4, atol: 1e-7 }, `${where}: weights`);
    // The anchors are deterministic: PML's sequence exactly.
    const draw = (o: Record<string, unknown>) =>
      withBatch(c.batch, o, (e, y, oo) => asLists(distanceWeightedMiner(e, y, oo)));
    const once = draw(c.options);
    assert.deepEqual(once[0], c.output[0], `${where}: anchors`);
    const { pos, neg } = countDraws(c, draw);
    assertSameDistribution(pos, c.posCounts, `${where}: positives`);
    assertSameDistribution(neg, c.negCounts, `${where}: negatives`);
  }
});

Deno.test("uniformHistogramMiner: PML's bins; bin-by-bin draws distributed as PML's", () => {
  for (const c of fx.sampling.filter((s) => s.miner === "uniformHistogramMiner")) {
    const where = `${c.pml} on ${c.batch}`;
    const { numBins = 100, posPerBin = 10, negPerBin = 10 } = c.options as Record<string, number>;
    const b = fx.batches[c.batch];
    const self = !b.refEmbeddings;
    const yRef = b.refLabels ?? b.labels;
    const run = (o: Record<string, unknown>) =>
      withBatch(c.batch, o, (e, y, oo) => asLists(uniformHistogramMiner(e, y, oo)));
    const out = run(c.options);
    assert.deepEqual(out.map((x) => x.length), c.output.map((x) => x.length), `${where}: sizes`);
    for (
      const [kind, edgesPml, perBin, a, o] of [
        ["positive", c.posEdges!, posPerBin, out[0], out[1]],
        ["negative", c.negEdges!, negPerBin, out[2], out[3]],
      ] as const
    ) {
      if (edgesPml.length === 0) continue;
      // Our edges from our distances equal PML's.
      const values: number[] = [];
      withBatch(c.batch, {}, (e, y, oo) => {
        const dist = (c.options.distance ?? "euclidean") as "cosine" | "euclidean";
        const mb = minerBatch("t", e, y, oo, Object.keys(oo), dist);
        for (let i = 0; i < mb.n; i++) {
          for (let j = 0; j < mb.m; j++) {
            const same = y[i] === yRef[j];
            if ((kind === "positive") === same && !(self && i === j)) {
              values.push(mb.mat[i * mb.m + j]);
            }
          }
        }
      });
      assertCloseTo(
        Array.from(histogramEdges(values, numBins)),
        edgesPml,
        { rtol: 1e-5, atol: 1e-6 },
        `${where}: ${kind} edges`,
      );
      // Draw t comes from the (t / perBin)-th non-empty bin of PML's histogram.
      const binOf = (v: number) => {
        const hits: number[] = [];
        for (let k = 0; k < numBins; k++) {
          const s = edgesPml[k] - 1e-5, e = edgesPml[k + 1] + 1e-5;
          if (v >= s && v <= e) hits.push(k);
        }
        return hits;
      };
      const nonEmpty = new Set<number>();
      c.matrix.forEach((row, i) =>
        row.forEach((v, j) => {
          const same = b.labels[i] === yRef[j];
          if ((kind === "positive") === same && !(self && i === j)) {
            const hits = binOf(v);
            if (hits.length === 1) nonEmpty.add(hits[0]);
          }
        })
      );
      const order = [...nonEmpty].sort((x, y) => x - y);
      assert.equal(a.length, order.length * perBin, `${where}: ${kind} draws per bin`);
      a.forEach((i, t) => {
        const bin = order[Math.floor(t / perBin)];
        const hits = binOf(c.matrix[i][o[t]]);
        assert.ok(
          hits.includes(bin),
          `${where}: ${kind} draw ${t} (${i}, ${o[t]}) not in bin ${bin}`,
        );
      });
    }
    const { pos, neg } = countDraws(c, run);
    assertSameDistribution(pos, c.posCounts, `${where}: positives`);
    assertSameDistribution(neg, c.negCounts, `${where}: negatives`);
  }
});
