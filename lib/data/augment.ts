/**
 * Seeded image augmentation on batches `[b, h, w, c]` with values in [0, 1], as the
 * metric-learning and self-supervised papers train (SimCLR, Chen et al. 2020, §3 and appendix A):
 *
 * - **random resized crop** — torchvision's `RandomResizedCrop` sampling: up to 10 draws of an
 *   area fraction in `scale` and a log-uniform aspect ratio in `ratio`, the first box that fits
 *   wins, else the centre box clamped to `ratio`; the box is resampled to `size` bilinearly
 *   (`tf.image.cropAndResize`, pixel centres aligned, no antialiasing);
 * - **horizontal flip** with probability `flip` (folded into the same resampling);
 * - **colour jitter** with probability `p`: brightness `x·f`, contrast `(x − mean)·f + mean`,
 *   saturation `(x − grey)·f + grey`, each factor uniform in `[max(0, 1 − v), 1 + v]`, and a hue
 *   rotation by `2π·u`, `u` uniform in `[−hue, hue]`, about the grey axis in YIQ space (an
 *   approximation of torchvision's HSV hue shift), in this fixed order (torchvision randomises
 *   the order per image), clipped to [0, 1] after each step;
 * - **random greyscale** with probability `grayscale` (ITU-R 601-2 luma, replicated).
 *
 * Every random number comes from one mulberry32 generator (`createRng`), drawn per image in a
 * fixed order, so the same seed gives the same batches on every backend, and
 * {@linkcode Augmenter.state} / `setState` resume a stream exactly. Greyscale inputs (`c = 1`)
 * skip saturation, hue and greyscale.
 *
 * {@linkcode twoViews} and {@linkcode twoViewBatches} give SimCLR's two augmented views of each
 * image; with the instance ids as labels they train `ntXentLoss` (the batch of `2b` views, label
 * `i` for both views of image `i`), as pytorch-metric-learning's `SelfSupervisedLoss` does.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import { createRng, type Rng } from "./random.ts";
import type { AsyncSampler, Batch, Sampler, SamplerState } from "./batches.ts";

/**
 * Random resized crop options (torchvision `RandomResizedCrop` defaults).
 *
 * @example
 * ```ts
 * const crop: CropOptions = { size: 32, scale: [0.2, 1], ratio: [3 / 4, 4 / 3] };
 * ```
 */
export interface CropOptions {
  /** Output side or `[h, w]`. Default: the input size. */
  size?: number | readonly [number, number];
  /** Range of the box's area as a fraction of the image's. Default `[0.08, 1]`. */
  scale?: readonly [number, number];
  /** Range of the box's aspect ratio (width / height). Default `[3/4, 4/3]`. */
  ratio?: readonly [number, number];
}

/**
 * Colour jitter options (torchvision `ColorJitter` strengths, plus the probability `p` of
 * SimCLR's `RandomApply`).
 *
 * @example
 * ```ts
 * const jitter: ColorJitterOptions = { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 };
 * ```
 */
export interface ColorJitterOptions {
  /** Brightness strength v ≥ 0: factor in `[max(0, 1 − v), 1 + v]`. Default 0. */
  brightness?: number;
  /** Contrast strength. Default 0. */
  contrast?: number;
  /** Saturation strength. Default 0. */
  saturation?: number;
  /** Hue strength in [0, 0.5]: a rotation by `2π·u`, `u ∈ [−hue, hue]`. Default 0. */
  hue?: number;
  /** Probability of jittering an image. Default 1. */
  p?: number;
}

/**
 * Options of {@linkcode createAugmenter}.
 *
 * @example
 * ```ts
 * const o: AugmentOptions = { crop: { scale: [0.5, 1] }, flip: 0.5, seed: 1 };
 * ```
 */
export interface AugmentOptions {
  /** Random resized crop; `false` (default) for none. */
  crop?: false | CropOptions;
  /** Probability of a horizontal flip. Default 0.5. */
  flip?: number;
  /** Colour jitter; `false` (default) for none. */
  colorJitter?: false | ColorJitterOptions;
  /** Probability of turning an image grey. Default 0. */
  grayscale?: number;
  /** Seed of the generator. Default 0. */
  seed?: number;
}

