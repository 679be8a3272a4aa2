/**
 * Reads the peers' fixtures (`tests/fixtures/<section>.json`, written by `bench/fixtures.py` with
 * pytorch-metric-learning, scikit-learn and PyTorch themselves) and compares values to them.
 *
 * @module
 */
import assert from "node:assert/strict";

/** A fixture file: its generator's versions and the cases of one section. */
export interface Fixture<C = unknown> {
  section: string;
  generator: string;
  versions: Record<string, string>;
  cases: C;
}

function decode(value: unknown): unknown {
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

/** Loads `tests/fixtures/<section>.json`, with "NaN"/"Infinity"/"-Infinity" turned into numbers. */
export function loadFixture<C = unknown>(section: string): Fixture<C> {
  const url = new URL(`./fixtures/${section}.json`, import.meta.url);
  return decode(JSON.parse(Deno.readTextFileSync(url))) as Fixture<C>;
}

/**
 * Asserts `actual` equals `expected` within `|a − e| ≤ atol + rtol·|e|`, elementwise over nested
 * arrays; NaN equals NaN and infinities must match exactly.
 */
export function assertCloseTo(
  actual: unknown,
  expected: unknown,
  { rtol = 1e-5, atol = 1e-6 }: { rtol?: number; atol?: number } = {},
  where = "value",
): void {
  if (Array.isArray(expected) || ArrayBuffer.isView(expected)) {
    const e = Array.from(expected as ArrayLike<unknown>);
    assert.ok(
      Array.isArray(actual) || ArrayBuffer.isView(actual),
      `${where}: expected an array, got ${actual}`,
    );
    const a = Array.from(actual as ArrayLike<unknown>);
    assert.equal(a.length, e.length, `${where}: length`);
    e.forEach((v, i) => assertCloseTo(a[i], v, { rtol, atol }, `${where}[${i}]`));
    return;
  }
  const a = actual as number;
  const e = expected as number;
  if (Number.isNaN(e)) {
    assert.ok(Number.isNaN(a), `${where}: expected NaN, got ${a}`);
    return;
  }
  if (!Number.isFinite(e)) {
    assert.equal(a, e, `${where}`);
    return;
  }
  assert.ok(
    Math.abs(a - e) <= atol + rtol * Math.abs(e),
    `${where}: got ${a}, the peer computed ${e} (rtol ${rtol}, atol ${atol})`,
  );
}
