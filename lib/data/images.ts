/**
 * Decoding, converting and resizing one image, as torchvision's `ImageFolder` pipeline does it
 * (PIL's `open(...).convert("RGB")`, then `transforms.Resize(size)` and
 * `transforms.CenterCrop(size)`, then `ToTensor()`), with maintained npm libraries in pure
 * JavaScript and WebAssembly, so that the same code runs in a browser:
 *
 * - **PNG**: `fast-png` (every colour type and bit depth; chunk CRCs checked, so a corrupt file
 *   is an error, not a garbled image);
 * - **JPEG**: mozjpeg compiled to WebAssembly (`@jsquash/jpeg`): its samples equal Pillow's
 *   (libjpeg-turbo) on every test image, 4:2:0 chroma included, and `deno task bench data`
 *   measures it about 3× faster than the pure-JavaScript `jpeg-js`. Its warnings are errors here:
 *   by itself it would fill a truncated file with grey. `jpeg-js` decodes the CMYK files the
 *   mozjpeg build cannot convert (and encodes JPEG files);
 * - **resizing**: `pica` (separable convolution with a `filter` of support scaled to the
 *   reduction, the method of Pillow's `Image.resize`; its `"hamming"` filter agrees with Pillow's
 *   `HAMMING` within one grey level, checked against torchvision in `tests/images_test.ts`).
 *
 * Colour conversion follows Pillow: alpha is dropped (not composited), palette images take their
 * palette colours, greyscale is replicated to RGB, and RGB becomes grey as
 * `L = (19595·R + 38470·G + 7471·B + 2^15) >> 16` (ITU-R 601-2 luma, Pillow's `convert("L")`).
 * Samples of 16 bits keep their high byte (Pillow does so for 16-bit RGB; for 16-bit grey it
 * clips to 255 instead, which we do not copy); 1-, 2- and 4-bit grey is scaled to 0..255.
 *
 * @module
 */
import { convertIndexedToRgb, decode as decodePng, encode as encodePngBytes } from "fast-png";
import jpeg from "jpeg-js";
import { Pica } from "pica";
import { ImageDecodeError } from "./errors.ts";
import { decodeJpeg, jpegComponents } from "./_jpeg.ts";

/** The image formats the decoders read. */
export type ImageFileFormat = "png" | "jpeg";

/**
 * The format of an image file from its first bytes: `"png"`, `"jpeg"`, the name of another
 * image format the decoders do not read (`"gif"`, `"bmp"`, `"webp"`, `"tiff"`, `"pnm"`), or
 * `undefined` when the bytes are not a known image format.
 *
 * @param bytes the file's bytes (the first 12 suffice)
 * @example
 * ```ts
 * import { sniffImageFormat } from "./images.ts";
 * sniffImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "jpeg"
 * sniffImageFormat(new TextEncoder().encode("hello")); // undefined
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): string | undefined {
  const at = (i: number, values: number[]) => values.every((v, k) => bytes[i + k] === v);
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (at(0, [0xff, 0xd8, 0xff])) return "jpeg";
  if (at(0, [0x47, 0x49, 0x46, 0x38])) return "gif";
  if (at(0, [0x42, 0x4d])) return "bmp";
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return "webp";
  if (at(0, [0x49, 0x49, 0x2a, 0x00]) || at(0, [0x4d, 0x4d, 0x00, 0x2a])) return "tiff";
  if (bytes[0] === 0x50 && bytes[1] >= 0x31 && bytes[1] <= 0x36) return "pnm";
  return undefined;
}

/**
 * A decoded image: 8-bit samples, interleaved, row-major `[height, width, channels]`.
 *
 * @example
 * ```ts
 * const img: DecodedImage = {
 *   width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]), format: "png", sourceChannels: 1,
 * };
 * ```
 */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grey) or 3 (RGB). Alpha is dropped at decoding. */
  channels: 1 | 3;
  /** `height·width·channels` samples. */
  data: Uint8Array;
  /** The file's format. */
  format: ImageFileFormat;
  /** Channels stored in the file (2 = grey + alpha, 4 = RGBA; a palette counts as 3). */
  sourceChannels: number;
}

