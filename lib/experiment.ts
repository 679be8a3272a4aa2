/**
 * The experiment runner: every experiment is a declaration (name, description, options, data)
 * plus a body, and {@linkcode runExperiment} owns everything around the body, in this order:
 *
 * 1. **Options**, parsed from the command line against the declarations (`lib/cli.ts`): type,
 *    integer-ness, range, choices, conflicting options, then the experiment's own `validate`.
 *    `--help` is generated from the same declarations. Any problem: a named {@linkcode UsageError},
 *    exit code 2, nothing started, no run directory.
 * 2. **Resume** (`--resume <run-dir>`): the options come from the run's `config.json` (only
 *    `--backend` may be given besides); a run already complete (it has `done.json`) is reported
 *    as complete and nothing is touched.
 * 3. **Backend** start-up (`--backend`, or `SIMLEARN_BACKEND`), printed with its thread count.
 * 4. **Data**, loaded by the experiment's `data` function, which reports each part's provenance
 *    with a content fingerprint (`lib/data/fingerprint.ts`). On resume the fingerprints must equal
 *    the recorded ones, else the resume is refused naming both sources and fingerprints.
 * 5. **Run directory** `<resultsRoot>/<experiment>/<run-id>/`, created only now, with
 *    `config.json`: options, data (sources, sizes, fingerprints), encoder, backend, threads,
 *    versions, the git commit and whether the tree was dirty (with a hash of the changes).
 * 6. **Body**, given a {@linkcode RunContext}: `ctx.train(name, …)` trains with checkpoints in
 *    `checkpoints/<name>/` (every `--checkpointEvery` steps, at the end, on Ctrl-C) and resumes
 *    from them; `ctx.stage(name, fn)` runs a piece of work once per run and keeps its JSON result
 *    in `stages/<name>.json`. Ctrl-C stops after the current step or stage, exits 130 and prints
 *    the resume command; a SIGKILL loses at most the work since the last checkpoint or stage.
 * 7. **Final write**: `history.jsonl` (the loss of every step of every training), the body's
 *    result as `metrics.json`, then `done.json` (the list of result files with their SHA-256)
 *    last: a directory without it is incomplete and is skipped when runs are listed.
 *
 * Tensors, models and the data are disposed in `finally` whatever happens.
 *
 * ```ts ignore
 * export const experiment = defineExperiment({
 *   name: "demo",
 *   description: "one line for --list and --help",
 *   options: { steps: option.integer(100, "optimisation steps", { min: 1 }), ...FASHION_MNIST_OPTIONS },
 *   encoder: () => "mlpEncoder(hidden [128], 64-d)",
 *   data: (o, log) => loadExperimentData({ dataSource: o.dataSource, trainLimit: 1000 }, log),
 *   async run(ctx) {
 *     const model = ctx.keep(mlpEncoder({ seed: 0 }));
 *     await ctx.train("train", { model, loss: contrastiveLoss, steps: ctx.options.steps, sampler: … });
 *     return { mapAtR: (await evaluate(model, ctx.data.test.x, ctx.data.testSet.labels)).mapAtR };
 *   },
 * });
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, type BackendInfo, type BackendName, initBackend } from "./backend.ts";
import { writeJsonAtomic, writeTextAtomic } from "./io/atomic.ts";
import { latestCheckpoint } from "./io/checkpoint.ts";
import { createRunDir, markComplete, provenance, readCompletion } from "./io/run_dir.ts";
import { type FashionMnist, loadFashionMnist, toTensors } from "./data/fashion_mnist.ts";
import { dataDifferences, type DataProvenance } from "./data/fingerprint.ts";
import { train, type TrainOptions, type TrainResult } from "./train.ts";
import { writeFigureHtml } from "./viz/html.ts";
import { type RunReportInput, writeRunReport } from "./viz/report.ts";
import {
  checkOptionValue,
  type OptionGroup,
  type OptionSpecs,
  type OptionValues,
  parseOptionArgs,
  pathProblem,
  ReadPermissionError,
  UsageError,
} from "./cli.ts";

export {
  describeOption,
  nearestName,
  option,
  type OptionSpecs,
  type OptionValues,
  pathProblem,
  ReadPermissionError,
  UsageError,
} from "./cli.ts";

/**
 * What an experiment's `data` function returns: its own fields (arrays, tensors) plus the
 * provenance of every part it loaded, and optionally how to free it (called in `finally`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const none: ExperimentDataSet = { provenance: [] }; // an experiment that loads nothing
 * assert.equal(none.dispose, undefined);
 * ```
 */
