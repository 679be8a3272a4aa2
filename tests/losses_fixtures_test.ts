/**
 * The losses against pytorch-metric-learning 2.9.0 itself: tests/fixtures/losses.json holds, for
 * each case, the inputs, our function and options, and the value, gradient (float64) and
 * per-element losses (DoNothingReducer) that PML computed (`bench/fixture_sections/losses.py`).
 * Only the public API (`lib/mod.ts`) is called.
 *
 * A case that disagrees with PML and is not fixed yet is listed in `KNOWN_DISCREPANCIES` with a
 * TODO naming it; its test is skipped (reported as ignored), so it cannot go unnoticed.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as lib from "../lib/mod.ts";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";

await tf.setBackend("cpu");

interface NonePart {
  key: string;
  /** PML's per-element losses, `[k]` or `[k, 1]`. */
  losses: (number | number[])[];
  indices: number[][];
  reduction_type: string;
}
interface LossCase {
  name: string;
  loss: string;
  options: Record<string, unknown>;
  pml: { class: string; kwargs: Record<string, unknown> };
  embeddings: number[][];
  labels: number[];
  indices: Record<string, number[]> | null;
  value: number | null;
  grad: number[][] | null;
  none: NonePart[] | null;
}

type LossFn = (e: tf.Tensor2D, labels: number[], options: Record<string, unknown>) => tf.Tensor;
const FUNCTIONS = lib as unknown as Record<string, LossFn>;

/**
 * Cases where the library disagrees with PML today, each with the exact discrepancy, for the
 * losses' owner to fix (TODO: remove an entry once its case passes).
 */
const KNOWN_DISCREPANCIES: Record<string, string> = {};

const fixture = loadFixture<LossCase[]>("losses");

function optionsOf(c: LossCase): Record<string, unknown> {
  const o: Record<string, unknown> = { ...c.options };
  if (c.indices) {
    o.indices = Object.fromEntries(
      Object.entries(c.indices).map(([k, v]) => [k, Int32Array.from(v)]),
    );
  }
  return o;
}

/** PML's per-element losses in our "none" layout: pairs scattered into `[n, n]`, else a vector. */
function pmlNoneLayout(parts: NonePart[], n: number, ours: number[]): number[] {
  const pairs = parts.filter((p) => p.reduction_type.endsWith("pair"));
  if (pairs.length > 0 && ours.length === n * n) {
    const m = new Array(n * n).fill(0);
    for (const p of pairs) {
      const [rows, cols] = p.indices;
      p.losses.flat().forEach((v, t) => (m[rows[t] * n + cols[t]] += v));
    }
    return m;
  }
  return parts.flatMap((p) => p.losses.flat());
}

Deno.test("the loss fixture was made by PML 2.9.0 and covers every loss with a PML counterpart", () => {
  assert.equal(fixture.versions.pytorch_metric_learning, "2.9.0");
  const losses = new Set(fixture.cases.map((c) => c.loss));
  for (
    const name of [
      "contrastiveLoss",
      "tripletMarginLoss",
      "ntXentLoss",
      "supConLoss",
      "multiSimilarityLoss",
      "circleLoss",
      "liftedStructureLoss",
      "generalizedLiftedStructureLoss",
      "nPairsLoss",
    ]
  ) {
    assert.ok(losses.has(name), name);
  }
  for (const r of ["mean", "sum", "none"]) {
    assert.ok(fixture.cases.some((c) => c.options.reduction === r), `reduction ${r}`);
  }
});

for (const c of fixture.cases) {
  const todo = KNOWN_DISCREPANCIES[c.name];
  Deno.test({
    name: `${c.loss} equals PML's ${c.pml.class}: ${c.name} ${JSON.stringify(c.options)}` +
      (todo ? ` (TODO: ${todo})` : ""),
    ignore: todo !== undefined,
    fn: () => {
      const fn = FUNCTIONS[c.loss];
      assert.equal(typeof fn, "function", `${c.loss} is exported by lib/mod.ts`);
      const e = tf.tensor2d(c.embeddings);
      const options = optionsOf(c);
      const tol = { rtol: 2e-4, atol: 2e-5 };
      try {
        if (c.none) {
          const out = tf.tidy(() => fn(e, c.labels, options));
          const ours = Array.from(out.dataSync());
          out.dispose();
          assertCloseTo(ours, pmlNoneLayout(c.none, c.labels.length, ours), tol, `${c.name} none`);
          return;
        }
        const { value, grad } = tf.tidy(() => {
          const r = tf.valueAndGrad((t: tf.Tensor) =>
            fn(t as tf.Tensor2D, c.labels, options) as tf.Scalar
          )(e);
          return { value: tf.keep(r.value), grad: tf.keep(r.grad) };
        });
        assertCloseTo(value.dataSync()[0], c.value, tol, `${c.name} value`);
        assertCloseTo(grad.arraySync(), c.grad, { rtol: 2e-3, atol: 2e-4 }, `${c.name} gradient`);
        value.dispose();
        grad.dispose();
      } finally {
        e.dispose();
      }
    },
  });
}
