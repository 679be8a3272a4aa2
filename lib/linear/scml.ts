/**
 * Sparse Compositional Metric Learning (Shi, Bellet and Sha, "Sparse Compositional Metric
 * Learning", AAAI 2014): M = Σ_k w_k b_k b_kᵀ, a sparse non-negative combination of K rank-one
 * bases b_k, learned from triplets (a, b, c) — "a is closer to b than to c" — by minimising
 *
 *   (1/|T|) Σ_T [1 + d_w(a, b) − d_w(a, c)]₊ + β ‖w‖₁,  w ≥ 0,
 *
 * (d_w the squared distance under M) with stochastic regularised dual averaging (AdaGrad scaling),
 * as metric-learn's `SCML` solves it. Only K numbers are learned, whatever d.
 *
 * @module
 */
import { createRng } from "../data/random.ts";
import { kMeans } from "../eval/clustering.ts";
import { checkOptionKeys } from "../validate.ts";
import { MahalanobisBase, type SupervisedLearner, type TupleLearnerOptions } from "./base.ts";
import {
  checkInteger,
  checkPositive,
  type LabelInput,
  type MatrixInput,
  type Points,
  readLabels,
  readPoints,
  requireTwoClasses,
  type TupleInput,
  yieldNow,
} from "./_internal.ts";
import { componentsFromMetric, symmetricEigen } from "./_linalg.ts";
import { ldaScalings } from "./_lda.ts";
import { uniqueRows } from "./_prior.ts";
import { knnTriplets } from "./constraints.ts";

/**
 * The basis set of SCML: `"triplet_diffs"` (both forms), `"LDA"` (the supervised form only; also
 * accepted as `"lda"`, metric-learn's spelling), or explicit bases `[K, d]`.
 *
 * @example
 * ```ts
 * import type { ScmlBasis } from "./scml.ts";
 * const basis: ScmlBasis = "LDA";
 * ```
 */
export type ScmlBasis = "triplet_diffs" | "LDA" | "lda" | ArrayLike<ArrayLike<number>>;

/**
 * Options of {@linkcode SCML}.
 *
 * @example
 * ```ts
 * import { SCML } from "./scml.ts";
 * const scml = new SCML({ nBasis: 40, maxIter: 2000, outputIter: 100, seed: 3 });
 * ```
 */
export interface ScmlOptions extends TupleLearnerOptions {
  /** β, the ℓ1 penalty (metric-learn's `beta`, 1e-5). */
  beta?: number;
  /** The basis set (default `"triplet_diffs"`; `"LDA"` for {@linkcode SCML_Supervised}). */
  basis?: ScmlBasis;
  /** K, the number of bases to build (default: 80·d for triplet_diffs; see SCML_Supervised for LDA). */
  nBasis?: number;
  /** γ, the step-size parameter of dual averaging (metric-learn's `gamma`, 5e-3). */
  gamma?: number;
  /** Stochastic iterations (metric-learn's `max_iter`, 10000). */
  maxIter?: number;
  /** Evaluate the full objective (and keep the best w) every this many iterations (500). */
  outputIter?: number;
  /** Triplets per stochastic iteration (metric-learn's `batch_size`, 10). */
  batchSize?: number;
  /** Seed of the basis construction and the batches (default 0). */
  seed?: number;
}

const SCML_KEYS = [
  "beta",
  "basis",
  "nBasis",
  "gamma",
  "maxIter",
  "outputIter",
  "batchSize",
  "seed",
  "preprocessor",
];

/** Triplets as indices into de-duplicated points. */
interface IndexedTriplets {
  points: Points;
  /** `[m·3]` row-major. */
  idx: Int32Array;
  m: number;
}

/** What SCML and SCML_Supervised share: options, bases and the solver. */
abstract class ScmlBase extends MahalanobisBase {
  abstract override readonly name: string;
  protected readonly beta: number;
  protected readonly basis: ScmlBasis;
  protected readonly nBasis?: number;
  protected readonly gamma: number;
  protected readonly maxIter: number;
  protected readonly outputIter: number;
  protected readonly batchSize: number;
  protected readonly seed: number;
  /** The weights w of the bases after the last `fit` (`[K]`, non-negative, sparse). */
  weights: Float64Array = new Float64Array(0);

