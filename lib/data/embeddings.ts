/**
 * Embeddings computed elsewhere, read for evaluation and visualisation:
 *
 * - **`.npy`** (NumPy format 1.0–3.0): a 2-D `float32` or `float64` array in C order, either byte
 *   order. Other dtypes, Fortran order, a wrong rank or a short file are errors.
 * - **CSV / TSV** (`.csv`, `.tsv`, `.txt`; parsed with `d3-dsv`, quoted fields allowed): one row
 *   per embedding, an optional header row (detected: a row holding a non-number outside the
 *   label column), an optional label column (`labelColumn`: a header name or a 0-based index;
 *   by default a header column named `label` or `labels`).
 * - **The TensorBoard projector's pair** and this library's export
 *   (`writeProjectorTsv`): a folder with `vectors.tsv` and `metadata.tsv` (one column without a
 *   header, or several with a header row), or any vectors file with `metadata: <path>`.
 * - **This library's `.npy` export** (`writeNpy`) is the first case.
 *
 * Labels come from the label column, the metadata file, or `labels` (a file: `.npy` of integers,
 * or a text file with one label per line; or an array). Integer labels are kept; other labels
 * (class names) become indices of their sorted distinct values, returned as `labelNames`.
 *
 * Every problem is a named error before anything is returned, and no value is ever NaN or
 * infinite: {@link FileFormatError} (with the line) for a dtype, order, ragged row, non-number,
 * non-finite value or label count; {@link DataError} for an unreadable file.
 *
 * @module
 */
import { dsvFormat } from "d3-dsv";
import { checkOptionKeys } from "../validate.ts";
import { DataError, FileFormatError } from "./errors.ts";

/**
 * A parsed `.npy` array: its values as float64 (or the integers) in C order, and the shape.
 *
 * @example
 * ```ts
 * const a: NpyArray = { dtype: "<f4", shape: [2, 2], data: new Float64Array([1, 2, 3, 4]) };
 * ```
 */
export interface NpyArray {
  /** NumPy's `descr`, e.g. `<f4`, `<f8`, `<i8`. */
  dtype: string;
  /** The shape. */
  shape: number[];
  /** The values in C order. */
  data: Float64Array;
}

const NPY_READERS: Record<string, [number, (v: DataView, p: number, le: boolean) => number]> = {
  f4: [4, (v, p, le) => v.getFloat32(p, le)],
  f8: [8, (v, p, le) => v.getFloat64(p, le)],
  i1: [1, (v, p) => v.getInt8(p)],
  u1: [1, (v, p) => v.getUint8(p)],
  i2: [2, (v, p, le) => v.getInt16(p, le)],
  u2: [2, (v, p, le) => v.getUint16(p, le)],
  i4: [4, (v, p, le) => v.getInt32(p, le)],
  u4: [4, (v, p, le) => v.getUint32(p, le)],
  i8: [8, (v, p, le) => Number(v.getBigInt64(p, le))],
  u8: [8, (v, p, le) => Number(v.getBigUint64(p, le))],
};

/**
 * Parses a NumPy `.npy` file (format versions 1.0, 2.0 and 3.0) of a numeric dtype (float
 * `f4`/`f8`, integer `i1`–`i8`/`u1`–`u8`, either byte order) in C order.
 *
 * @param bytes the file's content
 * @param path named in errors
 * @param accept the dtype kinds accepted (`"f"` float, `"i"` integer); default both
 * @throws FileFormatError for a file that is not `.npy`, a dtype outside `accept`, Fortran order,
 * or fewer data bytes than the shape needs.
 * @example
 * ```ts
 * import { encodeNpy } from "../io/export.ts";
 * import { parseNpy } from "./embeddings.ts";
 * const a = parseNpy(encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]));
 * console.log(a.dtype, a.shape, a.data[5]); // "<f4" [2, 3] 6
 * ```
 */
