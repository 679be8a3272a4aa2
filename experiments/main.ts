/**
 * `deno task experiment [name] [options]`: runs a named experiment from this folder (default
 * `siamese`); `--list` lists them. Each experiment file exports `experiment: Experiment`.
 *
 * @module
 */
import { type Experiment, Interrupted } from "../lib/experiment.ts";

/** The experiment run when no name is given. */
export const DEFAULT_EXPERIMENT = "siamese";

/**
 * Loads every experiment in this folder, sorted by name.
 *
 * @example
 * ```ts
 * import { loadExperiments } from "./main.ts";
 * const all = await loadExperiments();
 * console.log(all.map((e) => e.name));
 * ```
 */
export async function loadExperiments(): Promise<Experiment[]> {
  const dir = new URL("./", import.meta.url);
  const found: Experiment[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".ts") || entry.name === "main.ts") continue;
    if (entry.name.endsWith("_test.ts")) continue;
    const mod = await import(new URL(entry.name, dir).href);
    if (mod.experiment) found.push(mod.experiment as Experiment);
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Runs the command line: `--list`, or an experiment by name with its options.
 *
 * @returns the process exit code (0 success, 1 the experiment failed, 2 unknown experiment, 130 interrupted
 *   by Ctrl-C after writing a checkpoint)
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * await main(["--list"]);
 * ```
 */
export async function main(
  args: string[],
  log: (line: string) => void = console.log,
  logError: (line: string) => void = console.error,
): Promise<number> {
  const experiments = await loadExperiments();
  if (args.includes("--list")) {
    const width = Math.max(...experiments.map((e) => e.name.length));
    for (const e of experiments) log(`${e.name.padEnd(width)}  ${e.description}`);
    return 0;
  }
  const name = args[0] && !args[0].startsWith("--") ? args[0] : DEFAULT_EXPERIMENT;
  const rest = args[0] && !args[0].startsWith("--") ? args.slice(1) : args;
  const experiment = experiments.find((e) => e.name === name);
  if (!experiment) {
    logError(
      `unknown experiment "${name}"; available: ${experiments.map((e) => e.name).join(", ")}`,
    );
    return 2;
  }
  try {
    await experiment.run(rest);
    return 0;
  } catch (error) {
    if (error instanceof Interrupted) {
      logError(`${experiment.name}: ${error.message}`);
      return error.exitCode;
    }
    logError(`${experiment.name}: ${error instanceof Error ? error.message : error}`);
    if (Deno.env.get("SIMLEARN_DEBUG") && error instanceof Error) logError(error.stack ?? "");
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
