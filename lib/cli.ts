/**
 * Declared command-line options: one declaration per option (type, default, range or choices,
 * one-line description) that both validates the values and generates `--help`. Parsing is done by
 * `commander` (npm), the most used argument parser for JavaScript; this module turns each
 * declaration into a commander option with a value parser that checks type, integer-ness and
 * range, and turns commander's errors into {@linkcode UsageError}s (exit code 2) that name the
 * option, the value and what was expected, suggesting the nearest option for an unknown one.
 *
 * ```ts ignore
 * const options = {
 *   steps: option.integer(300, "optimisation steps", { min: 1 }),
 *   learningRate: option.number(1e-3, "Adam's learning rate", { above: 0 }),
 *   model: option.choice(["mlp", "cnn"], "mlp", "the encoder"),
 * };
 * parseOptionArgs("demo", "a demo", options, ["--steps", "10"]); // { values: { steps: 10, … } }
 * ```
 *
 * @module
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";

/**
 * A command line that cannot be run as given (unknown or malformed option, value out of range,
 * conflicting options, a refused `--resume`): the CLI prints the message and exits with code 2,
 * before any work starts and without creating a run directory.
 *
 * @example
 * ```ts
 * import { UsageError } from "./cli.ts";
 * console.log(new UsageError("--steps: expected an integer ≥ 1, got 0").exitCode); // 2
 * ```
 */
export class UsageError extends Error {
  /** The process exit code for a usage error. */
  readonly exitCode = 2;
  /**
   * @param message what is wrong, naming the option and the value
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A path named on the command line that the process may not read (Deno's permissions): a
 * {@linkcode UsageError} (exit code 2) that carries the paths, so that the runner can print the
 * exact command that grants reading them.
 *
 * @example
 * ```ts
 * import { ReadPermissionError } from "./cli.ts";
 * const e = new ReadPermissionError("--data: no permission to read /data/pets", ["/data/pets"]);
 * console.log(e.exitCode, e.paths); // 2 ["/data/pets"]
 * ```
 */
export class ReadPermissionError extends UsageError {
  /** The paths to allow reading. */
  readonly paths: readonly string[];
  /**
   * @param message what could not be read, naming the option
   * @param paths the paths to allow reading
   */
  constructor(message: string, paths: readonly string[]) {
    super(message);
    this.name = "ReadPermissionError";
    this.paths = [...paths];
  }
}

/**
 * Checks a path given to option `--<name>` before any work: that this process may read it
 * (else a {@linkcode ReadPermissionError}), that it exists, and that it is a directory or a file
 * as `want` says. For an option declaration's `check`.
 *
 * @returns what is wrong (`"no such file or directory"`, `"not a directory"`, …), or `undefined`
 * @throws ReadPermissionError when Deno's permissions do not allow reading `path`.
 * @example
 * ```ts
 * import { pathProblem } from "./cli.ts";
 * console.log(pathProblem("data", "/no/such/dir", "directory")); // "no such directory"
 * ```
 */
export function pathProblem(
  name: string,
  path: string,
  want: "directory" | "file" | "any",
): string | undefined {
  let state: string;
  try {
    state = Deno.permissions.querySync({ name: "read", path }).state;
  } catch {
    state = "granted"; // no permission API (an embedder): let the read itself fail
  }
  if (state !== "granted") {
    throw new ReadPermissionError(`--${name}: no permission to read ${path}`, [path]);
  }
  const what = want === "any" ? "file or directory" : want;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    return e instanceof Deno.errors.NotFound
      ? `no such ${what}`
      : `cannot read it (${(e as Error).message})`;
  }
  if (want === "directory" && !info.isDirectory) return "not a directory";
  if (want === "file" && !info.isFile) return "not a file";
  return undefined;
}

interface OptionBase {
  /** One line for `--help`. */
  description: string;
  /** Options that may not be given together with this one on the command line. */
  conflicts?: readonly string[];
}

/** An integer option (`<int>`), optionally within `[min, max]`. */
export interface IntegerOption extends OptionBase {
  /** The kind of value. */
  type: "integer";
  /** Used when the option is not given. */
  default: number;
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
}

/** A finite number option (`<number>`), optionally bounded. */
export interface NumberOption extends OptionBase {
  /** The kind of value. */
  type: "number";
  /** Used when the option is not given. */
  default: number;
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** Values must be greater than this (exclusive lower bound). */
  above?: number;
}

