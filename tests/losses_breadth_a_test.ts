/**
 * The losses of issue 14 (part A) against pytorch-metric-learning 2.9.0
 * (tests/fixtures/losses_breadth_a.json, written by bench/fixtures.py from
 * bench/fixture_sections/losses_breadth_a.py): angularLoss, intraPairVarianceLoss, marginLoss,
 * tupletMarginLoss, signalToNoiseRatioContrastiveLoss, dynamicSoftMarginLoss,
 * thresholdConsistentMarginLoss, ncaLoss, instanceLoss and the triplet loss's swap and smoothLoss:
 * values and gradients for defaults and other settings, with reference sets and mined tuples;
 * degenerate batches; PML's refusals; finite differences; finite gradients at coincident points for
 * every loss; no [n, n, n] tensor.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { arrayOf, finiteDifferences, LOSSES, toIndices, valueAndGrad } from "./_loss_fixtures.ts";
import {
  angularLoss,
  DynamicSoftMarginHistogram,
  dynamicSoftMarginLoss,
  instanceLoss,
  intraPairVarianceLoss,
  marginLoss,
  ncaLoss,
  signalToNoiseRatioContrastiveLoss,
  thresholdConsistentMarginLoss,
  TrainableLoss,
  tupletMarginLoss,
} from "../lib/losses/mod.ts";
import { crossBatchMemory, selfSupervisedLoss } from "../lib/losses/mod.ts";
import { l2Normalize, pairwiseDistances } from "../lib/distances.ts";

await tf.setBackend("cpu");

interface Setting {
  ref?: boolean;
  indices?: Record<string, number[]>;
}
interface Case {
  loss: string;
  options: Record<string, unknown>;
  setting: string;
  reduction?: unknown;
  value?: number | number[] | number[][];
  grad?: number[][];
  pmlAutograd?: number[][];
  error?: string;
}
interface Degenerate {
  loss: string;
  options: Record<string, unknown>;
  batch: string;
  x: number[][];
  y: number[];
  value?: number;
  grad?: number[][];
  gradFinite?: boolean;
  error?: string;
}
interface DsmCall {
  x: number[][];
  y: number[];
  value: number;
  grad: number[][];
  histogram: number[];
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
  degenerate: Degenerate[];
  marginBeta: {
    options: Record<string, unknown>;
    setting: string;
    reduction: unknown;
    value: number;
    betaGrad: number[];
  }[];
  dsm: {
    sequences: { options: Record<string, unknown>; calls: DsmCall[]; pmlSecondBackward: string }[];
    beyondRange: { x: number[][]; y: number[]; pml: string };
  };
  snr: { normalizeEmbeddings: boolean; self: number[][]; ref: number[][] }[];
  refusals: Case[];
  angularLargeNorms: {
    options: Record<string, unknown>;
    ref: boolean;
    x: number[][];
    refX: number[][];
    value: number;
    grad: number[][];
  }[];
  emptyBatch: Record<string, number>;
  wrapped: {
    views: number[][];
    selfSupervised: {
      loss: string;
      symmetric: boolean;
      value: number;
      grad: number[][];
      refGrad: number[][];
    }[];
    batches: { x: number[][]; y: number[] }[];
    memory: { loss: string; steps: { value: number; grad: number[][] }[] }[];
  };
}>("losses_breadth_a").cases;
const { inputs } = fixture;

/** Fixture options as loss options: `beta` lists become tensors. */
function optionsOf(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  if (Array.isArray(o.beta)) out.beta = tf.tensor1d(o.beta as number[]);
  return out;
}

function lossOf(c: Case): (x: tf.Tensor2D) => tf.Tensor {
  const s = inputs.settings[c.setting];
  const loss = LOSSES[c.loss];
  assert.ok(loss, `no loss ${c.loss}`);
  return (x) => {
    const options: Record<string, unknown> = optionsOf(c.options);
    if (c.reduction !== undefined) options.reduction = c.reduction;
    if (s.ref) options.refEmbeddings = tf.tensor2d(inputs.refX), options.refLabels = inputs.refY;
    if (s.indices) options.indices = toIndices(s.indices);
    return loss(x, inputs.y, options);
  };
}