  constructor(
    options: ScmlOptions = {},
    keys: readonly string[] = SCML_KEYS,
    defaultBasis: ScmlBasis = "triplet_diffs",
  ) {
    super();
    const cls = new.target.name;
    checkOptionKeys(cls, options, keys);
    this.beta = options.beta ?? 1e-5;
    this.basis = options.basis ?? defaultBasis;
    this.nBasis = options.nBasis;
    this.gamma = options.gamma ?? 5e-3;
    this.maxIter = options.maxIter ?? 10000;
    this.outputIter = options.outputIter ?? 500;
    this.batchSize = options.batchSize ?? 10;
    this.seed = options.seed ?? 0;
    checkPositive(cls, "beta", this.beta, true);
    checkPositive(cls, "gamma", this.gamma);
    checkInteger(cls, "maxIter", this.maxIter, 1);
    checkInteger(cls, "outputIter", this.outputIter, 1);
    checkInteger(cls, "batchSize", this.batchSize, 1);
    checkInteger(cls, "seed", this.seed, 0);
    if (this.nBasis !== undefined) checkInteger(cls, "nBasis", this.nBasis, 1);
    if (this.outputIter > this.maxIter) {
      throw new Error(
        `${cls}: outputIter (${this.outputIter}) must be ≤ maxIter (${this.maxIter})`,
      );
    }
    const allowed = this.allowedBases();
    if (typeof this.basis === "string" && !allowed.includes(this.basis)) {
      throw new Error(
        `${cls}: basis must be ${
          allowed.map((b) => `"${b}"`).join(" or ")
        } or a [K, d] matrix, got "${this.basis}"`,
      );
    }
    if (typeof this.basis !== "string" && !(this.basis && typeof this.basis.length === "number")) {
      throw new Error(`${cls}: basis must be a string or a [K, d] matrix`);
    }
    this.setPreprocessor(options.preprocessor);
  }

  /** The basis names this class accepts. */
  protected allowedBases(): string[] {
    return ["triplet_diffs"];
  }

  /** The basis for weakly supervised triplets: explicit or "triplet_diffs". */
  protected basisFromTriplets(
    fn: string,
    tri: IndexedTriplets,
  ): { basis: Float64Array; K: number } {
    const d = tri.points.d;
    if (typeof this.basis !== "string") return explicitBasis(fn, this.basis, d);
    const K = this.nBasis ?? 80 * d;
    if (this.nBasis === undefined) this.warnings.push(`no nBasis given: using nBasis = ${K}`);
    if (d > tri.m) {
      throw new Error(
        `${fn}: the number of features (${d}) is greater than the number of triplets (${tri.m}); ` +
          `reduce the dimension or use another basis`,
      );
    }
    return { basis: tripletDiffBasis(fn, tri, K, createRng(this.seed)), K };
  }

