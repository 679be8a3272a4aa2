/**
 * A nearest-neighbour index over embeddings with two backends: `"flat"` (exact, blocked matrix
 * products, see {@linkcode knn}) and `"hnsw"` (approximate: Hierarchical Navigable Small World
 * graphs, Malkov & Yashunin 2018, in TypeScript, seeded). Both support `add`, `search`, `save`
 * and `load`; {@linkcode Index.recall} measures an approximate index against exact search.
 *
 * Metrics: `"euclidean"` (default), `"sqeuclidean"` and `"cosine"` (vectors are normalised when
 * added; the distance is 1 − cos). Distances are exact for data far from the origin: the flat
 * index re-ranks its candidates in float64 (see {@linkcode knn}); HNSW computes every distance
 * from coordinate differences.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng, type Rng } from "../data/random.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { knnArrays, type KnnResult } from "./knn.ts";
import { checkFiniteValues, checkOptionKeys } from "../validate.ts";

/** Metrics an {@linkcode Index} supports. */
export type IndexMetric = "euclidean" | "sqeuclidean" | "cosine";

/** HNSW parameters. */
export interface HnswOptions {
  /** Links per node on the upper layers (2M on layer 0). Default 16. */
  M?: number;
  /** Candidate list size while building. Default 200. */
  efConstruction?: number;
  /** Candidate list size while searching (at least k is used). Default 64. */
  efSearch?: number;
  /** Seed of the level draws. Default 0. */
  seed?: number;
}

/** Options of {@linkcode Index}. */
export interface IndexOptions {
  /** Vector dimension. */
  dim: number;
  /** Distance. Default `"euclidean"`. */
  metric?: IndexMetric;
  /** `"flat"` (exact, default) or `"hnsw"` (approximate). */
  kind?: "flat" | "hnsw";
  /** HNSW parameters (with `kind: "hnsw"`). */
  hnsw?: HnswOptions;
}

type Vectors = tf.Tensor2D | Float32Array | readonly (readonly number[])[];

/** A binary heap of (key, id) ordered by key: smallest first (`sign` 1) or largest first (−1). */
class Heap {
  keys: number[] = [];
  ids: number[] = [];
  constructor(private sign: number) {}
  get size(): number {
    return this.keys.length;
  }
  topKey(): number {
    return this.keys[0];
  }
  topId(): number {
    return this.ids[0];
  }
  push(key: number, id: number): void {
    const k = this.keys, d = this.ids, s = this.sign;
    let i = k.length;
    k.push(key);
    d.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (s * k[p] <= s * key) break;
      k[i] = k[p];
      d[i] = d[p];
      i = p;
    }
    k[i] = key;
    d[i] = id;
  }
  pop(): void {
    const k = this.keys, d = this.ids, s = this.sign;
    const lastK = k.pop()!, lastD = d.pop()!;
    const n = k.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && s * k[c + 1] < s * k[c]) c++;
      if (s * k[c] >= s * lastK) break;
      k[i] = k[c];
      d[i] = d[c];
      i = c;
    }
    k[i] = lastK;
    d[i] = lastD;
  }
}

function toRows(
  vectors: Vectors,
  dim: number,
  fn: string,
  name: string,
): { data: Float32Array; n: number } {
  let data: Float32Array;
  if (vectors instanceof tf.Tensor) {
    if (vectors.rank !== 2 || vectors.shape[1] !== dim) {
      throw new Error(`${fn}: expected [n, ${dim}], got [${vectors.shape}]`);
    }
    data = Float32Array.from(vectors.dataSync() as Float32Array);
  } else if (vectors instanceof Float32Array) {
    if (vectors.length % dim !== 0) {
      throw new Error(`${fn}: ${vectors.length} floats is not a multiple of dim ${dim}`);
    }
    data = Float32Array.from(vectors);
  } else {
    data = new Float32Array(vectors.length * dim);
    vectors.forEach((row, i) => {
      if (row.length !== dim) {
        throw new Error(`${fn}: row ${i} has ${row.length} values, not ${dim}`);
      }
      data.set(row, i * dim);
    });
  }
  checkFiniteValues(fn, name, data, dim);
  return { data, n: data.length / dim };
}