const describe = (c: Case) =>
  `${c.loss} ${JSON.stringify(c.options)} (${c.setting}${
    c.reduction === undefined ? "" : ", " + JSON.stringify(c.reduction)
  })`;

Deno.test("every loss equals PML 2.9.0's value and gradient on every setting", () => {
  const compared = new Map<string, number>();
  for (const c of fixture.cases) {
    assert.ok(!c.error, `${describe(c)}: PML failed (${c.error})`);
    const f = lossOf(c);
    if (c.reduction === "none") {
      assertCloseTo(arrayOf(f, inputs.x), c.value, { rtol: 1e-4, atol: 1e-5 }, describe(c));
    } else {
      const { value, grad } = valueAndGrad(f, inputs.x);
      assertCloseTo(value, c.value, { rtol: 1e-4, atol: 1e-5 }, describe(c));
      // Where PML's autograd and finite differences of its value disagree, the float64 finite
      // differences counted losses that float32 rounds to 0 (avgNonZero): PML's autograd counts.
      const want = c.pmlAutograd ?? c.grad;
      assertCloseTo(grad, want, { rtol: 2e-3, atol: 2e-5 }, `${describe(c)} gradient`);
    }
    compared.set(c.loss, (compared.get(c.loss) ?? 0) + 1);
  }
  console.log(`compared with PML: ${JSON.stringify(Object.fromEntries(compared))}`);
  assert.ok(fixture.cases.length >= 140);
  for (const [name, count] of compared) assert.ok(count >= 6, `${name}: only ${count} cases`);
});

Deno.test("degenerate batches: no positives, no negatives, one row, coincident rows", () => {
  for (const c of fixture.degenerate) {
    const where = `${c.loss} ${c.batch}`;
    const f = (x: tf.Tensor2D) => LOSSES[c.loss](x, c.y, optionsOf(c.options));
    const { value, grad } = valueAndGrad(f, c.x);
    assert.ok(grad.flat().every(Number.isFinite), `${where}: gradient not finite`);
    if (Number.isNaN(c.value)) {
      // PML's NCALoss averages over no rows (NaN); we give the zero loss.
      assert.equal(c.loss, "ncaLoss", where);
      assert.equal(value, 0, where);
      continue;
    }
    assertCloseTo(value, c.value, { rtol: 1e-4, atol: 1e-5 }, where);
    if (c.gradFinite) {
      assertCloseTo(grad, c.grad, { rtol: 2e-3, atol: 2e-5 }, `${where} gradient`);
    } else {
      // PML's acos has an infinite slope at s = 1 (coincident rows): ours stays finite.
      assert.equal(c.loss, "tupletMarginLoss", where);
    }
  }
});

Deno.test("marginLoss: the gradient with respect to a learned beta equals PML's", () => {
  for (const c of fixture.marginBeta) {
    const s = inputs.settings[c.setting];
    const beta = tf.tensor1d(c.options.beta as number[]);
    const f = (b: tf.Tensor) =>
      marginLoss(tf.tensor2d(inputs.x), inputs.y, {
        ...optionsOf(c.options),
        beta: b,
        ...(c.reduction ? { reduction: c.reduction as "mean" } : {}),
        ...(s.ref ? { refEmbeddings: tf.tensor2d(inputs.refX), refLabels: inputs.refY } : {}),
        ...(s.indices ? { indices: toIndices(s.indices) } : {}),
      });
    const { value, grad } = tf.valueAndGrad(f)(beta);
    const where = `marginLoss ${JSON.stringify(c.options)} (${c.setting})`;
    assertCloseTo(value.dataSync()[0], c.value, { rtol: 1e-4, atol: 1e-5 }, where);
    assertCloseTo(Array.from(grad.dataSync()), c.betaGrad, { rtol: 1e-4, atol: 1e-6 }, where);
  }
});

