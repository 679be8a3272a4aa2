/**
 * `deno run --allow-read=<dir> --allow-write=<dir> tools/make_shapes.ts <dir> [--classes 10]
 * [--perClass 100] [--size 64] [--seed 0] [--format png|jpeg]`: writes a seeded image folder of
 * coloured shapes in torchvision's `ImageFolder` layout (`<dir>/<class>/<index>.png`), a small
 * stand-in for a real photo collection that runs anywhere (no download).
 *
 * Each class is one (shape, colour) pair — shapes circle, square, triangle, cross, ring, diamond,
 * bar; colours red, blue, green, yellow, magenta, cyan, orange — taken in an order that interleaves
 * both, so that with the metric-learning split (the first half of the sorted classes for training)
 * the test classes are new combinations of shapes and colours seen in training. Every image varies
 * the shape's position, size and rotation, the colour's shade, the background tint, and adds
 * pixel noise; the same seed gives the same files.
 *
 * @module
 */
import { writeImageFolder } from "../lib/data/image_folder.ts";
import { createRng } from "../lib/data/random.ts";

/** The shapes, in class order. */
export const SHAPES = ["circle", "square", "triangle", "cross", "ring", "diamond", "bar"] as const;
/** The colours (RGB, 0..255), in class order. */
export const COLOURS: Readonly<Record<string, readonly [number, number, number]>> = {
  red: [220, 40, 40],
  blue: [40, 70, 220],
  green: [40, 170, 60],
  yellow: [230, 210, 40],
  magenta: [200, 50, 200],
  cyan: [40, 200, 210],
  orange: [240, 130, 30],
};

/** Options of {@linkcode shapeImages}. */
export interface ShapeImagesOptions {
  /** Classes, 2..49. Default 10. */
  classes?: number;
  /** Images per class. Default 100. */
  perClass?: number;
  /** Side in pixels. Default 64. */
  size?: number;
  /** Seed. Default 0. */
  seed?: number;
}

/** Whether (u, v) (centred, in units of the shape's radius) lies inside the shape. */
function inside(shape: string, u: number, v: number): boolean {
  const r = Math.hypot(u, v);
  switch (shape) {
    case "circle":
      return r <= 1;
    case "ring":
      return r <= 1 && r >= 0.6;
    case "square":
      return Math.abs(u) <= 0.8 && Math.abs(v) <= 0.8;
    case "diamond":
      return Math.abs(u) + Math.abs(v) <= 1;
    case "cross":
      return (Math.abs(u) <= 0.3 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 1);
    case "bar":
      return Math.abs(u) <= 1 && Math.abs(v) <= 0.35;
    case "triangle":
      return v <= 0.5 && v >= -1 + Math.sqrt(3) * Math.abs(u);
    default:
      throw new TypeError(`shapeImages: unknown shape ${shape}`);
  }
}

/**
 * The class names of {@linkcode shapeImages}: `NN-colour-shape`, zero-padded so that sorting
 * keeps class order. Class i has shape i mod 7; the first 14 classes alternate red and blue, later
 * ones take the other colours.
 *
 * @example
 * ```ts
 * import { shapeClassNames } from "./make_shapes.ts";
 * shapeClassNames(4); // ["00-red-circle", "01-blue-square", "02-red-triangle", "03-blue-cross"]
 * ```
 */
export function shapeClassNames(classes: number): string[] {
  if (!Number.isInteger(classes) || classes < 2 || classes > 49) {
    throw new RangeError(`shapeClassNames: classes must be an integer in [2, 49], got ${classes}`);
  }
  const colours = Object.keys(COLOURS);
  const names: string[] = [];
  const used = new Set<string>();
  for (let i = 0; names.length < classes; i++) {
    const shape = SHAPES[i % SHAPES.length];
    // Alternate two colours first (so train and test halves both hold both), then the rest.
    const colour = i < 14 ? colours[i % 2 === 0 ? 0 : 1] : colours[(i + Math.floor(i / 7)) % 7];
    const key = `${colour}-${shape}`;
    if (used.has(key)) continue;
    used.add(key);
    names.push(`${String(names.length).padStart(2, "0")}-${key}`);
  }
  return names;
}

