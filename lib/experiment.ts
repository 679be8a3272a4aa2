/**
 * The shape of an experiment and the plumbing every experiment shares: option parsing, backend
 * start-up, the run directory and its provenance record.
 *
 * @module
 */
import { backendFromArgs, type BackendInfo, initBackend } from "./backend.ts";
import { writeJsonAtomic } from "./io/atomic.ts";
import { createRunDir, provenance } from "./io/run_dir.ts";
import { type FashionMnist, loadFashionMnist, toTensors } from "./data/fashion_mnist.ts";
import type * as tf from "@tensorflow/tfjs";

/** An experiment runnable by `deno task experiment <name>`. */
export interface Experiment {
  /** Name used on the command line (`deno task experiment <name>`). */
  name: string;
  /** One line shown by `--list`. */
  description: string;
  /** Runs the experiment with the arguments after its name. */
  run(args: string[]): Promise<void>;
}

/** Option values an experiment accepts: each key's default fixes its type. */
export type OptionDefaults = Record<string, number | string | boolean>;

/**
 * Parses `--key value` / `--key=value` / `--flag` arguments against `defaults`, converting each
 * value to the type of its default. `--backend` is accepted and left to {@linkcode startRun}.
 *
 * @throws Error on unknown options or values of the wrong type.
 * @example
 * ```ts
 * import { parseOptions } from "./experiment.ts";
 * parseOptions(["--steps", "10"], { steps: 100, seed: 0 }); // { steps: 10, seed: 0 }
 * ```
 */
