/**
 * Relevant Components Analysis (Shental, Hertz, Weinshall and Pavel, "Adjustment Learning and
 * Relevant Component Analysis", ECCV 2002): from "chunklets" — small groups of points known to
 * share a class — the within-chunklet covariance C estimates the irrelevant variability, and
 * M = C⁻¹ shrinks it: L = C^(−1/2). With fewer output components, a Fisher-like projection onto the
 * directions of least within-chunklet relative to total variance comes first.
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import { MahalanobisBase, type SupervisedLearner } from "./base.ts";
import {
  checkInteger,
  checkNComponents,
  type LabelInput,
  type MatrixInput,
  readLabels,
  readPoints,
} from "./_internal.ts";
import { covariance, generalizedEigen, symmetricEigen, symmetricRank } from "./_linalg.ts";
import { chunks as makeChunks } from "./constraints.ts";

/**
 * Options of {@linkcode RCA}.
 *
 * @example
 * ```ts
 * import { RCA } from "./rca.ts";
 * const rca = new RCA({ nComponents: 2 });
 * ```
 */
export interface RcaOptions {
  /** Output dimension (metric-learn's `n_components`; default d). */
  nComponents?: number;
}

/** C^(−1/2) of a symmetric positive definite `[d, d]` matrix, or null when not definite. */
function invSqrtm(C: Float64Array, d: number): Float64Array | null {
  const { values, vectors } = symmetricEigen(C, d);
  if (!(values[0] > 0)) return null;
  const out = new Float64Array(d * d);
  for (let e = 0; e < d; e++) {
    const w = 1 / Math.sqrt(values[e]);
    for (let r = 0; r < d; r++) {
      for (let c = 0; c < d; c++) out[r * d + c] += vectors[r * d + e] * w * vectors[c * d + e];
    }
  }
  return out;
}

/**
 * RCA on chunklets, metric-learn's `RCA`. `fit(x, chunks)`: `chunks[i] = j` puts point i in
 * chunklet j, −1 in none. Each chunklet is centred on its mean; C is the covariance of the centred
 * points (divided by their number). With nComponents = d (default), L = C^(−1/2) (symmetric);
 * with k < d, A holds the k generalized eigenvectors of C v = λ Σ v with the smallest λ (Σ the
 * covariance of the chunklet points, divided by n − 1) and L = (Aᵀ C A)^(−1/2) Aᵀ.
 *
 * metric-learn warns and returns NaN entries when C is singular; here that is an Error.
 *
 * @example
 * ```ts
 * import { RCA } from "./rca.ts";
 * const x = [[-0.05, 3], [0.05, -3], [0.1, -3.55], [-0.1, 3.55], [-0.95, -0.05], [0.95, 0.05], [0.4, 0.05], [-0.4, -0.05]];
 * const rca = await new RCA().fit(x, [0, 0, 1, 1, 2, 2, 3, 3]);
 * rca.getMahalanobisMatrix().print();
 * ```
 */
export class RCA extends MahalanobisBase {
  readonly name: string = "RCA";
  protected readonly nComponents?: number;

  constructor(options: RcaOptions = {}) {
    super();
    checkOptionKeys(new.target.name, options, this.optionKeys());
    this.nComponents = options.nComponents;
    if (this.nComponents !== undefined) {
      checkInteger(new.target.name, "nComponents", this.nComponents, 1);
    }
  }

  /** The option keys the constructor accepts. */
  protected optionKeys(): string[] {
    return ["nComponents"];
  }

