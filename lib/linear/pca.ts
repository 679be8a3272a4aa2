/**
 * Principal component analysis fitted on one set and applied to others (a linear map, like the
 * learned metrics here): the top-k eigenvectors of the covariance by subspace iteration.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkFiniteTensor } from "../validate.ts";
import { symmetricEigen } from "./_linalg.ts";

/**
 * A fitted PCA.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fitPca } from "./pca.ts";
 * const model = await fitPca(tf.randomNormal([100, 5]) as tf.Tensor2D, 2);
 * console.log(model.explainedVarianceRatio);
 * model.dispose();
 * ```
 */
export interface PcaModel {
  /** Column means of the fitted data, `[d]`. */
  mean: Float32Array;
  /** Principal axes as rows, `[k, d]` (orthonormal, sign: largest loading positive). */
  components: tf.Tensor2D;
  /** Fraction of the total variance each component explains, `[k]`. */
  explainedVarianceRatio: number[];
  /** Projects `[n, d]` onto the axes: `[n, k]` = (x − mean) componentsᵀ. */
  transform(x: tf.Tensor2D): tf.Tensor2D;
  /** Frees `components`. */
  dispose(): void;
}

/** Orthonormalises the columns of `v` (`[d, k]` row-major, float64) in place (modified Gram–Schmidt). */
function orthonormalize(v: Float64Array, d: number, k: number): void {
  for (let c = 0; c < k; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += v[i * k + c] * v[i * k + p];
      for (let i = 0; i < d; i++) v[i * k + c] -= dot * v[i * k + p];
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += v[i * k + c] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < d; i++) v[i * k + c] /= norm;
  }
}

/**
 * Fits PCA to `x`: k principal axes of the centred data by subspace (block power) iteration on
 * the `[d, d]` covariance, with a Rayleigh–Ritz step so that the axes come out sorted.
 *
 * @param x `[n, d]`
 * @param k components (1 ≤ k ≤ d)
 * @param iterations subspace iterations (default 60)
 * @throws Error when k is outside [1, d], x has fewer than 2 rows, or x holds NaN/±Infinity
 * (naming the first bad row); `transform` likewise for its input.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fitPca } from "./pca.ts";
 * const model = await fitPca(tf.tensor2d([[0, 0], [1, 1], [2, 2]]), 1);
 * model.transform(tf.tensor2d([[3, 3]])).print(); // ≈ [[2.828]]
 * ```
 */
export async function fitPca(x: tf.Tensor2D, k: number, iterations = 60): Promise<PcaModel> {
  const [n, d] = x.shape;
  if (!Number.isInteger(k) || k < 1 || k > d) {
    throw new Error(`fitPca: k must be an integer in [1, ${d}], got ${k}`);
  }
  if (n < 2) throw new Error(`fitPca: need at least 2 rows, got ${n}`);
  checkFiniteTensor("fitPca", "x", x);
  const meanT = tf.mean(x, 0);
  const cov = tf.tidy(() => {
    const c = tf.sub(x, meanT);
    return tf.div(tf.matMul(c, c, true, false), n - 1) as tf.Tensor2D;
  });
  // Start from a deterministic, well-spread basis.
  const v = new Float64Array(d * k);
  for (let i = 0; i < d; i++) {
    for (let c = 0; c < k; c++) v[i * k + c] = Math.sin(1 + i * 12.9898 + c * 78.233);
  }
  orthonormalize(v, d, k);
  for (let it = 0; it < iterations; it++) {
    const next = tf.tidy(() => tf.matMul(cov, tf.tensor2d(Float32Array.from(v), [d, k])));
    v.set(await next.data());
    next.dispose();
    orthonormalize(v, d, k);
  }
  // Rayleigh–Ritz: eigen-decompose the small k × k matrix Vᵀ C V (ml-matrix) and rotate V.
  const cv = tf.tidy(() => {
    const vt = tf.tensor2d(Float32Array.from(v), [d, k]);
    return tf.matMul(vt, tf.matMul(cov, vt), true, false);
  });
  const small = Float64Array.from(await cv.data());
  cv.dispose();
  const { values, vectors } = symmetricEigen(small, k);
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => values[b] - values[a]);
  const axes = new Float32Array(k * d);
  for (let r = 0; r < k; r++) {
    const c = order[r];
    let big = 0, bigAbs = -1;
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += v[i * k + t] * vectors[t * k + c];
      axes[r * d + i] = s;
      if (Math.abs(s) > bigAbs) [big, bigAbs] = [i, Math.abs(s)];
    }
    if (axes[r * d + big] < 0) { for (let i = 0; i < d; i++) axes[r * d + i] *= -1; }
  }
  const traceT = tf.tidy(() => tf.sum(tf.mul(cov, tf.eye(d))));
  const trace = (await traceT.data())[0];
  tf.dispose([traceT, cov]);
  const mean = Float32Array.from(await meanT.data());
  const components = tf.tensor2d(axes, [k, d]);
  const meanRow = tf.keep(tf.reshape(meanT, [1, d]));
  meanT.dispose();
  return {
    mean,
    components,
    explainedVarianceRatio: order.map((c) => (trace > 0 ? values[c] / trace : 0)),
    transform: (t) => {
      if (t.rank !== 2 || t.shape[1] !== d) {
        throw new Error(`PcaModel.transform: x must be [n, ${d}], got [${t.shape}]`);
      }
      checkFiniteTensor("PcaModel.transform", "x", t);
      return tf.tidy(() => tf.matMul(tf.sub(t, meanRow), components, false, true) as tf.Tensor2D);
    },
    dispose: () => tf.dispose([components, meanRow]),
  };
}
