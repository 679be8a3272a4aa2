import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  cnnEncoder,
  embed,
  mlpEncoder,
  PairFeatures,
  referenceCnn,
  siameseNetwork,
  tripletNetwork,
} from "../lib/models/mod.ts";

await tf.setBackend("cpu");

async function values(t: tf.Tensor | tf.Tensor[]): Promise<Float32Array> {
  const one = Array.isArray(t) ? t[0] : t;
  return await one.data() as Float32Array;
}

Deno.test("cnnEncoder: defaults are the reference CNN, same weights for the same seed", async () => {
  const a = cnnEncoder({ seed: 4 });
  const b = referenceCnn({ seed: 4 });
  assert.equal(a.countParams(), b.countParams());
  // conv 3·3·1·32+32, conv 3·3·32·64+64, dense 5·5·64·128+128, dense 128·64+64
  assert.equal(a.countParams(), 320 + 18496 + 204928 + 8256);
  const wa = a.getWeights(), wb = b.getWeights();
  for (let i = 0; i < wa.length; i++) assert.deepEqual(await values(wa[i]), await values(wb[i]));
});

Deno.test("cnnEncoder: configurable filters, kernel sizes and dense sizes", () => {
  const m = cnnEncoder({ filters: [4, 8], kernelSizes: [5, 3], dense: [], embeddingDim: 16 });
  // conv5×5(4): 104 → 24×24 → pool 12×12; conv3×3(8): 296 → 10×10 → pool 5×5×8 = 200; dense 3216
  assert.equal(m.countParams(), 104 + 296 + 3216);
  assert.deepEqual(m.outputs[0].shape, [null, 16]);
  const e = m.predict(tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 1)) as tf.Tensor;
  const norms = tf.norm(e, "euclidean", 1).arraySync() as number[];
  norms.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-5));
  assert.throws(
    () => cnnEncoder({ filters: [4, 8], kernelSizes: [3] }),
    /kernelSizes has 1 entries for 2/,
  );
  assert.throws(() => cnnEncoder({ dense: [0] }), /dense must hold positive integers, got 0/);
  const raw = cnnEncoder({ filters: [2], dense: [4], embeddingDim: 3, normalize: false });
  assert.equal(raw.layers.at(-1)!.getClassName(), "Dense");
});

Deno.test("mlpEncoder: flat inputs work and embeddings are unit length", () => {
  const m = mlpEncoder({ inputShape: [5], hidden: [7], embeddingDim: 3 });
  assert.equal(m.countParams(), 5 * 7 + 7 + 7 * 3 + 3);
  const e = embed(m, tf.randomNormal([10, 5], 0, 1, "float32", 2), 4);
  assert.deepEqual(e.shape, [10, 3]);
  (tf.norm(e, "euclidean", 1).arraySync() as number[]).forEach((v) =>
    assert.ok(Math.abs(v - 1) < 1e-5)
  );
});

Deno.test("siameseNetwork / tripletNetwork: one encoder, shared weights", async () => {
  const encoder = mlpEncoder({ inputShape: [4], hidden: [6], embeddingDim: 3, normalize: false });
  const siamese = siameseNetwork(encoder);
  const triplet = tripletNetwork(encoder, { normalize: true });
  // No copies: the wrappers own exactly the encoder's weights.
  assert.equal(siamese.trainableWeights.length, encoder.trainableWeights.length);
  assert.equal(siamese.countParams(), encoder.countParams());
  assert.equal(triplet.countParams(), encoder.countParams());
  const x1 = tf.randomNormal([5, 4], 0, 1, "float32", 3);
  const x2 = tf.randomNormal([5, 4], 0, 1, "float32", 4);
  const [e1, e2] = siamese.predict([x1, x2]) as tf.Tensor[];
  assert.deepEqual(await e1.data(), await (encoder.predict(x1) as tf.Tensor).data());
  assert.deepEqual(await e2.data(), await (encoder.predict(x2) as tf.Tensor).data());
  const outs = triplet.predict([x1, x2, x1]) as tf.Tensor[];
  assert.equal(outs.length, 3);
  assert.deepEqual(await outs[0].data(), await outs[2].data());
  (tf.norm(outs[1], "euclidean", 1).arraySync() as number[]).forEach((v) =>
    assert.ok(Math.abs(v - 1) < 1e-5)
  );
  // Training the Siamese network moves the encoder itself.
  const before = await values(encoder.getWeights()[0]);
  const opt = tf.train.sgd(0.1);
  opt.minimize(() => {
    const [a, b] = siamese.apply([x1, x2], { training: true }) as tf.Tensor[];
    return tf.sum(tf.square(tf.sub(a, b))) as tf.Scalar;
  });
  assert.notDeepEqual(await values(encoder.getWeights()[0]), before);
  const [f1] = siamese.predict([x1, x2]) as tf.Tensor[];
  assert.deepEqual(await f1.data(), await (encoder.predict(x1) as tf.Tensor).data());
});

