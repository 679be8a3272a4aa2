/**
 * The regularizers against pytorch-metric-learning 2.9.0 (tests/fixtures/regularizers.json from
 * bench/fixture_sections/regularizers.py): alone (defaults, other options and reducers) and
 * attached to losses as embedding regularizers, with a reference set and mined tuples; values and
 * gradients. Plus finite differences, option checks and the weight-regularizer hook.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { finiteDifferences, LOSSES, toIndices, valueAndGrad } from "./_loss_fixtures.ts";
import {
  centerInvariantRegularizer,
  contrastiveLoss,
  defineLoss,
  lpRegularizer,
  opt,
  type ParametrizedLossOptions,
  type ReducerSpec,
  regularFaceRegularizer,
  type Regularizer,
  sparseCentersRegularizer,
  zeroMeanRegularizer,
} from "../lib/losses/mod.ts";

await tf.setBackend("cpu");

interface Spec {
  name: string;
  options?: Record<string, unknown>;
}
interface Result {
  value: number;
  grad: number[][];
}
const fixture = loadFixture<{
  inputs: { w: number[][]; x: number[][]; refX: number[][]; refY: number[] };
  alone: (Result & { regularizer: Spec })[];
  attached: (Result & {
    loss: string;
    options: Record<string, unknown>;
    regularizer: Spec;
    weight: number;
    reduction: ReducerSpec | null;
    setting: string;
    y: number[];
    indices: Record<string, number[]> | null;
  })[];
}>("regularizers").cases;

const FACTORIES: Record<string, (o?: Record<string, unknown>) => Regularizer> = {
  lpRegularizer,
  zeroMeanRegularizer,
  centerInvariantRegularizer,
  regularFaceRegularizer,
  sparseCentersRegularizer,
};
const make = (s: Spec) => FACTORIES[s.name](s.options);

Deno.test("regularizers alone equal PML's values and gradients", () => {
  assert.equal(fixture.alone.length, 13);
  for (const c of fixture.alone) {
    const reg = make(c.regularizer);
    const { value, grad } = valueAndGrad((w) => reg(w), fixture.inputs.w);
    const where = JSON.stringify(c.regularizer);
    assertCloseTo(value, c.value, { rtol: 1e-5, atol: 1e-6 }, where);
    assertCloseTo(grad, c.grad, { rtol: 1e-4, atol: 1e-5 }, `${where} gradient`);
  }
});

Deno.test("embedding regularizers attached to losses equal PML's (ref sets, mined tuples, multiple reducers)", () => {
  const { x, refX, refY } = fixture.inputs;
  assert.equal(fixture.attached.length, 30);
  for (const c of fixture.attached) {
    const f = (e: tf.Tensor2D) => {
      const options: Record<string, unknown> = {
        ...c.options,
        embeddingRegularizer: make(c.regularizer),
        embeddingRegWeight: c.weight,
      };
      if (c.reduction !== null) options.reduction = c.reduction;
      if (c.setting === "ref" || c.setting === "refIndices") {
        options.refEmbeddings = tf.tensor2d(refX), options.refLabels = refY;
      }
      if (c.indices) options.indices = toIndices(c.indices);
      return LOSSES[c.loss](e, c.y, options);
    };
    const where = `${c.loss} + ${c.regularizer.name} (${c.setting})`;
    const { value, grad } = valueAndGrad(f, x);
    assertCloseTo(value, c.value, { rtol: 1e-4, atol: 1e-5 }, where);
    assertCloseTo(grad, c.grad, { rtol: 1e-3, atol: 1e-5 }, `${where} gradient`);
  }
});

Deno.test("regularizer gradients match finite differences", () => {
  const w = fixture.inputs.w;
  const regs: [string, Regularizer][] = [
    ["lp p=3 power=2", lpRegularizer({ p: 3, power: 2 })],
    ["zeroMean", zeroMeanRegularizer()],
    ["centerInvariant", centerInvariantRegularizer()],
    ["sparseCenters", sparseCentersRegularizer({ numClasses: 2, centersPerClass: 3 })],
  ];
  for (const [name, reg] of regs) {
    const f = (x: tf.Tensor2D) => reg(x);
    assertCloseTo(
      valueAndGrad(f, w).grad,
      finiteDifferences(f, w, 1e-3),
      { rtol: 2e-2, atol: 2e-3 },
      name,
    );
  }
  // Attached: the loss's gradient includes the weighted regularizer's.
  const x = fixture.inputs.x.slice(0, 6), y = [0, 0, 1, 1, 2, 2];
  const f = (e: tf.Tensor2D) =>
    contrastiveLoss(e, y, {
      negMargin: 1.4,
      embeddingRegularizer: lpRegularizer({ power: 2 }),
      embeddingRegWeight: 0.7,
    });
  assertCloseTo(
    valueAndGrad(f, x).grad,
    finiteDifferences(f, x, 1e-3),
    { rtol: 2e-2, atol: 2e-3 },
    "contrastive + lp",
  );
});

Deno.test("regularizer options are checked and named", () => {
  const bad: [() => unknown, RegExp][] = [
    [() => lpRegularizer({ p: 0 }), /lpRegularizer: p must be a number > 0/],
    [() => lpRegularizer({ power: NaN }), /lpRegularizer: power must be a finite number, got NaN/],
    [() => lpRegularizer({ q: 1 } as never), /lpRegularizer: unknown option "q"/],
    [() => zeroMeanRegularizer({ reduction: "avg" as never }), /unknown reduction "avg"/],
    [() => zeroMeanRegularizer({ reduction: "none" }), /reduction "none" is not supported/],
    [
      () => regularFaceRegularizer({ distance: "euclidean" }),
      /regularFaceRegularizer: distance must be a similarity/,
    ],
    [() => sparseCentersRegularizer({ numClasses: 2 }), /option centersPerClass is required/],
    [
      () => sparseCentersRegularizer({ numClasses: 2, centersPerClass: 1 }),
      /centersPerClass must be an integer ≥ 2, got 1/,
    ],
    [
      () => sparseCentersRegularizer({ numClasses: 2, centersPerClass: 2 })(tf.zeros([3, 2])),
      /expected 4 rows \(numClasses × centersPerClass\), got 3/,
    ],
    [
      () => contrastiveLoss(tf.zeros([2, 2]), [0, 1], { embeddingRegularizer: (() => 0) as never }),
      /contrastiveLoss: embeddingRegularizer must be a regularizer/,
    ],
    [
      () =>
        contrastiveLoss(tf.zeros([2, 2]), [0, 1], {
          embeddingRegularizer: lpRegularizer(),
          embeddingRegWeight: Infinity,
        }),
      /contrastiveLoss: embeddingRegWeight must be a finite number, got Infinity/,
    ],
    [
      () =>
        contrastiveLoss(tf.zeros([2, 2]), [0, 1], {
          weightRegularizer: lpRegularizer(),
        } as never),
      /contrastiveLoss: unknown option "weightRegularizer"/,
    ],
  ];
  for (const [call, pattern] of bad) assert.throws(call, pattern);
});

Deno.test("a loss with learnable weights applies weightRegularizer to them, weighted", () => {
  interface CentreOptions extends ParametrizedLossOptions {
    centres?: tf.Tensor;
  }
  const centreLoss = defineLoss<CentreOptions>({
    name: "centreLoss",
    options: {
      centres: opt.parameter({
        shape: (_o, d) => [3, d],
        init: (shape) => tf.zeros(shape),
        regularize: (w) => tf.transpose(w) as tf.Tensor2D,
      }),
    },
    compute(ctx, o) {
      const c = tf.gather(o.centres, tf.tensor1d(ctx.labels, "int32"));
      return {
        loss: { kind: "element", losses: tf.sum(tf.square(tf.sub(ctx.embeddings, c)), 1) },
      };
    },
  });
  const centres = tf.tensor2d([[1, 0], [0, 2], [3, 4]]);
  const e = tf.tensor2d([[1, 0], [0, 2]]);
  const plain = centreLoss(e, [0, 1], { centres, normalizeEmbeddings: false }).dataSync()[0];
  assert.equal(plain, 0);
  const reg = lpRegularizer();
  const withReg = centreLoss(e, [0, 1], {
    centres,
    weightRegularizer: reg,
    weightRegWeight: 0.5,
  }).dataSync()[0];
  // The regularizer sees the transposed view [d, 3]: rows (1, 0, 3) and (0, 2, 4).
  const expected = 0.5 * (Math.hypot(1, 0, 3) + Math.hypot(0, 2, 4)) / 2;
  assert.ok(Math.abs(withReg - expected) < 1e-5, `${withReg} vs ${expected}`);
  assert.throws(
    () => centreLoss(e, [0, 1], { centres: tf.zeros([2, 2]) }),
    /centreLoss: centres must have shape \[3,2\], got \[2,2\]/,
  );
  assert.throws(() => centreLoss(e, [0, 1]), /centreLoss: option centres is required/);
});
