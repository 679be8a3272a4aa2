/**
 * What the losses with class weights or proxies share: the check of labels against
 * `numClasses`, PML's miner weights (`lmu.convert_to_weights`), one-hot masks, the per-row
 * cross-entropy, and PML's initialisations of the learnable tensors.
 *
 * Internal.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { isPairIndices, type TupleIndices } from "./_tuples.ts";
import type { ParameterSpec } from "./_template.ts";

/**
 * Throws unless every label is in `[0, numClasses)` — before any tensor work, naming the loss,
 * the offending label and `numClasses`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkClassLabels } from "./_classes.ts";
 * checkClassLabels("arcFaceLoss", Int32Array.of(0, 2), 3); // fine
 * assert.throws(() => checkClassLabels("arcFaceLoss", Int32Array.of(0, 3), 3), /numClasses is 3/);
 * ```
 */
export function checkClassLabels(fn: string, labels: Int32Array, numClasses: number): void {
  let max = -1;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0) {
      throw new Error(
        `${fn}: label ${i} is ${y}; labels must be in [0, numClasses) = [0, ${numClasses})`,
      );
    }
    if (y > max) max = y;
  }
  if (max >= numClasses) {
    throw new Error(
      `${fn}: numClasses is ${numClasses}, smaller than the largest label + 1 (${max + 1}); ` +
        `labels must be in [0, numClasses)`,
    );
  }
}

/**
 * PML's `lmu.convert_to_weights`: each batch row's weight is how often it appears in the tuples
 * divided by the largest count (rows absent from the tuples get 0); all ones without tuples or
 * with empty ones. With `anchorsOnly` (PML's `using_ref`) only the anchors count.
 *
 * @param indices tuples from a miner (or `undefined`)
 * @param n batch size
 * @returns `[n]` weights in [0, 1]
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { minerWeights } from "./_classes.ts";
 * const w = minerWeights({ a: Int32Array.of(0, 0), p: Int32Array.of(1, 1), n: Int32Array.of(2, 3) }, 5);
 * assert.deepEqual([...w], [1, 1, 0.5, 0.5, 0]);
 * ```
 */
export function minerWeights(
  indices: TupleIndices | undefined,
  n: number,
  anchorsOnly = false,
): Float32Array {
  const w = new Float32Array(n);
  if (indices === undefined) return w.fill(1);
  const arrays: Int32Array[] = isPairIndices(indices)
    ? (anchorsOnly ? [indices.a1, indices.a2] : [indices.a1, indices.p, indices.a2, indices.n])
    : (anchorsOnly ? [indices.a] : [indices.a, indices.p, indices.n]);
  const all = isPairIndices(indices)
    ? [indices.a1, indices.p, indices.a2, indices.n]
    : [indices.a, indices.p, indices.n];
  if (all.every((a) => a.length === 0)) return w.fill(1);
  const counts = new Float64Array(n);
  for (const a of arrays) for (const i of a) counts[i]++;
  let max = 0;
  for (const c of counts) max = Math.max(max, c);
  if (max > 0) { for (let i = 0; i < n; i++) w[i] = counts[i] / max; }
  return w;
}

/**
 * `[n, numClasses]` float one-hot rows of `labels` (a constant).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneHotMask } from "./_classes.ts";
 * assert.deepEqual(oneHotMask(Int32Array.of(1, 0), 2).arraySync(), [[0, 1], [1, 0]]);
 * ```
 */
export function oneHotMask(labels: Int32Array, numClasses: number): tf.Tensor2D {
  return tf.tidy(() =>
    tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), numClasses), "float32") as tf.Tensor2D
  );
}

/**
 * Per-row cross-entropy `logsumexp(logits_i) − logits_{i, y_i}` (PyTorch's `CrossEntropyLoss`
 * with `reduction="none"`).
 *
 * @param logits `[n, C]`
 * @param target `[n, C]` one-hot rows
 * @returns `[n]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { crossEntropy } from "./_classes.ts";
 * const [ce] = crossEntropy(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 0]])).dataSync();
 * assert.ok(Math.abs(ce - Math.LN2) < 1e-6); // ln 2 ≈ 0.6931
 * ```
 */
export function crossEntropy(logits: tf.Tensor2D, target: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), target), 1)) as tf.Tensor1D);
}

/**
 * 1 where `x > 0`, else 0, with a zero gradient (a mask on a differentiable path: tfjs has no
 * gradient for its comparison kernels).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { positive } from "./_classes.ts";
 * assert.deepEqual(positive(tf.tensor1d([-1, 0, 2])).arraySync(), [0, 0, 1]);
 * ```
 */
export function positive<T extends tf.Tensor>(x: T): T {
  return tf.step(x) as T;
}

