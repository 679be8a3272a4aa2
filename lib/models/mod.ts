/**
 * Models: encoders (reference CNN, MLP) and the layers they use.
 *
 * @module
 */
export * from "./layers.ts";
export * from "./encoders.ts";
