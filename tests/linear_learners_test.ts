/**
 * The metric-learn learners added with its API (LFDA, RCA, Covariance, SDML, LSML, SCML and the
 * `_Supervised` forms): closed forms against independent numpy/scipy computations, SDML's
 * graphical lasso and SCML's LDA bases against scikit-learn (tests/fixtures/linear.json), the
 * iterative learners on their objectives, the shared API, and the preconditions.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { createRng } from "../lib/data/random.ts";
import { pairwiseDistances, resolveMetric } from "../lib/distances.ts";
import { knn } from "../lib/eval/knn.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import {
  chunks,
  Covariance,
  fitPca,
  ITML,
  ITML_Supervised,
  knnClassificationAccuracy,
  knnTriplets,
  LFDA,
  type LinearMetricLearner,
  LMNN,
  LSML,
  LSML_Supervised,
  MLKR,
  MMC,
  MMC_Supervised,
  NCA,
  positiveNegativePairs,
  RCA,
  RCA_Supervised,
  SCML,
  SCML_Supervised,
  SDML,
  SDML_Supervised,
  standardizer,
  type SupervisedLearner,
} from "../lib/linear/mod.ts";
import { ldaScalings } from "../lib/linear/_lda.ts";
import { graphicalLasso } from "../lib/linear/_graphical_lasso.ts";
import { componentsFromMetric, pinvh } from "../lib/linear/_linalg.ts";

await tf.setBackend("cpu");

type Mat = number[][];
// deno-lint-ignore no-explicit-any
type Any = any;
const fx = loadFixture<Record<string, Any[]>>("linear").cases;

const flat = (m: Mat) => m.flat();
async function matrixOf(learner: LinearMetricLearner): Promise<Mat> {
  const M = learner.getMahalanobisMatrix();
  const out = await M.array();
  M.dispose();
  return out;
}
/** Rows made unique in sign (largest-magnitude entry positive), as the fixture writes them. */
function signRows(L: Mat): Mat {
  return L.map((row) => {
    let j = 0;
    row.forEach((v, i) => Math.abs(v) > Math.abs(row[j]) && (j = i));
    return row[j] < 0 ? row.map((v) => -v) : row;
  });
}

/** Two classes separated along feature 0, plus 4 loud noise features (as in linear_test.ts). */
function noisyClasses(n: number, seed: number) {
  const rng = createRng(seed);
  const x: number[][] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    x.push([c * 2 + 0.4 * rng.normal(), ...Array.from({ length: 4 }, () => 3 * rng.normal())]);
    y.push(c);
  }
  return { x, y };
}

async function beatsEuclidean(learner: LinearMetricLearner) {
  const train = noisyClasses(120, 1), test = noisyClasses(120, 2);
  const [xtr, xte] = [tf.tensor2d(train.x), tf.tensor2d(test.x)];
  const base = await knnClassificationAccuracy(xtr, train.y, xte, test.y, 5, "euclidean");
  const learned = await knnClassificationAccuracy(
    xtr,
    train.y,
    xte,
    test.y,
    5,
    learner.getMetric(),
  );
  tf.dispose([xtr, xte]);
  return { base, learned };
}

// ---- closed forms against numpy/scipy

Deno.test("Covariance: M = pinvh(cov(x)) and L = cholesky(M)ᵀ, as numpy/scipy compute them", async () => {
  for (const c of fx.covariance) {
    const cov = await new Covariance().fit(c.x);
    assertCloseTo(flat(await matrixOf(cov)), flat(c.M), { rtol: 1e-4, atol: 1e-5 }, c.name);
    if (c.components) {
      assertCloseTo(flat(await cov.components.array()), flat(c.components), {
        rtol: 1e-4,
        atol: 1e-5,
      }, `${c.name} components`);
    }
    cov.dispose();
  }
  await assert.rejects(() => new Covariance().fit([[1, 2]]), /Covariance\.fit: x needs at least 2/);
  await assert.rejects(
    () => new Covariance().fit([[1, 2], [1, 2]]),
    /Covariance\.fit: every sample is identical/,
  );
});

