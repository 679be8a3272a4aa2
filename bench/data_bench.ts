/**
 * `deno task bench data [--parts decode,train,memory]`: the image pipeline's speed and memory,
 * each side by side in one run.
 *
 * - **decode**: 256×256 JPEG files (generated, quality 90) → 64×64 RGB float32: images/s of each
 *   stage on one thread (decoding with `@jsquash/jpeg`, mozjpeg in WebAssembly, the decoder used,
 *   and with `jpeg-js`, the pure-JavaScript one used only for CMYK files; `pica` resizing), of the
 *   whole pipeline on this thread and with 1 and 2 decoding workers, and of Pillow
 *   (`Image.open(...).convert("RGB").resize((64, 64), HAMMING)`, torchvision's loader, one thread,
 *   `bench/data_pil.py`) on the same files.
 * - **train**: the ResNet-style encoder (width 16, depth [1, 1, 1], 64×64 RGB, contrastive loss,
 *   batch 32, Adam) trained on wasm on the same 256×256 JPEG folder twice: from tensors loaded
 *   beforehand, and streamed from the folder by `imageBatches` (decoded by a worker, `prefetch`
 *   batches ahead, while the step runs). Same seeds, same batches; rounds alternate and the best
 *   of each side counts. Prints both images/s and the slowdown (the target: at most 20%).
 * - **memory**: a generated folder of `--n` (default 20,000) 32×32 JPEG images in 100 classes:
 *   the peak resident-set growth of one streamed epoch (batch 128, prefetch 2, one worker) and of
 *   loading all images in memory, each beside the bound that `lib/data/image_loader.ts` states;
 *   the streamed epoch is repeated on the first tenth of the list to show that its memory does
 *   not grow with the number of images.
 *
 * Options: `--parts decode,train,memory`, `--images 200` (decode set), `--steps 15` (timed training
 * steps), `--rounds 2`, `--n 20000` (memory set), `--dir /tmp/simlearn-bench-data` (generated
 * files are kept there and reused).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import jpeg from "jpeg-js";
import { Pica } from "pica";
import { initBackend } from "../lib/backend.ts";
import { encodeImage } from "../lib/data/images.ts";
import { decodeJpeg } from "../lib/data/_jpeg.ts";
import { scanImageFolder } from "../lib/data/image_folder.ts";
import { imageBatches, loadImages } from "../lib/data/image_loader.ts";
import { shuffledBatches } from "../lib/data/batches.ts";
import { createRng } from "../lib/data/random.ts";
import { resnetEncoder } from "../lib/models/resnet.ts";
import { contrastiveLoss } from "../lib/losses/mod.ts";
import { train } from "../lib/train.ts";

interface DataBenchArgs {
  parts: string[];
  images: number;
  steps: number;
  rounds: number;
  n: number;
  dir: string;
}

/**
 * Parses the options (see the module documentation).
 *
 * @example
 * ```ts
 * import { parseDataBenchArgs } from "./data_bench.ts";
 * parseDataBenchArgs(["--parts", "decode"]).parts; // ["decode"]
 * ```
 */
export function parseDataBenchArgs(argv: string[]): DataBenchArgs {
  const a: DataBenchArgs = {
    parts: ["decode", "train", "memory"],
    images: 200,
    steps: 15,
    rounds: 2,
    n: 20000,
    dir: "/tmp/simlearn-bench-data",
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], v = argv[++i];
    const num = () => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < 1) {
        throw new Error(`bench data: ${flag} needs a positive integer, got ${v}`);
      }
      return x;
    };
    if (flag === "--parts") {
      a.parts = (v ?? "").split(",");
      const bad = a.parts.filter((p) => !["decode", "train", "memory"].includes(p));
      if (bad.length) throw new Error(`bench data: --parts takes decode,train,memory, got ${v}`);
    } else if (flag === "--images") a.images = num();
    else if (flag === "--steps") a.steps = num();
    else if (flag === "--rounds") a.rounds = num();
    else if (flag === "--n") a.n = num();
    else if (flag === "--dir") a.dir = v;
    else throw new Error(`bench data: unknown option ${flag}`);
  }
  return a;
}

/** A smooth, textured colour picture (gradients, blobs and noise), `side²·3` bytes. */
function picture(side: number, seed: number, cls: number): Uint8Array {
  const rng = createRng(seed);
  const out = new Uint8Array(side * side * 3);
  const cx = rng.next() * side, cy = rng.next() * side, r = side * (0.2 + 0.3 * rng.next());
  const hue = [(cls * 73) % 256, (cls * 151) % 256, (cls * 199) % 256];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      const i = 3 * (y * side + x);
      for (let c = 0; c < 3; c++) {
        const base = inside ? hue[c] : (x * (c + 1) * 255) / side / 3 + (y * 255) / side / 2;
        out[i + c] = Math.max(0, Math.min(255, Math.round(base + (rng.next() - 0.5) * 40)));
      }
    }
  }
  return out;
}