  /** Stochastic dual averaging on the weights; installs L. */
  protected async solve(
    fn: string,
    tri: IndexedTriplets,
    basis: Float64Array,
    K: number,
  ): Promise<void> {
    const { points: { data: X, n, d }, idx, m } = tri;
    // XB = X Bᵀ: each point's coordinates along the bases, [n, K].
    const XB = new Float64Array(n * K);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += X[i * d + c] * basis[k * d + c];
        XB[i * K + k] = s;
      }
    }
    // Row t of the distance-difference matrix: (xb_a − xb_b)² − (xb_a − xb_c)², [K].
    const diffRow = (t: number, out: Float64Array) => {
      const a = idx[3 * t] * K, b = idx[3 * t + 1] * K, c = idx[3 * t + 2] * K;
      for (let k = 0; k < K; k++) {
        const p = XB[a + k] - XB[b + k], q = XB[a + k] - XB[c + k];
        out[k] = p * p - q * q;
      }
    };
    let w = new Float64Array(K);
    const avgGrad = new Float64Array(K), adaGrad = new Float64Array(K);
    const grad = new Float64Array(K), row = new Float64Array(K);
    const delta = 0.001;
    let bestObj = Infinity;
    let bestW: Float64Array | null = null;
    const rng = createRng(this.seed + 1);
    this.history = [];
    for (let iter = 0; iter < this.maxIter; iter++) {
      grad.fill(0);
      for (let s = 0; s < this.batchSize; s++) {
        diffRow(rng.nextInt(m), row);
        let slack = 1;
        for (let k = 0; k < K; k++) slack += row[k] * w[k];
        if (slack > 0) { for (let k = 0; k < K; k++) grad[k] += row[k]; }
      }
      const next = new Float64Array(K);
      for (let k = 0; k < K; k++) {
        const g = grad[k] / this.batchSize;
        avgGrad[k] = (iter * avgGrad[k] + g) / (iter + 1);
        adaGrad[k] = Math.sqrt(adaGrad[k] ** 2 + g * g);
        const scale = -(iter + 1) / (this.gamma * (delta + adaGrad[k]));
        next[k] = scale * Math.min(avgGrad[k] + this.beta, 0);
      }
      w = next;
      if ((iter + 1) % this.outputIter === 0) {
        let obj = 0;
        for (let k = 0; k < K; k++) obj += w[k];
        obj *= this.beta;
        let loss = 0;
        for (let t = 0; t < m; t++) {
          diffRow(t, row);
          let slack = 1;
          for (let k = 0; k < K; k++) slack += row[k] * w[k];
          if (slack > 0) loss += slack;
        }
        obj += loss / m;
        this.history.push(obj);
        if (obj < bestObj) {
          bestObj = obj;
          bestW = w;
        }
        await yieldNow();
      }
    }
    this.nIter = this.maxIter;
    const wBest = bestW!;
    this.weights = wBest;
    const active = [...wBest.keys()].filter((k) => wBest[k] > 0);
    if (!active.length) {
      throw new Error(
        `${fn}: no basis got a positive weight (the best objective ${bestObj} is that of M = 0); ` +
          `increase maxIter or gamma, or lower beta`,
      );
    }
    if (active.length < d) {
      this.warnings.push(
        `${active.length} bases have a nonzero weight, fewer than the ${d} features: the learned ` +
          `transformation reduces the dimension to ${active.length}`,
      );
      const L = new Float64Array(active.length * d);
      active.forEach((k, r) => {
        const s = Math.sqrt(wBest[k]);
        for (let c = 0; c < d; c++) L[r * d + c] = s * basis[k * d + c];
      });
      this.setComponents(L, active.length, d);
      return;
    }
    const M = new Float64Array(d * d);
    for (const k of active) {
      for (let r = 0; r < d; r++) {
        const f = wBest[k] * basis[k * d + r];
        for (let c = 0; c < d; c++) M[r * d + c] += f * basis[k * d + c];
      }
    }
    this.setComponents(componentsFromMetric(M, d, fn), d, d);
  }
}

/**
 * SCML on triplets, metric-learn's `SCML` (defaults β = 1e-5, γ = 5e-3, `max_iter = 10000`,
 * `output_iter = 500`, `batch_size = 10`, basis `"triplet_diffs"` with K = 80·d). `history`
 * holds the full objective every `outputIter` iterations; L is built from the best of those w:
 * with fewer active bases than features, L = diag(sqrt(w)) B over the active bases (a low-rank
 * metric, with a warning); else L from M = Bᵀ diag(w) B.
 *
 * Difference from metric-learn 0.7, a bug fix: its "triplet_diffs" bases take rows of the
 * eigenvector matrix (`v[mask]`) where its documentation and the paper take the eigenvectors
 * (columns); here the eigenvectors with positive eigenvalue are the bases.
 *
 * @example
 * ```ts
 * import { SCML } from "./scml.ts";
 * const triplets = [
 *   [[1.2, 7.5], [1.3, 1.5], [6.2, 9.7]],
 *   [[1.3, 4.5], [3.2, 4.6], [5.4, 5.4]],
 *   [[3.2, 7.5], [3.3, 1.5], [8.2, 9.7]],
 *   [[3.3, 4.5], [5.2, 4.6], [7.4, 5.4]],
 * ];
 * const scml = await new SCML({ nBasis: 6, maxIter: 1000, outputIter: 100 }).fit(triplets);
 * console.log(scml.history.at(-1)! <= 1); // true: better than w = 0
 * ```
 */