Deno.test("marginLoss: learned per-class beta in a TrainableLoss trains with the model", () => {
  const t = new TrainableLoss(marginLoss, {
    learnBeta: true,
    nu: 0.1,
    numClasses: 3,
    beta: 0.9,
    embeddingSize: 4,
  });
  assert.deepEqual(Array.from(t.variables.beta.dataSync()), [0.9, 0.9, 0.9].map(Math.fround));
  const e = tf.variable(tf.tensor2d(inputs.x));
  const optimizer = tf.train.adam(0.05);
  const first = t.call(e as unknown as tf.Tensor2D, inputs.y).dataSync()[0];
  for (let i = 0; i < 15; i++) {
    optimizer.minimize(() => t.call(e as unknown as tf.Tensor2D, inputs.y), false, [
      e,
      ...t.trainableWeights,
    ]);
  }
  const last = t.call(e as unknown as tf.Tensor2D, inputs.y).dataSync()[0];
  assert.ok(last < first, `${first} → ${last}`);
  assert.ok(t.variables.beta.dataSync().some((b) => Math.abs(b - 0.9) > 1e-3), "β moved");
  t.dispose();
  e.dispose();
  optimizer.dispose();
});

Deno.test("dynamicSoftMarginLoss keeps PML's histogram across calls", () => {
  for (const seq of fixture.dsm.sequences) {
    assert.match(seq.pmlSecondBackward, /backward through the graph a second time/);
    const numBins = (seq.options.numBins as number | undefined) ?? 10;
    const histogram = new DynamicSoftMarginHistogram(numBins);
    const loss = dynamicSoftMarginLoss.with({ ...seq.options, histogram });
    seq.calls.forEach((call, k) => {
      const where = `dynamicSoftMarginLoss ${JSON.stringify(seq.options)} call ${k}`;
      const before = histogram.bins;
      const { value, grad } = valueAndGrad((x) => loss(x, call.y), call.x);
      assertCloseTo(value, call.value, { rtol: 1e-4, atol: 1e-6 }, where);
      assertCloseTo(grad, call.grad, { rtol: 2e-3, atol: 2e-6 }, `${where} gradient`);
      assertCloseTo(Array.from(histogram.bins), call.histogram, { rtol: 1e-4, atol: 1e-6 }, where);
      // One call, one update: the gradient's pass did not update it again.
      histogram.set(before);
      loss(tf.tensor2d(call.x), call.y).dispose();
      assertCloseTo(Array.from(histogram.bins), call.histogram, { rtol: 1e-4, atol: 1e-6 }, where);
    });
  }
  // PML indexes past its bins here; ours counts such values in the last bin.
  const { x, y, pml } = fixture.dsm.beyondRange;
  assert.match(pml, /out of bounds/);
  const { value, grad } = valueAndGrad((e) => dynamicSoftMarginLoss(e, y), x);
  assert.ok(Number.isFinite(value) && grad.flat().every(Number.isFinite));
  assert.throws(
    () =>
      dynamicSoftMarginLoss(tf.tensor2d(x), y, {
        histogram: new DynamicSoftMarginHistogram(5),
      }),
    /dynamicSoftMarginLoss: the histogram has 5 bins, numBins is 10/,
  );
});

Deno.test("the SNR distance equals PML's SNRDistance", () => {
  const x = tf.tensor2d(inputs.x), r = tf.tensor2d(inputs.refX);
  for (const c of fixture.snr) {
    const [a, b] = c.normalizeEmbeddings ? [l2Normalize(x), l2Normalize(r)] : [x, r];
    const self = pairwiseDistances(a, a, "snr").arraySync();
    const ref = pairwiseDistances(a, b, "snr").arraySync();
    assertCloseTo(self, c.self, { rtol: 1e-4, atol: 1e-6 }, `snr self (${c.normalizeEmbeddings})`);
    assertCloseTo(ref, c.ref, { rtol: 1e-4, atol: 1e-6 }, `snr ref (${c.normalizeEmbeddings})`);
  }
});

