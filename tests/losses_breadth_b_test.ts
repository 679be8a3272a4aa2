/**
 * The losses of issue 14 (part B) against pytorch-metric-learning 2.9.0
 * (tests/fixtures/losses_breadth_b.json, written by bench/fixtures.py from
 * bench/fixture_sections/losses_breadth_b.py): fastAPLoss, histogramLoss, pnpLoss (every variant),
 * rankedListLoss, smoothAPLoss, vicRegLoss and manifoldLoss — values and gradients for the
 * defaults and other settings, with mined tuples; degenerate batches; PML's refusals; finite
 * differences; finite gradients at coincident points; no [n, n, n] tensor outside Smooth-AP and
 * PNP; the benchmark methods train.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { arrayOf, finiteDifferences, LOSSES, toIndices, valueAndGrad } from "./_loss_fixtures.ts";
import {
  fastAPLoss,
  histogramLoss,
  type Loss,
  type LossOptions,
  manifoldLoss,
  pnpLoss,
  rankedListLoss,
  smoothAPLoss,
  TrainableLoss,
  vicRegLoss,
} from "../lib/losses/mod.ts";
import { createRng } from "../lib/data/random.ts";
import { BENCHMARK_METHODS } from "../lib/benchmark/methods.ts";
import { lossRegistry } from "../bench/losses_bench.ts";

await tf.setBackend("cpu");

type Indices = Record<string, Record<string, number[]>>;
interface Case {
  loss: string;
  options: Record<string, unknown>;
  setting: string;
  reduction?: unknown;
  value: number | number[];
  grad?: number[][];
  refGrad?: number[][] | null;
}
interface ManifoldCase {
  options: Record<string, unknown>;
  proxies: number[][];
  metaClasses: number[];
  value: number;
  grad: number[][];
  proxyGrad: number[][];
}
interface Degenerate {
  loss: string;
  options: Record<string, unknown>;
  batch: string;
  x: number[][];
  y?: number[];
  pmlLabels?: number[];
  ref?: number[][];
  value?: number;
  grad?: number[][];
  gradFinite?: boolean;
  error?: string;
}
const fixture = loadFixture<{
  inputs: {
    x: number[][];
    y: number[];
    yBlock: number[];
    pmlBlockLabels: number[];
    yMixed: number[];
    ySparse: number[];
    x16: number[][];
    ySquare: number[];
    y16: number[];
    views: number[][];
    indices: { Y: Indices; Y_SQUARE: Indices };
  };
  cases: Case[];
  manifold: ManifoldCase[];
  permutedSmoothAP: {
    options: Record<string, unknown>;
    order: number[];
    value: number;
    grad: number[][];
  }[];
  degenerate: Degenerate[];
  refusals: { loss: string; what: string; error: string | null }[];
}>("losses_breadth_b").cases;
const { inputs } = fixture;

const NEW_LOSSES = [
  "fastAPLoss",
  "histogramLoss",
  "pnpLoss",
  "rankedListLoss",
  "smoothAPLoss",
  "vicRegLoss",
  "manifoldLoss",
];

/** The batch of a setting: its rows, its labels (as our loss takes them), its tuples. */
function dataOf(
  setting: string,
): { x: number[][]; y: number[]; indices?: Record<string, number[]> } {
  const square = setting.startsWith("square");
  const ix = inputs.indices[square ? "Y_SQUARE" : "Y"];
  const kind = setting.toLowerCase();
  const indices = kind.endsWith("pairs")
    ? ix.pairs
    : kind.endsWith("triplets")
    ? ix.triplets
    : undefined;
  // "blocks43": PML's Smooth-AP on 4 sorted classes of 3 uses 3 positional blocks of 4 as classes.
  if (setting === "blocks43") return { x: inputs.x, y: inputs.pmlBlockLabels };
  if (setting === "mixed") return { x: inputs.x, y: inputs.yMixed };
  if (setting === "sparse") return { x: inputs.x, y: inputs.ySparse };
  return square
    ? { x: inputs.x16, y: inputs.ySquare, indices }
    : { x: inputs.x, y: inputs.y, indices };
}

