/** `lib/cli.ts`: declared options parsed with commander, checked, and turned into help. */
import assert from "node:assert/strict";
import {
  checkOptionValue,
  nearestName,
  option,
  type OptionGroup,
  parseOptionArgs,
  UsageError,
} from "../lib/cli.ts";

const groups: OptionGroup[] = [{
  heading: "Options:",
  options: {
    steps: option.integer(300, "optimisation steps", { min: 1 }),
    rate: option.number(1e-3, "learning rate", { above: 0, max: 1 }),
    model: option.choice(["mlp", "cnn"], "mlp", "the encoder"),
    quick: { ...option.flag("a quick run"), conflicts: ["shard"] },
    shard: option.string("", "k/n", { check: (v) => /^\d+\/\d+$/.test(v) ? undefined : "not k/n" }),
    dims: option.integers([2, 4], "dimensions", { min: 1, unique: true }),
    names: option.strings(["a"], "names", { choices: ["a", "b"] }),
  },
}, {
  heading: "Run options:",
  options: { backend: option.choice(["auto", "wasm", "cpu"], "auto", "backend") },
  env: { backend: "SIMLEARN_TEST_BACKEND" },
}];

const parse = (args: string[]) => parseOptionArgs("demo", "a demo", groups, args);

Deno.test("values are converted to their declared types; given options are reported", () => {
  const r = parse(["--steps", "5", "--rate=0.5", "--quick", "--dims", "8, 16", "--names", "b,a"]);
  assert.deepEqual(r.values, {
    steps: 5,
    rate: 0.5,
    model: "mlp",
    quick: true,
    shard: "",
    dims: [8, 16],
    names: ["b", "a"],
    backend: "auto",
  });
  assert.deepEqual(r.given.sort(), ["dims", "names", "quick", "rate", "steps"]);
  assert.equal(parse(["--quick=false"]).values!.quick, false);
  assert.equal(parse(["--quick", "no"]).values!.quick, false);
  assert.deepEqual(parse([]).values!.dims, [2, 4]);
});

Deno.test("every kind of bad value is a UsageError naming the option, the value and the rule", () => {
  const cases: [string[], RegExp][] = [
    [["--steps", "1.5"], /^--steps: expected an integer ≥ 1, got "1\.5"$/],
    [["--steps", "0"], /^--steps: expected an integer ≥ 1, got "0"$/],
    [["--steps", " "], /^--steps: expected an integer ≥ 1, got " "$/],
    [["--rate", "0"], /^--rate: expected a number > 0 and ≤ 1, got "0"$/],
    [["--rate", "NaN"], /--rate: expected a number/],
    [["--model", "rnn"], /^--model: expected one of mlp, cnn, got "rnn"$/],
    [["--quick=maybe"], /^--quick: expected true or false, got "maybe"$/],
    [["--shard", "1-2"], /^--shard: not k\/n, got "1-2"$/],
    [["--dims", "2,2"], /^--dims: expected comma-separated integers ≥ 1, each once, got "2,2"$/],
    [["--names", "c"], /^--names: expected comma-separated names from a, b, got "c"$/],
    [["--stpes", "3"], /^unknown option --stpes \(did you mean --steps\?\)$/],
    [["--steps"], /^--steps: missing value \(expected an integer ≥ 1\)$/],
    [["extra"], /^unexpected argument "extra"/],
    [["--quick", "--shard", "1/2"], /^--quick and --shard cannot be given together$/],
  ];
  for (const [args, pattern] of cases) {
    assert.throws(() => parse(args), (e: Error) => {
      assert.ok(e instanceof UsageError, `${args}: ${e}`);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("an environment variable gives a default, checked like the option", () => {
  try {
    Deno.env.set("SIMLEARN_TEST_BACKEND", "cpu");
    assert.equal(parse([]).values!.backend, "cpu");
    assert.equal(parse(["--backend", "wasm"]).values!.backend, "wasm");
    Deno.env.set("SIMLEARN_TEST_BACKEND", "tpu");
    assert.throws(() => parse([]), /SIMLEARN_TEST_BACKEND: --backend: expected one of/);
  } finally {
    Deno.env.delete("SIMLEARN_TEST_BACKEND");
  }
});

Deno.test("--help is generated from the declarations", () => {
  const help = parse(["--help"]).help!;
  assert.equal(parse(["-h"]).help, help);
  assert.match(help, /^Usage: demo \[options\]/);
  const flat = help.replace(/\s+/g, " ");
  for (
    const piece of [
      "--steps <int> optimisation steps (an integer ≥ 1; default: 300)",
      "--rate <number> learning rate (a number > 0 and ≤ 1; default: 0.001)",
      "--model <mlp|cnn> the encoder (one of mlp, cnn; default: mlp)",
      "--quick [bool] a quick run (true or false; default: false)",
      "--dims <int,...> dimensions (comma-separated integers ≥ 1, each once; default: 2,4)",
      "Run options: --backend <auto|wasm|cpu> backend (one of auto, wasm, cpu; env SIMLEARN_TEST_BACKEND; default: auto)",
    ]
  ) assert.ok(flat.includes(piece), piece);
});

Deno.test("checkOptionValue checks recorded values; nearestName finds the closest option", () => {
  const steps = option.integer(1, "steps", { min: 1 });
  assert.equal(checkOptionValue("steps", steps, 3), 3);
  assert.throws(() => checkOptionValue("steps", steps, 0), /--steps: expected an integer ≥ 1/);
  assert.throws(() => checkOptionValue("steps", steps, "3"), /got "3"/);
  assert.deepEqual(checkOptionValue("d", option.integers([1], "d"), [3, 4]), [3, 4]);
  assert.equal(nearestName("lerningRate", ["learningRate", "seed"]), "learningRate");
  assert.equal(nearestName("sede", ["learningRate", "seed"]), "seed");
  assert.equal(nearestName("x", []), undefined);
});
