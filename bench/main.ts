/**
 * Side-by-side benchmarks. `deno task bench train [options]` trains the reference CNN and the MLP
 * encoder (contrastive loss, Adam, batch 128) with TensorFlow.js on `wasm` (with our kernels) and
 * with PyTorch on the CPU, one thread each, on the same batches, and prints images/s and their
 * ratio (by wall time, and by the process's CPU time, which other load on a shared machine
 * disturbs less); the tfjs `cpu` and `webgpu` backends are measured for the record.
 *
 * Options:
 *   --models cnn,mlp            encoders to train
 *   --backends wasm,torch,cpu,webgpu
 *   --batch 128                 batch size (the cpu backend trains the CNN on --cpu-batch)
 *   --seconds 10                time budget of each timed run (wasm, torch)
 *   --steps 60                  at most this many timed steps (wasm, torch)
 *   --warmup 3                  untimed steps first
 *   --rounds 2                  alternating rounds of PyTorch and wasm (the best round counts)
 *   --cpu-batch 16              batch of the CNN on the (very slow) cpu backend
 *   --webgpu-steps 3            timed steps on webgpu (slow on a software adapter)
 *   --no-simd                   wasm: our kernels' XNNPACK route instead of the SIMD route
 *   --profile                   per-kernel time of one training step (instead of the timing runs)
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
  /** Alternating rounds of PyTorch and wasm; the best counts. */
  rounds: number;
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
    steps: 60,
    warmup: 3,
    cpuBatch: 16,
    webgpuSteps: 3,
    simd: true,
    profile: false,
    top: 25,
    rounds: 2,
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
        desc = await useBackend(backend, args.simd);
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
        `\nProfile of one training step: ${model}, ${desc}, batch ${batch}, ${source}` +
          `\nfastest unprofiled step ${p.stepMs.toFixed(1)} ms; kernels ${
            p.kernelMs.toFixed(1)
          } ms ` +
          `(each kernel call: fastest of 5 profiled steps)`,
      );
      const w = [28, 6, 9, 6];
      console.log(row(["kernel", "calls", "ms", "%"], w));
      for (const k of p.byName.slice(0, args.top)) {
        console.log(row([k.name, String(k.calls), k.ms, (100 * k.ms) / p.kernelMs], w));
      }
      console.log("\nslowest kernel calls by input shapes:");
      for (const k of p.byShape.slice(0, Math.min(12, args.top))) {
        console.log(`${k.ms.toFixed(2).padStart(8)} ms  ${k.calls}x  ${k.name} ${k.shapes}`);
      }
    }
  }
}