export function parseOptions<T extends OptionDefaults>(args: readonly string[], defaults: T): T {
  const out: OptionDefaults = { ...defaults };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument "${arg}"`);
    let [key, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (key === "backend") {
      if (value === undefined) i++;
      continue;
    }
    if (!(key in defaults)) {
      throw new Error(
        `unknown option --${key}; options: ${
          Object.keys(defaults).map((k) => "--" + k).join(", ")
        }`,
      );
    }
    const kind = typeof defaults[key];
    if (kind === "boolean") {
      out[key] = value === undefined ? true : value === "true" || value === "1";
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) throw new Error(`--${key}: missing value`);
      value = args[++i];
    }
    if (kind === "number") {
      const num = Number(value);
      if (value.trim() === "" || !Number.isFinite(num)) {
        throw new Error(`--${key}: expected a number, got "${value}"`);
      }
      out[key] = num;
    } else {
      out[key] = value;
    }
  }
  return out as T;
}

/** What {@linkcode startRun} sets up. */
export interface RunContext {
  /** `results/<experiment>/<run-id>/` */
  dir: string;
  /** The backend in use. */
  backend: BackendInfo;
}

/**
 * Starts a run: initialises the backend from `--backend` / `SIMLEARN_BACKEND`, prints it, creates
 * the run directory and writes `config.json` (options, backend, versions, git commit).
 *
 * @example
 * ```ts
 * import { startRun } from "./experiment.ts";
 * const run = await startRun("demo", [], { seed: 0 }, { root: "/tmp/results" });
 * console.log(run.dir);
 * ```
 */
export async function startRun(
  experiment: string,
  args: readonly string[],
  config: Record<string, unknown>,
  options: { root?: string; resumeDir?: string } = {},
): Promise<RunContext> {
  const backend = await initBackend(backendFromArgs(args));
  console.log(
    `backend: ${backend.backend}${backend.adapter ? ` (adapter: ${backend.adapter})` : ""}` +
      (backend.kernels.length ? `, project kernels: ${backend.kernels.join(", ")}` : ""),
  );
  if (options.resumeDir !== undefined) {
    // The run directory and its config.json exist already (see resumeArgs).
    return { dir: options.resumeDir.replace(/\/+$/, ""), backend };
  }
  const dir = await createRunDir(experiment, options);
  await writeJsonAtomic(`${dir}/config.json`, {
    experiment,
    options: config,
    backend: backend.backend,
    adapter: backend.adapter ?? null,
    projectKernels: backend.kernels,
    ...(await provenance()),
  });
  return { dir, backend };
}

/**
 * The error an experiment throws when Ctrl-C (SIGINT) stopped it after writing a checkpoint;
 * `experiments/main.ts` prints its message (with the resume command) and exits with
 * {@linkcode Interrupted.exitCode} (130, the shell's code for SIGINT).
 *
 * @example
 * ```ts
 * import { Interrupted } from "./experiment.ts";
 * const e = new Interrupted("stopped at step 10");
 * console.log(e.exitCode); // 130
 * ```
 */
export class Interrupted extends Error {
  /** The process exit code: 128 + SIGINT (2). */
  readonly exitCode = 130;
  /**
   * @param message what stopped and how to resume
   */
  constructor(message: string) {
    super(message);
    this.name = "Interrupted";
  }
}

/**
 * What {@linkcode onInterrupt} returns.
 *
 * @example
 * ```ts
 * import { type InterruptHandle, onInterrupt } from "./experiment.ts";
 * const handle: InterruptHandle = onInterrupt();
 * console.log(handle.signal.aborted); // false
 * handle.dispose();
 * ```
 */
export interface InterruptHandle {
  /** Aborted on the first SIGINT; pass it to `train({ signal })`. */
  signal: AbortSignal;
  /** Removes the SIGINT listener (call it in a `finally`). */
  dispose(): void;
}

/**
 * Wires Ctrl-C to an `AbortSignal` for `train`: the first SIGINT aborts the signal (training stops
 * after the current step and writes a checkpoint); a second SIGINT exits at once with code 130.
 * Where signals cannot be listened to (e.g. Windows, some embedders) the signal never aborts.
 *
 * @example
 * ```ts
 * import { onInterrupt } from "./experiment.ts";
 * const interrupt = onInterrupt();
 * try {
 *   // await train({ ..., signal: interrupt.signal });
 * } finally {
 *   interrupt.dispose();
 * }
 * ```
 */
export function onInterrupt(
  log: (line: string) => void = (line) => console.error(line),
): InterruptHandle {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) {
      log("\ninterrupted again: exiting now");
      Deno.exit(130);
    }
    log("\ninterrupt: stopping after the current step (Ctrl-C again to exit at once)");
    controller.abort(new Interrupted("interrupted"));
  };
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", handler);
    listening = true;
  } catch {
    listening = false;
  }
  return {
    signal: controller.signal,
    dispose() {
      if (!listening) return;
      listening = false;
      try {
        Deno.removeSignalListener("SIGINT", handler);
      } catch {
        // already gone
      }
    },
  };
}

/**
 * The options of the run in `runDir` (from its `config.json`), for `--resume <run-dir>`: the
 * resumed run uses exactly the configuration it started with. Only `--backend` may be given next
 * to `--resume` (default: the backend recorded in `config.json`, which an exact resume needs).
 *
 * @returns `args` rebuilt from the recorded options (with `--resume` and `--backend`), ready for
 *   {@linkcode parseOptions} and {@linkcode startRun}.
 * @throws Error when `runDir` has no readable `config.json`, it belongs to another experiment, or
 *   other options are given next to `--resume`.
 * @example
 * ```ts
 * import { resumeArgs } from "./experiment.ts";
 * // const args = await resumeArgs("siamese", "results/siamese/20261128-112336-3f52", ["--backend", "wasm"]);
 * ```
 */
export async function resumeArgs(
  experiment: string,
  runDir: string,
  args: readonly string[],
): Promise<string[]> {
  const others = args.filter((a, i) =>
    !(a === "--resume" || a.startsWith("--resume=") || args[i - 1] === "--resume" ||
      a === "--backend" || a.startsWith("--backend=") || args[i - 1] === "--backend")
  );
  if (others.length > 0) {
    throw new Error(
      `--resume: the run's config.json fixes every option; only --backend may be given, got ${
        others.join(" ")
      }`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(`${runDir}/config.json`);
  } catch (e) {
    throw new Error(
      `--resume: cannot read ${runDir}/config.json (${(e as Error).message}); ` +
        `give the run directory printed by the interrupted run`,
    );
  }
  let config: { experiment?: unknown; options?: unknown; backend?: unknown };
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new Error(`--resume: ${runDir}/config.json is not JSON: ${(e as Error).message}`);
  }
  if (config.experiment !== experiment) {
    throw new Error(
      `--resume: ${runDir} is a run of "${config.experiment}", not of "${experiment}"`,
    );
  }
  if (typeof config.options !== "object" || config.options === null) {
    throw new Error(`--resume: ${runDir}/config.json has no options`);
  }
  const out: string[] = [];
  for (const [key, value] of Object.entries(config.options as Record<string, unknown>)) {
    if (key === "resume") continue;
    if (typeof value === "boolean") {
      out.push(`--${key}=${value}`);
    } else {
      out.push(`--${key}=${String(value)}`);
    }
  }
  out.push(`--resume=${runDir}`);
  const backend = args.find((a, i) => a.startsWith("--backend=") || args[i - 1] === "--backend");
  if (backend !== undefined) {
    out.push(backend.startsWith("--backend=") ? backend : `--backend=${backend}`);
  } else if (typeof config.backend === "string") {
    out.push(`--backend=${config.backend}`);
  }
  return out;
}

/** A train and a test split of Fashion-MNIST, as arrays and as tensors. */
export interface ExperimentData {
  /** The train split as loaded. */
  trainSet: FashionMnist;
  /** The test split as loaded. */
  testSet: FashionMnist;
  /** Train images `[n, 28, 28, 1]` and labels `[n]`. */
  train: { x: tf.Tensor4D; y: tf.Tensor1D };
  /** Test images `[n, 28, 28, 1]` and labels `[n]`. */
  test: { x: tf.Tensor4D; y: tf.Tensor1D };
  /** Frees the four tensors. */
  dispose(): void;
}

/**
 * Loads the train and test splits that experiments share (the loader's source order, or
 * `dataSource`), keeping the first `trainLimit` / `testLimit` images when those are positive, and
 * prints one line naming the source and the sizes.
 *
 * @example
 * ```ts
 * import { loadExperimentData } from "./experiment.ts";
 * const data = await loadExperimentData({ trainLimit: 1000, testLimit: 200 });
 * console.log(data.train.x.shape); // [1000, 28, 28, 1]
 * data.dispose();
 * ```
 */
export async function loadExperimentData(
  options: { dataSource?: string; trainLimit?: number; testLimit?: number },
  log: (line: string) => void = console.log,
): Promise<ExperimentData> {
  const source = options.dataSource || undefined;
  const trainSet = await loadFashionMnist({
    split: "train",
    source,
    limit: options.trainLimit || undefined,
  });
  const testSet = await loadFashionMnist({
    split: "test",
    source,
    limit: options.testLimit || undefined,
  });
  log(
    `data: ${trainSet.source.kind} (${trainSet.source.dir}): ${trainSet.n} train, ${testSet.n} test images`,
  );
  const train = toTensors(trainSet);
  const test = toTensors(testSet);
  return {
    trainSet,
    testSet,
    train,
    test,
    dispose() {
      train.x.dispose();
      train.y.dispose();
      test.x.dispose();
      test.y.dispose();
    },
  };
}
