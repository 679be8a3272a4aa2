/**
 * Benchmark of the embedding stores, side by side in one run: n × d float32 embeddings (default
 * 100,000 × 64, a seeded mixture of 100 Gaussian clusters, which is how learned embeddings look)
 * inserted in batches, the approximate index built, then queries timed and scored by recall@k
 * against exact search (ground truth from the memory store's exact blocked search).
 *
 * Back ends: `memory` (MemoryStore, HNSW of lib/eval/index.ts), `embedded` (PGlite + pgvector in
 * a temporary directory, HNSW) and, when `SIMLEARN_DATABASE_URL` or `--server` gives one,
 * `server` (PostgreSQL + pgvector over `pg`, HNSW). Every back end gets the same HNSW settings
 * (M, efConstruction) and each efSearch; exact search is timed for the record on fewer queries.
 *
 * Run: `deno task bench store [--n 100000] [--dim 64] [--queries 1000] [--k 10]
 * [--efSearch 40,100] [--M 16] [--efConstruction 64] [--batch 1000] [--exactQueries 100]
 * [--backends memory,embedded,server] [--server postgres://…]` (a server needs
 * `--allow-net=<host>` besides the `bench` permission set).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng } from "../lib/data/random.ts";
import { knnArrays } from "../lib/eval/knn.ts";
import {
  type EmbeddingStore,
  MemoryStore,
  openEmbeddedStore,
  openServerStore,
  redactUrl,
} from "../lib/store/mod.ts";

/** Settings of {@linkcode runStoreBench}. */
export interface StoreBenchOptions {
  n: number;
  dim: number;
  queries: number;
  k: number;
  efSearch: number[];
  M: number;
  efConstruction: number;
  batch: number;
  exactQueries: number;
  backends: string[];
  server?: string;
  seed: number;
}

/**
 * Parses `bench store` arguments.
 *
 * @example
 * ```ts
 * import { parseStoreArgs } from "./store.ts";
 * parseStoreArgs(["--n", "2000", "--efSearch", "20,80"]).efSearch; // [20, 80]
 * ```
 */
export function parseStoreArgs(args: string[]): StoreBenchOptions {
  const o: StoreBenchOptions = {
    n: 100_000,
    dim: 64,
    queries: 1000,
    k: 10,
    efSearch: [40, 100],
    M: 16,
    efConstruction: 64,
    batch: 1000,
    exactQueries: 100,
    backends: ["memory", "embedded", "server"],
    seed: 0,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i], v = args[++i];
    if (v === undefined) throw new Error(`bench store: ${flag} needs a value`);
    const num = () => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < 1) {
        throw new Error(`bench store: ${flag} needs a positive integer, got ${v}`);
      }
      return x;
    };
    switch (flag) {
      case "--efSearch":
        o.efSearch = v.split(",").map((s) => {
          const x = Number(s);
          if (!Number.isInteger(x) || x < 1) throw new Error(`bench store: bad --efSearch ${v}`);
          return x;
        });
        break;
      case "--backends":
        o.backends = v.split(",");
        for (const b of o.backends) {
          if (!["memory", "embedded", "server"].includes(b)) {
            throw new Error(`bench store: --backends takes memory,embedded,server, got ${b}`);
          }
        }
        break;
      case "--server":
        o.server = v;
        break;
      case "--n":
      case "--dim":
      case "--queries":
      case "--k":
      case "--M":
      case "--efConstruction":
      case "--batch":
      case "--exactQueries":
      case "--seed":
        (o as unknown as Record<string, number>)[flag.slice(2)] = num();
        break;
      default:
        throw new Error(`bench store: unknown option ${flag}`);
    }
  }
  return o;
}

/** The host:port of a connection URL (for the table). */
function serverHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return redactUrl(url);
  }
}

/** A seeded mixture of 100 Gaussian clusters: centres N(0, 1), spread 0.35 per coordinate. */
function mixture(seed: number, n: number, d: number, centres: Float32Array): Float32Array {
  const rng = createRng(seed);
  const c = centres.length / d;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const j = Math.floor(rng.next() * c);
    for (let t = 0; t < d; t++) out[i * d + t] = centres[j * d + t] + 0.35 * rng.normal();
  }
  return out;
}

interface Row {
  backend: string;
  setting: string;
  insertPerS?: number;
  buildS?: number;
  qps: number;
  recall: number;
  memory?: string;
}

function recallOf(hits: { id: string }[][], truth: Int32Array, k: number): number {
  let hit = 0;
  hits.forEach((row, i) => {
    const want = new Set(Array.from(truth.subarray(i * k, (i + 1) * k), String));
    for (const h of row.slice(0, k)) if (want.has(h.id)) hit++;
  });
  return hit / (hits.length * k);
}

const MB = 1024 * 1024;

async function dirSize(path: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(path)) {
    const p = `${path}/${e.name}`;
    if (e.isDirectory) total += await dirSize(p);
    else if (e.isFile) total += (await Deno.stat(p)).size;
  }
  return total;
}

/**
 * Runs the benchmark and prints the table (see the module documentation).
 *
 * @example
 * ```ts ignore
 * import { runStoreBench } from "./store.ts";
 * await runStoreBench(["--n", "5000", "--queries", "100", "--backends", "memory"]);
 * ```
 */
