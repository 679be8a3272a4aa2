/**
 * The shape of an experiment and the plumbing every experiment shares: option parsing, backend
 * start-up, the run directory and its provenance record.
 *
 * @module
 */
import { backendFromArgs, type BackendInfo, initBackend } from "./backend.ts";
import { writeJsonAtomic } from "./io/atomic.ts";
import { createRunDir, provenance } from "./io/run_dir.ts";

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
  options: { root?: string } = {},
): Promise<RunContext> {
  const backend = await initBackend(backendFromArgs(args));
  console.log(
    `backend: ${backend.backend}${backend.adapter ? ` (adapter: ${backend.adapter})` : ""}` +
      (backend.kernels.length ? `, project kernels: ${backend.kernels.join(", ")}` : ""),
  );
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
