/**
 * The experiment CLI and runner in process: help generated from the declarations, every option of
 * every experiment refused with a named error, exit code 2 and no run directory when its value has
 * the wrong type, is out of range or is unknown; resuming a finished run changes no file; resuming
 * on other data is refused naming both fingerprints; listing skips incomplete runs.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DEFAULT_EXPERIMENT, loadExperiments, main } from "../experiments/main.ts";
import { describeOption, type Experiment } from "../lib/experiment.ts";
import type { OptionSpec } from "../lib/cli.ts";
import { EMBEDDED_FASHION_MNIST_DIR } from "../lib/data/fashion_mnist.ts";

const experiments = await loadExperiments();

async function capture(args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Every file under `dir` (relative path → SHA-256 and mtime). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, prefix: string) => {
    for await (const e of Deno.readDir(d)) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory) await walk(`${d}/${e.name}`, rel);
      else {
        const bytes = await Deno.readFile(`${d}/${e.name}`);
        const info = await Deno.stat(`${d}/${e.name}`);
        out[rel] = `${createHash("sha256").update(bytes).digest("hex")} ${info.mtime?.getTime()}`;
      }
    }
  };
  await walk(dir, "");
  return out;
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names;
}

Deno.test("--list prints one line per experiment, the default among them", async () => {
  const r = await capture(["--list"]);
  assert.equal(r.code, 0);
  const lines = r.out.split("\n");
  assert.equal(lines.length, experiments.length);
  assert.ok(lines.some((l) => l.startsWith(DEFAULT_EXPERIMENT + " ")));
  for (const e of experiments) assert.ok(e.description.length > 10, `${e.name} description`);
});

Deno.test("an unknown experiment exits 2, suggests the nearest and names the available ones", async () => {
  const r = await capture(["siamse"]);
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /unknown experiment "siamse" \(did you mean siamese\?\); available: .*triplet/,
  );
  assert.equal((await capture(["help", "nope"])).code, 2);
});

function assertOptionsListed(text: string, e: Experiment) {
  for (const [name, spec] of Object.entries(e.options as Record<string, OptionSpec>)) {
    const line = text.split("\n").find((l) => l.trimStart().startsWith(`--${name} `));
    assert.ok(line, `${e.name}: --${name} missing from its help`);
    // The description and what it accepts come from the declaration (possibly wrapped).
    const flat = text.replace(/\s+/g, " ");
    assert.ok(flat.includes(spec.description.replace(/\s+/g, " ")), `${e.name} --${name}`);
    assert.ok(flat.includes(describeOption(spec)), `${e.name} --${name}: ${describeOption(spec)}`);
  }
  for (const run of ["--backend", "--resultsRoot", "--resume"]) {
    assert.match(text, new RegExp(`^\\s+${run} `, "m"), `${e.name}: ${run}`);
  }
}

Deno.test("--help, -h and help list every experiment and every option with type, default and description", async () => {
  for (const form of [["--help"], ["-h"], ["help"]]) {
    const r = await capture(form);
    assert.equal(r.code, 0, form.join(" "));
    assert.equal(r.err, "");
    for (const e of experiments) {
      assert.ok(r.out.includes(`  ${e.name} `), `${form}: ${e.name} listed`);
      assertOptionsListed(r.out, e);
    }
    const flat = r.out.replace(/\s+/g, " ");
    assert.ok(flat.includes("--steps <int> optimisation steps (an integer ≥ 1; default: 300)"));
    assert.match(r.out, /--backend <auto\|webgpu\|wasm\|cpu>/);
  }
  for (const e of experiments) {
    for (const form of [[e.name, "--help"], [e.name, "-h"], ["help", e.name]]) {
      const r = await capture(form);
      assert.equal(r.code, 0, form.join(" "));
      assert.match(r.out, new RegExp(`^Usage: deno task experiment ${e.name} \\[options\\]`));
      assertOptionsListed(r.out, e);
    }
  }
});

/** Values that must be refused for a declaration: wrong type and out of range. */
function badValues(spec: OptionSpec): string[] {
  switch (spec.type) {
    case "integer":
      return [
        "1.5",
        "ten",
        "",
        ...(spec.min !== undefined ? [String(spec.min - 1)] : []),
        ...(spec.max !== undefined ? [String(spec.max + 1)] : []),
      ];
    case "number":
      return [
        "ten",
        "NaN",
        "Infinity",
        ...(spec.min !== undefined ? [String(spec.min - 0.5)] : []),
        ...(spec.above !== undefined ? [String(spec.above)] : []),
        ...(spec.max !== undefined ? [String(spec.max + 0.5)] : []),
      ];
    case "boolean":
      return ["maybe"];
    case "choice":
      return ["nope"];
    case "integers":
      return ["1,x", "1.5", ...(spec.min !== undefined ? [String(spec.min - 1)] : [])];
    case "strings":
      return spec.choices ? ["nope"] : [];
    case "string":
      return spec.check ? ["/no/such/dir/x/y"] : [];
  }
}

