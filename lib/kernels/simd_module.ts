/**
 * Compute kernels in WebAssembly SIMD, generated at run time with `wasm_asm.ts` and instantiated
 * on the wasm backend's own memory (so they read and write tensors in place):
 *
 * - `gemm`: `C (+)= A·B` for float32 matrices given by strides, with `MR × 8` register tiles and
 *   relaxed fused multiply-add (`f32x4.relaxed_madd`). Row-major `A`, `Aᵀ` and row panels are all
 *   the same loop with different strides.
 * - `im2col`: rows of the im2col matrix of an NHWC image batch (zeros in the padding), and
 *   `col2im`, its adjoint (adds rows back onto an image batch).
 * - `maxPoolGrad`: the max-pooling gradient, four channels at a time.
 *
 * @module
 */
import { assemble, F32, I32, V128, type ValType, WasmFunction } from "./wasm_asm.ts";
import { winograd4Functions } from "./simd_winograd4.ts";
import { conv1Functions } from "./simd_conv1.ts";
import { pairSquaresFunction } from "./simd_pairwise.ts";

/** Rows of the register tile of the matrix kernel. */
export const GEMM_MR = 6;

/**
 * The exported functions (all sizes in elements unless named `...Bytes`; pointers are byte
 * offsets into the shared memory).
 */
export interface SimdKernels {
  /**
   * `C[i, j] (+)= Σ_k A(i, k) · B[k, j]` for `i < m`, `j < n` (`n` a multiple of 4), where
   * `A(i, k)` is the float at `a + ⌊i/MR⌋·aBlock + (i mod MR)·aRow + k·aStep` (bytes), `B[k, j]`
   * at `b + k·bStep + 4j` and `C[i, j]` at `c + i·ldc + 4j`; `acc` = 1 adds to `C`.
   */
  gemm(
    a: number,
    aRow: number,
    aStep: number,
    aBlock: number,
    b: number,
    bStep: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    acc: number,
  ): void;
  /**
   * {@link SimdKernels.gemm} with the fused layers' epilogue as the tiles are stored:
   * `C[i, j] = act(Σ_k A(i, k)·B[k, j] (+ C[i, j] if acc) + bias[j])`, the add when `bias` (a
   * pointer) is not 0, Relu (NaN stays NaN) when `relu` is 1.
   */
  gemmEpi(
    a: number,
    aRow: number,
    aStep: number,
    aBlock: number,
    b: number,
    bStep: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    acc: number,
    bias: number,
    relu: number,
  ): void;
  /**
   * `count` calls of {@link SimdKernels.gemm} (arguments after the strides as there), the
   * pointers `a`, `b`, `c` advanced by `aStride`, `bStride`, `cStride` bytes after each: the
   * products of Winograd's positions in one call.
   */
  gemmMany(
    count: number,
    aStride: number,
    bStride: number,
    cStride: number,
    a: number,
    aRow: number,
    aStep: number,
    aBlock: number,
    b: number,
    bStep: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    acc: number,
  ): void;
  /**
   * Rows `row0 .. row0+rows−1` of the im2col matrix of the NHWC batch at `x` (`[·, h, w, ch]`)
   * for a `fh × fw` filter with strides, dilations and top/left padding, written row-major
   * (`fh·fw·ch` floats a row) at `dst`; `oh × ow` is the output size.
   */
  im2col(
    x: number,
    h: number,
    w: number,
    ch: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    pt: number,
    pl: number,
    row0: number,
    rows: number,
    dst: number,
  ): void;
  /**
   * {@link SimdKernels.im2col} for one input channel (`ch` ignored) without inner loops; where a
   * filter row's taps are consecutive floats (dilation 1, `fw` ≤ 4) inside the image, one vector
   * copy, which may write up to 12 bytes past the last row (the caller leaves that room).
   * `im2col2`, `im2col3`: the same for 2 and 3 channels, scalar copies.
   */
  im2col1(
    x: number,
    h: number,
    w: number,
    ch: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    pt: number,
    pl: number,
    row0: number,
    rows: number,
    dst: number,
  ): void;
  /**
   * Adds rows `row0 .. row0+rows−1` of an im2col-shaped matrix at `src` (row stride `srcRow`
   * bytes, `fh·fw·ch` floats used a row) back onto the NHWC batch at `dx` (`[·, h, w, ch]`):
   * the adjoint of {@link SimdKernels.im2col}; taps in the padding are dropped.
   */
  col2im(
    dx: number,
    h: number,
    w: number,
    ch: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    pt: number,
    pl: number,
    row0: number,
    rows: number,
    src: number,
    srcRow: number,
  ): void;
  /**
   * {@link SimdKernels.maxPoolGrad} for 2×2 windows, stride 2, no padding (tf.layers' default
   * pooling), with the four taps of a window in registers.
   */
  maxPoolGrad2x2(
    x: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    ch: number,
    oh: number,
    ow: number,
  ): void;
  /**
   * Column sums `dst[j] = Σ_i src[i, j]` of a row-major `[rows, cols]` block (`cols` a multiple
   * of 4), accumulated in float32 (callers keep blocks short and add blocks in float64).
   */
  colSum(src: number, dst: number, rows: number, cols: number): void;
  /** `out[i, j] = x[i, j] + v[j]` for a row-major `[rows, cols]` `x` (`cols` a multiple of 4). */
  addRow(x: number, v: number, out: number, rows: number, cols: number): void;
  /**
   * 2×2 stride-2 unpadded max pooling of NHWC `x` (`[n, h, w, ch]`, `ch` a multiple of 4) into
   * `y` (`[n, oh, ow, ch]`); NaN never wins, as in the cpu backend.
   */
  maxPool2x2(
    x: number,
    y: number,
    n: number,
    h: number,
    w: number,
    ch: number,
    oh: number,
    ow: number,
  ): void;
  /**
   * Copies `rows` rows of `rowBytes` bytes from `src` (row stride `srcStride` bytes) to `dst`
   * (row stride `dstStride`), zero-filling `padBytes` bytes after each copied row.
   */
  copy2d(
    src: number,
    srcStride: number,
    dst: number,
    dstStride: number,
    rows: number,
    rowBytes: number,
    padBytes: number,
  ): void;
  /**
   * One Adam step over `n` floats, out of place, with tfjs's `AdamOptimizer` arithmetic in
   * float32, operation by operation (no fused multiply-add), so that it gives the same bits:
   * `m' = m·b1 + g·c1`, `v' = v·b2 + (g·g)·c2`,
   * `p' = ((m'/omb1) / (√(v'/omb2) + eps))·nlr + p`, where the eight floats at `params` are
   * `b1, c1, b2, c2, omb1, omb2, eps, nlr`.
   */
  adam(
    p: number,
    m: number,
    v: number,
    g: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    params: number,
  ): void;
  /**
   * Elementwise over `n` floats: `op` 0 `y = max(0, x)` (NaN stays NaN; Relu), 1 `y = x > 0 ? 1 :
   * alpha` (NaN stays NaN; Step, `alphaBits` the float's bits), 2 `y = x · b` (Multiply), 3
   * `y = x + b` (Add), 4 `y = x · step(b)` (the gradient `dy · step(x)` of Relu, in one pass),
   * 5 `y = b > 0 ? x / (b · 2) : 0` (the gradient of a square root `b`, NaN `b` giving 0).
   */
  elementwise(op: number, x: number, b: number, y: number, n: number, alphaBits: number): void;
  /**
   * Winograd F(2×2, 3×3) input transform `V = Bᵀ·d·B` of the 4×4 patches of tiles
   * `t0 .. t0+nt−1` of the NHWC batch at `x` (`[·, h, w, ch]`, `ch` a multiple of 4): tile `t`
   * is image `⌊t/(th·tw)⌋`, tile row `ty`, column `tx`, its patch starts at row `2·ty − pt`,
   * column `2·tx − pl` (outside the image: zeros). Position `p` (of 16) of tile `t`, channel `c`
   * goes to `v + p·vStride + (t−t0)·ch·4 + 4c` (bytes).
   */
  winoInput(
    x: number,
    h: number,
    w: number,
    ch: number,
    th: number,
    tw: number,
    pt: number,
    pl: number,
    t0: number,
    nt: number,
    v: number,
    vStride: number,
  ): void;
  /**
   * Winograd F(2×2, 3×3) output transform `Y = Aᵀ·M·A` of tiles `t0 .. t0+nt−1` (`M` laid out as
   * {@link SimdKernels.winoInput}'s `V`, `co` channels, a multiple of 4) into the NHWC batch at
   * `y` (`[·, oh, ow, co]`); outputs beyond `oh × ow` are dropped. Each output then gets the
   * epilogue of {@link SimdKernels.biasAct} (`bias` 0 and `relu` 0: none).
   */
  winoOutput(
    m: number,
    mStride: number,
    y: number,
    oh: number,
    ow: number,
    co: number,
    th: number,
    tw: number,
    t0: number,
    nt: number,
    bias: number,
    relu: number,
  ): void;
  /** F(4×4, 3×3) input transform (see `simd_winograd4.ts`); arguments as {@link SimdKernels.winoInput}. */
  wino4Input(
    x: number,
    h: number,
    w: number,
    ch: number,
    th: number,
    tw: number,
    pt: number,
    pl: number,
    t0: number,
    nt: number,
    v: number,
    vStride: number,
  ): void;
  /** F(4×4, 3×3) output transform with the epilogue; arguments as {@link SimdKernels.winoOutput}. */
  wino4Output(
    m: number,
    mStride: number,
    y: number,
    oh: number,
    ow: number,
    co: number,
    th: number,
    tw: number,
    t0: number,
    nt: number,
    bias: number,
    relu: number,
  ): void;
  /** F(4×4, 3×3) `Z = A·dY·Aᵀ`; arguments as {@link SimdKernels.winoGradOutput}. */
  wino4GradOutput(
    dy: number,
    oh: number,
    ow: number,
    co: number,
    th: number,
    tw: number,
    t0: number,
    nt: number,
    z: number,
    zStride: number,
  ): void;
  /**
   * F(4×4, 3×3) `dd = B·dV·Bᵀ` of tiles `t0 .. t0+nt−1` (laid out as `V`) added onto the 6×6
   * patches of the NHWC batch `dx` (`[·, h, w, ch]`), tiles in order.
   */
  wino4InputAdjoint(
    dv: number,
    vStride: number,
    dx: number,
    h: number,
    w: number,
    ch: number,
    th: number,
    tw: number,
    pt: number,
    pl: number,
    t0: number,
    nt: number,
  ): void;
  /**
   * Output rows `row0 .. row0+rows−1` (`b·oh + r`) of the valid 3×3 stride-1 convolution of a
   * one-channel NHWC batch `x` (`[·, h, wd, 1]`) with `w` (`[3, 3, 1, co]`, `co` a multiple of 4)
   * into `y` (`[·, oh, ow, co]`) with the epilogue of {@link SimdKernels.biasAct}: tiles of 6
   * pixels × 8 channels read the image directly (see `simd_conv1.ts`).
   */
  conv1x3x3(
    x: number,
    w: number,
    y: number,
    h: number,
    wd: number,
    oh: number,
    ow: number,
    co: number,
    row0: number,
    rows: number,
    bias: number,
    relu: number,
  ): void;
  /**
   * The filter gradient of {@link SimdKernels.conv1x3x3}: `out[3, 3, 1, co] (+)= Σ_p x_tap(p) ·
   * dz[p, :]` over output rows `row0 .. row0+rows−1` (`acc` 1 adds), the taps in registers.
   */
  conv1x3x3Filter(
    x: number,
    dz: number,
    out: number,
    h: number,
    wd: number,
    oh: number,
    ow: number,
    co: number,
    row0: number,
    rows: number,
    acc: number,
  ): void;
  /**
   * `x[i, j] = act(x[i, j] + bias[j])` in place on a row-major `[rows, cols]` block: the add
   * when `bias` (a pointer) is not 0, `act` the Relu (NaN stays NaN) when `relu` is 1, else the
   * identity. The epilogue of the fused layers.
   */
  biasAct(x: number, bias: number, rows: number, cols: number, relu: number): void;
  /**
   * `out[i, j] = Σₖ (a[i, k] − bt[k, j])²` (times `w[k]` inside the sum when `w` is not 0) for
   * `rows` rows of `a` (`[rows, d]`) against the `m` columns of `bt` (`[d, m]`); each sum in
   * `k` order in float32, without fused multiply-adds (tfjs's `Sub`, `Square`, `Sum` bits).
   */
  pairSquares(
    a: number,
    bt: number,
    out: number,
    rows: number,
    d: number,
    m: number,
    w: number,
  ): void;
  /**
   * The backward pass of {@link SimdKernels.biasAct} on a `[rows, cols]` block: `dz = relu ?
   * dy · step(y) : dy` (as the Relu gradient kernel computes it, from the layer's output `y`;
   * not written when `dz` is 0) and `sum[j] = Σ_i dz[i, j]` in float32, rows in order (the block
   * sums of the bias gradient).
   */
  biasActGrad(
    dy: number,
    y: number,
    dz: number,
    sum: number,
    rows: number,
    cols: number,
    relu: number,
  ): void;
  /**
   * The adjoint of {@link SimdKernels.winoOutput}: `dM = A·dY·Aᵀ` of the 2×2 output tiles of
   * `dy` (`[·, oh, ow, co]`; outside: zeros), laid out as `winoInput`'s `V`.
   */
  winoGradOutput(
    dy: number,
    oh: number,
    ow: number,
    co: number,
    th: number,
    tw: number,
    t0: number,
    nt: number,
    z: number,
    zStride: number,
  ): void;
  /**
   * `dst[j·dstStride/4 + i] = src[i·cols + j]` for `i < rows`, `j` in `[j0, j1)`: columns
   * `j0 .. j1−1` of a row-major `[rows, cols]` matrix written as rows of `dst` (row stride
   * `dstStride` bytes), in 4×4 blocks transposed in registers (the edges one by one).
   */
  transpose(
    src: number,
    rows: number,
    cols: number,
    j0: number,
    j1: number,
    dst: number,
    dstStride: number,
  ): void;
  /** Sets `bytes` bytes at `dst` to zero. */
  zero(dst: number, bytes: number): void;
  /**
   * `dst[i] = Σ_{p < parts} src[p·partStride/4 + i]` for `i < count` floats, the parts added in
   * order `p = 0, 1, …` (a fixed reduction order); `partStride` in bytes.
   */
  sumParts(dst: number, src: number, partStride: number, parts: number, count: number): void;
  /**
   * Max-pooling gradient for NHWC `x` (`[n, h, w, ch]`, `ch` a multiple of 4) and `dy`
   * (`[n, oh, ow, ch]`) into `dx` (zeroed first); the first maximum of each window wins.
   */
  maxPoolGrad(
    x: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    ch: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
  ): void;
}

