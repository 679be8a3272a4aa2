/**
 * Models: encoders (reference CNN, configurable CNN, MLP), Siamese and triplet wrappers with
 * shared weights, and the serialisable layers they use.
 *
 * @module
 */
export * from "./layers.ts";
export * from "./encoders.ts";
export * from "./networks.ts";
