/**
 * All squared differences `Σₖ (aᵢₖ − bⱼₖ)²` (optionally weighted, `Σₖ (aᵢₖ − bⱼₖ)²·wₖ`) of the
 * rows of `a` against the rows of `b`, in WebAssembly SIMD without the `[n, m, d]` tensor of
 * differences. Four columns `j` share a vector; each lane adds its terms in `k` order with a
 * separate subtraction, multiplication and addition (no fused multiply-add), so every value has
 * the bits of tfjs's `Sub`, `Square`, (`Multiply`,) `Sum` over the last axis. Assembled into the
 * module of `simd_module.ts`.
 *
 * @module
 */
import { F32, I32, V128, WasmFunction } from "./wasm_asm.ts";

/** Vectors of four columns one tile of the wide loop keeps in registers. */
const WIDE = 4;

/**
 * `pairSquares(a, bt, out, rows, d, m, w)`: byte offsets of `a` (`[rows, d]`), `bt` (`b`
 * transposed, `[d, m]`), `out` (`[rows, m]`) and `w` (`[d]`, or 0 for no weights).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pairSquaresFunction } from "./simd_pairwise.ts";
 * assert.equal(pairSquaresFunction().name, "pairSquares");
 * ```
 */
export function pairSquaresFunction(): WasmFunction {
  const f = new WasmFunction("pairSquares", new Array(7).fill(I32));
  const [A, BT, OUT, ROWS, D, M, W] = [0, 1, 2, 3, 4, 5, 6];
  const j = f.local(I32);
  const mBytes = f.local(I32);
  const wideEnd = f.local(I32);
  const vecEnd = f.local(I32);
  const k = f.local(I32);
  const ap = f.local(I32);
  const bp = f.local(I32);
  const wp = f.local(I32);
  const acc = Array.from({ length: WIDE }, () => f.local(V128));
  const s = f.local(V128);
  const t = f.local(V128);
  const wv = f.local(V128);
  const sacc = f.local(F32);
  const st = f.local(F32);

  /** `for (k = 0; k < d; k++) body()` with `ap`, `bp`, `wp` at `a[k]`, `bt[k, j]`, `w[k]`. */
  const overK = (weighted: boolean, body: () => void) => {
    f.i32(0).set(k);
    f.get(A).set(ap);
    f.get(BT).get(j).i32Add().set(bp);
    f.get(W).set(wp);
    f.get(D).if();
    f.loop();
    body();
    f.get(ap).i32(4).i32Add().set(ap);
    f.get(bp).get(mBytes).i32Add().set(bp);
    if (weighted) f.get(wp).i32(4).i32Add().set(wp);
    f.get(k).i32(1).i32Add().tee(k).get(D).i32LtS().brIf(0);
    f.end(); // k
    f.end(); // if d
  };

  /** Columns `j … j + 4·nv − 1` of the current row: vector accumulators over `k`. */
  const tile = (nv: number, weighted: boolean) => {
    for (let q = 0; q < nv; q++) f.f32x4Const(0).set(acc[q]);
    overK(weighted, () => {
      f.get(ap).v128Load32Splat().set(s);
      if (weighted) f.get(wp).v128Load32Splat().set(wv);
      for (let q = 0; q < nv; q++) {
        f.get(acc[q]);
        f.get(s).get(bp).v128Load(16 * q).f32x4Sub().tee(t).get(t).f32x4Mul();
        if (weighted) f.get(wv).f32x4Mul();
        f.f32x4Add().set(acc[q]);
      }
    });
    for (let q = 0; q < nv; q++) f.get(OUT).get(j).i32Add().get(acc[q]).v128Store(16 * q);
  };

  /** One column `j` in scalar arithmetic (the same operations lane by lane). */
  const single = (weighted: boolean) => {
    f.f32(0).set(sacc);
    overK(weighted, () => {
      f.get(sacc);
      f.get(ap).f32Load().get(bp).f32Load().f32Sub().tee(st).get(st).f32Mul();
      if (weighted) f.get(wp).f32Load().f32Mul();
      f.f32Add().set(sacc);
    });
    f.get(OUT).get(j).i32Add().get(sacc).f32Store();
  };

  /** `while (j < end) { body; j += step }`. */
  const columns = (end: number, step: number, body: () => void) => {
    f.block();
    f.loop();
    f.get(j).get(end).i32GeS().brIf(1);
    body();
    f.get(j).i32(step).i32Add().set(j);
    f.br(0);
    f.end();
    f.end();
  };

  const rows = (weighted: boolean) => {
    f.loop();
    f.i32(0).set(j);
    columns(wideEnd, 16 * WIDE, () => tile(WIDE, weighted));
    columns(vecEnd, 16, () => tile(1, weighted));
    columns(mBytes, 4, () => single(weighted));
    f.get(A).get(D).i32(4).i32Mul().i32Add().set(A);
    f.get(OUT).get(mBytes).i32Add().set(OUT);
    f.get(ROWS).i32(1).i32Sub().tee(ROWS).i32(0).i32GtS().brIf(0);
    f.end();
  };

  f.get(ROWS).i32(0).i32LeS().get(M).i32Eqz().i32Or().if().ret().end();
  f.get(M).i32(4).i32Mul().set(mBytes);
  f.get(M).i32(-4 * WIDE).i32And().i32(4).i32Mul().set(wideEnd);
  f.get(M).i32(-4).i32And().i32(4).i32Mul().set(vecEnd);
  f.get(W).if();
  rows(true);
  f.else();
  rows(false);
  f.end();
  return f;
}