/** Options of {@linkcode decodeImage}. */
export interface DecodeImageOptions {
  /** Named in error messages. Default `"<bytes>"`. */
  path?: string;
  /** Refuse images of more megapixels than this (decompression bombs). Default 100. */
  maxMegapixels?: number;
}

/** Pillow's `convert("L")` of one RGB pixel. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/** Unpacks 1/2/4-bit samples (rows padded to whole bytes), scaled to 0..255. */
function unpackBits(
  data: Uint8Array,
  width: number,
  height: number,
  samplesPerRow: number,
  depth: number,
): Uint8Array {
  const out = new Uint8Array(height * samplesPerRow);
  const rowBytes = Math.ceil((samplesPerRow * depth) / 8);
  const max = (1 << depth) - 1;
  const scale = 255 / max;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < samplesPerRow; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)];
      const v = (byte >> (8 - depth - (bit & 7))) & max;
      out[y * samplesPerRow + x] = Math.round(v * scale);
    }
  }
  void width;
  return out;
}

function fromPng(bytes: Uint8Array, path: string): DecodedImage {
  const png = decodePng(bytes, { checkCrc: true });
  const { width, height, depth } = png;
  const pixels = width * height;
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const stride = rgb.length / pixels;
    if (stride === 3) {
      return { width, height, channels: 3, data: rgb, format: "png", sourceChannels: 3 };
    }
    const data = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) {
      data[3 * i] = rgb[stride * i];
      data[3 * i + 1] = rgb[stride * i + 1];
      data[3 * i + 2] = rgb[stride * i + 2];
    }
    return { width, height, channels: 3, data, format: "png", sourceChannels: 3 };
  }
  const c = png.channels;
  if (c < 1 || c > 4) {
    throw new ImageDecodeError(`decodeImage: ${path}: PNG with ${c} channels`, path);
  }
  let samples: Uint8Array;
  if (depth === 16) {
    const src = png.data as Uint16Array;
    samples = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) samples[i] = src[i] >> 8;
  } else if (depth < 8) {
    samples = unpackBits(png.data as Uint8Array, width, height, width * c, depth);
  } else {
    samples = png.data as Uint8Array;
  }
  if (samples.length < pixels * c) {
    throw new ImageDecodeError(
      `decodeImage: ${path}: PNG data holds ${samples.length} samples for ${width}×${height}×${c}`,
      path,
    );
  }
  const grey = c <= 2;
  const outChannels = grey ? 1 : 3;
  if (c === outChannels) {
    return {
      width,
      height,
      channels: outChannels,
      data: samples.length === pixels * c ? samples : samples.slice(0, pixels * c),
      format: "png",
      sourceChannels: c,
    };
  }
  const data = new Uint8Array(pixels * outChannels);
  for (let i = 0; i < pixels; i++) {
    for (let k = 0; k < outChannels; k++) data[outChannels * i + k] = samples[c * i + k];
  }
  return { width, height, channels: outChannels, data, format: "png", sourceChannels: c };
}

async function fromJpeg(
  bytes: Uint8Array,
  path: string,
  maxMegapixels: number,
): Promise<DecodedImage> {
  const img = await decodeJpeg(bytes, maxMegapixels);
  const { width, height, channels, data } = img;
  if (width < 1 || height < 1 || data.length !== width * height * channels) {
    throw new ImageDecodeError(
      `decodeImage: ${path}: JPEG decoded to ${data.length} bytes for ${width}×${height}×${channels}`,
      path,
    );
  }
  return {
    width,
    height,
    channels,
    data,
    format: "jpeg",
    sourceChannels: jpegComponents(bytes) ?? channels,
  };
}

