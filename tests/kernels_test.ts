/**
 * Tests of lib/kernels: every kernel we register on `wasm` against the `cpu` backend (or, for
 * attributes the cpu backend ignores, against a plain loop written here), on random inputs, on
 * our SIMD route at 1 and 2 threads (every kernel split, however small) and on the fallback
 * route; bit-equal results at 1 and 2 threads; and a full gradient of a small CNN.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  addWasm,
  applyGradients,
  batchMatMulWasm,
  BIAS_ACT_GRAD_KERNEL,
  castWasm,
  comparisonWasm,
  conv2DBackpropFilterWasm,
  conv2DBackpropInputWasm,
  conv2DWasm,
  FUSED_CONV2D_KERNEL,
  FUSED_MATMUL_KERNEL,
  fusedMatMulWasm,
  gatherV2Wasm,
  identityWasm,
  kernelThreads,
  maxPoolGradWasm,
  maxPoolWasm,
  multiplyWasm,
  PAIRWISE_SQUARES_KERNEL,
  pairwiseSquares,
  pairwiseSquaresWasm,
  registerWasmTrainingKernels,
  RELU_GRAD_KERNEL,
  reluGradWasm,
  reluWasm,
  segmentSum,
  selectWasm,
  setFusedOps,
  setKernelThreads,
  setSimdDisabled,
  shareWasmHeap,
  sliceWasm,
  sqrtGradWasm,
  stepWasm,
  sumWasm,
  unsortedSegmentSumWasm,
  wasmTrainingKernelNames,
} from "../lib/kernels/mod.ts";
import { setParallelThreshold, simdFor } from "../lib/kernels/simd_ops.ts";
import {
  convAlgorithm,
  filterGradientTransform,
  filterTransform,
  setConvAlgorithm,
} from "../lib/kernels/winograd.ts";
import type { WasmBackendLike } from "../lib/kernels/wasm_util.ts";
import { filterGradientTransform4, filterTransform4 } from "../lib/kernels/winograd4.ts";

// ---------------------------------------------------------------- helpers

/** Deterministic uniform numbers in [-1, 1) (mulberry32). */
function randoms(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

type Inputs = Record<string, { shape: number[]; values: Float32Array | Int32Array }>;

let ready = false;
async function setup(): Promise<void> {
  if (ready) return;
  tf.env().set("PROD", true); // no "already registered" noise, no debug checks
  shareWasmHeap(); // before the wasm backend starts: a heap the worker threads can share
  await tf.setBackend("wasm");
  await tf.ready();
  registerWasmTrainingKernels();
  setParallelThreshold(0); // split every kernel between the threads, however small
  await tf.setBackend("cpu");
  await tf.ready();
  ready = true;
}

/** The thread counts every SIMD-route comparison runs at. */
const THREADS = [1, 2];

/** Runs `body` with the kernels on `threads` threads (asserting the pool really started). */
async function withThreads<T>(threads: number, body: () => Promise<T>): Promise<T> {
  assert.equal(await setKernelThreads(threads), threads, `${threads} kernel threads`);
  assert.equal(kernelThreads(), threads);
  return await body();
}

/** Runs kernel `name` on `backend` with fresh tensors made from `inputs`; returns its values. */
async function run(
  backend: string,
  name: string,
  inputs: Inputs,
  attrs: Record<string, unknown>,
): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    ts[k] = tf.tensor(v.values, v.shape, v.values instanceof Int32Array ? "int32" : "float32");
  }
  const out = tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const res = { shape: out.shape, values: Float32Array.from(out.dataSync()) };
  out.dispose();
  for (const t of Object.values(ts)) t.dispose();
  return res;
}

/**
 * Asserts `got ≈ want` elementwise: |got − want| ≤ 1e-4·(|want| + max|want|·1e-1 + 1e-3), where
 * `max` runs over the finite values; NaN and infinities must match exactly.
 */
function assertClose(got: Float32Array, want: Float32Array | Float64Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length ${got.length} vs ${want.length}`);
  let scale = 0;
  for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(want[i])) {
      if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
        assert.fail(`${what}: element ${i}: got ${got[i]}, want ${want[i]}`);
      }
      continue;
    }
    const tol = 1e-4 * (Math.abs(want[i]) + 0.1 * scale + 1e-3);
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      assert.fail(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (tol ${tol})`);
    }
  }
}

/**
 * Same kernel on wasm (SIMD route at 1 and 2 threads, fallback route) and cpu; compares, and
 * checks that the thread counts give the same bits.
 */
async function againstCpu(
  name: string,
  inputs: Inputs,
  attrs: Record<string, unknown>,
  what: string,
): Promise<void> {
  const want = await run("cpu", name, inputs, attrs);
  let first: Float32Array | undefined;
  for (const threads of THREADS) {
    const got = await withThreads(threads, () => run("wasm", name, inputs, attrs));
    assert.deepEqual(got.shape, want.shape, `${what}: shape`);
    assertClose(got.values, want.values, `${what} (simd, ${threads} threads)`);
    if (first === undefined) first = got.values;
    else assertSameBits(got.values, first, `${what}: ${threads} threads vs ${THREADS[0]}`);
  }
  setSimdDisabled(true);
  try {
    const got = await run("wasm", name, inputs, attrs);
    assert.deepEqual(got.shape, want.shape, `${what}: shape`);
    assertClose(got.values, want.values, `${what} (simd off)`);
  } finally {
    setSimdDisabled(false);
  }
}

/** Asserts bit-equal arrays (NaNs equal). */
function assertSameBits(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      assert.fail(`${what}: element ${i} differs: ${got[i]} vs ${want[i]}`);
    }
  }
}

interface Geo {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  fh: number;
  fw: number;
  s: [number, number];
  d: [number, number];
  pad: "same" | "valid" | number | [[0, 0], [number, number], [number, number], [0, 0]];
}

function info(g: Geo) {
  return tf.backend_util.computeConv2DInfo(
    [g.n, g.h, g.w, g.ci],
    [g.fh, g.fw, g.ci, g.co],
    g.s,
    g.d,
    g.pad,
    "floor",
  );
}

/** Plain loops (float64) for the forward convolution and both gradients, NHWC. */
function refConv(g: Geo, x: Float32Array, wt: Float32Array) {
  const c = info(g);
  const y = new Float64Array(size(c.outShape));
  for (let b = 0; b < g.n; b++) {
    for (let r = 0; r < c.outHeight; r++) {
      for (let s = 0; s < c.outWidth; s++) {
        for (let o = 0; o < g.co; o++) {
          let acc = 0;
          for (let i = 0; i < g.fh; i++) {
            const yy = r * g.s[0] + i * g.d[0] - c.padInfo.top;
            if (yy < 0 || yy >= g.h) continue;
            for (let j = 0; j < g.fw; j++) {
              const xx = s * g.s[1] + j * g.d[1] - c.padInfo.left;
              if (xx < 0 || xx >= g.w) continue;
              for (let k = 0; k < g.ci; k++) {
                acc += x[((b * g.h + yy) * g.w + xx) * g.ci + k] *
                  wt[((i * g.fw + j) * g.ci + k) * g.co + o];
              }
            }
          }
          y[((b * c.outHeight + r) * c.outWidth + s) * g.co + o] = acc;
        }
      }
    }
  }
  return y;
}

/** dW and dx of `sum(conv(x, W) * dy)` by plain loops. */
function refConvGrads(g: Geo, x: Float32Array, wt: Float32Array, dy: Float32Array) {
  const c = info(g);
  const dw = new Float64Array(g.fh * g.fw * g.ci * g.co);
  const dx = new Float64Array(g.n * g.h * g.w * g.ci);
  for (let b = 0; b < g.n; b++) {
    for (let r = 0; r < c.outHeight; r++) {
      for (let s = 0; s < c.outWidth; s++) {
        for (let i = 0; i < g.fh; i++) {
          const yy = r * g.s[0] + i * g.d[0] - c.padInfo.top;
          if (yy < 0 || yy >= g.h) continue;
          for (let j = 0; j < g.fw; j++) {
            const xx = s * g.s[1] + j * g.d[1] - c.padInfo.left;
            if (xx < 0 || xx >= g.w) continue;
            for (let k = 0; k < g.ci; k++) {
              const xi = ((b * g.h + yy) * g.w + xx) * g.ci + k;
              for (let o = 0; o < g.co; o++) {
                const d = dy[((b * c.outHeight + r) * c.outWidth + s) * g.co + o];
                const wi = ((i * g.fw + j) * g.ci + k) * g.co + o;
                dw[wi] += x[xi] * d;
                dx[xi] += wt[wi] * d;
              }
            }
          }
        }
      }
    }
  }
  return { dw, dx };
}

