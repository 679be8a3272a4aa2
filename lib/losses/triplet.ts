/**
 * The triplet margin loss (Weinberger & Saul 2009; Schroff et al. 2015) as pytorch-metric-learning
 * (PML) defines it, over all triplets of a batch (computed in blocks of anchors, with a hand-written
 * gradient, so that no `[n, n, n]` tensor is ever held) or over mined triplets.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, type LossContext, type LossOptions, opt } from "./_template.ts";
import type { Reducer } from "./_reduce.ts";

/** Options of {@linkcode tripletMarginLoss}; defaults are PML's `TripletMarginLoss`. */
export interface TripletMarginLossOptions extends LossOptions {
  /** Required gap between the anchor-negative and anchor-positive distances. Default 0.05. */
  margin?: number;
  /** Use d(p, n) instead of d(a, n) when it is the smaller (PML's `swap`). Default false. */
  swap?: boolean;
  /** softplus instead of the hinge (PML's `smooth_loss`). Default false. */
  smoothLoss?: boolean;
  /**
   * Anchors per block when all triplets are used (not a PML option): memory is
   * `anchorsPerBlock × k × (m − k)` floats for a class of `k`. Default: as many as fit in 2²²
   * elements (at least 1).
   */
  anchorsPerBlock?: number;
}

/**
 * Triplet margin loss (PML's `TripletMarginLoss`): each triplet `(a, p, n)` pays
 * `relu(d(a,p) − d(a,n) + margin)` (for a similarity: `relu(s(a,n) − s(a,p) + margin)`;
 * `softplus` instead of `relu` with `smoothLoss`), reduced by default with `"avgNonZero"`. All
 * triplets of the batch (against `refEmbeddings` when given) unless `indices` are given (pairs
 * from a pair miner are turned into triplets as PML does). Defaults: Euclidean distance on
 * L2-normalised embeddings, margin 0.05. A batch without triplets gives 0.
 *
 * With all triplets and the reducers `"mean"`, `"sum"`, `"avgNonZero"`, `threshold` or
 * `classWeighted`, the loss is computed in blocks of anchors of one class: a block holds
 * `rows × k × (m − k)` values, never `[n, n, n]`.
 *
 * @param embeddings `[n, d]`
 * @param labels `[n]`
 * @returns a scalar; with `reduction: "none"` a `[t]` tensor, one loss per triplet in PML's order
 * @throws Error for a bad margin, `swap` with `refEmbeddings` (PML indexes the batch with reference
 *   indices there), or `reduction: { name: "perAnchor" }` (not defined for triplets).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { tripletMarginLoss } from "./triplet.ts";
 * const e = tf.tensor2d([[1, 0], [0.8, 0.6], [0.9, 0.1]]);
 * const v = tripletMarginLoss(e, [0, 0, 1], { margin: 0.2 }).dataSync()[0];
 * assert.ok(Math.abs(v - 0.5139) < 1e-4); // the mean of the triplets' 0.7221 and 0.3057
 * ```
 */
export const tripletMarginLoss: Loss<TripletMarginLossOptions> = defineLoss<
  TripletMarginLossOptions
>({
  name: "tripletMarginLoss",
  distance: "euclidean",
  reduction: "avgNonZero",
  wrappers: { selfSupervised: true, crossBatchMemory: true },
  options: {
    margin: opt.margin(0.05),
    swap: opt.boolean(false),
    smoothLoss: opt.boolean(false),
    anchorsPerBlock: opt.integer(undefined, { min: 1 }, true),
  },
  compute(ctx, o) {
    if (o.swap && ctx.hasRef) {
      throw new Error(`${ctx.fn}: swap is not supported with refEmbeddings`);
    }
    const reducer = ctx.reducerFor("loss");
    const fused = ctx.indices === undefined ? fusedReduction(ctx, reducer) : undefined;
    if (fused) {
      const value = allTriplets(ctx, fused, o);
      return { loss: value ? { kind: "reduced", value } : { kind: "zero" } };
    }
    const t = ctx.triplets();
    if (t.a.length === 0) return ctx.zero();
    const m = ctx.m;
    const flat = tf.reshape(ctx.mat(), [-1]);
    const at = (rows: Int32Array, cols: Int32Array, width: number) =>
      tf.gather(flat, tf.tensor1d(rows.map((r, i) => r * width + cols[i]), "int32"));
    const ap = at(t.a, t.p, m);
    let an = at(t.a, t.n, m);
    if (o.swap) {
      const pn = at(t.p, t.n, m);
      an = ctx.distance.inverted ? tf.maximum(an, pn) : tf.minimum(an, pn);
    }
    const violation = tf.add(ctx.margin(ap, an), o.margin);
    const losses = o.smoothLoss ? tf.softplus(violation) : tf.relu(violation);
    return { loss: { kind: "triplet", losses, anchors: t.a } };
  },
});

/** A reduction folded into the blocked computation: Σ w_c·ℓ·mask / denominator. */
interface Fused {
  /** `"total"`: divide by the number of triplets; `"one"`: sum; `"count"`: by Σ mask. */
  denominator: "total" | "one" | "count";
  low?: number;
  high?: number;
  /** Weight of the anchors of a class (ClassWeighted). */
  classWeight?: (label: number) => number;
}

