/**
 * Squared distances `Δᵀ S Δ` between all rows of `a` and `b` (Δ = aᵢ − bⱼ), right in float32
 * for data far from the origin: the quantity behind `euclidean`, `sqeuclidean`, `seuclidean`,
 * `mahalanobis` and the noise of `snr` in `distances.ts`.
 *
 * The matmul expansion ‖x‖² + ‖y‖² − 2x·y (even after centring on the data) has an absolute
 * float32 error of about ε·(‖x′‖² + ‖y′‖²) (x′, y′ the centred rows), which swallows a distance
 * that is small next to the data's spread: `[[1000, 1000]]` against `[[0, 0], [1000.0625,
 * 1000]]` gave 0 instead of 0.0625. So:
 *
 * - up to {@linkcode EXACT_PAIRWISE_ELEMENTS} (n·m·d; every loss batch of the benches) the
 *   differences are taken exactly: on `wasm` (with our kernels registered) the plain and diagonal
 *   forms are one `SimlearnPairwiseSquares` kernel (`kernels/pairwise_squares.ts`, the same
 *   bits); otherwise `[rows, m, d]` in row blocks of at most
 *   max({@linkcode EXACT_BLOCK_FACTOR}·n·m, {@linkcode EXACT_BLOCK_ELEMENTS}) elements, so that
 *   memory stays `O(n·m)` as in the expansion while a loss batch takes few blocks; no read-back,
 *   so it runs on every backend;
 * - above it, the centred expansion, then every pair whose value is below its float32 error
 *   bound ({@linkcode REFINE_TOLERANCE}·(d + 2)·(‖x′‖²_S + ‖y′‖²_S)) is recomputed from exact
 *   differences (one synchronous read-back of the flags). The pairs kept have a relative error
 *   of at most 2⁻¹¹ in the worst case; measured, at most 6.6e-5 (d = 8), 3.1e-5 (d = 33) and
 *   4.3e-6 (d = 128) for pairs placed just above the bound, about 2e-7 on random data. The
 *   nearest pairs, those a ranking turns on, are the ones recomputed. On `webgpu`, where
 *   synchronous read-backs fail under Deno, large inputs take the exact blocked path.
 *
 * Both paths share one custom gradient, the closed form on centred rows
 * (`2 S Σⱼ Gᵢⱼ (aᵢ − bⱼ)` as two matrix products), finite everywhere; nothing of the forward
 * pass (read-back, gather, scatter) is on the tape.
 *
 * Internal.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { pairwiseSquares } from "./kernels/pairwise_squares.ts";

/**
 * n·m·d up to which {@linkcode squaredDistances} takes exact differences. Measured by
 * `deno task bench pairwise` (wasm, 2 threads, d = 64, forward and backward of a `[n, n]`
 * matrix, under load): the exact path costs 3–5× the plain expansion (about 5 ms against 1 ms
 * at 2²⁰, a loss batch of 128 × 64), the refined path 1–2×; below this size the difference is a
 * few milliseconds, and the exact path is right for every pair without a read-back.
 */
export const EXACT_PAIRWISE_ELEMENTS = 1 << 21;

/**
 * The least elements of one row block `[rows, m, d]` of the exact path; a block holds at most
 * max({@linkcode EXACT_BLOCK_FACTOR}·n·m, this) elements (one row when a row alone is larger).
 */
export const EXACT_BLOCK_ELEMENTS = 1 << 12;

/**
 * How many `[n, m]` results one row block of the exact path may hold. With 1 (blocks of the
 * result's size) a `[128, 64]` loss batch took 64 blocks of four operations each, and the MLP's
 * training step spent more time in engine overhead than in the distances (`deno task bench train
 * --profile --models mlp`); with 2 it takes 32, while a block stays O(n·m) and below the n³/21
 * elements that the losses' no-cubic-tensor tests allow (`[64, 8]` batches).
 */
export const EXACT_BLOCK_FACTOR = 2;

/**
 * Pairs of the expansion whose value is below `REFINE_TOLERANCE·(d + 2)·(‖x′‖² + ‖y′‖²)` are
 * recomputed: the expansion's worst-case relative error ((d + 2)·ε·(‖x′‖² + ‖y′‖²) over the
 * value, ε = 2⁻²⁴) is then at most 2⁻¹¹ on the pairs kept, and typically far less.
 */