const GEOMETRIES: Geo[] = [
  { n: 2, h: 7, w: 9, ci: 3, co: 5, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "valid" },
  { n: 2, h: 7, w: 9, ci: 3, co: 5, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "same" },
  { n: 1, h: 9, w: 8, ci: 1, co: 4, fh: 3, fw: 2, s: [2, 2], d: [1, 1], pad: "valid" },
  { n: 3, h: 8, w: 7, ci: 5, co: 8, fh: 3, fw: 3, s: [2, 1], d: [1, 1], pad: "same" },
  { n: 1, h: 11, w: 10, ci: 4, co: 1, fh: 2, fw: 3, s: [2, 2], d: [1, 1], pad: "same" },
  {
    n: 2,
    h: 6,
    w: 5,
    ci: 5,
    co: 3,
    fh: 3,
    fw: 3,
    s: [1, 1],
    d: [1, 1],
    pad: [[0, 0], [1, 2], [0, 1], [0, 0]],
  },
  { n: 2, h: 6, w: 7, ci: 8, co: 12, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: 1 },
  { n: 3, h: 13, w: 13, ci: 32, co: 16, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "valid" },
  // few input channels: the scalar im2col (ci 2, 3) and the vector copy of one-channel rows
  { n: 2, h: 9, w: 10, ci: 1, co: 8, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "same" },
  // one channel, 3×3 valid: the direct first-layer kernel (rows of 6 + 3 pixels, 8 + 4 channels)
  { n: 2, h: 7, w: 11, ci: 1, co: 12, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "valid" },
  { n: 4, h: 26, w: 30, ci: 1, co: 8, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "valid" },
  { n: 2, h: 7, w: 6, ci: 1, co: 4, fh: 4, fw: 4, s: [1, 2], d: [1, 1], pad: "valid" },
  { n: 2, h: 7, w: 8, ci: 2, co: 4, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "same" },
  { n: 1, h: 9, w: 9, ci: 3, co: 8, fh: 5, fw: 5, s: [2, 2], d: [1, 1], pad: "same" },
];

const DILATED: Geo[] = [
  { n: 2, h: 9, w: 8, ci: 3, co: 5, fh: 3, fw: 3, s: [1, 1], d: [2, 2], pad: "valid" },
  { n: 1, h: 7, w: 9, ci: 1, co: 4, fh: 3, fw: 2, s: [1, 1], d: [2, 1], pad: "same" },
  { n: 2, h: 10, w: 9, ci: 5, co: 8, fh: 2, fw: 3, s: [2, 2], d: [2, 2], pad: "valid" },
];

function label(g: Geo): string {
  return `x[${g.n},${g.h},${g.w},${g.ci}] W[${g.fh},${g.fw},${g.ci},${g.co}] s${g.s} d${g.d} ` +
    `pad ${JSON.stringify(g.pad)}`;
}

// ---------------------------------------------------------------- registration

Deno.test("registerWasmTrainingKernels registers our kernels once and keeps them", async () => {
  await setup();
  const names = registerWasmTrainingKernels();
  assert.deepEqual(names, wasmTrainingKernelNames());
  assert.deepEqual(registerWasmTrainingKernels(), names, "idempotent");
  const ours: Record<string, unknown> = {
    Conv2DBackpropFilter: conv2DBackpropFilterWasm,
    Conv2DBackpropInput: conv2DBackpropInputWasm,
    Conv2D: conv2DWasm,
    MaxPoolGrad: maxPoolGradWasm,
    BatchMatMul: batchMatMulWasm,
    _FusedMatMul: fusedMatMulWasm,
    Sum: sumWasm,
    Identity: identityWasm,
    Cast: castWasm,
    MaxPool: maxPoolWasm,
    Add: addWasm,
    UnsortedSegmentSum: unsortedSegmentSumWasm,
    Relu: reluWasm,
    Step: stepWasm,
    Multiply: multiplyWasm,
    SimlearnReluGrad: reluGradWasm,
    SimlearnSqrtGrad: sqrtGradWasm,
    Slice: sliceWasm,
    SimlearnPairwiseSquares: pairwiseSquaresWasm,
    ...comparisonWasm,
    Select: selectWasm,
    GatherV2: gatherV2Wasm,
  };
  assert.deepEqual([...names].sort(), Object.keys(ours).sort());
  for (const [name, fn] of Object.entries(ours)) {
    assert.equal(tf.getKernel(name, "wasm")?.kernelFunc, fn, `${name} is ours on wasm`);
    assert.notEqual(tf.getKernel(name, "cpu")?.kernelFunc, fn, `${name} untouched on cpu`);
  }
  await tf.setBackend("wasm");
  assert.ok(simdFor(tf.backend() as unknown as WasmBackendLike), "SIMD route available here");
});

// ---------------------------------------------------------------- convolutions

Deno.test("Conv2DBackpropFilter equals cpu (strides 1/2, same/valid/explicit/number pads)", async () => {
  await setup();
  let seed = 1;
  for (const g of GEOMETRIES) {
    const c = info(g);
    const x = randoms(g.n * g.h * g.w * g.ci, seed++);
    const dy = randoms(size(c.outShape), seed++);
    await againstCpu(
      "Conv2DBackpropFilter",
      { x: { shape: [g.n, g.h, g.w, g.ci], values: x }, dy: { shape: c.outShape, values: dy } },
      { strides: g.s, pad: g.pad, dataFormat: "NHWC", filterShape: [g.fh, g.fw, g.ci, g.co] },
      `Conv2DBackpropFilter ${label(g)}`,
    );
  }
});

Deno.test("Conv2DBackpropInput equals cpu (strides 1/2, same/valid/explicit/number pads)", async () => {
  await setup();
  let seed = 100;
  for (const g of GEOMETRIES) {
    const c = info(g);
    const w = randoms(g.fh * g.fw * g.ci * g.co, seed++);
    const dy = randoms(size(c.outShape), seed++);
    await againstCpu(
      "Conv2DBackpropInput",
      {
        dy: { shape: c.outShape, values: dy },
        filter: { shape: [g.fh, g.fw, g.ci, g.co], values: w },
      },
      { strides: g.s, pad: g.pad, dataFormat: "NHWC", inputShape: [g.n, g.h, g.w, g.ci] },
      `Conv2DBackpropInput ${label(g)}`,
    );
  }
});

Deno.test("Conv2D equals cpu, including dilation 2", async () => {
  await setup();
  let seed = 200;
  for (const g of [...GEOMETRIES, ...DILATED.filter((d) => d.s[0] === 1 && d.s[1] === 1)]) {
    const x = randoms(g.n * g.h * g.w * g.ci, seed++);
    const w = randoms(g.fh * g.fw * g.ci * g.co, seed++);
    await againstCpu(
      "Conv2D",
      {
        x: { shape: [g.n, g.h, g.w, g.ci], values: x },
        filter: { shape: [g.fh, g.fw, g.ci, g.co], values: w },
      },
      { strides: g.s, pad: g.pad, dataFormat: "NHWC", dilations: g.d },
      `Conv2D ${label(g)}`,
    );
  }
});

const WINOGRAD: Geo[] = [
  { n: 2, h: 9, w: 8, ci: 4, co: 8, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "valid" },
  { n: 3, h: 7, w: 10, ci: 8, co: 4, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "same" },
  { n: 1, h: 5, w: 5, ci: 12, co: 16, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: 1 },
  {
    n: 2,
    h: 6,
    w: 7,
    ci: 4,
    co: 4,
    fh: 3,
    fw: 3,
    s: [1, 1],
    d: [1, 1],
    pad: [[0, 0], [2, 0], [0, 1], [0, 0]],
  },
  { n: 2, h: 13, w: 13, ci: 32, co: 64, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "valid" },
];

/** F(4×4, 3×3): tiles overhanging the image on both sides, padding, several images per task. */
const WINOGRAD4: Geo[] = [
  ...WINOGRAD.slice(0, -1),
  { n: 2, h: 13, w: 13, ci: 8, co: 12, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "valid" },
  { n: 2, h: 11, w: 6, ci: 4, co: 8, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: "same" },
];

Deno.test("Winograd F(2x2,3x3) and F(4x4,3x3): all three passes equal cpu at 1 and 2 threads", async () => {
  await setup();
  let seed = 1500;
  const old = setConvAlgorithm("winograd");
  try {
    for (
      const [algorithm, g] of [...WINOGRAD, ...WINOGRAD4].map((g, i) =>
        [i < WINOGRAD.length ? "winograd" : "winograd4", g] as const
      )
    ) {
      setConvAlgorithm(algorithm);
      const c = info(g);
      const x = randoms(g.n * g.h * g.w * g.ci, seed++);
      const w = randoms(9 * g.ci * g.co, seed++);
      const dy = randoms(size(c.outShape), seed++);
      const xs = { shape: [g.n, g.h, g.w, g.ci], values: x };
      const ws = { shape: [3, 3, g.ci, g.co], values: w };
      const dys = { shape: c.outShape, values: dy };
      const base = { strides: 1, pad: g.pad, dataFormat: "NHWC" };
      await againstCpu(
        "Conv2D",
        { x: xs, filter: ws },
        { ...base, dilations: 1 },
        `Conv2D ${label(g)}`,
      );
      await againstCpu("Conv2DBackpropFilter", { x: xs, dy: dys }, {
        ...base,
        filterShape: ws.shape,
      }, `Conv2DBackpropFilter ${label(g)}`);
      await againstCpu("Conv2DBackpropInput", { dy: dys, filter: ws }, {
        ...base,
        inputShape: xs.shape,
      }, `Conv2DBackpropInput ${label(g)}`);
    }
  } finally {
    setConvAlgorithm(old);
  }
});

