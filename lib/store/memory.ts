/**
 * The memory back end of {@linkcode EmbeddingStore}: vectors in one float32 array with ids,
 * labels and metadata beside them; exact search by the blocked matrix products of
 * {@linkcode knnArrays}, approximate search by the HNSW graph of {@linkcode Index}
 * (`index: "hnsw"`, Euclidean or cosine). Nothing persists: use the embedded store for a store on
 * disk.
 *
 * Memory: exact, about n·(4d + ~150) bytes (the vectors, plus ids, labels and small metadata as
 * JavaScript values); with HNSW about n·(8d + 8M + ~450) bytes (the graph keeps its own copy of
 * the vectors, 2M links a node on layer 0, and JavaScript arrays per node) — 108 MB measured for
 * 100,000 × 64 with M = 16 (`deno task bench store`).
 *
 * @module
 */
import { Index } from "../eval/index.ts";
import { knnArrays } from "../eval/knn.ts";
import { createProgress } from "../io/progress.ts";
import {
  checkAddOptions,
  checkIds,
  checkLabels,
  checkMetadata,
  checkNonZero,
  checkSearchOptions,
  type Clause,
  matches,
  parseFilter,
  resolveSettings,
  type Settings,
  toRows,
} from "./_input.ts";
import { DuplicateIdError, StoreClosedError } from "./errors.ts";
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
  StoreMetric,
  StoreOptions,
  Vectors,
} from "./types.ts";

/**
 * An in-memory {@linkcode EmbeddingStore}.
 *
 * Deleted rows are dropped from the arrays when they exceed a quarter of the rows; with a built
 * HNSW graph they stay in it (skipped in results) until {@linkcode MemoryStore.buildIndex}
 * rebuilds the graph. A filtered or partly deleted HNSW search fetches more candidates in
 * proportion to the rows that match and falls back to exact search on the matching rows for a
 * query left short, so it always returns min(k, matching rows) hits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStore } from "./memory.ts";
 * const store = new MemoryStore({ dim: 2 });
 * await store.add(["a", "b", "c"], [[0, 0], [1, 0], [5, 5]], {
 *   labels: [0, 0, 1],
 *   metadata: [{ colour: "red" }, { colour: "blue" }, { colour: "red" }],
 * });
 * const [hits] = await store.search([[0.9, 0.1]], 2, { filter: { colour: "red" } });
 * assert.deepEqual(hits.map((h) => h.id), ["a", "c"]);
 * await store.close();
 * ```
 */
export class MemoryStore implements EmbeddingStore {
  /** The back end. */
  readonly kind = "memory" as const;
  /** Vector dimension. */
  readonly dim: number;
  /** Default metric, and the metric of the HNSW graph. */
  readonly metric: StoreMetric;
  private settings: Settings;
  private ids: string[] = [];
  private slotOf = new Map<string, number>();
  private labels: (number | null)[] = [];
  private meta: Metadata[] = [];
  private data: Float32Array;
  private alive: Uint8Array;
  private size = 0;
  private dead = 0;
  private fields: Record<string, FieldType> = {};
  private graph: Index | null = null;
  private closed = false;

  /**
   * @param options `dim` (required), `metric`, `index` (`"exact"` or `"hnsw"`), `hnsw`,
   *   `batchSize`, `progress`
   * @throws RangeError on a missing or bad `dim`; {@linkcode UnknownMetricError} on an unknown
   *   metric or index (`"ivfflat"` is for the SQL back ends); RangeError for HNSW with `"dot"`.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 64, metric: "cosine", index: "hnsw" });
   * assert.equal(store.dim, 64);
   * assert.equal(store.metric, "cosine");
   * ```
   */
  constructor(options: StoreOptions) {
    this.settings = resolveSettings("MemoryStore", options, ["exact", "hnsw"]);
    if (options.dim === undefined) {
      throw new RangeError("MemoryStore: dim is required (the vector dimension)");
    }
    if (this.settings.index === "hnsw" && this.settings.metric === "dot") {
      throw new RangeError(
        'MemoryStore: the memory HNSW graph serves "euclidean" and "cosine", not "dot" ' +
          "(use the embedded or server store for an inner-product index)",
      );
    }
    this.dim = options.dim;
    this.metric = this.settings.metric;
    this.data = new Float32Array(this.dim * 64);
    this.alive = new Uint8Array(64);
  }

  private open(fn: string): void {
    if (this.closed) throw new StoreClosedError(`${fn}: the store is closed`);
  }

