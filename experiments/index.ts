/**
 * `deno task experiment index --run <run-dir>`: indexes the test split with the encoder trained
 * in a run directory, in an embedding store (`--store memory`, an embedded store directory, or a
 * `postgres://` URL; default `SIMLEARN_DATABASE_URL` when set, else memory), builds its
 * approximate index, and prints the insert rate, the build time, queries/s and recall@k of the
 * approximate search against exact search (lib/eval/knn.ts on the same embeddings).
 *
 * The encoder: `<run-dir>/encoder/` when the run exported one (`saveEncoder`), else the
 * reference CNN of the run's `config.json` (`embeddingDim`) restored from the newest checkpoint in
 * `<run-dir>/checkpoints/` (what `siamese` writes).
 *
 * Written against the current experiment shape (`Experiment.run`, `parseOptions`, `startRun`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Experiment, loadExperimentData, parseOptions, startRun } from "../lib/experiment.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import { restoreCheckpoint } from "../lib/io/checkpoint.ts";
import { loadEncoder } from "../lib/models/load.ts";
import { knnArrays } from "../lib/eval/knn.ts";
import { referenceCnn } from "../lib/models/mod.ts";
import { type IndexKind, openStore, SimilarityIndex, type StoreMetric } from "../lib/store/mod.ts";

const DEFAULTS = {
  /** The run directory holding the trained encoder (required). */
  run: "",
  /** `memory`, an embedded store directory, or a postgres:// URL ("" = SIMLEARN_DATABASE_URL or memory). */
  store: "",
  /** The store's table (SQL back ends). */
  table: "embeddings",
  /** `hnsw`, `ivfflat` (SQL back ends) or `exact`. */
  index: "hnsw",
  metric: "euclidean",
  k: 10,
  /** Test images used as queries (0 = all). */
  queries: 1000,
  M: 16,
  efConstruction: 64,
  efSearch: 40,
  /** IVFFlat lists visited per query (0 = √lists). */
  probes: 0,
  /** Test images indexed (0 = the whole test split). */
  testLimit: 0,
  dataSource: "",
  /** Where the run directory of this experiment is created. */
  resultsRoot: "results",
};

async function loadTrainedEncoder(runDir: string): Promise<tf.LayersModel> {
  const dir = runDir.replace(/\/+$/, "");
  try {
    await Deno.stat(`${dir}/encoder/model.json`);
    return await loadEncoder(`${dir}/encoder`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  let config: { options?: { embeddingDim?: number } };
  try {
    config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } catch (e) {
    throw new Error(`--run ${runDir}: no config.json there (${(e as Error).message})`);
  }
  const model = referenceCnn({ embeddingDim: config.options?.embeddingDim ?? 64, seed: 0 });
  const state = await restoreCheckpoint(`${dir}/checkpoints`, { model });
  if (state === undefined) {
    model.dispose();
    throw new Error(`--run ${runDir}: neither encoder/ nor a checkpoint in checkpoints/`);
  }
  console.log(`encoder: reference CNN from ${dir}/checkpoints (step ${state.step})`);
  return model;
}

/** The `index` experiment. */
export const experiment: Experiment = {
  name: "index",
  description:
    "index the test split with a run's trained encoder in a store; recall@k vs exact, queries/s",
  async run(args) {
    const o = parseOptions(args, DEFAULTS);
    if (!o.run) {
      throw new Error("--run <run-dir> is required (a run directory with a trained encoder)");
    }
    for (
      const [name, v] of [["k", o.k], ["M", o.M], ["efConstruction", o.efConstruction], [
        "efSearch",
        o.efSearch,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`--${name}: expected a positive integer, got ${v}`);
      }
    }
    if (!["hnsw", "ivfflat", "exact"].includes(o.index)) {
      throw new Error(`--index: expected hnsw, ivfflat or exact, got ${o.index}`);
    }
    if (!["euclidean", "cosine", "dot"].includes(o.metric)) {
      throw new Error(`--metric: expected euclidean, cosine or dot, got ${o.metric}`);
    }
    const run = await startRun("index", args, o, { root: o.resultsRoot });
    const encoder = await loadTrainedEncoder(o.run);
    const data = await loadExperimentData({
      dataSource: o.dataSource,
      trainLimit: 1,
      testLimit: o.testLimit,
    });
    const { testSet, test } = data;
    const dim = (encoder.outputs[0].shape as number[])[1];
    const store = await openStore(o.store || undefined, {
      dim,
      metric: o.metric as StoreMetric,
      index: o.index as IndexKind,
      hnsw: { M: o.M, efConstruction: o.efConstruction, efSearch: o.efSearch },
      ...(o.probes > 0 ? { ivfflat: { probes: o.probes } } : {}),
      ...(o.store === "memory" ? {} : { table: o.table }),
    });
    try {
      console.log(
        `store: ${store.kind}${o.store ? ` (${o.store.replace(/:[^:@/]*@/, ":***@")})` : ""}`,
      );
      const search = new SimilarityIndex(encoder, store);
      let t0 = performance.now();
      const ids = Array.from({ length: testSet.n }, (_, i) => String(i));
      await search.index(test.x, testSet.labels, { ids, upsert: true });
      const insertSeconds = (performance.now() - t0) / 1000;
      t0 = performance.now();
      await store.buildIndex();
      const buildSeconds = (performance.now() - t0) / 1000;
      const nq = o.queries > 0 ? Math.min(o.queries, testSet.n) : testSet.n;
      const k = Math.min(o.k, testSet.n);
      const queryImages = test.x.slice([0, 0, 0, 0], [nq, 28, 28, 1]);
      const e = search.embed(queryImages);
      const q = await e.data() as Float32Array;
      const all = search.embed(test.x);
      const x = await all.data() as Float32Array;
      tf.dispose([e, all, queryImages]);
      t0 = performance.now();
      const hits = await store.search(q, k);
      const queriesPerSecond = nq / ((performance.now() - t0) / 1000);
      const truth = await knnArrays(q, x, nq, dim, k, { metric: o.metric, excludeSelf: false });
      let found = 0;
      hits.forEach((row, i) => {
        const want = new Set(Array.from(truth.indices.subarray(i * k, (i + 1) * k), String));
        for (const h of row) if (want.has(h.id)) found++;
      });
      const recall = found / (nq * k);
      const metrics = {
        store: store.kind,
        index: o.index,
        rows: testSet.n,
        queries: nq,
        k,
        insertRowsPerSecond: testSet.n / insertSeconds,
        buildSeconds,
        queriesPerSecond,
        recallAtK: recall,
      };
      await writeJsonAtomic(`${run.dir}/metrics.json`, metrics);
      console.log(
        `\nembedded and stored ${testSet.n} test images in ${insertSeconds.toFixed(1)} s ` +
          `(${metrics.insertRowsPerSecond.toFixed(0)} rows/s); ${o.index} built in ${
            buildSeconds.toFixed(1)
          } s`,
      );
      console.log(
        `${nq} queries: ${
          queriesPerSecond.toFixed(0)
        } queries/s, recall@${k} against exact search ${recall.toFixed(4)}`,
      );
      console.log(`\nresults: ${run.dir}/`);
    } finally {
      await store.close();
      data.dispose();
      encoder.dispose();
    }
  },
};
