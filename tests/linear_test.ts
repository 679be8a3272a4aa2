import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createRng } from "../lib/data/random.ts";
import { checkMetricAxioms } from "../lib/axioms.ts";
import { pairwiseDistances } from "../lib/distances.ts";
import {
  ITML,
  knnClassificationAccuracy,
  LMNN,
  MLKR,
  MMC,
  NCA,
  standardizer,
  supervisedPairs,
  targetNeighbours,
} from "../lib/linear/mod.ts";
import { symmetricEigen } from "../lib/linear/_linalg.ts";

await tf.setBackend("cpu");

/**
 * Two classes separated along feature 0 (gap 2, spread 0.4), plus 4 loud noise features
 * (standard deviation 3): plain Euclidean kNN is swamped by the noise; a metric that shrinks the
 * noise directions classifies almost perfectly.
 */
function noisyClasses(n: number, seed: number) {
  const rng = createRng(seed);
  const x: number[][] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    x.push([c * 2 + 0.4 * rng.normal(), ...Array.from({ length: 4 }, () => 3 * rng.normal())]);
    y.push(c);
  }
  return { x: tf.tensor2d(x), y };
}

async function beatsEuclidean(metric: Parameters<typeof knnClassificationAccuracy>[5]) {
  const train = noisyClasses(120, 1), test = noisyClasses(120, 2);
  const base = await knnClassificationAccuracy(train.x, train.y, test.x, test.y, 5, "euclidean");
  const learned = await knnClassificationAccuracy(train.x, train.y, test.x, test.y, 5, metric);
  tf.dispose([train.x, test.x]);
  return { base, learned };
}

Deno.test("knnClassificationAccuracy: hand example, votes and ties", async () => {
  const train = tf.tensor2d([[0], [1], [2], [10], [11]]);
  const test = tf.tensor2d([[0.9], [10.4], [6.2]]);
  // k = 3: 0.9 → {1, 0, 2}: class 0; 10.4 → {10, 11, 2}: class 1; 6.2 → {10, 2, 11}: class 1.
  assert.equal(await knnClassificationAccuracy(train, [0, 0, 0, 1, 1], test, [0, 1, 1], 3), 1);
  // k = 2 tie at 6.2 ({2: class 0}, {10: class 1}) goes to the smaller label 0.
  assert.equal(await knnClassificationAccuracy(train, [0, 0, 0, 1, 1], test, [0, 1, 0], 2), 1);
  assert.equal(await knnClassificationAccuracy(train, [0, 0, 0, 1, 1], test, [1, 0, 0], 1), 0);
  tf.dispose([train, test]);
});

Deno.test("standardizer: zero mean, unit variance (ddof 0) on the training set", () => {
  const f = standardizer([1, 10, 3, 10, 5, 10], 2);
  const out = Array.from(f([1, 10, 3, 10, 5, 10]));
  const sd = Math.sqrt(8 / 3);
  assert.deepEqual(
    out.map((v) => Math.round(v * 1e5) / 1e5),
    [-2 / sd, 0, 0, 0, 2 / sd, 0].map((v) => Math.round(v * 1e5) / 1e5),
  );
});

Deno.test("NCA improves its objective and beats Euclidean kNN on noisy classes", async () => {
  const train = noisyClasses(120, 1);
  const nca = new NCA({ iterations: 60, learningRate: 0.05, seed: 3 });
  await nca.fit(train.x, train.y);
  assert.ok(
    nca.history.at(-1)! < nca.history[0] - 0.1,
    `NCA objective ${nca.history[0]} → ${nca.history.at(-1)}`,
  );
  assert.deepEqual(nca.components.shape, [5, 5]);
  const { base, learned } = await beatsEuclidean(nca.getMetric());
  assert.ok(learned > base + 0.05, `NCA kNN ${learned} vs Euclidean ${base}`);
  tf.dispose(train.x);
  nca.dispose();
});