/** A text option (`<text>`, or a custom placeholder such as `<dir>`). */
export interface StringOption extends OptionBase {
  /** The kind of value. */
  type: "string";
  /** Used when the option is not given. */
  default: string;
  /** The placeholder shown in `--help` (default `text`). */
  placeholder?: string;
  /** How the default is shown in `--help` (default: the value in quotes). */
  defaultLabel?: string;
  /** Further check: returns what is wrong, or `undefined` when the value is fine. */
  check?: (value: string) => string | undefined;
}

/** A flag: `--name` sets it, `--name=false` clears it. */
export interface BooleanOption extends OptionBase {
  /** The kind of value. */
  type: "boolean";
  /** Used when the option is not given. */
  default: boolean;
}

/** One of a fixed set of words. */
export interface ChoiceOption<C extends string = string> extends OptionBase {
  /** The kind of value. */
  type: "choice";
  /** The allowed values. */
  choices: readonly C[];
  /** Used when the option is not given. */
  default: C;
}

/** Comma-separated integers (`2,4,8`). */
export interface IntegerListOption extends OptionBase {
  /** The kind of value. */
  type: "integers";
  /** Used when the option is not given. */
  default: readonly number[];
  /** Smallest allowed element (inclusive). */
  min?: number;
  /** Largest allowed element (inclusive). */
  max?: number;
  /** Refuse repeated elements. */
  unique?: boolean;
}

/** Comma-separated words (`euclidean,cosine`), optionally from a fixed set. */
export interface StringListOption extends OptionBase {
  /** The kind of value. */
  type: "strings";
  /** Used when the option is not given. */
  default: readonly string[];
  /** The allowed elements (any when absent). */
  choices?: readonly string[];
  /** Whether the empty list is allowed (default false). */
  allowEmpty?: boolean;
}

/** Any option declaration. */
export type OptionSpec =
  | IntegerOption
  | NumberOption
  | StringOption
  | BooleanOption
  | ChoiceOption
  | IntegerListOption
  | StringListOption;

/** Option declarations by name (the name is the flag: `steps` → `--steps`). */
export type OptionSpecs = Record<string, OptionSpec>;

/** The value type a declaration produces. */
export type OptionValue<S> = S extends IntegerOption | NumberOption ? number
  : S extends BooleanOption ? boolean
  : S extends ChoiceOption<infer C> ? C
  : S extends IntegerListOption ? number[]
  : S extends StringListOption ? string[]
  : string;

/** The values of a set of declarations. */
export type OptionValues<O extends OptionSpecs> = { [K in keyof O]: OptionValue<O[K]> };

/**
 * Builders for option declarations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { option } from "./cli.ts";
 * const steps = option.integer(300, "optimisation steps", { min: 1 });
 * assert.equal(steps.type, "integer");
 * assert.equal(option.choice(["mlp", "cnn"], "mlp", "the encoder").default, "mlp");
 * ```
 */
export const option = {
  /** An integer, optionally within `[min, max]`. */
  integer(
    defaultValue: number,
    description: string,
    range: { min?: number; max?: number } = {},
  ): IntegerOption {
    return { type: "integer", default: defaultValue, description, ...range };
  },
  /** A finite number; `above` is an exclusive lower bound (for example a learning rate > 0). */
  number(
    defaultValue: number,
    description: string,
    range: { min?: number; max?: number; above?: number } = {},
  ): NumberOption {
    return { type: "number", default: defaultValue, description, ...range };
  },
  /** Text. */
  string(
    defaultValue: string,
    description: string,
    extra: Pick<StringOption, "placeholder" | "defaultLabel" | "check"> = {},
  ): StringOption {
    return { type: "string", default: defaultValue, description, ...extra };
  },
  /** A flag (default false). */
  flag(description: string, defaultValue = false): BooleanOption {
    return { type: "boolean", default: defaultValue, description };
  },
  /** One of `choices`. */
  choice<const C extends string>(
    choices: readonly C[],
    defaultValue: NoInfer<C>,
    description: string,
  ): ChoiceOption<C> {
    return { type: "choice", choices, default: defaultValue, description };
  },
  /** Comma-separated integers. */
  integers(
    defaultValue: readonly number[],
    description: string,
    range: { min?: number; max?: number; unique?: boolean } = {},
  ): IntegerListOption {
    return { type: "integers", default: defaultValue, description, ...range };
  },
  /** Comma-separated words, optionally from `choices`. */
  strings(
    defaultValue: readonly string[],
    description: string,
    extra: { choices?: readonly string[]; allowEmpty?: boolean } = {},
  ): StringListOption {
    return { type: "strings", default: defaultValue, description, ...extra };
  },
};

