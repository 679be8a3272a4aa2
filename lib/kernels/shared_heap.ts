/**
 * A shared heap for TensorFlow.js's `wasm` backend, so that worker threads can run our kernels on
 * the tensors in place.
 *
 * The backend's single-threaded SIMD binary defines its own (unshared) memory, which no other
 * thread can see. {@link shareWasmHeap} intercepts the instantiation of that binary once and
 * rewrites it so that its memory is *imported* instead — a shared `WebAssembly.Memory` we create
 * (`shared: true`, up to 4 GiB) — and re-exported under the same name, so the backend's
 * JavaScript glue works unchanged. Nothing else in the binary changes: imported memories come
 * first in the memory index space, and memory imports do not shift function indices.
 *
 * It must run before the wasm backend is first initialised (the first `tf.setBackend("wasm")`
 * or `tf.ready()` that picks wasm); `initBackend` in `lib/backend.ts` does this.
 *
 * @module
 */
import { uleb } from "./wasm_asm.ts";

/** Pages (64 KiB) of the largest heap: 4 GiB, as in the backend's threaded build. */
export const MAX_HEAP_PAGES = 65536;

interface Section {
  id: number;
  start: number; // first byte of the content
  end: number; // one past the content
  headerStart: number; // first byte of the section (its id)
}

function readUleb(bytes: Uint8Array, at: number): [number, number] {
  let result = 0;
  let shift = 0;
  let p = at;
  for (;;) {
    const b = bytes[p++];
    if (b === undefined) throw new Error("shareWasmHeap: truncated LEB128 number");
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, p];
    shift += 7;
  }
}

function sections(bytes: Uint8Array): Section[] {
  const out: Section[] = [];
  let p = 8;
  while (p < bytes.length) {
    const headerStart = p;
    const id = bytes[p++];
    const [size, q] = readUleb(bytes, p);
    out.push({ id, start: q, end: q + size, headerStart });
    p = q + size;
  }
  if (p !== bytes.length) throw new Error("shareWasmHeap: malformed section table");
  return out;
}

function readName(bytes: Uint8Array, at: number): [string, number] {
  const [len, p] = readUleb(bytes, at);
  return [new TextDecoder().decode(bytes.subarray(p, p + len)), p + len];
}

/** What {@link rewriteMemoryAsSharedImport} found and produced. */
export interface SharedRewrite {
  /** The rewritten module's bytes. */
  bytes: Uint8Array<ArrayBuffer>;
  /** Initial size of the memory in 64 KiB pages (the original module's). */
  initialPages: number;
}

/**
 * Rewrites a module that defines exactly one memory (and imports none) so that it imports that
 * memory as `env.memory`, shared, with `MAX_HEAP_PAGES` pages at most; or returns `undefined`
 * when the module does not have that form. The export of the memory (if any) now names the
 * imported memory.
 *
 * @example
 * ```ts
 * import { rewriteMemoryAsSharedImport } from "./shared_heap.ts";
 * // (module (memory 1) (export "memory" (memory 0)))
 * const bytes = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1,
 *   7, 10, 1, 6, 109, 101, 109, 111, 114, 121, 2, 0);
 * const r = rewriteMemoryAsSharedImport(bytes)!;
 * WebAssembly.validate(r.bytes); // true
 * r.initialPages; // 1
 * ```
 */
