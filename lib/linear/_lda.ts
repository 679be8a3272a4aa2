/**
 * The discriminant directions of linear discriminant analysis, as scikit-learn's
 * `LinearDiscriminantAnalysis` (solver "svd", tol 1e-4) computes its `scalings_` (internal:
 * SCML's "lda" basis). Singular value decompositions by ml-matrix.
 *
 * @module
 */
import { svd } from "./_linalg.ts";

/**
 * LDA scalings `[d, rank]` (row-major) of points `x` (`[n, d]`) with labels `y`: whiten the
 * within-class scatter by an SVD of the class-centred, standardised data (rank = singular values
 * above `tol`), then rotate onto the between-class directions by an SVD of the scaled class means
 * (rank = singular values above tol · the largest). Columns are defined up to sign.
 *
 * @throws Error when there are as many samples as classes (scikit-learn's check).
 */
export function ldaScalings(
  x: Float64Array,
  n: number,
  d: number,
  y: ArrayLike<number>,
  tol = 1e-4,
): { scalings: Float64Array; rank: number } {
  const classes = [...new Set(Array.from(y))].sort((a, b) => a - b);
  const C = classes.length;
  if (n === C) {
    throw new Error("ldaScalings: the number of samples must be more than the number of classes");
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const counts = new Float64Array(C), means = new Float64Array(C * d);
  for (let i = 0; i < n; i++) {
    const k = index.get(y[i])!;
    counts[k]++;
    for (let c = 0; c < d; c++) means[k * d + c] += x[i * d + c];
  }
  for (let k = 0; k < C; k++) for (let c = 0; c < d; c++) means[k * d + c] /= counts[k];
  const priors = Float64Array.from(counts, (v) => v / n);
  const xbar = new Float64Array(d);
  for (let k = 0; k < C; k++) for (let c = 0; c < d; c++) xbar[c] += priors[k] * means[k * d + c];
  const Xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const k = index.get(y[i])!;
    for (let c = 0; c < d; c++) Xc[i * d + c] = x[i * d + c] - means[k * d + c];
  }
  const std = new Float64Array(d);
  for (let c = 0; c < d; c++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += Xc[i * d + c];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (Xc[i * d + c] - m) ** 2;
    std[c] = Math.sqrt(v / n) || 1;
  }
  const fac = Math.sqrt(1 / n);
  const W = Float64Array.from(Xc, (v, i) => (fac * v) / std[i % d]);
  const first = svd(W, n, d);
  let rank = 0;
  while (rank < first.k && first.s[rank] > tol) rank++;
  const scal = new Float64Array(d * rank);
  for (let i = 0; i < d; i++) {
    for (let c = 0; c < rank; c++) {
      scal[i * rank + c] = first.v[i * first.k + c] / std[i] / first.s[c];
    }
  }
  const f = C === 1 ? 1 : 1 / (C - 1);
  const B = new Float64Array(C * rank);
  for (let k = 0; k < C; k++) {
    const w = Math.sqrt(n * priors[k] * f);
    for (let c = 0; c < rank; c++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += (means[k * d + i] - xbar[i]) * scal[i * rank + c];
      B[k * rank + c] = w * s;
    }
  }
  if (rank === 0) return { scalings: new Float64Array(0), rank: 0 };
  const second = svd(B, C, rank);
  let rank2 = 0;
  while (rank2 < second.k && second.s[rank2] > tol * second.s[0]) rank2++;
  const out = new Float64Array(d * rank2);
  for (let i = 0; i < d; i++) {
    for (let c = 0; c < rank2; c++) {
      let s = 0;
      for (let t = 0; t < rank; t++) s += scal[i * rank + t] * second.v[t * second.k + c];
      out[i * rank2 + c] = s;
    }
  }
  return { scalings: out, rank: rank2 };
}