async function runTiming(args: TrainArgs, data: BenchData): Promise<BenchResult[]> {
  const { loss, source } = await resolveLoss();
  console.log(`loss: ${source}`);
  const results: BenchResult[] = [];
  const widths = [11, 5, 5, 5, 8, 8, 8, 9, 8, 8, 8];
  const header = () =>
    console.log(
      row([
        "backend",
        "model",
        "batch",
        "steps",
        "ms/step",
        "images/s",
        "vs torch",
        "img/cpu-s",
        "vs torch",
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
        `PyTorch ${probe.version} via /usr/bin/python3, torch.set_num_threads(1); CPU ${probe.cpu}`,
      );
    } else {
      console.log(`PyTorch skipped: ${probe.message}`);
    }
  }
  try {
    for (const model of args.models) {
      console.log(`\n== ${model === "cnn" ? "reference CNN" : "MLP 784-256-128-64"} ==`);
      header();
      // PyTorch and wasm alternate for `rounds` rounds (the best round counts: other load on a
      // shared machine only ever slows a run down); cpu and webgpu run once.
      const measure = async (backend: BenchBackend): Promise<[BenchResult, string]> => {
        const opts = {
          model,
          batch: args.batch,
          warmup: args.warmup,
          steps: args.steps,
          seconds: args.seconds,
        };
        if (backend === "torch") {
          if (dataPath === undefined) throw new Error("no data file");
          const r = await trainTorch(dataPath, data.n, opts);
          return [r, r.note ?? ""];
        }
        const desc = await useBackend(backend, args.simd);
        if (backend === "cpu") {
          opts.batch = model === "cnn" ? args.cpuBatch : args.batch;
          opts.warmup = 0;
          opts.steps = 1;
        } else if (backend === "webgpu") {
          opts.warmup = 1;
          opts.steps = args.webgpuSteps;
        }
        const r = await trainTfjs(backend, data, opts, loss);
        const note = opts.batch !== args.batch ? ` (batch ${opts.batch}: slow backend)` : "";
        return [r, desc + note];
      };
      const best = new Map<BenchBackend, [BenchResult, string]>();
      const failed = new Map<BenchBackend, string>();
      const attempt = async (backend: BenchBackend) => {
        if (failed.has(backend)) return;
        try {
          const [r, desc] = await measure(backend);
          const prev = best.get(backend);
          if (prev === undefined) best.set(backend, [r, desc]);
          else {
            const [p] = prev;
            best.set(backend, [{
              ...(r.imagesPerSecond > p.imagesPerSecond ? r : p),
              imagesPerCpuSecond: Math.max(r.imagesPerCpuSecond, p.imagesPerCpuSecond),
            }, desc]);
          }
        } catch (e) {
          failed.set(backend, (e as Error).message);
        }
      };
      const paired = (["torch", "wasm"] as BenchBackend[]).filter((b) =>
        args.backends.includes(b) && (b !== "torch" || torchOk)
      );
      for (let round = 0; round < args.rounds; round++) {
        for (const b of paired) await attempt(b);
      }
      for (
        const b of (["cpu", "webgpu"] as BenchBackend[]).filter((b) => args.backends.includes(b))
      ) {
        await attempt(b);
      }
      const torch = best.get("torch")?.[0];
      const print = (r: BenchResult, desc: string) => {
        const ratio = (v: number, ref: number | undefined) =>
          ref === undefined ? "-" : `${(v / ref).toFixed(2)}x`;
        console.log(
          row([
            LABEL[r.backend],
            r.model,
            String(r.batch),
            String(r.steps),
            r.msPerStep,
            r.imagesPerSecond,
            ratio(r.imagesPerSecond, torch?.imagesPerSecond),
            r.imagesPerCpuSecond,
            ratio(r.imagesPerCpuSecond, torch?.imagesPerCpuSecond),
            r.lossFirst.toFixed(4),
            r.lossLast.toFixed(4),
          ], widths) + `  ${desc}`,
        );
      };
      for (const b of ["torch", "wasm", "cpu", "webgpu"] as BenchBackend[]) {
        const entry = best.get(b);
        if (entry !== undefined) {
          results.push(entry[0]);
          const rounds = paired.includes(b) && args.rounds > 1 ? `best of ${args.rounds}; ` : "";
          print(entry[0], rounds + entry[1]);
        } else if (failed.has(b)) {
          console.log(`${LABEL[b].padEnd(widths[0])}  ${model}  skipped: ${failed.get(b)}`);
        }
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
      "       [--batch 128] [--seconds 10] [--steps 60] [--warmup 3] [--rounds 2] [--no-simd]",
    );
    console.log("       [--profile] [--top 25]");
    console.log("       deno task bench knn [--threads 2] [--metrics]");
    console.log("       deno task bench kernel-gain [--steps 100]");
    console.log("       deno task bench data [--parts decode,train,memory] [--n 20000]");
    console.log("       deno task bench store [--n 100000] [--dim 64] [--efSearch 40,100]");
    console.log(
      "       deno task bench losses [--batch 128] [--steps 8] [--rounds 3] [--only a,b]",
    );
    if (cmd !== undefined && cmd !== "--help" && cmd !== "-h") Deno.exit(2);
    return;
  }
  const args = parseTrainArgs(rest);
  tf.env().set("PROD", true);
  const data = await loadBenchData(Math.max(8, Math.ceil(1024 / args.batch)) * args.batch);
  console.log(
    `bench train: Deno ${Deno.version.deno}, tfjs ${tf.version.tfjs}, ` +
      `data ${data.source}, batch ${args.batch}, Adam(1e-3), one thread per framework`,
  );
  if (args.profile) await runProfile(args, data);
  else await runTiming(args, data);
}

if (import.meta.main) await main(Deno.args);
