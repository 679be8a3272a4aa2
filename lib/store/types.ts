/**
 * The {@linkcode EmbeddingStore} interface shared by the three back ends (memory, embedded
 * PostgreSQL through PGlite + pgvector, a PostgreSQL server with pgvector), and the types of its
 * inputs and results.
 *
 * Distances (smaller is nearer) by metric, as pgvector defines its operators:
 * - `"euclidean"`: ‖q − x‖₂ (`<->`);
 * - `"cosine"`: 1 − q·x / (‖q‖‖x‖) (`<=>`); zero vectors are refused where cosine applies;
 * - `"dot"`: −q·x, the negative inner product (`<#>`), so that the largest inner product ranks
 *   first.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** The metrics of a store: `"euclidean"`, `"cosine"` or `"dot"` (inner product). */
export type StoreMetric = "euclidean" | "cosine" | "dot";

/**
 * The metrics of a store, in a fixed order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STORE_METRICS } from "./types.ts";
 * assert.ok(STORE_METRICS.includes("dot"));
 * ```
 */
export const STORE_METRICS: readonly StoreMetric[] = Object.freeze(["euclidean", "cosine", "dot"]);

/** The approximate index of a store: none (`"exact"`), HNSW, or IVFFlat (SQL back ends only). */
export type IndexKind = "exact" | "hnsw" | "ivfflat";

/** The back end of a store. */
export type StoreKind = "memory" | "embedded" | "server";

/** A metadata value: metadata are flat records of strings, finite numbers and booleans. */
export type MetadataValue = string | number | boolean;

/** The metadata of one row (keys other than the reserved `id` and `label`). */
export type Metadata = Record<string, MetadataValue>;

/** The type of a metadata field, fixed by the first row that has it. */
export type FieldType = "string" | "number" | "boolean";

/**
 * A condition on one field: all given operators must hold. `lt`/`lte`/`gt`/`gte` apply to
 * numbers only (`label` and number fields); `in` lists accepted values.
 */
export interface Condition {
  /** Equal to. */
  eq?: MetadataValue;
  /** Not equal to (a row without the field does not match). */
  ne?: MetadataValue;
  /** Less than. */
  lt?: number;
  /** At most. */
  lte?: number;
  /** Greater than. */
  gt?: number;
  /** At least. */
  gte?: number;
  /** One of. */
  in?: readonly MetadataValue[];
}

/**
 * A filter: every entry must hold (AND). A field is `id`, `label` or a metadata key; its value
 * is a value (equality), an array (one of) or a {@linkcode Condition}. A field no row has is an
 * {@linkcode UnknownFieldError}; a value of the wrong type a `TypeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Filter } from "./types.ts";
 * const filter: Filter = { label: [3, 5], colour: "red", price: { gte: 10, lt: 20 } };
 * assert.deepEqual(filter.price, { gte: 10, lt: 20 });
 * ```
 */
export type Filter = Record<string, MetadataValue | readonly MetadataValue[] | Condition>;

/** Vectors `[n, dim]`: a rank-2 tensor, a row-major `Float32Array`/`Float64Array`, or rows. */
export type Vectors =
  | tf.Tensor2D
  | Float32Array
  | Float64Array
  | readonly (readonly number[] | Float32Array)[];

/** HNSW parameters (Malkov & Yashunin 2018; pgvector's `m`, `ef_construction`, `ef_search`). */
export interface HnswSettings {
  /** Links per node (2M on layer 0 in the memory back end). Default 16. */
  M?: number;
  /** Candidate list size while building. Default 64 (pgvector's default). */
  efConstruction?: number;
  /** Candidate list size while searching (at least k is used). Default 40 (pgvector's). */
  efSearch?: number;
}

/** IVFFlat parameters (pgvector's `lists` and `ivfflat.probes`). */
export interface IvfflatSettings {
  /**
   * Inverted lists (k-means centroids), fixed when the index is built. Default: rows / 1000 up to
   * a million rows, √rows beyond (pgvector's advice), at least 1.
   */
  lists?: number;
  /** Lists visited per query. Default: √lists rounded, at least 1. */
  probes?: number;
}

/** Options that open or create a store (each back end adds its own). */
export interface StoreOptions {
  /** Vector dimension: required to create a store, checked against an existing one. */
  dim?: number;
  /**
   * The metric searches use by default and the approximate index is built for. Default
   * `"euclidean"`; fixed when the store is created.
   */
  metric?: StoreMetric;
  /** The approximate index {@linkcode EmbeddingStore.buildIndex} builds. Default `"exact"`. */
  index?: IndexKind;
  /** HNSW parameters (with `index: "hnsw"`). */
  hnsw?: HnswSettings;
  /** IVFFlat parameters (with `index: "ivfflat"`). */
  ivfflat?: IvfflatSettings;
  /** Rows per batch (and per transaction) of `add`. Default 1000. */
  batchSize?: number;
  /** A progress bar (stderr) for `add` calls longer than one batch. Default true. */
  progress?: boolean;
}

