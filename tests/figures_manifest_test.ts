/**
 * `deno task figures --only …` keeps the manifest entries of the figures it did not draw (it used
 * to rewrite `figures/manifest.json` with the drawn ones alone), each with the commit that drew it.
 */
import assert from "node:assert/strict";
import { mergeManifestFigures } from "../tools/figures.ts";

Deno.test("mergeManifestFigures: --only replaces its figures and keeps the others with their commit", () => {
  const previous = {
    gitCommit: "old",
    figures: [
      { name: "metric_axioms", metrics: { a: 1 } },
      { name: "benchmark", metrics: { b: 1 } },
      { name: "siamese_roc", gitCommit: "older", metrics: { c: 1 } },
    ],
  };
  const drawn = [
    { name: "benchmark", gitCommit: "new", metrics: { b: 2 } },
    { name: "brand_new", gitCommit: "new" },
  ];
  assert.deepEqual(mergeManifestFigures(previous, drawn), [
    { name: "metric_axioms", gitCommit: "old", metrics: { a: 1 } },
    { name: "benchmark", gitCommit: "new", metrics: { b: 2 } },
    { name: "siamese_roc", gitCommit: "older", metrics: { c: 1 } },
    { name: "brand_new", gitCommit: "new" },
  ]);
  // No previous manifest (or a whole run): the drawn figures alone.
  assert.deepEqual(mergeManifestFigures(undefined, drawn), drawn);
  assert.deepEqual(mergeManifestFigures({ gitCommit: "x" }, drawn), drawn);
});
