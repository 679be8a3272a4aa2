/**
 * JPEG decoding for `images.ts`: mozjpeg compiled to WebAssembly (`@jsquash/jpeg`), whose output
 * equals Pillow's (libjpeg-turbo) sample for sample on the test images, with its warnings turned
 * into errors — a truncated file ("Premature end of JPEG file") or corrupt data ("Corrupt JPEG
 * data: …") is refused instead of being filled with grey; `jpeg-js` (pure JavaScript) decodes
 * the CMYK files mozjpeg's build cannot convert. Decoding is sequential within a thread (the
 * warnings of one call are collected between its start and end).
 *
 * @module
 */
import decodeMozjpeg, { init } from "@jsquash/jpeg/decode.js";
import jpeg from "jpeg-js";

let ready: Promise<void> | undefined;
let messages: string[] = [];
let queue: Promise<unknown> = Promise.resolve();

function start(): Promise<void> {
  // @jsquash/jpeg returns the browser's ImageData; Deno has no such class.
  const g = globalThis as unknown as { ImageData?: unknown };
  g.ImageData ??= class ImageData {
    constructor(
      public data: Uint8ClampedArray,
      public width: number,
      public height: number,
    ) {}
  };
  const collect = (line: string) => messages.push(line);
  return init({ print: collect, printErr: collect } as never);
}

/** Colour components of the frame (1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK), from the SOF marker. */
export function jpegComponents(bytes: Uint8Array): number | undefined {
  let i = 2;
  while (i + 9 < bytes.length && bytes[i] === 0xff) {
    const marker = bytes[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return bytes[i + 9];
    }
    i += 2 + ((bytes[i + 2] << 8) | bytes[i + 3]);
  }
  return undefined;
}

/**
 * Decodes JPEG bytes to interleaved RGB (`channels` 3) or grey (1).
 *
 * @throws Error with mozjpeg's message (or jpeg-js's for CMYK files) for a truncated, corrupt or
 * unsupported file.
 */
export function decodeJpeg(
  bytes: Uint8Array,
  maxMegapixels: number,
): Promise<{ width: number; height: number; channels: 1 | 3; data: Uint8Array }> {
  const run = async () => {
    ready ??= start();
    await ready;
    const components = jpegComponents(bytes);
    if (components === 4) return fromJpegJs(bytes, maxMegapixels);
    messages = [];
    let image: { width: number; height: number; data: ArrayLike<number> };
    try {
      image = await decodeMozjpeg(bytes.slice().buffer) as unknown as typeof image;
    } catch (e) {
      const why = messages.join("; ") || (e instanceof Error ? e.message : JSON.stringify(e));
      if (/Unsupported color conversion/.test(why)) return fromJpegJs(bytes, maxMegapixels);
      throw new Error(why);
    }
    if (messages.length > 0) throw new Error(messages.join("; "));
    const { width, height } = image;
    const n = width * height;
    const channels = components === 1 ? 1 : 3;
    const data = new Uint8Array(n * channels);
    const rgba = image.data;
    if (channels === 1) { for (let i = 0; i < n; i++) data[i] = rgba[4 * i]; }
    else {
      for (let i = 0; i < n; i++) {
        data[3 * i] = rgba[4 * i];
        data[3 * i + 1] = rgba[4 * i + 1];
        data[3 * i + 2] = rgba[4 * i + 2];
      }
    }
    return { width, height, channels, data } as const;
  };
  // One decode at a time per thread, so that each call sees only its own warnings.
  const result = queue.then(run, run);
  queue = result.catch(() => {});
  return result;
}

function fromJpegJs(bytes: Uint8Array, maxMegapixels: number) {
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxResolutionInMP: maxMegapixels,
    maxMemoryUsageInMB: 1024,
  });
  return {
    width: img.width,
    height: img.height,
    channels: 3 as const,
    data: img.data as Uint8Array,
  };
}