Deno.test("where PML refuses (or silently misreads), we refuse, naming the loss", () => {
  const patterns: Record<string, RegExp> = {
    instanceLoss: /instanceLoss: unknown option "(refEmbeddings|indices)"/,
    tupletMarginLoss: /tupletMarginLoss: distance must be "cosine"/,
    angularLoss: /angularLoss: (distance must be "euclidean"|normalizeEmbeddings must be true)/,
    signalToNoiseRatioContrastiveLoss: /signalToNoiseRatioContrastiveLoss: distance must be "snr"/,
    dynamicSoftMarginLoss: /dynamicSoftMarginLoss: distance must be "euclidean" or "sqeuclidean"/,
    thresholdConsistentMarginLoss:
      /thresholdConsistentMarginLoss: (distance must be "cosine"|unknown option "refEmbeddings")/,
    tripletMarginLoss: /tripletMarginLoss: swap is not supported with refEmbeddings/,
  };
  for (const c of fixture.refusals) {
    // PML gives a value for TCM and swap with a reference set, indexing the batch with the
    // reference set's indices: a silently wrong value, refused here.
    if (c.value !== undefined) {
      assert.ok(["thresholdConsistentMarginLoss", "tripletMarginLoss"].includes(c.loss));
    } else assert.ok(c.error, describe(c));
    assert.throws(() => tf.tidy(() => lossOf(c)(tf.tensor2d(inputs.x))), patterns[c.loss]);
  }
});

const NEW_LOSSES = [
  "angularLoss",
  "intraPairVarianceLoss",
  "marginLoss",
  "tupletMarginLoss",
  "signalToNoiseRatioContrastiveLoss",
  "dynamicSoftMarginLoss",
  "thresholdConsistentMarginLoss",
  "ncaLoss",
  "instanceLoss",
];

Deno.test("gradients match finite differences (all tuples, reference set, mined triplets)", () => {
  const x = inputs.x.slice(0, 7), y = inputs.y.slice(0, 7);
  const refEmbeddings = tf.tensor2d(inputs.refX), refLabels = inputs.refY;
  const indices = toIndices({ a: [0, 1, 2, 3, 0], p: [3, 4, 5, 6, 3], n: [1, 0, 0, 1, 2] });
  const own: Record<string, Record<string, unknown>> = {
    tupletMarginLoss: { scale: 8 },
    instanceLoss: { gamma: 4 },
    ncaLoss: { softmaxScale: 2 },
    marginLoss: { beta: 0.9, margin: 0.4, reduction: "mean" },
  };
  for (const name of NEW_LOSSES) {
    const loss = LOSSES[name];
    const settings: [string, Record<string, unknown>][] = [["all", {}]];
    if (loss.definition.ref !== false) settings.push(["ref", { refEmbeddings, refLabels }]);
    if (loss.definition.indices !== false) settings.push(["indices", { indices }]);
    for (const [label, extra] of settings) {
      const f = (e: tf.Tensor2D) => loss(e, y, { ...own[name], ...extra });
      const { grad } = valueAndGrad(f, x);
      const fd = finiteDifferences(f, x, 1e-3);
      // The histogram's bins move in steps: keep the check away from their edges (h small).
      assertCloseTo(grad, fd, { rtol: 3e-2, atol: 4e-3 }, `${name} (${label})`);
    }
  }
});

