/**
 * Run directories (`results/<experiment>/<run-id>/`) and the provenance recorded next to results.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { fingerprintFiles } from "../data/fingerprint.ts";
import { writeJsonAtomic } from "./atomic.ts";

/** The state of the git working tree a result came from (see {@linkcode gitState}). */
export interface GitState {
  /** `git rev-parse HEAD`; `"unknown"` outside a git checkout or without git. */
  commit: string;
  /** Whether tracked files differ from `HEAD` or untracked, non-ignored files exist. */
  dirty: boolean;
  /** The changed or untracked paths (relative to the repository root), sorted. */
  dirtyPaths: string[];
  /**
   * With a dirty tree: SHA-256 of `git diff HEAD --binary` followed by the untracked files'
   * paths, sizes and contents (`fingerprintFiles`), so that the exact tree can be recognised.
   */
  diffSha256?: string;
}

/** Versions and commit recorded with every result. */
export interface Provenance {
  /** `git rev-parse HEAD`, with `+dirty` when the tree has changes; `"unknown"` without git. */
  gitCommit: string;
  /** The working tree: commit, whether it is dirty, and the hash of the changes. */
  git: { commit: string; dirty: boolean; diffSha256?: string };
  /** Library and runtime versions. */
  versions: Record<string, string>;
  /** ISO time the run started. */
  startedAt: string;
}

async function git(args: string[], cwd?: string): Promise<Uint8Array | undefined> {
  try {
    const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? out.stdout : undefined;
  } catch {
    return undefined;
  }
}

const decoder = new TextDecoder();

/**
 * The git state of the working tree at `cwd` (default: the current directory): the commit,
 * whether the tree is dirty (changed tracked files or untracked, non-ignored ones), the dirty
 * paths, and a hash of the changes. Paths matching `ignore` do not count as dirty (for example
 * the files a task is about to regenerate).
 *
 * @example
 * ```ts
 * import { gitState } from "./run_dir.ts";
 * const state = await gitState();
 * console.log(state.commit, state.dirty ? `dirty: ${state.dirtyPaths.join(", ")}` : "clean");
 * ```
 */
export async function gitState(
  options: { cwd?: string; ignore?: (path: string) => boolean } = {},
): Promise<GitState> {
  const { cwd } = options;
  const head = await git(["rev-parse", "HEAD"], cwd);
  if (!head) return { commit: "unknown", dirty: false, dirtyPaths: [] };
  const commit = decoder.decode(head).trim();
  const status = decoder.decode(
    await git(["status", "--porcelain=v1", "-z", "--untracked-files=all"], cwd) ??
      new Uint8Array(),
  );
  // Entries are "XY path\0", renames "XY new\0old\0".
  const fields = status.split("\0");
  const paths: string[] = [];
  const untracked: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i];
    if (entry.length < 4) continue;
    const code = entry.slice(0, 2);
    const path = entry.slice(3);
    if (code[0] === "R" || code[0] === "C") i++; // skip the source path
    if (options.ignore?.(path)) continue;
    paths.push(path);
    if (code === "??") untracked.push(path);
  }
  paths.sort();
  if (paths.length === 0) return { commit, dirty: false, dirtyPaths: [] };
  const hash = createHash("sha256");
  hash.update(await git(["diff", "HEAD", "--binary"], cwd) ?? new Uint8Array());
  if (untracked.length) {
    const top = decoder.decode(await git(["rev-parse", "--show-toplevel"], cwd) ?? new Uint8Array())
      .trim();
    // status -z paths are relative to the repository root.
    const files = await fingerprintFiles(top, untracked);
    hash.update(`\0untracked\0${files.fingerprint}`);
  }
  return { commit, dirty: true, dirtyPaths: paths, diffSha256: `sha256:${hash.digest("hex")}` };
}

/**
 * The git commit of the working tree (with `+dirty` if it has uncommitted changes or untracked,
 * non-ignored files).
 *
 * @example
 * ```ts
 * import { gitCommit } from "./run_dir.ts";
 * console.log(await gitCommit());
 * ```
 */
export async function gitCommit(): Promise<string> {
  const state = await gitState();
  return state.dirty ? `${state.commit}+dirty` : state.commit;
}

/**
 * Versions, commit (with the dirty state and the hash of the changes) and start time for a
 * results record.
 *
 * @example
 * ```ts
 * import { provenance } from "./run_dir.ts";
 * const p = await provenance();
 * console.log(p.versions.tfjs, p.git.dirty);
 * ```
 */
export async function provenance(): Promise<Provenance> {
  const state = await gitState();
  return {
    gitCommit: state.dirty ? `${state.commit}+dirty` : state.commit,
    git: {
      commit: state.commit,
      dirty: state.dirty,
      ...(state.diffSha256 ? { diffSha256: state.diffSha256 } : {}),
    },
    versions: {
      tfjs: tf.version.tfjs,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    },
    startedAt: new Date().toISOString(),
  };
}

/**
 * A run identifier sortable by time: `YYYYMMDD-HHMMSS-xxxx`.
 *
 * @example
 * ```ts
 * import { newRunId } from "./run_dir.ts";
 * newRunId(new Date("2026-01-02T03:04:05Z")).startsWith("20260102-030405-"); // true
 * ```
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${crypto.randomUUID().slice(0, 4)}`;
}

/**
 * Creates `<root>/<experiment>/<runId>/` and returns its path. With `files`, the directory is
 * built under a hidden temporary name with those JSON files in it and then renamed into place,
 * so that it never exists without them (a crash leaves at most a hidden `.tmp-…` folder).
 *
 * @param experiment experiment name (letters, digits, `-`, `_`)
 * @example
 * ```ts
 * import { createRunDir } from "./run_dir.ts";
 * const dir = await createRunDir("siamese", { root: "/tmp/results", files: { "config.json": {} } });
 * ```
 */
