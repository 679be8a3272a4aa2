import assert from "node:assert/strict";

interface PermissionSet {
  [kind: string]: unknown;
}

const config = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
) as {
  tasks: Record<string, string>;
  permissions?: Record<string, PermissionSet>;
  test?: { permissions?: PermissionSet };
};

const sets: [string, PermissionSet][] = [
  ...Object.entries(config.permissions ?? {}),
  ["test", config.test?.permissions ?? {}],
];

Deno.test("no task asks for every permission", () => {
  for (const [name, command] of Object.entries(config.tasks)) {
    assert.doesNotMatch(command, /(^|\s)(-A|--allow-all)(\s|$)/, `task ${name} uses -A`);
    assert.doesNotMatch(command, /--allow-net/, `task ${name} grants network on its command line`);
  }
  for (const [name, set] of sets) {
    assert.notEqual(set.all, true, `permission set ${name} allows all`);
  }
});

Deno.test("every deno run/test in a task takes a named permission set or explicit flags", () => {
  for (const [name, command] of Object.entries(config.tasks)) {
    for (const part of command.split(/&&|\|\||;/)) {
      const words = part.trim().split(/\s+/);
      if (words[0] !== "deno" || !["run", "test"].includes(words[1])) continue;
      const set = words.find((w) => w === "-P" || w.startsWith("-P=") || w.startsWith("--permission-set"));
      const flags = words.filter((w) => w.startsWith("--allow-"));
      assert.ok(set || flags.length > 0, `task ${name}: "${part.trim()}" declares no permissions`);
      if (set?.startsWith("-P=")) {
        const setName = set.slice(3);
        assert.ok(config.permissions?.[setName], `task ${name} uses missing set ${setName}`);
      }
    }
  }
});

Deno.test("only the data set may reach the network, and only the dataset's host", () => {
  for (const [name, set] of sets) {
    if (name === "data") {
      assert.deepEqual(set.net, ["raw.githubusercontent.com"]);
    } else {
      assert.ok(set.net === undefined || set.net === false, `set ${name} has network access`);
    }
  }
});

Deno.test("write and run permissions are lists of paths or programs, never everything", () => {
  for (const [name, set] of sets) {
    for (const kind of ["write", "run", "ffi"]) {
      const value = set[kind];
      if (value === undefined || value === false) continue;
      assert.ok(Array.isArray(value), `set ${name}: ${kind} must list what it allows, got ${value}`);
      assert.ok((value as string[]).length > 0);
    }
  }
});
