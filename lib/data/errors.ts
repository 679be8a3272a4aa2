/**
 * Named errors of the data loaders. Every loader of files (image folders, the benchmark data sets'
 * layouts, embeddings from elsewhere) throws one of these, naming the function, the file and the
 * problem, so that a caller can tell a bad file from a bug (`error instanceof DataError`) and
 * report which file to fix (`error.path`).
 *
 * @module
 */

/**
 * The base class: a file or folder given to a loader is not usable. `path` names it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataError } from "./errors.ts";
 * const e = new DataError("loadImages: /x.png is empty", "/x.png");
 * assert.equal(e.name, "DataError");
 * assert.equal(e.path, "/x.png");
 * ```
 */
export class DataError extends Error {
  /** The offending file or folder. */
  readonly path: string;
  /** Creates the error; `message` should name the function, `path` the file. */
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataError";
    this.path = path;
  }
}

/**
 * An image file that cannot be decoded: unreadable, empty, truncated, corrupt (a PNG chunk's CRC
 * does not match), or in a format the decoders do not read (the message names the format found).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataError, ImageDecodeError } from "./errors.ts";
 * const e = new ImageDecodeError("decodeImage: /a.jpg: truncated", "/a.jpg");
 * assert.ok(e instanceof DataError);
 * assert.equal(e.name, "ImageDecodeError");
 * ```
 */
export class ImageDecodeError extends DataError {
  /** Creates the error. */
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, path, options);
    this.name = "ImageDecodeError";
  }
}

/**
 * Images of different sizes where one size is required (no `size` option to resize them).
 *
 * @example
 * ```ts
 * import { ImageSizeError } from "./errors.ts";
 * const e = new ImageSizeError("loadImages: /b.png is 40×30, expected 28×28", "/b.png");
 * console.log(e.name); // "ImageSizeError"
 * ```
 */
export class ImageSizeError extends DataError {
  /** Creates the error. */
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, path, options);
    this.name = "ImageSizeError";
  }
}

/**
 * A data set's layout is wrong: an empty folder, no class folders, a class with too few images,
 * a file that is not an image where images are expected, a layout file that names a missing
 * image, a malformed line in a layout file.
 *
 * @example
 * ```ts
 * import { DatasetLayoutError } from "./errors.ts";
 * const e = new DatasetLayoutError("scanImageFolder: /data has no class folders", "/data");
 * console.log(e.name); // "DatasetLayoutError"
 * ```
 */
export class DatasetLayoutError extends DataError {
  /** Creates the error. */
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, path, options);
    this.name = "DatasetLayoutError";
  }
}

/**
 * A data file whose content is not in the expected format: a `.npy` file with an unsupported
 * dtype or Fortran order, a CSV/TSV file with ragged rows or a non-numeric or non-finite value,
 * labels that do not match the embeddings. `line` is the 1-based line, when there is one.
 *
 * @example
 * ```ts
 * import { FileFormatError } from "./errors.ts";
 * const e = new FileFormatError("loadEmbeddings: x.csv line 3 has 4 fields, expected 5", "x.csv", 3);
 * console.log(e.name, e.line); // "FileFormatError" 3
 * ```
 */
export class FileFormatError extends DataError {
  /** The 1-based line of a text file, if the problem is on one line. */
  readonly line?: number;
  /** Creates the error. */
  constructor(message: string, path: string, line?: number, options?: ErrorOptions) {
    super(message, path, options);
    this.name = "FileFormatError";
    if (line !== undefined) this.line = line;
  }
}

/**
 * A file skipped by a loader asked to skip bad files (`onError: "skip"`), and why.
 *
 * @example
 * ```ts
 * const s: SkippedFile = { path: "/data/cat/3.jpg", reason: "ImageDecodeError: truncated" };
 * ```
 */
export interface SkippedFile {
  /** The file. */
  path: string;
  /** The error's name and message. */
  reason: string;
}

/**
 * What a loader does with a bad file: `"throw"` (the default) throws a {@link DataError} naming
 * it, before anything is returned; `"skip"` leaves it out, prints one line per skipped file and
 * lists it in the result's `skipped`.
 *
 * @example
 * ```ts
 * const policy: OnError = "skip";
 * ```
 */
export type OnError = "throw" | "skip";
