/**
 * Mahalanobis Metric for Clustering (Xing, Ng, Jordan and Russell, 2002): learns a Mahalanobis
 * matrix M from pairs labelled similar (+1) or dissimilar (−1),
 *
 *   maximise Σ_D ‖a − b‖_M  subject to  Σ_S ‖a − b‖²_M ≤ t,  M ⪰ 0,
 *
 * as metric-learn's `MMC` solves it: projected gradient ascent on M, each step followed by
 * alternating projections onto the similarity constraint (a half-space in the entries of M) and
 * the PSD cone (eigendecomposition, negative eigenvalues clipped), with an adaptive step size.
 * t is Σ_S ‖a − b‖²_{M₀} / 100 (metric-learn's choice); only the shape of M matters to distances'
 * rankings, so the bound only fixes the scale. L = sqrt(Λ)Vᵀ from M = VΛVᵀ, so M = LᵀL.
 *
 * The diagonal variant (`diagonal: true`) minimises Σ_S ‖a − b‖²_M − c · log Σ_D ‖a − b‖_M over
 * diagonal M ⪰ 0 by Newton steps with a halving line search, as metric-learn's `_fit_diag`.
 *
 * Everything runs in float64 on the CPU (plain arrays): d is small (tens) for these learners.
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import { createRng } from "../data/random.ts";
import { MahalanobisBase, type SupervisedLearner, type TupleLearnerOptions } from "./base.ts";
import {
  checkInteger,
  checkNComponents,
  checkPositive,
  gatherRows,
  type LabelInput,
  type MatrixInput,
  readLabels,
  readPoints,
  requireTwoClasses,
  type TupleInput,
  type Tuples,
} from "./_internal.ts";
import { LuDecomposition, Matrix } from "ml-matrix";
import { symmetricEigen, toMatrix } from "./_linalg.ts";
import { supervisedPairs } from "./constraints.ts";

/**
 * Options of {@linkcode MMC}.
 *
 * @example
 * ```ts
 * import { MMC } from "./mmc.ts";
 * const mmc = new MMC({ diagonal: true, maxIter: 100 });
 * ```
 */
export interface MmcOptions extends TupleLearnerOptions {
  /** Output dimension k (default d): the k leading eigen-directions of M. */
  nComponents?: number;
  /** M₀: `"identity"` (default) or `"random"` (RᵀR, R seeded N(0, 1/d)). */
  init?: "identity" | "random";
  /** Seed of the random initialisation (default 0). */
  seed?: number;
  /** Steps at most (metric-learn's `max_iter`, default 100). */
  maxIter?: number;
  /** Initial step size of the full variant (metric-learn's fixed `alpha`, 0.1). */
  learningRate?: number;
  /** Called after every step with the objective. */
  onStep?: (step: number, objective: number) => void;
  /**
   * Learn a diagonal M (feature weights), metric-learn's `diagonal=True` (default false). The
   * diagonal variant is fitted by Newton steps, so `learningRate` and `maxProj` do not apply.
   */
  diagonal?: boolean;
  /** Weight c of the dissimilarity term of the diagonal variant (metric-learn's `diagonal_c`, 1). */
  diagonalC?: number;
  /** Alternating projections per step at most (metric-learn's `max_proj`, default 10000). */
  maxProj?: number;
  /**
   * Stop when the step ‖α∇‖ relative to ‖M‖ (full) or the relative change of the objective
   * (diagonal) is below this (metric-learn's `convergence_threshold`, default 1e-3).
   */
  convergenceThreshold?: number;
}

const MMC_KEYS = [
  "nComponents",
  "init",
  "seed",
  "maxIter",
  "learningRate",
  "onStep",
  "diagonal",
  "diagonalC",
  "maxProj",
  "convergenceThreshold",
  "preprocessor",
];