Deno.test("every loss has finite gradients at coincident points and zero differences", () => {
  const p = [0.3, -0.2, 0.5, 0.1];
  const batches: [string, number[][], number[]][] = [
    ["pairs of coincident rows", [p, p, [0, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]], [0, 0, 1, 1, 0]],
    ["all rows coincident", [p, p, p, p], [0, 0, 1, 1]],
    ["coincident across classes", [p, p, [1, 2, 0, 0], [1, 2, 0, 0]], [0, 1, 0, 1]],
    ["zero coordinate differences", [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0]], [0, 0, 1]],
  ];
  // Losses called otherwise than loss(e, y): PML's required options, no labels, proxies.
  const calls: Record<string, (e: tf.Tensor2D, y: number[]) => tf.Tensor> = {
    rankedListLoss: (e, y) => LOSSES.rankedListLoss(e, y, { margin: 0.4, Tn: 10 } as never),
    vicRegLoss: (e) =>
      LOSSES.vicRegLoss(e, undefined, { refEmbeddings: tf.reverse(e, 0) } as never),
    manifoldLoss: (e) =>
      LOSSES.manifoldLoss(e, undefined, {
        K: 2,
        proxies: tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0]]),
      } as never),
  };
  let checked = 0;
  for (const [name, loss] of Object.entries(LOSSES)) {
    const hasParameters = Object.values(loss.definition.options).some((s) =>
      (s as { parameter?: unknown }).parameter
    );
    // Their parameters are required.
    if (hasParameters && name !== "marginLoss" && !calls[name]) continue;
    const f = calls[name] ?? ((e: tf.Tensor2D, y: number[]) => loss(e, y));
    for (const [label, x, y] of batches) {
      const { value, grad } = valueAndGrad((e) => f(e, y), x);
      assert.ok(Number.isFinite(value), `${name} (${label}): value ${value}`);
      assert.ok(grad.flat().every(Number.isFinite), `${name} (${label}): gradient not finite`);
      checked++;
    }
  }
  assert.ok(checked >= 4 * 20, `only ${checked}`);
});

Deno.test("no new loss holds an [n, n, n] tensor", async () => {
  const n = 64;
  const x = tf.randomNormal([n, 8], 0, 1, "float32", 3) as tf.Tensor2D;
  const y = Array.from({ length: n }, (_, i) => i % 4);
  const sizeOf = (s: number[] | undefined) => (s ?? []).reduce((a, b) => a * b, 1);
  for (const name of NEW_LOSSES) {
    const info = await tf.profile(() => {
      const g = tf.grad((e: tf.Tensor) => LOSSES[name](e as tf.Tensor2D, y))(x);
      g.dispose();
    });
    const largest = Math.max(
      ...info.kernels.map((k) => k.outputShapes.reduce((m, s) => Math.max(m, sizeOf(s)), 0)),
    );
    // Classes of 16: one class's all-triplet block is 16 × 16 × 48 = n³/21.
    assert.ok(largest <= (16 * 16 * 48), `${name}: largest kernel output has ${largest} elements`);
  }
  x.dispose();
});

