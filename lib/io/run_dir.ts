/**
 * Run directories (`results/<experiment>/<run-id>/`) and the provenance recorded next to results.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Versions and commit recorded with every result. */
export interface Provenance {
  /** `git rev-parse HEAD`, with `+dirty` when the tree has changes; `"unknown"` without git. */
  gitCommit: string;
  /** Library and runtime versions. */
  versions: Record<string, string>;
  /** ISO time the run started. */
  startedAt: string;
}

async function git(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The git commit of the working tree (with `+dirty` if it has uncommitted changes).
 *
 * @example
 * ```ts
 * import { gitCommit } from "./run_dir.ts";
 * console.log(await gitCommit());
 * ```
 */
export async function gitCommit(): Promise<string> {
  const head = await git(["rev-parse", "HEAD"]);
  if (!head) return "unknown";
  const status = await git(["status", "--porcelain", "--untracked-files=no"]);
  return status ? `${head}+dirty` : head;
}

/**
 * Versions, commit and start time for a results record.
 *
 * @example
 * ```ts
 * import { provenance } from "./run_dir.ts";
 * const p = await provenance();
 * console.log(p.versions.tfjs);
 * ```
 */
export async function provenance(): Promise<Provenance> {
  return {
    gitCommit: await gitCommit(),
    versions: { tfjs: tf.version.tfjs, deno: Deno.version.deno, v8: Deno.version.v8 },
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
 * Creates `<root>/<experiment>/<runId>/` and returns its path.
 *
 * @param experiment experiment name (letters, digits, `-`, `_`)
 * @example
 * ```ts
 * import { createRunDir } from "./run_dir.ts";
 * const dir = await createRunDir("siamese", { root: "/tmp/results" });
 * ```
 */
export async function createRunDir(
  experiment: string,
  options: { root?: string; runId?: string } = {},
): Promise<string> {
  if (!/^[A-Za-z0-9_-]+$/.test(experiment)) {
    throw new Error(
      `createRunDir: experiment name "${experiment}" has characters other than A-Za-z0-9_-`,
    );
  }
  const dir = `${options.root ?? "results"}/${experiment}/${options.runId ?? newRunId()}`;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}
