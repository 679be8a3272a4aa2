/**
 * The named errors of the embedding stores. Every fault a store can meet is one of these classes
 * (all extend {@linkcode StoreError}), so that callers can tell them apart with `instanceof` or
 * by `error.name`. Errors raised by {@linkcode EmbeddingStore.add} carry `stored`: how many rows
 * of that call were committed before the error (0 when the input was refused before anything
 * was written).
 *
 * @module
 */

/**
 * The base class of every store error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "./errors.ts";
 * const e = new StoreError("add: something failed", { stored: 0 });
 * assert.equal(e.name, "StoreError");
 * assert.equal(e.stored, 0);
 * ```
 */
export class StoreError extends Error {
  /** Rows of the failing `add` call that were committed before the error (undefined elsewhere). */
  stored?: number;
  /**
   * @param message what failed, naming the function and the offending value
   * @param options `stored` (see above) and the underlying `cause`
   */
  constructor(message: string, options: { stored?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StoreError";
    if (options.stored !== undefined) this.stored = options.stored;
  }
}

/**
 * Vectors (embeddings or queries) whose length is not the store's dimension, or a `dim` option
 * that differs from the dimension an existing store was created with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DimensionMismatchError } from "./errors.ts";
 * const e = new DimensionMismatchError("add: embeddings have 3 columns, the store holds 64", 64, 3);
 * assert.equal(e.expected, 64);
 * assert.equal(e.actual, 3);
 * ```
 */
export class DimensionMismatchError extends StoreError {
  /** The store's dimension. */
  readonly expected: number;
  /** The dimension given. */
  readonly actual: number;
  /**
   * @param message the message
   * @param expected the store's dimension
   * @param actual the dimension given
   */
  constructor(message: string, expected: number, actual: number) {
    super(message, { stored: 0 });
    this.name = "DimensionMismatchError";
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * Ids given twice in one call, or ids already in the store when `add` is called without
 * `upsert: true`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DuplicateIdError } from "./errors.ts";
 * const e = new DuplicateIdError("add: id \"a\" is already stored", ["a"]);
 * assert.deepEqual(e.ids, ["a"]);
 * ```
 */
export class DuplicateIdError extends StoreError {
  /** The duplicated ids (at most 20 are listed). */
  readonly ids: string[];
  /**
   * @param message the message
   * @param ids the duplicated ids
   * @param stored rows of the call committed before the error
   */
  constructor(message: string, ids: string[], stored = 0) {
    super(message, { stored });
    this.name = "DuplicateIdError";
    this.ids = ids;
  }
}

/**
 * An embedding or query holding NaN or ±Infinity (also a value beyond float32's range, which
 * becomes Infinity when stored).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NonFiniteEmbeddingError } from "./errors.ts";
 * const e = new NonFiniteEmbeddingError("add: embeddings row 2 holds NaN (column 0)", 2, 0);
 * assert.equal(e.row, 2);
 * assert.equal(e.column, 0);
 * ```
 */
export class NonFiniteEmbeddingError extends StoreError {
  /** The first bad row. */
  readonly row: number;
  /** Its first bad column. */
  readonly column: number;
  /**
   * @param message the message
   * @param row the first bad row
   * @param column its first bad column
   */
  constructor(message: string, row: number, column: number) {
    super(message, { stored: 0 });
    this.name = "NonFiniteEmbeddingError";
    this.row = row;
    this.column = column;
  }
}

/**
 * A metric other than `"euclidean"`, `"cosine"` or `"dot"`, or an index kind a back end does not
 * have.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownMetricError } from "./errors.ts";
 * assert.equal(new UnknownMetricError("search: unknown metric \"l3\"", "l3").metric, "l3");
 * ```
 */
export class UnknownMetricError extends StoreError {
  /** The metric given. */
  readonly metric: string;
  /**
   * @param message the message
   * @param metric the metric given
   */
  constructor(message: string, metric: string) {
    super(message, { stored: 0 });
    this.name = "UnknownMetricError";
    this.metric = metric;
  }
}

/**
 * A filter naming a field that no stored row has (the known fields are `id`, `label` and every
 * metadata key ever added).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownFieldError } from "./errors.ts";
 * const e = new UnknownFieldError("search: unknown field \"colour\"", "colour", ["id", "label"]);
 * assert.equal(e.field, "colour");
 * ```
 */
export class UnknownFieldError extends StoreError {
  /** The unknown field. */
  readonly field: string;
  /** The fields the store knows. */
  readonly known: string[];
  /**
   * @param message the message
   * @param field the unknown field
   * @param known the fields the store knows
   */
  constructor(message: string, field: string, known: string[]) {
    super(message);
    this.name = "UnknownFieldError";
    this.field = field;
    this.known = known;
  }
}

/**
 * Any call on a store after {@linkcode EmbeddingStore.close}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreClosedError } from "./errors.ts";
 * assert.equal(new StoreClosedError("search: the store is closed").name, "StoreClosedError");
 * ```
 */
export class StoreClosedError extends StoreError {
  /** @param message the message */
  constructor(message: string) {
    super(message, { stored: 0 });
    this.name = "StoreClosedError";
  }
}

/**
 * A database server that refuses the connection, or a connection that was lost. When it is
 * raised by `add`, `stored` says how many rows of the call were committed before the loss; the
 * batch that was being written was rolled back (or, when the connection dropped during its
 * COMMIT, its outcome is unknown: the message says so).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreConnectionError } from "./errors.ts";
 * const e = new StoreConnectionError("add: connection lost", { stored: 2000 });
 * assert.equal(e.stored, 2000);
 * ```
 */
export class StoreConnectionError extends StoreError {
  /**
   * @param message the message
   * @param options rows committed before the loss, and the client's error
   */
  constructor(message: string, options: { stored?: number; cause?: unknown } = {}) {
    super(message, options);
    this.name = "StoreConnectionError";
  }
}

/**
 * A store written by an incompatible version of simlearn (another storage format, another
 * PostgreSQL major version inside an embedded store directory), or a directory or table that is
 * not a simlearn store. Nothing is changed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IncompatibleStoreError } from "./errors.ts";
 * const e = new IncompatibleStoreError("open: format 9, this version reads format 1");
 * assert.equal(e.name, "IncompatibleStoreError");
 * ```
 */
export class IncompatibleStoreError extends StoreError {
  /** @param message the message */
  constructor(message: string) {
    super(message, { stored: 0 });
    this.name = "IncompatibleStoreError";
  }
}