/**
 * Renders the images: `[n, size, size, 3]` 8-bit RGB, class by class (`perClass` of each), with
 * their labels and class names.
 *
 * @throws RangeError for a bad count or size.
 * @example
 * ```ts
 * import { shapeImages } from "./make_shapes.ts";
 * const s = shapeImages({ classes: 3, perClass: 2, size: 16 });
 * console.log(s.images.length, s.labels); // 1536 [0, 0, 1, 1, 2, 2]
 * ```
 */
export function shapeImages(
  options: ShapeImagesOptions = {},
): { images: Uint8Array; labels: number[]; classNames: string[] } {
  const { classes = 10, perClass = 100, size = 64, seed = 0 } = options;
  const classNames = shapeClassNames(classes);
  if (!Number.isInteger(perClass) || perClass < 1) {
    throw new RangeError(`shapeImages: perClass must be a positive integer, got ${perClass}`);
  }
  if (!Number.isInteger(size) || size < 8) {
    throw new RangeError(`shapeImages: size must be an integer ≥ 8, got ${size}`);
  }
  const rng = createRng(seed);
  const n = classes * perClass;
  const images = new Uint8Array(n * size * size * 3);
  const labels: number[] = [];
  for (let c = 0; c < classes; c++) {
    const [, colourName, shape] = classNames[c].split("-");
    const base = COLOURS[colourName];
    for (let k = 0; k < perClass; k++) {
      const i = labels.length;
      labels.push(c);
      const radius = size * (0.2 + 0.15 * rng.next());
      const cx = size / 2 + (rng.next() - 0.5) * (size - 2 * radius) * 0.8;
      const cy = size / 2 + (rng.next() - 0.5) * (size - 2 * radius) * 0.8;
      const angle = rng.next() * 2 * Math.PI;
      const cos = Math.cos(angle), sin = Math.sin(angle);
      const shade = 0.75 + 0.5 * rng.next();
      const fg = base.map((v) => Math.min(255, v * shade));
      const bg = [0, 1, 2].map(() => 60 + 120 * rng.next());
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const dx = (x + 0.5 - cx) / radius, dy = (y + 0.5 - cy) / radius;
          const u = cos * dx + sin * dy, v = -sin * dx + cos * dy;
          const colour = inside(shape, u, v) ? fg : bg;
          const p = ((i * size + y) * size + x) * 3;
          for (let ch = 0; ch < 3; ch++) {
            const noisy = colour[ch] + 12 * rng.normal();
            images[p + ch] = Math.max(0, Math.min(255, Math.round(noisy)));
          }
        }
      }
    }
  }
  return { images, labels, classNames };
}

/**
 * Writes {@linkcode shapeImages} as an image folder under `root` (PNG by default).
 *
 * @returns the paths written
 * @example
 * ```ts
 * import { writeShapeFolder } from "./make_shapes.ts";
 * const root = await Deno.makeTempDir();
 * const paths = await writeShapeFolder(root, { classes: 2, perClass: 2, size: 8 });
 * console.log(paths.length); // 4
 * ```
 */
export async function writeShapeFolder(
  root: string,
  options: ShapeImagesOptions & { format?: "png" | "jpeg" } = {},
): Promise<string[]> {
  const { format = "png", ...rest } = options;
  const size = rest.size ?? 64;
  const { images, labels, classNames } = shapeImages(rest);
  return await writeImageFolder(root, images, labels, classNames, {
    shape: [size, size, 3],
    format,
  });
}

if (import.meta.main) {
  const [root, ...rest] = Deno.args;
  if (!root || root.startsWith("--")) {
    console.error(
      "usage: tools/make_shapes.ts <dir> [--classes 10] [--perClass 100] [--size 64] " +
        "[--seed 0] [--format png|jpeg]",
    );
    Deno.exit(2);
  }
  const o: Record<string, number | string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, "");
    if (!["classes", "perClass", "size", "seed", "format"].includes(key)) {
      console.error(`make_shapes: unknown option ${rest[i]}`);
      Deno.exit(2);
    }
    o[key] = key === "format" ? rest[i + 1] : Number(rest[i + 1]);
  }
  const t0 = performance.now();
  const paths = await writeShapeFolder(root, o as ShapeImagesOptions & { format?: "png" });
  console.log(
    `wrote ${paths.length} images in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s under ${root}`,
  );
}