Deno.test("convolutions take Winograd or im2col by the measured rule, and the routes differ", async () => {
  await setup();
  const geo = (h: number, ci: number, co: number) => ({
    n: 4,
    h,
    w: h,
    ci,
    co,
    oh: h - 2,
    ow: h - 2,
    fh: 3,
    fw: 3,
    sh: 1,
    sw: 1,
    dh: 1,
    dw: 1,
    pt: 0,
    pl: 0,
  });
  assert.equal(convAlgorithm("forward", geo(13, 32, 64)), "winograd4");
  assert.equal(convAlgorithm("filter", geo(9, 32, 64)), "winograd4"); // 7x7 outputs
  assert.equal(convAlgorithm("input", geo(13, 32, 64)), "winograd4");
  assert.equal(convAlgorithm("forward", geo(8, 32, 64)), "im2col"); // 6x6 outputs
  assert.equal(convAlgorithm("forward", geo(13, 1, 32)), "im2col"); // channels not /4
  assert.equal(convAlgorithm("forward", { ...geo(13, 32, 64), sh: 2 }), "im2col");
  // The two routes round differently: proof that forcing a route changes the computation.
  const g = WINOGRAD[4];
  const xs = { shape: [g.n, g.h, g.w, g.ci], values: randoms(g.n * g.h * g.w * g.ci, 1600) };
  const ws = { shape: [3, 3, g.ci, g.co], values: randoms(9 * g.ci * g.co, 1601) };
  const attrs = { strides: 1, pad: "valid", dataFormat: "NHWC", dilations: 1 };
  const byRoute: Float32Array[] = [];
  for (const route of ["im2col", "winograd", "winograd4"] as const) {
    const old = setConvAlgorithm(route);
    try {
      byRoute.push((await run("wasm", "Conv2D", { x: xs, filter: ws }, attrs)).values);
    } finally {
      setConvAlgorithm(old);
    }
  }
  for (const k of [1, 2]) {
    assert.ok(byRoute[0].some((v, i) => v !== byRoute[k][i]), "the routes differ in rounding");
    assertClose(byRoute[k], byRoute[0], `Winograd (${k}) vs im2col`);
  }
  assert.ok(byRoute[1].some((v, i) => v !== byRoute[2][i]), "F(2,3) and F(4,3) differ");
});

Deno.test("Winograd's filter transforms: G·g·Gᵀ and Gᵀ·dU·G by hand", () => {
  // g = [[1,2,3],[4,5,6],[7,8,9]] for one channel pair.
  const g = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9);
  const u = filterTransform(g, 1, 1, false);
  // G·g·Gᵀ with G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]], by hand:
  const want = [1, 3, 1, 3, 6, 11.25, 3.75, 9, 2, 3.75, 1.25, 3, 7, 12, 4, 9];
  assert.deepEqual([...u], want);
  // Gᵀ·dU·G of dU = unit at (1, 2): Gᵀ[:,1]·G[2,:] = [½, ½, ½]ᵀ·[½, −½, ½].
  const du = new Float32Array(16);
  du[1 * 4 + 2] = 1;
  const dg = new Float32Array(9);
  filterGradientTransform(du, dg, 1, 1);
  assert.deepEqual([...dg], [0.25, -0.25, 0.25, 0.25, -0.25, 0.25, 0.25, -0.25, 0.25]);
  // The flipped transform is the transform of the rotated filter.
  const flipped = filterTransform(g, 1, 1, true);
  const rotated = filterTransform(Float32Array.of(9, 8, 7, 6, 5, 4, 3, 2, 1), 1, 1, false);
  assert.deepEqual([...flipped], [...rotated]);
});

Deno.test("F(4x4,3x3)'s filter transforms reproduce a 3x3 correlation; Gᵀ·dU·G is their adjoint", () => {
  // 1-D check through 2-D: Y = Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A equals the 4×4 correlation of d, g.
  const BT = [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ];
  const AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]];
  const g = randoms(9, 1650);
  const d = randoms(36, 1651);
  const u = filterTransform4(g, 1, 1, false);
  const v = new Float64Array(36);
  for (let a = 0; a < 6; a++) {
    for (let b = 0; b < 6; b++) {
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) v[a * 6 + b] += BT[a][i] * d[i * 6 + j] * BT[b][j];
      }
    }
  }
  for (let r = 0; r < 4; r++) {
    for (let s = 0; s < 4; s++) {
      let y = 0;
      for (let a = 0; a < 6; a++) {
        for (let b = 0; b < 6; b++) y += AT[r][a] * u[a * 6 + b] * v[a * 6 + b] * AT[s][b];
      }
      let want = 0;
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) want += g[i * 3 + j] * d[(r + i) * 6 + s + j];
      }
      assert.ok(Math.abs(y - want) < 1e-5, `Y[${r},${s}] = ${y}, want ${want}`);
    }
  }
  // <dU, G·g·Gᵀ> = <Gᵀ·dU·G, g> for random dU and g; and the transposed layout.
  const du = randoms(36, 1652);
  const dg = new Float32Array(9);
  filterGradientTransform4(du, dg, 1, 1);
  let lhs = 0;
  let rhs = 0;
  for (let k = 0; k < 36; k++) lhs += du[k] * u[k];
  for (let k = 0; k < 9; k++) rhs += dg[k] * g[k];
  assert.ok(Math.abs(lhs - rhs) < 1e-5, `${lhs} vs ${rhs}`);
  const w2 = randoms(9 * 2 * 3, 1653);
  const plain = filterTransform4(w2, 2, 3, false);
  const transposed = filterTransform4(w2, 2, 3, true);
  for (let p = 0; p < 36; p++) {
    for (let c = 0; c < 2; c++) {
      for (let o = 0; o < 3; o++) {
        assert.equal(transposed[p * 6 + o * 2 + c], plain[p * 6 + c * 3 + o]);
      }
    }
  }
});

Deno.test("the plain reference loops agree with cpu (so that they can judge dilation)", async () => {
  await setup();
  const g = GEOMETRIES[3];
  const c = info(g);
  const x = randoms(g.n * g.h * g.w * g.ci, 7);
  const w = randoms(g.fh * g.fw * g.ci * g.co, 8);
  const dy = randoms(size(c.outShape), 9);
  const xs = { shape: [g.n, g.h, g.w, g.ci], values: x };
  const ws = { shape: [g.fh, g.fw, g.ci, g.co], values: w };
  const y = await run("cpu", "Conv2D", { x: xs, filter: ws }, {
    strides: g.s,
    pad: g.pad,
    dilations: 1,
    dataFormat: "NHWC",
  });
  assertClose(y.values, refConv(g, x, w), "reference forward");
  const ref = refConvGrads(g, x, w, dy);
  const dw = await run("cpu", "Conv2DBackpropFilter", {
    x: xs,
    dy: { shape: c.outShape, values: dy },
  }, {
    strides: g.s,
    pad: g.pad,
    filterShape: ws.shape,
    dataFormat: "NHWC",
  });
  assertClose(dw.values, ref.dw, "reference dW");
  const dx = await run("cpu", "Conv2DBackpropInput", {
    dy: { shape: c.outShape, values: dy },
    filter: ws,
  }, {
    strides: g.s,
    pad: g.pad,
    inputShape: xs.shape,
    dataFormat: "NHWC",
  });
  assertClose(dx.values, ref.dx, "reference dx");
});

Deno.test("convolution gradients with dilation 2 equal the plain loops", async () => {
  await setup();
  let seed = 300;
  for (const g of DILATED) {
    const c = info(g);
    const x = randoms(g.n * g.h * g.w * g.ci, seed++);
    const w = randoms(g.fh * g.fw * g.ci * g.co, seed++);
    const dy = randoms(size(c.outShape), seed++);
    const ref = refConvGrads(g, x, w, dy);
    for (const [off, threads] of [[false, 1], [false, 2], [true, 1]] as [boolean, number][]) {
      setSimdDisabled(off);
      await setKernelThreads(threads);
      try {
        const dw = await run(
          "wasm",
          "Conv2DBackpropFilter",
          { x: { shape: [g.n, g.h, g.w, g.ci], values: x }, dy: { shape: c.outShape, values: dy } },
          { strides: g.s, pad: g.pad, dilations: g.d, filterShape: [g.fh, g.fw, g.ci, g.co] },
        );
        assertClose(dw.values, ref.dw, `dW ${label(g)} simd ${!off} threads ${threads}`);
        const dx = await run(
          "wasm",
          "Conv2DBackpropInput",
          {
            dy: { shape: c.outShape, values: dy },
            filter: { shape: [g.fh, g.fw, g.ci, g.co], values: w },
          },
          { strides: g.s, pad: g.pad, dilations: g.d, inputShape: [g.n, g.h, g.w, g.ci] },
        );
        assertClose(dx.values, ref.dx, `dx ${label(g)} simd ${!off} threads ${threads}`);
      } finally {
        setSimdDisabled(false);
      }
    }
  }
});

