/**
 * The one SQL module behind the embedded store (PGlite + pgvector) and the server store (any
 * PostgreSQL with pgvector): every statement both back ends run is written here, once, with `$n`
 * parameters; a back end supplies only a {@linkcode SqlConnection}.
 *
 * Layout: a table `simlearn_stores` (one row per store: format version, dimension, metric,
 * index settings, known metadata fields) and one table per store (default `embeddings`):
 * `id text PRIMARY KEY, label integer, metadata jsonb, embedding vector(dim)`. Vectors travel as
 * pgvector's text form (`[1,2,3]`, written by the `pgvector` package's `toSql` and read by its
 * `fromSql`), so both connections send and receive the same values.
 *
 * Indexes: pgvector's HNSW (`m`, `ef_construction`; `hnsw.ef_search` per search) or IVFFlat
 * (`lists`; `ivfflat.probes` per search), built by {@linkcode SqlStore.buildIndex} with the
 * operator class of the store's metric. Filtered searches turn on pgvector's iterative index
 * scans (0.8+), so that a selective filter still fills k results.
 *
 * @module
 */
import pgvector from "pgvector";
import { createProgress } from "../io/progress.ts";
import {
  checkAddOptions,
  checkDim,
  checkIds,
  checkLabels,
  checkMetadata,
  checkNonZero,
  checkSearchOptions,
  type Clause,
  defaultLists,
  parseFilter,
  resolveSettings,
  type Settings,
  toRows,
} from "./_input.ts";
import {
  DuplicateIdError,
  IncompatibleStoreError,
  StoreClosedError,
  StoreConnectionError,
  StoreError,
  UnknownFieldError,
} from "./errors.ts";
import type {
  AddOptions,
  AddResult,
  EmbeddingStore,
  FieldType,
  Filter,
  Metadata,
  SearchHit,
  SearchOptions,
  StoredItem,
  StoreInfo,
  StoreKind,
  StoreMetric,
  StoreOptions,
  Vectors,
} from "./types.ts";

/**
 * The storage format this version writes and reads (the `format` column of `simlearn_stores`
 * and of an embedded store's `simlearn-store.json`). A store of another format is refused with
 * {@linkcode IncompatibleStoreError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STORE_FORMAT } from "./sql.ts";
 * assert.equal(STORE_FORMAT, 1);
 * ```
 */
export const STORE_FORMAT = 1;

/** A row as a client returns it. */
export type SqlRow = Record<string, unknown>;

/**
 * A database session the SQL module runs on (one PGlite instance, or one client connection to a
 * server). Statements run one at a time; the store serialises its calls.
 */
export interface SqlConnection {
  /** `"embedded"` or `"server"`. */
  readonly kind: Exclude<StoreKind, "memory">;
  /** Where the store lives, for messages (a directory, or the URL without its password). */
  readonly where: string;
  /** Runs one statement with `$1…` parameters; returns its rows. */
  query(text: string, params?: unknown[]): Promise<SqlRow[]>;
  /** The error that broke the connection, or null while it is usable. */
  lost(): Error | null;
  /** Closes the session. */
  close(): Promise<void>;
}

/** Options of the SQL back ends. */
export interface SqlStoreOptions extends StoreOptions {
  /** The store's table (lower-case letters, digits and `_`). Default `"embeddings"`. */
  table?: string;
  /**
   * PostgreSQL's `maintenance_work_mem` while an index is built (e.g. `"512MB"`); HNSW builds
   * fastest when the graph fits. Default: the server's setting.
   */
  maintenanceWorkMem?: string;
}

const OPCLASS: Record<StoreMetric, string> = {
  euclidean: "vector_l2_ops",
  cosine: "vector_cosine_ops",
  dot: "vector_ip_ops",
};
const OPERATOR: Record<StoreMetric, string> = { euclidean: "<->", cosine: "<=>", dot: "<#>" };
const QUERY_CHUNK = 256;

/** PostgreSQL's SQLSTATE of an error from either client, if any. */
function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class CommitFailed extends Error {
  constructor(readonly inner: unknown) {
    super(message(inner));
  }
}

interface StoreRow {
  dim: number;
  metric: StoreMetric;
  index_kind: Settings["index"];
  index_options: { M: number; efConstruction: number; lists: number };
  fields: Record<string, FieldType>;
}

