/**
 * `deno task experiment [name] [options]`: runs a named experiment from this folder (default
 * `siamese`) through the one runner, `runExperiment` (`lib/experiment.ts`). Each experiment file
 * exports `experiment` (made with `defineExperiment`).
 *
 * ```text
 * deno task experiment --help | -h | help     the experiments and every option of each
 * deno task experiment help <name>            one experiment's options (same as <name> --help)
 * deno task experiment --list                 one line per experiment
 * deno task experiment runs [name]            the complete runs under results/ (incomplete skipped)
 * deno task experiment [name] [--option value ...]
 * ```
 *
 * @module
 */
import {
  type Experiment,
  experimentHelp,
  nearestName,
  RUN_OPTIONS,
  runExperiment,
} from "../lib/experiment.ts";
import { listRuns } from "../lib/io/run_dir.ts";

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
    if (entry.name.endsWith("_test.ts") || entry.name.startsWith("_")) continue;
    const mod = await import(new URL(entry.name, dir).href);
    if (mod.experiment) found.push(mod.experiment as Experiment);
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

function listing(experiments: readonly Experiment[]): string[] {
  const width = Math.max(...experiments.map((e) => e.name.length));
  return experiments.map((e) =>
    `  ${e.name.padEnd(width)}  ${e.description}${
      e.name === DEFAULT_EXPERIMENT ? " (default)" : ""
    }`
  );
}

function usage(experiments: readonly Experiment[]): string {
  return [
    "Usage: deno task experiment [name] [--option value ...]",
    "       deno task experiment help [name] | --list | runs [name]",
    "",
    "Runs an experiment: results go to <resultsRoot>/<name>/<run-id>/ (config.json, metrics.json,",
    "history.jsonl, figures, done.json once complete). Ctrl-C saves a checkpoint and prints the",
    "command that resumes the run (--resume <run-dir>).",
    "",
    "Experiments:",
    ...listing(experiments),
  ].join("\n");
}

async function printRuns(
  root: string,
  name: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const { complete, incomplete } = await listRuns(root, name);
  if (!complete.length) log(`no complete runs under ${root}/${name ?? ""}`);
  for (const r of complete) {
    const data = Array.isArray(r.config?.data)
      ? (r.config.data as { split: string; count: number; sourceKind?: string }[]).map((d) =>
        `${d.split} ${d.count}${d.sourceKind ? ` (${d.sourceKind})` : ""}`
      ).join(", ")
      : "";
    log(`${r.experiment.padEnd(24)} ${r.id}  finished ${r.completion!.finishedAt}  ${data}`);
  }
  if (incomplete.length) {
    log(`\n${incomplete.length} incomplete run(s) skipped (interrupted, failed or running):`);
    for (const r of incomplete) {
      log(`  ${r.dir}  (resume: deno task experiment ${r.experiment} --resume ${r.dir})`);
    }
  }
}

/**
 * Runs the command line (see the module documentation).
 *
 * @returns the process exit code: 0 success (and help), 1 the experiment failed, 2 a usage error
 *   (unknown experiment or option, bad value; nothing started), 130 interrupted by Ctrl-C after
 *   saving its work.
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
  const byName = (name: string) => experiments.find((e) => e.name === name);
  const unknown = (name: string) => {
    const near = nearestName(name, experiments.map((e) => e.name));
    logError(
      `unknown experiment "${name}"${near ? ` (did you mean ${near}?)` : ""}; available: ${
        experiments.map((e) => e.name).join(", ")
      }`,
    );
    return 2;
  };
  const first = args[0];
  if (first === "--list") {
    if (args.length > 1) {
      logError(`--list takes nothing after it, got ${args.slice(1).join(" ")}`);
      return 2;
    }
    for (const e of experiments) {
      log(`${e.name.padEnd(24)}  ${e.description}`);
    }
    return 0;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    const name = args[1];
    if (name !== undefined) {
      const e = byName(name);
      if (!e) return unknown(name);
      log(experimentHelp(e).trimEnd());
      return 0;
    }
    log(usage(experiments));
    for (const e of experiments) {
      log("\n" + "─".repeat(100) + "\n");
      log(experimentHelp(e).trimEnd());
    }
    return 0;
  }
  if (first === "runs") {
    const rest = args.slice(1);
    let root = String(RUN_OPTIONS.resultsRoot.default);
    const i = rest.findIndex((a) => a === "--resultsRoot" || a.startsWith("--resultsRoot="));
    if (i >= 0) {
      root = rest[i].includes("=") ? rest[i].split("=")[1] : rest[i + 1] ?? root;
      rest.splice(i, rest[i].includes("=") ? 1 : 2);
    }
    if (rest.length > 1 || (rest[0] && !byName(rest[0]))) {
      return rest[0] && !rest[0].startsWith("-") && rest.length === 1
        ? unknown(rest[0])
        : (logError(`usage: deno task experiment runs [name] [--resultsRoot dir]`), 2);
    }
    await printRuns(root, rest[0], log);
    return 0;
  }
  const named = first !== undefined && !first.startsWith("-");
  const name = named ? first : DEFAULT_EXPERIMENT;
  const experiment = byName(name);
  if (!experiment) return unknown(name);
  return await runExperiment(experiment, named ? args.slice(1) : args, { log, logError });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