/** Projected gradient M of the ascent: ∇fD made orthogonal to ∇fS (= W), unit Frobenius norm. */
function gradProjection(gD: Float64Array, wUnit: Float64Array): Float64Array {
  let dot = 0;
  for (let i = 0; i < gD.length; i++) dot += gD[i] * wUnit[i];
  const g = Float64Array.from(gD, (v, i) => v - dot * wUnit[i]);
  let norm = 0;
  for (const v of g) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) { for (let i = 0; i < g.length; i++) g[i] /= norm; }
  return g;
}

/** sqrt(dᵀ A d) for each row d of `diff` (`[p, d]`). */
function mahalanobis(diff: Float64Array, p: number, d: number, A: Float64Array): Float64Array {
  const out = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    const o = i * d;
    let q = 0;
    for (let r = 0; r < d; r++) {
      let t = 0;
      const or = r * d;
      for (let c = 0; c < d; c++) t += A[or + c] * diff[o + c];
      q += diff[o + r] * t;
    }
    out[i] = Math.sqrt(Math.max(0, q));
  }
  return out;
}

/** Σ_rows (d dᵀ) · weight_i, `[d, d]`. */
function weightedScatter(
  diff: Float64Array,
  p: number,
  d: number,
  weight?: Float64Array,
): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < p; i++) {
    const o = i * d, wi = weight ? weight[i] : 1;
    for (let r = 0; r < d; r++) {
      const f = wi * diff[o + r];
      if (f === 0) continue;
      const or = r * d;
      for (let c = r; c < d; c++) out[or + c] += f * diff[o + c];
    }
  }
  for (let r = 0; r < d; r++) for (let c = 0; c < r; c++) out[r * d + c] = out[c * d + r];
  return out;
}

/** Solves H x = g (H `[d, d]`) by ml-matrix's LU solver. */
function solveLinear(H: Float64Array, g: Float64Array, d: number): Float64Array {
  const lu = new LuDecomposition(toMatrix(H, d, d));
  if (lu.isSingular()) throw new Error("MMC.fit: singular Hessian in the diagonal Newton step");
  return Float64Array.from(lu.solve(Matrix.columnVector(Array.from(g))).getColumn(0));
}

/**
 * MMC, classification similarity from labelled pairs. Defaults follow metric-learn's `MMC`:
 * `maxIter` 100, `maxProj` 10000, `convergenceThreshold` 1e-3, identity initialisation
 * (`init: "random"`: M₀ = RᵀR with R seeded N(0, 1/d)), initial step size `learningRate` 0.1
 * (metric-learn's fixed `alpha`), grown ×1.05 after an accepted step and halved after a rejected
 * one. `nComponents` k < d keeps the k leading eigen-directions of M: L = sqrt(Λ)Vᵀ, rows by
 * decreasing eigenvalue.
 *
 * `history` (lower is better) records, from M₀ and then after each step, the scale-free form of
 * the objective: −mean_D ‖a − b‖_M / sqrt(mean_S ‖a − b‖²_M) (full), or the diagonal variant's
 * own objective Σ_S ‖a − b‖²_M − c · log Σ_D ‖a − b‖_M. `converged` and `nIter` report how the
 * last fit ended.
 *
 * Differences from metric-learn, both bug fixes: its first ascent direction (used only if the
 * first projection fails) is ∇fS made orthogonal to ∇fD instead of the reverse, and its
 * diagonal line search adds c · log Σ_D ‖·‖ where the gradient and Hessian subtract it.
 *
 * @example
 * ```ts
 * import { MMC } from "./mmc.ts";
 * const pairs = [[[0, 0], [0, 3]], [[0, 0], [1, 0]], [[0, 0], [1, 3]]];
 * const mmc = await new MMC({ maxIter: 50 }).fit(pairs, [1, -1, -1]);
 * mmc.getMahalanobisMatrix().print();
 * ```
 */
export class MMC extends MahalanobisBase {
  readonly name: string = "MMC";
  /** Whether the last `fit` met the convergence threshold before `maxIter` ran out. */
  converged = false;
  protected readonly nComponents?: number;
  protected readonly init: "identity" | "random";
  protected readonly seed: number;
  protected readonly maxIter: number;
  protected readonly learningRate: number;
  protected readonly onStep?: (step: number, objective: number) => void;
  protected readonly diagonal: boolean;
  protected readonly diagonalC: number;
  protected readonly maxProj: number;
  protected readonly threshold: number;