/** Options of {@linkcode EmbeddingStore.add}. */
export interface AddOptions {
  /** Integer class labels `[n]` (default: none, stored as null). */
  labels?: ArrayLike<number>;
  /** Metadata `[n]` (entries may be undefined). */
  metadata?: readonly (Metadata | undefined | null)[];
  /**
   * What an id already in the store means: false (default) refuses the whole call with a
   * {@linkcode DuplicateIdError} before anything is written; true replaces the stored row
   * (embedding, label and metadata).
   */
  upsert?: boolean;
  /** Rows per batch (and transaction); default the store's `batchSize`. */
  batchSize?: number;
  /** Progress bar; default the store's `progress`. */
  progress?: boolean;
}

/** What {@linkcode EmbeddingStore.add} did. */
export interface AddResult {
  /** Rows stored (new and replaced). */
  stored: number;
  /** Of those, rows that replaced a stored row (with `upsert: true`). */
  replaced: number;
}

/** Options of {@linkcode EmbeddingStore.search}. */
export interface SearchOptions {
  /** Only rows matching this filter are candidates. */
  filter?: Filter;
  /**
   * The metric; default the store's. The approximate index serves only its own metric: a search
   * with another metric is exact.
   */
  metric?: StoreMetric;
  /** HNSW candidate list size for this search. Default the store's. */
  efSearch?: number;
  /** IVFFlat lists visited for this search. Default the store's. */
  probes?: number;
  /** Exact search even where an approximate index exists. Default false. */
  exact?: boolean;
}

/** One search result. */
export interface SearchHit {
  /** The stored row's id. */
  id: string;
  /** Its distance to the query (see the module documentation for each metric). */
  distance: number;
  /** Its label, or null. */
  label: number | null;
  /** Its metadata (an empty object when none). */
  metadata: Metadata;
}

/** A stored row, as {@linkcode EmbeddingStore.get} returns it. */
export interface StoredItem {
  /** Id. */
  id: string;
  /** The embedding as stored (float32). */
  embedding: Float32Array;
  /** Label, or null. */
  label: number | null;
  /** Metadata (an empty object when none). */
  metadata: Metadata;
}

/** The settings a store was created with. */
export interface StoreInfo {
  /** The back end. */
  kind: StoreKind;
  /** Vector dimension. */
  dim: number;
  /** Default metric, and the metric of the approximate index. */
  metric: StoreMetric;
  /** The approximate index. */
  index: IndexKind;
  /** Whether {@linkcode EmbeddingStore.buildIndex} has built it. */
  indexBuilt: boolean;
  /** HNSW settings in use. */
  hnsw: Required<HnswSettings>;
  /** IVFFlat settings (`lists` 0 until the index is built with the default). */
  ivfflat: Required<IvfflatSettings>;
  /** The known metadata fields and their types. */
  fields: Record<string, FieldType>;
}

/**
 * A store of embeddings with ids, labels and metadata, searchable by k nearest neighbours with
 * filters. Implemented by {@linkcode MemoryStore}, the embedded store
 * ({@linkcode openEmbeddedStore}) and the server store ({@linkcode openServerStore}); open one by
 * location with {@linkcode openStore}.
 *
 * Every write is validated whole before anything is written (dimension, finiteness, ids,
 * labels, metadata types); `add` then writes in batches of `batchSize` rows, each in its own
 * transaction (all or nothing), and an error says how many rows were stored (`error.stored`).
 * Every method of a closed store throws {@linkcode StoreClosedError}.
 */
export interface EmbeddingStore {
  /** The back end. */
  readonly kind: StoreKind;
  /** Vector dimension. */
  readonly dim: number;
  /** Default metric, and the metric of the approximate index. */
  readonly metric: StoreMetric;
  /**
   * Stores `embeddings` `[n, dim]` under `ids` `[n]` (unique, non-empty strings), with optional
   * labels and metadata.
   */
  add(ids: readonly string[], embeddings: Vectors, options?: AddOptions): Promise<AddResult>;
  /** Deletes the rows with these ids; returns how many existed. Unknown ids are ignored. */
  delete(ids: readonly string[]): Promise<number>;
  /**
   * The k nearest rows of each query `[n, dim]`, nearest first: one list per query, with
   * min(k, matching rows) hits (an approximate index may return fewer).
   */
  search(queries: Vectors, k: number, options?: SearchOptions): Promise<SearchHit[][]>;
  /** The rows with these ids, in order; null for an id not stored. */
  get(ids: readonly string[]): Promise<(StoredItem | null)[]>;
  /** Rows stored (matching `filter` when given). */
  count(filter?: Filter): Promise<number>;
  /**
   * Builds the approximate index chosen by `index` over the rows stored (a no-op for
   * `"exact"`); later rows are added to it as they come. Until it is built, searches are exact.
   */
  buildIndex(): Promise<void>;
  /** The store's settings and known fields. */
  info(): Promise<StoreInfo>;
  /** Releases the store (and persists it, for the embedded store). Idempotent. */
  close(): Promise<void>;
}
