/**
 * Argument checks shared by the public functions: unknown option keys and non-finite tensors,
 * each reported as an Error naming the function, the argument and the problem.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Throws when `options` has a key outside `known`, so that a typo such as `negMarign` is never
 * silently ignored. `undefined` options pass; anything but a plain object is refused.
 *
 * @param fn the function name used in the message
 * @param options the options object given by the caller
 * @param known the option names the function reads
 * @param prefix prepended to reported keys, for nested options (e.g. `"hnsw."`)
 * @throws Error `<fn>: unknown option "<key>"; known options: …`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptionKeys } from "./validate.ts";
 * const keys = ["metric", "excludeSelf"];
 * checkOptionKeys("knn", { metric: "cosine" }, keys); // fine
 * assert.throws(() => checkOptionKeys("knn", { excludeSef: true }, keys), /unknown option/);
 * ```
 */
export function checkOptionKeys(
  fn: string,
  options: unknown,
  known: readonly string[],
  prefix = "",
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(`${fn}: ${prefix || "options"} must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(
        `${fn}: unknown option "${prefix}${key}"; known options: ${
          known.map((k) => prefix + k).join(", ")
        }`,
      );
    }
  }
}

/** Describes a non-finite value for an error message: `NaN`, `Infinity` or `-Infinity`. */
function describeNonFinite(v: number): string {
  return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}

/**
 * Throws when `values` holds NaN, +Infinity or −Infinity, naming the argument, the first bad row and
 * column. Rows are `rowLength` consecutive values of a flat array (row-major `[n, rowLength]`), or the
 * inner arrays of a nested array.
 *
 * @param fn the function name used in the message
 * @param name the argument name used in the message
 * @param values a flat array (with `rowLength`) or an array of rows
 * @param rowLength values per row of a flat array; default 1 (each value its own row)
 * @throws Error `<fn>: <name> row <i> holds Infinity (column <j>); embeddings and scores must be finite`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFiniteValues } from "./validate.ts";
 * checkFiniteValues("knn", "queries", [[0, 1], [2, 3]]); // fine
 * assert.throws(
 *   () => checkFiniteValues("knn", "queries", [[0, 1], [Infinity, 3]]),
 *   /knn: queries row 1 holds Infinity \(column 0\)/,
 * );
 * ```
 */
export function checkFiniteValues(
  fn: string,
  name: string,
  values: ArrayLike<number> | ArrayLike<ArrayLike<number>>,
  rowLength = 1,
): void {
  const fail = (row: number, col: number, v: number): never => {
    throw new Error(
      `${fn}: ${name} row ${row} holds ${
        describeNonFinite(v)
      } (column ${col}); embeddings and scores must be finite`,
    );
  };
  for (let i = 0; i < values.length; i++) {
    const item = values[i] as number | ArrayLike<number>;
    if (typeof item === "number") {
      if (!Number.isFinite(item)) fail(Math.floor(i / rowLength), i % rowLength, item);
    } else {
      for (let j = 0; j < item.length; j++) {
        if (!Number.isFinite(item[j])) fail(i, j, item[j]);
      }
    }
  }
}

/**
 * Throws when `tensor` holds NaN or ±Infinity, naming the first bad row (the index along axis 0).
 *
 * Cost: one element-wise multiply by 0 and one sum (NaN and ±Infinity both turn the sum into
 * NaN), then one 4-byte read back — a device synchronisation on WebGPU; the values are read only
 * when the check fails, to find the row. Use it at API entry points, not inside a training step
 * (there the training loop's NaN guard catches non-finite losses).
 *
 * @param fn the function name used in the message
 * @param name the argument name used in the message
 * @throws Error `<fn>: <name> row <i> holds NaN (column <j>); …`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { checkFiniteTensor } from "./validate.ts";
 * checkFiniteTensor("f", "x", tf.tensor1d([1, 2])); // fine
 * assert.throws(() => checkFiniteTensor("f", "x", tf.tensor2d([[1, 2], [3, NaN]])), /f: x row 1 holds NaN/);
 * ```
 */
export function checkFiniteTensor(fn: string, name: string, tensor: tf.Tensor): void {
  if (tensor.size === 0 || tensor.dtype === "bool" || tensor.dtype === "string") return;
  const probe = tf.tidy(() => tf.sum(tf.mul(tensor, 0)));
  const value = probe.dataSync()[0];
  probe.dispose();
  if (Number.isFinite(value)) return;
  const rowLength = tensor.rank === 0 ? 1 : tensor.size / tensor.shape[0];
  checkFiniteValues(fn, name, tensor.dataSync() as Float32Array, rowLength);
}

/**
 * Throws when a label is not an integer (labels index classes).
 *
 * @param fn the function name used in the message
 * @param name the argument name used in the message
 * @throws Error `<fn>: <name>[i] is <v>, not an integer`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkIntegerLabels } from "./validate.ts";
 * checkIntegerLabels("nmi", "trueLabels", [0, 1, 1]); // fine
 * assert.throws(() => checkIntegerLabels("nmi", "trueLabels", [0, 1.5]), /not an integer/);
 * ```
 */
export function checkIntegerLabels(fn: string, name: string, labels: ArrayLike<number>): void {
  for (let i = 0; i < labels.length; i++) {
    if (typeof labels[i] !== "number" || Number.isNaN(labels[i])) {
      throw new Error(`${fn}: ${name}[${i}] is not a number (${labels[i]})`);
    }
    if (!Number.isInteger(labels[i])) {
      throw new Error(`${fn}: ${name}[${i}] is ${labels[i]}, not an integer`);
    }
  }
}