  constructor(options: MmcOptions = {}, keys: readonly string[] = MMC_KEYS, defaultTol = 1e-3) {
    super();
    const cls = new.target.name;
    checkOptionKeys(cls, options, keys);
    this.nComponents = options.nComponents;
    this.init = options.init ?? "identity";
    this.seed = options.seed ?? 0;
    this.maxIter = options.maxIter ?? 100;
    this.learningRate = options.learningRate ?? 0.1;
    this.onStep = options.onStep;
    this.diagonal = options.diagonal ?? false;
    this.diagonalC = options.diagonalC ?? 1;
    this.maxProj = options.maxProj ?? 10000;
    this.threshold = options.convergenceThreshold ?? defaultTol;
    if (this.nComponents !== undefined) checkInteger(cls, "nComponents", this.nComponents, 1);
    checkInteger(cls, "seed", this.seed, 0);
    checkInteger(cls, "maxIter", this.maxIter, 1);
    checkPositive(cls, "learningRate", this.learningRate);
    checkPositive(cls, "diagonalC", this.diagonalC);
    checkInteger(cls, "maxProj", this.maxProj, 1);
    checkPositive(cls, "convergenceThreshold", this.threshold);
    if (this.init !== "identity" && this.init !== "random") {
      throw new Error(`${cls}: init must be "identity" or "random", got "${this.init}"`);
    }
    this.setPreprocessor(options.preprocessor);
  }

  /**
   * Fits M to pairs.
   *
   * @param pairs `[n, 2, d]` points, or `[n, 2]` indices into the `preprocessor`
   * @param y `[n]` +1 (similar) or −1 (dissimilar)
   * @throws Error for a wrong tuple size, NaN/±Infinity, labels other than ±1, no similar or no
   * dissimilar pair, nComponents outside [1, d], or similar pairs that all join identical points.
   */
  async fit(pairs: TupleInput, y: LabelInput): Promise<this> {
    const fn = `${this.name}.fit`;
    const p = await this.tuples(fn, "pairs", pairs, 2);
    const labels = await readLabels(fn, y, p.n);
    await this.fitPairs(fn, p, labels);
    return this;
  }

  /** The solver on read pairs. */
  protected async fitPairs(fn: string, pairs: Tuples, labels: number[]): Promise<void> {
    const bad = labels.findIndex((v) => v !== 1 && v !== -1);
    if (bad >= 0) {
      throw new Error(`${fn}: y[${bad}] is ${labels[bad]}; pair labels must be +1 or −1`);
    }
    const nS = labels.filter((v) => v === 1).length, nD = labels.length - nS;
    if (!nS || !nD) {
      throw new Error(`${fn}: needs at least one similar (+1) and one dissimilar (−1) pair`);
    }
    const d = pairs.d;
    const k = checkNComponents(fn, this.nComponents, d);
    const diffS = new Float64Array(nS * d), diffD = new Float64Array(nD * d);
    for (let i = 0, s = 0, t = 0; i < labels.length; i++) {
      const target = labels[i] === 1 ? diffS : diffD;
      const row = labels[i] === 1 ? s++ : t++;
      for (let c = 0; c < d; c++) {
        target[row * d + c] = pairs.data[2 * i * d + c] - pairs.data[(2 * i + 1) * d + c];
      }
    }
    const A0 = this.initialMatrix(d);
    this.history = [];
    this.warnings = [];
    const M = this.diagonal
      ? await this.fitDiagonal(diffS, nS, diffD, nD, d, A0)
      : await this.fitFull(diffS, nS, diffD, nD, d, A0);
    if (!this.converged) {
      this.warnings.push(`did not converge in ${this.maxIter} iterations`);
    }
    // L = sqrt(Λ) Vᵀ, rows ordered by decreasing eigenvalue; the first k rows.
    const { values, vectors } = symmetricEigen(M, d);
    const L = new Float64Array(k * d);
    for (let r = 0; r < k; r++) {
      const e = d - 1 - r, s = Math.sqrt(Math.max(0, values[e]));
      for (let c = 0; c < d; c++) L[r * d + c] = s * vectors[c * d + e];
    }
    this.setComponents(L, k, d);
  }

