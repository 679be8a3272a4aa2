/**
 * Transforms of Winograd's F(4×4, 3×3) (Lavin & Gray, CVPR 2016) in WebAssembly SIMD, four
 * channels at a time, assembled into the module of `simd_module.ts`. A 4×4 output tile costs 36
 * multiplications per channel pair instead of 144; the tiles read 6×6 input patches.
 *
 * With `Bᵀ`, `G`, `Aᵀ` of the paper (points 0, ±1, ±2, ∞):
 *
 * - `wino4Input`: `V = Bᵀ·d·B` of the 6×6 patches (origin `4·ty − pt`, `4·tx − pl`; zeros
 *   outside the image);
 * - `wino4Output`: `Y = Aᵀ·M·A` (4×4 outputs, those beyond the image dropped), then the epilogue
 *   (bias, Relu) of the fused layers;
 * - `wino4GradOutput`: `Z = A·dY·Aᵀ` of 4×4 output-gradient tiles (the adjoint of the output
 *   transform: the filter gradient's and the input gradient's first step);
 * - `wino4InputAdjoint`: `dd = B·dV·Bᵀ` added onto the 6×6 patches of the input gradient (the
 *   adjoint of the input transform; patches overlap, so a caller gives each image to one task);
 * - `wino4Filter`, `wino4FilterGrad`: `U = G·g·Gᵀ` of the filter and `dg = Gᵀ·dU·G`, four channel
 *   pairs at a time.
 *
 * Layouts are those of the F(2×2, 3×3) kernels: position `p` (of 36) of tile `t`, channel `c` at
 * `base + p·stride + (t−t0)·ch·4 + 4c` (bytes); tile `t` is image `⌊t/(th·tw)⌋`, row
 * `ty`, column `tx`.
 *
 * @module
 */
import { I32, V128, type ValType, WasmFunction } from "./wasm_asm.ts";

/** A value in a `v128` local. */
type Val = number;

/** Emits small `f32x4` expressions, each result in a fresh local. */
class Expr {
  constructor(private readonly f: WasmFunction) {}
  private out(): Val {
    return this.f.local(V128);
  }
  add(a: Val, b: Val): Val {
    const r = this.out();
    this.f.get(a).get(b).f32x4Add().set(r);
    return r;
  }
  sub(a: Val, b: Val): Val {
    const r = this.out();
    this.f.get(a).get(b).f32x4Sub().set(r);
    return r;
  }
  /** `a · c` for a constant `c`. */
  mul(a: Val, c: number): Val {
    const r = this.out();
    this.f.get(a).f32x4Const(c).f32x4Mul().set(r);
    return r;
  }
  zero(): Val {
    const r = this.out();
    this.f.f32x4Const(0).set(r);
    return r;
  }
}

/** `Bᵀ·d` for one column of 6 values. */
function inT(e: Expr, d: Val[]): Val[] {
  const t0 = e.add(e.sub(d[4], e.mul(d[2], 5)), e.mul(d[0], 4));
  const a = e.sub(d[3], e.mul(d[1], 4));
  const b = e.sub(d[4], e.mul(d[2], 4));
  const c2 = e.mul(e.sub(d[3], d[1]), 2);
  const g = e.sub(d[4], d[2]);
  const t5 = e.add(e.sub(d[5], e.mul(d[3], 5)), e.mul(d[1], 4));
  return [t0, e.add(a, b), e.sub(b, a), e.add(g, c2), e.sub(g, c2), t5];
}

/** `Aᵀ·m` for one column of 6 values (4 results). */
function outT(e: Expr, m: Val[]): Val[] {
  const p = e.add(m[1], m[2]);
  const q = e.sub(m[1], m[2]);
  const r = e.add(m[3], m[4]);
  const s = e.sub(m[3], m[4]);
  return [
    e.add(e.add(m[0], p), r),
    e.add(q, e.mul(s, 2)),
    e.add(p, e.mul(r, 4)),
    e.add(e.add(q, e.mul(s, 8)), m[5]),
  ];
}

/** `A·d` for one column of 4 values (6 results). */
function gradOutT(e: Expr, d: Val[]): Val[] {
  const s = e.add(d[0], d[2]);
  const t = e.add(d[1], d[3]);
  const g = e.add(d[0], e.mul(d[2], 4));
  const h = e.mul(e.add(d[1], e.mul(d[3], 4)), 2);
  return [d[0], e.add(s, t), e.sub(s, t), e.add(g, h), e.sub(g, h), d[3]];
}

