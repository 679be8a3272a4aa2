import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  elementwiseBlockRows,
  forEachDistanceBlock,
  invertMatrix,
  metricNames,
  pairedDistances,
  pairwiseDistances,
  pairwiseDistancesBlocked,
  prepareMetric,
  resolveMetric,
  safeRoot,
} from "../lib/distances.ts";
import { createRng } from "../lib/data/random.ts";

await tf.setBackend("cpu");

type Row = number[];
type Ref = (x: Row, y: Row, ctx: { V?: number[]; VI?: number[][] }) => number;

// ---- Plain float64 reference implementations, written from the definitions --------------------

const sum = (v: number[]) => v.reduce((s, t) => s + t, 0);
const dot = (x: Row, y: Row) => sum(x.map((v, i) => v * y[i]));
const norm = (x: Row) => Math.sqrt(dot(x, x));

function variance(rows: Row[]): number[] {
  const d = rows[0].length, n = rows.length;
  return Array.from({ length: d }, (_, j) => {
    const mean = sum(rows.map((r) => r[j])) / n;
    return sum(rows.map((r) => (r[j] - mean) ** 2)) / (n - 1);
  });
}

function inverseCov(rows: Row[]): number[][] {
  const d = rows[0].length, n = rows.length;
  const mean = Array.from({ length: d }, (_, j) => sum(rows.map((r) => r[j])) / n);
  const cov = Array.from(
    { length: d },
    (_, i) =>
      Array.from(
        { length: d },
        (_, j) => sum(rows.map((r) => (r[i] - mean[i]) * (r[j] - mean[j]))) / (n - 1),
      ),
  );
  // Gauss–Jordan without pivoting is enough for the well-conditioned covariances used here.
  const m = cov.map((r, i) => [...r, ...Array.from({ length: d }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < d; c++) {
    const pv = m[c][c];
    for (let j = 0; j < 2 * d; j++) m[c][j] /= pv;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r][c];
      for (let j = 0; j < 2 * d; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((r) => r.slice(d));
}

function cosineRef(x: Row, y: Row): number {
  if (norm(x) === 0 || norm(y) === 0) return NaN;
  return Math.min(2, Math.max(0, 1 - dot(x, y) / (norm(x) * norm(y))));
}

function rowMean(x: Row): number {
  return sum(x) / x.length;
}

function jsRef(base?: number): Ref {
  return (x, y) => {
    if (x.some((v) => v < 0) || y.some((v) => v < 0) || sum(x) === 0 || sum(y) === 0) {
      return Infinity;
    }
    const p = x.map((v) => v / sum(x)), q = y.map((v) => v / sum(y));
    let s = 0;
    for (let i = 0; i < p.length; i++) {
      const m = (p[i] + q[i]) / 2;
      if (p[i] > 0) s += p[i] * Math.log(p[i] / m);
      if (q[i] > 0) s += q[i] * Math.log(q[i] / m);
    }
    return Math.sqrt(Math.max(0, s / 2 / (base ? Math.log(base) : 1)));
  };
}

const REFERENCE: Record<string, Ref> = {
  euclidean: (x, y) => Math.sqrt(sum(x.map((v, i) => (v - y[i]) ** 2))),
  sqeuclidean: (x, y) => sum(x.map((v, i) => (v - y[i]) ** 2)),
  cityblock: (x, y) => sum(x.map((v, i) => Math.abs(v - y[i]))),
  chebyshev: (x, y) => Math.max(...x.map((v, i) => Math.abs(v - y[i]))),
  minkowski: (x, y) => Math.sqrt(sum(x.map((v, i) => (v - y[i]) ** 2))),
  cosine: cosineRef,
  correlation: (x, y) => {
    const isConst = (v: Row) => v.every((t) => t === v[0]);
    if (isConst(x) || isConst(y)) return NaN;
    return cosineRef(x.map((v) => v - rowMean(x)), y.map((v) => v - rowMean(y)));
  },
  canberra: (x, y) =>
    sum(x.map((v, i) => {
      const den = Math.abs(v) + Math.abs(y[i]);
      return den === 0 ? 0 : Math.abs(v - y[i]) / den;
    })),
  braycurtis: (x, y) =>
    sum(x.map((v, i) => Math.abs(v - y[i]))) / sum(x.map((v, i) => Math.abs(v + y[i]))),
  jensenshannon: jsRef(),
  seuclidean: (x, y, { V }) => Math.sqrt(sum(x.map((v, i) => (v - y[i]) ** 2 / V![i]))),
  mahalanobis: (x, y, { VI }) => {
    const u = x.map((v, i) => v - y[i]);
    return Math.sqrt(Math.max(0, dot(u, VI!.map((row) => dot(row, u)))));
  },
  hamming: (x, y) => sum(x.map((v, i) => (v !== y[i] ? 1 : 0))) / x.length,
  jaccard: (x, y) => {
    let num = 0, den = 0;
    for (let i = 0; i < x.length; i++) {
      const nz = x[i] !== 0 || y[i] !== 0;
      if (nz) den++;
      if (nz && x[i] !== y[i]) num++;
    }
    return den === 0 ? 0 : num / den;
  },
  dice: (x, y) => {
    let tt = 0, diff = 0;
    for (let i = 0; i < x.length; i++) {
      const a = x[i] !== 0, b = y[i] !== 0;
      if (a && b) tt++;
      else if (a !== b) diff++;
    }
    return diff / (2 * tt + diff);
  },
  dot: (x, y) => dot(x, y),
  snr: (x, y) => {
    const centred = (v: Row) => v.map((t) => t - sum(v) / v.length);
    const noise = centred(x.map((v, i) => v - y[i]));
    return sum(noise.map((t) => t * t)) / sum(centred(x).map((t) => t * t));
  },
  cosineSimilarity: (
    x,
    y,
  ) => (norm(x) === 0 || norm(y) === 0 ? 0 : dot(x, y) / (norm(x) * norm(y))),
};

function refMatrix(name: string, a: Row[], b: Row[], ref: Ref = REFERENCE[name]): number[][] {
  const ctx = name === "seuclidean"
    ? { V: variance([...a, ...b]) }
    : name === "mahalanobis"
    ? { VI: inverseCov([...a, ...b]) }
    : {};
  return a.map((x) => b.map((y) => ref(x, y, ctx)));
}

function rows(n: number, d: number, draw: () => number): Row[] {
  return Array.from({ length: n }, () => Array.from({ length: d }, draw));
}

/** Equal within float32 tolerance: relative `rel`, with an absolute floor scaled to the matrix. */
function assertClose(got: number[][], want: number[][], what: string, rel = 1e-4, absFloor = 1e-4) {
  let scale = 0;
  for (const r of want) {
    for (const v of r) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  }
  for (let i = 0; i < want.length; i++) {
    for (let j = 0; j < want[i].length; j++) {
      const w = want[i][j], g = got[i][j];
      if (Number.isNaN(w)) {
        assert.ok(Number.isNaN(g), `${what} [${i},${j}]: want NaN, got ${g}`);
      } else if (!Number.isFinite(w)) {
        assert.equal(g, w, `${what} [${i},${j}]`);
      } else {
        const tol = rel * Math.abs(w) + absFloor * Math.max(scale, 1);
        assert.ok(Math.abs(g - w) <= tol, `${what} [${i},${j}]: want ${w}, got ${g} (tol ${tol})`);
      }
    }
  }
}

async function ours(a: Row[], b: Row[], spec: Parameters<typeof pairwiseDistances>[2]) {
  const ta = tf.tensor2d(a), tb = tf.tensor2d(b);
  const d = pairwiseDistances(ta, tb, spec);
  const out = await d.array();
  tf.dispose([ta, tb, d]);
  return out;
}

const REAL = [
  "euclidean",
  "sqeuclidean",
  "cityblock",
  "chebyshev",
  "minkowski",
  "cosine",
  "correlation",
  "canberra",
  "seuclidean",
  "mahalanobis",
  "dot",
  "cosineSimilarity",
  "snr",
];

Deno.test("every built-in metric has a reference implementation in this test", () => {
  for (const name of metricNames()) {
    const canonical = resolveMetric(name).name;
    assert.ok(canonical in REFERENCE, `no reference for ${name}`);
  }
});

Deno.test("real-valued metrics equal plain loops on random rows, zero rows, identical rows", async () => {
  const rng = createRng(1);
  const a = rows(9, 5, () => rng.normal());
  const b = rows(7, 5, () => rng.normal());
  a[0] = [0, 0, 0, 0, 0]; // zero row
  a[1] = [...b[2]]; // identical row
  a[2] = b[3].map((v) => -3 * v); // anti-parallel
  a[3] = [2, 2, 2, 2, 2]; // constant row
  for (const name of REAL) {
    assertClose(await ours(a, b, name), refMatrix(name, a, b), name);
  }
});

Deno.test("integer-valued inputs and d = 1", async () => {
  const rng = createRng(2);
  const a = rows(8, 4, () => rng.nextInt(7) - 3);
  const b = rows(6, 4, () => rng.nextInt(7) - 3);
  for (const name of [...REAL, "hamming", "jaccard"]) {
    assertClose(await ours(a, b, name), refMatrix(name, a, b), `${name} integer`);
  }
  const a1 = rows(6, 1, () => rng.normal() * 2);
  const b1 = rows(5, 1, () => rng.normal() * 2);
  for (const name of REAL.filter((n) => n !== "correlation")) {
    assertClose(await ours(a1, b1, name), refMatrix(name, a1, b1), `${name} d=1`, 1e-4, 1e-3);
  }
  // d = 1: correlation of single values is always NaN (constant rows), cosine is 0 or 2.
  assert.ok((await ours(a1, b1, "correlation")).flat().every(Number.isNaN));
  assert.ok((await ours(a1, b1, "cosine")).flat().every((v) => v < 1e-6 || Math.abs(v - 2) < 1e-6));
});

Deno.test("non-negative metrics: braycurtis and jensenshannon, incl. zero rows and negatives", async () => {
  const rng = createRng(3);
  const a = rows(7, 6, () => (rng.next() < 0.3 ? 0 : rng.next() * 4));
  const b = rows(5, 6, () => (rng.next() < 0.3 ? 0 : rng.next() * 4));
  a[0] = [0, 0, 0, 0, 0, 0];
  b[0] = [0, 0, 0, 0, 0, 0];
  a[1] = [...b[1]];
  a[2] = b[2].map((v) => 5 * v); // same distribution after normalisation
  a[3] = [1, -0.5, 2, 0, 1, 1]; // a negative entry: jensenshannon = inf (scipy 1.10)
  for (const name of ["braycurtis", "jensenshannon", "canberra"]) {
    assertClose(await ours(a, b, name), refMatrix(name, a, b), name);
  }
  assertClose(
    await ours(a, b, { name: "jensenshannon", base: 2 }),
    refMatrix("jensenshannon", a, b, jsRef(2)),
    "jensenshannon base 2",
  );
  const js = await ours(a, b, "jensenshannon");
  assert.equal(js[0][1], Infinity); // zero row
  assert.ok(Math.abs(js[2][2]) < 1e-3); // scaled copy: same distribution
  // Hand value: p = (1, 0), q = (0, 1): JS divergence ln 2, distance sqrt(ln 2); base 2 gives 1.
  const hand = await ours([[1, 0]], [[0, 1]], { name: "jensenshannon", base: 2 });
  assert.ok(Math.abs(hand[0][0] - 1) < 1e-6);
  const bc = await ours(a, b, "braycurtis");
  assert.ok(Number.isNaN(bc[0][0])); // 0/0 as scipy
});

Deno.test("set metrics on 0/1 rows: hamming, jaccard, dice with scipy's empty-set conventions", async () => {
  const rng = createRng(4);
  const a = rows(10, 7, () => (rng.next() < 0.4 ? 1 : 0));
  const b = rows(8, 7, () => (rng.next() < 0.4 ? 1 : 0));
  a[0] = new Array(7).fill(0);
  b[0] = new Array(7).fill(0);
  a[1] = [...b[1]];
  for (const name of ["hamming", "jaccard", "dice"]) {
    assertClose(await ours(a, b, name), refMatrix(name, a, b), name);
  }
  const z = [[0, 0, 0]];
  assert.deepEqual(await ours(z, z, "jaccard"), [[0]]); // empty union: 0
  assert.ok(Number.isNaN((await ours(z, z, "dice"))[0][0])); // 0/0: NaN (scipy 1.10)
  assert.deepEqual(await ours(z, z, "hamming"), [[0]]);
  // Hand values: {a} vs {a, b}: jaccard 1/2, dice 1/3, hamming 1/3.
  const x = [[1, 0, 0]], y = [[1, 1, 0]];
  assertClose(await ours(x, y, "jaccard"), [[0.5]], "jaccard hand");
  assertClose(await ours(x, y, "dice"), [[1 / 3]], "dice hand");
  assertClose(await ours(x, y, "hamming"), [[1 / 3]], "hamming hand");
  // Non-binary values: jaccard compares values, dice compares x ≠ 0 (scipy's conventions).
  assertClose(await ours([[0, 0.5, 2]], [[0, 0, 3]], "jaccard"), [[1]], "jaccard values");
  assertClose(await ours([[0, 0.5, 2]], [[0, 0, 3]], "dice"), [[1 / 3]], "dice values");
});

Deno.test("minkowski p: 1 = cityblock, 3 by hand, 0.5 by hand, Infinity = chebyshev", async () => {
  const x = [[1, 2]], y = [[3, 5]];
  assertClose(await ours(x, y, { name: "minkowski", p: 1 }), [[5]], "p=1");
  assertClose(await ours(x, y, { name: "minkowski", p: 3 }), [[(8 + 27) ** (1 / 3)]], "p=3");
  assertClose(
    await ours(x, y, { name: "minkowski", p: 0.5 }),
    [[(Math.sqrt(2) + Math.sqrt(3)) ** 2]],
    "p=0.5",
  );
  assertClose(await ours(x, y, { name: "minkowski", p: Infinity }), [[3]], "p=inf");
  assertClose(await ours(x, y, "minkowski"), [[Math.sqrt(13)]], "default p = 2");
  // Large coordinates and p: no overflow in |Δ|^p.
  assertClose(await ours([[1e3, 0]], [[0, 0]], { name: "minkowski", p: 40 }), [[1e3]], "p=40");
  assert.equal(resolveMetric({ name: "manhattan" }).name, "cityblock");
});

Deno.test("explicit V and VI; identical inputs give an exactly zero diagonal", async () => {
  const rng = createRng(5);
  const a = rows(6, 3, () => rng.normal());
  const b = rows(5, 3, () => rng.normal());
  const V = [0.5, 2, 4];
  assertClose(
    await ours(a, b, { name: "seuclidean", V }),
    a.map((x) => b.map((y) => REFERENCE.seuclidean(x, y, { V }))),
    "seuclidean V",
  );
  const VI = [[2, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 3]];
  assertClose(
    await ours(a, b, { name: "mahalanobis", VI }),
    a.map((x) => b.map((y) => REFERENCE.mahalanobis(x, y, { VI }))),
    "mahalanobis VI",
  );
  const t = tf.tensor2d(rows(12, 4, () => 100 + rng.normal()));
  for (
    const name of ["euclidean", "sqeuclidean", "cosine", "correlation", "seuclidean", "mahalanobis"]
  ) {
    const d = pairwiseDistances(t, t, name);
    const values = await d.array();
    d.dispose();
    for (let i = 0; i < 12; i++) assert.equal(values[i][i], 0, `${name} d(x, x)`);
  }
  t.dispose();
});

Deno.test("errors name the argument and the problem", () => {
  const x = tf.tensor2d([[1, 2]]);
  assert.throws(
    () => pairwiseDistances(x, tf.tensor2d([[1, 2, 3]]), "euclidean"),
    /dimensions differ/,
  );
  assert.throws(() => pairwiseDistances(x, x, "nope"), /unknown metric "nope"/);
  assert.throws(() => pairwiseDistances(x, x, { name: "minkowski", p: -1 }), /p must be/);
  assert.throws(() => pairwiseDistances(x, x, { name: "cosine", p: 2 }), /unknown parameter "p"/);
  assert.throws(() => pairwiseDistances(x, x, { name: "seuclidean", V: [1, 0] }), /V must be > 0/);
  assert.throws(() => pairwiseDistances(x, x, "mahalanobis"), /too few/);
  assert.throws(() => pairwiseDistances(x, x, { name: "jensenshannon", base: 1 }), /base/);
  assert.throws(() => invertMatrix([1, 2, 2, 4], 2), /singular/);
  x.dispose();
});

// ---- Gradients ------------------------------------------------------------------------------

/** Analytic gradient of Σ W ⊙ D(a, b) w.r.t. a against central differences of the float64 loop. */
async function gradCheck(
  name: string,
  a: Row[],
  b: Row[],
  spec: Parameters<typeof pairwiseDistances>[2] = name,
) {
  const rng = createRng(11);
  const w = a.map(() => b.map(() => rng.next() + 0.5));
  const tb = tf.tensor2d(b), tw = tf.tensor2d(w);
  const ctxMetric = resolveMetric(spec);
  const grad = tf.grad((ta: tf.Tensor) =>
    tf.sum(tf.mul(tw, ctxMetric.pairwise(ta as tf.Tensor2D, tb)))
  );
  const g = grad(tf.tensor2d(a));
  const analytic = await g.array() as number[][];
  tf.dispose([tb, tw, g]);
  assert.ok(analytic.flat().every(Number.isFinite), `${name}: non-finite gradient`);
  const f = (x: Row[]) =>
    sum(refMatrix(name, x, b).flatMap((r, i) => r.map((v, j) => v * w[i][j])));
  const h = 1e-6;
  for (let i = 0; i < a.length; i++) {
    for (let k = 0; k < a[0].length; k++) {
      const plus = a.map((r) => [...r]), minus = a.map((r) => [...r]);
      plus[i][k] += h;
      minus[i][k] -= h;
      const numeric = (f(plus) - f(minus)) / (2 * h);
      const tol = 2e-3 * (1 + Math.abs(numeric));
      assert.ok(
        Math.abs(analytic[i][k] - numeric) <= tol,
        `${name} ∂/∂a[${i}][${k}]: analytic ${analytic[i][k]}, numeric ${numeric}`,
      );
    }
  }
}

Deno.test("gradients match finite differences of the reference loops", async () => {
  const rng = createRng(6);
  const a = rows(4, 3, () => rng.normal());
  const b = rows(5, 3, () => rng.normal());
  for (
    const name of [
      "euclidean",
      "sqeuclidean",
      "cosine",
      "cosineSimilarity",
      "dot",
      "cityblock",
      "correlation",
      "canberra",
      "snr",
    ]
  ) {
    await gradCheck(name, a, b);
  }
  await gradCheck("minkowski", a, b, { name: "minkowski", p: 2 });
  const VI = [[2, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 3]];
  REFERENCE.mahalanobisFixed = (x, y) => REFERENCE.mahalanobis(x, y, { VI });
  await gradCheck("mahalanobisFixed", a, b, { name: "mahalanobis", VI });
  const pa = rows(3, 4, () => rng.next() + 0.1), pb = rows(3, 4, () => rng.next() + 0.1);
  await gradCheck("jensenshannon", pa, pb);
});

Deno.test("finite gradients at identical points for the metrics losses use", () => {
  const x = tf.tensor2d([[1, 2, 3], [1, 2, 3], [0.5, -1, 2]]);
  for (
    const name of [
      "euclidean",
      "sqeuclidean",
      "cosine",
      "cosineSimilarity",
      "dot",
      "cityblock",
      "chebyshev",
      "snr",
    ]
  ) {
    const metric = resolveMetric(name);
    for (
      const [label, f] of [
        ["self", (t: tf.Tensor) => tf.sum(metric.pairwise(t as tf.Tensor2D, t as tf.Tensor2D))],
        ["copy", (t: tf.Tensor) => tf.sum(metric.pairwise(t as tf.Tensor2D, x))],
      ] as const
    ) {
      const g = tf.grad(f)(x);
      assert.ok(Array.from(g.dataSync()).every(Number.isFinite), `${name} (${label}): non-finite`);
      g.dispose();
    }
  }
  const g = tf.grad((t: tf.Tensor) => tf.sum(safeRoot(t, 3)))(tf.tensor1d([0, 8]));
  assert.deepEqual(Array.from(g.dataSync()).map((v) => Math.round(v * 1e6) / 1e6), [0, 0.083333]);
  x.dispose();
});

Deno.test("self-distance gradients (a === b, the losses' case) equal an elementwise formula", () => {
  const e = tf.tensor2d(rows(
    6,
    4,
    (() => {
      const rng = createRng(12);
      return () => rng.normal();
    })(),
  ));
  const w = tf.tensor2d(rows(
    6,
    6,
    (() => {
      const rng = createRng(13);
      return () => rng.next();
    })(),
  ));
  const plainSq = (x: tf.Tensor2D) =>
    tf.sum(tf.square(tf.sub(tf.expandDims(x, 1), tf.expandDims(x, 0))), 2);
  for (
    const [name, plain] of [
      ["euclidean", (x: tf.Tensor2D) => safeRoot(plainSq(x), 2)],
      ["sqeuclidean", plainSq],
    ] as const
  ) {
    const g1 = tf.grad((x: tf.Tensor) =>
      tf.sum(tf.mul(w, pairwiseDistances(x as tf.Tensor2D, x as tf.Tensor2D, name)))
    )(e);
    const g2 = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(w, plain(x as tf.Tensor2D))))(e);
    const diff = tf.max(tf.abs(tf.sub(g1, g2))).dataSync()[0];
    assert.ok(diff < 1e-4, `${name}: self-distance gradient differs by ${diff}`);
    tf.dispose([g1, g2]);
  }
  tf.dispose([e, w]);
});

// ---- Blocking -------------------------------------------------------------------------------

Deno.test("blocked and streamed evaluation equal the one-shot matrix, with whole-data V/VI", async () => {
  const rng = createRng(7);
  const a = tf.tensor2d(rows(37, 5, () => rng.normal()));
  const b = tf.tensor2d(rows(23, 5, () => rng.normal()));
  for (
    const name of ["euclidean", "cityblock", "jensenshannon", "seuclidean", "mahalanobis", "cosine"]
  ) {
    const full = pairwiseDistances(a, b, name);
    const want = await full.array();
    const blocked = pairwiseDistancesBlocked(a, b, name, { blockSize: 8 });
    assertClose(await blocked.array(), want, `${name} blocked`, 1e-5, 1e-6);
    const streamed: number[][] = [];
    await forEachDistanceBlock(a, b, name, 10, (values, start, rowsInBlock) => {
      assert.equal(start, streamed.length);
      for (let r = 0; r < rowsInBlock; r++) {
        streamed.push(Array.from(values.subarray(r * 23, (r + 1) * 23)));
      }
    });
    assertClose(streamed, want, `${name} streamed`, 1e-5, 1e-6);
    tf.dispose([full, blocked]);
  }
  // seuclidean's V comes from the whole of a and b, not from the block.
  const prepared = prepareMetric("seuclidean", a, b);
  assert.ok(prepared.params?.V instanceof tf.Tensor);
  tf.dispose([a, b]);
});

Deno.test("elementwise metrics never build an [n, m, d] tensor", () => {
  assert.equal(elementwiseBlockRows(1000, 64, 640000), 10);
  assert.equal(elementwiseBlockRows(1e6, 1e3, 10), 1);
  const n = 64, m = 512, d = 64; // [n, m, d] float32 = 8 MiB
  const a = tf.randomNormal([n, d], 0, 1, "float32", 1) as tf.Tensor2D;
  const b = tf.randomNormal([m, d], 0, 1, "float32", 2) as tf.Tensor2D;
  const fullBytes = n * m * d * 4;
  return tf.profile(() => {
    const out = pairwiseDistancesBlocked(a, b, "cityblock", { blockSize: 4 });
    out.dispose();
  }).then((info) => {
    assert.ok(
      info.peakBytes < fullBytes / 2,
      `peak ${info.peakBytes} B vs [n, m, d] ${fullBytes} B`,
    );
    tf.dispose([a, b]);
  });
});

Deno.test("no tensors leak from pairwiseDistances", () => {
  const a = tf.tensor2d([[1, 2], [3, 4], [0, 1]]);
  const before = tf.memory().numTensors;
  for (const name of metricNames()) {
    if (name === "mahalanobis") continue; // needs n > d: covered below
    pairwiseDistances(a, a, name).dispose();
  }
  const big = tf.tensor2d([[1, 2], [3, 5], [0, 1], [2, 2]]);
  pairwiseDistances(big, big, "mahalanobis").dispose();
  big.dispose();
  assert.equal(tf.memory().numTensors, before);
  a.dispose();
});

Deno.test("pairedDistances: the diagonal of pairwiseDistances, in blocks, for every metric's defaults", async () => {
  const rng = createRng(17);
  const n = 23, d = 4;
  const a = tf.tensor2d(
    Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal())),
  );
  const b = tf.tensor2d(
    Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal())),
  );
  for (const metric of ["euclidean", "cosine", "cityblock", "seuclidean"]) {
    const full = await pairwiseDistances(a, b, metric).array();
    for (const block of [1, 5, 256]) {
      const got = await pairedDistances(a, b, metric, block).data();
      for (let i = 0; i < n; i++) {
        // seuclidean's V comes from all rows of a and b, as for the whole matrix.
        assert.ok(Math.abs(got[i] - full[i][i]) < 1e-5, `${metric} block ${block} row ${i}`);
      }
    }
  }
  assert.deepEqual(
    await pairedDistances(tf.tensor2d([[0, 0], [1, 1]]), tf.tensor2d([[3, 4], [1, 1]])).data(),
    new Float32Array([5, 0]),
  );
  assert.equal(
    pairedDistances(tf.zeros([0, 2]) as tf.Tensor2D, tf.zeros([0, 2]) as tf.Tensor2D).shape[0],
    0,
  );
  assert.throws(
    () => pairedDistances(a, tf.slice(b, [0, 0], [3, -1]) as tf.Tensor2D),
    /a has 23 rows but b has 3/,
  );
  assert.throws(() => pairedDistances(a, tf.ones([n, 2]) as tf.Tensor2D), /dimensions differ/);
  assert.throws(
    () => pairedDistances(a, b, "euclidean", 0),
    /blockRows must be a positive integer/,
  );
  assert.throws(
    () => pairedDistances(tf.tensor2d([[NaN, 0]]), tf.tensor2d([[0, 0]])),
    /pairedDistances/,
  );
  tf.dispose([a, b]);
});
