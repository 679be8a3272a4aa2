/**
 * retrievalMetrics against pytorch-metric-learning 2.9.0's AccuracyCalculator itself: the values
 * in tests/fixtures/retrieval.json were computed by PML (faiss k-NN) from the inputs stored beside
 * them (`bench/fixture_sections/retrieval.py`).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { retrievalMetrics } from "../lib/eval/retrieval.ts";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";

await tf.setBackend("cpu");

interface RetrievalCase {
  name: string;
  query: number[][];
  query_labels: number[];
  reference: number[][] | null;
  reference_labels: number[] | null;
  k: number | string | null;
  k_used: number;
  lone_queries: number;
  expected: Record<string, number>;
}

/** PML's metric names → ours. */
const NAMES: Record<string, string> = {
  precision_at_1: "precisionAt1",
  r_precision: "rPrecision",
  mean_average_precision_at_r: "mapAtR",
  mean_average_precision: "meanAveragePrecision",
  mean_reciprocal_rank: "mrr",
};

const fixture = loadFixture<RetrievalCase[]>("retrieval");

Deno.test("the retrieval fixture covers every layout it promises", () => {
  assert.equal(fixture.versions.pytorch_metric_learning, "2.9.0");
  const names = fixture.cases.map((c) => c.name).join(" ");
  for (const layout of ["self_", "separate_", "ties_", "lone_", "all_lone", "big_classes"]) {
    assert.ok(names.includes(layout), `no ${layout} case`);
  }
  assert.ok(fixture.cases.some((c) => c.k_used === 1), "a case with k = 1");
});

for (const c of fixture.cases) {
  Deno.test(`retrievalMetrics equals PML's AccuracyCalculator: ${c.name}`, async () => {
    const q = tf.tensor2d(c.query);
    const r = c.reference ? tf.tensor2d(c.reference) : undefined;
    try {
      const ours = await retrievalMetrics(q, c.query_labels, r, c.reference_labels ?? undefined, {
        k: c.k_used,
        ks: [1],
      });
      assert.equal(ours.k, c.k_used);
      assert.equal(ours.loneQueries, c.lone_queries, "lone queries");
      assert.equal(ours.queries, c.query_labels.length - c.lone_queries, "queries scored");
      for (const [pml, name] of Object.entries(NAMES)) {
        // PML computes the reciprocal rank in float32.
        assertCloseTo(
          (ours as unknown as Record<string, number>)[name],
          c.expected[pml],
          { rtol: pml === "mean_reciprocal_rank" ? 1e-6 : 1e-12, atol: 1e-12 },
          `${c.name}: ${name} (PML ${pml})`,
        );
      }
    } finally {
      q.dispose();
      r?.dispose();
    }
  });
}
