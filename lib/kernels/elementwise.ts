/**
 * Elementwise kernels for the wasm backend, in SIMD and split between the kernel threads:
 * `Relu`, `Step`, and `Multiply`/`Add` of two float32 tensors of the same shape (the backend's
 * own kernels run on one thread). And `SimlearnReluGrad`, the gradient of `Relu` in one pass
 * (`dy · step(x)`, which tfjs computes as a `Step` then a `Multiply`): {@link
 * registerReluGradient} makes `Relu`'s gradient use it wherever it is registered (wasm), with
 * the same bits; other backends keep tfjs's formula. Likewise `SimlearnSqrtGrad`, the gradient
 * of a square root that is 0 where the root is 0 ({@link sqrtGradient}: one kernel instead of
 * seven, the same bits).
 *
 * Results equal the `cpu` backend's, NaN included: `Relu` is `max(0, x)` with NaN kept, `Step`
 * gives 1, `alpha` or NaN.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { f32View, runWasmKernel, sizeOf, type WasmBackendLike } from "./wasm_util.ts";
import { heapOffset, tasksFor } from "./simd_ops.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";

/** Name of the fused gradient of `Relu`. */
export const RELU_GRAD_KERNEL = "SimlearnReluGrad";

/**
 * Name of the gradient of a square root that is 0 where the root is 0 (inputs `dy`, `y` the
 * root; output `y > 0 ? dy / (y · 2) : 0`).
 */
export const SQRT_GRAD_KERNEL = "SimlearnSqrtGrad";

const OPS = { relu: 0, step: 1, mul: 2, add: 3, reluGrad: 4, sqrtGrad: 5 } as const;

/** Elements per task at least (a task is one pass over a slice). */
const MIN_TASK = 16384;

/**
 * Runs elementwise operation `op` of the SIMD module over `n` floats on the threads; `x`, `b`,
 * `y` are heap offsets (`b` unused by unary operations). Returns false when the SIMD kernels are
 * not available.
 */
export function elementwise(
  be: WasmBackendLike,
  op: number,
  x: number,
  b: number,
  y: number,
  n: number,
  alpha = 0,
): boolean {
  const par = parallelFor(be);
  if (par === undefined) return false;
  const fn = par.fn("elementwise");
  const alphaBits = new Int32Array(Float32Array.of(alpha).buffer)[0];
  const tasks = tasksFor(par, n, Math.ceil(n / MIN_TASK));
  par.run(
    splitRange(n, tasks, 4).filter(([s, e]) => e > s).map(([s, e]) =>
      new Program().call(fn, op, x + 4 * s, b + 4 * s, y + 4 * s, e - s, alphaBits)
    ),
  );
  return true;
}

function unary(name: string, op: number): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackendLike;
    const x = inputs.x;
    if (x === undefined) throw new Error(`${name}: input x is required`);
    if (x.dtype === "float32") {
      const y = be.makeOutput([...x.shape], "float32");
      const alpha = op === OPS.step ? Number(attrs?.alpha ?? 0) : 0;
      if (elementwise(be, op, heapOffset(be, x), 0, heapOffset(be, y), sizeOf(x.shape), alpha)) {
        return y;
      }
      be.disposeData(y.dataId);
    }
    return runWasmKernel(be, name, { x }, attrs ?? {});
  };
}

function sameShape(a: TensorInfo, b: TensorInfo): boolean {
  return a.dtype === "float32" && b.dtype === "float32" && a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i]);
}

/**
 * Kernel function of `Relu` for the wasm backend (`max(0, x)`, NaN kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * assert.deepEqual(tf.relu(tf.tensor1d([-1, 2])).arraySync(), [0, 2]);
 * ```
 */
export const reluWasm: KernelFunc = unary("Relu", OPS.relu);

/**
 * Kernel function of `Step` for the wasm backend (`x > 0 ? 1 : alpha`, NaN kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * assert.deepEqual(tf.step(tf.tensor1d([-1, 2]), 0.5).arraySync(), [0.5, 1]);
 * ```
 */
export const stepWasm: KernelFunc = unary("Step", OPS.step);