function fusedReduction(ctx: LossContext, r: Reducer): Fused | undefined {
  switch (r.name) {
    case "mean":
      return { denominator: "total" };
    case "sum":
      return { denominator: "one" };
    case "threshold":
      return { denominator: "count", low: r.low, high: r.high };
    case "classWeighted":
      return {
        denominator: "total",
        classWeight: (label) => {
          if (!(label >= 0 && label < r.weights.length)) {
            throw new Error(
              `${ctx.fn}: reduction classWeighted has no weight for class ${label} ` +
                `(weights has ${r.weights.length} entries)`,
            );
          }
          return r.weights[label];
        },
      };
    default:
      return undefined;
  }
}

/** One block of anchors of one class, in the class-sorted orders of rows and columns. */
interface Block {
  /** First row of the class (permuted rows), first anchor within the class, block rows. */
  rowStart: number;
  r0: number;
  rows: number;
  /** First positive column (permuted columns) and number of positives. */
  colStart: number;
  size: number;
  /** Weight of the block's anchors (ClassWeighted), else 1. */
  weight: number;
}

/** Groups indices by label, in order of first appearance. */
function byLabel(labels: Int32Array): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = out.get(labels[i]);
    if (list) list.push(i);
    else out.set(labels[i], [i]);
  }
  return out;
}

/**
 * All-triplet loss in blocks, reduced as `fused` says; `undefined` when there is no triplet.
 * Rows (batch) and columns (reference set) of the distance matrix are permuted so that each
 * class is contiguous; for a block of anchors of class c only its `k_c` positive and `m − k_c`
 * negative columns are crossed, so a block holds `rows × k_c × (m − k_c)` values (never
 * `[n, n, n]`), and the work is about `n·m² / (number of classes)`. The gradient with respect to
 * the distance matrix is written by hand (recomputing each block), so that nothing of size
 * `[·, m, m]` is kept for the backward pass.
 */
