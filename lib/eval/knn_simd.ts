/**
 * A WebAssembly SIMD filter for the top-k scan of {@linkcode ./knn_core.ts}: given a block of
 * inner products `g`, it lists the 4-column chunks in which some key (`base + f·g`) is at most
 * the current threshold, so that plain JavaScript only looks at those few chunks. The module is
 * emitted byte by byte here (no toolchain, no binary blob); `simdFilter()` returns `undefined`
 * where WebAssembly SIMD is unavailable.
 *
 * Two kernels, both returning the number of chunk offsets written to `out` (as int32 element
 * offsets `i * stride + 4c` into `g`):
 * - `rows(g, rows, chunks, stride, base, thr, f, out)`: key[i][j] = base[j] + f·g[i][j], row
 *   threshold thr[i] (the row side of a block: `base` = ‖r‖²).
 * - `cols(g, rows, chunks, stride, base, thr, f, out)`: key[i][j] = base[i] + f·g[i][j], column
 *   threshold thr[j] (the column side of a symmetric block: `base` = ‖q‖²).
 * All pointers are byte offsets into the memory given to {@linkcode simdFilter}.
 *
 * @module
 */

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const simd = (op: number, ...rest: number[]) => [0xfd, ...uleb(op), ...rest];
const v128Load = simd(0x00, 0, 0);
const load32Splat = simd(0x09, 0, 0);
const f32x4Splat = simd(0x13);
const f32x4Le = simd(0x45);
const f32x4Add = simd(0xe4);
const f32x4Mul = simd(0xe6);
const anyTrue = simd(0x53);
const I32_ADD = 0x6a, I32_MUL = 0x6c, I32_GE_U = 0x4f, I32_STORE = 0x36;

/**
 * Body of one kernel. Params: 0 g, 1 rows, 2 chunks, 3 stride, 4 base, 5 thr, 6 f (f32), 7 out.
 * Locals: 8 i, 9 c, 10 cnt, 11 rowPtr (i32); 12 fv, 13 rowVec (v128).
 */
function kernelBody(columnThresholds: boolean): number[] {
  const [G, ROWS, CHUNKS, STRIDE, BASE, THR, F, OUT] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [I, C, CNT, ROWPTR, FV, ROWVEC] = [8, 9, 10, 11, 12, 13];
  const code: number[] = [];
  const emit = (...parts: (number | number[])[]) => {
    for (const p of parts) Array.isArray(p) ? code.push(...p) : code.push(p);
  };
  // fv = splat(f); i = 0
  emit(get(F), f32x4Splat, set(FV), i32c(0), set(I));
  emit(0x02, 0x40, 0x03, 0x40); // block, loop (rows)
  emit(get(I), get(ROWS), I32_GE_U, 0x0d, 1); // br_if exit
  // rowPtr = g + i * stride * 4
  emit(get(G), get(I), get(STRIDE), I32_MUL, i32c(4), I32_MUL, I32_ADD, set(ROWPTR));
  // rowVec = splat(thr[i]) (rows kernel) or splat(base[i]) (cols kernel)
  emit(
    get(columnThresholds ? BASE : THR),
    get(I),
    i32c(4),
    I32_MUL,
    I32_ADD,
    load32Splat,
    set(ROWVEC),
  );
  emit(i32c(0), set(C));
  emit(0x02, 0x40, 0x03, 0x40); // block, loop (chunks)
  emit(get(C), get(CHUNKS), I32_GE_U, 0x0d, 1);
  if (columnThresholds) {
    // key = rowVec + fv * g[row][4c]; cand = key <= thr[4c..]
    emit(get(ROWVEC));
    emit(get(ROWPTR), get(C), i32c(16), I32_MUL, I32_ADD, v128Load, get(FV), f32x4Mul, f32x4Add);
    emit(get(THR), get(C), i32c(16), I32_MUL, I32_ADD, v128Load, f32x4Le);
  } else {
    // key = base[4c..] + fv * g[row][4c]; cand = key <= rowVec
    emit(get(BASE), get(C), i32c(16), I32_MUL, I32_ADD, v128Load);
    emit(get(ROWPTR), get(C), i32c(16), I32_MUL, I32_ADD, v128Load, get(FV), f32x4Mul, f32x4Add);
    emit(get(ROWVEC), f32x4Le);
  }
  emit(anyTrue, 0x04, 0x40); // if
  // out[cnt] = i * stride + 4c; cnt++
  emit(get(OUT), get(CNT), i32c(4), I32_MUL, I32_ADD);
  emit(get(I), get(STRIDE), I32_MUL, get(C), i32c(4), I32_MUL, I32_ADD);
  emit(I32_STORE, 2, 0);
  emit(get(CNT), i32c(1), I32_ADD, set(CNT));
  emit(0x0b); // end if
  emit(get(C), i32c(1), I32_ADD, set(C), 0x0c, 0); // c++; br loop
  emit(0x0b, 0x0b); // end loop, end block
  emit(get(I), i32c(1), I32_ADD, set(I), 0x0c, 0); // i++; br loop
  emit(0x0b, 0x0b); // end loop, end block
  emit(get(CNT), 0x0b); // return cnt; end function
  const locals = [0x02, 4, I32, 2, V128];
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/** The module's bytes: imports memory `env.mem`, exports `rows` and `cols`. */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const type = [0x60, 8, I32, I32, I32, I32, I32, I32, F32, I32, 1, I32];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, ...type]),
    ...section(2, [1, ...str("env"), ...str("mem"), 0x02, 0x00, 1]),
    ...section(3, [2, 0, 0]),
    ...section(7, [2, ...str("rows"), 0x00, 0, ...str("cols"), 0x00, 1]),
    ...section(10, [2, ...kernelBody(false), ...kernelBody(true)]),
  ];
  return new Uint8Array(bytes);
}

