/**
 * The training step's fused pieces (issue 19's per-step overhead) give the bits of autograd
 * through tfjs's own operations, on `cpu` and `wasm`: the L2 normalisation's custom gradient,
 * the reducers' masked mean, and the square root's gradient kernel. The references below are
 * the formulas the library used before the pieces were fused, differentiated by tfjs.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { l2Normalize, safeSqrt } from "../lib/distances.ts";
import { weightedMean } from "../lib/losses/_reduce.ts";
import { stopGradient } from "../lib/losses/_ops.ts";

/** Deterministic numbers in [-1, 1). */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Asserts the same float32 bits (NaNs equal). */
function assertSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      assert.fail(`${what}: element ${i}: ${got[i]} vs ${want[i]}`);
    }
  }
}

/** Rows: random, zero, below the 1e-12 floor, huge, mixed signs at different scales. */
function rows(): tf.Tensor2D {
  const d = 7;
  const v = randoms(9 * d, 11);
  for (let k = 0; k < d; k++) v[d + k] = 0;
  for (let k = 0; k < d; k++) v[2 * d + k] *= 1e-20;
  for (let k = 0; k < d; k++) v[3 * d + k] *= 1e18;
  v[4 * d] = 1e-30;
  return tf.tensor2d(v, [9, d]);
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`l2Normalize: value and gradient have the bits of autograd through tfjs's ops (${backend})`, async () => {
    await initBackend(backend as "cpu" | "wasm");
    const x = rows();
    const dy = tf.tensor2d(randoms(x.size, 12), x.shape);
    const reference = (t: tf.Tensor) =>
      tf.div(t, tf.maximum(safeSqrt(tf.sum(tf.square(t), 1, true)), 1e-12));
    const [want, wantGrad] = tf.tidy(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reference(t), dy)))(x);
      return [reference(x).dataSync(), g.dataSync()];
    });
    const [got, gotGrad] = tf.tidy(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(l2Normalize(t as tf.Tensor2D), dy)))(x);
      return [l2Normalize(x).dataSync(), g.dataSync()];
    });
    assertSameBits(got, want, "value");
    assertSameBits(gotGrad, wantGrad, "gradient");
    // The zero row stays zero, with the gradient dy / 1e-12 that PyTorch's F.normalize gives.
    assert.ok(got.slice(7, 14).every((v) => v === 0));
    tf.dispose([x, dy]);
  });

  Deno.test(`weightedMean: the reducers' masked mean has autograd's bits (${backend})`, async () => {
    await initBackend(backend as "cpu" | "wasm");
    const l = tf.tensor2d(randoms(12 * 12, 21).map((v, i) => i % 5 === 0 ? 0 : v + 0.3), [12, 12]);
    const w = tf.tensor2d(randoms(12 * 12, 22).map((v) => v > 0 ? 1 : v > -0.5 ? 2 : 0), [12, 12]);
    // The formula before: stopGradient'd mask, then Σ w·mask·ℓ / max(Σ w·mask, 1) by autograd.
    const reference = (x: tf.Tensor, weights?: tf.Tensor, low?: number, high?: number) => {
      const fixed = stopGradient(x);
      let mask: tf.Tensor | undefined;
      if (low !== undefined) mask = tf.step(tf.sub(fixed, low));
      if (high !== undefined) {
        const below = tf.step(tf.sub(high, fixed));
        mask = mask ? tf.mul(mask, below) : below;
      }
      const keep = weights && mask ? tf.mul(weights, mask) : (weights ?? mask);
      const num = tf.sum(keep ? tf.mul(x, keep) : x);
      const den = keep ? tf.sum(keep) : tf.scalar(x.size);
      return tf.div(num, tf.maximum(den, 1));
    };
    const cases: [tf.Tensor | undefined, number | undefined, number | undefined][] = [
      [w, 0, undefined],
      [undefined, 0, undefined],
      [w, 0.1, 0.9],
      [undefined, undefined, 0.5],
      [w, undefined, undefined],
      [undefined, undefined, undefined],
      [w, 5, undefined], // nothing kept: 0, and a zero gradient
    ];
    // Scaled by 3.7 so that the upstream gradient is not 1.
    for (const [weights, low, high] of cases) {
      const what = `w ${weights ? "yes" : "no"}, low ${low}, high ${high}`;
      const want = tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
          tf.mul(reference(x, weights, low, high), 3.7) as tf.Scalar
        )(l);
        return [...value.dataSync(), ...grad.dataSync()];
      });
      const got = tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
          tf.mul(weightedMean(x, weights, low, high), 3.7) as tf.Scalar
        )(l);
        return [...value.dataSync(), ...grad.dataSync()];
      });
      assertSameBits(got, want, what);
    }
    tf.dispose([l, w]);
  });
}

Deno.test("SimlearnSqrtGrad: dy / (2y) where y > 0, else 0, the bits of the formula (wasm, NaN, ±0, Inf)", async () => {
  const { SQRT_GRAD_KERNEL, setKernelThreads, setSimdDisabled } = await import(
    "../lib/kernels/mod.ts"
  );
  await initBackend("wasm");
  for (const n of [6, 40001]) {
    const y = randoms(n, 31 + n).map((v) => Math.abs(v) * 10);
    y.set([0, -0, NaN, Infinity, 1e-40, 3e38], 0);
    const dy = randoms(n, 32 + n);
    dy.set([1, -1, 1, 2, 1, 1e38], 0);
    const want = tf.tidy(() => {
      const yt = tf.tensor1d(y), dyt = tf.tensor1d(dy);
      const positive = tf.greater(yt, 0);
      const safe = tf.where(positive, yt, tf.onesLike(yt));
      return tf.where(positive, tf.div(dyt, tf.mul(safe, 2)), tf.zerosLike(yt)).dataSync();
    });
    for (const [threads, simdOff] of [[1, false], [2, false], [1, true]] as const) {
      await setKernelThreads(threads);
      setSimdDisabled(simdOff);
      try {
        const got = tf.tidy(() =>
          (tf.engine().runKernel(SQRT_GRAD_KERNEL, {
            dy: tf.tensor1d(dy),
            y: tf.tensor1d(y),
          }) as tf.Tensor)
            .dataSync()
        );
        assertSameBits(got, want, `[${n}], ${threads} threads${simdOff ? ", SIMD off" : ""}`);
      } finally {
        setSimdDisabled(false);
      }
    }
  }
  // safeSqrt's gradient runs as the one kernel on wasm.
  const profile = await tf.profile(() =>
    tf.grad((t: tf.Tensor) => tf.sum(safeSqrt(t)))(tf.tensor1d([0, 4]))
  );
  assert.ok(profile.kernelNames.includes(SQRT_GRAD_KERNEL), `kernels: ${profile.kernelNames}`);
  assert.ok(!profile.kernelNames.includes("Select"), `kernels: ${profile.kernelNames}`);
  assert.throws(
    () => tf.engine().runKernel(SQRT_GRAD_KERNEL, { dy: tf.ones([2]), y: tf.ones([3]) }),
    /dy and y must be float32 of one shape, got \[2\] float32 and \[3\] float32/,
  );
});
