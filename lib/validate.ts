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
 * import { checkOptionKeys } from "./validate.ts";
 * checkOptionKeys("knn", { metric: "cosine" }, ["metric", "excludeSelf"]); // fine
 * // checkOptionKeys("knn", { excludeSef: true }, ["metric", "excludeSelf"]); // throws
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

/**
 * Throws when `tensor` holds NaN or ±Infinity.
 *
 * Cost: one element-wise multiply by 0 and one sum (NaN and ±Infinity both turn the sum into
 * NaN), then one 4-byte read back — a device synchronisation on WebGPU. Use it at API entry
 * points, not inside a training step (there the training loop's NaN guard catches non-finite
 * losses).
 *
 * @param fn the function name used in the message
 * @param name the argument name used in the message
 * @throws Error `<fn>: <name> holds NaN or infinite values`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkFiniteTensor } from "./validate.ts";
 * checkFiniteTensor("f", "x", tf.tensor1d([1, 2])); // fine
 * // checkFiniteTensor("f", "x", tf.tensor1d([1, NaN])); // throws "f: x holds NaN or infinite values"
 * ```
 */
export function checkFiniteTensor(fn: string, name: string, tensor: tf.Tensor): void {
  if (tensor.size === 0 || tensor.dtype === "bool" || tensor.dtype === "string") return;
  const probe = tf.tidy(() => tf.sum(tf.mul(tensor, 0)));
  const value = probe.dataSync()[0];
  probe.dispose();
  if (!Number.isFinite(value)) throw new Error(`${fn}: ${name} holds NaN or infinite values`);
}

/**
 * Throws when a label is not an integer (labels index classes).
 *
 * @param fn the function name used in the message
 * @param name the argument name used in the message
 * @throws Error `<fn>: <name>[i] is <v>, not an integer`
 * @example
 * ```ts
 * import { checkIntegerLabels } from "./validate.ts";
 * checkIntegerLabels("nmi", "trueLabels", [0, 1, 1]); // fine
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
