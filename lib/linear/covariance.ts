/**
 * The covariance baseline (metric-learn's `Covariance`): the Mahalanobis distance of the data's
 * own covariance, M = Σ⁻¹ (the pseudo-inverse when Σ is singular). Unsupervised: labels are not
 * used. Classical statistics (Mahalanobis, 1936), the reference point for the learned metrics.
 *
 * @module
 */
import { checkOptionKeys } from "../validate.ts";
import { MahalanobisBase, type SupervisedLearner } from "./base.ts";
import { type LabelInput, type MatrixInput, readPoints } from "./_internal.ts";
import { componentsFromMetric, covariance, pinvh } from "./_linalg.ts";

/**
 * Covariance. `fit(x)` computes Σ = cov(x) (rows are samples, divided by n − 1 as numpy's `cov`),
 * M = pinvh(Σ) (1/σ² when d = 1), and L from M as metric-learn's `components_from_metric` (the
 * transposed Cholesky factor when M is positive definite).
 *
 * @example
 * ```ts
 * import { Covariance } from "./covariance.ts";
 * const cov = await new Covariance().fit([[0, 0], [2, 0], [0, 1], [2, 1]]);
 * cov.getMahalanobisMatrix().print(); // [[0.75, 0], [0, 3]]
 * ```
 */
export class Covariance extends MahalanobisBase implements SupervisedLearner {
  readonly name = "Covariance";

  /** Covariance takes no option; the argument exists for symmetry with the other learners. */
  constructor(options: Record<string, never> = {}) {
    super();
    checkOptionKeys("Covariance", options, []);
  }

  /**
   * Fits M = cov(x)⁻¹.
   *
   * @param x `[n, d]`, n ≥ 2
   * @param _y ignored (metric-learn's `fit(X, y=None)`)
   * @throws Error for fewer than 2 samples, NaN/±Infinity in x, or zero variance in every
   * direction (M would be 0).
   */
  async fit(x: MatrixInput, _y?: LabelInput): Promise<this> {
    const fn = "Covariance.fit";
    const { data, n, d } = await readPoints(fn, "x", x, 2);
    const S = covariance(data, n, d);
    if (S.every((v) => v === 0)) {
      throw new Error(`${fn}: every sample is identical; the covariance is 0`);
    }
    const M = d === 1 ? Float64Array.of(1 / S[0]) : pinvh(S, d);
    this.history = [];
    this.warnings = [];
    this.setComponents(componentsFromMetric(M, d, fn), d, d);
    return this;
  }
}