function rangeText(min?: number, max?: number, above?: number): string {
  const parts: string[] = [];
  if (above !== undefined) parts.push(`> ${above}`);
  if (min !== undefined && max !== undefined) return `in [${min}, ${max}]`;
  if (min !== undefined) parts.push(`≥ ${min}`);
  if (max !== undefined) parts.push(`≤ ${max}`);
  return parts.join(" and ");
}

/**
 * What a declaration accepts, in words (used in `--help` and in error messages).
 *
 * @example
 * ```ts
 * import { describeOption, option } from "./cli.ts";
 * describeOption(option.integer(1, "x", { min: 1 })); // "an integer ≥ 1"
 * ```
 */
export function describeOption(spec: OptionSpec): string {
  switch (spec.type) {
    case "integer": {
      const r = rangeText(spec.min, spec.max);
      return `an integer${r ? " " + r : ""}`;
    }
    case "number": {
      const r = rangeText(spec.min, spec.max, spec.above);
      return `a number${r ? " " + r : ""}`;
    }
    case "boolean":
      return "true or false";
    case "choice":
      return `one of ${spec.choices.join(", ")}`;
    case "integers": {
      const r = rangeText(spec.min, spec.max);
      return `comma-separated integers${r ? " " + r : ""}${spec.unique ? ", each once" : ""}`;
    }
    case "strings":
      return spec.choices
        ? `comma-separated names from ${spec.choices.join(", ")}`
        : "comma-separated names";
    case "string":
      return "text";
  }
}

function placeholder(spec: OptionSpec): string {
  switch (spec.type) {
    case "integer":
      return "<int>";
    case "number":
      return "<number>";
    case "boolean":
      return "[bool]";
    case "choice":
      return `<${spec.choices.join("|")}>`;
    case "integers":
      return "<int,...>";
    case "strings":
      return "<name,...>";
    case "string":
      return `<${spec.placeholder ?? "text"}>`;
  }
}

function defaultLabel(spec: OptionSpec): string {
  switch (spec.type) {
    case "integers":
    case "strings":
      return spec.default.length ? spec.default.join(",") : "none";
    case "string":
      return spec.defaultLabel ?? (spec.default === "" ? "none" : JSON.stringify(spec.default));
    default:
      return String(spec.default);
  }
}

function inRange(
  v: number,
  spec: { min?: number; max?: number; above?: number },
): boolean {
  return (spec.min === undefined || v >= spec.min) && (spec.max === undefined || v <= spec.max) &&
    (spec.above === undefined || v > spec.above);
}

/**
 * Converts a command-line value to the declared type and checks it.
 *
 * @throws UsageError `--<name>: expected <what>, got "<raw>"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { option, parseOptionValue } from "./cli.ts";
 * const steps = option.integer(300, "steps", { min: 1 });
 * assert.equal(parseOptionValue("steps", steps, "12"), 12);
 * assert.throws(() => parseOptionValue("steps", steps, "1.5"), /--steps: expected an integer ≥ 1, got "1.5"/);
 * ```
 */
export function parseOptionValue(
  name: string,
  spec: OptionSpec,
  raw: string,
): number | string | boolean | number[] | string[] {
  const fail = (): never => {
    throw new UsageError(`--${name}: expected ${describeOption(spec)}, got ${JSON.stringify(raw)}`);
  };
  const number = (text: string) => {
    const t = text.trim();
    const v = Number(t);
    return t === "" || !Number.isFinite(v) ? NaN : v;
  };
  switch (spec.type) {
    case "integer": {
      const v = number(raw);
      if (!Number.isInteger(v) || !inRange(v, spec)) fail();
      return v;
    }
    case "number": {
      const v = number(raw);
      if (!Number.isFinite(v) || !inRange(v, spec)) fail();
      return v;
    }
    case "boolean": {
      const t = raw.trim().toLowerCase();
      if (t === "true" || t === "1" || t === "yes") return true;
      if (t === "false" || t === "0" || t === "no") return false;
      return fail();
    }
    case "choice":
      if (!(spec.choices as readonly string[]).includes(raw)) fail();
      return raw;
    case "integers": {
      const parts = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      const values = parts.map(number);
      if (!values.length || values.some((v) => !Number.isInteger(v) || !inRange(v, spec))) fail();
      if (spec.unique && new Set(values).size !== values.length) fail();
      return values;
    }
    case "strings": {
      const values = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (!values.length && !spec.allowEmpty) fail();
      if (spec.choices && values.some((v) => !spec.choices!.includes(v))) fail();
      return values;
    }
    case "string": {
      const problem = spec.check?.(raw);
      if (problem) throw new UsageError(`--${name}: ${problem}, got ${JSON.stringify(raw)}`);
      return raw;
    }
  }
}

