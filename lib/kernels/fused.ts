/**
 * Fused layers for training on `wasm`: a convolution or a matrix product with its bias and Relu
 * in one kernel, and their gradients with the activation's and the bias's in one pass.
 *
 * TensorFlow.js's layers (`tf.layers.conv2d`, `tf.layers.dense`) call `tf.fused.conv2d` and
 * `tf.fused.matMul`, which fuse the bias and the activation only outside gradient recording: in
 * training, a layer with Relu runs `Conv2D`, `Add` and `Relu` (three passes over the output and
 * three tape entries), and back-propagation runs the Relu gradient, a `Sum` for the bias and the
 * two convolution gradients. {@link installFusedOps} replaces those two functions of `tf.fused`
 * with versions that, on the wasm backend, run one kernel whose epilogue adds the bias and applies
 * Relu while the outputs are in cache (`SimlearnFusedConv2D`, `SimlearnFusedMatMul`), with
 * registered gradients that compute `dz = dy·step(y)` and the bias gradient in one pass
 * (`SimlearnBiasActGrad`, from the layer's output `y`) before the products' gradients. Models,
 * layers, weights and checkpoints are unchanged; the numbers are those of the unfused ops (same
 * float32 operations in the same order). Anything else — another backend, another activation,
 * NCHW, dilations, PReLU weights, a bias that is not a `[channels]` vector, tensor-like
 * arguments — goes to TensorFlow.js's own function.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";
import { checkFloat, f32View, runWasmKernel, sizeOf, type WasmBackendLike } from "./wasm_util.ts";
import { conv2dForwardSimd, geometryOf, heapOffset, simdFor, tasksFor } from "./simd_ops.ts";
import { fusedMatMulWasm, matMulSimd } from "./batch_mat_mul.ts";
import { sumRows } from "./sum.ts";
import { parallelFor, Program, splitRange } from "./parallel.ts";

/** Kernel: `act(conv2d(x, filter) + bias)`, NHWC. */
export const FUSED_CONV2D_KERNEL = "SimlearnFusedConv2D";
/** Kernel: `act(a·b + bias)` for rank-2 `a`, `b`. */
export const FUSED_MATMUL_KERNEL = "SimlearnFusedMatMul";
/** Kernel: `[dz, dbias]` from `dy` and the layer's output `y` (two outputs). */
export const BIAS_ACT_GRAD_KERNEL = "SimlearnBiasActGrad";

/** Activations the fused kernels apply. */
export type FusedActivation = "linear" | "relu";

/** Attributes of {@link FUSED_CONV2D_KERNEL}. */
export interface FusedConv2DAttrs {
  /** Strides `[sh, sw]` or one number. */
  strides: [number, number] | number;
  /** Padding as `tf.conv2d` takes it. */
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  /** Rounding of the output size when `pad` is a number. */
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** Applied after the bias. */
  activation: FusedActivation;
}

/** Attributes of {@link FUSED_MATMUL_KERNEL}. */
export interface FusedMatMulAttrs {
  /** Use `aᵀ`. */
  transposeA: boolean;
  /** Use `bᵀ`. */
  transposeB: boolean;
  /** Applied after the bias. */
  activation: FusedActivation;
}

function activationOf(attrs: NamedAttrMap | undefined, what: string): FusedActivation {
  const a = attrs?.activation ?? "linear";
  if (a !== "linear" && a !== "relu") {
    throw new Error(`${what}: activation must be "linear" or "relu", got ${String(a)}`);
  }
  return a as FusedActivation;
}

function checkBias(bias: TensorInfo | undefined, channels: number, what: string): void {
  if (bias === undefined) return;
  if (bias.dtype !== "float32" || bias.shape.length !== 1 || bias.shape[0] !== channels) {
    throw new Error(
      `${what}: bias must be a float32 vector of ${channels} values, got [${bias.shape}] ` +
        bias.dtype,
    );
  }
}

/**
 * Kernel function of {@link FUSED_CONV2D_KERNEL} on wasm: inputs `x` (`[n, h, w, ci]`), `filter`
 * (`[fh, fw, ci, co]`), optional `bias` (`[co]`); attributes {@link FusedConv2DAttrs}; output
 * `[n, oh, ow, co]`. Our SIMD convolution with the bias and Relu applied as outputs are written;
 * without SIMD, the backend's own `FusedConv2D`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FUSED_CONV2D_KERNEL } from "./fused.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const y = tf.engine().runKernel(FUSED_CONV2D_KERNEL, {
 *   x: tf.ones([1, 3, 3, 1]),
 *   filter: tf.ones([3, 3, 1, 4]),
 *   bias: tf.tensor1d([-10, 0, 1, 2]),
 * }, { strides: 1, pad: "valid", activation: "relu" }) as tf.Tensor; // [[[[0, 9, 10, 11]]]]
 * ```
 */
