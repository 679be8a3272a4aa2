import assert from "node:assert/strict";
import { SERVER_ENV_VARS } from "../lib/store/server.ts";

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
      const set = words.find((w) =>
        w === "-P" || w.startsWith("-P=") || w.startsWith("--permission-set")
      );
      const flags = words.filter((w) => w.startsWith("--allow-"));
      assert.ok(set || flags.length > 0, `task ${name}: "${part.trim()}" declares no permissions`);
      if (set?.startsWith("-P=")) {
        const setName = set.slice(3);
        assert.ok(config.permissions?.[setName], `task ${name} uses missing set ${setName}`);
      }
    }
  }
});

Deno.test("only the data set may reach the network (the dataset's host); tests only loopback", () => {
  for (const [name, set] of sets) {
    if (name === "data") {
      assert.deepEqual(set.net, ["raw.githubusercontent.com"]);
    } else if (name === "test") {
      // The store tests serve PostgreSQL (PGlite) on a loopback port and connect to it.
      assert.deepEqual(set.net, ["127.0.0.1"]);
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
      assert.ok(
        Array.isArray(value),
        `set ${name}: ${kind} must list what it allows, got ${value}`,
      );
      assert.ok((value as string[]).length > 0);
    }
  }
});

Deno.test("the experiment set reads only the repository and the Debian dataset, env by name", async () => {
  const set = config.permissions?.experiment ?? {};
  assert.deepEqual(set.read, [".", "/usr/share/datasets/fashion-mnist"]);
  assert.deepEqual(set.run, ["git"]);
  assert.ok(Array.isArray(set.env), "env must list the variables read");
  // Every variable the library and the experiments read is listed (and nothing else).
  const names = new Set<string>();
  const walk = async (dir: URL) => {
    for await (const e of Deno.readDir(dir)) {
      const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) await walk(url);
      // viz/export.ts reads CHROMIUM and PATH to find chromium for SVG/PNG export, which only
      // `deno task figures` does (its set allows env and chromium; the experiments write HTML).
      else if (e.name.endsWith(".ts") && !url.pathname.endsWith("/lib/viz/export.ts")) {
        const text = await Deno.readTextFile(url);
        for (const m of text.matchAll(/Deno\.env\.get\("([A-Z_]+)"\)/g)) names.add(m[1]);
      }
    }
  };
  await walk(new URL("../lib/", import.meta.url));
  await walk(new URL("../experiments/", import.meta.url));
  // node-postgres reads libpq's variables when `--store postgres://…` opens a server store.
  for (const name of SERVER_ENV_VARS) names.add(name);
  assert.deepEqual([...(set.env as string[])].sort(), [...names].sort());
});
