/**
 * Similarity heads for regression, classification and ranking similarity learning, and their
 * losses.
 *
 * @module
 */
export * from "./losses.ts";
export * from "./heads.ts";
