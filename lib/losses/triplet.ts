/**
 * The triplet margin loss (Weinberger & Saul 2009; Schroff et al. 2015) as pytorch-metric-learning
 * (PML) defines it, over all triplets of a batch (computed in blocks of anchors, with a hand-written
 * gradient, so that no `[n, n, n]` tensor is ever held) or over mined triplets.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Labels } from "./pairs.ts";
import type { TupleLossOptions } from "./contrastive.ts";
import {
  checkEmbeddings,
  checkMargins,
  checkOptions,
  checkReduction,
  labelsArray,
  lossDistanceMatrix,
  marginOf,
  reduceWeighted,
  resolveLossDistance,
  toTriplets,
  zeroLoss,
} from "./tuples.ts";

/** Options of {@linkcode tripletMarginLoss}; defaults are PML's `TripletMarginLoss`. */
export interface TripletMarginLossOptions extends TupleLossOptions {
  /** Required gap between the anchor-negative and anchor-positive distances. Default 0.05. */
  margin?: number;
  /** Use d(p, n) instead of d(a, n) when it is the smaller (PML's `swap`). Default false. */
  swap?: boolean;
  /** softplus instead of the hinge (PML's `smooth_loss`). Default false. */
  smoothLoss?: boolean;
  /**
   * Anchors per block when all triplets are used (not a PML option): memory is
   * `anchorsPerBlock × n × n` floats. Default: as many as fit in 2²² elements (at least 1).
   */
  anchorsPerBlock?: number;
}

const KNOWN = [
  "distance",
  "normalizeEmbeddings",
  "indices",
  "reduction",
  "margin",
  "swap",
  "smoothLoss",
  "anchorsPerBlock",
];

/**
 * Triplet margin loss (PML's `TripletMarginLoss`): each triplet `(a, p, n)` pays
 * `relu(d(a,p) − d(a,n) + margin)` (for a similarity: `relu(s(a,n) − s(a,p) + margin)`;
 * `softplus` instead of `relu` with `smoothLoss`), reduced by default with `"avgNonZero"`. All
 * triplets of the batch unless `indices` are given (pairs from a pair miner are turned into
 * triplets as PML does). Defaults: Euclidean distance on L2-normalised embeddings, margin 0.05.
 * A batch without triplets gives 0.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar (`reduction: "none"`: `[t]`, one loss per triplet in PML's order)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tripletMarginLoss } from "./triplet.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0.9, 0.1]]);
 * tripletMarginLoss(e, [0, 0, 1], { margin: 0.2 }).print();
 * ```
 */
export function tripletMarginLoss(
  embeddings: tf.Tensor2D,
  labels: Labels,
  options: TripletMarginLossOptions = {},
): tf.Scalar {
  const fn = "tripletMarginLoss";
  checkOptions(fn, options, KNOWN);
  const {
    margin = 0.05,
    swap = false,
    smoothLoss = false,
    distance = "euclidean",
    normalizeEmbeddings = true,
    reduction = "avgNonZero",
    indices,
    anchorsPerBlock,
  } = options;
  checkReduction(fn, reduction);
  if (
    anchorsPerBlock !== undefined && (!Number.isInteger(anchorsPerBlock) || anchorsPerBlock < 1)
  ) {
    throw new Error(`${fn}: anchorsPerBlock must be a positive integer, got ${anchorsPerBlock}`);
  }
  const n = checkEmbeddings(fn, embeddings);
  const y = labelsArray(labels, n, fn);
  const resolved = resolveLossDistance(fn, distance);
  checkMargins(fn, distance, { margin });
  const act = smoothLoss ? tf.softplus : tf.relu;
  if (indices || reduction === "none") {
    const t = toTriplets(fn, y, indices);
    const count = t.a.length;
    if (count === 0) {
      return (reduction === "none" ? tf.zeros([0]) : zeroLoss(embeddings)) as tf.Scalar;
    }
    return tf.tidy(() => {
      const flat = tf.reshape(lossDistanceMatrix(embeddings, resolved, normalizeEmbeddings), [-1]);
      const at = (rows: Int32Array, cols: Int32Array) =>
        tf.gather(flat, tf.tensor1d(rows.map((r, i) => r * n + cols[i]), "int32"));
      const ap = at(t.a, t.p);
      let an = at(t.a, t.n);
      if (swap) {
        const pn = at(t.p, t.n);
        an = resolved.inverted ? tf.maximum(an, pn) : tf.minimum(an, pn);
      }
      const losses = act(tf.add(marginOf(resolved.inverted, ap, an), margin));
      return reduceWeighted(losses, tf.onesLike(losses), reduction) as tf.Scalar;
    });
  }
  return allTriplets(embeddings, y, {
    inverted: resolved.inverted,
    matrix: () => lossDistanceMatrix(embeddings, resolved, normalizeEmbeddings),
    margin,
    swap,
    smoothLoss,
    reduction,
    anchorsPerBlock,
  });
}

