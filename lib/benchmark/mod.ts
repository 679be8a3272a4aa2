/**
 * The reality-check benchmark: every loss and learned linear metric on Fashion-MNIST under one
 * protocol, with Student-t confidence intervals over seeds; resumable runs, aggregation, tables
 * and the figure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aggregateRuns, benchmarkMarkdown, readRunRecords } from "./mod.ts";
 * const table = aggregateRuns(await readRunRecords("figures/benchmark-runs"));
 * // one row per setting × method
 * assert.ok(benchmarkMarkdown(table).startsWith("| setting | method "));
 * ```
 *
 * @module
 */
export * from "./stats.ts";
export * from "./protocol.ts";
export * from "./methods.ts";
export * from "./runner.ts";
export * from "./tables.ts";
export * from "./figure.ts";
export * from "./execute.ts";
export * from "./crosscheck.ts";
