/**
 * The similarity-model workflow on an {@linkcode EmbeddingStore}, as TensorFlow Similarity's
 * `SimilarityModel` offers it (`index`, `lookup`, `calibrate`, `match`, `evaluate_retrieval`):
 * an encoder embeds images, the store holds and searches the embeddings.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { calibrateThreshold, type Calibration } from "../eval/verification.ts";
import { retrievalFromRankings, type RetrievalMetrics } from "../eval/retrieval.ts";
import { embed } from "../models/encoders.ts";
import { checkOptionKeys } from "../validate.ts";
import { checkInteger } from "./_input.ts";
import type {
  AddResult,
  EmbeddingStore,
  Filter,
  Metadata,
  SearchHit,
  SearchOptions,
  StoreMetric,
} from "./types.ts";

/** Options of {@linkcode SimilarityIndex.index}. */
export interface IndexImagesOptions {
  /** Ids `[n]`; default `String(count() + i)` (the row numbers of an append-only store). */
  ids?: readonly string[];
  /** Metadata `[n]`. */
  metadata?: readonly (Metadata | undefined)[];
  /** Replace rows whose id is stored. Default false. */
  upsert?: boolean;
  /** Progress bar. Default: the store's setting. */
  progress?: boolean;
}

/** One answer of {@linkcode SimilarityIndex.match}. */
export interface MatchResult {
  /** Whether the nearest stored row is within the threshold. */
  matched: boolean;
  /** The nearest row's label when matched, else null ("unknown"). */
  label: number | null;
  /** The nearest row's id (null when the store had no candidate). */
  id: string | null;
  /** The distance to it (Infinity when none). */
  distance: number;
}

/** Options of {@linkcode SimilarityIndex.evaluateRetrieval}. */
export interface StoreRetrievalOptions {
  /** Length of the retrieved ranking. Default 10 (at most the rows stored). */
  k?: number;
  /** The K of Recall@K. Default `[1, 2, 4, 8]` up to k. */
  ks?: number[];
  /** Restrict the references (may not name `label`). */
  filter?: Filter;
  /** Metric. Default the store's. */
  metric?: StoreMetric;
  /** Exact search even where an index exists. Default false. */
  exact?: boolean;
}

/**
 * An encoder and a store: images in, embeddings stored and searched.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mlpEncoder } from "../models/encoders.ts";
 * import { MemoryStore } from "./memory.ts";
 * import { SimilarityIndex } from "./similarity.ts";
 * const encoder = mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 });
 * const index = new SimilarityIndex(encoder, new MemoryStore({ dim: 2 }));
 * const x = tf.randomNormal([6, 4], 0, 1, "float32", 1);
 * await index.index(x, [0, 0, 1, 1, 2, 2]);
 * const [hits] = await index.lookup(x.slice([0, 0], [1, 4]), 1);
 * console.log(hits[0].id); // "0" (an image is its own nearest neighbour)
 * ```
 */
export class SimilarityIndex {
  /** The threshold of the last {@linkcode SimilarityIndex.calibrate}, or null. */
  threshold: number | null = null;
  private batchSize: number;

  /**
   * @param encoder a model mapping images to `[n, store.dim]` embeddings
   * @param store where the embeddings live
   * @param options `batchSize`: images per encoder call (default 512)
   */
  constructor(
    readonly encoder: tf.LayersModel,
    readonly store: EmbeddingStore,
    options: { batchSize?: number } = {},
  ) {
    checkOptionKeys("SimilarityIndex", options, ["batchSize"]);
    this.batchSize = options.batchSize ?? 512;
    checkInteger("SimilarityIndex", "batchSize", this.batchSize, 1);
  }

  /**
   * The encoder's embeddings of `images` as a tensor `[n, dim]` (the caller disposes it).
   *
   * @example
   * ```ts
   * import * as tf from "@tensorflow/tfjs";
   * import { mlpEncoder } from "../models/encoders.ts";
   * import { MemoryStore } from "./memory.ts";
   * import { SimilarityIndex } from "./similarity.ts";
   * const index = new SimilarityIndex(
   *   mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 }),
   *   new MemoryStore({ dim: 2 }),
   * );
   * console.log(index.embed(tf.ones([3, 4])).shape); // [3, 2]
   * ```
   */
  embed(images: tf.Tensor): tf.Tensor2D {
    return embed(this.encoder, images, this.batchSize);
  }

  /**
   * Embeds `images` and stores them with `labels` (TF Similarity's `index`).
   *
   * @param images `[n, …]` the encoder's input
   * @param labels `[n]` integer class labels (optional)
   */
  async index(
    images: tf.Tensor,
    labels?: ArrayLike<number>,
    options: IndexImagesOptions = {},
  ): Promise<AddResult> {
    checkOptionKeys("SimilarityIndex.index", options, ["ids", "metadata", "upsert", "progress"]);
    const n = images.shape[0];
    const start = options.ids ? 0 : await this.store.count();
    const ids = options.ids ?? Array.from({ length: n }, (_, i) => String(start + i));
    const e = this.embed(images);
    try {
      return await this.store.add(ids, e, {
        labels,
        metadata: options.metadata,
        upsert: options.upsert,
        progress: options.progress,
      });
    } finally {
      e.dispose();
    }
  }

