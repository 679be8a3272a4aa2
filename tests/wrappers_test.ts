/**
 * The loss wrappers against pytorch-metric-learning 2.9.0 (tests/fixtures/wrappers.json from
 * bench/fixture_sections/wrappers.py): SelfSupervisedLoss, MultipleLosses and CrossBatchMemory
 * (a sequence of batches that wraps the queue), values and gradients; plus finite differences,
 * option checks, memory hygiene and training with `train()`.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { finiteDifferences, LOSSES, toIndices, valueAndGrad } from "./_loss_fixtures.ts";
import {
  contrastiveLoss,
  crossBatchMemory,
  type Labels,
  multipleLosses,
  nPairsLoss,
  ntXentLoss,
  selfSupervisedLoss,
  tripletMarginLoss,
  type TupleIndices,
} from "../lib/losses/mod.ts";
import { multiSimilarityMiner } from "../lib/miners/mod.ts";
import { train } from "../lib/train.ts";
import { mlpEncoder } from "../lib/models/mod.ts";
import { shuffledBatches } from "../lib/data/batches.ts";

await tf.setBackend("cpu");

type M = number[][];
interface Step {
  value: number;
  grad: M;
  indices: boolean;
}
const fx = loadFixture<{
  inputs: { e: M; views: M };
  selfSupervised: {
    loss: string;
    options: Record<string, unknown>;
    symmetric: boolean;
    value: number;
    grad: M;
    refGrad: M;
  }[];
  multiple: {
    y: number[];
    cases: { case: string; indices: Record<string, number[]> | null; value: number; grad: M }[];
  };
  memory: {
    batches: M[];
    labels: number[][];
    masks: boolean[][];
    memorySize: number;
    runs: {
      case: string;
      loss: string;
      options: Record<string, unknown>;
      masks: boolean;
      indices: Record<string, number[]> | null;
      miner: string | null;
      steps: Step[];
      queueIdx: number;
      filled: boolean;
      memoryLabels: number[];
    }[];
  };
}>("wrappers").cases;

const TOL = { rtol: 1e-4, atol: 1e-5 }, GTOL = { rtol: 1e-3, atol: 1e-5 };

Deno.test("selfSupervisedLoss equals PML's SelfSupervisedLoss (symmetric or not), gradients for both views", () => {
  assert.equal(fx.selfSupervised.length, 18);
  for (const c of fx.selfSupervised) {
    const loss = selfSupervisedLoss(LOSSES[c.loss].with(c.options), { symmetric: c.symmetric });
    const where = `${c.loss} ${JSON.stringify(c.options)} symmetric=${c.symmetric}`;
    const [value, gE, gR] = tf.tidy(() => {
      const e = tf.tensor2d(fx.inputs.e), r = tf.tensor2d(fx.inputs.views);
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
        loss(a as tf.Tensor2D, b as tf.Tensor2D)
      )([e, r]);
      return [value.dataSync()[0], grads[0].arraySync(), grads[1].arraySync()];
    });
    assertCloseTo(value, c.value, TOL, where);
    assertCloseTo(gE, c.grad, GTOL, `${where} gradient (embeddings)`);
    assertCloseTo(gR, c.refGrad, GTOL, `${where} gradient (views)`);
  }
});

Deno.test("multipleLosses equals PML's MultipleLosses (weights, indices, a miner)", () => {
  const { y, cases } = fx.multiple;
  const c = contrastiveLoss.with({ negMargin: 1.2 });
  const t = tripletMarginLoss.with({ margin: 0.2 });
  const n = ntXentLoss.with({ temperature: 0.3 });
  const made = {
    list: multipleLosses([c, t], { weights: [1, 0.5] }),
    dict: multipleLosses({ c, n }, { weights: { c: 2, n: 0.3 } }),
    indices: multipleLosses([c, t]),
    miner: multipleLosses([c, t], {
      miners: [(e, l) => multiSimilarityMiner(e, l), undefined],
      weights: [1, 2],
    }),
  } as Record<string, ReturnType<typeof multipleLosses>>;
  for (const k of cases) {
    const indices = toIndices(k.indices ?? undefined);
    const f = (e: tf.Tensor2D) => made[k.case](e, y, indices ? { indices } : undefined);
    const { value, grad } = valueAndGrad(f, fx.inputs.e);
    assertCloseTo(value, k.value, TOL, k.case);
    assertCloseTo(grad, k.grad, GTOL, `${k.case} gradient`);
  }
});

/** The parity miner of the fixture: positives with i + j even, negatives with j % 3 ≠ 0. */
function parityMiner(
  _e: tf.Tensor2D,
  labels: ArrayLike<number> | tf.Tensor1D,
  _r: tf.Tensor2D,
  refLabels: ArrayLike<number> | tf.Tensor1D,
): TupleIndices {
  const y = labels as ArrayLike<number>, ry = refLabels as ArrayLike<number>;
  const a1: number[] = [], p: number[] = [], a2: number[] = [], n: number[] = [];
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < ry.length; j++) {
      if (y[i] === ry[j]) {
        if ((i + j) % 2 === 0) a1.push(i), p.push(j);
      } else if (j % 3 !== 0) a2.push(i), n.push(j);
    }
  }
  const i32 = (v: number[]) => Int32Array.from(v);
  return { a1: i32(a1), p: i32(p), a2: i32(a2), n: i32(n) };
}