function lossOf(c: Case): (x: tf.Tensor2D) => tf.Tensor {
  const loss = LOSSES[c.loss];
  assert.ok(loss, `no loss ${c.loss}`);
  const { y, indices } = dataOf(c.setting);
  return (x) => {
    const options: Record<string, unknown> = { ...c.options };
    if (c.reduction !== undefined) options.reduction = c.reduction;
    if (indices) options.indices = toIndices(indices);
    if (c.loss === "vicRegLoss") {
      if (c.setting === "views") options.refEmbeddings = tf.tensor2d(inputs.views);
      return loss(x, undefined, options);
    }
    return loss(x, y, options);
  };
}

const describe = (c: { loss: string; options: unknown; setting?: string; reduction?: unknown }) =>
  `${c.loss} ${JSON.stringify(c.options)} (${c.setting ?? ""}${
    c.reduction === undefined ? "" : ", " + JSON.stringify(c.reduction)
  })`;

Deno.test("every loss equals PML 2.9.0's value and gradient on every setting", () => {
  const compared = new Map<string, number>();
  const count = (name: string) => compared.set(name, (compared.get(name) ?? 0) + 1);
  for (const c of fixture.cases) {
    const f = lossOf(c), x = dataOf(c.setting).x;
    if (c.reduction === "none") {
      assertCloseTo(arrayOf(f, x), c.value, { rtol: 1e-4, atol: 2e-5 }, describe(c));
    } else {
      const { value, grad } = valueAndGrad(f, x);
      assertCloseTo(value, c.value, { rtol: 1e-4, atol: 2e-5 }, describe(c));
      assertCloseTo(grad, c.grad, { rtol: 2e-3, atol: 3e-5 }, `${describe(c)} gradient`);
      if (c.refGrad) {
        const r = valueAndGrad(
          (ref) =>
            vicRegLoss(tf.tensor2d(inputs.x), undefined, {
              ...c.options,
              reduction: (c.reduction ?? "mean") as "sum",
              refEmbeddings: ref,
            }),
          inputs.views,
        );
        assertCloseTo(r.grad, c.refGrad, { rtol: 2e-3, atol: 3e-5 }, `${describe(c)} ref gradient`);
      }
    }
    count(c.loss);
  }
  for (const c of fixture.manifold) {
    const where = `manifoldLoss ${JSON.stringify(c.options)}`;
    const proxies = tf.variable(tf.tensor2d(c.proxies));
    const options = { ...c.options, proxies, metaClasses: c.metaClasses };
    const { value, grad } = valueAndGrad((x) => manifoldLoss(x, undefined, options), inputs.x);
    assertCloseTo(value, c.value, { rtol: 1e-4, atol: 2e-5 }, where);
    assertCloseTo(grad, c.grad, { rtol: 3e-3, atol: 3e-5 }, `${where} gradient`);
    const pg = tf.tidy(() =>
      tf.grad((p: tf.Tensor) =>
        manifoldLoss(tf.tensor2d(inputs.x), undefined, { ...options, proxies: p })
      )(proxies).arraySync()
    );
    assertCloseTo(pg, c.proxyGrad, { rtol: 3e-3, atol: 3e-5 }, `${where} proxy gradient`);
    proxies.dispose();
    count("manifoldLoss");
  }
  console.log(`compared with PML: ${JSON.stringify(Object.fromEntries(compared))}`);
  for (const name of NEW_LOSSES) {
    assert.ok((compared.get(name) ?? 0) >= 5, `${name}: only ${compared.get(name)} cases`);
  }
});

Deno.test("smoothAPLoss takes its classes from the labels: a shuffled batch equals PML on the sorted one", () => {
  const shuffled = inputs.x16, y = inputs.y16;
  for (const c of fixture.permutedSmoothAP) {
    const { value, grad } = valueAndGrad((x) => smoothAPLoss(x, y, c.options), shuffled);
    assertCloseTo(
      value,
      c.value,
      { rtol: 1e-4, atol: 2e-5 },
      `permuted ${JSON.stringify(c.options)}`,
    );
    // PML's gradient row k belongs to our row order[k].
    const back = grad.map(() => [] as number[]);
    c.order.forEach((row, k) => back[k] = grad[row]);
    assertCloseTo(back, c.grad, { rtol: 2e-3, atol: 3e-5 }, "permuted gradient");
  }
});