export interface ExperimentDataSet {
  /** One entry per part loaded (split, role), with its content fingerprint. */
  provenance: DataProvenance[];
  /** Frees tensors; called once, after the body, whatever happened. */
  dispose?(): void;
}

/**
 * An experiment: declared options, data and a body. See the module documentation for what the
 * runner does around it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExperiment, option } from "./experiment.ts";
 * const demo = defineExperiment({
 *   name: "demo",
 *   description: "adds two numbers",
 *   options: { a: option.number(1, "first"), b: option.number(2, "second") },
 *   trains: false,
 *   run: (ctx) => Promise.resolve({ sum: ctx.options.a + ctx.options.b }),
 * });
 * assert.equal(demo.name, "demo");
 * assert.equal(demo.options.a.default + demo.options.b.default, 3);
 * ```
 */
export interface ExperimentSpec<O extends OptionSpecs, D extends ExperimentDataSet> {
  /** The name on the command line (`deno task experiment <name>`): letters, digits, `-`, `_`. */
  name: string;
  /** One line for `--list` and `--help`. */
  description: string;
  /** The experiment's options; the runner adds `--backend`, `--resultsRoot`, `--resume` (and
   * `--checkpointEvery` when it trains). */
  options: O;
  /** Whether the body trains with `ctx.train` (adds `--checkpointEvery`). Default true. */
  trains?: boolean;
  /**
   * Derives option values from others on a fresh run (for example a `--quick` preset for the
   * options not given); the result is what `config.json` records and a resume reuses.
   */
  resolve?(options: OptionValues<O>, given: readonly string[]): OptionValues<O>;
  /**
   * Checks across options (run before the backend starts or data loads); throw a
   * {@linkcode UsageError} naming the options.
   */
  validate?(options: OptionValues<O>): void;
  /** The encoder (or model) the options describe, recorded in `config.json` as `encoder`. */
  encoder?(options: OptionValues<O>): string | Record<string, unknown>;
  /**
   * Loads the data before the run directory exists (a failure leaves none); throw a
   * {@linkcode UsageError} for options the data cannot satisfy.
   */
  data?(options: OptionValues<O>, log: (line: string) => void): Promise<D>;
  /** The body; what it returns is written as `metrics.json` (JSON, finite numbers). */
  run(context: RunContext<OptionValues<O>, D>): Promise<Record<string, unknown>>;
}

/** An experiment of any options and data (what `experiments/main.ts` discovers). */
// deno-lint-ignore no-explicit-any
export type Experiment = ExperimentSpec<any, any>;

/**
 * Declares an experiment (an identity function that lets TypeScript infer the options' types
 * in the body).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExperiment, option } from "./experiment.ts";
 * export const experiment = defineExperiment({
 *   name: "hello",
 *   description: "says hello",
 *   options: { who: option.string("world", "whom to greet") },
 *   trains: false,
 *   run: (ctx) => {
 *     ctx.log(`hello, ${ctx.options.who}`);
 *     return Promise.resolve({});
 *   },
 * });
 * assert.equal(experiment.options.who.default, "world");
 * ```
 */
export function defineExperiment<O extends OptionSpecs, D extends ExperimentDataSet = never>(
  spec: ExperimentSpec<O, D>,
): ExperimentSpec<O, D> {
  return spec;
}

/** A training unit's options: those of `train` less what the runner sets. */
export type TrainUnitOptions<B> = Omit<
  TrainOptions<B>,
  "checkpointDir" | "checkpointEvery" | "resume" | "signal"
>;