/** The two kernels and their memory. */
export interface SimdFilter {
  /** Memory the kernels read and write (grow it with {@linkcode SimdFilter.reserve}). */
  memory: WebAssembly.Memory;
  /** Row-threshold kernel; see the module documentation. */
  rows: (
    g: number,
    rows: number,
    chunks: number,
    stride: number,
    base: number,
    thr: number,
    f: number,
    out: number,
  ) => number;
  /** Column-threshold kernel; see the module documentation. */
  cols: (
    g: number,
    rows: number,
    chunks: number,
    stride: number,
    base: number,
    thr: number,
    f: number,
    out: number,
  ) => number;
  /** Grows the memory to at least `bytes`. */
  reserve(bytes: number): void;
}

let cached: SimdFilter | null | undefined;

/**
 * The SIMD filter kernels, instantiated once per thread; `undefined` where WebAssembly SIMD is
 * not supported.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simdFilter } from "./knn_simd.ts";
 * const k = simdFilter();
 * if (k) {
 *   k.reserve(64);
 *   const f = new Float32Array(k.memory.buffer);
 *   f.set([1, 2, 3, 4], 0); // g: one row of 4
 *   f.set([0, 0, 0, 0], 4); // base
 *   f[8] = 2.5; // row threshold
 *   assert.equal(k.rows(0, 1, 1, 4, 16, 32, 1, 48), 1); // some key ≤ 2.5
 * }
 * ```
 */
export function simdFilter(): SimdFilter | undefined {
  if (cached !== undefined) return cached ?? undefined;
  try {
    const bytes = moduleBytes();
    if (!WebAssembly.validate(bytes)) {
      cached = null;
      return undefined;
    }
    const memory = new WebAssembly.Memory({ initial: 1 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { mem: memory },
    });
    const ex = instance.exports as unknown as Pick<SimdFilter, "rows" | "cols">;
    cached = {
      memory,
      rows: ex.rows,
      cols: ex.cols,
      reserve(bytesNeeded: number) {
        const have = memory.buffer.byteLength;
        if (bytesNeeded > have) memory.grow(Math.ceil((bytesNeeded - have) / 65536));
      },
    };
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}
