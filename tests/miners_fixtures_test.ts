/**
 * The miners against pytorch-metric-learning 2.9.0 itself: tests/fixtures/miners.json holds, for
 * each case, the inputs, our function and options, and the tuples PML mined, in PML's order
 * (`bench/fixture_sections/miners.py`). Only the public API (`lib/mod.ts`) is called.
 *
 * A case that disagrees with PML and is not fixed yet is listed in `KNOWN_DISCREPANCIES` with a
 * TODO naming it; its test is skipped (reported as ignored), so it cannot go unnoticed.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as lib from "../lib/mod.ts";
import { loadFixture } from "./_fixtures.ts";

await tf.setBackend("cpu");

interface MinerCase {
  name: string;
  miner: string;
  options: Record<string, unknown>;
  pml: { class: string; kwargs: Record<string, unknown> };
  embeddings: number[][];
  labels: number[];
  expected: Record<string, number[]>;
}

type MinerFn = (
  e: tf.Tensor2D,
  labels: number[],
  options: Record<string, unknown>,
) => Record<string, Int32Array>;
const FUNCTIONS = lib as unknown as Record<string, MinerFn>;

/**
 * Cases where the library disagrees with PML today, each with the exact discrepancy, for the
 * miners' owner to fix (TODO: remove an entry once its case passes).
 */
const KNOWN_DISCREPANCIES: Record<string, string> = {};

const fixture = loadFixture<MinerCase[]>("miners");

Deno.test("the miner fixture was made by PML 2.9.0 and covers every miner", () => {
  assert.equal(fixture.versions.pytorch_metric_learning, "2.9.0");
  const miners = new Set(fixture.cases.map((c) => c.miner));
  for (
    const name of [
      "tripletMarginMiner",
      "batchHardMiner",
      "multiSimilarityMiner",
      "pairMarginMiner",
    ]
  ) {
    assert.ok(miners.has(name), name);
  }
});

for (const c of fixture.cases) {
  const todo = KNOWN_DISCREPANCIES[c.name];
  Deno.test({
    name: `${c.miner} equals PML's ${c.pml.class}: ${c.name} ${JSON.stringify(c.options)}` +
      (todo ? ` (TODO: ${todo})` : ""),
    ignore: todo !== undefined,
    fn: () => {
      const fn = FUNCTIONS[c.miner];
      assert.equal(typeof fn, "function", `${c.miner} is exported by lib/mod.ts`);
      const e = tf.tensor2d(c.embeddings);
      try {
        const ours = fn(e, c.labels, c.options);
        assert.deepEqual(Object.keys(ours).sort(), Object.keys(c.expected).sort());
        for (const [key, expected] of Object.entries(c.expected)) {
          assert.deepEqual([...ours[key]], expected, `${c.name}: ${key} (PML's order)`);
        }
      } finally {
        e.dispose();
      }
    },
  });
}
