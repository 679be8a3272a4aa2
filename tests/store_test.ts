/**
 * The embedding stores: one conformance suite run against every back end — memory, embedded
 * (PGlite + pgvector) and server (the `pg` client against PGlite + pgvector served on a loopback
 * port by `@electric-sql/pglite-socket`, started here), and against the server in
 * `SIMLEARN_DATABASE_URL` when that is set — plus approximate indexes, persistence, incompatible
 * stores, and connection faults (refused; dropped mid-insert through a cutting proxy).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import { createRng } from "../lib/data/random.ts";
import {
  DimensionMismatchError,
  DuplicateIdError,
  type EmbeddingStore,
  IncompatibleStoreError,
  MemoryStore,
  type Metadata,
  NonFiniteEmbeddingError,
  openEmbeddedStore,
  openServerStore,
  openStore,
  type SearchHit,
  type SqlStoreOptions,
  STORE_MARKER,
  StoreClosedError,
  StoreConnectionError,
  StoreError,
  type StoreMetric,
  UnknownFieldError,
  UnknownMetricError,
} from "../lib/store/mod.ts";

await tf.setBackend("cpu");

// ---------------------------------------------------------------------------------------------
// A PostgreSQL wire-protocol server on a loopback port: PGlite + pgvector behind pglite-socket.

const serverDb = await PGlite.create({ extensions: { vector } });
const socketServer = new PGLiteSocketServer({
  db: serverDb,
  host: "127.0.0.1",
  port: 0, // a free ephemeral port
  maxConnections: 16,
});
await socketServer.start();
const SOCKET_URL = `postgres://postgres:secret@${socketServer.getServerConn()}/postgres`;
const ENV_URL = Deno.env.get("SIMLEARN_DATABASE_URL");
let tables = 0;
const runId = crypto.randomUUID().slice(0, 8);
const table = () => `t_${runId}_${++tables}`;

interface Backend {
  name: string;
  open(options: SqlStoreOptions): Promise<EmbeddingStore>;
  indexes: ("hnsw" | "ivfflat")[];
}

const BACKENDS: Backend[] = [
  {
    name: "memory",
    open: ({ table: _t, maintenanceWorkMem: _m, ...o }) => Promise.resolve(new MemoryStore(o)),
    indexes: ["hnsw"],
  },
  {
    name: "embedded",
    open: (o) => openEmbeddedStore(undefined, o),
    indexes: ["hnsw", "ivfflat"],
  },
  {
    name: "server (PGlite over a loopback socket)",
    open: (o) => openServerStore(SOCKET_URL, { table: table(), ...o }),
    indexes: ["hnsw", "ivfflat"],
  },
];
const envTables: string[] = [];
if (ENV_URL) {
  BACKENDS.push({
    name: "server (SIMLEARN_DATABASE_URL)",
    open: (o) => {
      const name = table();
      envTables.push(name);
      return openServerStore(ENV_URL, { table: name, ...o });
    },
    indexes: ["hnsw", "ivfflat"],
  });
}

const IO = { sanitizeOps: false, sanitizeResources: false };

// ---------------------------------------------------------------------------------------------
// Reference computations (float64 on the float32 values the stores hold).

function rows(seed: number, n: number, d: number): number[][] {
  const rng = createRng(seed);
  return Array.from(
    { length: n },
    () => Array.from({ length: d }, () => Math.fround(rng.normal())),
  );
}

function distance(metric: StoreMetric, a: number[], b: number[]): number {
  let dot = 0, aa = 0, bb = 0, sq = 0;
  for (let t = 0; t < a.length; t++) {
    dot += a[t] * b[t];
    aa += a[t] * a[t];
    bb += b[t] * b[t];
    sq += (a[t] - b[t]) ** 2;
  }
  if (metric === "euclidean") return Math.sqrt(sq);
  if (metric === "cosine") return 1 - dot / Math.sqrt(aa * bb);
  return -dot;
}

function brute(
  metric: StoreMetric,
  q: number[],
  x: number[][],
  k: number,
  keep: (i: number) => boolean = () => true,
): { ids: number[]; distances: number[] } {
  const d = x.map((v) => distance(metric, q, v));
  const ids = x.map((_, j) => j).filter(keep).sort((a, b) => d[a] - d[b]).slice(0, k);
  return { ids, distances: ids.map((j) => d[j]) };
}

const COLOURS = ["red", "green", "blue"];
function metadataOf(i: number): Metadata {
  const m: Metadata = { colour: COLOURS[i % 3], price: (i * 7) % 50 + 0.5, fresh: i % 4 === 0 };
  if (i % 10 === 9) delete m.colour; // some rows lack a field
  return m;
}

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

function checkHits(hits: SearchHit[], exp: { ids: number[]; distances: number[] }, what: string) {
  assert.deepEqual(hits.map((h) => h.id), exp.ids.map(String), what);
  hits.forEach((h, t) => close(h.distance, exp.distances[t], `${what} distance ${t}`));
}

// ---------------------------------------------------------------------------------------------
// The conformance suite, once per back end.

for (const backend of BACKENDS) {
  Deno.test({
    name: `store conformance: ${backend.name}`,
    ...IO,
    fn: async (t) => {
      const D = 8, N = 300;
      const x = rows(1, N, D), queries = rows(2, 6, D);
      const labels = x.map((_, i) => i % 5);
      const meta = x.map((_, i) => metadataOf(i));
      const store = await backend.open({ dim: D, progress: false });
      const ids = x.map((_, i) => String(i));
      const r = await store.add(ids, x, { labels, metadata: meta });
      assert.deepEqual(r, { stored: N, replaced: 0 });
      assert.equal(store.kind, backend.name.split(" ")[0]);

      await t.step("search equals brute force for every metric", async () => {
        for (const metric of ["euclidean", "cosine", "dot"] as const) {
          const res = await store.search(queries, 7, { metric });
          assert.equal(res.length, queries.length);
          queries.forEach((q, i) => checkHits(res[i], brute(metric, q, x, 7), `${metric} q${i}`));
          const hit = res[0][0];
          const j = Number(hit.id);
          assert.equal(hit.label, labels[j]);
          assert.deepEqual(hit.metadata, meta[j]);
        }
        const all = await store.search(queries.slice(0, 1), N + 50);
        assert.equal(all[0].length, N, "k beyond the rows returns every row");
        assert.deepEqual(await store.search([], 3), []);
        // A Float32Array and a tensor give the same answer as rows.
        const flat = await store.search(Float32Array.from(queries.flat()), 3);
        const tensor = await store.search(tf.tensor2d(queries), 3);
        assert.deepEqual(
          flat.map((h) => h.map((x) => x.id)),
          tensor.map((h) => h.map((x) => x.id)),
        );
      });

      await t.step("filters select what a reference predicate selects", async () => {
        const cases: [Record<string, unknown>, (i: number) => boolean][] = [
          [{ colour: "red" }, (i) => meta[i].colour === "red"],
          [{ colour: ["red", "blue"] }, (i) => ["red", "blue"].includes(meta[i].colour as string)],
          [
            { colour: { ne: "red" } },
            (i) => meta[i].colour !== undefined && meta[i].colour !== "red",
          ],
          [
            { price: { gte: 10, lt: 30 } },
            (i) => (meta[i].price as number) >= 10 && (meta[i].price as number) < 30,
          ],
          [
            { fresh: true, label: { in: [0, 2] } },
            (i) => meta[i].fresh === true && [0, 2].includes(labels[i]),
          ],
          [{ label: { gt: 2 } }, (i) => labels[i] > 2],
          [{ id: ["3", "4", "250"] }, (i) => [3, 4, 250].includes(i)],
          [{ price: 0.5 }, (i) => meta[i].price === 0.5],
        ];
        for (const [filter, keep] of cases) {
          const what = JSON.stringify(filter);
          const res = await store.search(queries, 5, { filter: filter as never, metric: "cosine" });
          queries.forEach((q, i) => checkHits(res[i], brute("cosine", q, x, 5, keep), what));
          assert.equal(
            await store.count(filter as never),
            x.filter((_, i) => keep(i)).length,
            what,
          );
        }
        await assert.rejects(
          store.search(queries, 3, { filter: { colour2: "red" } }),
          (e: Error) =>
            e instanceof UnknownFieldError && e.field === "colour2" && /colour/.test(e.message),
        );
        await assert.rejects(store.count({ nope: 1 }), UnknownFieldError);
        await assert.rejects(store.search(queries, 3, { filter: { price: "cheap" } }), TypeError);
        await assert.rejects(
          store.search(queries, 3, { filter: { colour: { lt: 3 } } }),
          TypeError,
        );
        await assert.rejects(store.search(queries, 3, { filter: { label: 1.5 } }), TypeError);
        await assert.rejects(
          store.search(queries, 3, { filter: { colour: { like: "r%" } } as never }),
          TypeError,
        );
        await assert.rejects(
          store.search(queries, 3, { metric: "manhattan" as never }),
          (e: Error) => e instanceof UnknownMetricError && /manhattan/.test(e.message),
        );
      });

      await t.step("get, count and delete", async () => {
        const [a, none, b] = await store.get(["5", "nope", "9"]);
        assert.deepEqual([...a!.embedding], x[5], "float32 values come back exactly");
        assert.equal(a!.label, labels[5]);
        assert.deepEqual(a!.metadata, meta[5]);
        assert.equal(none, null);
        assert.deepEqual(b!.metadata, meta[9]);
        assert.equal(await store.count(), N);
        assert.equal(await store.delete(["5", "6", "nope", "5"]), 2);
        assert.equal(await store.count(), N - 2);
        assert.deepEqual(await store.get(["5"]), [null]);
        const res = await store.search([x[5]], 3);
        assert.ok(!res[0].some((h) => h.id === "5" || h.id === "6"));
        checkHits(
          res[0],
          brute("euclidean", x[5], x, 3, (i) => i !== 5 && i !== 6),
          "after delete",
        );
      });

      await t.step("duplicate ids: refused whole, or replaced with upsert", async () => {
        const before = await store.count();
        await assert.rejects(
          store.add(["new1", "new2", "new1"], [x[0], x[1], x[2]]),
          (e: Error) => e instanceof DuplicateIdError && e.ids[0] === "new1" && e.stored === 0,
        );
        await assert.rejects(
          store.add(["new1", "7"], [x[0], x[1]]),
          (e: Error) =>
            e instanceof DuplicateIdError && e.ids.includes("7") &&
            /nothing was stored/.test(e.message),
        );
        assert.equal(await store.count(), before);
        assert.deepEqual(await store.get(["new1"]), [null]);
        const up = await store.add(["7", "new1"], [x[100], x[101]], {
          upsert: true,
          labels: [42, 43],
          metadata: [{ colour: "gold" }, undefined],
        });
        assert.deepEqual(up, { stored: 2, replaced: 1 });
        const [seven] = await store.get(["7"]);
        assert.deepEqual([...seven!.embedding], x[100]);
        assert.equal(seven!.label, 42);
        assert.deepEqual(seven!.metadata, { colour: "gold" });
        assert.equal(await store.count(), before + 1);
        const [hits] = await store.search([x[100]], 2);
        assert.deepEqual(hits.map((h) => h.id).sort(), ["100", "7"]);
      });

      await t.step("bad input is a named error and stores nothing", async () => {
        const before = await store.count();
        const row = x[0];
        const bad: [() => Promise<unknown>, (e: Error) => boolean][] = [
          [
            () => store.add(["b1"], [[1, 2, 3]]),
            (e) => e instanceof DimensionMismatchError && e.actual === 3 && e.expected === D,
          ],
          [
            () => store.add(["b1"], new Float32Array(D + 1)),
            (e) => e instanceof DimensionMismatchError,
          ],
          [
            () => store.add(["b1"], tf.zeros([1, D + 2]) as tf.Tensor2D),
            (e) => e instanceof DimensionMismatchError,
          ],
          [() => store.search([[1, 2]], 1), (e) => e instanceof DimensionMismatchError],
          [
            () => store.add(["b1", "b2"], [row, row.map((v, j) => (j === 3 ? NaN : v))]),
            (e) =>
              e instanceof NonFiniteEmbeddingError && e.row === 1 && e.column === 3 &&
              /NaN/.test(e.message),
          ],
          [
            () => store.add(["b1"], Float64Array.from(row.map((v, j) => (j === 2 ? 1e39 : v)))),
            (e) => e instanceof NonFiniteEmbeddingError && /float32/.test(e.message),
          ],
          [
            () => store.search([row.map(() => Infinity)], 1),
            (e) => e instanceof NonFiniteEmbeddingError,
          ],
          [
            () => store.add(["b1", "b2"], [row]),
            (e) => e instanceof RangeError && /2 ids for 1/.test(e.message),
          ],
          [() => store.add([""], [row]), (e) => e instanceof TypeError],
          [() => store.add([7 as never], [row]), (e) => e instanceof TypeError],
          [
            () => store.add(["a\u0000b"], [row]),
            (e) => e instanceof TypeError && /NUL/.test(e.message),
          ],
          [
            () => store.add(["b1"], [row], { labels: [0.5] }),
            (e) => e instanceof TypeError && /labels\[0\]/.test(e.message),
          ],
          [() => store.add(["b1"], [row], { labels: [1, 2] }), (e) => e instanceof RangeError],
          [
            () =>
              store.add(["b1", "b2"], [row, row], { metadata: [{ colour: "red" }, { colour: 3 }] }),
            (e) => e instanceof TypeError && /colour/.test(e.message),
          ],
          [
            () => store.add(["b1"], [row], { metadata: [{ price: "high" }] }),
            (e) => e instanceof TypeError,
          ],
          [
            () => store.add(["b1"], [row], { metadata: [{ label: 3 }] }),
            (e) => e instanceof TypeError && /reserved/.test(e.message),
          ],
          [
            () => store.add(["b1"], [row], { metadata: [{ w: NaN }] }),
            (e) => e instanceof TypeError,
          ],
          [
            () => store.add(["b1"], [row], { metadata: [{ w: { deep: 1 } as never }] }),
            (e) => e instanceof TypeError,
          ],
          [
            () => store.add(["b1"], [row], { bogus: 1 } as never),
            (e) => /unknown option "bogus"/.test(e.message),
          ],
          [() => store.search([row], 0), (e) => e instanceof RangeError && /k/.test(e.message)],
          [() => store.search([row], 2.5), (e) => e instanceof RangeError],
        ];
        for (const [call, ok] of bad) {
          await assert.rejects(call(), (e: Error) => {
            assert.ok(ok(e), `unexpected ${e.name}: ${e.message}`);
            return true;
          });
        }
        assert.equal(await store.count(), before);
        assert.deepEqual(await store.get(["b1", "b2"]), [null, null]);
        assert.equal((await store.info()).fields.w, undefined, "no field was registered");
      });

      await t.step("batched inserts with a progress bar", async () => {
        const more = rows(3, 2500, D);
        const r = await store.add(more.map((_, i) => `m${i}`), more, {
          batchSize: 700,
          progress: true,
        });
        assert.deepEqual(r, { stored: 2500, replaced: 0 });
        const [got] = await store.get(["m2499"]);
        assert.deepEqual([...got!.embedding], more[2499]);
      });

      await t.step("a closed store refuses every call", async () => {
        await store.close();
        await store.close(); // idempotent
        const calls: (() => Promise<unknown>)[] = [
          () => store.add(["z"], [x[0]]),
          () => store.delete(["1"]),
          () => store.search([x[0]], 1),
          () => store.get(["1"]),
          () => store.count(),
          () => store.buildIndex(),
          () => store.info(),
        ];
        for (const call of calls) await assert.rejects(call(), StoreClosedError);
      });
    },
  });

  for (const index of backend.indexes) {
    Deno.test({
      name: `store ${index} index: ${backend.name}`,
      ...IO,
      fn: async () => {
        const D = 16, N = 3000;
        const x = rows(4, N, D), queries = rows(5, 40, D);
        const metric: StoreMetric = index === "hnsw" ? "cosine" : "euclidean";
        const store = await backend.open({
          dim: D,
          metric,
          index,
          hnsw: { M: 12, efConstruction: 64, efSearch: 64 },
          ivfflat: { probes: 8 },
          progress: false,
        });
        try {
          await store.add(x.map((_, i) => String(i)), x, {
            labels: x.map((_, i) => i % 10),
            metadata: x.map((_, i) => ({ part: i % 4 })),
          });
          assert.equal((await store.info()).indexBuilt, false);
          await store.buildIndex();
          await store.buildIndex(); // a second call is a no-op
          const info = await store.info();
          assert.equal(info.indexBuilt, true);
          if (index === "ivfflat") assert.equal(info.ivfflat.lists, 3, "rows / 1000");
          const approx = await store.search(queries, 10);
          const exact = await store.search(queries, 10, { exact: true });
          let hit = 0;
          queries.forEach((q, i) => {
            checkHits(exact[i], brute(metric, q, x, 10), `exact q${i}`);
            const truth = new Set(exact[i].map((h) => h.id));
            for (const h of approx[i]) if (truth.has(h.id)) hit++;
            for (let t = 1; t < approx[i].length; t++) {
              assert.ok(approx[i][t].distance >= approx[i][t - 1].distance - 1e-6, "sorted");
            }
          });
          const recall = hit / (10 * queries.length);
          assert.ok(recall >= 0.85, `recall@10 ${recall}`);
          // Filtered searches still fill k, with matching rows only.
          const filtered = await store.search(queries, 10, {
            filter: { part: 1, label: { lt: 5 } },
          });
          for (const row of filtered) {
            assert.equal(row.length, 10);
            for (const h of row) {
              assert.equal(Number(h.id) % 4, 1);
              assert.ok(h.label! < 5);
            }
          }
          // Rows added after the build are found.
          await store.add(["late"], [queries[0]]);
          const [top] = await store.search([queries[0]], 1);
          assert.equal(top[0].id, "late");
          // Deleted rows never come back.
          await store.delete(["late", exact[1][0].id]);
          const after = await store.search(queries.slice(0, 2), 10);
          assert.ok(!after.flat().some((h) => h.id === "late" || h.id === exact[1][0].id));
        } finally {
          await store.close();
        }
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Back-end specific behaviour.

Deno.test("memory store: HNSW serves euclidean and cosine, and no IVFFlat", () => {
  assert.throws(() => new MemoryStore({ dim: 4, index: "hnsw", metric: "dot" }), RangeError);
  assert.throws(() => new MemoryStore({ dim: 4, index: "ivfflat" }), UnknownMetricError);
  assert.throws(() => new MemoryStore({ dim: 4, metric: "l1" as never }), UnknownMetricError);
  assert.throws(() => new MemoryStore({} as never), /dim is required/);
  assert.throws(() => new MemoryStore({ dim: 0 }), RangeError);
  assert.throws(
    () => new MemoryStore({ dim: 4, hnsw: { m: 3 } as never }),
    /unknown option "hnsw.m"/,
  );
});

Deno.test("cosine stores refuse zero vectors", async () => {
  const store = new MemoryStore({ dim: 2, metric: "cosine" });
  await assert.rejects(store.add(["a", "b"], [[1, 0], [0, 0]]), /row 1 is the zero vector/);
  assert.equal(await store.count(), 0);
  await store.add(["a"], [[1, 0]]);
  await assert.rejects(store.search([[0, 0]], 1), /zero vector/);
  const euclid = new MemoryStore({ dim: 2 });
  await euclid.add(["z"], [[1, 1]]);
  await assert.rejects(euclid.search([[0, 0]], 1, { metric: "cosine" }), /zero vector/);
});

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "simlearn-store-" });
}

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test({
  name: "embedded store persists to its directory and refuses mismatched reopening",
  ...IO,
  fn: async () => {
    const root = await tempDir();
    const dir = `${root}/store`;
    try {
      const x = rows(6, 50, 4);
      const first = await openEmbeddedStore(dir, { dim: 4, metric: "cosine", progress: false });
      await first.add(x.map((_, i) => `r${i}`), x, {
        labels: x.map((_, i) => i % 3),
        metadata: x.map((_, i) => ({ shelf: `s${i % 2}` })),
      });
      const before = await first.search([x[3]], 3, { filter: { shelf: "s1" } });
      await first.close();
      assert.deepEqual(await listing(dir), ["pgdata", STORE_MARKER]);
      const again = await openEmbeddedStore(dir);
      assert.equal(again.dim, 4);
      assert.equal(again.metric, "cosine");
      assert.equal(await again.count(), 50);
      assert.deepEqual(await again.search([x[3]], 3, { filter: { shelf: "s1" } }), before);
      await again.close();
      await assert.rejects(openEmbeddedStore(dir, { dim: 5 }), DimensionMismatchError);
      await assert.rejects(openEmbeddedStore(dir, { metric: "dot" }), /metric "dot" differs/);
      const viaOpen = await openStore(dir);
      assert.equal(viaOpen.kind, "embedded");
      await viaOpen.close();
      await assert.rejects(openEmbeddedStore(`${root}/fresh`), /needs dim/);
      assert.deepEqual(await listing(root), ["store"], "a failed creation leaves nothing behind");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "embedded store: a directory from an incompatible version is refused untouched",
  ...IO,
  fn: async () => {
    const root = await tempDir();
    try {
      const dir = `${root}/store`;
      const s = await openEmbeddedStore(dir, { dim: 3, progress: false });
      await s.add(["a"], [[1, 2, 3]]);
      await s.close();
      const markerPath = `${dir}/${STORE_MARKER}`;
      const marker = JSON.parse(await Deno.readTextFile(markerPath));
      assert.deepEqual(marker, { format: 1, engine: "pglite", postgresMajor: 18 });
      const refuse = async (edit: Record<string, unknown>, pattern: RegExp) => {
        const text = JSON.stringify({ ...marker, ...edit });
        await Deno.writeTextFile(markerPath, text);
        const files = await listing(`${dir}/pgdata`);
        await assert.rejects(openEmbeddedStore(dir), (e: Error) => {
          assert.ok(e instanceof IncompatibleStoreError, `${e.name}: ${e.message}`);
          assert.match(e.message, pattern);
          return true;
        });
        assert.equal(await Deno.readTextFile(markerPath), text, "the marker is untouched");
        assert.deepEqual(await listing(`${dir}/pgdata`), files);
      };
      await refuse({ format: 2 }, /format 2.*reads format 1/);
      await refuse({ postgresMajor: 17 }, /PostgreSQL 17/);
      await refuse({ engine: "sqlite" }, /sqlite/);
      await Deno.writeTextFile(markerPath, "{ not json");
      await assert.rejects(openEmbeddedStore(dir), IncompatibleStoreError);
      await Deno.writeTextFile(markerPath, JSON.stringify(marker));
      // The format recorded inside the database is checked too.
      const db = await PGlite.create({ dataDir: `${dir}/pgdata`, extensions: { vector } });
      await db.query("UPDATE simlearn_stores SET format = 7");
      await db.close();
      await assert.rejects(
        openEmbeddedStore(dir),
        (e: Error) => e instanceof IncompatibleStoreError && /storage format 7/.test(e.message),
      );
      // A non-empty directory that is not a store, and a file.
      const other = `${root}/other`;
      await Deno.mkdir(other);
      await Deno.writeTextFile(`${other}/notes.txt`, "mine");
      await assert.rejects(openEmbeddedStore(other, { dim: 3 }), /not a simlearn store directory/);
      assert.deepEqual(await listing(other), ["notes.txt"]);
      await assert.rejects(
        openEmbeddedStore(`${other}/notes.txt`, { dim: 3 }),
        IncompatibleStoreError,
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "SQL stores: a table that is not a store is refused; two stores share a database",
  ...IO,
  fn: async () => {
    const name = table();
    await serverDb.query(`CREATE TABLE "${name}" (x integer)`);
    await assert.rejects(
      openServerStore(SOCKET_URL, { dim: 2, table: name }),
      (e: Error) => e instanceof IncompatibleStoreError && /not a simlearn store/.test(e.message),
    );
    await assert.rejects(openServerStore(SOCKET_URL, { dim: 2, table: "Bad-Name" }), RangeError);
    const a = await openServerStore(SOCKET_URL, { dim: 2, table: table() });
    const b = await openServerStore(SOCKET_URL, { dim: 3, table: table() });
    await a.add(["1"], [[1, 1]]);
    await b.add(["1", "2"], [[1, 1, 1], [2, 2, 2]]);
    assert.deepEqual([await a.count(), await b.count()], [1, 2]);
    await a.close();
    await b.close();
  },
});

Deno.test({
  name: "server store: a refused connection is a StoreConnectionError without the password",
  ...IO,
  fn: async () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close(); // nothing listens there now
    await assert.rejects(
      openServerStore(`postgres://me:hunter2@127.0.0.1:${port}/db`, { dim: 2 }),
      (e: Error) => {
        assert.ok(e instanceof StoreConnectionError, `${e.name}: ${e.message}`);
        assert.match(e.message, /cannot connect to postgres:\/\/me:\*\*\*@127\.0\.0\.1/);
        assert.doesNotMatch(e.message, /hunter2/);
        return true;
      },
    );
    await assert.rejects(openServerStore("mysql://x", { dim: 2 }), TypeError);
  },
});

Deno.test({
  name: "server store: a PostgreSQL without pgvector is a StoreError saying so",
  ...IO,
  fn: async () => {
    const plain = await PGlite.create(); // no extensions, like Debian's PostgreSQL 15
    const server = new PGLiteSocketServer({ db: plain, host: "127.0.0.1", port: 0 });
    await server.start();
    try {
      await assert.rejects(
        openServerStore(`postgres://postgres@${server.getServerConn()}/postgres`, { dim: 2 }),
        (e: Error) => e instanceof StoreError && /cannot use pgvector/.test(e.message),
      );
    } finally {
      await server.stop();
      await plain.close();
    }
  },
});

/** A TCP proxy to the socket server that cuts both directions once `budget` client bytes passed. */
function cuttingProxy(target: Deno.NetAddr) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let budget = Infinity;
  let cut = false;
  const open = new Set<Deno.Conn>();
  const closeAll = () => {
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    open.clear();
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, count: boolean) => {
    const buf = new Uint8Array(16384);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null || cut) break;
        if (count) {
          budget -= n;
          if (budget < 0) {
            cut = true;
            break;
          }
        }
        await to.write(buf.subarray(0, n));
      }
    } catch { /* closed */ }
    closeAll();
  };
  (async () => {
    try {
      for await (const client of listener) {
        const upstream = await Deno.connect({ hostname: target.hostname, port: target.port });
        open.add(client).add(upstream);
        pump(client, upstream, true);
        pump(upstream, client, false);
      }
    } catch { /* listener closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    arm(bytes: number) {
      budget = bytes;
    },
    get cut() {
      return cut;
    },
    close() {
      listener.close();
      closeAll();
    },
  };
}

Deno.test({
  name: "server store: a connection dropped mid-insert keeps whole batches and says how many",
  ...IO,
  fn: async () => {
    const [host, port] = socketServer.getServerConn().split(":");
    const proxy = cuttingProxy({ transport: "tcp", hostname: host, port: Number(port) });
    const name = table();
    const D = 16, N = 5000, B = 1000;
    const x = rows(7, N, D);
    try {
      const store = await openServerStore(
        `postgres://postgres:pw@127.0.0.1:${proxy.port}/postgres`,
        {
          dim: D,
          table: name,
          progress: false,
        },
      );
      // One batch's vectors as text are about this many bytes; cut inside the third batch.
      const batchBytes = x.slice(0, B).reduce((s, r) => s + JSON.stringify(r).length + 8, 0);
      proxy.arm(Math.round(2.5 * batchBytes) + 40_000);
      const error = await store.add(x.map((_, i) => String(i)), x, { batchSize: B }).then(
        () => assert.fail("the insert should have failed"),
        (e: Error) => e,
      );
      assert.ok(proxy.cut, "the proxy cut the connection");
      assert.ok(error instanceof StoreConnectionError, `${error.name}: ${error.message}`);
      const stored = error.stored!;
      assert.ok(stored > 0 && stored < N && stored % B === 0, `stored ${stored}`);
      assert.match(error.message, new RegExp(`${stored} of ${N} rows of this call were stored`));
      assert.match(error.message, /rolled back|outcome .* unknown/);
      await assert.rejects(store.count(), StoreConnectionError);
      await store.close();
      // A fresh connection sees exactly the committed batches.
      const direct = await openServerStore(SOCKET_URL, { table: name });
      assert.equal(await direct.count(), stored);
      const [last, next] = await direct.get([String(stored - 1), String(stored)]);
      assert.deepEqual([...last!.embedding], x[stored - 1]);
      assert.equal(next, null);
      await direct.close();
    } finally {
      proxy.close();
    }
  },
});

Deno.test({
  name: "openStore picks the back end from the location (and SIMLEARN_DATABASE_URL)",
  ...IO,
  fn: async () => {
    const memory = await openStore("memory", { dim: 2, table: "ignored" });
    assert.ok(memory instanceof MemoryStore);
    await memory.close();
    const server = await openStore(SOCKET_URL, { dim: 2, table: table() });
    assert.equal(server.kind, "server");
    await server.close();
    const saved = Deno.env.get("SIMLEARN_DATABASE_URL");
    try {
      Deno.env.set("SIMLEARN_DATABASE_URL", SOCKET_URL);
      const viaEnv = await openStore(undefined, { dim: 2, table: table() });
      assert.equal(viaEnv.kind, "server");
      await viaEnv.close();
      Deno.env.delete("SIMLEARN_DATABASE_URL");
      const fallback = await openStore(undefined, { dim: 2 });
      assert.equal(fallback.kind, "memory");
    } finally {
      if (saved === undefined) Deno.env.delete("SIMLEARN_DATABASE_URL");
      else Deno.env.set("SIMLEARN_DATABASE_URL", saved);
    }
  },
});

Deno.test({
  name: "stop the loopback PostgreSQL server",
  ...IO,
  fn: async () => {
    await socketServer.stop();
    await serverDb.close();
    if (ENV_URL && envTables.length > 0) {
      // Leave the user's server as it was: drop the stores these tests created there.
      const client = new pg.Client({ connectionString: ENV_URL });
      await client.connect();
      for (const name of envTables) {
        await client.query(`DROP TABLE IF EXISTS "${name}"`);
        await client.query("DELETE FROM simlearn_stores WHERE name = $1", [name]);
      }
      await client.end();
    }
  },
});