/** Labelled pairs from `noisyClasses` (as the `_Supervised` learners draw them), `[p, 2, d]`. */
function mmcPairs(x: tf.Tensor2D, y: number[], count: number, seed: number) {
  const { pairs, y: py } = supervisedPairs(y, count, seed);
  const a = tf.gather(x, tf.tensor1d(pairs.filter((_, i) => i % 2 === 0), "int32")) as tf.Tensor2D;
  const b = tf.gather(x, tf.tensor1d(pairs.filter((_, i) => i % 2 === 1), "int32")) as tf.Tensor2D;
  return { a, b, y: py, pairs: tf.stack([a, b], 1) as tf.Tensor3D };
}

/** Σ over the pairs with label `label` of ‖a − b‖²_M, by hand from M = LᵀL. */
async function pairSquaredSum(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  y: ArrayLike<number>,
  label: number,
  M: number[][],
) {
  const va = await a.array(), vb = await b.array();
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== label) continue;
    const u = va[i].map((v, k) => v - vb[i][k]);
    s += u.reduce((t, ui, r) => t + ui * M[r].reduce((q, m, c) => q + m * u[c], 0), 0);
  }
  return s;
}

Deno.test("MMC (full) improves its objective, meets the constraint, beats Euclidean kNN", async () => {
  const train = noisyClasses(120, 1);
  const { a, b, y, pairs } = mmcPairs(train.x, train.y, 200, 4);
  const mmc = new MMC();
  await mmc.fit(pairs, y);
  // history: −mean_D ‖·‖_M / sqrt(mean_S ‖·‖²_M), from the identity (Euclidean) onwards.
  assert.ok(
    mmc.history.at(-1)! < 1.5 * mmc.history[0],
    `MMC objective ${mmc.history[0]} → ${mmc.history.at(-1)}`,
  );
  // history[1] is the first projection of the identity onto the constraints; the gradient
  // ascent must improve on it (descending instead stalls there).
  assert.ok(
    mmc.history.at(-1)! < mmc.history[1] - 0.3,
    `MMC ascent ${mmc.history[1]} → ${mmc.history.at(-1)}`,
  );
  assert.ok(mmc.converged && mmc.nIter >= 10 && mmc.nIter <= 100);
  assert.equal(mmc.history.length, mmc.nIter + 1);
  // Σ_S ‖·‖²_M ≤ t (1 + 0.01) with t = Σ_S ‖·‖² / 100 (metric-learn's bound and slack).
  const M = await mmc.getMahalanobisMatrix().array();
  const t = (await pairSquaredSum(
    a,
    b,
    y,
    1,
    [0, 1, 2, 3, 4].map((i) => [0, 1, 2, 3, 4].map((j) => (i === j ? 1 : 0))),
  )) / 100;
  const fS = await pairSquaredSum(a, b, y, 1, M);
  assert.ok(fS <= 1.011 * t, `similarity constraint ${fS} > ${t}`);
  assert.ok(fS > 0.5 * t, `the constraint should be active at the optimum: ${fS} vs ${t}`);
  // M is symmetric PSD and puts its weight on the informative feature 0.
  for (let i = 0; i < 5; i++) {
    assert.ok(M[i][i] >= -1e-6);
    for (let j = 0; j < 5; j++) assert.ok(Math.abs(M[i][j] - M[j][i]) < 1e-5);
  }
  const noise = Math.max(M[1][1], M[2][2], M[3][3], M[4][4]);
  assert.ok(M[0][0] > 300 * noise, `M[0][0] = ${M[0][0]} vs noise ${noise}`);
  const { base, learned } = await beatsEuclidean(mmc.getMetric());
  assert.ok(learned > base + 0.05, `MMC kNN ${learned} vs Euclidean ${base}`);
  tf.dispose([train.x, a, b, pairs]);
  mmc.dispose();
});

