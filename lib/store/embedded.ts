/**
 * The embedded back end: PostgreSQL compiled to WebAssembly (PGlite, `@electric-sql/pglite`)
 * with the pgvector extension (`@electric-sql/pglite-pgvector`), persisted to a directory, and
 * driven by the same SQL module as the server back end ({@linkcode SqlStore}).
 *
 * A store directory holds `simlearn-store.json` (storage format, engine, PostgreSQL major
 * version) and `pgdata/` (PGlite's PostgreSQL data directory). A directory without that file,
 * or with another format or PostgreSQL major version, is refused with
 * {@linkcode IncompatibleStoreError} before anything in it is touched.
 *
 * Limits: PGlite runs single-threaded in one process, in a 32-bit WebAssembly memory (at most
 * 4 GB, of which PostgreSQL's shared buffers and index builds use a part); one process at a time
 * may open a store directory.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { writeJsonAtomic } from "../io/atomic.ts";
import { IncompatibleStoreError, StoreError } from "./errors.ts";
import {
  type SqlConnection,
  type SqlRow,
  SqlStore,
  type SqlStoreOptions,
  STORE_FORMAT,
} from "./sql.ts";

/**
 * The PostgreSQL major version of the pinned PGlite (0.5.14); a store directory written by
 * another major version cannot be opened by this one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMBEDDED_POSTGRES_MAJOR } from "./embedded.ts";
 * assert.equal(EMBEDDED_POSTGRES_MAJOR, 18);
 * ```
 */
export const EMBEDDED_POSTGRES_MAJOR = 18;

/**
 * The name of the marker file in an embedded store directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STORE_MARKER } from "./embedded.ts";
 * assert.equal(STORE_MARKER, "simlearn-store.json");
 * ```
 */
export const STORE_MARKER = "simlearn-store.json";

/** The content of {@linkcode STORE_MARKER}. */
interface Marker {
  format: number;
  engine: string;
  postgresMajor: number;
}

class PgliteConnection implements SqlConnection {
  readonly kind = "embedded" as const;
  constructor(private db: PGlite, readonly where: string) {}
  async query(text: string, params?: unknown[]): Promise<SqlRow[]> {
    return (await this.db.query<SqlRow>(text, params)).rows;
  }
  lost(): Error | null {
    return this.db.closed ? new Error("the embedded database is closed") : null;
  }
  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}