export const fusedLayerConv2DWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const what = FUSED_CONV2D_KERNEL;
  const x = checkFloat(inputs.x, 4, `${what}: x`);
  const filter = checkFloat(inputs.filter, 4, `${what}: filter`);
  const bias = inputs.bias;
  const a = attrs as unknown as FusedConv2DAttrs;
  const activation = activationOf(attrs, what);
  if (x.shape[3] !== filter.shape[2]) {
    throw new Error(
      `${what}: x has ${x.shape[3]} channels but filter [${filter.shape}] expects ` +
        `${filter.shape[2]}`,
    );
  }
  checkBias(bias, filter.shape[3], what);
  const simd = simdFor(be);
  if (simd === undefined) {
    const ins: Record<string, TensorInfo> = { x, filter };
    if (bias !== undefined) ins.bias = bias;
    return runWasmKernel(be, "FusedConv2D", ins, {
      strides: a.strides,
      pad: a.pad,
      dataFormat: "NHWC",
      dilations: 1,
      dimRoundingMode: a.dimRoundingMode,
      activation,
    } as unknown as NamedAttrMap);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const y = be.makeOutput([...info.outShape], "float32");
  conv2dForwardSimd(
    be,
    simd,
    heapOffset(be, x),
    heapOffset(be, filter),
    heapOffset(be, y),
    geometryOf(info),
    {
      bias: bias === undefined ? 0 : heapOffset(be, bias),
      relu: activation === "relu",
    },
  );
  return y;
};

/**
 * Kernel function of {@link FUSED_MATMUL_KERNEL} on wasm: inputs `a`, `b` (rank 2), optional
 * `bias` (`[n]`); attributes {@link FusedMatMulAttrs}; output `[m, n]`. Our SIMD product with
 * the epilogue; without SIMD, the backend's `_FusedMatMul` kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FUSED_MATMUL_KERNEL } from "./fused.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const y = tf.engine().runKernel(FUSED_MATMUL_KERNEL, {
 *   a: tf.ones([2, 3]),
 *   b: tf.ones([3, 2]),
 *   bias: tf.tensor1d([-4, 1]),
 * }, { transposeA: false, transposeB: false, activation: "relu" }) as tf.Tensor; // [[0, 4], [0, 4]]
 * ```
 */
export const fusedLayerMatMulWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const what = FUSED_MATMUL_KERNEL;
  const a = checkFloat(inputs.a, 2, `${what}: a`);
  const b = checkFloat(inputs.b, 2, `${what}: b`);
  const bias = inputs.bias;
  const transposeA = Boolean(attrs?.transposeA);
  const transposeB = Boolean(attrs?.transposeB);
  const activation = activationOf(attrs, what);
  const k = transposeA ? a.shape[0] : a.shape[1];
  const kb = transposeB ? b.shape[1] : b.shape[0];
  if (k !== kb) {
    throw new Error(
      `${what}: inner dimensions differ: a [${a.shape}] (transposeA ${transposeA}) and b ` +
        `[${b.shape}] (transposeB ${transposeB})`,
    );
  }
  const n = transposeB ? b.shape[0] : b.shape[1];
  checkBias(bias, n, what);
  const simd = simdFor(be);
  if (simd === undefined) {
    const ins: Record<string, TensorInfo> = { a, b };
    if (bias !== undefined) ins.bias = bias;
    // Our `_FusedMatMul` (the backend's, with the operands made rank 3 as it needs them).
    return fusedMatMulWasm({
      inputs: ins,
      backend,
      attrs: { transposeA, transposeB, activation } as unknown as NamedAttrMap,
    }) as TensorInfo;
  }
  return matMulSimd(be, simd, a, b, transposeA, transposeB, {
    bias: bias === undefined ? 0 : heapOffset(be, bias),
    relu: activation === "relu",
  });
};

/** Rows summed in float32 before the float64 total takes them (as the `Sum` kernel does). */
const BLOCK = 64;