/**
 * What the body of an experiment gets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunContext } from "./experiment.ts";
 * const body = async (ctx: RunContext<{ steps: number }, never>) => ({ dir: ctx.dir });
 * const ctx = { dir: "runs/demo" } as RunContext<{ steps: number }, never>;
 * assert.deepEqual(await body(ctx), { dir: "runs/demo" });
 * ```
 */
export interface RunContext<O, D> {
  /** The validated options (from the command line, or the run's `config.json` on resume). */
  options: O;
  /** The run directory (`<resultsRoot>/<experiment>/<run-id>`, no trailing slash). */
  dir: string;
  /** The backend in use and its thread count (`threads`: the wasm kernels' threads, else 1). */
  backend: BackendInfo;
  /** What the experiment's `data` function returned. */
  data: D;
  /** Whether this run continues an interrupted one. */
  resuming: boolean;
  /** Prints a line (stdout). */
  log(line: string): void;
  /**
   * Trains `options.model` as `train` does, with checkpoints in `checkpoints/<name>/` every
   * `--checkpointEvery` steps, at the end and on Ctrl-C, resuming from the latest one. A unit
   * whose final checkpoint exists only gets its weights back. Owns `options.optimizer` (disposes
   * it). Its loss history goes to `history.jsonl`.
   *
   * @throws Interrupted after Ctrl-C (the checkpoint is written first).
   */
  train<B>(name: string, options: TrainUnitOptions<B>): Promise<TrainResult>;
  /**
   * Runs `work` once per run: its result (JSON; NaN and ±Infinity are kept) is saved in
   * `stages/<name>.json` and returned from there on resume without running `work` again.
   *
   * @throws Interrupted after Ctrl-C (once the stage is saved).
   */
  stage<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Throws {@linkcode Interrupted} when Ctrl-C was pressed (between pieces of work). */
  checkInterrupt(): void;
  /** Registers something to dispose (a model, tensors) when the run ends; returns it. */
  keep<T extends { dispose(): void }>(value: T): T;
  /** Writes a JSON file in the run directory, atomically. */
  writeJson(name: string, value: unknown): Promise<void>;
  /** Writes a text file in the run directory, atomically. */
  writeText(name: string, text: string): Promise<void>;
  /** Writes a self-contained Plotly HTML page in the run directory. */
  writeFigure(
    name: string,
    figure: Parameters<typeof writeFigureHtml>[1],
    title: string,
  ): Promise<void>;
  /**
   * Writes the run's report page (`runReport`, self-contained) in the run directory: the run id,
   * options, data provenance and the loss of every training so far come from the runner; the
   * metrics (before/after), the embedding scatter and a summary line from the experiment.
   */
  writeReport(
    name: string,
    report: Pick<RunReportInput, "metrics" | "scatter" | "summary" | "reduction">,
  ): Promise<void>;
}

/**
 * The error an experiment throws when Ctrl-C (SIGINT) stopped it after saving its work;
 * {@linkcode runExperiment} prints its message with the resume command and returns
 * {@linkcode Interrupted.exitCode} (130, the shell's code for SIGINT).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Interrupted } from "./experiment.ts";
 * const e = new Interrupted("stopped at step 10");
 * assert.equal(e.exitCode, 130);
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
 * import assert from "node:assert/strict";
 * import { type InterruptHandle, onInterrupt } from "./experiment.ts";
 * const handle: InterruptHandle = onInterrupt();
 * assert.equal(handle.signal.aborted, false);
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
 * Wires Ctrl-C to an `AbortSignal`: the first SIGINT aborts the signal (training stops after the
 * current step and writes a checkpoint); a second SIGINT exits at once with code 130. Where
 * signals cannot be listened to (e.g. Windows, some embedders) the signal never aborts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onInterrupt } from "./experiment.ts";
 * const interrupt = onInterrupt();
 * try {
 *   // await train({ ..., signal: interrupt.signal });
 *   assert.equal(interrupt.signal.aborted, false); // until Ctrl-C
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

/** The options the runner adds to every experiment. */
export const RUN_OPTIONS: OptionSpecs = {
  backend: {
    type: "choice",
    choices: BACKEND_NAMES,
    default: "auto",
    description: "TensorFlow.js backend (auto: webgpu on a real GPU, else wasm, else cpu)",
  },
  resultsRoot: {
    type: "string",
    default: "results",
    placeholder: "dir",
    description: "where run directories are made: <dir>/<experiment>/<run-id>/",
  },
  resume: {
    type: "string",
    default: "",
    placeholder: "run-dir",
    description: "continue an interrupted run; its config.json fixes every other option",
  },
};

