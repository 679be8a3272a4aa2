/**
 * Side-by-side benchmarks. `deno task bench train [options]` trains the reference CNN and the MLP
 * encoder (contrastive loss, Adam, batch 128) with TensorFlow.js on `wasm` (with our kernels, on
 * all cores by default) and with PyTorch on the CPU at 1 and at 2 threads (its best counts), on
 * the same batches, in one process run, alternating rounds; prints images/s (best and median of
 * the rounds), thread counts and the ratio to PyTorch's best, and the targets of issue 19 (CNN
 * ≥ 1.3×, MLP ≥ 0.8×); the tfjs `cpu` and `webgpu` backends are measured for the record.
 *
 * Options:
 *   --models cnn,mlp            encoders to train
 *   --backends wasm,torch,cpu,webgpu
 *   --batch 128                 batch size (the cpu backend trains the CNN on --cpu-batch)
 *   --seconds 10                time budget of each timed run (wasm, torch)
 *   --steps 300                 at most this many timed steps (wasm, torch); 300 is the default
 *                               experiment's length (rounds of 60 MLP steps lasted 0.3 s and
 *                               measured mostly a round's start and the machine's noise)
 *   --warmup 3                  untimed steps first
 *   --rounds 3                  alternating rounds of PyTorch and wasm (best and median reported)
 *   --threads N                 threads of the wasm kernels (default: all cores)
 *   --torch-threads 1,2         PyTorch's thread counts (the fastest counts)
 *   --cpu-batch 16              batch of the CNN on the (very slow) cpu backend
 *   --webgpu-steps 3            timed steps on webgpu (slow on a software adapter)
 *   --no-simd                   wasm: our kernels' XNNPACK route instead of the SIMD route
 *   --profile                   CPU and wall time per kernel and outside kernels of a training
 *                               step (instead of the timing runs)
 *   --top 25                    rows of the profile
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type BenchBackend,
  type BenchData,
  type BenchResult,
  loadBenchData,
  type ModelKind,
  probeTorch,
  profileStep,
  resolveLoss,
  trainTfjs,
  trainTorch,
  useBackend,
  writeBenchData,
} from "./train_bench.ts";

/** Parsed command line of `bench train`. */
export interface TrainArgs {
  /** Encoders. */
  models: ModelKind[];
  /** Backends. */
  backends: BenchBackend[];
  /** Batch size. */
  batch: number;
  /** Time budget per run, seconds. */
  seconds: number;
  /** Timed step cap. */
  steps: number;
  /** Untimed steps. */
  warmup: number;
  /** CNN batch on the cpu backend. */
  cpuBatch: number;
  /** Timed steps on webgpu. */
  webgpuSteps: number;
  /** Use the SIMD route of our wasm kernels. */
  simd: boolean;
  /** Profile instead of timing. */
  profile: boolean;
  /** Profile rows. */
  top: number;
  /** Alternating rounds of PyTorch and wasm; best and median reported. */
  rounds: number;
  /** Threads of the wasm kernels (undefined: all cores). */
  threads?: number;
  /** PyTorch's thread counts. */
  torchThreads: number[];
}

/**
 * Parses `bench train` options (see the module documentation); throws on unknown options.
 *
 * @example
 * ```ts
 * import { parseTrainArgs } from "./main.ts";
 * parseTrainArgs(["--models", "cnn", "--profile"]).profile; // true
 * ```
 */
