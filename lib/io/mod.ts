/**
 * Input and output: atomic writes, run directories with provenance, progress reporting.
 *
 * @module
 */
export * from "./atomic.ts";
export * from "./run_dir.ts";
export * from "./progress.ts";
export * from "./export.ts";
export * from "./checkpoint.ts";