/**
 * Writes (or reuses) `classes × perClass` JPEGs of `side` px under `root`; returns the root. With
 * `distinct`, only that many different pictures per class are encoded and their bytes repeated
 * (enough for the memory check, where the content does not matter).
 */
async function makeFolder(
  root: string,
  classes: number,
  perClass: number,
  side: number,
  distinct = perClass,
): Promise<string> {
  const marker = `${root}/.complete`;
  try {
    await Deno.stat(marker);
    return root;
  } catch { /* generate */ }
  await Deno.remove(root, { recursive: true }).catch(() => {});
  const started = performance.now();
  for (let c = 0; c < classes; c++) {
    const dir = `${root}/class${String(c).padStart(3, "0")}`;
    await Deno.mkdir(dir, { recursive: true });
    const pictures: Uint8Array[] = [];
    for (let k = 0; k < perClass; k++) {
      const bytes = pictures[k % distinct] ??= encodeImage(picture(side, c * 100003 + k, c), {
        width: side,
        height: side,
        channels: 3,
        format: "jpeg",
        quality: 90,
      });
      await Deno.writeFile(`${dir}/${String(k).padStart(5, "0")}.jpg`, bytes);
    }
  }
  await Deno.writeTextFile(marker, "");
  console.log(
    `  generated ${classes * perClass} ${side}×${side} JPEGs in ${root} (${
      ((performance.now() - started) / 1000).toFixed(1)
    } s)`,
  );
  return root;
}

function rate(count: number, ms: number): number {
  return (count * 1000) / ms;
}

async function timeIt(fn: () => Promise<void> | void): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function pillow(dir: string, side: number): Promise<number | undefined> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [new URL("./data_pil.py", import.meta.url).pathname, dir, String(side)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.log(`  Pillow: ${new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)}`);
      return undefined;
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)).imagesPerSecond;
  } catch (e) {
    console.log(`  Pillow unavailable: ${(e as Error).message}`);
    return undefined;
  }
}

async function decodePart(args: DataBenchArgs): Promise<void> {
  const perClass = Math.ceil(args.images / 10);
  const root = await makeFolder(`${args.dir}/jpeg256-${perClass * 10}`, 10, perClass, 256);
  const list = await scanImageFolder(root);
  const files = await Promise.all(list.paths.map((p) => Deno.readFile(p)));
  const n = files.length;
  console.log(
    `\ndecode + resize: ${n} JPEG files 256×256 (quality 90) → 64×64 RGB float32, images/s`,
  );
  const rows: [string, number][] = [];
  const decoded: { data: Uint8Array }[] = [];
  rows.push([
    "jpeg-js decode (pure JS, 1 thread; CMYK files only)",
    rate(
      n,
      await timeIt(() => {
        decoded.length = 0;
        for (const b of files) {
          decoded.push(jpeg.decode(b, { useTArray: true, formatAsRGBA: true }));
        }
      }),
    ),
  ]);
  await decodeJpeg(files[0], 100);
  const mozjpeg = await timeIt(async () => {
    for (const b of files) await decodeJpeg(b, 100);
  });
  rows.push(["@jsquash/jpeg decode (mozjpeg wasm, 1 thread; used)", rate(n, mozjpeg)]);
  const pica = new Pica({ features: ["js", "wasm"] });
  await pica.resizeBuffer({
    src: decoded[0].data,
    width: 256,
    height: 256,
    toWidth: 64,
    toHeight: 64,
    filter: "hamming",
  });
  rows.push([
    "pica resize 256→64, hamming (1 thread)",
    rate(
      n,
      await timeIt(async () => {
        for (const d of decoded) {
          await pica.resizeBuffer({
            src: d.data,
            width: 256,
            height: 256,
            toWidth: 64,
            toHeight: 64,
            filter: "hamming",
          });
        }
      }),
    ),
  ]);
  const pipeline: Record<string, number> = {};
  for (const workers of [0, 1, 2]) {
    await loadImages(list, { size: 64, workers, progress: false }); // warm-up (worker start)
    const ms = await timeIt(async () => {
      await loadImages(list, { size: 64, workers, progress: false });
    });
    pipeline[workers] = rate(n, ms);
    rows.push([
      workers === 0
        ? "ours: read + decode + resize + float (this thread)"
        : `ours: loadImages, ${workers} worker${workers > 1 ? "s" : ""}`,
      pipeline[workers],
    ]);
  }
  const pil = await pillow(root, 64);
  if (pil !== undefined) rows.push(["Pillow: open + convert RGB + resize HAMMING (1 thread)", pil]);
  for (const [name, v] of rows) console.log(`  ${name.padEnd(58)} ${v.toFixed(0).padStart(7)}`);
  if (pil !== undefined) {
    console.log(
      `  ours (1 thread) / Pillow: ${(pipeline[0] / pil).toFixed(2)}×; with 2 workers: ${
        (pipeline[2] / pil).toFixed(2)
      }×`,
    );
  }
}

