/**
 * Deep metric learning losses: tuples × a distance from `distances.ts` × a reduction.
 *
 * @module
 */
export * from "./reducers.ts";
export * from "./pairs.ts";
export * from "./contrastive.ts";
