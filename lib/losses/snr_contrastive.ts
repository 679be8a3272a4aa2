/**
 * The signal-to-noise-ratio contrastive loss (Yuan et al., "Signal-To-Noise Ratio: A Robust
 * Distance Metric for Deep Metric Learning", CVPR 2019) as pytorch-metric-learning (PML) defines
 * it: the contrastive loss on the SNR distance of `distances.ts` (`"snr"`).
 *
 * @module
 */
import { defineLoss, type Loss } from "./_template.ts";
import { contrastiveLoss, type ContrastiveLossOptions } from "./contrastive.ts";

/** Options of {@linkcode signalToNoiseRatioContrastiveLoss}: those of the contrastive loss. */
export type SignalToNoiseRatioContrastiveLossOptions = ContrastiveLossOptions;

/**
 * Signal-to-noise-ratio contrastive loss, PML's `SignalToNoiseRatioContrastiveLoss`: the
 * contrastive loss (`relu(d − posMargin)` per positive pair, `relu(negMargin − d)` per negative
 * pair, each averaged over its non-zero terms, PML's `AvgNonZeroReducer`) with the SNR distance
 *
 *   d(a, x) = var(a − x) / var(a)
 *
 * (the variance of the difference, the noise, over the variance of the anchor, the signal, each
 * over the `d` coordinates; PML's `SNRDistance`, on L2-normalised embeddings by default). Defaults
 * `posMargin` 0, `negMargin` 1. PML's regulariser of the embeddings' mean (the paper's λ) is not
 * part of PML's loss either; attach one with `embeddingRegularizer`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` the `[n, m]` matrix of per-pair losses times
 *   multiplicity (0 where `(i, j)` is not a pair)
 * @throws Error for a distance other than `"snr"` (PML asserts `SNRDistance`), a negative or
 *   non-finite margin.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { signalToNoiseRatioContrastiveLoss } from "./snr_contrastive.ts";
 * const e = tf.tensor2d([[1, 2, 3], [1, 2, 3.5], [3, 1, 2]]);
 * const v = signalToNoiseRatioContrastiveLoss(e, [0, 0, 1]).dataSync()[0];
 * // SNR distances of the normalised rows: positives d(0,1) = 0.0328, d(1,0) = 0.0255 (not
 * // symmetric); negatives 3, 2.479, 3, 3.186, all beyond negMargin 1 (PML 2.9.0: 0.0291723)
 * assert.ok(Math.abs(v - 0.0291723) < 1e-5);
 * ```
 */
export const signalToNoiseRatioContrastiveLoss: Loss<SignalToNoiseRatioContrastiveLossOptions> =
  defineLoss<SignalToNoiseRatioContrastiveLossOptions>({
    ...contrastiveLoss.definition,
    name: "signalToNoiseRatioContrastiveLoss",
    distance: "snr",
    checkDistance: (d) =>
      d.metric.name !== "snr"
        ? `distance must be "snr" (PML's SignalToNoiseRatioContrastiveLoss requires SNRDistance)`
        : undefined,
  });
