/**
 * The data layer: IDX files, Fashion-MNIST loading and the seeded PRNG.
 *
 * @module
 */
export * from "./idx.ts";
export * from "./fashion_mnist.ts";
export * from "./random.ts";
export * from "./batches.ts";
export * from "./pairs.ts";
export * from "./samplers.ts";
