/**
 * Statistics of the benchmark: the mean over seeds and a 95% confidence interval from Student's
 * t distribution with n − 1 degrees of freedom,
 *
 *   mean ± t_{0.975, n−1} · s / √n,   s the sample standard deviation (divisor n − 1).
 *
 * The quantiles t_{0.975, ν} for ν = 1…30 are tabulated ({@linkcode T_975}, from SciPy's
 * `scipy.stats.t.ppf(0.975, ν)`, 9 decimals); beyond 30 a Cornish–Fisher expansion around the
 * normal quantile is used (error below 1e-6 for ν > 30).
 *
 * @module
 */

/**
 * t_{0.975, ν} for ν = 1…30 (index ν − 1): the two-sided 95% quantiles of Student's t.
 *
 * | ν | t | ν | t | ν | t |
 * |---|---|---|---|---|---|
 * | 1 | 12.706205 | 2 | 4.302653 | 3 | 3.182446 |
 * | 4 | 2.776445 | 5 | 2.570582 | 6 | 2.446912 |
 * | 7 | 2.364624 | 8 | 2.306004 | 9 | 2.262157 |
 * | 10 | 2.228139 | 20 | 2.085963 | 30 | 2.042272 |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { T_975 } from "./stats.ts";
 * assert.equal(T_975[2 - 1], 4.30265273); // 3 seeds: ν = 2
 * ```
 */
export const T_975: readonly number[] = Object.freeze([
  12.706204736,
  4.30265273,
  3.182446305,
  2.776445105,
  2.570581837,
  2.446911849,
  2.364624251,
  2.306004135,
  2.262157163,
  2.228138852,
  2.20098516,
  2.17881283,
  2.160368656,
  2.144786688,
  2.131449546,
  2.119905299,
  2.109815578,
  2.10092204,
  2.093024054,
  2.085963447,
  2.079613845,
  2.073873068,
  2.06865761,
  2.063898562,
  2.059538553,
  2.055529439,
  2.051830516,
  2.048407142,
  2.045229642,
  2.042272456,
]);

/** z_{0.975}, the standard normal quantile. */
const Z_975 = 1.959963984540054;

/**
 * The 0.975 quantile of Student's t with `dof` degrees of freedom: the table for 1…30, a
 * Cornish–Fisher expansion beyond, the normal quantile for `Infinity`.
 *
 * @throws Error when `dof` is not a positive integer (or `Infinity`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tQuantile975 } from "./stats.ts";
 * assert.equal(tQuantile975(2), 4.30265273);
 * assert.ok(Math.abs(tQuantile975(120) - 1.97993) < 1e-5);
 * ```
 */
export function tQuantile975(dof: number): number {
  if (dof === Infinity) return Z_975;
  if (!Number.isInteger(dof) || dof < 1) {
    throw new Error(`tQuantile975: degrees of freedom must be a positive integer, got ${dof}`);
  }
  if (dof <= T_975.length) return T_975[dof - 1];
  const z = Z_975, v = dof;
  const z3 = z ** 3, z5 = z ** 5, z7 = z ** 7, z9 = z ** 9;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v ** 3) +
    (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * v ** 4);
}

/**
 * A mean over seeds with its 95% confidence half-width (`null` when there are fewer than two
 * values: one seed gives no interval).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const s: MeanCi = { mean: 0.6, ci95: 0.248, n: 3, sd: 0.1 };
 * assert.ok(Math.abs(s.ci95! - tQuantile975(s.n - 1) * s.sd! / Math.sqrt(s.n)) < 1e-3);
 * ```
 */
export interface MeanCi {
  /** Arithmetic mean. */
  mean: number;
  /** Half-width t_{0.975, n−1} · s / √n; `null` for n < 2. */
  ci95: number | null;
  /** Number of values. */
  n: number;
  /** Sample standard deviation (divisor n − 1); `null` for n < 2. */
  sd: number | null;
}

/**
 * Mean and Student-t 95% confidence half-width of `values` (one value per seed).
 *
 * @throws Error on an empty list or a non-finite value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanCi95 } from "./stats.ts";
 * // { mean: 0.6, ci95: 0.2484…, n: 3, sd: 0.1 }
 * const { mean, ci95, n, sd } = meanCi95([0.5, 0.6, 0.7]);
 * assert.equal(n, 3);
 * assert.ok(Math.abs(mean - 0.6) < 1e-12 && Math.abs(sd! - 0.1) < 1e-12);
 * assert.ok(Math.abs(ci95! - 0.248414) < 1e-6);
 * ```
 */
export function meanCi95(values: readonly number[]): MeanCi {
  const n = values.length;
  if (n === 0) throw new Error("meanCi95: no values");
  for (const v of values) {
    if (!Number.isFinite(v)) throw new Error(`meanCi95: non-finite value ${v}`);
  }
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, ci95: null, n, sd: null };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, ci95: tQuantile975(n - 1) * sd / Math.sqrt(n), n, sd };
}
