/**
 * Adam's update fused into one kernel per variable. TensorFlow.js's `AdamOptimizer` spends about
 * thirteen kernels per variable per step (moments, bias corrections, square root, update), each
 * a pass over memory and a trip through the engine. {@link applyGradients} does the same
 * arithmetic in one pass — float32, operation by operation in tfjs's order, so the result has the
 * same bits — with a kernel `SimlearnAdam` registered for the `wasm` backend (SIMD, split between
 * the kernel threads) and the `cpu` backend (a loop). Any other optimizer, or a backend without
 * the kernel (`webgpu`), takes the optimizer's own `applyGradients`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, NamedTensorMap, TensorInfo } from "@tensorflow/tfjs";
import { sizeOf, type WasmBackendLike } from "./wasm_util.ts";
import { heapOffset, tasksFor } from "./simd_ops.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";

/** Name of the fused kernel. */
export const ADAM_KERNEL = "SimlearnAdam";

/** Attributes of {@link ADAM_KERNEL}: the float32 constants of one step. */
export interface AdamAttrs {
  /** β₁. */
  b1: number;
  /** 1 − β₁ (computed in float64, then rounded, as tfjs does). */
  c1: number;
  /** β₂. */
  b2: number;
  /** 1 − β₂. */
  c2: number;
  /** 1 − β₁ᵗ. */
  omb1: number;
  /** 1 − β₂ᵗ. */
  omb2: number;
  /** ε. */
  eps: number;
  /** −learning rate. */
  nlr: number;
}

const KEYS = ["b1", "c1", "b2", "c2", "omb1", "omb2", "eps", "nlr"] as const;

function inputsOf(inputs: Record<string, TensorInfo | undefined>, what: string): TensorInfo[] {
  const ts = ["value", "m", "v", "grad"].map((k) => {
    const t = inputs[k];
    if (t === undefined) throw new Error(`${what}: input ${k} is missing`);
    if (t.dtype !== "float32") throw new Error(`${what}: ${k} must be float32, got ${t.dtype}`);
    return t;
  });
  const shape = ts[0].shape;
  for (const t of ts) {
    if (sizeOf(t.shape) !== sizeOf(shape)) {
      throw new Error(`${what}: inputs of different sizes [${shape}] and [${t.shape}]`);
    }
  }
  return ts;
}

/**
 * The update on plain arrays, as {@link ADAM_KERNEL} computes it (every operation rounded to
 * float32).
 *
 * @example
 * ```ts
 * import { adamLoop } from "./adam.ts";
 * const p = new Float32Array([1]), m = new Float32Array(1), v = new Float32Array(1);
 * adamLoop(p, m, v, Float32Array.of(0.5), p, m, v, {
 *   b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, omb1: 0.1, omb2: 0.001, eps: 1e-7, nlr: -0.001,
 * }); // p ≈ [0.999]
 * ```
 */
export function adamLoop(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  pOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  a: AdamAttrs,
): void {
  const f = Math.fround;
  const [b1, c1, b2, c2, omb1, omb2, eps, nlr] = KEYS.map((k) => f(a[k]));
  for (let i = 0; i < g.length; i++) {
    const gi = g[i];
    const m1 = f(f(m[i] * b1) + f(gi * c1));
    const v1 = f(f(v[i] * b2) + f(f(gi * gi) * c2));
    mOut[i] = m1;
    vOut[i] = v1;
    pOut[i] = f(f(f(f(m1 / omb1) / f(f(Math.sqrt(f(v1 / omb2))) + eps)) * nlr) + p[i]);
  }
}

/**
 * Kernel function of {@link ADAM_KERNEL} for the wasm backend: inputs `value`, `m`, `v`, `grad`
 * (float32, same size), attributes {@link AdamAttrs}; outputs the new value, `m` and `v`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ADAM_KERNEL } from "./adam.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const [p, m, v] = tf.engine().runKernel(ADAM_KERNEL, {
 *   value: tf.ones([3]), m: tf.zeros([3]), v: tf.zeros([3]), grad: tf.ones([3]),
 * }, { b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, omb1: 0.1, omb2: 0.001, eps: 1e-7, nlr: -0.001 },
 * ) as tf.Tensor[];
 * ```
 */
export const adamWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const [value, m, v, grad] = inputsOf(inputs, ADAM_KERNEL);
  const a = attrs as unknown as AdamAttrs;
  const n = sizeOf(value.shape);
  const outs = [value, m, v].map((t) => be.makeOutput([...t.shape], "float32"));
  const params = be.makeOutput([8], "float32");
  try {
    const pp = heapOffset(be, params);
    new Float32Array(be.wasm.HEAPU8.buffer, pp, 8).set(KEYS.map((k) => a[k]));
    const par = parallelFor(be);
    const ptr = [value, m, v, grad, ...outs].map((t) => heapOffset(be, t));
    if (par === undefined) {
      const h = ptr.map((t) => new Float32Array(be.wasm.HEAPU8.buffer, t, n));
      adamLoop(h[0], h[1], h[2], h[3], h[4], h[5], h[6], a);
    } else {
      const fn = par.fn("adam");
      par.run(
        splitRange(n, tasksFor(par, n * 4, Math.ceil(n / 1024)), 4).filter(([s, e]) => e > s)
          .map(([s, e]) => new Program().call(fn, ...ptr.map((q) => q + 4 * s), e - s, pp)),
      );
    }
  } finally {
    be.disposeData(params.dataId);
  }
  return outs;
};

