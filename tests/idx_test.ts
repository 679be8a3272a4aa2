import assert from "node:assert/strict";
import { encodeIdx, type IdxArray, type IdxDtype, parseIdx } from "../lib/data/idx.ts";

/** Header bytes: magic, dtype code, ndim, then big-endian uint32 sizes (built by hand). */
function header(code: number, sizes: number[]): number[] {
  const out = [0, 0, code, sizes.length];
  for (const s of sizes) out.push((s >>> 24) & 255, (s >>> 16) & 255, (s >>> 8) & 255, s & 255);
  return out;
}

Deno.test("parseIdx: uint8 [2, 3]", () => {
  const a = parseIdx(new Uint8Array([...header(0x08, [2, 3]), 0, 1, 2, 253, 254, 255]));
  assert.equal(a.dtype, "uint8");
  assert.deepEqual(a.shape, [2, 3]);
  assert.ok(a.data instanceof Uint8Array);
  assert.deepEqual(Array.from(a.data), [0, 1, 2, 253, 254, 255]);
});

Deno.test("parseIdx: int8 keeps the sign", () => {
  const a = parseIdx(new Uint8Array([...header(0x09, [4]), 0x80, 0xff, 0x00, 0x7f]));
  assert.equal(a.dtype, "int8");
  assert.ok(a.data instanceof Int8Array);
  assert.deepEqual(Array.from(a.data), [-128, -1, 0, 127]);
});

Deno.test("parseIdx: int16 is big-endian and signed", () => {
  const a = parseIdx(
    new Uint8Array([...header(0x0b, [3]), 0x01, 0x02, 0xff, 0xfe, 0x80, 0x00]),
  );
  assert.equal(a.dtype, "int16");
  assert.ok(a.data instanceof Int16Array);
  // 0x0102 = 258; 0xFFFE = -2; 0x8000 = -32768
  assert.deepEqual(Array.from(a.data), [258, -2, -32768]);
});

Deno.test("parseIdx: int32 is big-endian and signed", () => {
  const a = parseIdx(
    new Uint8Array([
      ...header(0x0c, [1, 3]),
      0x01,
      0x02,
      0x03,
      0x04,
      0xff,
      0xff,
      0xff,
      0xfe,
      0x80,
      0x00,
      0x00,
      0x00,
    ]),
  );
  assert.equal(a.dtype, "int32");
  assert.deepEqual(a.shape, [1, 3]);
  assert.ok(a.data instanceof Int32Array);
  // 0x01020304 = 16909060
  assert.deepEqual(Array.from(a.data), [16909060, -2, -2147483648]);
});

Deno.test("parseIdx: float32 big-endian", () => {
  // 1.5 = 0x3FC00000, -2.25 = 0xC0100000
  const a = parseIdx(
    new Uint8Array([...header(0x0d, [2]), 0x3f, 0xc0, 0, 0, 0xc0, 0x10, 0, 0]),
  );
  assert.equal(a.dtype, "float32");
  assert.ok(a.data instanceof Float32Array);
  assert.deepEqual(Array.from(a.data), [1.5, -2.25]);
});

Deno.test("parseIdx: float64 big-endian", () => {
  // 1.0 = 0x3FF0000000000000, -2.5 = 0xC004000000000000
  const a = parseIdx(
    new Uint8Array([
      ...header(0x0e, [2]),
      0x3f,
      0xf0,
      0,
      0,
      0,
      0,
      0,
      0,
      0xc0,
      0x04,
      0,
      0,
      0,
      0,
      0,
      0,
    ]),
  );
  assert.equal(a.dtype, "float64");
  assert.ok(a.data instanceof Float64Array);
  assert.deepEqual(Array.from(a.data), [1, -2.5]);
});

Deno.test("parseIdx: multi-byte sizes in the header are big-endian", () => {
  // size 0x00000102 = 258 elements of uint8
  const body = new Array(258).fill(7);
  const a = parseIdx(new Uint8Array([0, 0, 0x08, 1, 0, 0, 0x01, 0x02, ...body]));
  assert.deepEqual(a.shape, [258]);
  assert.equal(a.data.length, 258);
});

Deno.test("parseIdx: works on a subarray with a byte offset and does not alias it", () => {
  const buf = new Uint8Array([9, 9, 9, ...header(0x0b, [2]), 0x00, 0x05, 0xff, 0xfb]);
  const view = buf.subarray(3);
  const a = parseIdx(view);
  assert.deepEqual(Array.from(a.data), [5, -5]);
  const u = parseIdx(new Uint8Array([...header(0x08, [1]), 42]));
  const src = new Uint8Array([...header(0x08, [1]), 42]);
  const v = parseIdx(src);
  src[src.length - 1] = 0;
  assert.equal(v.data[0], 42);
  assert.equal(u.data[0], 42);
});