/** Smooth-AP by plain loops over the labels (any class sizes). */
function refSmoothAP(x: number[][], y: number[], t: number): number {
  const unit = x.map((r) => {
    const s = Math.hypot(...r);
    return r.map((v) => v / s);
  });
  const sim = unit.map((a) => unit.map((b) => a.reduce((s, v, k) => s + v * b[k], 0)));
  const sig = (z: number) => 1 / (1 + Math.exp(-z));
  let total = 0;
  for (let q = 0; q < x.length; q++) {
    const cls = y.map((c, i) => c === y[q] ? i : -1).filter((i) => i >= 0);
    let ap = 0;
    for (const a of cls) {
      let rPos = 1, rAll = 1;
      for (let b = 0; b < x.length; b++) {
        if (b === a) continue;
        const v = sig((sim[q][b] - sim[q][a]) / t);
        rAll += v;
        if (y[b] === y[q]) rPos += v;
      }
      ap += rPos / rAll;
    }
    total += 1 - ap / cls.length;
  }
  return total / x.length;
}

Deno.test("smoothAPLoss on unequal classes (PML raises) equals the formula by loops", () => {
  const refusal = fixture.refusals.find((r) => r.what === "unequal classes")!;
  assert.match(refusal.error!, /same number of elements/);
  const x = inputs.x.slice(0, 9), y = [0, 2, 0, 1, 0, 1, 3, 0, 2];
  for (const t of [0.01, 0.2]) {
    const ours = tf.tidy(() => smoothAPLoss(tf.tensor2d(x), y, { temperature: t }).dataSync()[0]);
    assertCloseTo(ours, refSmoothAP(x, y, t), { rtol: 1e-4, atol: 1e-6 }, `τ ${t}`);
  }
});

Deno.test("rankedListLoss by hand: PML's n·1e-5 in every denominator", () => {
  // Rows 0 and 1 (class 0) are √2 apart, beyond α − m = 0.8; the 98 others coincide (class 1) and
  // lie 1.85 from both: nothing else violates. Anchors 0 and 1 pay ½(√2 − 0.8)/(1 + n·1e-5).
  const n = 100, far = [-Math.SQRT1_2, -Math.SQRT1_2];
  const x = [[1, 0], [0, 1], ...Array.from({ length: n - 2 }, () => far)];
  const y = [0, 0, ...Array(n - 2).fill(1)];
  const v = tf.tidy(() => rankedListLoss(tf.tensor2d(x), y, { margin: 0.4, Tn: 10 }).dataSync()[0]);
  const want = (2 * 0.5 * (Math.SQRT2 - 0.8) / (1 + n * 1e-5)) / n;
  assertCloseTo(v, want, { rtol: 1e-5, atol: 0 }, "rankedListLoss");
});

Deno.test("histogramLoss keeps similarities outside [−1, 1] in the end bins (PML fails there)", () => {
  const x = tf.mul(tf.tensor2d(inputs.x), 3) as tf.Tensor2D;
  const v = tf.tidy(() =>
    histogramLoss(x, inputs.y, { distance: "dot", normalizeEmbeddings: false }).dataSync()[0]
  );
  assert.ok(v >= 0 && v <= 1 + 1e-6, `a probability, got ${v}`);
  x.dispose();
});

Deno.test("degenerate batches give PML's values (and finite gradients where PML fails)", () => {
  for (const c of fixture.degenerate) {
    const where = `${c.loss} ${JSON.stringify(c.options)} ${c.batch}`;
    if (c.loss === "vicRegLoss") {
      const call = (x: tf.Tensor2D) =>
        vicRegLoss(x, undefined, { refEmbeddings: tf.tensor2d(c.ref!) });
      if (Number.isNaN(c.value)) {
        // PML's unbiased variance of one row is NaN; ours refuses the batch.
        assert.throws(
          () => tf.tidy(() => call(tf.tensor2d(c.x))),
          /vicRegLoss: needs at least 2 rows/,
        );
        continue;
      }
      const { value, grad } = valueAndGrad(call, c.x);
      assertCloseTo(value, c.value, { rtol: 1e-4, atol: 1e-5 }, where);
      assert.ok(grad.flat().every(Number.isFinite), `${where}: gradient`);
      continue;
    }
    // PML's Smooth-AP ranks positional blocks, not the labels' classes: give ours those blocks.
    const f = (x: tf.Tensor2D) => LOSSES[c.loss](x, c.pmlLabels ?? c.y, c.options);
    const { value, grad } = valueAndGrad(f, c.x);
    assert.ok(grad.flat().every(Number.isFinite), `${where}: gradient not finite`);
    if (c.error) {
      // PML's HistogramLoss indexes past its last bin at a similarity of exactly 1.
      assert.match(c.error, /out of bounds/, where);
      assert.ok(Number.isFinite(value) && value >= 0 && value <= 1, `${where}: ${value}`);
      continue;
    }
    assertCloseTo(value, c.value, { rtol: 1e-4, atol: 2e-5 }, where);
    assertCloseTo(grad, c.grad, { rtol: 2e-3, atol: 3e-5 }, `${where} gradient`);
  }
});

