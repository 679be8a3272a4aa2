/**
 * Building blocks of the ranking and histogram losses (FastAP, Smooth-AP, PNP, the histogram
 * loss), kept within `[n, n]`-sized tensors where the formula allows:
 *
 * - {@linkcode minerWeights}: PML's `convert_to_weights` (how often a miner listed each row);
 * - {@linkcode segmentHistogram}: linear-interpolation ("soft") histograms by a segment sum, so a
 *   histogram of `k` values over `B` nodes costs `2k` elements, not the `[k, B]` pulse matrix;
 * - {@linkcode classMembers}: each query's class members as a `[n, g]` table (`g` the largest
 *   class), so that ranking every member of the query's class against the batch is a
 *   `[n, g, n]` tensor rather than PML's `[n, n, n]`.
 *
 * Internal.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { isPairIndices, type TupleIndices } from "./_tuples.ts";

/**
 * PML's `lmu.convert_to_weights`: each batch row's number of appearances in `indices` (every
 * array of the tuples: anchors, positives and negatives) divided by the largest count; rows that
 * never appear get 0. Without indices (or with only empty arrays) every row weighs 1.
 *
 * @param indices tuples from a miner (their entries index the batch)
 * @param n batch size
 * @returns `[n]` weights in [0, 1]
 * @example
 * ```ts
 * import { minerWeights } from "./_ranking.ts";
 * const w = minerWeights({ a: Int32Array.of(0, 0), p: Int32Array.of(1, 1), n: Int32Array.of(2, 3) }, 5);
 * console.log([...w]); // [1, 1, 0.5, 0.5, 0]
 * ```
 */
export function minerWeights(indices: TupleIndices | undefined, n: number): Float32Array {
  const w = new Float32Array(n);
  const arrays = indices === undefined
    ? []
    : isPairIndices(indices)
    ? [indices.a1, indices.p, indices.a2, indices.n]
    : [indices.a, indices.p, indices.n];
  if (arrays.every((a) => a.length === 0)) return w.fill(1);
  for (const a of arrays) for (const i of a) w[i] += 1;
  let max = 0;
  for (const c of w) max = Math.max(max, c);
  for (let i = 0; i < n; i++) w[i] /= max;
  return w;
}

/**
 * Rows of linear-interpolation histograms: value `k` of row `i` sits between nodes `r[i, k]` and
 * `r[i, k] + 1` and adds `lower[i, k]` to the first and `upper[i, k]` to the second (the two
 * weights of the triangular kernel, already multiplied by the value's weight). Computed as one
 * segment sum of `2·rows·k` elements; differentiable in `lower` and `upper`.
 *
 * @param r `[rows, k]` int32 lower node of each value, in `[0, nodes − 2]`
 * @param lower `[rows, k]` weight given to node `r`
 * @param upper `[rows, k]` weight given to node `r + 1`
 * @param nodes number of nodes per row (bins + 1)
 * @returns `[rows, nodes]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { segmentHistogram } from "./_ranking.ts";
 * const h = segmentHistogram(
 *   tf.tensor2d([[0, 1]], [1, 2], "int32"),
 *   tf.tensor2d([[0.25, 1]]),
 *   tf.tensor2d([[0.75, 0]]),
 *   3,
 * );
 * h.print(); // [[0.25, 1.75, 0]]
 * ```
 */
export function segmentHistogram(
  r: tf.Tensor2D,
  lower: tf.Tensor2D,
  upper: tf.Tensor2D,
  nodes: number,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [rows, k] = r.shape;
    const base = tf.mul(tf.range(0, rows, 1, "int32"), tf.scalar(nodes, "int32")).reshape([
      rows,
      1,
    ]);
    const ids = tf.reshape(tf.add(r, base), [rows * k]);
    const data = tf.concat([
      tf.reshape(lower, [rows * k]),
      tf.reshape(upper, [rows * k]),
    ]) as tf.Tensor1D;
    const segments = tf.concat([ids, tf.add(ids, tf.scalar(1, "int32"))]) as tf.Tensor1D;
    return tf.reshape(segmentSum(data, segments, rows * nodes), [rows, nodes]) as tf.Tensor2D;
  });
}

