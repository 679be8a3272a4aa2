/**
 * Models: encoders (reference CNN, configurable CNN, MLP, ResNet-style CNN for colour images),
 * encoders loaded from disk or the web (optionally under a new head), Siamese and triplet
 * wrappers with shared weights, and the serialisable layers they use.
 *
 * @module
 */
export * from "./layers.ts";
export * from "./encoders.ts";
export * from "./resnet.ts";
export * from "./load.ts";
export * from "./networks.ts";