/** The option the runner adds to experiments that train. */
export const TRAIN_RUN_OPTIONS: OptionSpecs = {
  checkpointEvery: {
    type: "integer",
    default: 100,
    min: 0,
    description: "steps between checkpoints while training (0: only at the end and on Ctrl-C)",
  },
};

function groupsOf(spec: Experiment): OptionGroup[] {
  const run = { ...RUN_OPTIONS, ...(spec.trains === false ? {} : TRAIN_RUN_OPTIONS) };
  const clash = Object.keys(spec.options).filter((k) => k in run);
  if (clash.length) {
    throw new Error(`experiment ${spec.name}: option names reserved by the runner: ${clash}`);
  }
  return [
    { heading: "Options:", options: spec.options },
    {
      heading: "Run options (every experiment):",
      options: run,
      env: { backend: "SIMLEARN_BACKEND" },
    },
  ];
}

/**
 * The `--help` text of an experiment, generated from its declarations: every option with its
 * type (the placeholder), what it accepts, its default and its description.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExperiment, experimentHelp, option } from "./experiment.ts";
 * const e = defineExperiment({
 *   name: "demo", description: "a demo", trains: false,
 *   options: { steps: option.integer(5, "steps", { min: 1 }) },
 *   run: () => Promise.resolve({}),
 * });
 * assert.ok(experimentHelp(e).includes("--steps <int>"));
 * ```
 */
export function experimentHelp(spec: Experiment): string {
  const parsed = parseOptionArgs(
    `deno task experiment ${spec.name}`,
    spec.description,
    groupsOf(spec),
    ["--help"],
  );
  return parsed.help ?? "";
}

/** Streams for {@linkcode runExperiment} (tests capture them). */
export interface RunIo {
  /** Normal output. Default `console.log`. */
  log?: (line: string) => void;
  /** Errors. Default `console.error`. */
  logError?: (line: string) => void;
}

interface RunConfig {
  experiment?: unknown;
  options?: unknown;
  run?: { checkpointEvery?: unknown };
  backend?: unknown;
  data?: unknown;
}

async function readRunConfig(name: string, dir: string): Promise<RunConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/config.json`);
  } catch (e) {
    throw new UsageError(
      `--resume: cannot read ${dir}/config.json (${(e as Error).message}); ` +
        `give the run directory printed by the interrupted run`,
    );
  }
  let config: RunConfig;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--resume: ${dir}/config.json is not JSON: ${(e as Error).message}`);
  }
  if (config.experiment !== name) {
    throw new UsageError(`--resume: ${dir} is a run of "${config.experiment}", not of "${name}"`);
  }
  if (typeof config.options !== "object" || config.options === null) {
    throw new UsageError(`--resume: ${dir}/config.json has no options`);
  }
  return config;
}

function describePart(p: DataProvenance | undefined): string {
  if (!p) return "nothing";
  return `${
    p.sourceKind ? p.sourceKind + " " : ""
  }(${p.source}), ${p.count} examples, ${p.fingerprint}`;
}

// Non-finite numbers survive a stage's JSON as {"$number": "NaN"}.
function encodeStage(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) => typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v,
    2,
  ) + "\n";
}

function decodeStage(text: string): unknown {
  return JSON.parse(
    text,
    (_k, v) =>
      v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 &&
        typeof v.$number === "string"
        ? Number(v.$number)
        : v,
  );
}