Deno.test("convolution gradients in NCHW equal cpu", async () => {
  await setup();
  const [n, ci, h, w, co] = [2, 3, 7, 6, 4];
  const x = randoms(n * ci * h * w, 41);
  const wt = randoms(3 * 3 * ci * co, 42);
  const c = tf.backend_util.computeConv2DInfo(
    [n, ci, h, w],
    [3, 3, ci, co],
    2,
    1,
    "same",
    "floor",
    false,
    "channelsFirst",
  );
  const dy = randoms(size(c.outShape), 43);
  await againstCpu(
    "Conv2DBackpropFilter",
    { x: { shape: [n, ci, h, w], values: x }, dy: { shape: c.outShape, values: dy } },
    { strides: 2, pad: "same", dataFormat: "NCHW", filterShape: [3, 3, ci, co] },
    "Conv2DBackpropFilter NCHW",
  );
  await againstCpu(
    "Conv2DBackpropInput",
    { dy: { shape: c.outShape, values: dy }, filter: { shape: [3, 3, ci, co], values: wt } },
    { strides: 2, pad: "same", dataFormat: "NCHW", inputShape: [n, ci, h, w] },
    "Conv2DBackpropInput NCHW",
  );
});

// ---------------------------------------------------------------- pooling

Deno.test("MaxPoolGrad equals cpu (windows 2/3, strides 1/2, same/valid, ties)", async () => {
  await setup();
  let seed = 500;
  const cases: [number[], number, number, "same" | "valid"][] = [
    [[2, 8, 8, 4], 2, 2, "valid"],
    [[1, 7, 9, 3], 2, 2, "valid"],
    [[2, 7, 7, 8], 3, 1, "same"],
    [[1, 9, 8, 5], 3, 2, "valid"],
    [[2, 6, 7, 1], 3, 2, "same"],
    [[3, 13, 13, 32], 2, 2, "valid"],
  ];
  for (const [shape, f, s, pad] of cases) {
    const x = randoms(size(shape), seed++);
    // Ties, as after a ReLU: a third of the values are exactly 0.
    for (let i = 0; i < x.length; i += 3) x[i] = 0;
    await tf.setBackend("cpu");
    const y = tf.maxPool(tf.tensor4d(x, shape as [number, number, number, number]), f, s, pad);
    const ys = { shape: y.shape, values: Float32Array.from(y.dataSync()) };
    y.dispose();
    const dy = randoms(size(ys.shape), seed++);
    await againstCpu(
      "MaxPoolGrad",
      { dy: { shape: ys.shape, values: dy }, input: { shape, values: x }, output: ys },
      { filterSize: f, strides: s, pad },
      `MaxPoolGrad x[${shape}] f${f} s${s} ${pad}`,
    );
  }
});

Deno.test("MaxPool equals cpu (2x2 stride 2 fast path and other windows)", async () => {
  await setup();
  let seed = 550;
  const cases: [number[], number, number, "same" | "valid"][] = [
    [[2, 8, 8, 4], 2, 2, "valid"],
    [[3, 13, 13, 32], 2, 2, "valid"],
    [[1, 7, 9, 3], 2, 2, "valid"],
    [[2, 7, 7, 8], 3, 1, "same"],
    [[1, 9, 9, 4], 2, 2, "same"],
  ];
  for (const [shape, f, s, pad] of cases) {
    const x = randoms(size(shape), seed++);
    for (let i = 0; i < x.length; i += 3) x[i] = 0;
    x[1] = -Infinity;
    await againstCpu(
      "MaxPool",
      { x: { shape, values: x } },
      { filterSize: f, strides: s, pad },
      `MaxPool x[${shape}] f${f} s${s} ${pad}`,
    );
  }
});

Deno.test("Add equals cpu for bias rows and other broadcasts", async () => {
  await setup();
  let seed = 580;
  const cases: [number[], number[]][] = [
    [[2, 5, 8], [8]],
    [[8], [3, 2, 8]],
    [[2, 5, 8], [1, 8]],
    [[3, 5], [5]],
    [[4, 4], [4, 4]],
    [[1, 8], [1, 8]],
    [[2, 3, 4], [3, 1]],
    [[6, 4], []],
  ];
  for (const [as, bs] of cases) {
    await againstCpu(
      "Add",
      {
        a: { shape: as, values: randoms(size(as), seed++) },
        b: { shape: bs, values: randoms(size(bs), seed++) },
      },
      {},
      `Add [${as}] + [${bs}]`,
    );
  }
});

Deno.test("Relu, Step, Multiply, Add and Relu's one-pass gradient equal cpu (NaN, ±0, ±Inf)", async () => {
  await setup();
  for (const n of [37, 40001]) {
    const a = randoms(n, 560 + n);
    const b = randoms(n, 561 + n);
    a.set([NaN, 0, -0, Infinity, -Infinity, 1e-40], 0);
    b.set([1, Infinity, NaN, 2, -3, 0], 0);
    const x = { shape: [n], values: a };
    const y = { shape: [n], values: b };
    await againstCpu("Relu", { x }, {}, `Relu [${n}]`);
    await againstCpu("Step", { x }, { alpha: 0.25 }, `Step [${n}]`);
    await againstCpu("Multiply", { a: x, b: y }, {}, `Multiply [${n}]`);
    await againstCpu("Add", { a: x, b: y }, {}, `Add [${n}]`);
    // The fused gradient against tfjs's formula dy · step(x) on cpu, NaN and infinities included.
    await tf.setBackend("cpu");
    const want = tf.tidy(() => tf.mul(tf.tensor1d(b), tf.step(tf.tensor1d(a))).dataSync());
    for (const threads of THREADS) {
      const got = await withThreads(threads, () => run("wasm", RELU_GRAD_KERNEL, { dy: y, x }, {}));
      for (let i = 0; i < n; i++) {
        if (!Object.is(got.values[i], want[i]) && !(Math.abs(got.values[i] - want[i]) <= 0)) {
          assert.fail(`ReluGrad [${n}] element ${i}: got ${got.values[i]}, want ${want[i]}`);
        }
      }
    }
  }
  // Relu's gradient on wasm goes through the fused kernel.
  await tf.setBackend("wasm");
  const values: number[] = [];
  const prof = await tf.profile(() => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.relu(t)))(tf.tensor1d([-1, 2, 0]));
    values.push(...g.dataSync());
    return g;
  });
  assert.deepEqual(values, [0, 1, 0]);
  const kernels = prof.kernelNames;
  assert.ok(kernels.includes(RELU_GRAD_KERNEL), `kernels: ${kernels}`);
  assert.ok(!kernels.includes("Step"), `no Step kernel: ${kernels}`);
});

Deno.test("the fused Adam update gives tf.train.adam's bits on cpu and wasm; others fall back", async () => {
  await setup();
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    for (const threads of backend === "wasm" ? THREADS : [1]) {
      await setKernelThreads(threads);
      const finals: Float32Array[][] = [];
      const leaked: number[] = [];
      for (const fused of [false, true]) {
        const before = tf.memory().numTensors;
        const vars = [
          tf.variable(tf.tensor2d(randoms(300 * 7, 1200), [300, 7])),
          tf.variable(tf.tensor1d(randoms(5, 1201))),
        ];
        const optimizer = tf.train.adam(0.01);
        for (let step = 0; step < 4; step++) {
          const { value, grads } = optimizer.computeGradients(() =>
            tf.add(tf.sum(tf.sin(tf.mul(vars[0], step + 1))), tf.sum(tf.square(vars[1])))
          );
          value.dispose();
          if (fused) applyGradients(optimizer, grads);
          else optimizer.applyGradients(grads as Record<string, tf.Variable>);
          tf.dispose(grads);
        }
        const weights = await optimizer.getWeights();
        finals.push([
          ...vars.map((v) => Float32Array.from(v.dataSync())),
          ...weights.map((w) => Float32Array.from(w.tensor.dataSync())),
        ]);
        tf.dispose(weights.map((w) => w.tensor));
        tf.dispose(vars);
        optimizer.dispose();
        leaked.push(tf.memory().numTensors - before);
      }
      // (tf.train.adam itself leaves one tensor behind after dispose; the fused path no more.)
      assert.equal(leaked[1], leaked[0], `${backend}: tensors left over, fused vs plain`);
      const [plain, fusedRun] = finals;
      assert.equal(fusedRun.length, plain.length);
      plain.forEach((want, i) =>
        assertSameBits(fusedRun[i], want, `${backend} ${threads} threads: state ${i}`)
      );
    }
  }
  // Another optimizer takes its own update.
  await tf.setBackend("wasm");
  const w = tf.variable(tf.tensor1d([1, 2]));
  const sgd = tf.train.sgd(0.5);
  const { value, grads } = sgd.computeGradients(() => tf.sum(tf.square(w)));
  value.dispose();
  applyGradients(sgd, grads);
  assert.deepEqual([...w.dataSync()], [0, 0]);
  tf.dispose([w, ...Object.values(grads)]);
});

