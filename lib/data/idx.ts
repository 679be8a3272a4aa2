/**
 * The IDX file format (LeCun et al., used by MNIST and Fashion-MNIST): a tiny header followed by a
 * dense, row-major, big-endian array.
 *
 * ```text
 * byte 0-1   0x00 0x00                     magic
 * byte 2     dtype code                    0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 *                                          0x0D float32, 0x0E float64
 * byte 3     ndim                          number of dimensions (>= 1)
 * then       ndim × uint32, big-endian     the size of each dimension
 * then       prod(sizes) elements          big-endian, row-major (last index fastest)
 * ```
 *
 * @module
 */

/** Element type of an IDX array, named after the JavaScript typed array that holds it. */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** The typed array that holds the data of an {@link IdxArray}. */
export type IdxData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/**
 * A decoded IDX array: `data` holds `prod(shape)` elements in row-major order, in the typed array
 * that matches `dtype` (uint8 → Uint8Array, int8 → Int8Array, int16 → Int16Array,
 * int32 → Int32Array, float32 → Float32Array, float64 → Float64Array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const a: IdxArray = { dtype: "uint8", shape: [2, 3], data: new Uint8Array(6) };
 * assert.equal(a.data.length, 6);
 * ```
 */
export interface IdxArray {
  /** Element type. */
  dtype: IdxDtype;
  /** Size of each dimension, e.g. `[n, 28, 28]` for images, `[n]` for labels. */
  shape: number[];
  /** The elements, row-major, in host byte order. */
  data: IdxData;
}

interface DtypeInfo {
  code: number;
  bytes: number;
  make: (n: number) => IdxData;
  read: (view: DataView, offset: number) => number;
  write: (view: DataView, offset: number, value: number) => void;
  ctor: { name: string; prototype: unknown };
}

const DTYPES: Record<IdxDtype, DtypeInfo> = {
  uint8: {
    code: 0x08,
    bytes: 1,
    make: (n) => new Uint8Array(n),
    read: (v, o) => v.getUint8(o),
    write: (v, o, x) => v.setUint8(o, x),
    ctor: Uint8Array,
  },
  int8: {
    code: 0x09,
    bytes: 1,
    make: (n) => new Int8Array(n),
    read: (v, o) => v.getInt8(o),
    write: (v, o, x) => v.setInt8(o, x),
    ctor: Int8Array,
  },
  int16: {
    code: 0x0b,
    bytes: 2,
    make: (n) => new Int16Array(n),
    read: (v, o) => v.getInt16(o, false),
    write: (v, o, x) => v.setInt16(o, x, false),
    ctor: Int16Array,
  },
  int32: {
    code: 0x0c,
    bytes: 4,
    make: (n) => new Int32Array(n),
    read: (v, o) => v.getInt32(o, false),
    write: (v, o, x) => v.setInt32(o, x, false),
    ctor: Int32Array,
  },
  float32: {
    code: 0x0d,
    bytes: 4,
    make: (n) => new Float32Array(n),
    read: (v, o) => v.getFloat32(o, false),
    write: (v, o, x) => v.setFloat32(o, x, false),
    ctor: Float32Array,
  },
  float64: {
    code: 0x0e,
    bytes: 8,
    make: (n) => new Float64Array(n),
    read: (v, o) => v.getFloat64(o, false),
    write: (v, o, x) => v.setFloat64(o, x, false),
    ctor: Float64Array,
  },
};

const DTYPE_BY_CODE = new Map<number, IdxDtype>(
  (Object.keys(DTYPES) as IdxDtype[]).map((k) => [DTYPES[k].code, k]),
);

function hex(b: number): string {
  return "0x" + b.toString(16).padStart(2, "0").toUpperCase();
}

/**
 * Decodes an IDX byte array (already decompressed) into an {@link IdxArray}. The result owns a
 * fresh copy of the data (it does not alias `bytes`).
 *
 * Throws an `Error` that names the problem for: fewer than 4 bytes, bad magic (first two bytes not
 * zero), unknown dtype code, ndim 0, truncated header (fewer than 4 + 4·ndim bytes), truncated
 * body (fewer bytes than the sizes need) and trailing bytes after the data.
 *
 * @param bytes the raw IDX file contents
 * @returns the decoded array
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIdx } from "./idx.ts";
 * // int16, 1 dimension of size 2: values 1 and -2, big-endian
 * const a = parseIdx(new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x00, 0x01, 0xff, 0xfe]));
 * assert.equal(a.dtype, "int16");
 * assert.deepEqual(a.shape, [2]);
 * assert.deepEqual(Array.from(a.data), [1, -2]);
 * ```
 */
