/**
 * `deno task bench losses`: the training step of the reference CNN (batch 128, Adam, wasm with
 * the project's kernels) with every loss of `lib/losses` — each exported loss at its defaults,
 * found automatically, losses with learnable parameters through their `TrainableLoss` with 10
 * classes — measured in one process, interleaved in rounds (the best round counts: other load
 * on a shared machine only ever slows a step down), and printed as ms per step and the ratio to
 * the contrastive loss's step, by wall time and by the process's CPU time. The same table
 * profiles one forward and backward pass of each loss alone on `[128, 64]` embeddings: the
 * largest tensor any kernel produced (against n³) and the peak memory, so that a loss
 * materialising an `[n, n, n]` tensor shows.
 *
 * Options: `--batch 128`, `--steps 8` (timed steps per round), `--rounds 3`, `--warmup 2`,
 * `--only a,b` (loss names; the contrastive loss is always measured), `--no-simd`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import { loadBenchData, useBackend } from "./train_bench.ts";
import { referenceCnn } from "../lib/models/mod.ts";
import * as losses from "../lib/losses/mod.ts";
import type { Loss, LossOptions } from "../lib/losses/mod.ts";

/** Parsed options of `bench losses`. */
export interface LossesBenchArgs {
  /** Batch size. */
  batch: number;
  /** Timed steps per round. */
  steps: number;
  /** Rounds (each loss once per round). */
  rounds: number;
  /** Untimed steps per loss before the first round. */
  warmup: number;
  /** Loss names to measure (empty: all). */
  only: string[];
  /** SIMD route of the wasm kernels. */
  simd: boolean;
}

/**
 * Parses `bench losses` options; throws on unknown options and bad numbers.
 *
 * @example
 * ```ts
 * import { parseLossesArgs } from "./losses_bench.ts";
 * parseLossesArgs(["--steps", "4"]).steps; // 4
 * ```
 */
export function parseLossesArgs(argv: string[]): LossesBenchArgs {
  const a: LossesBenchArgs = { batch: 128, steps: 8, rounds: 3, warmup: 2, only: [], simd: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const num = (min: number) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) {
        throw new Error(`bench losses: ${flag} needs an integer ≥ ${min}, got ${argv[i]}`);
      }
      return v;
    };
    if (flag === "--batch") a.batch = num(2);
    else if (flag === "--steps") a.steps = num(1);
    else if (flag === "--rounds") a.rounds = num(1);
    else if (flag === "--warmup") a.warmup = num(0);
    else if (flag === "--only") a.only = (argv[++i] ?? "").split(",").filter(Boolean);
    else if (flag === "--no-simd") a.simd = false;
    else throw new Error(`bench losses: unknown option ${flag}`);
  }
  return a;
}

/**
 * Options that PML requires without a default, for the losses that have such options (the
 * paper's values): every other loss runs at its defaults.
 */
const REQUIRED_OPTIONS: Record<string, Record<string, unknown>> = {
  rankedListLoss: { margin: 0.4, Tn: 10 },
};

/** A loss of the registry, ready to train. */
interface Entry {
  name: string;
  loss: Loss<LossOptions>;
  /** The loss's own variables (losses with parameters). */
  variables: tf.Variable[];
  call: (e: tf.Tensor2D, y: Int32Array) => tf.Scalar;
  dispose: () => void;
  cubic: boolean;
}

/**
 * Every loss exported by `lib/losses/mod.ts`, at its defaults (PML's required options at the
 * paper's values); a loss with learnable parameters as a `TrainableLoss` with 64-d embeddings
 * (and 10 classes where it has `numClasses`); a label-free loss without labels (VICReg with the
 * batch's two halves as its two views). Returns the entries and the losses that could not be set
 * up, with the reason.
 *
 * @example
 * ```ts
 * import { lossRegistry } from "./losses_bench.ts";
 * const { entries } = lossRegistry();
 * console.log(entries.map((e) => e.name).includes("contrastiveLoss")); // true
 * ```
 */
