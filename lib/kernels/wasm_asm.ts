/**
 * A minimal WebAssembly assembler: enough of the binary format (types, one imported memory,
 * functions, exports, code) and of the instruction set (i32 arithmetic, control flow, scalar
 * and SIMD loads/stores, `f32x4` arithmetic including relaxed fused multiply-add) to emit the
 * compute kernels of `simd_module.ts` at run time, without a toolchain or a binary blob.
 *
 * @module
 */

/** Value types. */
export const I32 = 0x7f;
/** 32-bit float value type. */
export const F32 = 0x7d;
/** 128-bit SIMD value type. */
export const V128 = 0x7b;

/** A value type byte: {@link I32}, {@link F32} or {@link V128}. */
export type ValType = typeof I32 | typeof F32 | typeof V128;

/**
 * Unsigned LEB128 encoding of a non-negative integer.
 *
 * @example
 * ```ts
 * import { uleb } from "./wasm_asm.ts";
 * uleb(624485); // [0xe5, 0x8e, 0x26]
 * ```
 */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`uleb: expected a natural number, got ${n}`);
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * Signed LEB128 encoding of a 32-bit integer.
 *
 * @example
 * ```ts
 * import { sleb } from "./wasm_asm.ts";
 * sleb(-1); // [0x7f]
 * ```
 */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n)) throw new Error(`sleb: expected an integer, got ${n}`);
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/**
 * One function under construction: parameters, locals and an instruction stream with one method
 * per instruction (stack machine order, as in the text format).
 *
 * @example
 * ```ts
 * import { I32, WasmFunction } from "./wasm_asm.ts";
 * const f = new WasmFunction("add", [I32, I32], [I32]);
 * f.get(0).get(1).i32Add(); // returns a + b
 * ```
 */
export class WasmFunction {
  /** Export name. */
  readonly name: string;
  /** Parameter types (locals 0 .. n−1). */
  readonly params: ValType[];
  /** Result types. */
  readonly results: ValType[];
  /** Types of the declared locals (after the parameters). */
  readonly locals: ValType[] = [];
  /** Instruction bytes. */
  readonly code: number[] = [];

  /**
   * @param name export name
   * @param params parameter types
   * @param results result types
   */
  constructor(name: string, params: ValType[], results: ValType[] = []) {
    this.name = name;
    this.params = params;
    this.results = results;
  }