Deno.test("crossBatchMemory equals PML's CrossBatchMemory over batches that wrap the queue", () => {
  const { batches, labels, masks, memorySize, runs } = fx.memory;
  assert.equal(runs.length, 9);
  const miners = {
    parity: parityMiner,
    multiSimilarity: (e: tf.Tensor2D, y: Labels, re: tf.Tensor2D, ry: Labels) =>
      multiSimilarityMiner(e, y, { epsilon: 0.2, refEmbeddings: re, refLabels: ry }),
  };
  for (const run of runs) {
    const xbm = crossBatchMemory(LOSSES[run.loss].with(run.options), {
      embeddingSize: 4,
      memorySize,
      miner: run.miner ? miners[run.miner as keyof typeof miners] : undefined,
    });
    run.steps.forEach((s, k) => {
      const indices = s.indices ? toIndices(run.indices!) : undefined;
      const f = (e: tf.Tensor2D) =>
        xbm(e, labels[k], {
          ...(indices ? { indices } : {}),
          ...(run.masks ? { enqueueMask: masks[k] } : {}),
        });
      const { value, grad } = valueAndGrad(f, batches[k]);
      assertCloseTo(value, s.value, TOL, `${run.case} step ${k}`);
      assertCloseTo(grad, s.grad, GTOL, `${run.case} step ${k} gradient`);
    });
    // valueAndGrad called the wrapper once per step: the queue moved as PML's did.
    assert.equal(xbm.queueIdx, run.queueIdx, run.case);
    assert.equal(xbm.hasBeenFilled, run.filled, run.case);
    assert.deepEqual([...xbm.memory().labels], run.memoryLabels, run.case);
    xbm.dispose();
  }
});

Deno.test("crossBatchMemory state() and setState() restore the queue exactly", async () => {
  const { batches, labels } = fx.memory;
  const a = crossBatchMemory(contrastiveLoss, { embeddingSize: 4, memorySize: 10 });
  const b = crossBatchMemory(contrastiveLoss, { embeddingSize: 4, memorySize: 10 });
  for (let k = 0; k < 2; k++) tf.dispose(a(tf.tensor2d(batches[k]), labels[k]));
  b.setState(await a.state());
  assert.equal(b.queueIdx, a.queueIdx);
  const va = tf.tidy(() => a(tf.tensor2d(batches[2]), labels[2]).dataSync()[0]);
  const vb = tf.tidy(() => b(tf.tensor2d(batches[2]), labels[2]).dataSync()[0]);
  assert.equal(va, vb);
  assert.deepEqual(await a.state(), await b.state());
  const saved = await a.state();
  assert.throws(() => b.setState({ ...saved, queueIdx: 10 }), /does not fit a 10 × 4 queue/);
  a.dispose(), b.dispose();
});

Deno.test("wrapper gradients match finite differences", () => {
  const e = fx.inputs.e.slice(0, 5), v = fx.inputs.views.slice(0, 5);
  const ss = selfSupervisedLoss(contrastiveLoss.with({ negMargin: 1.5 }), { symmetric: false });
  const f = (x: tf.Tensor2D) => ss(x, tf.tensor2d(v));
  assertCloseTo(
    valueAndGrad(f, e).grad,
    finiteDifferences(f, e, 1e-3),
    { rtol: 2e-2, atol: 2e-3 },
    "selfSupervised",
  );
  // A cross-batch memory's gradient flows through the batch only (the memory is detached): the
  // finite differences of a fresh memory per evaluation, after the same history.
  const { batches, labels } = fx.memory;
  const evaluate = (x: tf.Tensor2D) => {
    const xbm = crossBatchMemory(contrastiveLoss, { embeddingSize: 4, memorySize: 10 });
    tf.dispose(xbm(tf.tensor2d(batches[0]), labels[0]));
    const value = xbm(x, labels[1]);
    const out = tf.keep(tf.clone(value));
    xbm.dispose();
    return out;
  };
  const xbm = crossBatchMemory(contrastiveLoss, { embeddingSize: 4, memorySize: 10 });
  tf.dispose(xbm(tf.tensor2d(batches[0]), labels[0]));
  const { grad } = valueAndGrad((x) => xbm(x, labels[1]), batches[1]);
  xbm.dispose();
  // The memory holds the evaluated batch too, detached: finite differences move it with x, so
  // compare against PML's own gradient instead (the fixture's step 1), and check that the
  // detached-memory gradient differs from the gradient with the memory attached.
  assertCloseTo(grad, fx.memory.runs[0].steps[1].grad, GTOL, "xbm step 1");
  const attached = finiteDifferences(evaluate, batches[1], 1e-3);
  assert.ok(
    attached.flat().some((g, i) => Math.abs(g - grad.flat()[i]) > 1e-3),
    "the memory's copy of the batch carries no gradient",
  );
});