Deno.test("options are checked and named: ranges, beta, numClasses, histogram", () => {
  const e = tf.tensor2d(inputs.x.slice(0, 6)), y = inputs.y.slice(0, 6);
  const bad: [() => unknown, RegExp][] = [
    [
      () => angularLoss(e, y, { alpha: 90 }),
      /angularLoss: alpha must be a finite number ≥ 0 and < 90, got 90/,
    ],
    [
      () => intraPairVarianceLoss(e, y, { posEps: -0.1 }),
      /intraPairVarianceLoss: posEps must be a finite number ≥ 0, got -0.1/,
    ],
    [() => marginLoss(e, y, { margin: -0.1 }), /marginLoss: margin must be ≥ 0 with a distance/],
    [() => marginLoss(e, y, { nu: -1 }), /marginLoss: nu must be a finite number ≥ 0, got -1/],
    [() => marginLoss(e, y, { beta: NaN }), /marginLoss: beta must be a finite number or a tensor/],
    [() => marginLoss(e, y, { learnBeta: true }), /marginLoss: learnBeta needs beta as a tensor/],
    [
      () => marginLoss(e, y, { beta: tf.tensor1d([1, 1]), numClasses: 3 }),
      /marginLoss: beta must have shape \[3\], got \[2\]/,
    ],
    [
      () => marginLoss(e, y, { beta: tf.tensor1d([1, 1]) }),
      /marginLoss: beta must have shape \[1\]/,
    ],
    [
      () => marginLoss(e, [0, 1, 2, 5, 0, 1], { numClasses: 3 }),
      /marginLoss: label 5 \(row 3\) has no β: with numClasses 3 labels must be 0 … 2/,
    ],
    [() => marginLoss(e, y, { numClasses: 0 }), /marginLoss: numClasses must be an integer ≥ 1/],
    [
      () => tupletMarginLoss(e, y, { scale: 0 }),
      /tupletMarginLoss: scale must be a finite number > 0/,
    ],
    [
      () => tupletMarginLoss(e, y, { normalizeEmbeddings: false }),
      /tupletMarginLoss: normalizeEmbeddings must be true/,
    ],
    [
      () => signalToNoiseRatioContrastiveLoss(e, y, { negMargin: -1 }),
      /signalToNoiseRatioContrastiveLoss: negMargin must be ≥ 0 with a distance/,
    ],
    [
      () => dynamicSoftMarginLoss(e, y, { minVal: 0 }),
      /dynamicSoftMarginLoss: minVal must be a finite number < 0/,
    ],
    [
      () => dynamicSoftMarginLoss(e, y, { numBins: 2.5 }),
      /numBins must be an integer ≥ 1, got 2.5/,
    ],
    [
      () => dynamicSoftMarginLoss(e, y, { momentum: 1.5 }),
      /momentum must be a finite number ≥ 0 and ≤ 1/,
    ],
    [
      () => dynamicSoftMarginLoss(e, y, { histogram: [0, 1] as never }),
      /dynamicSoftMarginLoss: histogram must be a DynamicSoftMarginHistogram/,
    ],
    [
      () => thresholdConsistentMarginLoss(e, y, { marginPlus: 1.5 }),
      /thresholdConsistentMarginLoss: marginPlus must be a finite number ≥ -1 and ≤ 1, got 1.5/,
    ],
    [
      () => thresholdConsistentMarginLoss(e, y, { lambdaMinus: -2 }),
      /lambdaMinus must be a finite number ≥ 0, got -2/,
    ],
    [() => ncaLoss(e, y, { softmaxScale: 0 }), /ncaLoss: softmaxScale must be a finite number > 0/],
    [() => instanceLoss(e, y, { gamma: -1 }), /instanceLoss: gamma must be a finite number > 0/],
    [() => new DynamicSoftMarginHistogram(0), /numBins must be an integer ≥ 1, got 0/],
    [() => new DynamicSoftMarginHistogram(3).set([1, 2]), /expected 3 bins, got 2/],
  ];
  for (const [call, pattern] of bad) assert.throws(() => tf.tidy(call as () => void), pattern);
  e.dispose();
});

Deno.test('reduction "none" shapes of the new losses', () => {
  const x = tf.tensor2d(inputs.x), y = inputs.y;
  const ref = { refEmbeddings: tf.tensor2d(inputs.refX), refLabels: inputs.refY };
  const shape = (t: tf.Tensor) => t.shape.join("×");
  assert.equal(shape(angularLoss(x, y, { reduction: "none", ...ref })), "10×7");
  assert.equal(shape(tupletMarginLoss(x, y, { reduction: "none" })), "10×10");
  assert.equal(shape(intraPairVarianceLoss(x, y, { reduction: "none", ...ref })), "10×7");
  assert.equal(shape(ncaLoss(x, y, { reduction: "none", ...ref })), "10");
  assert.equal(shape(instanceLoss(x, y, { reduction: "none" })), "10");
  const triplets = y.reduce(
    (s, a) => s + (y.filter((b) => b === a).length - 1) * y.filter((b) => b !== a).length,
    0,
  );
  assert.equal(shape(marginLoss(x, y, { reduction: "none" })), String(triplets));
  assert.throws(
    () => thresholdConsistentMarginLoss(x, y, { reduction: "none" }),
    /already a scalar/,
  );
});

Deno.test("thresholdConsistentMarginLoss: a pair exactly at the margin counts (s ≥ m⁻, as PML)", () => {
  // Negatives s = 0 (twice, exactly at m⁻ = 0) and 0.7071 (twice): mean (0 + 0.7071)/2 = 0.3536
  // (0.7071 if the pairs at the margin were left out); positives (1, 2): 0.9 − 0.7071.
  const e = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
  const v = thresholdConsistentMarginLoss(e, [0, 1, 1], { marginMinus: 0 }).dataSync()[0];
  assert.ok(Math.abs(v - 0.5464466) < 1e-6, `${v}`); // PML 2.9.0: 0.5464466
});

