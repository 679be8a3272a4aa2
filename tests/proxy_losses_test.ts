/**
 * The losses with learnable parameters (class weights, proxies, SoftTriple's centers, P2SGrad's
 * weight) against pytorch-metric-learning 2.9.0 (tests/fixtures/proxy_losses.json from
 * bench/fixture_sections/proxy_losses.py): values for given parameters, defaults and non-default
 * settings, mined tuples, reducers and weight regularizers; gradients with respect to the
 * embeddings and to the parameter. Plus our own finite differences, SubCenterArcFace's outliers,
 * the trainable objects' initialisation against PML's, and bad input (named errors before any
 * tensor work).
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { LOSSES, toIndices } from "./_loss_fixtures.ts";
import {
  ArcFaceLoss,
  arcFaceLoss,
  CosFaceLoss,
  cosFaceLoss,
  LargeMarginSoftmaxLoss,
  largeMarginSoftmaxLoss,
  lpRegularizer,
  NormalizedSoftmaxLoss,
  normalizedSoftmaxLoss,
  P2SGradLoss,
  p2sGradLoss,
  ProxyAnchorLoss,
  proxyAnchorLoss,
  ProxyNCALoss,
  proxyNcaLoss,
  regularFaceRegularizer,
  type Regularizer,
  SoftTripleLoss,
  softTripleLoss,
  sparseCentersRegularizer,
  SphereFaceLoss,
  sphereFaceLoss,
  SubCenterArcFaceLoss,
  subCenterArcFaceLoss,
  subCenterArcFaceOutliers,
  TrainableLoss,
} from "../lib/losses/mod.ts";

await tf.setBackend("cpu");

interface Case {
  loss: string;
  options: Record<string, number>;
  param: string;
  paramValue: number[][];
  labels: number[];
  indices?: Record<string, number[]>;
  distance?: string;
  normalizeEmbeddings?: boolean;
  reduction?: unknown;
  weightRegularizer?: { name: string; options?: Record<string, number> };
  weightRegWeight?: number;
  value: number | number[];
  grad: number[][];
  paramGrad: number[][];
  gradAgreesWithFd: boolean;
  paramGradAgreesWithFd: boolean;
}
interface OutlierCase {
  x: number[][];
  labels: number[];
  W: number[][];
  subCenters: number;
  numClasses: number;
  threshold: number;
  outliers: number[];
  dominantCenters: number[][];
}
const fixture = loadFixture<{
  inputs: { x: number[][]; labels: number[] };
  cases: Case[];
  outliers: OutlierCase[];
  init: Record<string, { shape: number[]; std: number; absMax: number; columnNorm: number }>;
}>("proxy_losses");
const { x: X } = fixture.cases.inputs;

function regularizerOf(spec: Case["weightRegularizer"]): Regularizer | undefined {
  if (!spec) return undefined;
  if (spec.name === "lpRegularizer") return lpRegularizer();
  if (spec.name === "regularFaceRegularizer") return regularFaceRegularizer();
  if (spec.name === "sparseCentersRegularizer") {
    return sparseCentersRegularizer(
      spec.options as { numClasses: number; centersPerClass: number },
    );
  }
  throw new Error(spec.name);
}

/** The case's loss as a function of (embeddings, parameter). */
function lossOf(c: Case): (x: tf.Tensor2D, p: tf.Tensor) => tf.Tensor {
  const loss = LOSSES[c.loss];
  assert.ok(loss, `${c.loss} is exported`);
  const base: Record<string, unknown> = { ...c.options };
  if (c.distance) base.distance = c.distance;
  if (c.normalizeEmbeddings !== undefined) base.normalizeEmbeddings = c.normalizeEmbeddings;
  if (c.reduction) base.reduction = c.reduction;
  if (c.indices) base.indices = toIndices(c.indices);
  if (c.weightRegularizer) base.weightRegularizer = regularizerOf(c.weightRegularizer);
  if (c.weightRegWeight !== undefined) base.weightRegWeight = c.weightRegWeight;
  return (x, p) => loss(x, c.labels, { ...base, [c.param]: p } as never);
}