Deno.test("what PML refuses is refused, the loss and the problem named", () => {
  const x = tf.tensor2d(inputs.x), y = inputs.y;
  const ref = { refEmbeddings: tf.tensor2d(inputs.views), refLabels: y };
  const pairs = toIndices(inputs.indices.Y.pairs);
  const calls: Record<string, [() => unknown, RegExp]> = {
    "fastAPLoss refEmbeddings": [
      () => fastAPLoss(x, y, ref as never),
      /unknown option "refEmbeddings"/,
    ],
    "fastAPLoss distance cosine": [
      () => fastAPLoss(x, y, { distance: "cosine" }),
      /distance must be "sqeuclidean" or "euclidean" on normalised embeddings/,
    ],
    "fastAPLoss normalizeEmbeddings false": [
      () => fastAPLoss(x, y, { normalizeEmbeddings: false }),
      /normalizeEmbeddings false/,
    ],
    "fastAPLoss no labels": [() => fastAPLoss(x, undefined), /labels are required/],
    "histogramLoss refEmbeddings": [() => histogramLoss(x, y, ref as never), /unknown option/],
    "histogramLoss delta and nBins disagree": [
      () => histogramLoss(x, y, { nBins: 10, delta: 0.3 }),
      /delta and nBins must satisfy delta = 2 \/ nBins, got delta 0.3 and nBins 10/,
    ],
    "pnpLoss refEmbeddings": [() => pnpLoss(x, y, ref as never), /unknown option "refEmbeddings"/],
    "pnpLoss indices": [
      () => pnpLoss(x, y, { indices: pairs } as never),
      /unknown option "indices"/,
    ],
    "pnpLoss variant": [() => pnpLoss(x, y, { variant: "X" as never }), /unknown variant "X"/],
    "pnpLoss distance euclidean": [
      () => pnpLoss(x, y, { distance: "euclidean" }),
      /distance must be "cosine"/,
    ],
    "rankedListLoss refEmbeddings": [
      () => rankedListLoss(x, y, { margin: 0.4, Tn: 10, ...ref } as never),
      /unknown option "refEmbeddings"/,
    ],
    "rankedListLoss indices": [
      () => rankedListLoss(x, y, { margin: 0.4, Tn: 10, indices: pairs } as never),
      /unknown option "indices"/,
    ],
    "rankedListLoss imbalance 1.5": [
      () => rankedListLoss(x, y, { margin: 0.4, Tn: 10, imbalance: 1.5 }),
      /imbalance must be a finite number ≥ 0 and ≤ 1, got 1.5/,
    ],
    "rankedListLoss no margin": [
      () => rankedListLoss(x, y, { Tn: 10 }),
      /rankedListLoss: option margin is required/,
    ],
    "smoothAPLoss refEmbeddings": [() => smoothAPLoss(x, y, ref as never), /unknown option/],
    "smoothAPLoss distance euclidean": [
      () => smoothAPLoss(x, y, { distance: "euclidean" }),
      /smoothAPLoss: distance must be "cosine"/,
    ],
    "vicRegLoss labels": [
      () => vicRegLoss(x, y, { refEmbeddings: x }),
      /vicRegLoss: takes no labels/,
    ],
    "vicRegLoss indices": [
      () => vicRegLoss(x, undefined, { indices: pairs } as never),
      /unknown option "indices"/,
    ],
    "vicRegLoss distance": [
      () => vicRegLoss(x, undefined, { distance: "euclidean" } as never),
      /vicRegLoss: takes no distance/,
    ],
    "manifoldLoss labels": [
      () => manifoldLoss(x, y, { K: 3, proxies: tf.zeros([3, 5]) }),
      /manifoldLoss: takes no labels/,
    ],
    "manifoldLoss refEmbeddings": [
      () => manifoldLoss(x, undefined, { K: 3, proxies: tf.zeros([3, 5]), ...ref } as never),
      /unknown option "refEmbeddings"/,
    ],
    "manifoldLoss batch smaller than K": [
      () => manifoldLoss(x, undefined, { K: 20, proxies: tf.zeros([20, 5]) }),
      /manifoldLoss: the batch has 12 rows, fewer than K = 20 proxies/,
    ],
    "manifoldLoss negative lambdaC": [
      () => manifoldLoss(x, undefined, { lambdaC: -1, proxies: tf.zeros([50, 5]) }),
      /manifoldLoss: lambdaC must be a finite number ≥ 0, got -1/,
    ],
  };
  let n = 0;
  for (const r of fixture.refusals) {
    if (r.what === "unequal classes") continue;
    assert.ok(r.error, `PML accepted ${r.loss} ${r.what}`);
    const entry = calls[`${r.loss} ${r.what}`];
    assert.ok(entry, `no check for ${r.loss} ${r.what}`);
    assert.throws(entry[0], entry[1], `${r.loss} ${r.what} (PML: ${r.error})`);
    assert.throws(entry[0], new RegExp(`^Error: ${r.loss}: `));
    n++;
  }
  assert.equal(n, Object.keys(calls).length);
  tf.dispose([x, ref.refEmbeddings]);
});

