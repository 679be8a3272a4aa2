/**
 * An experiment run as a real child process, for the kill-and-resume tests: `deno run
 * -P=experiment experiments/main.ts <experiment> …` with read/write on a temporary results root
 * only, its output collected, and readers of the run directory it writes.
 *
 * @module
 */

/** The repository root. */
export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * The deno to spawn: `Deno.execPath()` when the permission set allows it by path, else `deno`
 * by name. The `test` set allows `"deno"`, which Deno resolves through PATH at start-up without
 * following links: `/usr/bin/deno` (a link to the npm-installed binary) or npx's
 * `node_modules/.bin/deno` (a hard link to it), never the canonical `Deno.execPath()`. Spawning by
 * name runs that same binary (`tests/interrupt_test.ts` checks its version). This avoids
 * `run: true`.
 */
export function denoCommand(): string {
  const own = Deno.permissions.querySync({ name: "run", command: Deno.execPath() });
  return own.state === "granted" ? Deno.execPath() : "deno";
}

/** A spawned experiment: the process, its output so far, and its end. */
export interface Child {
  /** The child process. */
  process: Deno.ChildProcess;
  /** stdout and stderr so far. */
  output: () => string;
  /** The exit code or signal, and the whole output. */
  done: Promise<{ code: number; signal: Deno.Signal | null; output: string }>;
}

/**
 * `--allow-read=<root>` next to `-P=experiment` replaces the set's read list instead of adding to
 * it, so the set's own list (read from deno.json) is repeated with the root added.
 */
function readFlag(root: string): string {
  const config = JSON.parse(Deno.readTextFileSync(`${REPO}/deno.json`));
  const read = config.permissions.experiment.read;
  return read === true ? "--allow-read" : `--allow-read=${[...read, root].join(",")}`;
}

/**
 * Starts `experiments/main.ts <experiment> …args` with results under `root` (`--resultsRoot root`
 * unless `args` resume a run), on the `experiment` permission set plus read/write on `root`.
 */
export function spawnExperiment(root: string, args: string[], experiment: string): Child {
  const full = args.includes("--resume") ? args : [...args, "--resultsRoot", root];
  const process = new Deno.Command(denoCommand(), {
    args: [
      "run",
      "-P=experiment",
      readFlag(root),
      `--allow-write=${root}`,
      "experiments/main.ts",
      experiment,
      ...full,
    ],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const drained = Promise.all([drain(process.stdout), drain(process.stderr)]);
  const done = (async () => {
    const status = await process.status;
    await drained;
    return { code: status.code, signal: status.signal, output: text };
  })();
  return { process, output: () => text, done };
}

/** The run directory `experiment` created under `root`, once there is one. */
export async function runDirOf(root: string, experiment: string): Promise<string | undefined> {
  try {
    for await (const e of Deno.readDir(`${root}/${experiment}`)) {
      // Hidden entries are the runner's temporary directories.
      if (e.isDirectory && !e.name.startsWith(".")) return `${root}/${experiment}/${e.name}`;
    }
  } catch {
    // not created yet
  }
  return undefined;
}

/** The step of the latest checkpoint of training `unit` in run `dir` (0 before the first). */
export async function latestStep(dir: string, unit = "train"): Promise<number> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/checkpoints/${unit}/latest.json`)).step;
  } catch {
    return 0;
  }
}
