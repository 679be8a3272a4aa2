/**
 * Interrupted runs, for real: spawns `deno run -P=experiment experiments/main.ts <name> …` as a
 * child process, kills it with SIGKILL at several points during training (before the first
 * checkpoint, after one, after a resumed run wrote more, in later trainings of the same run) and
 * during the evaluation, or stops it with SIGINT; checks that every JSON file left in the run
 * directory parses and that the run is not marked complete, resumes with `--resume <run-dir>`,
 * and checks that the final metrics and every step's loss equal those of an uninterrupted run
 * with the same seed and backend. For `siamese`, `triplet` (five trainings) and `collapse` (two
 * trainings and a spread tracked through the checkpoints), on tiny settings.
 *
 * The child gets the `experiment` permission set plus read/write on its temporary results root
 * only. It runs on the `wasm` backend (the `cpu` backend trains the CNN at a few images/s).
 */
import assert from "node:assert/strict";
import {
  type Child,
  denoCommand,
  latestStep,
  runDirOf as experimentRunDir,
  spawnExperiment,
} from "./_experiment_child.ts";

const BASE_ARGS = [
  "--steps",
  "40",
  "--checkpointEvery",
  "10",
  "--testLimit",
  "500",
  "--trainLimit",
  "2000",
  "--backend",
  "wasm",
];

Deno.test("the spawned deno is the running deno", async () => {
  const out = await new Deno.Command(denoCommand(), { args: ["--version"], stdout: "piped" })
    .output();
  assert.ok(out.success);
  assert.match(new TextDecoder().decode(out.stdout), new RegExp(`^deno ${Deno.version.deno} `));
});

const spawn = (root: string, args: string[], experiment = "siamese"): Child =>
  spawnExperiment(root, args, experiment);

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

const runDirOf = (root: string, experiment = "siamese") => experimentRunDir(root, experiment);

/** Every `.json` file under `dir` parses (no half-written JSON); returns how many there are. */
async function assertJsonConsistent(dir: string): Promise<number> {
  let count = 0;
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".json")) {
        const text = await Deno.readTextFile(path);
        assert.doesNotThrow(() => JSON.parse(text), `${path} is not valid JSON`);
        count++;
      }
    }
  };
  await walk(dir);
  return count;
}

/** Drops timings (they naturally differ between runs) from a JSON value. */
function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !/seconds|persecond/i.test(k)).map((
      [k, v],
    ) => [k, withoutTimings(v)]),
  );
}

/** The metrics and the per-step losses, which must not depend on interruptions. */
async function finalMetrics(dir: string): Promise<unknown> {
  const m = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
  const history = (await Deno.readTextFile(`${dir}/history.jsonl`)).trim().split("\n").map((l) =>
    withoutTimings(JSON.parse(l))
  );
  return { metrics: withoutTimings(m), history };
}

