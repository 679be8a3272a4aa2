/**
 * Run directories and provenance (`lib/io/run_dir.ts`): the git state of a working tree (clean,
 * changed, untracked, ignored paths) on a throw-away repository, the completion marker and the
 * listing that skips incomplete runs; and `deno task figures`' refusal of a dirty tree.
 */
import assert from "node:assert/strict";
import { createRunDir, gitState, listRuns, markComplete } from "../lib/io/run_dir.ts";
import { checkCleanTree } from "../tools/figures.ts";

async function git(cwd: string, ...args: string[]) {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

async function repo(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "simlearn-git-" });
  await git(dir, "init", "-q");
  await Deno.mkdir(`${dir}/figures`);
  await Deno.writeTextFile(`${dir}/a.ts`, "export const a = 1;\n");
  await Deno.writeTextFile(`${dir}/figures/x.svg`, "<svg/>");
  await Deno.writeTextFile(`${dir}/figures/benchmark.json`, "{}");
  await Deno.writeTextFile(`${dir}/.gitignore`, "results/\n");
  await git(dir, "add", "-A");
  await git(dir, "commit", "-qm", "init");
  return dir;
}

Deno.test("gitState: clean, changed, untracked and ignored paths, with a hash of the changes", async () => {
  const dir = await repo();
  try {
    const clean = await gitState({ cwd: dir });
    assert.match(clean.commit, /^[0-9a-f]{40}$/);
    assert.deepEqual([clean.dirty, clean.dirtyPaths, clean.diffSha256], [false, [], undefined]);

    await Deno.mkdir(`${dir}/results`);
    await Deno.writeTextFile(`${dir}/results/run.json`, "{}"); // ignored by .gitignore
    assert.equal((await gitState({ cwd: dir })).dirty, false);

    await Deno.writeTextFile(`${dir}/a.ts`, "export const a = 2;\n");
    const changed = await gitState({ cwd: dir });
    assert.deepEqual(changed.dirtyPaths, ["a.ts"]);
    assert.match(changed.diffSha256!, /^sha256:[0-9a-f]{64}$/);

    await Deno.writeTextFile(`${dir}/new.ts`, "x");
    const untracked = await gitState({ cwd: dir });
    assert.deepEqual(untracked.dirtyPaths, ["a.ts", "new.ts"]);
    assert.notEqual(untracked.diffSha256, changed.diffSha256);
    await Deno.writeTextFile(`${dir}/new.ts`, "y");
    assert.notEqual((await gitState({ cwd: dir })).diffSha256, untracked.diffSha256);

    const ignoring = await gitState({ cwd: dir, ignore: (p) => p === "new.ts" });
    assert.deepEqual(ignoring.dirtyPaths, ["a.ts"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("figures: a dirty tree is refused before any work; --allow-dirty records it", async () => {
  const dir = await repo();
  try {
    assert.equal((await checkCleanTree("figures", false, dir)).dirty, false);
    // The figure files the task rewrites do not count.
    await Deno.writeTextFile(`${dir}/figures/x.svg`, "<svg>changed</svg>");
    await Deno.writeTextFile(`${dir}/figures/manifest.json`, "{}");
    assert.equal((await checkCleanTree("figures", false, dir)).dirty, false);
    assert.equal((await checkCleanTree("./figures/", false, dir)).dirty, false);
    // An input of the figures does.
    await Deno.writeTextFile(`${dir}/figures/benchmark.json`, '{"rows": []}');
    await assert.rejects(
      checkCleanTree("figures", false, dir),
      /working tree has uncommitted changes \(figures\/benchmark\.json\).*--allow-dirty/,
    );
    await Deno.writeTextFile(`${dir}/a.ts`, "changed");
    await assert.rejects(checkCleanTree("figures", false, dir), /a\.ts, figures\/benchmark\.json/);
    const state = await checkCleanTree("figures", true, dir);
    assert.equal(state.dirty, true);
    assert.deepEqual(state.dirtyPaths, ["a.ts", "figures/benchmark.json"]);
    assert.match(state.diffSha256!, /^sha256:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run directories appear with their files; done.json marks them complete; listRuns skips the rest", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-runs-" });
  try {
    const a = await createRunDir("demo", { root, runId: "a", files: { "config.json": { n: 1 } } });
    const b = await createRunDir("demo", { root, runId: "b", files: { "config.json": { n: 2 } } });
    await Deno.mkdir(`${root}/demo/orphan`); // no config.json: not a run
    await Deno.mkdir(`${root}/demo/.tmp-c`); // a start that crashed
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${a}/config.json`)), { n: 1 });
    await Deno.writeTextFile(`${a}/metrics.json`, "{}");
    await Deno.mkdir(`${a}/checkpoints/train`, { recursive: true });
    await Deno.writeTextFile(`${a}/checkpoints/train/latest.json`, "{}");
    const done = await markComplete(a);
    assert.deepEqual(Object.keys(done.files), ["config.json", "metrics.json"]);
    assert.match(
      done.files["metrics.json"],
      /^sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a$/,
    );
    const { complete, incomplete } = await listRuns(root);
    assert.deepEqual(complete.map((r) => r.dir), [a]);
    assert.deepEqual(incomplete.map((r) => r.dir), [b]);
    assert.deepEqual((await listRuns(root, "other")).complete, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
