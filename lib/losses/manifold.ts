/**
 * The manifold loss (Aziere & Todorovic 2019, "Ensemble Deep Manifold Similarity Learning using
 * Hard Proxies"), as pytorch-metric-learning (PML) 2.9 defines it: a random walk over the graph of
 * the batch and `K` learnable proxies gives manifold similarities, and each sample is pulled
 * towards its proxy on that manifold. Unsupervised: no labels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineLoss, type Loss, opt, type ParametrizedLossOptions } from "./_template.ts";
import { createRng, type Rng } from "../data/random.ts";

/** Options of {@linkcode manifoldLoss}; defaults are PML's `ManifoldLoss`. */
export interface ManifoldLossOptions
  extends Omit<ParametrizedLossOptions, "indices" | "refEmbeddings" | "refLabels"> {
  /** The embedding size (PML's required `l`); default: the embeddings' `d`. */
  l?: number;
  /** Number of proxies. An integer ≥ 1; default 50. */
  K?: number;
  /** Weight λ_C of the context loss. A finite number ≥ 0; default 1. */
  lambdaC?: number;
  /** Random-walk parameter α, in (0, 1): how much similarity passes to neighbours. Default 0.8. */
  alpha?: number;
  /** Margin of both hinge terms. A finite number ≥ 0; default 5e-4. */
  margin?: number;
  /**
   * The proxy of each row, `[n]` integers in `[0, K)` (PML's `indices_tuple` for this loss).
   * Default: drawn as PML draws them — each proxy once, the other `n − K` uniformly, shuffled.
   */
  metaClasses?: readonly number[] | Int32Array;
  /**
   * The random source of the default `metaClasses` (`createRng(seed)` from `data/random.ts`); it
   * advances, so one generator made outside the training step gives fresh draws at every step.
   * Default: a generator seeded with 0 at each call. PyTorch's draws cannot be reproduced.
   */
  rng?: Rng;
  /**
   * The proxies `[K, l]` (PML's `nn.Parameter`, initialised N(0, 1)): required in this functional
   * form; a `TrainableLoss` owns them as a variable.
   */
  proxies?: tf.Tensor;
}

/**
 * `A⁻¹` for `A = I − αS̄`, `S̄` symmetric with spectral radius ≤ 1 and `0 < α < 1`, by
 * Newton–Schulz iterations from `X₀ = I`: the residual `I − AXₖ` is `(αS̄)^(2ᵏ)`, below 10⁻⁹
 * after `⌈log₂(ln 10⁻⁹ / ln α)⌉` steps. Pure tensor operations (any backend), with the exact
 * gradient `−A⁻ᵀ G A⁻ᵀ` of the inverse.
 */
function randomWalkInverse(a: tf.Tensor2D, alpha: number): tf.Tensor2D {
  const steps = Math.min(64, Math.ceil(Math.log2(Math.log(1e-9) / Math.log(alpha))) + 1);
  // deno-lint-ignore no-explicit-any
  const f = tf.customGrad((x: any, save: any) => {
    const m = x as tf.Tensor2D;
    let inv = tf.eye(m.shape[0]) as tf.Tensor2D;
    for (let k = 0; k < steps; k++) {
      const next = tf.tidy(() => tf.sub(tf.mul(inv, 2), tf.matMul(inv, tf.matMul(m, inv))));
      inv.dispose();
      inv = next as tf.Tensor2D;
    }
    (save as tf.GradSaveFunc)([inv]);
    return {
      value: inv,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const b = saved[0] as tf.Tensor2D;
        return tf.neg(tf.matMul(tf.matMul(b, dy as tf.Tensor2D, true, false), b, false, true));
      },
    };
  });
  return f(a) as tf.Tensor2D;
}

/** PML's draw of the meta classes: each proxy once, then `n − K` uniform draws, shuffled. */
function drawMetaClasses(rng: Rng, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i < k ? i : rng.nextInt(k);
  return rng.shuffle(out);
}