/** An interrupted run is not marked complete. */
async function assertIncomplete(dir: string) {
  await assert.rejects(Deno.stat(`${dir}/done.json`), Deno.errors.NotFound);
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

const references = new Map<string, unknown>();

async function referenceMetrics(
  experiment = "siamese",
  args: string[] = BASE_ARGS,
): Promise<unknown> {
  const key = `${experiment} ${args.join(" ")}`;
  if (references.has(key)) return references.get(key);
  const root = await Deno.makeTempDir({ prefix: "simlearn-interrupt-ref-" });
  try {
    const child = spawn(root, args, experiment);
    const r = await child.done;
    assert.equal(r.code, 0, r.output);
    const dir = await runDirOf(root, experiment);
    assert.ok(dir);
    references.set(key, await finalMetrics(dir));
    return references.get(key);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("siamese: SIGKILL at several points in training and in evaluation, then --resume, ends with the uninterrupted metrics", async () => {
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
    if (dir === undefined) {
      // Killed before the run directory existed (it is made after the data are loaded): the
      // next run starts afresh.
      child = spawn(root, BASE_ARGS);
      r = await killAt(
        child,
        "the train line",
        () => Promise.resolve(/train /.test(child.output())),
      );
    }
    const runDir = (await runDirOf(root))!;
    assert.ok(runDir, "no run directory");
    assert.ok((await assertJsonConsistent(runDir)) >= 1, "config.json missing");
    await assertIncomplete(runDir);

    // 2. Resumed, killed after its first checkpoint.
    child = spawn(root, ["--resume", runDir]);
    r = await killAt(child, "checkpoint 10", async () => (await latestStep(runDir)) >= 10);
    assert.equal(r.signal, "SIGKILL");
    await assertJsonConsistent(runDir);
    const firstKill = await latestStep(runDir);
    assert.ok(firstKill >= 10 && firstKill < 40, `checkpoint at ${firstKill}`);

    // 3. Resumed from that checkpoint, killed again after writing more.
    child = spawn(root, ["--resume", runDir, "--backend", "wasm"]);
    r = await killAt(child, "checkpoint 30", async () => (await latestStep(runDir)) >= 30);
    assert.equal(r.signal, "SIGKILL");
    assert.match(r.output, /train \(resumed at [1-9]\d*\)/);
    await assertJsonConsistent(runDir);

    // 4. Resumed, killed while the trained encoder is evaluated.
    child = spawn(root, ["--resume", runDir]);
    r = await killAt(
      child,
      "the evaluation",
      () => Promise.resolve(/evaluating the trained encoder/.test(child.output())),
    );
    assert.equal(r.signal, "SIGKILL");
    await assertJsonConsistent(runDir);
    await assert.rejects(Deno.stat(`${runDir}/metrics.json`), "killed before the metrics");
    await assertIncomplete(runDir);

    // 5. Resumed to the end.
    child = spawn(root, ["--resume", runDir]);
    r = await child.done;
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /train: trained already \(step 40\); weights restored/);
    assert.ok((await assertJsonConsistent(runDir)) >= 3);
    assert.deepEqual(await finalMetrics(runDir), expected);
    const history = (await Deno.readTextFile(`${runDir}/history.jsonl`)).trim().split("\n");
    assert.deepEqual(
      history.map((l) => JSON.parse(l).step),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    await Deno.stat(`${runDir}/done.json`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Kills a multi-training experiment at each point in turn (each a condition on the run
 * directory or the output), resuming after each kill, then resumes to the end and compares with
 * an uninterrupted run.
 */
async function killAndResume(
  experiment: string,
  args: string[],
  points: { what: string; ready: (dir: string, output: string) => Promise<boolean> }[],
) {
  const expected = await referenceMetrics(experiment, args);
  const root = await Deno.makeTempDir({ prefix: `simlearn-interrupt-${experiment}-` });
  try {
    let dir: string | undefined;
    for (const [i, point] of points.entries()) {
      const child = dir
        ? spawn(root, ["--resume", dir], experiment)
        : spawn(root, args, experiment);
      const r = await killAt(child, point.what, async () => {
        dir ??= await runDirOf(root, experiment);
        return dir !== undefined && await point.ready(dir, child.output());
      });
      assert.equal(r.signal, "SIGKILL", `kill ${i + 1} (${point.what})`);
      assert.ok(dir);
      await assertJsonConsistent(dir);
      await assertIncomplete(dir);
    }
    const r = await spawn(root, ["--resume", dir!], experiment).done;
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /trained already/);
    await assertJsonConsistent(dir!);
    assert.deepEqual(await finalMetrics(dir!), expected);
    await Deno.stat(`${dir}/done.json`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const TRIPLET_ARGS = [
  "--steps",
  "40",
  "--checkpointEvery",
  "10",
  "--batchSize",
  "40",
  "--hidden",
  "256",
  "--trainLimit",
  "1200",
  "--testLimit",
  "600",
  "--verificationPairs",
  "500",
  "--backend",
  "wasm",
];

Deno.test("triplet: SIGKILL in three trainings and in an evaluation, then --resume, ends with the uninterrupted metrics", async () => {
  await killAndResume("triplet", TRIPLET_ARGS, [
    { what: "no-miner checkpoint 10", ready: async (d) => (await latestStep(d, "no-miner")) >= 10 },
    {
      what: "miner-hard checkpoint 20",
      ready: async (d) => (await latestStep(d, "miner-hard")) >= 20,
    },
    {
      what: "batch-hard checkpoint 10",
      ready: async (d) => (await latestStep(d, "batch-hard")) >= 10,
    },
    {
      what: "the batch-hard evaluation",
      ready: (_d, output) => Promise.resolve(/evaluating batch-hard/.test(output)),
    },
  ]);
});

const COLLAPSE_ARGS = [
  "--steps",
  "60",
  "--checkpointEvery",
  "10",
  "--trainLimit",
  "2000",
  "--probe",
  "600",
  "--every",
  "5",
  "--backend",
  "wasm",
];

Deno.test("collapse: SIGKILL in both trainings and in the measurement, then --resume, ends with the uninterrupted metrics", async () => {
  await killAndResume("collapse", COLLAPSE_ARGS, [
    {
      what: "positive-only checkpoint 10",
      ready: async (d) => (await latestStep(d, "positive-only")) >= 10,
    },
    {
      what: "contrastive checkpoint 10",
      ready: async (d) => (await latestStep(d, "contrastive")) >= 10,
    },
    {
      what: "contrastive checkpoint 40",
      ready: async (d) => (await latestStep(d, "contrastive")) >= 40,
    },
    {
      what: "the contrastive measurement",
      ready: (_d, output) => Promise.resolve(/measuring contrastive/.test(output)),
    },
  ]);
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
    const m = r.output.match(/interrupted in "train" after step (\d+) of 40; checkpoint: (\S+)/);
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
    await assertIncomplete(dir);

    const resumed = spawn(root, ["--resume", dir]);
    const done = await resumed.done;
    assert.equal(done.code, 0, done.output);
    assert.match(done.output, new RegExp(`train \\(resumed at ${step}\\)`));
    assert.deepEqual(await finalMetrics(dir), expected);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--resume refuses other options and a directory without config.json (exit 2)", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-interrupt-bad-" });
  try {
    let r = await spawn(root, ["--resume", root, "--steps", "5"]).done;
    assert.equal(r.code, 2);
    assert.match(r.output, /--resume: the run's config.json fixes every option/);
    r = await spawn(root, ["--resume", root]).done;
    assert.equal(r.code, 2);
    assert.match(r.output, /--resume: cannot read .*config\.json/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