const UNIT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Runs an experiment from its command-line arguments (everything after its name) and returns the
 * process exit code: 0 done (or the resumed run was already complete), 1 the experiment failed,
 * 2 a usage error (nothing started, no run directory), 130 interrupted by Ctrl-C (its work
 * saved; the message says how to resume). See the module documentation for the steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExperiment, option, runExperiment } from "./experiment.ts";
 * const e = defineExperiment({
 *   name: "demo", description: "a demo", trains: false,
 *   options: { steps: option.integer(5, "steps", { min: 1 }) },
 *   run: (ctx) => Promise.resolve({ steps: ctx.options.steps }),
 * });
 * const errors: string[] = [];
 * assert.equal(await runExperiment(e, ["--steps", "0"], { logError: (l) => errors.push(l) }), 2);
 * assert.match(errors[0], /--steps: expected an integer ≥ 1, got "0"/);
 * ```
 */
export async function runExperiment(
  spec: Experiment,
  args: readonly string[],
  io: RunIo = {},
): Promise<number> {
  const log = io.log ?? ((line: string) => console.log(line));
  const logError = io.logError ?? ((line: string) => console.error(line));
  try {
    await execute(spec, args, log);
    return 0;
  } catch (error) {
    if (error instanceof ReadPermissionError) {
      const allowed = await experimentReadSet();
      logError(
        `${spec.name}: ${error.message}: the experiment task reads only ${
          allowed.join(", ")
        }; to read it too, run:`,
      );
      logError(`  ${readPermissionCommand(spec.name, args, error.paths, allowed)}`);
      return error.exitCode;
    }
    if (error instanceof UsageError) {
      logError(`${spec.name}: ${error.message}`);
      if (!error.message.startsWith("--resume:")) {
        logError(`(deno task experiment ${spec.name} --help lists every option)`);
      }
      return error.exitCode;
    }
    if (error instanceof Interrupted) {
      logError(`${spec.name}: ${error.message}`);
      return error.exitCode;
    }
    logError(`${spec.name}: ${error instanceof Error ? error.message : error}`);
    let debug: string | undefined;
    try {
      debug = Deno.env.get("SIMLEARN_DEBUG");
    } catch {
      debug = undefined;
    }
    if (debug && error instanceof Error) logError(error.stack ?? "");
    return 1;
  }
}

/** The `read` list of deno.json's `experiment` permission set (what `deno task experiment` reads). */
async function experimentReadSet(): Promise<string[]> {
  const fallback = [".", "/usr/share/datasets/fashion-mnist"];
  try {
    const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
    const read = config?.permissions?.experiment?.read;
    return Array.isArray(read) && read.every((p) => typeof p === "string") ? read : fallback;
  } catch {
    return fallback;
  }
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command that runs experiment `name` with `args` as `deno task experiment` does, with
 * `paths` added to the paths it may read (`--allow-read` replaces the permission set's list, so
 * the list is repeated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPermissionCommand } from "./experiment.ts";
 * assert.equal(
 *   readPermissionCommand("siamese", ["--data", "folder:/data/pets"], ["/data/pets"], ["."]),
 *   "deno run -P=experiment --allow-read=.,/data/pets experiments/main.ts siamese " +
 *     "--data folder:/data/pets",
 * );
 * ```
 */
export function readPermissionCommand(
  name: string,
  args: readonly string[],
  paths: readonly string[],
  allowed: readonly string[],
): string {
  const read = [...new Set([...allowed, ...paths])].join(",");
  return [
    "deno",
    "run",
    "-P=experiment",
    `--allow-read=${read}`,
    "experiments/main.ts",
    name,
    ...args,
  ]
    .map(shellWord).join(" ");
}