export function parseTrainArgs(argv: string[]): TrainArgs {
  const a: TrainArgs = {
    models: ["cnn", "mlp"],
    backends: ["wasm", "torch", "cpu", "webgpu"],
    batch: 128,
    seconds: 10,
    steps: 300,
    warmup: 3,
    cpuBatch: 16,
    webgpuSteps: 3,
    simd: true,
    profile: false,
    top: 25,
    rounds: 3,
    torchThreads: [1, 2],
  };
  const num = (flag: string, v: string | undefined) => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || x <= 0) {
      throw new Error(`bench train: ${flag} needs a positive number, got ${v}`);
    }
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => argv[++i];
    switch (flag) {
      case "--models": {
        const v = (next() ?? "").split(",");
        if (v.some((m) => m !== "cnn" && m !== "mlp")) {
          throw new Error(`bench train: --models takes cnn,mlp, got ${v}`);
        }
        a.models = v as ModelKind[];
        break;
      }
      case "--backends": {
        const v = (next() ?? "").split(",");
        const ok = ["wasm", "torch", "cpu", "webgpu"];
        if (v.some((b) => !ok.includes(b))) {
          throw new Error(`bench train: --backends takes ${ok.join(",")}, got ${v}`);
        }
        a.backends = v as BenchBackend[];
        break;
      }
      case "--batch":
        a.batch = Math.round(num(flag, next()));
        break;
      case "--seconds":
        a.seconds = num(flag, next());
        break;
      case "--steps":
        a.steps = Math.round(num(flag, next()));
        break;
      case "--warmup": {
        const v = Number(next());
        if (!Number.isInteger(v) || v < 0) {
          throw new Error("bench train: --warmup needs an integer");
        }
        a.warmup = v;
        break;
      }
      case "--cpu-batch":
        a.cpuBatch = Math.round(num(flag, next()));
        break;
      case "--webgpu-steps":
        a.webgpuSteps = Math.round(num(flag, next()));
        break;
      case "--no-simd":
        a.simd = false;
        break;
      case "--profile":
        a.profile = true;
        break;
      case "--rounds":
        a.rounds = Math.round(num(flag, next()));
        break;
      case "--top":
        a.top = Math.round(num(flag, next()));
        break;
      case "--threads": {
        const v = Number(next());
        if (!Number.isInteger(v) || v < 1 || v > 64) {
          throw new Error("bench train: --threads needs an integer from 1 to 64");
        }
        a.threads = v;
        break;
      }
      case "--torch-threads": {
        const v = (next() ?? "").split(",").map(Number);
        if (v.some((t) => !Number.isInteger(t) || t < 1)) {
          throw new Error("bench train: --torch-threads takes positive integers, e.g. 1,2");
        }
        a.torchThreads = v;
        break;
      }
      default:
        throw new Error(`bench train: unknown option ${flag}`);
    }
  }
  return a;
}

const LABEL: Record<BenchBackend, string> = {
  wasm: "tfjs wasm",
  torch: "PyTorch CPU",
  cpu: "tfjs cpu",
  webgpu: "tfjs webgpu",
};

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => {
    const s = typeof c === "number" ? c.toFixed(c >= 100 ? 0 : 1) : c;
    return i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]);
  }).join("  ");
}

async function runProfile(args: TrainArgs, data: BenchData): Promise<void> {
  const { loss, source } = await resolveLoss();
  for (const backend of args.backends) {
    if (backend === "torch") continue;
    for (const model of args.models) {
      let desc: string;
      try {
        desc = await useBackend(backend, args.simd, args.threads);
      } catch (e) {
        console.log(`${LABEL[backend]}: skipped (${(e as Error).message})`);
        continue;
      }
      const batch = backend === "cpu" && model === "cnn" ? args.cpuBatch : args.batch;
      const p = await profileStep(data, {
        model,
        batch,
        warmup: backend === "cpu" ? 0 : args.warmup,
        steps: 1,
        seconds: 1,
      }, loss);
      console.log(
        `\nProfile of a training step: ${model}, ${desc}, batch ${batch}, ${source}` +
          `\nfastest unprofiled step ${p.stepMs.toFixed(1)} ms wall; a profiled step (mean of ` +
          `5): ${p.stepCpuMs.toFixed(1)} ms CPU (all threads), ${
            p.stepWallMs.toFixed(1)
          } ms wall;` +
          `\nkernels ${p.kernelCpuMs.toFixed(1)} ms CPU (${p.calls} calls), outside kernels ` +
          `(engine, model and loss JavaScript) ${(p.stepCpuMs - p.kernelCpuMs).toFixed(1)} ms CPU`,
      );
      const w = [28, 6, 9, 9, 6];
      console.log(row(["kernel", "calls", "CPU ms", "wall ms", "% CPU"], w));
      for (const k of p.byName.slice(0, args.top)) {
        console.log(
          row([k.name, String(k.calls), k.cpuMs, k.ms, (100 * k.cpuMs) / p.stepCpuMs], w),
        );
      }
      console.log("\nmost CPU time by kernel and input shapes (ms per step):");
      for (const k of p.byShape.slice(0, Math.min(12, args.top))) {
        console.log(
          `${k.cpuMs.toFixed(2).padStart(8)} ms  ${k.calls}x  ${k.name} ${k.shapes}`,
        );
      }
    }
  }
}

/** The median of `xs` (not empty). */
function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Targets of issue 19: tfjs wasm (all cores) against PyTorch's best, by model. */
const TARGETS: Record<ModelKind, number> = { cnn: 1.3, mlp: 0.8 };

