/**
 * k-nearest-neighbour classification accuracy under any metric, brute force in row blocks.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { forEachDistanceBlock, type Metric, type MetricSpec, resolveMetric } from "../distances.ts";
import { checkFiniteTensor, checkFiniteValues } from "../validate.ts";

/**
 * Accuracy of a k-NN classifier (uniform vote; ties go to the smallest label, as scikit-learn's
 * `KNeighborsClassifier` does) that labels each test row from its k nearest training rows.
 *
 * @param train `[n, d]`
 * @param trainLabels `[n]`
 * @param test `[m, d]`
 * @param testLabels `[m]`
 * @param k neighbours (default 5)
 * @param metric distance (default `"euclidean"`); similarities rank largest first
 * @returns the fraction of test rows classified correctly
 * @throws Error for label counts that differ from the rows, k outside [1, n], or NaN/±Infinity in
 * `train` or `test` (naming the first bad row).
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { knnClassificationAccuracy } from "./knn_classifier.ts";
 * const acc = await knnClassificationAccuracy(
 *   tf.tensor2d([[0], [1], [10], [11]]), [0, 0, 1, 1], tf.tensor2d([[0.5], [10.5]]), [0, 1], 1);
 * console.log(acc); // 1
 * ```
 */
export async function knnClassificationAccuracy(
  train: tf.Tensor2D,
  trainLabels: ArrayLike<number>,
  test: tf.Tensor2D,
  testLabels: ArrayLike<number>,
  k = 5,
  metric: MetricSpec | Metric = "euclidean",
): Promise<number> {
  const n = train.shape[0], m = test.shape[0];
  if (trainLabels.length !== n) {
    throw new Error(`knnClassificationAccuracy: ${trainLabels.length} trainLabels for ${n} rows`);
  }
  if (testLabels.length !== m) {
    throw new Error(`knnClassificationAccuracy: ${testLabels.length} testLabels for ${m} rows`);
  }
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new Error(`knnClassificationAccuracy: k must be an integer in [1, ${n}], got ${k}`);
  }
  checkFiniteTensor("knnClassificationAccuracy", "train", train);
  checkFiniteTensor("knnClassificationAccuracy", "test", test);
  const resolved = resolveMetric(metric);
  const sign = resolved.isSimilarity ? -1 : 1;
  let correct = 0;
  await forEachDistanceBlock(test, train, resolved, 256, (values, start, rows) => {
    for (let r = 0; r < rows; r++) {
      const row = values.subarray(r * n, (r + 1) * n);
      const order = Array.from({ length: n }, (_, j) => j);
      const key = (j: number) => (Number.isNaN(row[j]) ? Infinity : sign * row[j]);
      order.sort((p, q) => key(p) - key(q) || p - q);
      const votes = new Map<number, number>();
      for (let t = 0; t < k; t++) {
        const label = trainLabels[order[t]];
        votes.set(label, (votes.get(label) ?? 0) + 1);
      }
      let best = Infinity, bestVotes = -1;
      for (const [label, v] of votes) {
        if (v > bestVotes || (v === bestVotes && label < best)) [best, bestVotes] = [label, v];
      }
      if (best === testLabels[start + r]) correct++;
    }
  });
  return correct / m;
}

/**
 * Standardises features with the training set's mean and standard deviation (ddof 0, as
 * scikit-learn's `StandardScaler`); constant features are left centred, not divided.
 *
 * @param train `[n, d]` row-major
 * @param d features
 * @returns a function applying the same transform to any `[·, d]` array
 * @example
 * ```ts
 * import { standardizer } from "./knn_classifier.ts";
 * const scale = standardizer(new Float32Array([0, 2, 4]), 1);
 * scale(new Float32Array([2, 4])); // [0, 1.2247]
 * ```
 */
export function standardizer(
  train: ArrayLike<number>,
  d: number,
): (x: ArrayLike<number>) => Float32Array {
  const n = train.length / d;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`standardizer: ${train.length} values are not rows of ${d}`);
  }
  checkFiniteValues("standardizer", "train", train, d);
  const mean = new Float64Array(d), sd = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += train[i * d + j] / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) sd[j] += (train[i * d + j] - mean[j]) ** 2 / n;
  }
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]) || 1;
  return (x) => {
    checkFiniteValues("standardizer", "x", x, d);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = (x[i] - mean[i % d]) / sd[i % d];
    return out;
  };
}