Deno.test("LFDA: M and L equal an independent numpy/scipy LFDA (every embedding, k, nComponents)", async () => {
  for (const c of fx.lfda) {
    const o = c.options;
    const lfda = await new LFDA({
      ...(o.k !== undefined ? { k: o.k } : {}),
      ...(o.n_components !== undefined ? { nComponents: o.n_components } : {}),
      ...(o.embedding ? { embeddingType: o.embedding } : {}),
    }).fit(c.x, c.y);
    const where = JSON.stringify(o);
    // float32 components: M to ~1e-5 relative of its largest entry.
    const scale = Math.max(...flat(c.M).map(Math.abs));
    assertCloseTo(flat(await matrixOf(lfda)), flat(c.M), { rtol: 1e-4, atol: 1e-5 * scale }, where);
    if (c.components) {
      const L = signRows(await lfda.components.array());
      const s = Math.max(...flat(c.components).map(Math.abs));
      assertCloseTo(flat(L), flat(c.components), { rtol: 1e-4, atol: 1e-5 * s }, `${where} L`);
    }
    assert.equal(lfda.warnings.length, o.k === 9 ? 1 : 0, `${where} warnings`);
    lfda.dispose();
  }
});

Deno.test("RCA: M (and L = C^(−1/2)) equal an independent numpy/scipy RCA", async () => {
  for (const c of fx.rca) {
    const rca = await new RCA(c.n_components ? { nComponents: c.n_components } : {}).fit(
      c.x,
      c.chunks,
    );
    const scale = Math.max(...flat(c.M).map(Math.abs));
    assertCloseTo(flat(await matrixOf(rca)), flat(c.M), { rtol: 1e-4, atol: 1e-5 * scale });
    if (c.components) {
      assertCloseTo(flat(await rca.components.array()), flat(c.components), {
        rtol: 1e-4,
        atol: 1e-5,
      });
    }
    rca.dispose();
  }
});

Deno.test("componentsFromMetric and pinvh: Cholesky factor for PD, LᵀL = M for PSD, scipy's pinvh", () => {
  const M = Float64Array.of(4, 2, 0, 2, 3, 1, 0, 1, 2);
  const L = componentsFromMetric(M, 3);
  // Upper triangular (the transposed lower Cholesky factor) with LᵀL = M.
  assert.equal(L[3], 0);
  assert.equal(L[6], 0);
  assert.equal(L[7], 0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let r = 0; r < 3; r++) s += L[r * 3 + i] * L[r * 3 + j];
      assert.ok(Math.abs(s - M[i * 3 + j]) < 1e-12);
    }
  }
  const singular = fx.covariance.find((c: Any) => c.name === "singular");
  const Ms = Float64Array.from(flat(singular.M));
  const Ls = componentsFromMetric(Ms, 3);
  const back = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let r = 0; r < 3; r++) back[i * 3 + j] += Ls[r * 3 + i] * Ls[r * 3 + j];
    }
  }
  assertCloseTo(Array.from(back), flat(singular.M), { rtol: 1e-8, atol: 1e-10 });
  assert.throws(
    () => componentsFromMetric(Float64Array.of(1, 0, 0, -1), 2, "f"),
    /f: the Mahalanobis matrix is not positive semi-definite/,
  );
  assert.throws(() => componentsFromMetric(Float64Array.of(1, 2, 0, 1), 2, "f"), /not symmetric/);
  // pinvh(pinvh(C)) = C for a PD C.
  const C = Float64Array.of(2, 1, 1, 3);
  assertCloseTo(Array.from(pinvh(pinvh(C, 2), 2)), Array.from(C), { rtol: 1e-12 });
});

// ---- scikit-learn's graphical lasso and LDA

