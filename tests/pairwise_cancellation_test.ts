/**
 * Fault 7 of issue 13 in `pairwiseDistances`: the float32 expansion ‖x‖² + ‖y‖² − 2x·y, even
 * centred on the data, loses a distance that is small next to the data's *spread*:
 * `[[1000, 1000]]` against `[[0, 0], [1000.0625, 1000]]` gave 0 for the second pair instead of
 * 0.0625. Every metric built on the expansion (`euclidean`, `sqeuclidean`, `seuclidean`,
 * `mahalanobis`, and the noise of `snr`) must report it right, on the exact path (n·m·d up to
 * `EXACT_PAIRWISE_ELEMENTS`, every loss batch) and on the refined expansion above it, at offsets
 * 1e3 … 1e6; gradients stay right and finite.
 *
 * References are float64 loops over the float32 inputs (scipy's cdist on the same values).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type MetricSpec, pairwiseDistances } from "../lib/distances.ts";
import { EXACT_PAIRWISE_ELEMENTS } from "../lib/_squared_distances.ts";
import { createRng } from "../lib/data/random.ts";
import { assertCloseTo } from "./_fixtures.ts";

await tf.setBackend("cpu");

type Rows = number[][];

/** Float64 reference of one metric between rows (scipy's definitions). */
function reference(metric: string, a: Rows, b: Rows, params: { V?: number[]; VI?: Rows }): Rows {
  const d = a[0].length;
  return a.map((x) =>
    b.map((y) => {
      const diff = x.map((v, k) => v - y[k]);
      switch (metric) {
        case "euclidean":
          return Math.hypot(...diff);
        case "sqeuclidean":
          return diff.reduce((s, v) => s + v * v, 0);
        case "seuclidean":
          return Math.sqrt(diff.reduce((s, v, k) => s + v * v / params.V![k], 0));
        case "mahalanobis": {
          let q = 0;
          for (let i = 0; i < d; i++) {
            for (let j = 0; j < d; j++) q += diff[i] * params.VI![i][j] * diff[j];
          }
          return Math.sqrt(Math.max(q, 0));
        }
        case "snr": {
          const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
          const variance = (v: number[]) => {
            const m = mean(v);
            return v.reduce((s, t) => s + (t - m) ** 2, 0);
          };
          return variance(diff) / variance(x);
        }
        default:
          throw new Error(metric);
      }
    })
  );
}

/** float32 values as plain numbers (what the tensors hold). */
const f32 = (rows: Rows): Rows => rows.map((r) => Array.from(Float32Array.from(r)));

function ours(spec: MetricSpec, a: Rows, b: Rows | "self"): Rows {
  return tf.tidy(() => {
    const ta = tf.tensor2d(a);
    const tb = b === "self" ? ta : tf.tensor2d(b);
    return pairwiseDistances(ta, tb, spec).arraySync() as Rows;
  });
}

/** Column variances (ddof 1) of the stacked rows, float64: scipy's default V. */
function stackedVariance(rows: Rows): number[] {
  const n = rows.length, d = rows[0].length;
  return Array.from({ length: d }, (_, k) => {
    const m = rows.reduce((s, r) => s + r[k], 0) / n;
    return rows.reduce((s, r) => s + (r[k] - m) ** 2, 0) / (n - 1);
  });
}

