/**
 * One entry point for the three back ends: {@linkcode openStore} picks one from a location
 * string, as `--store` gives it on the command line.
 *
 * @module
 */
import { openEmbeddedStore } from "./embedded.ts";
import { MemoryStore } from "./memory.ts";
import { isDatabaseUrl, openServerStore } from "./server.ts";
import type { SqlStoreOptions } from "./sql.ts";
import type { EmbeddingStore } from "./types.ts";

/**
 * The environment variable naming the default server store (a `postgres://` URL).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DATABASE_URL_ENV } from "./open.ts";
 * assert.equal(DATABASE_URL_ENV, "SIMLEARN_DATABASE_URL");
 * ```
 */
export const DATABASE_URL_ENV = "SIMLEARN_DATABASE_URL";

/**
 * Opens a store by location:
 * - `"memory"`: a {@linkcode MemoryStore} (nothing persists);
 * - `"postgres://…"` or `"postgresql://…"`: a PostgreSQL server with pgvector
 *   ({@linkcode openServerStore});
 * - any other string: an embedded store directory ({@linkcode openEmbeddedStore});
 * - omitted: the URL in `SIMLEARN_DATABASE_URL` when that variable is set (reading it needs
 *   `--allow-env=SIMLEARN_DATABASE_URL`), else `"memory"`.
 *
 * @param location where the store lives
 * @param options {@linkcode SqlStoreOptions} (`table` and `maintenanceWorkMem` are for the SQL
 *   back ends only)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore } from "./open.ts";
 * const store = await openStore("memory", { dim: 3 });
 * assert.equal(store.kind, "memory");
 * await store.close();
 * ```
 */
export function openStore(
  location?: string,
  options: SqlStoreOptions = {},
): Promise<EmbeddingStore> {
  let where: string;
  try {
    where = location ?? Deno.env.get("SIMLEARN_DATABASE_URL") ?? "memory";
  } catch (e) {
    return Promise.reject(e);
  }
  if (typeof where !== "string" || where.length === 0) {
    return Promise.reject(
      new TypeError(`openStore: location must be "memory", a postgres:// URL or a directory`),
    );
  }
  if (where === "memory") {
    const { table: _t, maintenanceWorkMem: _m, ...rest } = options;
    try {
      return Promise.resolve(new MemoryStore(rest));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  if (isDatabaseUrl(where)) return openServerStore(where, options);
  return openEmbeddedStore(where, options);
}
