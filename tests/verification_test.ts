import assert from "node:assert/strict";
import {
  bestThresholdAccuracy,
  calibrateThreshold,
  equalErrorRate,
  match,
  rocAuc,
  rocCurve,
} from "../lib/eval/verification.ts";
import { createRng } from "../lib/data/random.ts";

/** AUC by its probabilistic definition: P(s+ > s−) + ½ P(s+ = s−), over all pairs. */
function aucByPairs(scores: number[], same: number[]): number {
  let sum = 0, count = 0;
  scores.forEach((s, i) => {
    if (!same[i]) return;
    scores.forEach((t, j) => {
      if (same[j]) return;
      sum += s > t ? 1 : s === t ? 0.5 : 0;
      count++;
    });
  });
  return sum / count;
}

Deno.test("rocCurve by hand, with a tie across classes", () => {
  // Scores 0.9(+) 0.5(+) 0.5(−) 0.1(−): the tied pair moves together.
  const { fpr, tpr, thresholds } = rocCurve([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]);
  assert.deepEqual(fpr, [0, 0, 0.5, 1]);
  assert.deepEqual(tpr, [0, 0.5, 1, 1]);
  assert.deepEqual(thresholds, [Infinity, 0.9, 0.5, 0.1]);
  // Trapezoids: 0.5·(0.5+1)/2 + 0.5·(1+1)/2 = 0.375 + 0.5.
  assert.equal(rocAuc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 0.875);
});

Deno.test("rocAuc equals the pairwise definition with many ties; distances flip the order", () => {
  const rng = createRng(3);
  const scores = Array.from({ length: 200 }, () => rng.nextInt(8) / 8);
  const same = scores.map((s) => (rng.next() < s ? 1 : 0));
  const expected = aucByPairs(scores, same);
  assert.ok(Math.abs(rocAuc(scores, same) - expected) < 1e-12);
  const distances = scores.map((s) => 1 - s);
  assert.ok(Math.abs(rocAuc(distances, same, { scoreType: "distance" }) - expected) < 1e-12);
  assert.ok(Math.abs(rocAuc(scores, same.map((s) => s === 1)) - expected) < 1e-12);
});

Deno.test("best-threshold accuracy and EER against brute force", () => {
  const rng = createRng(8);
  const scores = Array.from({ length: 60 }, () => Math.round(rng.normal() * 4) / 4);
  const same = scores.map((s) => (rng.next() < 1 / (1 + Math.exp(-2 * s)) ? 1 : 0));
  let best = -1;
  for (const t of [Infinity, ...new Set(scores)]) {
    const acc = scores.filter((s, i) => (s >= t ? 1 : 0) === same[i]).length / scores.length;
    best = Math.max(best, acc);
  }
  assert.ok(Math.abs(bestThresholdAccuracy(scores, same).accuracy - best) < 1e-12);
  // A perfectly separable set has EER 0; a fully inverted one has EER 1.
  assert.equal(equalErrorRate([3, 2, 1, 0], [1, 1, 0, 0]).eer, 0);
  assert.equal(equalErrorRate([0, 1, 2, 3], [1, 1, 0, 0]).eer, 1);
  // Hand-worked: + − + − : ROC (0,0) (0,.5) (.5,.5) (.5,1) (1,1); FNR = 1 − TPR crosses FPR on
  // the segment (0,.5)→(.5,.5) where FPR = FNR = 0.5.
  assert.equal(equalErrorRate([4, 3, 2, 1], [1, 0, 1, 0]).eer, 0.5);
});

Deno.test("calibration takes the largest distance reaching the target precision", () => {
  // Sorted: 0.1 S, 0.2 S, 0.3 D, 0.4 S, 0.5 S, 0.6 D, 0.7 D.
  const d = [0.4, 0.1, 0.6, 0.2, 0.5, 0.3, 0.7];
  const same = [1, 1, 0, 1, 1, 0, 0];
  // Precision at each cut: 1, 1, 2/3, 3/4, 4/5, 4/6, 4/7.
  const at80 = calibrateThreshold(d, same, { targetPrecision: 0.8 });
  assert.equal(at80.threshold, 0.5);
  assert.equal(at80.precision, 0.8);
  assert.equal(at80.recall, 1);
  const at99 = calibrateThreshold(d, same, { targetPrecision: 0.99 });
  assert.equal(at99.threshold, 0.2);
  assert.equal(at99.recall, 0.5);
  assert.equal(at80.optimal.threshold, 0.5); // F1 = 2·0.8·1/1.8 is the highest
  assert.deepEqual(match([0.05, 0.5, 0.55], at80.threshold), [true, true, false]);
  assert.throws(
    () => calibrateThreshold([0.1, 0.2], [0, 1], { targetPrecision: 0.9 }),
    /no distance threshold reaches precision 0.9/,
  );
});

Deno.test("verification errors", () => {
  assert.throws(() => rocAuc([0.1, 0.2], [1, 1]), /both classes/);
  assert.throws(() => rocAuc([0.1, 0.2], [1]), /scores has 2 entries but isSame has 1/);
  assert.throws(() => rocAuc([NaN, 0.2], [1, 0]), /rocCurve: scores row 0 holds NaN/);
  assert.throws(() => rocAuc([0.1, 0.2], [2, 0]), /isSame\[0\] must be 0\/1/);
  assert.throws(() => calibrateThreshold([0.1], [1], { targetPrecision: 0 }), /targetPrecision/);
});

Deno.test("fault 3 (issue 13): every verification entry point refuses NaN and ±Infinity scores", () => {
  const same = [1, 0, 1];
  for (const bad of [NaN, Infinity, -Infinity]) {
    const scores = [0.5, bad, 0.2];
    const what = Number.isNaN(bad) ? "NaN" : bad > 0 ? "Infinity" : "-Infinity";
    const re = (fn: string, name = "scores") => new RegExp(`${fn}: ${name} row 1 holds ${what}`);
    assert.throws(() => rocCurve(scores, same), re("rocCurve"));
    assert.throws(() => rocAuc(scores, same), re("rocCurve"));
    assert.throws(() => bestThresholdAccuracy(scores, same), re("bestThresholdAccuracy"));
    assert.throws(() => equalErrorRate(scores, same), re("rocCurve"));
    assert.throws(
      () => calibrateThreshold(scores, same, { targetPrecision: 0.5 }),
      re("calibrateThreshold", "distances"),
    );
    assert.throws(() => match(scores, 0.3), re("match", "distances"));
  }
});