Deno.test("Slice equals cpu: contiguous runs (one copy) and strided slices", async () => {
  await setup();
  const shape = [6, 5, 4, 3];
  const values = randoms(size(shape), 1700);
  const cases: [number[], number[]][] = [
    [[2, 0, 0, 0], [3, 5, 4, 3]], // a batch: contiguous
    [[1, 2, 0, 0], [1, 2, 4, 3]], // contiguous inside one item
    [[0, 0, 0, 0], [0, 5, 4, 3]], // empty
    [[1, 1, 1, 0], [2, 3, 2, 3]], // strided
    [[0, 0, 0, 1], [6, 5, 4, 1]], // strided, last axis
  ];
  for (const [begin, sz] of cases) {
    await againstCpu(
      "Slice",
      { x: { shape, values } },
      { begin, size: sz },
      `Slice ${begin} ${sz}`,
    );
  }
  await tf.setBackend("wasm");
  const ints = tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], "int32");
  const s = tf.slice(ints, [1, 0], [2, 2]);
  assert.equal(s.dtype, "int32");
  assert.deepEqual(await s.array(), [[3, 4], [5, 6]]);
  tf.dispose([ints, s]);
});

// ---------------------------------------------------------------- products and reductions

Deno.test("BatchMatMul equals cpu for every transpose and batch broadcast", async () => {
  await setup();
  let seed = 600;
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[4, 5, 7], [7, 6], false, false],
    [[4, 7, 5], [6, 7], true, true],
    [[5, 7], [4, 7, 6], false, false],
    [[2, 3, 5, 7], [2, 3, 6, 7], false, true],
    [[3, 7, 5], [3, 7, 6], true, false],
    [[1, 33, 17], [1, 17, 9], false, false],
    // batches of products above the plain-loop size (5440 multiply-adds): the SIMD kernel
    [[2, 20, 17], [17, 16], false, false],
    [[3, 17, 20], [3, 16, 17], true, true],
    // Bᵀ through the 4×4 block transpose, with edge rows and columns
    [[5, 9], [6, 9], false, true],
    [[13, 21], [10, 21], false, true],
    // many dot products (a loss's [n, 1, d]·[n, 1, d]ᵀ)
    [[9, 1, 12], [9, 1, 12], false, true],
  ];
  for (const [as, bs, ta, tb] of cases) {
    await againstCpu(
      "BatchMatMul",
      {
        a: { shape: as, values: randoms(size(as), seed++) },
        b: { shape: bs, values: randoms(size(bs), seed++) },
      },
      { transposeA: ta, transposeB: tb },
      `BatchMatMul [${as}]${ta ? "ᵀ" : ""}·[${bs}]${tb ? "ᵀ" : ""}`,
    );
  }
});

Deno.test("BatchMatMul broadcasts batch dimensions like NumPy (plain loop)", async () => {
  // The cpu backend mishandles [2,1,·,·]·[1,3,·,·]; judge against a loop instead.
  await setup();
  const a = randoms(2 * 1 * 5 * 7, 650);
  const b = randoms(1 * 3 * 7 * 6, 651);
  const want = new Float64Array(2 * 3 * 5 * 6);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      for (let r = 0; r < 5; r++) {
        for (let c = 0; c < 6; c++) {
          let acc = 0;
          for (let p = 0; p < 7; p++) acc += a[(i * 5 + r) * 7 + p] * b[(j * 7 + p) * 6 + c];
          want[((i * 3 + j) * 5 + r) * 6 + c] = acc;
        }
      }
    }
  }
  for (const [off, threads] of [[false, 1], [false, 2], [true, 1]] as [boolean, number][]) {
    setSimdDisabled(off);
    await setKernelThreads(threads);
    try {
      const got = await run("wasm", "BatchMatMul", {
        a: { shape: [2, 1, 5, 7], values: a },
        b: { shape: [1, 3, 7, 6], values: b },
      }, { transposeA: false, transposeB: false });
      assert.deepEqual(got.shape, [2, 3, 5, 6]);
      assertClose(got.values, want, `broadcast product (simd ${!off}, ${threads} threads)`);
    } finally {
      setSimdDisabled(false);
    }
  }
});

Deno.test("_FusedMatMul equals cpu with transposes, bias and activation", async () => {
  await setup();
  let seed = 700;
  const cases: [number[], number[], boolean, boolean, string][] = [
    [[1, 6, 4], [1, 5, 4], false, true, "relu"],
    [[1, 4, 6], [1, 4, 5], true, false, "linear"],
    [[2, 6, 4], [1, 4, 5], false, false, "relu"],
  ];
  for (const [as, bs, ta, tb, act] of cases) {
    await againstCpu(
      "_FusedMatMul",
      {
        a: { shape: as, values: randoms(size(as), seed++) },
        b: { shape: bs, values: randoms(size(bs), seed++) },
        bias: { shape: [5], values: randoms(5, seed++) },
      },
      { transposeA: ta, transposeB: tb, activation: act, leakyreluAlpha: 0.2 },
      `_FusedMatMul [${as}]·[${bs}] ${act}`,
    );
  }
});

Deno.test("Sum equals cpu on leading, trailing and all axes", async () => {
  await setup();
  let seed = 800;
  const cases: [number[], number | number[], boolean][] = [
    [[4, 5, 6, 3], [0, 1, 2], false],
    [[4, 5, 6, 3], [2, 0, 1], true],
    [[7, 3], 0, false],
    [[7, 3], -1, false],
    [[2, 3, 4], [0, 1, 2], false],
    [[2, 3, 4], [1], true],
    [[8, 9, 10, 8], [0, 1, 2], false],
    [[300, 12], 0, true],
  ];
  for (const [shape, axis, keepDims] of cases) {
    await againstCpu(
      "Sum",
      { x: { shape, values: randoms(size(shape), seed++) } },
      { axis, keepDims },
      `Sum [${shape}] axis ${axis} keepDims ${keepDims}`,
    );
  }
});

Deno.test("SimlearnPairwiseSquares has the bits of Sub, Square, Multiply, Sum on wasm (SIMD at 1 and 2 threads, fallback)", async () => {
  await setup();
  let seed = 900;
  // Column counts around the 16- and 4-wide SIMD loops, one row, d = 1, far from the origin.
  const shapes: [number, number, number][] = [
    [128, 128, 64],
    [5, 37, 3],
    [64, 8, 33],
    [3, 21, 130],
    [1, 1, 1],
    [2, 19, 7],
  ];
  for (const [n, m, d] of shapes) {
    for (const weighted of [false, true]) {
      const av = randoms(n * d, seed++).map((v) => 1000 + 3 * v);
      const bv = randoms(m * d, seed++).map((v) => 1000 + 3 * v);
      if (n * d > 2 && m * d > 3) {
        av[1] = NaN;
        bv[2] = Infinity;
        av[2] = -Infinity;
        bv[3] = -0;
      }
      const wv = randoms(d, seed++).map((v) => 1 + v);
      const what = `[${n}, ${d}] vs [${m}, ${d}]${weighted ? " weighted" : ""}`;
      await tf.setBackend("wasm");
      const want = tf.tidy(() => {
        const sq = tf.square(
          tf.sub(
            tf.expandDims(tf.tensor2d(av, [n, d]), 1),
            tf.expandDims(tf.tensor2d(bv, [m, d]), 0),
          ),
        );
        return Float32Array.from(tf.sum(weighted ? tf.mul(sq, tf.tensor1d(wv)) : sq, 2).dataSync());
      });
      const inputs: Inputs = { a: { shape: [n, d], values: av }, b: { shape: [m, d], values: bv } };
      if (weighted) inputs.w = { shape: [d], values: wv };
      for (const threads of THREADS) {
        const got = await withThreads(
          threads,
          () => run("wasm", PAIRWISE_SQUARES_KERNEL, inputs, {}),
        );
        assert.deepEqual(got.shape, [n, m]);
        assertSameBits(got.values, want, `${what}, ${threads} threads`);
      }
      setSimdDisabled(true);
      try {
        const got = await run("wasm", PAIRWISE_SQUARES_KERNEL, inputs, {});
        assertSameBits(got.values, want, `${what}, SIMD off`);
      } finally {
        setSimdDisabled(false);
      }
    }
  }
  // By hand, and d = 0 (empty sums are 0; tfjs's Sum over an empty axis on wasm is not).
  await tf.setBackend("wasm");
  const hand = pairwiseSquares(tf.tensor2d([[0, 0], [1, 1]]), tf.tensor2d([[3, 4]]));
  assert.deepEqual(hand?.arraySync(), [[25], [13]]);
  const empty = pairwiseSquares(tf.zeros([3, 0]) as tf.Tensor2D, tf.zeros([2, 0]) as tf.Tensor2D);
  assert.deepEqual(empty?.arraySync(), [[0, 0], [0, 0], [0, 0]]);
  assert.throws(
    () =>
      tf.engine().runKernel(PAIRWISE_SQUARES_KERNEL, { a: tf.zeros([2, 3]), b: tf.zeros([2, 4]) }),
    /a \[n, d\], b \[m, d\] and w \[d\] must be float32, got a \[2,3\] float32, b \[2,4\]/,
  );
  // Elsewhere no kernel: the caller takes tfjs's ops.
  await tf.setBackend("cpu");
  assert.equal(
    pairwiseSquares(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([2, 3]) as tf.Tensor2D),
    undefined,
  );
});

