import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { type EvaluationRecord, inJupyter, train } from "../lib/train.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { latestCheckpoint } from "../lib/io/checkpoint.ts";
import { fourBlobs } from "./_blobs.ts";

await tf.setBackend("cpu");

function setup(seed = 3) {
  const data = fourBlobs();
  const model = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed });
  const sampler = shuffledBatches(data.x, data.labels, { batchSize: 16, seed });
  return { ...data, model, sampler, optimizer: tf.train.adam(0.01) };
}

async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
}

function dispose(s: ReturnType<typeof setup>) {
  s.x.dispose();
  s.model.dispose();
  s.optimizer.dispose();
}

async function meanNorm(model: tf.LayersModel, x: tf.Tensor): Promise<number> {
  const e = model.predict(x) as tf.Tensor;
  const v = (await tf.tidy(() => tf.mean(tf.sum(e, 1))).data())[0];
  e.dispose();
  return v;
}

Deno.test("train: the same seeds give the same losses; the loss decreases", async () => {
  const runs: number[][] = [];
  for (let r = 0; r < 2; r++) {
    const s = setup();
    const result = await train({
      model: s.model,
      loss: contrastiveLoss,
      sampler: s.sampler,
      steps: 30,
      optimizer: s.optimizer,
      progress: false,
    });
    runs.push(result.history.map((h) => h.loss));
    assert.equal(result.stopped, "completed");
    assert.equal(result.step, 30);
    dispose(s);
  }
  assert.deepEqual(runs[0], runs[1]);
  const first = runs[0].slice(0, 5).reduce((a, b) => a + b) / 5;
  const last = runs[0].slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(last < first, `loss did not decrease: ${first} -> ${last}`);
});

Deno.test("train: evaluate every N steps and at the end, with onEvaluate", async () => {
  const s = setup();
  const seen: EvaluationRecord[] = [];
  const result = await train({
    model: s.model,
    loss: contrastiveLoss,
    sampler: s.sampler,
    steps: 12,
    optimizer: s.optimizer,
    progress: false,
    evaluateEvery: 5,
    evaluate: async ({ step, model }) => ({ step2: step * 2, norm: await meanNorm(model, s.x) }),
    onEvaluate: (r) => seen.push(r),
  });
  assert.deepEqual(result.evaluations.map((e) => e.step), [5, 10, 12]);
  assert.deepEqual(result.evaluations.map((e) => e.metrics.step2), [10, 20, 24]);
  assert.deepEqual(seen, result.evaluations);
  dispose(s);
});

Deno.test("train: abort + resume ends bit-equal to an uninterrupted run (cpu, Adam)", async () => {
  const dirA = await Deno.makeTempDir({ prefix: "train-a-" });
  const dirB = await Deno.makeTempDir({ prefix: "train-b-" });
  const evaluate = async ({ model }: { model: tf.LayersModel }) => {
    const d = fourBlobs(40, 9);
    const v = await meanNorm(model, d.x);
    d.x.dispose();
    return { meanSum: v };
  };
  // Uninterrupted.
  const a = setup();
  const full = await train({
    model: a.model,
    loss: contrastiveLoss,
    sampler: a.sampler,
    steps: 17,
    optimizer: a.optimizer,
    progress: false,
    checkpointDir: dirA,
    checkpointEvery: 4,
    evaluateEvery: 6,
    evaluate,
  });
  const wantWeights = await weightsOf(a.model);
  // Interrupted at step 7 (an AbortSignal, as Ctrl-C would), crossing an epoch boundary (6/epoch).
  const b1 = setup();
  const controller = new AbortController();
  const part = await train({
    model: b1.model,
    loss: contrastiveLoss,
    sampler: b1.sampler,
    steps: 17,
    optimizer: b1.optimizer,
    progress: false,
    checkpointDir: dirB,
    checkpointEvery: 4,
    evaluateEvery: 6,
    evaluate,
    signal: controller.signal,
    onStep: (r) => r.step === 7 && controller.abort(),
  });
  assert.equal(part.stopped, "aborted");
  assert.equal(part.step, 7);
  assert.equal((await latestCheckpoint(dirB))?.step, 7);
  dispose(b1);
  // Resume with everything rebuilt from scratch (a different seed for the initial weights, so
  // that only the checkpoint can make them right).
  const b2 = setup();
  const other = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed: 99 });
  const resumed = await train({
    model: other,
    loss: contrastiveLoss,
    sampler: b2.sampler,
    steps: 17,
    optimizer: b2.optimizer,
    progress: false,
    checkpointDir: dirB,
    checkpointEvery: 4,
    evaluateEvery: 6,
    evaluate,
    resume: true,
  });
  assert.equal(resumed.resumedFrom, 7);
  assert.equal(resumed.step, 17);
  assert.deepEqual(resumed.history.map((h) => h.loss), full.history.map((h) => h.loss));
  assert.deepEqual(resumed.evaluations, full.evaluations);
  const got = await weightsOf(other);
  assert.equal(got.length, wantWeights.length);
  got.forEach((w, i) => assert.deepEqual(w, wantWeights[i], `weight ${i} differs`));
  dispose(a);
  dispose(b2);
  other.dispose();
  await Deno.remove(dirA, { recursive: true });
  await Deno.remove(dirB, { recursive: true });
});

Deno.test("train: a NaN loss stops with the step named and keeps the last good state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train-nan-" });
  const s = setup();
  let calls = 0;
  let before: Float32Array[] = [];
  await assert.rejects(
    train({
      model: s.model,
      objective: (batch) => {
        calls++;
        const l = contrastiveLoss(
          s.model.apply(batch.x, { training: true }) as tf.Tensor2D,
          batch.y,
        );
        return calls === 4 ? tf.mul(l, NaN) as tf.Scalar : l;
      },
      sampler: s.sampler,
      steps: 10,
      optimizer: s.optimizer,
      progress: false,
      checkpointDir: dir,
      checkpointEvery: 1,
      onStep: async (r) => {
        if (r.step === 3) before = await weightsOf(s.model);
      },
    }),
    (error: Error) => {
      assert.match(error.message, /NaN at step 4/);
      assert.match(error.message, /last good checkpoint .*step 3/);
      return true;
    },
  );
  // The weights are those after step 3: the NaN update was not applied.
  const after = await weightsOf(s.model);
  after.forEach((w, i) => assert.deepEqual(w, before[i]));
  assert.equal((await latestCheckpoint(dir))?.step, 3);
  dispose(s);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train: no tensor leak between step 10 and step 1,000", async () => {
  const s = setup();
  const counts = new Map<number, number>();
  await train({
    model: s.model,
    loss: contrastiveLoss,
    sampler: s.sampler,
    steps: 1000,
    optimizer: s.optimizer,
    progress: false,
    onStep: (r) => {
      if (r.step === 10 || r.step === 1000) counts.set(r.step, tf.memory().numTensors);
    },
  });
  assert.equal(counts.get(1000), counts.get(10));
  dispose(s);
});

Deno.test("train: argument errors are clear; not in Jupyter here", async () => {
  const s = setup();
  await assert.rejects(
    train({ model: s.model, sampler: s.sampler, steps: 1, progress: false }),
    /either `loss`/,
  );
  await assert.rejects(
    train({ model: s.model, loss: contrastiveLoss, sampler: s.sampler, steps: -1 }),
    /steps must be/,
  );
  await assert.rejects(
    train({ model: s.model, loss: contrastiveLoss, sampler: s.sampler, steps: 1, resume: true }),
    /resume needs checkpointDir/,
  );
  assert.equal(inJupyter(), false);
  dispose(s);
});
