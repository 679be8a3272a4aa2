/**
 * Verification ("same or different?") of pairs from a score per pair: ROC curve and its area with
 * scikit-learn's semantics, best-threshold accuracy, equal error rate, and distance-threshold
 * calibration in the manner of TensorFlow Similarity.
 *
 * Scores are **similarities** by default: higher means "more likely the same", a pair is
 * predicted same when `score ≥ threshold` (scikit-learn's `roc_curve` convention). Pass
 * `{ scoreType: "distance" }` for distances: lower means same, a pair is predicted same when
 * `distance ≤ threshold`, and thresholds are reported in distance units.
 *
 * @module
 */
import { checkFiniteValues, checkOptionKeys } from "../validate.ts";

/** How to read the scores of {@linkcode rocCurve} and friends. */
export interface ScoreOptions {
  /** `"similarity"` (default; higher = same) or `"distance"` (lower = same). */
  scoreType?: "similarity" | "distance";
}

/** A ROC curve: one point per distinct score, plus the origin. */
export interface RocCurve {
  /** False-positive rates, non-decreasing, starting at 0 and ending at 1. */
  fpr: number[];
  /** True-positive rates, non-decreasing, starting at 0 and ending at 1. */
  tpr: number[];
  /**
   * Thresholds, from strictest to loosest; the first is `+Infinity` for similarities (nothing
   * predicted same) or `−Infinity` for distances.
   */
  thresholds: number[];
}

/**
 * Checks lengths, refuses NaN and ±Infinity scores (scikit-learn's `roc_curve` refuses them too),
 * counts the classes.
 */
function check(
  scores: ArrayLike<number>,
  isSame: ArrayLike<number | boolean>,
  fn: string,
  name = "scores",
) {
  if (scores.length !== isSame.length) {
    throw new Error(`${fn}: ${name} has ${scores.length} entries but isSame has ${isSame.length}`);
  }
  checkFiniteValues(fn, name, scores);
  let pos = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = Number(isSame[i]);
    if (s !== 0 && s !== 1) {
      throw new Error(`${fn}: isSame[${i}] must be 0/1 or boolean, got ${isSame[i]}`);
    }
    pos += s;
  }
  return { pos, neg: scores.length - pos };
}

/** Tallies at each distinct score, strictest first: cumulative tp and fp. */
function sweep(scores: ArrayLike<number>, isSame: ArrayLike<number | boolean>, sign: number) {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const x = sign * scores[a], y = sign * scores[b];
    return x > y ? -1 : x < y ? 1 : 0;
  });
  const tps: number[] = [], fps: number[] = [], th: number[] = [];
  let tp = 0, fp = 0;
  for (let t = 0; t < n; t++) {
    const i = order[t];
    if (Number(isSame[i])) tp++;
    else fp++;
    if (t === n - 1 || scores[order[t + 1]] !== scores[i]) {
      tps.push(tp);
      fps.push(fp);
      th.push(scores[i]);
    }
  }
  return { tps, fps, th };
}

/**
 * The ROC curve of `scores` against the ground truth `isSame`, as scikit-learn's
 * `roc_curve(isSame, scores, drop_intermediate=False)`: one point per distinct score (tied scores
 * move together), preceded by the origin.
 *
 * @param scores `[n]` similarities (or distances with `scoreType: "distance"`)
 * @param isSame `[n]` 1 (or true) for a same pair, 0 (or false) for a different pair
 * @throws Error when lengths differ, a score is NaN, Infinity or −Infinity (naming the first),
 *   or only one class is present.
 * @example
 * ```ts
 * import { rocCurve } from "./verification.ts";
 * const { fpr, tpr } = rocCurve([0.9, 0.8, 0.3], [1, 0, 0]);
 * console.log(fpr, tpr); // [0, 0, 0.5, 1] [0, 1, 1, 1]
 * ```
 */
export function rocCurve(
  scores: ArrayLike<number>,
  isSame: ArrayLike<number | boolean>,
  options: ScoreOptions = {},
): RocCurve {
  checkOptionKeys("rocCurve", options, ["scoreType"]);
  const { pos, neg } = check(scores, isSame, "rocCurve");
  if (pos === 0 || neg === 0) {
    throw new Error(
      `rocCurve: isSame must hold both classes (got ${pos} same and ${neg} different pairs)`,
    );
  }
  const sign = options.scoreType === "distance" ? -1 : 1;
  const { tps, fps, th } = sweep(scores, isSame, sign);
  return {
    fpr: [0, ...fps.map((f) => f / neg)],
    tpr: [0, ...tps.map((t) => t / pos)],
    thresholds: [sign * Infinity, ...th],
  };
}