Deno.test("every option of every experiment: wrong type, out of range, unknown -> named error, exit 2, no run directory", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-cli-bad-" });
  let cases = 0;
  try {
    const check = async (e: Experiment, args: string[], pattern: RegExp) => {
      const rooted = args.includes("--resume") ? [] : ["--resultsRoot", root];
      const r = await capture([e.name, ...rooted, ...args]);
      assert.equal(r.code, 2, `${e.name} ${args.join(" ")}: exit ${r.code}\n${r.err}`);
      assert.match(r.err, pattern, `${e.name} ${args.join(" ")}`);
      assert.match(r.err, new RegExp(`^${e.name}: `));
      assert.doesNotMatch(r.out, /^backend: /m, "the backend must not start");
      assert.deepEqual(await entries(root), [], `${e.name} ${args.join(" ")} left a directory`);
      cases++;
    };
    for (const e of experiments) {
      for (const [name, spec] of Object.entries(e.options as Record<string, OptionSpec>)) {
        for (const bad of badValues(spec)) {
          await check(e, [`--${name}`, bad], new RegExp(`--${name}: `));
          await check(e, [`--${name}=${bad}`], new RegExp(`--${name}: `));
        }
        if (spec.type !== "boolean") {
          await check(e, [`--${name}`], new RegExp(`--${name}: missing value`));
        }
        // A misspelling (two letters swapped) suggests the option.
        if (name.length > 3) {
          const typo = name[0] + name[2] + name[1] + name.slice(3);
          if (!(typo in e.options)) {
            await check(
              e,
              [`--${typo}`, "1"],
              new RegExp(`unknown option --${typo} \\(did you mean --${name}\\?\\)`),
            );
          }
        }
      }
      await check(e, ["--noSuchOption", "1"], /unknown option --noSuchOption \(did you mean --/);
      await check(e, ["stray"], /unexpected argument "stray"/);
      await check(e, ["--backend", "tpu"], /--backend: expected one of auto, webgpu, wasm, cpu/);
      await check(e, ["--resume", `${root}/missing`], /--resume: cannot read .*config\.json/);
      await check(
        e,
        ["--resume", `${root}/missing`, "--resultsRoot", root],
        /--resume: .*only --backend may be given, got --resultsRoot/,
      );
      if ("steps" in e.options && e.name !== "benchmark") {
        await check(e, ["--steps", "0"], /--steps: expected an integer ≥ 1, got "0"/);
        await check(e, ["--steps", "-5"], /--steps: expected an integer ≥ 1, got "-5"/);
      }
    }
    // Mutually exclusive options and checks across options.
    const byName = (n: string) => experiments.find((e) => e.name === n)!;
    await check(byName("benchmark"), ["--aggregate", "--shard", "0/2"], /cannot be given together/);
    await check(byName("benchmark"), ["--steps", "5", "--epochs", "1"], /cannot be given together/);
    await check(
      byName("linear-metrics"),
      ["--skipFashion", "--pcaDim", "5"],
      /--skipFashion and --pcaDim cannot be given together/,
    );
    await check(byName("triplet"), ["--batchSize", "30", "--m", "4"], /not a multiple of --m/);
    await check(byName("similarity-kinds"), ["--imagesPerStep", "200"], /multiple of 6/);
    await check(byName("siamese"), ["--posMargin", "1", "--negMargin", "0.5"], /below --negMargin/);
    console.log(`${cases} bad command lines refused with exit code 2`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const TINY = [
  "collapse",
  "--steps",
  "4",
  "--trainLimit",
  "300",
  "--probe",
  "60",
  "--every",
  "2",
  "--backend",
  "wasm",
];

async function runDirs(root: string, name: string): Promise<string[]> {
  return (await entries(`${root}/${name}`)).sort().map((id) => `${root}/${name}/${id}`);
}

Deno.test({
  name: "a run writes config.json with provenance and done.json last; resuming it changes no file",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "simlearn-cli-done-" });
    try {
      const first = await capture([...TINY, "--resultsRoot", root]);
      assert.equal(first.code, 0, first.err);
      const [dir] = await runDirs(root, "collapse");
      const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      assert.deepEqual(config.options.steps, 4);
      assert.equal(config.backend, "wasm");
      assert.equal(config.threads, navigator.hardwareConcurrency);
      assert.equal(config.encoder.name, "mlpEncoder");
      assert.match(config.git.commit, /^([0-9a-f]{40}|unknown)$/);
      assert.equal(typeof config.git.dirty, "boolean");
      assert.equal(config.gitCommit.endsWith("+dirty"), config.git.dirty);
      assert.ok(config.versions.tfjs && config.versions.deno);
      assert.deepEqual(config.data.map((d: { split: string }) => d.split), ["train", "test"]);
      for (const d of config.data) {
        assert.equal(d.dataset, "fashion-mnist");
        assert.match(d.fingerprint, /^sha256:[0-9a-f]{64}$/);
        assert.ok(d.source.length > 0 && d.sourceKind.length > 0);
      }
      assert.deepEqual([config.data[0].count, config.data[1].count], [300, 60]);
      const done = JSON.parse(await Deno.readTextFile(`${dir}/done.json`));
      assert.ok(done.files["metrics.json"] && done.files["config.json"]);
      assert.ok(done.files["history.jsonl"] && done.files["spread.html"]);

      const before = await snapshot(dir);
      const again = await capture(["collapse", "--resume", dir]);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /is complete \(finished .*\); nothing to resume, no file changed/);
      assert.doesNotMatch(again.out, /^backend: /m);
      assert.deepEqual(await snapshot(dir), before);
      assert.deepEqual(await runDirs(root, "collapse"), [dir]);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

/** A copy of the embedded subset; with `relabel`, the first train label changed. */
async function subsetCopy(relabel: boolean): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "simlearn-fmnist-" });
  for await (const e of Deno.readDir(EMBEDDED_FASHION_MNIST_DIR)) {
    if (e.isFile && e.name.endsWith(".gz")) {
      await Deno.copyFile(`${EMBEDDED_FASHION_MNIST_DIR}/${e.name}`, `${dir}/${e.name}`);
    }
  }
  if (relabel) {
    const gz = `${dir}/train-labels-idx1-ubyte.gz`;
    const stream = (await Deno.open(gz)).readable.pipeThrough(new DecompressionStream("gzip"));
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    bytes[8] = (bytes[8] + 1) % 10; // the first label (after the 8-byte IDX header)
    await Deno.remove(gz);
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, bytes);
  }
  return dir;
}