/**
 * Kernel function of {@link BIAS_ACT_GRAD_KERNEL} on wasm: inputs `dy` and `y` (the fused
 * layer's output, same shape, float32); attribute `activation`; outputs `dz = dy·step(y)` (Relu;
 * `dy` for linear) and `dbias`, the sums of `dz` over all but the last axis (`[c]`) — the same
 * numbers as the Relu gradient kernel followed by `Sum` (which adds blocks of 64 rows in float32,
 * then the blocks in float64 in order, or everything in float64).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { BIAS_ACT_GRAD_KERNEL } from "./fused.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm");
 * const [dz, db] = tf.engine().runKernel(BIAS_ACT_GRAD_KERNEL, {
 *   dy: tf.tensor2d([[1, 2], [3, 4]]),
 *   y: tf.tensor2d([[0, 1], [2, 0]]),
 * }, { activation: "relu" }) as tf.Tensor[]; // dz [[0, 2], [3, 0]], db [3, 2]
 * ```
 */
export const biasActGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const what = BIAS_ACT_GRAD_KERNEL;
  const { dy, y } = inputs;
  if (dy === undefined || y === undefined) throw new Error(`${what}: inputs dy and y required`);
  if (
    dy.dtype !== "float32" || y.dtype !== "float32" || dy.shape.length === 0 ||
    dy.shape.length !== y.shape.length || dy.shape.some((d, i) => d !== y.shape[i])
  ) {
    throw new Error(
      `${what}: dy [${dy.shape}] ${dy.dtype} and y [${y.shape}] ${y.dtype} must be float32 of ` +
        "one shape, rank ≥ 1",
    );
  }
  const relu = activationOf(attrs, what) === "relu";
  const cols = dy.shape[dy.shape.length - 1];
  const rows = cols === 0 ? 0 : sizeOf(dy.shape) / cols;
  // Linear: dz is dy itself (one more reference to its storage).
  let dz: TensorInfo;
  if (relu) dz = be.makeOutput([...dy.shape], "float32");
  else {
    be.incRef(dy.dataId);
    dz = { dataId: dy.dataId, shape: [...dy.shape], dtype: "float32" };
  }
  const db = be.makeOutput([cols], "float32");
  const blocks = Math.ceil(rows / BLOCK);
  const part = be.makeOutput([Math.max(1, blocks * cols)], "float32");
  const par = simdFor(be) === undefined ? undefined : parallelFor(be);
  // The bias gradient as `Sum` computes it: SIMD block sums when it takes that route, else all
  // rows in float64.
  const blockSums = par !== undefined && cols % 4 === 0 && rows > BLOCK;
  try {
    if (par !== undefined) {
      const fn = par.fn("biasActGrad");
      const [dyp, yp, pp] = [dy, y, part].map((t) => heapOffset(be, t));
      const dzp = relu ? heapOffset(be, dz) : 0;
      par.run(
        splitRange(blocks, tasksFor(par, rows * cols, blocks)).filter(([p, q]) => q > p).map(
          ([b0, b1]) => {
            const p = new Program();
            for (let k = b0; k < b1; k++) {
              const at = k * BLOCK * cols * 4;
              const nr = Math.min(BLOCK, rows - k * BLOCK);
              const dzAt = relu ? dzp + at : 0;
              p.call(fn, dyp + at, yp + at, dzAt, pp + k * cols * 4, nr, cols, +relu);
            }
            return p;
          },
        ),
      );
    } else if (relu) {
      // Views after the last allocation.
      const [d, yv, z] = [dy, y, dz].map((t) => f32View(be, t));
      for (let i = 0; i < d.length; i++) {
        z[i] = d[i] * (yv[i] > 0 ? 1 : Number.isNaN(yv[i]) ? NaN : 0);
      }
    }
    if (blockSums) {
      const pv = f32View(be, part);
      const acc = new Float64Array(cols);
      for (let k = 0; k < blocks; k++) {
        for (let j = 0; j < cols; j++) acc[j] += pv[k * cols + j];
      }
      f32View(be, db).set(acc);
    } else {
      sumRows(f32View(be, dz), f32View(be, db), rows, cols);
    }
  } finally {
    be.disposeData(part.dataId);
  }
  return [dz, db];
};

