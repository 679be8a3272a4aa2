import assert from "node:assert/strict";
import { DEFAULT_EXPERIMENT, loadExperiments, main } from "../experiments/main.ts";
import { parseOptions } from "../lib/experiment.ts";

Deno.test("--list prints one line per experiment, the default among them", async () => {
  const lines: string[] = [];
  assert.equal(await main(["--list"], (l) => lines.push(l)), 0);
  const experiments = await loadExperiments();
  assert.equal(lines.length, experiments.length);
  assert.ok(lines.some((l) => l.startsWith(DEFAULT_EXPERIMENT + " ")));
  for (const e of experiments) {
    assert.ok(e.description.length > 10, `${e.name} needs a description`);
  }
});

Deno.test("an unknown experiment exits 2 and names the available ones", async () => {
  const errors: string[] = [];
  assert.equal(await main(["no-such-thing"], () => {}, (l) => errors.push(l)), 2);
  assert.match(errors[0], /unknown experiment "no-such-thing"; available: .*siamese/);
});

Deno.test("parseOptions converts types and rejects unknown or malformed options", () => {
  const defaults = { steps: 100, name: "x", fast: false };
  assert.deepEqual(parseOptions(["--steps", "7", "--name=y", "--fast"], defaults), {
    steps: 7,
    name: "y",
    fast: true,
  });
  assert.deepEqual(parseOptions(["--backend", "cpu"], defaults), defaults);
  assert.throws(() => parseOptions(["--stesp", "7"], defaults), /unknown option --stesp/);
  assert.throws(() => parseOptions(["--steps", "many"], defaults), /--steps: expected a number/);
  assert.throws(() => parseOptions(["--steps"], defaults), /--steps: missing value/);
  assert.throws(() => parseOptions(["oops"], defaults), /unexpected argument "oops"/);
});

Deno.test("a failing experiment exits 1 with its message", async () => {
  const errors: string[] = [];
  assert.equal(await main(["siamese", "--stpes", "1"], () => {}, (l) => errors.push(l)), 1);
  assert.match(errors[0], /siamese: unknown option --stpes/);
});