Deno.test("angularLoss on embeddings of large norm (PML's raw negatives): the exact path", () => {
  // Exponents spread far beyond float32's range: the factorised sum would underflow.
  for (const c of fixture.angularLargeNorms) {
    const f = (x: tf.Tensor2D) =>
      angularLoss(x, inputs.y, {
        ...c.options,
        ...(c.ref ? { refEmbeddings: tf.tensor2d(c.refX), refLabels: inputs.refY } : {}),
      });
    const where = `angularLoss ${JSON.stringify(c.options)} ×25 (ref ${c.ref})`;
    const { value, grad } = valueAndGrad(f, c.x);
    assertCloseTo(value, c.value, { rtol: 1e-4, atol: 1e-4 }, where);
    assertCloseTo(grad, c.grad, { rtol: 2e-3, atol: 1e-4 }, `${where} gradient`);
  }
});

Deno.test("an empty batch gives PML's 0, and InstanceLoss's NaN is refused by name", () => {
  // Every loss, the reference set and the wrappers: tests/empty_batches_test.ts.
  for (const [name, pml] of Object.entries(fixture.emptyBatch)) {
    if (Number.isNaN(pml)) {
      assert.equal(name, "instanceLoss");
      assert.throws(
        () => LOSSES[name](tf.zeros([0, 4]) as tf.Tensor2D, []),
        new RegExp(`^Error: ${name}: embeddings is an empty batch \\(0 rows\\): .*NaN`),
      );
      continue;
    }
    assert.equal(pml, 0, name);
    const [value, gradShape] = tf.tidy(() => {
      const r = tf.valueAndGrad((e: tf.Tensor) => LOSSES[name](e as tf.Tensor2D, []) as tf.Scalar)(
        tf.zeros([0, 4]),
      );
      return [r.value.dataSync()[0], r.grad.shape];
    });
    assert.equal(value, 0, name);
    assert.deepEqual(gradShape, [0, 4], `${name}: connected to the embeddings`);
  }
});

Deno.test("selfSupervisedLoss and crossBatchMemory around the new losses equal PML's wrappers", () => {
  const { views, selfSupervised, batches, memory } = fixture.wrapped;
  const tol = { rtol: 1e-4, atol: 1e-5 }, gtol = { rtol: 2e-3, atol: 2e-5 };
  for (const c of selfSupervised) {
    const where = `selfSupervisedLoss(${c.loss}, symmetric ${c.symmetric})`;
    const wrapper = selfSupervisedLoss(LOSSES[c.loss], { symmetric: c.symmetric });
    const [value, [ge, gr]] = tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((e: tf.Tensor, r: tf.Tensor) =>
        wrapper(e as tf.Tensor2D, r as tf.Tensor2D)
      )([tf.tensor2d(inputs.x.slice(0, 6)), tf.tensor2d(views)]);
      return [value.dataSync()[0], grads.map((g) => g.arraySync() as number[][])] as const;
    });
    assertCloseTo(value, c.value, tol, where);
    assertCloseTo(ge, c.grad, gtol, `${where} gradient`);
    assertCloseTo(gr, c.refGrad, gtol, `${where} gradient of the views`);
  }
  for (const run of memory) {
    const xbm = crossBatchMemory(LOSSES[run.loss], { embeddingSize: 4, memorySize: 12 });
    run.steps.forEach((step, k) => {
      const where = `crossBatchMemory(${run.loss}) step ${k}`;
      const { value, grad } = valueAndGrad((e) => xbm(e, batches[k].y), batches[k].x);
      assertCloseTo(value, step.value, tol, where);
      assertCloseTo(grad, step.grad, gtol, `${where} gradient`);
    });
    xbm.dispose();
  }
});
