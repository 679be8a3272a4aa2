/**
 * The negative-sampling weights of PML's `DistanceWeightedMiner` (private; exported for tests).
 *
 * @module
 */
import { f32, type MinerBatch } from "./_common.ts";

/**
 * PML's `DistanceWeightedMiner` weights `[n, m]`, row-normalised, computed in float32 as PyTorch
 * computes them: with `D = max(d(i, j), cutoff)` and dimension `k`,
 *
 * ```text
 * log w = (2 − k) log D − ((k − 3) / 2) log(1 − D² / 4)
 * w = exp(log w · mask − M) · mask · [D < nonzeroLossCutoff],  then  w / Σ_row w
 * ```
 *
 * where `mask` is 0 on same-label pairs and `M` is the largest finite entry of `log w · mask`
 * (the zeros of the masked same-label entries included, as in PML). Entries whose `log w` is
 * ±∞ or NaN get weight 0; a row whose weights are all 0 becomes NaN (0/0), as in PML, and is
 * then never sampled.
 *
 * @returns the weights, or `undefined` when no entry of `log w` is finite (PML then fails).
 */
export function distanceWeights(
  b: MinerBatch,
  cutoff: number,
  nonzeroLossCutoff: number,
): Float32Array | undefined {
  const { n, m, d, y, yRef, mat } = b;
  const c32 = f32(cutoff), nz32 = f32(nonzeroLossCutoff);
  const c1 = f32(2 - d), c2 = f32((d - 3) / 2);
  const logW = new Float32Array(n * m);
  const bad = new Uint8Array(n * m);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const k = i * m + j;
      const dist = Math.max(mat[k], c32);
      const lw = f32(
        f32(c1 * f32(Math.log(dist))) -
          f32(c2 * f32(Math.log(f32(1 - f32(0.25 * f32(dist * dist)))))),
      );
      if (!Number.isFinite(lw)) {
        bad[k] = 1;
        continue;
      }
      const masked = y[i] === yRef[j] ? 0 : lw;
      logW[k] = masked;
      if (masked > max) max = masked;
    }
  }
  if (max === -Infinity) return undefined;
  const w = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < m; j++) {
      const k = i * m + j;
      const keep = !bad[k] && y[i] !== yRef[j] && Math.max(mat[k], c32) < nz32;
      w[k] = keep ? f32(Math.exp(f32(logW[k] - max))) : 0;
      sum += w[k];
    }
    const s = f32(sum);
    for (let j = 0; j < m; j++) w[i * m + j] = f32(w[i * m + j] / s);
  }
  return w;
}
