/**
 * The loss template itself (lib/losses/_template.ts): every loss's every option is checked and
 * named; the distance (any metric, PML's Lp normalisation) against PML 2.9.0's fixtures; the
 * reference set and miner indices are checked; `reduction: "none"` shapes; `with()`; the trainable
 * form of a loss with parameters; finite-difference gradients through the reference-set path.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertCloseTo, loadFixture } from "./_fixtures.ts";
import { finiteDifferences, LOSSES, valueAndGrad } from "./_loss_fixtures.ts";
import {
  contrastiveLoss,
  defineLoss,
  type Loss,
  multiSimilarityLoss,
  ncaLoss,
  nPairsLoss,
  opt,
  type OptionSpec,
  type ParametrizedLossOptions,
  softNearestNeighborLoss,
  supConLoss,
  TrainableLoss,
  tripletMarginLoss,
} from "../lib/losses/mod.ts";

await tf.setBackend("cpu");

const fixture = loadFixture<{
  inputs: { x: number[][]; y: number[]; refX: number[][]; refY: number[] };
  distances: {
    loss: string;
    options: Record<string, unknown>;
    setting: string;
    value: number;
    grad: number[][];
  }[];
}>("reducers").cases;

Deno.test("the template's distances equal PML's distance objects (Lp normalisation with its p)", () => {
  const { x, y, refX, refY } = fixture.inputs;
  assert.ok(fixture.distances.length >= 20);
  for (const c of fixture.distances) {
    const f = (e: tf.Tensor2D) =>
      LOSSES[c.loss](e, y, {
        ...c.options,
        ...(c.setting === "ref" ? { refEmbeddings: tf.tensor2d(refX), refLabels: refY } : {}),
      });
    const where = `${c.loss} ${JSON.stringify(c.options)} (${c.setting})`;
    const { value, grad } = valueAndGrad(f, x);
    assertCloseTo(value, c.value, { rtol: 1e-4, atol: 1e-5 }, where);
    assertCloseTo(grad, c.grad, { rtol: 2e-3, atol: 2e-5 }, `${where} gradient`);
  }
});

Deno.test("every option of every loss is checked, with the loss and the option named", () => {
  const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1], [0.1, 0.9]]), y = [0, 0, 1, 1];
  let checked = 0;
  for (const [name, loss] of Object.entries(LOSSES)) {
    // Options without a default (PML's required arguments) at 1 (`numClasses` at the labels'
    // 2 classes, so that a legal value of another option is accepted), and learnable parameters
    // (required in the functional form) as zeros of their shape, so every other check is reached.
    const specs = loss.definition.options as Record<string, OptionSpec<unknown>>;
    const required = Object.fromEntries(
      Object.entries(specs).filter(([, s]) => s.required && !s.parameter).map((
        [k],
      ) => [k, k === "numClasses" ? 2 : 1]),
    );
    const defaults = {
      ...Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, s.default])),
      ...required,
    };
    const params = {
      ...required,
      ...Object.fromEntries(
        Object.entries(specs).filter(([, s]) => s.parameter).map((
          [k, s],
        ) => [k, tf.zeros(s.parameter!.shape(defaults, 2))]),
      ),
    };
    for (const [option, spec] of Object.entries(loss.definition.options)) {
      if ((spec as { parameter?: unknown }).parameter) continue;
      for (const bad of [NaN, Infinity, "x", -1e9]) {
        let threw: Error | undefined;
        try {
          tf.tidy(() => loss(e, y, { ...params, [option]: bad } as never));
        } catch (err) {
          threw = err as Error;
        }
        if (bad === -1e9 && threw === undefined) continue; // a legal value for some options
        assert.ok(threw, `${name}: ${option} = ${bad} was accepted`);
        assert.match(threw!.message, new RegExp(`^${name}: .*${option}`), `${name}.${option}`);
        checked++;
      }
    }
    // Common options too.
    for (
      const [options, pattern] of [
        [{ normalizeEmbeddings: "yes" }, /normalizeEmbeddings must be true or false/],
        [{ distance: "manhatten" }, /distance "manhatten" is not usable/],
        [{ embeddingRegWeight: NaN }, /embeddingRegWeight must be a finite number/],
        [{ reduction: "avg" }, /unknown reduction "avg"/],
        [{ typo: 1 }, /unknown option "typo"/],
      ] as const
    ) {
      assert.throws(
        () => loss(e, y, { ...params, ...options } as never),
        new RegExp(`^Error: ${name}: `),
      );
      assert.throws(
        () => loss(e, y, { ...params, ...options } as never),
        pattern,
        `${name} ${JSON.stringify(options)}`,
      );
    }
  }
  assert.ok(checked >= 40, `only ${checked} option checks`);
  e.dispose();
});

Deno.test("the issue's named options: posMargin, lifted margins, circle's m and gamma", () => {
  const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]), y = [0, 0, 1];
  assert.throws(
    () => LOSSES.positivePairLoss(e, y, { posMargin: -0.5 } as never),
    /positivePairLoss: posMargin must be ≥ 0 with a distance, got -0.5/,
  );
  assert.throws(
    () => LOSSES.liftedStructureLoss(e, y, { negMargin: NaN } as never),
    /liftedStructureLoss: negMargin must be a finite number, got NaN/,
  );
  assert.throws(
    () => LOSSES.generalizedLiftedStructureLoss(e, y, { posMargin: -1 } as never),
    /generalizedLiftedStructureLoss: posMargin must be ≥ 0 with a distance/,
  );
  assert.throws(
    () => LOSSES.circleLoss(e, y, { m: 1.5 } as never),
    /circleLoss: m must be a finite number ≥ 0 and ≤ 1, got 1.5/,
  );
  assert.throws(
    () => LOSSES.circleLoss(e, y, { gamma: 0 } as never),
    /circleLoss: gamma must be a finite number > 0, got 0/,
  );
  // With a similarity a negative margin is legal (PML's margins on cosine similarity).
  assert.ok(
    Number.isFinite(contrastiveLoss(e, y, { distance: "cosine", posMargin: -0.2 }).dataSync()[0]),
  );
  e.dispose();
});

Deno.test("reference sets and indices are checked before any tensor work", () => {
  const e = tf.tensor2d([[1, 0], [0, 1], [1, 1]]), y = [0, 1, 1];
  const ref = tf.tensor2d([[1, 0], [0, 1]]);
  const bad: [() => unknown, RegExp][] = [
    [
      () => contrastiveLoss(e, y, { refEmbeddings: ref }),
      /contrastiveLoss: refEmbeddings need refLabels/,
    ],
    [
      () => contrastiveLoss(e, y, { refLabels: [0, 1] }),
      /refLabels were given without refEmbeddings/,
    ],
    [
      () => contrastiveLoss(e, y, { refEmbeddings: tf.zeros([2, 3]), refLabels: [0, 1] }),
      /refEmbeddings have dimension 3, the embeddings 2/,
    ],
    [
      () => contrastiveLoss(e, y, { refEmbeddings: ref, refLabels: [0, 1, 1] }),
      /contrastiveLoss: expected 2 refLabels/,
    ],
    [
      () => contrastiveLoss(e, y, { refEmbeddings: ref, refLabels: [0, 0.5] }),
      /refLabels entry 1 is 0.5, not an integer/,
    ],
    [
      // PML's NCALoss returns NaN there (contrastiveLoss, like PML's, gives 0).
      () => ncaLoss(e, y, { refEmbeddings: tf.zeros([0, 2]), refLabels: [] }),
      /ncaLoss: refEmbeddings is an empty reference set \(0 rows\)/,
    ],
    [
      () => nPairsLoss(e, y, { refEmbeddings: ref, refLabels: [0, 1] } as never),
      /nPairsLoss: unknown option "refEmbeddings"/,
    ],
    [
      () => softNearestNeighborLoss(e, y, { indices: {} } as never),
      /softNearestNeighborLoss: unknown option "indices"/,
    ],
    [
      () =>
        tripletMarginLoss(e, y, {
          indices: { a: Int32Array.of(0), p: Int32Array.of(2), n: Int32Array.of(5) },
        }),
      /tripletMarginLoss: indices.n\[0\] = 5 is outside the batch \[0, 3\)/,
    ],
    [
      () =>
        tripletMarginLoss(e, y, {
          refEmbeddings: ref,
          refLabels: [0, 1],
          indices: { a: Int32Array.of(2), p: Int32Array.of(2), n: Int32Array.of(0) },
        }),
      /indices.p\[0\] = 2 is outside the reference set \[0, 2\)/,
    ],
    [
      () =>
        contrastiveLoss(e, y, {
          indices: {
            a1: [0] as never,
            p: Int32Array.of(1),
            a2: Int32Array.of(),
            n: Int32Array.of(),
          },
        }),
      /indices.a1 must be an Int32Array/,
    ],
    [
      () => tripletMarginLoss(e, y, { swap: true, refEmbeddings: ref, refLabels: [0, 1] }),
      /swap is not supported with refEmbeddings/,
    ],
    [() => contrastiveLoss(e, y, 5 as never), /contrastiveLoss: options must be an object, got 5/],
  ];
  const before = tf.memory().numTensors;
  for (const [call, pattern] of bad) assert.throws(call, pattern);
  assert.ok(tf.memory().numTensors <= before + 2); // only the test's own zeros
  tf.dispose([e, ref]);
});

Deno.test('reduction "none" returns the documented per-element shapes', () => {
  const x = tf.tensor2d(fixture.inputs.x), y = fixture.inputs.y;
  const ref = { refEmbeddings: tf.tensor2d(fixture.inputs.refX), refLabels: fixture.inputs.refY };
  const shape = (t: tf.Tensor) => t.shape.join("×");
  assert.equal(shape(contrastiveLoss(x, y, { reduction: "none" })), "10×10");
  assert.equal(shape(contrastiveLoss(x, y, { reduction: "none", ...ref })), "10×7");
  assert.equal(shape(multiSimilarityLoss(x, y, { reduction: "none", ...ref })), "10");
  assert.equal(shape(supConLoss(x, y, { reduction: "none" })), "10");
  const t = tripletMarginLoss(x, y, { reduction: "none", ...ref });
  const expected = y.reduce(
    (s, a) =>
      s + ref.refLabels.filter((r) => r === a).length * ref.refLabels.filter((r) => r !== a).length,
    0,
  );
  assert.equal(shape(t), String(expected));
  // Without tuples: an empty tensor.
  assert.equal(shape(tripletMarginLoss(x, y.map((_, i) => i), { reduction: "none" })), "0");
});

Deno.test("refLabels that are the labels object itself keep the self-pairs out, as PML's `ref_labels is labels`", () => {
  const x = fixture.inputs.x, y = fixture.inputs.y;
  const v = (f: () => tf.Tensor) => tf.tidy(() => f().dataSync()[0]);
  // ("mean": a self-pair or self-triplet costs 0 here, which "avgNonZero" would not count.)
  const list: Loss[] = [
    contrastiveLoss.with({ reduction: "mean" }),
    tripletMarginLoss.with({ reduction: "mean" }),
    supConLoss,
    multiSimilarityLoss,
  ];
  for (const loss of list) {
    const plain = v(() => loss(tf.tensor2d(x), y));
    const same = v(() => loss(tf.tensor2d(x), y, { refEmbeddings: tf.tensor2d(x), refLabels: y }));
    const copy = v(() =>
      loss(tf.tensor2d(x), y, { refEmbeddings: tf.tensor2d(x), refLabels: y.slice() })
    );
    assert.ok(Math.abs(same - plain) <= 1e-6 * Math.max(1, Math.abs(plain)), loss.lossName);
    assert.notEqual(copy, plain, `${loss.lossName}: a copy of the labels makes (i, i) a pair`);
  }
});

Deno.test("loss.with binds options; later call options override them", () => {
  const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1]]), y = [0, 0, 1];
  const strict = contrastiveLoss.with({ negMargin: 2 });
  assert.equal(strict.lossName, "contrastiveLoss");
  assert.deepEqual(strict.boundOptions, { negMargin: 2 });
  const v = (t: tf.Tensor) => t.dataSync()[0];
  assert.equal(v(strict(e, y)), v(contrastiveLoss(e, y, { negMargin: 2 })));
  assert.equal(v(strict(e, y, { negMargin: 1 })), v(contrastiveLoss(e, y)));
  assert.throws(() => contrastiveLoss.with({ negMargin: -1 })(e, y), /negMargin must be ≥ 0/);
});

Deno.test("gradients through the reference-set and indices paths match finite differences", () => {
  const x = fixture.inputs.x.slice(0, 6), y = fixture.inputs.y.slice(0, 6);
  const refEmbeddings = tf.tensor2d(fixture.inputs.refX), refLabels = fixture.inputs.refY;
  for (const [name, loss] of Object.entries(LOSSES)) {
    // No reference set (PML's ref_not_supported), or no labels (then no refLabels).
    if (loss.definition.ref === false || loss.definition.labels === false) continue;
    // Piecewise in its inputs (the histogram's CDF weight jumps at the bins' edges): its finite
    // differences are in losses_breadth_a_test.ts, at points away from the edges.
    if (name === "dynamicSoftMarginLoss") continue;
    const options: Record<string, unknown> = { refEmbeddings, refLabels };
    if (name === "circleLoss") options.gamma = 4;
    if (name === "tripletMarginLoss") options.margin = 0.8;
    if (name === "contrastiveLoss" || name === "ringLoss") options.negMargin = 1.4;
    if (name === "ringLoss") delete options.negMargin, options.outerRadius = 1.4;
    const f = (e: tf.Tensor2D) => loss(e, y, options);
    const { grad } = valueAndGrad(f, x);
    const fd = finiteDifferences(f, x, 1e-3);
    if (name === "circleLoss") {
      // The α weights carry no gradient (PML's .detach()): finite differences see them move.
      assert.ok(grad.flat().every(Number.isFinite));
      continue;
    }
    assertCloseTo(grad, fd, { rtol: 3e-2, atol: 3e-3 }, `${name} with refEmbeddings`);
  }
});

Deno.test("TrainableLoss owns seeded variables that train with the model's", () => {
  interface ProxyOptions extends ParametrizedLossOptions {
    numClasses?: number;
    proxies?: tf.Tensor;
  }
  // A toy proxy loss: softmax over similarities to the class proxies.
  const proxyLoss = defineLoss<ProxyOptions>({
    name: "proxyLoss",
    distance: "cosine",
    options: {
      numClasses: opt.integer(undefined, { min: 1 }),
      proxies: opt.parameter({
        shape: (o, d) => [o.numClasses as number, d],
        init: (shape, seed) => tf.randomNormal(shape, 0, 1, "float32", seed),
      }),
    },
    compute(ctx, o) {
      const logits = tf.mul(ctx.distances(ctx.embeddings, o.proxies as tf.Tensor2D), 8);
      const onehot = tf.oneHot(tf.tensor1d(ctx.labels, "int32"), o.numClasses);
      const losses = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1));
      return { loss: { kind: "element", losses } };
    },
  });
  const a = new TrainableLoss(proxyLoss, { numClasses: 3, embeddingSize: 4, seed: 7 });
  const b = new TrainableLoss(proxyLoss, { numClasses: 3, embeddingSize: 4, seed: 7 });
  assert.deepEqual(a.trainableWeights.map((w) => w.shape), [[3, 4]]);
  assert.deepEqual(
    Array.from(a.variables.proxies.dataSync()),
    Array.from(b.variables.proxies.dataSync()),
    "same seed, same proxies",
  );
  const e = tf.variable(tf.randomNormal([9, 4], 0, 1, "float32", 1));
  const y = [0, 1, 2, 0, 1, 2, 0, 1, 2];
  const optimizer = tf.train.adam(0.05);
  const first = a.call(e as unknown as tf.Tensor2D, y).dataSync()[0];
  const before = Array.from(a.variables.proxies.dataSync());
  for (let i = 0; i < 20; i++) {
    optimizer.minimize(() => a.call(e as unknown as tf.Tensor2D, y), false, [
      e,
      ...a.trainableWeights,
    ]);
  }
  const last = a.call(e as unknown as tf.Tensor2D, y).dataSync()[0];
  assert.ok(last < first, `loss ${first} → ${last}`);
  assert.notDeepEqual(Array.from(a.variables.proxies.dataSync()), before, "proxies moved");
  assert.throws(
    () => new TrainableLoss(proxyLoss, { numClasses: 3, embeddingSize: 0 }),
    /proxyLoss: embeddingSize must be an integer ≥ 1, got 0/,
  );
  assert.throws(
    () => new TrainableLoss(proxyLoss, { numClasses: 0, embeddingSize: 4 }),
    /proxyLoss: numClasses must be an integer ≥ 1, got 0/,
  );
  assert.throws(
    () => new TrainableLoss(contrastiveLoss, { embeddingSize: 4 }),
    /contrastiveLoss has no learnable parameters/,
  );
  const count = tf.memory().numTensors;
  a.dispose(), b.dispose();
  assert.equal(tf.memory().numTensors, count - 2);
  tf.dispose([e]);
  optimizer.dispose();
});
