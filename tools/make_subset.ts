/**
 * Draws the embedded, class-balanced Fashion-MNIST subset committed under
 * `data/fashion-mnist-subset/`, reproducibly, from the full data set.
 *
 * ```sh
 * deno run --allow-read=/usr/share/datasets,data --allow-write=data tools/make_subset.ts
 * # or from another copy of the four official files:
 * deno run --allow-read --allow-write=data tools/make_subset.ts --source /path/to/fashion-mnist
 * ```
 *
 * Procedure, per split (train: 1,000 per class, seed 20170825; test: 200 per class, seed
 * 20170826):
 *
 * 1. read the official files and check the SHA-256 of their decompressed content;
 * 2. `createRng(seed)` (mulberry32, `lib/data/random.ts`) shuffles the indices `0..n−1` in place
 *    with Fisher–Yates (i from n−1 down to 1, swap i with `nextInt(i + 1)`);
 * 3. walking that permutation, an index is picked while its class has fewer than the quota;
 * 4. the picked indices are sorted back into ascending (original) order;
 * 5. images `[m, 28, 28]` and labels `[m]` are written with `encodeIdx`, gzip-compressed by
 *    `CompressionStream("gzip")`, under the official file names, plus a `SHA256SUMS` file.
 *
 * Running it twice gives byte-identical files.
 *
 * @module
 */

import { encodeIdx, type IdxArray, parseIdx } from "../lib/data/idx.ts";
import { createRng } from "../lib/data/random.ts";
import {
  DEBIAN_FASHION_MNIST_DIR,
  EMBEDDED_FASHION_MNIST_DIR,
  FASHION_MNIST_FILES,
  type FashionMnistSplit,
} from "../lib/data/fashion_mnist.ts";

/** Seed of the train-split permutation. The test split uses `SUBSET_SEED + 1`. */
export const SUBSET_SEED = 20170825;

/** Images per class in the subset, per split. */
export const SUBSET_PER_CLASS: Readonly<Record<FashionMnistSplit, number>> = Object.freeze({
  train: 1000,
  test: 200,
});

/**
 * SHA-256 of a byte array, as lowercase hex.
 *
 * @param bytes data to hash
 * @returns 64 hex characters
 * @example
 * ```ts
 * await sha256Hex(new Uint8Array()); // "e3b0c442...b855"
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Gzip-compresses bytes with the web `CompressionStream` (deterministic: no file name, no time).
 *
 * @param bytes data to compress
 * @returns the `.gz` bytes
 * @example
 * ```ts
 * const gz = await gzip(new TextEncoder().encode("hello"));
 * ```
 */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Picks a class-balanced sample: walks a seeded Fisher–Yates permutation of `0..n−1` and keeps an
 * index while its class has fewer than `perClass` picks; returns the picks in ascending order.
 * Throws when a class has fewer than `perClass` members.
 *
 * @param labels class label per item, `[n]`
 * @param perClass quota per class
 * @param seed mulberry32 seed
 * @param numClasses number of classes (labels in 0..numClasses−1)
 * @returns sorted indices, `[numClasses · perClass]`
 * @example
 * ```ts
 * drawBalanced(new Uint8Array([0, 1, 0, 1, 1]), 1, 7, 2); // e.g. [0, 3]
 * ```
 */
export function drawBalanced(
  labels: ArrayLike<number>,
  perClass: number,
  seed: number,
  numClasses = 10,
): Int32Array {
  const n = labels.length;
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  createRng(seed).shuffle(perm);
  const counts = new Array<number>(numClasses).fill(0);
  const picked: number[] = [];
  for (const i of perm) {
    const c = labels[i];
    if (counts[c] < perClass) {
      counts[c]++;
      picked.push(i);
    }
  }
  counts.forEach((k, c) => {
    if (k < perClass) {
      throw new Error(`drawBalanced: class ${c} has only ${k} items, fewer than ${perClass}`);
    }
  });
  return Int32Array.from(picked).sort();
}

async function readVerified(dir: string, name: string, sha256: string): Promise<IdxArray> {
  let raw: Uint8Array;
  try {
    raw = await Deno.readFile(`${dir}/${name}.gz`);
    raw = await gunzip(raw);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    raw = await Deno.readFile(`${dir}/${name}`);
  }
  const got = await sha256Hex(raw);
  if (got !== sha256) {
    throw new Error(
      `make_subset: ${dir}/${name}: content SHA-256 ${got} differs from the official ${sha256}`,
    );
  }
  return parseIdx(raw);
}

async function main(args: string[]): Promise<void> {
  let sourceDir = DEBIAN_FASHION_MNIST_DIR;
  const at = args.indexOf("--source");
  if (at >= 0) {
    if (args[at + 1] === undefined) throw new Error("make_subset: --source needs a directory");
    sourceDir = args[at + 1];
  }
  const outDir = EMBEDDED_FASHION_MNIST_DIR;
  await Deno.mkdir(outDir, { recursive: true });
  const sums: string[] = [];
  for (const split of ["train", "test"] as const) {
    const [imgFile, lblFile] = ["images", "labels"].map((kind) =>
      FASHION_MNIST_FILES.find((f) => f.split === split && f.kind === kind)!
    );
    const images = await readVerified(sourceDir, imgFile.name, imgFile.sha256);
    const labels = await readVerified(sourceDir, lblFile.name, lblFile.sha256);
    const seed = split === "train" ? SUBSET_SEED : SUBSET_SEED + 1;
    const picked = drawBalanced(labels.data, SUBSET_PER_CLASS[split], seed);
    const m = picked.length;
    const px = 28 * 28;
    const subImages = new Uint8Array(m * px);
    const subLabels = new Uint8Array(m);
    picked.forEach((src, dst) => {
      subImages.set(images.data.subarray(src * px, (src + 1) * px) as Uint8Array, dst * px);
      subLabels[dst] = labels.data[src];
    });
    const outputs: [string, IdxArray][] = [
      [imgFile.name, { dtype: "uint8", shape: [m, 28, 28], data: subImages }],
      [lblFile.name, { dtype: "uint8", shape: [m], data: subLabels }],
    ];
    for (const [name, array] of outputs) {
      const plain = encodeIdx(array);
      const gz = await gzip(plain);
      await Deno.writeFile(`${outDir}/${name}.gz`, gz);
      const gzSha = await sha256Hex(gz);
      sums.push(`${gzSha}  ${name}.gz`);
      console.log(
        `${split}: ${name}.gz  ${m} items  ${gz.length} bytes  sha256 ${gzSha}  ` +
          `content sha256 ${await sha256Hex(plain)}`,
      );
    }
    console.log(`${split}: first picked indices ${Array.from(picked.subarray(0, 5)).join(", ")}`);
  }
  await Deno.writeTextFile(`${outDir}/SHA256SUMS`, sums.join("\n") + "\n");
  console.log(`wrote ${outDir} (from ${sourceDir})`);
}

if (import.meta.main) {
  await main(Deno.args);
}
