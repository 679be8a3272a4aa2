/**
 * All triplets of a batch in blocks, for losses whose value depends on each triplet's own
 * `d(a,p) − d(a,n)` in a way that does not fold into pair sums: the rows (anchors) and columns
 * (reference rows) of the `[n, m]` distance matrix are permuted so that each class is contiguous,
 * and a block of anchors of one class crosses only its `k` positive and `m − k` negative columns,
 * `rows × k × (m − k)` values, never `[n, n, n]`. The same layout takes gradients with respect to
 * each block's positive and negative distances back to the `[n, m]` matrix.
 *
 * Internal.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A block of anchors of one class (permuted order). */
export interface TripletBlock {
  /** First row of the class, first anchor of the block within the class, rows in the block. */
  rowStart: number;
  r0: number;
  rows: number;
  /** First positive column of the class and its number of positive columns `k`. */
  colStart: number;
  size: number;
}

/** The layout of all triplets of a batch against a reference set. */
export interface TripletBlocks {
  /** Number of triplets (anchor ≠ positive without a separate reference set). */
  total: number;
  blocks: TripletBlock[];
  /** The `[n, m]` matrix in the classes' order. */
  permute(mat: tf.Tensor2D): tf.Tensor2D;
  /**
   * A block of the permuted matrix: `ap` `[rows, k, 1]`, `an` `[rows, 1, m − k]`, and `mask`
   * `[rows, k, 1]` (0 where the positive is the anchor itself).
   */
  block(dp: tf.Tensor2D, b: TripletBlock): { ap: tf.Tensor; an: tf.Tensor; mask: tf.Tensor };
  /**
   * The `[n, m]` gradient (original order) from each block's gradients with respect to its
   * positive distances `[rows, k]` and negative distances `[rows, m − k]`, given in block order.
   */
  assemble(parts: { gAp: tf.Tensor; gAn: tf.Tensor }[]): tf.Tensor2D;
}

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
 * The blocks of all triplets.
 *
 * @param labels `[n]` batch labels
 * @param refLabels `[m]` reference labels (`undefined`: the batch is its own reference set)
 * @param maxElements largest block, in elements
 * @example
 * ```ts
 * import { tripletBlocks } from "./_triplet_blocks.ts";
 * tripletBlocks(Int32Array.of(0, 0, 1)).total; // 2
 * ```
 */
export function tripletBlocks(
  labels: Int32Array,
  refLabels?: Int32Array,
  maxElements = 1 << 22,
): TripletBlocks {
  const hasRef = refLabels !== undefined;
  const refY = refLabels ?? labels;
  const n = labels.length, m = refY.length;
  const rowGroups = byLabel(labels), colGroups = byLabel(refY);
  const rowPerm: number[] = [], colPerm: number[] = [];
  const colStartOf = new Map<number, number>();
  for (const [label, members] of colGroups) {
    colStartOf.set(label, colPerm.length);
    colPerm.push(...members);
  }
  const classes: { rowStart: number; rows: number; colStart: number; size: number }[] = [];
  const blocks: TripletBlock[] = [];
  const self = hasRef ? 0 : 1;
  let total = 0;
  for (const [label, members] of rowGroups) {
    const rowStart = rowPerm.length;
    rowPerm.push(...members);
    const size = colGroups.get(label)?.length ?? 0;
    const colStart = colStartOf.get(label) ?? 0;
    classes.push({ rowStart, rows: members.length, colStart, size });
    const neg = m - size;
    if (size - self < 1 || neg === 0) continue;
    total += members.length * (size - self) * neg;
    const per = Math.max(1, Math.floor(maxElements / Math.max(1, size * neg)));
    for (let r0 = 0; r0 < members.length; r0 += per) {
      blocks.push({ rowStart, r0, rows: Math.min(per, members.length - r0), colStart, size });
    }
  }
  const invRow = new Int32Array(n), invCol = new Int32Array(m);
  rowPerm.forEach((orig, i) => (invRow[orig] = i));
  colPerm.forEach((orig, i) => (invCol[orig] = i));

  const negCols = (rows: tf.Tensor2D, start: number, size: number) => {
    const parts: tf.Tensor2D[] = [];
    if (start > 0) parts.push(tf.slice(rows, [0, 0], [-1, start]));
    if (start + size < m) parts.push(tf.slice(rows, [0, start + size], [-1, -1]));
    return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
  };
  const spread = (gPos: tf.Tensor, gNeg: tf.Tensor, start: number, size: number) => {
    const parts: tf.Tensor[] = [];
    if (start > 0) parts.push(tf.slice(gNeg, [0, 0], [-1, start]));
    parts.push(gPos);
    if (start + size < m) parts.push(tf.slice(gNeg, [0, start], [-1, -1]));
    return tf.concat(parts, 1);
  };
  return {
    total,
    blocks,
    permute: (mat) => tf.gather(tf.gather(mat, rowPerm, 0), colPerm, 1) as tf.Tensor2D,
    block(dp, b) {
      const rows = tf.slice(dp, [b.rowStart + b.r0, 0], [b.rows, m]) as tf.Tensor2D;
      const ap = tf.reshape(tf.slice(rows, [0, b.colStart], [b.rows, b.size]), [
        b.rows,
        b.size,
        1,
      ]);
      const an = tf.expandDims(negCols(rows, b.colStart, b.size), 1);
      const notSelf = new Float32Array(b.rows * b.size).fill(1);
      if (!hasRef) { for (let r = 0; r < b.rows; r++) notSelf[r * b.size + b.r0 + r] = 0; }
      return { ap, an, mask: tf.tensor3d(notSelf, [b.rows, b.size, 1]) };
    },
    assemble(parts) {
      const rowGrads: tf.Tensor[] = [];
      let next = 0;
      for (const c of classes) {
        const mine: tf.Tensor[] = [];
        while (next < blocks.length && blocks[next].rowStart === c.rowStart) {
          const { gAp, gAn } = parts[next];
          mine.push(spread(gAp, gAn, c.colStart, c.size));
          next++;
        }
        rowGrads.push(mine.length === 0 ? tf.zeros([c.rows, m]) : tf.concat(mine, 0));
      }
      const gp = tf.concat(rowGrads, 0);
      return tf.gather(tf.gather(gp, invRow, 0), invCol, 1) as tf.Tensor2D;
    },
  };
}