Deno.test("parseIdx: malformed inputs throw naming the problem", () => {
  const cases: [number[], RegExp][] = [
    [[0, 0, 8], /truncated header.*at least 4 bytes/],
    [[1, 0, 8, 1, 0, 0, 0, 1, 5], /bad magic/],
    [[0, 0x1f, 8, 1, 0, 0, 0, 1, 5], /bad magic/],
    [[0x1f, 0x8b, 8, 0, 0, 0, 0, 0], /bad magic.*gzip/],
    [[0, 0, 0x0a, 1, 0, 0, 0, 1, 5], /unknown dtype code 0x0A/],
    [[0, 0, 0x07, 1, 0, 0, 0, 1, 5], /unknown dtype code 0x07/],
    [[0, 0, 8, 0], /ndim is 0/],
    [[0, 0, 8, 2, 0, 0, 0, 1], /truncated header.*ndim 2 needs 12 header bytes, got 8/],
    [[0, 0, 8, 1, 0, 0], /truncated header.*needs 8 header bytes, got 6/],
    [[...header(0x08, [2, 2]), 1, 2, 3], /truncated body.*needs 4 data bytes, got 3/],
    [
      [...header(0x0c, [2]), 0, 0, 0, 1, 0, 0, 0],
      /truncated body.*int32 needs 8 data bytes, got 7/,
    ],
    [[...header(0x08, [2]), 1, 2, 3], /1 trailing bytes/],
    [[...header(0x0b, [1]), 0, 1, 0, 0, 0], /3 trailing bytes/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => parseIdx(new Uint8Array(bytes)), re, `bytes ${bytes.join(",")}`);
  }
  // All errors are plain Errors with the function named.
  assert.throws(() => parseIdx(new Uint8Array([1, 0, 8, 1])), (e: Error) => {
    return e instanceof Error && e.message.startsWith("parseIdx:");
  });
});

Deno.test("encodeIdx: exact bytes for an int32 vector", () => {
  const bytes = encodeIdx({ dtype: "int32", shape: [2], data: new Int32Array([1, -1]) });
  assert.deepEqual(
    Array.from(bytes),
    [0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff],
  );
});

Deno.test("encodeIdx/parseIdx round trip for every dtype", () => {
  const shape = [2, 3, 4];
  const n = 24;
  const fill = (f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  const arrays: IdxArray[] = [
    { dtype: "uint8", shape, data: Uint8Array.from(fill((i) => (i * 37) % 256)) },
    { dtype: "int8", shape, data: Int8Array.from(fill((i) => ((i * 37) % 256) - 128)) },
    { dtype: "int16", shape, data: Int16Array.from(fill((i) => i * 2731 - 32768)) },
    { dtype: "int32", shape, data: Int32Array.from(fill((i) => (i - 12) * 178956970)) },
    { dtype: "float32", shape, data: Float32Array.from(fill((i) => Math.fround((i - 7) / 3))) },
    { dtype: "float64", shape, data: Float64Array.from(fill((i) => (i - 7) * Math.PI)) },
  ];
  for (const a of arrays) {
    const bytes = encodeIdx(a);
    const bytesPer = (a.data as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    assert.equal(bytes.length, 4 + 4 * 3 + n * bytesPer);
    const b = parseIdx(bytes);
    assert.equal(b.dtype, a.dtype);
    assert.deepEqual(b.shape, shape);
    assert.equal(b.data.constructor, a.data.constructor);
    assert.deepEqual(Array.from(b.data), Array.from(a.data), a.dtype);
  }
});

Deno.test("encodeIdx: bad input throws naming the problem", () => {
  assert.throws(
    () => encodeIdx({ dtype: "uint8", shape: [2, 2], data: new Uint8Array(3) }),
    /3 elements but shape \[2, 2\] needs 4/,
  );
  assert.throws(
    () => encodeIdx({ dtype: "int16", shape: [2], data: new Int32Array(2) }),
    /must be a Int16Array for dtype int16, got Int32Array/,
  );
  assert.throws(
    () => encodeIdx({ dtype: "uint8", shape: [], data: new Uint8Array(0) }),
    /shape must have between 1 and 255 dimensions/,
  );
  assert.throws(
    () => encodeIdx({ dtype: "uint8", shape: [1.5], data: new Uint8Array(1) }),
    /shape sizes must be integers/,
  );
  assert.throws(
    () => encodeIdx({ dtype: "uint16" as IdxDtype, shape: [1], data: new Uint8Array(1) }),
    /unknown dtype "uint16"/,
  );
});