/** How a tile kernel walks `A`. */
type AMode = "row" | "col" | "any";

/** Unrolling of the k loop in the specialised tile kernels. */
const UNROLL = 4;

/**
 * Register tile kernel `mr × 4·nq` (parameters `a, aRow, aStep, b, bStep, c, ldc, K, acc`, bytes).
 * `"row"`: `aStep` is 4 (row-major `A`): one pointer per row, loads at immediate offsets, k
 * unrolled. `"col"`: `aRow` is 4 (`Aᵀ` row-major): one pointer, rows at immediate offsets.
 * `"any"`: both strides at run time.
 */
function tileKernel(mr: number, nq: number, mode: AMode): WasmFunction {
  const f = new WasmFunction(`k${mr}x${nq * 4}${mode}`, new Array(11).fill(I32));
  const [A, AROW, ASTEP, B, BSTEP, C, LDC, K, ACC, BIAS, RELU] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const aPtr: number[] = [A];
  if (mode !== "col") { for (let r = 1; r < mr; r++) aPtr.push(f.local(I32)); }
  const acc: number[][] = [];
  for (let r = 0; r < mr; r++) {
    acc.push([]);
    for (let q = 0; q < nq; q++) acc[r].push(f.local(V128));
  }
  const bv: number[] = [];
  for (let q = 0; q < nq; q++) bv.push(f.local(V128));
  const av = f.local(V128);
  const cPtr = f.local(I32);
  const kMain = f.local(I32);
  if (mode !== "col") {
    for (let r = 1; r < mr; r++) f.get(A).get(AROW).i32(r).i32Mul().i32Add().set(aPtr[r]);
  }
  // Initial accumulators: C or zeros.
  f.get(ACC).if();
  f.get(C).set(cPtr);
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nq; q++) f.get(cPtr).v128Load(16 * q).set(acc[r][q]);
    if (r < mr - 1) f.get(cPtr).get(LDC).i32Add().set(cPtr);
  }
  f.else();
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nq; q++) f.f32x4Const(0).set(acc[r][q]);
  }
  f.end();
  /** One k step `u` of an unrolled group (`u` = 0 when not unrolled). */
  const kStep = (u: number) => {
    for (let q = 0; q < nq; q++) f.get(B).v128Load(16 * q).set(bv[q]);
    f.get(B).get(BSTEP).i32Add().set(B);
    for (let r = 0; r < mr; r++) {
      if (mode === "row") f.get(aPtr[r]).v128Load32Splat(4 * u).set(av);
      else if (mode === "col") f.get(A).v128Load32Splat(4 * r).set(av);
      else f.get(aPtr[r]).v128Load32Splat().set(av);
      for (let q = 0; q < nq; q++) {
        f.get(av).get(bv[q]).get(acc[r][q]).f32x4RelaxedMadd().set(acc[r][q]);
      }
      if (mode === "any") f.get(aPtr[r]).get(ASTEP).i32Add().set(aPtr[r]);
    }
    if (mode === "col") f.get(A).get(ASTEP).i32Add().set(A);
  };
  const unroll = mode === "any" ? 1 : UNROLL;
  if (unroll > 1) {
    // main loop over groups of `unroll` steps
    f.get(K).i32(-unroll).i32And().set(kMain);
    f.get(K).get(kMain).i32Sub().set(K);
    f.get(kMain).i32Eqz().if().else();
    f.loop();
    for (let u = 0; u < unroll; u++) kStep(u);
    if (mode === "row") {
      for (let r = 0; r < mr; r++) f.get(aPtr[r]).i32(4 * unroll).i32Add().set(aPtr[r]);
    }
    f.get(kMain).i32(unroll).i32Sub().tee(kMain).brIf(0);
    f.end();
    f.end();
  }
  // remaining steps one at a time
  f.get(K).i32Eqz().if().else();
  f.loop();
  kStep(0);
  if (mode === "row") { for (let r = 0; r < mr; r++) f.get(aPtr[r]).i32(4).i32Add().set(aPtr[r]); }
  f.get(K).i32(1).i32Sub().tee(K).brIf(0);
  f.end();
  f.end();
  // The fused layers' epilogue: + bias (the tile's columns), then Relu.
  f.get(BIAS).if();
  for (let q = 0; q < nq; q++) f.get(BIAS).v128Load(16 * q).set(bv[q]);
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nq; q++) f.get(acc[r][q]).get(bv[q]).f32x4Add().set(acc[r][q]);
  }
  f.end();
  f.get(RELU).if();
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nq; q++) {
      const v = acc[r][q];
      f.get(v).get(v).f32x4Const(0).f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And().set(v);
    }
  }
  f.end();
  f.get(C).set(cPtr);
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nq; q++) f.get(cPtr).get(acc[r][q]).v128Store(16 * q);
    if (r < mr - 1) f.get(cPtr).get(LDC).i32Add().set(cPtr);
  }
  return f;
}

/**
 * The blocked driver over register tiles; `index(mode, mr, nq)` gives the kernel's function
 * index. The walk of `A` is chosen once: `"row"` when `aStep` is 4, `"col"` when `aRow` is 4.
 */
function gemmDriver(
  mrMax: number,
  index: (mode: AMode, mr: number, nq: number) => number,
  epilogue: boolean,
): WasmFunction {
  const f = new WasmFunction(
    epilogue ? "gemmEpi" : "gemm",
    new Array(epilogue ? 14 : 12).fill(I32),
  );
  const [A, AROW, ASTEP, ABLOCK, B, BSTEP, C, LDC, M, N, K, ACC, BIAS, RELU] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
  ];
  const i0 = f.local(I32);
  const j = f.local(I32);
  const rem = f.local(I32);
  const bPtr = f.local(I32);
  const cPtr = f.local(I32);
  const aPtr = f.local(I32);
  const cRow = f.local(I32);
  const mode = f.local(I32); // 0 row, 1 col, 2 any
  const dispatch = (nq: number) => {
    const callK = (md: AMode, mr: number) => {
      f.get(aPtr).get(AROW).get(ASTEP).get(bPtr).get(BSTEP).get(cPtr).get(LDC).get(K).get(ACC);
      if (epilogue) {
        // bias + 4j, or 0
        f.get(BIAS).get(j).i32(4).i32Mul().i32Add().i32(0).get(BIAS).select().get(RELU);
      } else f.i32(0).i32(0);
      f.call(index(md, mr, nq));
    };
    const chain = (md: AMode) => {
      for (let mr = mrMax; mr > 1; mr--) {
        f.get(rem).i32(mr).i32Eq().if();
        callK(md, mr);
        f.else();
      }
      callK(md, 1);
      for (let mr = mrMax; mr > 1; mr--) f.end();
    };
    f.get(mode).i32Eqz().if();
    chain("row");
    f.else();
    f.get(mode).i32(1).i32Eq().if();
    chain("col");
    f.else();
    chain("any");
    f.end();
    f.end();
  };
  f.i32(2).set(mode);
  f.get(AROW).i32(4).i32Eq().if().i32(1).set(mode).end();
  f.get(ASTEP).i32(4).i32Eq().if().i32(0).set(mode).end();
  f.i32(0).set(i0);
  f.get(A).set(aPtr);
  f.get(C).set(cRow);
  f.block();
  f.loop();
  f.get(i0).get(M).i32GeS().brIf(1);
  f.get(M).get(i0).i32Sub().tee(rem).i32(mrMax).i32GtS().if().i32(mrMax).set(rem).end();
  f.i32(0).set(j);
  f.get(B).set(bPtr);
  f.get(cRow).set(cPtr);
  f.block();
  f.loop();
  f.get(N).get(j).i32Sub().i32(8).i32LtS().brIf(1);
  dispatch(2);
  f.get(j).i32(8).i32Add().set(j);
  f.get(bPtr).i32(32).i32Add().set(bPtr);
  f.get(cPtr).i32(32).i32Add().set(cPtr);
  f.br(0);
  f.end();
  f.end();
  f.get(N).get(j).i32Sub().i32(4).i32GeS().if();
  dispatch(1);
  f.end();
  f.get(i0).i32(mrMax).i32Add().set(i0);
  f.get(aPtr).get(ABLOCK).i32Add().set(aPtr);
  f.get(cRow).get(LDC).i32(mrMax).i32Mul().i32Add().set(cRow);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** `count` products by the `gemm` at function index `gemm` (see {@link SimdKernels.gemmMany}). */