Deno.test("more option checks: ranges, shapes, meta classes", () => {
  const x = tf.tensor2d(inputs.x), y = inputs.y;
  const bad: [() => unknown, RegExp][] = [
    [() => fastAPLoss(x, y, { numBins: 0 }), /fastAPLoss: numBins must be an integer ≥ 1, got 0/],
    [() => fastAPLoss(x, y, { numBins: 2.5 }), /numBins must be an integer/],
    [
      () => histogramLoss(x, y, { delta: 3 }),
      /histogramLoss: delta must be a finite number > 0 and ≤ 2, got 3/,
    ],
    [() => histogramLoss(x, y, { nBins: 0 }), /histogramLoss: nBins must be an integer ≥ 1/],
    [() => pnpLoss(x, y, { anneal: 0 }), /pnpLoss: anneal must be a finite number > 0, got 0/],
    [() => pnpLoss(x, y, { b: -1 }), /pnpLoss: b must be a finite number > 0/],
    [() => rankedListLoss(x, y, { margin: 0.4 }), /rankedListLoss: option Tn is required/],
    [
      () => rankedListLoss(x, y, { margin: NaN, Tn: 1 }),
      /rankedListLoss: margin must be a finite number, got NaN/,
    ],
    [
      () => rankedListLoss(x, y, { margin: 0.4, Tn: 1, alpha: Infinity }),
      /rankedListLoss: alpha must be a finite number/,
    ],
    [
      () => smoothAPLoss(x, y, { temperature: -0.1 }),
      /smoothAPLoss: temperature must be a finite number > 0/,
    ],
    [
      () => vicRegLoss(x, undefined, { eps: 0 }),
      /vicRegLoss: eps must be a finite number > 0, got 0/,
    ],
    [
      () => vicRegLoss(x, undefined, { varianceMu: -1 }),
      /vicRegLoss: varianceMu must be a finite number ≥ 0/,
    ],
    [
      () => vicRegLoss(x, undefined, { refEmbeddings: tf.zeros([3, 5]) }),
      /vicRegLoss: refEmbeddings must have the shape of the embeddings \[12, 5\], got \[3,5\]/,
    ],
    [
      () => vicRegLoss(x, undefined, { normalizeEmbeddings: true } as never),
      /vicRegLoss: normalizeEmbeddings must be false/,
    ],
    [() => vicRegLoss(x, undefined, { refLabels: y } as never), /unknown option "refLabels"/],
    [
      () => manifoldLoss(x, undefined, { alpha: 1, proxies: tf.zeros([50, 5]) }),
      /manifoldLoss: alpha must be a finite number > 0 and < 1, got 1/,
    ],
    [() => manifoldLoss(x, undefined, { K: 3 }), /manifoldLoss: option proxies is required/],
    [
      () => manifoldLoss(x, undefined, { K: 3, proxies: tf.zeros([3, 4]) }),
      /manifoldLoss: proxies must have shape \[3,5\], got \[3,4\]/,
    ],
    [
      () => manifoldLoss(x, undefined, { K: 3, l: 4, proxies: tf.zeros([3, 4]) }),
      /manifoldLoss: the embeddings have dimension 5, not l = 4/,
    ],
    [
      () => manifoldLoss(x, undefined, { K: 3, proxies: tf.zeros([3, 5]), metaClasses: [0, 1] }),
      /manifoldLoss: metaClasses must have one entry per row \(12\), got 2/,
    ],
    [
      () =>
        manifoldLoss(x, undefined, {
          K: 3,
          proxies: tf.zeros([3, 5]),
          metaClasses: Array(12).fill(3),
        }),
      /manifoldLoss: metaClasses\[0\] = 3 is not a proxy \(K = 3\)/,
    ],
    [
      () => manifoldLoss(x, undefined, { K: 3, proxies: tf.zeros([3, 5]), metaClasses: [0.5] }),
      /manifoldLoss: metaClasses must be an array of integers ≥ 0/,
    ],
    [
      () => manifoldLoss(x, undefined, { K: 3, proxies: tf.zeros([3, 5]), rng: 7 as never }),
      /manifoldLoss: rng must be a generator from createRng\(seed\), got 7/,
    ],
    [
      () => pnpLoss(x, y, { reduction: "none" }),
      /reduction "none" cannot return the sub-loss "loss"/,
    ],
  ];
  for (const [call, pattern] of bad) assert.throws(call, pattern);
  x.dispose();
});