  /** Declares a local of `type`; returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  private simd(code: number, ...rest: number[]): this {
    return this.op(0xfd, ...uleb(code), ...rest);
  }

  /** `local.get i`. */
  get(i: number): this {
    return this.op(0x20, ...uleb(i));
  }
  /** `local.set i`. */
  set(i: number): this {
    return this.op(0x21, ...uleb(i));
  }
  /** `local.tee i`. */
  tee(i: number): this {
    return this.op(0x22, ...uleb(i));
  }
  /** `i32.const v`. */
  i32(v: number): this {
    return this.op(0x41, ...sleb(v));
  }
  /** `i32.add`. */
  i32Add(): this {
    return this.op(0x6a);
  }
  /** `i32.sub`. */
  i32Sub(): this {
    return this.op(0x6b);
  }
  /** `i32.mul`. */
  i32Mul(): this {
    return this.op(0x6c);
  }
  /** `i32.div_s`. */
  i32DivS(): this {
    return this.op(0x6d);
  }
  /** `i32.eqz`. */
  i32Eqz(): this {
    return this.op(0x45);
  }
  /** `i32.eq`. */
  i32Eq(): this {
    return this.op(0x46);
  }
  /** `i32.ne`. */
  i32Ne(): this {
    return this.op(0x47);
  }
  /** `i32.lt_s`. */
  i32LtS(): this {
    return this.op(0x48);
  }
  /** `i32.gt_s`. */
  i32GtS(): this {
    return this.op(0x4a);
  }
  /** `i32.le_s`. */
  i32LeS(): this {
    return this.op(0x4c);
  }
  /** `i32.ge_s`. */
  i32GeS(): this {
    return this.op(0x4e);
  }
  /** `i32.lt_u`. */
  i32LtU(): this {
    return this.op(0x49);
  }
  /** `i32.ge_u`. */
  i32GeU(): this {
    return this.op(0x4f);
  }
  /** `i32.and`. */
  i32And(): this {
    return this.op(0x71);
  }
  /** `i32.or`. */
  i32Or(): this {
    return this.op(0x72);
  }
  /** `i32.shl`. */
  i32Shl(): this {
    return this.op(0x74);
  }
  /** `select` (numeric operands). */
  select(): this {
    return this.op(0x1b);
  }
  /** `block` with no result. */
  block(): this {
    return this.op(0x02, 0x40);
  }
  /** `loop` with no result. */
  loop(): this {
    return this.op(0x03, 0x40);
  }
  /** `if` with no result. */
  if(): this {
    return this.op(0x04, 0x40);
  }
  /** `else`. */
  else(): this {
    return this.op(0x05);
  }
  /** `end`. */
  end(): this {
    return this.op(0x0b);
  }
  /** `br depth`. */
  br(depth: number): this {
    return this.op(0x0c, ...uleb(depth));
  }
  /** `br_if depth`. */
  brIf(depth: number): this {
    return this.op(0x0d, ...uleb(depth));
  }
  /** `return`. */
  ret(): this {
    return this.op(0x0f);
  }
  /** `call f` (function index in the module). */
  call(f: number): this {
    return this.op(0x10, ...uleb(f));
  }
  /** `drop`. */
  drop(): this {
    return this.op(0x1a);
  }
  /** `f32.load offset`. */
  f32Load(offset = 0): this {
    return this.op(0x2a, 2, ...uleb(offset));
  }
  /** `f32.store offset`. */
  f32Store(offset = 0): this {
    return this.op(0x38, 2, ...uleb(offset));
  }
  /** `f32.const v`. */
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  /** `f32.add`. */
  f32Add(): this {
    return this.op(0x92);
  }
  /** `f32.gt`. */
  f32Gt(): this {
    return this.op(0x5e);
  }
  /** `i32.load offset`. */
  i32Load(offset = 0): this {
    return this.op(0x28, 2, ...uleb(offset));
  }
  /** `i32.store offset`. */
  i32Store(offset = 0): this {
    return this.op(0x36, 2, ...uleb(offset));
  }
  /** `memory.copy` (dst, src, n on the stack). */
  memoryCopy(): this {
    return this.op(0xfc, ...uleb(10), 0, 0);
  }
  /** `memory.fill` (dst, value, n on the stack). */
  memoryFill(): this {
    return this.op(0xfc, ...uleb(11), 0);
  }
  /** `v128.load offset` (alignment hint 1 byte: addresses need not be aligned). */
  v128Load(offset = 0): this {
    return this.simd(0x00, 0, ...uleb(offset));
  }
  /** `v128.store offset`. */
  v128Store(offset = 0): this {
    return this.simd(0x0b, 0, ...uleb(offset));
  }
  /** `v128.load32_splat offset`. */
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09, 0, ...uleb(offset));
  }
  /** `v128.const` of four f32 lanes. */
  f32x4Const(a: number, b = a, c = a, d = a): this {
    const bytes = new Uint8Array(new Float32Array([a, b, c, d]).buffer);
    return this.simd(0x0c, ...bytes);
  }
  /** `v128.const` of four i32 lanes. */
  i32x4Const(a: number, b = a, c = a, d = a): this {
    const bytes = new Uint8Array(new Int32Array([a, b, c, d]).buffer);
    return this.simd(0x0c, ...bytes);
  }
  /** `f32x4.splat`. */
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  /** `i32x4.splat`. */
  i32x4Splat(): this {
    return this.simd(0x11);
  }
  /** `f32x4.add`. */
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  /** `f32x4.mul`. */
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  /** `f32x4.gt`. */
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  /** `i32x4.eq`. */
  i32x4Eq(): this {
    return this.simd(0x37);
  }
  /** `v128.bitselect` (v1, v2, mask): bits of v1 where mask is 1, else of v2. */
  v128Bitselect(): this {
    return this.simd(0x52);
  }
  /** `v128.and`. */
  v128And(): this {
    return this.simd(0x4e);
  }
  /** `v128.or`. */
  v128Or(): this {
    return this.simd(0x50);
  }
  /** `v128.andnot` (a, b): a & ~b. */
  v128AndNot(): this {
    return this.simd(0x4f);
  }
  /** `f32x4.pmax` (a, b): b if a < b, else a. */
  f32x4Pmax(): this {
    return this.simd(0xeb);
  }
  /** `f32x4.sub`. */
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  /** `f32x4.div`. */
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  /** `f32x4.sqrt`. */
  f32x4Sqrt(): this {
    return this.simd(0xe3);
  }
  /** `f32x4.max` (NaN if either lane is NaN). */
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  /** `f32x4.lt`. */
  f32x4Lt(): this {
    return this.simd(0x43);
  }
  /** `f32.sub`. */
  f32Sub(): this {
    return this.op(0x93);
  }
  /** `f32.mul`. */
  f32Mul(): this {
    return this.op(0x94);
  }
  /** `f32x4.extract_lane 0`. */
  f32x4ExtractLane0(): this {
    return this.simd(0x1f, 0);
  }
  /** `f32x4.ne`. */
  f32x4Ne(): this {
    return this.simd(0x42);
  }
  /** `f32.reinterpret_i32`. */
  f32ReinterpretI32(): this {
    return this.op(0xbe);
  }
  /** `f32.div`. */
  f32Div(): this {
    return this.op(0x95);
  }
  /** `f32.sqrt`. */
  f32Sqrt(): this {
    return this.op(0x91);
  }
  /** `i32.shr_u`. */
  i32ShrU(): this {
    return this.op(0x76);
  }
  /**
   * `i8x16.shuffle` of two vectors by float lanes: lane `k` of the result is lane `lanes[k]` of
   * the concatenation of the operands (0–3 the first, 4–7 the second).
   */
  f32x4Shuffle(lanes: [number, number, number, number]): this {
    const bytes: number[] = [];
    for (const l of lanes) bytes.push(4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3);
    return this.simd(0x0d, ...bytes);
  }
  /** `f32x4.relaxed_madd` (a, b, c): a·b + c, fused where the machine can. */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
}