export function rewriteMemoryAsSharedImport(bytes: Uint8Array): SharedRewrite | undefined {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73) {
    return undefined;
  }
  const secs = sections(bytes);
  const mem = secs.filter((s) => s.id === 5);
  if (mem.length !== 1) return undefined;
  const [count, p0] = readUleb(bytes, mem[0].start);
  if (count !== 1) return undefined;
  const flags = bytes[p0];
  if (flags !== 0 && flags !== 1) return undefined; // already shared, or 64-bit
  const [initialPages] = readUleb(bytes, p0 + 1);
  const imp = secs.find((s) => s.id === 2);
  let importCount = 0;
  let entries: Uint8Array = new Uint8Array(0);
  if (imp !== undefined) {
    const [n, p] = readUleb(bytes, imp.start);
    importCount = n;
    entries = bytes.subarray(p, imp.end);
    // Refuse modules that already import a memory.
    let q = p;
    for (let i = 0; i < n; i++) {
      [, q] = readName(bytes, q);
      [, q] = readName(bytes, q);
      const kind = bytes[q++];
      if (kind === 0) [, q] = readUleb(bytes, q);
      else if (kind === 1) {
        q++; // reftype
        const f = bytes[q++];
        [, q] = readUleb(bytes, q);
        if (f & 1) [, q] = readUleb(bytes, q);
      } else if (kind === 2) return undefined;
      else if (kind === 3) q += 2; // valtype, mutability
      else if (kind === 4) q += 2; // tag: attribute, type index
      else return undefined;
    }
  }
  const enc = (s: string) => {
    const b = [...new TextEncoder().encode(s)];
    return [...uleb(b.length), ...b];
  };
  const memoryImport = [
    ...enc("env"),
    ...enc("memory"),
    0x02,
    0x03, // shared, with a maximum
    ...uleb(initialPages),
    ...uleb(MAX_HEAP_PAGES),
  ];
  const importBody = [...uleb(importCount + 1), ...entries, ...memoryImport];
  const importSection = [2, ...uleb(importBody.length), ...importBody];
  const parts: ArrayLike<number>[] = [bytes.subarray(0, 8)];
  let placed = false;
  for (const s of secs) {
    // Known sections come in id order (custom sections, id 0, may sit anywhere).
    if (!placed && (s.id === 2 || (s.id !== 0 && s.id > 2))) {
      parts.push(importSection);
      placed = true;
    }
    if (s.id === 2 || s.id === 5) continue;
    parts.push(bytes.subarray(s.headerStart, s.end));
  }
  if (!placed) parts.push(importSection);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { bytes: out, initialPages };
}

/** Import names that identify the backend's Emscripten binary. */
const MARKERS = ["emscripten_resize_heap", "emscripten_memcpy_big"];

function looksLikeTfjsWasm(bytes: Uint8Array): boolean {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73) return false;
  try {
    const imp = sections(bytes).find((s) => s.id === 2);
    if (imp === undefined) return false;
    const names = new Set<string>();
    let [n, q] = readUleb(bytes, imp.start);
    for (; n > 0; n--) {
      let field: string;
      [, q] = readName(bytes, q);
      [field, q] = readName(bytes, q);
      names.add(field);
      if (bytes[q++] !== 0) return false; // only function imports
      [, q] = readUleb(bytes, q);
    }
    return MARKERS.every((m) => names.has(m));
  } catch {
    return false;
  }
}

let hookInstalled = false;
let sharedMemory: WebAssembly.Memory | undefined;

function toBytes(source: unknown): Uint8Array | undefined {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  }
  return undefined;
}

/**
 * Arranges for the wasm backend's heap to be a shared `WebAssembly.Memory`: until the backend's
 * binary is instantiated, `WebAssembly.instantiate` rewrites it (see the module documentation);
 * afterwards the original function is back. Idempotent; harmless if the backend was already
 * initialised (its heap then stays unshared and our kernels run on one thread).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { shareWasmHeap } from "./shared_heap.ts";
 * shareWasmHeap();
 * await tf.setBackend("wasm");
 * ```
 */
export function shareWasmHeap(): void {
  if (hookInstalled || sharedMemory !== undefined) return;
  hookInstalled = true;
  const original = WebAssembly.instantiate;
  const hooked = function (source: unknown, imports?: WebAssembly.Imports) {
    const bytes = toBytes(source);
    if (bytes !== undefined && looksLikeTfjsWasm(bytes)) {
      const rewritten = rewriteMemoryAsSharedImport(bytes);
      if (rewritten !== undefined) {
        WebAssembly.instantiate = original;
        hookInstalled = false;
        const memory = new WebAssembly.Memory({
          initial: rewritten.initialPages,
          maximum: MAX_HEAP_PAGES,
          shared: true,
        });
        sharedMemory = memory;
        const env = { ...(imports?.env ?? {}), memory };
        return original(rewritten.bytes, { ...(imports ?? {}), env });
      }
    }
    // deno-lint-ignore no-explicit-any
    return (original as any)(source, imports);
  };
  WebAssembly.instantiate = hooked as typeof WebAssembly.instantiate;
}

/**
 * The shared memory {@link shareWasmHeap} gave the backend, once the backend has been
 * instantiated with it; `undefined` before that or when the backend kept its own memory.
 *
 * @example
 * ```ts
 * import { sharedWasmHeap } from "./shared_heap.ts";
 * console.log(sharedWasmHeap()?.buffer instanceof SharedArrayBuffer);
 * ```
 */
export function sharedWasmHeap(): WebAssembly.Memory | undefined {
  return sharedMemory;
}