export const REFINE_TOLERANCE = 2 ** -13;

/**
 * How differences are measured: `plain` Σ Δₖ², `diagonal` Σ wₖ Δₖ² (`w` may carry a gradient,
 * e.g. `seuclidean`'s data-dependent 1/V), `matrix` Δ S Δᵀ (`s` symmetric, no gradient), or
 * `centred` Σ (Δₖ − mean Δ)² (the noise of PML's `SNRDistance`).
 */
export type SquaredForm =
  | { kind: "plain" }
  | { kind: "diagonal"; w: tf.Tensor1D }
  | { kind: "matrix"; s: tf.Tensor2D }
  | { kind: "centred" };

/** The form's value of differences `[..., d]` → `[...]`. */
function measure(diff: tf.Tensor, form: SquaredForm, w?: tf.Tensor): tf.Tensor {
  const last = diff.rank - 1;
  switch (form.kind) {
    case "plain":
      return tf.sum(tf.square(diff), last);
    case "diagonal":
      return tf.sum(tf.mul(tf.square(diff), w!), last);
    case "matrix": {
      const d = diff.shape[last];
      const q = tf.reshape(tf.matMul(tf.reshape(diff, [-1, d]), form.s), diff.shape);
      return tf.sum(tf.mul(q, diff), last);
    }
    case "centred": {
      // Two-pass: a difference far from 0 (y = x + a large shift) has a float32 mean off by half
      // an ulp of the shift; the mean of the residuals removes it.
      const r = tf.sub(diff, tf.mean(diff, last, true));
      return tf.sum(tf.square(tf.sub(r, tf.mean(r, last, true))), last);
    }
  }
}

/** Rows of `a` and `b` in the frame the gradient and the error bound use (translation-free). */
function centredPair(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm,
): [tf.Tensor2D, tf.Tensor2D] {
  const c = tf.mean(b, 0, true);
  let ca = tf.sub(a, c) as tf.Tensor2D;
  let cb = a === b ? ca : tf.sub(b, c) as tf.Tensor2D;
  if (form.kind === "centred") {
    ca = tf.sub(ca, tf.mean(ca, 1, true));
    cb = a === b ? ca : tf.sub(cb, tf.mean(cb, 1, true));
  }
  return [ca, cb];
}

/** Exact values, `[n, m]`, in row blocks of at most max(2·n·m, {@linkcode EXACT_BLOCK_ELEMENTS}). */
function exactForward(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm,
  w?: tf.Tensor,
): tf.Tensor2D {
  if (form.kind === "plain" || form.kind === "diagonal") {
    // One kernel, no [n, m, d] tensor, the same bits as the blocks below (wasm).
    const direct = pairwiseSquares(a, b, form.kind === "diagonal" ? w as tf.Tensor1D : undefined);
    if (direct !== undefined) return direct;
  }
  const [n, d] = a.shape;
  const m = b.shape[0];
  const budget = Math.max(EXACT_BLOCK_FACTOR * n * m, EXACT_BLOCK_ELEMENTS);
  const rows = Math.max(1, Math.floor(budget / Math.max(1, m * d)));
  const bb = tf.expandDims(b, 0);
  if (n <= rows) return measure(tf.sub(tf.expandDims(a, 1), bb), form, w) as tf.Tensor2D;
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += rows) {
    const r = Math.min(rows, n - start);
    parts.push(
      tf.tidy(() =>
        measure(tf.sub(tf.expandDims(tf.slice(a, [start, 0], [r, d]), 1), bb), form, w)
      ),
    );
  }
  const out = tf.concat(parts, 0) as tf.Tensor2D;
  tf.dispose(parts);
  return out;
}

/**
 * The gradient of Σᵢⱼ Gᵢⱼ Δᵢⱼᵀ S Δᵢⱼ: 2·(a′ᵢ Σⱼ Gᵢⱼ − Σⱼ Gᵢⱼ b′ⱼ)·S for `a`, the mirror for `b`,
 * and for a diagonal `w`: Σᵢⱼ Gᵢⱼ (a′ᵢₖ − b′ⱼₖ)².
 */