Deno.test("SDML: M equals scikit-learn's graphical lasso on S = I + η Σ y (a−b)(a−b)ᵀ", async () => {
  for (const c of fx.sdml) {
    const S = Float64Array.from(flat(c.S));
    const direct = graphicalLasso(S, 4, c.sparsity, {
      covInit: undefined,
    });
    assert.ok(direct.converged);
    const sdml = await new SDML({ balanceParam: c.balance, sparsityParam: c.sparsity }).fit(
      c.pairs,
      c.y,
    );
    const scale = Math.max(...flat(c.M).map(Math.abs));
    // The graphical lasso stops at a duality gap below 1e-4: agreement to ~1e-4 of the scale.
    assertCloseTo(flat(await matrixOf(sdml)), flat(c.M), { rtol: 2e-3, atol: 2e-4 * scale });
    assert.ok(sdml.history.at(-1)! < 1e-4, `duality gap ${sdml.history}`);
    sdml.dispose();
  }
});

Deno.test("ldaScalings: scikit-learn's LinearDiscriminantAnalysis scalings_ (up to column sign)", () => {
  for (const c of fx.lda) {
    const x = Float64Array.from(flat(c.x));
    const n = c.x.length, d = c.x[0].length;
    const { scalings, rank } = ldaScalings(x, n, d, c.y);
    assert.equal(rank, c.scalings[0].length);
    const cols: Mat = Array.from(
      { length: rank },
      (_, e) => Array.from({ length: d }, (_, i) => scalings[i * rank + e]),
    );
    const want: Mat = Array.from({ length: rank }, (_, e) => c.scalings.map((r: number[]) => r[e]));
    assertCloseTo(flat(signRows(cols)), flat(want), { rtol: 1e-6, atol: 1e-8 });
  }
});

// ---- iterative learners: objectives and constraints

Deno.test("LSML: objective at the prior equals numpy's, decreases strictly, M stays PD", async () => {
  for (const c of fx.lsml_objective) {
    const lsml = await new LSML({ prior: c.prior, maxIter: 50 }).fit(c.quadruplets);
    assertCloseTo(lsml.history[0], c.objective, { rtol: 1e-10 });
    for (let i = 1; i < lsml.history.length; i++) {
      assert.ok(lsml.history[i] < lsml.history[i - 1], `step ${i}: ${lsml.history}`);
    }
    assert.ok(lsml.history.length > 1);
    const M = await matrixOf(lsml);
    const { values } = (await import("../lib/linear/_linalg.ts")).symmetricEigen(flat(M), 3);
    assert.ok(values[0] > 0, `M must stay positive definite: ${values}`);
    lsml.dispose();
  }
  const lsml = await new LSML_Supervised({ seed: 2 }).fit(
    noisyClasses(120, 1).x,
    noisyClasses(120, 1).y,
  );
  const { base, learned } = await beatsEuclidean(lsml);
  assert.ok(learned > base + 0.05, `LSML kNN ${learned} vs Euclidean ${base}`);
});

Deno.test("SDML_Supervised: sparse PSD M that beats Euclidean kNN", async () => {
  const train = noisyClasses(120, 1);
  // The identity prior with η small enough for S to stay PSD barely moves M; the covariance prior
  // (metric-learn's "covariance") whitens the loud noise features first.
  const sdml = await new SDML_Supervised({
    prior: "covariance",
    balanceParam: 1e-3,
    sparsityParam: 0.05,
    seed: 1,
  }).fit(
    train.x,
    train.y,
  );
  const M = await matrixOf(sdml);
  const { values } = (await import("../lib/linear/_linalg.ts")).symmetricEigen(flat(M), 5);
  assert.ok(values[0] >= -1e-6, "PSD");
  const zeros = flat(M).filter((v, i) => Math.floor(i / 5) !== i % 5 && Math.abs(v) < 1e-6).length;
  assert.ok(zeros >= 4, `the ℓ1 penalty zeroes off-diagonal entries: ${zeros} zeros`);
  const { base, learned } = await beatsEuclidean(sdml);
  assert.ok(learned > base + 0.05, `SDML kNN ${learned} vs Euclidean ${base}`);
});