export function parseIdx(bytes: Uint8Array): IdxArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new Error("parseIdx: bytes must be a Uint8Array");
  }
  if (bytes.length < 4) {
    throw new Error(
      `parseIdx: truncated header: need at least 4 bytes (magic, dtype, ndim), got ${bytes.length}`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(
      `parseIdx: bad magic: the first two bytes must be 0x00 0x00, got ${hex(bytes[0])} ${
        hex(bytes[1])
      } (is the file still gzip-compressed?)`,
    );
  }
  const dtype = DTYPE_BY_CODE.get(bytes[2]);
  if (dtype === undefined) {
    throw new Error(
      `parseIdx: unknown dtype code ${hex(bytes[2])} (expected one of 0x08, 0x09, 0x0B, 0x0C, ` +
        `0x0D, 0x0E)`,
    );
  }
  const ndim = bytes[3];
  if (ndim === 0) {
    throw new Error("parseIdx: ndim is 0: an IDX array needs at least one dimension");
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new Error(
      `parseIdx: truncated header: ndim ${ndim} needs ${headerBytes} header bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const size = view.getUint32(4 + 4 * i, false);
    shape.push(size);
    count *= size;
  }
  const info = DTYPES[dtype];
  const bodyBytes = count * info.bytes;
  const available = bytes.length - headerBytes;
  if (available < bodyBytes) {
    throw new Error(
      `parseIdx: truncated body: shape [${shape.join(", ")}] of ${dtype} needs ${bodyBytes} ` +
        `data bytes, got ${available}`,
    );
  }
  if (available > bodyBytes) {
    throw new Error(
      `parseIdx: ${available - bodyBytes} trailing bytes after the data (shape [${
        shape.join(", ")
      }] of ${dtype} needs ${bodyBytes} data bytes, got ${available})`,
    );
  }
  if (info.bytes === 1) {
    const body = bytes.subarray(headerBytes);
    const data = dtype === "uint8"
      ? body.slice()
      : new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    return { dtype, shape, data };
  }
  const data = info.make(count);
  for (let i = 0, o = headerBytes; i < count; i++, o += info.bytes) {
    data[i] = info.read(view, o);
  }
  return { dtype, shape, data };
}

/**
 * Encodes an {@link IdxArray} as IDX bytes (big-endian). Inverse of {@link parseIdx}.
 *
 * Throws when `dtype` is unknown, `shape` is empty, longer than 255 or holds a size that is not an
 * integer in [0, 2^32), `data` is not the typed array for `dtype`, or `data.length` differs from
 * `prod(shape)`.
 *
 * @param array the array to encode
 * @returns the IDX file contents (not compressed)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeIdx, parseIdx } from "./idx.ts";
 * const bytes = encodeIdx({ dtype: "int32", shape: [2], data: new Int32Array([1, -1]) });
 * // bytes: 00 00 0C 01 | 00 00 00 02 | 00 00 00 01 | FF FF FF FF
 * assert.equal(bytes.length, 16);
 * assert.deepEqual(parseIdx(bytes).data, Int32Array.of(1, -1));
 * ```
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const info = DTYPES[array?.dtype as IdxDtype];
  if (info === undefined || !Object.hasOwn(DTYPES, array.dtype)) {
    throw new Error(
      `encodeIdx: unknown dtype ${JSON.stringify(array?.dtype)} (expected one of ${
        Object.keys(DTYPES).join(", ")
      })`,
    );
  }
  const { dtype, shape, data } = array;
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 255) {
    throw new Error(
      `encodeIdx: shape must have between 1 and 255 dimensions, got ${JSON.stringify(shape)}`,
    );
  }
  let count = 1;
  for (const size of shape) {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
      throw new Error(
        `encodeIdx: shape sizes must be integers in [0, 2^32), got ${JSON.stringify(shape)}`,
      );
    }
    count *= size;
  }
  if (!(data instanceof (info.ctor as unknown as typeof Uint8Array))) {
    throw new Error(
      `encodeIdx: data must be a ${info.ctor.name} for dtype ${dtype}, got ${
        (data as { constructor?: { name?: string } })?.constructor?.name ?? typeof data
      }`,
    );
  }
  if (data.length !== count) {
    throw new Error(
      `encodeIdx: data has ${data.length} elements but shape [${shape.join(", ")}] needs ${count}`,
    );
  }
  const headerBytes = 4 + 4 * shape.length;
  const out = new Uint8Array(headerBytes + count * info.bytes);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = shape.length;
  shape.forEach((size, i) => view.setUint32(4 + 4 * i, size, false));
  if (info.bytes === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.length), headerBytes);
  } else {
    for (let i = 0, o = headerBytes; i < count; i++, o += info.bytes) {
      info.write(view, o, data[i]);
    }
  }
  return out;
}
