/**
 * The histogram of PML's `UniformHistogramMiner` (private; exported for tests).
 *
 * @module
 */
import { f32 } from "./_common.ts";

/**
 * `numBins + 1` equally spaced edges from the smallest to the largest value, in float32 as
 * `torch.linspace(min, max, numBins + 1)` computes them (the first half counted up from `min`,
 * the second down from `max`, so both ends are exact).
 *
 * @param values at least one value
 */
export function histogramEdges(values: ArrayLike<number>, numBins: number): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  const steps = numBins + 1;
  const step = f32(f32(hi - lo) / numBins);
  const halfway = Math.floor(steps / 2);
  const edges = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    edges[i] = i < halfway ? f32(lo + f32(step * i)) : f32(hi - f32(step * (steps - 1 - i)));
  }
  return edges;
}

/**
 * The members of each bin, as PML's `filter_by_bin` forms them: bin `i` holds the positions `t`
 * with `edges[i] ≤ values[t] < edges[i + 1]` (`≤` for the last bin), in position order.
 */
export function histogramBins(values: ArrayLike<number>, edges: Float32Array): number[][] {
  const last = edges.length - 2;
  const bins: number[][] = [];
  for (let i = 0; i <= last; i++) {
    const s = edges[i], e = edges[i + 1];
    const members: number[] = [];
    for (let t = 0; t < values.length; t++) {
      const v = values[t];
      if (s <= v && (i === last ? v <= e : v < e)) members.push(t);
    }
    bins.push(members);
  }
  return bins;
}