Deno.test({
  name: "--resume on other data is refused, naming both sources and fingerprints; nothing written",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "simlearn-cli-data-" });
    const a = await subsetCopy(false), b = await subsetCopy(true);
    try {
      Deno.env.set("FASHION_MNIST_DIR", a);
      const first = await capture([...TINY, "--resultsRoot", root]);
      assert.equal(first.code, 0, first.err);
      const [dir] = await runDirs(root, "collapse");
      // Make it an interrupted run: no completion marker.
      await Deno.remove(`${dir}/done.json`);
      const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      const recorded = config.data[0].fingerprint;
      const before = await snapshot(dir);

      Deno.env.set("FASHION_MNIST_DIR", b);
      const r = await capture(["collapse", "--resume", dir]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /refusing to continue on other data than the run's/);
      assert.ok(r.err.includes(`the run used env (${a}), 300 examples, ${recorded}`), r.err);
      const now = /now found env \(([^)]*)\), 300 examples, (sha256:[0-9a-f]{64})/.exec(r.err);
      assert.ok(now, r.err);
      assert.equal(now[1], b);
      assert.notEqual(now[2], recorded);
      assert.doesNotMatch(r.err, /fashion-mnist test/, "the test split did not change");
      assert.deepEqual(await snapshot(dir), before);

      // Back on the run's data, the resume goes through and completes the run.
      Deno.env.set("FASHION_MNIST_DIR", a);
      const ok = await capture(["collapse", "--resume", dir]);
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.out, /positive-only: trained already \(step 4\); weights restored/);
      await Deno.stat(`${dir}/done.json`);
    } finally {
      Deno.env.delete("FASHION_MNIST_DIR");
      for (const d of [root, a, b]) await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test({
  name: "runs lists complete runs only and names the incomplete ones with their resume command",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "simlearn-cli-runs-" });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await capture([...TINY, "--resultsRoot", root]);
        assert.equal(r.code, 0, r.err);
        await new Promise((res) => setTimeout(res, 1100)); // distinct run ids by time
      }
      const [kept, cut] = await runDirs(root, "collapse");
      await Deno.remove(`${cut}/done.json`);
      const r = await capture(["runs", "--resultsRoot", root]);
      assert.equal(r.code, 0, r.err);
      const complete = r.out.split("\n").filter((l) => l.startsWith("collapse "));
      assert.equal(complete.length, 1);
      assert.ok(complete[0].includes(kept.split("/").at(-1)!));
      assert.match(r.out, /1 incomplete run\(s\) skipped/);
      assert.ok(r.out.includes(`deno task experiment collapse --resume ${cut}`));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