interface AllTripletsConfig {
  inverted: boolean;
  matrix: () => tf.Tensor2D;
  margin: number;
  swap: boolean;
  smoothLoss: boolean;
  reduction: string;
  /** Anchors per block (else as many as keep a block under 2²² elements). */
  anchorsPerBlock?: number;
}

/** One block of anchors of one class, in the class-sorted order. */
interface Block {
  /** First row of the class in the sorted order, class size, first anchor within the class. */
  start: number;
  size: number;
  r0: number;
  rows: number;
}

/**
 * All-triplet loss in blocks. Rows and columns of the distance matrix are permuted so that each
 * class is contiguous; for a block of anchors of class c only its `k_c` positives and `n − k_c`
 * negatives are crossed, so a block holds `rows × k_c × (n − k_c)` values (never `[n, n, n]`),
 * and the work is about `n³ / (number of classes)`. The gradient with respect to the distance
 * matrix is written by hand (recomputing each block), so that nothing of size `[·, n, n]` is kept
 * for the backward pass.
 */
function allTriplets(embeddings: tf.Tensor2D, y: Int32Array, cfg: AllTripletsConfig): tf.Scalar {
  const n = y.length;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byClass.get(y[i]);
    if (list) list.push(i);
    else byClass.set(y[i], [i]);
  }
  const perm: number[] = [];
  const classes: { start: number; size: number }[] = [];
  let total = 0;
  for (const members of byClass.values()) {
    classes.push({ start: perm.length, size: members.length });
    perm.push(...members);
    total += members.length * (members.length - 1) * (n - members.length);
  }
  if (total === 0) return zeroLoss(embeddings);
  const inv = new Int32Array(n);
  perm.forEach((orig, i) => (inv[orig] = i));
  const blocks: Block[] = [];
  for (const { start, size } of classes) {
    const neg = n - size;
    if (size < 2 || neg === 0) continue;
    const rows = cfg.anchorsPerBlock ??
      Math.max(1, Math.floor((1 << 22) / Math.max(1, size * neg)));
    for (let r0 = 0; r0 < size; r0 += rows) {
      blocks.push({ start, size, r0, rows: Math.min(rows, size - r0) });
    }
  }
  const sign = cfg.inverted ? -1 : 1; // violation = sign·(ap − an) + margin
  const act = cfg.smoothLoss ? tf.softplus : tf.relu;

  /** Negative columns of some rows: everything outside the class's columns. */
  const negCols = (rows: tf.Tensor2D, start: number, size: number) => {
    const parts: tf.Tensor2D[] = [];
    if (start > 0) parts.push(tf.slice(rows, [0, 0], [-1, start]));
    if (start + size < n) parts.push(tf.slice(rows, [0, start + size], [-1, -1]));
    return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
  };
  /** Violations `[rows, k, n − k]`, the anchor ≠ positive mask, and (swap) where a-n was kept. */
  const blockTerms = (dp: tf.Tensor2D, b: Block) => {
    const rows = tf.slice(dp, [b.start + b.r0, 0], [b.rows, n]);
    const ap = tf.reshape(tf.slice(rows, [0, b.start], [b.rows, b.size]), [b.rows, b.size, 1]);
    let an: tf.Tensor = tf.expandDims(negCols(rows, b.start, b.size), 1); // [rows, 1, n − k]
    let keepAn: tf.Tensor | undefined;
    if (cfg.swap) {
      const classRows = tf.slice(dp, [b.start, 0], [b.size, n]);
      const pn = tf.expandDims(negCols(classRows, b.start, b.size), 0); // [1, k, n − k]
      const shape = [b.rows, b.size, n - b.size];
      const anB = tf.broadcastTo(an, shape), pnB = tf.broadcastTo(pn, shape);
      const keep = cfg.inverted ? tf.greaterEqual(anB, pnB) : tf.lessEqual(anB, pnB);
      an = tf.where(keep, anB, pnB);
      keepAn = tf.cast(keep, "float32");
    }
    const v = tf.add(tf.mul(tf.sub(ap, an), sign), cfg.margin);
    const notSelf = new Float32Array(b.rows * b.size).fill(1);
    for (let r = 0; r < b.rows; r++) notSelf[r * b.size + b.r0 + r] = 0;
    return { v, mask: tf.tensor3d(notSelf, [b.rows, b.size, 1]), keepAn };
  };

  return tf.tidy(() => {
    const loss = tf.customGrad(
      // deno-lint-ignore no-explicit-any
      (mat: any, save: any) => {
        const dp = tf.gather(tf.gather(mat as tf.Tensor2D, perm, 0), perm, 1) as tf.Tensor2D;
        let sum: tf.Tensor = tf.scalar(0), nonZero: tf.Tensor = tf.scalar(0);
        for (const b of blocks) {
          const [s, c] = tf.tidy(() => {
            const { v, mask } = blockTerms(dp, b);
            const l = tf.mul(act(v), mask);
            return [tf.sum(l), tf.sum(tf.step(l))];
          });
          const s2 = tf.add(sum, s), c2 = tf.add(nonZero, c);
          tf.dispose([sum, nonZero, s, c]);
          sum = s2, nonZero = c2;
        }
        const scale = cfg.reduction === "sum"
          ? tf.scalar(1)
          : cfg.reduction === "mean"
          ? tf.scalar(1 / total)
          : tf.div(1, tf.maximum(nonZero, 1));
        const value = tf.mul(sum, scale);
        save([mat, scale]);
        tf.dispose([sum, nonZero, dp]);
        return {
          value,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [m, sc] = saved as [tf.Tensor2D, tf.Tensor];
            return tf.tidy(() => {
              const dp = tf.gather(tf.gather(m, perm, 0), perm, 1) as tf.Tensor2D;
              const rowGrads: tf.Tensor[] = [];
              for (const { start, size } of classes) {
                const mine = blocks.filter((b) => b.start === start);
                if (mine.length === 0) {
                  rowGrads.push(tf.zeros([size, n]));
                  continue;
                }
                const parts: tf.Tensor[] = [];
                let pnGrad: tf.Tensor | undefined;
                for (const b of mine) {
                  const { v, mask, keepAn } = blockTerms(dp, b);
                  const dv = tf.mul(cfg.smoothLoss ? tf.sigmoid(v) : tf.step(v), mask);
                  const gAp = tf.mul(tf.sum(dv, 2), sign); // [rows, k]
                  const gAn = tf.mul(tf.sum(keepAn ? tf.mul(dv, keepAn) : dv, 1), -sign);
                  parts.push(spread(gAp, gAn, start, size));
                  if (keepAn) {
                    const g = tf.mul(tf.sum(tf.mul(dv, tf.sub(1, keepAn)), 0), -sign);
                    pnGrad = pnGrad ? tf.add(pnGrad, g) : g;
                  }
                }
                let classGrad: tf.Tensor = tf.concat(parts, 0);
                if (pnGrad) {
                  classGrad = tf.add(
                    classGrad,
                    spread(tf.zeros([size, size]), pnGrad as tf.Tensor2D, start, size),
                  );
                }
                rowGrads.push(classGrad);
              }
              const gp = tf.concat(rowGrads, 0) as tf.Tensor2D; // permuted order
              const g = tf.gather(tf.gather(gp, inv, 0), inv, 1);
              return tf.mul(g, tf.mul(dy, sc));
            });
          },
        };
      },
    );
    return loss(cfg.matrix()) as tf.Scalar;
  });

  /** Puts positive-column and negative-column gradients back into `[rows, n]` layout. */
  function spread(gPos: tf.Tensor, gNeg: tf.Tensor, start: number, size: number): tf.Tensor {
    const parts: tf.Tensor[] = [];
    if (start > 0) parts.push(tf.slice(gNeg, [0, 0], [-1, start]));
    parts.push(gPos);
    if (start + size < n) parts.push(tf.slice(gNeg, [0, start], [-1, -1]));
    return tf.concat(parts, 1);
  }
}
