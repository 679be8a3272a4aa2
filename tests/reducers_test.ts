/**
 * The reducers against pytorch-metric-learning 2.9.0 (tests/fixtures/reducers.json, written by
 * bench/fixtures.py from bench/fixture_sections/reducers.py): every reducer on every loss, with
 * all tuples, a separate reference set and mined pairs or triplets (with repeats), values and
 * gradients; plus checks of the `reduction` option and finite-difference gradients.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { arrayOf, finiteDifferences, LOSSES, toIndices, valueAndGrad } from "./_loss_fixtures.ts";
import { contrastiveLoss, type ReducerSpec, tripletMarginLoss } from "../lib/losses/mod.ts";

await tf.setBackend("cpu");

interface Case {
  loss: string;
  options: Record<string, unknown>;
  reduction: ReducerSpec;
  setting: string;
  value?: number | number[] | number[][];
  grad?: number[][];
  error?: string;
  pmlAsIs?: number | string;
}
interface Setting {
  /** A separate reference set, or `"self"`: the batch again with the very labels object. */
  ref?: boolean | "self";
  indices?: Record<string, number[]>;
}
const fixture = loadFixture<{
  inputs: {
    x: number[][];
    y: number[];
    refX: number[][];
    refY: number[];
    settings: Record<string, Setting>;
  };
  cases: Case[];
}>("reducers");
const { inputs, cases } = fixture.cases;

function lossOf(c: Case): (x: tf.Tensor2D) => tf.Tensor {
  const s = inputs.settings[c.setting];
  const loss = LOSSES[c.loss];
  assert.ok(loss, `no loss ${c.loss}`);
  return (x) => {
    const options: Record<string, unknown> = { ...c.options, reduction: c.reduction };
    if (s.ref === "self") {
      // Another tensor holding the batch, and the labels argument itself as refLabels.
      options.refEmbeddings = tf.tensor2d(inputs.x), options.refLabels = inputs.y;
    } else if (s.ref) {
      options.refEmbeddings = tf.tensor2d(inputs.refX), options.refLabels = inputs.refY;
    }
    if (s.indices) options.indices = toIndices(s.indices);
    return loss(x, inputs.y, options);
  };
}

const describe = (c: Case) => `${c.loss} ${JSON.stringify(c.reduction)} (${c.setting})`;

Deno.test("reducers equal PML's values and gradients on every loss and setting", () => {
  let compared = 0;
  for (const c of cases) {
    if (c.error) continue;
    const f = lossOf(c);
    if (c.reduction === "none") {
      assertCloseTo(arrayOf(f, inputs.x), c.value, { rtol: 1e-4, atol: 1e-5 }, describe(c));
    } else {
      const { value, grad } = valueAndGrad(f, inputs.x);
      assertCloseTo(value, c.value, { rtol: 1e-4, atol: 1e-5 }, describe(c));
      assertCloseTo(grad, c.grad, { rtol: 1e-3, atol: 1e-5 }, `${describe(c)} gradient`);
    }
    compared++;
  }
  assert.ok(compared >= 200, `only ${compared} cases compared`);
});

Deno.test("where PML refuses a reducer, so do we, with the reducer named", () => {
  const refused = cases.filter((c) => c.error);
  assert.ok(refused.length >= 3);
  for (const c of refused) {
    const pattern = c.error!.startsWith("NotImplementedError")
      ? /perAnchor" is not defined for triplet losses/
      : /reduction "divisor" needs a loss that reports a divisor/;
    assert.throws(() => tf.tidy(() => lossOf(c)(tf.tensor2d(inputs.x))), pattern, describe(c));
  }
});

