/**
 * Every figure `deno task figures` makes (computed with `--fast` budgets), as its HTML shows it
 * and as its SVG/PNG export draws it, and the run report's figures, rendered in headless Chromium
 * in one session: every trace must draw marks inside its plot area and every figure must fit a
 * 1,200 px page (`checkFigures`). Skipped with a message when Chromium is missing.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { checkFigures, figureProblems, findChromium, type NamedFigure } from "../lib/viz/mod.ts";
import { computeFigures, forPrint } from "../tools/figures.ts";

const chromium = await findChromium();
if (!chromium) console.warn("figures_render_test: chromium is missing — skipping");

Deno.test({
  name: "every figure of `deno task figures` draws marks in Chromium and fits a 1,200 px page",
  ignore: !chromium,
  fn: async () => {
    await initBackend("wasm");
    const started = performance.now();
    const entries = await computeFigures({ fast: true, backend: "wasm", out: "figures" });
    const names = entries.map((e) => e.name);
    for (
      const expected of [
        "metric_axioms",
        "curse_of_dimensionality",
        "siamese_training_loss",
        "siamese_pair_distances",
        "siamese_embeddings_umap",
        "siamese_embeddings_3d",
        "siamese_retrieval_gallery",
        "siamese_roc",
        "siamese_precision_threshold",
        "midpoint_pixels_vs_learned",
        "collapse_spread",
      ]
    ) {
      assert.ok(names.includes(expected), `figure ${expected} is missing`);
    }
    const figures: NamedFigure[] = entries.flatMap((e) => [
      { name: `${e.name} (HTML)`, figure: e.figure },
      ...(e.static ? [{ name: `${e.name} (print)`, figure: forPrint(e), static: true }] : []),
    ]);
    const computed = (performance.now() - started) / 1000;
    const reports = await checkFigures(figures);
    const problems = figureProblems(reports);
    console.log(
      `${figures.length} figures computed in ${computed.toFixed(1)} s, checked in ${
        ((performance.now() - started) / 1000 - computed).toFixed(1)
      } s; ${problems.length} problem(s)`,
    );
    assert.deepEqual(
      problems,
      [],
      `figures that do not draw or do not fit:\n${problems.join("\n")}`,
    );
    assert.equal(tf.memory().numTensors < 1000, true);
  },
});