/**
 * Checks a value that did not come from the command line (for example an option recorded in a
 * run's `config.json`) against its declaration, with the same rules as
 * {@linkcode parseOptionValue}.
 *
 * @throws UsageError naming the option, the value and what was expected.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptionValue, option } from "./cli.ts";
 * assert.equal(checkOptionValue("steps", option.integer(1, "steps"), 5), 5);
 * assert.throws(() => checkOptionValue("steps", option.integer(1, "steps"), "5"), /--steps/);
 * ```
 */
export function checkOptionValue(
  name: string,
  spec: OptionSpec,
  value: unknown,
): number | string | boolean | number[] | string[] {
  const ok = (() => {
    switch (spec.type) {
      case "integer":
      case "number":
        return typeof value === "number";
      case "boolean":
        return typeof value === "boolean";
      case "integers":
        return Array.isArray(value) && value.every((v) => typeof v === "number");
      case "strings":
        return Array.isArray(value) && value.every((v) => typeof v === "string");
      default:
        return typeof value === "string";
    }
  })();
  if (!ok) {
    throw new UsageError(
      `--${name}: expected ${describeOption(spec)}, got ${JSON.stringify(value)}`,
    );
  }
  const raw = Array.isArray(value) ? value.join(",") : String(value);
  return parseOptionValue(name, spec, raw);
}

/**
 * The option name nearest to `word` by edit distance (insertions, deletions, substitutions and
 * swaps of neighbours each count 1), or `undefined` when `candidates` is empty.
 *
 * @example
 * ```ts
 * import { nearestName } from "./cli.ts";
 * nearestName("stesp", ["steps", "seed"]); // "steps"
 * ```
 */
export function nearestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const a = word.toLowerCase();
  for (const candidate of candidates) {
    const b = candidate.toLowerCase();
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const cost = a[i - 1] === b[j - 1] ? 0 : 1;
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    const distance = d[a.length][b.length];
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

/** A group of declarations shown under its own heading in `--help`. */
export interface OptionGroup {
  /** The heading, e.g. `"Options:"` or `"Run options:"`. */
  heading: string;
  /** The declarations. */
  options: OptionSpecs;
  /** Environment variables that give an option's value when it is not on the command line. */
  env?: Record<string, string>;
}

/**
 * A commander `Command` for one command and its option groups; its help is generated from the
 * declarations (placeholder for the type, the description, what is accepted and the default).
 *
 * @example
 * ```ts
 * import { buildCommand, option } from "./cli.ts";
 * const help = buildCommand("demo", "a demo", [{
 *   heading: "Options:",
 *   options: { steps: option.integer(300, "optimisation steps", { min: 1 }) },
 * }]).helpInformation();
 * console.log(help.includes("--steps <int>")); // true
 * ```
 */
export function buildCommand(
  name: string,
  description: string,
  groups: readonly OptionGroup[],
  onProblem: (problem: UsageError) => void = () => {},
): Command {
  const command = new Command(name)
    .description(description)
    .exitOverride()
    .allowExcessArguments(false)
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: () => {},
      writeErr: () => {},
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .helpOption("-h, --help", "show this help and exit")
    .configureHelp({ sortOptions: false, showGlobalOptions: false, helpWidth: 100 });
  for (const group of groups) {
    for (const [key, spec] of Object.entries(group.options)) {
      const env = group.env?.[key];
      const flag = `--${key} ${placeholder(spec)}`;
      const text = `${spec.description} (${describeOption(spec)}${
        env ? `; env ${env}` : ""
      }; default: ${defaultLabel(spec)})`;
      const o = new Option(flag, text).helpGroup(group.heading).argParser((raw: string) => {
        try {
          return parseOptionValue(key, spec, raw);
        } catch (e) {
          if (e instanceof UsageError) onProblem(e);
          throw new InvalidArgumentError((e as Error).message);
        }
      });
      if (spec.conflicts?.length) o.conflicts([...spec.conflicts]);
      command.addOption(o);
    }
  }
  return command;
}

/** What {@linkcode parseOptionArgs} returns. */
export type ParsedArgs<O extends OptionSpecs> =
  | {
    /** The values: each option given, else its default (or its environment variable). */
    values: OptionValues<O>;
    /** The names of the options given on the command line. */
    given: string[];
    help?: undefined;
  }
  | {
    values?: undefined;
    given?: undefined;
    /** `--help` / `-h` was given: the help text to print. */
    help: string;
  };

function readEnv(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined; // no permission to read it: as if unset
  }
}