/**
 * Kernel function of `Multiply` for the wasm backend: float32 operands of one shape in SIMD on
 * the threads, anything else (broadcasts, integers) by the backend's own kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * assert.deepEqual(tf.mul(tf.tensor1d([2, 3]), tf.tensor1d([4, 5])).arraySync(), [8, 15]);
 * ```
 */
export const multiplyWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const { a, b } = inputs;
  if (a === undefined || b === undefined) throw new Error("Multiply: inputs a and b required");
  if (sameShape(a, b)) {
    const y = be.makeOutput([...a.shape], "float32");
    const n = sizeOf(a.shape);
    if (elementwise(be, OPS.mul, heapOffset(be, a), heapOffset(be, b), heapOffset(be, y), n)) {
      return y;
    }
    be.disposeData(y.dataId);
  }
  return runWasmKernel(be, "Multiply", { a, b }, attrs ?? {});
};

/**
 * `a + b` for float32 operands of one shape in SIMD on the threads, or `undefined` (the caller
 * then uses another route). Used by our `Add` kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * assert.deepEqual(tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).arraySync(), [4, 6]);
 * ```
 */
export function addSameShape(
  be: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
): TensorInfo | undefined {
  if (!sameShape(a, b)) return undefined;
  const y = be.makeOutput([...a.shape], "float32");
  if (
    elementwise(
      be,
      OPS.add,
      heapOffset(be, a),
      heapOffset(be, b),
      heapOffset(be, y),
      sizeOf(a.shape),
    )
  ) {
    return y;
  }
  be.disposeData(y.dataId);
  return undefined;
}

/**
 * Kernel function of `SimlearnReluGrad` for the wasm backend: inputs `dy` and `x` (float32, one
 * shape), output `dy · step(x)` with tfjs's rounding and NaN rules, in one pass.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { RELU_GRAD_KERNEL } from "./elementwise.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const inputs = { dy: tf.ones([2]), x: tf.tensor1d([-1, 1]) };
 * const dx = tf.engine().runKernel(RELU_GRAD_KERNEL, inputs);
 * assert.deepEqual((dx as tf.Tensor).arraySync(), [0, 1]);
 * ```
 */
export const reluGradWasm: KernelFunc = ({ inputs, backend }) => {
  const be = backend as WasmBackendLike;
  const { dy, x } = inputs;
  if (dy === undefined || x === undefined) {
    throw new Error(`${RELU_GRAD_KERNEL}: inputs dy and x required`);
  }
  if (!sameShape(dy, x)) {
    throw new Error(
      `${RELU_GRAD_KERNEL}: dy [${dy.shape}] ${dy.dtype} and x [${x.shape}] ${x.dtype} must be ` +
        "float32 of one shape",
    );
  }
  const y = be.makeOutput([...dy.shape], "float32");
  const n = sizeOf(dy.shape);
  if (!elementwise(be, OPS.reluGrad, heapOffset(be, dy), heapOffset(be, x), heapOffset(be, y), n)) {
    be.disposeData(y.dataId);
    const s = runWasmKernel(be, "Step", { x }, { alpha: 0 });
    const out = runWasmKernel(be, "Multiply", { a: dy, b: s }, {});
    be.disposeData(s.dataId);
    return out;
  }
  return y;
};

/**
 * Kernel function of `SimlearnSqrtGrad` for the wasm backend: inputs `dy` and `y` (float32, one
 * shape; `y` a square root), output `y > 0 ? dy / (y · 2) : 0` in one pass (NaN `y` gives 0).
 *
 * @throws Error when `dy` and `y` are not float32 of one shape.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { SQRT_GRAD_KERNEL } from "./elementwise.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const inputs = { dy: tf.ones([3]), y: tf.tensor1d([0, 2, NaN]) };
 * const dx = tf.engine().runKernel(SQRT_GRAD_KERNEL, inputs);
 * assert.deepEqual((dx as tf.Tensor).arraySync(), [0, 0.25, 0]);
 * ```
 */