Deno.test("MMC (full): the learned direction separates the dissimilar pairs", async () => {
  // Similar pairs differ along x, dissimilar ones along y: M must weight y, not x.
  const rng = createRng(3);
  const a: number[][] = [], b: number[][] = [], y: number[] = [];
  for (let i = 0; i < 40; i++) {
    const p = [rng.normal(), rng.normal()];
    const sim = i % 2 === 0;
    const step = sim
      ? [2 + rng.normal(), 0.1 * rng.normal()]
      : [0.1 * rng.normal(), 1 + rng.normal()];
    a.push(p), b.push([p[0] + step[0], p[1] + step[1]]), y.push(sim ? 1 : -1);
  }
  const mmc = new MMC({ seed: 1 });
  await mmc.fit(a.map((p, i) => [p, b[i]]), y);
  const M = await mmc.getMahalanobisMatrix().array();
  assert.ok(M[1][1] > 20 * M[0][0], `M = ${JSON.stringify(M)}`);
  assert.ok(mmc.converged, "MMC should converge on a 2-d problem");
  mmc.dispose();
});

Deno.test("MMC (diagonal) lowers its objective and beats Euclidean kNN", async () => {
  const train = noisyClasses(120, 1);
  const { a, b, y, pairs } = mmcPairs(train.x, train.y, 200, 4);
  const mmc = new MMC({ diagonal: true });
  await mmc.fit(pairs, y);
  // Σ_S ‖·‖²_M − log Σ_D ‖·‖_M, by Newton steps from the identity.
  assert.ok(
    mmc.history.at(-1)! < mmc.history[0] - 100,
    `MMC objective ${mmc.history[0]} → ${mmc.history.at(-1)}`,
  );
  for (let i = 1; i < mmc.history.length; i++) {
    assert.ok(mmc.history[i] <= mmc.history[i - 1] + 1e-9, `history ${mmc.history}`);
  }
  const M = await mmc.getMahalanobisMatrix().array();
  // The weight goes to the informative feature 0, the noise features are (nearly) dropped.
  const noise = Math.max(M[1][1], M[2][2], M[3][3], M[4][4]);
  assert.ok(M[0][0] > 100 * noise, `diag(M) = ${M.map((r, i) => r[i])}`);
  for (let i = 0; i < 5; i++) {
    assert.ok(M[i][i] >= 0);
    for (let j = 0; j < 5; j++) if (i !== j) assert.ok(Math.abs(M[i][j]) < 1e-6);
  }
  const { base, learned } = await beatsEuclidean(mmc.getMetric());
  assert.ok(learned > base + 0.05, `MMC kNN ${learned} vs Euclidean ${base}`);
  tf.dispose([train.x, a, b, pairs]);
  mmc.dispose();
});

Deno.test("MMC: options are checked; components keeps the leading directions", async () => {
  assert.throws(() => new MMC({ iterations: 5 } as never), /unknown option "iterations"/);
  assert.throws(() => new MMC({ maxProj: 0 }), /maxProj/);
  assert.throws(() => new MMC({ convergenceThreshold: 0 }), /convergenceThreshold/);
  assert.throws(() => new MMC({ diagonalC: -1 }), /diagonalC/);
  assert.throws(() => new MMC({ init: "pca" as never }), /init/);
  const train = noisyClasses(60, 2);
  const { a, b, y, pairs } = mmcPairs(train.x, train.y, 60, 1);
  const full = new MMC({ maxIter: 30 }), two = new MMC({ maxIter: 30, nComponents: 2 });
  await full.fit(pairs, y);
  await two.fit(pairs, y);
  assert.deepEqual(two.components.shape, [2, 5]);
  const Lf = await full.components.array(), L2 = await two.components.array();
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 5; c++) assert.ok(Math.abs(Lf[r][c] - L2[r][c]) < 1e-5);
  }
  tf.dispose([train.x, a, b, pairs]);
  full.dispose();
  two.dispose();
});

Deno.test("symmetricEigen (ml-matrix): A = V diag(λ) Vᵀ, V orthonormal, λ ascending", () => {
  const rng = createRng(11);
  for (const d of [1, 2, 7, 30]) {
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) A[i * d + j] = A[j * d + i] = rng.normal();
    }
    const { values, vectors: V } = symmetricEigen(A, d);
    for (let i = 1; i < d; i++) assert.ok(values[i - 1] <= values[i], `d=${d} order`);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let rec = 0, orth = 0;
        for (let k = 0; k < d; k++) {
          rec += V[i * d + k] * values[k] * V[j * d + k];
          orth += V[k * d + i] * V[k * d + j];
        }
        assert.ok(Math.abs(rec - A[i * d + j]) < 1e-9, `d=${d} reconstruction`);
        assert.ok(Math.abs(orth - (i === j ? 1 : 0)) < 1e-9, `d=${d} orthonormality`);
      }
    }
  }
});

