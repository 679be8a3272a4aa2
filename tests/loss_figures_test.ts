/** Diagnostics and figure builders of `lib/viz/loss_figures.ts`, against hand-worked values. */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  densityHistogram,
  embeddingSpread,
  pairDistanceHistogramFigure,
  pairDistanceSamples,
  spreadOverTrainingFigure,
} from "../lib/viz/loss_figures.ts";

await tf.setBackend("cpu");

Deno.test("pairDistanceSamples splits unordered pairs by label", async () => {
  // (0,0)-(3,4): 5 (positive); (0,0)-(0,1): 1 and (3,4)-(0,1): √18 (negatives)
  const e = tf.tensor2d([[0, 0], [3, 4], [0, 1]]);
  const s = await pairDistanceSamples(e, [7, 7, 2]);
  e.dispose();
  assert.equal(s.positive.length, 1);
  assert.ok(Math.abs(s.positive[0] - 5) < 1e-5);
  assert.deepEqual(s.negative.map((v) => Number(v.toFixed(4))), [
    1,
    Number(Math.sqrt(18).toFixed(4)),
  ]);
});

Deno.test("embeddingSpread: hand-worked values and collapse to zero", () => {
  // Centroid (0, 1): distances 1, 1, 1, 1; per-dimension variances 0.5 and 0.5.
  const e = tf.tensor2d([[1, 1], [-1, 1], [0, 2], [0, 0]]);
  const s = embeddingSpread(e);
  assert.ok(Math.abs(s.meanDistanceToCentroid - 1) < 1e-6);
  assert.ok(Math.abs(s.covarianceTrace - 1) < 1e-6);
  const same = tf.tensor2d([[0.6, 0.8], [0.6, 0.8]]);
  assert.ok(embeddingSpread(same).meanDistanceToCentroid < 1e-6);
  tf.dispose([e, same]);
});

Deno.test("densityHistogram integrates to one; figures have one trace per curve", () => {
  const h = densityHistogram([0.1, 0.1, 0.3, 5], 0, 0.4, 0.2);
  assert.deepEqual(h.centers, [0.1, 0.3]);
  // 5 is clamped into the last bin: counts [2, 2]
  assert.deepEqual(h.density, [2.5, 2.5]);
  assert.ok(Math.abs(h.density.reduce((a, b) => a + b) * 0.2 - 1) < 1e-9);
  assert.throws(() => densityHistogram([], 1, 0, 0.1), /end > start/);
  const fig = pairDistanceHistogramFigure([
    { name: "a", positive: [0.1], negative: [1.2], markers: [{ x: 1, label: "m" }] },
    { name: "b", positive: [0.2], negative: [1.5] },
    { name: "c", positive: [0.3], negative: [1.9] },
  ]);
  assert.equal(fig.data.length, 6);
  assert.equal(fig.data[2].xaxis, "x2");
  assert.equal((fig.layout.shapes as unknown[]).length, 1);
  const line = spreadOverTrainingFigure([{ name: "x", steps: [0, 10], values: [0.5, 0.25] }]);
  assert.deepEqual(line.data[0].y, [0.5, 0.25]);
});