Deno.test("SCML: w ≥ 0 and sparse, the best objective beats M = 0, beats Euclidean kNN", async () => {
  const train = noisyClasses(120, 1);
  // The default γ = 5e-3 takes large steps on these unscaled features (the evaluated objective
  // stays above that of w = 0 for "triplet_diffs"); γ = 0.05 shows the descent.
  for (const [basis, gamma] of [["LDA", 5e-3], ["triplet_diffs", 0.05]] as const) {
    const scml = await new SCML_Supervised({ basis, gamma, nBasis: 40, seed: 1, maxIter: 3000 })
      .fit(
        train.x,
        train.y,
      );
    assert.equal(scml.weights.length, 40);
    assert.ok(scml.weights.every((w) => w >= 0), "weights are non-negative");
    assert.ok(scml.weights.some((w) => w === 0), "the ℓ1 prox sets some weights to exactly 0");
    // Objective with w = 0 is 1 (every hinge at 1); the kept w is the best evaluated.
    assert.ok(Math.min(...scml.history) < 0.9, `${basis}: ${scml.history}`);
    const { base, learned } = await beatsEuclidean(scml);
    assert.ok(learned > base + 0.05, `SCML ${basis} kNN ${learned} vs Euclidean ${base}`);
    scml.dispose();
  }
});

Deno.test("the supervised learners beat Euclidean 5-NN on noisy classes (RCA, LFDA, ITML_/MMC_Supervised)", async () => {
  const train = noisyClasses(120, 1);
  const learners: SupervisedLearner[] = [
    new RCA_Supervised({ nChunks: 40, chunkSize: 2 }),
    new LFDA({ nComponents: 2 }),
    new ITML_Supervised({ seed: 1 }),
    new MMC_Supervised({ diagonal: true, seed: 1 }),
  ];
  for (const l of learners) {
    await l.fit(train.x, train.y);
    const { base, learned } = await beatsEuclidean(l);
    assert.ok(learned > base + 0.05, `${l.name} kNN ${learned} vs Euclidean ${base}`);
    l.dispose();
  }
});

// ---- the shared API

Deno.test("API: transform, M = LᵀL, pairDistance/pairScore and getMetric agree for every learner", async () => {
  const { x, y } = noisyClasses(40, 7);
  const learners: SupervisedLearner[] = [
    new NCA({ iterations: 3 }),
    new LMNN({ iterations: 3, k: 1 }),
    new MLKR({ iterations: 3 }),
    new LFDA(),
    new Covariance(),
    new ITML_Supervised({ maxIter: 5 }),
    new MMC_Supervised({ maxIter: 5 }),
    new SDML_Supervised({ balanceParam: 1e-3 }),
    new LSML_Supervised({ maxIter: 5 }),
    new RCA_Supervised({ nChunks: 10 }),
    new SCML_Supervised({ nBasis: 10, maxIter: 200, outputIter: 100 }),
  ];
  const pairs = [[x[0], x[1]], [x[2], x[9]], [x[3], x[3]]];
  for (const l of learners) {
    await l.fit(x, y);
    const d = await l.pairDistance(pairs);
    const s = await l.pairScore(pairs);
    assert.equal(d[2], 0, `${l.name}: d(x, x) = 0`);
    assert.deepEqual(Array.from(s), Array.from(d, (v) => -v));
    // ‖L(a − b)‖ from transform, sqrt((a−b)ᵀ M (a−b)) from M, and the Metric's pairwise.
    const z = await l.transform([x[0], x[1]]).array();
    const viaL = Math.hypot(...z[0].map((v, i) => v - z[1][i]));
    const M = await matrixOf(l);
    const u = x[0].map((v, i) => v - x[1][i]);
    const viaM = Math.sqrt(
      u.reduce((t, ui, i) => t + ui * M[i].reduce((q, m, j) => q + m * u[j], 0), 0),
    );
    const viaMetric =
      (await pairwiseDistances(tf.tensor2d([x[0]]), tf.tensor2d([x[1]]), l.getMetric()).array())[0][
        0
      ];
    for (const [what, v] of [["transform", viaL], ["M", viaM], ["getMetric", viaMetric]] as const) {
      assert.ok(
        Math.abs(v - d[0]) < 1e-4 * Math.max(1, d[0]),
        `${l.name}: ${what} ${v} vs ${d[0]}`,
      );
    }
    assert.equal(l.components.shape[1], 5);
    l.dispose();
    assert.throws(() => l.components, /call fit\(\)/);
  }
});

