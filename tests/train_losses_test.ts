/**
 * `train()` with losses that own state: the variables of a trainable loss (class weights,
 * proxies) optimised with the model's, in the same optimiser or their own (a learning-rate
 * multiplier or a separate optimiser), saved in checkpoints and restored bit-equal on resume;
 * a loss's checkpoint state (crossBatchMemory's queue) likewise; `saveEncoder` saves the encoder
 * alone.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { train } from "../lib/train.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import {
  ArcFaceLoss,
  contrastiveLoss,
  crossBatchMemory,
  marginLoss,
  ProxyAnchorLoss,
  SoftTripleLoss,
  TrainableLoss,
} from "../lib/losses/mod.ts";
import { saveEncoder } from "../lib/io/export.ts";
import { loadEncoder } from "../lib/models/load.ts";
import { latestCheckpoint } from "../lib/io/checkpoint.ts";
import { fourBlobs } from "./_blobs.ts";

await tf.setBackend("cpu");

function setup(seed = 3) {
  const data = fourBlobs();
  const model = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed });
  const sampler = shuffledBatches(data.x, data.labels, { batchSize: 16, seed });
  return { ...data, model, sampler };
}

const valuesOf = (vs: readonly tf.Tensor[]) => vs.map((v) => Array.from(v.dataSync()));

Deno.test("train: a trainable loss's variables are optimised with the model's", async () => {
  const s = setup();
  const loss = new ArcFaceLoss({ numClasses: 4, embeddingSize: 3, seed: 1, scale: 8 });
  const before = valuesOf(loss.trainableWeights);
  const modelBefore = valuesOf(s.model.getWeights());
  const counts = new Map<number, number>();
  const optimizer = tf.train.adam(0.01);
  const result = await train({
    model: s.model,
    loss,
    sampler: s.sampler,
    steps: 30,
    optimizer,
    progress: false,
    onStep: (r) => counts.set(r.step, tf.memory().numTensors),
  });
  optimizer.dispose();
  assert.notDeepEqual(valuesOf(loss.trainableWeights), before, "W did not move");
  assert.notDeepEqual(valuesOf(s.model.getWeights()), modelBefore);
  const h = result.history.map((r) => r.loss);
  const first = h.slice(0, 5).reduce((a, b) => a + b) / 5;
  const last = h.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(last < first, `the ArcFace loss did not decrease: ${first} → ${last}`);
  assert.equal(counts.get(30), counts.get(5), "tensors leak with the number of steps");
  loss.dispose();
  s.x.dispose();
  s.model.dispose();
});

Deno.test("train: lossLearningRateMultiplier trains the proxies k× faster (their own Adam)", async () => {
  // Adam's first step moves every parameter with a non-zero gradient by ≈ its learning rate.
  const firstStep = async (multiplier: number) => {
    const s = setup();
    const loss = new ProxyAnchorLoss({ numClasses: 4, embeddingSize: 3, seed: 2 });
    const p0 = loss.proxies.dataSync().slice();
    const w0 = s.model.getWeights()[0].dataSync().slice();
    await train({
      model: s.model,
      loss,
      sampler: s.sampler,
      steps: 1,
      optimizer: tf.train.adam(1e-3),
      lossLearningRateMultiplier: multiplier,
      progress: false,
    });
    const dp = loss.proxies.dataSync().map((v, i) => Math.abs(v - p0[i]));
    const dw = s.model.getWeights()[0].dataSync().map((v, i) => Math.abs(v - w0[i]));
    loss.dispose();
    s.x.dispose();
    s.model.dispose();
    return { proxies: Math.max(...dp), model: Math.max(...dw) };
  };
  const one = await firstStep(1), hundred = await firstStep(100);
  assert.ok(Math.abs(one.proxies - 1e-3) < 1e-4, `1×: ${one.proxies}`);
  assert.ok(Math.abs(hundred.proxies - 0.1) < 1e-2, `100×: ${hundred.proxies}`);
  assert.ok(Math.abs(hundred.model - 1e-3) < 1e-4, `the model's step stays 1e-3: ${hundred.model}`);
});

Deno.test("train: a separate lossOptimizer updates the loss's variables; bad combinations are errors", async () => {
  const s = setup();
  const loss = new SoftTripleLoss({ numClasses: 4, embeddingSize: 3, centersPerClass: 2, seed: 0 });
  const fc0 = loss.fc.dataSync().slice();
  // SGD with learning rate 0: the centers must not move while the model does.
  const frozen = tf.train.sgd(0);
  await train({
    model: s.model,
    loss,
    sampler: s.sampler,
    steps: 3,
    optimizer: tf.train.adam(1e-2),
    lossOptimizer: frozen,
    progress: false,
  });
  assert.deepEqual(Array.from(loss.fc.dataSync()), Array.from(fc0));
  const base = { model: s.model, sampler: s.sampler, steps: 1, progress: false as const };
  await assert.rejects(
    () => train({ ...base, loss, lossLearningRateMultiplier: 0 }),
    /train: lossLearningRateMultiplier must be a number > 0, got 0/,
  );
  await assert.rejects(
    () => train({ ...base, loss, lossLearningRateMultiplier: 10, lossOptimizer: frozen }),
    /train: give lossOptimizer or lossLearningRateMultiplier, not both/,
  );
  await assert.rejects(
    () => train({ ...base, loss: contrastiveLoss, lossLearningRateMultiplier: 10 }),
    /need a loss with trainableWeights/,
  );
  await assert.rejects(
    () => train({ ...base, loss: {} as never }),
    /train: loss must be a function or an object with call/,
  );
  frozen.dispose();
  loss.dispose();
  s.x.dispose();
  s.model.dispose();
});

/**
 * Trains 17 steps uninterrupted, and 7 + a resume to 17 with everything rebuilt (other initial
 * weights and loss variables), and asserts equal losses, model weights and loss state.
 */
