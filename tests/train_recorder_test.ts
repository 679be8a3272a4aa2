import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { train } from "../lib/train.ts";
import { pairStepMetrics, probeRecorder, stepMetrics } from "../lib/train_recorder.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { contrastiveLoss, positivePairLoss } from "../lib/losses/mod.ts";
import { fourBlobs } from "./_blobs.ts";
import { embeddingSpread } from "../lib/viz/loss_figures.ts";

await tf.setBackend("cpu");

Deno.test("pairStepMetrics: active fractions, mean distances and the all-pairs loss by hand", () => {
  // Positives (0,1) at 0.6325 and (2,3) at 1.4142; negatives (0,2) 1.4142, (0,3) 2, (1,2) 0.8944,
  // (1,3) 1.8974: only (1,2) is within the margin 1.
  const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]]);
  const y = tf.tensor1d([0, 0, 1, 1], "int32");
  const m = pairStepMetrics({ posMargin: 0, negMargin: 1 }).batchMetrics!(e, y);
  const v = Object.fromEntries(Object.entries(m).map(([k, t]) => [k, t.dataSync()[0]]));
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-4, `${a} ≠ ${b}`);
  close(v.activePositive, 1);
  close(v.activeNegative, 0.25);
  close(v.meanPositive, (0.63246 + 1.41421) / 2);
  close(v.meanNegative, (1.41421 + 2 + 0.89443 + 1.89737) / 4);
  // MeanReducer over all pairs: positives (0.6325 + 1.4142) / 2; negatives 0.1056 / 4.
  close(v.lossAllPairs, (0.63246 + 1.41421) / 2 + 0.10557 / 4);
  // avgNonZero averages the active pairs only: 0.1056 for the negatives, not 0.1056 / 4.
  close(v.positiveTerm, (0.63246 + 1.41421) / 2);
  close(v.negativeTerm, 0.10557);
  close(contrastiveLoss(e, y).dataSync()[0], v.positiveTerm + v.negativeTerm);
  // A positive margin of 1 leaves only the pair at 1.4142 active.
  const loose = pairStepMetrics({ posMargin: 1 }).batchMetrics!(e, y);
  close(loose.activePositive.dataSync()[0], 0.5);
  assert.throws(() => pairStepMetrics({ negMargin: -1 }), /pairStepMetrics: negMargin/);
  tf.dispose([e, y, ...Object.values(m), ...Object.values(loose)]);
});

Deno.test("train with recorders: per-step metrics in the history, probe spread and snapshots", async () => {
  const { x, labels } = fourBlobs(64);
  const model = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed: 1 });
  const probe = probeRecorder(x, labels, { every: 3, snapshotSteps: [0, 6, 10] });
  const before = embeddingSpread(model.predict(x) as tf.Tensor2D).meanDistanceToCentroid;
  const tensors: number[] = [];
  const result = await train({
    model,
    loss: contrastiveLoss,
    sampler: shuffledBatches(x, labels, { batchSize: 16, seed: 2 }),
    steps: 10,
    progress: false,
    recorders: [probe, pairStepMetrics()],
    onStep: () => tensors.push(tf.memory().numTensors),
  });
  assert.deepEqual(probe.spread.steps, [0, 3, 6, 9, 10]);
  assert.ok(Math.abs(probe.spread.values[0] - before) < 1e-5);
  assert.deepEqual(probe.snapshots.map((s) => s.step), [0, 6, 10]);
  assert.equal(probe.snapshots[0].positive.length, 4 * (16 * 15) / 2);
  assert.equal(probe.snapshots[0].negative.length, (64 * 63) / 2 - 4 * 120);
  for (const h of result.history) {
    assert.deepEqual(Object.keys(h.metrics ?? {}).sort(), [
      "activeNegative",
      "activePositive",
      "lossAllPairs",
      "meanNegative",
      "meanPositive",
      "negativeTerm",
      "positiveTerm",
    ]);
    const m = h.metrics!;
    // The two terms add up to the loss the step trained on (same pairs, same reduction).
    assert.ok(Math.abs(m.positiveTerm + m.negativeTerm - h.loss) < 1e-4, `${h.step}`);
    // The reported (avgNonZero) loss is at least the all-pairs mean of the same pairs.
    assert.ok(m.lossAllPairs <= h.loss + 1e-5, `${m.lossAllPairs} > ${h.loss}`);
    assert.ok(m.activeNegative >= 0 && m.activeNegative <= 1);
  }
  assert.equal(tensors.at(-1), tensors[1], "no tensor leaks");
  x.dispose();
  model.dispose();
});