  /**
   * The k nearest stored rows of each image (TF Similarity's `lookup`).
   *
   * @param images `[n, …]`
   * @param k neighbours per image
   * @param options filter, metric, efSearch, probes, exact
   */
  async lookup(images: tf.Tensor, k: number, options: SearchOptions = {}): Promise<SearchHit[][]> {
    const e = this.embed(images);
    try {
      return await this.store.search(e, k, options);
    } finally {
      e.dispose();
    }
  }

  /**
   * Calibrates a distance threshold (TF Similarity's `calibrate`): each image's nearest stored
   * row gives a distance and whether its label is the image's; {@linkcode calibrateThreshold}
   * then picks the largest distance whose precision reaches `targetPrecision` (default 0.99).
   * The threshold is kept for {@linkcode SimilarityIndex.match}.
   *
   * @param images calibration images `[n, …]`, not themselves stored
   * @param labels `[n]` their labels
   * @throws Error when no threshold reaches the target precision.
   */
  async calibrate(
    images: tf.Tensor,
    labels: ArrayLike<number>,
    options: { targetPrecision?: number; filter?: Filter } = {},
  ): Promise<Calibration> {
    checkOptionKeys("SimilarityIndex.calibrate", options, ["targetPrecision", "filter"]);
    if (labels.length !== images.shape[0]) {
      throw new RangeError(
        `SimilarityIndex.calibrate: ${labels.length} labels for ${images.shape[0]} images`,
      );
    }
    const hits = await this.lookup(images, 1, { filter: options.filter });
    const distances: number[] = [], same: boolean[] = [];
    hits.forEach((row, i) => {
      if (row.length === 0) return;
      distances.push(row[0].distance);
      same.push(row[0].label === labels[i]);
    });
    const calibration = calibrateThreshold(distances, same, {
      targetPrecision: options.targetPrecision,
    });
    this.threshold = calibration.threshold;
    return calibration;
  }

  /**
   * For each image, the label of its nearest stored row when that row is within `threshold`
   * (default: the calibrated one), else "unknown" (TF Similarity's `match`).
   *
   * @throws Error when no threshold is given and none was calibrated.
   */
  async match(
    images: tf.Tensor,
    options: { threshold?: number; filter?: Filter } = {},
  ): Promise<MatchResult[]> {
    checkOptionKeys("SimilarityIndex.match", options, ["threshold", "filter"]);
    const threshold = options.threshold ?? this.threshold;
    if (threshold === null || typeof threshold !== "number" || Number.isNaN(threshold)) {
      throw new Error(
        "SimilarityIndex.match: no threshold: pass { threshold } or call calibrate() first",
      );
    }
    const hits = await this.lookup(images, 1, { filter: options.filter });
    return hits.map((row) => {
      if (row.length === 0) return { matched: false, label: null, id: null, distance: Infinity };
      const matched = row[0].distance <= threshold;
      return {
        matched,
        label: matched ? row[0].label : null,
        id: row[0].id,
        distance: row[0].distance,
      };
    });
  }

  /**
   * Retrieval scores of `images` (queries, not themselves stored) against the store, with
   * pytorch-metric-learning's `AccuracyCalculator` rules as {@linkcode retrievalMetrics} applies
   * them for a separate reference set ({@linkcode retrievalFromRankings}): a stored row is
   * relevant when its label is the query's; R counts the stored rows of that label; queries whose
   * label no stored row has are left out and counted (every metric NaN when all are). With an
   * exact store this equals `retrievalMetrics(queries, labels,
   * storedEmbeddings, storedLabels, { k })` (ties aside); with an approximate index it measures
   * what users of the index get.
   */
  async evaluateRetrieval(
    images: tf.Tensor,
    labels: ArrayLike<number>,
    options: StoreRetrievalOptions = {},
  ): Promise<RetrievalMetrics> {
    const fn = "SimilarityIndex.evaluateRetrieval";
    checkOptionKeys(fn, options, ["k", "ks", "filter", "metric", "exact"]);
    if (options.filter && "label" in options.filter) {
      throw new TypeError(`${fn}: the filter may not name label (relevance is by label)`);
    }
    const n = images.shape[0];
    if (labels.length !== n) throw new RangeError(`${fn}: ${labels.length} labels for ${n} images`);
    const total = await this.store.count(options.filter);
    const k = options.k ?? Math.min(10, total);
    checkInteger(fn, "k", k, 1, Math.max(1, total));
    const ks = options.ks ?? [1, 2, 4, 8].filter((x) => x <= k);
    for (const K of ks) checkInteger(fn, "each of ks", K, 1, k);
    const hits = await this.lookup(images, k, {
      filter: options.filter,
      metric: options.metric,
      exact: options.exact,
    });
    const countOf = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const l = labels[i];
      if (!countOf.has(l)) {
        countOf.set(l, await this.store.count({ ...options.filter, label: l }));
      }
    }
    // The scoring itself is retrievalMetrics' (AccuracyCalculator's rules, NaN when no query
    // is defined), applied to the store's rankings.
    return retrievalFromRankings(
      hits.map((h) => h.map((x) => x.label)),
      labels,
      Array.from(labels, (l) => countOf.get(l)!),
      { k, ks },
    );
  }
}
