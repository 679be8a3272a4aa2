import assert from "node:assert/strict";
import {
  ami,
  expectedMutualInformation,
  kMeans,
  logGamma,
  mutualInformation,
  nmi,
} from "../lib/eval/clustering.ts";
import { createRng } from "../lib/data/random.ts";

/** MI in nats straight from the definition. */
function miByDefinition(u: number[], v: number[]): number {
  const n = u.length;
  let mi = 0;
  for (const a of new Set(u)) {
    for (const b of new Set(v)) {
      const nij = u.filter((x, i) => x === a && v[i] === b).length;
      if (nij === 0) continue;
      const ai = u.filter((x) => x === a).length, bj = v.filter((x) => x === b).length;
      mi += (nij / n) * Math.log((n * nij) / (ai * bj));
    }
  }
  return mi;
}
function entropy(u: number[]): number {
  const n = u.length;
  return -[...new Set(u)].reduce((s, a) => {
    const p = u.filter((x) => x === a).length / n;
    return s + p * Math.log(p);
  }, 0);
}
/** E[MI] by brute force: the mean MI over every permutation of `v` (random labelling, fixed margins). */
function emiByPermutations(u: number[], v: number[]): number {
  let sum = 0, count = 0;
  const perm = (arr: number[], k: number) => {
    if (k === arr.length) {
      sum += miByDefinition(u, arr);
      count++;
      return;
    }
    for (let i = k; i < arr.length; i++) {
      [arr[k], arr[i]] = [arr[i], arr[k]];
      perm(arr, k + 1);
      [arr[k], arr[i]] = [arr[i], arr[k]];
    }
  };
  perm([...v], 0);
  return sum / count;
}

Deno.test("hand-worked: independent 2×2 labelling", () => {
  // MI = 0, H = ln 2 each, E[MI] = 4 cells × P(n_ij = 2) (= 1/6) × (2/4) ln 2 = ln 2 / 3.
  const u = [0, 0, 1, 1], v = [0, 1, 0, 1];
  assert.equal(nmi(u, v), 0);
  assert.ok(Math.abs(expectedMutualInformation(u, v) - Math.LN2 / 3) < 1e-14);
  assert.ok(Math.abs(ami(u, v) - -0.5) < 1e-12); // (0 − ln2/3) / (ln2 − ln2/3)
  assert.ok(Math.abs(mutualInformation([0, 0, 1, 1], [1, 1, 0, 0]) - Math.LN2) < 1e-15);
});

Deno.test("nmi and ami equal brute-force formulas on small random labellings", () => {
  const rng = createRng(2);
  for (let trial = 0; trial < 6; trial++) {
    const n = 7;
    const u = Array.from({ length: n }, () => rng.nextInt(3));
    const v = Array.from({ length: n }, () => rng.nextInt(3) + 10);
    if (new Set(u).size < 2 || new Set(v).size < 2) continue;
    const mi = miByDefinition(u, v);
    const mean = (entropy(u) + entropy(v)) / 2;
    const expectedNmi = mi === 0 ? 0 : mi / mean;
    assert.ok(Math.abs(nmi(u, v) - expectedNmi) < 1e-12, `nmi ${nmi(u, v)} vs ${expectedNmi}`);
    const emi = emiByPermutations(u, v);
    assert.ok(Math.abs(expectedMutualInformation(u, v) - emi) < 1e-12);
    const expectedAmi = (mi - emi) / (mean - emi);
    assert.ok(Math.abs(ami(u, v) - expectedAmi) < 1e-10, `ami ${ami(u, v)} vs ${expectedAmi}`);
  }
});

Deno.test("edge cases as scikit-learn", () => {
  assert.equal(nmi([0, 0, 0], [1, 1, 1]), 1); // one class both sides
  assert.equal(ami([0, 0, 0], [1, 1, 1]), 1);
  assert.equal(nmi([], []), 1);
  assert.equal(nmi([0, 0, 1, 1], [0, 0, 0, 0]), 0); // MI = 0
  assert.equal(ami([0, 0, 1, 1], [0, 0, 0, 0]), 0);
  assert.equal(nmi([3, 3, 8, 8], [1, 1, 0, 0]), 1); // label names do not matter
  assert.ok(Math.abs(ami([3, 3, 8, 8, 5], [1, 1, 0, 0, 7]) - 1) < 1e-12);
  assert.throws(() => nmi([0, 1], [0]), /trueLabels has 2 entries but predLabels has 1/);
  assert.throws(() => ami([0, NaN], [0, 1]), /not a number/);
});

