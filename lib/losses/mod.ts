/**
 * Deep metric learning losses, built as pytorch-metric-learning builds them: tuples (pairs or
 * triplets) × a distance from `distances.ts` × a reduction. Every loss is
 * `(embeddings [n, d], labels [n], options?) => tf.Scalar`, differentiable.
 *
 * @module
 */
export * from "./reducers.ts";
export * from "./pairs.ts";
export * from "./tuples.ts";
export * from "./contrastive.ts";
export * from "./triplet.ts";
export * from "./ntxent.ts";
export * from "./pair_weighting.ts";
export * from "./n_pairs.ts";
export * from "./soft_nn.ts";