export async function runStoreBench(args: string[]): Promise<Row[]> {
  const o = parseStoreArgs(args);
  await tf.setBackend("cpu");
  const server = o.server ?? Deno.env.get("SIMLEARN_DATABASE_URL");
  const rng = createRng(o.seed);
  const centres = Float32Array.from({ length: 100 * o.dim }, () => rng.normal());
  const x = mixture(o.seed + 1, o.n, o.dim, centres);
  const q = mixture(o.seed + 2, o.queries, o.dim, centres);
  const ids = Array.from({ length: o.n }, (_, i) => String(i));
  const labels = Array.from({ length: o.n }, (_, i) => i % 10);
  console.log(
    `bench store: ${o.n} × ${o.dim} float32 (mixture of 100 Gaussians), ${o.queries} queries, ` +
      `recall@${o.k} against exact search; HNSW M ${o.M}, efConstruction ${o.efConstruction}; ` +
      `batches of ${o.batch}; Deno ${Deno.version.deno}`,
  );
  let t0 = performance.now();
  const truth = await knnArrays(q, x, o.queries, o.dim, o.k, {
    metric: "euclidean",
    excludeSelf: false,
  });
  const exactS = (performance.now() - t0) / 1000;
  console.log(
    `ground truth: exact blocked search (lib/eval/knn.ts), ${
      (o.queries / exactS).toFixed(0)
    } queries/s\n`,
  );
  const rows: Row[] = [];
  const print = (r: Row) => {
    const f = (v: number | undefined, digits = 0) => (v === undefined ? "" : v.toFixed(digits));
    console.log(
      [
        r.backend.padEnd(22),
        r.setting.padEnd(14),
        f(r.insertPerS).padStart(9),
        f(r.buildS, 1).padStart(8),
        f(r.qps).padStart(9),
        r.recall.toFixed(4).padStart(9),
        "  " + (r.memory ?? ""),
      ].join(" "),
    );
    rows.push(r);
  };
  const header = () =>
    console.log(
      [
        "backend".padEnd(22),
        "setting".padEnd(14),
        "insert/s".padStart(9),
        "build s".padStart(8),
        "queries/s".padStart(9),
        `recall@${o.k}`.padStart(9),
        "  memory",
      ].join(" "),
    );
  header();

  const measure = async (
    name: string,
    store: EmbeddingStore,
    memory: () => Promise<string>,
  ) => {
    t0 = performance.now();
    await store.add(ids, x, { labels, batchSize: o.batch, progress: true });
    const insertPerS = o.n / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    await store.buildIndex();
    const buildS = (performance.now() - t0) / 1000;
    const mem = await memory();
    let first = true;
    for (const ef of o.efSearch) {
      t0 = performance.now();
      const hits = await store.search(q, o.k, { efSearch: ef });
      const qps = o.queries / ((performance.now() - t0) / 1000);
      print({
        backend: name,
        setting: `hnsw ef ${ef}`,
        insertPerS: first ? insertPerS : undefined,
        buildS: first ? buildS : undefined,
        qps,
        recall: recallOf(hits, truth.indices, o.k),
        memory: first ? mem : undefined,
      });
      first = false;
    }
    const eq = Math.min(o.exactQueries, o.queries);
    t0 = performance.now();
    const exact = await store.search(q.subarray(0, eq * o.dim), o.k, { exact: true });
    print({
      backend: name,
      setting: "exact",
      qps: eq / ((performance.now() - t0) / 1000),
      recall: recallOf(exact, truth.indices.subarray(0, eq * o.k), o.k),
    });
  };

  const settings = {
    dim: o.dim,
    index: "hnsw" as const,
    hnsw: { M: o.M, efConstruction: o.efConstruction, efSearch: o.efSearch[0] },
    batchSize: o.batch,
  };
  if (o.backends.includes("memory")) {
    const before = Deno.memoryUsage();
    const store = new MemoryStore(settings);
    await measure("memory (HNSW)", store, () => {
      const after = Deno.memoryUsage();
      const used = (after.heapUsed + after.external - before.heapUsed - before.external) / MB;
      const formula = (o.n * (8 * o.dim + 8 * o.M + 450)) / MB;
      return Promise.resolve(
        `JS heap +${used.toFixed(0)} MB (n·(8d + 8M + ~450) B = ${formula.toFixed(0)} MB)`,
      );
    });
    await store.close();
  }
  if (o.backends.includes("embedded")) {
    const dir = await Deno.makeTempDir({ prefix: "simlearn-bench-store-" });
    try {
      const rss0 = Deno.memoryUsage().rss;
      const store = await openEmbeddedStore(`${dir}/store`, {
        ...settings,
        maintenanceWorkMem: "512MB",
      });
      await measure("embedded (PGlite)", store, async () => {
        const rss = (Deno.memoryUsage().rss - rss0) / MB;
        const disk = (await dirSize(`${dir}/store`)) / MB;
        return `process RSS +${rss.toFixed(0)} MB, directory ${disk.toFixed(0)} MB`;
      });
      await store.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  if (o.backends.includes("server")) {
    if (!server) {
      console.log("server (PostgreSQL)      skipped: set SIMLEARN_DATABASE_URL or --server");
    } else {
      const table = `simlearn_bench_${crypto.randomUUID().slice(0, 8)}`;
      const store = await openServerStore(server, { ...settings, table });
      await measure(
        `server (${serverHost(server)})`,
        store,
        () => Promise.resolve("on the server"),
      );
      await store.close();
      console.log(`(the server keeps the table ${table}; drop it when done)`);
    }
  }
  return rows;
}