/**
 * Decodes a PNG or JPEG file's bytes to 8-bit grey or RGB (alpha dropped, palettes expanded;
 * see the module documentation). The format is recognised from the bytes, not the file name.
 *
 * @param bytes the file's content
 * @returns the decoded image
 * @throws ImageDecodeError naming `options.path` when the bytes are empty, not PNG/JPEG (the
 * message names the format found), truncated or corrupt (as far as the format tells: a PNG
 * chunk's CRC, a JPEG decoder's warning), or larger than `maxMegapixels`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeImage, encodeImage } from "./images.ts";
 * const png = encodeImage(new Uint8Array([0, 128, 255, 64]), { width: 2, height: 2, channels: 1 });
 * const img = await decodeImage(png);
 * assert.deepEqual([img.width, img.height, img.channels, ...img.data], [2, 2, 1, 0, 128, 255, 64]);
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeImageOptions = {},
): Promise<DecodedImage> {
  const path = options.path ?? "<bytes>";
  const maxMegapixels = options.maxMegapixels ?? 100;
  if (bytes.length === 0) throw new ImageDecodeError(`decodeImage: ${path} is empty`, path);
  const format = sniffImageFormat(bytes);
  if (format !== "png" && format !== "jpeg") {
    throw new ImageDecodeError(
      `decodeImage: ${path} is ${
        format === undefined ? "not an image (unknown content)" : `a ${format.toUpperCase()} file`
      }; the decoders read PNG and JPEG`,
      path,
    );
  }
  let img: DecodedImage;
  try {
    img = format === "png" ? fromPng(bytes, path) : await fromJpeg(bytes, path, maxMegapixels);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(
      `decodeImage: ${path}: corrupt or truncated ${format.toUpperCase()}: ${(e as Error).message}`,
      path,
      { cause: e },
    );
  }
  if (img.width * img.height > maxMegapixels * 1e6) {
    throw new ImageDecodeError(
      `decodeImage: ${path} has ${img.width}×${img.height} pixels, over maxMegapixels ${maxMegapixels}`,
      path,
    );
  }
  return img;
}

/**
 * The resampling filters of `pica` (separable, support scaled to the reduction): `"box"`,
 * `"hamming"` (Pillow's `HAMMING`), `"lanczos2"`, `"lanczos3"` (Pillow's `LANCZOS`), `"mks2013"`.
 *
 * @example
 * ```ts
 * const filter: ResizeFilter = "lanczos3";
 * ```
 */
export type ResizeFilter = "box" | "hamming" | "lanczos2" | "lanczos3" | "mks2013";

const FILTERS: readonly ResizeFilter[] = ["box", "hamming", "lanczos2", "lanczos3", "mks2013"];

/**
 * How an image becomes the output size: `"center-crop"` scales it (keeping its aspect ratio)
 * until it covers the output, then crops the centre, as torchvision's `Resize(size)` +
 * `CenterCrop(size)`; `"stretch"` scales each axis to the output size, as `Resize((h, w))`.
 *
 * @example
 * ```ts
 * const fit: ImageFit = "stretch";
 * ```
 */
export type ImageFit = "center-crop" | "stretch";

/**
 * Options that turn decoded images into arrays of one shape.
 *
 * @example
 * ```ts
 * const t: ImageTransformOptions = { size: 64, channels: 3, fit: "center-crop", filter: "hamming" };
 * ```
 */
export interface ImageTransformOptions {
  /**
   * Output size: a side (square) or `[height, width]`. Default: none, every image keeps its size
   * (and loaders then require all images to share one size).
   */
  size?: number | readonly [number, number];
  /** 3 for RGB (default, as torchvision's loader), 1 for grey. */
  channels?: 1 | 3;
  /** How an image fits the output size. Default `"center-crop"`. */
  fit?: ImageFit;
  /** Resampling filter. Default `"hamming"`. */
  filter?: ResizeFilter;
}

/** The image transform options' names (for option checks). */
export const IMAGE_TRANSFORM_KEYS: readonly string[] = ["size", "channels", "fit", "filter"];

