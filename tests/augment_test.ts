/**
 * Seeded augmentation (`lib/data/augment.ts`): torchvision's random-resized-crop sampling rules,
 * exact flips, hand-worked colour jitter, determinism and resume, and SimCLR's two views.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  augmentedBatches,
  createAugmenter,
  createRng,
  randomResizedCropBox,
  shuffledBatches,
  SIMCLR_AUGMENTATION,
  twoViewBatches,
  twoViews,
} from "../lib/data/mod.ts";

await tf.setBackend("cpu");

const image = (b: number, h: number, w: number, c: number, seed = 1) =>
  tf.randomUniform([b, h, w, c], 0, 1, "float32", seed) as tf.Tensor4D;

Deno.test("randomResizedCropBox: inside the image, area in scale and aspect in ratio (up to rounding)", () => {
  const rng = createRng(3);
  for (let k = 0; k < 500; k++) {
    const [h, w] = [20 + (k % 13), 30 - (k % 7)];
    const box = randomResizedCropBox(rng, h, w, [0.2, 0.9], [0.5, 2]);
    assert.ok(
      box.top >= 0 && box.left >= 0 && box.top + box.height <= h && box.left + box.width <= w,
    );
    const area = (box.height * box.width) / (h * w);
    const aspect = box.width / box.height;
    // w and h are rounded: allow one pixel either way.
    assert.ok(area >= 0.2 * 0.75 && area <= 0.9 * 1.25, `area ${area}`);
    assert.ok(aspect >= 0.5 * 0.8 && aspect <= 2 * 1.25, `aspect ${aspect}`);
  }
  // No box can satisfy scale ≥ 0.99 with ratio ≥ 3 in a square: the centre fallback clamps the
  // ratio (torchvision: w = W, h = round(W / max ratio)… here in_ratio 1 < 3 → h = round(W / 3)).
  assert.deepEqual(randomResizedCropBox(createRng(0), 30, 30, [0.99, 1], [3, 4]), {
    top: 10,
    left: 0,
    height: 10,
    width: 30,
  });
});

Deno.test("flip 1 mirrors exactly, flip 0 without crop is the identity, crop resamples to its size", async () => {
  const x = image(3, 5, 7, 3);
  assert.deepEqual(
    await createAugmenter({ flip: 1 }).apply(x).data(),
    await tf.reverse(x, 2).data(),
  );
  assert.deepEqual(await createAugmenter({ flip: 0 }).apply(x).data(), await x.data());
  const cropped = createAugmenter({ crop: { size: [4, 6], scale: [0.3, 0.6] }, seed: 2 }).apply(x);
  assert.deepEqual(cropped.shape, [3, 4, 6, 3]);
  // A crop of the full image to its own size is the identity.
  const full = createAugmenter({ crop: { scale: [1, 1], ratio: [7 / 5, 7 / 5] }, flip: 0 }).apply(
    x,
  );
  assert.ok((await tf.max(tf.abs(tf.sub(full, x))).data())[0] < 1e-6);
});

Deno.test("colour jitter: brightness and contrast factors, saturation of grey pixels, hue keeps grey", async () => {
  const grey = tf.fill([2, 4, 4, 3], 0.4) as tf.Tensor4D;
  // Brightness: every value times one factor in [0.5, 1.5] per image, clipped.
  const b = await createAugmenter({ flip: 0, colorJitter: { brightness: 0.5 }, seed: 4 }).apply(
    grey,
  ).array();
  for (const img of b) {
    const f = img[0][0][0] / 0.4;
    assert.ok(f >= 0.5 && f <= 1.5);
    assert.ok(img.flat(2).every((v) => Math.abs(v - 0.4 * f) < 1e-6));
  }
  // Contrast, saturation and hue leave a uniform grey image unchanged.
  const same = createAugmenter({
    flip: 0,
    colorJitter: { contrast: 0.8, saturation: 0.8, hue: 0.5 },
    seed: 5,
  }).apply(grey);
  assert.ok((await tf.max(tf.abs(tf.sub(same, grey))).data())[0] < 1e-5);
  // Saturation 0 → grey: with saturation strength 1 the factor can be near 0; check the formula
  // (x − g)·f + g on one image against the factor recovered from a channel.
  const x = tf.tensor4d([[[[0.6, 0.4, 0.45]]]]); // no clipping for factors in [0, 2]
  const y = await createAugmenter({ flip: 0, colorJitter: { saturation: 1 }, seed: 9 }).apply(x)
    .data();
  const g = 0.299 * 0.6 + 0.587 * 0.4 + 0.114 * 0.45;
  const f = (y[0] - g) / (0.6 - g);
  assert.ok(f >= 0 && f <= 2 && Math.abs(f - 1) > 1e-3, `factor ${f}`);
  assert.ok(
    Math.abs((y[1] - g) - f * (0.4 - g)) < 1e-5 && Math.abs((y[2] - g) - f * (0.45 - g)) < 1e-5,
  );
  // Greyscale 1 makes three equal channels of luma.
  const gy = await createAugmenter({ flip: 0, grayscale: 1 }).apply(x).data();
  assert.ok(Math.abs(gy[0] - g) < 1e-6 && gy[0] === gy[1] && gy[1] === gy[2]);
  // Probability p = 0 never jitters.
  assert.deepEqual(
    await createAugmenter({ flip: 0, colorJitter: { brightness: 0.9, p: 0 } }).apply(x).data(),
    await x.data(),
  );
});

Deno.test("same seed, same augmentations; state/setState resumes the stream; views differ", async () => {
  const x = image(4, 16, 16, 3, 7);
  const a = createAugmenter({ ...SIMCLR_AUGMENTATION, seed: 11 });
  const b = createAugmenter({ ...SIMCLR_AUGMENTATION, seed: 11 });
  const first = await a.apply(x).data();
  assert.deepEqual(first, await b.apply(x).data());
  const saved = a.state();
  const second = await a.apply(x).data();
  assert.notDeepEqual(first, second);
  a.setState(saved);
  assert.deepEqual(await a.apply(x).data(), second);
  const [v1, v2] = twoViews(x, createAugmenter({ ...SIMCLR_AUGMENTATION, seed: 1 }));
  assert.notDeepEqual(await v1.data(), await v2.data());
  const values = await v1.data();
  assert.ok(values.every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
});

Deno.test("augmentedBatches and twoViewBatches wrap a sampler; their state resumes the augmentations too", async () => {
  const x = image(12, 8, 8, 3, 3);
  const labels = Int32Array.from({ length: 12 }, (_, i) => i % 3);
  const sampler = twoViewBatches(
    shuffledBatches(x, labels, { batchSize: 4, seed: 1 }),
    createAugmenter({ ...SIMCLR_AUGMENTATION, seed: 2 }),
  );
  const batch = sampler.next();
  assert.deepEqual(batch.x.shape, [8, 8, 8, 3]);
  assert.deepEqual(Array.from(await batch.y.data()), [0, 1, 2, 3, 0, 1, 2, 3]);
  const saved = sampler.state();
  const next = await sampler.next().x.data();
  sampler.setState(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual(await sampler.next().x.data(), next);
  const plain = augmentedBatches(
    shuffledBatches(x, labels, { batchSize: 4, seed: 1 }),
    createAugmenter({ crop: { size: 6 } }),
  );
  const p = plain.next();
  assert.deepEqual(p.x.shape, [4, 6, 6, 3]);
  assert.equal(plain.batchesPerEpoch, 3);
});

Deno.test("createAugmenter: out-of-range options are TypeErrors naming the option", () => {
  assert.throws(() => createAugmenter({ flip: 2 }), /flip must be a probability in \[0, 1\]/);
  assert.throws(
    () => createAugmenter({ crop: { scale: [0.5, 0.1] } }),
    /crop\.scale must be \[low, high\]/,
  );
  assert.throws(
    () => createAugmenter({ crop: { scale: [0.5, 2] } }),
    /crop\.scale must lie in \(0, 1\]/,
  );
  assert.throws(
    () => createAugmenter({ colorJitter: { hue: 0.7 } }),
    /colorJitter\.hue must be in \[0, 0\.5\]/,
  );
  assert.throws(
    () => createAugmenter({ colorJitter: { brightness: -1 } }),
    /colorJitter\.brightness/,
  );
  assert.throws(
    () => createAugmenter({ crop: { sise: 3 } as never }),
    /unknown option "crop\.sise"/,
  );
  assert.throws(
    () => createAugmenter().apply(tf.zeros([2, 2]) as unknown as tf.Tensor4D),
    /\[b, h, w, c\]/,
  );
});