Deno.test("gradients match finite differences of our own values", () => {
  const x = inputs.x.slice(0, 9).map((r) => r.slice(0, 4)), y = [0, 1, 0, 2, 1, 0, 2, 1, 2];
  const settings: [string, (e: tf.Tensor2D) => tf.Tensor][] = [
    ["fastAP", (e) => fastAPLoss(e, y, { numBins: 4 })],
    ["histogram", (e) => histogramLoss(e, y, { nBins: 5 })],
    ["pnp O", (e) => pnpLoss(e, y, { anneal: 0.5 })],
    ["pnp Dq", (e) => pnpLoss(e, y, { anneal: 0.5, variant: "Dq", alpha: 2 })],
    ["pnp Ib", (e) => pnpLoss(e, y, { anneal: 0.5, variant: "Ib" })],
    ["rankedList", (e) => rankedListLoss(e, y, { margin: 1, Tn: 2, Tp: 1, alpha: 1.3 })],
    ["smoothAP", (e) => smoothAPLoss(e, y, { temperature: 0.5 })],
    [
      "vicReg",
      (e) => vicRegLoss(e, undefined, { refEmbeddings: tf.tensor2d(x).reverse(0) as tf.Tensor2D }),
    ],
    [
      "manifold",
      (e) =>
        manifoldLoss(e, undefined, {
          K: 3,
          margin: 0.01,
          proxies: tf.tensor2d(inputs.views.slice(0, 3).map((r) => r.slice(0, 4))),
          metaClasses: [0, 1, 2, 0, 1, 2, 0, 1, 2],
        }),
    ],
  ];
  for (const [name, f] of settings) {
    const { grad } = valueAndGrad(f, x);
    const fd = finiteDifferences(f, x, 1e-3);
    assertCloseTo(grad, fd, { rtol: 3e-2, atol: 2e-3 }, `${name} gradient vs finite differences`);
    assert.ok(grad.flat().some((g) => Math.abs(g) > 1e-3), `${name}: gradient all zero`);
  }
});

Deno.test("every new loss has finite gradients at coincident points", () => {
  const p = [0.3, -1, 0.5, 2];
  const batches: [string, number[][], number[]][] = [
    ["pairs of coincident rows", [p, p, [0, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]], [
      0,
      0,
      1,
      1,
      0,
      2,
    ]],
    ["all rows coincident", [p, p, p, p], [0, 0, 1, 1]],
    ["coincident across classes", [p, p, [1, 2, 0, 0], [1, 2, 0, 0]], [0, 1, 0, 1]],
  ];
  const calls: [string, (e: tf.Tensor2D, y: number[]) => tf.Tensor][] = [
    ["fastAPLoss", (e, y) => fastAPLoss(e, y)],
    ["fastAPLoss euclidean", (e, y) => fastAPLoss(e, y, { distance: "euclidean" })],
    ["histogramLoss", (e, y) => histogramLoss(e, y)],
    ...(["O", "Ds", "Dq", "Iu", "Ib"] as const).map((variant) =>
      [`pnpLoss ${variant}`, (e: tf.Tensor2D, y: number[]) => pnpLoss(e, y, { variant })] as [
        string,
        (e: tf.Tensor2D, y: number[]) => tf.Tensor,
      ]
    ),
    ["rankedListLoss", (e, y) => rankedListLoss(e, y, { margin: 0.4, Tn: 10 })],
    ["rankedListLoss margin 2", (e, y) => rankedListLoss(e, y, { margin: 2, Tn: 1, alpha: 0.5 })],
    ["smoothAPLoss", (e, y) => smoothAPLoss(e, y)],
    ["vicRegLoss", (e) => vicRegLoss(e, undefined, { refEmbeddings: e })],
    [
      "manifoldLoss",
      (e) => manifoldLoss(e, undefined, { K: 2, proxies: tf.tensor2d([p, p]) }),
    ],
  ];
  for (const [label, x, y] of batches) {
    for (const [name, f] of calls) {
      const { value, grad } = valueAndGrad((e) => f(e, y), x);
      assert.ok(Number.isFinite(value), `${name}, ${label}: value ${value}`);
      assert.ok(grad.flat().every(Number.isFinite), `${name}, ${label}: gradient not finite`);
    }
  }
});

