/**
 * Learned linear metrics d(x, y) = ‖L(x − y)‖ (Mahalanobis, M = LᵀL), one per formulation of
 * similarity learning: classification similarity from labelled pairs ({@linkcode MMC}), ranking
 * similarity from triplets ({@linkcode LMNN}), regression similarity from real targets
 * ({@linkcode MLKR}), and {@linkcode NCA} from class labels.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { knnClassificationAccuracy, NCA } from "./mod.ts";
 * const x = tf.tensor2d([[0, 0], [0, 3], [1, 0], [1, 3]]);
 * const nca = new NCA({ iterations: 30 });
 * await nca.fit(x, [0, 0, 1, 1]);
 * console.log(await knnClassificationAccuracy(x, [0, 0, 1, 1], x, [0, 0, 1, 1], 1, nca.metric()));
 * ```
 *
 * @module
 */
export * from "./base.ts";
export * from "./nca.ts";
export * from "./mmc.ts";
export * from "./lmnn.ts";
export * from "./mlkr.ts";
export * from "./knn_classifier.ts";
export * from "./tabular.ts";
export * from "./pca.ts";
export * from "./itml.ts";
