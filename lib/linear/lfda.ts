/**
 * Local Fisher Discriminant Analysis (Sugiyama, "Dimensionality Reduction of Multimodal Labeled
 * Data by Local Fisher Discriminant Analysis", JMLR 2007): Fisher's discriminant with pairwise
 * weights from a local-scaling affinity A_ij = exp(−‖x_i − x_j‖² / (σ_i σ_j)) (σ_i the distance
 * from x_i to its k-th nearest neighbour of the same class), so that a class made of several
 * separate clusters is not forced into one. Closed form: the leading solutions of the generalized
 * eigenproblem S_b v = λ S_w v of the local between- and within-class scatters.
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
  requireTwoClasses,
} from "./_internal.ts";
import { eigenTolerance, generalizedEigen, orthonormalColumns } from "./_linalg.ts";

/**
 * How LFDA scales its eigenvectors into L (metric-learn's `embedding_type`).
 *
 * @example
 * ```ts
 * import type { LfdaEmbedding } from "./lfda.ts";
 * const e: LfdaEmbedding = "orthonormalized";
 * ```
 */
export type LfdaEmbedding = "weighted" | "orthonormalized" | "plain";

/**
 * Options of {@linkcode LFDA}.
 *
 * @example
 * ```ts
 * import { LFDA } from "./lfda.ts";
 * const lfda = new LFDA({ nComponents: 2, k: 5, embeddingType: "plain" });
 * ```
 */
export interface LfdaOptions {
  /** Output dimension (metric-learn's `n_components`; default d). */
  nComponents?: number;
  /**
   * Neighbour of the local scaling σ_i (metric-learn's `k`; default min(7, d − 1); a k ≥ d is
   * replaced by d − 1 with a warning, as metric-learn does). Within a class of n_c points,
   * min(k, n_c − 1) is used.
   */
  k?: number;
  /**
   * `"weighted"` (default): eigenvectors scaled by sqrt(λ); `"orthonormalized"`: an orthonormal
   * basis of their span (QR); `"plain"`: the S_w-orthonormal eigenvectors as they are.
   */
  embeddingType?: LfdaEmbedding;
}

/** Σ_rows x, outer product with itself: s sᵀ. */
function sumOuter(x: Float64Array, rows: number[], d: number): Float64Array {
  const s = new Float64Array(d);
  for (const i of rows) for (let c = 0; c < d; c++) s[c] += x[i * d + c];
  const out = new Float64Array(d * d);
  for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) out[r * d + c] = s[r] * s[c];
  return out;
}

/**
 * LFDA, metric-learn's `LFDA` (defaults `n_components = d`, `k = min(7, d − 1)`,
 * `embedding_type = "weighted"`). L's rows are the eigenvectors of the nComponents largest
 * eigenvalues, each made unique in sign (largest entry positive).
 *
 * Difference from metric-learn 0.7, a bug fix: its local scaling reads σ from column k of the
 * column-partitioned distance matrix (`np.partition(dist, k, axis=0)[:, k]`), which is the k-th
 * row's partial order, not each point's k-th neighbour distance; here σ_i is the distance from x_i
 * to its k-th nearest same-class neighbour, as in the paper.
 *
 * @example
 * ```ts
 * import { LFDA } from "./lfda.ts";
 * const x = [[0, 0], [0, 1], [5, 0], [5, 1.5], [0.2, 2], [5.1, 2]];
 * const lfda = await new LFDA({ k: 1 }).fit(x, [0, 0, 1, 1, 0, 1]);
 * console.log(lfda.components.shape); // [2, 2]
 * ```
 */
export class LFDA extends MahalanobisBase implements SupervisedLearner {
  readonly name = "LFDA";
  private readonly nComponents?: number;
  private readonly k?: number;
  private readonly embeddingType: LfdaEmbedding;

  constructor(options: LfdaOptions = {}) {
    super();
    checkOptionKeys("LFDA", options, ["nComponents", "k", "embeddingType"]);
    this.nComponents = options.nComponents;
    this.k = options.k;
    this.embeddingType = options.embeddingType ?? "weighted";
    if (!["weighted", "orthonormalized", "plain"].includes(this.embeddingType)) {
      throw new Error(
        `LFDA: invalid embeddingType "${this.embeddingType}"; use "weighted", "orthonormalized" or "plain"`,
      );
    }
    if (this.k !== undefined) checkInteger("LFDA", "k", this.k, 1);
    if (this.nComponents !== undefined) checkInteger("LFDA", "nComponents", this.nComponents, 1);
  }