/**
 * SimCLR's augmentation for small images (Chen et al. 2020, appendix B.9 for CIFAR-10): random
 * resized crop (scale 0.08–1), flip 0.5, colour jitter (0.4, 0.4, 0.4, 0.1) with p 0.8,
 * greyscale 0.2.
 *
 * @example
 * ```ts
 * import { createAugmenter, SIMCLR_AUGMENTATION } from "./augment.ts";
 * const augmenter = createAugmenter({ ...SIMCLR_AUGMENTATION, seed: 1 });
 * ```
 */
export const SIMCLR_AUGMENTATION: Readonly<AugmentOptions> = Object.freeze({
  crop: { scale: [0.08, 1] as const, ratio: [3 / 4, 4 / 3] as const },
  flip: 0.5,
  colorJitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 },
  grayscale: 0.2,
});

/** A seeded augmentation of image batches. */
export interface Augmenter {
  /** Augments `x` `[b, h, w, c]` (values in [0, 1]); returns a new tensor (the caller disposes it). */
  apply(x: tf.Tensor4D): tf.Tensor4D;
  /** The generator's state (for checkpoints). */
  state(): number;
  /** Restores a state from {@linkcode Augmenter.state}. */
  setState(state: number): void;
}

/**
 * One image's crop box: top-left `(top, left)` and size `height × width`, in pixels.
 *
 * @example
 * ```ts
 * const box: CropBox = { top: 2, left: 0, height: 20, width: 24 };
 * ```
 */
export interface CropBox {
  /** First row. */
  top: number;
  /** First column. */
  left: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

/** Python's `round` (half to even). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's `RandomResizedCrop.get_params` with a seeded generator: up to 10 draws of
 * `area = H·W·U(scale)` and `aspect = exp(U(log ratio))`, `w = round(√(area·aspect))`,
 * `h = round(√(area/aspect))`; the first with `0 < w ≤ W`, `0 < h ≤ H` is placed uniformly;
 * otherwise the centre box of the whole image clamped to the ratio range.
 *
 * @example
 * ```ts
 * import { createRng } from "./random.ts";
 * import { randomResizedCropBox } from "./augment.ts";
 * const box = randomResizedCropBox(createRng(0), 32, 32, [0.08, 1], [3 / 4, 4 / 3]);
 * console.log(box.width <= 32 && box.height <= 32); // true
 * ```
 */
export function randomResizedCropBox(
  rng: Rng,
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.next());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.next());
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return {
        top: rng.nextInt(height - h + 1),
        left: rng.nextInt(width - w + 1),
        height: h,
        width: w,
      };
    }
  }
  const inRatio = width / height;
  let w = width, h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

