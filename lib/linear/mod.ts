/**
 * Learned linear metrics d(x, y) = ‖L(x − y)‖ (Mahalanobis, M = LᵀL): the eleven learners of
 * metric-learn 0.7 with its API ({@linkcode LinearMetricLearner}: `fit`, `transform`,
 * `getMahalanobisMatrix`, `components`, `pairDistance`/`pairScore`, `getMetric`), and the
 * `_Supervised` forms that build their pairs, triplets, quadruplets or chunklets from class labels.
 *
 * | learner      | learns from            | solver                                   | supervised form   |
 * | ------------ | ---------------------- | ---------------------------------------- | ----------------- |
 * | `NCA`        | labels                 | Adam on the soft-neighbour accuracy      | (itself)          |
 * | `LMNN`       | labels (triplets)      | Adam on the large-margin loss            | (itself)          |
 * | `MLKR`       | real targets           | Adam on the kernel-regression error      | (itself)          |
 * | `LFDA`       | labels                 | closed form (generalized eigenproblem)   | (itself)          |
 * | `Covariance` | points only            | closed form (inverse covariance)         | (itself)          |
 * | `ITML`       | pairs ±1               | Bregman projections                      | `ITML_Supervised` |
 * | `MMC`        | pairs ±1               | projected gradient / Newton (diagonal)   | `MMC_Supervised`  |
 * | `SDML`       | pairs ±1               | graphical lasso                          | `SDML_Supervised` |
 * | `LSML`       | quadruplets            | projected gradient, step search          | `LSML_Supervised` |
 * | `RCA`        | chunklets              | closed form (within-chunklet covariance) | `RCA_Supervised`  |
 * | `SCML`       | triplets               | stochastic dual averaging on basis weights | `SCML_Supervised` |
 *
 * @example
 * ```ts
 * import { knnClassificationAccuracy, LFDA } from "./mod.ts";
 * const x = [[0, 0], [0, 3], [1, 0], [1, 3], [0.1, 1.5], [0.9, 1.4]];
 * const y = [0, 0, 1, 1, 0, 1];
 * const lfda = await new LFDA({ k: 1 }).fit(x, y);
 * const t = lfda.transform(x);
 * console.log(await knnClassificationAccuracy(t, y, t, y, 1)); // 1
 * ```
 *
 * @module
 */
export * from "./base.ts";
export * from "./constraints.ts";
export * from "./nca.ts";
export * from "./lmnn.ts";
export * from "./mlkr.ts";
export * from "./lfda.ts";
export * from "./covariance.ts";
export * from "./itml.ts";
export * from "./mmc.ts";
export * from "./sdml.ts";
export * from "./lsml.ts";
export * from "./rca.ts";
export * from "./scml.ts";
export * from "./knn_classifier.ts";
export * from "./tabular.ts";
export * from "./pca.ts";
export type { PriorSpec } from "./_prior.ts";
export * from "./registry.ts";