async function runTiming(args: TrainArgs, data: BenchData): Promise<BenchResult[]> {
  const { loss, source } = await resolveLoss();
  console.log(`loss: ${source}`);
  const results: BenchResult[] = [];
  const widths = [22, 5, 5, 5, 8, 8, 8, 8, 9, 8, 8];
  const header = () =>
    console.log(
      row([
        "backend (threads)",
        "model",
        "batch",
        "steps",
        "ms/step",
        "images/s",
        "median",
        "vs best",
        "img/cpu-s",
        "loss[0]",
        "loss[end]",
      ], widths),
    );
  let dataPath: string | undefined;
  let torchOk = false;
  if (args.backends.includes("torch")) {
    const probe = await probeTorch();
    if (probe.ok) {
      torchOk = true;
      dataPath = await writeBenchData(data);
      console.log(
        `PyTorch ${probe.version} via /usr/bin/python3, torch.set_num_threads(` +
          `${args.torchThreads.join(" | ")}); CPU ${probe.cpu}`,
      );
    } else {
      console.log(`PyTorch skipped: ${probe.message}`);
    }
  }
  try {
    for (const model of args.models) {
      console.log(`\n== ${model === "cnn" ? "reference CNN" : "MLP 784-256-128-64"} ==`);
      header();
      // PyTorch (each thread count) and wasm alternate for `rounds` rounds, so that a burst of
      // other load on a shared machine hits both; best and median of the rounds are reported.
      // cpu and webgpu run once.
      type Key = string; // "torch@1", "torch@2", "wasm", "cpu", "webgpu"
      const runs = new Map<Key, { results: BenchResult[]; desc: string }>();
      const failed = new Map<Key, string>();
      const measure = async (key: Key): Promise<[BenchResult, string]> => {
        const opts = {
          model,
          batch: args.batch,
          warmup: args.warmup,
          steps: args.steps,
          seconds: args.seconds,
        };
        if (key.startsWith("torch@")) {
          if (dataPath === undefined) throw new Error("no data file");
          const r = await trainTorch(dataPath, data.n, opts, Number(key.slice(6)));
          return [r, r.note ?? ""];
        }
        const backend = key as Exclude<BenchBackend, "torch">;
        const desc = await useBackend(backend, args.simd, args.threads);
        if (backend === "cpu") {
          opts.batch = model === "cnn" ? args.cpuBatch : args.batch;
          opts.warmup = 0;
          opts.steps = 1;
        } else if (backend === "webgpu") {
          opts.warmup = 1;
          opts.steps = args.webgpuSteps;
        }
        const r = await trainTfjs(backend, data, opts, loss);
        const threads = /(\d+) threads?\)/.exec(desc);
        if (backend === "wasm" && threads) r.threads = Number(threads[1]);
        const note = opts.batch !== args.batch ? ` (batch ${opts.batch}: slow backend)` : "";
        return [r, desc + note];
      };
      const attempt = async (key: Key) => {
        if (failed.has(key)) return;
        try {
          const [r, desc] = await measure(key);
          const entry = runs.get(key) ?? { results: [], desc };
          entry.results.push(r);
          runs.set(key, entry);
        } catch (e) {
          failed.set(key, (e as Error).message);
        }
      };
      const paired: Key[] = [
        ...(args.backends.includes("torch") && torchOk
          ? args.torchThreads.map((t) => `torch@${t}`)
          : []),
        ...(args.backends.includes("wasm") ? ["wasm"] : []),
      ];
      for (let round = 0; round < args.rounds; round++) {
        for (const k of paired) await attempt(k);
      }
      for (const k of (["cpu", "webgpu"] as const).filter((b) => args.backends.includes(b))) {
        await attempt(k);
      }
      const best = (key: Key) => {
        const e = runs.get(key);
        if (e === undefined) return undefined;
        return e.results.reduce((p, q) => (q.imagesPerSecond > p.imagesPerSecond ? q : p));
      };
      const med = (key: Key) => {
        const e = runs.get(key);
        return e === undefined ? undefined : median(e.results.map((r) => r.imagesPerSecond));
      };
      // PyTorch's best thread count, by its best round.
      const torchKeys = [...runs.keys()].filter((k) => k.startsWith("torch@"));
      const torchBestKey = torchKeys.reduce<Key | undefined>(
        (p, k) => p === undefined || best(k)!.imagesPerSecond > best(p)!.imagesPerSecond ? k : p,
        undefined,
      );
      const torchBest = torchBestKey === undefined ? undefined : best(torchBestKey);
      const torchMedian = torchBestKey === undefined ? undefined : med(torchBestKey);
      const keys: Key[] = [...torchKeys, "wasm", "cpu", "webgpu"];
      for (const k of keys) {
        const r = best(k);
        const entry = runs.get(k);
        if (r !== undefined && entry !== undefined) {
          results.push(r);
          const n = entry.results.length;
          const label = `${LABEL[r.backend]} (${r.threads ?? 1})`;
          const ratio = torchBest === undefined
            ? "-"
            : `${(r.imagesPerSecond / torchBest.imagesPerSecond).toFixed(2)}x`;
          console.log(
            row([
              label,
              r.model,
              String(r.batch),
              String(r.steps),
              r.msPerStep,
              r.imagesPerSecond,
              n > 1 ? med(k)! : "-",
              ratio,
              r.imagesPerCpuSecond,
              r.lossFirst.toFixed(4),
              r.lossLast.toFixed(4),
            ], widths) + `  ${n > 1 ? `best of ${n}; ` : ""}${entry.desc}`,
          );
        } else if (failed.has(k)) {
          console.log(`${k.padEnd(widths[0])}  ${model}  skipped: ${failed.get(k)}`);
        }
      }
      const wasm = best("wasm");
      if (wasm !== undefined && torchBest !== undefined) {
        const ratio = wasm.imagesPerSecond / torchBest.imagesPerSecond;
        const medRatio = med("wasm")! / torchMedian!;
        const target = TARGETS[model];
        console.log(
          `tfjs wasm (${wasm.threads ?? 1} threads) / PyTorch's best (${torchBest.threads ?? 1} ` +
            `thread${torchBest.threads === 1 ? "" : "s"}): ${ratio.toFixed(2)}x by best rounds, ` +
            `${medRatio.toFixed(2)}x by medians; target ≥ ${target}x: ` +
            (ratio >= target ? "met" : "not met"),
        );
      }
    }
  } finally {
    if (dataPath !== undefined) await Deno.remove(dataPath).catch(() => {});
  }
  return results;
}