/**
 * Checks transform options and fills the defaults; the size comes back as `[h, w]` or
 * `undefined`.
 *
 * @throws TypeError naming `fn` and the option for a bad size, channel count, fit or filter.
 * @example
 * ```ts
 * import { resolveImageTransform } from "./images.ts";
 * resolveImageTransform("f", { size: 32 }); // { size: [32, 32], channels: 3, fit: "center-crop", filter: "hamming" }
 * ```
 */
export function resolveImageTransform(
  fn: string,
  options: ImageTransformOptions,
): { size?: [number, number]; channels: 1 | 3; fit: ImageFit; filter: ResizeFilter } {
  const { size, channels = 3, fit = "center-crop", filter = "hamming" } = options;
  let hw: [number, number] | undefined;
  if (size !== undefined) {
    const pair = typeof size === "number" ? [size, size] : size;
    if (
      !Array.isArray(pair) || pair.length !== 2 ||
      pair.some((v) => !Number.isInteger(v) || v < 1 || v > 8192)
    ) {
      throw new TypeError(
        `${fn}: size must be a positive integer or [height, width] of positive integers (at most 8192), got ${
          JSON.stringify(size)
        }`,
      );
    }
    hw = [pair[0], pair[1]];
  }
  if (channels !== 1 && channels !== 3) {
    throw new TypeError(`${fn}: channels must be 1 or 3, got ${JSON.stringify(channels)}`);
  }
  if (fit !== "center-crop" && fit !== "stretch") {
    throw new TypeError(
      `${fn}: fit must be "center-crop" or "stretch", got ${JSON.stringify(fit)}`,
    );
  }
  if (!FILTERS.includes(filter)) {
    throw new TypeError(
      `${fn}: filter must be one of ${FILTERS.join(", ")}, got ${JSON.stringify(filter)}`,
    );
  }
  return { size: hw, channels, fit, filter };
}

/** Python's `round` (half to even), as torchvision's centre crop uses it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The resized size and crop offsets of torchvision's `Resize(size)` + `CenterCrop(size)` for an
 * image of `height × width`: the image is scaled until it covers `[h, w]` (the covering side
 * exact, the other `int(side · other / covering)`), then cropped at
 * `round((resized − crop) / 2)` (half to even, Python's `round`). With `fit: "stretch"`
 * the resized size is `[h, w]` and there is no crop.
 *
 * @example
 * ```ts
 * import { fitGeometry } from "./images.ts";
 * fitGeometry(40, 50, [16, 16], "center-crop"); // { resized: [16, 20], top: 0, left: 2 }
 * ```
 */
export function fitGeometry(
  height: number,
  width: number,
  size: readonly [number, number],
  fit: ImageFit,
): { resized: [number, number]; top: number; left: number } {
  const [h, w] = size;
  if (fit === "stretch") return { resized: [h, w], top: 0, left: 0 };
  let rh: number, rw: number;
  if (h * width >= w * height) {
    // Height decides: scale = h / height.
    rh = h;
    rw = Math.max(w, Math.floor((h * width) / height));
  } else {
    rw = w;
    rh = Math.max(h, Math.floor((w * height) / width));
  }
  return {
    resized: [rh, rw],
    top: roundHalfEven((rh - h) / 2),
    left: roundHalfEven((rw - w) / 2),
  };
}

let resizer: Pica | undefined;

/** Resizes 8-bit interleaved samples with pica (which works on RGBA). */
async function resizeSamples(
  data: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
  toHeight: number,
  toWidth: number,
  filter: ResizeFilter,
): Promise<Uint8Array> {
  resizer ??= new Pica({ features: ["js", "wasm"] });
  const pixels = width * height;
  const rgba = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    if (channels === 1) {
      const v = data[i];
      rgba[4 * i] = v;
      rgba[4 * i + 1] = v;
      rgba[4 * i + 2] = v;
    } else {
      rgba[4 * i] = data[3 * i];
      rgba[4 * i + 1] = data[3 * i + 1];
      rgba[4 * i + 2] = data[3 * i + 2];
    }
    rgba[4 * i + 3] = 255;
  }
  const out = await resizer.resizeBuffer({
    src: rgba,
    width,
    height,
    toWidth,
    toHeight,
    filter,
  });
  const m = toWidth * toHeight;
  const result = new Uint8Array(m * channels);
  for (let i = 0; i < m; i++) {
    if (channels === 1) result[i] = out[4 * i];
    else {
      result[3 * i] = out[4 * i];
      result[3 * i + 1] = out[4 * i + 1];
      result[3 * i + 2] = out[4 * i + 2];
    }
  }
  return result;
}