/**
 * Kernel function of {@link ADAM_KERNEL} for the cpu backend (see {@link adamWasm}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ADAM_KERNEL, registerAdamKernels } from "./adam.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("cpu");
 * registerAdamKernels();
 * const [p] = tf.engine().runKernel(ADAM_KERNEL, {
 *   value: tf.ones([3]), m: tf.zeros([3]), v: tf.zeros([3]), grad: tf.ones([3]),
 * }, { b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, omb1: 0.1, omb2: 0.001, eps: 1e-7, nlr: -0.001,
 * }) as tf.Tensor[]; // p ≈ [0.999, 0.999, 0.999]
 * ```
 */
export const adamCpu: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as {
    readSync(dataId: object): Float32Array;
    makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
  };
  const ts = inputsOf(inputs, ADAM_KERNEL);
  const [p, m, v, g] = ts.map((t) => be.readSync(t.dataId));
  const n = g.length;
  const outs = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  adamLoop(p, m, v, g, outs[0], outs[1], outs[2], attrs as unknown as AdamAttrs);
  return outs.map((o, i) => be.makeTensorInfo([...ts[i].shape], "float32", o));
};

/**
 * Registration records of {@link ADAM_KERNEL} for `wasm` and `cpu`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { adamConfigs } from "./adam.ts";
 * for (const c of adamConfigs) if (!tf.getKernel(c.kernelName, c.backendName)) tf.registerKernel(c);
 * ```
 */
export const adamConfigs: KernelConfig[] = [
  { kernelName: ADAM_KERNEL, backendName: "wasm", kernelFunc: adamWasm },
  { kernelName: ADAM_KERNEL, backendName: "cpu", kernelFunc: adamCpu },
];

/**
 * Registers {@link ADAM_KERNEL} for `wasm` (when that backend is loaded) and `cpu`; idempotent.
 *
 * @example
 * ```ts
 * import { registerAdamKernels } from "./adam.ts";
 * registerAdamKernels();
 * ```
 */
export function registerAdamKernels(): void {
  for (const c of adamConfigs) {
    if (tf.getKernel(c.kernelName, c.backendName) !== undefined) continue;
    if (c.backendName === "wasm" && tf.getKernel("Conv2D", "wasm") === undefined) continue;
    tf.registerKernel(c);
  }
}

/** The members of tfjs's `AdamOptimizer` that the fused update reads and writes. */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  incrementIterations(): void;
}

/**
 * Applies `grads` with `optimizer`: for TensorFlow.js's Adam (`tf.train.adam`, exactly that
 * class) on a backend with {@link ADAM_KERNEL} (wasm, cpu), one fused kernel per variable with
 * the same state (moments, `β₁ᵗ`, `β₂ᵗ`, iteration count; checkpoints see no difference) and the
 * same float32 results as `optimizer.applyGradients(grads)`; otherwise exactly that call.
 *
 * @param optimizer Any tfjs optimizer.
 * @param grads Gradients by variable name (as `optimizer.computeGradients` returns them).
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { applyGradients } from "./adam.ts";
 * const w = tf.variable(tf.ones([2]));
 * const optimizer = tf.train.adam(0.1);
 * const { grads } = optimizer.computeGradients(() => tf.sum(tf.square(w)));
 * applyGradients(optimizer, grads); // w ≈ [0.9, 0.9]
 * ```
 */
export function applyGradients(optimizer: tf.Optimizer, grads: NamedTensorMap): void {
  const backend = tf.getBackend();
  registerAdamKernels();
  if (
    optimizer.constructor !== tf.AdamOptimizer ||
    tf.getKernel(ADAM_KERNEL, backend) === undefined
  ) {
    optimizer.applyGradients(grads);
    return;
  }
  const o = optimizer as unknown as AdamState;
  const f = Math.fround;
  // β₁ᵗ and β₂ᵗ as tfjs keeps them: float32 scalars on the backend (a cheap read on wasm/cpu).
  const acc1 = o.accBeta1.dataSync()[0];
  const acc2 = o.accBeta2.dataSync()[0];
  const attrs: AdamAttrs = {
    b1: f(o.beta1),
    c1: f(1 - o.beta1),
    b2: f(o.beta2),
    c2: f(1 - o.beta2),
    omb1: f(1 - acc1),
    omb2: f(1 - acc2),
    eps: f(o.epsilon),
    nlr: f(-o.learningRate),
  };
  const names = Object.keys(grads);
  names.forEach((name, i) => {
    const value = tf.engine().registeredVariables[name];
    if (value === undefined) throw new Error(`applyGradients: no variable named ${name}`);
    o.accumulatedFirstMoment[i] ??= {
      originalName: `${name}/m`,
      variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
    };
    o.accumulatedSecondMoment[i] ??= {
      originalName: `${name}/v`,
      variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
    };
    const grad = grads[name];
    if (grad == null) return;
    const m = o.accumulatedFirstMoment[i].variable;
    const v = o.accumulatedSecondMoment[i].variable;
    const [p1, m1, v1] = tf.engine().runKernel(
      ADAM_KERNEL,
      { value, m, v, grad },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    m.assign(m1);
    v.assign(v1);
    value.assign(p1);
    tf.dispose([p1, m1, v1]);
  });
  tf.tidy(() => {
    o.accBeta1.assign(tf.scalar(f(acc1 * f(o.beta1))));
    o.accBeta2.assign(tf.scalar(f(acc2 * f(o.beta2))));
  });
  o.incrementIterations();
}