export const sqrtGradWasm: KernelFunc = ({ inputs, backend }) => {
  const be = backend as WasmBackendLike;
  const { dy, y } = inputs;
  if (dy === undefined || y === undefined || !sameShape(dy, y)) {
    throw new Error(
      `${SQRT_GRAD_KERNEL}: dy and y must be float32 of one shape, got ` +
        `${dy === undefined ? "no dy" : `[${dy.shape}] ${dy.dtype}`} and ` +
        `${y === undefined ? "no y" : `[${y.shape}] ${y.dtype}`}`,
    );
  }
  const out = be.makeOutput([...dy.shape], "float32");
  const n = sizeOf(dy.shape);
  if (
    elementwise(be, OPS.sqrtGrad, heapOffset(be, dy), heapOffset(be, y), heapOffset(be, out), n)
  ) {
    return out;
  }
  // Without SIMD: the same operations in float32, one by one.
  const g = f32View(be, dy), v = f32View(be, y), o = f32View(be, out);
  for (let i = 0; i < n; i++) o[i] = v[i] > 0 ? Math.fround(g[i] / Math.fround(v[i] * 2)) : 0;
  return out;
};

/**
 * The gradient `dy / (2·y)` of a square root `y`, 0 where `y` is 0 (or NaN): one
 * {@link SQRT_GRAD_KERNEL} where the backend has it (wasm), else tfjs's ops (the same bits).
 *
 * @param dy the upstream gradient, the shape of `y`
 * @param y the square roots (≥ 0)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { sqrtGradient } from "./elementwise.ts";
 * assert.deepEqual(sqrtGradient(tf.ones([2]), tf.tensor1d([0, 4])).arraySync(), [0, 0.125]);
 * ```
 */
export function sqrtGradient(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (
    dy.dtype === "float32" && y.dtype === "float32" &&
    tf.getKernel(SQRT_GRAD_KERNEL, tf.getBackend()) !== undefined &&
    dy.shape.length === y.shape.length && dy.shape.every((d, i) => d === y.shape[i])
  ) {
    return tf.engine().runKernel(SQRT_GRAD_KERNEL, { dy, y }) as tf.Tensor;
  }
  return tf.tidy(() => {
    const positive = tf.greater(y, 0);
    const safe = tf.where(positive, y, tf.onesLike(y));
    return tf.where(positive, tf.div(dy, tf.mul(safe, 2)), tf.zerosLike(y));
  });
}

/** Registration records of the kernels of this module. */
export const elementwiseConfigs: KernelConfig[] = [
  { kernelName: "Relu", backendName: "wasm", kernelFunc: reluWasm },
  { kernelName: "Step", backendName: "wasm", kernelFunc: stepWasm },
  { kernelName: "Multiply", backendName: "wasm", kernelFunc: multiplyWasm },
  { kernelName: RELU_GRAD_KERNEL, backendName: "wasm", kernelFunc: reluGradWasm },
  { kernelName: SQRT_GRAD_KERNEL, backendName: "wasm", kernelFunc: sqrtGradWasm },
];

/** `dy · step(x)`: the fused kernel where registered, else tfjs's own formula. */
function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (
    dy.dtype === "float32" && x.dtype === "float32" &&
    tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend()) !== undefined &&
    dy.shape.length === x.shape.length && dy.shape.every((d, i) => d === x.shape[i])
  ) {
    return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x }) as tf.Tensor;
  }
  return tf.mul(dy, tf.cast(tf.step(x), "float32"));
}

let gradientRegistered = false;

/**
 * Makes `Relu`'s gradient `dy · step(x)` one kernel on backends that have
 * {@link RELU_GRAD_KERNEL} (the same numbers as tfjs's `Step` then `Multiply`); elsewhere the
 * formula is tfjs's. Idempotent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { registerReluGradient } from "./elementwise.ts";
 * registerReluGradient();
 * assert.deepEqual(tf.grad((x) => tf.relu(x))(tf.tensor1d([-1, 2])).arraySync(), [0, 1]);
 * ```
 */
export function registerReluGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: "Relu",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => reluGrad(dy as tf.Tensor, x) };
    },
  });
  tf.registerGradient({
    kernelName: RELU_GRAD_KERNEL,
    inputsToSave: ["x"],
    gradFunc: (ddx, saved) => {
      const [x] = saved;
      return { dy: () => reluGrad(ddx as tf.Tensor, x), x: () => tf.zerosLike(x) };
    },
  });
}