function allTriplets(
  ctx: LossContext,
  fused: Fused,
  o: { margin: number; swap: boolean; smoothLoss: boolean; anchorsPerBlock?: number },
): tf.Scalar | undefined {
  const { n, m, hasRef } = ctx;
  const y = ctx.labels, refY = hasRef ? ctx.refLabels : y;
  const rowGroups = byLabel(y), colGroups = byLabel(refY);
  const rowPerm: number[] = [], colPerm: number[] = [];
  const colStartOf = new Map<number, number>();
  for (const [label, members] of colGroups) {
    colStartOf.set(label, colPerm.length);
    colPerm.push(...members);
  }
  const classes: { rowStart: number; rows: number; colStart: number; size: number }[] = [];
  let total = 0;
  const self = ctx.excludeSelf ? 1 : 0;
  const blocks: Block[] = [];
  for (const [label, members] of rowGroups) {
    const rowStart = rowPerm.length;
    rowPerm.push(...members);
    const size = colGroups.get(label)?.length ?? 0;
    const colStart = colStartOf.get(label) ?? 0;
    classes.push({ rowStart, rows: members.length, colStart, size });
    const neg = m - size;
    if (size - self < 1 || neg === 0) continue;
    total += members.length * (size - self) * neg;
    const weight = fused.classWeight ? fused.classWeight(label) : 1;
    const per = o.anchorsPerBlock ?? Math.max(1, Math.floor((1 << 22) / Math.max(1, size * neg)));
    for (let r0 = 0; r0 < members.length; r0 += per) {
      blocks.push({
        rowStart,
        r0,
        rows: Math.min(per, members.length - r0),
        colStart,
        size,
        weight,
      });
    }
  }
  if (total === 0) return undefined;
  const invRow = new Int32Array(n), invCol = new Int32Array(m);
  rowPerm.forEach((orig, i) => (invRow[orig] = i));
  colPerm.forEach((orig, i) => (invCol[orig] = i));
  const sign = ctx.distance.inverted ? -1 : 1; // violation = sign·(ap − an) + margin
  const act = o.smoothLoss ? tf.softplus : tf.relu;

  /** Negative columns of some rows: everything outside the class's positive columns. */
  const negCols = (rows: tf.Tensor2D, start: number, size: number) => {
    const parts: tf.Tensor2D[] = [];
    if (start > 0) parts.push(tf.slice(rows, [0, 0], [-1, start]));
    if (start + size < m) parts.push(tf.slice(rows, [0, start + size], [-1, -1]));
    return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
  };
  /** Violations `[rows, k, m − k]`, the kept-element mask, and (swap) where a-n was kept. */
  const blockTerms = (dp: tf.Tensor2D, b: Block) => {
    const rows = tf.slice(dp, [b.rowStart + b.r0, 0], [b.rows, m]);
    const ap = tf.reshape(tf.slice(rows, [0, b.colStart], [b.rows, b.size]), [b.rows, b.size, 1]);
    let an: tf.Tensor = tf.expandDims(negCols(rows, b.colStart, b.size), 1); // [rows, 1, m − k]
    let keepAn: tf.Tensor | undefined;
    if (o.swap) {
      const classRows = tf.slice(dp, [b.rowStart, 0], [b.size, m]);
      const pn = tf.expandDims(negCols(classRows, b.colStart, b.size), 0); // [1, k, m − k]
      const shape = [b.rows, b.size, m - b.size];
      const anB = tf.broadcastTo(an, shape), pnB = tf.broadcastTo(pn, shape);
      const keep = ctx.distance.inverted ? tf.greaterEqual(anB, pnB) : tf.lessEqual(anB, pnB);
      an = tf.where(keep, anB, pnB);
      keepAn = tf.cast(keep, "float32");
    }
    const v = tf.add(tf.mul(tf.sub(ap, an), sign), o.margin);
    const notSelf = new Float32Array(b.rows * b.size).fill(1);
    if (self) { for (let r = 0; r < b.rows; r++) notSelf[r * b.size + b.r0 + r] = 0; }
    let mask: tf.Tensor = tf.tensor3d(notSelf, [b.rows, b.size, 1]);
    const l = tf.mul(act(v), mask);
    if (fused.low !== undefined) mask = tf.mul(mask, tf.step(tf.sub(l, fused.low)));
    if (fused.high !== undefined) mask = tf.mul(mask, tf.step(tf.sub(fused.high, l)));
    return { v, l, mask, keepAn };
  };
  const permute = (mat: tf.Tensor2D) =>
    tf.gather(tf.gather(mat, rowPerm, 0), colPerm, 1) as tf.Tensor2D;

  const loss = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (mat: any, save: any) => {
      const dp = permute(mat as tf.Tensor2D);
      let sum: tf.Tensor = tf.scalar(0), kept: tf.Tensor = tf.scalar(0);
      for (const b of blocks) {
        const [s, c] = tf.tidy(() => {
          const { l, mask } = blockTerms(dp, b);
          return [tf.mul(tf.sum(tf.mul(l, mask)), b.weight), tf.sum(mask)];
        });
        const s2 = tf.add(sum, s), c2 = tf.add(kept, c);
        tf.dispose([sum, kept, s, c]);
        sum = s2, kept = c2;
      }
      const scale = fused.denominator === "one"
        ? tf.scalar(1)
        : fused.denominator === "total"
        ? tf.scalar(1 / total)
        : tf.div(1, tf.maximum(kept, 1));
      const value = tf.mul(sum, scale);
      save([mat, scale]);
      tf.dispose([sum, kept, dp]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [mt, sc] = saved as [tf.Tensor2D, tf.Tensor];
          return tf.tidy(() => {
            const dp = permute(mt);
            const rowGrads: tf.Tensor[] = [];
            for (const c of classes) {
              const mine = blocks.filter((b) => b.rowStart === c.rowStart);
              if (mine.length === 0) {
                rowGrads.push(tf.zeros([c.rows, m]));
                continue;
              }
              const parts: tf.Tensor[] = [];
              let pnGrad: tf.Tensor | undefined;
              for (const b of mine) {
                const { v, mask, keepAn } = blockTerms(dp, b);
                const slope = o.smoothLoss ? tf.sigmoid(v) : tf.step(v);
                const dv = tf.mul(tf.mul(slope, mask), b.weight);
                const gAp = tf.mul(tf.sum(dv, 2), sign); // [rows, k]
                const gAn = tf.mul(tf.sum(keepAn ? tf.mul(dv, keepAn) : dv, 1), -sign);
                parts.push(spread(gAp, gAn, b.colStart, b.size));
                if (keepAn) {
                  const g = tf.mul(tf.sum(tf.mul(dv, tf.sub(1, keepAn)), 0), -sign);
                  pnGrad = pnGrad ? tf.add(pnGrad, g) : g;
                }
              }
              let classGrad: tf.Tensor = tf.concat(parts, 0);
              if (pnGrad) {
                // swap (no reference set): the positives are this class's rows.
                classGrad = tf.add(
                  classGrad,
                  spread(tf.zeros([c.rows, c.size]), pnGrad, c.colStart, c.size),
                );
              }
              rowGrads.push(classGrad);
            }
            const gp = tf.concat(rowGrads, 0) as tf.Tensor2D; // permuted order
            const g = tf.gather(tf.gather(gp, invRow, 0), invCol, 1);
            return tf.mul(g, tf.mul(dy, sc));
          });
        },
      };
    },
  );
  return loss(ctx.mat()) as tf.Scalar;

  /** Puts positive-column and negative-column gradients back into `[rows, m]` layout. */
  function spread(gPos: tf.Tensor, gNeg: tf.Tensor, start: number, size: number): tf.Tensor {
    const parts: tf.Tensor[] = [];
    if (start > 0) parts.push(tf.slice(gNeg, [0, 0], [-1, start]));
    parts.push(gPos);
    if (start + size < m) parts.push(tf.slice(gNeg, [0, start], [-1, -1]));
    return tf.concat(parts, 1);
  }
}