/**
 * Encodes a module that imports its memory as `env.memory` and exports `functions` under their
 * names (function `i` has index `i` for {@link WasmFunction.call}). With `sharedMaximum` (pages)
 * the imported memory is a shared one with that maximum (for a heap that worker threads share).
 *
 * @example
 * ```ts
 * import { assemble, I32, WasmFunction } from "./wasm_asm.ts";
 * const f = new WasmFunction("add", [I32, I32], [I32]);
 * f.get(0).get(1).i32Add();
 * const bytes = assemble([f]);
 * const mem = new WebAssembly.Memory({ initial: 1 });
 * const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem } });
 * (exports.add as (a: number, b: number) => number)(2, 3); // 5
 * ```
 */
export function assemble(
  functions: WasmFunction[],
  sharedMaximum?: number,
): Uint8Array<ArrayBuffer> {
  const types: number[] = [...uleb(functions.length)];
  for (const f of functions) {
    types.push(0x60, ...uleb(f.params.length), ...f.params);
    types.push(...uleb(f.results.length), ...f.results);
  }
  const limits = sharedMaximum === undefined ? [0x00, 0] : [0x03, 0, ...uleb(sharedMaximum)];
  const imports = [...uleb(1), ...name("env"), ...name("memory"), 0x02, ...limits];
  const funcs = [...uleb(functions.length)];
  functions.forEach((_, i) => funcs.push(...uleb(i)));
  const exports = [...uleb(functions.length)];
  functions.forEach((f, i) => exports.push(...name(f.name), 0x00, ...uleb(i)));
  const code = [...uleb(functions.length)];
  for (const f of functions) {
    const groups: number[][] = [];
    for (const t of f.locals) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...uleb(groups.length)];
    for (const [count, t] of groups) body.push(...uleb(count), t);
    body.push(...f.code, 0x0b);
    code.push(...uleb(body.length), ...body);
  }
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, code),
  ]);
}