export function lossRegistry(): { entries: Entry[]; skipped: [string, string][] } {
  const entries: Entry[] = [];
  const skipped: [string, string][] = [];
  for (const [name, value] of Object.entries(losses)) {
    if (!losses.isLoss(value)) continue;
    const loss = value as Loss<LossOptions>;
    const def = loss.definition;
    const cubic = def.cubic === true;
    const options = (REQUIRED_OPTIONS[name] ?? {}) as LossOptions;
    const specs = def.options as Record<string, { parameter?: unknown }>;
    const hasParameters = Object.values(specs).some((s) => s.parameter);
    let base: (e: tf.Tensor2D, y: Int32Array | undefined, o: LossOptions) => tf.Scalar;
    let variables: tf.Variable[] = [], dispose = () => {};
    if (!hasParameters) {
      base = (e, y, o) => loss(e, y, o);
    } else {
      try {
        const setup = {
          ...(specs.numClasses ? { numClasses: 10 } : {}),
          embeddingSize: 64,
          seed: 0,
        };
        const t = new losses.TrainableLoss(
          loss,
          { ...options, ...setup } as LossOptions & typeof setup,
        );
        base = (e, y, o) => t.call(e, y, o);
        variables = t.trainableWeights;
        dispose = () => t.dispose();
      } catch (e) {
        skipped.push([name, (e as Error).message]);
        continue;
      }
    }
    // A loss without labels (PML's labels_not_supported) gets none; one that takes a second view
    // (VICReg) gets the batch's two halves as its two views.
    const call = def.labels !== false
      ? (e: tf.Tensor2D, y: Int32Array) => base(e, y, options)
      : def.ref !== false
      ? (e: tf.Tensor2D) => {
        const half = Math.floor(e.shape[0] / 2);
        return base(tf.slice(e, [0, 0], [half, -1]), undefined, {
          ...options,
          refEmbeddings: tf.slice(e, [half, 0], [half, -1]),
        });
      }
      : (e: tf.Tensor2D) => base(e, undefined, options);
    entries.push({ name, loss, variables, call, dispose, cubic });
  }
  return { entries, skipped };
}

/** Profile of one forward and backward pass of a loss alone. */
interface Footprint {
  /** Elements of the largest tensor a kernel produced. */
  largest: number;
  /** Peak bytes during the pass. */
  peakBytes: number;
}

async function footprint(entry: Entry, n: number, labels: Int32Array): Promise<Footprint> {
  const e = tf.tidy(() => tf.randomNormal([n, 64], 0, 1, "float32", 5)) as tf.Tensor2D;
  const info = await tf.profile(() => {
    const g = tf.grad((x: tf.Tensor) => entry.call(x as tf.Tensor2D, labels))(e);
    g.dispose();
  });
  e.dispose();
  const size = (s: number[] | undefined) => (s ?? []).reduce((a, b) => a * b, 1);
  const largest = Math.max(
    0,
    ...info.kernels.map((k) => k.outputShapes.reduce((m, s) => Math.max(m, size(s)), 0)),
  );
  return { largest, peakBytes: info.peakBytes };
}

const pad = (s: string, w: number, left = false) => left ? s.padEnd(w) : s.padStart(w);

/**
 * Runs the bench and prints its two tables.
 *
 * @example
 * ```ts
 * import { runLossesBench } from "./losses_bench.ts";
 * await runLossesBench(["--steps", "1", "--rounds", "1", "--only", "tripletMarginLoss"]);
 * ```
 */