Deno.test("API: getMetric works in knn and as a loss distance, and outlives dispose()", async () => {
  const { x, y } = noisyClasses(30, 3);
  const lfda = await new LFDA({ nComponents: 2 }).fit(x, y);
  const metric = lfda.getMetric();
  const z = lfda.transform(x);
  lfda.dispose();
  const xt = tf.tensor2d(x);
  const a = await knn(xt, undefined, 3, { metric });
  const b = await knn(z, undefined, 3);
  assert.deepEqual(Array.from(a.indices), Array.from(b.indices));
  // The learned distance on raw points equals Euclidean on the transformed points (no L2
  // normalisation, which would act before the metric on one side and after it on the other).
  const loss = contrastiveLoss(xt, y, { distance: metric, normalizeEmbeddings: false });
  const plain = contrastiveLoss(z, y, {
    distance: resolveMetric("euclidean"),
    normalizeEmbeddings: false,
  });
  assertCloseTo((await loss.data())[0], (await plain.data())[0], { rtol: 1e-4 });
  // Differentiable in the embeddings.
  const g = tf.grad((e: tf.Tensor) => contrastiveLoss(e as tf.Tensor2D, y, { distance: metric }))(
    xt,
  );
  assert.ok((await g.data()).every(Number.isFinite));
  tf.dispose([z, xt, loss, plain, g]);
});

Deno.test("API: tuples as [n, t, d] tensors, nested arrays, or indices into the preprocessor", async () => {
  const pts = [[0, 0], [0, 1], [3, 0], [3, 1.2], [0.2, 2], [3.1, 2]];
  const idx = [[0, 1], [2, 3], [0, 2], [1, 3], [4, 0], [5, 2]];
  const yp = [1, 1, -1, -1, 1, 1];
  const formed = idx.map(([i, j]) => [pts[i], pts[j]]);
  const a = await new ITML().fit(formed, yp);
  const b = await new ITML({ preprocessor: pts }).fit(idx, yp);
  const t = tf.tensor3d(formed);
  const c = await new ITML().fit(t, yp);
  const Ma = flat(await matrixOf(a));
  assertCloseTo(flat(await matrixOf(b)), Ma, { rtol: 1e-6 });
  assertCloseTo(flat(await matrixOf(c)), Ma, { rtol: 1e-6 });
  assertCloseTo(Array.from(await b.pairDistance(idx)), Array.from(await a.pairDistance(formed)), {
    rtol: 1e-10,
  });
  await assert.rejects(
    () => new ITML().fit(idx, yp),
    /give the points they index as the `preprocessor`/,
  );
  await assert.rejects(
    () => new ITML({ preprocessor: pts }).fit([[0, 9]], [1]),
    /pairs\[0\] holds index 9, outside \[0, 6\)/,
  );
  await assert.rejects(
    () => new ITML().fit(formed.map((p) => [...p, p[0]]), yp),
    /tuples of 2 element\(s\) expected in pairs, got tuples of 3/,
  );
  await assert.rejects(() => new LSML().fit(formed), /tuples of 4 element\(s\) expected/);
  await assert.rejects(() => new SCML().fit(formed), /tuples of 3 element\(s\) expected/);
  t.dispose();
});