/** `B·v` for one column of 6 values. */
function inAdjT(e: Expr, v: Val[]): Val[] {
  const dd1 = e.add(e.mul(e.add(e.sub(v[2], v[1]), v[5]), 4), e.mul(e.sub(v[4], v[3]), 2));
  const s12 = e.add(v[1], v[2]);
  const s34 = e.add(v[3], v[4]);
  const dd2 = e.sub(e.zero(), e.add(e.add(e.mul(v[0], 5), e.mul(s12, 4)), s34));
  const dd3 = e.sub(e.add(e.sub(v[1], v[2]), e.mul(e.sub(v[3], v[4]), 2)), e.mul(v[5], 5));
  const dd4 = e.add(e.add(v[0], s12), s34);
  return [e.mul(v[0], 4), dd1, dd2, dd3, dd4, v[5]];
}

/**
 * Sets image pointer `img` and tile row and column `ty`, `tx` of tile local `t` (see
 * `tileCoordinates` in `simd_module.ts`).
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

/**
 * Byte addresses of a `size × size` patch at rows `4·ty + oy + i`, columns `4·tx + ox + j` of the
 * image at `img` (`rows × cols`, `chb` bytes a pixel), −1 outside; `oy`, `ox` are locals (the
 * negated padding) or `undefined` for 0.
 */
function patchAddresses(
  f: WasmFunction,
  size: number,
  img: number,
  ty: number,
  tx: number,
  oy: number | undefined,
  ox: number | undefined,
  rows: number,
  cols: number,
  chb: number,
): number[] {
  const addr: number[] = [];
  const yy = f.local(I32);
  const xx = f.local(I32);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      f.get(ty).i32(4).i32Mul().i32(i).i32Add();
      if (oy !== undefined) f.get(oy).i32Sub();
      f.set(yy);
      f.get(tx).i32(4).i32Mul().i32(j).i32Add();
      if (ox !== undefined) f.get(ox).i32Sub();
      f.set(xx);
      const a = f.local(I32);
      f.get(img).get(yy).get(cols).i32Mul().get(xx).i32Add().get(chb).i32Mul().i32Add();
      f.i32(-1);
      f.get(yy).get(rows).i32LtU().get(xx).get(cols).i32LtU().i32And();
      f.select().set(a);
      addr.push(a);
    }
  }
  return addr;
}

/** Loops `t` over `t0 .. t0+nt−1` and `q` over the channels' bytes; `perTile`, `perVector` emit. */
function tileLoops(
  f: WasmFunction,
  t0: number,
  nt: number,
  chb: number,
  perTile: (t: number) => void,
  perVector: (q: number) => void,
  afterTile: () => void,
): void {
  const t = f.local(I32);
  const tEnd = f.local(I32);
  const q = f.local(I32);
  f.get(t0).set(t);
  f.get(t0).get(nt).i32Add().set(tEnd);
  f.block();
  f.loop();
  f.get(t).get(tEnd).i32GeS().brIf(1);
  perTile(t);
  f.i32(0).set(q);
  f.block();
  f.loop();
  f.get(q).get(chb).i32GeS().brIf(1);
  perVector(q);
  f.get(q).i32(16).i32Add().set(q);
  f.br(0);
  f.end();
  f.end();
  afterTile();
  f.get(t).i32(1).i32Add().set(t);
  f.br(0);
  f.end();
  f.end();
}

/** Loads a vector at `addr + q`, or zeros when `addr` is −1. */
function loadOrZero(f: WasmFunction, addr: number, q: number): Val {
  const r = f.local(V128);
  f.get(addr).i32(-1).i32Eq().if();
  f.f32x4Const(0).set(r);
  f.else();
  f.get(addr).get(q).i32Add().v128Load().set(r);
  f.end();
  return r;
}

