/**
 * Fault 3 of issue 13, as a kind: every public entry point of the evaluation and projection code
 * that takes embeddings or scores refuses NaN, +Infinity and −Infinity with an Error naming the
 * function, the argument and the first bad row (before, `retrievalMetrics` returned 1.0 for every
 * metric on an input holding Infinity).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  bestThresholdAccuracy,
  calibrateThreshold,
  equalErrorRate,
  evaluateEmbeddings,
  Index,
  kMeans,
  knn,
  match,
  retrievalMetrics,
  rocAuc,
  rocCurve,
} from "../lib/eval/mod.ts";
import { project, tsne, umap } from "../lib/viz/projections.ts";
import { pca } from "../lib/viz/projection.ts";
import { pairwiseDistances } from "../lib/distances.ts";

await tf.setBackend("cpu");

const BAD = [NaN, Infinity, -Infinity];
const name = (v: number) => Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";

/** 6 × 2 rows, finite except row `row`, column 1. */
function rows(bad: number, row: number): number[][] {
  const x = [[0, 0], [0, 1], [5, 0], [5, 1], [9, 9], [8, 9]];
  x[row] = [x[row][0], bad];
  return x;
}
const good = () => tf.tensor2d(rows(0, 0));
const labels = [0, 0, 1, 1, 2, 2];

async function refuses(
  call: () => unknown,
  pattern: RegExp,
): Promise<void> {
  let threw = false;
  try {
    await call();
  } catch (e) {
    threw = true;
    assert.match((e as Error).message, pattern);
  }
  assert.ok(threw, `expected an error matching ${pattern}`);
}

for (const bad of BAD) {
  const v = name(bad);
  Deno.test(`embeddings holding ${v} are refused by every entry point, naming the row`, async () => {
    const x = () => tf.tensor2d(rows(bad, 3));
    const re = (fn: string, arg: string, row = 3) =>
      new RegExp(`${fn}: ${arg} row ${row} holds ${v} \\(column 1\\)`);
    // The issue's own example, and its variants.
    await refuses(
      () => retrievalMetrics(tf.tensor2d([[0, 0], [bad, 1], [2, 2]]), [0, 0, 1]),
      new RegExp(`retrievalMetrics: query row 1 holds ${v} \\(column 0\\)`),
    );
    await refuses(() => retrievalMetrics(x(), labels), re("retrievalMetrics", "query"));
    await refuses(
      () => retrievalMetrics(good(), labels, x(), labels),
      re("retrievalMetrics", "reference"),
    );
    await refuses(() => evaluateEmbeddings(x(), labels), re("retrievalMetrics", "query"));
    await refuses(() => knn(x(), undefined, 2), re("knn", "query"));
    await refuses(() => knn(good(), x(), 2), re("knn", "reference"));
    await refuses(() => new Index({ dim: 2 }).add(rows(bad, 3)), re("Index\\.add", "vectors"));
    const hnsw = new Index({ dim: 2, kind: "hnsw" });
    await refuses(
      () => hnsw.add(new Float32Array(rows(bad, 3).flat())),
      re("Index\\.add", "vectors"),
    );
    assert.equal(hnsw.size, 0, "nothing added");
    hnsw.add(rows(0, 0));
    await refuses(() => hnsw.search(rows(bad, 3), 2), re("Index\\.search", "queries"));
    await refuses(() => hnsw.recall(rows(bad, 3), 2), re("Index\\.recall", "queries"));
    await refuses(() => kMeans(x(), 2), re("kMeans", "x"));
    await refuses(() => pca(x(), 2), re("pca", "x"));
    await refuses(() => project(x(), "pca"), re("project", "x"));
    await refuses(() => tsne(x()), re("tsne", "x"));
    await refuses(() => umap(x()), re("umap", "x"));
    await refuses(() => pairwiseDistances(x(), good()), re("pairwiseDistances", "a"));
  });

  Deno.test(`scores holding ${v} are refused by ROC and threshold calibration`, async () => {
    const scores = [0.9, 0.1, bad, 0.4];
    const same = [1, 0, 1, 0];
    const re = (fn: string, arg = "scores") => new RegExp(`${fn}: ${arg} row 2 holds ${v}`);
    await refuses(() => rocCurve(scores, same), re("rocCurve"));
    await refuses(() => rocAuc(scores, same, { scoreType: "distance" }), re("rocCurve"));
    await refuses(() => bestThresholdAccuracy(scores, same), re("bestThresholdAccuracy"));
    await refuses(() => equalErrorRate(scores, same), re("rocCurve"));
    await refuses(() => calibrateThreshold(scores, same), re("calibrateThreshold", "distances"));
    await refuses(() => match(scores, 0.5), re("match", "distances"));
  });
}