async function assertResumesBitEqual(
  makeLoss: (seed: number) => {
    loss: Parameters<typeof train>[0]["loss"];
    snapshot: () => Promise<unknown>;
    dispose: () => void;
  },
  extra: Partial<Parameters<typeof train>[0]> = {},
) {
  const dirA = await Deno.makeTempDir({ prefix: "train-loss-a-" });
  const dirB = await Deno.makeTempDir({ prefix: "train-loss-b-" });
  const run = async (
    dir: string,
    modelSeed: number,
    lossSeed: number,
    options: Partial<Parameters<typeof train>[0]>,
  ) => {
    const s = setup();
    const model = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 3, seed: modelSeed });
    const l = makeLoss(lossSeed);
    const optimizer = tf.train.adam(0.01);
    const result = await train({
      model,
      loss: l.loss,
      sampler: s.sampler,
      steps: 17,
      optimizer,
      progress: false,
      checkpointDir: dir,
      checkpointEvery: 4,
      ...extra,
      ...options,
    });
    const out = {
      result,
      weights: valuesOf(model.getWeights()),
      lossState: await l.snapshot(),
    };
    optimizer.dispose();
    l.dispose();
    model.dispose();
    s.x.dispose();
    return out;
  };
  const full = await run(dirA, 3, 1, {});
  const controller = new AbortController();
  const part = await run(dirB, 3, 1, {
    signal: controller.signal,
    onStep: (r) => r.step === 7 && controller.abort(),
  });
  assert.equal(part.result.stopped, "aborted");
  assert.equal((await latestCheckpoint(dirB))?.step, 7);
  const resumed = await run(dirB, 99, 98, { resume: true });
  assert.equal(resumed.result.resumedFrom, 7);
  assert.deepEqual(
    resumed.result.history.map((h) => h.loss),
    full.result.history.map((h) => h.loss),
  );
  assert.deepEqual(resumed.weights, full.weights);
  assert.deepEqual(resumed.lossState, full.lossState);
  await Deno.remove(dirA, { recursive: true });
  await Deno.remove(dirB, { recursive: true });
}

Deno.test("train: abort + resume is bit-equal with a proxy loss on its own optimiser (100× lr)", async () => {
  await assertResumesBitEqual((seed) => {
    const loss = new ProxyAnchorLoss({ numClasses: 4, embeddingSize: 3, seed });
    return {
      loss,
      snapshot: () => Promise.resolve(valuesOf(loss.trainableWeights)),
      dispose: () => loss.dispose(),
    };
  }, { lossLearningRateMultiplier: 100 });
});

Deno.test("train: abort + resume is bit-equal with ArcFace's W in the model's optimiser", async () => {
  await assertResumesBitEqual((seed) => {
    const loss = new ArcFaceLoss({ numClasses: 4, embeddingSize: 3, seed, scale: 16 });
    return {
      loss,
      snapshot: () => Promise.resolve(valuesOf(loss.trainableWeights)),
      dispose: () => loss.dispose(),
    };
  });
});

Deno.test("train: abort + resume is bit-equal with MarginLoss's learned per-class β", async () => {
  await assertResumesBitEqual((seed) => {
    const loss = new TrainableLoss(marginLoss, {
      numClasses: 4,
      learnBeta: true,
      embeddingSize: 3,
      seed,
      ...(seed === 1 ? {} : { beta: 0.7 }), // the resumed run starts elsewhere: only the checkpoint can fix β
    });
    return {
      loss,
      snapshot: () => Promise.resolve(valuesOf(loss.trainableWeights)),
      dispose: () => loss.dispose(),
    };
  });
});

Deno.test("train: abort + resume is bit-equal with crossBatchMemory (its queue is checkpointed)", async () => {
  await assertResumesBitEqual(() => {
    const xbm = crossBatchMemory(contrastiveLoss, { embeddingSize: 3, memorySize: 40 });
    return {
      loss: xbm,
      snapshot: async () => {
        const st = await xbm.state();
        return { ...st, embeddings: Array.from(st.embeddings), labels: Array.from(st.labels) };
      },
      dispose: () => xbm.dispose(),
    };
  });
});

Deno.test("saveEncoder after training with a trainable loss saves the encoder alone", async () => {
  const s = setup();
  const loss = new ArcFaceLoss({ numClasses: 4, embeddingSize: 3, seed: 1 });
  await train({ model: s.model, loss, sampler: s.sampler, steps: 3, progress: false });
  const dir = await Deno.makeTempDir({ prefix: "encoder-alone-" });
  await saveEncoder(s.model, dir);
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/model.json`)).weightsManifest[0];
  const encoderParams = s.model.getWeights().reduce((n, w) => n + w.size, 0);
  assert.equal(manifest.weights.length, s.model.getWeights().length);
  assert.equal((await Deno.stat(`${dir}/weights.bin`)).size, encoderParams * 4);
  assert.ok(!manifest.weights.some((w: { shape: number[] }) => w.shape.join() === "3,4"));
  const loaded = await loadEncoder(dir);
  const a = s.model.predict(s.x) as tf.Tensor, b = loaded.predict(s.x) as tf.Tensor;
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  tf.dispose([a, b]);
  loaded.dispose();
  loss.dispose();
  s.x.dispose();
  s.model.dispose();
  await Deno.remove(dir, { recursive: true });
});