export function parseNpy(
  bytes: Uint8Array,
  path = "<bytes>",
  accept: readonly ("f" | "i")[] = ["f", "i"],
): NpyArray {
  const fail = (why: string): never => {
    throw new FileFormatError(`parseNpy: ${path}: ${why}`, path);
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) fail("not a .npy file");
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number, start: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail("truncated header");
    headerLength = view.getUint32(8, true);
    start = 12;
  } else {
    return fail(`format version ${major}.${bytes[7]} is not 1, 2 or 3`);
  }
  if (start + headerLength > bytes.length) fail("truncated header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLength),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    fail(`header ${JSON.stringify(header.trim())} lacks descr, fortran_order or shape`);
  }
  if (fortran === "True") {
    fail("Fortran order (column-major); save it in C order (numpy.ascontiguousarray)");
  }
  const m = /^([<>|=])([fiu])(\d)$/.exec(descr!);
  const kind = m?.[2] === "u" ? "i" : m?.[2];
  const reader = m ? NPY_READERS[`${m[2]}${m[3]}`] : undefined;
  if (!m || !reader || !accept.includes(kind as "f" | "i")) {
    const wanted = accept.map((k) => (k === "f" ? "float32/float64" : "integer")).join(" or ");
    return fail(`dtype ${descr} is not supported here (${wanted} expected)`);
  }
  const shape = shapeText!.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const [width, read] = reader;
  const dataStart = start + headerLength;
  if (bytes.length - dataStart < count * width) {
    fail(
      `holds ${bytes.length - dataStart} data bytes, shape [${shape}] of ${descr} needs ${
        count * width
      }`,
    );
  }
  const little = m[1] !== ">";
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, dataStart + i * width, little);
  return { dtype: descr!, shape, data };
}

/**
 * Options of {@linkcode loadEmbeddings}.
 *
 * @example
 * ```ts
 * const o: LoadEmbeddingsOptions = { labelColumn: "species", metadata: "meta.tsv" };
 * ```
 */
export interface LoadEmbeddingsOptions {
  /**
   * Labels: a file (`.npy` of integers, or text with one label per line) or one label per
   * embedding. Overrides a label column and a metadata file.
   */
  labels?: string | readonly (string | number)[] | Int32Array;
  /** A metadata TSV (projector format) with the labels. Default: `metadata.tsv` beside `vectors.tsv` in a folder. */
  metadata?: string;
  /** The label column of a CSV/TSV or metadata file: a header name or a 0-based index. */
  labelColumn?: string | number;
  /** Whether a CSV/TSV has a header row. Default `"auto"` (a non-number outside the label column). */
  header?: boolean | "auto";
  /** Field delimiter of a text file. Default: tab for `.tsv`/`.txt`, comma for `.csv`. */
  delimiter?: string;
}

/**
 * Embeddings read by {@linkcode loadEmbeddings}.
 *
 * @example
 * ```ts
 * const e: LoadedEmbeddings = {
 *   embeddings: new Float32Array([0, 1, 1, 0]), n: 2, d: 2, shape: [2, 2],
 *   labels: Int32Array.from([0, 1]), labelNames: ["cat", "dog"], format: "csv", path: "e.csv",
 * };
 * ```
 */
export interface LoadedEmbeddings {
  /** Row-major `[n, d]` float32 values (finite). */
  embeddings: Float32Array;
  /** Rows. */
  n: number;
  /** Columns. */
  d: number;
  /** `[n, d]`. */
  shape: [number, number];
  /** `[n]` labels, when given. */
  labels?: Int32Array;
  /** When the labels were names: the sorted distinct names, indexed by label. */
  labelNames?: string[];
  /** The metadata columns (projector metadata or the CSV/TSV's non-vector columns). */
  metadata?: Record<string, string[]>;
  /** What was read: `"npy"`, `"csv"`, `"tsv"` or `"projector"`. */
  format: "npy" | "csv" | "tsv" | "projector";
  /** The embeddings file. */
  path: string;
}

async function readBytes(fn: string, path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new DataError(`${fn}: cannot read ${path}: ${(e as Error).message}`, path, { cause: e });
  }
}

function isNumber(s: string): boolean {
  return s.trim() !== "" && !Number.isNaN(Number(s));
}