function describe(c: Case): string {
  const extra = [
    c.distance,
    c.normalizeEmbeddings === false && "unnormalised",
    c.reduction && JSON.stringify(c.reduction),
    c.indices && "indices",
  ]
    .concat(c.weightRegularizer?.name).filter(Boolean);
  return `${c.loss} ${JSON.stringify(c.options)} ${extra.join(" ")}`;
}

Deno.test("every loss with parameters equals PML 2.9.0: value and gradients (embeddings, parameter)", () => {
  const seen = new Set<string>();
  for (const c of fixture.cases.cases) {
    seen.add(c.loss);
    const f = lossOf(c);
    const { value, gx, gp } = tf.tidy(() => {
      const x = tf.tensor2d(X), p = tf.tensor(c.paramValue);
      const out = f(x, p);
      const [gx, gp] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(f(a as tf.Tensor2D, b)))([
        x,
        p,
      ]);
      return {
        value: out.rank === 0 ? out.dataSync()[0] : Array.from(out.dataSync()),
        gx: gx.arraySync() as number[][],
        gp: gp.arraySync() as number[][],
      };
    });
    const where = describe(c);
    assertCloseTo(value, c.value, { rtol: 2e-5, atol: 2e-6 }, `${where}: value`);
    assertCloseTo(gx, c.grad, { rtol: 1e-4, atol: 2e-5 }, `${where}: d/dembeddings`);
    assertCloseTo(gp, c.paramGrad, { rtol: 1e-4, atol: 2e-5 }, `${where}: d/d${c.param}`);
  }
  assert.deepEqual([...seen].sort(), [
    "arcFaceLoss",
    "cosFaceLoss",
    "largeMarginSoftmaxLoss",
    "normalizedSoftmaxLoss",
    "p2sGradLoss",
    "proxyAnchorLoss",
    "proxyNcaLoss",
    "softTripleLoss",
    "sphereFaceLoss",
    "subCenterArcFaceLoss",
  ]);
});

/** Central differences of the scalar f at the 2-D values v (float32, step h). */
function fd(f: (v: number[][]) => number, v: number[][], h: number): number[][] {
  return v.map((row, i) =>
    row.map((_, j) => {
      const plus = v.map((r) => r.slice()), minus = v.map((r) => r.slice());
      plus[i][j] += h, minus[i][j] -= h;
      return (f(plus) - f(minus)) / (2 * h);
    })
  );
}

Deno.test("gradients equal finite differences (embeddings and parameters; P2SGrad: embeddings)", () => {
  // One moderately scaled case of each loss, so that float32 differences are meaningful.
  const picked = new Map<string, Case>();
  for (const c of fixture.cases.cases) {
    const scale = c.options.scale ?? 1;
    if (!picked.has(c.loss) && scale <= 16 && !c.reduction && !c.weightRegularizer) {
      picked.set(c.loss, c);
    }
  }
  for (const c of fixture.cases.cases) if (!picked.has(c.loss)) picked.set(c.loss, c);
  assert.equal(picked.size, 10);
  for (const c of picked.values()) {
    const f = lossOf(c);
    const scalar = (x: number[][], p: number[][]) =>
      tf.tidy(() => tf.sum(f(tf.tensor2d(x), tf.tensor(p))).dataSync()[0]);
    const { gx, gp } = tf.tidy(() => {
      const [gx, gp] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(f(a as tf.Tensor2D, b)))([
        tf.tensor2d(X),
        tf.tensor(c.paramValue),
      ]);
      return { gx: gx.arraySync() as number[][], gp: gp.arraySync() as number[][] };
    });
    const h = 1e-3;
    const tol = { rtol: 3e-2, atol: 3e-3 };
    assertCloseTo(gx, fd((x) => scalar(x, c.paramValue), X, h), tol, `${describe(c)} d/dx`);
    if (c.loss !== "p2sGradLoss") {
      assert.ok(c.paramGradAgreesWithFd, `${describe(c)}: PML's own gradient is its derivative`);
      assertCloseTo(gp, fd((p) => scalar(X, p), c.paramValue, h), tol, `${describe(c)} d/dparam`);
    } else {
      // PML rescales `weight` in place before computing: its gradient is the rescaled loss's
      // (straight through the rescaling), which is what the fixture holds and we return.
      assert.equal(c.paramGradAgreesWithFd, false);
    }
  }
});