/** `wino4Input(x, h, w, ch, th, tw, pt, pl, t0, nt, v, vStride)`: `V = Bᵀ·d·B`. */
function wino4InputFunction(): WasmFunction {
  const P: ValType[] = new Array(12).fill(I32);
  const f = new WasmFunction("wino4Input", P);
  const [X, H, W, CH, TH, TW, PT, PL, T0, NT, VP, VS] = [...P.keys()];
  const e = new Expr(f);
  const img = f.local(I32);
  const ty = f.local(I32);
  const tx = f.local(I32);
  const imgBytes = f.local(I32);
  const chb = f.local(I32);
  const out = f.local(I32);
  f.get(CH).i32(4).i32Mul().set(chb);
  f.get(H).get(W).i32Mul().get(chb).i32Mul().set(imgBytes);
  f.get(VP).set(out);
  let addr: number[] = [];
  tileLoops(f, T0, NT, chb, (t) => {
    tileCoordinates(f, t, TH, TW, X, imgBytes, img, ty, tx);
    addr = patchAddresses(f, 6, img, ty, tx, PT, PL, H, W, chb);
  }, (q) => {
    const d = addr.map((a) => loadOrZero(f, a, q));
    const tmp: Val[][] = []; // tmp[j] = Bᵀ·(column j)
    for (let j = 0; j < 6; j++) tmp.push(inT(e, [0, 1, 2, 3, 4, 5].map((i) => d[i * 6 + j])));
    for (let xi = 0; xi < 6; xi++) {
      const v = inT(e, [0, 1, 2, 3, 4, 5].map((j) => tmp[j][xi]));
      for (let nu = 0; nu < 6; nu++) {
        f.get(out).get(VS).i32(xi * 6 + nu).i32Mul().i32Add().get(q).i32Add().get(v[nu]);
        f.v128Store();
      }
    }
  }, () => {
    f.get(out).get(chb).i32Add().set(out);
  });
  return f;
}

/** Emits the fused layers' epilogue on `v` (see `biasActEpilogue` in `simd_module.ts`). */
function epilogue(f: WasmFunction, v: Val, bias: number, q: number, relu: number): void {
  f.get(bias).if();
  f.get(v).get(bias).get(q).i32Add().v128Load().f32x4Add().set(v);
  f.end();
  f.get(relu).if();
  f.get(v).get(v).f32x4Const(0).f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And().set(v);
  f.end();
}

/** `wino4Output(m, mStride, y, oh, ow, co, th, tw, t0, nt, bias, relu)`: `Y = Aᵀ·M·A`. */
function wino4OutputFunction(): WasmFunction {
  const P: ValType[] = new Array(12).fill(I32);
  const f = new WasmFunction("wino4Output", P);
  const [MP, MS, Y, OH, OW, CO, TH, TW, T0, NT, BIAS, RELU] = [...P.keys()];
  const e = new Expr(f);
  const img = f.local(I32);
  const ty = f.local(I32);
  const tx = f.local(I32);
  const imgBytes = f.local(I32);
  const cob = f.local(I32);
  const src = f.local(I32);
  f.get(CO).i32(4).i32Mul().set(cob);
  f.get(OH).get(OW).i32Mul().get(cob).i32Mul().set(imgBytes);
  f.get(MP).set(src);
  let addr: number[] = [];
  tileLoops(f, T0, NT, cob, (t) => {
    tileCoordinates(f, t, TH, TW, Y, imgBytes, img, ty, tx);
    addr = patchAddresses(f, 4, img, ty, tx, undefined, undefined, OH, OW, cob);
  }, (q) => {
    const m: Val[] = [];
    for (let k = 0; k < 36; k++) {
      const r = f.local(V128);
      f.get(src).get(MS).i32(k).i32Mul().i32Add().get(q).i32Add().v128Load().set(r);
      m.push(r);
    }
    const s: Val[][] = []; // s[j] = Aᵀ·(column j): 4 values
    for (let j = 0; j < 6; j++) s.push(outT(e, [0, 1, 2, 3, 4, 5].map((i) => m[i * 6 + j])));
    for (let a = 0; a < 4; a++) {
      const y = outT(e, [0, 1, 2, 3, 4, 5].map((j) => s[j][a]));
      for (let b = 0; b < 4; b++) {
        const k = a * 4 + b;
        f.get(addr[k]).i32(-1).i32Ne().if();
        epilogue(f, y[b], BIAS, q, RELU);
        f.get(addr[k]).get(q).i32Add().get(y[b]).v128Store();
        f.end();
      }
    }
  }, () => {
    f.get(src).get(cob).i32Add().set(src);
  });
  return f;
}

