/**
 * Linear projections of embeddings to 2-D or 3-D for plotting.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The result of {@linkcode pca}. */
export interface PcaResult {
  /** Projected points `[n, k]`, row-major. */
  points: Float32Array;
  /** Number of components `k`. */
  components: number;
  /** Fraction of total variance each component explains. */
  explainedVarianceRatio: number[];
}

/**
 * Principal component analysis by power iteration with deflation: the top `k` principal axes of
 * the centred data, with a deterministic sign (the largest-magnitude loading is positive).
 *
 * @param x `[n, d]`
 * @param k number of components (≤ d)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { pca } from "./projection.ts";
 * const { points } = await pca(tf.tensor2d([[0, 0], [1, 1], [2, 2]]), 1);
 * console.log(points); // ≈ [-1.414, 0, 1.414]
 * ```
 */
export async function pca(x: tf.Tensor2D, k = 2, iterations = 200): Promise<PcaResult> {
  const [n, d] = x.shape;
  if (!Number.isInteger(k) || k < 1 || k > d) {
    throw new Error(`pca: k must be an integer in [1, ${d}], got ${k}`);
  }
  if (n < 2) throw new Error(`pca: need at least 2 points, got ${n}`);
  const centred = tf.tidy(() => tf.sub(x, tf.mean(x, 0, true)));
  const cov = tf.tidy(() => tf.div(tf.matMul(centred, centred, true, false), n - 1));
  const c = new Float64Array(await cov.data());
  cov.dispose();
  let totalVariance = 0;
  for (let i = 0; i < d; i++) totalVariance += c[i * d + i];
  const axes: Float64Array[] = [];
  const ratios: number[] = [];
  for (let comp = 0; comp < k; comp++) {
    let v = new Float64Array(d).map((_, i) => 1 + ((i * 7919) % 13) / 13);
    let eigen = 0;
    for (let it = 0; it < iterations; it++) {
      const w = new Float64Array(d);
      for (let i = 0; i < d; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += c[i * d + j] * v[j];
        w[i] = s;
      }
      const norm = Math.hypot(...w);
      if (norm === 0) break;
      for (let i = 0; i < d; i++) w[i] /= norm;
      eigen = norm;
      v = w;
    }
    let big = 0;
    for (let i = 0; i < d; i++) if (Math.abs(v[i]) > Math.abs(v[big])) big = i;
    if (v[big] < 0) v = v.map((t) => -t);
    axes.push(v);
    ratios.push(totalVariance > 0 ? eigen / totalVariance : 0);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) c[i * d + j] -= eigen * v[i] * v[j];
    }
  }
  const basis = tf.tensor2d(axes.flatMap((a) => Array.from(a)), [k, d]);
  const projected = tf.tidy(() => tf.matMul(centred, basis, false, true));
  const points = new Float32Array(await projected.data());
  tf.dispose([centred, basis, projected]);
  return { points, components: k, explainedVarianceRatio: ratios };
}
