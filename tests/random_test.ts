import assert from "node:assert/strict";
import { createRng } from "../lib/data/random.ts";

// Reference outputs of mulberry32 computed independently (a Python transcription of the
// algorithm, run by hand): seed 42, first five uint32 outputs and the state after them.
const SEED42_UINT32 = [2581720956, 1925393290, 3661312704, 2876485805, 750819978];
const SEED42_STATE_AFTER_5 = 567894515;

Deno.test("createRng: mulberry32 reference outputs for seed 42", () => {
  const rng = createRng(42);
  assert.deepEqual(SEED42_UINT32.map(() => rng.nextUint32()), SEED42_UINT32);
  assert.equal(rng.state(), SEED42_STATE_AFTER_5);
  const r2 = createRng(42);
  assert.equal(r2.next(), SEED42_UINT32[0] / 2 ** 32);
  assert.equal(createRng(42).next(), 0.6011037519201636);
});

Deno.test("createRng: determinism, distinct seeds, seed reduction mod 2^32", () => {
  const a = createRng(123);
  const b = createRng(123);
  const c = createRng(124);
  const xa = Array.from({ length: 100 }, () => a.next());
  const xb = Array.from({ length: 100 }, () => b.next());
  const xc = Array.from({ length: 100 }, () => c.next());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
  for (const x of xa) assert.ok(x >= 0 && x < 1);
  assert.equal(createRng(-1).nextUint32(), createRng(2 ** 32 - 1).nextUint32());
  assert.equal(createRng(2 ** 32 + 5).nextUint32(), createRng(5).nextUint32());
});

Deno.test("Rng.state/setState: resumes the exact stream (all draw kinds)", () => {
  const rng = createRng(7);
  for (let i = 0; i < 13; i++) rng.next();
  const saved = rng.state();
  const draw = () => [rng.next(), rng.nextInt(10), rng.normal(), rng.nextUint32()];
  const first = [draw(), draw(), draw()];
  rng.setState(saved);
  const second = [draw(), draw(), draw()];
  assert.deepEqual(second, first);
  // A different generator restored to the same state continues identically too.
  const other = createRng(999);
  other.setState(saved);
  rng.setState(saved);
  const fromOther = Array.from({ length: 5 }, () => other.nextUint32());
  const fromRng = Array.from({ length: 5 }, () => rng.nextUint32());
  assert.deepEqual(fromOther, fromRng);
});

Deno.test("createRng/nextInt/setState: bad arguments throw naming the problem", () => {
  assert.throws(() => createRng(1.5), /seed must be a finite integer, got 1.5/);
  assert.throws(() => createRng(Number.NaN), /seed must be a finite integer, got NaN/);
  const rng = createRng(1);
  assert.throws(() => rng.nextInt(0), /n must be an integer in \[1, 2\^32\], got 0/);
  assert.throws(() => rng.nextInt(2.5), /n must be an integer/);
  assert.throws(() => rng.nextInt(2 ** 32 + 1), /n must be an integer/);
  assert.throws(() => rng.setState(-1), /state must be an integer in \[0, 2\^32\), got -1/);
  assert.throws(() => rng.setState(2 ** 32), /state must be an integer/);
});

/** Pearson chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((s, c) => s + c, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

Deno.test("Rng.next/nextInt: uniform by chi-square", () => {
  const rng = createRng(2024);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) bins[Math.floor(rng.next() * 10)]++;
  // 9 degrees of freedom: the 0.999 quantile is 27.88.
  assert.ok(chiSquare(bins) < 27.88, `chi2 next = ${chiSquare(bins)}`);

  const ints = new Array(7).fill(0);
  for (let i = 0; i < 70_000; i++) ints[rng.nextInt(7)]++;
  // 6 degrees of freedom: the 0.999 quantile is 22.46.
  assert.ok(chiSquare(ints) < 22.46, `chi2 nextInt(7) = ${chiSquare(ints)}`);

  // A large n where naive modulo would be badly biased (2^32 mod n = 2^30): thirds are equal.
  const n = 3 * 2 ** 30;
  const thirds = [0, 0, 0];
  for (let i = 0; i < 30_000; i++) {
    const k = rng.nextInt(n);
    assert.ok(Number.isInteger(k) && k >= 0 && k < n);
    thirds[Math.floor(k / 2 ** 30)]++;
  }
  // 2 degrees of freedom: the 0.999 quantile is 13.82.
  assert.ok(chiSquare(thirds) < 13.82, `chi2 thirds = ${chiSquare(thirds)}`);
});

Deno.test("Rng.normal: mean 0, variance 1", () => {
  const rng = createRng(5);
  const m = 40_000;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < m; i++) {
    const z = rng.normal();
    assert.ok(Number.isFinite(z));
    sum += z;
    sumSq += z * z;
  }
  const mean = sum / m;
  const variance = sumSq / m - mean * mean;
  // Standard errors: 0.005 for the mean, about 0.007 for the variance; allow 4 sigma.
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
});

Deno.test("Rng.shuffle: Fisher–Yates order and uniform permutations", () => {
  // Reference: a plain Durstenfeld loop driven by an identical generator.
  const ref = createRng(11);
  const expected = Array.from({ length: 20 }, (_, i) => i);
  for (let i = expected.length - 1; i > 0; i--) {
    const j = ref.nextInt(i + 1);
    [expected[i], expected[j]] = [expected[j], expected[i]];
  }
  const got = createRng(11).shuffle(Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(got, expected);

  // Typed arrays are shuffled in place and stay permutations.
  const typed = Int32Array.from({ length: 1000 }, (_, i) => i);
  const same = createRng(3).shuffle(typed);
  assert.equal(same, typed);
  assert.deepEqual(
    Array.from(typed).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );

  // All 6 permutations of 3 items equally likely.
  const rng = createRng(99);
  const counts = new Map<string, number>();
  for (let t = 0; t < 60_000; t++) {
    const key = rng.shuffle([0, 1, 2]).join("");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  // 5 degrees of freedom: the 0.999 quantile is 20.52.
  const chi = chiSquare([...counts.values()]);
  assert.ok(chi < 20.52, `chi2 permutations = ${chi}`);
});