async function exists(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Checks an existing store directory; returns false when it is new (absent or empty). */
async function checkDirectory(path: string): Promise<boolean> {
  const fn = "openEmbeddedStore";
  const info = await exists(path);
  if (info === null) return false;
  if (!info.isDirectory) {
    throw new IncompatibleStoreError(`${fn}: ${path} is a file, not a store directory`);
  }
  const entries: string[] = [];
  for await (const e of Deno.readDir(path)) entries.push(e.name);
  if (entries.length === 0) return false;
  if (!entries.includes(STORE_MARKER)) {
    throw new IncompatibleStoreError(
      `${fn}: ${path} is not empty and has no ${STORE_MARKER}: it is not a simlearn store ` +
        `directory (or was written by an incompatible version); nothing was changed`,
    );
  }
  let marker: Marker;
  try {
    marker = JSON.parse(await Deno.readTextFile(`${path}/${STORE_MARKER}`));
  } catch (e) {
    throw new IncompatibleStoreError(
      `${fn}: ${path}/${STORE_MARKER} is unreadable (${(e as Error).message}); nothing was changed`,
    );
  }
  if (marker.format !== STORE_FORMAT || marker.engine !== "pglite") {
    throw new IncompatibleStoreError(
      `${fn}: ${path} holds a store of format ${marker.format} (${marker.engine}); this version ` +
        `of simlearn reads format ${STORE_FORMAT} (pglite); nothing was changed`,
    );
  }
  if (marker.postgresMajor !== EMBEDDED_POSTGRES_MAJOR) {
    throw new IncompatibleStoreError(
      `${fn}: ${path} was written by PostgreSQL ${marker.postgresMajor} (PGlite); this version ` +
        `embeds PostgreSQL ${EMBEDDED_POSTGRES_MAJOR}: dump it with the old version and load ` +
        `it into a new store; nothing was changed`,
    );
  }
  const pgVersion = await Deno.readTextFile(`${path}/pgdata/PG_VERSION`).catch(() => "");
  if (pgVersion.trim() !== String(EMBEDDED_POSTGRES_MAJOR)) {
    throw new IncompatibleStoreError(
      `${fn}: ${path}/pgdata/PG_VERSION says ${
        JSON.stringify(pgVersion.trim())
      }, not PostgreSQL ${EMBEDDED_POSTGRES_MAJOR}; nothing was changed`,
    );
  }
  return true;
}

/**
 * Opens (or creates) an embedded store: PGlite + pgvector persisted in the directory `path`, or
 * in memory when `path` is omitted (nothing persists then). Writes are durable when `add`'s
 * batch transaction commits; `close()` flushes and releases the database.
 *
 * @param path the store directory (created when absent; an empty directory is fine)
 * @param options {@linkcode SqlStoreOptions}: `dim` (required to create), `metric`, `index`
 *   (`"exact"`, `"hnsw"`, `"ivfflat"`), `hnsw`, `ivfflat`, `table`, `batchSize`, `progress`,
 *   `maintenanceWorkMem`
 * @throws {@linkcode IncompatibleStoreError} for a directory that is not a store of this format
 *   and PostgreSQL major version; the errors of {@linkcode SqlStore.open}.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openEmbeddedStore } from "./embedded.ts";
 * const store = await openEmbeddedStore(undefined, { dim: 2, progress: false });
 * await store.add(["a", "b"], [[0, 0], [3, 4]], { labels: [1, 2] });
 * const [hits] = await store.search([[3, 3]], 1);
 * assert.equal(hits[0].id, "b");
 * assert.ok(Math.abs(hits[0].distance - 1) < 1e-6);
 * await store.close();
 * ```
 */
export async function openEmbeddedStore(
  path?: string,
  options: SqlStoreOptions = {},
): Promise<SqlStore> {
  const fn = "openEmbeddedStore";
  if (path !== undefined && (typeof path !== "string" || path.length === 0)) {
    throw new TypeError(`${fn}: path must be a directory path, got ${JSON.stringify(path)}`);
  }
  const existed = path === undefined ? false : await checkDirectory(path);
  const created = path !== undefined && !existed && (await exists(path)) === null;
  let db: PGlite;
  try {
    if (path !== undefined) await Deno.mkdir(path, { recursive: true });
    db = await PGlite.create({
      dataDir: path === undefined ? undefined : `${path}/pgdata`,
      extensions: { vector },
    });
  } catch (e) {
    if (path !== undefined && !existed) await cleanUp(path, created);
    throw new StoreError(
      `${fn}: PGlite could not start in ${path ?? "memory"}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const conn = new PgliteConnection(db, path ?? "an in-memory PGlite database");
  try {
    const [v] = await conn.query("SELECT current_setting('server_version_num')::integer AS v");
    const major = Math.floor(Number(v.v) / 10000);
    if (major !== EMBEDDED_POSTGRES_MAJOR) {
      throw new StoreError(
        `${fn}: PGlite runs PostgreSQL ${major}, but EMBEDDED_POSTGRES_MAJOR is ${EMBEDDED_POSTGRES_MAJOR}`,
      );
    }
    const store = await SqlStore.open(conn, options);
    if (path !== undefined && !existed) {
      const marker: Marker = {
        format: STORE_FORMAT,
        engine: "pglite",
        postgresMajor: EMBEDDED_POSTGRES_MAJOR,
      };
      await writeJsonAtomic(`${path}/${STORE_MARKER}`, marker);
    }
    return store;
  } catch (e) {
    await conn.close().catch(() => {});
    if (path !== undefined && !existed) await cleanUp(path, created);
    throw e;
  }
}

/** Removes what a failed creation wrote (the whole directory when this call created it). */
async function cleanUp(path: string, created: boolean): Promise<void> {
  if (created) await Deno.remove(path, { recursive: true }).catch(() => {});
  else await Deno.remove(`${path}/pgdata`, { recursive: true }).catch(() => {});
}