/**
 * An {@linkcode EmbeddingStore} on a {@linkcode SqlConnection}. Open one with
 * {@linkcode openEmbeddedStore} or {@linkcode openServerStore} (or {@linkcode openStore}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openEmbeddedStore } from "./embedded.ts";
 * const store = await openEmbeddedStore(undefined, { dim: 2, index: "ivfflat", progress: false });
 * await store.add(["a", "b"], [[1, 0], [0, 1]], { metadata: [{ tag: "x" }, { tag: "y" }] });
 * await store.buildIndex();
 * assert.equal(store.table, "embeddings");
 * assert.deepEqual((await store.info()).ivfflat, { lists: 1, probes: 1 });
 * assert.equal(await store.count({ tag: "y" }), 1);
 * await store.close();
 * ```
 */
export class SqlStore implements EmbeddingStore {
  /** The back end. */
  readonly kind: Exclude<StoreKind, "memory">;
  /** Vector dimension. */
  readonly dim: number;
  /** Default metric, and the metric of the approximate index. */
  readonly metric: StoreMetric;
  /** The store's table. */
  readonly table: string;
  private settings: Settings;
  private fields: Record<string, FieldType>;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly label: string;

  private constructor(
    private conn: SqlConnection,
    table: string,
    row: StoreRow,
    settings: Settings,
    private maintenanceWorkMem: string | undefined,
    private onClose: () => Promise<void>,
  ) {
    this.kind = conn.kind;
    this.table = table;
    this.dim = row.dim;
    this.metric = row.metric;
    this.fields = { ...row.fields };
    this.settings = {
      ...settings,
      metric: row.metric,
      index: row.index_kind,
      hnsw: {
        ...settings.hnsw,
        M: row.index_options.M,
        efConstruction: row.index_options.efConstruction,
      },
      ivfflat: { ...settings.ivfflat, lists: row.index_options.lists },
    };
    this.label = conn.kind === "embedded" ? "EmbeddedStore" : "ServerStore";
  }

