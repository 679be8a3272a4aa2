/**
 * Losses against hand-worked cases and against plain float64 reference loops over all pairs /
 * triplets written here (following pytorch-metric-learning's definitions), plus gradients against
 * central finite differences of those references.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  circleLoss,
  contrastiveLoss,
  generalizedLiftedStructureLoss,
  liftedStructureLoss,
  multiSimilarityLoss,
  nPairsLoss,
  ntXentLoss,
  positivePairLoss,
  ringLoss,
  softNearestNeighborLoss,
  supConLoss,
  tripletMarginLoss,
} from "../lib/losses/mod.ts";
import type { TripletIndices } from "../lib/losses/mod.ts";

await tf.setBackend("cpu");

// ---------------------------------------------------------------- reference helpers (float64)
type M = number[][];
const normalize = (x: M): M =>
  x.map((r) => {
    const s = Math.max(Math.sqrt(r.reduce((a, v) => a + v * v, 0)), 1e-12);
    return r.map((v) => v / s);
  });
const euclid = (x: M): M =>
  x.map((a) => x.map((b) => Math.sqrt(a.reduce((s, v, k) => s + (v - b[k]) ** 2, 0))));
const cosSim = (x: M): M => {
  const u = normalize(x);
  return u.map((a) => u.map((b) => a.reduce((s, v, k) => s + v * b[k], 0)));
};
const relu = (v: number) => Math.max(0, v);
const softplus = (v: number) => v > 30 ? v : Math.log1p(Math.exp(v));
const lse = (v: number[]) => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};
const mean = (v: number[]) => v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
const avgNonZero = (v: number[]) => mean(v.filter((x) => x > 0));

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function randn(n: number, d: number, seed: number): M {
  const r = rng(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: d }, () => {
      const u = Math.max(r(), 1e-9), v = r();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }));
}

// ---------------------------------------------------------------- reference losses
const refContrastive = (x: M, y: number[], pm = 0, nm = 1, squared = false) => {
  const d = euclid(normalize(x));
  const h = (v: number) => squared ? 0.5 * relu(v) ** 2 : relu(v);
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < y.length; j++) {
      if (i === j) continue;
      if (y[i] === y[j]) pos.push(h(d[i][j] - pm));
      else neg.push(h(nm - d[i][j]));
    }
  }
  return avgNonZero(pos) + avgNonZero(neg);
};
const refContrastiveCos = (x: M, y: number[], pm = 1, nm = 0) => {
  const s = cosSim(x);
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < y.length; j++) {
      if (i === j) continue;
      if (y[i] === y[j]) pos.push(relu(pm - s[i][j]));
      else neg.push(relu(s[i][j] - nm));
    }
  }
  return avgNonZero(pos) + avgNonZero(neg);
};
const refRing = (x: M, y: number[], rin: number[], rout: number[]) => {
  const d = euclid(normalize(x));
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < y.length; j++) {
      if (i === j) continue;
      if (y[i] === y[j]) pos.push(relu(d[i][j] - rin[y[i]]));
      else neg.push(relu(rout[y[i]] - d[i][j]));
    }
  }
  return avgNonZero(pos) + avgNonZero(neg);
};
const refPositive = (x: M, y: number[]) => {
  const d = euclid(normalize(x));
  const v: number[] = [];
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < y.length; j++) if (i !== j && y[i] === y[j]) v.push(d[i][j]);
  }
  return mean(v);
};
const triplets = (y: number[]) => {
  const t: [number, number, number][] = [];
  for (let a = 0; a < y.length; a++) {
    for (let p = 0; p < y.length; p++) {
      if (p === a || y[p] !== y[a]) continue;
      for (let n = 0; n < y.length; n++) if (y[n] !== y[a]) t.push([a, p, n]);
    }
  }
  return t;
};
const refTriplet = (
  x: M,
  y: number[],
  o: { margin?: number; swap?: boolean; smooth?: boolean; cos?: boolean; mean?: boolean } = {},
  list = triplets(y),
) => {
  const m = o.margin ?? 0.05;
  const d = o.cos ? cosSim(x) : euclid(normalize(x));
  const losses = list.map(([a, p, n]) => {
    let an = d[a][n];
    if (o.swap) an = o.cos ? Math.max(an, d[p][n]) : Math.min(an, d[p][n]);
    const v = (o.cos ? an - d[a][p] : d[a][p] - an) + m;
    return o.smooth ? softplus(v) : relu(v);
  });
  return o.mean ? mean(losses) : avgNonZero(losses);
};
const refNtXent = (x: M, y: number[], t = 0.07) => {
  const s = cosSim(x);
  const v: number[] = [];
  for (let a = 0; a < y.length; a++) {
    const negs = y.map((_, n) => n).filter((n) => y[n] !== y[a]);
    if (!negs.length) continue;
    for (let p = 0; p < y.length; p++) {
      if (p === a || y[p] !== y[a]) continue;
      const num = Math.exp(s[a][p] / t);
      const den = num + negs.reduce((acc, n) => acc + Math.exp(s[a][n] / t), 0);
      v.push(-Math.log(num / den));
    }
  }
  const anyNeg = y.some((l) => l !== y[0]);
  return anyNeg ? mean(v) : 0;
};
const refSupCon = (x: M, y: number[], t = 0.1) => {
  // PML: zero unless the batch has both a positive and a negative pair
  if (new Set(y).size === y.length || new Set(y).size === 1) return 0;
  const s = cosSim(x);
  const out: number[] = [];
  for (let i = 0; i < y.length; i++) {
    const others = y.map((_, k) => k).filter((k) => k !== i);
    const ps = others.filter((k) => y[k] === y[i]);
    if (!ps.length) {
      out.push(0);
      continue;
    }
    const den = lse(others.map((k) => s[i][k] / t));
    out.push(-mean(ps.map((p) => s[i][p] / t - den)));
  }
  return avgNonZero(out);
};
const refMultiSim = (x: M, y: number[], alpha = 2, beta = 50, base = 0.5) => {
  const s = cosSim(x);
  return mean(y.map((_, i) => {
    const ps = y.map((_, k) => k).filter((k) => k !== i && y[k] === y[i]);
    const ns = y.map((_, k) => k).filter((k) => y[k] !== y[i]);
    const pl = Math.log(1 + ps.reduce((a, p) => a + Math.exp(-alpha * (s[i][p] - base)), 0)) /
      alpha;
    const nl = Math.log(1 + ns.reduce((a, n) => a + Math.exp(beta * (s[i][n] - base)), 0)) / beta;
    return pl + nl;
  }));
};
/** Circle loss; `fixed` gives the similarities the (gradient-free) weights are computed from. */
const refCircle = (x: M, y: number[], m = 0.4, gamma = 80, fixed?: M) => {
  const s = cosSim(x);
  const f = fixed ?? s;
  const out = y.map((_, i) => {
    const ps = y.map((_, k) => k).filter((k) => k !== i && y[k] === y[i]);
    const ns = y.map((_, k) => k).filter((k) => y[k] !== y[i]);
    if (!ps.length || !ns.length) return 0;
    const lp = ps.map((p) => -gamma * relu(1 + m - f[i][p]) * (s[i][p] - (1 - m)));
    const ln = ns.map((n) => gamma * relu(f[i][n] + m) * (s[i][n] - m));
    return softplus(lse(lp) + lse(ln));
  });
  return avgNonZero(out);
};
const refLifted = (x: M, y: number[], nm = 1, pm = 0) => {
  const d = euclid(normalize(x));
  const v: number[] = [];
  for (let a = 0; a < y.length; a++) {
    for (let p = 0; p < y.length; p++) {
      if (p === a || y[p] !== y[a]) continue;
      const terms: number[] = [];
      for (const xx of [a, p]) {
        for (let n = 0; n < y.length; n++) if (y[n] !== y[xx]) terms.push(nm - d[xx][n]);
      }
      if (!terms.length) return 0;
      v.push(0.5 * relu(lse(terms) + d[a][p] - pm) ** 2);
    }
  }
  return mean(v);
};
const refGenLifted = (x: M, y: number[], nm = 1, pm = 0) => {
  const d = euclid(normalize(x));
  return mean(y.map((_, i) => {
    const ps = y.map((_, k) => k).filter((k) => k !== i && y[k] === y[i]);
    const ns = y.map((_, k) => k).filter((k) => y[k] !== y[i]);
    const a = ps.length ? lse(ps.map((p) => d[i][p] - pm)) : 0;
    const b = ns.length ? lse(ns.map((n) => nm - d[i][n])) : 0;
    return relu(a + b);
  }));
};
const refNPairs = (x: M, y: number[]) => {
  const s = cosSim(x);
  // first positive pair (row-major) per label, labels ascending
  const chosen: [number, number][] = [];
  for (const label of [...new Set(y)].sort((a, b) => a - b)) {
    outer: for (let i = 0; i < y.length; i++) {
      if (y[i] !== label) continue;
      for (let j = 0; j < y.length; j++) {
        if (j !== i && y[j] === label) {
          chosen.push([i, j]);
          break outer;
        }
      }
    }
  }
  return mean(chosen.map(([a], k) => lse(chosen.map(([, p]) => s[a][p])) - s[a][chosen[k][1]]));
};