Deno.test("subCenterArcFaceOutliers equals PML's get_outliers (outliers and dominant centers)", () => {
  for (const c of fixture.cases.outliers) {
    const r = subCenterArcFaceOutliers(tf.tensor2d(c.x), c.labels, {
      W: tf.tensor2d(c.W),
      numClasses: c.numClasses,
      subCenters: c.subCenters,
      threshold: c.threshold,
    });
    assert.deepEqual([...r.outliers], c.outliers, `threshold ${c.threshold}`);
    assertCloseTo(r.dominantCenters.arraySync(), c.dominantCenters, { rtol: 1e-6, atol: 1e-7 });
    r.dominantCenters.dispose();
  }
  // The class method uses the owned weights.
  const loss = new SubCenterArcFaceLoss({ numClasses: 4, embeddingSize: 4, subCenters: 3 });
  const c = fixture.cases.outliers[0];
  loss.W.assign(tf.tensor2d(c.W));
  const r = loss.getOutliers(tf.tensor2d(c.x), c.labels, c.threshold);
  assert.deepEqual([...r.outliers], c.outliers);
  r.dominantCenters.dispose();
  loss.dispose();
});

Deno.test("trainable losses create PML's parameters: shapes, initial distributions, seeds", () => {
  const made: [string, TrainableLoss<never>, tf.Variable][] = [];
  const add = (name: string, l: TrainableLoss<never>, v: tf.Variable) => made.push([name, l, v]);
  const o = { numClasses: 10, embeddingSize: 64, seed: 3 };
  const arc = new ArcFaceLoss(o);
  add("ArcFaceLoss", arc as never, arc.W);
  const pa = new ProxyAnchorLoss(o);
  add("ProxyAnchorLoss", pa as never, pa.proxies);
  const pn = new ProxyNCALoss(o);
  add("ProxyNCALoss", pn as never, pn.proxies);
  const st = new SoftTripleLoss(o);
  add("SoftTripleLoss", st as never, st.fc);
  const p2 = new P2SGradLoss({ descriptorsDim: 64, numClasses: 10, seed: 3 });
  add("P2SGradLoss", p2 as never, p2.weight);
  const sc = new SubCenterArcFaceLoss(o);
  add("SubCenterArcFaceLoss", sc as never, sc.W);
  for (const [name, loss, v] of made) {
    const pml = fixture.cases.init[name];
    assert.deepEqual(v.shape, pml.shape, `${name} shape`);
    assert.deepEqual(loss.trainableWeights, [v]);
    const values = Array.from(v.dataSync());
    const mean = values.reduce((s, x) => s + x, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (values.length - 1));
    // Same distribution as PML's draw (different generators): std within 10%, same bounds.
    assert.ok(Math.abs(std / pml.std - 1) < 0.1, `${name}: std ${std}, PML's ${pml.std}`);
    const absMax = values.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    if (name === "SoftTripleLoss") assert.ok(absMax <= 0.1 + 1e-7, `${name}: |max| ${absMax}`);
    if (name === "P2SGradLoss") {
      const norms = tf.tidy(() => tf.norm(v, 2, 0).dataSync());
      for (const n of norms) assert.ok(Math.abs(n - 1) < 1e-5, `P2SGrad column norm ${n}`);
    }
  }
  // The seed fixes the draw (seed 0 too: tfjs's normal generator takes 0 for "no seed").
  const again = new ArcFaceLoss(o);
  assert.deepEqual(Array.from(again.W.dataSync()), Array.from(arc.W.dataSync()));
  for (
    const make of [
      (s: number) => new ProxyAnchorLoss({ ...o, seed: s }).proxies,
      (s: number) => new ProxyNCALoss({ ...o, seed: s }).proxies,
      (s: number) => new SoftTripleLoss({ ...o, seed: s }).fc,
    ]
  ) {
    for (const s of [0, 1]) {
      const [a, b] = [make(s), make(s)];
      assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), `seed ${s}`);
      tf.dispose([a, b]);
    }
  }
  const other = new ArcFaceLoss({ ...o, seed: 4 });
  assert.notDeepEqual(Array.from(other.W.dataSync()), Array.from(arc.W.dataSync()));
  for (const l of [again, other, ...made.map((m) => m[1])]) l.dispose();
});