const MAGIC = "SIMLIDX1";

/**
 * A nearest-neighbour index (exact `"flat"` or approximate `"hnsw"`).
 *
 * @example
 * ```ts
 * import { Index } from "./index.ts";
 * const index = new Index({ dim: 2, kind: "hnsw", hnsw: { M: 8, seed: 1 } });
 * index.add([[0, 0], [1, 0], [5, 5]]);
 * const { indices, distances } = await index.search([[0.9, 0.1]], 2);
 * console.log([...indices], distances[0]); // [1, 0] 0.1414...
 * ```
 */
export class Index {
  /** Vector dimension. */
  readonly dim: number;
  /** Distance. */
  readonly metric: IndexMetric;
  /** Backend. */
  readonly kind: "flat" | "hnsw";
  /** HNSW parameters in use. */
  readonly hnsw: Required<HnswOptions>;
  private data: Float32Array;
  private count = 0;
  // HNSW state.
  private levels: number[] = [];
  private links: Int32Array[][] = [];
  private linkCounts: number[][] = [];
  private entry = -1;
  private maxLevel = -1;
  private rng: Rng;
  private visited = new Uint32Array(0);
  private stamp = 0;

  /**
   * @param options dimension, metric, backend and HNSW parameters
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const flat = new Index({ dim: 64 });
   * console.log(flat.size); // 0
   * ```
   */
  constructor(options: IndexOptions) {
    checkOptionKeys("Index", options, ["dim", "metric", "kind", "hnsw"]);
    checkOptionKeys("Index", options.hnsw, ["M", "efConstruction", "efSearch", "seed"], "hnsw.");
    const { dim, metric = "euclidean", kind = "flat", hnsw = {} } = options;
    if (!Number.isInteger(dim) || dim < 1) {
      throw new Error(`Index: dim must be a positive integer, got ${dim}`);
    }
    if (!["euclidean", "sqeuclidean", "cosine"].includes(metric)) {
      throw new Error(`Index: metric must be euclidean, sqeuclidean or cosine, got ${metric}`);
    }
    if (kind !== "flat" && kind !== "hnsw") {
      throw new Error(`Index: kind must be flat or hnsw, got ${kind}`);
    }
    this.dim = dim;
    this.metric = metric;
    this.kind = kind;
    this.hnsw = { M: 16, efConstruction: 200, efSearch: 64, seed: 0, ...hnsw };
    if (!Number.isInteger(this.hnsw.M) || this.hnsw.M < 2) {
      throw new Error(`Index: hnsw.M must be an integer ≥ 2, got ${this.hnsw.M}`);
    }
    this.data = new Float32Array(dim * 64);
    this.rng = createRng(this.hnsw.seed);
  }

  /** Number of vectors added. */
  get size(): number {
    return this.count;
  }

  /**
   * Adds vectors; they get the ids `size, size + 1, …` in order.
   *
   * @param vectors `[n, dim]` tensor, row-major `Float32Array`, or rows
   * @throws Error on a wrong shape, or a value that is NaN, Infinity or −Infinity (naming
   *   `vectors` and the first bad row); nothing is added then.
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const index = new Index({ dim: 2 });
   * index.add([[0, 0], [1, 1]]);
   * console.log(index.size); // 2
   * ```
   */
  add(vectors: Vectors): void {
    const { data, n } = toRows(vectors, this.dim, "Index.add", "vectors");
    if (this.metric === "cosine") normalizeInPlace(data, this.dim);
    const need = (this.count + n) * this.dim;
    if (need > this.data.length) {
      const grown = new Float32Array(Math.max(need, this.data.length * 2));
      grown.set(this.data.subarray(0, this.count * this.dim));
      this.data = grown;
    }
    this.data.set(data, this.count * this.dim);
    const first = this.count;
    this.count += n;
    if (this.kind === "hnsw") { for (let id = first; id < this.count; id++) this.insert(id); }
  }

