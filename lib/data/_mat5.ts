/**
 * A reader for MATLAB Level 5 MAT-files (the format of the Stanford Cars devkit's annotation
 * files), limited to what annotation files hold: numeric arrays, character arrays, cell arrays
 * and structure arrays, compressed (`miCOMPRESSED`, zlib) or not, either byte order. Sparse
 * arrays, objects and MAT 7.3 (HDF5) files are refused with an error.
 *
 * Why our own: the one MAT-file reader on npm (`mat-for-js`) is GPL-3.0-licensed, which a
 * permissively licensed library cannot depend on; the subset needed here is small and is tested
 * against files written by SciPy's `scipy.io.savemat`.
 *
 * Format (MathWorks, "MAT-File Format", Level 5): a 128-byte header (text, subsystem offset,
 * version 0x0100, endian indicator `IM`/`MI`), then data elements, each an 8-byte tag (type,
 * byte count) — or a 4-byte "small element" tag with up to 4 bytes of data — padded to 8 bytes.
 * An array (`miMATRIX`) holds flags (class), dimensions, name and its data; cells hold arrays,
 * structures hold field names and then one array per field per element, in column-major order.
 *
 * @module
 */

/** A decoded MAT value. */
export type MatValue =
  | { kind: "numeric"; dims: number[]; data: number[] }
  | { kind: "char"; dims: number[]; text: string[] }
  | { kind: "cell"; dims: number[]; cells: MatValue[] }
  | { kind: "struct"; dims: number[]; fields: string[]; elements: Record<string, MatValue>[] };

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
};

const MX = { CELL: 1, STRUCT: 2, OBJECT: 3, CHAR: 4, SPARSE: 5 };

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

class Reader {
  view: DataView;
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly little: boolean, readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(message: string): never {
    throw new Error(`${this.what}: ${message} (byte ${this.pos})`);
  }
  need(n: number) {
    if (this.pos + n > this.bytes.length) this.fail(`truncated: need ${n} bytes`);
  }
  /** Reads a tag: returns type, size, and where the data starts and the element ends. */
  tag(): { type: number; size: number; start: number; end: number } {
    this.need(8);
    const first = this.view.getUint32(this.pos, this.little);
    if (first >>> 16 !== 0) {
      // Small data element: size in the upper 16 bits, data in the next 4 bytes.
      const size = first >>> 16, type = first & 0xffff;
      if (size > 4) this.fail(`small element of ${size} bytes`);
      const start = this.pos + 4;
      this.pos += 8;
      return { type, size, start, end: this.pos };
    }
    const type = first;
    const size = this.view.getUint32(this.pos + 4, this.little);
    const start = this.pos + 8;
    const end = type === MI.COMPRESSED ? start + size : start + Math.ceil(size / 8) * 8;
    if (start + size > this.bytes.length) this.fail(`element of ${size} bytes past the end`);
    this.pos = Math.min(end, this.bytes.length);
    return { type, size, start, end };
  }
  numbers(type: number, start: number, size: number): number[] {
    const widths: Record<number, number> = {
      [MI.INT8]: 1,
      [MI.UINT8]: 1,
      [MI.UTF8]: 1,
      [MI.INT16]: 2,
      [MI.UINT16]: 2,
      [MI.UTF16]: 2,
      [MI.INT32]: 4,
      [MI.UINT32]: 4,
      [MI.UTF32]: 4,
      [MI.SINGLE]: 4,
      [MI.DOUBLE]: 8,
      [MI.INT64]: 8,
      [MI.UINT64]: 8,
    };
    const w = widths[type];
    if (w === undefined) this.fail(`numeric data of type ${type}`);
    if (size % w !== 0) this.fail(`${size} bytes of a ${w}-byte type`);
    const out = new Array<number>(size / w);
    const v = this.view, le = this.little;
    for (let i = 0; i < out.length; i++) {
      const p = start + i * w;
      switch (type) {
        case MI.INT8:
          out[i] = v.getInt8(p);
          break;
        case MI.UINT8:
        case MI.UTF8:
          out[i] = v.getUint8(p);
          break;
        case MI.INT16:
          out[i] = v.getInt16(p, le);
          break;
        case MI.UINT16:
        case MI.UTF16:
          out[i] = v.getUint16(p, le);
          break;
        case MI.INT32:
          out[i] = v.getInt32(p, le);
          break;
        case MI.UINT32:
        case MI.UTF32:
          out[i] = v.getUint32(p, le);
          break;
        case MI.SINGLE:
          out[i] = v.getFloat32(p, le);
          break;
        case MI.DOUBLE:
          out[i] = v.getFloat64(p, le);
          break;
        case MI.INT64:
          out[i] = Number(v.getBigInt64(p, le));
          break;
        case MI.UINT64:
          out[i] = Number(v.getBigUint64(p, le));
          break;
      }
    }
    return out;
  }
}