  /**
   * Opens the store `table` on `conn`, creating it (and the `vector` extension and
   * `simlearn_stores`) when absent. Back ends call this; users call {@linkcode openStore} and
   * friends.
   *
   * @param onClose called once by `close()` after the store is released (closes the database)
   * @throws {@linkcode IncompatibleStoreError} for a store of another format, or a table of that
   *   name that is not a store; {@linkcode DimensionMismatchError} for a `dim` other than the
   *   store's; RangeError when `metric` or the index settings differ from the store's, or
   *   `dim` is missing for a new store.
   */
  static async open(
    conn: SqlConnection,
    options: SqlStoreOptions,
    onClose: () => Promise<void> = () => conn.close(),
  ): Promise<SqlStore> {
    const fn = conn.kind === "embedded" ? "openEmbeddedStore" : "openServerStore";
    const settings = resolveSettings(fn, options, ["exact", "hnsw", "ivfflat"], [
      "table",
      "maintenanceWorkMem",
    ]);
    const table = options.table ?? "embeddings";
    if (typeof table !== "string" || !/^[a-z_][a-z0-9_]{0,47}$/.test(table)) {
      throw new RangeError(
        `${fn}: table must be 1–48 lower-case letters, digits or "_" (not starting with a digit), got ${
          JSON.stringify(table)
        }`,
      );
    }
    const mwm = options.maintenanceWorkMem;
    if (mwm !== undefined && (typeof mwm !== "string" || !/^\d+\s*(kB|MB|GB)$/.test(mwm))) {
      throw new RangeError(`${fn}: maintenanceWorkMem must look like "512MB", got ${String(mwm)}`);
    }
    try {
      await conn.query("CREATE EXTENSION IF NOT EXISTS vector");
    } catch (e) {
      throw new StoreError(
        `${fn}: ${conn.where} cannot use pgvector (CREATE EXTENSION vector failed: ${
          message(e)
        }); install pgvector on the server, or have a privileged role create the extension`,
        { cause: e },
      );
    }
    await conn.query(
      `CREATE TABLE IF NOT EXISTS simlearn_stores (
        name text PRIMARY KEY,
        format integer NOT NULL,
        dim integer NOT NULL,
        metric text NOT NULL,
        index_kind text NOT NULL,
        index_options jsonb NOT NULL,
        fields jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_by text NOT NULL
      )`,
    );
    let formatRows: SqlRow[];
    try {
      formatRows = await conn.query("SELECT format FROM simlearn_stores WHERE name = $1", [table]);
    } catch (e) {
      throw new IncompatibleStoreError(
        `${fn}: ${conn.where} holds a simlearn_stores table this version cannot read (${
          message(e)
        }); it was written by an incompatible version`,
      );
    }
    let row: StoreRow;
    if (formatRows.length > 0) {
      const format = Number(formatRows[0].format);
      if (format !== STORE_FORMAT) {
        throw new IncompatibleStoreError(
          `${fn}: the store "${table}" in ${conn.where} has storage format ${format}; this ` +
            `version of simlearn reads format ${STORE_FORMAT}. Nothing was changed.`,
        );
      }
      const [r] = await conn.query(
        `SELECT dim, metric, index_kind, index_options::text AS index_options, fields::text AS fields
         FROM simlearn_stores WHERE name = $1`,
        [table],
      );
      row = {
        dim: Number(r.dim),
        metric: r.metric as StoreMetric,
        index_kind: r.index_kind as Settings["index"],
        index_options: JSON.parse(String(r.index_options)),
        fields: JSON.parse(String(r.fields)),
      };
      checkDim(fn, row.dim, options.dim);
      const fixed: [string, unknown, unknown][] = [
        ["metric", options.metric, row.metric],
        ["index", options.index, row.index_kind],
        ["hnsw.M", options.hnsw?.M, row.index_options.M],
        ["hnsw.efConstruction", options.hnsw?.efConstruction, row.index_options.efConstruction],
      ];
      if (row.index_options.lists > 0) {
        fixed.push(["ivfflat.lists", options.ivfflat?.lists, row.index_options.lists]);
      }
      for (const [name, given, stored] of fixed) {
        if (given !== undefined && given !== stored) {
          throw new RangeError(
            `${fn}: ${name} ${JSON.stringify(given)} differs from the store's ${
              JSON.stringify(stored)
            } (fixed when the store was created)`,
          );
        }
      }
    } else {
      if (options.dim === undefined) {
        throw new RangeError(
          `${fn}: the store "${table}" does not exist in ${conn.where}; creating it needs dim`,
        );
      }
      row = {
        dim: options.dim,
        metric: settings.metric,
        index_kind: settings.index,
        index_options: {
          M: settings.hnsw.M,
          efConstruction: settings.hnsw.efConstruction,
          lists: settings.ivfflat.lists,
        },
        fields: {},
      };
      const [exists] = await conn.query("SELECT to_regclass($1) IS NOT NULL AS exists", [
        `"${table}"`,
      ]);
      if (exists.exists === true) {
        throw new IncompatibleStoreError(
          `${fn}: ${conn.where} has a table "${table}" that is not a simlearn store; nothing was changed`,
        );
      }
      await transaction(conn, async () => {
        await conn.query(
          `CREATE TABLE "${table}" (
            id text PRIMARY KEY,
            label integer,
            metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
            embedding vector(${row.dim}) NOT NULL
          )`,
        );
        await conn.query(
          `INSERT INTO simlearn_stores (name, format, dim, metric, index_kind, index_options, created_by)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
          [
            table,
            STORE_FORMAT,
            row.dim,
            row.metric,
            row.index_kind,
            JSON.stringify(row.index_options),
            `simlearn store format ${STORE_FORMAT}`,
          ],
        );
      });
    }
    return new SqlStore(conn, table, row, settings, mwm, onClose);
  }

  /** Runs `task` after every earlier call of this store (one statement stream per store). */
  private exclusive<T>(fn: string, task: () => Promise<T>): Promise<T> {
    try {
      this.check(fn);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = this.queue.then(() => {
      this.checkConnection(fn);
      return task();
    });
    this.queue = run.catch(() => {});
    return run.catch((e) => {
      throw this.translate(fn, e);
    });
  }

  private check(fn: string): void {
    if (this.closed) throw new StoreClosedError(`${fn}: the store is closed`);
    this.checkConnection(fn);
  }

  private checkConnection(fn: string): void {
    const lost = this.conn.lost();
    if (lost) {
      throw new StoreConnectionError(
        `${fn}: the connection to ${this.conn.where} was lost (${lost.message}); open the store again`,
        { cause: lost },
      );
    }
  }

  /** Client errors as store errors (connection loss as {@linkcode StoreConnectionError}). */
  private translate(fn: string, e: unknown): unknown {
    if (e instanceof StoreError || e instanceof TypeError || e instanceof RangeError) return e;
    const lost = this.conn.lost();
    if (lost || isConnectionError(e)) {
      return new StoreConnectionError(
        `${fn}: the connection to ${this.conn.where} was lost (${message(lost ?? e)})`,
        { cause: e },
      );
    }
    return new StoreError(`${fn}: ${message(e)}`, { cause: e });
  }

  private async loadFields(): Promise<void> {
    const [r] = await this.conn.query(
      "SELECT fields::text AS fields FROM simlearn_stores WHERE name = $1",
      [this.table],
    );
    if (r) this.fields = JSON.parse(String(r.fields));
  }

  /** Filter clauses, re-reading the known fields once when one is unknown (another writer). */
  private async clauses(fn: string, filter: Filter | undefined): Promise<Clause[]> {
    try {
      return parseFilter(fn, filter, this.fields);
    } catch (e) {
      if (!(e instanceof UnknownFieldError)) throw e;
      await this.loadFields();
      return parseFilter(fn, filter, this.fields);
    }
  }

  /**
   * Stores rows; see {@linkcode EmbeddingStore.add}. Each batch is one transaction; on a failure
   * the error's `stored` counts the rows of earlier batches, which stay committed.
   *
   * @throws {@linkcode DuplicateIdError} (ids already stored, without `upsert`; nothing stored),
   *   {@linkcode DimensionMismatchError}, {@linkcode NonFiniteEmbeddingError}, TypeError /
   *   RangeError for bad ids, labels or metadata (nothing stored);
   *   {@linkcode StoreConnectionError} when the connection is lost (`stored` rows kept).
   */
  async add(
    ids: readonly string[],
    embeddings: Vectors,
    options: AddOptions = {},
  ): Promise<AddResult> {
    const fn = `${this.label}.add`;
    this.check(fn);
    checkAddOptions(fn, options as Record<string, unknown>);
    const idList = checkIds(fn, ids);
    const { data, n } = await toRows(fn, "embeddings", embeddings, this.dim);
    if (n !== idList.length) {
      throw new RangeError(`${fn}: ${idList.length} ids for ${n} embeddings; nothing was stored`);
    }
    if (this.metric === "cosine") checkNonZero(fn, "embeddings", data, this.dim);
    const labels = checkLabels(fn, options.labels, n);
    const batch = options.batchSize ?? this.settings.batchSize;
    const wantProgress = (options.progress ?? this.settings.progress) && n > batch;
    return this.exclusive(fn, async () => {
      await this.loadFields();
      const { rows, newFields } = checkMetadata(fn, options.metadata, n, this.fields);
      const existing = new Set<string>();
      for (let b = 0; b < n; b += 10_000) {
        const found = await this.conn.query(
          `SELECT id FROM "${this.table}" WHERE id = ANY($1::text[])`,
          [idList.slice(b, b + 10_000)],
        );
        for (const r of found) existing.add(String(r.id));
      }
      if (existing.size > 0 && !options.upsert) {
        const list = [...existing];
        throw new DuplicateIdError(
          `${fn}: ${list.length} id(s) are already stored (${
            list.slice(0, 5).map((e) => JSON.stringify(e)).join(", ")
          }${list.length > 5 ? ", …" : ""}); pass upsert: true to replace them; nothing was stored`,
          list.slice(0, 20),
        );
      }
      const progress = wantProgress
        ? createProgress(n, { label: `store add (${this.kind})` })
        : null;
      const insert = `INSERT INTO "${this.table}" (id, label, metadata, embedding)
        SELECT u.id, u.label, u.metadata::jsonb, u.embedding::vector
        FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[]) AS u(id, label, metadata, embedding)` +
        (options.upsert
          ? ` ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, metadata = EXCLUDED.metadata,
              embedding = EXCLUDED.embedding`
          : "");
      let stored = 0;
      const d = this.dim;
      for (let b = 0; b < n; b += batch) {
        const end = Math.min(n, b + batch);
        const vectors: string[] = [];
        for (let i = b; i < end; i++) {
          vectors.push(pgvector.toSql(Array.from(data.subarray(i * d, (i + 1) * d))) as string);
        }
        const params = [
          idList.slice(b, end),
          labels.slice(b, end),
          rows.slice(b, end).map((m) => JSON.stringify(m)),
          vectors,
        ];
        try {
          await transaction(this.conn, async () => {
            if (b === 0 && Object.keys(newFields).length > 0) {
              await this.conn.query(
                "UPDATE simlearn_stores SET fields = fields || $2::jsonb WHERE name = $1",
                [this.table, JSON.stringify(newFields)],
              );
            }
            await this.conn.query(insert, params);
          });
        } catch (e) {
          throw this.writeError(fn, e, stored, n, b, end);
        }
        if (b === 0) Object.assign(this.fields, newFields);
        stored = end;
        progress?.update({ done: stored });
      }
      progress?.finish();
      return { stored: n, replaced: existing.size };
    });
  }

  private writeError(fn: string, e: unknown, stored: number, n: number, b: number, end: number) {
    const atCommit = e instanceof CommitFailed;
    const inner = atCommit ? (e as CommitFailed).inner : e;
    const kept = `${stored} of ${n} rows of this call were stored (batches before row ${b})`;
    if (sqlState(inner) === "23505") {
      return new DuplicateIdError(
        `${fn}: an id of rows ${b}–${end - 1} was stored meanwhile by another writer; that ` +
          `batch was rolled back; ${kept}`,
        [],
        stored,
      );
    }
    const what = atCommit
      ? `the outcome of rows ${b}–${end - 1} is unknown (the failure came during their COMMIT)`
      : `rows ${b}–${end - 1} were rolled back`;
    if (this.conn.lost() || isConnectionError(inner)) {
      return new StoreConnectionError(
        `${fn}: the connection to ${this.conn.where} was lost (${
          message(this.conn.lost() ?? inner)
        }); ${kept}; ${what}`,
        { stored, cause: inner },
      );
    }
    return new StoreError(`${fn}: ${message(inner)}; ${kept}; ${what}`, { stored, cause: inner });
  }

  /**
   * Deletes rows by id (one transaction); returns how many existed.
   */
  delete(ids: readonly string[]): Promise<number> {
    const fn = `${this.label}.delete`;
    try {
      this.check(fn);
      const list = checkIds(fn, ids, false);
      return this.exclusive(fn, async () => {
        const [r] = await this.conn.query(
          `WITH d AS (DELETE FROM "${this.table}" WHERE id = ANY($1::text[]) RETURNING 1)
           SELECT count(*)::integer AS n FROM d`,
          [list],
        );
        return Number(r.n);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The k nearest rows of each query; see {@linkcode EmbeddingStore.search}. All queries of one
   * call go in statements of up to 256 queries each (a lateral join), in one transaction that
   * sets `hnsw.ef_search`, `ivfflat.probes` and, with a filter, the iterative index scans.
   */
  async search(queries: Vectors, k: number, options: SearchOptions = {}): Promise<SearchHit[][]> {
    const fn = `${this.label}.search`;
    this.check(fn);
    checkSearchOptions(fn, k, options as Record<string, unknown>);
    const metric = options.metric ?? this.metric;
    const { data: q, n } = await toRows(fn, "queries", queries, this.dim);
    if (metric === "cosine") checkNonZero(fn, "queries", q, this.dim);
    if (n === 0) return [];
    return this.exclusive(fn, async () => {
      const clauses = await this.clauses(fn, options.filter);
      const params: unknown[] = [];
      const where = whereClause(clauses, params, 3);
      const op = OPERATOR[metric];
      const text = `SELECT q.ord::integer AS query, r.id, r.label, r.metadata::text AS metadata,
          r.distance
        FROM unnest($1::text[]::vector[]) WITH ORDINALITY AS q(v, ord)
        CROSS JOIN LATERAL (
          SELECT t.id, t.label, t.metadata, t.embedding ${op} q.v AS distance
          FROM "${this.table}" AS t
          ${where}
          ORDER BY t.embedding ${op} q.v
          LIMIT $2
        ) AS r
        ORDER BY q.ord, r.distance`;
      const out: SearchHit[][] = Array.from({ length: n }, () => []);
      const d = this.dim;
      const ivfProbes = options.probes ?? (this.settings.ivfflat.probes ||
        Math.max(1, Math.round(Math.sqrt(this.settings.ivfflat.lists || 1))));
      await transaction(this.conn, async () => {
        await this.conn.query(
          `SELECT set_config('hnsw.ef_search', $1, true), set_config('ivfflat.probes', $2, true),
             set_config('hnsw.iterative_scan', $3, true),
             set_config('ivfflat.iterative_scan', $4, true),
             set_config('enable_indexscan', $5, true)`,
          [
            String(Math.max(options.efSearch ?? this.settings.hnsw.efSearch, Math.min(k, 1000))),
            String(ivfProbes),
            clauses.length > 0 ? "strict_order" : "off",
            clauses.length > 0 ? "relaxed_order" : "off",
            options.exact ? "off" : "on",
          ],
        );
        for (let s = 0; s < n; s += QUERY_CHUNK) {
          const e = Math.min(n, s + QUERY_CHUNK);
          const vectors: string[] = [];
          for (let i = s; i < e; i++) {
            vectors.push(pgvector.toSql(Array.from(q.subarray(i * d, (i + 1) * d))) as string);
          }
          const rows = await this.conn.query(text, [vectors, k, ...params]);
          for (const r of rows) {
            out[s + Number(r.query) - 1].push({
              id: String(r.id),
              distance: Number(r.distance),
              label: r.label === null ? null : Number(r.label),
              metadata: JSON.parse(String(r.metadata)) as Metadata,
            });
          }
        }
      });
      return out;
    });
  }

  /** The stored rows for these ids (null where absent). */
  get(ids: readonly string[]): Promise<(StoredItem | null)[]> {
    const fn = `${this.label}.get`;
    try {
      this.check(fn);
      const list = checkIds(fn, ids, false);
      return this.exclusive(fn, async () => {
        const rows = await this.conn.query(
          `SELECT id, label, metadata::text AS metadata, embedding::text AS embedding
           FROM "${this.table}" WHERE id = ANY($1::text[])`,
          [list],
        );
        const byId = new Map(rows.map((r) => [String(r.id), r]));
        return list.map((id) => {
          const r = byId.get(id);
          if (!r) return null;
          return {
            id,
            embedding: Float32Array.from(pgvector.fromSql(String(r.embedding)) as number[]),
            label: r.label === null ? null : Number(r.label),
            metadata: JSON.parse(String(r.metadata)) as Metadata,
          };
        });
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Rows stored (matching `filter` when given). */
  count(filter?: Filter): Promise<number> {
    const fn = `${this.label}.count`;
    try {
      this.check(fn);
      return this.exclusive(fn, async () => {
        const clauses = await this.clauses(fn, filter);
        const params: unknown[] = [];
        const where = whereClause(clauses, params, 1);
        const [r] = await this.conn.query(
          `SELECT count(*)::integer AS n FROM "${this.table}" AS t ${where}`,
          params,
        );
        return Number(r.n);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Builds the store's HNSW or IVFFlat index (`CREATE INDEX IF NOT EXISTS`, with the operator
   * class of its metric); a no-op for `"exact"` or when built. IVFFlat's `lists` default is
   * fixed from the row count now and recorded.
   */
  buildIndex(): Promise<void> {
    const fn = `${this.label}.buildIndex`;
    return this.exclusive(fn, async () => {
      const kind = this.settings.index;
      if (kind === "exact" || await this.indexBuilt()) return;
      const [c] = await this.conn.query(`SELECT count(*)::integer AS n FROM "${this.table}"`);
      const rows = Number(c.n);
      let withClause: string;
      if (kind === "hnsw") {
        const { M, efConstruction } = this.settings.hnsw;
        withClause = `m = ${M}, ef_construction = ${efConstruction}`;
      } else {
        const lists = this.settings.ivfflat.lists || defaultLists(rows);
        this.settings.ivfflat.lists = lists;
        withClause = `lists = ${lists}`;
      }
      if (this.settings.progress) {
        console.error(`store buildIndex (${this.kind}): ${kind} over ${rows} rows…`);
      }
      await transaction(this.conn, async () => {
        if (this.maintenanceWorkMem) {
          await this.conn.query("SELECT set_config('maintenance_work_mem', $1, true)", [
            this.maintenanceWorkMem,
          ]);
        }
        await this.conn.query(
          `CREATE INDEX IF NOT EXISTS "${this.table}_embedding_idx" ON "${this.table}"
           USING ${kind} (embedding ${OPCLASS[this.metric]}) WITH (${withClause})`,
        );
        await this.conn.query(
          "UPDATE simlearn_stores SET index_options = $2::jsonb WHERE name = $1",
          [
            this.table,
            JSON.stringify({
              M: this.settings.hnsw.M,
              efConstruction: this.settings.hnsw.efConstruction,
              lists: this.settings.ivfflat.lists,
            }),
          ],
        );
      });
    });
  }

  private async indexBuilt(): Promise<boolean> {
    const rows = await this.conn.query(
      "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
      [`${this.table}_embedding_idx`],
    );
    return rows.length > 0;
  }

  /** The store's settings and known fields. */
  info(): Promise<StoreInfo> {
    const fn = `${this.label}.info`;
    return this.exclusive(fn, async () => {
      await this.loadFields();
      return {
        kind: this.kind,
        dim: this.dim,
        metric: this.metric,
        index: this.settings.index,
        indexBuilt: await this.indexBuilt(),
        hnsw: { ...this.settings.hnsw },
        ivfflat: {
          lists: this.settings.ivfflat.lists,
          probes: this.settings.ivfflat.probes ||
            Math.max(1, Math.round(Math.sqrt(this.settings.ivfflat.lists || 1))),
        },
        fields: { ...this.fields },
      };
    });
  }

  /** Waits for running calls, then closes the connection (the embedded store persists). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.queue.then(() => this.onClose());
  }
}

/** Runs `body` between BEGIN and COMMIT on `conn`; rolls back when it throws. */
async function transaction(conn: SqlConnection, body: () => Promise<void>): Promise<void> {
  await conn.query("BEGIN");
  try {
    await body();
  } catch (e) {
    if (!conn.lost()) await conn.query("ROLLBACK").catch(() => {});
    throw e;
  }
  try {
    await conn.query("COMMIT");
  } catch (e) {
    throw new CommitFailed(e);
  }
}

/** Whether a client error means the connection is gone. */
function isConnectionError(e: unknown): boolean {
  const m = message(e);
  const code = (e as { code?: unknown })?.code;
  return /Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE|socket|not queryable|closed|broken pipe|Connection ended/i
    .test(m) ||
    (typeof code === "string" && /^(ECONN|EPIPE|ETIMEDOUT|08)/.test(code));
}

/** The SQL `WHERE` of a filter; its values are appended to `params` (numbered from `first`). */
function whereClause(clauses: readonly Clause[], params: unknown[], first: number): string {
  if (clauses.length === 0) return "";
  const parts = clauses.map((c) => {
    const p = (v: unknown) => {
      params.push(v);
      return `$${first + params.length - 1}`;
    };
    const cast = c.type === "string" ? "text" : c.type === "number" ? "float8" : "boolean";
    let column: string;
    if (c.scope === "id") column = "t.id";
    else if (c.scope === "label") column = "t.label";
    else {
      const key = p(c.field);
      column = c.type === "string"
        ? `(t.metadata ->> ${key}::text)`
        : `(t.metadata ->> ${key}::text)::${cast}`;
    }
    const sqlOp = { eq: "=", ne: "<>", lt: "<", lte: "<=", gt: ">", gte: ">=" } as const;
    if (c.op === "in") return `${column} = ANY(${p(c.value)}::${cast}[])`;
    return `${column} ${sqlOp[c.op]} ${p(c.value)}::${cast}`;
  });
  return `WHERE ${parts.join(" AND ")}`;
}