Deno.test("ITML on labelled pairs reduces constraint violation and beats Euclidean kNN", async () => {
  const train = noisyClasses(120, 1);
  const { pairs, y } = supervisedPairs(train.y, 150, 4);
  const index = Array.from({ length: y.length }, (_, i) => [pairs[2 * i], pairs[2 * i + 1]]);
  // Index pairs into the points given as metric-learn's preprocessor.
  const itml = new ITML({ maxIter: 100, preprocessor: train.x });
  await itml.fit(index, y);
  assert.ok(
    itml.history.at(-1)! < 0.7 * itml.history[0],
    `ITML violation ${itml.history[0]} → ${itml.history.at(-1)}`,
  );
  // M = LᵀL is symmetric positive definite.
  const M = await itml.getMahalanobisMatrix().array();
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) assert.ok(Math.abs(M[i][j] - M[j][i]) < 1e-4);
  }
  const { base, learned } = await beatsEuclidean(itml.getMetric());
  assert.ok(learned > base + 0.05, `ITML kNN ${learned} vs Euclidean ${base}`);
  tf.dispose([train.x]);
  itml.dispose();
});

Deno.test("LMNN on triplets improves its objective and beats Euclidean kNN", async () => {
  const train = noisyClasses(120, 1);
  const lmnn = new LMNN({ iterations: 80, learningRate: 0.05, batchSize: 64, impostors: 64 });
  await lmnn.fit(train.x, train.y);
  const first = lmnn.history.slice(0, 5).reduce((s, v) => s + v, 0) / 5;
  const last = lmnn.history.slice(-5).reduce((s, v) => s + v, 0) / 5;
  assert.ok(last < 0.5 * first, `LMNN objective ${first} → ${last}`);
  const { base, learned } = await beatsEuclidean(lmnn.getMetric());
  assert.ok(learned > base + 0.05, `LMNN kNN ${learned} vs Euclidean ${base}`);
  tf.dispose(train.x);
  lmnn.dispose();
});

Deno.test("MLKR on real targets improves its objective and beats Euclidean kNN regression", async () => {
  const rng = createRng(9);
  const make = (n: number) => {
    const x: number[][] = [], y: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = 2 * rng.normal();
      x.push([t, ...Array.from({ length: 4 }, () => 3 * rng.normal())]);
      y.push(t);
    }
    return { x: tf.tensor2d(x), y };
  };
  const train = make(120), test = make(80);
  const mlkr = new MLKR({ iterations: 80, learningRate: 0.05 });
  await mlkr.fit(train.x, train.y);
  assert.ok(
    mlkr.history.at(-1)! < 0.5 * mlkr.history[0],
    `MLKR objective ${mlkr.history[0]} → ${mlkr.history.at(-1)}`,
  );
  // 5-NN regression error, computed here by a plain loop over the distance matrix.
  const knnMse = async (spec: Parameters<typeof pairwiseDistances>[2]) => {
    const d = pairwiseDistances(test.x, train.x, spec);
    const rows = await d.array();
    d.dispose();
    let se = 0;
    rows.forEach((row, i) => {
      const near = row.map((v, j) => [v, j]).sort((p, q) => p[0] - q[0]).slice(0, 5);
      const pred = near.reduce((s, [, j]) => s + train.y[j], 0) / 5;
      se += (pred - test.y[i]) ** 2;
    });
    return se / rows.length;
  };
  const base = await knnMse("euclidean");
  const learned = await knnMse(mlkr.getMetric());
  assert.ok(learned < 0.6 * base, `MLKR kNN MSE ${learned} vs Euclidean ${base}`);
  tf.dispose([train.x, test.x]);
  mlkr.dispose();
});