function checkProbability(fn: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
    throw new TypeError(`${fn}: ${name} must be a probability in [0, 1], got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkRange(
  fn: string,
  name: string,
  v: unknown,
  fallback: [number, number],
): [number, number] {
  if (v === undefined) return fallback;
  if (
    !Array.isArray(v) || v.length !== 2 ||
    !v.every((x) => typeof x === "number" && x > 0 && Number.isFinite(x)) ||
    v[0] > v[1]
  ) {
    throw new TypeError(
      `${fn}: ${name} must be [low, high] with 0 < low ≤ high, got ${JSON.stringify(v)}`,
    );
  }
  return [v[0], v[1]];
}

const LUMA = [0.299, 0.587, 0.114];

/**
 * A seeded augmenter (see the module documentation for each step and its randomness).
 *
 * @param options crop, flip, colour jitter, greyscale, seed
 * @throws TypeError for an out-of-range option.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createAugmenter } from "./augment.ts";
 * const augmenter = createAugmenter({ crop: { size: 8 }, flip: 0.5, colorJitter: { brightness: 0.4 }, seed: 1 });
 * const x = tf.randomUniform([4, 16, 16, 3]) as tf.Tensor4D;
 * const y = augmenter.apply(x);
 * console.log(y.shape); // [4, 8, 8, 3]
 * ```
 */
export function createAugmenter(options: AugmentOptions = {}): Augmenter {
  const fn = "createAugmenter";
  checkOptionKeys(fn, options, ["crop", "flip", "colorJitter", "grayscale", "seed"]);
  const flip = checkProbability(fn, "flip", options.flip, 0.5);
  const grayscale = checkProbability(fn, "grayscale", options.grayscale, 0);
  const seed = options.seed ?? 0;
  const crop = options.crop ?? false;
  let cropSize: [number, number] | undefined, scale: [number, number] = [0.08, 1];
  let ratio: [number, number] = [3 / 4, 4 / 3];
  if (crop !== false) {
    checkOptionKeys(fn, crop, ["size", "scale", "ratio"], "crop.");
    if (crop.size !== undefined) {
      const s = typeof crop.size === "number" ? [crop.size, crop.size] : crop.size;
      if (!Array.isArray(s) || s.length !== 2 || s.some((v) => !Number.isInteger(v) || v < 1)) {
        throw new TypeError(
          `${fn}: crop.size must be a positive integer or [h, w], got ${JSON.stringify(crop.size)}`,
        );
      }
      cropSize = [s[0], s[1]];
    }
    scale = checkRange(fn, "crop.scale", crop.scale, scale);
    if (scale[1] > 1) {
      throw new TypeError(
        `${fn}: crop.scale must lie in (0, 1], got ${JSON.stringify(crop.scale)}`,
      );
    }
    ratio = checkRange(fn, "crop.ratio", crop.ratio, ratio);
  }
  const jitter = options.colorJitter ?? false;
  let strengths = { brightness: 0, contrast: 0, saturation: 0, hue: 0, p: 1 };
  if (jitter !== false) {
    checkOptionKeys(
      fn,
      jitter,
      ["brightness", "contrast", "saturation", "hue", "p"],
      "colorJitter.",
    );
    const s = { ...strengths, ...jitter };
    for (const k of ["brightness", "contrast", "saturation"] as const) {
      if (typeof s[k] !== "number" || !(s[k] >= 0 && Number.isFinite(s[k]))) {
        throw new TypeError(
          `${fn}: colorJitter.${k} must be a number ≥ 0, got ${JSON.stringify(s[k])}`,
        );
      }
    }
    if (typeof s.hue !== "number" || !(s.hue >= 0 && s.hue <= 0.5)) {
      throw new TypeError(
        `${fn}: colorJitter.hue must be in [0, 0.5], got ${JSON.stringify(s.hue)}`,
      );
    }
    s.p = checkProbability(fn, "colorJitter.p", s.p, 1);
    strengths = s;
  }
  const jittering = jitter !== false &&
    (strengths.brightness > 0 || strengths.contrast > 0 || strengths.saturation > 0 ||
      strengths.hue > 0);
  const rng = createRng(seed);
  const factor = (v: number) => Math.max(0, 1 - v) + (1 + v - Math.max(0, 1 - v)) * rng.next();

  return {
    state: () => rng.state(),
    setState: (s: number) => rng.setState(s),
    apply(x: tf.Tensor4D): tf.Tensor4D {
      if (!(x instanceof tf.Tensor) || x.rank !== 4) {
        throw new TypeError(`Augmenter.apply: x must be a [b, h, w, c] tensor, got ${x?.shape}`);
      }
      const [b, h, w, c] = x.shape;
      const [oh, ow] = cropSize ?? [h, w];
      // Draw every image's parameters in a fixed order: crop, flip, jitter, greyscale.
      const boxes: number[][] = [];
      const bright: number[] = [], contr: number[] = [], sat: number[] = [], hue: number[] = [];
      const grey: number[] = [];
      for (let i = 0; i < b; i++) {
        const box = crop !== false
          ? randomResizedCropBox(rng, h, w, scale, ratio)
          : { top: 0, left: 0, height: h, width: w };
        const flipped = flip > 0 && rng.next() < flip;
        const y1 = h > 1 ? box.top / (h - 1) : 0;
        const y2 = h > 1 ? (box.top + box.height - 1) / (h - 1) : 0;
        let x1 = w > 1 ? box.left / (w - 1) : 0;
        let x2 = w > 1 ? (box.left + box.width - 1) / (w - 1) : 0;
        if (flipped) [x1, x2] = [x2, x1];
        boxes.push([y1, x1, y2, x2]);
        let fb = 1, fc = 1, fs = 1, fh = 0;
        if (jittering && rng.next() < strengths.p) {
          if (strengths.brightness > 0) fb = factor(strengths.brightness);
          if (strengths.contrast > 0) fc = factor(strengths.contrast);
          if (strengths.saturation > 0) fs = factor(strengths.saturation);
          if (strengths.hue > 0) fh = (2 * rng.next() - 1) * strengths.hue;
        }
        bright.push(fb);
        contr.push(fc);
        sat.push(fs);
        hue.push(fh);
        grey.push(grayscale > 0 && rng.next() < grayscale ? 1 : 0);
      }
      return tf.tidy(() => {
        let y: tf.Tensor4D = tf.image.cropAndResize(
          x,
          tf.tensor2d(boxes, [b, 4]),
          tf.range(0, b, 1, "int32") as tf.Tensor1D,
          [oh, ow],
          "bilinear",
        );
        const perImage = (v: number[]) => tf.tensor4d(v, [b, 1, 1, 1]);
        const clip = (t: tf.Tensor) => tf.clipByValue(t, 0, 1) as tf.Tensor4D;
        const lumaOf = (t: tf.Tensor4D) =>
          c === 3 ? tf.sum(tf.mul(t, tf.tensor1d(LUMA)), -1, true) as tf.Tensor4D : t;
        if (jittering) {
          if (strengths.brightness > 0) y = clip(tf.mul(y, perImage(bright)));
          if (strengths.contrast > 0) {
            const mean = tf.mean(lumaOf(y), [1, 2, 3], true);
            y = clip(tf.add(tf.mul(tf.sub(y, mean), perImage(contr)), mean));
          }
          if (c === 3 && strengths.saturation > 0) {
            const g = lumaOf(y);
            y = clip(tf.add(tf.mul(tf.sub(y, g), perImage(sat)), g));
          }
          if (c === 3 && strengths.hue > 0) y = clip(rotateHue(y, hue));
        }
        if (c === 3 && grayscale > 0) {
          const mask = perImage(grey);
          y = tf.add(
            tf.mul(y, tf.sub(1, mask)),
            tf.mul(tf.tile(lumaOf(y), [1, 1, 1, 3]), mask),
          ) as tf.Tensor4D;
        }
        return y;
      });
    },
  };
}

/** Rotates hue by `2π·u_i` about the grey axis in YIQ space, one angle per image. */
function rotateHue(x: tf.Tensor4D, u: number[]): tf.Tensor4D {
  const b = x.shape[0];
  // RGB → YIQ and back (NTSC).
  const toYiq = [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]];
  const toRgb = [[1, 0.956, 0.621], [1, -0.272, -0.647], [1, -1.106, 1.703]];
  const mats: number[] = [];
  for (let i = 0; i < b; i++) {
    const th = 2 * Math.PI * u[i], cs = Math.cos(th), sn = Math.sin(th);
    const rot = [[1, 0, 0], [0, cs, -sn], [0, sn, cs]];
    // M = toRgb · rot · toYiq; pixels are rows, so y = x · Mᵀ.
    const m = mul3(toRgb, mul3(rot, toYiq));
    for (let r = 0; r < 3; r++) for (let k = 0; k < 3; k++) mats.push(m[k][r]);
  }
  const [, h, w] = x.shape;
  const flat = tf.reshape(x, [b, h * w, 3]);
  const out = tf.matMul(flat, tf.tensor3d(mats, [b, 3, 3]));
  return tf.reshape(out, x.shape);
}

function mul3(a: number[][], b: number[][]): number[][] {
  return a.map((row) =>
    [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j])
  );
}

