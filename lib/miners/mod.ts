/**
 * Tuple miners with pytorch-metric-learning (PML) 2.9 semantics: each reads the batch's distance
 * (or similarity) matrix and returns `{ a, p, n }` triplets or `{ a1, p, a2, n }` pairs (pair
 * miners return positive and negative pairs separately, as PML does) to pass to a loss as its
 * `indices` option. Every miner takes `(embeddings [n, d], labels [n], options)`, PML's option
 * names in camelCase with PML's defaults, any distance of the losses' `distance` option (where
 * PML allows it) and a reference set (`refEmbeddings`, `refLabels`, PML's `ref_emb`).
 *
 * Miners are **synchronous**: they read the distance matrix with `dataSync()` (mining needs the
 * values on the CPU anyway, and a synchronous miner can be called inside `optimizer.minimize`).
 * They carry no gradient. Comparisons are made in float32, as PML's are. The sampling miners
 * (`distanceWeightedMiner`, `uniformHistogramMiner`) draw from a seeded generator (`rng`), with
 * PML's distributions but not PyTorch's random numbers.
 *
 * @module
 */
export * from "./types.ts";
export * from "./miners.ts";
export * from "./batch_easy_hard.ts";
export * from "./angular.ts";
export * from "./distance_weighted.ts";
export * from "./hdc.ts";
export * from "./uniform_histogram.ts";
export * from "./packaged_triplets.ts";