export class SCML extends ScmlBase {
  readonly name: string = "SCML";

  /** Options as {@linkcode ScmlOptions}. */
  constructor(options: ScmlOptions = {}) {
    super(options);
  }

  /**
   * Fits w to triplets: d(t[0], t[1]) should be smaller than d(t[0], t[2]).
   *
   * @param triplets `[n, 3, d]` points, or `[n, 3]` indices into the `preprocessor`
   * @throws Error for a wrong tuple size, NaN/±Infinity, explicit bases of another dimension,
   * "triplet_diffs" with fewer triplets than features, or when no basis gets a positive weight.
   */
  async fit(triplets: TupleInput): Promise<this> {
    const fn = `${this.name}.fit`;
    const t = await this.tuples(fn, "triplets", triplets, 3);
    // De-duplicate the points (metric-learn works on indices into the distinct points).
    const all: Points = { data: t.data, n: 3 * t.n, d: t.d };
    const uniq = uniqueRows(all);
    const key = (data: Float64Array, i: number) =>
      Array.from(data.subarray(i * t.d, (i + 1) * t.d)).join(",");
    const where = new Map<string, number>();
    for (let i = 0; i < uniq.n; i++) where.set(key(uniq.data, i), i);
    const idx = Int32Array.from({ length: 3 * t.n }, (_, i) => where.get(key(t.data, i))!);
    const tri: IndexedTriplets = { points: uniq, idx, m: t.n };
    this.warnings = [];
    const { basis, K } = this.basisFromTriplets(fn, tri);
    await this.solve(fn, tri, basis, K);
    return this;
  }
}

function explicitBasis(
  fn: string,
  rows: ArrayLike<ArrayLike<number>>,
  d: number,
): { basis: Float64Array; K: number } {
  const K = rows.length;
  if (K < 1) throw new Error(`${fn}: the basis is empty`);
  const basis = new Float64Array(K * d);
  for (let k = 0; k < K; k++) {
    if (rows[k]?.length !== d) {
      throw new Error(
        `${fn}: the dimensionality (${
          rows[k]?.length
        }) of the given bases must match that of the data (${d})`,
      );
    }
    for (let c = 0; c < d; c++) {
      basis[k * d + c] = rows[k][c];
      if (!Number.isFinite(basis[k * d + c])) {
        throw new Error(`${fn}: basis row ${k} holds ${basis[k * d + c]}`);
      }
    }
  }
  return { basis, K };
}

/**
 * metric-learn's "triplet_diffs" bases: repeatedly, d triplets are drawn without replacement, the
 * matrix P = Σ (a − b)(a − b)ᵀ − Σ (a − c)(a − c)ᵀ over them is formed, and the eigenvectors of
 * PᵀP with positive eigenvalue are added, until K bases.
 */
function tripletDiffBasis(
  fn: string,
  tri: IndexedTriplets,
  K: number,
  rng: ReturnType<typeof createRng>,
): Float64Array {
  const { points: { data: X, d }, idx, m } = tri;
  const basis = new Float64Array(K * d);
  let filled = 0, idle = 0;
  const P = new Float64Array(d * d), pos = new Float64Array(d), neg = new Float64Array(d);
  while (filled < K) {
    const order = rng.shuffle(Int32Array.from({ length: m }, (_, i) => i)).subarray(0, d);
    P.fill(0);
    for (const t of order) {
      const a = idx[3 * t], b = idx[3 * t + 1], c = idx[3 * t + 2];
      for (let r = 0; r < d; r++) {
        pos[r] = X[a * d + r] - X[b * d + r];
        neg[r] = X[a * d + r] - X[c * d + r];
      }
      for (let r = 0; r < d; r++) {
        for (let s = 0; s < d; s++) P[r * d + s] += pos[r] * pos[s] - neg[r] * neg[s];
      }
    }
    const PtP = new Float64Array(d * d);
    for (let r = 0; r < d; r++) {
      for (let s = 0; s < d; s++) {
        let v = 0;
        for (let q = 0; q < d; q++) v += P[q * d + r] * P[q * d + s];
        PtP[r * d + s] = v;
      }
    }
    const { values, vectors } = symmetricEigen(PtP, d);
    let added = 0;
    for (let e = 0; e < d && filled < K; e++) {
      if (!(values[e] > 0)) continue;
      for (let c = 0; c < d; c++) basis[filled * d + c] = vectors[c * d + e];
      filled++;
      added++;
    }
    idle = added ? 0 : idle + 1;
    if (idle >= 100) {
      throw new Error(`${fn}: the triplets yield no basis (every sampled difference matrix is 0)`);
    }
  }
  return basis;
}