/** Parses one `miMATRIX` element's content (between `start` and `start + size`). */
function parseMatrix(r: Reader, start: number, size: number): { name: string; value: MatValue } {
  const sub = new Reader(r.bytes.subarray(start, start + size), r.little, r.what);
  if (size === 0) return { name: "", value: { kind: "numeric", dims: [0, 0], data: [] } };
  const flagsTag = sub.tag();
  const flags = sub.numbers(MI.UINT32, flagsTag.start, 8);
  const cls = flags[0] & 0xff;
  const complex = (flags[0] & 0x800) !== 0;
  const dimsTag = sub.tag();
  const dims = sub.numbers(dimsTag.type, dimsTag.start, dimsTag.size);
  const nameTag = sub.tag();
  const name = String.fromCharCode(...sub.numbers(nameTag.type, nameTag.start, nameTag.size));
  const count = dims.reduce((a, b) => a * b, 1);
  if (cls === MX.CELL) {
    const cells: MatValue[] = [];
    for (let i = 0; i < count; i++) {
      const t = sub.tag();
      if (t.type !== MI.MATRIX) sub.fail(`cell ${i} is not an array (type ${t.type})`);
      cells.push(parseMatrix(sub, t.start, t.size).value);
    }
    return { name, value: { kind: "cell", dims, cells } };
  }
  if (cls === MX.STRUCT) {
    const lenTag = sub.tag();
    const fieldLength = sub.numbers(lenTag.type, lenTag.start, lenTag.size)[0];
    const namesTag = sub.tag();
    const raw = sub.numbers(namesTag.type, namesTag.start, namesTag.size);
    const fields: string[] = [];
    for (let s = 0; s + fieldLength <= raw.length; s += fieldLength) {
      const chars = raw.slice(s, s + fieldLength);
      const endAt = chars.indexOf(0);
      fields.push(String.fromCharCode(...(endAt < 0 ? chars : chars.slice(0, endAt))));
    }
    const elements: Record<string, MatValue>[] = [];
    for (let i = 0; i < count; i++) {
      const element: Record<string, MatValue> = {};
      for (const f of fields) {
        const t = sub.tag();
        if (t.type !== MI.MATRIX) sub.fail(`field ${f} is not an array (type ${t.type})`);
        element[f] = parseMatrix(sub, t.start, t.size).value;
      }
      elements.push(element);
    }
    return { name, value: { kind: "struct", dims, fields, elements } };
  }
  if (cls === MX.OBJECT || cls === MX.SPARSE) {
    sub.fail(`array "${name}" is ${cls === MX.OBJECT ? "an object" : "sparse"}, not supported`);
  }
  const realTag = sub.tag();
  const values = sub.numbers(realTag.type, realTag.start, realTag.size);
  if (values.length !== count) {
    sub.fail(`array "${name}" has ${values.length} values for dimensions [${dims}]`);
  }
  if (cls === MX.CHAR) {
    // Column-major: row i is values[i], values[i + rows], …
    const rows = dims[0], cols = count / Math.max(rows, 1);
    const text: string[] = [];
    for (let i = 0; i < rows; i++) {
      let s = "";
      for (let j = 0; j < cols; j++) s += String.fromCodePoint(values[i + j * rows]);
      text.push(s);
    }
    return { name, value: { kind: "char", dims, text } };
  }
  if (complex) sub.fail(`array "${name}" is complex, not supported`);
  return { name, value: { kind: "numeric", dims, data: values } };
}

/**
 * Reads a Level 5 MAT-file's variables.
 *
 * @param bytes the file's content
 * @param what named in error messages (the path)
 * @returns the variables by name
 * @throws Error naming `what` for a file that is not a Level 5 MAT-file, a truncated file, or an
 * unsupported array class.
 */
export async function readMat5(bytes: Uint8Array, what: string): Promise<Record<string, MatValue>> {
  if (bytes.length < 128) throw new Error(`${what}: ${bytes.length} bytes, not a MAT-file`);
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 116));
  if (head.startsWith("MATLAB 7.3")) {
    throw new Error(`${what}: a MAT 7.3 (HDF5) file; save it with -v7 (Level 5)`);
  }
  if (!head.startsWith("MATLAB 5.0")) throw new Error(`${what}: not a MATLAB Level 5 MAT-file`);
  const endian = String.fromCharCode(bytes[126], bytes[127]);
  if (endian !== "IM" && endian !== "MI") throw new Error(`${what}: bad endian indicator`);
  const little = endian === "IM";
  const out: Record<string, MatValue> = {};
  const readAll = async (r: Reader) => {
    while (r.pos + 8 <= r.bytes.length) {
      const t = r.tag();
      if (t.type === MI.COMPRESSED) {
        let inner: Uint8Array;
        try {
          inner = await inflate(r.bytes.subarray(t.start, t.start + t.size));
        } catch (e) {
          r.fail(`compressed element does not inflate: ${(e as Error).message}`);
        }
        await readAll(new Reader(inner!, little, what));
      } else if (t.type === MI.MATRIX) {
        const { name, value } = parseMatrix(r, t.start, t.size);
        out[name] = value;
      }
    }
  };
  await readAll(new Reader(bytes.subarray(128), little, what));
  return out;
}