Deno.test("squaredDistances on wasm: one SimlearnPairwiseSquares, no [n, m, d] tensor, the blocks' bits", async () => {
  await setup();
  const { squaredDistances } = await import("../lib/_squared_distances.ts");
  const av = randoms(96 * 24, 950).map((v) => 50 + v);
  const bv = randoms(40 * 24, 951).map((v) => 50 + v);
  const wv = randoms(24, 952).map((v) => 1.5 + v);
  for (const kind of ["plain", "diagonal"] as const) {
    await tf.setBackend("wasm");
    const f = kind === "plain" ? { kind } : { kind, w: tf.tensor1d(wv) };
    let got = new Float32Array();
    const prof = await tf.profile(() => {
      const d2 = squaredDistances(tf.tensor2d(av, [96, 24]), tf.tensor2d(bv, [40, 24]), f);
      got = Float32Array.from(d2.dataSync());
      return d2;
    });
    assert.ok(prof.kernelNames.includes(PAIRWISE_SQUARES_KERNEL), `${kind}: ${prof.kernelNames}`);
    assert.ok(!prof.kernelNames.includes("Square"), `${kind}: ${prof.kernelNames}`);
    assert.ok(prof.peakBytes < 96 * 40 * 24 * 4, `${kind}: peak ${prof.peakBytes} bytes`);
    // The blocked tfjs route (the kernel unregistered for a moment) gives the same bits.
    const config = tf.getKernel(PAIRWISE_SQUARES_KERNEL, "wasm")!;
    tf.unregisterKernel(PAIRWISE_SQUARES_KERNEL, "wasm");
    try {
      const want = tf.tidy(() =>
        Float32Array.from(
          squaredDistances(tf.tensor2d(av, [96, 24]), tf.tensor2d(bv, [40, 24]), f).dataSync(),
        )
      );
      assertSameBits(got, want, `${kind}: kernel vs blocks`);
    } finally {
      tf.registerKernel(config);
    }
  }
});

Deno.test("comparisons and Select equal cpu: broadcasts of every kind, NaN, ±0, ±Inf, int32", async () => {
  await setup();
  let seed = 1200;
  const special = [NaN, 0, -0, Infinity, -Infinity, 1, -1];
  const values = (shape: number[], int: boolean) => {
    const v = randoms(size(shape), seed++).map((x, i) =>
      i % 3 === 0 ? special[(i / 3) % special.length] : Math.round(x * 3) / 2
    );
    return int ? Int32Array.from(v, (x) => (Number.isFinite(x) ? Math.round(x) : 7)) : v;
  };
  const pairs: [number[], number[]][] = [
    [[128, 128], [128, 1]], // the gradient of tf.max over rows
    [[128, 128], []],
    [[], [5, 3]],
    [[6, 7], [6, 7]],
    [[1, 7], [6, 1]],
    [[4, 1, 3], [1, 5, 1]],
    [[2, 3, 4, 5], [3, 1, 5]],
    [[0, 4], [1, 4]],
    [[], []],
  ];
  for (const [sa, sb] of pairs) {
    for (const int of [false, true]) {
      const inputs: Inputs = {
        a: { shape: sa, values: values(sa, int) },
        b: { shape: sb, values: values(sb, int) },
      };
      for (const name of Object.keys(comparisonWasm)) {
        await againstCpu(name, inputs, {}, `${name} [${sa}] vs [${sb}]${int ? " int32" : ""}`);
      }
    }
  }
  for (const shape of [[128, 128], [3, 4, 5], [7]]) {
    for (const int of [false, true]) {
      const cond = values(shape, false).map((x) => (x > 0 ? 1 : 0));
      const inputs: Inputs = {
        t: { shape, values: values(shape, int) },
        e: { shape, values: values(shape, int) },
      };
      const select = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() =>
          Float32Array.from(
            tf.where(
              tf.tensor(cond, shape, "bool"),
              tf.tensor(inputs.t.values, shape),
              tf.tensor(inputs.e.values, shape),
            ).dataSync(),
          )
        );
      };
      const want = await select("cpu");
      assertSameBits(await select("wasm"), want, `Select [${shape}]${int ? " int32" : ""}`);
    }
  }
  // tfjs broadcasts a rank-1 condition along the last axis (NumPy's rule) before the kernel.
  await tf.setBackend("wasm");
  const rows = tf.where(tf.tensor1d([1, 0], "bool"), tf.ones([2, 2]), tf.zeros([2, 2]));
  assert.deepEqual(rows.arraySync(), [[1, 0], [1, 0]]);
  // The gradient of tf.max goes through Equal, now a loop.
  const prof = await tf.profile(() =>
    tf.grad((t: tf.Tensor) => tf.sum(tf.max(t, 1, true)))(tf.tensor2d([[1, 3], [2, 2]]))
  );
  assert.ok(prof.kernelNames.includes("Equal"), `${prof.kernelNames}`);
  assert.equal(tf.getKernel("Equal", "wasm")?.kernelFunc, comparisonWasm.Equal);
});

Deno.test("GatherV2 equals cpu: axes, batchDims, slices, int32 and bool values, bad indices", async () => {
  await setup();
  let seed = 1300;
  const cases: [number[], number[], number, number][] = [
    [[16384], [5000], 0, 0], // a flat distance matrix, many indices (the triplet losses)
    [[7, 5], [9], 0, 0],
    [[7, 5], [3, 2], 1, 0],
    [[4, 6, 3], [5], 1, 0],
    [[4, 6, 3], [4, 2], 1, 1],
    [[2, 3, 4, 5], [2, 3, 6], 2, 2],
    [[3, 4], [0], 0, 0],
  ];
  for (const [xs, is, axis, batchDims] of cases) {
    const dim = xs[axis];
    const ind = Int32Array.from(randoms(size(is), seed++), (v) => Math.floor((v + 1) / 2 * dim));
    for (const dtype of ["float32", "int32", "bool"] as const) {
      const xv = randoms(size(xs), seed++);
      const make = () =>
        dtype === "bool"
          ? tf.tensor(Array.from(xv, (v) => (v > 0 ? 1 : 0)), xs, "bool")
          : dtype === "int32"
          ? tf.tensor(Int32Array.from(xv, (v) => Math.round(v * 1000)), xs, "int32")
          : tf.tensor(xv, xs);
      const what = `GatherV2 [${xs}] [${is}] axis ${axis} batchDims ${batchDims} ${dtype}`;
      await tf.setBackend("cpu");
      const want = tf.tidy(() =>
        Array.from(tf.gather(make(), tf.tensor(ind, is, "int32"), axis, batchDims).dataSync())
      );
      await tf.setBackend("wasm");
      const got = tf.tidy(() => {
        const g = tf.gather(make(), tf.tensor(ind, is, "int32"), axis, batchDims);
        return { shape: g.shape, values: Array.from(g.dataSync()) };
      });
      assert.deepEqual(got.values, want, what);
    }
  }
  await tf.setBackend("wasm");
  assert.throws(
    () => tf.gather(tf.ones([3, 2]), tf.tensor1d([0, 3], "int32")),
    /GatherV2: the index value 3 is not in \[0, 2\]/,
  );
  assert.throws(
    () => tf.gather(tf.ones([3, 2]), tf.tensor1d([-1], "int32")),
    /GatherV2: the index value -1 is not in \[0, 2\]/,
  );
});

Deno.test("Identity and Cast keep values, share storage safely and free it", async () => {
  await setup();
  await tf.setBackend("wasm");
  const before = tf.memory().numBytes;
  const x = tf.tensor1d([1.5, -2, 3]);
  const y = tf.clone(x);
  const z = tf.cast(x, "float32");
  const i = tf.cast(x, "int32");
  x.dispose();
  assert.deepEqual([...y.dataSync()], [1.5, -2, 3]);
  assert.deepEqual([...z.dataSync()], [1.5, -2, 3]);
  assert.deepEqual([...i.dataSync()], [1, -2, 3]);
  assert.equal(i.dtype, "int32");
  y.dispose();
  z.dispose();
  i.dispose();
  assert.equal(tf.memory().numBytes, before, "no storage leaked");
});

// ---------------------------------------------------------------- fused layers

/** A conv or dense layer call through `tf.fused`, its inputs, and the gradients of a loss of it. */
interface LayerCase {
  what: string;
  op: "conv" | "dense";
  shapes: number[][]; // x/a, filter/b, bias (omitted: no bias)
  args: Record<string, unknown>;
}