/**
 * Options of {@linkcode SCML_Supervised}.
 *
 * @example
 * ```ts
 * import { SCML_Supervised } from "./scml.ts";
 * const scml = new SCML_Supervised({ kGenuine: 3, kImpostor: 10, basis: "triplet_diffs" });
 * ```
 */
export interface ScmlSupervisedOptions extends Omit<ScmlOptions, "preprocessor"> {
  /** Same-class neighbours per point in the triplets (metric-learn's `k_genuine`, 3). */
  kGenuine?: number;
  /** Other-class neighbours per point in the triplets (metric-learn's `k_impostor`, 10). */
  kImpostor?: number;
}

/**
 * SCML from class labels, metric-learn's `SCML_Supervised`: triplets from every point's
 * `kGenuine` nearest same-class and `kImpostor` nearest other-class points
 * ({@linkcode knnTriplets}), and by default the `"LDA"` bases: k-means (seeded, 10 restarts) cuts
 * the data into ⌈K / (2·e)⌉ regions (e = min(classes − 1, d) directions per LDA); around each
 * region's centre, the nearest points of each class at two scales (10 and 20 per class, or 20
 * and 50 when d > 50) give a local LDA whose unit-normalised discriminant directions are bases.
 * Default K = min(20·d, 2·n·e − 1).
 *
 * @example
 * ```ts
 * import { SCML_Supervised } from "./scml.ts";
 * const x = [[0, 0], [0, 3], [1, 0], [1, 3], [0, 1], [1, 1], [0.1, 2], [0.9, 2]];
 * const scml = await new SCML_Supervised({ kGenuine: 1, kImpostor: 2, nBasis: 4, maxIter: 500, outputIter: 50 })
 *   .fit(x, [0, 0, 1, 1, 0, 1, 0, 1]);
 * console.log(scml.weights.length); // 4
 * ```
 */
export class SCML_Supervised extends ScmlBase implements SupervisedLearner {
  readonly name: string = "SCML_Supervised";
  private readonly kGenuine: number;
  private readonly kImpostor: number;

  constructor(options: ScmlSupervisedOptions = {}) {
    super(
      options,
      [...SCML_KEYS.filter((k) => k !== "preprocessor"), "kGenuine", "kImpostor"],
      "LDA",
    );
    this.kGenuine = options.kGenuine ?? 3;
    this.kImpostor = options.kImpostor ?? 10;
    checkInteger("SCML_Supervised", "kGenuine", this.kGenuine, 1);
    checkInteger("SCML_Supervised", "kImpostor", this.kImpostor, 1);
  }

  protected override allowedBases(): string[] {
    return ["triplet_diffs", "LDA", "lda"];
  }