/**
 * `log(1 + Σ_{k ≠ c_i, x_ik ≥ 0} exp(x_ik))` averaged over rows, with `x_ik = v_ik − v_ic_i + margin`:
 * PML's hinge of both manifold terms (entries below 0 and the own proxy excluded).
 */
function hardProxyTerm(v: tf.Tensor2D, own: tf.Tensor2D, margin: number): tf.Scalar {
  const x = tf.add(tf.sub(v, tf.sum(tf.mul(v, own), 1, true)), margin);
  // Kept entries as a 0/1 mask: x ≥ 0 (greaterEqual carries no gradient) and not the own proxy.
  const keep = tf.mul(tf.cast(tf.greaterEqual(x, 0), "float32"), tf.sub(1, own));
  const terms = tf.mul(keep, tf.exp(tf.mul(x, keep)));
  return tf.mean(tf.log(tf.add(tf.sum(terms, 1), 1))) as tf.Scalar;
}

/**
 * Manifold loss, PML's `ManifoldLoss`. The `n` embeddings and the `K` proxies form a graph with
 * weights `S_ij = exp(2·max(0, s_ij))` (`s` the similarity, cosine by default; `S_ii = 0`),
 * normalised `S̄ = D^{-1/2} S D^{-1/2}` (`D` the row sums); the random walk with restart gives the
 * manifold similarities `F = (1 − α)(I − αS̄)⁻¹` (`[n + K, n + K]`). Each row `i` has a proxy
 * `c_i` (its meta class, `metaClasses`), and with `h(v)_i = log(1 + Σ_{k ≠ c_i} [x_ik ≥ 0]
 * e^{x_ik})`, `x_ik = v_ik − v_ic_i + margin`,
 *
 *   L = mean_i h(F[:n, n:])_i + λ_C · mean_i h(cos(F[:n], F[n:]))_i,
 *
 * the intrinsic loss on the manifold similarities to the proxies plus the context loss on the
 * cosine similarities between the rows of `F` (each row's whole context). The value is already
 * reduced (PML's `"already_reduced"`). The inverse is computed by Newton–Schulz iterations (pure
 * tensor operations; PML calls `torch.inverse`), so every tensor is at most `[n + K, n + K]`.
 *
 * The proxies are a learnable `[K, l]` parameter: pass `proxies` (functional form), or train them
 * with `new TrainableLoss(manifoldLoss, { embeddingSize: l, seed })` (initialised N(0, 1) as
 * PML). The loss takes no labels (call it with `undefined`, as PML refuses labels). λ_C = ∞,
 * which PML's docstring mentions, gives ∞ · (context loss) in PML's code: here λ_C must be finite.
 *
 * @param embeddings `[n, d]`
 * @param labels `undefined`
 * @returns a scalar
 * @throws Error for labels, a bad option (`K` or `l` not an integer ≥ 1, `lambdaC` or `margin`
 *   not finite ≥ 0, `alpha` outside (0, 1)), `proxies` not `[K, l]`, `d ≠ l`, `metaClasses` not
 *   `n` integers in `[0, K)`, a batch smaller than `K` without `metaClasses` (PML fails: every
 *   proxy needs a row), `indices` or `refEmbeddings`, or `reduction: "none"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { manifoldLoss } from "./manifold.ts";
 * const e = tf.tensor2d([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]]);
 * const proxies = tf.tensor2d([[1, 0.2], [-0.3, 1]]);
 * const v = manifoldLoss(e, undefined, { K: 2, proxies, metaClasses: [0, 0, 1, 1] });
 * assert.ok(Math.abs(v.dataSync()[0] - 1.08192) < 1e-4); // PML 2.9.0: 1.081919
 * ```
 */
