/**
 * Empty batches behave as pytorch-metric-learning 2.9.0's (`tests/fixtures/empty_batches.json`,
 * from `bench/fixture_sections/empty_batches.py`): every loss of the library on a batch of 0 rows
 * and on an empty reference set gives PML's 0, connected to the embeddings (gradient zeros), or —
 * where PML returns NaN or fails — refuses by name, saying that the batch is empty; with
 * `reduction: "none"` the loss's empty per-element tensor. So do the wrappers and an embedding
 * regularizer.
 *
 * Every template loss `lib/mod.ts` exports is checked: a loss without a fixture entry fails here
 * unless it is one of the library's own (not PML's) losses, which give the template's 0.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as lib from "../lib/mod.ts";
import { LOSSES, NUM_CLASSES } from "./_loss_registry.ts";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";

await tf.setBackend("cpu");

type Outcome = { value?: number; connected?: boolean; grad?: number[][] | null; error?: string };
/** PML's sub-loss with its `DoNothingReducer`. */
type SubLoss = { kind?: string; shape?: number[]; values?: number[]; error?: string };
interface LossCase {
  pml: string;
  batch: Outcome;
  none: Record<string, SubLoss> & { error?: string };
  /** PML's constructor keywords (`num_classes`, `embedding_size`, …). */
  args: Record<string, unknown>;
  refEmpty?: Outcome;
  emptyWithRef?: Outcome;
}
interface Fixture {
  d: number;
  x: number[][];
  y: number[];
  ref: number[][];
  refY: number[];
  losses: Record<string, LossCase>;
  wrappers: Record<string, Outcome>;
  embeddingRegularizer: Record<string, Outcome>;
}

const fixture = loadFixture<Fixture>("empty_batches").cases;
const D = fixture.d;

/** The library's losses that are not PML classes: the template's default (PML's zero_loss). */
const OWN_LOSSES = ["positivePairLoss", "ringLoss", "softNearestNeighborLoss"];

/** Template losses exported by `lib/mod.ts`, called through the registry (required options). */
const templateLosses = Object.entries(lib)
  .filter(([, v]) => lib.isLoss(v))
  .map(([name, v]) => {
    const entry = LOSSES.find((l) => l.name === name);
    assert.ok(entry, `${name} is not in tests/_loss_registry.ts`);
    return { name, def: (v as lib.Loss).definition, call: entry.loss };
  });

/** PML's answer is a number other than NaN (its zero_loss) rather than NaN or an exception. */
function pmlGivesZero(o: Outcome): boolean {
  return o.error === undefined && o.value === 0;
}

/** `f`'s value and shape, and (unless `grad` is false) its gradient with respect to `x`. */
function run(
  f: (e: tf.Tensor2D) => tf.Tensor,
  x: number[][] | tf.Tensor2D,
  grad = true,
): { value: number[]; shape: number[]; grad?: number[][]; gradShape?: number[] } {
  tf.engine().startScope();
  try {
    const e = x instanceof tf.Tensor ? x : tf.tensor2d(x, [x.length, D]);
    const out = f(e);
    const value = Array.from(out.dataSync()), shape = out.shape;
    if (!grad) return { value, shape };
    const g = tf.grad((t: tf.Tensor) => tf.sum(f(t as tf.Tensor2D)))(e);
    return { value, shape, grad: g.arraySync() as number[][], gradShape: g.shape };
  } finally {
    tf.engine().endScope();
  }
}

const empty = () => tf.zeros([0, D]) as tf.Tensor2D;

Deno.test("every loss has PML's empty-batch answer in the fixture (or is one of the library's own)", () => {
  assert.ok(templateLosses.length >= 28, `${templateLosses.length} losses`);
  for (const { name } of templateLosses) {
    assert.ok(
      name in fixture.losses || OWN_LOSSES.includes(name),
      `${name}: add PML's class to bench/fixture_sections/empty_batches.py`,
    );
  }
});

Deno.test("the registry calls the losses with PML's required arguments of the fixture", () => {
  for (const { name } of templateLosses) {
    const args = fixture.losses[name]?.args ?? {};
    if (args.num_classes !== undefined && name !== "marginLoss") {
      assert.equal(NUM_CLASSES, args.num_classes, `${name}: num_classes`);
    }
    // The registry makes the parameters for the embeddings' size: the fixture's d.
    for (const k of ["embedding_size", "descriptors_dim"]) {
      if (args[k] !== undefined) assert.equal(args[k], D, `${name}: ${k}`);
    }
  }
});