  /** M₀: the identity, or RᵀR with R seeded N(0, 1/d) (`init: "random"`). */
  private initialMatrix(d: number): Float64Array {
    const A = new Float64Array(d * d);
    if (this.init === "identity") {
      for (let i = 0; i < d; i++) A[i * d + i] = 1;
      return A;
    }
    const rng = createRng(this.seed);
    const R = Float64Array.from({ length: d * d }, () => rng.normal() / Math.sqrt(d));
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let r = 0; r < d; r++) s += R[r * d + i] * R[r * d + j];
        A[i * d + j] = s;
      }
    }
    return A;
  }

  private record(step: number, value: number): void {
    if (!Number.isFinite(value)) {
      throw new Error(`${this.name}.fit: the objective became ${value} at step ${step}`);
    }
    this.history.push(value);
    if (step > 0) this.onStep?.(step, value);
  }

  /** metric-learn's `_fit_full`: projected gradient ascent with alternating projections. */
  private async fitFull(
    diffS: Float64Array,
    nS: number,
    diffD: Float64Array,
    nD: number,
    d: number,
    A0: Float64Array,
  ): Promise<Float64Array> {
    const eps = 0.01; // relative slack of the similarity constraint after projection
    const dd = d * d;
    const W = weightedScatter(diffS, nS, d); // ∇ of Σ_S ‖·‖²_M, constant
    const dotW = (A: Float64Array) => {
      let s = 0;
      for (let i = 0; i < dd; i++) s += W[i] * A[i];
      return s;
    };
    const t = dotW(A0) / 100;
    let wNorm = 0;
    for (const v of W) wNorm += v * v;
    wNorm = Math.sqrt(wNorm);
    if (!(wNorm > 0)) {
      throw new Error(`${this.name}.fit: every similar pair joins identical points`);
    }
    const w1 = Float64Array.from(W, (v) => v / wNorm), t1 = t / wNorm;
    const sumD = (A: Float64Array) => mahalanobis(diffD, nD, d, A).reduce((s, v) => s + v, 0);
    const fD = (A: Float64Array) => Math.log(sumD(A) + 1e-6);
    const gradD = (A: Float64Array) => {
      const dist = mahalanobis(diffD, nD, d, A);
      const total = dist.reduce((s, v) => s + v, 0);
      const g = weightedScatter(diffD, nD, d, dist.map((v) => 0.5 / (v + 1e-6)));
      for (let i = 0; i < dd; i++) g[i] /= total + 1e-6;
      return g;
    };
    // Scale-free objective for `history`: −mean_D ‖·‖_M / sqrt(mean_S ‖·‖²_M).
    const ratio = (A: Float64Array) => -(sumD(A) / nD) / Math.sqrt(Math.max(dotW(A), 1e-300) / nS);
    const project = (A: Float64Array): boolean => {
      for (let it = 0; it < this.maxProj; it++) {
        // Similarity constraint ⟨W, A⟩ ≤ t: project onto the half-space.
        let wx = 0;
        for (let i = 0; i < dd; i++) wx += w1[i] * A[i];
        if (wx > t1) { for (let i = 0; i < dd; i++) A[i] += (t1 - wx) * w1[i]; }
        // PSD cone: clip negative eigenvalues of the symmetric part.
        const S = new Float64Array(dd);
        for (let r = 0; r < d; r++) {
          for (let c = 0; c < d; c++) S[r * d + c] = (A[r * d + c] + A[c * d + r]) / 2;
        }
        const { values, vectors } = symmetricEigen(S, d);
        A.fill(0);
        for (let e = 0; e < d; e++) {
          const l = values[e];
          if (!(l > 0)) continue;
          for (let r = 0; r < d; r++) {
            const f = l * vectors[r * d + e];
            if (f === 0) continue;
            for (let c = 0; c < d; c++) A[r * d + c] += f * vectors[c * d + e];
          }
        }
        if ((dotW(A) - t) / t < eps) return true;
      }
      return false;
    };
    const A = Float64Array.from(A0);
    const Aold = Float64Array.from(A0);
    let alpha = this.learningRate;
    let step = gradProjection(gradD(A), w1);
    let objOld = fD(Aold);
    let delta = Infinity;
    this.record(0, ratio(A0));
    this.converged = false;
    let cycle = 0;
    const maxIter = this.maxIter;
    for (; cycle < maxIter; cycle++) {
      const satisfy = project(A);
      const obj = fD(A);
      if (satisfy && (obj > objOld || cycle === 0)) {
        // Feasible and better: accept, grow the step, move along the new projected gradient.
        alpha *= 1.05;
        Aold.set(A);
        objOld = obj;
        step = gradProjection(gradD(A), w1);
        for (let i = 0; i < dd; i++) A[i] += alpha * step[i];
      } else {
        // Infeasible or worse: halve the step and retry from the last accepted matrix.
        alpha /= 2;
        for (let i = 0; i < dd; i++) A[i] = Aold[i] + alpha * step[i];
      }
      let stepNorm = 0, aNorm = 0;
      for (let i = 0; i < dd; i++) {
        stepNorm += step[i] * step[i];
        aNorm += Aold[i] * Aold[i];
      }
      delta = alpha * Math.sqrt(stepNorm) / Math.sqrt(aNorm);
      this.record(cycle + 1, ratio(Aold));
      if (delta < this.threshold) {
        this.converged = true;
        cycle++;
        break;
      }
      if (cycle % 5 === 4) await new Promise((r) => setTimeout(r, 0));
    }
    this.nIter = cycle;
    return Aold;
  }

  /** metric-learn's `_fit_diag`: Newton steps with a halving line search on diagonal M. */
  private async fitDiagonal(
    diffS: Float64Array,
    nS: number,
    diffD: Float64Array,
    nD: number,
    d: number,
    A0: Float64Array,
  ): Promise<Float64Array> {
    const c = this.diagonalC;
    const sSum = new Float64Array(d);
    for (let i = 0; i < nS; i++) for (let r = 0; r < d; r++) sSum[r] += diffS[i * d + r] ** 2;
    const sq = Float64Array.from(diffD, (v) => v * v);
    const dists = (w: Float64Array) => {
      const out = new Float64Array(nD);
      for (let i = 0; i < nD; i++) {
        let s = 0;
        for (let r = 0; r < d; r++) s += sq[i * d + r] * w[r];
        out[i] = Math.sqrt(s);
      }
      return out;
    };
    const objective = (w: Float64Array) => {
      let s = 0;
      for (let r = 0; r < d; r++) s += sSum[r] * w[r];
      const dist = dists(w);
      let total = 0;
      for (const v of dist) total += Math.sqrt(v * v + 1e-6);
      return s - c * Math.log(total);
    };
    let w = Float64Array.from({ length: d }, (_, r) => A0[r * d + r]);
    this.record(0, objective(w));
    this.converged = false;
    let error = 1, it = 0;
    const maxIter = this.maxIter;
    while (error > this.threshold && it < maxIter) {
      const dist = dists(w);
      let total = 0;
      for (const v of dist) total += v;
      const g1 = new Float64Array(d), H2 = new Float64Array(d * d);
      for (let i = 0; i < nD; i++) {
        const f1 = 0.5 / Math.max(dist[i], 1e-6), f2 = -1 / (4 * Math.max(1e-6, dist[i] ** 3));
        for (let r = 0; r < d; r++) {
          const qr = sq[i * d + r];
          g1[r] += f1 * qr;
          const h = f2 * qr;
          for (let s = 0; s < d; s++) H2[r * d + s] += h * sq[i * d + s];
        }
      }
      const objInitial = objective(w);
      // Gradient and Hessian of Σ_S‖·‖² − c·log Σ_D ‖·‖ (plus 1e-6·I, as metric-learn).
      const gradient = Float64Array.from(sSum, (v, r) => v - c * g1[r] / total);
      const hessian = new Float64Array(d * d);
      for (let r = 0; r < d; r++) {
        for (let s = 0; s < d; s++) {
          const h2 = H2[r * d + s] / total - g1[r] * g1[s] / (total * total);
          hessian[r * d + s] = -c * h2 + (r === s ? 1e-6 : 0);
        }
      }
      const newton = solveLinear(hessian, gradient, d);
      const at = (lambda: number) =>
        Float64Array.from(w, (v, r) => Math.max(0, v - lambda * newton[r]));
      let lambda = 1;
      let wTmp = at(lambda);
      let obj = objective(wTmp);
      let objPrevious = obj + 1;
      let wPrevious = wTmp;
      while (obj < objPrevious) {
        objPrevious = obj;
        wPrevious = wTmp;
        lambda /= 2;
        wTmp = at(lambda);
        obj = objective(wTmp);
      }
      w = wPrevious;
      error = Math.abs((objPrevious - objInitial) / objPrevious);
      it++;
      this.record(it, objPrevious);
      if (it % 5 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    this.converged = error <= this.threshold;
    this.nIter = it;
    const M = new Float64Array(d * d);
    for (let r = 0; r < d; r++) M[r * d + r] = w[r];
    return M;
  }
}

/**
 * Options of {@linkcode MMC_Supervised}.
 *
 * @example
 * ```ts
 * import { MMC_Supervised } from "./mmc.ts";
 * const mmc = new MMC_Supervised({ nConstraints: 200, diagonal: true });
 * ```
 */
export interface MmcSupervisedOptions extends Omit<MmcOptions, "preprocessor"> {
  /** Similar and dissimilar pairs to draw, each (metric-learn's `n_constraints`; default 20 · classes²). */
  nConstraints?: number;
}

/**
 * MMC from class labels, metric-learn's `MMC_Supervised`: draws `nConstraints` similar and as
 * many dissimilar pairs ({@linkcode supervisedPairs}, seeded by `seed`) and fits {@linkcode MMC}.
 * Its default `convergenceThreshold` is metric-learn's for this class, 1e-6.
 *
 * @example
 * ```ts
 * import { MMC_Supervised } from "./mmc.ts";
 * const x = [[0, 0], [0, 3], [1, 0], [1, 3], [0, 1], [1, 1]];
 * const mmc = await new MMC_Supervised({ nConstraints: 10, diagonal: true }).fit(x, [0, 0, 1, 1, 0, 1]);
 * mmc.getMahalanobisMatrix().print();
 * ```
 */
export class MMC_Supervised extends MMC implements SupervisedLearner {
  override readonly name: string = "MMC_Supervised";
  private readonly nConstraints?: number;

  constructor(options: MmcSupervisedOptions = {}) {
    super(options, [...MMC_KEYS.filter((k) => k !== "preprocessor"), "nConstraints"], 1e-6);
    this.nConstraints = options.nConstraints;
    if (this.nConstraints !== undefined) {
      checkInteger("MMC_Supervised", "nConstraints", this.nConstraints, 1);
    }
  }

  /**
   * Draws pairs from the labels and fits MMC.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param y `[n]` class labels (negative: unlabelled), at least 2 classes
   * @throws Error as {@linkcode MMC.fit}, and for a single class.
   */
  override async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "MMC_Supervised.fit";
    const { data, n, d } = await readPoints(fn, "x", x, 2);
    const labels = await readLabels(fn, y, n);
    const known = labels.filter((v) => v >= 0);
    requireTwoClasses(fn, known);
    const wanted = this.nConstraints ?? 20 * new Set(known).size ** 2;
    const { pairs, y: py, short } = supervisedPairs(labels, wanted, this.seed);
    await this.fitPairs(fn, { data: gatherRows(data, d, pairs), n: py.length, t: 2, d }, py);
    if (short) this.warnings.unshift(short);
    return this;
  }
}