/**
 * Area under the ROC curve by the trapezoidal rule over distinct thresholds — equal to
 * scikit-learn's `roc_auc_score` (a tie between a same and a different pair counts one half).
 *
 * @param scores `[n]` similarities (or distances with `scoreType: "distance"`)
 * @param isSame `[n]` 1/0 or true/false
 * @throws Error when only one class is present (ROC AUC is undefined).
 * @example
 * ```ts
 * import { rocAuc } from "./verification.ts";
 * rocAuc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]); // 0.875
 * ```
 */
export function rocAuc(
  scores: ArrayLike<number>,
  isSame: ArrayLike<number | boolean>,
  options: ScoreOptions = {},
): number {
  checkOptionKeys("rocAuc", options, ["scoreType"]);
  const { fpr, tpr } = rocCurve(scores, isSame, options);
  let area = 0;
  for (let i = 1; i < fpr.length; i++) area += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2;
  return area;
}

/**
 * The threshold with the highest accuracy (fraction of pairs classified correctly), trying every
 * distinct score and "nothing is same"; ties go to the strictest threshold.
 *
 * @example
 * ```ts
 * import { bestThresholdAccuracy } from "./verification.ts";
 * bestThresholdAccuracy([0.9, 0.8, 0.3], [1, 0, 0]); // { threshold: 0.9, accuracy: 1 }
 * ```
 */
export function bestThresholdAccuracy(
  scores: ArrayLike<number>,
  isSame: ArrayLike<number | boolean>,
  options: ScoreOptions = {},
): { threshold: number; accuracy: number } {
  checkOptionKeys("bestThresholdAccuracy", options, ["scoreType"]);
  const { pos, neg } = check(scores, isSame, "bestThresholdAccuracy");
  const n = pos + neg;
  if (n === 0) throw new Error("bestThresholdAccuracy: no pairs");
  const sign = options.scoreType === "distance" ? -1 : 1;
  const { tps, fps, th } = sweep(scores, isSame, sign);
  let best = { threshold: sign * Infinity, accuracy: neg / n };
  for (let i = 0; i < th.length; i++) {
    const acc = (tps[i] + neg - fps[i]) / n;
    if (acc > best.accuracy) best = { threshold: th[i], accuracy: acc };
  }
  return best;
}

/**
 * Equal error rate: the rate at which the false-positive rate equals the false-negative rate
 * (1 − TPR), by linear interpolation between the two ROC points that bracket the crossing.
 * `threshold` is the first threshold (strictest first) at which FPR ≥ FNR.
 *
 * @example
 * ```ts
 * import { equalErrorRate } from "./verification.ts";
 * equalErrorRate([0.9, 0.8, 0.3], [1, 0, 0]).eer; // 0
 * ```
 */
export function equalErrorRate(
  scores: ArrayLike<number>,
  isSame: ArrayLike<number | boolean>,
  options: ScoreOptions = {},
): { eer: number; threshold: number } {
  checkOptionKeys("equalErrorRate", options, ["scoreType"]);
  const { fpr, tpr, thresholds } = rocCurve(scores, isSame, options);
  for (let i = 1; i < fpr.length; i++) {
    const fnr = 1 - tpr[i];
    if (fpr[i] >= fnr) {
      const f0 = fpr[i - 1], n0 = 1 - tpr[i - 1], f1 = fpr[i], n1 = fnr;
      const den = (f1 - f0) - (n1 - n0);
      const t = den === 0 ? 0 : (n0 - f0) / den;
      return { eer: f0 + t * (f1 - f0), threshold: thresholds[i] };
    }
  }
  return { eer: 1, threshold: thresholds[thresholds.length - 1] };
}

