/**
 * `deno task data`: makes the full Fashion-MNIST data set available; `deno task data <name>
 * [<root>]` checks a copy of an image data set that the user obtained (see `data/README.md`).
 *
 * **Checking a copy** (`<name>`: `cub200`, `cars196`, `sop`, `inshop`; `<root>` defaults to the
 * folder `data/README.md` suggests under `data/`): the layout is read as `lib/data/image_benchmarks.ts`
 * reads it, every listed image must exist, and the images and classes per split are printed
 * beside the published counts. Exit code 0 when every split matches, 1 otherwise (a layout error,
 * a missing image, or different counts). The `data` permission set reads `data/` only: for a copy
 * elsewhere, run `deno run -P=data --allow-read=data,<root> tools/data.ts <name> <root>`.
 *
 * **Fashion-MNIST** (no argument):
 *
 * 1. If Debian's `dataset-fashion-mnist` files are already in `/usr/share/datasets/fashion-mnist`
 *    and verify, there is nothing to do.
 * 2. Else, when running as root and `apt-get` exists: `apt-get install -y dataset-fashion-mnist`,
 *    then verify the installed files.
 * 3. Else (or if that fails): download the four official files over HTTPS from
 *    `https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/` into
 *    `data/fashion-mnist-full/` (git-ignored). Files already there and verified are skipped; a
 *    download goes to a temporary file that is renamed into place only once verified.
 *
 * Verification: each downloaded `.gz` must have the MD5 published upstream, and every file's
 * decompressed IDX content must have the SHA-256 and length in `FASHION_MNIST_FILES`
 * (`lib/data/fashion_mnist.ts`). Debian recompressed its `.gz` files, so for Debian only the
 * content is checked.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  type BenchmarkDataset,
  PUBLISHED_COUNTS,
  scanCars196,
  scanCub200,
  scanInShop,
  scanSop,
} from "../lib/data/image_benchmarks.ts";
import {
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_FILES,
  type FashionMnistFile,
  FULL_FASHION_MNIST_DIR,
} from "../lib/data/fashion_mnist.ts";

/** Base URL of the official upstream files. */
export const UPSTREAM_BASE_URL =
  "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/";

const MIB = 1024 * 1024;

