/**
 * Interrupted runs, for real: spawns `deno run -P=experiment experiments/main.ts siamese …` as a
 * child process, kills it with SIGKILL at several points (before the first checkpoint, after one,
 * after a resumed run wrote more) or stops it with SIGINT, checks that every JSON file left in the
 * run directory parses, resumes with `--resume <run-dir>`, and checks that the final metrics equal
 * those of an uninterrupted run with the same seed and backend.
 *
 * The child gets the `experiment` permission set plus read/write on its temporary results root
 * only. It runs on the `wasm` backend (the `cpu` backend trains the CNN at a few images/s).
 */
import assert from "node:assert/strict";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BASE_ARGS = [
  "--steps",
  "40",
  "--checkpointEvery",
  "10",
  "--testLimit",
  "300",
  "--trainLimit",
  "2000",
  "--backend",
  "wasm",
];

/**
 * The deno to spawn: `Deno.execPath()` when the permission set allows it by path, else `deno`
 * by name. The `test` set allows `"deno"`, which Deno resolves through PATH at start-up without
 * following links: `/usr/bin/deno` (a link to the npm-installed binary) or npx's
 * `node_modules/.bin/deno` (a hard link to it), never the canonical `Deno.execPath()`. Spawning by
 * name runs that same binary; its version is checked below. This avoids `run: true`.
 */
function denoCommand(): string {
  const own = Deno.permissions.querySync({ name: "run", command: Deno.execPath() });
  return own.state === "granted" ? Deno.execPath() : "deno";
}

Deno.test("the spawned deno is the running deno", async () => {
  const out = await new Deno.Command(denoCommand(), { args: ["--version"], stdout: "piped" })
    .output();
  assert.ok(out.success);
  assert.match(new TextDecoder().decode(out.stdout), new RegExp(`^deno ${Deno.version.deno} `));
});

interface Child {
  process: Deno.ChildProcess;
  output: () => string;
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

function spawn(root: string, args: string[]): Child {
  const resumed = args.includes("--resume");
  args = resumed ? args : [...args, "--resultsRoot", root];
  const command = new Deno.Command(denoCommand(), {
    args: [
      "run",
      "-P=experiment",
      readFlag(root),
      `--allow-write=${root}`,
      "experiments/main.ts",
      "siamese",
      ...args,
    ],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const process = command.spawn();
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `ready()` or the child exits (then fails: the kill point was missed). */
async function waitFor(child: Child, what: string, ready: () => Promise<boolean>): Promise<void> {
  let exited = false;
  child.done.then(() => exited = true);
  const deadline = Date.now() + 240_000;
  while (!(await ready())) {
    if (exited) {
      throw new Error(`the run ended before ${what}; output:\n${child.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function runDirOf(root: string): Promise<string | undefined> {
  try {
    for await (const e of Deno.readDir(`${root}/siamese`)) {
      if (e.isDirectory) return `${root}/siamese/${e.name}`;
    }
  } catch {
    // not created yet
  }
  return undefined;
}

async function latestStep(dir: string): Promise<number> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/checkpoints/latest.json`)).step;
  } catch {
    return 0;
  }
}

/** Every `.json` file under `dir` parses (no half-written JSON); returns how many there are. */
async function assertJsonConsistent(dir: string): Promise<number> {
  let count = 0;
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".json") && !e.name.endsWith(".tmp")) {
        const text = await Deno.readTextFile(path);
        assert.doesNotThrow(() => JSON.parse(text), `${path} is not valid JSON`);
        count++;
      }
    }
  };
  await walk(dir);
  return count;
}

/** The metrics that must not depend on interruptions (timings naturally do). */
async function finalMetrics(dir: string): Promise<unknown> {
  const m = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
  assert.ok(m.after && m.before, `${dir}/metrics.json lacks before/after`);
  return { before: m.before, after: m.after, data: m.data };
}

async function killAt(
  child: Child,
  what: string,
  ready: () => Promise<boolean>,
  signal: Deno.Signal = "SIGKILL",
) {
  await waitFor(child, what, ready);
  child.process.kill(signal);
  return await child.done;
}

let reference: unknown;