Deno.test("the trainable forms equal the functions with their variables; options pass through", () => {
  const e = tf.tensor2d(X), y = fixture.cases.inputs.labels;
  const pairs: [TrainableLoss<never>, (o: Record<string, unknown>) => tf.Tensor, string][] = [];
  const o = { numClasses: 3, embeddingSize: 4, seed: 1 };
  const lsm = new LargeMarginSoftmaxLoss({ ...o, margin: 2 });
  pairs.push([
    lsm as never,
    (p) => largeMarginSoftmaxLoss(e, y, { numClasses: 3, margin: 2, ...p }),
    "W",
  ]);
  const sph = new SphereFaceLoss(o);
  pairs.push([sph as never, (p) => sphereFaceLoss(e, y, { numClasses: 3, ...p }), "W"]);
  const cos = new CosFaceLoss({ ...o, scale: 4 });
  pairs.push([cos as never, (p) => cosFaceLoss(e, y, { numClasses: 3, scale: 4, ...p }), "W"]);
  const arc = new ArcFaceLoss(o);
  pairs.push([arc as never, (p) => arcFaceLoss(e, y, { numClasses: 3, ...p }), "W"]);
  const sub = new SubCenterArcFaceLoss({ ...o, subCenters: 2 });
  pairs.push([
    sub as never,
    (p) => subCenterArcFaceLoss(e, y, { numClasses: 3, subCenters: 2, ...p }),
    "W",
  ]);
  const nsm = new NormalizedSoftmaxLoss(o);
  pairs.push([nsm as never, (p) => normalizedSoftmaxLoss(e, y, { numClasses: 3, ...p }), "W"]);
  const pa = new ProxyAnchorLoss({ ...o, alpha: 8 });
  pairs.push([
    pa as never,
    (p) => proxyAnchorLoss(e, y, { numClasses: 3, alpha: 8, ...p }),
    "proxies",
  ]);
  const pn = new ProxyNCALoss(o);
  pairs.push([pn as never, (p) => proxyNcaLoss(e, y, { numClasses: 3, ...p }), "proxies"]);
  const st = new SoftTripleLoss({ ...o, centersPerClass: 2 });
  pairs.push([
    st as never,
    (p) => softTripleLoss(e, y, { numClasses: 3, centersPerClass: 2, ...p }),
    "fc",
  ]);
  for (const [trainable, functional, name] of pairs) {
    const a = (trainable.call(e, y) as tf.Scalar).dataSync()[0];
    const b = functional({ [name]: trainable.variables[name] }).dataSync()[0];
    assert.equal(a, b, trainable.loss.lossName);
    assert.ok(Number.isFinite(a) && a > 0, `${trainable.loss.lossName}: ${a}`);
    trainable.dispose();
  }
});

Deno.test("P2SGradLoss rescales its weight's columns in place before each call, as PML", () => {
  const loss = new P2SGradLoss({ embeddingSize: 4, numClasses: 3, seed: 0 });
  loss.weight.assign(tf.tensor2d([[2, 0, 0], [0, 3, 0], [0, 0, 0.5], [0, 0, 0]]));
  const v = loss.call(tf.tensor2d(X), fixture.cases.inputs.labels).dataSync()[0];
  assertCloseTo(Array.from(tf.norm(loss.weight, 2, 0).dataSync()), [1, 1, 1], { rtol: 1e-6 });
  const same = p2sGradLoss(tf.tensor2d(X), fixture.cases.inputs.labels, {
    numClasses: 3,
    weight: tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]),
  }).dataSync()[0];
  assertCloseTo(v, same, { rtol: 1e-6 });
  loss.dispose();
});

/** Asserts `f` throws `pattern` without running a single kernel (checked before tensor work). */
async function throwsBeforeTensorWork(f: () => unknown, pattern: RegExp): Promise<void> {
  let error: unknown;
  const info = await tf.profile(() => {
    try {
      f();
    } catch (e) {
      error = e;
    }
  });
  assert.ok(error instanceof Error, `expected an error matching ${pattern}`);
  assert.match((error as Error).message, pattern);
  assert.deepEqual(info.kernels.map((k) => k.name), [], `kernels ran before: ${pattern}`);
}

