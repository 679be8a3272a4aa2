/**
 * Evaluation of learned metrics: retrieval (AccuracyCalculator semantics), clustering (k-means,
 * NMI, AMI), verification (ROC, AUC, EER, threshold calibration), exact k-nearest neighbours and
 * a nearest-neighbour index (flat or HNSW).
 *
 * @module
 */
export * from "./retrieval.ts";
export * from "./evaluate.ts";
export * from "./clustering.ts";
export * from "./verification.ts";
export * from "./knn.ts";
export * from "./index.ts";
