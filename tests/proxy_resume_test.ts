/**
 * Kill-and-resume of a run with a proxy loss, for real: `experiments/main.ts proxy-loss --method
 * proxy-anchor` (proxies at 100× the network's learning rate, in their own Adam) as a child
 * process, killed with SIGKILL after a checkpoint and again after a resumed run wrote another,
 * then resumed to the end: the metrics, the learned proxies and the saved encoder equal those of
 * an uninterrupted run. The child has the `experiment` permission set plus its temporary root.
 */
import assert from "node:assert/strict";
import {
  type Child,
  latestStep,
  runDirOf as experimentRunDir,
  spawnExperiment,
} from "./_experiment_child.ts";

const ARGS = [
  "--method",
  "proxy-anchor",
  "--steps",
  "30",
  "--checkpointEvery",
  "10",
  "--testLimit",
  "300",
  "--trainLimit",
  "2000",
  "--backend",
  "wasm",
];

const spawn = (root: string, args: string[]): Child => spawnExperiment(root, args, "proxy-loss");
const runDirOf = (root: string) => experimentRunDir(root, "proxy-loss");

async function killAfterCheckpoint(child: Child, root: string, step: number): Promise<string> {
  let exited = false;
  child.done.then(() => exited = true);
  const deadline = Date.now() + 300_000;
  for (;;) {
    const dir = await runDirOf(root);
    if (dir && (await latestStep(dir)) >= step) {
      child.process.kill("SIGKILL");
      const r = await child.done;
      assert.equal(r.signal, "SIGKILL", r.output);
      return dir;
    }
    if (exited) throw new Error(`the run ended before checkpoint ${step}:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for checkpoint ${step}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What must not depend on interruptions: metrics, learned proxies, the encoder's weights. */
async function outcome(dir: string) {
  const m = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
  return {
    before: m.before,
    after: m.after,
    proxies: JSON.parse(await Deno.readTextFile(`${dir}/loss-parameters.json`)),
    // A digest: assert's diff of two ~1 MB arrays would take gigabytes.
    encoder: Array.from(
      new Uint8Array(
        await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/encoder/weights.bin`)),
      ),
    ).map((b) => b.toString(16).padStart(2, "0")).join(""),
  };
}

Deno.test("proxy-loss: SIGKILL twice, --resume ends with the uninterrupted metrics and proxies", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-proxy-resume-" });
  try {
    const reference = spawn(`${root}/a`, ARGS);
    const ref = await reference.done;
    assert.equal(ref.code, 0, ref.output);
    assert.match(ref.output, /loss: ProxyAnchorLoss, PML defaults/);
    const expected = await outcome((await runDirOf(`${root}/a`))!);
    assert.ok(expected.after.mapAtR > 0);
    assert.equal(expected.proxies.method, "proxy-anchor");
    assert.deepEqual(expected.proxies.parameters["0"].shape, [10, 64]);

    // Killed after its first checkpoint, resumed and killed again, resumed to the end.
    const dir = await killAfterCheckpoint(spawn(`${root}/b`, ARGS), `${root}/b`, 10);
    const first = await latestStep(dir);
    assert.ok(first >= 10 && first < 30, `checkpoint at ${first}`);
    const second = spawn(`${root}/b`, ["--resume", dir]);
    await killAfterCheckpoint(second, `${root}/b`, first + 10);
    assert.match(second.output(), /train \(resumed at [1-9]\d*\)/);
    const last = await spawn(`${root}/b`, ["--resume", dir]).done;
    assert.equal(last.code, 0, last.output);
    const got = await outcome(dir);
    assert.deepEqual(got.after, expected.after, "metrics after training");
    assert.deepEqual(got.before, expected.before);
    assert.equal(got.encoder, expected.encoder, "the saved encoder's weights");
    assert.ok(
      JSON.stringify(got.proxies) === JSON.stringify(expected.proxies),
      "the learned proxies differ",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("proxy-loss: a method without a trainable loss is refused before any work", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-proxy-bad-" });
  try {
    const r = await spawn(root, ["--method", "contrastive"]).done;
    assert.equal(r.code, 2);
    assert.match(r.output, /--method: expected one of .*arcface.*, got "contrastive"/);
    assert.equal(await runDirOf(root), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