Deno.test("wrapper options and calls are checked", () => {
  const e = tf.tensor2d([[1, 0], [0, 1]]);
  const bad: [() => unknown, RegExp][] = [
    [() => selfSupervisedLoss(nPairsLoss), /selfSupervisedLoss: nPairsLoss is not supported/],
    [() => selfSupervisedLoss((() => 0) as never), /must be a loss of this library/],
    [
      () => selfSupervisedLoss(ntXentLoss, { symetric: true } as never),
      /unknown option "symetric"/,
    ],
    [() => selfSupervisedLoss(ntXentLoss)(e, tf.zeros([3, 2])), /of the same shape/],
    [() => multipleLosses([]), /no losses given/],
    [() => multipleLosses([contrastiveLoss], { weights: [1, 2] }), /weights must match/],
    [() => multipleLosses([contrastiveLoss], { weights: [NaN] }), /weights\[0\] must be a finite/],
    [() => multipleLosses({ a: contrastiveLoss }, { weights: [1] }), /weights must be a record/],
    [
      () =>
        multipleLosses([contrastiveLoss], { miners: [() => ({} as never)] })(e, [0, 1], {
          indices: { a: new Int32Array(), p: new Int32Array(), n: new Int32Array() },
        }),
      /indices cannot be given when the losses have miners/,
    ],
    [() => crossBatchMemory(nPairsLoss, { embeddingSize: 2 }), /nPairsLoss is not supported/],
    [
      () => crossBatchMemory(contrastiveLoss, { embeddingSize: 0 }),
      /embeddingSize must be an integer ≥ 1/,
    ],
    [
      () => crossBatchMemory(contrastiveLoss, { embeddingSize: 2, memorySize: 2.5 }),
      /memorySize must be an integer ≥ 1, got 2.5/,
    ],
    [
      () => crossBatchMemory(contrastiveLoss, { embeddingSize: 3 })(e, [0, 1]),
      /embeddings have dimension 2, embeddingSize is 3/,
    ],
    [
      () => crossBatchMemory(contrastiveLoss, { embeddingSize: 2, memorySize: 1 })(e, [0, 1]),
      /2 rows to queue exceed memorySize 1/,
    ],
    [
      () =>
        crossBatchMemory(contrastiveLoss, { embeddingSize: 2 })(e, [0, 1], {
          enqueueMask: [true, false],
          indices: { a: new Int32Array(), p: new Int32Array(), n: new Int32Array() },
        }),
      /indices and enqueueMask are mutually exclusive/,
    ],
  ];
  for (const [call, pattern] of bad) assert.throws(call, pattern);
  e.dispose();
});

Deno.test("crossBatchMemory leaks no tensors and trains a model with train()", async () => {
  const x = tf.randomNormal([64, 6], 0, 1, "float32", 3);
  const y = Int32Array.from({ length: 64 }, (_, i) => i % 4);
  const model = mlpEncoder({ inputShape: [6], hidden: [8], embeddingDim: 4, seed: 1 });
  const xbm = crossBatchMemory(contrastiveLoss, { embeddingSize: 4, memorySize: 32 });
  const sampler = shuffledBatches(x, y, { batchSize: 16, seed: 0 });
  await train({ model, loss: xbm, steps: 2, sampler, progress: false });
  const before = tf.memory().numTensors;
  const result = await train({ model, loss: xbm, steps: 6, sampler, progress: false });
  assert.equal(result.history.length, 6);
  assert.ok(result.history.every((h) => Number.isFinite(h.loss)));
  assert.ok(xbm.hasBeenFilled);
  // The queue replaced its tensor each step; the count is back where it was.
  assert.equal(tf.memory().numTensors, before);
  xbm.dispose();
  model.dispose();
  x.dispose();
});