export async function createRunDir(
  experiment: string,
  options: { root?: string; runId?: string; files?: Record<string, unknown> } = {},
): Promise<string> {
  if (!/^[A-Za-z0-9_-]+$/.test(experiment)) {
    throw new Error(
      `createRunDir: experiment name "${experiment}" has characters other than A-Za-z0-9_-`,
    );
  }
  const parent = `${options.root ?? "results"}/${experiment}`;
  const id = options.runId ?? newRunId();
  const dir = `${parent}/${id}`;
  if (!options.files) {
    await Deno.mkdir(dir, { recursive: true });
    return dir;
  }
  const tmp = `${parent}/.tmp-${id}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    for (const [name, value] of Object.entries(options.files)) {
      await writeJsonAtomic(`${tmp}/${name}`, value);
    }
    await Deno.rename(tmp, dir);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
  return dir;
}

/** The marker file a run directory gets when its last result is written. */
export const DONE_FILE = "done.json";

/** Contents of a run's {@linkcode DONE_FILE}. */
export interface RunCompletion {
  /** ISO time the run finished. */
  finishedAt: string;
  /** The result files (relative paths, sorted) and the SHA-256 of each, as finally written. */
  files: Record<string, string>;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/**
 * Marks `dir` complete: writes {@linkcode DONE_FILE} (atomically, last) listing every file in
 * the run directory outside `checkpoints/` and `stages/` with its SHA-256. A directory without
 * it is an incomplete run (interrupted, failed or still running): {@linkcode listRuns} skips it.
 *
 * @example
 * ```ts
 * import { createRunDir, markComplete, readCompletion } from "./run_dir.ts";
 * const dir = await createRunDir("demo", { root: await Deno.makeTempDir() });
 * await Deno.writeTextFile(`${dir}/metrics.json`, "{}");
 * await markComplete(dir);
 * console.log(Object.keys((await readCompletion(dir))!.files)); // ["metrics.json"]
 * ```
 */
export async function markComplete(dir: string): Promise<RunCompletion> {
  const files: Record<string, string> = {};
  const walk = async (d: string, prefix: string) => {
    const names: { name: string; isDirectory: boolean; isFile: boolean }[] = [];
    for await (const e of Deno.readDir(d)) names.push(e);
    names.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of names) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.name.startsWith(".") || rel === DONE_FILE) continue;
      if (e.isDirectory) {
        if (!prefix && (e.name === "checkpoints" || e.name === "stages")) continue;
        await walk(`${d}/${e.name}`, rel);
      } else if (e.isFile) files[rel] = await sha256File(`${d}/${e.name}`);
    }
  };
  await walk(dir, "");
  const completion: RunCompletion = { finishedAt: new Date().toISOString(), files };
  await writeJsonAtomic(`${dir}/${DONE_FILE}`, completion);
  return completion;
}

/**
 * The completion record of the run in `dir`, or `undefined` when the run is not complete.
 *
 * @throws Error when the marker exists but is not valid JSON.
 * @example
 * ```ts
 * import { readCompletion } from "./run_dir.ts";
 * console.log(await readCompletion("/nonexistent")); // undefined
 * ```
 */
export async function readCompletion(dir: string): Promise<RunCompletion | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${DONE_FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as RunCompletion;
  } catch (e) {
    throw new Error(`${dir}/${DONE_FILE} is not valid JSON: ${(e as Error).message}`);
  }
}

/** One run found by {@linkcode listRuns}. */
export interface RunListing {
  /** The experiment (the parent folder's name). */
  experiment: string;
  /** The run id (the folder's name). */
  id: string;
  /** The run directory. */
  dir: string;
  /** Its `config.json` (`undefined` when missing or unreadable). */
  config?: Record<string, unknown>;
  /** Its completion record; `undefined` for an incomplete run. */
  completion?: RunCompletion;
}

/**
 * The run directories under `root` (`<root>/<experiment>/<run-id>/`), sorted by experiment and id
 * (ids sort by time), split into complete runs (with {@linkcode DONE_FILE}) and incomplete ones.
 * Whatever lists or aggregates runs uses `complete` only.
 *
 * @param experiment only this experiment's runs (default: all)
 * @example
 * ```ts
 * import { listRuns } from "./run_dir.ts";
 * const { complete, incomplete } = await listRuns("results", "siamese");
 * console.log(complete.length, incomplete.length);
 * ```
 */
export async function listRuns(
  root: string,
  experiment?: string,
): Promise<{ complete: RunListing[]; incomplete: RunListing[] }> {
  const complete: RunListing[] = [];
  const incomplete: RunListing[] = [];
  const dirs = async (d: string) => {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(d)) {
        if (e.isDirectory && !e.name.startsWith(".")) out.push(e.name);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return out;
      throw e;
    }
    return out.sort();
  };
  const experiments = experiment === undefined ? await dirs(root) : [experiment];
  for (const name of experiments) {
    for (const id of await dirs(`${root}/${name}`)) {
      const dir = `${root}/${name}/${id}`;
      let config: Record<string, unknown> | undefined;
      try {
        config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      } catch {
        config = undefined; // not a run directory, or one whose start failed
      }
      if (config === undefined) continue;
      let completion: RunCompletion | undefined;
      try {
        completion = await readCompletion(dir);
      } catch {
        completion = undefined;
      }
      const entry = { experiment: name, id, dir, config, completion };
      (completion ? complete : incomplete).push(entry);
    }
  }
  return { complete, incomplete };
}