  /**
   * Builds the triplets (and the LDA bases) from the labels and fits SCML.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param y `[n]` class labels, at least 2 classes
   * @throws Error as {@linkcode SCML.fit}, for a single class, and with `"LDA"` bases when nBasis
   * ≥ 2·n·e (not enough samples).
   */
  async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "SCML_Supervised.fit";
    const points = await readPoints(fn, "x", x, 2);
    const labels = await readLabels(fn, y, points.n);
    requireTwoClasses(fn, labels);
    this.warnings = [];
    let basis: Float64Array | null = null, K = 0;
    if (this.basis === "LDA" || this.basis === "lda") {
      ({ basis, K } = this.ldaBasis(fn, points, labels));
    }
    const { triplets, warnings } = knnTriplets(
      points.data,
      points.d,
      labels,
      this.kGenuine,
      this.kImpostor,
    );
    this.warnings.push(...warnings);
    const tri: IndexedTriplets = { points, idx: triplets, m: triplets.length / 3 };
    if (!basis) ({ basis, K } = this.basisFromTriplets(fn, tri));
    await this.solve(fn, tri, basis, K);
    return this;
  }

  private ldaBasis(
    fn: string,
    points: Points,
    labels: number[],
  ): { basis: Float64Array; K: number } {
    const { data: X, n, d } = points;
    const counts = new Map<number, number>();
    for (const v of labels) counts.set(v, (counts.get(v) ?? 0) + 1);
    const classes = [...counts.keys()].sort((a, b) => a - b);
    const nClass = classes.length;
    const numEig = Math.min(nClass - 1, d);
    let K: number;
    if (this.nBasis === undefined) {
      K = Math.min(20 * d, n * 2 * numEig - 1);
      this.warnings.push(`no nBasis given: using nBasis = ${K}`);
    } else K = this.nBasis;
    if (K < nClass) {
      this.warnings.push(
        "the number of bases is less than the number of classes, which may lead to poor discriminative performance",
      );
    } else if (K >= n * 2 * numEig) {
      throw new Error(
        `${fn}: not enough samples to generate ${K} LDA bases; nBasis must be smaller than ${
          n * 2 * numEig
        }`,
      );
    }
    const nClusters = Math.ceil(K / (2 * numEig));
    if (nClusters > n) {
      throw new Error(`${fn}: ${nClusters} k-means regions need at least as many samples (${n})`);
    }
    const km = kMeans({ data: Float32Array.from(X), n, d }, nClusters, {
      nInit: 10,
      seed: this.seed,
    });
    const centres = Float64Array.from(km.centroids);
    const scales = d > 50 ? [20, 50] : [10, 20];
    // For every centre and class, that class's points nearest to the centre (largest scale).
    const byClass = classes.map((c) => labels.flatMap((v, i) => (v === c ? [i] : [])));
    const neighbours: number[][][] = []; // [cluster][class] → nearest indices
    for (let g = 0; g < nClusters; g++) {
      const centre = centres.subarray(g * d, (g + 1) * d);
      neighbours.push(byClass.map((members) => {
        const kk = Math.min(members.length, scales[1]);
        return members
          .map((i) => {
            let s = 0;
            for (let c = 0; c < d; c++) s += (X[i * d + c] - centre[c]) ** 2;
            return [s, i] as [number, number];
          })
          .sort((p, q) => p[0] - q[0] || p[1] - q[1])
          .slice(0, kk)
          .map((p) => p[1]);
      }));
    }
    const basis = new Float64Array(K * d);
    let start = 0;
    outer: for (let s = 0; s < 2; s++) {
      for (let g = 0; g < nClusters; g++) {
        const idx: number[] = [];
        byClass.forEach((members, c) => {
          idx.push(...neighbours[g][c].slice(0, Math.min(members.length, scales[s])));
        });
        const sub = new Float64Array(idx.length * d);
        idx.forEach((i, r) => sub.set(X.subarray(i * d, (i + 1) * d), r * d));
        const { scalings, rank } = ldaScalings(sub, idx.length, d, idx.map((i) => labels[i]));
        for (let e = 0; e < rank; e++) {
          if (start >= K) break outer;
          let norm = 0;
          for (let c = 0; c < d; c++) norm += scalings[c * rank + e] ** 2;
          norm = Math.sqrt(norm) || 1;
          for (let c = 0; c < d; c++) basis[start * d + c] = scalings[c * rank + e] / norm;
          start++;
        }
        // metric-learn places each LDA's e directions in a fixed slot of e rows.
        start = Math.min(K, s * nClusters * numEig + (g + 1) * numEig);
      }
    }
    return { basis, K };
  }
}