/**
 * Two independently augmented views of each image of `x` (SimCLR).
 *
 * @returns `[view1, view2]`, each `[b, h', w', c]` (the caller disposes them)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createAugmenter, SIMCLR_AUGMENTATION, twoViews } from "./augment.ts";
 * const [a, b] = twoViews(tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D, createAugmenter({ ...SIMCLR_AUGMENTATION, seed: 0 }));
 * console.log(a.shape, b.shape); // [2, 8, 8, 3] [2, 8, 8, 3]
 * ```
 */
export function twoViews(x: tf.Tensor4D, augmenter: Augmenter): [tf.Tensor4D, tf.Tensor4D] {
  return [augmenter.apply(x), augmenter.apply(x)];
}

/** The state of a sampler wrapped with an augmenter. */
type AugmentedState = SamplerState & { augmenterState?: number };

/**
 * A sampler (or an asynchronous one, such as `imageBatches`) whose batches are augmented.
 * `state()` also holds the augmenter's state, so a resumed run draws the same augmentations.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { shuffledBatches } from "./batches.ts";
 * import { augmentedBatches, createAugmenter } from "./augment.ts";
 * const base = shuffledBatches(tf.randomUniform([8, 8, 8, 3]), new Int32Array(8), { batchSize: 4 });
 * const s = augmentedBatches(base, createAugmenter({ crop: {}, seed: 2 }));
 * const { x } = s.next();
 * console.log(x.shape); // [4, 8, 8, 3]
 * ```
 */