async function execute(
  spec: Experiment,
  args: readonly string[],
  log: (line: string) => void,
): Promise<void> {
  if (!/^[A-Za-z0-9_-]+$/.test(spec.name)) {
    throw new Error(`experiment name "${spec.name}" has characters other than A-Za-z0-9_-`);
  }
  const groups = groupsOf(spec);
  const parsed = parseOptionArgs(
    `deno task experiment ${spec.name}`,
    spec.description,
    groups,
    args,
  );
  if (parsed.help !== undefined) {
    log(parsed.help.trimEnd());
    return;
  }
  const cli = parsed.values as Record<string, unknown>;
  const resumeDir = String(cli.resume ?? "").replace(/\/+$/, "");
  let options: OptionValues<OptionSpecs>;
  let checkpointEvery = Number(cli.checkpointEvery ?? 0);
  let backendName = cli.backend as BackendName;
  let recorded: RunConfig | undefined;
  if (resumeDir) {
    const others = parsed.given.filter((k) => k !== "resume" && k !== "backend");
    if (others.length) {
      throw new UsageError(
        `--resume: the run's config.json fixes every option; only --backend may be given, got ${
          others.map((k) => "--" + k).join(", ")
        }`,
      );
    }
    recorded = await readRunConfig(spec.name, resumeDir);
    const completion = await readCompletion(resumeDir).catch(() => undefined);
    if (completion) {
      log(
        `${resumeDir} is complete (finished ${completion.finishedAt}); nothing to resume, ` +
          `no file changed. Results: ${resumeDir}/metrics.json`,
      );
      return;
    }
    const saved = recorded.options as Record<string, unknown>;
    const unknown = Object.keys(saved).filter((k) => !(k in spec.options));
    if (unknown.length) {
      throw new UsageError(
        `--resume: ${resumeDir}/config.json has options this version of ${spec.name} does not ` +
          `know: ${unknown.join(", ")}`,
      );
    }
    options = {};
    for (const [key, decl] of Object.entries(spec.options as OptionSpecs)) {
      options[key] = key in saved
        ? checkOptionValue(key, decl, saved[key])
        : Array.isArray(decl.default)
        ? [...decl.default]
        : decl.default as string | number | boolean;
    }
    if (typeof recorded.run?.checkpointEvery === "number") {
      checkpointEvery = recorded.run.checkpointEvery;
    }
    if (!parsed.given.includes("backend") && typeof recorded.backend === "string") {
      backendName = recorded.backend as BackendName;
    }
  } else {
    options = Object.fromEntries(
      Object.keys(spec.options).map((k) => [k, cli[k]]),
    ) as OptionValues<OptionSpecs>;
    if (spec.resolve) options = spec.resolve(options, parsed.given);
  }
  spec.validate?.(options);

  // Work starts here: the backend, then the data, then (only then) the run directory.
  const info = await initBackend(backendName);
  const threads = info.threads;
  log(
    `backend: ${info.backend}${info.adapter ? ` (adapter: ${info.adapter})` : ""}` +
      `, ${threads} thread${threads === 1 ? "" : "s"}` +
      (info.kernels.length ? `, project kernels: ${info.kernels.join(", ")}` : ""),
  );
  const disposables: { dispose(): void }[] = [];
  let data: ExperimentDataSet = { provenance: [] };
  let interrupt: InterruptHandle | undefined;
  try {
    if (spec.data) {
      data = await spec.data(options, log);
      if (data.dispose) disposables.push(data as { dispose(): void });
    }
    let dir: string;
    if (resumeDir && recorded) {
      const differences = dataDifferences(
        Array.isArray(recorded.data) ? recorded.data as DataProvenance[] : [],
        data.provenance,
      );
      if (differences.length) {
        throw new UsageError(
          `--resume: refusing to continue on other data than the run's (that would mix two data ` +
            `sets in one result):\n` +
            differences.map((d) => {
              const part = d.recorded ?? d.current!;
              return `  ${part.dataset} ${part.split}: the run used ${describePart(d.recorded)}\n` +
                `  ${" ".repeat(part.dataset.length + part.split.length + 2)}now found ${
                  describePart(d.current)
                }`;
            }).join("\n") +
            `\nmake the run's data available again (its source is in ${resumeDir}/config.json), ` +
            `or start a new run`,
        );
      }
      dir = resumeDir;
      const resumes = `${dir}/resumes.jsonl`;
      const before = await Deno.readTextFile(resumes).catch(() => "");
      const p = await provenance();
      await writeTextAtomic(
        resumes,
        before + JSON.stringify({
          resumedAt: p.startedAt,
          backend: info.backend,
          threads,
          gitCommit: p.gitCommit,
          git: p.git,
        }) + "\n",
      );
      log(`resuming ${dir}`);
    } else {
      dir = await createRunDir(spec.name, {
        root: String(cli.resultsRoot),
        // config.json is in place before the directory appears under its name.
        files: {
          "config.json": {
            experiment: spec.name,
            options,
            run: spec.trains === false ? {} : { checkpointEvery },
            data: data.provenance,
            encoder: spec.encoder?.(options) ?? null,
            backend: info.backend,
            adapter: info.adapter ?? null,
            threads,
            projectKernels: info.kernels,
            command: ["deno", "task", "experiment", spec.name, ...args].join(" "),
            ...(await provenance()),
          },
        },
      });
    }

    interrupt = onInterrupt();
    const signal = interrupt.signal;
    const histories: { unit: string; history: TrainResult["history"] }[] = [];
    const units = new Set<string>();
    const stages = new Set<string>();
    const resumeHint = `resume with: deno task experiment ${spec.name} --resume ${dir}`;
    const checkInterrupt = (where: string) => {
      if (signal.aborted) throw new Interrupted(`interrupted ${where}\n${resumeHint}`);
    };
    const writeHistory = () =>
      writeTextAtomic(
        `${dir}/history.jsonl`,
        histories.flatMap(({ unit, history }) =>
          history.map((r) =>
            JSON.stringify({ unit, step: r.step, loss: r.loss, seconds: r.seconds })
          )
        ).join("\n") + (histories.some((h) => h.history.length) ? "\n" : ""),
      );

    const context: RunContext<OptionValues<OptionSpecs>, ExperimentDataSet> = {
      options,
      dir,
      backend: { ...info, threads },
      data,
      resuming: Boolean(resumeDir),
      log,
      checkInterrupt: () => checkInterrupt("between steps of the run"),
      keep(value) {
        disposables.push(value);
        return value;
      },
      writeJson: (name, value) => writeJsonAtomic(`${dir}/${name}`, value),
      writeText: (name, text) => writeTextAtomic(`${dir}/${name}`, text),
      writeFigure: (name, figure, title) => writeFigureHtml(`${dir}/${name}`, figure, title),
      writeReport: (name, report) =>
        writeRunReport(`${dir}/${name}`, {
          ...report,
          experiment: spec.name,
          runId: dir.split("/").at(-1)!,
          config: options,
          data: data.provenance,
          history: Object.fromEntries(histories.map((h) => [h.unit, h.history])),
        }),
      async train<B>(name: string, unitOptions: TrainUnitOptions<B>): Promise<TrainResult> {
        if (!UNIT_NAME.test(name)) {
          throw new Error(`ctx.train: unit name "${name}" must match ${UNIT_NAME}`);
        }
        if (units.has(name)) throw new Error(`ctx.train: unit "${name}" trained twice in one run`);
        units.add(name);
        try {
          checkInterrupt(`before training "${name}"`);
          const checkpointDir = `${dir}/checkpoints/${name}`;
          const latest = await latestCheckpoint(checkpointDir);
          const finished = latest !== undefined && latest.step === unitOptions.steps;
          if (finished) log(`${name}: trained already (step ${latest.step}); weights restored`);
          const result = await train({
            ...unitOptions,
            checkpointDir,
            checkpointEvery,
            resume: true,
            signal,
            progress: finished ? false : {
              label: latest ? `${name} (resumed at ${latest.step})` : name,
              ...unitOptions.progress,
            },
          } as TrainOptions<B>);
          histories.push({ unit: name, history: result.history });
          if (result.stopped === "aborted") {
            await writeHistory();
            throw new Interrupted(
              `interrupted in "${name}" after step ${result.step} of ${unitOptions.steps}; ` +
                `checkpoint: ${result.checkpoint}\n${resumeHint}`,
            );
          }
          return result;
        } finally {
          unitOptions.optimizer?.dispose();
        }
      },
      async stage<T>(name: string, work: () => Promise<T>): Promise<T> {
        if (!UNIT_NAME.test(name)) {
          throw new Error(`ctx.stage: stage name "${name}" must match ${UNIT_NAME}`);
        }
        if (stages.has(name)) throw new Error(`ctx.stage: stage "${name}" ran twice in one run`);
        stages.add(name);
        const path = `${dir}/stages/${name}.json`;
        try {
          return decodeStage(await Deno.readTextFile(path)) as T;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) {
            throw new Error(`ctx.stage: cannot read ${path}: ${(e as Error).message}`);
          }
        }
        checkInterrupt(`before "${name}"`);
        const value = await work();
        await Deno.mkdir(`${dir}/stages`, { recursive: true });
        await writeTextAtomic(path, encodeStage(value));
        checkInterrupt(`after "${name}" (saved)`);
        return value;
      },
    };
    const metrics = await spec.run(context);
    await writeHistory();
    await writeJsonAtomic(`${dir}/metrics.json`, metrics);
    await markComplete(dir);
    log(`\nresults: ${dir}/`);
  } finally {
    interrupt?.dispose();
    for (const d of disposables.reverse()) {
      try {
        d.dispose();
      } catch {
        // already disposed
      }
    }
  }
}