function exactGradient(
  g: tf.Tensor2D,
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm,
  w?: tf.Tensor1D,
): tf.Tensor[] {
  const [ca, cb] = centredPair(a, b, form);
  const rowG = tf.sum(g, 1, true); // [n, 1]
  const colG = tf.reshape(tf.sum(g, 0), [-1, 1]); // [m, 1]
  const gcb = tf.matMul(g, cb); // [n, d]
  const gca = tf.matMul(g, ca, true, false); // [m, d]
  let u: tf.Tensor = tf.mul(tf.sub(tf.mul(ca, rowG), gcb), 2);
  let v: tf.Tensor = tf.mul(tf.sub(tf.mul(cb, colG), gca), 2);
  if (form.kind === "matrix") {
    u = tf.matMul(u, form.s);
    v = tf.matMul(v, form.s);
  } else if (form.kind === "diagonal") {
    const gw = tf.sub(
      tf.add(tf.sum(tf.mul(tf.square(ca), rowG), 0), tf.sum(tf.mul(tf.square(cb), colG), 0)),
      tf.mul(tf.sum(tf.mul(ca, gcb), 0), 2),
    );
    return [tf.mul(u, w!), tf.mul(v, w!), gw];
  }
  return [u, v];
}

/**
 * Which forward pass {@linkcode squaredDistances} takes: `auto` (exact differences up to
 * {@linkcode EXACT_PAIRWISE_ELEMENTS} and on `webgpu`, else refined), or one of them forced
 * (for `deno task bench pairwise`).
 */
export type SquaredPath = "auto" | "exact" | "refined";

/** The value by `path`. */
function forward(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm,
  path: SquaredPath,
  w?: tf.Tensor,
): tf.Tensor2D {
  const [n, d] = a.shape;
  const m = b.shape[0];
  const exact = path === "auto"
    ? n * m * d <= EXACT_PAIRWISE_ELEMENTS || tf.getBackend() === "webgpu"
    : path === "exact";
  return exact ? exactForward(a, b, form, w) : refinedForward(a, b, form, w);
}

/**
 * `plain` or `centred` (no tensor to save besides the rows) under the closed-form gradient. The
 * same tensor twice (a batch against itself) is one input: its rows are saved and centred once,
 * and its gradient is the sum of both sides' (as autograd would add them).
 */
function withGradient(kind: "plain" | "centred", path: SquaredPath) {
  const form = { kind } as SquaredForm;
  const pair = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (a: any, b: any, save: any) => {
      save([a, b]);
      return {
        value: forward(a, b, form, path),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          exactGradient(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, form),
      };
    },
  ) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
  const self = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (a: any, save: any) => {
      save([a]);
      return {
        value: forward(a, a, form, path),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const x = saved[0] as tf.Tensor2D;
          const [u, v] = exactGradient(dy as tf.Tensor2D, x, x, form);
          return tf.add(u, v);
        },
      };
    },
  ) as unknown as (a: tf.Tensor2D) => tf.Tensor2D;
  return (a: tf.Tensor2D, b: tf.Tensor2D) => a === b ? self(a) : pair(a, b);
}

/**
 * The value of either path under one custom gradient, the closed form of
 * {@linkcode exactGradient} (`s` and `w` are saved for the backward pass). Nothing of the
 * forward pass (the read-back, the gather and scatter of the refined pairs) is on the tape.
 */
function withForm(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm,
  path: SquaredPath,
): tf.Tensor2D {
  if (form.kind === "plain" || form.kind === "centred") return withGradient(form.kind, path)(a, b);
  if (form.kind === "matrix") {
    const f = tf.customGrad(
      // deno-lint-ignore no-explicit-any
      (x: any, y: any, save: any) => {
        save([x, y, form.s]);
        return {
          value: forward(x, y, form, path),
          gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) =>
            exactGradient(dy as tf.Tensor2D, s[0] as tf.Tensor2D, s[1] as tf.Tensor2D, {
              kind: "matrix",
              s: s[2] as tf.Tensor2D,
            }),
        };
      },
    ) as unknown as (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D;
    return f(a, b);
  }
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    (x: any, y: any, w: any, save: any) => {
      save([x, y, w]);
      return {
        value: forward(x, y, { kind: "diagonal", w }, path, w),
        gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) =>
          exactGradient(
            dy as tf.Tensor2D,
            s[0] as tf.Tensor2D,
            s[1] as tf.Tensor2D,
            form,
            s[2] as tf.Tensor1D,
          ),
      };
    },
  ) as unknown as (x: tf.Tensor2D, y: tf.Tensor2D, w: tf.Tensor1D) => tf.Tensor2D;
  return f(a, b, form.w);
}