// ---- preconditions (issue 13: every learner checks what metric-learn checks)

Deno.test("preconditions: named errors instead of a different objective", async () => {
  const x = [[0, 0], [0, 1], [3, 0], [3, 1]];
  const one = [0, 0, 0, 0];
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ["NCA single class", () => new NCA().fit(x, one), /NCA\.fit: needs at least 2 classes/],
    [
      "LMNN single class",
      () => new LMNN({ k: 1 }).fit(x, one),
      /LMNN\.fit: needs at least 2 classes/,
    ],
    ["LFDA single class", () => new LFDA().fit(x, one), /LFDA\.fit: needs at least 2 classes/],
    ["SCML single class", () => new SCML_Supervised().fit(x, one), /needs at least 2 classes/],
    ["LSML single class", () => new LSML_Supervised().fit(x, one), /needs at least 2 classes/],
    ["ITML single class", () => new ITML_Supervised().fit(x, one), /needs at least 2 classes/],
    ["MMC single class", () => new MMC_Supervised().fit(x, one), /needs at least 2 classes/],
    ["SDML single class", () => new SDML_Supervised().fit(x, one), /needs at least 2 classes/],
    ["NCA one sample", () => new NCA().fit([[1, 2]], [0]), /NCA\.fit: x needs at least 2 samples/],
    ["MLKR one sample", () => new MLKR().fit([[1, 2]], [0]), /MLKR\.fit: x needs at least 2/],
    ["MLKR targets", () => new MLKR().fit(x, [1, 2]), /MLKR\.fit: 2 targets for 4 rows/],
    [
      "NCA nComponents",
      () => new NCA({ nComponents: 3 }).fit(x, [0, 0, 1, 1]),
      /invalid nComponents 3, must be in \[1, 2\]/,
    ],
    [
      "LFDA nComponents",
      () => new LFDA({ nComponents: 5 }).fit(x, [0, 0, 1, 1]),
      /invalid nComponents 5/,
    ],
    [
      "RCA nComponents",
      () => new RCA({ nComponents: 3 }).fit(x, [0, 0, 1, 1]),
      /invalid nComponents 3/,
    ],
    [
      "MMC nComponents",
      () => new MMC({ nComponents: 3 }).fit([[x[0], x[1]], [x[0], x[2]]], [1, -1]),
      /invalid nComponents/,
    ],
    [
      "LMNN k vs class",
      () => new LMNN({ k: 2 }).fit(x, [0, 0, 1, 1]),
      /not enough class labels for specified k \(smallest class has 2/,
    ],
    ["RCA chunk index", () => new RCA().fit(x, [0, 0, -2, 1]), /chunks\[2\] is -2/],
    [
      "RCA no chunklet",
      () => new RCA().fit(x, [0, 1, 2, -1]),
      /at least one chunklet of 2 or more points/,
    ],
    [
      "RCA singular",
      () => new RCA().fit([[0, 0], [1, 1], [2, 2], [4, 4]], [0, 0, 1, 1]),
      /within-chunklet covariance is singular/,
    ],
    [
      "RCA_Supervised chunks",
      () => new RCA_Supervised({ nChunks: 3 }).fit(x, [0, 0, 1, 1]),
      /not enough possible chunklets of 2 points .* the maximum is 2/,
    ],
    [
      "ITML labels",
      () => new ITML().fit([[x[0], x[1]]], [0]),
      /ITML\.fit: y\[0\] is 0; pair labels must be \+1 or −1/,
    ],
    [
      "MMC one kind",
      () => new MMC().fit([[x[0], x[1]]], [1]),
      /needs at least one similar \(\+1\) and one dissimilar/,
    ],
    [
      "ITML bounds",
      () => Promise.resolve(new ITML({ bounds: [1] as never })),
      /bounds must be two finite numbers/,
    ],
    [
      "ITML bounds sign",
      () => Promise.resolve(new ITML({ bounds: [-1, 2] })),
      /bounds must be two finite numbers/,
    ],
    [
      "SDML one feature",
      () => new SDML().fit([[[0], [1]], [[0], [2]]], [1, -1]),
      /cannot fit SDML with 1 feature/,
    ],
    [
      "LSML weights",
      () => new LSML().fit([[x[0], x[1], x[2], x[3]]], [1, 2]),
      /2 weights for 1 quadruplets/,
    ],
    [
      "LSML prior",
      () => new LSML({ prior: [[1, 0], [0, 0]] }).fit([[x[0], x[1], x[2], x[3]]]),
      /prior matrix is not strictly positive definite/,
    ],
    [
      "SCML outputIter",
      () => Promise.resolve(new SCML({ maxIter: 10, outputIter: 20 })),
      /outputIter \(20\) must be ≤ maxIter \(10\)/,
    ],
    [
      "SCML basis",
      () => Promise.resolve(new SCML({ basis: "LDA" })),
      /basis must be "triplet_diffs"/,
    ],
    [
      "SCML few triplets",
      () => new SCML().fit([[[0, 0, 0], [1, 1, 1], [2, 2, 5]]]),
      /number of features \(3\) is greater than the number of triplets \(1\)/,
    ],
    [
      "SCML explicit basis",
      () => new SCML({ basis: [[1, 0, 0]] }).fit([[x[0], x[1], x[2]]]),
      /dimensionality \(3\) of the given bases must match that of the data \(2\)/,
    ],
    [
      "SCML LDA bases",
      () => new SCML_Supervised({ nBasis: 8 }).fit(x, [0, 0, 1, 1]),
      /not enough samples to generate 8 LDA bases; nBasis must be smaller than 8/,
    ],
    [
      "LFDA embedding",
      () => Promise.resolve(new LFDA({ embeddingType: "raw" as never })),
      /invalid embeddingType "raw"/,
    ],
    [
      "typo option",
      () => Promise.resolve(new LSML({ maxiter: 3 } as never)),
      /LSML: unknown option "maxiter"/,
    ],
    [
      "typo option supervised",
      () => Promise.resolve(new SDML_Supervised({ nConstraint: 3 } as never)),
      /SDML_Supervised: unknown option "nConstraint"/,
    ],
  ];
  for (const [what, run, pattern] of cases) {
    await assert.rejects(async () => await run(), pattern, what);
  }
});

