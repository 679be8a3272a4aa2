/**
 * The first convolution of a network on grey images — one input channel, a 3×3 filter, stride 1,
 * no padding — in WebAssembly SIMD without an im2col copy. Forward: a register tile of up to 6
 * consecutive output pixels of a row × 8 output channels reads its 9 taps straight from the image
 * (three row pointers and immediate offsets), the same loads and fused multiply-adds per tap as
 * the matrix kernel's per step, then the fused layers' epilogue (bias, Relu) as it stores. Filter
 * gradient: 6 (or 3) taps × 8 channels of `dW` in registers, summed over the pixels of a range of
 * output rows. Assembled into the module of `simd_module.ts`.
 *
 * @module
 */
import { I32, V128, WasmFunction } from "./wasm_asm.ts";

/** Output pixels of a tile (along a row). */
export const CONV1_MR = 6;

/**
 * Tile `mr × 4·nq`: parameters `a` (the top-left tap of the tile's first pixel), `rowBytes`
 * (the image's row stride), `w` (`W[0, c0]`: taps are rows of `coBytes` bytes), `coBytes`, `c`
 * (the first output pixel's channel `c0`; pixels `coBytes` apart), `bias` (0: none), `relu`.
 */
function tileFunction(mr: number, nq: number): WasmFunction {
  const f = new WasmFunction(`c1k${mr}x${nq * 4}`, new Array(7).fill(I32));
  const [A, RB, W, CB, C, BIAS, RELU] = [0, 1, 2, 3, 4, 5, 6];
  const rows = [A, f.local(I32), f.local(I32)];
  const acc: number[][] = [];
  for (let i = 0; i < mr; i++) acc.push(Array.from({ length: nq }, () => f.local(V128)));
  const bv = Array.from({ length: nq }, () => f.local(V128));
  const av = f.local(V128);
  const cPtr = f.local(I32);
  f.get(A).get(RB).i32Add().set(rows[1]);
  f.get(rows[1]).get(RB).i32Add().set(rows[2]);
  for (let i = 0; i < mr; i++) for (let q = 0; q < nq; q++) f.f32x4Const(0).set(acc[i][q]);
  for (let ta = 0; ta < 3; ta++) {
    for (let tb = 0; tb < 3; tb++) {
      for (let q = 0; q < nq; q++) f.get(W).v128Load(16 * q).set(bv[q]);
      f.get(W).get(CB).i32Add().set(W);
      for (let i = 0; i < mr; i++) {
        f.get(rows[ta]).v128Load32Splat(4 * (tb + i)).set(av);
        for (let q = 0; q < nq; q++) {
          f.get(av).get(bv[q]).get(acc[i][q]).f32x4RelaxedMadd().set(acc[i][q]);
        }
      }
    }
  }
  f.get(BIAS).if();
  for (let q = 0; q < nq; q++) f.get(BIAS).v128Load(16 * q).set(bv[q]);
  for (let i = 0; i < mr; i++) {
    for (let q = 0; q < nq; q++) f.get(acc[i][q]).get(bv[q]).f32x4Add().set(acc[i][q]);
  }
  f.end();
  f.get(RELU).if();
  for (let i = 0; i < mr; i++) {
    for (let q = 0; q < nq; q++) {
      const v = acc[i][q];
      f.get(v).get(v).f32x4Const(0).f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And().set(v);
    }
  }
  f.end();
  f.get(C).set(cPtr);
  for (let i = 0; i < mr; i++) {
    for (let q = 0; q < nq; q++) f.get(cPtr).get(acc[i][q]).v128Store(16 * q);
    if (i < mr - 1) f.get(cPtr).get(CB).i32Add().set(cPtr);
  }
  return f;
}

/**
 * `conv1x3x3(x, w, y, h, wd, oh, ow, co, row0, rows, bias, relu)`: output rows `row0 ..
 * row0+rows−1` (row `b·oh + r` of image `b`) of the valid 3×3 stride-1 convolution of the
 * one-channel NHWC batch `x` (`[·, h, wd, 1]`) with `w` (`[3, 3, 1, co]`, `co` a multiple of 4)
 * into `y` (`[·, oh, ow, co]`), then `+ bias` (unless 0) and Relu (if `relu`). `index(mr, nq)`
 * is the function index of tile `mr × 4·nq`.
 */