  /**
   * Stores rows; see {@linkcode EmbeddingStore.add}. The whole call is checked before anything
   * is written, so a refused call stores nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 1 });
   * const r = await store.add(["x"], [[1]], { labels: [7] });
   * assert.deepEqual(r, { stored: 1, replaced: 0 });
   * ```
   */
  async add(
    ids: readonly string[],
    embeddings: Vectors,
    options: AddOptions = {},
  ): Promise<AddResult> {
    const fn = "MemoryStore.add";
    this.open(fn);
    checkAddOptions(fn, options as Record<string, unknown>);
    const idList = checkIds(fn, ids);
    const { data, n } = await toRows(fn, "embeddings", embeddings, this.dim);
    this.open(fn);
    if (n !== idList.length) {
      throw new RangeError(`${fn}: ${idList.length} ids for ${n} embeddings; nothing was stored`);
    }
    if (this.metric === "cosine") checkNonZero(fn, "embeddings", data, this.dim);
    const labels = checkLabels(fn, options.labels, n);
    const { rows, newFields } = checkMetadata(fn, options.metadata, n, this.fields);
    const existing = idList.filter((id) => this.slotOf.has(id));
    if (existing.length > 0 && !options.upsert) {
      throw new DuplicateIdError(
        `${fn}: ${existing.length} id(s) are already stored (${
          existing.slice(0, 5).map((e) => JSON.stringify(e)).join(", ")
        }${
          existing.length > 5 ? ", …" : ""
        }); pass upsert: true to replace them; nothing was stored`,
        existing.slice(0, 20),
      );
    }
    Object.assign(this.fields, newFields);
    const batch = options.batchSize ?? this.settings.batchSize;
    const progress = (options.progress ?? this.settings.progress) && n > batch
      ? createProgress(n, { label: "store add (memory)" })
      : null;
    this.reserve(this.size + n);
    for (let b = 0; b < n; b += batch) {
      const end = Math.min(n, b + batch);
      const first = this.size;
      for (let i = b; i < end; i++) {
        const old = this.slotOf.get(idList[i]);
        if (old !== undefined) this.kill(old);
        const slot = this.size++;
        this.ids[slot] = idList[i];
        this.labels[slot] = labels[i];
        this.meta[slot] = rows[i];
        this.alive[slot] = 1;
        this.slotOf.set(idList[i], slot);
      }
      this.data.set(data.subarray(b * this.dim, end * this.dim), first * this.dim);
      if (this.graph) this.graph.add(data.subarray(b * this.dim, end * this.dim));
      progress?.update({ done: end });
    }
    progress?.finish();
    if (!this.graph && this.dead > 0 && this.dead * 4 > this.size) this.compact();
    return { stored: n, replaced: existing.length };
  }

  private reserve(slots: number): void {
    if (slots <= this.alive.length) return;
    const cap = Math.max(slots, this.alive.length * 2);
    const data = new Float32Array(cap * this.dim);
    data.set(this.data.subarray(0, this.size * this.dim));
    this.data = data;
    const alive = new Uint8Array(cap);
    alive.set(this.alive.subarray(0, this.size));
    this.alive = alive;
  }

  private kill(slot: number): void {
    this.alive[slot] = 0;
    this.dead++;
    this.slotOf.delete(this.ids[slot]);
  }

  /** Drops deleted rows from the arrays (only without a graph, whose ids are slots). */
  private compact(): void {
    let w = 0;
    for (let s = 0; s < this.size; s++) {
      if (!this.alive[s]) continue;
      if (w !== s) {
        this.data.copyWithin(w * this.dim, s * this.dim, (s + 1) * this.dim);
        this.ids[w] = this.ids[s];
        this.labels[w] = this.labels[s];
        this.meta[w] = this.meta[s];
        this.alive[w] = 1;
        this.slotOf.set(this.ids[w], w);
      }
      w++;
    }
    this.ids.length = this.labels.length = this.meta.length = w;
    this.alive.fill(0, w, this.size);
    this.size = w;
    this.dead = 0;
  }