Deno.test("the spread case: [1000, 1000] to [1000.0625, 1000] is 0.0625 in every expansion metric", () => {
  const a = [[1000, 1000]], b = [[0, 0], [1000.0625, 1000]];
  const cases: [MetricSpec, number[]][] = [
    ["euclidean", [Math.hypot(1000, 1000), 0.0625]],
    ["sqeuclidean", [2e6, 0.0625 ** 2]],
    [{ name: "seuclidean", V: [1, 1] }, [Math.hypot(1000, 1000), 0.0625]],
    [{ name: "seuclidean", V: [4, 0.25] }, [Math.hypot(500, 2000), 0.03125]],
    [{ name: "mahalanobis", VI: [[1, 0], [0, 1]] }, [Math.hypot(1000, 1000), 0.0625]],
    [{ name: "mahalanobis", VI: [[2, 1], [1, 2]] }, [Math.sqrt(6e6), 0.0625 * Math.SQRT2]],
    [{ name: "minkowski", p: 2 }, [Math.hypot(1000, 1000), 0.0625]],
  ];
  for (const [spec, expected] of cases) {
    const got = ours(spec, a, b)[0];
    assertCloseTo(got, expected, { rtol: 1e-6, atol: 0 }, JSON.stringify(spec));
    assert.ok(got[1] > 0, `${JSON.stringify(spec)}: ${got[1]}`);
  }
  // snr: the noise of a pair whose difference is (0.0625, 0) over a row's signal.
  const x = [[1000, 1001, 1000]], y = [[1000.0625, 1001, 1000], [0, 0, 0]];
  assertCloseTo(
    ours("snr", x, y)[0],
    reference("snr", f32(x), f32(y), {})[0],
    { rtol: 1e-5 },
    "snr",
  );
  // The default V and VI (data-dependent) too: three points.
  const rows = [...a, ...b];
  assertCloseTo(
    ours("seuclidean", a, b)[0],
    reference("seuclidean", a, b, { V: stackedVariance(rows) })[0],
    { rtol: 1e-6 },
    "seuclidean default V",
  );
});

/** Two clusters `sep` apart at `offset`, points `spread` from their centre (float32 values). */
function clusters(seed: number, n: number, d: number, offset: number, sep: number, spread: number) {
  const rng = createRng(seed);
  return f32(
    Array.from(
      { length: n },
      (_, i) =>
        Array.from(
          { length: d },
          (_, k) => offset + (k === 0 && i % 2 ? sep : 0) + spread * rng.normal(),
        ),
    ),
  );
}

const OFFSETS = [1e3, -1e3, 1e4, 1e5, 1e6];

for (const path of ["exact", "refined"] as const) {
  Deno.test(`far from the origin, spread data, ${path} path: values equal float64 (self and separate)`, () => {
    // Exact: 40 × 30 × 6 elements; refined: above EXACT_PAIRWISE_ELEMENTS.
    const [n, m, d] = path === "exact" ? [40, 30, 6] : [260, 250, 33];
    assert.equal(n * m * d <= EXACT_PAIRWISE_ELEMENTS, path === "exact");
    for (const offset of OFFSETS) {
      // Clusters 100·|offset|·1e-3 apart, points 1e-5·|offset| from their centres: every
      // within-cluster distance is tiny next to the spread that centring leaves.
      const sep = Math.abs(offset) * 0.1, spread = Math.abs(offset) * 1e-5;
      const a = clusters(1, n, d, offset, sep, spread), b = clusters(2, m, d, offset, sep, spread);
      const V = stackedVariance([...a, ...b]).map((v, k) => v * (1 + 0.1 * k));
      const VI = Array.from(
        { length: d },
        (_, i) =>
          Array.from({ length: d }, (_, j) => (i === j ? 1.5 : Math.abs(i - j) === 1 ? 0.25 : 0)),
      );
      const specs: [string, MetricSpec, { V?: number[]; VI?: Rows }][] = [
        ["euclidean", "euclidean", {}],
        ["sqeuclidean", "sqeuclidean", {}],
        ["seuclidean", { name: "seuclidean", V }, { V }],
        ["mahalanobis", { name: "mahalanobis", VI }, { VI }],
        ["snr", "snr", {}],
      ];
      for (const [name, spec, params] of specs) {
        const where = `${name} offset ${offset}`;
        // Relative to each value (tiny distances included), with a floor far below the spread.
        const tol = { rtol: 2e-5, atol: 1e-6 * spread ** 2 };
        const sep2 = ours(spec, a, b), exp2 = reference(name, a, b, params);
        assertCloseTo(sep2, exp2, name === "snr" ? { rtol: 2e-5, atol: 1e-9 } : tol, where);
        const self = ours(spec, a, "self"), expSelf = reference(name, a, a, params);
        assertCloseTo(
          self,
          expSelf,
          name === "snr" ? { rtol: 2e-5, atol: 1e-9 } : tol,
          `${where} self`,
        );
        self.forEach((row, i) => assert.equal(row[i], 0, `${where} self diagonal ${i}`));
      }
    }
  });
}