Deno.test("preconditions: NaN, +Infinity and −Infinity are refused in fit and transform, naming the argument and row", async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const x = [[0, 0], [0, 1], [3, 0], [3, bad], [1, 1], [2, 2]];
    const y = [0, 0, 1, 1, 0, 1];
    const word = Number.isNaN(bad) ? "NaN" : bad > 0 ? "Infinity" : "-Infinity";
    const fits: [string, () => Promise<unknown>][] = [
      ["NCA", () => new NCA().fit(x, y)],
      ["LMNN", () => new LMNN({ k: 1 }).fit(x, y)],
      ["MLKR", () => new MLKR().fit(x, y)],
      ["LFDA", () => new LFDA().fit(x, y)],
      ["Covariance", () => new Covariance().fit(x)],
      ["RCA_Supervised", () => new RCA_Supervised({ nChunks: 2 }).fit(x, y)],
      ["ITML_Supervised", () => new ITML_Supervised().fit(x, y)],
      ["MMC_Supervised", () => new MMC_Supervised().fit(x, y)],
      ["SDML_Supervised", () => new SDML_Supervised().fit(x, y)],
      ["LSML_Supervised", () => new LSML_Supervised().fit(x, y)],
      ["SCML_Supervised", () => new SCML_Supervised().fit(x, y)],
      ["NCA (tensor)", () => new NCA().fit(tf.tensor2d(x), y)],
    ];
    for (const [name, run] of fits) {
      await assert.rejects(
        run,
        new RegExp(`\\.fit: x row 3 holds ${word} \\(column 1\\)`),
        `${name} ${word}`,
      );
    }
    await assert.rejects(
      () => new ITML().fit([[[0, 0], [1, 1]], [[0, bad], [1, 1]]], [1, -1]),
      new RegExp(`ITML\\.fit: pairs row 1 holds ${word}`),
    );
    await assert.rejects(
      () => new ITML({ preprocessor: x }).fit([[0, 1]], [1]),
      new RegExp(`ITML\\.fit: preprocessor row 3 holds ${word}`),
    );
    const fitted = await new Covariance().fit([[0, 0], [1, 2], [3, 1]]);
    assert.throws(
      () => fitted.transform([[0, 0], [1, bad]]),
      new RegExp(`Covariance\\.transform: x row 1 holds ${word}`),
    );
    await assert.rejects(
      () => fitted.pairDistance([[[0, 0], [1, 1]], [[bad, 0], [1, 1]]]),
      new RegExp(`Covariance\\.pairDistance: pairs row 1 holds ${word}`),
    );
    await assert.rejects(
      () => new LFDA().fit(x.slice(0, 3).concat([[1, 1]]), [0, 0, 1, bad]),
      /LFDA\.fit: y\[3\] is/,
    );
    // The helpers around the learners: PCA, kNN accuracy, the standardiser.
    const good = tf.tensor2d([[0, 0], [1, 2], [3, 1]]), broken = tf.tensor2d(x);
    await assert.rejects(() => fitPca(broken, 1), new RegExp(`fitPca: x row 3 holds ${word}`));
    const pca = await fitPca(good, 1);
    assert.throws(
      () => pca.transform(broken),
      new RegExp(`PcaModel\\.transform: x row 3 holds ${word}`),
    );
    await assert.rejects(
      () => knnClassificationAccuracy(good, [0, 0, 1], broken, y, 1),
      new RegExp(`knnClassificationAccuracy: test row 3 holds ${word}`),
    );
    assert.throws(
      () => standardizer(x.flat(), 2),
      new RegExp(`standardizer: train row 3 holds ${word}`),
    );
    pca.dispose();
    tf.dispose([good, broken]);
  }
});

