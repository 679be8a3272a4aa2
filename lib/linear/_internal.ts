/**
 * Input checks shared by the linear learners (internal; not re-exported by `mod.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkFiniteTensor } from "../validate.ts";

/**
 * Labels as a plain array, checked against the number of rows.
 *
 * @example
 * ```ts
 * import { labelArray } from "./_internal.ts";
 * labelArray([0, 1, 1], 3, "demo"); // [0, 1, 1]
 * ```
 */
export function labelArray(labels: ArrayLike<number> | tf.Tensor, n: number, fn: string): number[] {
  const arr = labels instanceof tf.Tensor ? Array.from(labels.dataSync()) : Array.from(labels);
  if (arr.length !== n) throw new Error(`${fn}: ${arr.length} labels for ${n} rows`);
  if (arr.some((v) => !Number.isFinite(v))) throw new Error(`${fn}: labels must be finite numbers`);
  return arr;
}

/**
 * Checks a 2-D input.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkX } from "./_internal.ts";
 * checkX(tf.zeros([4, 2]) as tf.Tensor2D, "demo"); // passes
 * ```
 */
export function checkX(x: tf.Tensor2D, fn: string, minRows = 2): void {
  if (!(x instanceof tf.Tensor) || x.rank !== 2) {
    throw new Error(`${fn}: x must be a tf.Tensor2D [n, d]`);
  }
  if (x.shape[0] < minRows) {
    throw new Error(`${fn}: x needs at least ${minRows} rows, got ${x.shape[0]}`);
  }
  checkFiniteTensor(fn, "x", x);
}

/**
 * Eigendecomposition of a symmetric `[d, d]` matrix (row-major, float64) by the cyclic Jacobi
 * method: A = V diag(values) Vᵀ, with `vectors` row-major and eigenvector k in column k. Meant
 * for small d (≲ 50); the input is not modified. Eigenvalues come in no particular order.
 *
 * @example
 * ```ts
 * import { symmetricEigen } from "./_internal.ts";
 * const { values } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
 * console.log([...values].sort()); // [1, 3] (up to rounding)
 * ```
 */
export function symmetricEigen(
  a: Float64Array,
  d: number,
  maxSweeps = 100,
): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(d * d);
  for (let i = 0; i < d; i++) V[i * d + i] = 1;
  let total = 0;
  for (let i = 0; i < d * d; i++) total += A[i] * A[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += A[p * d + q] ** 2;
    if (!(off > 1e-30 * total)) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = A[p * d + q];
        if (Math.abs(apq) <= 1e-300) continue;
        // Rotation J (J_pp = J_qq = c, J_pq = s, J_qp = −s) with (JᵀAJ)_pq = 0.
        const theta = (A[q * d + q] - A[p * d + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = A[k * d + p], akq = A[k * d + q];
          A[k * d + p] = c * akp - s * akq;
          A[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = A[p * d + k], aqk = A[q * d + k];
          A[p * d + k] = c * apk - s * aqk;
          A[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = V[k * d + p], vkq = V[k * d + q];
          V[k * d + p] = c * vkp - s * vkq;
          V[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = A[i * d + i];
  return { values, vectors: V };
}