/**
 * Entry point: `bench/main.ts train [options]`.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * await main(["train", "--models", "mlp", "--backends", "wasm", "--seconds", "2"]);
 * ```
 */
export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === "conv-table") {
    await (await import("./kernel_gain.ts")).runConvTable(rest);
    return;
  }
  if (cmd === "kernel-gain") {
    await (await import("./kernel_gain.ts")).runKernelGain(rest);
    return;
  }
  if (cmd === "data") {
    await (await import("./data_bench.ts")).runDataBench(rest);
    return;
  }
  if (cmd === "store") {
    await (await import("./store.ts")).runStoreBench(rest);
    return;
  }
  if (cmd === "losses") {
    await (await import("./losses_bench.ts")).runLossesBench(rest);
    return;
  }
  if (cmd === "pairwise") {
    await (await import("./pairwise_bench.ts")).runPairwiseBench(rest);
    return;
  }
  if (cmd === "knn") {
    const { runKnnBench, runMetricsCrossCheck } = await import("./knn.ts");
    if (rest.includes("--metrics")) await runMetricsCrossCheck();
    else await runKnnBench(rest);
    return;
  }
  if (cmd !== "train") {
    console.log(
      "usage: deno task bench train [--models cnn,mlp] [--backends wasm,torch,cpu,webgpu]",
    );
    console.log(
      "       [--threads N] [--torch-threads 1,2]",
    );
    console.log(
      "       [--batch 128] [--seconds 10] [--steps 300] [--warmup 3] [--rounds 3] [--no-simd]",
    );
    console.log("       [--profile] [--top 25]");
    console.log("       deno task bench knn [--threads N] [--metrics]");
    console.log("       deno task bench kernel-gain [--steps 100]");
    console.log("       deno task bench conv-table [--repeats 7]");
    console.log("       deno task bench data [--parts decode,train,memory] [--n 20000]");
    console.log("       deno task bench store [--n 100000] [--dim 64] [--efSearch 40,100]");
    console.log(
      "       deno task bench losses [--batch 128] [--steps 8] [--rounds 3] [--only a,b]",
    );
    console.log(
      "       deno task bench pairwise [--d 64] [--rounds 5] [--reps 3] [--backend wasm]",
    );
    if (cmd !== undefined && cmd !== "--help" && cmd !== "-h") Deno.exit(2);
    return;
  }
  const args = parseTrainArgs(rest);
  tf.env().set("PROD", true);
  const data = await loadBenchData(Math.max(8, Math.ceil(1024 / args.batch)) * args.batch);
  console.log(
    `bench train: Deno ${Deno.version.deno}, tfjs ${tf.version.tfjs}, ` +
      `data ${data.source}, batch ${args.batch}, Adam(1e-3); tfjs wasm on ` +
      `${args.threads ?? `all ${navigator.hardwareConcurrency}`} thread(s), PyTorch on ` +
      `${args.torchThreads.join(" and ")}`,
  );
  if (args.profile) await runProfile(args, data);
  else await runTiming(args, data);
}

if (import.meta.main) await main(Deno.args);