/** The centred expansion x′ᵀSx′ + y′ᵀSy′ − 2x′ᵀSy′ (clamped at 0) and its two norm terms. */
function expansion(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm,
): { value: tf.Tensor2D; na: tf.Tensor; nb: tf.Tensor } {
  const [ca, cb] = centredPair(a, b, form);
  // Rows mapped so that the form is a plain dot product: x·sqrt(w), or x·S (paired with x).
  let pa: tf.Tensor2D = ca, pb: tf.Tensor2D = cb, qa: tf.Tensor2D = ca, qb: tf.Tensor2D = cb;
  if (form.kind === "diagonal") {
    const r = tf.sqrt(form.w);
    pa = qa = tf.mul(ca, r) as tf.Tensor2D;
    pb = qb = a === b ? pa : tf.mul(cb, r) as tf.Tensor2D;
  } else if (form.kind === "matrix") {
    qa = tf.matMul(ca, form.s);
    qb = a === b ? qa : tf.matMul(cb, form.s);
  }
  const na = tf.sum(tf.mul(pa, qa), 1, true); // [n, 1]
  const nb = a === b ? tf.reshape(na, [1, -1]) : tf.reshape(tf.sum(tf.mul(pb, qb), 1), [1, -1]);
  const cross = tf.matMul(qa, pb, false, true);
  const value = tf.relu(tf.sub(tf.add(na, nb), tf.mul(cross, 2))) as tf.Tensor2D;
  return { value, na, nb };
}

/**
 * The expansion with the pairs below its error bound replaced by exact values (one read-back of
 * the flags). Forward only: the gradient is {@linkcode exactGradient}'s.
 */
function refinedForward(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm,
  w?: tf.Tensor,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, d] = a.shape;
    const m = b.shape[0];
    const { value, na, nb } = expansion(a, b, form);
    const bound = tf.mul(tf.abs(tf.add(na, nb)), REFINE_TOLERANCE * (d + 2));
    const marked = tf.less(value, bound).dataSync();
    const pairs: number[] = [], rows: number[] = [], cols: number[] = [];
    for (let k = 0; k < marked.length; k++) {
      const i = Math.floor(k / m), j = k % m;
      if (marked[k] && !(a === b && i === j)) pairs.push(i, j), rows.push(i), cols.push(j);
    }
    // The same tensor twice: a zero diagonal (the expansion leaves round-off there).
    const self = a === b ? tf.mul(value, tf.sub(1, tf.eye(n))) as tf.Tensor2D : value;
    if (rows.length === 0) return self;
    const diff = tf.sub(
      tf.gather(a, tf.tensor1d(rows, "int32")),
      tf.gather(b, tf.tensor1d(cols, "int32")),
    );
    return tf.tensorScatterUpdate(
      self,
      tf.tensor2d(pairs, [rows.length, 2], "int32"),
      measure(diff, form, w),
    ) as tf.Tensor2D;
  });
}

/**
 * All squared distances `Δᵀ S Δ` between the rows of `a` and `b` under `form`, for data at any
 * offset: to float32 round-off of the differences on the exact path, within the refined path's
 * bound above it (see the module documentation). When `a` and `b` are the same tensor the
 * diagonal is exactly 0. Gradients are the closed form, finite everywhere.
 *
 * @param a `[n, d]`
 * @param b `[m, d]`
 * @param form how differences are measured (default Σ Δₖ²)
 * @param path `auto` (default) or a forced path, for the bench
 * @returns `[n, m]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { squaredDistances } from "./_squared_distances.ts";
 * const a = tf.tensor2d([[1000, 1000]]);
 * const b = tf.tensor2d([[0, 0], [1000.0625, 1000]]);
 * assert.deepEqual(Array.from(squaredDistances(a, b).dataSync()), [2e6, 0.0625 ** 2]);
 * ```
 */
export function squaredDistances(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  form: SquaredForm = { kind: "plain" },
  path: SquaredPath = "auto",
): tf.Tensor2D {
  const n = a.shape[0];
  const m = b.shape[0];
  if (n === 0 || m === 0) return tf.zeros([n, m]);
  return tf.tidy(() => withForm(a, b, form, path));
}