Deno.test("bad input: a named error before any tensor work", async () => {
  const e = tf.tensor2d(X);
  const y = fixture.cases.inputs.labels; // labels 0..2
  const W3 = tf.zeros([4, 3]), W2 = tf.zeros([4, 2]), P3 = tf.zeros([3, 4]);
  // numClasses smaller than the largest label + 1.
  for (
    const [name, f] of [
      ["arcFaceLoss", () => arcFaceLoss(e, y, { numClasses: 2, W: W2 })],
      ["cosFaceLoss", () => cosFaceLoss(e, y, { numClasses: 2, W: W2 })],
      ["sphereFaceLoss", () => sphereFaceLoss(e, y, { numClasses: 2, W: W2 })],
      ["largeMarginSoftmaxLoss", () => largeMarginSoftmaxLoss(e, y, { numClasses: 2, W: W2 })],
      ["normalizedSoftmaxLoss", () => normalizedSoftmaxLoss(e, y, { numClasses: 2, W: W2 })],
      [
        "subCenterArcFaceLoss",
        () => subCenterArcFaceLoss(e, y, { numClasses: 2, subCenters: 1, W: W2 }),
      ],
      [
        "proxyAnchorLoss",
        () => proxyAnchorLoss(e, y, { numClasses: 2, proxies: tf.zeros([2, 4]) }),
      ],
      ["proxyNcaLoss", () => proxyNcaLoss(e, y, { numClasses: 2, proxies: tf.zeros([2, 4]) })],
      [
        "softTripleLoss",
        () => softTripleLoss(e, y, { numClasses: 2, centersPerClass: 1, fc: W2 }),
      ],
      ["p2sGradLoss", () => p2sGradLoss(e, y, { numClasses: 2, weight: W2 })],
    ] as [string, () => unknown][]
  ) {
    await throwsBeforeTensorWork(
      f,
      new RegExp(`^${name}: numClasses is 2, smaller than the largest label \\+ 1 \\(3\\)`),
    );
  }
  // Labels outside [0, numClasses).
  const neg = [0, 1, -1, 2, 0, 1, 2, 0];
  await throwsBeforeTensorWork(
    () => arcFaceLoss(e, neg, { numClasses: 3, W: W3 }),
    /^arcFaceLoss: label 2 is -1; labels must be in \[0, numClasses\) = \[0, 3\)/,
  );
  await throwsBeforeTensorWork(
    () => proxyAnchorLoss(e, neg, { numClasses: 3, proxies: P3 }),
    /^proxyAnchorLoss: label 2 is -1/,
  );
  // A parameter of the wrong shape.
  await throwsBeforeTensorWork(
    () => arcFaceLoss(e, y, { numClasses: 3, W: P3 }),
    /^arcFaceLoss: W must have shape \[4,3\], got \[3,4\]/,
  );
  await throwsBeforeTensorWork(
    () => proxyNcaLoss(e, y, { numClasses: 3, proxies: W3 }),
    /^proxyNcaLoss: proxies must have shape \[3,4\], got \[4,3\]/,
  );
  await throwsBeforeTensorWork(
    () => softTripleLoss(e, y, { numClasses: 3, fc: W3 }),
    /^softTripleLoss: fc must have shape \[4,30\], got \[4,3\]/,
  );
  await throwsBeforeTensorWork(
    () => subCenterArcFaceLoss(e, y, { numClasses: 3, W: W3 }),
    /^subCenterArcFaceLoss: W must have shape \[4,9\], got \[4,3\]/,
  );
  await throwsBeforeTensorWork(
    () => p2sGradLoss(e, y, { numClasses: 3, weight: tf.zeros([5, 3]) }),
    /^p2sGradLoss: weight must have shape \[4,3\], got \[5,3\]/,
  );
  await throwsBeforeTensorWork(
    () => arcFaceLoss(e, y, { numClasses: 3 }),
    /^arcFaceLoss: option W is required/,
  );
  await throwsBeforeTensorWork(
    () => arcFaceLoss(e, y, { W: W3 }),
    /^arcFaceLoss: option numClasses is required/,
  );
  // Margins and scales out of range.
  const bad: [() => unknown, RegExp][] = [
    [
      () => arcFaceLoss(e, y, { numClasses: 3, W: W3, margin: 180 }),
      /arcFaceLoss: margin must be a finite number ≥ 0 and < 180, got 180/,
    ],
    [() => arcFaceLoss(e, y, { numClasses: 3, W: W3, margin: -1 }), /arcFaceLoss: margin must be/],
    [
      () => arcFaceLoss(e, y, { numClasses: 3, W: W3, scale: 0 }),
      /arcFaceLoss: scale must be a finite number > 0, got 0/,
    ],
    [
      () => cosFaceLoss(e, y, { numClasses: 3, W: W3, margin: 2.5 }),
      /cosFaceLoss: margin must be a finite number ≥ 0 and ≤ 2, got 2.5/,
    ],
    [
      () => cosFaceLoss(e, y, { numClasses: 3, W: W3, scale: NaN }),
      /cosFaceLoss: scale must be a finite number > 0, got NaN/,
    ],
    [
      () => largeMarginSoftmaxLoss(e, y, { numClasses: 3, W: W3, margin: 2.5 }),
      /largeMarginSoftmaxLoss: margin must be an integer ≥ 1, got 2.5/,
    ],
    [
      () => sphereFaceLoss(e, y, { numClasses: 3, W: W3, margin: 0 }),
      /sphereFaceLoss: margin must be an integer ≥ 1, got 0/,
    ],
    [
      () => subCenterArcFaceLoss(e, y, { numClasses: 3, W: W3, subCenters: 0 }),
      /subCenterArcFaceLoss: subCenters must be an integer ≥ 1, got 0/,
    ],
    [
      () => normalizedSoftmaxLoss(e, y, { numClasses: 3, W: W3, temperature: -0.1 }),
      /normalizedSoftmaxLoss: temperature must be a finite number > 0, got -0.1/,
    ],
    [
      () => proxyAnchorLoss(e, y, { numClasses: 3, proxies: P3, alpha: 0 }),
      /proxyAnchorLoss: alpha must be a finite number > 0, got 0/,
    ],
    [
      () =>
        proxyAnchorLoss(e, y, { numClasses: 3, proxies: P3, margin: -0.1, distance: "euclidean" }),
      /proxyAnchorLoss: margin must be ≥ 0 with a distance, got -0.1/,
    ],
    [
      () => proxyNcaLoss(e, y, { numClasses: 3, proxies: P3, softmaxScale: 0 }),
      /proxyNcaLoss: softmaxScale must be a finite number > 0, got 0/,
    ],
    [
      () => softTripleLoss(e, y, { numClasses: 3, fc: W3, la: 0 }),
      /softTripleLoss: la must be a finite number > 0, got 0/,
    ],
    [
      () => softTripleLoss(e, y, { numClasses: 3, fc: W3, gamma: -1 }),
      /softTripleLoss: gamma must be a finite number > 0, got -1/,
    ],
    [
      () => softTripleLoss(e, y, { numClasses: 3, fc: W3, centersPerClass: 1.5 }),
      /softTripleLoss: centersPerClass must be an integer ≥ 1, got 1.5/,
    ],
    [
      () => arcFaceLoss(e, y, { numClasses: 0, W: tf.zeros([4, 0]) }),
      /arcFaceLoss: numClasses must be an integer ≥ 1, got 0/,
    ],
    [
      () => arcFaceLoss(e, y, { numClasses: 3, W: W3, distance: "euclidean" }),
      /arcFaceLoss: distance must be "cosine"/,
    ],
    [
      () => softTripleLoss(e, y, { numClasses: 3, fc: W3, distance: "euclidean" }),
      /softTripleLoss: distance must be a similarity/,
    ],
    [
      () => arcFaceLoss(e, y, { numClasses: 3, W: W3, refEmbeddings: e } as never),
      /arcFaceLoss: unknown option "?refEmbeddings/,
    ],
    [
      () =>
        p2sGradLoss(
          e,
          y,
          {
            numClasses: 3,
            weight: W3,
            indices: { a: Int32Array.of(0), p: Int32Array.of(1), n: Int32Array.of(2) },
          } as never,
        ),
      /p2sGradLoss: unknown option "?indices/,
    ],
    [
      () => arcFaceLoss(e, y, { numClasses: 3, W: [[1]] as never }),
      /arcFaceLoss: W must be a tf.Tensor/,
    ],
  ];
  for (const [f, pattern] of bad) await throwsBeforeTensorWork(f, pattern);
  // The trainable forms check their options when they are made.
  assert.throws(
    () => new ArcFaceLoss({ numClasses: 3, embeddingSize: 4, margin: 200 }),
    /arcFaceLoss: margin must be/,
  );
  assert.throws(
    () => new ProxyAnchorLoss({ numClasses: 0, embeddingSize: 4 }),
    /proxyAnchorLoss: numClasses must be an integer ≥ 1, got 0/,
  );
  assert.throws(
    () => new SoftTripleLoss({ numClasses: 3, embeddingSize: 0 }),
    /softTripleLoss: embeddingSize must be an integer ≥ 1, got 0/,
  );
  assert.throws(
    () => new ArcFaceLoss({ numClasses: 3, embeddingSize: 4, W: W3 } as never),
    /arcFaceLoss: W is owned by the TrainableLoss; do not pass it/,
  );
  const arc = new ArcFaceLoss({ numClasses: 2, embeddingSize: 4 });
  await throwsBeforeTensorWork(
    () => arc.call(e, y),
    /^arcFaceLoss: numClasses is 2, smaller than the largest label \+ 1 \(3\)/,
  );
  await throwsBeforeTensorWork(
    () => arc.call(tf.zeros([8, 5]) as tf.Tensor2D, y),
    /^arcFaceLoss: W must have shape \[5,2\], got \[4,2\]/,
  );
  arc.dispose();
  tf.dispose([e, W3, W2, P3]);
});