async function referenceMetrics(): Promise<unknown> {
  if (reference) return reference;
  const root = await Deno.makeTempDir({ prefix: "simlearn-interrupt-ref-" });
  try {
    const child = spawn(root, BASE_ARGS);
    const r = await child.done;
    assert.equal(r.code, 0, r.output);
    const dir = await runDirOf(root);
    assert.ok(dir);
    reference = await finalMetrics(dir);
    return reference;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("SIGKILL at several points, then --resume, ends with the uninterrupted metrics", async () => {
  const expected = await referenceMetrics();
  const root = await Deno.makeTempDir({ prefix: "simlearn-interrupt-kill-" });
  try {
    // 1. Killed after loading the data, before any checkpoint.
    let child = spawn(root, BASE_ARGS);
    let r = await killAt(
      child,
      "the data line",
      () => Promise.resolve(/data: /.test(child.output())),
    );
    assert.equal(r.signal, "SIGKILL");
    const dir = await runDirOf(root);
    assert.ok(dir, "no run directory");
    assert.ok((await assertJsonConsistent(dir)) >= 1, "config.json missing");

    // 2. Resumed (from no checkpoint: a fresh start), killed after its first checkpoint.
    child = spawn(root, ["--resume", dir]);
    r = await killAt(child, "checkpoint 10", async () => (await latestStep(dir)) >= 10);
    assert.equal(r.signal, "SIGKILL");
    await assertJsonConsistent(dir);
    const firstKill = await latestStep(dir);
    assert.ok(firstKill >= 10 && firstKill < 40, `checkpoint at ${firstKill}`);

    // 3. Resumed from that checkpoint, killed again after writing more.
    child = spawn(root, ["--resume", dir, "--backend", "wasm"]);
    r = await killAt(child, "checkpoint 30", async () => (await latestStep(dir)) >= 30);
    assert.equal(r.signal, "SIGKILL");
    assert.match(r.output, /train \(resumed at [1-9]\d*\)/);
    await assertJsonConsistent(dir);

    // 4. Resumed to the end.
    child = spawn(root, ["--resume", dir]);
    r = await child.done;
    assert.equal(r.code, 0, r.output);
    assert.ok((await assertJsonConsistent(dir)) >= 3);
    assert.deepEqual(await finalMetrics(dir), expected);
    const history = (await Deno.readTextFile(`${dir}/history.jsonl`)).trim().split("\n");
    assert.deepEqual(
      history.map((l) => JSON.parse(l).step),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SIGINT stops after the current step with a checkpoint, exit code 130 and the resume command", async () => {
  const expected = await referenceMetrics();
  const root = await Deno.makeTempDir({ prefix: "simlearn-interrupt-int-" });
  try {
    const child = spawn(root, BASE_ARGS);
    const r = await killAt(child, "checkpoint 10", async () => {
      const d = await runDirOf(root);
      return d !== undefined && (await latestStep(d)) >= 10;
    }, "SIGINT");
    assert.equal(r.code, 130, r.output);
    const dir = (await runDirOf(root))!;
    const m = r.output.match(/interrupted after step (\d+) of 40; checkpoint: (\S+)/);
    assert.ok(m, r.output);
    const step = Number(m[1]);
    assert.ok(step >= 10 && step < 40);
    assert.equal(await latestStep(dir), step, "the checkpoint is at the interrupted step");
    assert.ok(
      r.output.includes(`resume with: deno task experiment siamese --resume ${dir}`),
      r.output,
    );
    await assertJsonConsistent(dir);
    await assert.rejects(Deno.stat(`${dir}/metrics.json`));

    const resumed = spawn(root, ["--resume", dir]);
    const done = await resumed.done;
    assert.equal(done.code, 0, done.output);
    assert.match(done.output, new RegExp(`train \\(resumed at ${step}\\)`));
    assert.deepEqual(await finalMetrics(dir), expected);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--resume refuses other options and a directory without config.json", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-interrupt-bad-" });
  try {
    let r = await spawn(root, ["--resume", root, "--steps", "5"]).done;
    assert.equal(r.code, 1);
    assert.match(r.output, /--resume: the run's config.json fixes every option/);
    r = await spawn(root, ["--resume", root]).done;
    assert.equal(r.code, 1);
    assert.match(r.output, /--resume: cannot read .*config\.json/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
