/**
 * The server back end: any PostgreSQL with the pgvector extension, reached through `pg`
 * (node-postgres) and driven by the same SQL module as the embedded store
 * ({@linkcode SqlStore}); vectors are encoded by the `pgvector` package.
 *
 * The connection URL is a libpq-style `postgres://user:password@host:port/database` (with
 * `?sslmode=…` where the server wants TLS). Deno needs network permission for the host
 * (`--allow-net=host:port`).
 *
 * @module
 */
import pg from "pg";
import { StoreConnectionError } from "./errors.ts";
import { type SqlConnection, type SqlRow, SqlStore, type SqlStoreOptions } from "./sql.ts";

/**
 * The environment variables node-postgres (`pg`) reads when it connects — libpq's conventions
 * (`PGHOST`, `PGPASSWORD`, `PGSSLMODE`, …, which fill in what the URL leaves out), the user name,
 * and the password file's location. Deno refuses a read it was not allowed, so a permission set
 * that opens a server store lists these (the `experiment` and `bench` sets in deno.json do).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVER_ENV_VARS } from "./server.ts";
 * assert.ok(SERVER_ENV_VARS.includes("PGPASSWORD"));
 * ```
 */
export const SERVER_ENV_VARS: readonly string[] = Object.freeze([
  "HOME",
  "PGAPPNAME",
  "PGBINARY",
  "PGCLIENT_ENCODING",
  "PGCONNECT_TIMEOUT",
  "PGDATABASE",
  "PGHOST",
  "PGOPTIONS",
  "PGPASSFILE",
  "PGPASSWORD",
  "PGPASS_NO_DEESCAPE",
  "PGPORT",
  "PGREPLICATION",
  "PGSSLMODE",
  "PGSSLNEGOTIATION",
  "PGUSER",
  "USER",
]);

/**
 * `url` with its password replaced by `***` (for messages).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./server.ts";
 * assert.equal(redactUrl("postgres://me:secret@db:5432/x"), "postgres://me:***@db:5432/x");
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

/**
 * Whether `location` is a PostgreSQL connection URL (`postgres://` or `postgresql://`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDatabaseUrl } from "./server.ts";
 * assert.equal(isDatabaseUrl("postgres://localhost/db"), true);
 * assert.equal(isDatabaseUrl("stores/a"), false);
 * ```
 */
export function isDatabaseUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

class PgConnection implements SqlConnection {
  readonly kind = "server" as const;
  private broken: Error | null = null;
  private ended = false;
  constructor(private client: pg.Client, readonly where: string) {
    // Without a listener an 'error' event (the server went away) would crash the process.
    client.on("error", (e: Error) => {
      this.broken ??= e;
    });
    client.on("end", () => {
      if (!this.ended) this.broken ??= new Error("the server closed the connection");
    });
  }
  async query(text: string, params?: unknown[]): Promise<SqlRow[]> {
    const r = await this.client.query(text, params as unknown[]);
    return r.rows as SqlRow[];
  }
  lost(): Error | null {
    return this.broken;
  }
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.client.end().catch(() => {});
  }
}

/**
 * Opens (or creates) a store on a PostgreSQL server with pgvector at `url`. The same tables,
 * SQL and behaviour as {@linkcode openEmbeddedStore}; `CREATE EXTENSION IF NOT EXISTS vector`
 * needs a role allowed to create it when the database lacks it.
 *
 * @param url `postgres://user:password@host:port/database`
 * @param options {@linkcode SqlStoreOptions}, plus `connectTimeoutMs` (default 10,000)
 * @throws {@linkcode StoreConnectionError} when the server refuses the connection or cannot be
 *   reached (the message shows the URL without its password); the errors of
 *   {@linkcode SqlStore.open}.
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { openServerStore } from "./server.ts";
 * const store = await openServerStore("postgres://postgres@127.0.0.1:5432/postgres", { dim: 64 });
 * assert.ok(await store.count() >= 0);
 * await store.close();
 * ```
 */
export async function openServerStore(
  url: string,
  options: SqlStoreOptions & { connectTimeoutMs?: number } = {},
): Promise<SqlStore> {
  const fn = "openServerStore";
  if (typeof url !== "string" || !isDatabaseUrl(url)) {
    throw new TypeError(
      `${fn}: url must start with postgres:// or postgresql://, got ${JSON.stringify(url)}`,
    );
  }
  const { connectTimeoutMs = 10_000, ...rest } = options;
  const where = redactUrl(url);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
  });
  const conn = new PgConnection(client, where);
  try {
    await client.connect();
  } catch (e) {
    await conn.close();
    throw new StoreConnectionError(
      `${fn}: cannot connect to ${where}: ${(e as Error).message || (e as Error).name}`,
      { cause: e },
    );
  }
  try {
    return await SqlStore.open(conn, rest);
  } catch (e) {
    await conn.close();
    throw e;
  }
}