const LAYER_CASES: LayerCase[] = [
  // Winograd route (3×3, side ≥ 8), Relu, bias
  {
    what: "conv 3x3 winograd relu",
    op: "conv",
    shapes: [[2, 10, 9, 4], [3, 3, 4, 8], [8]],
    args: { strides: 1, pad: "valid", activation: "relu" },
  },
  // im2col route, one input channel (vector im2col), same padding
  {
    what: "conv 1-channel same relu",
    op: "conv",
    shapes: [[3, 9, 8, 1], [3, 3, 1, 8], [8]],
    args: { strides: 1, pad: "same", activation: "relu" },
  },
  // one channel, 3×3 valid: the direct first-layer kernel with the epilogue
  {
    what: "conv 1-channel valid relu",
    op: "conv",
    shapes: [[3, 8, 13, 1], [3, 3, 1, 12], [12]],
    args: { strides: 1, pad: "valid", activation: "relu" },
  },
  // im2col route, stride 2, output channels not a multiple of 4 (padded copy), linear
  {
    what: "conv stride 2 co 6 linear",
    op: "conv",
    shapes: [[2, 7, 8, 5], [3, 2, 5, 6], [6]],
    args: { strides: [2, 1], pad: "same", activation: "linear" },
  },
  {
    what: "conv no bias relu",
    op: "conv",
    shapes: [[2, 6, 6, 4], [3, 3, 4, 4]],
    args: { strides: 1, pad: 1, activation: "relu" },
  },
  {
    what: "dense relu",
    op: "dense",
    shapes: [[7, 20], [20, 12], [12]],
    args: { activation: "relu" },
  },
  // inner dimension in cache blocks: the epilogue with the last block only
  {
    what: "dense k 600 relu",
    op: "dense",
    shapes: [[5, 600], [600, 8], [8]],
    args: { activation: "relu" },
  },
  // columns not a multiple of 4 (scratch copy, then the epilogue), linear, transposes
  {
    what: "dense n 6 linear transposeA",
    op: "dense",
    shapes: [[20, 7], [20, 6], [6]],
    args: { activation: "linear", transposeA: true },
  },
  {
    what: "dense relu transposeB",
    op: "dense",
    shapes: [[9, 16], [8, 16], [8]],
    args: { activation: "relu", transposeB: true },
  },
  {
    what: "dense transposes no bias relu",
    op: "dense",
    shapes: [[16, 9], [8, 16]],
    args: { activation: "relu", transposeA: true, transposeB: true },
  },
];

/** Output and gradients of `sum(layer(inputs) · r)` (`r` fixed random) on the current backend. */
function layerGrads(c: LayerCase, seed: number): { out: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const ins = c.shapes.map((s, i) => tf.tensor(randoms(size(s), seed + i), s));
    const f = (...ts: tf.Tensor[]) => {
      const [x, w, bias] = ts;
      const y = c.op === "conv"
        ? tf.fused.conv2d(
          { x: x as tf.Tensor4D, filter: w as tf.Tensor4D, bias, ...c.args } as Parameters<
            typeof tf.fused.conv2d
          >[0],
        )
        : tf.fused.matMul(
          { a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias, ...c.args } as Parameters<
            typeof tf.fused.matMul
          >[0],
        );
      return tf.sum(tf.mul(y, tf.tensor(randoms(size(y.shape), seed + 9), y.shape)));
    };
    const out = c.op === "conv"
      ? tf.fused.conv2d(
        { x: ins[0], filter: ins[1], bias: ins[2], ...c.args } as Parameters<
          typeof tf.fused.conv2d
        >[0],
      )
      : tf.fused.matMul(
        { a: ins[0], b: ins[1], bias: ins[2], ...c.args } as Parameters<typeof tf.fused.matMul>[0],
      );
    const grads = tf.grads(f)(ins);
    return {
      out: Float32Array.from(out.dataSync()),
      grads: grads.map((g) => Float32Array.from(g.dataSync())),
    };
  });
}

Deno.test("fused layers: tf.fused.conv2d and tf.fused.matMul with bias and Relu, and their gradients, equal cpu", async () => {
  await setup();
  let seed = 1500;
  for (const c of LAYER_CASES) {
    seed += 20;
    await tf.setBackend("cpu");
    const want = layerGrads(c, seed);
    await tf.setBackend("wasm");
    const kernel = c.op === "conv" ? FUSED_CONV2D_KERNEL : FUSED_MATMUL_KERNEL;
    const prof = await tf.profile(() => layerGrads(c, seed));
    assert.ok(prof.kernelNames.includes(kernel), `${c.what}: ${kernel} ran`);
    assert.ok(prof.kernelNames.includes(BIAS_ACT_GRAD_KERNEL), `${c.what}: fused gradient ran`);
    for (const k of ["Add", "Relu", RELU_GRAD_KERNEL]) {
      assert.ok(!prof.kernelNames.includes(k), `${c.what}: no ${k} kernel`);
    }
    let first: ReturnType<typeof layerGrads> | undefined;
    for (const threads of THREADS) {
      const got = await withThreads(threads, () => Promise.resolve(layerGrads(c, seed)));
      assertClose(got.out, want.out, `${c.what}: output (${threads} threads)`);
      got.grads.forEach((g, i) => assertClose(g, want.grads[i], `${c.what}: grad ${i}`));
      if (first === undefined) first = got;
      else {
        assertSameBits(got.out, first.out, `${c.what}: 2 threads vs 1`);
        got.grads.forEach((g, i) => assertSameBits(g, first!.grads[i], `${c.what}: grad ${i}`));
      }
    }
    // tfjs's own ops on wasm (in training: Conv2D/MatMul, Add, Relu; Relu's gradient, Sum):
    // the same gradients, bit for bit (outside training tfjs runs the backend's fused kernel).
    const old = setFusedOps(false);
    try {
      const plain = layerGrads(c, seed);
      assertClose(plain.out, first!.out, `${c.what}: unfused output`);
      plain.grads.forEach((g, i) =>
        assertSameBits(g, first!.grads[i], `${c.what}: unfused grad ${i}`)
      );
    } finally {
      setFusedOps(old);
    }
    // Without our SIMD kernels: the backend's fused kernels and plain loops.
    setSimdDisabled(true);
    try {
      const got = layerGrads(c, seed);
      assertClose(got.out, want.out, `${c.what}: output (simd off)`);
      got.grads.forEach((g, i) => assertClose(g, want.grads[i], `${c.what}: grad ${i} (simd off)`));
    } finally {
      setSimdDisabled(false);
    }
  }
});

Deno.test("fused layers: other activations, dilations and PReLU go to tfjs's own ops", async () => {
  await setup();
  const x = randoms(2 * 7 * 7 * 4, 1700);
  const w = randoms(3 * 3 * 4 * 4, 1701);
  const b = randoms(4, 1702);
  const calls: [string, Record<string, unknown>][] = [
    ["elu", { activation: "elu" }],
    ["dilations 2", { dilations: 2, activation: "relu" }],
    ["leakyrelu", { activation: "leakyrelu", leakyreluAlpha: 0.1 }],
  ];
  for (const [what, extra] of calls) {
    const run = () =>
      tf.tidy(() => {
        return Float32Array.from(
          tf.fused.conv2d(
            {
              x: tf.tensor4d(x, [2, 7, 7, 4]),
              filter: tf.tensor4d(w, [3, 3, 4, 4]),
              bias: tf.tensor1d(b),
              strides: 1,
              pad: "same",
              ...extra,
            } as Parameters<typeof tf.fused.conv2d>[0],
          ).dataSync(),
        );
      });
    await tf.setBackend("cpu");
    const want = run();
    await tf.setBackend("wasm");
    const prof = await tf.profile(run);
    assert.ok(!prof.kernelNames.includes(FUSED_CONV2D_KERNEL), `${what}: not ours`);
    assertClose(run(), want, what);
  }
  await tf.setBackend("wasm");
  const prof = await tf.profile(() =>
    tf.fused.matMul({
      a: tf.ones([2, 3]),
      b: tf.ones([3, 4]),
      activation: "prelu",
      preluActivationWeights: tf.ones([4]),
    })
  );
  assert.ok(!prof.kernelNames.includes(FUSED_MATMUL_KERNEL), "prelu: not ours");
});

