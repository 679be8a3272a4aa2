/**
 * Every miner's options and inputs are checked (unknown names, non-finite or out-of-range numbers,
 * strategies, distances PML refuses, reference sets, non-finite embeddings); the sampling miners
 * are reproducible from their generator; any metric of `distances.ts` can drive a miner; mined
 * tuples feed the losses.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { createRng } from "../lib/data/random.ts";
import { pairwiseDistances, resolveMetric } from "../lib/distances.ts";
import { contrastiveLoss, tripletMarginLoss, type TupleIndices } from "../lib/losses/mod.ts";
import {
  angularMiner,
  batchEasyHardMiner,
  batchHardMiner,
  distanceWeightedMiner,
  embeddingsAlreadyPackagedAsTriplets,
  hdcMiner,
  multiSimilarityMiner,
  pairMarginMiner,
  tripletMarginMiner,
  uniformHistogramMiner,
} from "../lib/miners/mod.ts";

await tf.setBackend("cpu");

// deno-lint-ignore no-explicit-any
type AnyMiner = (e: tf.Tensor2D, y: number[], o?: any) => TupleIndices;
const MINERS: Record<string, AnyMiner> = {
  angularMiner,
  batchEasyHardMiner,
  distanceWeightedMiner,
  hdcMiner,
  uniformHistogramMiner,
  embeddingsAlreadyPackagedAsTriplets,
  tripletMarginMiner,
  batchHardMiner,
  multiSimilarityMiner,
  pairMarginMiner,
};

const rows = (n: number, d: number, seed: number) => {
  const r = createRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => r.normal()));
};
const X = tf.tensor2d(rows(12, 5, 1));
const Y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
const lists = (t: TupleIndices) =>
  "a1" in t ? [[...t.a1], [...t.p], [...t.a2], [...t.n]] : [[...t.a], [...t.p], [...t.n]];

Deno.test("every miner refuses unknown options, naming the miner and the option", () => {
  for (const [name, miner] of Object.entries(MINERS)) {
    assert.throws(
      () => miner(X, Y, { margn: 1 }),
      new RegExp(`${name}: unknown option "margn"`),
      name,
    );
    assert.throws(() => miner(X, Y, null), new RegExp(`${name}: options must be an object`));
    assert.throws(() => miner(X, [0, 1]), new RegExp(`${name}.*12 labels`), name);
  }
});

Deno.test("numeric options: finite, in range, named in the error", () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["tripletMarginMiner", { margin: NaN }, /margin must be finite, got NaN/],
    ["tripletMarginMiner", { margin: Infinity }, /margin must be finite/],
    ["tripletMarginMiner", { margin: -0.1 }, /margin must be in \[0, ∞\), got -0.1/],
    ["tripletMarginMiner", { margin: "0.2" }, /margin must be a number/],
    ["pairMarginMiner", { posMargin: -1 }, /posMargin must be in \[0/],
    ["pairMarginMiner", { negMargin: NaN }, /negMargin must be finite/],
    ["multiSimilarityMiner", { epsilon: -0.1 }, /epsilon must be in \[0/],
    ["multiSimilarityMiner", { epsilon: Infinity }, /epsilon must be finite/],
    ["angularMiner", { angle: -1 }, /angle must be in \[0, 90\], got -1/],
    ["angularMiner", { angle: 91 }, /angle must be in \[0, 90\]/],
    ["angularMiner", { angle: NaN }, /angle must be finite/],
    ["distanceWeightedMiner", { cutoff: -0.1 }, /cutoff must be in \[0, 2\)/],
    ["distanceWeightedMiner", { cutoff: 2 }, /cutoff must be in \[0, 2\), got 2/],
    ["distanceWeightedMiner", { nonzeroLossCutoff: 0 }, /nonzeroLossCutoff must be in \(0, ∞\)/],
    ["distanceWeightedMiner", { nonzeroLossCutoff: Infinity }, /nonzeroLossCutoff must be finite/],
    ["hdcMiner", { filterPercentage: 1.5 }, /filterPercentage must be in \[0, 1\], got 1.5/],
    ["hdcMiner", { filterPercentage: -0.5 }, /filterPercentage must be in \[0, 1\]/],
    ["hdcMiner", { filterPercentage: NaN }, /filterPercentage must be finite/],
    ["uniformHistogramMiner", { numBins: 0 }, /numBins must be in \[1, ∞\), got 0/],
    ["uniformHistogramMiner", { numBins: 2.5 }, /numBins must be an integer, got 2.5/],
    ["uniformHistogramMiner", { posPerBin: 0 }, /posPerBin must be in \[1/],
    ["uniformHistogramMiner", { negPerBin: NaN }, /negPerBin must be finite/],
    ["batchEasyHardMiner", { posStrategy: "medium" }, /posStrategy must be "easy".*"medium"/],
    ["batchEasyHardMiner", { negStrategy: "hardest" }, /negStrategy must be/],
    [
      "batchEasyHardMiner",
      { posStrategy: "semihard", negStrategy: "semihard" },
      /cannot both be "semihard"/,
    ],
    ["batchEasyHardMiner", { posStrategy: "all" }, /"semihard" cannot be combined with "all"/],
    [
      "batchEasyHardMiner",
      { posStrategy: "semihard", negStrategy: "all" },
      /cannot be combined with "all"/,
    ],
    ["batchEasyHardMiner", { allowedPosRange: [1, 0] }, /allowedPosRange must have low ≤ high/],
    ["batchEasyHardMiner", { allowedNegRange: [NaN, 1] }, /allowedNegRange must be \[low, high\]/],
    ["batchEasyHardMiner", { allowedNegRange: [0.5] }, /allowedNegRange must be \[low, high\]/],
  ];
  for (const [name, options, message] of bad) {
    assert.throws(() => MINERS[name](X, Y, options), message, `${name} ${message}`);
    assert.throws(() => MINERS[name](X, Y, options), (e: Error) => e.message.startsWith(name));
  }
  // Margins of similarities may be negative; infinite range bounds are allowed.
  assert.ok(tripletMarginMiner(X, Y, { margin: -0.1, distance: "cosine" }).a.length > 0);
  assert.ok(pairMarginMiner(X, Y, { posMargin: -0.5, negMargin: -0.2, distance: "cosine" }));
  assert.deepEqual(
    lists(batchEasyHardMiner(X, Y, { allowedPosRange: [-Infinity, Infinity] })),
    lists(batchEasyHardMiner(X, Y)),
  );
});

Deno.test("AngularMiner and DistanceWeightedMiner accept only PML's normalised Euclidean", () => {
  for (const name of ["angularMiner", "distanceWeightedMiner"]) {
    assert.throws(() => MINERS[name](X, Y, { distance: "cosine" }), /distance must be "euclidean"/);
    assert.throws(
      () => MINERS[name](X, Y, { distance: resolveMetric("cityblock") }),
      /distance must be "euclidean".*cityblock/,
    );
    assert.throws(
      () => MINERS[name](X, Y, { normalizeEmbeddings: false }),
      /normalizeEmbeddings must be true/,
    );
    MINERS[name](X, Y, { distance: "euclidean", normalizeEmbeddings: true });
    MINERS[name](X, Y, { distance: resolveMetric("euclidean") });
  }
});

Deno.test("reference sets: both or neither, matching shapes; non-finite embeddings named", () => {
  const ref = tf.tensor2d(rows(7, 5, 2));
  const refLabels = [0, 0, 1, 1, 2, 2, 3];
  for (const [name, miner] of Object.entries(MINERS)) {
    if (name === "embeddingsAlreadyPackagedAsTriplets") {
      assert.throws(() => miner(X, Y, { refEmbeddings: ref, refLabels }), /unknown option/);
      continue;
    }
    assert.throws(() => miner(X, Y, { refEmbeddings: ref }), /refEmbeddings alone/, name);
    assert.throws(() => miner(X, Y, { refLabels }), /refLabels alone/, name);
    assert.throws(
      () => miner(X, Y, { refEmbeddings: ref, refLabels: [0, 1] }),
      /expected 7 labels/,
      name,
    );
    const narrow = tf.tensor2d(rows(7, 3, 2));
    assert.throws(
      () => miner(X, Y, { refEmbeddings: narrow, refLabels }),
      /refEmbeddings have dimension 3, embeddings 5/,
      name,
    );
    narrow.dispose();
    // With a reference set, p and n index it.
    const out = lists(miner(X, Y, { refEmbeddings: ref, refLabels }));
    const others = out.length === 3 ? [out[1], out[2]] : [out[1], out[3]];
    for (const o of others) assert.ok(o.every((j) => j >= 0 && j < 7), name);
    const bad = tf.tensor2d([[0, 1], [NaN, 1], [1, 1]]);
    assert.throws(() => miner(bad, [0, 0, 1]), /row 1.*NaN|NaN.*row 1/, name);
    bad.dispose();
  }
  ref.dispose();
  // The batch itself as its reference set (the same objects) is no reference set, as in PML;
  // a copy is a reference set, where (i, i) is a positive pair (the closest one).
  for (const [name, miner] of Object.entries(MINERS)) {
    if (["embeddingsAlreadyPackagedAsTriplets", "distanceWeightedMiner"].includes(name)) continue;
    const plain = lists(miner(X, Y));
    assert.deepEqual(lists(miner(X, Y, { refEmbeddings: X, refLabels: Y })), plain, name);
  }
  const copy = tf.clone(X);
  const refCopy = { refEmbeddings: copy, refLabels: [...Y] };
  const easy = batchEasyHardMiner(X, Y, refCopy);
  assert.ok(easy.a1.length === 12 && easy.a1.every((a, t) => easy.p[t] === a));
  assert.equal(hdcMiner(X, Y, refCopy).a1.length, Math.ceil(0.5 * (36 + 12)));
  copy.dispose();
  // Finite embeddings, but a metric that is undefined for them (scipy's cosine of a zero row).
  const zero = tf.tensor2d([[0, 0], [1, 0], [0, 1]]);
  assert.throws(
    () => hdcMiner(zero, [0, 0, 1], { distance: resolveMetric("cosine") }),
    /hdcMiner: the cosine value between embeddings row 0 and embeddings row 0 is NaN/,
  );
  zero.dispose();
});

Deno.test("sampling miners: the same generator state gives the same draws, another one others", () => {
  for (const miner of [distanceWeightedMiner, uniformHistogramMiner] as AnyMiner[]) {
    const a = lists(miner(X, Y, { rng: createRng(5) }));
    assert.deepEqual(lists(miner(X, Y, { rng: createRng(5) })), a);
    assert.deepEqual(lists(miner(X, Y)), lists(miner(X, Y)), "default: seed 0 at each call");
    assert.notDeepEqual(lists(miner(X, Y, { rng: createRng(6) })), a);
    // A generator made once advances: consecutive calls draw differently.
    const rng = createRng(5);
    assert.notDeepEqual(lists(miner(X, Y, { rng })), lists(miner(X, Y, { rng })));
    assert.throws(() => miner(X, Y, { rng: Math.random }), /rng must be a generator/);
  }
});

Deno.test("batchEasyHardMiner: hard/hard is batchHardMiner; semihard and range invariants hold", () => {
  for (const distance of ["euclidean", "cosine", "sqeuclidean"] as const) {
    const hh = batchEasyHardMiner(X, Y, { posStrategy: "hard", negStrategy: "hard", distance });
    const bh = batchHardMiner(X, Y, { distance });
    assert.deepEqual([[...hh.a1], [...hh.p], [...hh.n]], lists(bh), distance);
  }
  const e = tf.tidy(() => tf.div(X, tf.norm(X, 2, 1, true))) as tf.Tensor2D;
  const m = pairwiseDistances(e, e).arraySync();
  e.dispose();
  const semi = batchEasyHardMiner(X, Y, { posStrategy: "easy", negStrategy: "semihard" });
  semi.a1.forEach((a, t) => assert.ok(m[a][semi.n[t]] > m[a][semi.p[t]]));
  const ranged = batchEasyHardMiner(X, Y, {
    posStrategy: "hard",
    negStrategy: "hard",
    allowedPosRange: [0.6, 1.2],
    allowedNegRange: [1.0, 2.0],
  });
  assert.ok(ranged.a1.length > 0);
  ranged.a1.forEach((a, t) => {
    assert.ok(m[a][ranged.p[t]] >= 0.6 - 1e-6 && m[a][ranged.p[t]] <= 1.2 + 1e-6);
    assert.ok(m[a][ranged.n[t]] >= 1.0 - 1e-6);
    // The hardest in range: no positive in range is farther.
    Y.forEach((y, j) => {
      if (y === Y[a] && j !== a && m[a][j] >= 0.6 && m[a][j] <= 1.2) {
        assert.ok(m[a][j] <= m[a][ranged.p[t]] + 1e-6);
      }
    });
  });
});

Deno.test("any metric from distances.ts drives the miners that allow it", () => {
  const metric = resolveMetric("cityblock");
  const m = pairwiseDistances(X, X, "cityblock").arraySync();
  const hdc = hdcMiner(X, Y, { distance: metric, normalizeEmbeddings: false });
  const pos: number[] = [];
  Y.forEach((yi, i) => Y.forEach((yj, j) => yi === yj && i !== j && pos.push(m[i][j])));
  const cut = [...pos].sort((u, v) => v - u)[hdc.a1.length - 1];
  assert.equal(hdc.a1.length, Math.ceil(0.5 * pos.length));
  hdc.a1.forEach((a, t) => assert.ok(m[a][hdc.p[t]] >= cut - 1e-4));
  const beh = batchEasyHardMiner(X, Y, {
    distance: metric,
    normalizeEmbeddings: false,
    posStrategy: "hard",
    negStrategy: "easy",
  });
  beh.a1.forEach((a, t) => {
    Y.forEach((y, j) => {
      if (y === Y[a] && j !== a) assert.ok(m[a][j] <= m[a][beh.p[t]] + 1e-4);
      if (y !== Y[a]) assert.ok(m[a][j] <= m[a][beh.n[t]] + 1e-4);
    });
  });
  const uh = uniformHistogramMiner(X, Y, { distance: metric, numBins: 5 });
  assert.ok(uh.a1.length > 0 && uh.a1.length % 10 === 0);
});

Deno.test("embeddingsAlreadyPackagedAsTriplets: whole triplets only", () => {
  assert.deepEqual(lists(embeddingsAlreadyPackagedAsTriplets(X, Y)), [
    [0, 3, 6, 9],
    [1, 4, 7, 10],
    [2, 5, 8, 11],
  ]);
  const seven = tf.zeros([7, 2]) as tf.Tensor2D;
  assert.throws(
    () => embeddingsAlreadyPackagedAsTriplets(seven, [0, 0, 0, 0, 0, 0, 0]),
    /multiple of 3 rows, at least 3\), got 7 rows/,
  );
  seven.dispose();
});

Deno.test("mined tuples feed the losses", () => {
  const losses = [
    contrastiveLoss(X, Y, { indices: batchEasyHardMiner(X, Y) }),
    contrastiveLoss(X, Y, { indices: hdcMiner(X, Y) }),
    contrastiveLoss(X, Y, { indices: uniformHistogramMiner(X, Y) }),
    tripletMarginLoss(X, Y, { indices: distanceWeightedMiner(X, Y) }),
    tripletMarginLoss(X, Y, { indices: angularMiner(X, Y) }),
    tripletMarginLoss(X, Y, { indices: embeddingsAlreadyPackagedAsTriplets(X, Y) }),
  ];
  for (const l of losses) {
    const v = l.dataSync()[0];
    assert.ok(Number.isFinite(v) && v >= 0, `${v}`);
    l.dispose();
  }
});