for (const { name, def, call } of templateLosses) {
  const pml = fixture.losses[name];
  const labels = def.labels === false ? undefined : [] as number[];
  Deno.test(`${name}: an empty batch gives PML's answer (${pml ? pml.pml : "the template's 0"})`, () => {
    const f = (e: tf.Tensor2D, o: Record<string, unknown> = {}) =>
      call(e, labels as number[], o) as tf.Tensor;
    if (pml && !pmlGivesZero(pml.batch)) {
      // PML: NaN (a mean of nothing) or an exception. Refused by name, saying why.
      for (const o of [{}, { reduction: "none" }]) {
        assert.throws(
          () => f(empty(), o),
          new RegExp(`^Error: ${name}: embeddings is an empty batch \\(0 rows\\): .*PML`),
          `${name} ${JSON.stringify(o)} (PML: ${JSON.stringify(pml.batch)})`,
        );
      }
      return;
    }
    for (const reduction of [undefined, "sum", "avgNonZero"]) {
      const got = run((e) => f(e, reduction ? { reduction } : {}), empty());
      assert.deepEqual(got.shape, [], `${name} ${reduction}: a scalar`);
      assert.deepEqual(got.value, [0], `${name} ${reduction}: PML's 0`);
      assert.deepEqual(got.gradShape, [0, D], `${name} ${reduction}: connected to the embeddings`);
    }
    // "none": the loss's own per-element tensor, empty ([0], [0, m], …) — or, where PML's
    // per-element losses are not per row (ProxyAnchor: one per proxy), PML's, summed over its
    // sub-losses.
    const none = run((e) => f(e, { reduction: "none" }), empty(), false);
    const perElement = Object.values(pml?.none ?? {}).filter((s): s is SubLoss =>
      typeof s === "object" && s.kind === "element" && (s.shape?.[0] ?? 0) > 0
    );
    if (perElement.length > 0) {
      assert.deepEqual(none.shape, perElement[0].shape, `${name} none: PML's shape`);
      const want = perElement[0].values!.map((_: number, i: number) =>
        perElement.reduce((t, s) => t + s.values![i], 0)
      );
      assertCloseTo(none.value, want, {}, `${name} none: PML's values`);
      return;
    }
    assert.equal(none.value.length, 0, `${name} none: ${none.shape}`);
    assert.ok(none.shape.length >= 1 && none.shape[0] === 0, `${name} none: shape ${none.shape}`);
  });

  if (def.ref === false || def.labels === false) continue;
  Deno.test(`${name}: an empty reference set, and an empty batch against one, give PML's answer`, () => {
    const refEmpty = pml?.refEmpty ?? { value: 0 };
    const options = { refEmbeddings: empty(), refLabels: [] as number[] };
    if (!pmlGivesZero(refEmpty)) {
      assert.throws(
        () => call(tf.tensor2d(fixture.x), fixture.y, options),
        new RegExp(`^Error: ${name}: refEmbeddings is an empty reference set \\(0 rows\\): .*PML`),
        `${name} (PML: ${JSON.stringify(refEmpty)})`,
      );
    } else {
      const got = run((e) => call(e, fixture.y, options), fixture.x);
      assert.deepEqual(got.value, [0], name);
      assertCloseTo(got.grad, refEmpty.grad ?? fixture.x.map((r) => r.map(() => 0)), {}, name);
    }
    const withRef = pml?.emptyWithRef ?? { value: 0 };
    assert.ok(pmlGivesZero(withRef), `${name}: ${JSON.stringify(withRef)}`);
    const got = run(
      (e) => call(e, [], { refEmbeddings: tf.tensor2d(fixture.ref), refLabels: fixture.refY }),
      empty(),
    );
    assert.deepEqual(got.value, [0], `${name} empty batch, reference set of 3`);
    assert.deepEqual(got.gradShape, [0, D], name);
  });
}

Deno.test("an embedding regularizer on an empty batch is refused (PML: NaN, a mean of no rows)", () => {
  for (const [reg, pml] of Object.entries(fixture.embeddingRegularizer)) {
    assert.ok(Number.isNaN(pml.value), `${reg}: ${JSON.stringify(pml)}`);
  }
  for (
    const r of [lib.lpRegularizer(), lib.zeroMeanRegularizer(), lib.centerInvariantRegularizer()]
  ) {
    assert.throws(
      () => lib.contrastiveLoss(empty(), [], { embeddingRegularizer: r }),
      new RegExp(
        `^Error: contrastiveLoss: embeddings is an empty batch \\(0 rows\\): the ` +
          `embeddingRegularizer ${r.regularizerName} of no rows is undefined`,
      ),
    );
  }
});

Deno.test("the wrappers on an empty batch: selfSupervisedLoss and multipleLosses 0, crossBatchMemory refuses (PML fails)", async () => {
  const w = fixture.wrappers;
  for (const symmetric of [true, false]) {
    assert.equal(w[`selfSupervisedLoss(ntXentLoss, symmetric ${symmetric})`].value, 0);
    const got = run(
      (e) => lib.selfSupervisedLoss(lib.ntXentLoss, { symmetric })(e, empty()),
      empty(),
    );
    assert.deepEqual(got.value, [0], `symmetric ${symmetric}`);
    assert.deepEqual(got.gradShape, [0, D]);
  }
  assert.equal(w["multipleLosses([contrastiveLoss, tripletMarginLoss])"].value, 0);
  const multiple = lib.multipleLosses([lib.contrastiveLoss, lib.tripletMarginLoss], {
    weights: [1, 0.5],
  });
  const got = run((e) => multiple(e, []), empty());
  assert.deepEqual(got.value, [0]);
  assert.deepEqual(got.gradShape, [0, D]);

  for (const key of Object.keys(w).filter((k) => k.startsWith("crossBatchMemory"))) {
    assert.match(w[key].error ?? "", /IndexError/, key);
  }
  const cbm = lib.crossBatchMemory(lib.contrastiveLoss, { embeddingSize: D, memorySize: 6 });
  try {
    const cbmEmpty = /^Error: crossBatchMemory: embeddings is an empty batch \(0 rows\): PML/;
    assert.throws(() => cbm(empty(), []), cbmEmpty);
    tf.tidy(() => cbm(tf.tensor2d(fixture.x), fixture.y));
    const before = await cbm.state();
    assert.throws(() => cbm(empty(), []), cbmEmpty);
    assert.deepEqual(await cbm.state(), before, "nothing queued");
  } finally {
    cbm.dispose();
  }
});
