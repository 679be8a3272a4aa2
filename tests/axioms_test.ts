import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { axiomSamples, checkMetricAxioms } from "../lib/axioms.ts";
import {
  type Axiom,
  type Metric,
  metricNames,
  type MetricSpec,
  resolveMetric,
} from "../lib/distances.ts";

await tf.setBackend("cpu");

const AXIOMS: Axiom[] = ["nonNegativity", "identity", "symmetry", "triangleInequality"];

const SPECS: MetricSpec[] = [
  ...metricNames().filter((n) => resolveMetric(n).name === n),
  { name: "minkowski", p: 0.5 },
  { name: "minkowski", p: 1 },
  { name: "minkowski", p: 3 },
  { name: "seuclidean", V: [0.5, 1, 2] },
  { name: "mahalanobis", VI: [[2, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 3]] },
];

Deno.test("every declaration agrees with the checker (declared true: no violation; false: a counterexample)", async () => {
  for (const spec of SPECS) {
    const metric = resolveMetric(spec);
    const fixedDim = typeof spec === "object" && ("V" in spec || "VI" in spec);
    // Dimension ≥ 3: in 1-d cosine and in 2-d correlation only take the values 0 and 2, which
    // cannot break the triangle inequality.
    for (const dim of fixedDim ? [3] : [3, 6]) {
      const verdicts = new Map<Axiom, boolean[]>();
      for (const seed of [0, 1, 2]) {
        const report = await checkMetricAxioms(metric, undefined, { seed, dim });
        for (const a of AXIOMS) {
          verdicts.set(a, [...(verdicts.get(a) ?? []), report.results[a].holds]);
        }
      }
      for (const a of AXIOMS) {
        const held = verdicts.get(a)!;
        const label = `${JSON.stringify(spec)} dim ${dim} ${a}`;
        if (metric.axioms[a]) assert.ok(held.every((h) => h), `${label}: declared true, violated`);
        // A declared-false axiom must be refuted on every seed (the adversarial points suffice).
        else assert.ok(held.every((h) => !h), `${label}: declared false, no counterexample found`);
      }
    }
  }
});

Deno.test("counterexamples are genuine: cosine on e1, (e1 + e2)/√2, e2", async () => {
  const s = Math.SQRT1_2;
  const report = await checkMetricAxioms("cosine", [[1, 0], [s, s], [0, 1]], {
    adversarial: false,
  });
  const tri = report.results.triangleInequality;
  assert.equal(tri.holds, false);
  if (!tri.holds) {
    const v = tri.counterexample.values;
    assert.ok(Math.abs(v["d(x,z)"] - 1) < 1e-5);
    assert.ok(Math.abs(v["d(x,y)"] - (1 - s)) < 1e-5);
    assert.ok(v["d(x,z)"] > v["d(x,y)"] + v["d(y,z)"]);
    assert.deepEqual(tri.counterexample.points[0], [1, 0]);
    assert.match(tri.counterexample.explanation, />/);
  }
  // Parallel vectors: cosine distance 0 although the points differ.
  const par = await checkMetricAxioms("cosine", tf.tensor2d([[1, 2], [2, 4]]));
  assert.equal(par.results.identity.holds, false);
  assert.equal(par.agreesWithDeclaration, false); // triangle cannot fail on two points
});

Deno.test("sqeuclidean breaks the triangle inequality on a collinear triple, euclidean does not", async () => {
  const pts = [[0, 0], [1, 0], [2, 0]];
  const sq = await checkMetricAxioms("sqeuclidean", pts);
  assert.equal(sq.results.triangleInequality.holds, false);
  if (!sq.results.triangleInequality.holds) {
    assert.deepEqual(sq.results.triangleInequality.counterexample.values, {
      "d(x,z)": 4,
      "d(x,y)": 1,
      "d(y,z)": 1,
    });
  }
  const eu = await checkMetricAxioms("euclidean", pts);
  assert.ok(Object.values(eu.results).every((r) => r.holds));
  assert.equal(eu.agreesWithDeclaration, true);
});

Deno.test("user metrics: an asymmetric and a negative 'distance' are caught", async () => {
  const asymmetric: Metric = {
    name: "leftBiased",
    isSimilarity: false,
    axioms: { nonNegativity: true, identity: true, symmetry: true, triangleInequality: true },
    // d(x, y) = ‖x − y‖₁ + max(0, Σx − Σy): not symmetric.
    pairwise: (a, b) =>
      tf.tidy(() =>
        tf.add(
          tf.sum(tf.abs(tf.sub(tf.expandDims(a, 1), tf.expandDims(b, 0))), 2),
          tf.relu(tf.sub(tf.sum(a, 1, true), tf.reshape(tf.sum(b, 1), [1, -1]))),
        ) as tf.Tensor2D
      ),
  };
  const report = await checkMetricAxioms(asymmetric, undefined, { dim: 3 });
  assert.equal(report.results.symmetry.holds, false);
  assert.equal(report.agreesWithDeclaration, false);
  if (!report.results.symmetry.holds) {
    const v = report.results.symmetry.counterexample.values;
    assert.notEqual(v["d(x,y)"], v["d(y,x)"]);
  }
  const dot = await checkMetricAxioms("dot", [[1, 0], [-1, 0]]);
  assert.equal(dot.results.nonNegativity.holds, false);
  assert.equal(dot.results.identity.holds, false); // d(x, x) = 1
});

Deno.test("jensenshannon checks distributions: scaled copies are the same point", async () => {
  const report = await checkMetricAxioms("jensenshannon", [[1, 2, 1], [2, 4, 2], [0, 1, 3], [
    5,
    0,
    0,
  ]]);
  assert.equal(report.domain, "simplex");
  assert.ok(Object.values(report.results).every((r) => r.holds));
  // Zero rows are outside its domain: the checker skips their ∞ values and counts them.
  const withZero = await checkMetricAxioms("euclidean", [[0, 0], [1, 1]]);
  assert.equal(withZero.undefinedPairs, 0);
  const cos = await checkMetricAxioms("cosine", [[0, 0], [1, 1], [1, 0]]);
  assert.equal(cos.undefinedPairs, 5); // d(0, ·) and d(·, 0) are NaN
});

Deno.test("axiomSamples: seeded, right shape and domain", () => {
  const a = axiomSamples("real", 10, 4, 3);
  assert.deepEqual(a, axiomSamples("real", 10, 4, 3));
  assert.notDeepEqual(a, axiomSamples("real", 10, 4, 4));
  assert.ok(a.every((r) => r.length === 4));
  assert.ok(axiomSamples("nonnegative", 10, 4, 0).flat().every((v) => v >= 0));
  assert.ok(axiomSamples("binary", 10, 4, 0).flat().every((v) => v === 0 || v === 1));
  for (const r of axiomSamples("simplex", 10, 4, 0)) {
    assert.ok(Math.abs(r.reduce((s, t) => s + t, 0) - 1) < 1e-12);
  }
  assert.throws(() => axiomSamples("real", 1, 0, 0), /dim must be/);
});
