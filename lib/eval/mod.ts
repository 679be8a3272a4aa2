/**
 * Evaluation of learned metrics: retrieval, clustering, verification and nearest neighbours.
 *
 * @module
 */
export * from "./retrieval.ts";
export * from "./evaluate.ts";