function driverFunction(index: (mr: number, nq: number) => number): WasmFunction {
  const f = new WasmFunction("conv1x3x3", new Array(12).fill(I32));
  const [X, W, Y, H, WD, OH, OW, CO, ROW0, ROWS, BIAS, RELU] = [...Array(12).keys()];
  const row = f.local(I32);
  const end = f.local(I32);
  const rowBytes = f.local(I32);
  const coBytes = f.local(I32);
  const a = f.local(I32);
  const c = f.local(I32);
  const s = f.local(I32);
  const mr = f.local(I32);
  const j = f.local(I32);
  const b = f.local(I32);
  f.get(WD).i32(4).i32Mul().set(rowBytes);
  f.get(CO).i32(4).i32Mul().set(coBytes);
  f.get(ROW0).set(row);
  f.get(ROW0).get(ROWS).i32Add().set(end);
  f.block();
  f.loop(); // output rows
  f.get(row).get(end).i32GeS().brIf(1);
  // image b = row / oh, input row (b·h + row − b·oh)
  f.get(row).get(OH).i32DivS().set(b);
  f.get(X).get(b).get(H).i32Mul().get(row).i32Add().get(b).get(OH).i32Mul().i32Sub()
    .get(rowBytes).i32Mul().i32Add().set(a);
  f.get(Y).get(row).get(OW).i32Mul().get(coBytes).i32Mul().i32Add().set(c);
  f.i32(0).set(s);
  f.block();
  f.loop(); // tiles of up to 6 pixels
  f.get(s).get(OW).i32GeS().brIf(1);
  f.get(OW).get(s).i32Sub().tee(mr).i32(CONV1_MR).i32GtS().if().i32(CONV1_MR).set(mr).end();
  f.i32(0).set(j);
  f.block();
  f.loop(); // 8 (or 4) output channels
  f.get(j).get(CO).i32GeS().brIf(1);
  const call = (m: number, nq: number) => {
    f.get(a).get(rowBytes).get(W).get(j).i32(4).i32Mul().i32Add().get(coBytes);
    f.get(c).get(j).i32(4).i32Mul().i32Add();
    f.get(BIAS).get(j).i32(4).i32Mul().i32Add().i32(0).get(BIAS).select();
    f.get(RELU).call(index(m, nq));
  };
  const chain = (nq: number) => {
    for (let m = CONV1_MR; m > 1; m--) {
      f.get(mr).i32(m).i32Eq().if();
      call(m, nq);
      f.else();
    }
    call(1, nq);
    for (let m = CONV1_MR; m > 1; m--) f.end();
  };
  f.get(CO).get(j).i32Sub().i32(8).i32GeS().if();
  chain(2);
  f.get(j).i32(8).i32Add().set(j);
  f.else();
  chain(1);
  f.get(j).i32(4).i32Add().set(j);
  f.end();
  f.br(0);
  f.end();
  f.end();
  f.get(a).get(mr).i32(4).i32Mul().i32Add().set(a);
  f.get(c).get(mr).get(coBytes).i32Mul().i32Add().set(c);
  f.get(s).get(mr).i32Add().set(s);
  f.br(0);
  f.end();
  f.end();
  f.get(row).i32(1).i32Add().set(row);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/**
 * Filter-gradient tile `nt × 4·nq` (`nt` = 6: taps 0–5, the filter's first two rows; 3: taps
 * 6–8): parameters `x, dz, out, h, wd, oh, ow, coBytes, row0, rows, t0Row, acc` — sums
 * `Σ_p x_tap(p) · dz[p, c0 ..]` over the pixels of output rows `row0 .. row0+rows−1` in order,
 * in registers, then writes (or with `acc` adds) them to `out[tap, c0 ..]` (`dz` and `out` point
 * at channel `c0`; `t0Row` is the first tap's filter row, 0 or 2).
 */
function filterTileFunction(nt: number, nq: number): WasmFunction {
  const f = new WasmFunction(`c1f${nt}x${nq * 4}`, new Array(12).fill(I32));
  const [X, DZ, OUT, H, WD, OH, OW, CB, ROW0, ROWS, T0ROW, ACC] = [...Array(12).keys()];
  const acc: number[][] = [];
  for (let t = 0; t < nt; t++) acc.push(Array.from({ length: nq }, () => f.local(V128)));
  const bv = Array.from({ length: nq }, () => f.local(V128));
  const av = f.local(V128);
  const rA = f.local(I32);
  const rB = f.local(I32);
  const dzp = f.local(I32);
  const row = f.local(I32);
  const end = f.local(I32);
  const b = f.local(I32);
  const s = f.local(I32);
  const rowBytes = f.local(I32);
  const o = f.local(I32);
  f.get(WD).i32(4).i32Mul().set(rowBytes);
  for (let t = 0; t < nt; t++) for (let q = 0; q < nq; q++) f.f32x4Const(0).set(acc[t][q]);
  f.get(ROW0).set(row);
  f.get(ROW0).get(ROWS).i32Add().set(end);
  f.get(DZ).get(ROW0).get(OW).i32Mul().get(CB).i32Mul().i32Add().set(dzp);
  f.block();
  f.loop(); // output rows
  f.get(row).get(end).i32GeS().brIf(1);
  f.get(row).get(OH).i32DivS().set(b);
  // first tap row: image b, input row (row − b·oh) + t0Row
  f.get(X).get(b).get(H).i32Mul().get(row).i32Add().get(b).get(OH).i32Mul().i32Sub()
    .get(T0ROW).i32Add().get(rowBytes).i32Mul().i32Add().set(rA);
  f.get(rA).get(rowBytes).i32Add().set(rB);
  f.get(OW).set(s);
  f.loop(); // pixels of the row
  for (let q = 0; q < nq; q++) f.get(dzp).v128Load(16 * q).set(bv[q]);
  for (let t = 0; t < nt; t++) {
    f.get(t < 3 ? rA : rB).v128Load32Splat(4 * (t % 3)).set(av);
    for (let q = 0; q < nq; q++) {
      f.get(av).get(bv[q]).get(acc[t][q]).f32x4RelaxedMadd().set(acc[t][q]);
    }
  }
  f.get(dzp).get(CB).i32Add().set(dzp);
  f.get(rA).i32(4).i32Add().set(rA);
  f.get(rB).i32(4).i32Add().set(rB);
  f.get(s).i32(1).i32Sub().tee(s).brIf(0);
  f.end();
  f.get(row).i32(1).i32Add().set(row);
  f.br(0);
  f.end();
  f.end();
  // out[t0 + t, c0 ..] (+)= acc; the taps' rows are coBytes apart
  f.get(OUT).set(o);
  for (let t = 0; t < nt; t++) {
    f.get(ACC).if();
    for (let q = 0; q < nq; q++) f.get(acc[t][q]).get(o).v128Load(16 * q).f32x4Add().set(acc[t][q]);
    f.end();
    for (let q = 0; q < nq; q++) f.get(o).get(acc[t][q]).v128Store(16 * q);
    if (t < nt - 1) f.get(o).get(CB).i32Add().set(o);
  }
  return f;
}

/**
 * `conv1x3x3Filter(x, dz, out, h, wd, oh, ow, co, row0, rows, acc)`: the filter gradient
 * `out[3, 3, 1, co] (+)= Σ_p x_tap(p) · dz[p, :]` of {@link driverFunction}'s convolution over
 * output rows `row0 .. row0+rows−1`, in chunks of 4 rows (kept in cache across the passes),
 * chunk sums added in order. `index(nt, nq)` is the function index of a tile.
 */
function filterDriverFunction(index: (nt: number, nq: number) => number): WasmFunction {
  const f = new WasmFunction("conv1x3x3Filter", new Array(11).fill(I32));
  const [X, DZ, OUT, H, WD, OH, OW, CO, ROW0, ROWS, ACC] = [...Array(11).keys()];
  const r0 = f.local(I32);
  const nr = f.local(I32);
  const end = f.local(I32);
  const j = f.local(I32);
  const coBytes = f.local(I32);
  const acc = f.local(I32);
  f.get(CO).i32(4).i32Mul().set(coBytes);
  f.get(ROW0).set(r0);
  f.get(ROW0).get(ROWS).i32Add().set(end);
  f.get(ACC).set(acc);
  f.block();
  f.loop(); // chunks of 4 output rows
  f.get(r0).get(end).i32GeS().brIf(1);
  f.get(end).get(r0).i32Sub().tee(nr).i32(4).i32GtS().if().i32(4).set(nr).end();
  f.i32(0).set(j);
  f.block();
  f.loop(); // 8 (or 4) channels
  f.get(j).get(CO).i32GeS().brIf(1);
  const call = (nt: number, nq: number) => {
    f.get(X).get(DZ).get(j).i32(4).i32Mul().i32Add();
    f.get(OUT).i32(nt === 6 ? 0 : 6).get(coBytes).i32Mul().i32Add().get(j).i32(4).i32Mul()
      .i32Add();
    f.get(H).get(WD).get(OH).get(OW).get(coBytes).get(r0).get(nr).i32(nt === 6 ? 0 : 2);
    f.get(acc).call(index(nt, nq));
  };
  f.get(CO).get(j).i32Sub().i32(8).i32GeS().if();
  call(6, 2);
  call(3, 2);
  f.get(j).i32(8).i32Add().set(j);
  f.else();
  call(6, 1);
  call(3, 1);
  f.get(j).i32(4).i32Add().set(j);
  f.end();
  f.br(0);
  f.end();
  f.end();
  f.i32(1).set(acc);
  f.get(r0).get(nr).i32Add().set(r0);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** The tiles and the driver, for the module's function list; `base` is the first one's index. */
export function conv1Functions(base: number): WasmFunction[] {
  const fns: WasmFunction[] = [];
  const idx = new Map<string, number>();
  for (let mr = 1; mr <= CONV1_MR; mr++) {
    for (const nq of [1, 2]) {
      idx.set(`${mr}/${nq}`, base + fns.length);
      fns.push(tileFunction(mr, nq));
    }
  }
  fns.push(driverFunction((mr, nq) => idx.get(`${mr}/${nq}`) as number));
  for (const nt of [6, 3]) {
    for (const nq of [1, 2]) {
      idx.set(`f${nt}/${nq}`, base + fns.length);
      fns.push(filterTileFunction(nt, nq));
    }
  }
  fns.push(filterDriverFunction((nt, nq) => idx.get(`f${nt}/${nq}`) as number));
  return fns;
}
