/**
 * The similarity-model workflow on a store (SimilarityIndex: index, lookup, calibrate, match,
 * evaluateRetrieval) and the gallery of store results, checked against the library's exact
 * retrieval metrics and threshold calibration on the same embeddings.
 */
import assert from "node:assert/strict";
import { COLORS } from "../lib/viz/style.ts";
import * as tf from "@tensorflow/tfjs";
import { retrievalMetrics } from "../lib/eval/retrieval.ts";
import { calibrateThreshold } from "../lib/eval/verification.ts";
import { mlpEncoder } from "../lib/models/encoders.ts";
import {
  type EmbeddingStore,
  lookupGallery,
  MemoryStore,
  openEmbeddedStore,
  SimilarityIndex,
} from "../lib/store/mod.ts";

await tf.setBackend("cpu");

const F = 12, DIM = 4;
const encoder = mlpEncoder({ inputShape: [F], hidden: [16], embeddingDim: DIM, seed: 3 });
// Classes as shifted clusters, so that retrieval is neither perfect nor random.
function images(seed: number, n: number): { x: tf.Tensor2D; labels: number[] } {
  const labels = Array.from({ length: n }, (_, i) => (i * 7 + seed) % 4);
  const noise = tf.randomNormal([n, F], 0, 1, "float32", seed);
  const centres = tf.tensor2d(
    labels.map((l) => Array.from({ length: F }, (_, j) => (j % 4 === l ? 1.5 : 0))),
  );
  return { x: tf.add(noise, centres) as tf.Tensor2D, labels };
}
const gallery = images(1, 80), queries = images(2, 30);
const IO = { sanitizeOps: false, sanitizeResources: false };

async function checkAgainstExact(store: EmbeddingStore) {
  const index = new SimilarityIndex(encoder, store);
  const added = await index.index(gallery.x, gallery.labels);
  assert.deepEqual(added, { stored: 80, replaced: 0 });
  const got = await index.evaluateRetrieval(queries.x, queries.labels, { k: 12, ks: [1, 3, 12] });
  const want = await retrievalMetrics(
    index.embed(queries.x),
    queries.labels,
    index.embed(gallery.x),
    gallery.labels,
    { k: 12, ks: [1, 3, 12] },
  );
  for (
    const key of ["precisionAt1", "rPrecision", "mapAtR", "mrr", "meanAveragePrecision"] as const
  ) {
    assert.ok(Math.abs(got[key] - want[key]) < 1e-12, `${key}: ${got[key]} vs ${want[key]}`);
  }
  assert.deepEqual(got.recallAtK, want.recallAtK);
  assert.equal(got.queries, want.queries);
  assert.ok(got.mapAtR > 0.2 && got.mapAtR < 1, `mapAtR ${got.mapAtR} is informative`);
  await store.close();
}

Deno.test("evaluateRetrieval on a memory store equals retrievalMetrics on the embeddings", async () => {
  await checkAgainstExact(new MemoryStore({ dim: DIM }));
});

Deno.test({
  name: "evaluateRetrieval on an embedded store equals retrievalMetrics on the embeddings",
  ...IO,
  fn: async () => await checkAgainstExact(await openEmbeddedStore(undefined, { dim: DIM })),
});

Deno.test("index numbers rows, lookup finds an indexed image first", async () => {
  const store = new MemoryStore({ dim: DIM });
  const index = new SimilarityIndex(encoder, store);
  await index.index(gallery.x.slice([0, 0], [5, F]), gallery.labels.slice(0, 5));
  await index.index(gallery.x.slice([5, 0], [3, F]), gallery.labels.slice(5, 8), {
    metadata: [{ shelf: "a" }, { shelf: "b" }, { shelf: "a" }],
  });
  assert.deepEqual((await store.get(["0", "4", "5", "7", "8"])).map((r) => r?.id ?? null), [
    "0",
    "4",
    "5",
    "7",
    null,
  ]);
  const hits = await index.lookup(gallery.x.slice([6, 0], [1, F]), 2);
  assert.equal(hits[0][0].id, "6");
  assert.ok(hits[0][0].distance < 1e-3);
  const onShelf = await index.lookup(gallery.x.slice([6, 0], [1, F]), 3, {
    filter: { shelf: "a" },
  });
  assert.deepEqual(onShelf[0].map((h) => h.id).sort(), ["5", "7"]);
  await assert.rejects(
    index.index(gallery.x.slice([0, 0], [1, F]), [0], { ids: ["0"] }),
    /already stored/,
  );
});

Deno.test("calibrate sets the threshold calibrateThreshold gives; match applies it", async () => {
  const store = new MemoryStore({ dim: DIM });
  const index = new SimilarityIndex(encoder, store);
  await index.index(gallery.x, gallery.labels);
  await assert.rejects(index.match(queries.x), /no threshold/);
  const cal = await index.calibrate(queries.x, queries.labels, { targetPrecision: 0.6 });
  // The same calibration from the nearest neighbours computed here.
  const q = await index.embed(queries.x).array(), g = await index.embed(gallery.x).array();
  const dist: number[] = [], same: boolean[] = [];
  q.forEach((row, i) => {
    let best = Infinity, label = -1;
    g.forEach((r, j) => {
      const d = Math.sqrt(r.reduce((s, v, t) => s + (v - row[t]) ** 2, 0));
      if (d < best) [best, label] = [d, gallery.labels[j]];
    });
    dist.push(best);
    same.push(label === queries.labels[i]);
  });
  const want = calibrateThreshold(dist, same, { targetPrecision: 0.6 });
  assert.ok(
    Math.abs(cal.threshold - want.threshold) < 1e-5,
    `${cal.threshold} vs ${want.threshold}`,
  );
  assert.equal(index.threshold, cal.threshold);
  const matches = await index.match(queries.x);
  matches.forEach((m, i) => {
    assert.equal(m.matched, m.distance <= cal.threshold);
    assert.ok(Math.abs(m.distance - dist[i]) < 1e-5);
    if (!m.matched) assert.equal(m.label, null);
    else assert.equal(typeof m.label, "number");
  });
  assert.ok(matches.some((m) => m.matched) && matches.some((m) => !m.matched));
  const none = await index.match(queries.x, { threshold: -1 });
  assert.ok(none.every((m) => !m.matched && m.label === null));
});

Deno.test("lookupGallery draws queries and their hits, red where the label differs", async () => {
  const side = 28, size = side * side;
  const stored = new Float32Array(3 * size).map((_, i) => (i % size) / size);
  const fig = await lookupGallery({
    queryImages: new Float32Array(2 * size),
    queryLabels: [0, 1],
    hits: [
      [{ id: "0", distance: 0.1, label: 0, metadata: {} }, {
        id: "2",
        distance: 0.4,
        label: 1,
        metadata: {},
      }],
      [{ id: "1", distance: 0.2, label: 1, metadata: {} }, {
        id: "2",
        distance: 0.3,
        label: 1,
        metadata: {},
      }],
    ],
    images: stored,
  });
  const images = fig.layout.images as unknown[];
  assert.equal(images.length, 2 * 3);
  const red = (fig.layout.shapes as { line: { color: string } }[]).filter((s) =>
    s.line.color === COLORS.wrong
  );
  assert.equal(red.length, 1);
  assert.match(String((fig.layout.title as { text: string }).text), /1 of 4 wrong/);
  await assert.rejects(
    lookupGallery({
      queryImages: new Float32Array(size),
      queryLabels: [0],
      hits: [[{ id: "9", distance: 0, label: 0, metadata: {} }]],
      images: stored,
    }),
    /maps to image 9/,
  );
});
