/**
 * simlearn: similarity and metric learning for Deno and TypeScript. The public API, re-exported
 * from the modules under `lib/`.
 *
 * @example
 * ```ts
 * import { contrastiveLoss, initBackend, referenceCnn } from "./mod.ts";
 * await initBackend("auto");
 * const model = referenceCnn();
 * ```
 *
 * @module
 */
export * from "./backend.ts";
export * from "./distances.ts";
export * from "./axioms.ts";
export * from "./linear/mod.ts";
export * from "./data/mod.ts";
export * from "./losses/mod.ts";
export * from "./miners/mod.ts";
export * from "./eval/mod.ts";
export * from "./store/mod.ts";
export * from "./benchmark/mod.ts";
export * from "./models/mod.ts";
export * from "./heads/mod.ts";
export * from "./viz/mod.ts";
export * from "./io/mod.ts";
export * from "./train.ts";
export * from "./train_recorder.ts";
export * from "./experiment.ts";