/**
 * Parses `args` (`--name value`, `--name=value`, `--flag`) against option groups: every value is
 * converted and checked by its declaration, unknown options and stray words are refused (naming
 * the nearest option), options declared as conflicting may not be given together, and
 * `--help`/`-h` returns the generated help instead of values.
 *
 * @throws UsageError for any problem; its message names the option and the value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { option, parseOptionArgs } from "./cli.ts";
 * const groups = [{ heading: "Options:", options: { steps: option.integer(300, "steps", { min: 1 }) } }];
 * assert.deepEqual(parseOptionArgs("demo", "", groups, ["--steps=5"]).values, { steps: 5 });
 * assert.throws(() => parseOptionArgs("demo", "", groups, ["--stesp", "5"]), /did you mean --steps/);
 * ```
 */
export function parseOptionArgs<O extends OptionSpecs>(
  name: string,
  description: string,
  groups: readonly OptionGroup[],
  args: readonly string[],
): ParsedArgs<O> {
  let problem: UsageError | undefined;
  const command = buildCommand(name, description, groups, (p) => problem = p);
  const all: OptionSpecs = Object.assign({}, ...groups.map((g) => g.options));
  try {
    command.parse([...args], { from: "user" });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === "commander.helpDisplayed" || e.code === "commander.help") {
      return { help: command.helpInformation() };
    }
    if (problem) throw problem;
    const names = Object.keys(all);
    if (e.code === "commander.unknownOption") {
      const flag = /'(-[^']*)'/.exec(e.message)?.[1] ?? "?";
      const bare = flag.replace(/^-+/, "").split("=")[0];
      const near = nearestName(bare, names);
      throw new UsageError(
        `unknown option ${flag}${near ? ` (did you mean --${near}?)` : ""}`,
      );
    }
    if (e.code === "commander.optionMissingArgument") {
      const flag = /'--([^ ']+)/.exec(e.message)?.[1] ?? "?";
      const spec = all[flag];
      throw new UsageError(
        `--${flag}: missing value${spec ? ` (expected ${describeOption(spec)})` : ""}`,
      );
    }
    if (e.code === "commander.excessArguments") {
      const stray = args.find((a, i) =>
        !a.startsWith("-") &&
        !(i > 0 && args[i - 1].startsWith("--") && !args[i - 1].includes("="))
      ) ?? args[0];
      throw new UsageError(
        `unexpected argument ${JSON.stringify(stray)}: options are written --name value`,
      );
    }
    if (e.code === "commander.conflictingOption") {
      const flags = [...e.message.matchAll(/'(--[^ ']+)/g)].map((m) => m[1]);
      throw new UsageError(`${flags.join(" and ")} cannot be given together`);
    }
    throw new UsageError(e.message.replace(/^error: /, ""));
  }
  const parsed = command.opts();
  const values: Record<string, unknown> = {};
  const given: string[] = [];
  for (const group of groups) {
    for (const [key, spec] of Object.entries(group.options)) {
      if (command.getOptionValueSource(key) === "cli") {
        given.push(key);
        // A bare flag (`--quick`) is `true`; `--quick=false` went through the value parser.
        values[key] = parsed[key];
        continue;
      }
      const env = group.env?.[key];
      const fromEnv = env ? readEnv(env) : undefined;
      if (fromEnv !== undefined) {
        try {
          values[key] = parseOptionValue(key, spec, fromEnv);
        } catch (e) {
          throw new UsageError(`${env}: ${(e as Error).message}`);
        }
        continue;
      }
      values[key] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
    }
  }
  return { values: values as OptionValues<O>, given };
}