/** Registration records of this module's kernels (wasm). */
export const fusedConfigs: KernelConfig[] = [
  { kernelName: FUSED_CONV2D_KERNEL, backendName: "wasm", kernelFunc: fusedLayerConv2DWasm },
  { kernelName: FUSED_MATMUL_KERNEL, backendName: "wasm", kernelFunc: fusedLayerMatMulWasm },
  { kernelName: BIAS_ACT_GRAD_KERNEL, backendName: "wasm", kernelFunc: biasActGradWasm },
];

/** `[dz, dbias]` of a fused layer's output `y` for the upstream gradient `dy`. */
function biasActGrad(dy: tf.Tensor, y: tf.Tensor, activation: FusedActivation): tf.Tensor[] {
  return tf.engine().runKernel(BIAS_ACT_GRAD_KERNEL, { dy, y }, { activation }) as tf.Tensor[];
}

let gradientsRegistered = false;

function registerFusedGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient({
    kernelName: FUSED_CONV2D_KERNEL,
    inputsToSave: ["x", "filter"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved;
      const a = attrs as unknown as FusedConv2DAttrs;
      // Computed here, not in the per-input closures: each of those runs in its own tidy.
      const [dz, db] = biasActGrad(dy as tf.Tensor, y, a.activation);
      const common = { strides: a.strides, pad: a.pad, dataFormat: "NHWC" as const };
      return {
        x: () =>
          tf.engine().runKernel("Conv2DBackpropInput", { dy: dz, filter }, {
            ...common,
            dimRoundingMode: a.dimRoundingMode,
            inputShape: x.shape,
          } as unknown as NamedAttrMap) as tf.Tensor,
        filter: () =>
          tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: dz }, {
            ...common,
            dimRoundingMode: a.dimRoundingMode,
            filterShape: filter.shape,
          } as unknown as NamedAttrMap) as tf.Tensor,
        bias: () => db,
      };
    },
  });
  tf.registerGradient({
    kernelName: FUSED_MATMUL_KERNEL,
    inputsToSave: ["a", "b"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [a, b, y] = saved;
      const { transposeA: tA, transposeB: tB, activation } = attrs as unknown as FusedMatMulAttrs;
      const [dz, db] = biasActGrad(dy as tf.Tensor, y, activation);
      // The gradients of tf.matMul for each pair of transposes.
      return {
        a: () =>
          !tA && !tB
            ? tf.matMul(dz, b, false, true)
            : !tA && tB
            ? tf.matMul(dz, b, false, false)
            : tA && !tB
            ? tf.matMul(b, dz, false, true)
            : tf.matMul(b, dz, true, true),
        b: () =>
          !tA && !tB
            ? tf.matMul(a, dz, true, false)
            : !tA && tB
            ? tf.matMul(dz, a, true, false)
            : tA && !tB
            ? tf.matMul(a, dz, false, false)
            : tf.matMul(dz, a, true, true),
        bias: () => db,
      };
    },
  });
  tf.registerGradient({
    kernelName: BIAS_ACT_GRAD_KERNEL,
    inputsToSave: ["y"],
    gradFunc: (dys, saved, attrs) => {
      // [dz, dbias] are linear in dy: d/d(dy) of <ddz, dz> + <ddb, dbias> = (ddz + ddb)·step(y).
      const [ddz, ddb] = dys as tf.Tensor[];
      const [y] = saved;
      const relu = (attrs as unknown as { activation: FusedActivation }).activation === "relu";
      return {
        dy: () => {
          const g = tf.add(ddz, ddb);
          return relu ? tf.mul(g, tf.step(y)) : g;
        },
        y: () => tf.zerosLike(y),
      };
    },
  });
}

type FusedConv2dArgs = Parameters<typeof tf.fused.conv2d>[0];
type FusedMatMulArgs = Parameters<typeof tf.fused.matMul>[0];

let originals:
  | { conv2d: typeof tf.fused.conv2d; matMul: typeof tf.fused.matMul }
  | undefined;

const isOne = (v: unknown) =>
  v === undefined || v === 1 || (Array.isArray(v) && v.every((d) => d === 1));

let enabled = true;

/**
 * Turns the fused layers off (`false`: `tf.fused.conv2d` and `tf.fused.matMul` behave as
 * TensorFlow.js's own, which in training run the unfused ops) or on again, e.g. to compare
 * the two; returns the previous setting.
 *
 * @example
 * ```ts
 * import { setFusedOps } from "./fused.ts";
 * const old = setFusedOps(false);
 * setFusedOps(old);
 * ```
 */