/** Converts 8-bit samples between grey and RGB (Pillow's rules). */
function convertChannels(img: DecodedImage, channels: 1 | 3): Uint8Array {
  if (img.channels === channels) return img.data;
  const n = img.width * img.height;
  const out = new Uint8Array(n * channels);
  const d = img.data;
  if (channels === 1) {
    for (let i = 0; i < n; i++) out[i] = luma(d[3 * i], d[3 * i + 1], d[3 * i + 2]);
  } else {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = d[i];
  }
  return out;
}

/**
 * Converts a decoded image to the requested channels, resizes and crops it (see
 * {@linkcode fitGeometry}), and scales it to float32 in [0, 1] (`v / 255`, as `ToTensor`).
 *
 * Colour conversion comes first (as `convert("RGB")`/`convert("L")` on opening), then the resize.
 *
 * @param img a decoded image
 * @param options output size, channels, fit and filter (see {@linkcode ImageTransformOptions})
 * @returns `[h, w, channels]` row-major values in [0, 1], and the shape
 * @example
 * ```ts
 * import { decodeImage, encodeImage, transformImage } from "./images.ts";
 * const png = encodeImage(new Uint8Array(8 * 6 * 3).fill(255), { width: 8, height: 6, channels: 3 });
 * const { data, shape } = await transformImage(await decodeImage(png), { size: 4, channels: 1 });
 * console.log(shape, data[0]); // [4, 4, 1] 1
 * ```
 */
export async function transformImage(
  img: DecodedImage,
  options: ImageTransformOptions = {},
): Promise<{ data: Float32Array; shape: [number, number, number] }> {
  const { samples, shape } = await transformImageBytes(img, options);
  const data = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) data[i] = samples[i] / 255;
  return { data, shape };
}

/**
 * {@linkcode transformImage} before the scaling to [0, 1]: the converted, resized and cropped
 * 8-bit samples (a quarter of the memory; the loaders' workers send these).
 *
 * @returns `[h, w, channels]` row-major samples 0..255, and the shape
 * @example
 * ```ts
 * import { decodeImage, encodeImage, transformImageBytes } from "./images.ts";
 * const png = encodeImage(new Uint8Array(4 * 4).fill(51), { width: 4, height: 4, channels: 1 });
 * const { samples, shape } = await transformImageBytes(await decodeImage(png), { size: 2 });
 * console.log(shape, samples[0]); // [2, 2, 3] 51
 * ```
 */
export async function transformImageBytes(
  img: DecodedImage,
  options: ImageTransformOptions = {},
): Promise<{ samples: Uint8Array; shape: [number, number, number] }> {
  const t = resolveImageTransform("transformImage", options);
  let samples = convertChannels(img, t.channels);
  let h = img.height, w = img.width;
  if (t.size !== undefined) {
    const g = fitGeometry(h, w, t.size, t.fit);
    const [rh, rw] = g.resized;
    if (rh !== h || rw !== w) {
      samples = await resizeSamples(samples, w, h, t.channels, rh, rw, t.filter);
    }
    const [ch, cw] = t.size;
    if (ch !== rh || cw !== rw) {
      const c = t.channels;
      const cropped = new Uint8Array(ch * cw * c);
      for (let y = 0; y < ch; y++) {
        const from = ((y + g.top) * rw + g.left) * c;
        cropped.set(samples.subarray(from, from + cw * c), y * cw * c);
      }
      samples = cropped;
    }
    h = ch;
    w = cw;
  }
  // A view of a larger buffer would transfer the whole buffer between threads.
  if (samples.byteOffset !== 0 || samples.byteLength !== samples.buffer.byteLength) {
    samples = samples.slice();
  }
  return { samples, shape: [h, w, t.channels] };
}