function hexOf(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Checks the bytes of one official `.gz` file: optionally the MD5 of the compressed bytes, then
 * the length and SHA-256 of the decompressed content. Returns `null` when it verifies, else the
 * reason.
 *
 * @param gz the `.gz` file's bytes
 * @param file the expected checksums
 * @param checkGzMd5 also require the upstream MD5 of the compressed bytes
 * @returns `null` or a description of the mismatch
 * @example
 * ```ts
 * const why = await verifyGz(await Deno.readFile("t10k-labels-idx1-ubyte.gz"),
 *   FASHION_MNIST_FILES[3], true);
 * ```
 */
export async function verifyGz(
  gz: Uint8Array,
  file: FashionMnistFile,
  checkGzMd5: boolean,
): Promise<string | null> {
  if (checkGzMd5) {
    const md5 = createHash("md5").update(gz).digest("hex");
    if (md5 !== file.gzMd5) return `MD5 of ${file.name}.gz is ${md5}, expected ${file.gzMd5}`;
  }
  let content: Uint8Array;
  try {
    content = await gunzip(gz);
  } catch (e) {
    return `${file.name}.gz does not decompress: ${(e as Error).message}`;
  }
  if (content.length !== file.bytes) {
    return `${file.name} has ${content.length} bytes, expected ${file.bytes}`;
  }
  const sha = hexOf(await crypto.subtle.digest("SHA-256", content as Uint8Array<ArrayBuffer>));
  if (sha !== file.sha256) return `SHA-256 of ${file.name} is ${sha}, expected ${file.sha256}`;
  return null;
}

async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Verifies all four files in `dir`; returns the problems (empty when all verify). */
async function verifyDir(dir: string, checkGzMd5: boolean): Promise<string[]> {
  const problems: string[] = [];
  for (const file of FASHION_MNIST_FILES) {
    const bytes = await readIfExists(`${dir}/${file.name}.gz`);
    if (bytes === null) {
      problems.push(`${dir}/${file.name}.gz is missing`);
      continue;
    }
    const why = await verifyGz(bytes, file, checkGzMd5);
    if (why !== null) problems.push(why);
  }
  return problems;
}

function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

async function hasAptGet(): Promise<boolean> {
  try {
    const out = await new Deno.Command("apt-get", { args: ["--version"], stdout: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

async function aptInstall(): Promise<boolean> {
  console.log("running: apt-get install -y dataset-fashion-mnist");
  try {
    const status = await new Deno.Command("apt-get", {
      args: ["install", "-y", "dataset-fashion-mnist"],
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    return status.success;
  } catch (e) {
    console.error(`apt-get failed to start: ${(e as Error).message}`);
    return false;
  }
}

/**
 * Downloads `url` to `dest` atomically: the body is written to a temporary file next to `dest`
 * while progress is printed, checked with `verify`, and renamed to `dest` only when it verifies
 * (else the temporary file is removed and an `Error` is thrown).
 *
 * @param url the HTTPS URL
 * @param dest the final path
 * @param verify returns `null` when the downloaded bytes are good, else the reason
 * @example
 * ```ts
 * await download(UPSTREAM_BASE_URL + "t10k-labels-idx1-ubyte.gz",
 *   "data/fashion-mnist-full/t10k-labels-idx1-ubyte.gz",
 *   (b) => verifyGz(b, FASHION_MNIST_FILES[3], true));
 * ```
 */
export async function download(
  url: string,
  dest: string,
  verify: (bytes: Uint8Array) => Promise<string | null>,
): Promise<void> {
  const name = dest.slice(dest.lastIndexOf("/") + 1);
  const tmp = `${dest}.${Deno.pid}.part`;
  const response = await fetch(url);
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new Error(`download: GET ${url} answered ${response.status} ${response.statusText}`);
  }
  const total = Number(response.headers.get("content-length") ?? NaN);
  const chunks: Uint8Array[] = [];
  let received = 0;
  let nextReport = 0;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    for await (const chunk of response.body) {
      // Deno.FsFile.write may write fewer bytes than asked: loop until the chunk is written.
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
      chunks.push(chunk);
      received += chunk.length;
      if (received >= nextReport) {
        const pct = Number.isFinite(total) && total > 0
          ? ` (${Math.floor((100 * received) / total)}%)`
          : "";
        const of = Number.isFinite(total) ? ` / ${(total / MIB).toFixed(1)}` : "";
        console.log(`  ${name}: ${(received / MIB).toFixed(1)}${of} MiB${pct}`);
        nextReport = received + (Number.isFinite(total) ? Math.max(total / 10, 1) : 5 * MIB);
      }
    }
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`download: ${url} failed after ${received} bytes: ${(e as Error).message}`);
  }
  file.close();
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  const why = await verify(bytes);
  if (why !== null) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`download: ${url} does not verify: ${why}`);
  }
  await Deno.rename(tmp, dest);
  console.log(`  ${name}: ${(received / MIB).toFixed(1)} MiB, verified`);
}

/**
 * Downloads the four official files from `baseUrl` into `dir` (created if needed), skipping
 * files already there that verify (upstream MD5 of the `.gz` and SHA-256 of the content).
 *
 * @param dir destination directory
 * @param baseUrl URL prefix ending in `/`, followed by `<file>.gz`
 * @example
 * ```ts
 * await downloadAll("data/fashion-mnist-full", UPSTREAM_BASE_URL);
 * ```
 */
export async function downloadAll(dir: string, baseUrl: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const file of FASHION_MNIST_FILES) {
    const dest = `${dir}/${file.name}.gz`;
    const existing = await readIfExists(dest);
    if (existing !== null) {
      const why = await verifyGz(existing, file, true);
      if (why === null) {
        console.log(`  ${file.name}.gz: already present and verified, skipped`);
        continue;
      }
      console.log(`  ${file.name}.gz: present but ${why}; downloading again`);
    }
    await download(`${baseUrl}${file.name}.gz`, dest, (b) => verifyGz(b, file, true));
  }
}

async function main(): Promise<void> {
  const debian = await verifyDir(DEBIAN_FASHION_MNIST_DIR, false).catch((e) => [
    `${DEBIAN_FASHION_MNIST_DIR}: ${(e as Error).message}`,
  ]);
  if (debian.length === 0) {
    console.log(
      `Fashion-MNIST: Debian files in ${DEBIAN_FASHION_MNIST_DIR} verified; nothing to do.`,
    );
    return;
  }
  if (isRoot() && await hasAptGet()) {
    if (await aptInstall()) {
      const after = await verifyDir(DEBIAN_FASHION_MNIST_DIR, false);
      if (after.length === 0) {
        console.log(`Fashion-MNIST: installed and verified in ${DEBIAN_FASHION_MNIST_DIR}.`);
        return;
      }
      throw new Error(`Debian's Fashion-MNIST files do not verify: ${after.join("; ")}`);
    }
    console.log("apt-get install failed; downloading the official files instead.");
  }
  console.log(`Fashion-MNIST: downloading into ${FULL_FASHION_MNIST_DIR}`);
  await downloadAll(FULL_FASHION_MNIST_DIR, UPSTREAM_BASE_URL);
  console.log(`Fashion-MNIST: all four files verified in ${FULL_FASHION_MNIST_DIR}.`);
}

/** Where `deno task data <name>` looks when no root is given. */
export const DEFAULT_ROOTS: Readonly<Record<BenchmarkDataset, string>> = Object.freeze({
  cub200: "data/CUB_200_2011",
  cars196: "data/cars196",
  sop: "data/Stanford_Online_Products",
  inshop: "data/inshop",
});

/** One split of a checked copy. */
export interface SplitCount {
  /** `"train"`, `"test"`, `"query"`, `"gallery"`. */
  split: string;
  /** Images found. */
  images: number;
  /** Distinct classes. */
  classes: number;
  /** The published counts. */
  published: { images: number; classes: number };
}

/**
 * Reads a copy of a benchmark data set and counts its images and classes per split (every listed
 * image must exist).
 *
 * @param name `cub200`, `cars196`, `sop` or `inshop`
 * @param root the copy's root folder
 * @returns the counts per split, and whether all equal the published ones
 * @throws DatasetLayoutError for a layout problem or a missing image; TypeError for an unknown name.
 * @example
 * ```ts
 * const { splits, matches } = await checkDataset("cub200", "data/CUB_200_2011");
 * ```
 */
export async function checkDataset(
  name: string,
  root: string,
): Promise<{ splits: SplitCount[]; matches: boolean }> {
  const scans = { cub200: scanCub200, cars196: scanCars196, sop: scanSop, inshop: scanInShop };
  if (!(name in scans)) {
    throw new TypeError(
      `checkDataset: unknown data set "${name}"; known: ${Object.keys(scans).join(", ")}`,
    );
  }
  const dataset = name as BenchmarkDataset;
  const splits: SplitCount[] = [];
  const published = PUBLISHED_COUNTS[dataset];
  for (const split of Object.keys(published).filter((k) => k !== "all")) {
    const list = await scans[dataset](root, { subset: split });
    splits.push({
      split,
      images: list.paths.length,
      classes: new Set(list.labels).size,
      published: published[split],
    });
  }
  const matches = splits.every((s) =>
    s.images === s.published.images && s.classes === s.published.classes
  );
  return { splits, matches };
}

async function checkMain(name: string, rootArg: string | undefined): Promise<number> {
  if (!(name in DEFAULT_ROOTS)) {
    throw new TypeError(
      `unknown data set "${name}"; known: fashion-mnist, ${Object.keys(DEFAULT_ROOTS).join(", ")}`,
    );
  }
  const root = rootArg ?? DEFAULT_ROOTS[name as BenchmarkDataset];
  console.log(`${name}: checking ${root}`);
  let result;
  try {
    result = await checkDataset(name, root);
  } catch (e) {
    const errors = Deno.errors as unknown as Record<string, ErrorConstructor | undefined>;
    const denied = [errors.NotCapable, errors.PermissionDenied].some((c) =>
      c !== undefined && ((e as Error).cause instanceof c || e instanceof c)
    );
    if (denied) {
      console.error(
        `deno task data: no permission to read ${root}; the data task reads data/ only. Put the copy under data/ ` +
          `or run: deno run -P=data --allow-read=data,${root} tools/data.ts ${name} ${root}`,
      );
      return 1;
    }
    throw e;
  }
  console.log(`${"split".padEnd(8)} ${"images".padStart(8)} ${"classes".padStart(8)}   published`);
  for (const s of result.splits) {
    const same = s.images === s.published.images && s.classes === s.published.classes;
    console.log(
      `${s.split.padEnd(8)} ${String(s.images).padStart(8)} ${String(s.classes).padStart(8)}   ` +
        `${s.published.images} images, ${s.published.classes} classes${same ? "" : "   DIFFERENT"}`,
    );
  }
  console.log(
    result.matches
      ? `${name}: the copy in ${root} matches the published counts.`
      : `${name}: the copy in ${root} differs from the published counts (incomplete or another version).`,
  );
  return result.matches ? 0 : 1;
}

if (import.meta.main) {
  const [name, root] = Deno.args;
  if (name !== undefined && name !== "fashion-mnist") {
    try {
      Deno.exit(await checkMain(name, root));
    } catch (e) {
      console.error(`deno task data: ${(e as Error).name}: ${(e as Error).message}`);
      Deno.exit(1);
    }
  }
  try {
    await main();
  } catch (e) {
    console.error(`deno task data: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