Deno.test("learners: seeded, metric() is a metric, transform and M = LᵀL agree", async () => {
  const train = noisyClasses(40, 5);
  const fit = async (seed: number) => {
    const nca = new NCA({ iterations: 5, seed, init: "random", batchSize: 16 });
    await nca.fit(train.x, train.y);
    const L = Array.from(await nca.components.data());
    return { nca, L };
  };
  const a = await fit(1), b = await fit(1), c = await fit(2);
  assert.deepEqual(a.L, b.L);
  assert.notDeepEqual(a.L, c.L);
  // d(x, y) from metric() equals sqrt((x − y) M (x − y)ᵀ) computed by hand.
  const x = [[1, 2, 3, 4, 5], [0, -1, 2, 0, 1]];
  const M = await a.nca.getMahalanobisMatrix().array();
  const u = x[0].map((v, i) => v - x[1][i]);
  const want = Math.sqrt(
    u.reduce((s, ui, i) => s + ui * M[i].reduce((t, mij, j) => t + mij * u[j], 0), 0),
  );
  const got =
    (await pairwiseDistances(tf.tensor2d([x[0]]), tf.tensor2d([x[1]]), a.nca.getMetric()).array())[
      0
    ][
      0
    ];
  assert.ok(Math.abs(got - want) < 1e-4 * Math.max(1, want), `${got} vs ${want}`);
  const report = await checkMetricAxioms(a.nca.getMetric(), undefined, { dim: 5 });
  assert.equal(report.agreesWithDeclaration, true);
  assert.throws(() => new NCA().components, /call fit/);
  assert.throws(() => new NCA({ nComponents: 0 }), /nComponents/);
  await assert.rejects(
    () => new MMC().fit(tf.stack([train.x, train.x], 1) as tf.Tensor3D, new Array(40).fill(1)),
    /dissimilar/,
  );
  for (const r of [a, b, c]) r.nca.dispose();
  tf.dispose(train.x);
});

Deno.test("targetNeighbours: k nearest of the same class; a class of k or fewer points is refused", async () => {
  const t = await targetNeighbours([[0], [1], [5], [9], [10]], [0, 0, 0, 1, 1], 1);
  assert.deepEqual(Array.from(t), [1, 0, 1, 4, 3]);
  // Issue 13: point 3 is alone in its class; it must not become its own target neighbour.
  await assert.rejects(
    () => targetNeighbours([[0], [1], [5], [9]], [0, 0, 0, 1], 1),
    /targetNeighbours: not enough class labels for specified k \(smallest class has 1/,
  );
  await assert.rejects(
    () => targetNeighbours([[0], [1], [5], [9], [10]], [0, 0, 0, 1, 1], 2),
    /not enough class labels for specified k \(smallest class has 2/,
  );
  await assert.rejects(
    () => new LMNN({ k: 2 }).fit([[0], [1], [5], [9], [10]], [0, 0, 0, 1, 1]),
    /LMNN\.fit: not enough class labels/,
  );
});

Deno.test("supervisedPairs: distinct pairs, similar then dissimilar, seeded", () => {
  const labels = [0, 0, 1, 1, 2, 2, -1];
  const p = supervisedPairs(labels, 6, 0);
  const keys = new Set<string>();
  for (let i = 0; i < p.y.length; i++) {
    const [a, b] = [p.pairs[2 * i], p.pairs[2 * i + 1]];
    assert.notEqual(a, b);
    assert.ok(labels[a] >= 0 && labels[b] >= 0, "unlabelled points take part in no pair");
    assert.equal(labels[a] === labels[b], p.y[i] === 1);
    assert.ok(!keys.has(`${a},${b}`), "pairs are distinct");
    keys.add(`${a},${b}`);
  }
  // Only 6 ordered similar pairs exist: all drawn; dissimilar ones are plenty.
  assert.equal(p.y.filter((v) => v === 1).length, 6);
  assert.deepEqual(supervisedPairs(labels, 6, 0), p);
  assert.match(supervisedPairs(labels, 10, 0).short ?? "", /only 6 similar/);
});