// ---- constraints

Deno.test("constraints: chunks, knnTriplets and positiveNegativePairs as metric-learn builds them", () => {
  const labels = [0, 0, 0, 0, 1, 1, 1, -1];
  const c = chunks(labels, { nChunks: 3, chunkSize: 2, seed: 4 });
  for (let j = 0; j < 3; j++) {
    const members = [...c.keys()].filter((i) => c[i] === j);
    assert.equal(members.length, 2);
    assert.equal(labels[members[0]], labels[members[1]]);
  }
  assert.equal(c[7], -1, "unlabelled points join no chunklet");
  assert.throws(() => chunks(labels, { nChunks: 4 }), /the maximum is 3/);
  assert.throws(() => chunks(labels, { chunkSize: 1 }), /chunkSize must be an integer ≥ 2/);
  // Triplets: a, each of its kGenuine nearest same-class, each of its kImpostor nearest others.
  const x = Float64Array.of(0, 1, 3, 10, 11, 14);
  const { triplets, warnings } = knnTriplets(x, 1, [0, 0, 0, 1, 1, 1], 1, 2);
  assert.deepEqual(Array.from(triplets.slice(0, 6)), [0, 1, 3, 0, 1, 4]);
  assert.deepEqual(Array.from(triplets.slice(6, 12)), [1, 0, 3, 1, 0, 4]);
  assert.equal(triplets.length, 6 * 2 * 3);
  assert.deepEqual(warnings, []);
  const short = knnTriplets(x, 1, [0, 0, 0, 1, 1, 1], 3, 2);
  assert.equal(short.warnings.length, 2);
  const p = positiveNegativePairs([0, 0, 1, 1, 1], 50, { sameLength: true, seed: 2 });
  assert.equal(p.a.length, p.c.length);
  assert.equal(p.a.length, 8, "8 ordered similar pairs exist");
});
