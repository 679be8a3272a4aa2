/**
 * The `index` experiment end to end: a `siamese` run trains (a few steps) and leaves a checkpoint;
 * `index --run <dir>` rebuilds its encoder, indexes the test split in a store and records recall@k
 * against exact search and queries/s.
 */
import assert from "node:assert/strict";
import { main } from "../experiments/main.ts";

Deno.test({
  name: "index experiment: a run's encoder indexes the test split; recall and queries/s recorded",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "simlearn-index-exp-" });
    try {
      const quiet = () => {};
      const trained = ["siamese", "--steps", "2", "--trainLimit", "256", "--testLimit", "100"];
      assert.equal(await main([...trained, "--resultsRoot", root], quiet), 0);
      const [runId] = [...Deno.readDirSync(`${root}/siamese`)].map((e) => e.name);
      const runDir = `${root}/siamese/${runId}`;
      const errors: string[] = [];
      assert.equal(await main(["index", "--resultsRoot", root], quiet, (l) => errors.push(l)), 2);
      assert.match(errors[0], /--run <run-dir> is required/);
      const args = ["index", "--run", runDir, "--testLimit", "300", "--queries", "60", "--k", "5"];
      assert.equal(await main([...args, "--resultsRoot", root], quiet), 0);
      const [indexRun] = [...Deno.readDirSync(`${root}/index`)].map((e) => e.name);
      const metrics = JSON.parse(await Deno.readTextFile(`${root}/index/${indexRun}/metrics.json`));
      assert.equal(metrics.store, "memory");
      assert.equal(metrics.rows, 300);
      assert.equal(metrics.queries, 60);
      assert.ok(metrics.recallAtK >= 0.9 && metrics.recallAtK <= 1, `recall ${metrics.recallAtK}`);
      assert.ok(metrics.queriesPerSecond > 0 && metrics.buildSeconds >= 0);
      // An embedded store directory as --store.
      const store = `${root}/stores/test-split`;
      assert.equal(await main([...args, "--store", store, "--resultsRoot", root], quiet), 0);
      assert.ok((await Deno.stat(`${store}/simlearn-store.json`)).isFile);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