/** `wino4GradOutput(dy, oh, ow, co, th, tw, t0, nt, z, zStride)`: `Z = A·dY·Aᵀ`. */
function wino4GradOutputFunction(): WasmFunction {
  const P: ValType[] = new Array(10).fill(I32);
  const f = new WasmFunction("wino4GradOutput", P);
  const [DY, OH, OW, CO, TH, TW, T0, NT, ZP, ZS] = [...P.keys()];
  const e = new Expr(f);
  const img = f.local(I32);
  const ty = f.local(I32);
  const tx = f.local(I32);
  const imgBytes = f.local(I32);
  const cob = f.local(I32);
  const out = f.local(I32);
  f.get(CO).i32(4).i32Mul().set(cob);
  f.get(OH).get(OW).i32Mul().get(cob).i32Mul().set(imgBytes);
  f.get(ZP).set(out);
  let addr: number[] = [];
  tileLoops(f, T0, NT, cob, (t) => {
    tileCoordinates(f, t, TH, TW, DY, imgBytes, img, ty, tx);
    addr = patchAddresses(f, 4, img, ty, tx, undefined, undefined, OH, OW, cob);
  }, (q) => {
    const d = addr.map((a) => loadOrZero(f, a, q));
    const col: Val[][] = []; // col[b] = A·(column b): 6 values
    for (let b = 0; b < 4; b++) col.push(gradOutT(e, [0, 1, 2, 3].map((a) => d[a * 4 + b])));
    for (let xi = 0; xi < 6; xi++) {
      const z = gradOutT(e, [0, 1, 2, 3].map((b) => col[b][xi]));
      for (let nu = 0; nu < 6; nu++) {
        f.get(out).get(ZS).i32(xi * 6 + nu).i32Mul().i32Add().get(q).i32Add().get(z[nu]);
        f.v128Store();
      }
    }
  }, () => {
    f.get(out).get(cob).i32Add().set(out);
  });
  return f;
}

/**
 * `wino4InputAdjoint(dv, vStride, dx, h, w, ch, th, tw, pt, pl, t0, nt)`: `dd = B·dV·Bᵀ` added
 * onto the patches of `dx` (`[·, h, w, ch]`), tiles in order.
 */
function wino4InputAdjointFunction(): WasmFunction {
  const P: ValType[] = new Array(12).fill(I32);
  const f = new WasmFunction("wino4InputAdjoint", P);
  const [VP, VS, DX, H, W, CH, TH, TW, PT, PL, T0, NT] = [...P.keys()];
  const e = new Expr(f);
  const img = f.local(I32);
  const ty = f.local(I32);
  const tx = f.local(I32);
  const imgBytes = f.local(I32);
  const chb = f.local(I32);
  const src = f.local(I32);
  f.get(CH).i32(4).i32Mul().set(chb);
  f.get(H).get(W).i32Mul().get(chb).i32Mul().set(imgBytes);
  f.get(VP).set(src);
  let addr: number[] = [];
  tileLoops(f, T0, NT, chb, (t) => {
    tileCoordinates(f, t, TH, TW, DX, imgBytes, img, ty, tx);
    addr = patchAddresses(f, 6, img, ty, tx, PT, PL, H, W, chb);
  }, (q) => {
    const v: Val[] = [];
    for (let k = 0; k < 36; k++) {
      const r = f.local(V128);
      f.get(src).get(VS).i32(k).i32Mul().i32Add().get(q).i32Add().v128Load().set(r);
      v.push(r);
    }
    const col: Val[][] = []; // col[ν] = B·(column ν of dV)
    for (let nu = 0; nu < 6; nu++) {
      col.push(inAdjT(e, [0, 1, 2, 3, 4, 5].map((xi) => v[xi * 6 + nu])));
    }
    for (let i = 0; i < 6; i++) {
      const dd = inAdjT(e, [0, 1, 2, 3, 4, 5].map((nu) => col[nu][i]));
      for (let j = 0; j < 6; j++) {
        const a = addr[i * 6 + j];
        f.get(a).i32(-1).i32Ne().if();
        f.get(a).get(q).i32Add();
        f.get(a).get(q).i32Add().v128Load().get(dd[j]).f32x4Add();
        f.v128Store();
        f.end();
      }
    }
  }, () => {
    f.get(src).get(chb).i32Add().set(src);
  });
  return f;
}

/** `G·g` for one column of 3 values (6 results). */
function gT(e: Expr, g: Val[]): Val[] {
  const ac = e.add(g[0], g[2]);
  const p = e.add(ac, g[1]);
  const m = e.sub(ac, g[1]);
  const a24 = e.mul(g[0], 1 / 24);
  const b12 = e.mul(g[1], 1 / 12);
  const c6 = e.mul(g[2], 1 / 6);
  const s = e.add(a24, c6);
  return [
    e.mul(g[0], 1 / 4),
    e.mul(p, -1 / 6),
    e.mul(m, -1 / 6),
    e.add(s, b12),
    e.sub(s, b12),
    g[2],
  ];
}

