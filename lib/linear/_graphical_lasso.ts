/**
 * The graphical lasso (Friedman, Hastie and Tibshirani, "Sparse inverse covariance estimation
 * with the graphical lasso", Biostatistics 2008) by block coordinate descent, as scikit-learn's
 * `_graphical_lasso` (mode "cd") runs it: the precision Θ minimising
 * tr(S Θ) − log det Θ + α Σ_{i≠j} |Θ_ij|, one row/column at a time, each a lasso problem solved
 * by cyclic coordinate descent (scikit-learn's `enet_coordinate_descent_gram`, whose duality-gap
 * stopping rule is reproduced). Internal: SDML's solver. No maintained npm package offers it.
 *
 * @module
 */
import { choleskyLower, pinvh } from "./_linalg.ts";

/**
 * Lasso on a Gram matrix: min_w ½ wᵀ Q w − qᵀ w + α‖w‖₁ by cyclic coordinate descent from `w`,
 * stopped when the largest coordinate change relative to the largest coefficient is ≤ tol and the
 * duality gap is ≤ tol · qᵀq (scikit-learn's rule, with y = q), or after `maxIter` sweeps.
 */
function lassoGram(
  w: Float64Array,
  alpha: number,
  Q: Float64Array,
  q: Float64Array,
  m: number,
  maxIter: number,
  tol: number,
): Float64Array {
  const Qw = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += Q[i * m + j] * w[j];
    Qw[i] = s;
  }
  let yNorm2 = 0;
  for (let i = 0; i < m; i++) yNorm2 += q[i] * q[i];
  const gapTol = tol * yNorm2;
  const gap = () => {
    let qw = 0, wQw = 0, l1 = 0, dual = 0;
    for (let j = 0; j < m; j++) {
      qw += q[j] * w[j];
      wQw += w[j] * Qw[j];
      l1 += Math.abs(w[j]);
      dual = Math.max(dual, Math.abs(q[j] - Qw[j]));
    }
    const R2 = yNorm2 + wQw - 2 * qw, Ry = yNorm2 - qw;
    const primal = 0.5 * R2 + alpha * l1;
    const scale = dual > alpha ? alpha / dual : 1;
    return primal - (-0.5 * scale * scale * R2 + scale * Ry);
  };
  const g0 = gap();
  if (g0 >= 0 && g0 <= gapTol) return w;
  for (let it = 0; it < maxIter; it++) {
    let wMax = 0, dwMax = 0;
    for (let j = 0; j < m; j++) {
      const qjj = Q[j * m + j];
      if (qjj === 0) continue;
      const wj = w[j];
      const tmp = q[j] - Qw[j] + wj * qjj;
      const next = Math.sign(tmp) * Math.max(Math.abs(tmp) - alpha, 0) / qjj;
      if (next !== wj) {
        const delta = next - wj;
        for (let i = 0; i < m; i++) Qw[i] += delta * Q[j * m + i];
        w[j] = next;
      }
      dwMax = Math.max(dwMax, Math.abs(next - wj));
      wMax = Math.max(wMax, Math.abs(next));
    }
    if (wMax === 0 || dwMax / wMax <= tol || it === maxIter - 1) {
      if (gap() <= gapTol) break;
    }
  }
  return w;
}

/**
 * Result of {@linkcode graphicalLasso}.
 */
export interface GraphicalLassoResult {
  /** The estimated covariance Σ = Θ⁻¹, `[d, d]`. */
  covariance: Float64Array;
  /** The sparse precision Θ, `[d, d]`. */
  precision: Float64Array;
  /** Outer iterations run. */
  iterations: number;
  /** The duality gap after each outer iteration (the stopping quantity). */
  gaps: number[];
  /** The penalised objective after each outer iteration. */
  costs: number[];
  /** Whether the duality gap fell below `tol`. */
  converged: boolean;
}

/**
 * Graphical lasso of an empirical covariance `S` (`[d, d]`), started from `covInit` (whose
 * off-diagonal is scaled by 0.95 and diagonal replaced by S's, as scikit-learn does).
 *
 * @throws Error `graphicalLasso: the system is too ill-conditioned` when the precision becomes
 * non-finite.
 */
export function graphicalLasso(
  S: Float64Array,
  d: number,
  alpha: number,
  options: { covInit?: Float64Array; tol?: number; enetTol?: number; maxIter?: number } = {},
): GraphicalLassoResult {
  const { tol = 1e-4, enetTol = 1e-4, maxIter = 100 } = options;
  const cov = Float64Array.from(options.covInit ?? S);
  for (let i = 0; i < d * d; i++) cov[i] *= 0.95;
  for (let i = 0; i < d; i++) cov[i * d + i] = S[i * d + i];
  const prec = pinvh(cov, d);
  const m = d - 1;
  const sub = new Float64Array(m * m), row = new Float64Array(m), coefs = new Float64Array(m);
  const others = (idx: number) => Array.from({ length: m }, (_, t) => (t < idx ? t : t + 1));
  const gaps: number[] = [], costs: number[] = [];
  const eps = Number.EPSILON;
  let converged = false, it = 0;
  for (; it < maxIter; it++) {
    for (let idx = 0; idx < d; idx++) {
      const o = others(idx);
      for (let a = 0; a < m; a++) {
        for (let b = 0; b < m; b++) sub[a * m + b] = cov[o[a] * d + o[b]];
        row[a] = S[idx * d + o[a]];
        coefs[a] = -prec[o[a] * d + idx] / (prec[idx * d + idx] + 1000 * eps);
      }
      lassoGram(coefs, alpha, sub, row, m, Math.max(20, maxIter), enetTol);
      let dot = 0;
      for (let a = 0; a < m; a++) dot += cov[o[a] * d + idx] * coefs[a];
      const pii = 1 / (cov[idx * d + idx] - dot);
      prec[idx * d + idx] = pii;
      for (let a = 0; a < m; a++) {
        prec[o[a] * d + idx] = prec[idx * d + o[a]] = -pii * coefs[a];
      }
      for (let a = 0; a < m; a++) {
        let s = 0;
        for (let b = 0; b < m; b++) s += sub[a * m + b] * coefs[b];
        cov[idx * d + o[a]] = cov[o[a] * d + idx] = s;
      }
    }
    let total = 0;
    for (const v of prec) total += v;
    if (!Number.isFinite(total)) {
      throw new Error("graphicalLasso: the system is too ill-conditioned for this solver");
    }
    // Duality gap and objective, as scikit-learn's _dual_gap and _objective.
    let trace = 0, offL1 = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        trace += S[i * d + j] * prec[i * d + j];
        if (i !== j) offL1 += Math.abs(prec[i * d + j]);
      }
    }
    const gap = trace - d + alpha * offL1;
    gaps.push(gap);
    costs.push(trace - logDet(prec, d) + alpha * offL1);
    if (Math.abs(gap) < tol) {
      converged = true;
      it++;
      break;
    }
  }
  return { covariance: cov, precision: prec, iterations: it, gaps, costs, converged };
}

/** log det of a symmetric matrix by Cholesky (−Infinity when not positive definite). */
function logDet(a: Float64Array, d: number): number {
  const c = choleskyLower(a, d);
  if (!c) return -Infinity;
  let s = 0;
  for (let i = 0; i < d; i++) s += 2 * Math.log(c[i * d + i]);
  return s;
}
