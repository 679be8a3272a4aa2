/**
 * NMI, AMI, mutual information and ROC against scikit-learn 1.9.1 itself: the values in
 * tests/fixtures/clustering.json were computed by scikit-learn from the inputs stored beside them
 * (`bench/fixture_sections/clustering.py`), degenerate cases included.
 */
import assert from "node:assert/strict";
import { ami, mutualInformation, nmi } from "../lib/eval/clustering.ts";
import { rocAuc, rocCurve } from "../lib/eval/verification.ts";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";

interface MiCase {
  name: string;
  labels_true: number[];
  labels_pred: number[];
  nmi: number;
  ami: number;
  mi: number;
}

interface RocCase {
  name: string;
  scores: number[];
  is_same: number[];
  auc: number;
  fpr: number[];
  tpr: number[];
  thresholds: number[];
}

const fixture = loadFixture<{ mutual_information: MiCase[]; roc: RocCase[] }>("clustering");

Deno.test("the clustering fixture was made by scikit-learn 1.9.1 and has the degenerate cases", () => {
  assert.equal(fixture.versions.sklearn, "1.9.1");
  const names = fixture.cases.mutual_information.map((c) => c.name);
  for (
    const n of ["empty", "n1", "n2_identical", "singletons_identical_n3", "one_cluster_both_n5"]
  ) {
    assert.ok(names.includes(n), n);
  }
});

for (const c of fixture.cases.mutual_information) {
  Deno.test(`nmi/ami/mutualInformation equal scikit-learn 1.9.1: ${c.name}`, () => {
    const tol = { rtol: 1e-12, atol: 1e-12 };
    assertCloseTo(nmi(c.labels_true, c.labels_pred), c.nmi, tol, `${c.name}: nmi`);
    assertCloseTo(ami(c.labels_true, c.labels_pred), c.ami, tol, `${c.name}: ami`);
    if (c.labels_true.length > 0) {
      assertCloseTo(mutualInformation(c.labels_true, c.labels_pred), c.mi, tol, `${c.name}: mi`);
    }
  });
}

for (const c of fixture.cases.roc) {
  Deno.test(`rocAuc and rocCurve equal scikit-learn 1.9.1: ${c.name}`, () => {
    assertCloseTo(rocAuc(c.scores, c.is_same), c.auc, { rtol: 1e-12, atol: 1e-12 }, "auc");
    const curve = rocCurve(c.scores, c.is_same);
    assertCloseTo(curve.fpr, c.fpr, { rtol: 1e-12, atol: 1e-12 }, "fpr");
    assertCloseTo(curve.tpr, c.tpr, { rtol: 1e-12, atol: 1e-12 }, "tpr");
    assertCloseTo(curve.thresholds, c.thresholds, { rtol: 0, atol: 0 }, "thresholds");
    // The same pairs as distances (negated scores) give the same curve.
    const d = c.scores.map((s) => -s);
    assertCloseTo(rocAuc(d, c.is_same, { scoreType: "distance" }), c.auc, {
      rtol: 1e-12,
      atol: 1e-12,
    }, "auc (distances)");
  });
}