Deno.test("reducer gradients match finite differences (reference set, mined pairs)", () => {
  const x = inputs.x.slice(0, 6), y = inputs.y.slice(0, 6);
  const refX = inputs.refX, refY = inputs.refY;
  const settings: [string, (e: tf.Tensor2D) => tf.Tensor][] = [
    ["contrastive threshold ref", (e) =>
      contrastiveLoss(e, y, {
        refEmbeddings: tf.tensor2d(refX),
        refLabels: refY,
        negMargin: 1.4,
        reduction: { name: "threshold", low: 0.05 },
      })],
    [
      "contrastive perAnchor",
      (e) => contrastiveLoss(e, y, { negMargin: 1.4, reduction: { name: "perAnchor" } }),
    ],
    ["contrastive classWeighted", (e) =>
      contrastiveLoss(e, y, {
        negMargin: 1.4,
        reduction: { name: "classWeighted", weights: [0.5, 2, 1] },
      })],
    ["triplet classWeighted ref", (e) =>
      tripletMarginLoss(e, y, {
        refEmbeddings: tf.tensor2d(refX),
        refLabels: refY,
        margin: 0.8,
        reduction: { name: "classWeighted", weights: [0.5, 2, 1] },
      })],
    [
      "triplet threshold",
      (e) => tripletMarginLoss(e, y, { margin: 0.8, reduction: { name: "threshold", low: 0.2 } }),
    ],
  ];
  for (const [name, f] of settings) {
    const { grad } = valueAndGrad(f, x);
    const fd = finiteDifferences(f, x, 2e-3);
    assertCloseTo(grad, fd, { rtol: 2e-2, atol: 2e-3 }, name);
  }
});

Deno.test("the reduction option is checked, named and complete", () => {
  const e = tf.tensor2d(inputs.x.slice(0, 4)), y = [0, 0, 1, 1];
  const bad: [unknown, RegExp][] = [
    ["avg", /contrastiveLoss: unknown reduction "avg" in reduction/],
    [{ name: "threshold" }, /threshold" needs low or high/],
    [{ name: "threshold", low: NaN }, /reduction\.low must be a finite number, got NaN/],
    [{ name: "threshold", low: 1, high: 0.5 }, /low \(1\) must be < reduction\.high/],
    [{ name: "threshold", lo: 1 }, /unknown option "reduction\.lo"/],
    [{ name: "classWeighted" }, /weights must be an array/],
    [{ name: "classWeighted", weights: [1, Infinity] }, /weights\[1\] must be a finite number/],
    [{ name: "classWeighted", weights: [1] }, /no weight for class 1 \(weights has 1 entries\)/],
    [{ name: "perAnchor", reducer: "none" }, /reduction\.reducer cannot be "none"/],
    [
      { name: "multiple", reducers: { pos: "sum" } },
      /names "pos", not a sub-loss of contrastiveLoss \(posLoss, negLoss\)/,
    ],
    [{ name: "multiple", reducers: { posLoss: "none" } }, /cannot contain "none"/],
  ];
  for (const [reduction, pattern] of bad) {
    assert.throws(
      () => contrastiveLoss(e, y, { reduction: reduction as ReducerSpec }),
      pattern,
      JSON.stringify(reduction),
    );
  }
  // "none" has no per-element form for a loss with an attached regularizer (a scalar term).
  assert.throws(
    () =>
      contrastiveLoss(e, y, {
        reduction: "none",
        embeddingRegularizer: Object.assign((x: tf.Tensor2D) => tf.sum(x) as tf.Scalar, {
          regularizerName: "sum",
        }),
      }),
    /reduction "none" cannot return the sub-loss "embeddingRegLoss"/,
  );
  e.dispose();
});

Deno.test("where PML's own results break a reducer's definition, the fixture says so and we follow the definition", () => {
  // PML's lifted-structure, multi-similarity, circle and generalised lifted-structure losses
  // return [k, 1] per-element losses: ClassWeightedReducer then averages a [k, k] outer product
  // and PerAnchorReducer raises on the pair losses. The fixture's values use [k] (the reducers'
  // definitions); pmlAsIs records what PML gives as it is.
  const asIs = cases.filter((c) => c.pmlAsIs !== undefined);
  assert.ok(asIs.length >= 20);
  for (const c of asIs) {
    assert.ok(
      ["liftedStructureLoss", "multiSimilarityLoss", "circleLoss", "generalizedLiftedStructureLoss"]
        .includes(c.loss),
      describe(c),
    );
    assert.match(JSON.stringify(c.reduction), /classWeighted|perAnchor/, describe(c));
  }
  // PerAnchorReducer's autograd counts a pair listed twice twice while its value counts it once:
  // there the fixture holds finite differences of PML's value (pmlAutograd: PML's gradient).
  const quirk = cases.filter((c) => (c as { pmlAutograd?: unknown }).pmlAutograd);
  assert.ok(quirk.length >= 4);
  for (const c of quirk) {
    assert.match(JSON.stringify(c.reduction), /perAnchor/, describe(c));
    assert.match(c.setting, /Indices/, describe(c));
  }
});