/**
 * Reads, decodes and transforms one image file (see {@linkcode decodeImage} and
 * {@linkcode transformImage}).
 *
 * @throws ImageDecodeError naming `path` when it cannot be read or decoded.
 * @example
 * ```ts
 * import { encodeImage, readImage } from "./images.ts";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await Deno.writeFile(path, encodeImage(new Uint8Array(16).fill(51), { width: 4, height: 4, channels: 1 }));
 * const { data, shape } = await readImage(path, { size: 2, channels: 3 });
 * console.log(shape, data[0]); // [2, 2, 3] 0.2
 * ```
 */
export async function readImage(
  path: string,
  options: ImageTransformOptions = {},
): Promise<{ data: Float32Array; shape: [number, number, number] }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ImageDecodeError(`readImage: cannot read ${path}: ${(e as Error).message}`, path, {
      cause: e,
    });
  }
  return await transformImage(await decodeImage(bytes, { path }), options);
}

/**
 * Options of {@linkcode encodeImage}.
 *
 * @example
 * ```ts
 * const o: EncodeImageOptions = { width: 64, height: 64, channels: 3, format: "jpeg", quality: 90 };
 * ```
 */
export interface EncodeImageOptions {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grey) or 3 (RGB) interleaved samples. */
  channels: 1 | 3;
  /** `"png"` (default, lossless, `fast-png`) or `"jpeg"` (`jpeg-js`). */
  format?: ImageFileFormat;
  /** JPEG quality 1..100. Default 90. */
  quality?: number;
}

/**
 * Encodes pixels as a PNG or JPEG file: 8-bit samples (`Uint8Array`) or values in [0, 1]
 * (`Float32Array`, rounded to `round(255·v)` and clipped), interleaved `[height, width, channels]`.
 * Used to write image folders ({@linkcode writeImageFolder}) and test data.
 *
 * @throws TypeError when the sizes do not match the data or the options are out of range.
 * @example
 * ```ts
 * import { encodeImage, sniffImageFormat } from "./images.ts";
 * const jpg = encodeImage(new Float32Array(16 * 16 * 3).fill(0.5), { width: 16, height: 16, channels: 3, format: "jpeg" });
 * console.log(sniffImageFormat(jpg)); // "jpeg"
 * ```
 */
export function encodeImage(
  pixels: Uint8Array | Float32Array,
  options: EncodeImageOptions,
): Uint8Array {
  const { width, height, channels, format = "png", quality = 90 } = options;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new TypeError(
      `encodeImage: width and height must be positive integers, got ${width}×${height}`,
    );
  }
  if (channels !== 1 && channels !== 3) {
    throw new TypeError(`encodeImage: channels must be 1 or 3, got ${channels}`);
  }
  const n = width * height;
  if (pixels.length !== n * channels) {
    throw new TypeError(
      `encodeImage: ${pixels.length} values for ${height}×${width}×${channels} (${n * channels})`,
    );
  }
  let bytes: Uint8Array;
  if (pixels instanceof Uint8Array) bytes = pixels;
  else {
    bytes = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) {
      const v = pixels[i];
      if (!Number.isFinite(v)) {
        throw new TypeError(`encodeImage: value ${i} is ${v}; pixels must be finite`);
      }
      bytes[i] = Math.max(0, Math.min(255, Math.round(v * 255)));
    }
  }
  if (format === "png") {
    return encodePngBytes({ width, height, data: bytes, channels, depth: 8 });
  }
  if (format !== "jpeg") {
    throw new TypeError(
      `encodeImage: format must be "png" or "jpeg", got ${JSON.stringify(format)}`,
    );
  }
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new TypeError(`encodeImage: quality must be an integer in 1..100, got ${quality}`);
  }
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) rgba[4 * i + k] = bytes[channels === 1 ? i : 3 * i + k];
    rgba[4 * i + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width, height, data: rgba }, quality).data);
}