/** Rows of a delimited text, without trailing empty lines; ragged rows are an error. */
function parseRows(fn: string, path: string, text: string, delimiter: string): string[][] {
  const all = dsvFormat(delimiter).parseRows(text.replace(/^\uFEFF/, ""));
  while (all.length > 0 && all[all.length - 1].every((f) => f.trim() === "")) all.pop();
  if (all.length === 0) throw new FileFormatError(`${fn}: ${path} is empty`, path);
  const width = all[0].length;
  for (let i = 1; i < all.length; i++) {
    if (all[i].length !== width) {
      throw new FileFormatError(
        `${fn}: ${path} line ${i + 1} has ${
          all[i].length
        } fields, line 1 has ${width} (ragged rows)`,
        path,
        i + 1,
      );
    }
  }
  return all;
}

/** Integer labels as given, else indices of the sorted distinct names. */
function labelsFrom(
  values: readonly (string | number)[],
): { labels: Int32Array; labelNames?: string[] } {
  const integral = values.every((v) =>
    typeof v === "number" ? Number.isInteger(v) : /^\s*-?\d+\s*$/.test(v)
  );
  if (integral) {
    const labels = Int32Array.from(values, (v) => Number(v));
    return { labels };
  }
  const names = [...new Set(values.map(String))].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  return { labels: Int32Array.from(values, (v) => index.get(String(v))!), labelNames: names };
}

function resolveColumn(
  fn: string,
  path: string,
  header: string[] | undefined,
  width: number,
  column: string | number | undefined,
): number | undefined {
  if (column === undefined) {
    if (!header) return undefined;
    const k = header.findIndex((h) => /^labels?$/i.test(h.trim()));
    return k < 0 ? undefined : k;
  }
  if (typeof column === "number") {
    if (!Number.isInteger(column) || column < 0 || column >= width) {
      throw new TypeError(
        `${fn}: labelColumn ${column} is not a column of ${path} (0..${width - 1})`,
      );
    }
    return column;
  }
  const k = header ? header.indexOf(column) : -1;
  if (k < 0) {
    throw new TypeError(
      `${fn}: labelColumn ${JSON.stringify(column)} is not in the header of ${path}` +
        (header ? ` (${header.join(", ")})` : " (it has no header row)"),
    );
  }
  return k;
}

function delimiterOf(path: string, given: string | undefined): string {
  if (given !== undefined) {
    if (typeof given !== "string" || given.length !== 1) {
      throw new TypeError(
        `loadEmbeddings: delimiter must be one character, got ${JSON.stringify(given)}`,
      );
    }
    return given;
  }
  return path.toLowerCase().endsWith(".csv") ? "," : "\t";
}

/** A metadata file: one column without header, several with a header row. */
async function readMetadata(
  fn: string,
  path: string,
  n: number,
  column: string | number | undefined,
): Promise<{ labels: (string | number)[]; metadata: Record<string, string[]> }> {
  const text = new TextDecoder().decode(await readBytes(fn, path));
  const rowsAll = parseRows(fn, path, text, "\t");
  const width = rowsAll[0].length;
  const header = width > 1 ? rowsAll.shift()! : undefined;
  if (rowsAll.length !== n) {
    throw new FileFormatError(
      `${fn}: ${path} has ${rowsAll.length} rows${
        header ? " after its header" : ""
      } for ${n} embeddings`,
      path,
    );
  }
  const names = header ?? ["label"];
  const metadata: Record<string, string[]> = {};
  names.forEach((name, k) => (metadata[name] = rowsAll.map((r) => r[k])));
  let k = 0;
  if (column !== undefined) k = resolveColumn(fn, path, header, width, column)!;
  else if (header) k = resolveColumn(fn, path, header, width, undefined) ?? 0;
  return { labels: rowsAll.map((r) => r[k]), metadata };
}