/** Quality of a distance threshold on the calibration pairs. */
export interface ThresholdPoint {
  /** Pairs with distance ≤ threshold are predicted same. */
  threshold: number;
  /** TP / (TP + FP). */
  precision: number;
  /** TP / (TP + FN). */
  recall: number;
  /** Harmonic mean of precision and recall. */
  f1: number;
  /** (TP + TN) / n. */
  accuracy: number;
}

/** The result of {@linkcode calibrateThreshold}. */
export interface Calibration extends ThresholdPoint {
  /** The precision that was asked for. */
  targetPrecision: number;
  /** The threshold with the highest F1 (TF Similarity's "optimal" cut-point). */
  optimal: ThresholdPoint;
  /** Every distinct distance, ascending, with its quality. */
  curve: ThresholdPoint[];
}

/**
 * Distance-threshold calibration in the manner of TensorFlow Similarity's `calibrate`: each
 * distinct calibration distance t is a candidate cut-off (pairs with distance ≤ t are "same"),
 * scored by precision, recall, F1 and accuracy. The returned threshold is the **largest** t whose
 * precision is ≥ `targetPrecision` (largest, so that recall is as high as the target allows);
 * `optimal` is the t of highest F1 (the smallest such t on ties). Unlike TF Similarity, distances
 * and metric values are not rounded first.
 *
 * @param distances `[n]` calibration-pair distances
 * @param isSame `[n]` 1/true for same pairs
 * @param options `targetPrecision` in (0, 1], default 0.99
 * @throws Error when no threshold reaches the target precision, or on bad inputs (lengths that
 *   differ, a distance that is NaN or ±Infinity).
 * @example
 * ```ts
 * import { calibrateThreshold, match } from "./verification.ts";
 * const cal = calibrateThreshold([0.1, 0.2, 0.4, 0.5, 0.9], [1, 1, 0, 1, 0], { targetPrecision: 0.75 });
 * console.log(cal.threshold); // 0.5  (precision 3/4 there)
 * console.log(match([0.3, 0.7], cal.threshold)); // [true, false]
 * ```
 */
export function calibrateThreshold(
  distances: ArrayLike<number>,
  isSame: ArrayLike<number | boolean>,
  options: { targetPrecision?: number } = {},
): Calibration {
  checkOptionKeys("calibrateThreshold", options, ["targetPrecision"]);
  const target = options.targetPrecision ?? 0.99;
  if (!(target > 0 && target <= 1)) {
    throw new Error(`calibrateThreshold: targetPrecision must be in (0, 1], got ${target}`);
  }
  const { pos, neg } = check(distances, isSame, "calibrateThreshold", "distances");
  const n = pos + neg;
  if (pos === 0) throw new Error("calibrateThreshold: isSame has no same pair");
  const { tps, fps, th } = sweep(distances, isSame, -1);
  const curve: ThresholdPoint[] = th.map((t, i) => {
    const tp = tps[i], fp = fps[i];
    const precision = tp / (tp + fp), recall = tp / pos;
    const f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    return { threshold: t, precision, recall, f1, accuracy: (tp + neg - fp) / n };
  });
  let optimal = curve[0];
  for (const p of curve) if (p.f1 > optimal.f1) optimal = p;
  let chosen: ThresholdPoint | undefined;
  for (let i = curve.length - 1; i >= 0; i--) {
    if (curve[i].precision >= target) {
      chosen = curve[i];
      break;
    }
  }
  if (!chosen) {
    const best = Math.max(...curve.map((p) => p.precision));
    throw new Error(
      `calibrateThreshold: no distance threshold reaches precision ${target} (best ${best})`,
    );
  }
  return { ...chosen, targetPrecision: target, optimal, curve };
}

/**
 * Answers same (true) or different (false) for each distance: `distance ≤ threshold`.
 *
 * @param distances `[n]`, finite
 * @param threshold e.g. from {@linkcode calibrateThreshold}
 * @throws Error when a distance is NaN or ±Infinity, or the threshold is NaN.
 * @example
 * ```ts
 * import { match } from "./verification.ts";
 * match([0.2, 0.5, 0.8], 0.5); // [true, true, false]
 * ```
 */
export function match(distances: ArrayLike<number>, threshold: number): boolean[] {
  if (Number.isNaN(threshold)) throw new Error("match: threshold is NaN");
  checkFiniteValues("match", "distances", distances);
  return Array.from(distances, (d) => d <= threshold);
}