/**
 * PML's angles `acos(clamp(cos, −1, 1))`, with the same values, and a gradient that stays finite
 * where `|cos| = 1` (PyTorch's is infinite there, and the update turns the network's weights into
 * NaN — a hazard with small embeddings, where an embedding can align exactly with its class):
 * `−1/√max(1 − x², 1e-12)` inside [−1, 1], 0 outside (as the clamp's).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clampedAcos } from "./_classes.ts";
 * import assert from "node:assert/strict";
 * const g = tf.grad((x: tf.Tensor) => tf.sum(clampedAcos(x)))(tf.tensor1d([1, 0, 1.5]));
 * assert.deepEqual(Array.from(g.dataSync(), (v) => v + 0), [-1e6, -1, 0]); // + 0: no −0
 * ```
 */
export const clampedAcos: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any, save: any) => {
    save([x]);
    return {
      value: tf.acos(tf.clipByValue(x as tf.Tensor, -1, 1)),
      // deno-lint-ignore no-explicit-any
      gradFunc: (dy: tf.Tensor, saved: any) => {
        const [v] = saved as tf.Tensor[];
        const inside = tf.sub(1, tf.step(tf.sub(tf.abs(v), 1))); // |v| ≤ 1, as the clamp's
        const slope = tf.div(-1, tf.sqrt(tf.maximum(tf.sub(1, tf.square(v)), 1e-12)));
        return tf.mul(tf.mul(dy, slope), inside);
      },
    };
  },
) as unknown as (x: tf.Tensor) => tf.Tensor;

/** `x^k` for a small integer `k ≥ 0` by repeated products (a zero power is 1, with no NaN gradient). */
export function intPow(x: tf.Tensor, k: number): tf.Tensor {
  if (k === 0) return tf.onesLike(x);
  let out = x;
  for (let i = 1; i < k; i++) out = tf.mul(out, x);
  return out;
}

/** Fan-in and fan-out as PyTorch's `_calculate_fan_in_and_fan_out` defines them for 2-D tensors. */
function fans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length !== 2) throw new Error(`expected a 2-D parameter, got shape [${shape}]`);
  return { fanIn: shape[1], fanOut: shape[0] };
}

/**
 * A seed tfjs honours: its normal generator treats a seed of 0 as "no seed" (`seed ? seed :
 * Math.random()`), so seeds map to odd numbers (distinct seeds stay distinct, none is 0).
 */
const tfSeed = (seed: number | undefined) => seed === undefined ? undefined : 2 * seed + 1;

/**
 * PML's initialisations of learnable tensors (its `weight_init_func`), seeded (the same seed,
 * 0 included, gives the same tensor):
 *
 * - `normal`: `torch.nn.init.normal_` — N(0, 1) (PML's default, `WeightMixin`);
 * - `kaimingNormalFanOut`: `kaiming_normal_(mode="fan_out")` — N(0, 2 / fanOut) (ProxyAnchor);
 * - `kaimingUniformSqrt5`: `kaiming_uniform_(a=√5)` — U(±1/√fanIn) (SoftTriple);
 * - `unitColumns`: `uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)` — uniform, then every
 *   column scaled to unit L2 norm (P2SGrad).
 *
 * For a 2-D tensor `[a, b]`, PyTorch's fanIn is `b` and fanOut `a`.
 */
export const inits: Readonly<Record<string, ParameterSpec["init"]>> = Object.freeze({
  normal: (shape: number[], seed: number | undefined) =>
    tf.randomNormal(shape, 0, 1, "float32", tfSeed(seed)),
  kaimingNormalFanOut: (shape: number[], seed: number | undefined) =>
    tf.randomNormal(shape, 0, Math.sqrt(2 / fans(shape).fanOut), "float32", tfSeed(seed)),
  kaimingUniformSqrt5: (shape: number[], seed: number | undefined) => {
    const bound = 1 / Math.sqrt(fans(shape).fanIn);
    return tf.randomUniform(shape, -bound, bound, "float32", tfSeed(seed));
  },
  unitColumns: (shape: number[], seed: number | undefined) =>
    tf.tidy(() =>
      renormColumns(
        tf.randomUniform(shape, -1, 1, "float32", tfSeed(seed)) as unknown as tf.Tensor2D,
      )
    ),
});

/**
 * PyTorch's `w.renorm(2, 1, 1e-5).mul(1e5)`: each column with L2 norm above 1e-5 is multiplied
 * by `1e-5 / (norm + 1e-7)`, then everything by 1e5 (unit columns, as P2SGrad keeps them).
 *
 * @param w `[d, C]`
 * @returns `[d, C]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { renormColumns } from "./_classes.ts";
 * const [a, b] = renormColumns(tf.tensor2d([[3], [4]])).dataSync(); // [[0.6], [0.8]]
 * assert.ok(Math.abs(a - 0.6) < 1e-6 && Math.abs(b - 0.8) < 1e-6);
 * ```
 */
export function renormColumns(w: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(w), 0, true));
    const over = positive(tf.sub(norm, 1e-5));
    const factor = tf.add(tf.mul(over, tf.div(1e-5, tf.add(norm, 1e-7))), tf.sub(1, over));
    return tf.mul(tf.mul(w, factor), 1e5) as tf.Tensor2D;
  });
}