function gemmManyFunction(gemm: number): WasmFunction {
  const P: ValType[] = new Array(16).fill(I32);
  const f = new WasmFunction("gemmMany", P);
  const [COUNT, AS, BS, CS, A, AROW, ASTEP, ABLOCK, B, BSTEP, C, LDC, M, N, K, ACC] = [
    ...P.keys(),
  ];
  f.get(COUNT).i32(0).i32LeS().if().ret().end();
  f.loop();
  f.get(A).get(AROW).get(ASTEP).get(ABLOCK).get(B).get(BSTEP).get(C).get(LDC).get(M).get(N);
  f.get(K).get(ACC).call(gemm);
  f.get(A).get(AS).i32Add().set(A);
  f.get(B).get(BS).i32Add().set(B);
  f.get(C).get(CS).i32Add().set(C);
  f.get(COUNT).i32(1).i32Sub().tee(COUNT).brIf(0);
  f.end();
  return f;
}

/** im2col rows (see {@link SimdKernels.im2col}). */
function im2colFunction(): WasmFunction {
  const P: ValType[] = new Array(17).fill(I32);
  const f = new WasmFunction("im2col", P);
  const [X, H, W, CH, OH, OW, FH, FW, SH, SW, DH, DW, PT, PL, ROW0, ROWS, DST] = [
    ...P.keys(),
  ];
  const m = f.local(I32); // rows left
  const b = f.local(I32);
  const r = f.local(I32);
  const s = f.local(I32);
  const i = f.local(I32);
  const jj = f.local(I32);
  const y = f.local(I32);
  const xx = f.local(I32);
  const bytes = f.local(I32); // ch * 4
  const img = f.local(I32); // pointer to image b
  const t = f.local(I32);
  const src = f.local(I32);
  const q = f.local(I32);
  const end4 = f.local(I32);
  /** Copies one tap: 16 bytes at a time, then 4 at a time (q = byte index). */
  const copyLoop = (vec: () => void, scalar: () => void) => {
    f.i32(0).set(q);
    f.block();
    f.loop();
    f.get(q).get(end4).i32GeS().brIf(1);
    vec();
    f.get(q).i32(16).i32Add().set(q);
    f.br(0);
    f.end();
    f.end();
    f.block();
    f.loop();
    f.get(q).get(bytes).i32GeS().brIf(1);
    scalar();
    f.get(q).i32(4).i32Add().set(q);
    f.br(0);
    f.end();
    f.end();
  };
  // b, r, s of row0
  f.get(CH).i32(4).i32Mul().set(bytes);
  f.get(CH).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.get(OW).get(OH).i32Mul().set(t);
  // b = row0 / (oh*ow) via repeated subtraction is slow; use division opcodes instead
  f.get(ROW0).get(t).i32DivS().set(b);
  f.get(ROW0).get(b).get(t).i32Mul().i32Sub().set(t); // rest = row0 - b*oh*ow
  f.get(t).get(OW).i32DivS().set(r);
  f.get(t).get(r).get(OW).i32Mul().i32Sub().set(s);
  f.get(ROWS).set(m);
  f.get(X).get(b).get(H).i32Mul().get(W).i32Mul().get(bytes).i32Mul().i32Add().set(img);
  f.block();
  f.loop();
  f.get(m).i32Eqz().brIf(1);
  // one row: taps (i, jj)
  f.i32(0).set(i);
  f.loop();
  f.get(r).get(SH).i32Mul().get(i).get(DH).i32Mul().i32Add().get(PT).i32Sub().set(y);
  f.i32(0).set(jj);
  f.loop();
  f.get(s).get(SW).i32Mul().get(jj).get(DW).i32Mul().i32Add().get(PL).i32Sub().set(xx);
  // inside?  0 <= y < h && 0 <= xx < w  (unsigned compare does both bounds)
  f.get(y).get(H).i32LtU().get(xx).get(W).i32LtU().i32And().if();
  f.get(img).get(y).get(W).i32Mul().get(xx).i32Add().get(bytes).i32Mul().i32Add().set(src);
  copyLoop(() => {
    f.get(DST).get(q).i32Add();
    f.get(src).get(q).i32Add().v128Load();
    f.v128Store();
  }, () => {
    f.get(DST).get(q).i32Add();
    f.get(src).get(q).i32Add().f32Load();
    f.f32Store();
  });
  f.else();
  copyLoop(() => {
    f.get(DST).get(q).i32Add().f32x4Const(0).v128Store();
  }, () => {
    f.get(DST).get(q).i32Add().f32(0).f32Store();
  });
  f.end();
  f.get(DST).get(bytes).i32Add().set(DST);
  f.get(jj).i32(1).i32Add().tee(jj).get(FW).i32LtS().brIf(0);
  f.end();
  f.get(i).i32(1).i32Add().tee(i).get(FH).i32LtS().brIf(0);
  f.end();
  // next (b, r, s)
  f.get(s).i32(1).i32Add().tee(s).get(OW).i32GeS().if();
  f.i32(0).set(s);
  f.get(r).i32(1).i32Add().tee(r).get(OH).i32GeS().if();
  f.i32(0).set(r);
  f.get(img).get(H).get(W).i32Mul().get(bytes).i32Mul().i32Add().set(img);
  f.end();
  f.end();
  f.get(m).i32(1).i32Sub().set(m);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/**
 * im2col rows for `ch` = 1, 2 or 3 channels (see {@link SimdKernels.im2col}; the `ch` argument
 * is ignored): each tap is `ch` scalar copies, read from a safe address and zeroed by `select`
 * outside the image, with no inner loops.
 */
function im2colSmallFunction(ch: number): WasmFunction {
  const P: ValType[] = new Array(17).fill(I32);
  const f = new WasmFunction(`im2col${ch}`, P);
  const [X, H, W, , OH, OW, FH, FW, SH, SW, DH, DW, PT, PL, ROW0, ROWS, DST] = [...P.keys()];
  const m = f.local(I32);
  const b = f.local(I32);
  const r = f.local(I32);
  const s = f.local(I32);
  const i = f.local(I32);
  const jj = f.local(I32);
  const y = f.local(I32);
  const xx = f.local(I32);
  const img = f.local(I32);
  const t = f.local(I32);
  const src = f.local(I32);
  const inside = f.local(I32);
  const rowBytes = f.local(I32); // w·ch·4
  const rowIn = f.local(I32); // y inside
  const rowPtr = f.local(I32); // img + y·rowBytes
  const vecOk = f.local(I32); // dilation 1 and at most 4 taps a row
  const bytes = ch * 4;
  f.get(DW).i32(1).i32Eq().get(FW).i32(5).i32LtS().i32And().set(vecOk);
  f.get(W).i32(bytes).i32Mul().set(rowBytes);
  f.get(OW).get(OH).i32Mul().set(t);
  f.get(ROW0).get(t).i32DivS().set(b);
  f.get(ROW0).get(b).get(t).i32Mul().i32Sub().set(t);
  f.get(t).get(OW).i32DivS().set(r);
  f.get(t).get(r).get(OW).i32Mul().i32Sub().set(s);
  f.get(ROWS).set(m);
  f.get(X).get(b).get(H).i32Mul().get(rowBytes).i32Mul().i32Add().set(img);
  f.block();
  f.loop();
  f.get(m).i32Eqz().brIf(1);
  f.i32(0).set(i);
  f.loop();
  f.get(r).get(SH).i32Mul().get(i).get(DH).i32Mul().i32Add().get(PT).i32Sub().tee(y);
  f.get(H).i32LtU().set(rowIn);
  f.get(img).get(y).get(rowBytes).i32Mul().i32Add().set(rowPtr);
  if (ch === 1) {
    // One channel, dilation 1, at most 4 taps a row: a filter row's taps are consecutive
    // floats, copied as one vector when all 4 floats read lie inside the row (the store's
    // extra floats are overwritten by the next tap row, or land in the caller's slack).
    f.get(s).get(SW).i32Mul().get(PL).i32Sub().tee(xx).get(W).i32LtU();
    f.get(xx).i32(3).i32Add().get(W).i32LtU().i32And().get(rowIn).i32And().get(vecOk).i32And();
    f.if();
    f.get(DST).get(rowPtr).get(xx).i32(4).i32Mul().i32Add().v128Load().v128Store();
    f.get(DST).get(FW).i32(4).i32Mul().i32Add().set(DST);
    f.else();
  }
  f.i32(0).set(jj);
  f.loop();
  f.get(s).get(SW).i32Mul().get(jj).get(DW).i32Mul().i32Add().get(PL).i32Sub().tee(xx);
  f.get(W).i32LtU().get(rowIn).i32And().set(inside);
  // src = inside ? rowPtr + xx·bytes : X (a readable address; the value is discarded)
  f.get(rowPtr).get(xx).i32(bytes).i32Mul().i32Add().get(X).get(inside).select().set(src);
  for (let c = 0; c < ch; c++) {
    f.get(DST);
    f.get(src).f32Load(4 * c).f32(0).get(inside).select();
    f.f32Store(4 * c);
  }
  f.get(DST).i32(bytes).i32Add().set(DST);
  f.get(jj).i32(1).i32Add().tee(jj).get(FW).i32LtS().brIf(0);
  f.end();
  if (ch === 1) f.end();
  f.get(i).i32(1).i32Add().tee(i).get(FH).i32LtS().brIf(0);
  f.end();
  f.get(s).i32(1).i32Add().tee(s).get(OW).i32GeS().if();
  f.i32(0).set(s);
  f.get(r).i32(1).i32Add().tee(r).get(OH).i32GeS().if();
  f.i32(0).set(r);
  f.get(img).get(H).get(rowBytes).i32Mul().i32Add().set(img);
  f.end();
  f.end();
  f.get(m).i32(1).i32Sub().set(m);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** col2im rows (see {@link SimdKernels.col2im}). */
function col2imFunction(): WasmFunction {
  const P: ValType[] = new Array(18).fill(I32);
  const f = new WasmFunction("col2im", P);
  const [DX, H, W, CH, OH, OW, FH, FW, SH, SW, DH, DW, PT, PL, ROW0, ROWS, SRC, SRCROW] = [
    ...P.keys(),
  ];
  const m = f.local(I32);
  const b = f.local(I32);
  const r = f.local(I32);
  const s = f.local(I32);
  const i = f.local(I32);
  const jj = f.local(I32);
  const y = f.local(I32);
  const xx = f.local(I32);
  const bytes = f.local(I32);
  const img = f.local(I32);
  const t = f.local(I32);
  const src = f.local(I32); // current tap's source
  const dst = f.local(I32);
  const end4 = f.local(I32); // bytes of the 4-aligned part of a tap
  const q = f.local(I32);
  f.get(CH).i32(4).i32Mul().set(bytes);
  f.get(CH).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.get(OW).get(OH).i32Mul().set(t);
  f.get(ROW0).get(t).i32DivS().set(b);
  f.get(ROW0).get(b).get(t).i32Mul().i32Sub().set(t);
  f.get(t).get(OW).i32DivS().set(r);
  f.get(t).get(r).get(OW).i32Mul().i32Sub().set(s);
  f.get(ROWS).set(m);
  f.get(DX).get(b).get(H).i32Mul().get(W).i32Mul().get(bytes).i32Mul().i32Add().set(img);
  f.block();
  f.loop();
  f.get(m).i32Eqz().brIf(1);
  f.get(SRC).set(src);
  f.i32(0).set(i);
  f.loop();
  f.get(r).get(SH).i32Mul().get(i).get(DH).i32Mul().i32Add().get(PT).i32Sub().set(y);
  f.i32(0).set(jj);
  f.loop();
  f.get(s).get(SW).i32Mul().get(jj).get(DW).i32Mul().i32Add().get(PL).i32Sub().set(xx);
  f.get(y).get(H).i32LtU().get(xx).get(W).i32LtU().i32And().if();
  f.get(img).get(y).get(W).i32Mul().get(xx).i32Add().get(bytes).i32Mul().i32Add().set(dst);
  f.i32(0).set(q);
  f.block();
  f.loop(); // 4 channels at a time
  f.get(q).get(end4).i32GeS().brIf(1);
  f.get(dst).get(q).i32Add();
  f.get(dst).get(q).i32Add().v128Load();
  f.get(src).get(q).i32Add().v128Load();
  f.f32x4Add().v128Store();
  f.get(q).i32(16).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.block();
  f.loop(); // remaining channels
  f.get(q).get(bytes).i32GeS().brIf(1);
  f.get(dst).get(q).i32Add();
  f.get(dst).get(q).i32Add().f32Load();
  f.get(src).get(q).i32Add().f32Load();
  f.f32Add().f32Store();
  f.get(q).i32(4).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.end();
  f.get(src).get(bytes).i32Add().set(src);
  f.get(jj).i32(1).i32Add().tee(jj).get(FW).i32LtS().brIf(0);
  f.end();
  f.get(i).i32(1).i32Add().tee(i).get(FH).i32LtS().brIf(0);
  f.end();
  f.get(SRC).get(SRCROW).i32Add().set(SRC);
  f.get(s).i32(1).i32Add().tee(s).get(OW).i32GeS().if();
  f.i32(0).set(s);
  f.get(r).i32(1).i32Add().tee(r).get(OH).i32GeS().if();
  f.i32(0).set(r);
  f.get(img).get(H).get(W).i32Mul().get(bytes).i32Mul().i32Add().set(img);
  f.end();
  f.end();
  f.get(m).i32(1).i32Sub().set(m);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** 2×2 stride-2 unpadded max-pooling gradient (see {@link SimdKernels.maxPoolGrad2x2}). */
function maxPoolGrad2x2Function(): WasmFunction {
  const P: ValType[] = new Array(9).fill(I32);
  const f = new WasmFunction("maxPoolGrad2x2", P);
  const [X, DY, DX, N, H, W, CH, OH, OW] = [...P.keys()];
  const row = f.local(I32); // b * oh + r
  const s = f.local(I32);
  const c = f.local(I32);
  const chb = f.local(I32); // ch * 4
  const rowBytes = f.local(I32); // w * ch * 4
  const p = f.local(I32); // offset of the window's top-left tap (x and dx)
  const rowStart = f.local(I32);
  const dyp = f.local(I32);
  const v = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const m = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const best = f.local(V128);
  const g = f.local(V128);
  const later = f.local(V128);
  f.get(CH).i32(4).i32Mul().set(chb);
  f.get(W).get(chb).i32Mul().set(rowBytes);
  // Zero dx only where windows do not cover it (odd sizes); covered taps are all stored below.
  f.get(OH).i32(2).i32Mul().get(H).i32Ne().get(OW).i32(2).i32Mul().get(W).i32Ne().i32Or().if();
  f.get(DX).i32(0).get(N).get(H).i32Mul().get(rowBytes).i32Mul().memoryFill();
  f.end();
  f.i32(0).set(dyp); // byte offset into dy
  f.get(N).get(OH).i32Mul().i32Eqz().get(OW).i32Eqz().i32Or().if().ret().end();
  f.i32(0).set(row);
  f.loop(); // (b, r)
  // top-left of window (b, r, 0): image b = row / oh, input row 2 (row mod oh)
  f.get(row).get(OH).i32DivS().get(H).i32Mul(); // b * h
  f.get(row).get(row).get(OH).i32DivS().get(OH).i32Mul().i32Sub().i32(2).i32Mul(); // 2r
  f.i32Add().get(rowBytes).i32Mul().set(rowStart);
  f.i32(0).set(s);
  f.loop(); // s
  f.get(rowStart).get(s).get(chb).i32(2).i32Mul().i32Mul().i32Add().set(p);
  f.i32(0).set(c);
  f.loop(); // channels, 16 bytes at a time
  const tapOffset = (t: number) => {
    // address p + c + offset of tap t (0: top-left, 1: top-right, 2: bottom-left, 3: bottom-right)
    f.get(p).get(c).i32Add();
    if (t === 1 || t === 3) f.get(chb).i32Add();
    if (t >= 2) f.get(rowBytes).i32Add();
  };
  f.f32x4Const(-Infinity).set(best);
  for (let t = 0; t < 4; t++) {
    tapOffset(t);
    f.get(X).i32Add().v128Load().set(v[t]);
    f.get(v[t]).get(best).f32x4Gt().set(m[t]);
    f.get(v[t]).get(best).get(m[t]).v128Bitselect().set(best);
  }
  f.get(DY).get(dyp).i32Add().v128Load().set(g);
  // the last tap that raised the maximum wins (= the first maximum in scan order)
  f.get(m[3]).set(later);
  for (let t = 3; t >= 0; t--) {
    tapOffset(t);
    f.get(DX).i32Add();
    if (t === 3) f.get(g).get(m[3]).v128And();
    else f.get(g).get(m[t]).v128And().get(later).v128AndNot();
    f.v128Store();
    if (t > 0 && t < 3) f.get(later).get(m[t]).v128Or().set(later);
  }
  f.get(dyp).i32(16).i32Add().set(dyp);
  f.get(c).i32(16).i32Add().tee(c).get(chb).i32LtS().brIf(0);
  f.end(); // c
  f.get(s).i32(1).i32Add().tee(s).get(OW).i32LtS().brIf(0);
  f.end(); // s
  f.get(row).i32(1).i32Add().tee(row).get(N).get(OH).i32Mul().i32LtS().brIf(0);
  f.end(); // row
  return f;
}

/** Column sums of a block of rows (see {@link SimdKernels.colSum}). */
function colSumFunction(): WasmFunction {
  const f = new WasmFunction("colSum", [I32, I32, I32, I32]);
  const [SRC, DST, ROWS, COLS] = [0, 1, 2, 3];
  const q = f.local(I32);
  const bytes = f.local(I32);
  const rows = f.local(I32);
  f.get(COLS).i32(4).i32Mul().set(bytes);
  f.get(DST).i32(0).get(bytes).memoryFill();
  f.get(ROWS).set(rows);
  f.get(rows).i32Eqz().if().else();
  f.loop(); // rows
  f.i32(0).set(q);
  f.loop(); // 4 columns at a time
  f.get(DST).get(q).i32Add();
  f.get(DST).get(q).i32Add().v128Load();
  f.get(SRC).get(q).i32Add().v128Load();
  f.f32x4Add().v128Store();
  f.get(q).i32(16).i32Add().tee(q).get(bytes).i32LtS().brIf(0);
  f.end();
  f.get(SRC).get(bytes).i32Add().set(SRC);
  f.get(rows).i32(1).i32Sub().tee(rows).brIf(0);
  f.end();
  f.end();
  return f;
}

/** Adds a row vector to every row (see {@link SimdKernels.addRow}). */
function addRowFunction(): WasmFunction {
  const f = new WasmFunction("addRow", [I32, I32, I32, I32, I32]);
  const [X, V, OUT, ROWS, COLS] = [0, 1, 2, 3, 4];
  const q = f.local(I32);
  const bytes = f.local(I32);
  const rows = f.local(I32);
  f.get(COLS).i32(4).i32Mul().set(bytes);
  f.get(ROWS).set(rows);
  f.get(rows).i32Eqz().get(COLS).i32Eqz().i32Or().if().else();
  f.loop();
  f.i32(0).set(q);
  f.loop();
  f.get(OUT).get(q).i32Add();
  f.get(X).get(q).i32Add().v128Load();
  f.get(V).get(q).i32Add().v128Load();
  f.f32x4Add().v128Store();
  f.get(q).i32(16).i32Add().tee(q).get(bytes).i32LtS().brIf(0);
  f.end();
  f.get(X).get(bytes).i32Add().set(X);
  f.get(OUT).get(bytes).i32Add().set(OUT);
  f.get(rows).i32(1).i32Sub().tee(rows).brIf(0);
  f.end();
  f.end();
  return f;
}

/** 2×2 stride-2 unpadded max pooling (see {@link SimdKernels.maxPool2x2}). */
function maxPool2x2Function(): WasmFunction {
  const P: ValType[] = new Array(8).fill(I32);
  const f = new WasmFunction("maxPool2x2", P);
  const [X, Y, N, H, W, CH, OH, OW] = [...P.keys()];
  const row = f.local(I32);
  const s = f.local(I32);
  const c = f.local(I32);
  const chb = f.local(I32);
  const rowBytes = f.local(I32);
  const p = f.local(I32);
  const rowStart = f.local(I32);
  const yp = f.local(I32);
  f.get(CH).i32(4).i32Mul().set(chb);
  f.get(W).get(chb).i32Mul().set(rowBytes);
  f.get(Y).set(yp);
  f.get(N).get(OH).i32Mul().i32Eqz().get(OW).i32Eqz().i32Or().if().ret().end();
  f.i32(0).set(row);
  f.loop();
  f.get(row).get(OH).i32DivS().get(H).i32Mul();
  f.get(row).get(row).get(OH).i32DivS().get(OH).i32Mul().i32Sub().i32(2).i32Mul();
  f.i32Add().get(rowBytes).i32Mul().get(X).i32Add().set(rowStart);
  f.i32(0).set(s);
  f.loop();
  f.get(rowStart).get(s).get(chb).i32(2).i32Mul().i32Mul().i32Add().set(p);
  f.i32(0).set(c);
  f.loop();
  // pmax(best, v) = best < v ? v : best, i.e. "v > best" as the cpu backend compares (NaN never
  // wins); best starts at -inf.
  f.get(yp);
  f.f32x4Const(-Infinity);
  f.get(p).get(c).i32Add().v128Load().f32x4Pmax();
  f.get(p).get(c).i32Add().get(chb).i32Add().v128Load().f32x4Pmax();
  f.get(p).get(c).i32Add().get(rowBytes).i32Add().v128Load().f32x4Pmax();
  f.get(p).get(c).i32Add().get(rowBytes).i32Add().get(chb).i32Add().v128Load().f32x4Pmax();
  f.v128Store();
  f.get(yp).i32(16).i32Add().set(yp);
  f.get(c).i32(16).i32Add().tee(c).get(chb).i32LtS().brIf(0);
  f.end();
  f.get(s).i32(1).i32Add().tee(s).get(OW).i32LtS().brIf(0);
  f.end();
  f.get(row).i32(1).i32Add().tee(row).get(N).get(OH).i32Mul().i32LtS().brIf(0);
  f.end();
  return f;
}

/** Max-pooling gradient (see {@link SimdKernels.maxPoolGrad}). */
function maxPoolGradFunction(): WasmFunction {
  const P: ValType[] = new Array(15).fill(I32);
  const f = new WasmFunction("maxPoolGrad", P);
  const [X, DY, DX, N, H, W, CH, OH, OW, FH, FW, SH, SW, PT, PL] = [...P.keys()];
  const b = f.local(I32);
  const r = f.local(I32);
  const s = f.local(I32);
  const c = f.local(I32);
  const y = f.local(I32);
  const xx = f.local(I32);
  const y0 = f.local(I32);
  const x0 = f.local(I32);
  const tap = f.local(I32);
  const p = f.local(I32);
  const img = f.local(I32); // byte offset of image b (x and dx)
  const dyp = f.local(I32);
  const best = f.local(V128);
  const idx = f.local(V128);
  const v = f.local(V128);
  const gt = f.local(V128);
  const g = f.local(V128);
  const rowBytes = f.local(I32);
  const imgBytes = f.local(I32);
  f.get(W).get(CH).i32Mul().i32(4).i32Mul().set(rowBytes);
  f.get(H).get(rowBytes).i32Mul().set(imgBytes);
  // dx = 0
  f.get(DX).i32(0).get(N).get(imgBytes).i32Mul().memoryFill();
  f.get(DY).set(dyp);
  f.i32(0).set(b);
  f.get(N).i32Eqz().if().else();
  f.loop(); // b
  f.get(b).get(imgBytes).i32Mul().set(img);
  f.i32(0).set(r);
  f.loop(); // r
  f.get(r).get(SH).i32Mul().get(PT).i32Sub().set(y0);
  f.i32(0).set(s);
  f.loop(); // s
  f.get(s).get(SW).i32Mul().get(PL).i32Sub().set(x0);
  f.i32(0).set(c);
  f.loop(); // c, 4 channels at a time
  f.f32x4Const(-Infinity).set(best);
  f.i32x4Const(-1).set(idx);
  // pass 1: first arg-max over the window's taps
  const overTaps = (body: () => void) => {
    f.i32(0).set(tap);
    f.get(y0).set(y);
    f.loop(); // y over window rows
    f.get(x0).set(xx);
    f.loop(); // xx over window cols
    f.get(y).get(H).i32LtU().get(xx).get(W).i32LtU().i32And().if();
    f.get(img).get(y).get(rowBytes).i32Mul().i32Add().get(xx).get(CH).i32Mul().i32(4).i32Mul()
      .i32Add().get(c).i32(4).i32Mul().i32Add().set(p);
    body();
    f.end();
    f.get(tap).i32(1).i32Add().set(tap);
    f.get(xx).i32(1).i32Add().tee(xx).get(x0).i32Sub().get(FW).i32LtS().brIf(0);
    f.end();
    f.get(y).i32(1).i32Add().tee(y).get(y0).i32Sub().get(FH).i32LtS().brIf(0);
    f.end();
  };
  overTaps(() => {
    f.get(X).get(p).i32Add().v128Load().set(v);
    f.get(v).get(best).f32x4Gt().set(gt);
    f.get(v).get(best).get(gt).v128Bitselect().set(best);
    f.get(tap).i32x4Splat().get(idx).get(gt).v128Bitselect().set(idx);
  });
  // pass 2: dx[tap] += dy where idx == tap
  f.get(dyp).v128Load().set(g);
  overTaps(() => {
    f.get(DX).get(p).i32Add();
    f.get(DX).get(p).i32Add().v128Load();
    f.get(g).get(tap).i32x4Splat().get(idx).i32x4Eq().v128And();
    f.f32x4Add().v128Store();
  });
  f.get(dyp).i32(16).i32Add().set(dyp);
  f.get(c).i32(4).i32Add().tee(c).get(CH).i32LtS().brIf(0);
  f.end(); // c
  f.get(s).i32(1).i32Add().tee(s).get(OW).i32LtS().brIf(0);
  f.end(); // s
  f.get(r).i32(1).i32Add().tee(r).get(OH).i32LtS().brIf(0);
  f.end(); // r
  f.get(b).i32(1).i32Add().tee(b).get(N).i32LtS().brIf(0);
  f.end(); // b
  f.end(); // if N
  return f;
}

/** Strided row copy with zero padding (see {@link SimdKernels.copy2d}). */
function copy2dFunction(): WasmFunction {
  const f = new WasmFunction("copy2d", [I32, I32, I32, I32, I32, I32, I32]);
  const [SRC, SS, DST, DS, ROWS, RB, PAD] = [0, 1, 2, 3, 4, 5, 6];
  f.get(ROWS).i32Eqz().if().ret().end();
  f.loop();
  f.get(DST).get(SRC).get(RB).memoryCopy();
  f.get(PAD).if();
  f.get(DST).get(RB).i32Add().i32(0).get(PAD).memoryFill();
  f.end();
  f.get(SRC).get(SS).i32Add().set(SRC);
  f.get(DST).get(DS).i32Add().set(DST);
  f.get(ROWS).i32(1).i32Sub().tee(ROWS).brIf(0);
  f.end();
  return f;
}

/** Fused Adam update (see {@link SimdKernels.adam}). */
function adamFunction(): WasmFunction {
  const f = new WasmFunction("adam", [I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [P, M, V, G, PO, MO, VO, N, PAR] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const i = f.local(I32);
  const end4 = f.local(I32);
  const end = f.local(I32);
  const k = [0, 1, 2, 3, 4, 5, 6, 7].map(() => f.local(V128)); // b1 c1 b2 c2 omb1 omb2 eps nlr
  const [B1, C1, B2, C2, O1, O2, EPS, NLR] = k;
  const g = f.local(V128);
  const m1 = f.local(V128);
  const v1 = f.local(V128);
  const sk = [0, 1, 2, 3, 4, 5, 6, 7].map(() => f.local(F32));
  const sg = f.local(F32);
  const sm = f.local(F32);
  const sv = f.local(F32);
  for (let j = 0; j < 8; j++) {
    f.get(PAR).v128Load32Splat(4 * j).set(k[j]);
    f.get(PAR).f32Load(4 * j).set(sk[j]);
  }
  f.get(N).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.get(N).i32(4).i32Mul().set(end);
  f.i32(0).set(i);
  f.block();
  f.loop();
  f.get(i).get(end4).i32GeU().brIf(1);
  f.get(G).get(i).i32Add().v128Load().set(g);
  // m' = m·b1 + g·c1
  f.get(M).get(i).i32Add().v128Load().get(B1).f32x4Mul();
  f.get(g).get(C1).f32x4Mul().f32x4Add().set(m1);
  // v' = v·b2 + (g·g)·c2
  f.get(V).get(i).i32Add().v128Load().get(B2).f32x4Mul();
  f.get(g).get(g).f32x4Mul().get(C2).f32x4Mul().f32x4Add().set(v1);
  f.get(MO).get(i).i32Add().get(m1).v128Store();
  f.get(VO).get(i).i32Add().get(v1).v128Store();
  // p' = ((m'/omb1) / (sqrt(v'/omb2) + eps))·nlr + p
  f.get(PO).get(i).i32Add();
  f.get(m1).get(O1).f32x4Div();
  f.get(v1).get(O2).f32x4Div().f32x4Sqrt().get(EPS).f32x4Add();
  f.f32x4Div().get(NLR).f32x4Mul();
  f.get(P).get(i).i32Add().v128Load().f32x4Add();
  f.v128Store();
  f.get(i).i32(16).i32Add().set(i);
  f.br(0);
  f.end();
  f.end();
  const [b1, c1, b2, c2, o1, o2, eps, nlr] = sk;
  f.block();
  f.loop();
  f.get(i).get(end).i32GeU().brIf(1);
  f.get(G).get(i).i32Add().f32Load().set(sg);
  f.get(M).get(i).i32Add().f32Load().get(b1).f32Mul();
  f.get(sg).get(c1).f32Mul().f32Add().set(sm);
  f.get(V).get(i).i32Add().f32Load().get(b2).f32Mul();
  f.get(sg).get(sg).f32Mul().get(c2).f32Mul().f32Add().set(sv);
  f.get(MO).get(i).i32Add().get(sm).f32Store();
  f.get(VO).get(i).i32Add().get(sv).f32Store();
  f.get(PO).get(i).i32Add();
  f.get(sm).get(o1).f32Div();
  f.get(sv).get(o2).f32Div().f32Sqrt().get(eps).f32Add();
  f.f32Div().get(nlr).f32Mul();
  f.get(P).get(i).i32Add().f32Load().f32Add();
  f.f32Store();
  f.get(i).i32(4).i32Add().set(i);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** Elementwise operations (see {@link SimdKernels.elementwise}). */
function elementwiseFunction(): WasmFunction {
  const f = new WasmFunction("elementwise", [I32, I32, I32, I32, I32, I32]);
  const [OP, X, B, Y, N, ALPHA] = [0, 1, 2, 3, 4, 5];
  const i = f.local(I32);
  const end4 = f.local(I32);
  const end = f.local(I32);
  const x = f.local(V128);
  const alpha = f.local(V128);
  const sx = f.local(F32);
  const salpha = f.local(F32);
  f.get(ALPHA).f32ReinterpretI32().tee(salpha).f32x4Splat().set(alpha);
  f.get(N).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.get(N).i32(4).i32Mul().set(end);
  /** step(v) of the value on the stack → 1, alpha or NaN (vector). */
  const stepped = f.local(V128);
  const stepOf = (v: number) => {
    // (v > 0 ? 1 : alpha), then v (NaN) where v is NaN
    f.f32x4Const(1).get(alpha).get(v).f32x4Const(0).f32x4Gt().v128Bitselect().set(stepped);
    f.get(v).get(stepped).get(v).get(v).f32x4Ne().v128Bitselect();
  };
  /** b > 0 ? v / (b · 2) : 0, with b pushed by `pushB` (vector). */
  const sqrtB = f.local(V128);
  const sqrtGradOf = (v: number, pushB: () => void) => {
    pushB();
    f.set(sqrtB);
    f.get(v).get(sqrtB).f32x4Const(2).f32x4Mul().f32x4Div();
    f.get(sqrtB).f32x4Const(0).f32x4Gt().v128And();
  };
  const vectorLoop = (body: () => void) => {
    f.i32(0).set(i);
    f.block();
    f.loop();
    f.get(i).get(end4).i32GeU().brIf(1);
    f.get(Y).get(i).i32Add();
    f.get(X).get(i).i32Add().v128Load().set(x);
    body();
    f.v128Store();
    f.get(i).i32(16).i32Add().set(i);
    f.br(0);
    f.end();
    f.end();
  };
  const scalarLoop = (body: () => void) => {
    f.block();
    f.loop();
    f.get(i).get(end).i32GeU().brIf(1);
    f.get(Y).get(i).i32Add();
    f.get(X).get(i).i32Add().f32Load().set(sx);
    body();
    f.f32Store();
    f.get(i).i32(4).i32Add().set(i);
    f.br(0);
    f.end();
    f.end();
  };
  // Scalars go through lane 0 of a vector so that both loops share one definition.
  const scalarVia = (body: (v: number) => void) => {
    f.get(sx).f32x4Splat().set(x);
    body(x);
    f.f32x4ExtractLane0();
  };
  const ops: ((v: number) => void)[] = [
    // 0 relu: v & (v > 0 | v ≠ v)
    (v) => {
      f.get(v).get(v).f32x4Const(0).f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And();
    },
    // 1 step
    (v) => stepOf(v),
    // 2 multiply
    (v) => {
      f.get(v).get(B).get(i).i32Add().v128Load().f32x4Mul();
    },
    // 3 add
    (v) => {
      f.get(v).get(B).get(i).i32Add().v128Load().f32x4Add();
    },
    // 4 x · step(b)
    (v) => {
      const s = f.local(V128);
      f.get(B).get(i).i32Add().v128Load().set(s);
      f.get(v);
      stepOf(s);
      f.f32x4Mul();
    },
    // 5 b > 0 ? x / (b · 2) : 0 (the gradient of a square root b; NaN b gives 0)
    (v) => sqrtGradOf(v, () => f.get(B).get(i).i32Add().v128Load()),
  ];
  ops.forEach((body, k) => {
    f.get(OP).i32(k).i32Eq().if();
    vectorLoop(() => body(x));
    scalarLoop(() => {
      if (k === 2 || k === 3 || k === 4 || k === 5) {
        // binary: load b's scalar into a vector lane too
        const sb = f.local(F32);
        f.get(B).get(i).i32Add().f32Load().set(sb);
        f.get(sx).f32x4Splat().set(x);
        if (k === 2) f.get(x).get(sb).f32x4Splat().f32x4Mul();
        else if (k === 3) f.get(x).get(sb).f32x4Splat().f32x4Add();
        else if (k === 5) sqrtGradOf(x, () => f.get(sb).f32x4Splat());
        else {
          const s = f.local(V128);
          f.get(sb).f32x4Splat().set(s);
          f.get(x);
          stepOf(s);
          f.f32x4Mul();
        }
        f.f32x4ExtractLane0();
      } else scalarVia(body);
    });
    f.ret();
    f.end();
  });
  return f;
}

/**
 * Shared start of the Winograd tile loops: for tile `t` (local `T`), sets image pointer `img`
 * (from `base` and the image size `imgBytes`), tile row and column `ty`, `tx`.
 */
function tileCoordinates(
  f: WasmFunction,
  t: number,
  th: number,
  tw: number,
  base: number,
  imgBytes: number,
  img: number,
  ty: number,
  tx: number,
): void {
  const per = f.local(I32);
  const r = f.local(I32);
  f.get(th).get(tw).i32Mul().set(per);
  f.get(t).get(per).i32DivS().tee(r).get(imgBytes).i32Mul().get(base).i32Add().set(img);
  f.get(t).get(r).get(per).i32Mul().i32Sub().tee(r).get(tw).i32DivS().set(ty);
  f.get(r).get(ty).get(tw).i32Mul().i32Sub().set(tx);
}

/** Winograd input transform (see {@link SimdKernels.winoInput}). */
function winoInputFunction(): WasmFunction {
  const P: ValType[] = new Array(12).fill(I32);
  const f = new WasmFunction("winoInput", P);
  const [X, H, W, CH, TH, TW, PT, PL, T0, NT, VP, VS] = [...P.keys()];
  const t = f.local(I32);
  const tEnd = f.local(I32);
  const img = f.local(I32);
  const ty = f.local(I32);
  const tx = f.local(I32);
  const imgBytes = f.local(I32);
  const chb = f.local(I32);
  const q = f.local(I32);
  const out = f.local(I32); // V + (t−t0)·ch·4
  const addr: number[] = []; // 16 tap addresses (img-relative byte offsets), −1 when outside
  for (let k = 0; k < 16; k++) addr.push(f.local(I32));
  const yy = f.local(I32);
  const xx = f.local(I32);
  const d: number[] = [];
  for (let k = 0; k < 16; k++) d.push(f.local(V128));
  const tmp: number[] = [];
  for (let k = 0; k < 16; k++) tmp.push(f.local(V128));
  f.get(CH).i32(4).i32Mul().set(chb);
  f.get(H).get(W).i32Mul().get(chb).i32Mul().set(imgBytes);
  f.get(T0).set(t);
  f.get(T0).get(NT).i32Add().set(tEnd);
  f.get(VP).set(out);
  f.block();
  f.loop();
  f.get(t).get(tEnd).i32GeS().brIf(1);
  tileCoordinates(f, t, TH, TW, X, imgBytes, img, ty, tx);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      const k = i * 4 + j;
      f.get(ty).i32(2).i32Mul().get(PT).i32Sub().i32(i).i32Add().set(yy);
      f.get(tx).i32(2).i32Mul().get(PL).i32Sub().i32(j).i32Add().set(xx);
      // address or −1
      f.get(img).get(yy).get(W).i32Mul().get(xx).i32Add().get(chb).i32Mul().i32Add();
      f.i32(-1);
      f.get(yy).get(H).i32LtU().get(xx).get(W).i32LtU().i32And();
      f.select().set(addr[k]);
    }
  }
  f.i32(0).set(q);
  f.block();
  f.loop();
  f.get(q).get(chb).i32GeS().brIf(1);
  for (let k = 0; k < 16; k++) {
    f.get(addr[k]).i32(-1).i32Eq().if();
    f.f32x4Const(0).set(d[k]);
    f.else();
    f.get(addr[k]).get(q).i32Add().v128Load().set(d[k]);
    f.end();
  }
  // rows: tmp[ξ][j] from d[i][j]
  for (let j = 0; j < 4; j++) {
    const dd = (i: number) => d[i * 4 + j];
    f.get(dd(0)).get(dd(2)).f32x4Sub().set(tmp[0 * 4 + j]);
    f.get(dd(1)).get(dd(2)).f32x4Add().set(tmp[1 * 4 + j]);
    f.get(dd(2)).get(dd(1)).f32x4Sub().set(tmp[2 * 4 + j]);
    f.get(dd(1)).get(dd(3)).f32x4Sub().set(tmp[3 * 4 + j]);
  }
  // columns: V[ξ][ν], stored at out + (ξ·4+ν)·vStride + q
  const store = (p: number, a: number, b: number, op: "add" | "sub") => {
    f.get(out).get(VS).i32(p).i32Mul().i32Add().get(q).i32Add();
    f.get(a).get(b);
    if (op === "add") f.f32x4Add();
    else f.f32x4Sub();
    f.v128Store();
  };
  for (let xi = 0; xi < 4; xi++) {
    const tt = (j: number) => tmp[xi * 4 + j];
    store(xi * 4 + 0, tt(0), tt(2), "sub");
    store(xi * 4 + 1, tt(1), tt(2), "add");
    store(xi * 4 + 2, tt(2), tt(1), "sub");
    store(xi * 4 + 3, tt(1), tt(3), "sub");
  }
  f.get(q).i32(16).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.get(out).get(chb).i32Add().set(out);
  f.get(t).i32(1).i32Add().set(t);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** Winograd output transform (see {@link SimdKernels.winoOutput}). */
function winoOutputFunction(): WasmFunction {
  const P: ValType[] = new Array(12).fill(I32);
  const f = new WasmFunction("winoOutput", P);
  const [MP, MS, Y, OH, OW, CO, TH, TW, T0, NT, BIAS, RELU] = [...P.keys()];
  const out = f.local(V128);
  const t = f.local(I32);
  const tEnd = f.local(I32);
  const img = f.local(I32);
  const ty = f.local(I32);
  const tx = f.local(I32);
  const imgBytes = f.local(I32);
  const cob = f.local(I32);
  const q = f.local(I32);
  const src = f.local(I32);
  const addr: number[] = [];
  for (let k = 0; k < 4; k++) addr.push(f.local(I32));
  const m: number[] = [];
  for (let k = 0; k < 16; k++) m.push(f.local(V128));
  const s: number[] = [];
  for (let k = 0; k < 8; k++) s.push(f.local(V128));
  f.get(CO).i32(4).i32Mul().set(cob);
  f.get(OH).get(OW).i32Mul().get(cob).i32Mul().set(imgBytes);
  f.get(T0).set(t);
  f.get(T0).get(NT).i32Add().set(tEnd);
  f.get(MP).set(src);
  f.block();
  f.loop();
  f.get(t).get(tEnd).i32GeS().brIf(1);
  tileCoordinates(f, t, TH, TW, Y, imgBytes, img, ty, tx);
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      const yy = () => f.get(ty).i32(2).i32Mul().i32(a).i32Add();
      const xx = () => f.get(tx).i32(2).i32Mul().i32(b).i32Add();
      f.get(img);
      yy();
      f.get(OW).i32Mul();
      xx();
      f.i32Add().get(cob).i32Mul().i32Add();
      f.i32(-1);
      yy();
      f.get(OH).i32LtU();
      xx();
      f.get(OW).i32LtU().i32And();
      f.select().set(addr[a * 2 + b]);
    }
  }
  f.i32(0).set(q);
  f.block();
  f.loop();
  f.get(q).get(cob).i32GeS().brIf(1);
  for (let k = 0; k < 16; k++) {
    f.get(src).get(MS).i32(k).i32Mul().i32Add().get(q).i32Add().v128Load().set(m[k]);
  }
  // rows: s[a][j] = Σ_ξ Aᵀ[a][ξ] m[ξ][j]
  for (let j = 0; j < 4; j++) {
    const mm = (i: number) => m[i * 4 + j];
    f.get(mm(0)).get(mm(1)).f32x4Add().get(mm(2)).f32x4Add().set(s[0 * 4 + j]);
    f.get(mm(1)).get(mm(2)).f32x4Sub().get(mm(3)).f32x4Sub().set(s[1 * 4 + j]);
  }
  for (let a = 0; a < 2; a++) {
    const ss = (j: number) => s[a * 4 + j];
    for (let b = 0; b < 2; b++) {
      const k = a * 2 + b;
      f.get(addr[k]).i32(-1).i32Ne().if();
      if (b === 0) f.get(ss(0)).get(ss(1)).f32x4Add().get(ss(2)).f32x4Add();
      else f.get(ss(1)).get(ss(2)).f32x4Sub().get(ss(3)).f32x4Sub();
      f.set(out);
      biasActEpilogue(f, out, BIAS, q, RELU);
      f.get(addr[k]).get(q).i32Add().get(out).v128Store();
      f.end();
    }
  }
  f.get(q).i32(16).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.get(src).get(cob).i32Add().set(src);
  f.get(t).i32(1).i32Add().set(t);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/**
 * Emits `v = relu(v + bias[q])` on local `v`: the add when the pointer `bias` (a local) is not 0,
 * the relu (NaN stays NaN, as in the Relu kernel) when local `relu` is not 0. `q` is the local
 * holding the byte offset of the channel group.
 */
function biasActEpilogue(f: WasmFunction, v: number, bias: number, q: number, relu: number): void {
  f.get(bias).if();
  f.get(v).get(bias).get(q).i32Add().v128Load().f32x4Add().set(v);
  f.end();
  f.get(relu).if();
  f.get(v).get(v).f32x4Const(0).f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And().set(v);
  f.end();
}

/** Bias and activation in place on rows (see {@link SimdKernels.biasAct}). */
function biasActFunction(): WasmFunction {
  const f = new WasmFunction("biasAct", [I32, I32, I32, I32, I32]);
  const [X, BIAS, ROWS, COLS, RELU] = [0, 1, 2, 3, 4];
  const q = f.local(I32);
  const end4 = f.local(I32);
  const bytes = f.local(I32);
  const v = f.local(V128);
  f.get(COLS).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.get(COLS).i32(4).i32Mul().set(bytes);
  f.get(ROWS).i32Eqz().get(COLS).i32Eqz().i32Or().if().ret().end();
  f.loop(); // rows
  f.i32(0).set(q);
  f.block();
  f.loop(); // 4 columns at a time
  f.get(q).get(end4).i32GeS().brIf(1);
  f.get(X).get(q).i32Add().v128Load().set(v);
  biasActEpilogue(f, v, BIAS, q, RELU);
  f.get(X).get(q).i32Add().get(v).v128Store();
  f.get(q).i32(16).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.block();
  f.loop(); // remaining columns, through lane 0 (the bias read as a splat)
  f.get(q).get(bytes).i32GeS().brIf(1);
  f.get(X).get(q).i32Add().v128Load32Splat().set(v);
  f.get(BIAS).if();
  f.get(v).get(BIAS).get(q).i32Add().v128Load32Splat().f32x4Add().set(v);
  f.end();
  f.get(RELU).if();
  f.get(v).get(v).f32x4Const(0).f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And().set(v);
  f.end();
  f.get(X).get(q).i32Add().get(v).f32x4ExtractLane0().f32Store();
  f.get(q).i32(4).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.get(X).get(bytes).i32Add().set(X);
  f.get(ROWS).i32(1).i32Sub().tee(ROWS).brIf(0);
  f.end();
  return f;
}

/** The activation's gradient and the bias gradient's block sums (see {@link SimdKernels.biasActGrad}). */
function biasActGradFunction(): WasmFunction {
  const f = new WasmFunction("biasActGrad", [I32, I32, I32, I32, I32, I32, I32]);
  const [DY, Y, DZ, SUM, ROWS, COLS, RELU] = [0, 1, 2, 3, 4, 5, 6];
  const q = f.local(I32);
  const end4 = f.local(I32);
  const bytes = f.local(I32);
  const d = f.local(V128);
  const y = f.local(V128);
  const st = f.local(V128);
  const store = f.local(I32); // dz is written (not when it is dy itself: dz = 0)
  f.get(DZ).set(store);
  f.get(COLS).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.get(COLS).i32(4).i32Mul().set(bytes);
  f.get(SUM).i32(0).get(bytes).memoryFill();
  f.get(ROWS).i32Eqz().get(COLS).i32Eqz().i32Or().if().ret().end();
  /** d = dy · step(y) (NaN where y is NaN), as the Relu gradient kernel computes it. */
  const grad = () => {
    f.get(RELU).if();
    f.f32x4Const(1).f32x4Const(0).get(y).f32x4Const(0).f32x4Gt().v128Bitselect().set(st);
    f.get(y).get(st).get(y).get(y).f32x4Ne().v128Bitselect().set(st);
    f.get(d).get(st).f32x4Mul().set(d);
    f.end();
  };
  f.loop(); // rows
  f.i32(0).set(q);
  f.block();
  f.loop(); // 4 columns at a time
  f.get(q).get(end4).i32GeS().brIf(1);
  f.get(DY).get(q).i32Add().v128Load().set(d);
  f.get(Y).get(q).i32Add().v128Load().set(y);
  grad();
  f.get(store).if().get(DZ).get(q).i32Add().get(d).v128Store().end();
  f.get(SUM).get(q).i32Add();
  f.get(SUM).get(q).i32Add().v128Load().get(d).f32x4Add();
  f.v128Store();
  f.get(q).i32(16).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.block();
  f.loop(); // remaining columns, through lane 0
  f.get(q).get(bytes).i32GeS().brIf(1);
  f.get(DY).get(q).i32Add().v128Load32Splat().set(d);
  f.get(Y).get(q).i32Add().v128Load32Splat().set(y);
  grad();
  f.get(store).if().get(DZ).get(q).i32Add().get(d).f32x4ExtractLane0().f32Store().end();
  f.get(SUM).get(q).i32Add();
  f.get(SUM).get(q).i32Add().f32Load().get(d).f32x4ExtractLane0().f32Add();
  f.f32Store();
  f.get(q).i32(4).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.get(DY).get(bytes).i32Add().set(DY);
  f.get(Y).get(bytes).i32Add().set(Y);
  f.get(DZ).get(bytes).i32Add().set(DZ);
  f.get(ROWS).i32(1).i32Sub().tee(ROWS).brIf(0);
  f.end();
  return f;
}

/** Adjoint of the Winograd output transform (see {@link SimdKernels.winoGradOutput}). */
function winoGradOutputFunction(): WasmFunction {
  const P: ValType[] = new Array(10).fill(I32);
  const f = new WasmFunction("winoGradOutput", P);
  const [DY, OH, OW, CO, TH, TW, T0, NT, ZP, ZS] = [...P.keys()];
  const t = f.local(I32);
  const tEnd = f.local(I32);
  const img = f.local(I32);
  const ty = f.local(I32);
  const tx = f.local(I32);
  const imgBytes = f.local(I32);
  const cob = f.local(I32);
  const q = f.local(I32);
  const out = f.local(I32);
  const addr: number[] = [];
  for (let k = 0; k < 4; k++) addr.push(f.local(I32));
  const d: number[] = [];
  for (let k = 0; k < 4; k++) d.push(f.local(V128));
  const e: number[] = [];
  for (let k = 0; k < 8; k++) e.push(f.local(V128));
  f.get(CO).i32(4).i32Mul().set(cob);
  f.get(OH).get(OW).i32Mul().get(cob).i32Mul().set(imgBytes);
  f.get(T0).set(t);
  f.get(T0).get(NT).i32Add().set(tEnd);
  f.get(ZP).set(out);
  f.block();
  f.loop();
  f.get(t).get(tEnd).i32GeS().brIf(1);
  tileCoordinates(f, t, TH, TW, DY, imgBytes, img, ty, tx);
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      const yy = () => f.get(ty).i32(2).i32Mul().i32(a).i32Add();
      const xx = () => f.get(tx).i32(2).i32Mul().i32(b).i32Add();
      f.get(img);
      yy();
      f.get(OW).i32Mul();
      xx();
      f.i32Add().get(cob).i32Mul().i32Add();
      f.i32(-1);
      yy();
      f.get(OH).i32LtU();
      xx();
      f.get(OW).i32LtU().i32And();
      f.select().set(addr[a * 2 + b]);
    }
  }
  f.i32(0).set(q);
  f.block();
  f.loop();
  f.get(q).get(cob).i32GeS().brIf(1);
  for (let k = 0; k < 4; k++) {
    f.get(addr[k]).i32(-1).i32Eq().if();
    f.f32x4Const(0).set(d[k]);
    f.else();
    f.get(addr[k]).get(q).i32Add().v128Load().set(d[k]);
    f.end();
  }
  // e[ξ][b] = Σ_a A[ξ][a] dY[a][b], A = [[1,0],[1,1],[1,−1],[0,−1]]
  for (let b = 0; b < 2; b++) {
    const dd = (a: number) => d[a * 2 + b];
    f.get(dd(0)).set(e[0 * 2 + b]);
    f.get(dd(0)).get(dd(1)).f32x4Add().set(e[1 * 2 + b]);
    f.get(dd(0)).get(dd(1)).f32x4Sub().set(e[2 * 2 + b]);
    f.f32x4Const(0).get(dd(1)).f32x4Sub().set(e[3 * 2 + b]);
  }
  // dM[ξ][ν] = Σ_b e[ξ][b] A[ν][b]
  const store = (p: number, body: () => void) => {
    f.get(out).get(ZS).i32(p).i32Mul().i32Add().get(q).i32Add();
    body();
    f.v128Store();
  };
  for (let xi = 0; xi < 4; xi++) {
    const ee = (b: number) => e[xi * 2 + b];
    store(xi * 4 + 0, () => f.get(ee(0)));
    store(xi * 4 + 1, () => f.get(ee(0)).get(ee(1)).f32x4Add());
    store(xi * 4 + 2, () => f.get(ee(0)).get(ee(1)).f32x4Sub());
    store(xi * 4 + 3, () => f.f32x4Const(0).get(ee(1)).f32x4Sub());
  }
  f.get(q).i32(16).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  f.get(out).get(cob).i32Add().set(out);
  f.get(t).i32(1).i32Add().set(t);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** Blocked transpose of a column range (see {@link SimdKernels.transpose}). */
function transposeFunction(): WasmFunction {
  const f = new WasmFunction("transpose", [I32, I32, I32, I32, I32, I32, I32]);
  const [SRC, ROWS, COLS, J0, J1, DST, DS] = [0, 1, 2, 3, 4, 5, 6];
  const i0 = f.local(I32);
  const i = f.local(I32);
  const j = f.local(I32);
  const s = f.local(I32);
  const d = f.local(I32);
  const rowBytes = f.local(I32);
  const r = [0, 1, 2, 3].map(() => f.local(V128));
  const t = [0, 1, 2, 3].map(() => f.local(V128));
  f.get(COLS).i32(4).i32Mul().set(rowBytes);
  /** Scalar copies of rows `i0 .. i1−1` (locals or constants), columns `j .. J1−1`. */
  const scalarTail = (from: number, rows: () => void) => {
    f.block();
    f.loop(); // columns
    f.get(j).get(J1).i32GeS().brIf(1);
    f.get(from).set(i);
    f.block();
    f.loop(); // rows
    f.get(i);
    rows();
    f.i32GeS().brIf(1);
    f.get(DST).get(j).get(DS).i32Mul().i32Add().get(i).i32(4).i32Mul().i32Add();
    f.get(SRC).get(i).get(rowBytes).i32Mul().i32Add().get(j).i32(4).i32Mul().i32Add().f32Load();
    f.f32Store();
    f.get(i).i32(1).i32Add().set(i);
    f.br(0);
    f.end();
    f.end();
    f.get(j).i32(1).i32Add().set(j);
    f.br(0);
    f.end();
    f.end();
  };
  f.i32(0).set(i0);
  f.block();
  f.loop(); // blocks of 4 rows
  f.get(i0).i32(4).i32Add().get(ROWS).i32GtS().brIf(1);
  f.get(J0).set(j);
  f.block();
  f.loop(); // 4×4 blocks: load 4 rows of 4 floats, store 4 columns
  f.get(j).i32(4).i32Add().get(J1).i32GtS().brIf(1);
  f.get(SRC).get(i0).get(rowBytes).i32Mul().i32Add().get(j).i32(4).i32Mul().i32Add().set(s);
  for (let k = 0; k < 4; k++) {
    f.get(s).v128Load().set(r[k]);
    if (k < 3) f.get(s).get(rowBytes).i32Add().set(s);
  }
  f.get(r[0]).get(r[1]).f32x4Shuffle([0, 4, 1, 5]).set(t[0]);
  f.get(r[0]).get(r[1]).f32x4Shuffle([2, 6, 3, 7]).set(t[1]);
  f.get(r[2]).get(r[3]).f32x4Shuffle([0, 4, 1, 5]).set(t[2]);
  f.get(r[2]).get(r[3]).f32x4Shuffle([2, 6, 3, 7]).set(t[3]);
  f.get(DST).get(j).get(DS).i32Mul().i32Add().get(i0).i32(4).i32Mul().i32Add().set(d);
  const out = (a: number, b: number, lanes: [number, number, number, number]) => {
    f.get(d).get(a).get(b).f32x4Shuffle(lanes).v128Store();
    f.get(d).get(DS).i32Add().set(d);
  };
  out(t[0], t[2], [0, 1, 4, 5]);
  out(t[0], t[2], [2, 3, 6, 7]);
  out(t[1], t[3], [0, 1, 4, 5]);
  out(t[1], t[3], [2, 3, 6, 7]);
  f.get(j).i32(4).i32Add().set(j);
  f.br(0);
  f.end();
  f.end();
  // the block's last columns one by one
  const i1 = f.local(I32);
  f.get(i0).i32(4).i32Add().set(i1);
  scalarTail(i0, () => f.get(i1));
  f.get(i0).i32(4).i32Add().set(i0);
  f.br(0);
  f.end();
  f.end();
  // the last rows (fewer than 4) one by one
  f.get(J0).set(j);
  scalarTail(i0, () => f.get(ROWS));
  return f;
}

/** Zero fill (see {@link SimdKernels.zero}). */
function zeroFunction(): WasmFunction {
  const f = new WasmFunction("zero", [I32, I32]);
  f.get(0).i32(0).get(1).memoryFill();
  return f;
}

/** Ordered sum of partial results (see {@link SimdKernels.sumParts}). */
function sumPartsFunction(): WasmFunction {
  const f = new WasmFunction("sumParts", [I32, I32, I32, I32, I32]);
  const [DST, SRC, STRIDE, PARTS, COUNT] = [0, 1, 2, 3, 4];
  const i = f.local(I32); // byte offset
  const end4 = f.local(I32);
  const end = f.local(I32);
  const p = f.local(I32);
  const q = f.local(I32);
  const acc = f.local(V128);
  const sacc = f.local(F32);
  f.get(COUNT).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.get(COUNT).i32(4).i32Mul().set(end);
  f.i32(0).set(i);
  f.block();
  f.loop();
  f.get(i).get(end4).i32GeU().brIf(1);
  f.get(SRC).get(i).i32Add().tee(q).v128Load().set(acc);
  f.i32(1).set(p);
  f.block();
  f.loop();
  f.get(p).get(PARTS).i32GeS().brIf(1);
  f.get(q).get(STRIDE).i32Add().set(q);
  f.get(acc).get(q).v128Load().f32x4Add().set(acc);
  f.get(p).i32(1).i32Add().set(p);
  f.br(0);
  f.end();
  f.end();
  f.get(DST).get(i).i32Add().get(acc).v128Store();
  f.get(i).i32(16).i32Add().set(i);
  f.br(0);
  f.end();
  f.end();
  f.block();
  f.loop();
  f.get(i).get(end).i32GeU().brIf(1);
  f.get(SRC).get(i).i32Add().tee(q).f32Load().set(sacc);
  f.i32(1).set(p);
  f.block();
  f.loop();
  f.get(p).get(PARTS).i32GeS().brIf(1);
  f.get(q).get(STRIDE).i32Add().set(q);
  f.get(sacc).get(q).f32Load().f32Add().set(sacc);
  f.get(p).i32(1).i32Add().set(p);
  f.br(0);
  f.end();
  f.end();
  f.get(DST).get(i).i32Add().get(sacc).f32Store();
  f.get(i).i32(4).i32Add().set(i);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/**
 * Builds the module's bytes (functions in the order: tile kernels, `gemm`, `im2col`, `col2im`,
 * `maxPoolGrad`, `maxPoolGrad2x2`, `colSum`, `addRow`, `maxPool2x2`, …, `pairSquares` last).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simdModuleBytes } from "./simd_module.ts";
 * assert.equal(WebAssembly.validate(simdModuleBytes()), true); // where relaxed SIMD is supported
 * ```
 */
export function simdModuleBytes(mr = GEMM_MR, sharedMaximum?: number): Uint8Array<ArrayBuffer> {
  const fns: WasmFunction[] = [];
  const idx = new Map<string, number>();
  for (const mode of ["row", "col", "any"] as AMode[]) {
    for (let r = 1; r <= mr; r++) {
      for (const nq of [1, 2]) {
        idx.set(`${mode}/${r}/${nq}`, fns.length);
        fns.push(tileKernel(r, nq, mode));
      }
    }
  }
  const gemmIndex = fns.length;
  const tile = (mode: AMode, r: number, nq: number) => idx.get(`${mode}/${r}/${nq}`) as number;
  fns.push(gemmDriver(mr, tile, false));
  fns.push(gemmDriver(mr, tile, true));
  fns.push(gemmManyFunction(gemmIndex));
  fns.push(im2colFunction());
  for (const ch of [1, 2, 3]) fns.push(im2colSmallFunction(ch));
  fns.push(col2imFunction());
  fns.push(maxPoolGradFunction());
  fns.push(maxPoolGrad2x2Function());
  fns.push(colSumFunction());
  fns.push(addRowFunction());
  fns.push(maxPool2x2Function());
  fns.push(copy2dFunction());
  fns.push(zeroFunction());
  fns.push(sumPartsFunction());
  fns.push(adamFunction());
  fns.push(elementwiseFunction());
  fns.push(winoInputFunction());
  fns.push(winoOutputFunction());
  fns.push(winoGradOutputFunction());
  fns.push(transposeFunction());
  fns.push(biasActFunction());
  fns.push(biasActGradFunction());
  fns.push(...winograd4Functions());
  fns.push(...conv1Functions(fns.length));
  fns.push(pairSquaresFunction());
  return assemble(fns, sharedMaximum);
}

/** A module instance on one memory, with the module (for worker threads) and the names. */
export interface SimdInstance {
  /** The exported kernels. */
  kernels: SimdKernels;
  /** The instance. */
  instance: WebAssembly.Instance;
  /** The compiled module (shared memories: the variant that imports a shared memory). */
  module: WebAssembly.Module;
  /** Names of the exported functions, in export order (the indices programs use). */
  names: string[];
}

const instances = new WeakMap<WebAssembly.Memory, SimdInstance>();
const modules = new Map<string, WebAssembly.Module | null>();

function compiled(sharedMaximum: number | undefined): WebAssembly.Module | undefined {
  const key = String(sharedMaximum);
  let m = modules.get(key);
  if (m === undefined) {
    const bytes = simdModuleBytes(GEMM_MR, sharedMaximum);
    m = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    modules.set(key, m);
  }
  return m ?? undefined;
}

/**
 * The kernels instantiated on `memory` (cached per memory) with their module and export names,
 * or `undefined` when this engine lacks WebAssembly relaxed SIMD. A shared memory gets the
 * variant that imports a shared memory of `maxPages` pages at most (the memory's own maximum).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simdInstance } from "./simd_module.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
 * const k = simdInstance(memory, 16);
 * assert.equal(k?.names.includes("gemm"), true);
 * ```
 */
export function simdInstance(
  memory: WebAssembly.Memory,
  maxPages?: number,
): SimdInstance | undefined {
  const cached = instances.get(memory);
  if (cached !== undefined) return cached;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  if (shared && maxPages === undefined) {
    throw new Error("simdInstance: a shared memory needs its maximum size in pages");
  }
  const module = compiled(shared ? maxPages : undefined);
  if (module === undefined) return undefined;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const names = WebAssembly.Module.exports(module).filter((e) => e.kind === "function")
    .map((e) => e.name);
  const bound: SimdInstance = {
    kernels: instance.exports as unknown as SimdKernels,
    instance,
    module,
    names,
  };
  instances.set(memory, bound);
  return bound;
}

/**
 * The kernels instantiated on an unshared `memory` (cached per memory), or `undefined` when this
 * engine lacks WebAssembly relaxed SIMD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simdKernels } from "./simd_module.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const k = simdKernels(memory);
 * assert.equal(typeof k?.gemm, "function");
 * ```
 */
export function simdKernels(
  memory: WebAssembly.Memory,
  maxPages?: number,
): SimdKernels | undefined {
  return simdInstance(memory, maxPages)?.kernels;
}