Deno.test("SimlearnBiasActGrad equals dy·step(y) and its column sums (NaN, odd sizes)", async () => {
  await setup();
  for (const [rows, cols] of [[130, 8], [70, 5], [3, 4], [1, 1]]) {
    const dy = randoms(rows * cols, 1800 + rows);
    const y = randoms(rows * cols, 1900 + cols).map((v) => (v < -0.3 ? 0 : v));
    y[0] = NaN;
    if (y.length > 2) y[2] = -0;
    await tf.setBackend("cpu");
    const [wantDz, wantDb] = tf.tidy(() => {
      const dz = tf.mul(tf.tensor2d(dy, [rows, cols]), tf.step(tf.tensor2d(y, [rows, cols])));
      return [dz.dataSync(), tf.sum(dz, 0).dataSync()].map((v) => Float32Array.from(v));
    });
    for (const activation of ["relu", "linear"]) {
      const runIt = () =>
        tf.tidy(() => {
          const outs = tf.engine().runKernel(BIAS_ACT_GRAD_KERNEL, {
            dy: tf.tensor2d(dy, [rows, cols]),
            y: tf.tensor2d(y, [rows, cols]),
          }, { activation }) as tf.Tensor[];
          return outs.map((t) => Float32Array.from(t.dataSync()));
        });
      await tf.setBackend("wasm");
      const wantLinear = [dy, Float32Array.from(sumColumns(dy, rows, cols))];
      const [wz, wb] = activation === "relu" ? [wantDz, wantDb] : wantLinear;
      for (const threads of THREADS) {
        const [dz, db] = await withThreads(threads, () => Promise.resolve(runIt()));
        assertClose(dz, wz, `dz ${rows}x${cols} ${activation}`);
        assertClose(db, wb, `db ${rows}x${cols} ${activation}`);
      }
      setSimdDisabled(true);
      try {
        const [dz, db] = runIt();
        assertClose(dz, wz, `dz ${rows}x${cols} ${activation} (simd off)`);
        assertClose(db, wb, `db ${rows}x${cols} ${activation} (simd off)`);
      } finally {
        setSimdDisabled(false);
      }
    }
  }
  await tf.setBackend("wasm");
  assert.throws(
    () =>
      tf.engine().runKernel(BIAS_ACT_GRAD_KERNEL, { dy: tf.zeros([2, 3]), y: tf.zeros([3, 2]) }, {
        activation: "relu",
      }),
    /SimlearnBiasActGrad: dy \[2,3\] float32 and y \[3,2\] float32 must be/,
  );
  assert.throws(
    () =>
      tf.engine().runKernel(FUSED_MATMUL_KERNEL, { a: tf.zeros([2, 3]), b: tf.zeros([3, 2]) }, {
        activation: "elu",
      }),
    /SimlearnFusedMatMul: activation must be "linear" or "relu", got elu/,
  );
});

function sumColumns(v: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] += v[i * cols + j];
  return out;
}

// ---------------------------------------------------------------- errors

Deno.test("kernels reject bad input with errors naming the argument", async () => {
  await setup();
  await tf.setBackend("wasm");
  const x = tf.zeros([1, 5, 5, 2]);
  const dy = tf.zeros([1, 3, 3, 4]);
  assert.throws(
    () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        strides: 1,
        pad: "valid",
        filterShape: [3, 3, 2, 5],
      }),
    /Conv2DBackpropFilter: dy has shape \[1,3,3,4\], expected \[1,3,3,5\]/,
  );
  assert.throws(
    () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x: tf.zeros([5, 5, 2]), dy }, {
        strides: 1,
        pad: "valid",
        filterShape: [3, 3, 2, 4],
      }),
    /Conv2DBackpropFilter: x must have rank 4/,
  );
  assert.throws(
    () =>
      tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: tf.zeros([3, 3, 2, 4]) }, {
        strides: 1,
        pad: "valid",
        inputShape: [1, 5, 5],
      }),
    /Conv2DBackpropInput: inputShape must be 4 positive integers/,
  );
  assert.throws(
    () =>
      tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output: dy }, {
        filterSize: 2,
        strides: 2,
        pad: "valid",
      }),
    /MaxPoolGrad: dy has shape/,
  );
  assert.throws(
    () =>
      tf.engine().runKernel("BatchMatMul", { a: tf.zeros([2, 3]), b: tf.zeros([4, 5]) }, {
        transposeA: true,
        transposeB: false,
      }),
    /BatchMatMul: inner dimensions differ/,
  );
});

// ---------------------------------------------------------------- a whole network

Deno.test("gradients of a small CNN are equal on wasm and cpu", async () => {
  await setup();
  const xs = randoms(3 * 12 * 11 * 2, 900);
  const w1 = randoms(3 * 3 * 2 * 4, 901);
  const b1 = randoms(4, 902);
  const w2 = randoms(3 * 3 * 4 * 8, 903);
  const c2 = tf.backend_util.computeConv2DInfo([3, 5, 4, 4], [3, 3, 4, 8], 2, 1, "same");
  const flat = c2.outHeight * c2.outWidth * 8;
  const wd = randoms(flat * 6, 904);
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    const args = [
      tf.tensor4d(xs, [3, 12, 11, 2]),
      tf.tensor4d(w1, [3, 3, 2, 4]),
      tf.tensor1d(b1),
      tf.tensor4d(w2, [3, 3, 4, 8]),
      tf.tensor2d(wd, [flat, 6]),
    ];
    const f = (x: tf.Tensor, k1: tf.Tensor, bias: tf.Tensor, k2: tf.Tensor, d: tf.Tensor) => {
      let h = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, k1 as tf.Tensor4D, 1, "valid"), bias));
      h = tf.maxPool(h as tf.Tensor4D, 2, 2, "valid");
      h = tf.relu(tf.conv2d(h as tf.Tensor4D, k2 as tf.Tensor4D, 2, "same"));
      const e = tf.matMul(tf.reshape(h, [3, flat]), d);
      return tf.sum(tf.square(tf.sub(e, 0.5)));
    };
    const g = tf.grads(f)(args);
    const out = g.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose([...g, ...args]);
    return out;
  };
  const want = await grads("cpu");
  const names = ["dx", "dW1", "db1", "dW2", "dWd"];
  let first: Float32Array[] | undefined;
  for (const threads of THREADS) {
    const got = await withThreads(threads, () => grads("wasm"));
    want.forEach((w, i) => {
      let nonzero = 0;
      for (const v of w) if (v !== 0) nonzero++;
      assert.ok(nonzero > w.length / 4, `${names[i]} is not trivially zero`);
      assertClose(got[i], w, `${names[i]} (${threads} threads)`);
      if (first !== undefined) assertSameBits(got[i], first[i], `${names[i]}: threads 2 vs 1`);
    });
    first ??= got;
  }
});

Deno.test("the reference CNN's kernels give the same bits at 1 and 2 threads, default split", async () => {
  await setup();
  const old = setParallelThreshold(262144); // the library's default: only big kernels split
  try {
    const g = { n: 32, h: 13, w: 13, ci: 32, co: 64 };
    const x = randoms(g.n * g.h * g.w * g.ci, 950);
    const w = randoms(9 * g.ci * g.co, 951);
    const dy = randoms(g.n * 11 * 11 * g.co, 952);
    const cases: [string, Inputs, Record<string, unknown>][] = [
      ["Conv2D", {
        x: { shape: [g.n, g.h, g.w, g.ci], values: x },
        filter: { shape: [3, 3, g.ci, g.co], values: w },
      }, { strides: 1, pad: "valid", dataFormat: "NHWC", dilations: 1 }],
      ["Conv2DBackpropFilter", {
        x: { shape: [g.n, g.h, g.w, g.ci], values: x },
        dy: { shape: [g.n, 11, 11, g.co], values: dy },
      }, { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, g.ci, g.co] }],
      ["Conv2DBackpropInput", {
        dy: { shape: [g.n, 11, 11, g.co], values: dy },
        filter: { shape: [3, 3, g.ci, g.co], values: w },
      }, { strides: 1, pad: "valid", dataFormat: "NHWC", inputShape: [g.n, g.h, g.w, g.ci] }],
      ["Conv2DBackpropFilter", {
        x: { shape: [16, 28, 28, 1], values: randoms(16 * 28 * 28, 955) },
        dy: { shape: [16, 26, 26, 32], values: randoms(16 * 26 * 26 * 32, 956) },
      }, { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 1, 32] }],
      ["BatchMatMul", {
        a: { shape: [128, 1600], values: randoms(128 * 1600, 953) },
        b: { shape: [128, 1600], values: randoms(128 * 1600, 954) },
      }, { transposeA: false, transposeB: true }],
    ];
    for (const [name, inputs, attrs] of cases) {
      const one = await withThreads(1, () => run("wasm", name, inputs, attrs));
      const two = await withThreads(2, () => run("wasm", name, inputs, attrs));
      assertSameBits(two.values, one.values, `${name}: 2 threads vs 1`);
    }
  } finally {
    setParallelThreshold(old);
  }
});

Deno.test({
  name: "UnsortedSegmentSum on wasm: the gradient of gather matches the hand-computed one",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await tf.setBackend("wasm");
    await tf.ready();
    registerWasmTrainingKernels();
    const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const weights = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const indices = tf.tensor1d([2, 0, 2, 7], "int32");
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v, indices.slice(0, 3)), weights)))(
      x,
    );
    // Row 2 is gathered twice (weights rows 0 and 2), row 0 once (weights row 1).
    assert.deepEqual(await g.array(), [[3, 4], [0, 0], [6, 8]]);
    // Segment ids outside [0, numSegments) are dropped, as TensorFlow does.
    const s = tf.unsortedSegmentSum(tf.tensor2d([[1, 1], [2, 2], [3, 3], [4, 4]]), indices, 3);
    assert.deepEqual(await s.array(), [[2, 2], [0, 0], [4, 4]]);
    tf.dispose([x, weights, indices, g, s]);
  },
});

Deno.test("segmentSum: hand-computed sums, out-of-range ids dropped", () => {
  const out = new Float32Array(6);
  segmentSum(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), Int32Array.of(2, 0, 2, -1), 2, out);
  assert.deepEqual([...out], [3, 4, 0, 0, 6, 8]);
});