/** `Gᵀ·v` for one column of 6 values (3 results). */
function gtT(e: Expr, v: Val[]): Val[] {
  const s12 = e.add(v[1], v[2]);
  const d21 = e.sub(v[2], v[1]);
  const s34 = e.add(v[3], v[4]);
  const d34 = e.sub(v[3], v[4]);
  const s12n = e.mul(s12, -1 / 6);
  return [
    e.add(e.add(e.mul(v[0], 1 / 4), s12n), e.mul(s34, 1 / 24)),
    e.add(e.mul(d21, 1 / 6), e.mul(d34, 1 / 12)),
    e.add(e.add(s12n, e.mul(s34, 1 / 6)), v[5]),
  ];
}

/**
 * `wino4Filter(w, u, n, i0, i1)`: `U = G·g·Gᵀ` for the channel pairs `i0 .. i1−1` (multiples of
 * 4) of a `[3, 3, n]` filter (`n` = ci·co pairs, a multiple of 4) into `u` (`[36, n]`).
 */
function wino4FilterFunction(): WasmFunction {
  const f = new WasmFunction("wino4Filter", [I32, I32, I32, I32, I32]);
  const [W, U, N, I0, I1] = [0, 1, 2, 3, 4];
  const e = new Expr(f);
  const i = f.local(I32);
  const nb = f.local(I32);
  f.get(N).i32(4).i32Mul().set(nb);
  f.get(I0).i32(4).i32Mul().set(i);
  f.get(I1).i32(4).i32Mul().set(I1);
  f.block();
  f.loop();
  f.get(i).get(I1).i32GeS().brIf(1);
  const g: Val[] = [];
  for (let k = 0; k < 9; k++) {
    const r = f.local(V128);
    f.get(W).get(nb).i32(k).i32Mul().i32Add().get(i).i32Add().v128Load().set(r);
    g.push(r);
  }
  const t: Val[][] = []; // t[j] = G·(column j): 6 values
  for (let j = 0; j < 3; j++) t.push(gT(e, [g[j], g[3 + j], g[6 + j]]));
  for (let a = 0; a < 6; a++) {
    const row = gT(e, [t[0][a], t[1][a], t[2][a]]);
    for (let b = 0; b < 6; b++) {
      f.get(U).get(nb).i32(a * 6 + b).i32Mul().i32Add().get(i).i32Add().get(row[b]).v128Store();
    }
  }
  f.get(i).i32(16).i32Add().set(i);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/**
 * `wino4FilterGrad(du, dg, n, i0, i1)`: `dg = Gᵀ·dU·G` for the channel pairs `i0 .. i1−1`
 * (multiples of 4) of `dU` (`[36, n]`) into `dg` (`[3, 3, n]`).
 */
function wino4FilterGradFunction(): WasmFunction {
  const f = new WasmFunction("wino4FilterGrad", [I32, I32, I32, I32, I32]);
  const [DU, DG, N, I0, I1] = [0, 1, 2, 3, 4];
  const e = new Expr(f);
  const i = f.local(I32);
  const nb = f.local(I32);
  f.get(N).i32(4).i32Mul().set(nb);
  f.get(I0).i32(4).i32Mul().set(i);
  f.get(I1).i32(4).i32Mul().set(I1);
  f.block();
  f.loop();
  f.get(i).get(I1).i32GeS().brIf(1);
  const d: Val[] = [];
  for (let k = 0; k < 36; k++) {
    const r = f.local(V128);
    f.get(DU).get(nb).i32(k).i32Mul().i32Add().get(i).i32Add().v128Load().set(r);
    d.push(r);
  }
  const col: Val[][] = []; // col[ν] = Gᵀ·(column ν): 3 values
  for (let nu = 0; nu < 6; nu++) col.push(gtT(e, [0, 1, 2, 3, 4, 5].map((xi) => d[xi * 6 + nu])));
  for (let a = 0; a < 3; a++) {
    const row = gtT(e, [0, 1, 2, 3, 4, 5].map((nu) => col[nu][a]));
    for (let b = 0; b < 3; b++) {
      f.get(DG).get(nb).i32(a * 3 + b).i32Mul().i32Add().get(i).i32Add().get(row[b]).v128Store();
    }
  }
  f.get(i).i32(16).i32Add().set(i);
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** The F(4×4, 3×3) transform functions, for the module's function list. */
export function winograd4Functions(): WasmFunction[] {
  return [
    wino4InputFunction(),
    wino4OutputFunction(),
    wino4GradOutputFunction(),
    wino4InputAdjointFunction(),
    wino4FilterFunction(),
    wino4FilterGradFunction(),
  ];
}