/** Reference gradient of sum(W ⊙ D(a, b)) by autograd through the [n, m, d] differences. */
function referenceGradients(
  kind: "sq" | "seuclidean" | "mahalanobis" | "snrNoise",
  a: Rows,
  b: Rows | "self",
  w: Rows,
  VI?: Rows,
): Rows[] {
  return tf.tidy(() => {
    const f = (x: tf.Tensor2D, y: tf.Tensor2D) => {
      const diff = tf.sub(tf.expandDims(x, 1), tf.expandDims(y, 0));
      let q: tf.Tensor;
      if (kind === "sq") q = tf.sum(tf.square(diff), 2);
      else if (kind === "snrNoise") {
        q = tf.sum(tf.square(tf.sub(diff, tf.mean(diff, 2, true))), 2);
      } else if (kind === "mahalanobis") {
        const s = tf.tensor2d(VI!);
        const d = x.shape[1];
        q = tf.sum(
          tf.mul(tf.reshape(tf.matMul(tf.reshape(diff, [-1, d]), s), diff.shape), diff),
          2,
        );
      } else {
        // seuclidean with the data-dependent V of the stacked rows (the gradient flows through V).
        const all = tf.concat([x, y], 0);
        const v = tf.div(
          tf.sum(tf.square(tf.sub(all, tf.mean(all, 0, true))), 0),
          all.shape[0] - 1,
        );
        q = tf.sum(tf.div(tf.square(diff), v), 2);
      }
      return tf.sum(tf.mul(q, tf.tensor2d(w)));
    };
    const ta = tf.tensor2d(a);
    if (b === "self") {
      return [
        tf.grad((x: tf.Tensor) => f(x as tf.Tensor2D, x as tf.Tensor2D))(ta).arraySync() as Rows,
      ];
    }
    return tf.grads((x: tf.Tensor, y: tf.Tensor) => f(x as tf.Tensor2D, y as tf.Tensor2D))([
      ta,
      tf.tensor2d(b),
    ]).map((g) => g.arraySync() as Rows);
  });
}

function ourGradients(
  spec: MetricSpec,
  a: Rows,
  b: Rows | "self",
  w: Rows,
  transform: (t: tf.Tensor) => tf.Tensor = (t) => t,
): Rows[] {
  return tf.tidy(() => {
    const f = (x: tf.Tensor2D, y: tf.Tensor2D) =>
      tf.sum(tf.mul(transform(pairwiseDistances(x, y, spec)), tf.tensor2d(w)));
    const ta = tf.tensor2d(a);
    if (b === "self") {
      return [
        tf.grad((x: tf.Tensor) => f(x as tf.Tensor2D, x as tf.Tensor2D))(ta).arraySync() as Rows,
      ];
    }
    return tf.grads((x: tf.Tensor, y: tf.Tensor) => f(x as tf.Tensor2D, y as tf.Tensor2D))([
      ta,
      tf.tensor2d(b),
    ]).map((g) => g.arraySync() as Rows);
  });
}

for (const path of ["exact", "refined"] as const) {
  Deno.test(`gradients equal autograd through the differences, ${path} path (coincident rows included)`, () => {
    const [n, m, d] = path === "exact" ? [9, 7, 4] : [140, 130, 120];
    assert.equal(n * m * d <= EXACT_PAIRWISE_ELEMENTS, path === "exact");
    const rng = createRng(11);
    const a = f32(Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal())));
    const b = f32(
      Array.from(
        { length: m },
        (_, j) => j % 3 === 0 ? [...a[j]] : a[j].map((v) => v + 0.5 * rng.normal()),
      ),
    );
    const w = (rows: number, cols: number) =>
      Array.from(
        { length: rows },
        (_, i) => Array.from({ length: cols }, (_, j) => ((i * 7 + j * 3) % 5) - 1.5),
      );
    const VI = Array.from(
      { length: d },
      (_, i) =>
        Array.from({ length: d }, (_, j) => (i === j ? 2 : Math.abs(i - j) === 1 ? 0.5 : 0)),
    );
    const square = (t: tf.Tensor) => tf.square(t);
    const cases: [
      string,
      MetricSpec,
      "sq" | "seuclidean" | "mahalanobis" | "snrNoise",
      ((t: tf.Tensor) => tf.Tensor) | undefined,
    ][] = [
      ["sqeuclidean", "sqeuclidean", "sq", undefined],
      ["euclidean²", "euclidean", "sq", square],
      ["seuclidean² (default V)", "seuclidean", "seuclidean", square],
      ["mahalanobis²", { name: "mahalanobis", VI }, "mahalanobis", square],
    ];
    for (const [label, spec, kind, transform] of cases) {
      for (const other of [b, "self"] as const) {
        const cols = other === "self" ? n : m;
        const where = `${label} ${other === "self" ? "self" : "separate"}`;
        const got = ourGradients(spec, a, other, w(n, cols), transform);
        const exp = referenceGradients(kind, a, other, w(n, cols), VI);
        got.flat(2).forEach((v) => assert.ok(Number.isFinite(v), `${where}: ${v}`));
        assertCloseTo(got, exp, { rtol: 2e-3, atol: 2e-3 }, where);
      }
    }
  });
}