  /**
   * Fits L to chunklets.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param chunkLabels `[n]` integer chunklet index per point, −1 for none
   * @throws Error for fewer than 2 samples, NaN/±Infinity, chunk indices that are not integers
   * ≥ −1, no chunklet of 2 or more points, nComponents outside [1, d], or a singular
   * within-chunklet covariance (too few chunklet points for d, or collinear features).
   */
  async fit(x: MatrixInput, chunkLabels: LabelInput): Promise<this> {
    const fn = `${this.name}.fit`;
    const { data: X, n, d } = await readPoints(fn, "x", x, 2);
    const chunks = await readLabels(fn, chunkLabels, n, "chunks");
    const bad = chunks.findIndex((c) => !Number.isInteger(c) || c < -1);
    if (bad >= 0) {
      throw new Error(`${fn}: chunks[${bad}] is ${chunks[bad]}; use integers ≥ 0, or −1 for none`);
    }
    const dim = checkNComponents(fn, this.nComponents, d);
    const members = new Map<number, number[]>();
    chunks.forEach((c, i) => c >= 0 && members.set(c, [...(members.get(c) ?? []), i]));
    if (![...members.values()].some((m) => m.length >= 2)) {
      throw new Error(`${fn}: needs at least one chunklet of 2 or more points`);
    }
    const rows = chunks.flatMap((c, i) => (c >= 0 ? [i] : []));
    const m = rows.length;
    const centred = new Float64Array(m * d);
    let r = 0;
    for (const [, idx] of [...members.entries()].sort((p, q) => p[0] - q[0])) {
      const mean = new Float64Array(d);
      for (const i of idx) for (let c = 0; c < d; c++) mean[c] += X[i * d + c] / idx.length;
      for (const i of idx) {
        for (let c = 0; c < d; c++) centred[r * d + c] = X[i * d + c] - mean[c];
        r++;
      }
    }
    // Covariance of the centred points about their (zero) mean, divided by their number.
    const inner = covariance(centred, m, d, 0);
    const rank = symmetricRank(inner, d);
    const singular = () =>
      new Error(
        `${fn}: the within-chunklet covariance is singular (rank ${rank} < ${d} features); ` +
          `use more or larger chunklets, or remove collinear features (e.g. PCA first)`,
      );
    let L: Float64Array;
    if (dim < d) {
      const total = covariance(
        Float64Array.from(rows.flatMap((i) => Array.from(X.subarray(i * d, (i + 1) * d)))),
        m,
        d,
        1,
      );
      const eig = generalizedEigen(inner, total, d);
      if (!eig) {
        throw new Error(`${fn}: the covariance of the chunklet points is singular; reduce d first`);
      }
      const A = new Float64Array(d * dim); // columns: the dim smallest eigenvalues
      for (let c = 0; c < dim; c++) {
        for (let i = 0; i < d; i++) A[i * dim + c] = eig.vectors[i * d + c];
      }
      const AtCA = new Float64Array(dim * dim);
      for (let p = 0; p < dim; p++) {
        for (let q = 0; q < dim; q++) {
          let s = 0;
          for (let i = 0; i < d; i++) {
            let t = 0;
            for (let j = 0; j < d; j++) t += inner[i * d + j] * A[j * dim + q];
            s += A[i * dim + p] * t;
          }
          AtCA[p * dim + q] = s;
        }
      }
      const W = invSqrtm(AtCA, dim);
      if (!W) throw singular();
      L = new Float64Array(dim * d);
      for (let p = 0; p < dim; p++) {
        for (let i = 0; i < d; i++) {
          let s = 0;
          for (let q = 0; q < dim; q++) s += W[p * dim + q] * A[i * dim + q];
          L[p * d + i] = s;
        }
      }
    } else {
      if (rank < d) throw singular();
      const W = invSqrtm(inner, d);
      if (!W) throw singular();
      L = W;
    }
    this.history = [];
    this.warnings = [];
    this.nIter = 0;
    this.setComponents(L, dim, d);
    return this;
  }
}

/**
 * Options of {@linkcode RCA_Supervised}.
 *
 * @example
 * ```ts
 * import { RCA_Supervised } from "./rca.ts";
 * const rca = new RCA_Supervised({ nChunks: 30, chunkSize: 2, seed: 1 });
 * ```
 */
export interface RcaSupervisedOptions extends RcaOptions {
  /** Chunklets to draw (metric-learn's `n_chunks`, default 100). */
  nChunks?: number;
  /** Points per chunklet (metric-learn's `chunk_size`, default 2; at least 2). */
  chunkSize?: number;
  /** Seed of the chunklet draw (default 0). */
  seed?: number;
}

/**
 * RCA from class labels, metric-learn's `RCA_Supervised`: draws `nChunks` chunklets of
 * `chunkSize` same-class points ({@linkcode makeChunks | chunks}), then fits {@linkcode RCA}.
 *
 * @example
 * ```ts
 * import { RCA_Supervised } from "./rca.ts";
 * const x = [[0, 0], [0.1, 1], [0.2, 0.5], [3, 0], [3.1, 1], [2.9, 0.4]];
 * const rca = await new RCA_Supervised({ nChunks: 2, chunkSize: 3 }).fit(x, [0, 0, 0, 1, 1, 1]);
 * console.log(rca.components.shape); // [2, 2]
 * ```
 */
export class RCA_Supervised extends RCA implements SupervisedLearner {
  override readonly name: string = "RCA_Supervised";
  private readonly nChunks: number;
  private readonly chunkSize: number;
  private readonly seed: number;

  constructor(options: RcaSupervisedOptions = {}) {
    super(options);
    this.nChunks = options.nChunks ?? 100;
    this.chunkSize = options.chunkSize ?? 2;
    this.seed = options.seed ?? 0;
    checkInteger("RCA_Supervised", "nChunks", this.nChunks, 1);
    checkInteger("RCA_Supervised", "chunkSize", this.chunkSize, 2);
    checkInteger("RCA_Supervised", "seed", this.seed, 0);
  }

  protected override optionKeys(): string[] {
    return ["nComponents", "nChunks", "chunkSize", "seed"];
  }

  /**
   * Draws chunklets from the labels and fits RCA.
   *
   * @param x `[n, d]`
   * @param y `[n]` class labels (negative: unlabelled)
   * @throws Error as {@linkcode RCA.fit}, and when the classes cannot supply `nChunks` chunklets
   * of `chunkSize` points.
   */
  override async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "RCA_Supervised.fit";
    const points = await readPoints(fn, "x", x, 2);
    const labels = await readLabels(fn, y, points.n);
    let chunkIds: Int32Array;
    try {
      chunkIds = makeChunks(labels, {
        nChunks: this.nChunks,
        chunkSize: this.chunkSize,
        seed: this.seed,
      });
    } catch (e) {
      throw new Error(`${fn}: ${(e as Error).message}`);
    }
    const rows = Array.from(
      { length: points.n },
      (_, i) => Array.from(points.data.subarray(i * points.d, (i + 1) * points.d)),
    );
    await super.fit(rows, chunkIds);
    if (this.nChunks * (this.chunkSize - 1) < points.d) {
      this.warnings.push(
        `nChunks·(chunkSize − 1) = ${this.nChunks * (this.chunkSize - 1)} < ${points.d} features`,
      );
    }
    return this;
  }
}