Deno.test("PairFeatures: [|a − b|, a ⊙ b]", () => {
  const f = new PairFeatures().apply([tf.tensor2d([[1, -2]]), tf.tensor2d([[3, 1]])]) as tf.Tensor;
  assert.deepEqual(f.arraySync(), [[2, 3, 3, -2]]);
  assert.throws(() => new PairFeatures().apply(tf.ones([1, 2])), /two inputs/);
});

Deno.test("initializer 'pytorch': every kernel and bias uniform in ±1/√fanIn as PyTorch's Conv2d/Linear", () => {
  const model = referenceCnn({ seed: 5, initializer: "pytorch" });
  // fanIn: conv1 1·3·3, conv2 32·3·3, dense1 5·5·64, dense2 128 (PyTorch's in_features × kernel).
  const fanIns = [9, 288, 1600, 128];
  const layers = model.layers.filter((l) => l.getWeights().length === 2);
  assert.equal(layers.length, 4);
  layers.forEach((l, i) => {
    const bound = 1 / Math.sqrt(fanIns[i]);
    for (const w of l.getWeights()) {
      const v = Array.from(w.dataSync());
      assert.ok(v.every((x) => Math.abs(x) <= bound), `${l.name}: outside ±${bound}`);
      if (v.length >= 1000) {
        // U(±b) has standard deviation b/√3.
        const mean = v.reduce((s, x) => s + x, 0) / v.length;
        const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
        assert.ok(Math.abs(std / (bound / Math.sqrt(3)) - 1) < 0.05, `${l.name}: std ${std}`);
      }
    }
    // Biases are drawn too (Keras' default leaves them 0).
    assert.ok(l.getWeights()[1].dataSync().some((b) => b !== 0), `${l.name}: zero bias`);
  });
  const same = referenceCnn({ seed: 5, initializer: "pytorch" });
  const other = referenceCnn({ seed: 6, initializer: "pytorch" });
  const first = (m: tf.LayersModel) => Array.from(m.layers[0].getWeights()[0].dataSync());
  assert.deepEqual(first(same), first(model));
  assert.notDeepEqual(first(other), first(model));
  // The default is Keras' (zero biases); an unknown name is an error.
  assert.ok(referenceCnn({ seed: 5 }).layers[0].getWeights()[1].dataSync().every((b) => b === 0));
  assert.throws(
    () => referenceCnn({ initializer: "he" as never }),
    /referenceCnn: initializer must be "glorot" or "pytorch", got "he"/,
  );
  const mlp = mlpEncoder({
    inputShape: [10],
    hidden: [4],
    embeddingDim: 2,
    initializer: "pytorch",
  });
  const k = Array.from(mlp.layers[0].getWeights()[0].dataSync());
  assert.ok(k.every((x) => Math.abs(x) <= 1 / Math.sqrt(10)));
  assert.ok(
    cnnEncoder({ filters: [4], dense: [], initializer: "pytorch" }).layers[0].getWeights()[1]
      .dataSync().some((b) => b !== 0),
  );
  for (const m of [model, same, other, mlp]) m.dispose();
});