  /**
   * The k nearest stored vectors of each query, nearest first (ids and distances `[n * k]`).
   *
   * @param queries `[n, dim]`
   * @throws Error (a rejected promise) when k is out of range, or a query holds NaN, Infinity or
   *   −Infinity (naming `queries` and the first bad row).
   * @param k 1 ≤ k ≤ size
   * @param options `efSearch` overrides the index's for this search (HNSW only)
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const index = new Index({ dim: 1 });
   * index.add([[0], [2], [3]]);
   * const r = await index.search([[2.2]], 2);
   * console.log([...r.indices]); // [1, 2]
   * ```
   */
  // deno-lint-ignore require-await
  async search(
    queries: Vectors,
    k: number,
    options: { efSearch?: number } = {},
  ): Promise<KnnResult> {
    if (!Number.isInteger(k) || k < 1 || k > this.count) {
      throw new Error(
        `Index.search: k must be an integer in [1, ${this.count}] (the index size), got ${k}`,
      );
    }
    const { data: q, n } = toRows(queries, this.dim, "Index.search", "queries");
    if (this.metric === "cosine") normalizeInPlace(q, this.dim);
    if (this.kind === "flat") return this.exact(q, n, k);
    const ef = Math.max(k, options.efSearch ?? this.hnsw.efSearch);
    const indices = new Int32Array(n * k), distances = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      const res = this.searchOne(q.subarray(i * this.dim, (i + 1) * this.dim), k, ef);
      for (let t = 0; t < k; t++) {
        indices[i * k + t] = res.ids[t];
        distances[i * k + t] = this.report(res.keys[t]);
      }
    }
    return { indices, distances, k };
  }

  /**
   * Recall@k of this index against exact search on the same vectors: the fraction of the exact
   * k nearest ids (per query) that {@linkcode Index.search} returns. 1 for a flat index.
   *
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const index = new Index({ dim: 1, kind: "hnsw" });
   * index.add([[0], [1], [2], [3]]);
   * console.log(await index.recall([[0.2]], 2)); // 1
   * ```
   */
  async recall(queries: Vectors, k: number, options: { efSearch?: number } = {}): Promise<number> {
    const { data: q, n } = toRows(queries, this.dim, "Index.recall", "queries");
    const approx = await this.search(q, k, options);
    if (this.metric === "cosine") normalizeInPlace(q, this.dim);
    const exact = await this.exact(q, n, k);
    let hit = 0;
    for (let i = 0; i < n; i++) {
      const truth = new Set(exact.indices.subarray(i * k, (i + 1) * k));
      for (let t = 0; t < k; t++) if (truth.has(approx.indices[i * k + t])) hit++;
    }
    return hit / (n * k);
  }

  /**
   * The index as bytes: a magic line, a JSON header, the vectors (float32) and, for HNSW, the
   * graph (int32).
   *
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const index = new Index({ dim: 2 });
   * index.add([[1, 2]]);
   * const copy = Index.deserialize(index.serialize());
   * console.log(copy.size); // 1
   * ```
   */
  serialize(): Uint8Array {
    const header = new TextEncoder().encode(JSON.stringify({
      dim: this.dim,
      metric: this.metric,
      kind: this.kind,
      hnsw: this.hnsw,
      size: this.count,
      entry: this.entry,
      maxLevel: this.maxLevel,
      rngState: this.rng.state(),
    }));
    const graph: number[] = [];
    if (this.kind === "hnsw") {
      for (let id = 0; id < this.count; id++) {
        const level = this.levels[id];
        graph.push(level);
        for (let l = 0; l <= level; l++) {
          const c = this.linkCounts[id][l];
          graph.push(c);
          for (let t = 0; t < c; t++) graph.push(this.links[id][l][t]);
        }
      }
    }
    const pad = (4 - ((8 + 4 + header.length) % 4)) % 4;
    const total = 8 + 4 + header.length + pad + this.count * this.dim * 4 + graph.length * 4;
    const out = new Uint8Array(total);
    out.set(new TextEncoder().encode(MAGIC), 0);
    new DataView(out.buffer).setUint32(8, header.length, true);
    out.set(header, 12);
    let off = 12 + header.length + pad;
    out.set(new Uint8Array(this.data.buffer, 0, this.count * this.dim * 4), off);
    off += this.count * this.dim * 4;
    out.set(new Uint8Array(Int32Array.from(graph).buffer), off);
    return out;
  }

  /**
   * Rebuilds an index from {@linkcode Index.serialize}'s bytes.
   *
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const index = new Index({ dim: 1 });
   * index.add([[3]]);
   * console.log(Index.deserialize(index.serialize()).dim); // 1
   * ```
   */
  static deserialize(bytes: Uint8Array): Index {
    if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
      throw new Error("Index.deserialize: not an index file (bad magic)");
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hlen = view.getUint32(8, true);
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen)));
    const index = new Index({ dim: h.dim, metric: h.metric, kind: h.kind, hnsw: h.hnsw });
    const pad = (4 - ((12 + hlen) % 4)) % 4;
    let off = 12 + hlen + pad;
    const floats = h.size * h.dim;
    const copy = bytes.slice(off, off + floats * 4);
    index.data = new Float32Array(copy.buffer, 0, floats);
    index.count = h.size;
    off += floats * 4;
    if (h.kind === "hnsw") {
      const g = new Int32Array(bytes.slice(off).buffer);
      let p = 0;
      for (let id = 0; id < h.size; id++) {
        const level = g[p++];
        index.levels.push(level);
        const lists: Int32Array[] = [], counts: number[] = [];
        for (let l = 0; l <= level; l++) {
          const c = g[p++];
          const list = new Int32Array(index.maxLinks(l));
          list.set(g.subarray(p, p + c));
          p += c;
          lists.push(list);
          counts.push(c);
        }
        index.links.push(lists);
        index.linkCounts.push(counts);
      }
      index.entry = h.entry;
      index.maxLevel = h.maxLevel;
      index.rng.setState(h.rngState);
    }
    return index;
  }

  /**
   * Writes the index to `path` (atomically).
   *
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const index = new Index({ dim: 1 });
   * index.add([[0]]);
   * await index.save("/tmp/example.index");
   * ```
   */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, this.serialize());
  }

  /**
   * Reads an index written by {@linkcode Index.save}.
   *
   * @example
   * ```ts
   * import { Index } from "./index.ts";
   * const index = await Index.load("/tmp/example.index");
   * console.log(index.size);
   * ```
   */
  static async load(path: string): Promise<Index> {
    return Index.deserialize(await Deno.readFile(path));
  }

  // -------------------------------------------------------------------------------------------

  private exact(q: Float32Array, n: number, k: number): Promise<KnnResult> {
    return knnArrays(q, this.data.subarray(0, this.count * this.dim), n, this.dim, k, {
      m: this.count,
      metric: this.metric,
      excludeSelf: false,
    });
  }

  /** Internal key (squared L2, or 1 − dot for cosine) to the reported distance. */
  private report(key: number): number {
    return this.metric === "euclidean" ? Math.sqrt(Math.max(0, key)) : key;
  }

  private key(q: Float32Array, id: number): number {
    const d = this.dim, x = this.data, o = id * d;
    if (this.metric === "cosine") {
      let s = 0;
      for (let t = 0; t < d; t++) s += q[t] * x[o + t];
      return 1 - s;
    }
    let s = 0;
    for (let t = 0; t < d; t++) {
      const u = q[t] - x[o + t];
      s += u * u;
    }
    return s;
  }

  private maxLinks(level: number): number {
    return level === 0 ? 2 * this.hnsw.M : this.hnsw.M;
  }

  private vector(id: number): Float32Array {
    return this.data.subarray(id * this.dim, (id + 1) * this.dim);
  }

  private nextStamp(): number {
    if (this.visited.length < this.count) {
      const grown = new Uint32Array(Math.max(this.count, this.visited.length * 2));
      this.visited = grown;
      this.stamp = 0;
    }
    if (++this.stamp === 0xffffffff) {
      this.visited.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  /** Best-first search on one layer from `entries`; returns up to `ef` (key, id), nearest first. */
  private searchLayer(q: Float32Array, entries: number[], ef: number, level: number) {
    const stamp = this.nextStamp();
    const visited = this.visited;
    const candidates = new Heap(1), results = new Heap(-1);
    for (const e of entries) {
      visited[e] = stamp;
      const k = this.key(q, e);
      candidates.push(k, e);
      results.push(k, e);
    }
    while (candidates.size > 0) {
      const ck = candidates.topKey(), c = candidates.topId();
      if (ck > results.topKey() && results.size >= ef) break;
      candidates.pop();
      const list = this.links[c][level], cnt = this.linkCounts[c][level];
      for (let t = 0; t < cnt; t++) {
        const e = list[t];
        if (visited[e] === stamp) continue;
        visited[e] = stamp;
        const k = this.key(q, e);
        if (results.size < ef || k < results.topKey()) {
          candidates.push(k, e);
          results.push(k, e);
          if (results.size > ef) results.pop();
        }
      }
    }
    const keys: number[] = [], ids: number[] = [];
    while (results.size > 0) {
      keys.push(results.topKey());
      ids.push(results.topId());
      results.pop();
    }
    keys.reverse();
    ids.reverse();
    return { keys, ids };
  }

  /** The neighbour-selection heuristic (Malkov & Yashunin, Algorithm 4), from sorted candidates. */
  private selectNeighbours(keys: number[], ids: number[], m: number): number[] {
    const chosen: number[] = [];
    for (let i = 0; i < ids.length && chosen.length < m; i++) {
      const e = ids[i], ke = keys[i];
      const ve = this.vector(e);
      let good = true;
      for (const r of chosen) {
        if (this.key(ve, r) < ke) {
          good = false;
          break;
        }
      }
      if (good) chosen.push(e);
    }
    // Fill up with the nearest discarded ones (keepPrunedConnections).
    for (let i = 0; i < ids.length && chosen.length < m; i++) {
      if (!chosen.includes(ids[i])) chosen.push(ids[i]);
    }
    return chosen;
  }

  private connect(from: number, to: number, level: number): void {
    const cap = this.maxLinks(level);
    const list = this.links[from][level];
    const cnt = this.linkCounts[from][level];
    if (cnt < cap) {
      list[cnt] = to;
      this.linkCounts[from][level] = cnt + 1;
      return;
    }
    // Full: re-select among the current links and the new one.
    const v = this.vector(from);
    const cand = [...list.subarray(0, cnt), to].map((id) => ({ id, k: this.key(v, id) }));
    cand.sort((a, b) => a.k - b.k || a.id - b.id);
    const kept = this.selectNeighbours(cand.map((c) => c.k), cand.map((c) => c.id), cap);
    list.set(kept);
    this.linkCounts[from][level] = kept.length;
  }

  private insert(id: number): void {
    const M = this.hnsw.M;
    const level = Math.floor(-Math.log(1 - this.rng.next()) / Math.log(M));
    this.levels[id] = level;
    this.links[id] = [];
    this.linkCounts[id] = [];
    for (let l = 0; l <= level; l++) {
      this.links[id].push(new Int32Array(this.maxLinks(l)));
      this.linkCounts[id].push(0);
    }
    if (this.entry < 0) {
      this.entry = id;
      this.maxLevel = level;
      return;
    }
    const q = this.vector(id);
    let ep = [this.entry];
    for (let l = this.maxLevel; l > level; l--) {
      const r = this.searchLayer(q, ep, 1, l);
      ep = [r.ids[0]];
    }
    for (let l = Math.min(level, this.maxLevel); l >= 0; l--) {
      const r = this.searchLayer(q, ep, this.hnsw.efConstruction, l);
      const neighbours = this.selectNeighbours(r.keys, r.ids, M);
      for (const e of neighbours) {
        this.connect(id, e, l);
        this.connect(e, id, l);
      }
      ep = r.ids;
    }
    if (level > this.maxLevel) {
      this.maxLevel = level;
      this.entry = id;
    }
  }

  private searchOne(q: Float32Array, k: number, ef: number) {
    let ep = [this.entry];
    for (let l = this.maxLevel; l > 0; l--) ep = [this.searchLayer(q, ep, 1, l).ids[0]];
    const r = this.searchLayer(q, ep, ef, 0);
    return { keys: r.keys.slice(0, k), ids: r.ids.slice(0, k) };
  }
}

function normalizeInPlace(data: Float32Array, d: number): void {
  for (let o = 0; o < data.length; o += d) {
    let s = 0;
    for (let t = 0; t < d; t++) s += data[o + t] * data[o + t];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let t = 0; t < d; t++) data[o + t] *= inv;
  }
}