export function augmentedBatches<S extends Sampler<Batch> | AsyncSampler<Batch>>(
  sampler: S,
  augmenter: Augmenter,
): S {
  return wrap(sampler, augmenter, (batch) => {
    const x = augmenter.apply(batch.x as tf.Tensor4D);
    batch.x.dispose();
    return { x, y: batch.y };
  });
}

/**
 * SimCLR batches: for each batch of `b` images from `sampler`, the `2b` augmented views
 * `[view1; view2]` with labels `[0..b−1, 0..b−1]` (the instance ids; the images' class labels are
 * dropped), ready for `ntXentLoss` as a `{ x, y }` batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { shuffledBatches } from "./batches.ts";
 * import { createAugmenter, SIMCLR_AUGMENTATION, twoViewBatches } from "./augment.ts";
 * const base = shuffledBatches(tf.randomUniform([8, 8, 8, 3]), new Int32Array(8), { batchSize: 4 });
 * const { x, y } = twoViewBatches(base, createAugmenter({ ...SIMCLR_AUGMENTATION, seed: 2 })).next();
 * console.log(x.shape, Array.from(y.dataSync())); // [8, 8, 8, 3] [0, 1, 2, 3, 0, 1, 2, 3]
 * ```
 */
export function twoViewBatches<S extends Sampler<Batch> | AsyncSampler<Batch>>(
  sampler: S,
  augmenter: Augmenter,
): S {
  return wrap(sampler, augmenter, (batch) => {
    const [a, b] = twoViews(batch.x as tf.Tensor4D, augmenter);
    const n = batch.x.shape[0];
    const x = tf.concat([a, b], 0) as tf.Tensor4D;
    tf.dispose([a, b, batch.x, batch.y]);
    const ids = Array.from({ length: n }, (_, i) => i);
    return { x, y: tf.tensor1d([...ids, ...ids], "int32") };
  });
}

function wrap<
  S extends {
    next(): Batch | Promise<Batch>;
    state(): SamplerState;
    setState(s: SamplerState): void;
  },
>(
  sampler: S,
  augmenter: Augmenter,
  transform: (b: Batch) => Batch,
): S {
  const out = Object.create(sampler) as S & { next: () => Batch | Promise<Batch> };
  out.next = () => {
    const b = sampler.next();
    return b instanceof Promise ? b.then(transform) : transform(b);
  };
  out.state = () => ({ ...sampler.state(), augmenterState: augmenter.state() } as AugmentedState);
  out.setState = (s: SamplerState) => {
    const { augmenterState, ...rest } = s as AugmentedState;
    sampler.setState(rest);
    if (augmenterState !== undefined) augmenter.setState(augmenterState);
  };
  return out;
}
