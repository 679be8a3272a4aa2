/**
 * The per-anchor selection of PML's `BatchEasyHardMiner` (private; `batchEasyHardMiner` and
 * `batchHardMiner` use it).
 *
 * @module
 */
import type { PairIndices } from "../losses/mod.ts";
import { allPairs, f32, type MinerBatch, pairsOf } from "./_common.ts";

/**
 * How `batchEasyHardMiner` chooses each anchor's positive or negative: `"easy"`, `"semihard"`,
 * `"hard"` or `"all"` (PML's `BatchEasyHardMiner.EASY`, `.SEMIHARD`, `.HARD`, `.ALL`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MiningStrategy } from "./_easy_hard.ts";
 * const s: MiningStrategy = "semihard";
 * assert.equal(s, "semihard");
 * ```
 */
export type MiningStrategy = "easy" | "semihard" | "hard" | "all";

/** The strategies, in PML's order. */
export const STRATEGIES: readonly MiningStrategy[] = ["hard", "semihard", "easy", "all"];

/** One pick per anchor row: value (a ±∞ sentinel when none), column, and whether one exists. */
interface RowPick {
  value: Float64Array;
  index: Int32Array;
  ok: Uint8Array;
}

/**
 * For each anchor row, the smallest (`"min"`) or largest (`"max"`) entry among its positive or
 * negative pairs, leaving out entries outside `range` and, with `thresholds`, entries not beyond
 * the row's threshold (`"min"`: keeps `v > t`; `"max"`: keeps `v < t`). Ties go to the first
 * column, as `torch.min`/`torch.max` along a row do; a row with no entry gets `+∞` (`"min"`) or
 * `−∞` (`"max"`), as PML's masked rows do, so that it can serve as the other side's threshold.
 */
function pickPerRow(
  b: MinerBatch,
  kind: "pos" | "neg",
  xtype: "min" | "max",
  range: readonly [number, number] | undefined,
  thresholds?: Float64Array,
): RowPick {
  const { n, m, y, yRef, mat, self } = b;
  const value = new Float64Array(n).fill(xtype === "min" ? Infinity : -Infinity);
  const index = new Int32Array(n);
  const ok = new Uint8Array(n);
  const lo = range ? f32(range[0]) : -Infinity, hi = range ? f32(range[1]) : Infinity;
  for (let i = 0; i < n; i++) {
    const t = thresholds ? thresholds[i] : NaN;
    for (let j = 0; j < m; j++) {
      const same = y[i] === yRef[j];
      if (kind === "pos" ? !same || (self && i === j) : same) continue;
      const v = mat[i * m + j];
      if (thresholds && (xtype === "min" ? v <= t : v >= t)) continue;
      if (v > hi || v < lo) continue;
      if (!ok[i] || (xtype === "min" ? v < value[i] : v > value[i])) {
        value[i] = v, index[i] = j, ok[i] = 1;
      }
    }
  }
  return { value, index, ok };
}

/**
 * PML's `BatchEasyHardMiner.mine` on a prepared batch: pairs `(a1, p, a2, n)`; with neither
 * strategy `"all"`, one positive and one negative per kept anchor and `a1 = a2`.
 */
export function easyHardPairs(
  b: MinerBatch,
  posStrategy: MiningStrategy,
  negStrategy: MiningStrategy,
  posRange?: readonly [number, number],
  negRange?: readonly [number, number],
): PairIndices {
  const inv = b.inverted;
  // Hard (and semihard) positives are the farthest; easy ones the closest.
  const posX = (posStrategy === "easy") !== inv ? "min" : "max";
  // Hard (and semihard) negatives are the closest; easy ones the farthest.
  const negX = (negStrategy === "easy") !== inv ? "max" : "min";
  let pos: RowPick | undefined, neg: RowPick | undefined;
  if (posStrategy === "semihard" && negStrategy !== "all") {
    neg = pickPerRow(b, "neg", negX, negRange);
    pos = pickPerRow(b, "pos", posX, posRange, neg.value);
  } else if (negStrategy === "semihard" && posStrategy !== "all") {
    pos = pickPerRow(b, "pos", posX, posRange);
    neg = pickPerRow(b, "neg", negX, negRange, pos.value);
  } else {
    if (posStrategy !== "all") pos = pickPerRow(b, "pos", posX, posRange);
    if (negStrategy !== "all") neg = pickPerRow(b, "neg", negX, negRange);
  }
  const all = posStrategy === "all" || negStrategy === "all" ? allPairs(b) : undefined;
  const a1: number[] = [], p: number[] = [], a2: number[] = [], ng: number[] = [];
  if (pos && neg) {
    for (let i = 0; i < b.n; i++) {
      if (pos.ok[i] && neg.ok[i]) a1.push(i), p.push(pos.index[i]), ng.push(neg.index[i]);
    }
    return pairsOf(a1, p, a1.slice(), ng);
  }
  if (pos) {
    for (let i = 0; i < b.n; i++) if (pos.ok[i]) a1.push(i), p.push(pos.index[i]);
    return { a1: Int32Array.from(a1), p: Int32Array.from(p), a2: all!.a2, n: all!.n };
  }
  if (neg) {
    for (let i = 0; i < b.n; i++) if (neg.ok[i]) a2.push(i), ng.push(neg.index[i]);
    return { a1: all!.a1, p: all!.p, a2: Int32Array.from(a2), n: Int32Array.from(ng) };
  }
  return all!;
}