async function readLabelsFile(fn: string, path: string, n: number): Promise<(string | number)[]> {
  const bytes = await readBytes(fn, path);
  let values: (string | number)[];
  if (path.toLowerCase().endsWith(".npy")) {
    const a = parseNpy(bytes, path, ["i", "f"]);
    if (a.shape.length !== 1 && !(a.shape.length === 2 && a.shape[1] === 1)) {
      throw new FileFormatError(
        `${fn}: ${path} has shape [${a.shape}]; labels need [n] or [n, 1]`,
        path,
      );
    }
    values = Array.from(a.data);
    const bad = values.findIndex((v) => !Number.isInteger(v as number));
    if (bad >= 0) {
      throw new FileFormatError(
        `${fn}: ${path}: label ${bad} is ${values[bad]}, not an integer`,
        path,
      );
    }
  } else {
    const lines = new TextDecoder().decode(bytes).replace(/^\uFEFF/, "").split(/\r?\n/);
    while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
    values = lines.map((l) => l.trim());
    const empty = values.findIndex((v) => v === "");
    if (empty >= 0) {
      throw new FileFormatError(`${fn}: ${path} line ${empty + 1} is empty`, path, empty + 1);
    }
  }
  if (values.length !== n) {
    throw new FileFormatError(
      `${fn}: ${path} has ${values.length} labels for ${n} embeddings`,
      path,
    );
  }
  return values;
}

function checkFinite(
  fn: string,
  path: string,
  values: ArrayLike<number>,
  d: number,
  lineOffset: number,
) {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      const row = Math.floor(i / d);
      throw new FileFormatError(
        `${fn}: ${path} row ${row} holds ${values[i]} (column ${i % d}); embeddings must be finite`,
        path,
        lineOffset > 0 ? row + lineOffset : undefined,
      );
    }
  }
}

/**
 * Reads embeddings (and labels) from a `.npy` file, a CSV/TSV file, or a projector folder (see the
 * module documentation for the formats and the label sources).
 *
 * @param path a `.npy`, `.csv`, `.tsv` or `.txt` file, or a folder with `vectors.tsv`
 * @param options labels, metadata file, label column, header, delimiter
 * @returns `[n, d]` float32 embeddings, labels when found, metadata columns
 * @throws FileFormatError (dtype, Fortran order, ragged row, non-number, non-finite value, label
 * count), DataError (unreadable file), TypeError (bad options).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadEmbeddings } from "./embeddings.ts";
 * const path = await Deno.makeTempFile({ suffix: ".csv" });
 * await Deno.writeTextFile(path, "x,y,label\n0.1,0.2,cat\n0.3,0.4,dog\n");
 * const e = await loadEmbeddings(path);
 * assert.deepEqual([e.n, e.d, [...e.labels!], e.labelNames], [2, 2, [0, 1], ["cat", "dog"]]);
 * ```
 */