Deno.test("no [n, n, n] tensor, except Smooth-AP and PNP's [n, g, n] (g the largest class)", async () => {
  const n = 64, classes = 8, g = n / classes;
  const y = Array.from({ length: n }, (_, i) => i % classes);
  const e = tf.tidy(() => tf.randomNormal([n, 16], 0, 1, "float32", 3)) as tf.Tensor2D;
  const largest = async (f: (x: tf.Tensor2D) => tf.Tensor) => {
    const info = await tf.profile(() =>
      tf.grad((x: tf.Tensor) => f(x as tf.Tensor2D) as tf.Scalar)(e)
    );
    return Math.max(
      ...info.kernels.map((k) =>
        Math.max(0, ...k.outputShapes.map((s) => (s ?? []).reduce((a, b) => a * b, 1)))
      ),
    );
  };
  const flat: [string, (x: tf.Tensor2D) => tf.Tensor][] = [
    ["fastAPLoss", (x) => fastAPLoss(x, y, { numBins: 40 })],
    ["histogramLoss", (x) => histogramLoss(x, y, { nBins: 200 })],
    ["rankedListLoss", (x) => rankedListLoss(x, y, { margin: 0.4, Tn: 10 })],
    ["vicRegLoss", (x) => vicRegLoss(x, undefined, { refEmbeddings: x })],
    [
      "manifoldLoss",
      (x) => manifoldLoss(x, undefined, { proxies: tf.randomNormal([50, 16], 0, 1, "float32", 1) }),
    ],
  ];
  for (const [name, f] of flat) {
    const size = await largest(f);
    assert.ok(size <= 4 * (n + 50) ** 2, `${name}: a tensor of ${size} elements (n³ = ${n ** 3})`);
  }
  for (
    const [name, f] of [
      ["smoothAPLoss", (x: tf.Tensor2D) => smoothAPLoss(x, y)],
      ["pnpLoss", (x: tf.Tensor2D) => pnpLoss(x, y)],
    ] as const
  ) {
    assert.equal(await largest(f), n * g * n, name);
  }
  e.dispose();
});

Deno.test("losses leak no tensors; manifold's meta classes are seeded", () => {
  const x = tf.tensor2d(inputs.x), y = inputs.y;
  const proxies = tf.tensor2d(inputs.views.slice(0, 4));
  const views = tf.tensor2d(inputs.views);
  const calls: (() => tf.Tensor)[] = [
    () => fastAPLoss(x, y),
    () => histogramLoss(x, y),
    () => pnpLoss(x, y, { variant: "Ib" }),
    () => rankedListLoss(x, y, { margin: 0.4, Tn: 10 }),
    () => smoothAPLoss(x, y),
    () => vicRegLoss(x, undefined, { refEmbeddings: views }),
    () => manifoldLoss(x, undefined, { K: 4, proxies }),
  ];
  for (const call of calls) call().dispose(); // warm caches
  const before = tf.memory().numTensors;
  for (const call of calls) call().dispose();
  assert.equal(tf.memory().numTensors, before);
  const v = (o: object) =>
    tf.tidy(() => manifoldLoss(x, undefined, { K: 4, proxies, ...o }).dataSync()[0]);
  assert.equal(v({}), v({}), "default generator: the same draw at each call");
  assert.equal(v({ rng: createRng(5) }), v({ rng: createRng(5) }));
  const rng = createRng(5);
  const first = v({ rng }), second = v({ rng });
  assert.notEqual(first, second, "one generator advances between calls");
  tf.dispose([x, proxies, views]);
});