/** TF Similarity's soft nearest-neighbour loss, written as its own test loop does. */
const refSoftNN = (x: M, y: number[], temperature = 1, normalizeFirst = false) => {
  const u = normalizeFirst ? normalize(x) : x;
  const n = y.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let num = 0, den = 0, hasPos = false;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const d2 = u[i].reduce((a, v, k) => a + (v - u[j][k]) ** 2, 0);
      const w = Math.exp(-d2 / temperature);
      den += w;
      if (y[i] === y[j]) {
        num += w;
        hasPos = true;
      }
    }
    if (hasPos) total += -Math.log(1e-9 + num / den);
  }
  return total / n;
};

// ---------------------------------------------------------------- tf helpers
const t2 = (x: M) => tf.tensor2d(x);
function value(f: (e: tf.Tensor2D) => tf.Scalar, x: M): number {
  return tf.tidy(() => f(t2(x)).dataSync()[0]);
}
function close(actual: number, expected: number, tol = 2e-5, what = "") {
  assert.ok(
    Number.isFinite(actual) && Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: got ${actual}, expected ${expected}`,
  );
}
/** tf.grad of the implementation against central differences of the float64 reference. */
function checkGrad(
  f: (e: tf.Tensor2D) => tf.Scalar,
  ref: (x: M) => number,
  x: M,
  what: string,
  h = 1e-5,
) {
  const g = tf.tidy(() => tf.grad((e: tf.Tensor) => f(e as tf.Tensor2D))(t2(x)).arraySync() as M);
  let maxRef = 0;
  const num: M = x.map((r, i) =>
    r.map((_, k) => {
      const plus = x.map((rr) => [...rr]), minus = x.map((rr) => [...rr]);
      plus[i][k] += h;
      minus[i][k] -= h;
      const v = (ref(plus) - ref(minus)) / (2 * h);
      maxRef = Math.max(maxRef, Math.abs(v));
      return v;
    })
  );
  assert.ok(maxRef > 1e-6, `${what}: reference gradient is zero; the check would be vacuous`);
  for (let i = 0; i < x.length; i++) {
    for (let k = 0; k < x[0].length; k++) {
      const err = Math.abs(g[i][k] - num[i][k]);
      assert.ok(
        Number.isFinite(g[i][k]) && err <= 2e-2 * maxRef + 1e-5,
        `${what}: d/dx[${i}][${k}] = ${g[i][k]}, finite differences ${num[i][k]}`,
      );
    }
  }
}

// A hand-worked batch: a = (1, 0), b = (0.6, 0.8) share label 0, c = (0, 1) has label 1.
// d(a,b) = √0.8, d(a,c) = √2, d(b,c) = √0.4; cos(a,b) = 0.6, cos(a,c) = 0, cos(b,c) = 0.8.
const HAND: M = [[1, 0], [0.6, 0.8], [0, 1]];
const HAND_Y = [0, 0, 1];

Deno.test("contrastiveLoss: hand-worked case", () => {
  // positives: √0.8 twice → 0.894427; negatives: relu(1 − √2) = 0 twice, 1 − √0.4 twice
  close(value((e) => contrastiveLoss(e, HAND_Y), HAND), Math.sqrt(0.8) + 1 - Math.sqrt(0.4));
  // squared: ½·0.8 and ½(1 − √0.4)²
  close(
    value((e) => contrastiveLoss(e, HAND_Y, { squared: true }), HAND),
    0.4 + 0.5 * (1 - Math.sqrt(0.4)) ** 2,
  );
  // mean over all pairs of each kind: negatives (0 + 0.3675…)/2
  close(
    value((e) => contrastiveLoss(e, HAND_Y, { reduction: "mean" }), HAND),
    Math.sqrt(0.8) + (1 - Math.sqrt(0.4)) / 2,
  );
  // cosine similarity, posMargin 1, negMargin 0.5: positives 1 − 0.6, negatives 0.8 − 0.5
  close(
    value(
      (e) => contrastiveLoss(e, HAND_Y, { distance: "cosine", posMargin: 1, negMargin: 0.5 }),
      HAND,
    ),
    0.4 + 0.3,
  );
});

Deno.test("tripletMarginLoss, positivePairLoss, ringLoss: hand-worked cases", () => {
  // (a,b,c): √0.8 − √2 + 0.05 < 0; (b,a,c): √0.8 − √0.4 + 0.05
  const t = Math.sqrt(0.8) - Math.sqrt(0.4) + 0.05;
  close(value((e) => tripletMarginLoss(e, HAND_Y), HAND), t);
  close(value((e) => tripletMarginLoss(e, HAND_Y, { reduction: "mean" }), HAND), t / 2);
  close(value((e) => tripletMarginLoss(e, HAND_Y, { reduction: "sum" }), HAND), t);
  close(value((e) => positivePairLoss(e, HAND_Y), HAND), Math.sqrt(0.8));
  // ring: class 0 radius 0.5 → √0.8 − 0.5; outer radius 1 for class 0, 1.5 for class 1:
  // negatives from a: relu(1 − √2) = 0, from b: 1 − √0.4, from c: 1.5 − √2, 1.5 − √0.4
  const negs = [1 - Math.sqrt(0.4), 1.5 - Math.sqrt(2), 1.5 - Math.sqrt(0.4)];
  close(
    value((e) => ringLoss(e, HAND_Y, { innerRadius: [0.5, 0.1], outerRadius: [1, 1.5] }), HAND),
    Math.sqrt(0.8) - 0.5 + negs.reduce((a, b) => a + b) / 3,
  );
});

Deno.test("softmax losses: hand-worked cases (temperature 1)", () => {
  // NT-Xent: (a,b): log(1 + e^{0 − 0.6}); (b,a): log(1 + e^{0.8 − 0.6})
  const l1 = Math.log(1 + Math.exp(-0.6)), l2 = Math.log(1 + Math.exp(0.2));
  close(value((e) => ntXentLoss(e, HAND_Y, { temperature: 1 }), HAND), (l1 + l2) / 2);
  // SupCon: the same two anchors (one positive each, denominators over both others); c has none
  close(value((e) => supConLoss(e, HAND_Y, { temperature: 1 }), HAND), (l1 + l2) / 2);
  // multi-similarity: a: ½log(1+e^{−0.2}) + log(1+e^{−25})/50; b: ½log(1+e^{−0.2}) +
  // log(1+e^{15})/50; c: log(1 + e^{−25} + e^{15})/50
  const pos = 0.5 * Math.log(1 + Math.exp(-0.2));
  const ms = (2 * pos + Math.log(1 + Math.exp(-25)) / 50 + Math.log(1 + Math.exp(15)) / 50 +
    Math.log(1 + Math.exp(-25) + Math.exp(15)) / 50) / 3;
  close(value((e) => multiSimilarityLoss(e, HAND_Y), HAND), ms);
  // N-pairs: one pair (a, b) for label 0, none for label 1: log(e^0.6 / e^0.6) = 0
  close(value((e) => nPairsLoss(e, HAND_Y), HAND), 0);
});

const BATCHES: { x: M; y: number[] }[] = [
  { x: randn(10, 4, 1), y: [0, 1, 2, 0, 1, 2, 0, 1, 2, 0] },
  { x: randn(9, 3, 7), y: [3, 3, 1, 1, 1, 5, 5, 5, 5] },
];

const CASES: {
  name: string;
  f: (e: tf.Tensor2D, y: number[]) => tf.Scalar;
  ref: (x: M, y: number[]) => number;
}[] = [
  { name: "contrastive", f: (e, y) => contrastiveLoss(e, y), ref: (x, y) => refContrastive(x, y) },
  {
    name: "contrastive margins squared",
    f: (e, y) => contrastiveLoss(e, y, { posMargin: 0.3, negMargin: 1.2, squared: true }),
    ref: (x, y) => refContrastive(x, y, 0.3, 1.2, true),
  },
  {
    name: "contrastive cosine",
    f: (e, y) => contrastiveLoss(e, y, { distance: "cosine", posMargin: 0.9, negMargin: 0.1 }),
    ref: (x, y) => refContrastiveCos(x, y, 0.9, 0.1),
  },
  { name: "positivePair", f: (e, y) => positivePairLoss(e, y), ref: refPositive },
  {
    name: "ring per class",
    f: (e, y) =>
      ringLoss(e, y, {
        innerRadius: [0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        outerRadius: [1, 1.1, 1.2, 1.3, 1.4, 1.5],
      }),
    ref: (x, y) => refRing(x, y, [0.4, 0.5, 0.6, 0.7, 0.8, 0.9], [1, 1.1, 1.2, 1.3, 1.4, 1.5]),
  },
  {
    name: "triplet",
    f: (e, y) => tripletMarginLoss(e, y, { margin: 0.2 }),
    ref: (x, y) => refTriplet(x, y, { margin: 0.2 }),
  },
  {
    name: "triplet blocked swap",
    f: (e, y) => tripletMarginLoss(e, y, { margin: 0.3, swap: true, anchorsPerBlock: 3 }),
    ref: (x, y) => refTriplet(x, y, { margin: 0.3, swap: true }),
  },
  {
    name: "triplet smooth mean",
    f: (e, y) =>
      tripletMarginLoss(e, y, { smoothLoss: true, reduction: "mean", anchorsPerBlock: 4 }),
    ref: (x, y) => refTriplet(x, y, { smooth: true, mean: true }),
  },
  {
    name: "triplet cosine swap",
    f: (e, y) => tripletMarginLoss(e, y, { distance: "cosine", swap: true, margin: 0.4 }),
    ref: (x, y) => refTriplet(x, y, { cos: true, swap: true, margin: 0.4 }),
  },
  {
    name: "ntXent",
    f: (e, y) => ntXentLoss(e, y, { temperature: 0.5 }),
    ref: (x, y) => refNtXent(x, y, 0.5),
  },
  { name: "ntXent default", f: (e, y) => ntXentLoss(e, y), ref: (x, y) => refNtXent(x, y) },
  { name: "supCon", f: (e, y) => supConLoss(e, y), ref: (x, y) => refSupCon(x, y) },
  {
    name: "multiSimilarity",
    f: (e, y) => multiSimilarityLoss(e, y, { beta: 10 }),
    ref: (x, y) => refMultiSim(x, y, 2, 10),
  },
  {
    name: "multiSimilarity default",
    f: (e, y) => multiSimilarityLoss(e, y),
    ref: (x, y) => refMultiSim(x, y),
  },
  {
    name: "circle",
    f: (e, y) => circleLoss(e, y, { gamma: 8 }),
    ref: (x, y) => refCircle(x, y, 0.4, 8),
  },
  { name: "circle default", f: (e, y) => circleLoss(e, y), ref: (x, y) => refCircle(x, y) },
  { name: "liftedStructure", f: (e, y) => liftedStructureLoss(e, y), ref: refLifted },
  {
    name: "generalizedLiftedStructure",
    f: (e, y) => generalizedLiftedStructureLoss(e, y),
    ref: refGenLifted,
  },
  { name: "nPairs", f: (e, y) => nPairsLoss(e, y), ref: refNPairs },
  { name: "softNN", f: (e, y) => softNearestNeighborLoss(e, y), ref: (x, y) => refSoftNN(x, y) },
  {
    name: "softNN T=0.5 normalised",
    f: (e, y) => softNearestNeighborLoss(e, y, { temperature: 0.5, normalizeEmbeddings: true }),
    ref: (x, y) => refSoftNN(x, y, 0.5, true),
  },
];

Deno.test("softNearestNeighborLoss: hand-worked case, singleton classes count as 0 over n", () => {
  // a = (0, 0), b = (1, 0) share label 0; c = (0, 2) is alone in label 1. T = 1, squared L2:
  // ℓ(a) = −log(e⁻¹ / (e⁻¹ + e⁻⁴)), ℓ(b) = −log(e⁻¹ / (e⁻¹ + e⁻⁵)), ℓ(c) = 0; loss = Σ / 3.
  const la = Math.log(1 + Math.exp(-3)), lb = Math.log(1 + Math.exp(-4));
  const x: M = [[0, 0], [1, 0], [0, 2]];
  close(value((e) => softNearestNeighborLoss(e, [0, 0, 1]), x), (la + lb) / 3, 1e-5, "softNN");
  close(
    value((e) => softNearestNeighborLoss(e, [0, 0, 1], { reduction: "sum" }), x),
    la + lb,
    1e-5,
    "softNN sum",
  );
  // All samples in distinct classes: every term is 0.
  close(value((e) => softNearestNeighborLoss(e, [0, 1, 2]), x), 0, 1e-7, "softNN no positives");
  assert.throws(
    () => softNearestNeighborLoss(t2(x), [0, 0, 1], { temperature: 0 }),
    /temperature must be a finite number > 0/,
  );
  assert.throws(
    () => softNearestNeighborLoss(t2(x), [0, 0, 1], { temprature: 1 } as never),
    /unknown option/,
  );
});

Deno.test("every loss equals its reference loop on random batches", () => {
  for (const { name, f, ref } of CASES) {
    for (const [b, { x, y }] of BATCHES.entries()) {
      close(value((e) => f(e, y), x), ref(x, y), 1e-4, `${name} batch ${b}`);
    }
  }
});

Deno.test("every loss's gradient matches finite differences of its reference", () => {
  const { x, y } = BATCHES[0];
  for (const { name, f, ref } of CASES) {
    if (name.startsWith("circle")) continue; // weights carry no gradient: checked below
    checkGrad((e) => f(e, y), (z) => ref(z, y), x, name);
  }
  // Circle loss: α weights are constants at the evaluation point, as PML's .detach().
  const fixed = cosSim(x);
  checkGrad(
    (e) => circleLoss(e, y, { gamma: 8 }),
    (z) => refCircle(z, y, 0.4, 8, fixed),
    x,
    "circle",
  );
  checkGrad((e) => circleLoss(e, y), (z) => refCircle(z, y, 0.4, 80, fixed), x, "circle default");
});

Deno.test("losses with mined indices use exactly those tuples", () => {
  const { x, y } = BATCHES[0];
  const all = triplets(y);
  const pick = all.filter((_, i) => i % 7 === 0);
  const indices: TripletIndices = {
    a: Int32Array.from(pick.map((t) => t[0])),
    p: Int32Array.from(pick.map((t) => t[1])),
    n: Int32Array.from(pick.map((t) => t[2])),
  };
  close(
    value((e) => tripletMarginLoss(e, y, { indices, margin: 0.5 }), x),
    refTriplet(x, y, { margin: 0.5 }, pick),
    1e-4,
    "triplet with indices",
  );
  checkGrad(
    (e) => tripletMarginLoss(e, y, { indices, margin: 0.5, swap: true }),
    (z) => refTriplet(z, y, { margin: 0.5, swap: true }, pick),
    x,
    "triplet with indices (swap)",
  );
  // Triplets → pairs (a, p, a, n) for the contrastive loss: repeated pairs count repeatedly.
  const d = euclid(normalize(x));
  const pos = pick.map(([a, p]) => d[a][p]);
  const neg = pick.map(([a, , n]) => relu(1 - d[a][n]));
  close(
    value((e) => contrastiveLoss(e, y, { indices }), x),
    avgNonZero(pos) + avgNonZero(neg),
    1e-4,
    "contrastive with triplet indices",
  );
  // "none" returns one loss per triplet.
  const none = tf.tidy(() =>
    Array.from(tripletMarginLoss(t2(x), y, { indices, reduction: "none", margin: 0.5 }).dataSync())
  );
  assert.equal(none.length, pick.length);
});

Deno.test("no-positive and no-negative batches give PML's defined values, never NaN", () => {
  const x = randn(4, 3, 3);
  const noPos = [0, 1, 2, 3], noNeg = [5, 5, 5, 5];
  for (const { name, f, ref } of CASES) {
    for (const y of [noPos, noNeg]) {
      const v = value((e) => f(e, y), x);
      close(v, ref(x, y), 1e-4, `${name} labels ${y}`);
      const g = tf.tidy(() =>
        Array.from(tf.grad((e: tf.Tensor) => f(e as tf.Tensor2D, y))(t2(x)).dataSync())
      );
      assert.ok(g.every(Number.isFinite), `${name}: gradient not finite for labels ${y}`);
    }
  }
  // PML gives exactly zero for these when a kind of pair is missing.
  // (A list of differently-optioned losses has no common overload: give it the batch-loss type.)
  const zeroAtDegenerate: ((e: tf.Tensor2D, y: number[]) => tf.Scalar)[] = [
    tripletMarginLoss,
    ntXentLoss,
    supConLoss,
    circleLoss,
    liftedStructureLoss,
  ];
  for (const f of zeroAtDegenerate) {
    assert.ok(value((e) => f(e, noPos), x) === 0, `${f.name}: no positives`);
    assert.ok(value((e) => f(e, noNeg), x) === 0, `${f.name}: no negatives`);
  }
  assert.ok(value((e) => nPairsLoss(e, noPos), x) === 0);
});

Deno.test("options are checked", () => {
  const e = t2(HAND);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => contrastiveLoss(e, HAND_Y, { negMarign: 1 } as any),
    /contrastiveLoss: unknown option "negMarign"/,
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => tripletMarginLoss(e, HAND_Y, { margn: 1 } as any), /unknown option "margn"/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => ntXentLoss(e, HAND_Y, { reduction: "avg" as any }), /unknown reduction/);
  assert.throws(() => circleLoss(e, HAND_Y, { distance: "euclidean" }), /must be "cosine"/);
  assert.throws(() => contrastiveLoss(e, [0, 1]), /expected 3 labels/);
  assert.throws(() => ringLoss(e, HAND_Y, { innerRadius: [0.5] }), /innerRadius\[1\]/);
  assert.throws(() => ringLoss(e, HAND_Y, { innerRadius: 1, outerRadius: 0.5 }), /smaller/);
  e.dispose();
});

Deno.test("losses leak no tensors and train inside optimizer.minimize", () => {
  const x = tf.variable(tf.tensor2d(randn(8, 3, 11)));
  const y = [0, 0, 1, 1, 2, 2, 3, 3];
  const opt = tf.train.sgd(0.1);
  const before = tf.memory().numTensors;
  for (const { f } of CASES) {
    const l = opt.minimize(() => f(x as unknown as tf.Tensor2D, y), true) as tf.Scalar;
    assert.ok(Number.isFinite(l.dataSync()[0]));
    l.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  x.dispose();
});

Deno.test("all-triplet loss and gradient never hold an [n, n, n] tensor", async () => {
  const n = 64;
  const x = tf.tensor2d(randn(n, 8, 21));
  const y = Array.from({ length: n }, (_, i) => i % 4);
  const info = await tf.profile(() => {
    const g = tf.grad((e: tf.Tensor) => tripletMarginLoss(e as tf.Tensor2D, y))(x);
    g.dispose();
  });
  const largest = Math.max(
    ...info.kernels.map((k) => k.outputShapes.reduce((m, s) => Math.max(m, sizeOf(s)), 0)),
  );
  assert.ok(largest >= 16 * 16 * 48, `blocks not seen by the profiler (${largest})`);
  // Classes of 16: a block is 16 anchors × 16 positives × 48 negatives = n³ / 21.
  assert.ok(largest <= 16 * 16 * 48, `largest kernel output has ${largest} elements`);
  assert.ok(largest < n ** 3 / 16);
  x.dispose();
});

function sizeOf(shape: number[] | undefined): number {
  return shape ? shape.reduce((a, b) => a * b, 1) : 0;
}