Deno.test("train with recorders: a probe on another encoder; errors name the problem", async () => {
  const { x, labels } = fourBlobs(32);
  const model = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed: 1 });
  const other = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed: 9 });
  const probe = probeRecorder(x, labels, { encoder: other });
  await train({
    model,
    loss: contrastiveLoss,
    sampler: shuffledBatches(x, labels, { batchSize: 8, seed: 1 }),
    steps: 2,
    progress: false,
    recorders: [probe],
  });
  const fixed = embeddingSpread(other.predict(x) as tf.Tensor2D).meanDistanceToCentroid;
  assert.deepEqual(probe.spread.steps, [0, 2]);
  assert.ok(probe.spread.values.every((v) => Math.abs(v - fixed) < 1e-5), "the other encoder");
  other.dispose();
  assert.throws(() => probeRecorder(x, labels.subarray(0, 3)), /3 labels for 32 probe inputs/);
  assert.throws(() => probeRecorder(x, labels, { every: 1.5 }), /every must be/);
  await assert.rejects(
    train({
      model,
      objective: () => tf.scalar(0),
      sampler: shuffledBatches(x, labels, { batchSize: 8, seed: 1 }),
      steps: 1,
      progress: false,
      recorders: [pairStepMetrics()],
    }),
    /recorders with batchMetrics need `loss`/,
  );
  const norm = () => stepMetrics((e) => ({ n: tf.mean(e) as tf.Scalar }));
  await assert.rejects(
    train({
      model,
      loss: positivePairLoss,
      sampler: shuffledBatches(x, labels, { batchSize: 8, seed: 1 }),
      steps: 1,
      progress: false,
      recorders: [norm(), norm()],
    }),
    /two recorders report the batch metric "n"/,
  );
  x.dispose();
  model.dispose();
});

Deno.test("progress: the loss is smoothed over the last steps and its reduction named", async () => {
  const { x, labels } = fourBlobs(32);
  const lines: string[] = [];
  const run = async (loss: Parameters<typeof train>[0]["loss"], lossLabel?: string) => {
    lines.length = 0;
    const model = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed: 1 });
    const result = await train({
      model,
      loss,
      lossLabel,
      sampler: shuffledBatches(x, labels, { batchSize: 8, seed: 1 }),
      steps: 25,
      progress: { terminal: false, intervalSeconds: 0, write: (t) => lines.push(t) },
    });
    model.dispose();
    return result;
  };
  const result = await run(contrastiveLoss.with({ negMargin: 0.8 }));
  const last = lines.at(-1)!;
  const mean = result.history.slice(-20).reduce((a, h) => a + h.loss, 0) / 20;
  assert.ok(
    last.includes(`loss ${mean.toPrecision(3)} (reduction avgNonZero, mean of last 20)`),
    last,
  );
  await run(contrastiveLoss.with({ reduction: "mean" }));
  assert.match(lines.at(-1)!, /\(reduction mean, mean of last 20\)/);
  await run((e, y) => contrastiveLoss(e, y));
  assert.match(lines.at(-1)!, /\(batch loss, mean of last 20\)/);
  await run((e, y) => contrastiveLoss(e, y), "contrastive, avgNonZero");
  assert.match(lines.at(-1)!, /\(contrastive, avgNonZero, mean of last 20\)/);
  x.dispose();
});