Deno.test("manifoldLoss trains its proxies as a TrainableLoss", () => {
  const t = new TrainableLoss(manifoldLoss, { K: 4, embeddingSize: 5, seed: 3 });
  assert.deepEqual(t.trainableWeights.map((w) => w.shape), [[4, 5]]);
  const e = tf.variable(tf.tensor2d(inputs.x));
  const optimizer = tf.train.adam(0.05);
  const loss = () => t.call(e as unknown as tf.Tensor2D, undefined, { rng: createRng(1) });
  const first = loss().dataSync()[0];
  const before = Array.from(t.variables.proxies.dataSync());
  for (let i = 0; i < 10; i++) optimizer.minimize(loss, false, [e, ...t.trainableWeights]);
  const last = loss().dataSync()[0];
  assert.ok(last < first, `loss ${first} → ${last}`);
  assert.notDeepEqual(Array.from(t.variables.proxies.dataSync()), before);
  t.dispose(), e.dispose(), optimizer.dispose();
});

Deno.test("the benchmark registry and `bench losses` run every new loss", () => {
  const ids = BENCHMARK_METHODS.map((m) => m.id);
  const methods = ["fastap", "histogram", "pnp", "ranked-list", "smooth-ap", "vicreg", "manifold"];
  for (const id of methods) assert.ok(ids.includes(id), id);
  const x = tf.variable(tf.randomNormal([64, 64], 0, 1, "float32", 9));
  const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => (i * 7) % 10), "int32");
  for (const id of methods) {
    const m = BENCHMARK_METHODS.find((m) => m.id === id)!;
    assert.equal(m.family, "deep");
    // As lib/benchmark/execute.ts: a method whose loss owns parameters makes it for the run
    // (10 classes, 64-dimensional embeddings), and they train with the embeddings.
    const owned = m.trainableLoss?.({ numClasses: 10, embeddingSize: 64, seed: 0 });
    const loss = owned ? (e: tf.Tensor2D, l: tf.Tensor1D) => owned.call(e, l) : m.loss!;
    const optimizer = tf.train.sgd(0.1);
    const trained = [x, ...(owned?.trainableWeights ?? [])];
    const v = optimizer.minimize(() => loss(x as unknown as tf.Tensor2D, y), true, trained)!;
    assert.ok(Number.isFinite(v.dataSync()[0]), `${id}: ${v.dataSync()[0]}`);
    v.dispose(), optimizer.dispose(), owned?.dispose();
  }
  const { entries, skipped } = lossRegistry();
  for (const name of NEW_LOSSES) {
    assert.ok(!skipped.some(([n]) => n === name), `${name} skipped by bench losses`);
    const entry = entries.find((e) => e.name === name)!;
    const v = tf.tidy(() =>
      tf.grad((e: tf.Tensor) => entry.call(e as tf.Tensor2D, Int32Array.from(y.dataSync())))(x)
    );
    assert.ok(Array.from(v.dataSync()).every(Number.isFinite), name);
    v.dispose();
    entry.dispose();
  }
  x.dispose(), y.dispose();
});

Deno.test("the new losses are exported with documented defaults", () => {
  const defaults: Record<string, Record<string, unknown>> = {
    fastAPLoss: { numBins: 10 },
    histogramLoss: { nBins: undefined, delta: undefined },
    pnpLoss: { b: 2, alpha: 1, anneal: 0.01, variant: "O" },
    rankedListLoss: { margin: undefined, Tn: undefined, imbalance: 0.5, alpha: undefined, Tp: 0 },
    smoothAPLoss: { temperature: 0.01 },
    vicRegLoss: { invarianceLambda: 25, varianceMu: 25, covarianceV: 1, eps: 1e-4 },
    manifoldLoss: {
      l: undefined,
      K: 50,
      lambdaC: 1,
      alpha: 0.8,
      margin: 5e-4,
      metaClasses: undefined,
      rng: undefined,
      proxies: undefined,
    },
  };
  for (const [name, want] of Object.entries(defaults)) {
    const loss = LOSSES[name] as Loss<LossOptions>;
    const got = Object.fromEntries(
      Object.entries(loss.definition.options).map((
        [k, s],
      ) => [k, (s as { default: unknown }).default]),
    );
    assert.deepEqual(got, want, name);
  }
});