  /**
   * Fits L to labelled points.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param y `[n]` class labels, at least 2 classes
   * @throws Error for fewer than 2 samples or classes, NaN/±Infinity, nComponents outside [1, d],
   * a singular local within-class scatter (too few samples for d, or collinear features), or a
   * negative eigenvalue among the kept ones with `"weighted"` (sqrt(λ) undefined).
   */
  async fit(x: MatrixInput, y: LabelInput): Promise<this> {
    const fn = "LFDA.fit";
    const { data: X, n, d } = await readPoints(fn, "x", x, 2);
    const labels = await readLabels(fn, y, n);
    requireTwoClasses(fn, labels);
    const dim = checkNComponents(fn, this.nComponents, d);
    this.warnings = [];
    let k: number;
    if (this.k === undefined) k = Math.min(7, d - 1);
    else if (this.k >= d) {
      k = d - 1;
      this.warnings.push(`chosen k (${this.k}) too large, using ${k} instead`);
    } else k = this.k;
    const tSb = new Float64Array(d * d), tSw = new Float64Array(d * d);
    const classes = [...new Set(labels)].sort((a, b) => a - b);
    for (const label of classes) {
      const rows = labels.flatMap((v, i) => (v === label ? [i] : []));
      const nc = rows.length;
      const dist = new Float64Array(nc * nc);
      for (let i = 0; i < nc; i++) {
        for (let j = i + 1; j < nc; j++) {
          let s = 0;
          for (let c = 0; c < d; c++) s += (X[rows[i] * d + c] - X[rows[j] * d + c]) ** 2;
          dist[i * nc + j] = dist[j * nc + i] = s;
        }
      }
      const kc = Math.min(k, nc - 1);
      const sigma = Float64Array.from({ length: nc }, (_, i) => {
        const row = Array.from(dist.subarray(i * nc, (i + 1) * nc)).sort((p, q) => p - q);
        return Math.sqrt(row[kc]);
      });
      const A = new Float64Array(nc * nc);
      for (let i = 0; i < nc; i++) {
        for (let j = 0; j < nc; j++) {
          const scale = sigma[i] * sigma[j];
          A[i * nc + j] = scale === 0 ? 0 : Math.exp(-dist[i * nc + j] / scale);
        }
      }
      // G = Xcᵀ diag(colsum A) Xc − Xcᵀ A Xc = ½ Σ_ij A_ij (x_i − x_j)(x_i − x_j)ᵀ
      const G = new Float64Array(d * d), gram = new Float64Array(d * d);
      const colSum = new Float64Array(nc);
      for (let i = 0; i < nc; i++) for (let j = 0; j < nc; j++) colSum[j] += A[i * nc + j];
      const AX = new Float64Array(nc * d);
      for (let i = 0; i < nc; i++) {
        for (let j = 0; j < nc; j++) {
          const a = A[i * nc + j];
          if (a === 0) continue;
          for (let c = 0; c < d; c++) AX[i * d + c] += a * X[rows[j] * d + c];
        }
      }
      for (let i = 0; i < nc; i++) {
        const xi = rows[i] * d;
        for (let r = 0; r < d; r++) {
          const v = X[xi + r];
          for (let c = 0; c < d; c++) {
            G[r * d + c] += colSum[i] * v * X[xi + c] - v * AX[i * d + c];
            gram[r * d + c] += v * X[xi + c];
          }
        }
      }
      const outer = sumOuter(X, rows, d);
      for (let i = 0; i < d * d; i++) {
        tSb[i] += G[i] / n + (1 - nc / n) * gram[i] + outer[i] / n;
        tSw[i] += G[i] / nc;
      }
    }
    const all = Array.from({ length: n }, (_, i) => i);
    const outerAll = sumOuter(X, all, d);
    for (let i = 0; i < d * d; i++) tSb[i] -= outerAll[i] / n - tSw[i];
    const eig = generalizedEigen(tSb, tSw, d);
    if (!eig) {
      throw new Error(
        `${fn}: the local within-class scatter is singular (${n} samples, ${d} features); ` +
          `remove collinear features or reduce the dimension first (e.g. PCA)`,
      );
    }
    const { values, vectors } = eig;
    const tol = eigenTolerance(values);
    const L = new Float64Array(dim * d);
    for (let r = 0; r < dim; r++) {
      const e = d - 1 - r; // descending
      let big = 0;
      for (let c = 0; c < d; c++) {
        if (Math.abs(vectors[c * d + e]) > Math.abs(vectors[big * d + e])) big = c;
      }
      const sign = vectors[big * d + e] < 0 ? -1 : 1;
      let scale = sign;
      if (this.embeddingType === "weighted") {
        if (values[e] < -tol) {
          throw new Error(
            `${fn}: eigenvalue ${r + 1} is negative (${values[e]}), so the "weighted" embedding ` +
              `(sqrt(λ)) is undefined; use embeddingType "plain" or "orthonormalized", or fewer nComponents`,
          );
        }
        scale *= Math.sqrt(Math.max(0, values[e]));
      }
      for (let c = 0; c < d; c++) L[r * d + c] = scale * vectors[c * d + e];
    }
    if (this.embeddingType === "orthonormalized") {
      // QR of the [d, dim] matrix of eigenvectors; L = Qᵀ.
      const V = new Float64Array(d * dim);
      for (let r = 0; r < dim; r++) for (let c = 0; c < d; c++) V[c * dim + r] = L[r * d + c];
      const Q = orthonormalColumns(V, d, dim);
      for (let r = 0; r < dim; r++) for (let c = 0; c < d; c++) L[r * d + c] = Q[c * dim + r];
    }
    this.history = [];
    this.nIter = 0;
    this.setComponents(L, dim, d);
    return this;
  }
}