Deno.test("fault 5 (issue 13): degenerate NMI/AMI as scikit-learn 1.9 (identical partitions score 1)", () => {
  // scikit-learn 1.9 gives 1 for ami([1, 0], [1, 0]); MI = E[MI] = H there, a 0/0.
  assert.equal(ami([1, 0], [1, 0]), 1);
  assert.equal(ami([0, 1], [1, 0]), 1);
  assert.equal(nmi([1, 0], [1, 0]), 1);
  for (const n of [2, 3, 4, 7, 30]) {
    const singletons = Array.from({ length: n }, (_, i) => i);
    assert.equal(ami(singletons, singletons), 1, `all singletons, n = ${n}`);
    assert.equal(nmi(singletons, singletons), 1);
    assert.equal(ami(singletons, singletons.map((i) => 100 - i)), 1);
    // One cluster against singletons: 0 (one side carries no information).
    assert.equal(ami(Array(n).fill(0), singletons), 0);
    assert.equal(ami(singletons, Array(n).fill(4)), 0);
    assert.equal(nmi(Array(n).fill(0), singletons), 0);
  }
  // One cluster both sides, n = 1, empty: 1.
  assert.equal(ami([5], [9]), 1);
  assert.equal(nmi([5], [9]), 1);
  assert.equal(ami([], []), 1);
  assert.equal(ami([2, 2, 2], [7, 7, 7]), 1);
  // n = 2, one side one cluster: 0.
  assert.equal(ami([0, 0], [0, 1]), 0);
  assert.equal(nmi([0, 1], [0, 0]), 0);
});

Deno.test("fault 3 (issue 13): kMeans refuses NaN and ±Infinity, naming x and the first bad row", () => {
  const data = new Float32Array([0, 0, 1, 1, 2, 2]);
  data[3] = Infinity;
  assert.throws(
    () => kMeans({ data, n: 3, d: 2 }, 2),
    /kMeans: x row 1 holds Infinity \(column 1\)/,
  );
  data[3] = 1;
  data[4] = -Infinity;
  assert.throws(
    () => kMeans({ data, n: 3, d: 2 }, 2),
    /kMeans: x row 2 holds -Infinity \(column 0\)/,
  );
  data[4] = NaN;
  assert.throws(() => kMeans({ data, n: 3, d: 2 }, 2), /kMeans: x row 2 holds NaN/);
});

Deno.test("logGamma matches exact factorials and Γ(1/2) = √π", () => {
  let fact = 1;
  for (let n = 1; n <= 25; n++) {
    fact *= n;
    assert.ok(Math.abs(logGamma(n + 1) - Math.log(fact)) < 1e-13 * Math.max(1, Math.log(fact)));
  }
  assert.ok(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-13);
  assert.throws(() => logGamma(0), /x must be > 0/);
});

Deno.test("k-means recovers separated blobs; result is a Lloyd fixed point with consistent inertia", () => {
  const rng = createRng(4);
  const centres = [[0, 0], [10, 0], [0, 10]];
  const truth: number[] = [];
  const x = new Float32Array(90 * 2);
  for (let i = 0; i < 90; i++) {
    const c = i % 3;
    truth.push(c);
    x[2 * i] = centres[c][0] + rng.normal();
    x[2 * i + 1] = centres[c][1] + rng.normal();
  }
  const res = kMeans({ data: x, n: 90, d: 2 }, 3, { seed: 1, nInit: 4 });
  assert.equal(nmi(truth, res.labels), 1);
  let inertia = 0;
  for (let c = 0; c < 3; c++) {
    const members = [...res.labels.keys()].filter((i) => res.labels[i] === c);
    for (let t = 0; t < 2; t++) {
      const mean = members.reduce((s, i) => s + x[2 * i + t], 0) / members.length;
      assert.ok(
        Math.abs(res.centroids[2 * c + t] - mean) < 1e-4,
        "centroid is the mean of its members",
      );
    }
  }
  for (let i = 0; i < 90; i++) {
    const dists = [0, 1, 2].map((c) =>
      (x[2 * i] - res.centroids[2 * c]) ** 2 + (x[2 * i + 1] - res.centroids[2 * c + 1]) ** 2
    );
    assert.equal(
      res.labels[i],
      dists.indexOf(Math.min(...dists)),
      "each point is with its nearest centroid",
    );
    inertia += Math.min(...dists);
  }
  assert.ok(Math.abs(res.inertia - inertia) < 1e-3 * inertia);
  const again = kMeans({ data: x, n: 90, d: 2 }, 3, { seed: 1, nInit: 4 });
  assert.deepEqual([...again.labels], [...res.labels]);
  assert.throws(() => kMeans({ data: x, n: 90, d: 2 }, 0), /k must be an integer in \[1, 90\]/);
  assert.throws(() => kMeans({ data: x, n: 90, d: 2 }, 91), /k must be an integer/);
});