export function setFusedOps(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

/** Whether the fused kernels serve this call: wasm with our kernels, and not turned off. */
function onWasm(): boolean {
  return enabled && tf.getBackend() === "wasm" &&
    tf.getKernel(FUSED_CONV2D_KERNEL, "wasm") !== undefined;
}

function vectorBias(bias: unknown, n: number): bias is tf.Tensor1D | undefined {
  return bias == null ||
    (bias instanceof tf.Tensor && bias.dtype === "float32" && bias.rank === 1 &&
      bias.shape[0] === n);
}

function fusedConv2d(args: FusedConv2dArgs): tf.Tensor {
  const { x, filter, bias } = args;
  const activation = args.activation ?? "linear";
  if (
    !onWasm() || !(x instanceof tf.Tensor) || !(filter instanceof tf.Tensor) ||
    x.dtype !== "float32" || filter.dtype !== "float32" || x.rank !== 4 || filter.rank !== 4 ||
    x.shape[3] !== filter.shape[2] || (args.dataFormat ?? "NHWC") !== "NHWC" ||
    !isOne(args.dilations) || (activation !== "linear" && activation !== "relu") ||
    args.preluActivationWeights != null || !vectorBias(bias, filter.shape[3])
  ) {
    return originals!.conv2d(args);
  }
  const inputs: Record<string, tf.Tensor> = { x, filter };
  if (bias != null) inputs.bias = bias as tf.Tensor;
  const attrs: FusedConv2DAttrs = {
    strides: args.strides,
    pad: args.pad,
    dimRoundingMode: args.dimRoundingMode,
    activation,
  };
  return tf.engine().runKernel(
    FUSED_CONV2D_KERNEL,
    inputs,
    attrs as unknown as NamedAttrMap,
  ) as tf.Tensor;
}

function fusedMatMul(args: FusedMatMulArgs): tf.Tensor {
  const { a, b, bias } = args;
  const activation = args.activation ?? "linear";
  const tA = args.transposeA ?? false;
  const tB = args.transposeB ?? false;
  if (
    !onWasm() || !(a instanceof tf.Tensor) || !(b instanceof tf.Tensor) ||
    a.dtype !== "float32" || b.dtype !== "float32" || a.rank !== 2 || b.rank !== 2 ||
    (tA ? a.shape[0] : a.shape[1]) !== (tB ? b.shape[1] : b.shape[0]) ||
    (activation !== "linear" && activation !== "relu") || args.preluActivationWeights != null ||
    !vectorBias(bias, (tB ? b.shape[0] : b.shape[1]) as number)
  ) {
    return originals!.matMul(args);
  }
  const inputs: Record<string, tf.Tensor> = { a, b };
  if (bias != null) inputs.bias = bias as tf.Tensor;
  const attrs: FusedMatMulAttrs = { transposeA: tA, transposeB: tB, activation };
  return tf.engine().runKernel(
    FUSED_MATMUL_KERNEL,
    inputs,
    attrs as unknown as NamedAttrMap,
  ) as tf.Tensor;
}

/**
 * Registers the fused kernels on wasm with their gradients, and makes `tf.fused.conv2d` and
 * `tf.fused.matMul` (what `tf.layers.conv2d` and `tf.layers.dense` call) use them on the wasm
 * backend, in training and inference, for the cases they cover (see the module documentation);
 * every other call goes to TensorFlow.js's own function. Idempotent; called by
 * `registerWasmTrainingKernels`.
 *
 * @throws Error when the wasm backend's kernels are not loaded.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { installFusedOps } from "./fused.ts";
 * import { initBackend } from "../backend.ts";
 * await initBackend("wasm"); // registers our kernels, this included
 * installFusedOps(); // nothing more to do
 * const y = tf.fused.matMul({ a: tf.ones([2, 3]), b: tf.ones([3, 2]), activation: "relu" });
 * ```
 */
export function installFusedOps(): void {
  if (tf.getKernel("Conv2D", "wasm") === undefined) {
    throw new Error("installFusedOps: the wasm backend is not loaded");
  }
  for (const c of fusedConfigs) {
    if (tf.getKernel(c.kernelName, c.backendName) === undefined) tf.registerKernel(c);
  }
  registerFusedGradients();
  if (originals !== undefined) return;
  originals = { conv2d: tf.fused.conv2d, matMul: tf.fused.matMul };
  const ops = tf.fused as { conv2d: unknown; matMul: unknown };
  ops.conv2d = fusedConv2d;
  ops.matMul = fusedMatMul;
}