  /**
   * Deletes rows by id; returns how many existed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 1 });
   * await store.add(["a", "b"], [[0], [1]]);
   * assert.equal(await store.delete(["a", "zz"]), 1);
   * assert.equal(await store.count(), 1);
   * ```
   */
  delete(ids: readonly string[]): Promise<number> {
    try {
      this.open("MemoryStore.delete");
      const list = checkIds("MemoryStore.delete", ids, false);
      let removed = 0;
      for (const id of list) {
        const slot = this.slotOf.get(id);
        if (slot === undefined) continue;
        this.kill(slot);
        removed++;
      }
      if (!this.graph && this.dead > 0 && this.dead * 4 > this.size) this.compact();
      return Promise.resolve(removed);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Slots that are alive and match the clauses. */
  private candidates(clauses: readonly Clause[]): Int32Array {
    const out = new Int32Array(this.size - this.dead);
    let c = 0;
    for (let s = 0; s < this.size; s++) {
      if (!this.alive[s]) continue;
      if (clauses.length > 0 && !matches(clauses, this.ids[s], this.labels[s], this.meta[s])) {
        continue;
      }
      out[c++] = s;
    }
    return out.subarray(0, c);
  }

  private hit(slot: number, distance: number): SearchHit {
    return {
      id: this.ids[slot],
      distance,
      label: this.labels[slot],
      metadata: { ...this.meta[slot] },
    };
  }

  /** Exact k nearest among `slots` (all slots when null) for queries `q`. */
  private async exact(
    q: Float32Array,
    n: number,
    k: number,
    metric: StoreMetric,
    slots: Int32Array | null,
  ): Promise<SearchHit[][]> {
    const d = this.dim;
    let ref: Float32Array;
    if (slots === null) ref = this.data.subarray(0, this.size * d);
    else {
      ref = new Float32Array(slots.length * d);
      for (let i = 0; i < slots.length; i++) {
        ref.set(this.data.subarray(slots[i] * d, (slots[i] + 1) * d), i * d);
      }
    }
    const m = ref.length / d;
    const r = await knnArrays(q, ref, n, d, k, { m, metric, excludeSelf: false });
    const sign = metric === "dot" ? -1 : 1;
    const out: SearchHit[][] = [];
    for (let i = 0; i < n; i++) {
      const row: SearchHit[] = [];
      for (let t = 0; t < k; t++) {
        const j = r.indices[i * k + t];
        row.push(this.hit(slots === null ? j : slots[j], sign * r.distances[i * k + t]));
      }
      out.push(row);
    }
    return out;
  }

  /**
   * The k nearest rows of each query; see {@linkcode EmbeddingStore.search}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 1 });
   * await store.add(["a", "b", "c"], [[0], [2], [3]], { labels: [0, 1, 1] });
   * const [hits] = await store.search([[2.2]], 2, { filter: { label: 1 } });
   * assert.deepEqual(hits.map((h) => [h.id, h.distance.toFixed(1)]), [["b", "0.2"], ["c", "0.8"]]);
   * ```
   */
  async search(queries: Vectors, k: number, options: SearchOptions = {}): Promise<SearchHit[][]> {
    const fn = "MemoryStore.search";
    this.open(fn);
    checkSearchOptions(fn, k, options as Record<string, unknown>);
    const metric = options.metric ?? this.metric;
    const clauses = parseFilter(fn, options.filter, this.fields);
    const { data: q, n } = await toRows(fn, "queries", queries, this.dim);
    this.open(fn);
    if (metric === "cosine") checkNonZero(fn, "queries", q, this.dim);
    const whole = clauses.length === 0 && this.dead === 0;
    const slots = whole ? null : this.candidates(clauses);
    const matching = slots === null ? this.size : slots.length;
    const kk = Math.min(k, matching);
    if (n === 0) return [];
    if (kk === 0) return Array.from({ length: n }, () => []);
    const graph = this.graph;
    if (!graph || options.exact || metric !== this.metric) {
      return this.exact(q, n, kk, metric, slots);
    }
    const efSearch = options.efSearch ?? this.settings.hnsw.efSearch;
    if (whole) {
      const r = await graph.search(q, kk, { efSearch });
      return Array.from(
        { length: n },
        (_, i) =>
          Array.from(
            { length: kk },
            (_, t) => this.hit(r.indices[i * kk + t], r.distances[i * kk + t]),
          ),
      );
    }
    // Filtered (or with deleted rows): over-fetch in proportion, fall back to exact when short.
    const fraction = matching / this.size;
    if (fraction < 0.05 || matching <= 4 * kk) return this.exact(q, n, kk, metric, slots);
    const fetch = Math.min(this.size, Math.ceil((2 * kk) / fraction) + 10);
    const r = await graph.search(q, fetch, { efSearch: Math.max(efSearch, fetch) });
    const allowed = new Uint8Array(this.size);
    for (const s of slots!) allowed[s] = 1;
    const out: SearchHit[][] = [];
    const short: number[] = [];
    for (let i = 0; i < n; i++) {
      const row: SearchHit[] = [];
      for (let t = 0; t < fetch && row.length < kk; t++) {
        const s = r.indices[i * fetch + t];
        if (allowed[s]) row.push(this.hit(s, r.distances[i * fetch + t]));
      }
      if (row.length < kk) short.push(i);
      out.push(row);
    }
    if (short.length > 0) {
      const sub = new Float32Array(short.length * this.dim);
      short.forEach((i, j) => sub.set(q.subarray(i * this.dim, (i + 1) * this.dim), j * this.dim));
      const exact = await this.exact(sub, short.length, kk, metric, slots);
      short.forEach((i, j) => (out[i] = exact[j]));
    }
    return out;
  }

  /**
   * The stored rows for these ids (null where absent).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 2 });
   * await store.add(["a"], [[1, 2]], { metadata: [{ file: "a.png" }] });
   * const [a, none] = await store.get(["a", "b"]);
   * assert.deepEqual([...a!.embedding], [1, 2]);
   * assert.equal(a!.metadata.file, "a.png");
   * assert.equal(none, null);
   * ```
   */
  get(ids: readonly string[]): Promise<(StoredItem | null)[]> {
    try {
      this.open("MemoryStore.get");
      const list = checkIds("MemoryStore.get", ids, false);
      return Promise.resolve(list.map((id) => {
        const s = this.slotOf.get(id);
        if (s === undefined) return null;
        return {
          id,
          embedding: this.data.slice(s * this.dim, (s + 1) * this.dim),
          label: this.labels[s],
          metadata: { ...this.meta[s] },
        };
      }));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Rows stored (matching `filter` when given).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 1 });
   * await store.add(["a", "b"], [[0], [1]], { labels: [3, 4] });
   * assert.equal(await store.count(), 2);
   * assert.equal(await store.count({ label: 4 }), 1);
   * ```
   */
  count(filter?: Filter): Promise<number> {
    try {
      this.open("MemoryStore.count");
      const clauses = parseFilter("MemoryStore.count", filter, this.fields);
      if (clauses.length === 0) return Promise.resolve(this.size - this.dead);
      return Promise.resolve(this.candidates(clauses).length);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Builds (or rebuilds, dropping deleted rows) the HNSW graph with `index: "hnsw"`; a no-op
   * for `"exact"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 1, index: "hnsw" });
   * await store.add(["a", "b"], [[0], [1]]);
   * await store.buildIndex();
   * assert.equal((await store.info()).indexBuilt, true);
   * ```
   */
  buildIndex(): Promise<void> {
    try {
      this.open("MemoryStore.buildIndex");
      if (this.settings.index !== "hnsw") return Promise.resolve();
      this.compact();
      const { M, efConstruction, efSearch } = this.settings.hnsw;
      const graph = new Index({
        dim: this.dim,
        metric: this.metric as "euclidean" | "cosine",
        kind: "hnsw",
        hnsw: { M, efConstruction, efSearch, seed: 0 },
      });
      const batch = this.settings.batchSize;
      const progress = this.settings.progress && this.size > batch
        ? createProgress(this.size, { label: "store buildIndex (memory HNSW)" })
        : null;
      for (let b = 0; b < this.size; b += batch) {
        const end = Math.min(this.size, b + batch);
        graph.add(this.data.subarray(b * this.dim, end * this.dim));
        progress?.update({ done: end });
      }
      progress?.finish();
      this.graph = graph;
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The store's settings and known fields.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const info = await new MemoryStore({ dim: 3 }).info();
   * assert.equal(info.kind, "memory");
   * assert.equal(info.index, "exact");
   * ```
   */
  info(): Promise<StoreInfo> {
    try {
      this.open("MemoryStore.info");
      return Promise.resolve({
        kind: this.kind,
        dim: this.dim,
        metric: this.metric,
        index: this.settings.index,
        indexBuilt: this.graph !== null,
        hnsw: { ...this.settings.hnsw },
        ivfflat: { ...this.settings.ivfflat },
        fields: { ...this.fields },
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Releases the arrays; later calls throw {@linkcode StoreClosedError}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./memory.ts";
   * const store = new MemoryStore({ dim: 1 });
   * await store.close();
   * await assert.doesNotReject(store.close()); // idempotent
   * ```
   */
  close(): Promise<void> {
    this.closed = true;
    this.graph = null;
    this.data = new Float32Array(0);
    this.alive = new Uint8Array(0);
    this.ids = [];
    this.slotOf.clear();
    this.labels = [];
    this.meta = [];
    return Promise.resolve();
  }
}
