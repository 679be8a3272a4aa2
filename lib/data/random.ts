/**
 * A small, seedable, checkpointable pseudo-random number generator.
 *
 * The generator is **mulberry32** (Tommy Ettinger, 2017): a 32-bit state advanced by the Weyl
 * increment `0x6D2B79F5`, followed by an xorshift-multiply output mix. It has period 2^32, passes
 * the usual quick statistical batteries for its size, and, most importantly here, is tiny and
 * exactly reproducible in any language with 32-bit integer arithmetic:
 *
 * ```text
 * state = (state + 0x6D2B79F5) mod 2^32
 * t = state
 * t = imul(t ^ (t >>> 15), t | 1)
 * t = t ^ (t + imul(t ^ (t >>> 7), t | 61))
 * out = (t ^ (t >>> 14)) >>> 0            // uint32
 * ```
 *
 * Everything that needs randomness in this project (the embedded data subset, samplers, the
 * training loop) draws from {@link createRng}, so a run is reproducible from its seed and
 * resumable from {@link Rng.state}.
 *
 * @module
 */

const TWO_POW_32 = 4294967296;

/** A seeded pseudo-random number generator (mulberry32). Not for cryptography. */
export interface Rng {
  /**
   * The next raw 32-bit output, an integer in [0, 2^32).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const u = createRng(1).nextUint32(); // 0 <= u < 4294967296
   * assert.ok(Number.isInteger(u) && u >= 0 && u < 4294967296);
   * ```
   */
  nextUint32(): number;
  /**
   * A uniform float in [0, 1): `nextUint32() / 2^32`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const x = createRng(1).next(); // 0 <= x < 1
   * assert.ok(x >= 0 && x < 1);
   * ```
   */
  next(): number;
  /**
   * A uniform integer in [0, n), unbiased (rejection sampling on the 32-bit output).
   * Throws when `n` is not an integer in [1, 2^32].
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const die = createRng(1).nextInt(6) + 1; // 1..6
   * assert.ok(Number.isInteger(die) && die >= 1 && die <= 6);
   * ```
   */
  nextInt(n: number): number;
  /**
   * A standard normal draw N(0, 1) by the Box–Muller transform. Each call consumes exactly two
   * uniforms (the second Box–Muller value is discarded, so the state stays a single integer).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const z = createRng(1).normal();
   * assert.ok(Number.isFinite(z));
   * ```
   */
  normal(): number;
  /**
   * Shuffles `array` in place by Fisher–Yates (Durstenfeld): for i = length−1 down to 1, swap
   * element i with element `nextInt(i + 1)`. Returns the same array.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const perm = createRng(7).shuffle([0, 1, 2, 3, 4]); // a permutation of 0..4
   * assert.deepEqual([...perm].sort(), [0, 1, 2, 3, 4]);
   * ```
   */
  shuffle<A extends { length: number; [i: number]: unknown }>(array: A): A;
  /**
   * The current internal state (a uint32) for checkpointing; `setState(state())` later resumes
   * the exact same stream.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const rng = createRng(3);
   * const saved = rng.state();
   * const a = rng.next();
   * rng.setState(saved);
   * assert.equal(rng.next(), a);
   * ```
   */
  state(): number;
  /**
   * Restores a state returned by {@link Rng.state}. Throws when `state` is not an integer in
   * [0, 2^32).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const rng = createRng(3);
   * rng.setState(123456789);
   * assert.equal(rng.state(), 123456789);
   * ```
   */
  setState(state: number): void;
}

/**
 * Creates a mulberry32 generator seeded with `seed` (an integer; reduced modulo 2^32, so negative
 * seeds are allowed). Throws on a non-integer or non-finite seed.
 *
 * @param seed integer seed
 * @returns a new, independent {@link Rng}
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRng } from "./random.ts";
 * const rng = createRng(42);
 * assert.equal(rng.next(), 0.6011037519201636); // always, for seed 42
 * const idx = rng.shuffle(Array.from({ length: 10 }, (_, i) => i));
 * assert.deepEqual([...idx].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * ```
 */
export function createRng(seed: number): Rng {
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new Error(`createRng: seed must be a finite integer, got ${String(seed)}`);
  }
  // Reduce modulo 2^32 exactly (works for any safe integer, including negatives).
  let s = ((seed % TWO_POW_32) + TWO_POW_32) % TWO_POW_32;

  const nextUint32 = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };

  const next = (): number => nextUint32() / TWO_POW_32;

  const nextInt = (n: number): number => {
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new Error(`Rng.nextInt: n must be an integer in [1, 2^32], got ${String(n)}`);
    }
    // Accept outputs below the largest multiple of n that fits in 2^32: no modulo bias.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let u = nextUint32();
    while (u >= limit) u = nextUint32();
    return u % n;
  };

  const normal = (): number => {
    // 1 - next() lies in (0, 1], so the logarithm is finite.
    const u1 = 1 - next();
    const u2 = next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };

  return {
    nextUint32,
    next,
    nextInt,
    normal,
    shuffle<A extends { length: number; [i: number]: unknown }>(array: A): A {
      for (let i = array.length - 1; i > 0; i--) {
        const j = nextInt(i + 1);
        const tmp = array[i];
        array[i] = array[j];
        array[j] = tmp;
      }
      return array;
    },
    state: () => s,
    setState(state: number): void {
      if (
        typeof state !== "number" || !Number.isInteger(state) || state < 0 || state >= TWO_POW_32
      ) {
        throw new Error(
          `Rng.setState: state must be an integer in [0, 2^32), got ${String(state)}`,
        );
      }
      s = state;
    },
  };
}
