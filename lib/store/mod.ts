/**
 * Embedding stores: one {@linkcode EmbeddingStore} interface (add with ids, labels and metadata;
 * delete; k-nearest-neighbour search with filters and a choice of metric; get; count) over three
 * back ends — memory ({@linkcode MemoryStore}: exact blocked search or HNSW), embedded
 * PostgreSQL ({@linkcode openEmbeddedStore}: PGlite + pgvector in a directory) and a PostgreSQL
 * server with pgvector ({@linkcode openServerStore}), the last two through one SQL module
 * ({@linkcode SqlStore}) — and the similarity-model workflow on top
 * ({@linkcode SimilarityIndex}: index, lookup, calibrate, match, evaluateRetrieval).
 *
 * @module
 */
export * from "./types.ts";
export * from "./errors.ts";
export * from "./memory.ts";
export * from "./sql.ts";
export * from "./embedded.ts";
export * from "./server.ts";
export * from "./open.ts";
export * from "./similarity.ts";
export * from "./gallery.ts";