/** A train and a test split of Fashion-MNIST, as arrays and as tensors, with provenance. */
export interface ExperimentData extends ExperimentDataSet {
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
 * The option every Fashion-MNIST experiment declares: where the IDX files are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FASHION_MNIST_OPTIONS } from "./experiment.ts";
 * assert.equal(FASHION_MNIST_OPTIONS.dataSource.default, "");
 * ```
 */
export const FASHION_MNIST_OPTIONS = {
  dataSource: {
    type: "string",
    default: "",
    placeholder: "dir",
    defaultLabel:
      "FASHION_MNIST_DIR, Debian's package, data/fashion-mnist-full, the embedded subset",
    description: "a Fashion-MNIST directory (IDX files, .gz or plain)",
    check: (dir: string) => dir === "" ? undefined : pathProblem("dataSource", dir, "directory"),
  },
} as const satisfies OptionSpecs;

/**
 * The provenance of a loaded Fashion-MNIST split (for `config.json`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fashionMnistProvenance } from "./experiment.ts";
 * import { loadFashionMnist } from "./data/fashion_mnist.ts";
 * const p = fashionMnistProvenance(await loadFashionMnist({ split: "test", limit: 10 }), "test");
 * assert.equal(p.count, 10);
 * assert.ok(p.fingerprint.startsWith("sha256:"));
 * ```
 */