async function trainRun(
  sampler: Parameters<typeof train>[0]["sampler"],
  steps: number,
  seed: number,
): Promise<number> {
  const model = resnetEncoder({ inputShape: [64, 64, 3], width: 16, depth: [1, 1, 1], seed });
  const optimizer = tf.train.adam(1e-3);
  const loss = (e: tf.Tensor2D, y: tf.Tensor1D) => contrastiveLoss(e, y);
  await train({ model, loss, sampler, steps: 2, optimizer, progress: false });
  const r = await train({ model, loss, sampler, steps, optimizer, progress: false });
  optimizer.dispose();
  model.dispose();
  return r.imagesPerSecond;
}

async function trainPart(args: DataBenchArgs): Promise<void> {
  const info = await initBackend("wasm");
  const root = await makeFolder(`${args.dir}/jpeg256-train`, 10, 40, 256);
  const list = await scanImageFolder(root);
  console.log(
    `\ntrain on a folder vs in memory: ${list.paths.length} JPEGs 256×256 → 64×64, ResNet (width 16, ` +
      `depth [1, 1, 1]), contrastive, batch 32, ${args.steps} timed steps, backend ${info.backend}`,
  );
  const ds = await loadImages(list, { size: 64, progress: false });
  const x = tf.tensor4d(ds.images, ds.shape);
  const best = { memory: 0, folder: 0 };
  for (let round = 0; round < args.rounds; round++) {
    const memory = await trainRun(
      shuffledBatches(x, ds.labels, { batchSize: 32, seed: round }),
      args.steps,
      round,
    );
    const stream = imageBatches(list, {
      size: 64,
      batchSize: 32,
      seed: round,
      prefetch: 2,
      workers: 1,
    });
    const folder = await trainRun(stream, args.steps, round);
    await stream.close();
    console.log(
      `  round ${round + 1}: in memory ${memory.toFixed(1)} images/s, from the folder ${
        folder.toFixed(1)
      } images/s`,
    );
    best.memory = Math.max(best.memory, memory);
    best.folder = Math.max(best.folder, folder);
  }
  x.dispose();
  const slowdown = 1 - best.folder / best.memory;
  console.log(
    `  best: in memory ${best.memory.toFixed(1)}, folder ${
      best.folder.toFixed(1)
    } images/s; the folder is ` +
      `${(100 * slowdown).toFixed(1)}% ${
        slowdown >= 0 ? "slower" : "faster"
      } (target: at most 20% slower) — ` +
      (slowdown <= 0.2 ? "met" : "NOT met"),
  );
}

/** Peak resident-set growth (bytes) while `fn` runs, sampled every 10 ms. */
async function peakGrowth(fn: () => Promise<void>): Promise<{ growth: number; ms: number }> {
  const base = Deno.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 10);
  const ms = await timeIt(fn);
  clearInterval(timer);
  peak = Math.max(peak, Deno.memoryUsage().rss, await highWaterMark());
  return { growth: peak - base, ms };
}

