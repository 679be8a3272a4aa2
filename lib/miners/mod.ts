/**
 * Tuple miners (pytorch-metric-learning semantics): they return `{ a, p, n }` triplets or
 * `{ a1, p, a2, n }` pairs to pass to a loss as its `indices` option. Synchronous (they read the
 * distance matrix with `dataSync()`).
 *
 * @module
 */
export * from "./miners.ts";
