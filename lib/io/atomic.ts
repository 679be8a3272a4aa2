/**
 * Atomic file writes: a temporary file in the same directory, then a rename, so that an
 * interrupted run never leaves a half-written result.
 *
 * @module
 */

/**
 * Writes `data` to `path` atomically (temporary sibling file, then rename).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("/tmp/out.bin", new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await Deno.readFile("/tmp/out.bin"), new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  const tmp = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/**
 * Writes text to `path` atomically.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeTextAtomic } from "./atomic.ts";
 * await writeTextAtomic("/tmp/hello.txt", "hello\n");
 * assert.equal(await Deno.readTextFile("/tmp/hello.txt"), "hello\n");
 * ```
 */
export function writeTextAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text));
}

/**
 * Writes `value` as indented JSON to `path` atomically. Non-finite numbers are refused, since
 * JSON would silently turn them into `null`.
 *
 * @throws Error naming the key path of the first NaN or infinite number.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeJsonAtomic } from "./atomic.ts";
 * await writeJsonAtomic("/tmp/metrics.json", { mapAtR: 0.42 });
 * assert.deepEqual(JSON.parse(await Deno.readTextFile("/tmp/metrics.json")), { mapAtR: 0.42 });
 * ```
 */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(
    value,
    function (key, v) {
      if (typeof v === "number" && !Number.isFinite(v)) {
        throw new Error(`writeJsonAtomic(${path}): "${key}" is ${v}, which JSON cannot hold`);
      }
      return v;
    },
    2,
  );
  return writeTextAtomic(path, text + "\n");
}
