/** The pixel/learned walk of `lib/viz/walk.ts`, on hand-made points. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { classRepresentative, latentWalk, walkFigure } from "../lib/viz/walk.ts";
import { historySummary } from "../lib/train_recorder.ts";

await tf.setBackend("cpu");

Deno.test("latentWalk: paths, nearest real images (ends excluded inside), typical distances", async () => {
  // Pixels on a line; embeddings on the unit circle: image 2 sits halfway between 0 and 1 in the
  // learned space (45°), image 3 far away.
  const pixels = tf.tensor2d([[0, 0], [4, 0], [2, 0.1], [9, 9]]);
  const embeddings = tf.tensor2d([[1, 0], [0, 1], [Math.SQRT1_2, Math.SQRT1_2], [-1, 0]]);
  const walk = await latentWalk({ pixels, embeddings, a: 0, b: 1, steps: 3 });
  assert.deepEqual(walk.points.map((p) => p.t), [0, 0.5, 1]);
  assert.deepEqual(Array.from(walk.points[1].pixels), [2, 0]);
  // Ends: the images themselves; the middle: not a or b.
  assert.deepEqual(walk.points.map((p) => p.learnedNearest), [0, 2, 1]);
  assert.deepEqual(walk.points.map((p) => p.pixelNearest), [0, 2, 1]);
  assert.ok(walk.points[1].learnedDistance < 1e-3, "the learned path runs along the sphere");
  assert.ok(Math.abs(walk.points[1].pixelDistance - 0.1) < 1e-4);
  // Typical distance: median nearest-neighbour distance (pixels: 2.0025, 2.0025, 2.0025, 9.9).
  assert.ok(Math.abs(walk.pixelScale - 2.0025) < 1e-3, String(walk.pixelScale));
  assert.ok(Math.abs(walk.pixelRatio - 0.1 / walk.pixelScale) < 1e-4);
  await assert.rejects(latentWalk({ pixels, embeddings, a: 0, b: 0 }), /same image/);
  await assert.rejects(latentWalk({ pixels, embeddings, a: 0, b: 9 }), /b must be an index/);
  await assert.rejects(latentWalk({ pixels, embeddings, a: 0, b: 1, steps: 2 }), /steps/);
  const images = new Float32Array(4 * 784);
  const fig = await walkFigure(walk, images, [0, 1, 2, 3], ["a", "b", "c", "d"]);
  assert.equal((fig.layout.images as unknown[]).length, 9);
  assert.ok((fig.layout.width as number) <= 1000);
  assert.equal(await classRepresentative(embeddings, [0, 0, 0, 1], 0), 2);
  await assert.rejects(classRepresentative(embeddings, [0, 0, 0, 1], 5), /no image of class 5/);
  tf.dispose([pixels, embeddings]);
});

Deno.test("historySummary: first and last windows of the loss and every metric", () => {
  const history = Array.from({ length: 10 }, (_, i) => ({
    step: i + 1,
    loss: i,
    seconds: 0,
    metrics: { active: 10 - i },
  }));
  assert.deepEqual(historySummary(history, 3), [
    { quantity: "loss", first: 1, last: 8 },
    { quantity: "active", first: 9, last: 2 },
  ]);
  assert.deepEqual(historySummary(history.slice(0, 2), 5)[0], {
    quantity: "loss",
    first: 0.5,
    last: 0.5,
  });
  assert.throws(() => historySummary([], 3), /empty/);
  assert.throws(() => historySummary(history, 0), /window/);
});