/** The process's peak resident set (Linux `VmHWM`), bytes; 0 where unavailable. */
async function highWaterMark(): Promise<number> {
  try {
    const status = await Deno.readTextFile("/proc/self/status");
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

const MIB = 1024 * 1024;
const MEMORY = { classes: 100, side: 32, batch: 128, prefetch: 2, workers: 1, channels: 3 };

/**
 * One memory measurement in a fresh process (so that memory freed by an earlier measurement and
 * kept by the allocator does not hide the next one's growth): `worker` (a pool decoding 64 images,
 * left open), `stream <count> <epochs>`, `load <count>`. Prints JSON `{ growth, ms }`.
 */
async function probe(kind: string, root: string, count: number, epochs: number): Promise<void> {
  const all = await scanImageFolder(root);
  const list = { ...all, paths: all.paths.slice(0, count), labels: all.labels.slice(0, count) };
  const { side, batch, prefetch, workers } = MEMORY;
  let result;
  if (kind === "worker") {
    const few = { ...all, paths: all.paths.slice(0, 64), labels: all.labels.slice(0, 64) };
    result = await peakGrowth(async () => {
      await loadImages(few, { size: side, workers, progress: false, minPerClass: 1 });
    });
  } else if (kind === "stream") {
    result = await peakGrowth(async () => {
      const b = imageBatches(list, { size: side, batchSize: batch, prefetch, workers, seed: 0 });
      for (let e = 0; e < epochs; e++) {
        for (let i = 0; i < b.batchesPerEpoch; i++) {
          const { x, y } = await b.next();
          tf.dispose([x, y]);
        }
      }
      await b.close();
    });
  } else {
    result = await peakGrowth(async () => {
      const ds = await loadImages(list, { size: side, workers, progress: false });
      if (ds.n !== count) throw new Error("bench data: images lost");
    });
  }
  console.log(JSON.stringify(result));
}

async function runProbe(args: string[]): Promise<{ growth: number; ms: number }> {
  const out = await new Deno.Command("deno", {
    args: ["run", "-P=bench", new URL(import.meta.url).pathname, "--probe", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) {
    throw new Error(
      `bench data: probe ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(text);
}

async function memoryPart(args: DataBenchArgs): Promise<void> {
  const { classes, side, batch: b, prefetch: p, workers: k, channels: c } = MEMORY;
  const perClass = Math.ceil(args.n / classes);
  const root = await makeFolder(
    `${args.dir}/jpeg32-${classes * perClass}`,
    classes,
    perClass,
    side,
    4,
  );
  const list = await scanImageFolder(root);
  const n = list.paths.length;
  const pathBytes = list.paths.reduce((s, q) => s + 2 * q.length, 0) + 8 * n;
  // Each measurement runs in a fresh process (see `probe`).
  const worker = await runProbe(["worker", root, "64", "1"]);
  const workerBytes = worker.growth;
  const allowance = 128 * MIB; // V8 and wasm heap growth, buffers awaiting garbage collection
  console.log(
    `\nmemory: ${n} JPEGs ${side}×${side} in ${classes} classes, output ${side}×${side}×${c}; ` +
      `each row measured in a fresh process (peak resident set − resident set before)`,
  );
  console.log(
    `  a decoding worker with its decoders (measured, decoding 64 images): ${
      (workerBytes / MIB).toFixed(1)
    } MiB; ` +
      `allowance ${allowance / MIB} MiB; the list of ${n} paths: ${
        (pathBytes / MIB).toFixed(1)
      } MiB`,
  );
  const streamBound = (count: number) =>
    (p + 2) * b * side * side * c * 4 + count * 12 + k * workerBytes + allowance;
  const memoryBound = (count: number) =>
    count * side * side * c * 4 + 2 * k * 16 * side * side * c * 4 + k * workerBytes + allowance;
  const tenth = Math.floor(n / 10);
  const rows: [string, number, { growth: number; ms: number }, number][] = [
    [
      "imageBatches, 1 epoch",
      tenth,
      await runProbe(["stream", root, String(tenth), "1"]),
      streamBound(tenth),
    ],
    ["imageBatches, 1 epoch", n, await runProbe(["stream", root, String(n), "1"]), streamBound(n)],
    ["imageBatches, 4 epochs", n, await runProbe(["stream", root, String(n), "4"]), streamBound(n)],
    [
      "loadImages (all in memory)",
      tenth,
      await runProbe(["load", root, String(tenth), "1"]),
      memoryBound(tenth),
    ],
    [
      "loadImages (all in memory)",
      n,
      await runProbe(["load", root, String(n), "1"]),
      memoryBound(n),
    ],
  ];
  for (const [name, count, r, bound] of rows) {
    console.log(
      `  ${name.padEnd(28)} ${String(count).padStart(6)} images ${
        (r.ms / 1000).toFixed(1).padStart(6)
      } s  ` +
        `peak growth ${(r.growth / MIB).toFixed(1).padStart(7)} MiB  bound ${
          (bound / MIB).toFixed(1).padStart(7)
        } MiB  ` +
        (r.growth <= bound ? "within" : "EXCEEDED"),
    );
  }
  console.log(
    `  bounds (b = ${b}, p = ${p}, k = ${k}): stream (p + 2)·b·h·w·c·4 + 12·n + k·worker + allowance; ` +
      `in memory n·h·w·c·4 + 2k·16·h·w·c·4 + k·worker + allowance`,
  );
}

/**
 * Runs the data benchmark (see the module documentation).
 *
 * @example
 * ```ts
 * import { runDataBench } from "./data_bench.ts";
 * await runDataBench(["--parts", "decode", "--images", "50"]);
 * ```
 */
export async function runDataBench(argv: string[]): Promise<void> {
  const args = parseDataBenchArgs(argv);
  tf.env().set("PROD", true);
  console.log(
    `bench data: Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores (shared: timings are noisy), files in ${args.dir}`,
  );
  if (args.parts.includes("decode")) await decodePart(args);
  if (args.parts.includes("train")) await trainPart(args);
  if (args.parts.includes("memory")) await memoryPart(args);
}

if (import.meta.main) {
  const [flag, kind, root, count, epochs] = Deno.args;
  if (flag !== "--probe") {
    throw new Error("bench/data_bench.ts: run it through `deno task bench data`");
  }
  await initBackend("wasm");
  await probe(kind, root, Number(count), Number(epochs));
}