Deno.test("statistics of rows far from the origin are two-pass: seuclidean's default V, correlation, snr", () => {
  // Spread 4e-6 of the offset: a one-pass float32 mean is off by up to half an ulp of the offset,
  // a shift of up to 15% of the spread, which gave relative errors up to 9.5e-3 (correlation),
  // 5.8e-5 (seuclidean, default V) and 2.2e-2 (snr of y = x + 5000 + noise).
  const rng = createRng(9);
  const centre = (v: number[]) => {
    const m = v.reduce((s, t) => s + t, 0) / v.length;
    return v.map((t) => t - m);
  };
  const correlation = (x: number[], y: number[]) => {
    const u = centre(x), w = centre(y);
    return 1 - u.reduce((s, t, k) => s + t * w[k], 0) / Math.hypot(...u) / Math.hypot(...w);
  };
  for (const offset of [1e3, -1e4, 1e5]) {
    const spread = Math.abs(offset) * 4e-6;
    const rows = (n: number) =>
      f32(
        Array.from({ length: n }, () =>
          Array.from({ length: 5 }, () => offset + spread * rng.normal())),
      );
    const a = rows(6), b = rows(7);
    const V = stackedVariance([...a, ...b]);
    assertCloseTo(
      ours("seuclidean", a, b),
      reference("seuclidean", a, b, { V }),
      { rtol: 1e-6 },
      `seuclidean ${offset}`,
    );
    assertCloseTo(ours("correlation", a, b), a.map((x) => b.map((y) => correlation(x, y))), {
      rtol: 1e-5,
    }, `correlation ${offset}`);
    assertCloseTo(ours("snr", a, b), reference("snr", a, b, {}), { rtol: 1e-5 }, `snr ${offset}`);
    // The differences are exact (Sterbenz) but 5000 from 0: the noise's mean needs two passes.
    const shifted = f32(a.map((x) => x.map((v) => v + 0.5 * offset + spread * rng.normal())));
    assertCloseTo(
      ours("snr", a, shifted),
      reference("snr", a, shifted, {}),
      { rtol: 1e-5 },
      `snr shifted ${offset}`,
    );
  }
});

Deno.test("refined path: pairs just above the refine bound stay within its documented 2^-11", () => {
  const d = 8, n = 532; // n·n·d above EXACT_PAIRWISE_ELEMENTS
  assert.ok(n * n * d > EXACT_PAIRWISE_ELEMENTS);
  const rng = createRng(5);
  const a = f32(Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal())));
  // Pair (i, i) at a relative distance around sqrt(2^-13·(d + 2)·2) of the norms.
  const thr = Math.sqrt(2 ** -13 * (d + 2) * 2);
  const b = f32(a.map((x, i) => x.map((v) => v + thr * (0.5 + (2 * i) / n) * rng.normal())));
  const got = tf.tidy(() =>
    pairwiseDistances(tf.tensor2d(a), tf.tensor2d(b), "sqeuclidean").dataSync()
  );
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const exact = a[i].reduce((s, v, k) => s + (v - b[j][k]) ** 2, 0);
      worst = Math.max(worst, Math.abs(got[i * n + j] - exact) / exact);
    }
  }
  assert.ok(worst <= 2 ** -11, `worst relative error ${worst}`);
});