export async function loadEmbeddings(
  path: string,
  options: LoadEmbeddingsOptions = {},
): Promise<LoadedEmbeddings> {
  const fn = "loadEmbeddings";
  checkOptionKeys(fn, options, ["labels", "metadata", "labelColumn", "header", "delimiter"]);
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`${fn}: path must be a file or folder path, got ${JSON.stringify(path)}`);
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new DataError(`${fn}: cannot read ${path}: ${(e as Error).message}`, path, { cause: e });
  }
  let file = path;
  let metadataPath = options.metadata;
  let format: LoadedEmbeddings["format"];
  if (info.isDirectory) {
    file = `${path.replace(/\/+$/, "")}/vectors.tsv`;
    format = "projector";
    if (metadataPath === undefined) {
      const candidate = `${path.replace(/\/+$/, "")}/metadata.tsv`;
      try {
        await Deno.stat(candidate);
        metadataPath = candidate;
      } catch { /* no metadata */ }
    }
  } else if (path.toLowerCase().endsWith(".npy")) format = "npy";
  else if (path.toLowerCase().endsWith(".csv")) format = "csv";
  else format = "tsv";

  let values: Float32Array, n: number, d: number;
  let labelValues: (string | number)[] | undefined;
  let metadata: Record<string, string[]> | undefined;
  if (format === "npy") {
    const a = parseNpy(await readBytes(fn, file), file, ["f"]);
    if (a.shape.length !== 2) {
      throw new FileFormatError(
        `${fn}: ${file} has shape [${a.shape}]; embeddings need [n, d]`,
        file,
      );
    }
    [n, d] = a.shape;
    checkFinite(fn, file, a.data, d, 0);
    values = Float32Array.from(a.data);
    if (options.labelColumn !== undefined && metadataPath === undefined) {
      throw new TypeError(
        `${fn}: labelColumn names a column of a CSV/TSV or metadata file; give labels or metadata for ${file}`,
      );
    }
  } else {
    const text = new TextDecoder().decode(await readBytes(fn, file));
    const delimiter = format === "projector" ? "\t" : delimiterOf(file, options.delimiter);
    const table = parseRows(fn, file, text, delimiter);
    // With a metadata file, labelColumn names a column of the metadata, not of the vectors.
    const vectorLabelColumn = metadataPath === undefined ? options.labelColumn : undefined;
    const width = table[0].length;
    const headerOption = options.header ?? "auto";
    if (headerOption !== "auto" && typeof headerOption !== "boolean") {
      throw new TypeError(
        `${fn}: header must be true, false or "auto", got ${JSON.stringify(headerOption)}`,
      );
    }
    // A header is needed to resolve a column by name; "auto" looks at the first row.
    let hasHeader: boolean;
    if (headerOption === "auto") {
      // A header row: a column that is text in the first row and a number in the second.
      const [first, second] = table;
      hasHeader = typeof vectorLabelColumn === "string" ||
        (second !== undefined && first.some((f, k) => !isNumber(f) && isNumber(second[k])));
    } else hasHeader = headerOption;
    const header = hasHeader ? table.shift() : undefined;
    if (table.length === 0) throw new FileFormatError(`${fn}: ${file} has no data rows`, file);
    const labelCol = resolveColumn(fn, file, header, width, vectorLabelColumn);
    const vectorCols = Array.from({ length: width }, (_, k) => k).filter((k) => k !== labelCol);
    n = table.length;
    d = vectorCols.length;
    if (d === 0) throw new FileFormatError(`${fn}: ${file} has no vector columns`, file);
    values = new Float32Array(n * d);
    const offset = hasHeader ? 2 : 1;
    for (let i = 0; i < n; i++) {
      const row = table[i];
      for (let j = 0; j < d; j++) {
        const cell = row[vectorCols[j]];
        const v = isNumber(cell) ? Number(cell) : NaN;
        if (!Number.isFinite(v)) {
          throw new FileFormatError(
            `${fn}: ${file} line ${i + offset} column ${vectorCols[j] + 1}: ${
              JSON.stringify(cell)
            } is not a finite number${
              labelCol === undefined && i === 0 ? " (a label column? pass labelColumn)" : ""
            }`,
            file,
            i + offset,
          );
        }
        values[i * d + j] = v;
      }
    }
    if (labelCol !== undefined) {
      labelValues = table.map((r) => r[labelCol].trim());
      metadata = { [header ? header[labelCol] : "label"]: labelValues as string[] };
    }
  }
  if (metadataPath !== undefined && options.labels === undefined) {
    const m = await readMetadata(fn, metadataPath, n, options.labelColumn);
    labelValues = m.labels;
    metadata = m.metadata;
  }
  if (options.labels !== undefined) {
    if (typeof options.labels === "string") {
      labelValues = await readLabelsFile(fn, options.labels, n);
    } else {
      labelValues = Array.from(options.labels as ArrayLike<string | number>);
      if (labelValues.length !== n) {
        throw new FileFormatError(
          `${fn}: ${labelValues.length} labels given for ${n} embeddings`,
          file,
        );
      }
    }
  }
  const out: LoadedEmbeddings = { embeddings: values, n, d, shape: [n, d], format, path: file };
  if (labelValues !== undefined) Object.assign(out, labelsFrom(labelValues));
  if (metadata !== undefined) out.metadata = metadata;
  return out;
}
