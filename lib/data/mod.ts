/**
 * The data layer: IDX files and Fashion-MNIST; image files, image folders and the benchmark data
 * sets' layouts (CUB-200-2011, Cars196, Stanford Online Products, In-Shop), loaded in memory or
 * streamed; embeddings from elsewhere (`.npy`, CSV/TSV, projector files); seeded augmentation;
 * the seeded PRNG, batches and samplers; the loaders' named errors.
 *
 * @module
 */
export * from "./idx.ts";
export * from "./fashion_mnist.ts";
export * from "./random.ts";
export * from "./batches.ts";
export * from "./pairs.ts";
export * from "./samplers.ts";
export * from "./errors.ts";
export * from "./images.ts";
export * from "./image_loader.ts";
export * from "./image_folder.ts";
export * from "./image_benchmarks.ts";
export * from "./embeddings.ts";
export * from "./augment.ts";