/**
 * `tf.unsortedSegmentSum` differentiable in `data` only: the segment ids (computed from the
 * values themselves, e.g. their bins) stay off the gradient tape, where tfjs would otherwise
 * refuse to backpropagate through them.
 */
function segmentSum(data: tf.Tensor1D, ids: tf.Tensor1D, segments: number): tf.Tensor1D {
  // deno-lint-ignore no-explicit-any
  const f = tf.customGrad((x: any, save: any) => {
    (save as tf.GradSaveFunc)([ids]);
    return {
      value: tf.unsortedSegmentSum(x as tf.Tensor1D, ids, segments),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.gather(dy, saved[0]),
    };
  });
  return f(data) as tf.Tensor1D;
}

/** Each query's class members (itself included), as index tables for gathers. */
export interface ClassMembers {
  /** `g`: the largest class's size. */
  width: number;
  /** `[n · g]` flat indices `q·n + member` into an `[n, n]` matrix (padding repeats `q·n + q`). */
  flat: Int32Array;
  /** `[n · g]` 1 for a real member, 0 for padding. */
  valid: Float32Array;
  /** `[n]` the size of each query's class. */
  size: Float32Array;
  /** `[n · n]` 1 where the two rows share a label (the diagonal included). */
  same: Float32Array;
}

/**
 * The members of each query's class (ascending, the query itself included), padded to the
 * largest class: for `[n, n]` similarities `s`, `gather(s.flatten(), flat)` is the `[n, g]`
 * table `s[q, member_k(q)]`.
 *
 * @param labels `[n]`
 * @example
 * ```ts
 * import { classMembers } from "./_ranking.ts";
 * const c = classMembers(Int32Array.of(0, 1, 0));
 * console.log(c.width, [...c.flat], [...c.valid]); // 2 [0, 2, 4, 4, 6, 8] [1, 1, 1, 0, 1, 1]
 * ```
 */
export function classMembers(labels: Int32Array): ClassMembers {
  const n = labels.length;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byClass.get(labels[i]);
    if (list) list.push(i);
    else byClass.set(labels[i], [i]);
  }
  let width = 1;
  for (const list of byClass.values()) width = Math.max(width, list.length);
  const flat = new Int32Array(n * width), valid = new Float32Array(n * width);
  const size = new Float32Array(n), same = new Float32Array(n * n);
  for (let q = 0; q < n; q++) {
    const list = byClass.get(labels[q])!;
    size[q] = list.length;
    for (let k = 0; k < width; k++) {
      const member = k < list.length ? list[k] : q;
      flat[q * width + k] = q * n + member;
      valid[q * width + k] = k < list.length ? 1 : 0;
    }
    for (const j of list) same[q * n + j] = 1;
  }
  return { width, flat, valid, size, same };
}

/**
 * `t[q, k, b] = s[q, b] − s[q, member_k(q)]` for `[n, n]` similarities: how much higher than the
 * query's `k`-th class member each row of the batch ranks, as a `[n, g, n]` tensor.
 *
 * @param s `[n, n]`
 * @param members from {@linkcode classMembers}
 * @returns `[n, g, n]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { classMembers, memberDifferences } from "./_ranking.ts";
 * const s = tf.tensor2d([[1, 0.2], [0.2, 1]]);
 * memberDifferences(s, classMembers(Int32Array.of(0, 0))).print(); // [[[0, -0.8], [0.8, 0]], …]
 * ```
 */
export function memberDifferences(s: tf.Tensor2D, members: ClassMembers): tf.Tensor3D {
  return tf.tidy(() => {
    const n = s.shape[0], g = members.width;
    const atMembers = tf.reshape(
      tf.gather(tf.reshape(s, [n * n]), tf.tensor1d(members.flat, "int32")),
      [n, g, 1],
    );
    return tf.sub(tf.reshape(s, [n, 1, n]), atMembers) as tf.Tensor3D;
  });
}