Deno.test("miner weights: rows absent from the mined tuples count 0, the others their count / the largest", () => {
  const e = tf.tensor2d(X), y = fixture.cases.inputs.labels;
  const W = tf.tensor2d(fixture.cases.cases.find((c) => c.loss === "arcFaceLoss")!.paramValue);
  const all = arcFaceLoss(e, y, { numClasses: 3, W, reduction: "none", scale: 8 })
    .arraySync() as number[];
  const mined = arcFaceLoss(e, y, {
    numClasses: 3,
    W,
    scale: 8,
    reduction: "none",
    indices: { a: Int32Array.of(0, 0), p: Int32Array.of(1, 1), n: Int32Array.of(2, 3) },
  }).arraySync() as number[];
  // Counts: row 0 twice, 1 twice, 2 and 3 once; max 2 → weights 1, 1, 0.5, 0.5, 0, …
  assertCloseTo(mined, all.map((v, i) => v * [1, 1, 0.5, 0.5, 0, 0, 0, 0][i]), { rtol: 1e-6 });
  tf.dispose([e, W]);
});

Deno.test("ArcFace's gradient stays finite where an embedding aligns exactly with its class", () => {
  // PyTorch's acos has an infinite slope at 1: one exact alignment would turn the network's
  // weights into NaN; the value stays PML's.
  const W = tf.tensor2d([[1, 0], [0, 1]]);
  const e = tf.tensor2d([[1, 0], [0, 1]]);
  for (const f of [arcFaceLoss, subCenterArcFaceLoss]) {
    const opts = {
      numClasses: 2,
      W,
      scale: 8,
      ...(f === subCenterArcFaceLoss ? { subCenters: 1 } : {}),
    };
    const [gx, gw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
      f(x as tf.Tensor2D, [0, 1], { ...opts, W: w })
    )([e, W]);
    for (const g of [gx, gw]) assert.ok(g.dataSync().every(Number.isFinite), `${f.lossName}`);
    const v = f(e, [0, 1], opts).dataSync()[0];
    // cos(0 + m) = cos 0.4992 rad: logit 8·0.878 against 8·0 for the other class.
    const m = (28.6 * Math.PI) / 180;
    assertCloseTo(v, Math.log(1 + Math.exp(-8 * Math.cos(m))), { rtol: 1e-5 });
  }
  tf.dispose([W, e]);
});
