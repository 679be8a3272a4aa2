/**
 * `deno task experiment index --run <run-dir>`: indexes the test split with the encoder trained
 * in a run directory, in an embedding store (`--store memory`, an embedded store directory, or a
 * `postgres://` URL; default `SIMLEARN_DATABASE_URL` when set, else memory), builds its
 * approximate index, and prints the insert rate, the build time, queries/s and recall@k of the
 * approximate search against exact search (lib/eval/knn.ts on the same embeddings).
 *
 * The encoder: `<run-dir>/encoder/` when the run exported one (`saveEncoder`), else the
 * reference CNN of the run's `config.json` (`embeddingDim`) restored from the newest checkpoint in
 * `<run-dir>/checkpoints/train/` (what `siamese` writes; `<run-dir>/checkpoints/` for runs made
 * before the experiment runner).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  defineExperiment,
  FASHION_MNIST_OPTIONS,
  loadExperimentData,
  option,
  UsageError,
} from "../lib/experiment.ts";
import { latestCheckpoint, restoreCheckpoint } from "../lib/io/checkpoint.ts";
import { loadEncoder } from "../lib/models/load.ts";
import { knnArrays } from "../lib/eval/knn.ts";
import { referenceCnn } from "../lib/models/mod.ts";
import { type IndexKind, openStore, SimilarityIndex, type StoreMetric } from "../lib/store/mod.ts";

async function loadTrainedEncoder(
  runDir: string,
  log: (line: string) => void,
): Promise<tf.LayersModel> {
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
  const root = (await latestCheckpoint(`${dir}/checkpoints/train`))
    ? `${dir}/checkpoints/train`
    : `${dir}/checkpoints`;
  const state = await restoreCheckpoint(root, { model });
  if (state === undefined) {
    model.dispose();
    throw new Error(`--run ${runDir}: neither encoder/ nor a checkpoint in checkpoints/train/`);
  }
  log(`encoder: reference CNN from ${root} (step ${state.step})`);
  return model;
}

/** The `index` experiment. */
export const experiment = defineExperiment({
  name: "index",
  description:
    "index the test split with a run's trained encoder in a store; recall@k vs exact, queries/s",
  options: {
    run: option.string("", "the run directory holding the trained encoder (required)", {
      placeholder: "run-dir",
      check: (dir) => {
        try {
          return Deno.statSync(dir).isDirectory ? undefined : "not a directory";
        } catch (e) {
          return e instanceof Deno.errors.NotFound
            ? "no such directory"
            : `cannot read it (${(e as Error).message})`;
        }
      },
    }),
    store: option.string(
      "",
      "memory, an embedded store directory, or a postgres:// URL",
      { placeholder: "store", defaultLabel: "SIMLEARN_DATABASE_URL, else memory" },
    ),
    table: option.string("embeddings", "the store's table (SQL back ends)", {
      placeholder: "name",
    }),
    index: option.choice(["hnsw", "ivfflat", "exact"], "hnsw", "approximate index (ivfflat: SQL)"),
    metric: option.choice(["euclidean", "cosine", "dot"], "euclidean", "the store's metric"),
    k: option.integer(10, "neighbours per query", { min: 1 }),
    queries: option.integer(1000, "test images used as queries (0: all)", { min: 0 }),
    M: option.integer(16, "HNSW: links per node", { min: 2 }),
    efConstruction: option.integer(64, "HNSW: candidates while building", { min: 1 }),
    efSearch: option.integer(40, "HNSW: candidates while searching", { min: 1 }),
    probes: option.integer(0, "IVFFlat: lists visited per query (0: √lists)", { min: 0 }),
    testLimit: option.integer(0, "test images indexed (0: the whole test split)", { min: 0 }),
    ...FASHION_MNIST_OPTIONS,
  },
  trains: false,
  validate(o) {
    if (!o.run) {
      throw new UsageError("--run <run-dir> is required (a run directory with a trained encoder)");
    }
  },
  encoder: (o) => ({ from: o.run }),
  data: (o, log) =>
    loadExperimentData({ dataSource: o.dataSource, trainLimit: 1, testLimit: o.testLimit }, log),
  async run(ctx) {
    const o = ctx.options;
    const encoder = ctx.keep(await loadTrainedEncoder(o.run, ctx.log));
    const { testSet, test } = ctx.data;
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
      ctx.log(
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
      ctx.log(
        `\nembedded and stored ${testSet.n} test images in ${insertSeconds.toFixed(1)} s ` +
          `(${metrics.insertRowsPerSecond.toFixed(0)} rows/s); ${o.index} built in ${
            buildSeconds.toFixed(1)
          } s`,
      );
      ctx.log(
        `${nq} queries: ${
          queriesPerSecond.toFixed(0)
        } queries/s, recall@${k} against exact search ${recall.toFixed(4)}`,
      );
      return metrics;
    } finally {
      await store.close();
    }
  },
});