export async function runLossesBench(argv: string[]): Promise<void> {
  const args = parseLossesArgs(argv);
  tf.env().set("PROD", true);
  const backend = await useBackend("wasm", args.simd);
  const { entries: all, skipped } = lossRegistry();
  const entries = all.filter((e) =>
    args.only.length === 0 || args.only.includes(e.name) || e.name === "contrastiveLoss"
  );
  const unknown = args.only.filter((n) => !all.some((e) => e.name === n));
  if (unknown.length) throw new Error(`bench losses: unknown loss(es) ${unknown.join(", ")}`);
  const nBatches = 8;
  const data = await loadBenchData(nBatches * args.batch);
  console.log(
    `bench losses: Deno ${Deno.version.deno}, tfjs ${tf.version.tfjs}, ${backend}, one thread; ` +
      `reference CNN (64-d, L2-normalised), Adam(1e-3), batch ${args.batch}; data ${data.source}`,
  );
  console.log(
    `${entries.length} losses, ${args.rounds} rounds × ${args.steps} timed steps each ` +
      `(after ${args.warmup} warm-up steps); the best round counts`,
  );
  const x = tf.tensor4d(data.images, [data.n, 28, 28, 1]);
  const model = referenceCnn({ seed: 0 });
  const modelVars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizers = new Map(entries.map((e) => [e.name, tf.train.adam(1e-3)]));
  let cursor = 0;
  const step = async (entry: Entry) => {
    const b = cursor++ % nBatches;
    const y = data.labels.slice(b * args.batch, (b + 1) * args.batch);
    const cost = optimizers.get(entry.name)!.minimize(
      () => {
        const xb = tf.slice(x, [b * args.batch, 0, 0, 0], [args.batch, 28, 28, 1]);
        return entry.call(model.apply(xb, { training: true }) as tf.Tensor2D, y);
      },
      true,
      [...modelVars, ...entry.variables],
    );
    const v = (await cost!.data())[0];
    cost!.dispose();
    return v;
  };
  const best = new Map<string, number>();
  const bestCpu = new Map<string, number>();
  const failed = new Map<string, string>();
  try {
    for (const e of entries) {
      try {
        for (let i = 0; i < args.warmup; i++) await step(e);
      } catch (err) {
        failed.set(e.name, (err as Error).message);
      }
    }
    for (let r = 0; r < args.rounds; r++) {
      for (const e of entries) {
        if (failed.has(e.name)) continue;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < args.steps; i++) await step(e);
        const ms = (performance.now() - t0) / args.steps;
        const cpu = process.cpuUsage(c0);
        const cpuMs = (cpu.user + cpu.system) / 1000 / args.steps;
        best.set(e.name, Math.min(best.get(e.name) ?? Infinity, ms));
        bestCpu.set(e.name, Math.min(bestCpu.get(e.name) ?? Infinity, cpuMs));
      }
    }
  } finally {
    x.dispose();
    model.dispose();
    for (const o of optimizers.values()) o.dispose();
  }
  const ref = best.get("contrastiveLoss");
  const refCpu = bestCpu.get("contrastiveLoss");
  const n = args.batch;
  const labels = data.labels.slice(0, n);
  console.log(
    `\n${pad("loss", 32, true)}  ${pad("ms/step", 8)}  ${pad("× contr.", 8)}  ${
      pad("cpu ms", 7)
    }  ${pad("× contr.", 8)}  ${pad("largest tensor", 14)}  ${pad("/ n³", 7)}  ${
      pad("peak MB", 8)
    }  note`,
  );
  let over = 0, cubicCount = 0;
  for (const e of entries) {
    if (failed.has(e.name)) {
      console.log(`${pad(e.name, 32, true)}  failed: ${failed.get(e.name)}`);
      continue;
    }
    const ms = best.get(e.name)!;
    const ratio = ref ? ms / ref : NaN;
    const cpuMs = bestCpu.get(e.name)!;
    const cpuRatio = refCpu ? cpuMs / refCpu : NaN;
    const fp = await footprint(e, n, labels);
    const cubic = fp.largest >= n ** 3 / 16;
    const limit = e.cubic ? 3 : 1.5;
    const notes: string[] = [];
    if (cubic) notes.push(e.cubic ? "[n, n, n] by definition" : "MATERIALISES [n, n, n]");
    if (ratio > limit) notes.push(`over ${limit}×`);
    if (cubic && !e.cubic) cubicCount++;
    if (ratio > limit) over++;
    console.log(
      `${pad(e.name, 32, true)}  ${pad(ms.toFixed(1), 8)}  ${pad(ratio.toFixed(2) + "×", 8)}  ${
        pad(cpuMs.toFixed(1), 7)
      }  ${pad(cpuRatio.toFixed(2) + "×", 8)}  ${pad(fp.largest.toLocaleString("en"), 14)}  ${
        pad((fp.largest / n ** 3).toFixed(4), 7)
      }  ${pad((fp.peakBytes / 2 ** 20).toFixed(1), 8)}  ${notes.join("; ")}`,
    );
    e.dispose();
  }
  for (const [name, why] of skipped) console.log(`${pad(name, 32, true)}  skipped: ${why}`);
  console.log(
    `\n${cubicCount} loss(es) materialise an [n, n, n] tensor (≥ n³/16 elements in one kernel ` +
      `output) without being cubic by definition; ${over} step(s) over the limit ` +
      `(1.5× the contrastive step by wall time, 3× for SmoothAP/PNP). Wall and CPU time per step ` +
      `are each the best round's; CPU time is less disturbed by other load on the machine.`,
  );
}

if (import.meta.main) await runLossesBench(Deno.args);