export function fashionMnistProvenance(ds: FashionMnist, split: string): DataProvenance {
  return {
    dataset: "fashion-mnist",
    split,
    source: ds.source.dir,
    sourceKind: ds.source.kind,
    count: ds.n,
    fingerprint: ds.fingerprint,
    fingerprintOf: "images float32 [n,28,28,1] (uint8 / 255) and labels int32 [n], as loaded",
  };
}

/**
 * Loads the train and test splits that experiments share (the loader's source order, or
 * `dataSource`), keeping the first `trainLimit` / `testLimit` images when those are positive, and
 * prints one line naming the source and the sizes. The result carries each split's provenance.
 *
 * @throws UsageError when a limit is not a non-negative integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "./backend.ts";
 * import { loadExperimentData } from "./experiment.ts";
 * await initBackend("cpu");
 * const data = await loadExperimentData({ trainLimit: 1000, testLimit: 200 });
 * assert.deepEqual(data.train.x.shape, [1000, 28, 28, 1]);
 * assert.equal(data.provenance.length, 2); // train and test
 * data.dispose();
 * ```
 */
export async function loadExperimentData(
  options: { dataSource?: string; trainLimit?: number; testLimit?: number },
  log: (line: string) => void = console.log,
): Promise<ExperimentData> {
  for (const key of ["trainLimit", "testLimit"] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
      throw new UsageError(`--${key}: expected an integer ≥ 0, got ${v}`);
    }
  }
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
    provenance: [
      fashionMnistProvenance(trainSet, "train"),
      fashionMnistProvenance(testSet, "test"),
    ],
    dispose() {
      train.x.dispose();
      train.y.dispose();
      test.x.dispose();
      test.y.dispose();
    },
  };
}