export const manifoldLoss: Loss<ManifoldLossOptions> = defineLoss<ManifoldLossOptions>({
  name: "manifoldLoss",
  refuseEmpty: { batch: "every proxy needs a row (PML's ManifoldLoss fails there)" },
  distance: "cosine",
  reduction: "mean",
  indices: false,
  ref: false,
  labels: false,
  options: {
    l: opt.integer(undefined, { min: 1 }, true),
    K: opt.integer(50, { min: 1 }),
    lambdaC: opt.number(1, { min: 0 }),
    alpha: opt.number(0.8, { gt: 0, lt: 1 }),
    margin: opt.number(5e-4, { min: 0 }),
    metaClasses: opt.custom<readonly number[] | Int32Array>(undefined, (v, env) => {
      const ok = (Array.isArray(v) || v instanceof Int32Array) &&
        Array.from(v as ArrayLike<unknown>).every((c) => Number.isInteger(c) && (c as number) >= 0);
      if (!ok) {
        throw new Error(
          `${env.fn}: ${env.name} must be an array of integers ≥ 0 (one proxy per row), got ${
            String(v)
          }`,
        );
      }
    }),
    rng: opt.custom<Rng>(undefined, (v, env) => {
      const r = v as Rng;
      if (
        r === null || typeof r !== "object" || typeof r.nextInt !== "function" ||
        typeof r.shuffle !== "function"
      ) {
        throw new Error(
          `${env.fn}: ${env.name} must be a generator from createRng(seed), got ${String(v)}`,
        );
      }
    }),
    proxies: opt.parameter({
      shape: (o, d) => [o.K as number, (o.l as number | undefined) ?? d],
      init: (shape, seed) => tf.randomNormal(shape, 0, 1, "float32", seed),
    }),
  },
  compute(ctx, o) {
    const n = ctx.n, k = o.K;
    if (o.l !== undefined && ctx.d !== o.l) {
      throw new Error(`${ctx.fn}: the embeddings have dimension ${ctx.d}, not l = ${o.l}`);
    }
    let meta: Int32Array;
    if (o.metaClasses !== undefined) {
      if (o.metaClasses.length !== n) {
        throw new Error(
          `${ctx.fn}: metaClasses must have one entry per row (${n}), got ${o.metaClasses.length}`,
        );
      }
      meta = Int32Array.from(o.metaClasses);
      const bad = meta.findIndex((c) => c >= k);
      if (bad >= 0) {
        throw new Error(`${ctx.fn}: metaClasses[${bad}] = ${meta[bad]} is not a proxy (K = ${k})`);
      }
    } else {
      if (n < k) {
        throw new Error(
          `${ctx.fn}: the batch has ${n} rows, fewer than K = ${k} proxies: every proxy needs a ` +
            `row (PML fails); give metaClasses or a smaller K`,
        );
      }
      meta = drawMetaClasses(o.rng ?? createRng(0), n, k);
    }
    const all = tf.concat([ctx.embeddings, o.proxies as tf.Tensor2D]) as tf.Tensor2D;
    const size = n + k;
    const eye = tf.eye(size);
    const s = tf.mul(tf.exp(tf.div(tf.relu(ctx.distances(all, all)), 0.5)), tf.sub(1, eye));
    const dInvHalf = tf.rsqrt(tf.sum(s, 1));
    const sBar = tf.mul(
      tf.mul(s, tf.reshape(dInvHalf, [size, 1])),
      tf.reshape(dInvHalf, [1, size]),
    );
    const f = tf.mul(
      randomWalkInverse(tf.sub(eye, tf.mul(sBar, o.alpha)) as tf.Tensor2D, o.alpha),
      1 - o.alpha,
    );
    const own = tf.oneHot(tf.tensor1d(meta, "int32"), k, 1, 0, "float32") as tf.Tensor2D;
    const fe = tf.slice(f, [0, 0], [n, size]) as tf.Tensor2D;
    const fp = tf.slice(f, [n, 0], [k, size]) as tf.Tensor2D;
    const intrinsic = hardProxyTerm(tf.slice(f, [0, n], [n, k]) as tf.Tensor2D, own, o.margin);
    const unit = (x: tf.Tensor2D) => tf.div(x, tf.norm(x, 2, 1, true));
    const context = hardProxyTerm(
      tf.matMul(unit(fe), unit(fp), false, true) as tf.Tensor2D,
      own,
      o.margin,
    );
    const value = tf.add(intrinsic, tf.mul(context, o.lambdaC)) as tf.Scalar;
    return { loss: { kind: "reduced", value } };
  },
});
